/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's resets of idle-expired TCP connections.
 *
 * A load-balancing rule with TCP reset (Azure's "TCP reset on idle") has
 * both ends of a connection that idled out learn it at once, rather than
 * after their own timeouts.  The backend's host acts for the rule, since
 * the muxes never see the VM's side: when the VM's conntrack no longer
 * knows a connection (pipeline.h, SLB_PIN_TCP_RESET) and either end sends
 * on it, the host's pipeline gives the segment to the agent, which sends
 * each end a reset that its TCP accepts:
 *
 *   - the sender of the segment gets one as RFC 793 answers a segment of
 *     no connection: sequence number the segment's acknowledgment number,
 *     or, for a segment without ACK, sequence number 0 and ACK of what the
 *     segment took;
 *
 *   - its peer gets one from the sender, with the segment's own sequence
 *     number, the next that the peer expects of the sender as long as
 *     nothing is in flight.
 *
 * Each end sees the connection with its own addresses: the client the
 * VIP and frontend port, the VM its CA and backend port (or the VIP, for
 * a floating IP rule). */

#ifndef TCP_RESET_H
#define TCP_RESET_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/types.h"
#include "packets.h"

struct dp_packet;

/* One connection's two ends, as each sees itself. */
struct tcp_reset_ends {
    struct in6_addr vm_ip;      /* The VM's address and port... */
    uint16_t vm_port;
    struct eth_addr vm_mac;     /* ...and MAC, or all-zeros if unknown. */
    struct in6_addr vip;        /* The service, as the client sees it. */
    uint16_t vip_port;
};

bool tcp_reset_addresses(const uint8_t *frame, size_t len,
                         struct in6_addr *src, uint16_t *sport,
                         struct in6_addr *dst, uint16_t *dport);
bool tcp_reset_compose(const uint8_t *frame, size_t len, bool from_vm,
                       const struct tcp_reset_ends *,
                       struct dp_packet **to_vm, struct dp_packet **to_client);

#endif /* tcp-reset.h */
