/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's answer to a frame too big for the tunnel.
 *
 * The host pipeline sends the agent each frame from a VM that, once in
 * VXLAN, would exceed the underlay's MTU; the agent answers it as a router
 * would, with ICMP "fragmentation needed" (IPv4) or ICMPv6 "packet too
 * big" (IPv6), so that the VM's TCP lowers its segment size (path-MTU
 * discovery). */

#ifndef FRAG_NEEDED_H
#define FRAG_NEEDED_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/types.h"

struct dp_packet;
struct in6_addr;

struct dp_packet *frag_needed_compose(const uint8_t *frame, size_t len,
                                      struct eth_addr vm_mac, int mtu);
bool frag_needed_source(const uint8_t *frame, size_t len, struct in6_addr *ip,
                        uint8_t *proto, ovs_be16 *port);
void frag_needed_restore_source(uint8_t *frame, size_t len,
                                const struct in6_addr *ip, ovs_be16 port);

#endif /* frag-needed.h */
