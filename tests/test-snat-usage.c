/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/snat-usage.c: counting the SNAT ports in use from
 * the text of ovs-vswitchd's "dpctl/dump-conntrack". */

#include <config.h>

#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "packets.h"
#include "slb-check.h"
#include "snat-usage.h"
#include "util.h"

/* Entries as ovs-vswitchd prints them: SNAT ones (mark bit 4) of zones 5
 * and 7, and of zone 8 on an IPv6 VIP; the same port to two destinations,
 * which counts once; an entry
 * without the SNAT bit (a load-balanced connection), one of another zone
 * without a mark, ICMP, and a line that is no entry. */
static const char dump[] =
    "tcp,orig=(src=10.10.10.12,dst=8.8.8.8,sport=5555,dport=443),"
    "reply=(src=8.8.8.8,dst=20.20.20.100,sport=443,dport=22400),zone=5,"
    "mark=6,protoinfo=(state=ESTABLISHED)\n"
    "tcp,orig=(src=10.10.10.12,dst=8.8.4.4,sport=5556,dport=443),"
    "reply=(src=8.8.4.4,dst=20.20.20.100,sport=443,dport=22400),zone=5,"
    "mark=6,protoinfo=(state=SYN_SENT)\n"
    "tcp,orig=(src=10.10.10.12,dst=8.8.4.4,sport=5557,dport=443),"
    "reply=(src=8.8.4.4,dst=20.20.20.100,sport=443,dport=22401),zone=5,"
    "mark=6,protoinfo=(state=TIME_WAIT)\n"
    "udp,orig=(src=10.10.10.12,dst=8.8.8.8,sport=53000,dport=53),"
    "reply=(src=8.8.8.8,dst=20.20.20.100,sport=53,dport=22500),zone=5,"
    "mark=6\n"
    "udp,orig=(src=10.10.10.14,dst=8.8.8.8,sport=53000,dport=53),"
    "reply=(src=8.8.8.8,dst=20.20.20.101,sport=53,dport=1000),zone=7,"
    "mark=4\n"
    "tcp,orig=(src=1.2.3.4,dst=20.20.20.100,sport=40000,dport=80),"
    "reply=(src=10.10.10.12,dst=1.2.3.4,sport=8080,dport=40000),zone=5,"
    "mark=3,protoinfo=(state=ESTABLISHED)\n"
    "udp,orig=(src=10.10.10.12,dst=10.10.10.11,sport=7000,dport=7001),"
    "reply=(src=10.10.10.11,dst=10.10.10.12,sport=7001,dport=7000),"
    "zone=9\n"
    "tcp,orig=(src=fd00:10::14,dst=2001:db8::8,sport=5555,dport=443),"
    "reply=(src=2001:db8::8,dst=2001:db8:20::100,sport=443,dport=3000),"
    "zone=8,mark=6,protoinfo=(state=ESTABLISHED)\n"
    "icmp,orig=(src=10.10.10.12,dst=8.8.8.8,id=1,type=8,code=0),"
    "reply=(src=8.8.8.8,dst=20.20.20.100,id=1,type=0,code=0),zone=5,"
    "mark=6\n"
    "something else\n";

START_TEST(test_parse)
{
    struct snat_usage *u;
    size_t n = snat_usage_parse(dump, 4, &u);
    ck_assert_uint_eq(n, 4);
    struct in6_addr vip1 = in6_addr_mapped_ipv4(htonl(0x14141464));
    struct in6_addr vip2 = in6_addr_mapped_ipv4(htonl(0x14141465));
    struct in6_addr vip6;
    ck_assert(ipv6_parse("2001:db8:20::100", &vip6));

    ck_assert_uint_eq(u[0].zone, 5);
    ck_assert(ipv6_addr_equals(&u[0].vip, &vip1));
    ck_assert_uint_eq(u[0].proto, IPPROTO_TCP);
    ck_assert_uint_eq(u[0].ports, 2);

    ck_assert_uint_eq(u[1].zone, 5);
    ck_assert_uint_eq(u[1].proto, IPPROTO_UDP);
    ck_assert_uint_eq(u[1].ports, 1);

    ck_assert_uint_eq(u[2].zone, 7);
    ck_assert(ipv6_addr_equals(&u[2].vip, &vip2));
    ck_assert_uint_eq(u[2].ports, 1);

    ck_assert_uint_eq(u[3].zone, 8);
    ck_assert(ipv6_addr_equals(&u[3].vip, &vip6));
    ck_assert_uint_eq(u[3].proto, IPPROTO_TCP);
    ck_assert_uint_eq(u[3].ports, 1);

    /* Found by zone, VIP and protocol; a zone, VIP or protocol without
     * ports in use is not. */
    ck_assert_ptr_eq(snat_usage_find(u, n, 5, &vip1, IPPROTO_UDP), &u[1]);
    ck_assert_ptr_eq(snat_usage_find(u, n, 7, &vip2, IPPROTO_UDP), &u[2]);
    ck_assert_ptr_eq(snat_usage_find(u, n, 8, &vip6, IPPROTO_TCP), &u[3]);
    ck_assert_ptr_null(snat_usage_find(u, n, 7, &vip2, IPPROTO_TCP));
    ck_assert_ptr_null(snat_usage_find(u, n, 9, &vip1, IPPROTO_UDP));
    ck_assert_ptr_null(snat_usage_find(u, 0, 5, &vip1, IPPROTO_TCP));
    free(u);

    /* Nothing to count. */
    n = snat_usage_parse("", 4, &u);
    ck_assert_uint_eq(n, 0);
    free(u);
}
END_TEST

static Suite *
snat_usage_suite(void)
{
    Suite *s = suite_create("snat-usage");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(snat_usage_suite)
