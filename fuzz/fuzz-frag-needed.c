/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the agent's answer to a frame too big for the tunnel,
 * for an arbitrary frame from a VM.
 *
 * The input's first two bytes are the next-hop MTU to announce and the
 * rest is the frame.  When the agent answers, the answer must be well
 * formed, for that MTU, to the frame's source from its destination: for
 * IPv4, ICMP "fragmentation needed", IPv4 without options, its lengths and
 * both checksums right, quoting the start of the frame's IPv4 packet; for
 * IPv6, ICMPv6 "packet too big", its lengths and checksum right, quoting
 * as much of the frame's IPv6 packet as fits in 1280 bytes. */

#include <config.h>

#include <netinet/icmp6.h>
#include <netinet/ip6.h>
#include <string.h>

#include "agent/frag-needed.h"
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
    free(copy);
    return 0;
}
