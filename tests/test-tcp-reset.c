/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/tcp-reset.c: the two resets of a TCP connection
 * that idled out, from a segment of either end. */

#include <config.h>

#include <check.h>
#include <netinet/in.h>
#include <netinet/ip6.h>

#include "csum.h"
#include "dp-packet.h"
#include "packets.h"
#include "slb-check.h"
#include "tcp-reset.h"
#include "util.h"

/* The ends of the tests' connection: client 1.2.3.4:40000 (or
 * 2001:db8::4), VIP 20.20.20.100:80 (2001:db8::100), VM 10.10.10.12:8080
 * (fd00:10::12). */
static struct tcp_reset_ends
test_ends(bool ipv6)
{
    struct tcp_reset_ends ends = {
        .vm_port = 8080,
        .vip_port = 80,
        .vm_mac = ETH_ADDR_C(00, 00, 00, 00, 00, 12),
    };
    if (ipv6) {
        ovs_assert(ipv6_parse("fd00:10::12", &ends.vm_ip));
        ovs_assert(ipv6_parse("2001:db8::100", &ends.vip));
    } else {
        in6_addr_set_mapped_ipv4(&ends.vm_ip, htonl(0x0a0a0a0c));
        in6_addr_set_mapped_ipv4(&ends.vip, htonl(0x14141464));
    }
    return ends;
}

static struct in6_addr
client_ip(bool ipv6)
{
    struct in6_addr ip;
    if (ipv6) {
        ovs_assert(ipv6_parse("2001:db8::4", &ip));
    } else {
        in6_addr_set_mapped_ipv4(&ip, htonl(0x01020304));
    }
    return ip;
}

/* A frame with a TCP segment from 'src':'sport' to 'dst':'dport' with
 * 'seq', 'ack', 'flags' and 'data' bytes of data (checksums left 0: the
 * composer does not read them). */
static struct dp_packet *
segment(const struct in6_addr *src, uint16_t sport,
        const struct in6_addr *dst, uint16_t dport,
        uint32_t seq, uint32_t ack, uint16_t flags, size_t data)
{
    bool ipv6 = !IN6_IS_ADDR_V4MAPPED(src);
    struct dp_packet *p = dp_packet_new(128);
    struct eth_header *eth = dp_packet_put_zeros(p, sizeof *eth);
    eth->eth_type = htons(ipv6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP);
    eth->eth_src = (struct eth_addr) ETH_ADDR_C(00, 00, 5e, 00, 01, 01);
    if (ipv6) {
        struct ovs_16aligned_ip6_hdr *ip6 = dp_packet_put_zeros(p,
                                                                sizeof *ip6);
        put_16aligned_be32(&ip6->ip6_flow, htonl(6 << 28));
        ip6->ip6_plen = htons(TCP_HEADER_LEN + data);
        ip6->ip6_nxt = IPPROTO_TCP;
        memcpy(&ip6->ip6_src, src, sizeof *src);
        memcpy(&ip6->ip6_dst, dst, sizeof *dst);
    } else {
        struct ip_header *ip = dp_packet_put_zeros(p, sizeof *ip);
        ip->ip_ihl_ver = IP_IHL_VER(5, 4);
        ip->ip_tot_len = htons(IP_HEADER_LEN + TCP_HEADER_LEN + data);
        ip->ip_proto = IPPROTO_TCP;
        put_16aligned_be32(&ip->ip_src, in6_addr_get_mapped_ipv4(src));
        put_16aligned_be32(&ip->ip_dst, in6_addr_get_mapped_ipv4(dst));
    }
    struct tcp_header *tcp = dp_packet_put_zeros(p, sizeof *tcp);
    tcp->tcp_src = htons(sport);
    tcp->tcp_dst = htons(dport);
    put_16aligned_be32(&tcp->tcp_seq, htonl(seq));
    put_16aligned_be32(&tcp->tcp_ack, htonl(ack));
    tcp->tcp_ctl = TCP_CTL(flags, 5);
    dp_packet_put_zeros(p, data);
    /* Ethernet padding, which the lengths must ignore. */
    dp_packet_put_zeros(p, 6);
    return p;
}

/* Checks that 'p' is a reset from 'src':'sport' to 'dst':'dport' with
 * sequence number 'seq', and ACK 'ack' if 'ack_flag', with the right
 * checksums, to 'eth_dst', and frees it. */
static void
check_reset(struct dp_packet *p, const struct in6_addr *src, uint16_t sport,
            const struct in6_addr *dst, uint16_t dport, uint32_t seq,
            bool ack_flag, uint32_t ack, struct eth_addr eth_dst)
{
    ck_assert_ptr_nonnull(p);
    const struct eth_header *eth = dp_packet_data(p);
    ck_assert(eth_addr_equals(eth->eth_dst, eth_dst));
    ck_assert(eth_addr_equals(eth->eth_src,
                              (struct eth_addr) ETH_ADDR_C(0a, 00, 5b, 00,
                                                           00, 01)));
    const uint8_t *l3 = (const uint8_t *) (eth + 1);
    const struct tcp_header *tcp;
    if (IN6_IS_ADDR_V4MAPPED(src)) {
        const struct ip_header *ip = (const struct ip_header *) l3;
        ck_assert_uint_eq(dp_packet_size(p), ETH_HEADER_LEN + 40);
        ck_assert_uint_eq(csum(ip, IP_HEADER_LEN), 0);
        ck_assert_uint_eq(get_16aligned_be32(&ip->ip_src),
                          in6_addr_get_mapped_ipv4(src));
        ck_assert_uint_eq(get_16aligned_be32(&ip->ip_dst),
                          in6_addr_get_mapped_ipv4(dst));
        tcp = (const struct tcp_header *) (ip + 1);
        ck_assert_uint_eq(csum_finish(csum_continue(
                              packet_csum_pseudoheader(ip), tcp,
                              TCP_HEADER_LEN)), 0);
    } else {
        const struct ovs_16aligned_ip6_hdr *ip6
            = (const struct ovs_16aligned_ip6_hdr *) l3;
        ck_assert_uint_eq(dp_packet_size(p), ETH_HEADER_LEN + 60);
        ck_assert(!memcmp(&ip6->ip6_src, src, sizeof *src));
        ck_assert(!memcmp(&ip6->ip6_dst, dst, sizeof *dst));
        tcp = (const struct tcp_header *) (ip6 + 1);
        ck_assert_uint_eq(packet_csum_upperlayer6(ip6, tcp, IPPROTO_TCP,
                                                  TCP_HEADER_LEN), 0);
    }
    ck_assert_uint_eq(ntohs(tcp->tcp_src), sport);
    ck_assert_uint_eq(ntohs(tcp->tcp_dst), dport);
    ck_assert_uint_eq(ntohl(get_16aligned_be32(&tcp->tcp_seq)), seq);
    ck_assert_uint_eq(TCP_FLAGS(tcp->tcp_ctl),
                      TCP_RST | (ack_flag ? TCP_ACK : 0));
    ck_assert_uint_eq(ntohl(get_16aligned_be32(&tcp->tcp_ack)),
                      ack_flag ? ack : 0);
    dp_packet_delete(p);
}

static const struct eth_addr vm_mac = ETH_ADDR_C(00, 00, 00, 00, 00, 12);
static const struct eth_addr client_mac = ETH_ADDR_C(00, 00, 5e, 00, 01, 01);

/* The client's segment, with data: the client's reset answers it, the
 * VM's carries on from it. */
START_TEST(test_from_client)
{
    for (int ipv6 = 0; ipv6 < 2; ipv6++) {
        struct tcp_reset_ends ends = test_ends(ipv6);
        struct in6_addr client = client_ip(ipv6);
        struct dp_packet *seg = segment(&client, 40000, &ends.vip, 80,
                                        2, 1001, TCP_ACK | TCP_PSH, 100);
        struct dp_packet *to_vm, *to_client;
        ck_assert(tcp_reset_compose(dp_packet_data(seg), dp_packet_size(seg),
                                    false, &ends, &to_vm, &to_client));
        check_reset(to_vm, &client, 40000, &ends.vm_ip, 8080, 2, false, 0,
                    vm_mac);
        check_reset(to_client, &ends.vip, 80, &client, 40000, 1001, false,
                    0, client_mac);
        dp_packet_delete(seg);
    }
}
END_TEST

/* The VM's segment: the other way round.  A segment without ACK gets
 * RFC 793's answer: sequence number 0, ACK of what it took (a FIN takes
 * one). */
START_TEST(test_from_vm)
{
    struct tcp_reset_ends ends = test_ends(false);
    struct in6_addr client = client_ip(false);
    struct dp_packet *seg = segment(&ends.vm_ip, 8080, &client, 40000,
                                    1001, 2, TCP_ACK, 0);
    struct dp_packet *to_vm, *to_client;
    ck_assert(tcp_reset_compose(dp_packet_data(seg), dp_packet_size(seg),
                                true, &ends, &to_vm, &to_client));
    check_reset(to_vm, &client, 40000, &ends.vm_ip, 8080, 2, false, 0,
                vm_mac);
    check_reset(to_client, &ends.vip, 80, &client, 40000, 1001, false, 0,
                eth_addr_zero);
    dp_packet_delete(seg);

    seg = segment(&ends.vm_ip, 8080, &client, 40000, 5000, 0, TCP_FIN, 10);
    ck_assert(tcp_reset_compose(dp_packet_data(seg), dp_packet_size(seg),
                                true, &ends, &to_vm, &to_client));
    check_reset(to_vm, &client, 40000, &ends.vm_ip, 8080, 0, true, 5011,
                vm_mac);
    check_reset(to_client, &ends.vip, 80, &client, 40000, 5000, false, 0,
                eth_addr_zero);
    dp_packet_delete(seg);
}
END_TEST

/* No reset answers a reset or a SYN, a segment cut short, or one of the
 * other family than the rule's. */
START_TEST(test_refused)
{
    struct tcp_reset_ends ends = test_ends(false);
    struct in6_addr client = client_ip(false);
    struct dp_packet *to_vm, *to_client;
    static const uint16_t flags[] = { TCP_RST, TCP_SYN, TCP_RST | TCP_ACK };
    for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
        struct dp_packet *seg = segment(&client, 40000, &ends.vip, 80, 2,
                                        1001, flags[i], 0);
        ck_assert(!tcp_reset_compose(dp_packet_data(seg),
                                     dp_packet_size(seg), false, &ends,
                                     &to_vm, &to_client));
        ck_assert_ptr_null(to_vm);
        ck_assert_ptr_null(to_client);
        dp_packet_delete(seg);
    }

    struct dp_packet *seg = segment(&client, 40000, &ends.vip, 80, 2, 1001,
                                    TCP_ACK, 0);
    for (size_t len = 0; len < ETH_HEADER_LEN + 40; len++) {
        ck_assert(!tcp_reset_compose(dp_packet_data(seg), len, false, &ends,
                                     &to_vm, &to_client));
    }
    struct tcp_reset_ends ends6 = test_ends(true);
    ck_assert(!tcp_reset_compose(dp_packet_data(seg), dp_packet_size(seg),
                                 false, &ends6, &to_vm, &to_client));
    dp_packet_delete(seg);
}
END_TEST

static Suite *
tcp_reset_suite(void)
{
    Suite *s = suite_create("tcp-reset");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_from_client);
    tcase_add_test(tc, test_from_vm);
    tcase_add_test(tc, test_refused);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(tcp_reset_suite)
