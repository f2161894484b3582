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

/* Returns the IPv4 header of 'frame', of 'len' bytes, and its length in
 * '*ihl', if it has one whole, with the first 4 bytes of what follows (the
 * ports of TCP and UDP), or NULL. */
static struct ip_header *
frame_ip(const uint8_t *frame, size_t len, size_t *ihl)
{
    if (len < ETH_HEADER_LEN + IP_HEADER_LEN) {
        return NULL;
    }
    const struct eth_header *eth = ALIGNED_CAST(const struct eth_header *,
                                                frame);
    struct ip_header *ip = ALIGNED_CAST(struct ip_header *,
                                        frame + ETH_HEADER_LEN);
    *ihl = IP_IHL(ip->ip_ihl_ver) * 4;
    if (eth->eth_type != htons(ETH_TYPE_IP) || IP_VER(ip->ip_ihl_ver) != 4
        || *ihl < IP_HEADER_LEN || len < ETH_HEADER_LEN + *ihl + 4) {
        return NULL;
    }
    return ip;
}

/* Stores the source address of IPv4 frame 'frame', of 'len' bytes, in
 * '*ip', its protocol in '*proto', and its source port (or 0 if it is
 * neither TCP nor UDP, or a later fragment) in '*port'.  Returns false if
 * it is no IPv4 frame. */
bool
frag_needed_source(const uint8_t *frame, size_t len, ovs_be32 *ip,
                   uint8_t *proto, ovs_be16 *port)
{
    size_t ihl;
    const struct ip_header *iph = frame_ip(frame, len, &ihl);
    if (!iph) {
        return false;
    }
    *ip = get_16aligned_be32(&iph->ip_src);
    *proto = iph->ip_proto;
    *port = 0;
    if ((*proto == IPPROTO_TCP || *proto == IPPROTO_UDP)
        && !(iph->ip_frag_off & htons(IP_FRAG_OFF_MASK))) {
        memcpy(port, frame + ETH_HEADER_LEN + ihl, sizeof *port);
    }
    return true;
}

/* Gives IPv4 frame 'frame', of 'len' bytes, source address 'ip' and, if
 * it is TCP or UDP, source port 'port', with its checksums updated: the
 * source that its sender gave it before conntrack translated it (the
 * reverse of a load balancer's DNAT), which a "fragmentation needed" must
 * quote for the sender to find its connection. */
void
frag_needed_restore_source(uint8_t *frame, size_t len, ovs_be32 ip,
                           ovs_be16 port)
{
    size_t ihl;
    struct ip_header *iph = frame_ip(frame, len, &ihl);
    if (!iph) {
        return;
    }
    ovs_be32 old_ip = get_16aligned_be32(&iph->ip_src);
    put_16aligned_be32(&iph->ip_src, ip);
    iph->ip_csum = 0;
    iph->ip_csum = csum(iph, ihl);

    uint8_t *l4 = frame + ETH_HEADER_LEN + ihl;
    size_t l4_len = len - ETH_HEADER_LEN - ihl;
    if (iph->ip_frag_off & htons(IP_FRAG_OFF_MASK)) {
        return;
    }
    ovs_be16 *csum_field = NULL;
    if (iph->ip_proto == IPPROTO_TCP && l4_len >= TCP_HEADER_LEN) {
        csum_field = &ALIGNED_CAST(struct tcp_header *, l4)->tcp_csum;
    } else if (iph->ip_proto == IPPROTO_UDP && l4_len >= UDP_HEADER_LEN) {
        csum_field = &ALIGNED_CAST(struct udp_header *, l4)->udp_csum;
    } else {
        return;
    }
    ovs_be16 old_port;
    memcpy(&old_port, l4, sizeof old_port);
    memcpy(l4, &port, sizeof port);
    if (*csum_field) {
        ovs_be16 sum = recalc_csum32(*csum_field, old_ip, ip);
        sum = recalc_csum16(sum, old_port, port);
        *csum_field = sum ? sum : (iph->ip_proto == IPPROTO_UDP
                                   ? htons(0xffff) : sum);
    }
}
