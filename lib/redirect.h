/* SPDX-License-Identifier: Apache-2.0 */
/* Fastpath redirects: what a mux tells the host of a client VM once it has
 * picked the backend of the VM's new connection to an internal VIP, so
 * that the host sends the rest of the connection straight to the
 * backend's host (Ananta's Fastpath).
 *
 * A redirect travels in one UDP datagram from the mux's PA to the host's
 * PA, on SLB_Global options:redirect-port: a SignedRedirect of
 * lib/redirect.proto, whose HMAC-SHA256 under SLB_Global
 * options:redirect-key (hexadecimal, 16 to 64 bytes) authenticates it.
 * Each mux numbers its redirects in increasing order, from its clock, so
 * that a host refuses one that it has seen, or an older one. */

#ifndef SLB_REDIRECT_H
#define SLB_REDIRECT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/types.h"
#include "packets.h"

struct ofpbuf;
struct smap;

/* The UDP port of the hosts' redirects, unless SLB_Global
 * options:redirect-port says otherwise. */
#define SLB_REDIRECT_PORT 6698

/* The longest key, in bytes. */
#define SLB_REDIRECT_KEY_MAX 64

/* A redirect.  The client's CA and the VIP are of one family, IPv4-mapped
 * for IPv4. */
struct slb_redirect {
    uint32_t vni;
    struct in6_addr client;
    ovs_be16 client_port;
    struct in6_addr vip;
    ovs_be16 vip_port;
    uint8_t protocol;
    ovs_be32 backend_pa;
    struct eth_addr backend_mac;
    uint32_t lifetime;          /* Seconds. */
    uint64_t sequence;
};

/* The fastpath settings of SLB_Global options. */
struct slb_redirect_key {
    uint8_t key[SLB_REDIRECT_KEY_MAX];
    size_t len;                 /* 0: no key, no fastpath. */
    uint16_t port;
};

void slb_redirect_settings(const struct smap *options,
                           struct slb_redirect_key *);

char *slb_redirect_key_generate(void);

void slb_redirect_encode(const struct slb_redirect *,
                         const struct slb_redirect_key *, struct ofpbuf *);

/* Why a datagram is no redirect that the key signed. */
enum slb_redirect_error {
    SLB_REDIRECT_OK,
    SLB_REDIRECT_MALFORMED,     /* Not a redirect at all. */
    SLB_REDIRECT_BAD_HMAC,      /* Not signed with the key. */
};

enum slb_redirect_error slb_redirect_decode(const void *, size_t,
                                            const struct slb_redirect_key *,
                                            struct slb_redirect *);

#endif /* lib/redirect.h */
