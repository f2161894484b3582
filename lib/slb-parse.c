/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers for operator input and database values; see slb-parse.h. */

#include <config.h>
#include "slb-parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "util.h"

/* Longest name accepted for any SLB object. */
#define SLB_NAME_MAX 64

/* Appends 's' to 'ds' as a message may quote it between double quotes: its
 * control characters, double quotes and backslashes escaped, so that the
 * message stays one line and writes nothing to a terminal.  ('s' comes
 * from an operator or from any client of the database.) */
void
slb_put_escaped(struct ds *ds, const char *s)
{
    for (const char *p = s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            ds_put_format(ds, "\\%c", c);
        } else if (iscntrl(c)) {
            ds_put_format(ds, "\\x%02x", c);
        } else {
            ds_put_char(ds, c);
        }
    }
}

/* Returns "invalid WHAT \"S\": " followed by 'format' as printf() would
 * format it with the rest of the arguments, with 'S' escaped. */
static char * OVS_PRINTF_FORMAT(3, 4)
invalid(const char *what, const char *s, const char *format, ...)
{
    struct ds ds = DS_EMPTY_INITIALIZER;
    ds_put_format(&ds, "invalid %s \"", what);
    slb_put_escaped(&ds, s);
    ds_put_cstr(&ds, "\": ");

    va_list args;
    va_start(args, format);
    ds_put_format_valist(&ds, format, args);
    va_end(args);
    return ds_steal_cstr(&ds);
}

/* Parses 's' as a dotted-quad IPv4 address into '*ip'. */
char *
slb_parse_ipv4(const char *what, const char *s, ovs_be32 *ip)
{
    struct in_addr in;

    /* inet_pton() takes exactly four decimal octets without leading zeros,
     * unlike inet_aton(), which would read "10.1" or "010.0.0.1". */
    if (inet_pton(AF_INET, s, &in) != 1) {
        return invalid(what, s, "not an IPv4 address");
    }
    *ip = in.s_addr;
    return NULL;
}

/* Parses 's' as an IPv4 address that can be the source or destination of a
 * unicast flow: not 0.0.0.0/8, loopback, multicast, or reserved and
 * broadcast (240.0.0.0/4). */
char *
slb_parse_unicast_ipv4(const char *what, const char *s, ovs_be32 *ip)
{
    char *error = slb_parse_ipv4(what, s, ip);
    if (error) {
        return error;
    }

    uint8_t first = ntohl(*ip) >> 24;
    const char *kind = (first == 0 ? "in 0.0.0.0/8"
                        : first == 127 ? "a loopback address"
                        : first >= 224 && first < 240 ? "a multicast address"
                        : first >= 240 ? "a reserved or broadcast address"
                        : NULL);
    if (kind) {
        return invalid(what, s, "%s", kind);
    }
    return NULL;
}

/* Parses 's' as a VIP or a VM's CA: a unicast address (see
 * slb_parse_unicast_ipv4()) outside 169.254.0.0/16, the link-local
 * addresses between an agent and the VMs it probes (from 169.254.0.1 to
 * 169.254.128.0 plus the port). */
char *
slb_parse_overlay_ipv4(const char *what, const char *s, ovs_be32 *ip)
{
    char *error = slb_parse_unicast_ipv4(what, s, ip);
    if (!error && (ntohl(*ip) >> 16) == ((169 << 8) | 254)) {
        error = invalid(what, s, "a link-local address (169.254.0.0/16 "
                        "carries the agents' health probes)");
    }
    return error;
}

/* Parses 's', an IPv4 address in dotted quads or an IPv6 address, into
 * '*addr' (see slb-parse.h), and returns true; or returns false.  An IPv6
 * address in IPv4-mapped form is refused: the IPv4 address is written as
 * such, so that one address has one spelling. */
bool
slb_addr_from_string(const char *s, struct in6_addr *addr)
{
    struct in_addr in;
    if (inet_pton(AF_INET, s, &in) == 1) {
        in6_addr_set_mapped_ipv4(addr, in.s_addr);
        return true;
    }
    return (inet_pton(AF_INET6, s, addr) == 1
            && !IN6_IS_ADDR_V4MAPPED(addr));
}

/* Writes 'addr' into 'buf' in its own family's notation (a dotted quad for
 * an IPv4-mapped address) and returns 'buf'. */
const char *
slb_addr_to_string(const struct in6_addr *addr, char buf[SLB_ADDR_STRLEN])
{
    BUILD_ASSERT(SLB_ADDR_STRLEN == INET6_ADDRSTRLEN);
    if (IN6_IS_ADDR_V4MAPPED(addr)) {
        inet_ntop(AF_INET, &addr->s6_addr[12], buf, SLB_ADDR_STRLEN);
    } else {
        inet_ntop(AF_INET6, addr, buf, SLB_ADDR_STRLEN);
    }
    return buf;
}

/* Parses 's' as an IPv4 or IPv6 address (see slb_addr_from_string()). */
char *
slb_parse_addr(const char *what, const char *s, struct in6_addr *addr)
{
    if (!slb_addr_from_string(s, addr)) {
        struct in6_addr mapped;
        return (inet_pton(AF_INET6, s, &mapped) == 1
                ? invalid(what, s, "write an IPv4 address as such")
                : invalid(what, s, "not an IPv4 or IPv6 address"));
    }
    return NULL;
}

/* Parses 's' as a VIP or a VM's CA of either family: an IPv4 address as
 * slb_parse_overlay_ipv4() takes it, or a global or unique local IPv6
 * unicast address (not the unspecified address, loopback, multicast,
 * link-local, or an IPv4-compatible one). */
char *
slb_parse_overlay_addr(const char *what, const char *s, struct in6_addr *addr)
{
    char *error = slb_parse_addr(what, s, addr);
    if (error) {
        return error;
    }
    if (IN6_IS_ADDR_V4MAPPED(addr)) {
        ovs_be32 ip;
        return slb_parse_overlay_ipv4(what, s, &ip);
    }

    const char *kind = (IN6_IS_ADDR_UNSPECIFIED(addr)
                        ? "the unspecified address"
                        : IN6_IS_ADDR_LOOPBACK(addr) ? "a loopback address"
                        : IN6_IS_ADDR_MULTICAST(addr) ? "a multicast address"
                        : IN6_IS_ADDR_LINKLOCAL(addr)
                        ? "a link-local address"
                        : IN6_IS_ADDR_V4COMPAT(addr)
                        ? "an IPv4-compatible address"
                        : NULL);
    return kind ? invalid(what, s, "%s", kind) : NULL;
}

/* Parses 's' as an IPv4 prefix "A.B.C.D/LEN" (a bare address is a /32).
 * Host bits must be zero, so that "10.0.0.1/24" is caught as a typo rather
 * than silently read as 10.0.0.0/24. */
char *
slb_parse_prefix(const char *what, const char *s,
                 ovs_be32 *ip, unsigned int *plen)
{
    const char *slash = strchr(s, '/');
    char *addr = slash ? xmemdup0(s, slash - s) : xstrdup(s);
    char *error = slb_parse_ipv4(what, addr, ip);
    free(addr);
    if (error) {
        free(error);
        return invalid(what, s, "not an IPv4 prefix");
    }

    unsigned long long int len = 32;
    if (slash) {
        error = slb_parse_uint(what, slash + 1, 0, 32, &len);
        if (error) {
            free(error);
            return invalid(what, s, "prefix length must be 0 to 32");
        }
    }
    *plen = len;

    if (*ip & ~be32_prefix_mask(len)) {
        return invalid(what, s, "host bits are set after /%llu", len);
    }
    return NULL;
}

/* Returns true if 'ip' lies inside 'net'/'plen'. */
bool
slb_prefix_contains(ovs_be32 net, unsigned int plen, ovs_be32 ip)
{
    return !((ip ^ net) & be32_prefix_mask(plen));
}

/* Parses 's' as an IPv4 prefix, as slb_parse_prefix() does, or an IPv6
 * prefix "X::/LEN" (a bare address is a /128), into '*net' (IPv4-mapped
 * for IPv4) and '*plen', in bits of its own family. */
char *
slb_parse_addr_prefix(const char *what, const char *s, struct in6_addr *net,
                      unsigned int *plen)
{
    const char *slash = strchr(s, '/');
    char *addr = slash ? xmemdup0(s, slash - s) : xstrdup(s);
    bool ok = slb_addr_from_string(addr, net);
    free(addr);
    if (!ok) {
        return invalid(what, s, "not an IPv4 or IPv6 prefix");
    } else if (IN6_IS_ADDR_V4MAPPED(net)) {
        ovs_be32 ip;
        char *error = slb_parse_prefix(what, s, &ip, plen);
        if (!error) {
            in6_addr_set_mapped_ipv4(net, ip);
        }
        return error;
    }

    unsigned long long int len = 128;
    if (slash) {
        char *error = slb_parse_uint(what, slash + 1, 0, 128, &len);
        if (error) {
            free(error);
            return invalid(what, s, "prefix length must be 0 to 128");
        }
    }
    *plen = len;

    struct in6_addr mask = ipv6_create_mask(len);
    struct in6_addr masked = ipv6_addr_bitand(net, &mask);
    if (!ipv6_addr_equals(&masked, net)) {
        return invalid(what, s, "host bits are set after /%llu", len);
    }
    return NULL;
}

/* Returns true if 'addr' is of the family of 'net' and lies inside
 * 'net'/'plen', 'plen' in bits of that family (see
 * slb_parse_addr_prefix()). */
bool
slb_addr_prefix_contains(const struct in6_addr *net, unsigned int plen,
                         const struct in6_addr *addr)
{
    bool ipv4 = IN6_IS_ADDR_V4MAPPED(net);
    if (ipv4 != IN6_IS_ADDR_V4MAPPED(addr)) {
        return false;
    }
    struct in6_addr mask = ipv6_create_mask(plen + (ipv4 ? 96 : 0));
    struct in6_addr masked = ipv6_addr_bitand(addr, &mask);
    return ipv6_addr_equals(&masked, net);
}

/* Parses 's' as a TCP or UDP port number, 1 to 65535, or 0 as well if
 * 'allow_zero'. */
char *
slb_parse_port(const char *what, const char *s, bool allow_zero,
               uint16_t *port)
{
    unsigned long long int value;
    char *error = slb_parse_uint(what, s, allow_zero ? 0 : 1, 65535,
                                 &value);
    if (error) {
        free(error);
        return invalid(what, s, "ports are %d to 65535",
                       allow_zero ? 0 : 1);
    }
    *port = value;
    return NULL;
}

/* Parses 's' as a port "P" or a range "MIN-MAX" with 1 <= MIN <= MAX. */
char *
slb_parse_port_range(const char *what, const char *s,
                     uint16_t *min, uint16_t *max)
{
    const char *dash = strchr(s, '-');
    if (!dash) {
        char *error = slb_parse_port(what, s, false, min);
        *max = *min;
        return error;
    }

    char *first = xmemdup0(s, dash - s);
    char *error = slb_parse_port(what, first, false, min);
    free(first);
    if (!error) {
        error = slb_parse_port(what, dash + 1, false, max);
    }
    if (error) {
        free(error);
        return invalid(what, s,
                       "expected PORT or MIN-MAX with ports 1 to 65535");
    }
    if (*min > *max) {
        return invalid(what, s, "range is empty");
    }
    return NULL;
}

/* Parses 's' as a unicast Ethernet address "xx:xx:xx:xx:xx:xx". */
char *
slb_parse_mac(const char *what, const char *s, struct eth_addr *mac)
{
    int n = 0;

    if (!ovs_scan(s, ETH_ADDR_SCAN_FMT"%n", ETH_ADDR_SCAN_ARGS(*mac), &n)
        || s[n] != '\0') {
        return invalid(what, s, "not an Ethernet address");
    }
    if (eth_addr_is_multicast(*mac) || eth_addr_is_zero(*mac)) {
        return invalid(what, s, "not a unicast Ethernet address");
    }
    return NULL;
}

/* Parses 's' as a decimal integer from 'min' to 'max'.  Signs, spaces,
 * other bases and trailing text are refused. */
char *
slb_parse_uint(const char *what, const char *s,
               unsigned long long int min, unsigned long long int max,
               unsigned long long int *value)
{
    const char *p;

    for (p = s; *p; p++) {
        if (!isdigit((unsigned char) *p)) {
            break;
        }
    }
    if (p == s || *p || p - s > 20) {
        return invalid(what, s, "not a decimal number");
    }

    errno = 0;
    *value = strtoull(s, NULL, 10);
    if (errno || *value < min || *value > max) {
        return invalid(what, s, "must be %llu to %llu", min, max);
    }
    return NULL;
}

/* Checks that 's' can name an SLB object: 1 to 64 characters from letters,
 * digits and "-_.:", so that names survive shells, logs and flow dumps. */
char *
slb_parse_name(const char *what, const char *s)
{
    size_t len = strlen(s);

    if (!len || len > SLB_NAME_MAX) {
        return invalid(what, s, "names are 1 to %d characters",
                       SLB_NAME_MAX);
    }
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char) *p) && !strchr("-_.:", *p)) {
            return invalid(what, s,
                           "names use only letters, digits and -_.:");
        }
    }
    return NULL;
}

/* Looks 's' up in the NULL-terminated array 'names' and stores its index
 * in '*index'. */
char *
slb_parse_enum(const char *what, const char *s,
               const char *const names[], int *index)
{
    for (int i = 0; names[i]; i++) {
        if (!strcmp(s, names[i])) {
            *index = i;
            return NULL;
        }
    }

    struct ds choices = DS_EMPTY_INITIALIZER;
    for (int i = 0; names[i]; i++) {
        ds_put_format(&choices, "%s%s", i ? ", " : "", names[i]);
    }
    char *error = invalid(what, s, "expected one of %s", ds_cstr(&choices));
    ds_destroy(&choices);
    return error;
}
