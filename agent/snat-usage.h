/* SPDX-License-Identifier: Apache-2.0 */
/* The SNAT ports that a host's VMs use, from ovs-vswitchd's conntrack.
 *
 * A VM's outbound connection holds a port of its SNAT range from its first
 * packet until its conntrack entry goes.  The userspace datapath keeps its
 * conntrack inside ovs-vswitchd, which gives it out only through its
 * control socket ("dpctl/dump-conntrack"), a text that grows with the
 * connections: so a thread of its own reads it, when asked, and counts for
 * each conntrack zone (a VM's, numbered as its OpenFlow port) the
 * distinct (VIP, protocol, port) of its entries that SNAT made
 * (SLB_CT_SNAT in their mark).  The main thread only asks and takes the
 * last count. */

#ifndef SNAT_USAGE_H
#define SNAT_USAGE_H 1

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include "openvswitch/types.h"

/* The ports in use of one VM, on one VIP, for one protocol. */
struct snat_usage {
    uint16_t zone;              /* The VM's conntrack zone. */
    struct in6_addr vip;        /* IPv4-mapped for IPv4. */
    uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP. */
    uint32_t ports;
};

struct snat_usage_reader *snat_usage_reader_create(const char *ctl_path,
                                                   uint32_t mark);
void snat_usage_reader_destroy(struct snat_usage_reader *);
void snat_usage_reader_request(struct snat_usage_reader *);
size_t snat_usage_reader_get(struct snat_usage_reader *,
                             struct snat_usage **, long long int *when,
                             char **error);

size_t snat_usage_parse(const char *dump, uint32_t mark,
                        struct snat_usage **);
const struct snat_usage *snat_usage_find(const struct snat_usage *, size_t n,
                                         uint16_t zone,
                                         const struct in6_addr *vip,
                                         uint8_t proto);

#endif /* snat-usage.h */
