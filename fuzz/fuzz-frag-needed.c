/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the agent's answers to what the pipeline gives it, for
 * an arbitrary frame: an answer to a frame too big for the tunnel, from a
 * VM, and the resets of a connection that idled out, from either end.
 *
 * The input's first two bytes are the next-hop MTU to announce and the
 * rest is the frame.  When the agent answers, the answer must be well
 * formed, for that MTU, to the frame's source from its destination: for
 * IPv4, ICMP "fragmentation needed", IPv4 without options, its lengths and
 * both checksums right, quoting the start of the frame's IPv4 packet; for
 * IPv6, ICMPv6 "packet too big", its lengths and checksum right, quoting
 * as much of the frame's IPv6 packet as fits in 1280 bytes.
 *
 * The same frame is also a TCP segment of a client's connection, or the
 * VM's if the MTU is odd.  When the agent resets it, each reset must be a
 * whole TCP reset, its lengths and checksums right, between the client of
 * the segment and the end that the reset goes to. */

#include <config.h>

#include <netinet/icmp6.h>
#include <netinet/ip6.h>
#include <string.h>

#include "agent/frag-needed.h"
#include "agent/tcp-reset.h"
#include "csum.h"
#include "dp-packet.h"
#include "packets.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_frag_needed(const uint8_t *frame, size_t len, const uint8_t *r,
                  size_t rlen, int mtu)
{
    ovs_assert(rlen >= ETH_HEADER_LEN + IP_HEADER_LEN + ICMP_HEADER_LEN);
    const struct ip_header *ip = (const struct ip_header *) (r
                                                             + ETH_HEADER_LEN);
    const struct ip_header *orig
        = (const struct ip_header *) (frame + ETH_HEADER_LEN);
    ovs_assert(ip->ip_ihl_ver == IP_IHL_VER(5, 4));
    ovs_assert(ntohs(ip->ip_tot_len) == rlen - ETH_HEADER_LEN);
    ovs_assert(ip->ip_proto == IPPROTO_ICMP);
    ovs_assert(!csum(ip, IP_HEADER_LEN));
    ovs_assert(!memcmp(&ip->ip_src, &orig->ip_dst, sizeof ip->ip_src));
    ovs_assert(!memcmp(&ip->ip_dst, &orig->ip_src, sizeof ip->ip_dst));

    const struct icmp_header *icmp = (const struct icmp_header *) (ip + 1);
    size_t icmp_len = rlen - ETH_HEADER_LEN - IP_HEADER_LEN;
    ovs_assert(icmp->icmp_type == ICMP4_DST_UNREACH);
    ovs_assert(icmp->icmp_code == 4);
    ovs_assert(ntohs(icmp->icmp_fields.frag.mtu) == mtu);
    ovs_assert(!csum(icmp, icmp_len));

    size_t quoted = icmp_len - ICMP_HEADER_LEN;
    size_t ihl = IP_IHL(orig->ip_ihl_ver) * 4;
    ovs_assert(quoted == MIN(len - ETH_HEADER_LEN, ihl + 8));
    ovs_assert(!memcmp(icmp + 1, orig, quoted));
}

static void
check_packet_too_big(const uint8_t *frame, size_t len, const uint8_t *r,
                     size_t rlen, int mtu)
{
    ovs_assert(rlen >= ETH_HEADER_LEN + IPV6_HEADER_LEN
               + ICMP6_DATA_HEADER_LEN);
    ovs_assert(rlen - ETH_HEADER_LEN <= 1280);
    const struct ovs_16aligned_ip6_hdr *ip6
        = (const struct ovs_16aligned_ip6_hdr *) (r + ETH_HEADER_LEN);
    const struct ovs_16aligned_ip6_hdr *orig
        = (const struct ovs_16aligned_ip6_hdr *) (frame + ETH_HEADER_LEN);
    size_t icmp_len = rlen - ETH_HEADER_LEN - IPV6_HEADER_LEN;
    ovs_assert(ntohs(ip6->ip6_plen) == icmp_len);
    ovs_assert(ip6->ip6_nxt == IPPROTO_ICMPV6);
    ovs_assert(!memcmp(&ip6->ip6_src, &orig->ip6_dst, sizeof ip6->ip6_src));
    ovs_assert(!memcmp(&ip6->ip6_dst, &orig->ip6_src, sizeof ip6->ip6_dst));

    const struct icmp6_data_header *icmp
        = (const struct icmp6_data_header *) (ip6 + 1);
    ovs_assert(icmp->icmp6_base.icmp6_type == ICMP6_PACKET_TOO_BIG);
    ovs_assert(icmp->icmp6_base.icmp6_code == 0);
    ovs_assert(ntohl(get_16aligned_be32(&icmp->icmp6_data.be32[0])) == mtu);
    ovs_assert(!packet_csum_upperlayer6(ip6, icmp, IPPROTO_ICMPV6,
                                        icmp_len));

    size_t quoted = icmp_len - ICMP6_DATA_HEADER_LEN;
    ovs_assert(quoted == MIN(len - ETH_HEADER_LEN,
                             1280 - IPV6_HEADER_LEN - ICMP6_DATA_HEADER_LEN));
    ovs_assert(!memcmp(icmp + 1, orig, quoted));
}

/* Checks that 'p' is a TCP reset from 'src' to 'dst', and frees it. */
static void
check_reset(struct dp_packet *p, const struct in6_addr *src,
            const struct in6_addr *dst)
{
    const struct eth_header *eth = dp_packet_data(p);
    const uint8_t *l3 = (const uint8_t *) (eth + 1);
    const struct tcp_header *tcp;
    if (IN6_IS_ADDR_V4MAPPED(src)) {
        const struct ip_header *ip = (const struct ip_header *) l3;
        ovs_assert(eth->eth_type == htons(ETH_TYPE_IP));
        ovs_assert(dp_packet_size(p) == ETH_HEADER_LEN + IP_HEADER_LEN
                   + TCP_HEADER_LEN);
        ovs_assert(ntohs(ip->ip_tot_len) == IP_HEADER_LEN + TCP_HEADER_LEN);
        ovs_assert(!csum(ip, IP_HEADER_LEN));
        ovs_assert(get_16aligned_be32(&ip->ip_src)
                   == in6_addr_get_mapped_ipv4(src));
        ovs_assert(get_16aligned_be32(&ip->ip_dst)
                   == in6_addr_get_mapped_ipv4(dst));
        tcp = (const struct tcp_header *) (ip + 1);
        ovs_assert(!csum_finish(csum_continue(packet_csum_pseudoheader(ip),
                                              tcp, TCP_HEADER_LEN)));
    } else {
        const struct ovs_16aligned_ip6_hdr *ip6
            = (const struct ovs_16aligned_ip6_hdr *) l3;
        ovs_assert(eth->eth_type == htons(ETH_TYPE_IPV6));
        ovs_assert(dp_packet_size(p) == ETH_HEADER_LEN + IPV6_HEADER_LEN
                   + TCP_HEADER_LEN);
        ovs_assert(ntohs(ip6->ip6_plen) == TCP_HEADER_LEN);
        ovs_assert(!memcmp(&ip6->ip6_src, src, sizeof *src));
        ovs_assert(!memcmp(&ip6->ip6_dst, dst, sizeof *dst));
        tcp = (const struct tcp_header *) (ip6 + 1);
        ovs_assert(!packet_csum_upperlayer6(ip6, tcp, IPPROTO_TCP,
                                            TCP_HEADER_LEN));
    }
    ovs_assert(TCP_FLAGS(tcp->tcp_ctl) & TCP_RST);
    ovs_assert(!(TCP_FLAGS(tcp->tcp_ctl) & ~(TCP_RST | TCP_ACK)));
    dp_packet_delete(p);
}

/* The resets of 'frame', 'len' bytes, from a client, or from the VM if
 * 'from_vm', of a rule of the frame's family. */
static void
fuzz_reset(const uint8_t *frame, size_t len, bool from_vm)
{
    struct in6_addr src, dst;
    uint16_t sport, dport;
    if (!tcp_reset_addresses(frame, len, &src, &sport, &dst, &dport)) {
        return;
    }
    struct tcp_reset_ends ends = { .vm_port = 8080, .vip_port = 80 };
    if (IN6_IS_ADDR_V4MAPPED(&src)) {
        in6_addr_set_mapped_ipv4(&ends.vm_ip, htonl(0x0a0a0a0c));
        in6_addr_set_mapped_ipv4(&ends.vip, htonl(0x14141464));
    } else {
        memset(&ends.vm_ip, 0xfd, sizeof ends.vm_ip);
        memset(&ends.vip, 0x20, sizeof ends.vip);
    }
    struct dp_packet *to_vm, *to_client;
    if (tcp_reset_compose(frame, len, from_vm, &ends, &to_vm, &to_client)) {
        const struct in6_addr *client = from_vm ? &dst : &src;
        check_reset(to_vm, client, &ends.vm_ip);
        check_reset(to_client, &ends.vip, client);
    } else {
        ovs_assert(!to_vm && !to_client);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    int mtu = (data[0] << 8) | data[1];
    const uint8_t *frame = data + 2;
    size_t len = size - 2;

    /* A copy that ends where the frame ends, for the address sanitizer. */
    uint8_t *copy = xmemdup(frame, len);
    struct eth_addr vm_mac = ETH_ADDR_C(00,00,00,00,00,11);
    struct dp_packet *reply = frag_needed_compose(copy, len, vm_mac, mtu);
    if (reply) {
        const uint8_t *r = dp_packet_data(reply);
        size_t rlen = dp_packet_size(reply);
        ovs_assert(rlen >= ETH_HEADER_LEN);
        const struct eth_header *eth = (const struct eth_header *) r;
        const struct eth_header *orig = (const struct eth_header *) frame;
        ovs_assert(eth->eth_type == orig->eth_type);
        ovs_assert(eth_addr_equals(eth->eth_dst, vm_mac));
        if (eth->eth_type == htons(ETH_TYPE_IP)) {
            check_frag_needed(frame, len, r, rlen, mtu);
        } else {
            ovs_assert(eth->eth_type == htons(ETH_TYPE_IPV6));
            check_packet_too_big(frame, len, r, rlen, mtu);
        }
        dp_packet_delete(reply);
    }
    fuzz_reset(copy, len, mtu & 1);
    free(copy);
    return 0;
}
