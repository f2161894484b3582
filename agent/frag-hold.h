/* SPDX-License-Identifier: Apache-2.0 */
/* The fragments that the agent holds for its bridge (SLB_PIN_FRAGMENT).
 *
 * Only the first fragment of a datagram shows its ports.  Where the port
 * decides how a host takes a VIP's datagram (two rules of one VM that
 * translate to different ports, a rule beside SNAT ports whose replies'
 * later fragments look alike, ...), the pipeline cannot place the later
 * fragments by itself: it pauses every fragment of such a VIP and
 * protocol, the first too, and sends it to the agent.  The agent holds
 * them here, by datagram (addresses, protocol, identification, and the
 * virtual network), until the datagram's first fragment comes; then each
 * held fragment, and each one that comes later, goes back to the bridge
 * with the datagram's protocol and destination port (SLB_FRAG_PORT()),
 * by which the pipeline places it as it places whole packets by their
 * port.  (The same holds a VM's own IPv6 fragments where no SNAT range of
 * it may take a later fragment, which shows no protocol.)  All of a
 * datagram's fragments come back the same way, so that conntrack, which
 * holds them until the datagram is whole, reassembles them together.
 *
 * A datagram is forgotten once all of its bytes went back, or
 * FRAG_HOLD_MSEC after its first fragment came to the agent; the
 * fragments held then are dropped.  Room is bounded: beyond
 * FRAG_HOLD_MAX_DATAGRAMS datagrams or FRAG_HOLD_MAX_FRAGMENTS held
 * fragments, fragments are dropped. */

#ifndef AGENT_FRAG_HOLD_H
#define AGENT_FRAG_HOLD_H 1

#include <stddef.h>
#include <stdint.h>

struct ovs_list;
struct ofpbuf;

#define FRAG_HOLD_MSEC 2000
#define FRAG_HOLD_MAX_DATAGRAMS 1024
#define FRAG_HOLD_MAX_FRAGMENTS 4096

/* What became of the fragments given to a frag_hold. */
struct frag_hold_stats {
    uint64_t released;          /* Given back, with their datagram's port. */
    uint64_t expired;           /* Dropped: their datagram's first fragment
                                 * did not come in time. */
    uint64_t full;              /* Dropped: no room. */
    uint64_t malformed;         /* Dropped: no fragment of IPv4 or IPv6, or
                                 * a first fragment without its ports. */
};

struct frag_hold *frag_hold_create(void);
void frag_hold_destroy(struct frag_hold *);

uint32_t frag_hold_add(struct frag_hold *, uint32_t vni,
                       const void *frame, size_t len, struct ofpbuf *msg,
                       long long int now, struct ovs_list *ready);
void frag_hold_run(struct frag_hold *, long long int now);
long long int frag_hold_next_expiry(const struct frag_hold *);

const struct frag_hold_stats *frag_hold_get_stats(const struct frag_hold *);
size_t frag_hold_n_datagrams(const struct frag_hold *);
size_t frag_hold_n_held(const struct frag_hold *);

#endif /* agent/frag-hold.h */
