/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's answer to a frame too big for the tunnel: see
 * frag-needed.h. */

#include <config.h>

#include "frag-needed.h"

#include <netinet/icmp6.h>
#include <netinet/ip6.h>

#include "csum.h"
#include "dp-packet.h"
#include "packets.h"
#include "pipeline.h"
#include "util.h"

/* An ICMPv6 error quotes as much of the packet it is about as fits in the
 * smallest IPv6 MTU (RFC 4443). */
#define IPV6_MIN_MTU 1280

/* The IP packet of a frame from a VM, as far as the answer needs it. */
struct frame_ip {
    bool ipv6;
    uint8_t *l3;                /* Its IP header... */
    size_t l3_len;              /* ...of this many bytes (for IPv6, with no
                                 * extension header: see frame_ip()). */
    uint8_t *l4;                /* What follows, of... */
    size_t l4_len;              /* ...this many bytes in the frame. */
    uint8_t proto;              /* Its protocol (IPv6: next header). */
    bool later_fragment;        /* A fragment of a datagram but its first. */
};

/* Finds the IP packet of 'frame', 'len' bytes.  Returns false if it has
 * no whole IPv4 or IPv6 header.  (An IPv6 packet's extension headers are
 * not walked: 'proto' is the first one's type, which no rule takes.) */
static bool
frame_ip(const uint8_t *frame, size_t len, struct frame_ip *f)
{
    if (len < ETH_HEADER_LEN) {
        return false;
    }
    const struct eth_header *eth = ALIGNED_CAST(const struct eth_header *,
                                                frame);
    uint8_t *l3 = CONST_CAST(uint8_t *, frame) + ETH_HEADER_LEN;
    size_t l3_room = len - ETH_HEADER_LEN;
    if (eth->eth_type == htons(ETH_TYPE_IP) && l3_room >= IP_HEADER_LEN) {
        const struct ip_header *ip = ALIGNED_CAST(const struct ip_header *,
                                                  l3);
        size_t ihl = IP_IHL(ip->ip_ihl_ver) * 4;
        if (IP_VER(ip->ip_ihl_ver) != 4 || ihl < IP_HEADER_LEN
            || l3_room < ihl) {
            return false;
        }
        *f = (struct frame_ip) {
            .ipv6 = false, .l3 = l3, .l3_len = ihl,
            .proto = ip->ip_proto,
            .later_fragment = (ip->ip_frag_off
                               & htons(IP_FRAG_OFF_MASK)) != 0,
        };
    } else if (eth->eth_type == htons(ETH_TYPE_IPV6)
               && l3_room >= IPV6_HEADER_LEN) {
        const struct ovs_16aligned_ip6_hdr *ip6
            = ALIGNED_CAST(const struct ovs_16aligned_ip6_hdr *, l3);
        if ((ip6->ip6_vfc >> 4) != 6) {
            return false;
        }
        *f = (struct frame_ip) {
            .ipv6 = true, .l3 = l3, .l3_len = IPV6_HEADER_LEN,
            .proto = ip6->ip6_nxt,
        };
    } else {
        return false;
    }
    f->l4 = l3 + f->l3_len;
    f->l4_len = l3_room - f->l3_len;
    return true;
}

/* Whether 'f' is an ICMP error, which gets no ICMP error about it. */
static bool
is_icmp_error(const struct frame_ip *f)
{
    if (!f->l4_len || f->later_fragment) {
        return false;
    }
    uint8_t type = f->l4[0];
    return (f->ipv6
            ? f->proto == IPPROTO_ICMPV6 && type < ICMP6_ECHO_REQUEST
            : (f->proto == IPPROTO_ICMP && type != ICMP4_ECHO_REQUEST
               && type != ICMP4_ECHO_REPLY));
}

/* Appends to 'reply' the Ethernet header of an answer to 'frame', from the
 * virtual router's MAC to 'vm_mac' (or, if it is all-zeros, to the
 * frame's source), of 'eth_type'. */
static void
put_eth(struct dp_packet *reply, const uint8_t *frame,
        struct eth_addr vm_mac, uint16_t eth_type)
{
    const struct eth_header *eth = ALIGNED_CAST(const struct eth_header *,
                                                frame);
    struct eth_addr vrouter;
    eth_addr_from_string(SLB_VROUTER_MAC, &vrouter);
    struct eth_header *reth = dp_packet_put_zeros(reply, sizeof *reth);
    reth->eth_dst = eth_addr_is_zero(vm_mac) ? eth->eth_src : vm_mac;
    reth->eth_src = vrouter;
    reth->eth_type = htons(eth_type);
}

/* ICMP "fragmentation needed" about IPv4 packet 'f' of 'frame', with the
 * don't-fragment bit, quoting its header and 8 bytes. */
static struct dp_packet *
compose_frag_needed(const uint8_t *frame, const struct frame_ip *f,
                    struct eth_addr vm_mac, int mtu)
{
    const struct ip_header *ip = ALIGNED_CAST(const struct ip_header *,
                                              f->l3);
    if (!(ip->ip_frag_off & htons(IP_DONT_FRAGMENT)) || f->later_fragment) {
        return NULL;
    }
    size_t quoted = f->l3_len + MIN(f->l4_len, 8);
    struct dp_packet *reply = dp_packet_new(ETH_HEADER_LEN + IP_HEADER_LEN
                                            + ICMP_HEADER_LEN + quoted);
    put_eth(reply, frame, vm_mac, ETH_TYPE_IP);

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

/* ICMPv6 "packet too big" about IPv6 packet 'f' of 'frame', quoting as
 * much of it as fits in IPV6_MIN_MTU.  (IPv6 routers never fragment: every
 * packet too big gets one.) */
static struct dp_packet *
compose_packet_too_big(const uint8_t *frame, const struct frame_ip *f,
                       struct eth_addr vm_mac, int mtu)
{
    const struct ovs_16aligned_ip6_hdr *ip6
        = ALIGNED_CAST(const struct ovs_16aligned_ip6_hdr *, f->l3);
    size_t quoted = MIN(f->l3_len + f->l4_len,
                        IPV6_MIN_MTU - IPV6_HEADER_LEN
                        - ICMP6_DATA_HEADER_LEN);
    size_t icmp_len = ICMP6_DATA_HEADER_LEN + quoted;
    struct dp_packet *reply = dp_packet_new(ETH_HEADER_LEN + IPV6_HEADER_LEN
                                            + icmp_len);
    put_eth(reply, frame, vm_mac, ETH_TYPE_IPV6);

    struct ovs_16aligned_ip6_hdr *rip6 = dp_packet_put_zeros(reply,
                                                             sizeof *rip6);
    put_16aligned_be32(&rip6->ip6_flow, htonl(6 << 28));
    rip6->ip6_plen = htons(icmp_len);
    rip6->ip6_nxt = IPPROTO_ICMPV6;
    rip6->ip6_hlim = 64;
    rip6->ip6_src = ip6->ip6_dst;
    rip6->ip6_dst = ip6->ip6_src;

    struct icmp6_data_header *icmp = dp_packet_put_zeros(reply,
                                                         sizeof *icmp);
    icmp->icmp6_base.icmp6_type = ICMP6_PACKET_TOO_BIG;
    put_16aligned_be32(&icmp->icmp6_data.be32[0], htonl(mtu));
    dp_packet_put(reply, f->l3, quoted);
    icmp->icmp6_base.icmp6_cksum = packet_csum_upperlayer6(
        rip6, icmp, IPPROTO_ICMPV6, icmp_len);
    return reply;
}

/* Returns the frame that tells the sender of 'frame' (of 'len' bytes, from
 * the VM with MAC 'vm_mac', or all-zeros if unknown) that it is too big for
 * the tunnel, whose inner packets may be 'mtu' bytes: ICMP "fragmentation
 * needed" for IPv4 with the don't-fragment bit, ICMPv6 "packet too big"
 * for IPv6, from the virtual router's MAC and the original destination
 * address.  Returns NULL, to drop the frame without an answer, if it is
 * neither, or is itself an ICMP error.  'frame' comes from a VM: anything
 * goes. */
struct dp_packet *
frag_needed_compose(const uint8_t *frame, size_t len, struct eth_addr vm_mac,
                    int mtu)
{
    struct frame_ip f;
    if (!frame_ip(frame, len, &f) || is_icmp_error(&f)) {
        return NULL;
    }
    return (f.ipv6 ? compose_packet_too_big(frame, &f, vm_mac, mtu)
            : compose_frag_needed(frame, &f, vm_mac, mtu));
}

/* Stores the source address of IPv4 or IPv6 frame 'frame', of 'len'
 * bytes, in '*ip' (IPv4-mapped for IPv4), its protocol in '*proto', and
 * its source port (or 0 if it is neither TCP nor UDP, or a later
 * fragment) in '*port'.  Returns false if it is neither. */
bool
frag_needed_source(const uint8_t *frame, size_t len, struct in6_addr *ip,
                   uint8_t *proto, ovs_be16 *port)
{
    struct frame_ip f;
    if (!frame_ip(frame, len, &f)) {
        return false;
    }
    if (f.ipv6) {
        const struct ovs_16aligned_ip6_hdr *ip6
            = ALIGNED_CAST(const struct ovs_16aligned_ip6_hdr *, f.l3);
        memcpy(ip, &ip6->ip6_src, sizeof *ip);
    } else {
        const struct ip_header *iph = ALIGNED_CAST(const struct ip_header *,
                                                   f.l3);
        in6_addr_set_mapped_ipv4(ip, get_16aligned_be32(&iph->ip_src));
    }
    *proto = f.proto;
    *port = 0;
    if ((f.proto == IPPROTO_TCP || f.proto == IPPROTO_UDP)
        && !f.later_fragment && f.l4_len >= sizeof *port) {
        memcpy(port, f.l4, sizeof *port);
    }
    return true;
}

/* Gives frame 'frame', of 'len' bytes, source address 'ip' (of its
 * family) and, if it is TCP or UDP, source port 'port', with its checksums
 * updated: the source that its sender gave it before conntrack translated
 * it (the reverse of a load balancer's DNAT), which the answer must quote
 * for the sender to find its connection. */
void
frag_needed_restore_source(uint8_t *frame, size_t len,
                           const struct in6_addr *ip, ovs_be16 port)
{
    struct frame_ip f;
    if (!frame_ip(frame, len, &f)
        || f.ipv6 == IN6_IS_ADDR_V4MAPPED(ip)) {
        return;
    }

    /* The address, and what it does to a TCP or UDP checksum. */
    ovs_be16 *csum_field = NULL;
    if (f.later_fragment) {
        /* No L4 header. */
    } else if (f.proto == IPPROTO_TCP && f.l4_len >= TCP_HEADER_LEN) {
        csum_field = &ALIGNED_CAST(struct tcp_header *, f.l4)->tcp_csum;
    } else if (f.proto == IPPROTO_UDP && f.l4_len >= UDP_HEADER_LEN) {
        csum_field = &ALIGNED_CAST(struct udp_header *, f.l4)->udp_csum;
    }
    ovs_be16 sum = csum_field ? *csum_field : 0;
    if (f.ipv6) {
        struct ovs_16aligned_ip6_hdr *ip6
            = ALIGNED_CAST(struct ovs_16aligned_ip6_hdr *, f.l3);
        sum = recalc_csum128(sum, ip6->ip6_src.be32, ip);
        memcpy(&ip6->ip6_src, ip, sizeof *ip);
    } else {
        struct ip_header *iph = ALIGNED_CAST(struct ip_header *, f.l3);
        ovs_be32 old_ip = get_16aligned_be32(&iph->ip_src);
        ovs_be32 new_ip = in6_addr_get_mapped_ipv4(ip);
        put_16aligned_be32(&iph->ip_src, new_ip);
        iph->ip_csum = 0;
        iph->ip_csum = csum(iph, f.l3_len);
        sum = recalc_csum32(sum, old_ip, new_ip);
    }
    if (!csum_field) {
        return;
    }

    /* The port. */
    ovs_be16 old_port;
    memcpy(&old_port, f.l4, sizeof old_port);
    memcpy(f.l4, &port, sizeof port);
    sum = recalc_csum16(sum, old_port, port);
    if (*csum_field || f.ipv6) {
        /* A UDP checksum of 0 means none in IPv4, and is sent as 0xffff
         * when it comes out 0; IPv6 UDP always has one. */
        *csum_field = (sum || f.proto != IPPROTO_UDP ? sum
                       : htons(0xffff));
    }
}
