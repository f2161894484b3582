/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's answer to a frame too big for the tunnel: see
 * frag-needed.h. */

#include <config.h>

#include "frag-needed.h"

#include "csum.h"
#include "dp-packet.h"
#include "packets.h"
#include "pipeline.h"
#include "util.h"

/* Returns the frame that tells the sender of 'frame' (of 'len' bytes, from
 * the VM with MAC 'vm_mac', or all-zeros if unknown) that it is too big for
 * the tunnel: ICMP "fragmentation needed" with next-hop MTU 'mtu', from the
 * virtual router's MAC and the original destination address, quoting the
 * IPv4 header and 8 bytes of the original.  Returns NULL, to drop the
 * frame without an answer, if it is not IPv4 with the don't-fragment bit,
 * or is itself an ICMP error.  'frame' comes from a VM: anything goes. */
struct dp_packet *
frag_needed_compose(const uint8_t *frame, size_t len, struct eth_addr vm_mac,
                    int mtu)
{
    if (len < ETH_HEADER_LEN + IP_HEADER_LEN) {
        return NULL;
    }
    const struct eth_header *eth = ALIGNED_CAST(const struct eth_header *,
                                                frame);
    const struct ip_header *ip = ALIGNED_CAST(const struct ip_header *,
                                              frame + ETH_HEADER_LEN);
    size_t ihl = IP_IHL(ip->ip_ihl_ver) * 4;
    if (eth->eth_type != htons(ETH_TYPE_IP)
        || IP_VER(ip->ip_ihl_ver) != 4 || ihl < IP_HEADER_LEN
        || len < ETH_HEADER_LEN + ihl
        || !(ip->ip_frag_off & htons(IP_DONT_FRAGMENT))
        || ip->ip_frag_off & htons(IP_FRAG_OFF_MASK)) {
        return NULL;
    }
    if (ip->ip_proto == IPPROTO_ICMP && len >= ETH_HEADER_LEN + ihl + 1) {
        uint8_t type = frame[ETH_HEADER_LEN + ihl];
        if (type != ICMP4_ECHO_REQUEST && type != ICMP4_ECHO_REPLY) {
            return NULL;
        }
    }
    size_t quoted = MIN(len - ETH_HEADER_LEN, ihl + 8);

    struct dp_packet *reply = dp_packet_new(ETH_HEADER_LEN + IP_HEADER_LEN
                                            + ICMP_HEADER_LEN + quoted);
    struct eth_addr vrouter;
    eth_addr_from_string(SLB_VROUTER_MAC, &vrouter);
    struct eth_header *reth = dp_packet_put_zeros(reply, sizeof *reth);
    reth->eth_dst = eth_addr_is_zero(vm_mac) ? eth->eth_src : vm_mac;
    reth->eth_src = vrouter;
    reth->eth_type = htons(ETH_TYPE_IP);

    struct ip_header *rip = dp_packet_put_zeros(reply, sizeof *rip);
    rip->ip_ihl_ver = IP_IHL_VER(5, 4);
    rip->ip_tos = IP_DSCP_CS6;
    rip->ip_tot_len = htons(IP_HEADER_LEN + ICMP_HEADER_LEN + quoted);
    rip->ip_ttl = 64;
    rip->ip_proto = IPPROTO_ICMP;
    rip->ip_src = ip->ip_dst;
    rip->ip_dst = ip->ip_src;
    rip->ip_csum = csum(rip, IP_HEADER_LEN);

    struct icmp_header *icmp = dp_packet_put_zeros(reply, sizeof *icmp);
    icmp->icmp_type = ICMP4_DST_UNREACH;
    icmp->icmp_code = 4;        /* Fragmentation needed and DF set. */
    icmp->icmp_fields.frag.mtu = htons(mtu);
    dp_packet_put(reply, ip, quoted);
    icmp->icmp_csum = csum(icmp, ICMP_HEADER_LEN + quoted);
    return reply;
}
