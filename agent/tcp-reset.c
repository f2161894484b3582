/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's resets of idle-expired TCP connections: see tcp-reset.h. */

#include <config.h>

#include "tcp-reset.h"

#include <netinet/ip6.h>

#include "csum.h"
#include "dp-packet.h"
#include "pipeline.h"
#include "util.h"

/* What a reset needs of a TCP segment. */
struct segment {
    bool ipv6;
    struct in6_addr src, dst;   /* IPv4-mapped for IPv4. */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint16_t flags;             /* TCP_* of packets.h. */
    uint32_t len;               /* Sequence space that it takes: its data,
                                 * and one each for SYN and FIN. */
    struct eth_addr eth_src, eth_dst;
};

/* Parses the TCP segment of Ethernet frame 'frame', 'len' bytes, into
 * '*s'.  Returns false if it is no whole IPv4 or IPv6 TCP segment (an IPv6
 * one with extension headers, or a fragment, is not). */
static bool
parse_segment(const uint8_t *frame, size_t len, struct segment *s)
{
    if (len < ETH_HEADER_LEN) {
        return false;
    }
    const struct eth_header *eth = ALIGNED_CAST(const struct eth_header *,
                                                frame);
    const uint8_t *l3 = frame + ETH_HEADER_LEN;
    size_t room = len - ETH_HEADER_LEN;
    size_t l3_len, ip_len;
    memset(s, 0, sizeof *s);
    s->eth_src = eth->eth_src;
    s->eth_dst = eth->eth_dst;
    if (eth->eth_type == htons(ETH_TYPE_IP) && room >= IP_HEADER_LEN) {
        const struct ip_header *ip = ALIGNED_CAST(const struct ip_header *,
                                                  l3);
        l3_len = IP_IHL(ip->ip_ihl_ver) * 4;
        ip_len = ntohs(ip->ip_tot_len);
        if (IP_VER(ip->ip_ihl_ver) != 4 || l3_len < IP_HEADER_LEN
            || ip->ip_proto != IPPROTO_TCP || IP_IS_FRAGMENT(ip->ip_frag_off)
            || ip_len < l3_len || ip_len > room) {
            return false;
        }
        in6_addr_set_mapped_ipv4(&s->src, get_16aligned_be32(&ip->ip_src));
        in6_addr_set_mapped_ipv4(&s->dst, get_16aligned_be32(&ip->ip_dst));
    } else if (eth->eth_type == htons(ETH_TYPE_IPV6)
               && room >= IPV6_HEADER_LEN) {
        const struct ovs_16aligned_ip6_hdr *ip6
            = ALIGNED_CAST(const struct ovs_16aligned_ip6_hdr *, l3);
        l3_len = IPV6_HEADER_LEN;
        ip_len = IPV6_HEADER_LEN + ntohs(ip6->ip6_plen);
        if ((ip6->ip6_vfc >> 4) != 6 || ip6->ip6_nxt != IPPROTO_TCP
            || ip_len > room) {
            return false;
        }
        s->ipv6 = true;
        memcpy(&s->src, &ip6->ip6_src, sizeof s->src);
        memcpy(&s->dst, &ip6->ip6_dst, sizeof s->dst);
    } else {
        return false;
    }

    if (ip_len - l3_len < TCP_HEADER_LEN) {
        return false;
    }
    const struct tcp_header *tcp = ALIGNED_CAST(const struct tcp_header *,
                                                l3 + l3_len);
    size_t tcp_len = TCP_OFFSET(tcp->tcp_ctl) * 4;
    if (tcp_len < TCP_HEADER_LEN || tcp_len > ip_len - l3_len) {
        return false;
    }
    s->sport = ntohs(tcp->tcp_src);
    s->dport = ntohs(tcp->tcp_dst);
    s->seq = ntohl(get_16aligned_be32(&tcp->tcp_seq));
    s->ack = ntohl(get_16aligned_be32(&tcp->tcp_ack));
    s->flags = TCP_FLAGS(tcp->tcp_ctl);
    s->len = (ip_len - l3_len - tcp_len + !!(s->flags & TCP_SYN)
              + !!(s->flags & TCP_FIN));
    return true;
}

/* Returns a TCP reset from 'src':'sport' to 'dst':'dport' (of one
 * family), with sequence number 'seq' and, if 'ack_flag', acknowledgment
 * number 'ack', in an Ethernet frame from 'eth_src' to 'eth_dst'. */
static struct dp_packet *
compose_reset(struct eth_addr eth_src, struct eth_addr eth_dst,
              const struct in6_addr *src, uint16_t sport,
              const struct in6_addr *dst, uint16_t dport,
              uint32_t seq, bool ack_flag, uint32_t ack)
{
    bool ipv6 = !IN6_IS_ADDR_V4MAPPED(src);
    struct dp_packet *p = dp_packet_new(ETH_HEADER_LEN + IPV6_HEADER_LEN
                                        + TCP_HEADER_LEN);
    struct eth_header *eth = dp_packet_put_zeros(p, sizeof *eth);
    eth->eth_src = eth_src;
    eth->eth_dst = eth_dst;
    eth->eth_type = htons(ipv6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP);

    void *l3;
    if (ipv6) {
        struct ovs_16aligned_ip6_hdr *ip6 = dp_packet_put_zeros(p,
                                                                sizeof *ip6);
        put_16aligned_be32(&ip6->ip6_flow, htonl(6 << 28));
        ip6->ip6_plen = htons(TCP_HEADER_LEN);
        ip6->ip6_nxt = IPPROTO_TCP;
        ip6->ip6_hlim = 64;
        memcpy(&ip6->ip6_src, src, sizeof *src);
        memcpy(&ip6->ip6_dst, dst, sizeof *dst);
        l3 = ip6;
    } else {
        struct ip_header *ip = dp_packet_put_zeros(p, sizeof *ip);
        ip->ip_ihl_ver = IP_IHL_VER(5, 4);
        ip->ip_tot_len = htons(IP_HEADER_LEN + TCP_HEADER_LEN);
        ip->ip_ttl = 64;
        ip->ip_proto = IPPROTO_TCP;
        put_16aligned_be32(&ip->ip_src, in6_addr_get_mapped_ipv4(src));
        put_16aligned_be32(&ip->ip_dst, in6_addr_get_mapped_ipv4(dst));
        ip->ip_csum = csum(ip, IP_HEADER_LEN);
        l3 = ip;
    }

    struct tcp_header *tcp = dp_packet_put_zeros(p, sizeof *tcp);
    tcp->tcp_src = htons(sport);
    tcp->tcp_dst = htons(dport);
    put_16aligned_be32(&tcp->tcp_seq, htonl(seq));
    put_16aligned_be32(&tcp->tcp_ack, htonl(ack_flag ? ack : 0));
    tcp->tcp_ctl = TCP_CTL(TCP_RST | (ack_flag ? TCP_ACK : 0),
                           TCP_HEADER_LEN / 4);
    if (ipv6) {
        tcp->tcp_csum = packet_csum_upperlayer6(l3, tcp, IPPROTO_TCP,
                                                TCP_HEADER_LEN);
    } else {
        tcp->tcp_csum = csum_finish(csum_continue(packet_csum_pseudoheader(l3),
                                                  tcp, TCP_HEADER_LEN));
    }
    return p;
}

/* Stores the addresses and ports of TCP segment 'frame', 'len' bytes, in
 * '*src', '*sport', '*dst' and '*dport' (addresses IPv4-mapped for IPv4).
 * Returns false if it is no whole TCP segment. */
bool
tcp_reset_addresses(const uint8_t *frame, size_t len,
                    struct in6_addr *src, uint16_t *sport,
                    struct in6_addr *dst, uint16_t *dport)
{
    struct segment s;
    if (!parse_segment(frame, len, &s)) {
        return false;
    }
    *src = s.src;
    *sport = s.sport;
    *dst = s.dst;
    *dport = s.dport;
    return true;
}

/* Composes the resets of the connection of TCP segment 'frame' ('len'
 * bytes), which the VM sent if 'from_vm', else a client, and whose ends
 * are 'ends': stores the VM's in '*to_vm', from the virtual router's MAC,
 * and the client's in '*to_client'.  Returns false, with neither, if
 * 'frame' is no whole TCP segment of 'ends' that a reset may answer (it is
 * itself a reset, a SYN, or of another family). */
bool
tcp_reset_compose(const uint8_t *frame, size_t len, bool from_vm,
                  const struct tcp_reset_ends *ends,
                  struct dp_packet **to_vm, struct dp_packet **to_client)
{
    *to_vm = *to_client = NULL;
    struct segment s;
    if (!parse_segment(frame, len, &s) || s.flags & (TCP_RST | TCP_SYN)
        || s.ipv6 != !IN6_IS_ADDR_V4MAPPED(&ends->vm_ip)
        || s.ipv6 != !IN6_IS_ADDR_V4MAPPED(&ends->vip)) {
        return false;
    }

    /* The client, as both ends see it. */
    const struct in6_addr *client = from_vm ? &s.dst : &s.src;
    uint16_t client_port = from_vm ? s.dport : s.sport;

    /* The sender's reset answers its segment; its peer's carries on from
     * it. */
    bool has_ack = s.flags & TCP_ACK;
    uint32_t answer_seq = has_ack ? s.ack : 0;
    uint32_t answer_ack = s.seq + s.len;

    struct eth_addr vrouter;
    ovs_assert(eth_addr_from_string(SLB_VROUTER_MAC, &vrouter));
    struct eth_addr vm_mac = (!eth_addr_is_zero(ends->vm_mac) ? ends->vm_mac
                              : from_vm ? s.eth_src : s.eth_dst);
    struct eth_addr client_mac = from_vm ? s.eth_dst : s.eth_src;

    *to_vm = compose_reset(vrouter, vm_mac, client, client_port,
                           &ends->vm_ip, ends->vm_port,
                           from_vm ? answer_seq : s.seq,
                           from_vm && !has_ack, answer_ack);
    *to_client = compose_reset(vrouter, client_mac,
                               &ends->vip, ends->vip_port,
                               client, client_port,
                               from_vm ? s.seq : answer_seq,
                               !from_vm && !has_ack, answer_ack);
    return true;
}
