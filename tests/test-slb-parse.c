/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/slb-parse.c: what operators may type, and the exact
 * one-line error for what they may not. */

#include <config.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "packets.h"
#include "slb-check.h"
#include "slb-parse.h"

/* Asserts that 'error' is NULL, freeing it and showing it if not. */
#define ck_ok(ERROR)                                                    \
    do {                                                                \
        char *error_ = (ERROR);                                         \
        ck_assert_msg(!error_, "unexpected error: %s", error_);         \
    } while (0)

/* Asserts that 'error' is exactly 'EXPECTED'. */
#define ck_error(ERROR, EXPECTED)                                       \
    do {                                                                \
        char *error_ = (ERROR);                                         \
        ck_assert_ptr_nonnull(error_);                                  \
        ck_assert_str_eq(error_, EXPECTED);                             \
        free(error_);                                                   \
    } while (0)

START_TEST(test_ipv4)
{
    ovs_be32 ip;

    ck_ok(slb_parse_ipv4("VIP", "20.20.20.100", &ip));
    ck_assert_uint_eq(ip, htonl(0x14141464));
    ck_ok(slb_parse_ipv4("VIP", "0.0.0.0", &ip));

    ck_error(slb_parse_ipv4("VIP", "20.20.300.1", &ip),
             "invalid VIP \"20.20.300.1\": not an IPv4 address");
    ck_error(slb_parse_ipv4("VIP", "10.1", &ip),
             "invalid VIP \"10.1\": not an IPv4 address");
    ck_error(slb_parse_ipv4("VIP", "010.0.0.1", &ip),
             "invalid VIP \"010.0.0.1\": not an IPv4 address");
    ck_error(slb_parse_ipv4("VIP", "1.2.3.4 ", &ip),
             "invalid VIP \"1.2.3.4 \": not an IPv4 address");
    ck_error(slb_parse_ipv4("VIP", "", &ip),
             "invalid VIP \"\": not an IPv4 address");
}
END_TEST

START_TEST(test_unicast_ipv4)
{
    ovs_be32 ip;

    ck_ok(slb_parse_unicast_ipv4("CA", "10.10.10.11", &ip));
    ck_ok(slb_parse_unicast_ipv4("CA", "223.255.255.254", &ip));
    ck_error(slb_parse_unicast_ipv4("CA", "0.0.0.0", &ip),
             "invalid CA \"0.0.0.0\": in 0.0.0.0/8");
    ck_error(slb_parse_unicast_ipv4("CA", "127.0.0.1", &ip),
             "invalid CA \"127.0.0.1\": a loopback address");
    ck_error(slb_parse_unicast_ipv4("CA", "224.0.0.5", &ip),
             "invalid CA \"224.0.0.5\": a multicast address");
    ck_error(slb_parse_unicast_ipv4("CA", "255.255.255.255", &ip),
             "invalid CA \"255.255.255.255\": a reserved or broadcast "
             "address");
}
END_TEST

/* Addresses of either family: IPv4 held IPv4-mapped, each written in
 * its own notation, and VIPs and CAs limited to unicast addresses that a
 * flow may have. */
START_TEST(test_addr)
{
    struct in6_addr a;
    char buf[SLB_ADDR_STRLEN];

    ck_ok(slb_parse_addr("VIP", "20.20.20.100", &a));
    ck_assert(IN6_IS_ADDR_V4MAPPED(&a));
    ck_assert_str_eq(slb_addr_to_string(&a, buf), "20.20.20.100");
    ck_ok(slb_parse_addr("VIP", "2001:DB8:0::100", &a));
    ck_assert_str_eq(slb_addr_to_string(&a, buf), "2001:db8::100");
    ck_error(slb_parse_addr("VIP", "::ffff:20.20.20.100", &a),
             "invalid VIP \"::ffff:20.20.20.100\": write an IPv4 address "
             "as such");
    ck_error(slb_parse_addr("VIP", "2001:db8::1::2", &a),
             "invalid VIP \"2001:db8::1::2\": not an IPv4 or IPv6 address");

    ck_ok(slb_parse_overlay_addr("CA", "fd00::11", &a));
    ck_error(slb_parse_overlay_addr("CA", "169.254.0.9", &a),
             "invalid CA \"169.254.0.9\": a link-local address "
             "(169.254.0.0/16 carries the agents' health probes)");
    ck_error(slb_parse_overlay_addr("CA", "::", &a),
             "invalid CA \"::\": the unspecified address");
    ck_error(slb_parse_overlay_addr("CA", "::1", &a),
             "invalid CA \"::1\": a loopback address");
    ck_error(slb_parse_overlay_addr("CA", "ff02::1", &a),
             "invalid CA \"ff02::1\": a multicast address");
    ck_error(slb_parse_overlay_addr("CA", "fe80::1", &a),
             "invalid CA \"fe80::1\": a link-local address");
    ck_error(slb_parse_overlay_addr("CA", "::10.0.0.1", &a),
             "invalid CA \"::10.0.0.1\": an IPv4-compatible address");
}
END_TEST

/* Prefixes of either family, each in bits of its own. */
START_TEST(test_addr_prefix)
{
    struct in6_addr net, a;
    unsigned int plen;
    char buf[SLB_ADDR_STRLEN];

    ck_ok(slb_parse_addr_prefix("prefix", "10.10.10.0/24", &net, &plen));
    ck_assert_str_eq(slb_addr_to_string(&net, buf), "10.10.10.0");
    ck_assert_uint_eq(plen, 24);
    ck_ok(slb_parse_addr("CA", "10.10.10.9", &a));
    ck_assert(slb_addr_prefix_contains(&net, plen, &a));
    ck_ok(slb_parse_addr("CA", "10.10.11.9", &a));
    ck_assert(!slb_addr_prefix_contains(&net, plen, &a));

    ck_ok(slb_parse_addr_prefix("prefix", "fd00:10::/64", &net, &plen));
    ck_assert_uint_eq(plen, 64);
    ck_ok(slb_parse_addr("CA", "fd00:10::9", &a));
    ck_assert(slb_addr_prefix_contains(&net, plen, &a));
    ck_ok(slb_parse_addr("CA", "fd00:11::9", &a));
    ck_assert(!slb_addr_prefix_contains(&net, plen, &a));
    ck_ok(slb_parse_addr("CA", "10.10.10.9", &a));
    ck_assert(!slb_addr_prefix_contains(&net, plen, &a));
    ck_ok(slb_parse_addr_prefix("prefix", "fd00::11", &net, &plen));
    ck_assert_uint_eq(plen, 128);

    ck_error(slb_parse_addr_prefix("prefix", "fd00::1/64", &net, &plen),
             "invalid prefix \"fd00::1/64\": host bits are set after /64");
    ck_error(slb_parse_addr_prefix("prefix", "fd00::/129", &net, &plen),
             "invalid prefix \"fd00::/129\": prefix length must be 0 to "
             "128");
    ck_error(slb_parse_addr_prefix("prefix", "10.10.10.0/33", &net, &plen),
             "invalid prefix \"10.10.10.0/33\": prefix length must be 0 "
             "to 32");
    ck_error(slb_parse_addr_prefix("prefix", "fd00:/64", &net, &plen),
             "invalid prefix \"fd00:/64\": not an IPv4 or IPv6 prefix");
}
END_TEST

START_TEST(test_prefix)
{
    ovs_be32 ip;
    unsigned int plen;

    ck_ok(slb_parse_prefix("prefix", "10.10.10.0/24", &ip, &plen));
    ck_assert_uint_eq(ip, htonl(0x0a0a0a00));
    ck_assert_uint_eq(plen, 24);
    ck_ok(slb_parse_prefix("prefix", "10.10.10.7", &ip, &plen));
    ck_assert_uint_eq(plen, 32);
    ck_ok(slb_parse_prefix("prefix", "0.0.0.0/0", &ip, &plen));
    ck_assert_uint_eq(plen, 0);

    ck_error(slb_parse_prefix("prefix", "10.10.10.1/24", &ip, &plen),
             "invalid prefix \"10.10.10.1/24\": host bits are set after /24");
    ck_error(slb_parse_prefix("prefix", "10.10.10.0/33", &ip, &plen),
             "invalid prefix \"10.10.10.0/33\": prefix length must be 0 "
             "to 32");
    ck_error(slb_parse_prefix("prefix", "10.10.10.0/", &ip, &plen),
             "invalid prefix \"10.10.10.0/\": prefix length must be 0 "
             "to 32");
    ck_error(slb_parse_prefix("prefix", "10.10.10/24", &ip, &plen),
             "invalid prefix \"10.10.10/24\": not an IPv4 prefix");

    ck_assert(slb_prefix_contains(htonl(0x0a0a0a00), 24, htonl(0x0a0a0aff)));
    ck_assert(!slb_prefix_contains(htonl(0x0a0a0a00), 24,
                                   htonl(0x0a0a0b00)));
    ck_assert(slb_prefix_contains(0, 0, htonl(0xdeadbeef)));
}
END_TEST

START_TEST(test_port)
{
    uint16_t port, min, max;

    ck_ok(slb_parse_port("port", "80", false, &port));
    ck_assert_uint_eq(port, 80);
    ck_ok(slb_parse_port("port", "65535", false, &port));
    ck_assert_uint_eq(port, 65535);
    ck_ok(slb_parse_port("port", "0", true, &port));
    ck_assert_uint_eq(port, 0);

    ck_error(slb_parse_port("frontend port", "0", false, &port),
             "invalid frontend port \"0\": ports are 1 to 65535");
    ck_error(slb_parse_port("frontend port", "65536", true, &port),
             "invalid frontend port \"65536\": ports are 0 to 65535");
    ck_error(slb_parse_port("frontend port", "-1", true, &port),
             "invalid frontend port \"-1\": ports are 0 to 65535");
    ck_error(slb_parse_port("frontend port", "0x50", false, &port),
             "invalid frontend port \"0x50\": ports are 1 to 65535");

    ck_ok(slb_parse_port_range("ports", "1000-2000", &min, &max));
    ck_assert_uint_eq(min, 1000);
    ck_assert_uint_eq(max, 2000);
    ck_ok(slb_parse_port_range("ports", "22", &min, &max));
    ck_assert_uint_eq(min, 22);
    ck_assert_uint_eq(max, 22);
    ck_error(slb_parse_port_range("ports", "2000-1000", &min, &max),
             "invalid ports \"2000-1000\": range is empty");
    ck_error(slb_parse_port_range("ports", "1-70000", &min, &max),
             "invalid ports \"1-70000\": expected PORT or MIN-MAX with ports "
             "1 to 65535");
}
END_TEST

START_TEST(test_mac)
{
    struct eth_addr mac;

    ck_ok(slb_parse_mac("MAC", "00:00:00:00:00:11", &mac));
    ck_assert_uint_eq(mac.ea[5], 0x11);
    ck_error(slb_parse_mac("MAC", "00:00:00:00:00", &mac),
             "invalid MAC \"00:00:00:00:00\": not an Ethernet address");
    ck_error(slb_parse_mac("MAC", "00:00:00:00:00:11:22", &mac),
             "invalid MAC \"00:00:00:00:00:11:22\": not an Ethernet "
             "address");
    ck_error(slb_parse_mac("MAC", "01:00:5e:00:00:01", &mac),
             "invalid MAC \"01:00:5e:00:00:01\": not a unicast Ethernet "
             "address");
    ck_error(slb_parse_mac("MAC", "00:00:00:00:00:00", &mac),
             "invalid MAC \"00:00:00:00:00:00\": not a unicast Ethernet "
             "address");
}
END_TEST

START_TEST(test_uint)
{
    unsigned long long int v;

    ck_ok(slb_parse_uint("VNI", "16777215", 1, 16777215, &v));
    ck_assert_uint_eq(v, 16777215);
    ck_error(slb_parse_uint("VNI", "16777216", 1, 16777215, &v),
             "invalid VNI \"16777216\": must be 1 to 16777215");
    ck_error(slb_parse_uint("VNI", "0", 1, 16777215, &v),
             "invalid VNI \"0\": must be 1 to 16777215");
    ck_error(slb_parse_uint("VNI", "+5", 1, 16777215, &v),
             "invalid VNI \"+5\": not a decimal number");
    ck_error(slb_parse_uint("VNI", "5k", 1, 16777215, &v),
             "invalid VNI \"5k\": not a decimal number");
    ck_error(slb_parse_uint("AS number", "99999999999999999999999", 1,
                            4294967295ULL, &v),
             "invalid AS number \"99999999999999999999999\": not a decimal "
             "number");
    ck_error(slb_parse_uint("AS number", "18446744073709551616", 1,
                            4294967295ULL, &v),
             "invalid AS number \"18446744073709551616\": must be 1 to "
             "4294967295");
}
END_TEST

START_TEST(test_name)
{
    char long_name[66];

    ck_ok(slb_parse_name("name", "lb-1_a.b:c"));
    memset(long_name, 'x', 65);
    long_name[65] = '\0';
    ck_error(slb_parse_name("name", long_name),
             "invalid name \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
             "xxxxxxxxxxxxxxxxx\": names are 1 to 64 characters");
    long_name[64] = '\0';
    ck_ok(slb_parse_name("name", long_name));
    ck_error(slb_parse_name("name", ""),
             "invalid name \"\": names are 1 to 64 characters");
    ck_error(slb_parse_name("name", "a b"),
             "invalid name \"a b\": names use only letters, digits and -_.:");
}
END_TEST

START_TEST(test_enum)
{
    static const char *const protocols[] = { "tcp", "udp", "all", NULL };
    int i;

    ck_ok(slb_parse_enum("protocol", "udp", protocols, &i));
    ck_assert_int_eq(i, 1);
    ck_error(slb_parse_enum("protocol", "sctp", protocols, &i),
             "invalid protocol \"sctp\": expected one of tcp, udp, all");
    ck_error(slb_parse_enum("protocol", "TCP", protocols, &i),
             "invalid protocol \"TCP\": expected one of tcp, udp, all");
}
END_TEST

static Suite *
parse_suite(void)
{
    Suite *s = suite_create("slb-parse");
    TCase *tc = tcase_create("parsers");

    tcase_add_test(tc, test_ipv4);
    tcase_add_test(tc, test_unicast_ipv4);
    tcase_add_test(tc, test_prefix);
    tcase_add_test(tc, test_addr);
    tcase_add_test(tc, test_addr_prefix);
    tcase_add_test(tc, test_port);
    tcase_add_test(tc, test_mac);
    tcase_add_test(tc, test_uint);
    tcase_add_test(tc, test_name);
    tcase_add_test(tc, test_enum);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(parse_suite)
