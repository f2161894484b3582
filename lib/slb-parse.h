/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers for the values that operators type into slb-ctl and that agents
 * and muxes read back from the SLB database: addresses, prefixes, ports,
 * port ranges, MAC addresses, bounded integers, names and enumerations.
 *
 * An address that may be of either family (a VIP, a CA) is held as a
 * struct in6_addr, an IPv4 address IPv4-mapped (::ffff:a.b.c.d), as OVS
 * holds tunnel endpoints; ipv6_format_mapped() writes it in its own
 * family's notation.
 *
 * Every parser takes 'what', the name of the field being parsed ("VIP",
 * "backend port", ...), and returns NULL on success or a malloc'd one-line
 * message that names the field and the offending text, for the caller to
 * print and free. */

#ifndef SLB_PARSE_H
#define SLB_PARSE_H 1

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/compiler.h"
#include "openvswitch/types.h"

struct ds;
struct eth_addr;
struct in6_addr;

void slb_put_escaped(struct ds *, const char *);

char *slb_parse_ipv4(const char *what, const char *s, ovs_be32 *ip)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_unicast_ipv4(const char *what, const char *s, ovs_be32 *ip)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_overlay_ipv4(const char *what, const char *s, ovs_be32 *ip)
    OVS_WARN_UNUSED_RESULT;
bool slb_addr_from_string(const char *s, struct in6_addr *);
#define SLB_ADDR_STRLEN 46       /* INET6_ADDRSTRLEN. */
const char *slb_addr_to_string(const struct in6_addr *,
                               char buf[SLB_ADDR_STRLEN]);
char *slb_parse_addr(const char *what, const char *s, struct in6_addr *)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_overlay_addr(const char *what, const char *s,
                             struct in6_addr *)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_prefix(const char *what, const char *s,
                       ovs_be32 *ip, unsigned int *plen)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_port(const char *what, const char *s, bool allow_zero,
                     uint16_t *port)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_port_range(const char *what, const char *s,
                           uint16_t *min, uint16_t *max)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_mac(const char *what, const char *s, struct eth_addr *)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_uint(const char *what, const char *s,
                     unsigned long long int min, unsigned long long int max,
                     unsigned long long int *value)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_name(const char *what, const char *s)
    OVS_WARN_UNUSED_RESULT;
char *slb_parse_enum(const char *what, const char *s,
                     const char *const names[], int *index)
    OVS_WARN_UNUSED_RESULT;

bool slb_prefix_contains(ovs_be32 net, unsigned int plen, ovs_be32 ip);
char *slb_parse_addr_prefix(const char *what, const char *s,
                            struct in6_addr *net, unsigned int *plen)
    OVS_WARN_UNUSED_RESULT;
bool slb_addr_prefix_contains(const struct in6_addr *net, unsigned int plen,
                              const struct in6_addr *addr);

#endif /* slb-parse.h */
