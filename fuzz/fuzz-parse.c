/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the parsers of lib/slb-parse.c, which read what
 * operators type and what any client wrote into the database.
 *
 * The input's first byte picks a parser; the rest is the string to parse.
 * Beyond what the sanitizers catch: an error is one line that holds no
 * control character; a value accepted is printed in its canonical form,
 * which parses again to the same value and prints the same. */

#include <config.h>

#include <string.h>

#include "lib/slb-parse.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks that 'error', if any, is a clean line, and frees it.  Returns
 * true if there was no error. */
static bool
ok(char *error)
{
    if (!error) {
        return true;
    }
    for (const char *p = error; *p; p++) {
        ovs_assert((unsigned char) *p >= 0x20 && *p != 0x7f);
    }
    free(error);
    return false;
}

/* Parses 's' with parser 'which' into the canonical form that it appends
 * to 'out'.  Returns false if the parser refused it. */
static bool
parse(unsigned int which, const char *s, struct ds *out)
{
    static const char *const names[] = { "tcp", "udp", "all", NULL };
    ovs_be32 ip;
    unsigned int plen;
    uint16_t port, min, max;
    struct eth_addr mac;
    unsigned long long int value;
    int index;

    switch (which % 10) {
    case 0:
        if (!ok(slb_parse_ipv4("address", s, &ip))) {
            return false;
        }
        ds_put_format(out, IP_FMT, IP_ARGS(ip));
        return true;

    case 1:
        if (!ok(slb_parse_unicast_ipv4("address", s, &ip))) {
            return false;
        }
        ds_put_format(out, IP_FMT, IP_ARGS(ip));
        return true;

    case 2:
        if (!ok(slb_parse_overlay_ipv4("address", s, &ip))) {
            return false;
        }
        ds_put_format(out, IP_FMT, IP_ARGS(ip));
        return true;

    case 3:
        if (!ok(slb_parse_prefix("prefix", s, &ip, &plen))) {
            return false;
        }
        ovs_assert(plen <= 32);
        ds_put_format(out, IP_FMT"/%u", IP_ARGS(ip), plen);
        return true;

    case 4:
        if (!ok(slb_parse_port("port", s, which & 0x10, &port))) {
            return false;
        }
        ovs_assert(port || which & 0x10);
        ds_put_format(out, "%"PRIu16, port);
        return true;

    case 5:
        if (!ok(slb_parse_port_range("ports", s, &min, &max))) {
            return false;
        }
        ovs_assert(1 <= min && min <= max);
        ds_put_format(out, "%"PRIu16"-%"PRIu16, min, max);
        return true;

    case 6:
        if (!ok(slb_parse_mac("MAC", s, &mac))) {
            return false;
        }
        ovs_assert(!eth_addr_is_multicast(mac) && !eth_addr_is_zero(mac));
        ds_put_format(out, ETH_ADDR_FMT, ETH_ADDR_ARGS(mac));
        return true;

    case 7:
        if (!ok(slb_parse_uint("number", s, 1, 65535, &value))) {
            return false;
        }
        ovs_assert(1 <= value && value <= 65535);
        ds_put_format(out, "%llu", value);
        return true;

    case 8:
        if (!ok(slb_parse_name("name", s))) {
            return false;
        }
        ovs_assert(strlen(s) >= 1 && strlen(s) <= 64);
        ds_put_cstr(out, s);
        return true;

    case 9:
        if (!ok(slb_parse_enum("protocol", s, names, &index))) {
            return false;
        }
        ds_put_cstr(out, names[index]);
        return true;
    }
    OVS_NOT_REACHED();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    unsigned int which = data[0];
    char *s = xmemdup0((const char *) data + 1, size - 1);

    struct ds first = DS_EMPTY_INITIALIZER;
    if (parse(which, s, &first)) {
        struct ds second = DS_EMPTY_INITIALIZER;
        ovs_assert(parse(which, ds_cstr(&first), &second));
        ovs_assert(!strcmp(ds_cstr(&first), ds_cstr(&second)));
        ds_destroy(&second);
    }
    ds_destroy(&first);
    free(s);
    return 0;
}
