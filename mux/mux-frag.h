/* SPDX-License-Identifier: Apache-2.0 */
/* The mux's fragment table.
 *
 * Only a datagram's first fragment carries its ports.  When the rules of
 * a VIP do not all send a datagram without ports to the same backend
 * (rules of one VIP over several pools, or SNAT ports beside its rules),
 * the mux must see the first fragment to place the others.  The routers
 * spread fragments over the muxes by their own hash, so every mux sends
 * every fragment of such a datagram to one mux, its "owner", picked by a
 * hash of the datagram (addresses, protocol, identification) that every
 * mux computes alike (see mux-dp.c).  The owner places the first fragment
 * as a whole packet of its flow, remembers where it went, and sends each
 * later fragment there; later fragments that come before the first wait
 * here until it comes, or until the datagram's time is up.
 *
 * One table serves all of a mux's packet threads: fragments are rare, and
 * the routers and the other muxes may bring one datagram's fragments to
 * several threads.  A datagram's entry goes once all its bytes have
 * passed (so that a reused identification starts afresh), or when its
 * time is up. */

#ifndef MUX_FRAG_H
#define MUX_FRAG_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mux-flow.h"

struct dp_packet;

/* How long a datagram's entry lives after its first fragment (of any
 * offset) came, in ms. */
#define MUX_FRAG_TIMEOUT_MS 2000

/* The room of a mux's table: so many datagrams at once, and so many
 * fragments waiting in all (at most about 6 MB of them). */
#define MUX_FRAG_MAX_DATAGRAMS 16384
#define MUX_FRAG_MAX_HELD 4096

/* The datagram that a fragment belongs to. */
struct mux_frag_key {
    struct mux_flow_key flow;   /* Its addresses and protocol, ports 0, and
                                 * for an internal VIP its VNI. */
    uint32_t id;                /* IPv4's identification, or the IPv6
                                 * fragment header's. */
};

/* Where a datagram's first fragment went. */
struct mux_frag_place {
    uint32_t target;            /* Backend id, or MUX_FLOW_NONE if the first
                                 * fragment was dropped. */
    uint32_t hash;              /* Its flow's hash, for the outer UDP source
                                 * port. */
    uint32_t stats_id;          /* The rule or SNAT rule that counts it. */
};

/* A fragment that waited for its datagram's first. */
struct mux_frag_held {
    struct dp_packet *packet;   /* Ethernet frame, not encapsulated. */
    uint16_t ip_len;            /* Its IP packet's length. */
};

/* Which bytes of its datagram a fragment holds. */
struct mux_frag_span {
    uint16_t offset;            /* Of its payload in the datagram's. */
    uint16_t len;               /* Of its payload. */
    bool more;                  /* More fragments follow it. */
};

enum mux_frag_result {
    MUX_FRAG_PLACED,            /* Goes where the first fragment went. */
    MUX_FRAG_HELD,              /* Waits; the table has the packet. */
    MUX_FRAG_DROPPED,           /* Its first fragment was dropped. */
    MUX_FRAG_FULL,              /* No room to wait. */
};

struct mux_frags *mux_frags_create(size_t max_datagrams, size_t max_held);
void mux_frags_destroy(struct mux_frags *);

void mux_frags_place(struct mux_frags *, const struct mux_frag_key *,
                     uint32_t hash, const struct mux_frag_place *,
                     const struct mux_frag_span *, uint32_t now,
                     struct mux_frag_held **held, size_t *n_held);
enum mux_frag_result mux_frags_later(struct mux_frags *,
                                     const struct mux_frag_key *,
                                     uint32_t hash,
                                     const struct mux_frag_span *,
                                     struct dp_packet *, uint16_t ip_len,
                                     uint32_t now, struct mux_frag_place *);
bool mux_frags_peek(struct mux_frags *, const struct mux_frag_key *,
                    uint32_t hash, struct mux_frag_place *);
size_t mux_frags_expire(struct mux_frags *, uint32_t now);

/* What the table holds, for "slb-mux/stats". */
struct mux_frags_usage {
    size_t datagrams;           /* Entries... */
    size_t held;                /* ...and fragments waiting in them. */
    size_t max_datagrams, max_held;
};
void mux_frags_usage(struct mux_frags *, struct mux_frags_usage *);

#endif /* mux-frag.h */
