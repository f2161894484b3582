/* SPDX-License-Identifier: Apache-2.0 */
/* Outbound SNAT port allocation.
 *
 * An outbound rule translates its pool's VMs to the rule's frontend IPs.
 * Each frontend IP offers SNAT_PORTS ports, SNAT_PORT_MIN and up, and every
 * backend of the pool owns a range of them on every frontend IP: the host
 * SNATs that VM's connections into its range, and a mux sends a reply to
 * (VIP, port) straight to the owner's host without any per-flow state.
 *
 * Ranges are slots of 'ports per instance' ports, a multiple of 8, laid
 * side by side from SNAT_PORT_MIN.  The operator sets ports per instance,
 * or it follows the pool size (snat_default_ports()).  The allocation is
 * stable: a backend keeps its slot while the slot size stays, so adding or
 * removing a backend touches no other backend's range.  When growth of the
 * pool halves the default size, every range keeps its first port and its
 * lower half.  When shrinking would double it, ranges grow only if all of
 * them can grow in place; otherwise they stay as they are.
 *
 * A frontend IP's outbound rule shares it with load-balancing and inbound
 * NAT rules of one port each (see struct slb_claim in lb.h): no range holds
 * a port that such a rule claims, for the mux would give the replies to
 * that port to the rule.  A slot that holds one is left unused, and a
 * backend whose slot a new rule takes moves to the lowest free slot; no
 * other backend moves, and none moves back when the rule goes. */

#ifndef SNAT_H
#define SNAT_H 1

#include <stddef.h>
#include <stdint.h>
#include "openvswitch/compiler.h"

#define SNAT_PORT_MIN 1024      /* First port handed out. */
#define SNAT_PORTS 64000        /* Ports per frontend IP. */
#define SNAT_PORT_ALIGN 8       /* Ports per instance is a multiple. */
#define SNAT_MAX_AUTO_BACKENDS 1000

/* An inclusive range of ports.  'min' == 0 means "no range". */
struct snat_range {
    uint16_t min;
    uint16_t max;
};

unsigned int snat_default_ports(size_t n_backends);
char *snat_allocate(const struct snat_range old[], size_t n,
                    unsigned int requested,
                    const uint16_t blocked[], size_t n_blocked,
                    struct snat_range new[])
    OVS_WARN_UNUSED_RESULT;

#endif /* snat.h */
