/* SPDX-License-Identifier: Apache-2.0 */
/* Keeping gobgpd in line with what the mux should announce.
 *
 * The mux announces every VIP that it can serve (that has at least one
 * rule with a usable backend) as a host route (/32, or /128 for IPv6) with
 * its own address of the VIP's family as the next hop, to every BGP peer
 * of its Mux row, through the gobgpd beside it: IPv6 VIPs over the same
 * sessions (RFC 4760), only if the mux has an IPv6 next hop.
 * Each run compares what it wants (struct mux_bgp_config) with what it
 * has told gobgpd and sends only the difference.  If gobgpd restarts and
 * forgets everything, the next run notices and tells it all again.
 *
 * slb-mux runs it on a thread of its own (struct mux_bgp_worker): the main
 * loop hands it each new configuration and reads back what it published,
 * so that a slow or hung gobgpd never delays a change of the packet
 * path. */

#ifndef MUX_BGP_H
#define MUX_BGP_H 1

#include <stdbool.h>
#include <netinet/in.h>
#include <stdint.h>
#include "openvswitch/hmap.h"
#include "openvswitch/shash.h"
#include "openvswitch/types.h"

struct ds;
struct bgp_peer_config;

/* What the mux wants gobgpd to do. */
struct mux_bgp_config {
    uint32_t asn;               /* 0: BGP not configured. */
    char *router_id;
    int listen_port;            /* -1: do not listen. */
    char *listen_address;       /* NULL: all addresses. */
    struct in6_addr nexthop;    /* Of IPv4 VIPs, IPv4-mapped. */
    struct in6_addr nexthop6;   /* Of IPv6 VIPs, all-zeros for none. */
    struct shash peers;         /* Address to struct bgp_peer_config. */
    struct hmap vips;           /* Of struct mux_bgp_vip. */
};

struct mux_bgp_vip {
    struct hmap_node node;
    struct in6_addr vip;        /* IPv4-mapped for IPv4. */
};

void mux_bgp_config_init(struct mux_bgp_config *);
void mux_bgp_config_destroy(struct mux_bgp_config *);
void mux_bgp_config_add_peer(struct mux_bgp_config *,
                             const struct bgp_peer_config *);
void mux_bgp_config_add_vip(struct mux_bgp_config *,
                            const struct in6_addr *vip);

/* The state machine runs on a thread of its own. */
struct smap;
struct mux_bgp_worker *mux_bgp_worker_create(const char *target);
void mux_bgp_worker_destroy(struct mux_bgp_worker *);
void mux_bgp_worker_set(struct mux_bgp_worker *, struct mux_bgp_config *,
                        bool withdraw);
void mux_bgp_worker_peer_states(struct mux_bgp_worker *, struct smap *);
void mux_bgp_worker_show(struct mux_bgp_worker *, struct ds *);
size_t mux_bgp_worker_n_announced(struct mux_bgp_worker *);
uint64_t mux_bgp_worker_status_seqno(const struct mux_bgp_worker *);
void mux_bgp_worker_wait(struct mux_bgp_worker *, uint64_t seqno);

#endif /* mux-bgp.h */
