/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the agent's answer to a frame too big for the tunnel,
 * for an arbitrary frame from a VM.
 *
 * The input's first two bytes are the next-hop MTU to announce and the
 * rest is the frame.  When the agent answers, the answer must be a
 * well-formed ICMP "fragmentation needed" for that MTU, to the frame's
 * source from its destination: IPv4 without options, its lengths and both
 * checksums right, quoting the start of the frame's IPv4 packet. */

#include <config.h>

#include <string.h>

#include "agent/frag-needed.h"
#include "csum.h"
#include "dp-packet.h"
#include "packets.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        ovs_assert(rlen >= ETH_HEADER_LEN + IP_HEADER_LEN + ICMP_HEADER_LEN);

        const struct eth_header *eth = (const struct eth_header *) r;
        ovs_assert(eth->eth_type == htons(ETH_TYPE_IP));
        ovs_assert(eth_addr_equals(eth->eth_dst, vm_mac));

        const struct ip_header *ip = (const struct ip_header *) (eth + 1);
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
        dp_packet_delete(reply);
    }
    free(copy);
    return 0;
}
