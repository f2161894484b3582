/* SPDX-License-Identifier: Apache-2.0 */
/* The mux's packet path; see mux-dp.h. */

#include <config.h>
#include "mux-dp.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "dp-packet.h"
#include "hash.h"
#include "maglev.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/shash.h"
#include "util.h"
#include "vswitch-ext/pipeline.h"

static const char *const drop_names[] = {
#define MUX_DROP(ENUM, NAME, DESCRIPTION) NAME,
    MUX_DROP_REASONS
#undef MUX_DROP
};

static const char *const drop_descriptions[] = {
#define MUX_DROP(ENUM, NAME, DESCRIPTION) DESCRIPTION,
    MUX_DROP_REASONS
#undef MUX_DROP
};

const char *
mux_drop_name(enum mux_drop drop)
{
    return drop < MUX_N_DROPS ? drop_names[drop] : "forwarded";
}

const char *
mux_drop_description(enum mux_drop drop)
{
    return drop < MUX_N_DROPS ? drop_descriptions[drop] : "forwarded";
}

/* Lookup keys.
 *
 * One open-addressing table maps 64-bit keys to rules and SNAT port sets:
 *
 *     bits 63-32  VIP, host byte order (never 0, so key 0 marks a free slot)
 *     bits 31-24  kind: KEY_RULE, KEY_SNAT or KEY_VIP
 *     bits 23-16  IP protocol, 0 for "all" (HA ports)
 *     bits 15-0   destination port, 0 for HA ports and for KEY_SNAT
 *
 * An internal VIP is one address in one virtual network, and two networks
 * may use the same: its rules are found in two steps.  KEY_NET maps (VIP,
 * VNI), with the VNI in bits 23-0, to a number of its own from 1 up, and
 * KEY_NET_RULE keys take that number in the place of the VIP.
 * KEY_INTERNAL_VIP marks an address that is an internal VIP of some
 * network, KEY_HOST a host's PA, from which the mux takes encapsulated
 * packets, and KEY_MUX another mux's, from which it takes fragments to
 * place.  KEY_FRAG (or KEY_NET_FRAG) maps a VIP and protocol, TCP or
 * UDP, to the rule that takes its fragments.
 *
 * An IPv6 VIP, public or internal, does not fit in a key: 'vips6' maps
 * (VIP, VNI), VNI 0 for a public VIP, to a number of the same series, and
 * its keys are KEY_NET_RULE, KEY_NET_FRAG and KEY_NET_SNAT keys (an IPv4
 * internal VIP has no SNAT ports).  An entry with VNI MUX_VNI_ANY marks an
 * internal IPv6 VIP of some network. */
enum {
    KEY_RULE = 1, KEY_SNAT, KEY_VIP,
    KEY_NET, KEY_NET_RULE, KEY_INTERNAL_VIP, KEY_HOST,
    KEY_FRAG, KEY_NET_FRAG, KEY_NET_SNAT, KEY_MUX,
};

static inline uint64_t
make_key(ovs_be32 vip, int kind, uint8_t proto, uint16_t port)
{
    return ((uint64_t) ntohl(vip) << 32) | ((uint32_t) kind << 24)
           | ((uint32_t) proto << 16) | port;
}

static inline uint64_t
make_net_key(uint32_t vni, ovs_be32 vip)
{
    return make_key(vip, KEY_NET, vni >> 16, vni & 0xffff);
}

/* Hashes a lookup key.  The keys are few and distinct in their VIP and
 * port bits, so a multiplicative hash spreads them well enough, for a few
 * instructions. */
uint32_t
mux_rule_key_hash(uint64_t key)
{
    return (key * UINT64_C(0x9e3779b97f4a7c15)) >> 32;
}

/* Returns the value stored for 'key', or UINT32_MAX. */
static inline uint32_t
config_lookup(const struct mux_config *cfg, uint64_t key)
{
    for (uint32_t i = mux_rule_key_hash(key); ; i++) {
        uint64_t k = cfg->keys[i & cfg->mask];
        if (k == key) {
            return cfg->values[i & cfg->mask];
        } else if (!k) {
            return UINT32_MAX;
        }
    }
}

static inline bool
has_key(const struct mux_config *cfg, uint64_t key)
{
    return config_lookup(cfg, key) != UINT32_MAX;
}

static inline uint32_t
vip6_hash(const struct in6_addr *vip, uint32_t vni)
{
    return hash_words(vip->s6_addr32, 4, vni);
}

/* Returns the number of IPv6 VIP 'vip' of the network with 'vni' (0 for a
 * public VIP, MUX_VNI_ANY for any network), or 0 if it is none. */
static inline uint32_t
vip6_number(const struct mux_config *cfg, const struct in6_addr *vip,
            uint32_t vni)
{
    if (!cfg->vips6) {
        return 0;
    }
    for (uint32_t i = vip6_hash(vip, vni); ; i++) {
        const struct mux_vip6 *slot = &cfg->vips6[i & cfg->vips6_mask];
        if (!slot->number
            || (slot->vni == vni && ipv6_addr_equals(&slot->vip, vip))) {
            return slot->number;
        }
    }
}

/* Returns the backend that owns 'port' in 'snat', or MUX_FLOW_NONE. */
static uint32_t
snat_owner(const struct mux_snat *snat, uint16_t port)
{
    size_t lo = 0, hi = snat->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct mux_snat_range *r = &snat->ranges[mid];
        if (port < r->min) {
            hi = mid;
        } else if (port > r->max) {
            lo = mid + 1;
        } else {
            return r->backend;
        }
    }
    return MUX_FLOW_NONE;
}

/* Per-thread state. */

void
mux_pmd_init(struct mux_pmd *pmd, uint32_t est_capacity,
             uint32_t new_capacity, uint32_t new_timeout_ms)
{
    memset(pmd, 0, sizeof *pmd);
    mux_flow_table_init(&pmd->flows, est_capacity, new_capacity,
                        new_timeout_ms);
    dp_packet_batch_init(&pmd->copies);
}

void
mux_pmd_destroy(struct mux_pmd *pmd)
{
    if (pmd) {
        mux_flow_table_destroy(&pmd->flows);
        for (size_t i = 0; i < pmd->n_frag_out; i++) {
            dp_packet_delete(pmd->frag_out[i].packet);
        }
        free(pmd->frag_out);
        dp_packet_delete_batch(&pmd->copies, true);
        free(pmd->rule_stats);
        free(pmd->rule_stats_epochs);
    }
}

/* Makes room in 'pmd' for the counters of every rule of 'cfg', and starts
 * afresh those whose ids went to another rule.  Call before the first
 * mux_dp_process() with a new configuration. */
void
mux_pmd_prepare(struct mux_pmd *pmd, const struct mux_config *cfg)
{
    if (cfg && cfg->n_stats_ids > pmd->n_rule_stats) {
        size_t n = cfg->n_stats_ids, old = pmd->n_rule_stats;
        pmd->rule_stats = xrealloc(pmd->rule_stats,
                                   n * sizeof *pmd->rule_stats);
        memset(&pmd->rule_stats[old], 0,
               (n - old) * sizeof *pmd->rule_stats);
        pmd->rule_stats_epochs = xrealloc(pmd->rule_stats_epochs,
                                          n * sizeof *pmd->rule_stats_epochs);
        memset(&pmd->rule_stats_epochs[old], 0,
               (n - old) * sizeof *pmd->rule_stats_epochs);
        pmd->n_rule_stats = n;
    }
    for (size_t i = 0; cfg && i < cfg->n_stats_ids; i++) {
        uint32_t epoch = mux_config_stats_epoch(cfg, i);
        if (pmd->rule_stats_epochs[i] != epoch) {
            struct mux_rule_stats *rs = &pmd->rule_stats[i];
            pmd->retired.packets += rs->packets;
            pmd->retired.bytes += rs->bytes;
            pmd->retired.new_flows += rs->new_flows;
            memset(rs, 0, sizeof *rs);
            pmd->rule_stats_epochs[i] = epoch;
        }
    }
    pmd->generation = cfg ? cfg->generation : 0;
}

/* Classification. */

/* Returns the target of backend 'id', or NULL if the backend is gone.
 * Every id that a configuration or the flow table holds is below
 * 'n_targets': every configuration has room for all the ids given when it
 * was built (see mux-ids.h). */
static inline const struct mux_target *
target_of(const struct mux_config *cfg, uint32_t id)
{
    ovs_assert(id < cfg->n_targets);
    return cfg->targets[id];
}

/* The hash that picks a new flow's backend, per the rule's distribution
 * mode.  It depends only on the packet and the shared seed, so that every
 * mux picks the same backend. */
static inline uint32_t
selection_hash(const struct mux_config *cfg, const struct mux_rule *rule,
               const struct mux_verdict *v)
{
    const struct mux_flow_key *k = &v->key;

    /* A fragment has no ports to hash: a 5-tuple rule takes the other
     * three. */
    enum mux_distribution dist = (v->fragment
                                  && rule->distribution == MUX_DIST_5_TUPLE
                                  ? MUX_DIST_3_TUPLE : rule->distribution);
    if (dist == MUX_DIST_5_TUPLE) {
        return v->hash;
    }

    /* An IPv4 flow hashes as it did before muxes knew IPv6 (see
     * mux_flow_hash()). */
    uint32_t hash = (OVS_LIKELY(mux_flow_key_is_ipv4(k))
                     ? cfg->seed : mux_flow_hash_addrs6(k, cfg->seed));
    hash = hash_add(hash, (OVS_FORCE uint32_t) k->src);
    hash = hash_add(hash, (OVS_FORCE uint32_t) k->dst);
    return (dist == MUX_DIST_2_TUPLE
            ? hash_finish(hash, 8)
            : hash_finish(hash_add(hash, k->proto), 9));
}

/* Returns true if 'a' is 'b': eth_addr_equals() in half its instructions,
 * for every packet. */
static inline bool
is_mac(const struct eth_addr a, const struct eth_addr *b)
{
    uint32_t a0, b0;
    uint16_t a1, b1;
    memcpy(&a0, a.ea, 4);
    memcpy(&b0, b->ea, 4);
    memcpy(&a1, a.ea + 4, 2);
    memcpy(&b1, b->ea + 4, 2);
    return !((a0 ^ b0) | (a1 ^ b1));
}

/* An ICMP error about a load-balanced connection ("fragmentation needed",
 * another "destination unreachable", "time exceeded") comes to the VIP
 * from a router on the way to the client: it quotes the IPv4 header and
 * the first 8 bytes of a packet that the backend sent, by Direct Server
 * Return, from the VIP to the client.  Keyed by that quoted flow reversed,
 * it is a packet of the connection as the client sends it, and reaches the
 * backend that owns the connection through the same flow table and hash
 * (or the owner of the SNAT port, for a VM's outbound connection).
 *
 * Fills in the ports and protocol of 'v->key', whose addresses parse()
 * set from the outer header, from ICMP message 'icmp' of 'len' bytes.
 * Other ICMP messages keep protocol ICMP and ports 0.  Returns MUX_N_DROPS,
 * or why the packet cannot be forwarded. */
static inline enum mux_drop
parse_icmp(const struct icmp_header *icmp, uint16_t len,
           struct mux_verdict *v)
{
    struct mux_flow_key *k = &v->key;
    k->sport = k->dport = 0;
    if (len < ICMP_HEADER_LEN) {
        return MUX_DROP_MALFORMED;
    }
    if (icmp->icmp_type != ICMP4_DST_UNREACH
        && icmp->icmp_type != ICMP4_TIME_EXCEEDED) {
        return MUX_N_DROPS;
    }

    /* The quoted header, and the 8 bytes after it, where the ports are. */
    const struct ip_header *q = (const struct ip_header *) (icmp + 1);
    uint16_t q_len = len - ICMP_HEADER_LEN;
    if (q_len < IP_HEADER_LEN) {
        return MUX_DROP_MALFORMED;
    }
    size_t ihl = IP_IHL(q->ip_ihl_ver) * 4;
    if (IP_VER(q->ip_ihl_ver) != 4 || ihl < IP_HEADER_LEN
        || ihl + 8 > q_len
        || get_16aligned_be32(&q->ip_src) != k->dst) {
        return MUX_DROP_MALFORMED;
    }
    if (q->ip_frag_off & htons(IP_FRAG_OFF_MASK)) {
        return MUX_DROP_FRAGMENT;   /* No ports to tell its connection. */
    }
    k->src = get_16aligned_be32(&q->ip_dst);
    k->proto = q->ip_proto;
    if (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP) {
        /* TCP and UDP have their ports in the same place. */
        const struct udp_header *ports
            = (const struct udp_header *) ((const uint8_t *) q + ihl);
        k->sport = ports->udp_dst;
        k->dport = ports->udp_src;
    }
    v->icmp_error = true;
    return MUX_N_DROPS;
}

/* Fills in the ports of 'v->key' from the TCP or UDP header at 'l4', of
 * which 'l4_len' bytes belong to the packet, and 'v->syn'; ports 0 for
 * another protocol.  Returns MUX_N_DROPS or MUX_DROP_MALFORMED. */
static inline enum mux_drop ALWAYS_INLINE
parse_ports(const void *l4, uint16_t l4_len, struct mux_verdict *v)
{
    struct mux_flow_key *k = &v->key;
    if (k->proto == IPPROTO_TCP) {
        const struct tcp_header *tcp = l4;
        if (l4_len < TCP_HEADER_LEN) {
            return MUX_DROP_MALFORMED;
        }
        uint16_t ctl = ntohs(tcp->tcp_ctl);
        uint16_t doff = (ctl >> 10) & ~3;
        /* Both "doff < TCP_HEADER_LEN" and "doff > l4_len", in one. */
        if ((uint16_t) (doff - TCP_HEADER_LEN) > l4_len - TCP_HEADER_LEN) {
            return MUX_DROP_MALFORMED;
        }
        k->sport = tcp->tcp_src;
        k->dport = tcp->tcp_dst;
        v->syn = (ctl & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    } else if (k->proto == IPPROTO_UDP) {
        const struct udp_header *udp = l4;
        if (l4_len < UDP_HEADER_LEN) {
            return MUX_DROP_MALFORMED;
        }
        uint16_t udp_len = ntohs(udp->udp_len);
        if (udp_len < UDP_HEADER_LEN || udp_len > l4_len) {
            return MUX_DROP_MALFORMED;
        }
        k->sport = udp->udp_src;
        k->dport = udp->udp_dst;
    } else {
        k->sport = k->dport = 0;
    }
    return MUX_N_DROPS;
}

/* Describes in 'v' a fragment of a TCP or UDP datagram whose protocol
 * 'v->key' has: of datagram 'id', its payload of 'len' bytes at 'l4',
 * 'offset' bytes into the datagram's, and more fragments to come if
 * 'more'.  A first fragment also gives its ports, if it holds them (the
 * fragment table needs them, see mux-frag.h).  */
static void
describe_fragment(struct mux_verdict *v, uint32_t id, uint16_t offset,
                  bool more, const void *l4, uint16_t len)
{
    v->frag_id = id;
    v->span = (struct mux_frag_span) {
        .offset = offset, .len = len, .more = more,
    };
    v->frag_ports_ok = !offset && len >= (v->key.proto == IPPROTO_TCP
                                          ? TCP_HEADER_LEN
                                          : UDP_HEADER_LEN);
    if (v->frag_ports_ok) {
        memcpy(v->frag_ports, l4, sizeof v->frag_ports);
    }
}

/* Parses the IPv4 packet at 'ip', of which 'size' bytes are at hand, and
 * fills in 'v->key' and 'v->hash'.  Returns MUX_N_DROPS, or why the packet
 * cannot be forwarded.  On success '*ip_len' is the IPv4 total length. */
static inline enum mux_drop ALWAYS_INLINE
parse_ipv4(const struct mux_config *cfg, const struct ip_header *ip,
           uint32_t size, struct mux_verdict *v, uint16_t *ip_len)
{
    if (size < IP_HEADER_LEN) {
        return MUX_DROP_MALFORMED;
    }

    /* Every length that the mux reads by is checked against the frame and
     * against the lengths that enclose it. */
    uint16_t tot_len = ntohs(ip->ip_tot_len);
    if (tot_len < IP_HEADER_LEN || tot_len > size) {
        return MUX_DROP_MALFORMED;
    }
    if (OVS_UNLIKELY(ip->ip_ihl_ver != IP_IHL_VER(5, 4))) {
        size_t ihl = IP_IHL(ip->ip_ihl_ver) * 4;
        return (IP_VER(ip->ip_ihl_ver) != 4 || ihl < IP_HEADER_LEN
                || ihl > tot_len ? MUX_DROP_MALFORMED : MUX_DROP_IP_OPTIONS);
    }
    *ip_len = tot_len;

    struct mux_flow_key *k = &v->key;
    mux_flow_key_set_ipv4(k, get_16aligned_be32(&ip->ip_src),
                          get_16aligned_be32(&ip->ip_dst));
    k->proto = ip->ip_proto;
    k->pad[0] = k->pad[1] = k->pad[2] = 0;
    uint16_t l4_len = tot_len - IP_HEADER_LEN;
    enum mux_drop drop = MUX_N_DROPS;
    if (OVS_UNLIKELY(IP_IS_FRAGMENT(ip->ip_frag_off))) {
        /* Only the first fragment has the ports: every fragment is keyed
         * without them, so that all of a datagram's go the same way. */
        v->fragment = k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP;
        k->sport = k->dport = 0;
        if (v->fragment) {
            uint16_t frag_off = ntohs(ip->ip_frag_off);
            describe_fragment(v, ntohs(ip->ip_id),
                              (frag_off & IP_FRAG_OFF_MASK) * 8,
                              frag_off & IP_MORE_FRAGMENTS, ip + 1, l4_len);
        }
    } else if (k->proto == IPPROTO_ICMP) {
        drop = parse_icmp((const struct icmp_header *) (ip + 1), l4_len, v);
    } else {
        drop = parse_ports(ip + 1, l4_len, v);
    }
    if (OVS_LIKELY(drop == MUX_N_DROPS)) {
        v->hash = mux_flow_hash__(k, cfg->seed, false);
    }
    return drop;
}

/* An ICMPv6 error about a load-balanced connection ("packet too big",
 * "destination unreachable", "time exceeded", "parameter problem"), as
 * parse_icmp() describes for IPv4: it quotes the IPv6 header and what
 * follows of a packet that the backend sent from the VIP to the client.
 * "Packet too big" matters most: IPv6 routers never fragment, so a
 * backend learns its path MTU to the client from it alone.
 *
 * Fills in the ports and protocol of 'v->key', whose addresses parse()
 * set from the outer header, from ICMPv6 message 'icmp' of 'len' bytes.
 * Other ICMPv6 messages keep protocol ICMPv6 and ports 0.  A quoted packet
 * whose TCP or UDP header follows extension headers is keyed by the first
 * of them, without ports.  Returns MUX_N_DROPS, or why the packet cannot
 * be forwarded. */
static inline enum mux_drop
parse_icmp6(const struct icmp6_data_header *icmp, uint16_t len,
            struct mux_verdict *v)
{
    struct mux_flow_key *k = &v->key;
    k->sport = k->dport = 0;
    if (len < ICMP6_HEADER_LEN) {
        return MUX_DROP_MALFORMED;
    }
    uint8_t type = icmp->icmp6_base.icmp6_type;
    if (type < ICMP6_DST_UNREACH || type > ICMP6_PARAM_PROB) {
        return MUX_N_DROPS;
    }

    const struct ovs_16aligned_ip6_hdr *q
        = (const struct ovs_16aligned_ip6_hdr *) (icmp + 1);
    struct in6_addr vip = mux_flow_key_dst(k);
    if (len < ICMP6_DATA_HEADER_LEN + IPV6_HEADER_LEN + 8
        || q->ip6_ctlun.ip6_un2_vfc >> 4 != 6
        || memcmp(&q->ip6_src, &vip, sizeof vip)) {
        return MUX_DROP_MALFORMED;
    }
    uint8_t nh = q->ip6_ctlun.ip6_un1.ip6_un1_nxt;
    if (nh == IPPROTO_FRAGMENT) {
        return MUX_DROP_FRAGMENT;   /* No ports to tell its connection. */
    }
    struct in6_addr client;
    memcpy(&client, &q->ip6_dst, sizeof client);
    mux_flow_key_set_ipv6(k, &client, &vip);
    k->proto = nh;
    if (nh == IPPROTO_TCP || nh == IPPROTO_UDP) {
        const struct udp_header *ports = (const struct udp_header *) (q + 1);
        k->sport = ports->udp_dst;
        k->dport = ports->udp_src;
    }
    v->icmp_error = true;
    return MUX_N_DROPS;
}

/* The most IPv6 extension headers that the mux walks past to a packet's
 * protocol and ports. */
#define MUX_IPV6_MAX_EXT 8

/* Parses the IPv6 packet at 'ip6', of which 'size' bytes are at hand, as
 * parse_ipv4() does.  The extension headers that may come before the
 * upper-layer header (hop-by-hop and destination options, routing,
 * fragment, authentication) are walked.  A routing header with segments
 * left means that the destination is not yet the packet's: no VIP can
 * take it.  On success '*ip_len' is the IPv6 packet's whole length. */
static inline enum mux_drop ALWAYS_INLINE
parse_ipv6(const struct mux_config *cfg,
           const struct ovs_16aligned_ip6_hdr *ip6, uint32_t size,
           struct mux_verdict *v, uint16_t *ip_len)
{
    if (size < IPV6_HEADER_LEN || ip6->ip6_ctlun.ip6_un2_vfc >> 4 != 6) {
        return MUX_DROP_MALFORMED;
    }
    /* A payload length of 0 with a jumbo payload option would be a
     * jumbogram, which no Ethernet frame carries: then the payload is
     * empty, and its first header too short. */
    uint16_t left = ntohs(ip6->ip6_ctlun.ip6_un1.ip6_un1_plen);
    if (left > size - IPV6_HEADER_LEN) {
        return MUX_DROP_MALFORMED;
    }
    *ip_len = IPV6_HEADER_LEN + left;

    struct mux_flow_key *k = &v->key;
    mux_flow_key_set_ipv6(k, &ip6->ip6_src, &ip6->ip6_dst);
    k->pad[0] = k->pad[1] = k->pad[2] = 0;
    if (OVS_UNLIKELY(mux_flow_key_is_ipv4(k))) {
        /* An address of 96 zero bits and IPv4's 32 (unspecified,
         * loopback, IPv4-compatible) is no VIP, and its key would be an
         * IPv4 flow's. */
        return MUX_DROP_NOT_VIP;
    }
    const uint8_t *dst = (const uint8_t *) &ip6->ip6_dst;
    if (OVS_UNLIKELY(dst[0] == 0xff                         /* ff00::/8 */
                     || (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80))) {
                                                            /* fe80::/10 */
        /* Neighbour discovery, router solicitations, multicast listener
         * reports: the link's business, which the mux's kernel minds. */
        return MUX_DROP_LOCAL;
    }

    const uint8_t *p = (const uint8_t *) (ip6 + 1);
    uint8_t nh = ip6->ip6_ctlun.ip6_un1.ip6_un1_nxt;
    for (int n = 0; ; n++) {
        uint16_t len;
        if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_DSTOPTS
            || nh == IPPROTO_ROUTING || nh == IPPROTO_AH
            || nh == IPPROTO_FRAGMENT) {
            if (left < 8) {
                return MUX_DROP_MALFORMED;
            }
        } else {
            break;
        }
        if (nh == IPPROTO_FRAGMENT) {
            const struct ovs_16aligned_ip6_frag *frag
                = (const struct ovs_16aligned_ip6_frag *) p;
            /* An offset, or more fragments to come. */
            if (frag->ip6f_offlg & htons(0xfff9)) {
                /* Keyed without ports, as an IPv4 fragment.  The next
                 * header is the same in every fragment of a datagram. */
                k->proto = frag->ip6f_nxt;
                k->sport = k->dport = 0;
                v->fragment = (k->proto == IPPROTO_TCP
                               || k->proto == IPPROTO_UDP);
                if (v->fragment) {
                    uint16_t offlg = ntohs(frag->ip6f_offlg);
                    describe_fragment(v, ntohl(get_16aligned_be32(
                                                   &frag->ip6f_ident)),
                                      offlg & 0xfff8, offlg & 1, frag + 1,
                                      left - sizeof *frag);
                }
                v->hash = mux_flow_hash__(k, cfg->seed, true);
                return MUX_N_DROPS;
            }
            len = 8;            /* An atomic fragment: the whole datagram. */
        } else if (nh == IPPROTO_AH) {
            len = (p[1] + 2) * 4;
        } else {
            if (nh == IPPROTO_ROUTING && p[3]) {
                return MUX_DROP_IPV6_EXT;   /* Segments left. */
            }
            len = (p[1] + 1) * 8;
        }
        if (len > left) {
            return MUX_DROP_MALFORMED;
        }
        if (n == MUX_IPV6_MAX_EXT) {
            return MUX_DROP_IPV6_EXT;
        }
        nh = p[0];
        p += len;
        left -= len;
    }

    k->proto = nh;
    enum mux_drop drop = (nh == IPPROTO_ICMPV6
                          ? parse_icmp6((const struct icmp6_data_header *) p,
                                        left, v)
                          : parse_ports(p, left, v));
    if (OVS_LIKELY(drop == MUX_N_DROPS)) {
        /* (A truncated header leaves the ports unset.) */
        v->hash = mux_flow_hash__(k, cfg->seed, true);
    }
    return drop;
}

/* Returns true if the destination of IPv6 flow 'v->key' is
 * SLB_PATH_PROBE_SOURCE6. */
static bool
is_path_probe_source6(const struct mux_verdict *v)
{
    static const struct in6_addr source6 = SLB_PATH_PROBE_SOURCE6_INIT;
    struct in6_addr dst = mux_flow_key_dst(&v->key);
    return ipv6_addr_equals(&dst, &source6);
}

/* The outer headers of a packet that a host encapsulated to the mux. */
#define MUX_TUNNEL_HEADERS (IP_HEADER_LEN + UDP_HEADER_LEN \
                            + sizeof(struct vxlanhdr))

/* Parses the packet inside VXLAN packet 'ip', of 'ip_len' bytes, to the
 * mux's own PA or the muxes' shared address (whose headers parse_ipv4()
 * checked and described in 'v'):
 * a host sends the first packets of its VMs' connections to internal VIPs
 * so, with the virtual network's VNI.  Only hosts may, and only to an
 * internal VIP of that network.  Fills in 'v' for the inner packet, IPv4
 * or IPv6, whose length goes to '*ip_len'.  Returns MUX_N_DROPS,
 * MUX_PATH_ANSWER for an answer to one of the mux's path probes, or why
 * the packet cannot be forwarded. */
static enum mux_drop
parse_tunnel(const struct mux_config *cfg, const struct ip_header *ip,
             struct mux_verdict *v, uint16_t *ip_len)
{
    ovs_be32 host = v->key.src;
    bool from_mux = false;
    if (config_lookup(cfg, make_key(host, KEY_HOST, 0, 0)) == UINT32_MAX) {
        if (config_lookup(cfg, make_key(host, KEY_MUX, 0, 0)) == UINT32_MAX) {
            return MUX_DROP_NOT_HOST;
        }
        from_mux = true;
    }
    if (*ip_len < MUX_TUNNEL_HEADERS + ETH_HEADER_LEN) {
        return MUX_DROP_MALFORMED;
    }
    const struct vxlanhdr *vx = (const struct vxlanhdr *)
        ((const uint8_t *) ip + IP_HEADER_LEN + UDP_HEADER_LEN);
    if (get_16aligned_be32(&vx->vx_flags) != htonl(VXLAN_FLAGS)) {
        return MUX_DROP_MALFORMED;
    }
    v->tunnel_src = host;
    v->from_mux = from_mux;
    uint32_t vni = ntohl(get_16aligned_be32(&vx->vx_vni)) >> 8;
    const struct eth_header *eth = (const struct eth_header *) (vx + 1);
    uint32_t inner_size = *ip_len - MUX_TUNNEL_HEADERS - ETH_HEADER_LEN;
    enum mux_drop drop;
    if (eth->eth_type == htons(ETH_TYPE_IP)) {
        drop = parse_ipv4(cfg, (const struct ip_header *) (eth + 1),
                          inner_size, v, ip_len);
    } else if (eth->eth_type == htons(ETH_TYPE_IPV6)) {
        drop = parse_ipv6(cfg,
                          (const struct ovs_16aligned_ip6_hdr *) (eth + 1),
                          inner_size, v, ip_len);
    } else {
        return MUX_DROP_NOT_IP;
    }

    /* A host's answer to one of the mux's path probes, for the prober:
     * parse_ipv6() calls its link-local destination the mux's kernel's. */
    bool ipv4 = mux_flow_key_is_ipv4(&v->key);
    ovs_be32 dst = v->key.dst;
    if (OVS_UNLIKELY(ipv4
                     ? drop == MUX_N_DROPS
                       && dst == htonl(SLB_PATH_PROBE_SOURCE)
                     : drop == MUX_DROP_LOCAL && is_path_probe_source6(v))) {
        return MUX_PATH_ANSWER;
    }
    if (drop != MUX_N_DROPS) {
        return drop;
    }
    v->decap = true;

    /* Flows of two networks stay apart in the flow table by their VNI. */
    mux_flow_key_set_vni(&v->key, vni);
    struct in6_addr dst6 = mux_flow_key_dst(&v->key);
    if (from_mux) {
        /* Another mux sends only fragments for this one to place, with
         * VNI 0 for a public VIP's, else their internal VIP's network's
         * (whose hosts it took them from). */
        if (!v->fragment) {
            return MUX_DROP_NOT_HOST;
        }
        if (!vni) {
            v->net = ipv4 ? 0 : vip6_number(cfg, &dst6, 0);
            return ipv4 || v->net ? MUX_N_DROPS : MUX_DROP_NOT_VIP;
        }
    }
    uint32_t net = (ipv4
                    ? config_lookup(cfg, make_net_key(vni, dst))
                    : vip6_number(cfg, &dst6, vni));
    if (net == UINT32_MAX || !net) {
        return MUX_DROP_NOT_VIP;
    }
    v->net = net;
    return MUX_N_DROPS;
}

/* Returns true if IPv6 flows 'a' and 'b' have the same destination. */
static inline bool
same_dst6(const struct mux_flow_key *a, const struct mux_flow_key *b)
{
    return (a->dst == b->dst && a->dst_hi[0] == b->dst_hi[0]
            && a->dst_hi[1] == b->dst_hi[1] && a->dst_hi[2] == b->dst_hi[2]);
}

/* Parses 'packet' and fills in 'v->key' and 'v->hash', and 'v->net' for
 * an IPv6 VIP.  Returns MUX_N_DROPS, or why the packet cannot be
 * forwarded.  On success '*ip_len' is the IP packet's whole length.
 * 'prev', if nonnull, is the verdict on the batch's previous packet that
 * parsed. */
static inline enum mux_drop ALWAYS_INLINE
parse(const struct mux_config *cfg, const struct dp_packet *packet,
      struct mux_verdict *v, uint16_t *ip_len,
      const struct mux_verdict *prev)
{
    const uint8_t *data = dp_packet_data(packet);
    uint32_t size = dp_packet_size(packet);

    if (size < ETH_HEADER_LEN) {
        return MUX_DROP_MALFORMED;
    }
    const struct eth_header *eth = (const struct eth_header *) data;
    if (OVS_UNLIKELY(!is_mac(eth->eth_dst, &cfg->underlay.mac))
        && !eth_addr_is_multicast(eth->eth_dst)) {
        /* Another host's unicast, which only a promiscuous interface or a
         * flooding switch would bring. */
        return MUX_DROP_OTHER_MAC;
    }
    if (OVS_LIKELY(eth->eth_type == htons(ETH_TYPE_IP))) {
        const struct ip_header *ip = (const struct ip_header *) (eth + 1);
        enum mux_drop drop = parse_ipv4(cfg, ip, size - ETH_HEADER_LEN, v,
                                        ip_len);
        ovs_be32 dst = v->key.dst;
        if (drop == MUX_N_DROPS
            && OVS_UNLIKELY(dst == cfg->underlay.pa || dst == cfg->anycast)
            && v->key.proto == IPPROTO_UDP
            && v->key.dport == htons(MUX_VXLAN_PORT)) {
            drop = parse_tunnel(cfg, ip, v, ip_len);
        }
        return drop;
    } else if (eth->eth_type == htons(ETH_TYPE_IPV6)) {
        enum mux_drop drop = parse_ipv6(
            cfg, (const struct ovs_16aligned_ip6_hdr *) (eth + 1),
            size - ETH_HEADER_LEN, v, ip_len);
        if (drop == MUX_N_DROPS && prev && prev->net && !prev->decap
            && same_dst6(&prev->key, &v->key)) {
            /* Packets of a batch mostly go to the same VIP: the previous
             * packet's number is this one's. */
            v->net = prev->net;
        } else if (drop == MUX_N_DROPS) {
            /* An IPv6 VIP's rules are keyed by its number. */
            struct in6_addr dst = mux_flow_key_dst(&v->key);
            v->net = vip6_number(cfg, &dst, 0);
            if (!v->net) {
                drop = (vip6_number(cfg, &dst, MUX_VNI_ANY)
                        ? MUX_DROP_INTERNAL
                        : ipv6_addr_equals(&dst, &cfg->underlay.pa6)
                        ? MUX_DROP_LOCAL
                        : MUX_DROP_NOT_VIP);
            }
        }
        return drop;
    } else {
        return MUX_DROP_NOT_IP;
    }
}

/* Returns why the packet that parse() described in 'v' has no rule.  (The
 * mux's own traffic, BGP for one, reaches its kernel anyway, which has its
 * own copy of each received frame.  An internal VIP takes traffic only
 * from its network's hosts.) */
static enum mux_drop
no_rule(const struct mux_config *cfg, const struct mux_verdict *v)
{
    ovs_be32 dst = v->key.dst;
    return (v->net ? MUX_DROP_NO_RULE
            : has_key(cfg, make_key(dst, KEY_VIP, 0, 0)) ? MUX_DROP_NO_RULE
            : dst == cfg->underlay.pa ? MUX_DROP_LOCAL
            : has_key(cfg, make_key(dst, KEY_INTERNAL_VIP, 0, 0))
            ? MUX_DROP_INTERNAL
            : MUX_DROP_NOT_VIP);
}

/* Matches the packet that parse() described in 'v' to a rule, and settles
 * everything that needs no flow state: SNAT returns and inbound NAT get
 * their target, other packets a drop reason.  Leaves 'v->target' NULL and
 * 'v->rule' set for a load-balancing rule, whose backend pick_backend()
 * chooses. */
static inline void ALWAYS_INLINE
match_rule(const struct mux_config *cfg, struct mux_verdict *v,
           const struct mux_verdict *prev)
{
    const struct mux_flow_key *k = &v->key;

    /* An internal or IPv6 VIP's rules are keyed by its number, a public
     * IPv4 VIP's by its address. */
    ovs_be32 vip = v->net ? htonl(v->net) : k->dst;
    int kind = v->net ? KEY_NET_RULE : KEY_RULE;

    if (OVS_UNLIKELY(v->fragment)) {
        /* Without its ports, a fragment can only go to the one Maglev
         * table that every rule of its VIP and protocol shares, if there
         * is one (see mux_config_finish()). */
        uint32_t idx = config_lookup(cfg, make_key(vip, v->net ? KEY_NET_FRAG
                                                   : KEY_FRAG, k->proto, 0));
        if (idx != UINT32_MAX) {
            v->rule = &cfg->rules[idx];
        } else {
            v->drop = no_rule(cfg, v);
            if (v->drop == MUX_DROP_NO_RULE) {
                v->drop = MUX_DROP_FRAGMENT;
            }
        }
        return;
    }

    /* Packets of a batch mostly go to the same VIP and port: then the
     * previous packet's load-balancing rule is this one's too.  (Not so for
     * an HA-ports rule, which the previous packet may have reached only
     * for lack of a rule for its port.) */
    uint64_t rule_key = make_key(vip, kind, k->proto, ntohs(k->dport));
    if (prev && prev->rule_key == rule_key) {
        v->rule = prev->rule;
        v->rule_key = rule_key;
        return;
    }

    bool ported = k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP;
    uint32_t idx = UINT32_MAX;
    if (ported) {
        idx = config_lookup(cfg, rule_key);
        if (idx == UINT32_MAX && (!v->decap || v->from_mux)) {
            /* The reply to a VM's outbound connection, from the
             * Internet to a public VIP (through another mux, for a
             * fragment). */
            uint32_t s = config_lookup(cfg, make_key(vip, v->net
                                                     ? KEY_NET_SNAT
                                                     : KEY_SNAT,
                                                     k->proto, 0));
            if (s != UINT32_MAX) {
                v->snat = &cfg->snats[s];
                uint32_t id = snat_owner(v->snat, ntohs(k->dport));
                v->target = id != MUX_FLOW_NONE ? target_of(cfg, id) : NULL;
                if (v->target) {
                    return;
                }
                v->snat = NULL;
            }
        }
    }
    if (idx == UINT32_MAX) {
        idx = config_lookup(cfg, make_key(vip, kind, 0, 0));
    }
    if (idx == UINT32_MAX) {
        v->drop = no_rule(cfg, v);
        return;
    }

    const struct mux_rule *rule = v->rule = &cfg->rules[idx];
    if (rule->type == MUX_RULE_LB && rule->port) {
        v->rule_key = rule_key;
    }
    if (rule->type == MUX_RULE_NAT) {
        v->target = target_of(cfg, rule->backend);
        if (!v->target) {
            v->drop = MUX_DROP_NO_BACKEND;
        }
    }
}

/* Returns the Maglev entry that the packet in 'v' selects in table 'm' of
 * its rule. */
static inline const uint16_t *
maglev_entry(const struct mux_config *cfg, const struct mux_verdict *v,
             const struct mux_maglev *m)
{
    uint32_t hash = selection_hash(cfg, v->rule, v);
    return &m->entries[((uint64_t) hash * m->size) >> 32];
}

/* Returns true if the flow 'k' of 'rule', which the flow table gives to
 * backend 'id', moves to another backend: a UDP flow of a backend whose
 * admin state is down. */
static bool
moves(const struct mux_rule *rule, const struct mux_flow_key *k, uint32_t id)
{
    return k->proto == IPPROTO_UDP && mux_rule_moves(rule, id);
}

/* Keeps, for the caller of mux_dp_process() to send, the redirect of the
 * new flow of internal VIP rule 'rule' that 'v' describes. */
static void
queue_redirect(struct mux_pmd *pmd, const struct mux_verdict *v,
               const struct mux_rule *rule)
{
    if (pmd->n_redirects >= MUX_PMD_REDIRECTS) {
        pmd->redirects_lost++;
        return;
    }
    struct mux_redirect *r = &pmd->redirects[pmd->n_redirects++];
    r->key = v->key;
    r->host = v->tunnel_src;
    r->backend = v->target->id;
    r->lifetime = rule->idle_timeout / 1000;
}

/* Adds to the 'n' distinct backends in 'ids' the one that table 'm' gives
 * to selection hash 'hash', unless it is there already, or gone (a past
 * table that a mux read back after a restart may name a backend that it
 * no longer knows, by an id past 'n_targets'). */
static void
add_candidate(const struct mux_config *cfg, const struct mux_maglev *m,
              uint32_t hash, uint32_t ids[], size_t *n)
{
    uint16_t entry = maglev_lookup(m->entries, m->size, hash);
    if (entry == MAGLEV_NONE) {
        return;
    }
    uint32_t id = m->ids[entry];
    for (size_t i = 0; i < *n; i++) {
        if (ids[i] == id) {
            return;
        }
    }
    if (id < cfg->n_targets && cfg->targets[id]) {
        ids[(*n)++] = id;
    }
}

/* Finds the backends that a TCP segment, not a SYN, of a connection that
 * this mux does not know may belong to, as far as the tables of its rule
 * tell: the one that the table for connections gives (the connections
 * of backends that probes or admin state keep from new flows go on), the
 * one for new flows (the connection may have begun since), and those of
 * the past tables that still count (it may have begun before the last
 * changes).  Sets 'v->target' to the first, or NULL if there is none, and
 * 'v->candidates' to the others, if any. */
static void
pick_candidates(const struct mux_config *cfg, const struct mux_rule *rule,
                uint32_t now, struct mux_verdict *v)
{
    uint32_t hash = selection_hash(cfg, rule, v);
    uint32_t ids[MUX_MAX_CANDIDATES];
    size_t n = 0;

    add_candidate(cfg, rule->maglev_est, hash, ids, &n);
    add_candidate(cfg, rule->maglev, hash, ids, &n);
    for (size_t i = 0; i < rule->n_past; i++) {
        if ((int32_t) (rule->past[i].until - now) >= 0) {
            add_candidate(cfg, rule->past[i].maglev, hash, ids, &n);
        }
    }
    v->target = n ? target_of(cfg, ids[0]) : NULL;
    v->n_candidates = n ? n - 1 : 0;
    memcpy(v->candidates, &ids[1], v->n_candidates * sizeof *ids);
}

/* Chooses the backend of a packet for a load-balancing rule: the flow
 * table's, for a known flow whose backend still exists, else the Maglev
 * table's.  A SYN opens a connection, even on the ports of a known flow
 * (a client that reuses its ports, or a SYN sent again), and goes where
 * the Maglev table says, which avoids backends that are drained or down.
 * A later TCP segment of a flow that the mux does not know goes to the
 * backend that the rule's tables agree on, or if they do not, to each
 * candidate (see pick_candidates()), and then the flow table learns
 * nothing.
 * With 'update', the flow table learns new flows and refreshes known
 * ones; without, it is only consulted: for tracing, and for an ICMP
 * error, which is not the connection's own traffic. */
static inline void ALWAYS_INLINE
pick_backend(struct mux_pmd *pmd, const struct mux_config *cfg,
             uint32_t now, bool update, struct mux_verdict *v)
{
    const struct mux_rule *rule = v->rule;
    const struct mux_flow_key *k = &v->key;
    uint32_t id;

    if (OVS_UNLIKELY(v->fragment)) {
        /* No flow state: every mux sends each fragment of a datagram where
         * its Maglev table says, whichever fragment comes first. */
        uint16_t entry = *maglev_entry(cfg, v, rule->maglev);
        v->target = entry != MAGLEV_NONE ? target_of(cfg,
                                                     rule->maglev->ids[entry])
                                         : NULL;
        if (!v->target) {
            v->drop = MUX_DROP_NO_BACKEND;
        }
        return;
    }

    if (update) {
        id = mux_flow_lookup(&pmd->flows, k, v->hash, now,
                             rule->idle_timeout);
    } else {
        id = mux_flow_peek(&pmd->flows, k, v->hash, now, &v->established);
    }
    if (id != MUX_FLOW_NONE) {
        v->target = target_of(cfg, id);
        if (OVS_LIKELY(v->target && !v->syn)
            && OVS_LIKELY(!rule->n_moved || !moves(rule, k, id))) {
            v->from_flow_table = true;
            return;
        }
    }

    uint32_t pick;
    if (id == MUX_FLOW_NONE && k->proto == IPPROTO_TCP && !v->syn
        && OVS_UNLIKELY(rule->n_past || rule->maglev_est != rule->maglev)
        && !v->icmp_error) {
        /* A TCP segment other than a SYN, of a connection that this mux
         * does not know (another mux placed it, and the router now sends
         * it here), whose backend the rule's tables may disagree on. */
        pick_candidates(cfg, rule, now, v);
        if (!v->target) {
            v->drop = MUX_DROP_NO_BACKEND;
            return;
        }
        if (v->n_candidates) {
            /* The flow table learns nothing: the hosts find out. */
            return;
        }
        pick = v->target->id;
    } else {
        /* Otherwise the table for new flows decides, or for such a
         * segment, the one for connections, if it is the only one. */
        const struct mux_maglev *m = (id == MUX_FLOW_NONE
                                      && k->proto == IPPROTO_TCP && !v->syn
                                      ? rule->maglev_est : rule->maglev);
        uint16_t entry = *maglev_entry(cfg, v, m);
        if (entry == MAGLEV_NONE) {
            v->target = NULL;
            v->drop = MUX_DROP_NO_BACKEND;
            return;
        }
        pick = m->ids[entry];
    }
    if (OVS_UNLIKELY(id != MUX_FLOW_NONE)) {
        if (v->target && pick == id) {
            v->from_flow_table = true;
            return;
        }
        if (update) {
            mux_flow_forget(&pmd->flows, k, v->hash);
        }
    }
    v->target = target_of(cfg, pick);
    if (update) {
        mux_flow_insert(&pmd->flows, k, v->hash, v->target->id, now,
                        rule->idle_timeout);
        pmd->rule_stats[rule->stats_id].new_flows++;
        if (rule->vni && cfg->fastpath && v->decap && !v->from_mux
            && (k->proto == IPPROTO_TCP || k->proto == IPPROTO_UDP)) {
            queue_redirect(pmd, v, rule);
        }
    }
}

/* Does what match_rule() and pick_backend() do, for one packet. */
static inline void
decide(struct mux_pmd *pmd, const struct mux_config *cfg, uint32_t now,
       bool update, struct mux_verdict *v)
{
    match_rule(cfg, v, NULL);
    if (v->drop == MUX_N_DROPS && !v->target) {
        pick_backend(pmd, cfg, now, update, v);
    }
}

static inline void
verdict_init(struct mux_verdict *v)
{
    v->rule = NULL;
    v->snat = NULL;
    v->target = NULL;
    v->from_flow_table = v->established = v->syn = v->icmp_error = false;
    v->fragment = false;
    v->n_candidates = 0;
    v->decap = false;
    v->net = 0;
    v->tunnel_src = 0;
    v->rule_key = 0;
}

/* Decides what to do with 'packet', as the packet path would. */
static void
classify(struct mux_pmd *pmd, const struct mux_config *cfg,
         const struct dp_packet *packet, uint32_t now, bool update,
         struct mux_verdict *v, uint16_t *ip_len)
{
    verdict_init(v);
    v->drop = parse(cfg, packet, v, ip_len, NULL);
    if (v->drop == MUX_N_DROPS) {
        decide(pmd, cfg, now, update, v);
    }
}

/* Encapsulation. */

/* Fills in 'target->header' with the outer headers that every packet to
 * 'target' carries, leaving the per-packet fields (IPv4 TOS, length and
 * checksum, UDP source port and length) zero, and the partial checksum of
 * the fixed part in 'target->header_csum'. */
void
mux_target_init_header(struct mux_target *target,
                       const struct mux_underlay *underlay)
{
    uint8_t *h = target->header;
    memset(h, 0, sizeof target->header);

    struct eth_header *eth = (struct eth_header *) h;
    eth->eth_dst = underlay->nexthop;
    eth->eth_src = underlay->mac;
    eth->eth_type = htons(ETH_TYPE_IP);

    struct ip_header *ip = (struct ip_header *) (eth + 1);
    ip->ip_ihl_ver = IP_IHL_VER(5, 4);
    ip->ip_frag_off = htons(IP_DONT_FRAGMENT);
    ip->ip_ttl = 64;
    ip->ip_proto = IPPROTO_UDP;
    put_16aligned_be32(&ip->ip_src, underlay->pa);
    put_16aligned_be32(&ip->ip_dst, target->pa);
    target->header_csum = csum_continue(0, ip, IP_HEADER_LEN);

    struct udp_header *udp = (struct udp_header *) (ip + 1);
    udp->udp_dst = htons(MUX_VXLAN_PORT);

    struct vxlanhdr *vx = (struct vxlanhdr *) (udp + 1);
    put_16aligned_be32(&vx->vx_flags, htonl(VXLAN_FLAGS));
    put_16aligned_be32(&vx->vx_vni, htonl(target->vni << 8));
}

/* Encapsulates 'packet', whose IP packet is 'ip_len' bytes, for
 * 'target', with the VM's MAC, if known, as the inner destination. */
static inline void
encapsulate(struct dp_packet *packet, const struct mux_target *target,
            uint16_t ip_len, uint32_t hash)
{
    /* The frame becomes the outer headers, the inner Ethernet header and
     * the IP packet: any Ethernet padding after it goes. */
    uint32_t size = MUX_ENCAP_LEN + ETH_HEADER_LEN + ip_len;
    uint8_t *h;
    if (OVS_LIKELY(dp_packet_headroom(packet) >= MUX_ENCAP_LEN)) {
        /* As dp_packet_push_uninit() does, without a function call. */
        h = (uint8_t *) dp_packet_data(packet) - MUX_ENCAP_LEN;
        dp_packet_set_data(packet, h);
    } else {
        h = dp_packet_push_uninit(packet, MUX_ENCAP_LEN);
    }
    dp_packet_set_size(packet, size);

    /* The inner IPv4 TOS or IPv6 traffic class goes out. */
    const uint8_t *inner = h + MUX_ENCAP_LEN + ETH_HEADER_LEN;
    uint8_t tos = (inner[0] >> 4 == 6
                   ? (inner[0] << 4) | (inner[1] >> 4)
                   : inner[1]);
    memcpy(h, target->header, MUX_ENCAP_LEN);

    /* The inner destination says which VM: a host may have several
     * backends of a rule. */
    if (!eth_addr_is_zero(target->mac)) {
        ((struct eth_header *) (h + MUX_ENCAP_LEN))->eth_dst = target->mac;
    }

    struct ip_header *ip = (struct ip_header *) (h + ETH_HEADER_LEN);
    uint16_t outer_len = size - ETH_HEADER_LEN;
    ip->ip_tos = tos;
    ip->ip_tot_len = htons(outer_len);
    uint32_t sum = target->header_csum + htons(outer_len) + htons(tos);
    sum = (sum & 0xffff) + (sum >> 16);
    ip->ip_csum = (OVS_FORCE ovs_be16) ~(sum + (sum >> 16));

    struct udp_header *udp = (struct udp_header *) (ip + 1);
    /* RFC 7348: a source port from the inner flow's hash, in the dynamic
     * range, so that the underlay spreads flows by ECMP. */
    udp->udp_src = htons(0xc000 | (hash & 0x3fff));
    udp->udp_len = htons(outer_len - IP_HEADER_LEN);
}

void
mux_dp_encapsulate(struct dp_packet *packet, const struct mux_target *target,
                   uint16_t ip_len, uint32_t hash)
{
    encapsulate(packet, target, ip_len, hash);
}

/* Sends the encapsulated 'packet' to the hosts' port for candidate
 * copies, rather than VXLAN's. */
static void
mark_candidate(struct dp_packet *packet)
{
    struct udp_header *udp = (struct udp_header *)
        ((uint8_t *) dp_packet_data(packet) + ETH_HEADER_LEN + IP_HEADER_LEN);
    udp->udp_dst = htons(SLB_VXLAN_CANDIDATE_PORT);
}

/* Puts in 'pmd->copies' a marked copy of 'packet', an IP packet of
 * 'ip_len' bytes with its Ethernet header, not yet encapsulated, for each
 * candidate in 'v' but the first, whose host gets 'packet' itself. */
static void
send_candidates(struct mux_pmd *pmd, const struct mux_config *cfg,
                const struct dp_packet *packet, const struct mux_verdict *v,
                uint16_t ip_len)
{
    pmd->candidate_segments++;
    pmd->candidate_copies++;
    for (size_t i = 0; i < v->n_candidates; i++) {
        if (dp_packet_batch_is_full(&pmd->copies)) {
            pmd->candidate_copies_lost++;
            continue;
        }
        struct dp_packet *copy = dp_packet_clone_with_headroom(
            packet, MUX_ENCAP_LEN);
        encapsulate(copy, target_of(cfg, v->candidates[i]), ip_len,
                    v->hash);
        mark_candidate(copy);
        dp_packet_batch_add(&pmd->copies, copy);
        pmd->candidate_copies++;
    }
}

/* Returns true if an IP packet of 'ip_len' bytes, once encapsulated
 * (with its Ethernet header, in VXLAN, UDP and IPv4), exceeds the underlay
 * MTU.  The mux cannot fragment it (it must not touch the inner packet),
 * so it drops it and counts it. */
static inline bool
too_big(const struct mux_config *cfg, uint16_t ip_len)
{
    return ip_len + MUX_ENCAP_LEN > cfg->underlay.mtu;
}

/* Returns the inner IP header of 'packet', which a host encapsulated. */
static const void *
inner_ip(const struct dp_packet *packet)
{
    return (const uint8_t *) dp_packet_data(packet) + MUX_ENCAP_LEN
           + ETH_HEADER_LEN;
}

/* Returns the data of the echo reply in the inner packet of 'packet' (a
 * host's tunnel packet to a path probe source, which parse() described in
 * 'v'), or NULL if it holds no whole echo reply with data as a probe has
 * (one that does not come straight after the IPv6 header is none). */
static const void *
path_answer_data(const struct mux_verdict *v, const struct dp_packet *packet)
{
    enum { L4_LEN = ICMP_HEADER_LEN + MUX_PATH_DATA_LEN };
    if (mux_flow_key_is_ipv4(&v->key)) {
        const struct ip_header *ip = inner_ip(packet);
        const struct icmp_header *icmp = (const void *) (ip + 1);
        return (ip->ip_proto == IPPROTO_ICMP
                && !IP_IS_FRAGMENT(ip->ip_frag_off)
                && ntohs(ip->ip_tot_len) >= IP_HEADER_LEN + L4_LEN
                && icmp->icmp_type == ICMP4_ECHO_REPLY
                ? icmp + 1 : NULL);
    } else {
        const struct ovs_16aligned_ip6_hdr *ip6 = inner_ip(packet);
        const struct icmp6_data_header *icmp6 = (const void *) (ip6 + 1);
        return (ip6->ip6_ctlun.ip6_un1.ip6_un1_nxt == IPPROTO_ICMPV6
                && ntohs(ip6->ip6_ctlun.ip6_un1.ip6_un1_plen) >= L4_LEN
                && icmp6->icmp6_base.icmp6_type == ICMP6_ECHO_REPLY
                ? icmp6 + 1 : NULL);
    }
}

/* Keeps for the prober the answer to a path probe that 'packet' (a host's
 * tunnel packet, which parse() described in 'v') carries.  One that is no
 * whole echo reply with the prober's data is malformed. */
static void
take_path_answer(struct mux_pmd *pmd, const struct mux_verdict *v,
                 const struct dp_packet *packet)
{
    const void *data = path_answer_data(v, packet);
    if (!data) {
        pmd->drops[MUX_DROP_MALFORMED]++;
        return;
    }
    if (pmd->n_path_answers >= MUX_PMD_PATH_ANSWERS) {
        pmd->path_answers_lost++;
        return;
    }
    struct mux_path_answer *a = &pmd->path_answers[pmd->n_path_answers++];
    a->host = v->tunnel_src;
    a->vip = mux_flow_key_src(&v->key);
    memcpy(a->data, data, MUX_PATH_DATA_LEN);
}

/* Counts a packet of 'ip_len' bytes for the rule or SNAT rule with
 * 'stats_id'.  (One that the fragment table placed may name a rule of a
 * newer configuration than this thread is prepared for: then it counts
 * as its rule's next time.) */
static inline void
count_packet(struct mux_pmd *pmd, uint32_t stats_id, uint16_t ip_len)
{
    if (OVS_LIKELY(stats_id < pmd->n_rule_stats)) {
        struct mux_rule_stats *rs = &pmd->rule_stats[stats_id];
        rs->packets++;
        rs->bytes += ip_len;
    }
}

/* Fragments that the fragment table places (see mux-frag.h). */

/* Returns the hash of the datagram of fragment 'v', the same on every
 * mux. */
static uint32_t
datagram_hash(const struct mux_verdict *v)
{
    return hash_finish(hash_add(v->hash, v->frag_id), 4);
}

/* Returns the mux that places the datagram of fragment 'v': of all the
 * muxes, the one that scores highest for the datagram (rendezvous
 * hashing), so that every mux picks the same one, and a mux that comes or
 * goes moves only its own share. */
static ovs_be32
fragment_owner(const struct mux_config *cfg, const struct mux_verdict *v)
{
    uint32_t datagram = datagram_hash(v);
    ovs_be32 owner = cfg->underlay.pa;
    uint32_t best = 0;
    for (size_t i = 0; i < cfg->n_muxes; i++) {
        uint32_t score = hash_2words(datagram,
                                     (OVS_FORCE uint32_t) cfg->muxes[i]);
        if (!i || score > best) {
            best = score;
            owner = cfg->muxes[i];
        }
    }
    return owner;
}

/* Decides the first fragment 'v' as a whole packet of its flow would be
 * (its rule by port, the flow table, the Maglev table, or the owner of a
 * SNAT port), with 'update' as pick_backend() takes it, and returns where
 * it goes. */
static struct mux_frag_place
place_first_fragment(struct mux_pmd *pmd, const struct mux_config *cfg,
                     uint32_t now, bool update, struct mux_verdict *v)
{
    struct mux_frag_place place = { .target = MUX_FLOW_NONE };
    if (!v->frag_ports_ok) {
        v->drop = MUX_DROP_MALFORMED;   /* Too short for its ports. */
        return place;
    }

    struct mux_flow_key *k = &v->key;
    struct mux_flow_key unported = *k;
    k->sport = v->frag_ports[0];
    k->dport = v->frag_ports[1];
    v->hash = mux_flow_hash(k, cfg->seed);
    v->fragment = false;
    v->drop = MUX_N_DROPS;
    decide(pmd, cfg, now, update, v);
    v->fragment = true;
    v->n_candidates = 0;        /* The later fragments can go to one. */
    if (v->drop == MUX_N_DROPS) {
        place.target = v->target->id;
        place.hash = v->hash;
        place.stats_id = v->snat ? v->snat->stats_id : v->rule->stats_id;
    }
    *k = unported;              /* The datagram's key again. */
    return place;
}

/* Takes the verdict on a fragment 'v' of a packet that waits for
 * nothing, placed by the fragment table at 'place'. */
static void
follow_place(const struct mux_config *cfg, const struct mux_frag_place *p,
             struct mux_verdict *v)
{
    v->target = (p->target != MUX_FLOW_NONE && p->target < cfg->n_targets
                 ? cfg->targets[p->target] : NULL);
    v->drop = (v->target ? MUX_N_DROPS
               : p->target == MUX_FLOW_NONE ? MUX_DROP_FRAGMENT
               : MUX_DROP_NO_BACKEND);
    v->hash = p->hash;
    v->frag_stats_id = p->stats_id;
}

/* Puts encapsulated 'packet', whose inner IP packet is 'ip_len' bytes, in
 * 'pmd->frag_out'. */
static void
add_frag_out(struct mux_pmd *pmd, struct dp_packet *packet, uint16_t ip_len)
{
    if (pmd->n_frag_out >= pmd->allocated_frag_out) {
        pmd->frag_out = x2nrealloc(pmd->frag_out, &pmd->allocated_frag_out,
                                   sizeof *pmd->frag_out);
    }
    pmd->frag_out[pmd->n_frag_out++] = (struct mux_frag_held) {
        packet, ip_len,
    };
}

/* Encapsulates the 'n' fragments in 'held', which waited for their
 * datagram's first, for where it went ('place'), into 'pmd->frag_out';
 * frees them if it was dropped. */
static void
release_held(struct mux_pmd *pmd, const struct mux_config *cfg,
             const struct mux_frag_place *place, struct mux_frag_held *held,
             size_t n)
{
    struct mux_verdict v;
    follow_place(cfg, place, &v);
    for (size_t i = 0; i < n; i++) {
        struct mux_frag_held *h = &held[i];
        enum mux_drop drop = (v.drop == MUX_N_DROPS && too_big(cfg, h->ip_len)
                              ? MUX_DROP_TOO_BIG : v.drop);
        if (drop != MUX_N_DROPS) {
            pmd->drops[drop]++;
            dp_packet_delete(h->packet);
            continue;
        }
        count_packet(pmd, place->stats_id, h->ip_len);
        pmd->fragments++;
        encapsulate(h->packet, v.target, h->ip_len, v.hash);
        add_frag_out(pmd, h->packet, h->ip_len);
    }
    free(held);
}

/* Decides fragment 'v' of 'packet' (whose IP packet is 'ip_len' bytes),
 * of a VIP whose rules do not all send a datagram without ports to one
 * backend, through the fragment table: off to the mux that places its
 * datagram ('v->to_mux'), if that is another; else the first fragment as
 * a whole packet of its flow, and a later one where the first went, or
 * into the table to wait for it (MUX_FRAGMENT_HELD).  With 'update' false,
 * for tracing, changes nothing: a later fragment "waits" if the first has
 * not come. */
static void
place_fragment(struct mux_pmd *pmd, const struct mux_config *cfg,
               uint32_t now, bool update, struct dp_packet *packet,
               uint16_t ip_len, struct mux_verdict *v)
{
    v->to_mux = 0;
    if (!v->decap || !v->from_mux) {
        ovs_be32 owner = fragment_owner(cfg, v);
        if (owner != cfg->underlay.pa) {
            v->drop = MUX_N_DROPS;
            v->to_mux = owner;
            return;
        }
    }

    struct mux_frag_key key = { .flow = v->key, .id = v->frag_id };
    uint32_t hash = datagram_hash(v);
    struct mux_frag_place place;
    if (!update || !v->span.offset) {
        if (mux_frags_peek(pmd->frags, &key, hash, &place)) {
            follow_place(cfg, &place, v);   /* Placed before. */
        } else if (v->span.offset) {
            v->drop = MUX_FRAGMENT_HELD;
        } else {
            place = place_first_fragment(pmd, cfg, now, update, v);
        }
        if (update) {
            struct mux_frag_held *held;
            size_t n_held;
            mux_frags_place(pmd->frags, &key, hash, &place, &v->span, now,
                            &held, &n_held);
            release_held(pmd, cfg, &place, held, n_held);
        }
        return;
    }

    /* A later fragment.  It waits without its outer headers, if a host
     * or a mux sent it. */
    if (v->decap) {
        dp_packet_pull(packet, MUX_ENCAP_LEN);
        v->decap = false;
    }
    switch (mux_frags_later(pmd->frags, &key, hash, &v->span, packet, ip_len,
                            now, &place)) {
    case MUX_FRAG_PLACED:
    case MUX_FRAG_DROPPED:
        follow_place(cfg, &place, v);
        break;
    case MUX_FRAG_HELD:
        v->drop = MUX_FRAGMENT_HELD;
        break;
    case MUX_FRAG_FULL:
        v->drop = MUX_DROP_FRAGMENT_FULL;
        break;
    }
}

/* Encapsulates 'packet', fragment 'v' of 'ip_len' bytes, to the mux that
 * places its datagram, 'v->to_mux', with the VNI of its internal VIP's
 * network, else 0.  All of a datagram's fragments take the same way. */
static void
encapsulate_to_mux(const struct mux_config *cfg, struct dp_packet *packet,
                   const struct mux_verdict *v, uint16_t ip_len)
{
    struct mux_target mux = {
        .pa = v->to_mux,
        .vni = mux_flow_key_vni(&v->key),
    };
    mux_target_init_header(&mux, &cfg->underlay);
    encapsulate(packet, &mux, ip_len, datagram_hash(v));
}

/* Sends fragment 'v' of 'packet' ('ip_len' bytes), which place_fragment()
 * decided, into 'pmd->frag_out' if it goes to another mux or where its
 * datagram's first fragment went, and then says so in 'v->drop'.  A first
 * fragment that it placed, and a dropped one, are the batch's to send or
 * count, as any packet. */
static void
send_fragment(struct mux_pmd *pmd, const struct mux_config *cfg,
              struct dp_packet *packet, uint16_t ip_len,
              struct mux_verdict *v)
{
    if (v->drop != MUX_N_DROPS || (!v->to_mux && (v->rule || v->snat))) {
        return;
    }
    if (too_big(cfg, ip_len)) {
        v->drop = MUX_DROP_TOO_BIG;
        return;
    }
    if (v->decap) {
        dp_packet_pull(packet, MUX_ENCAP_LEN);
    }
    if (v->to_mux) {
        pmd->fragments_to_muxes++;
        encapsulate_to_mux(cfg, packet, v, ip_len);
    } else {
        count_packet(pmd, v->frag_stats_id, ip_len);
        pmd->fragments++;
        encapsulate(packet, v->target, ip_len, v->hash);
    }
    add_frag_out(pmd, packet, ip_len);
    v->drop = MUX_FRAGMENT_SENT;
}

/* Forwards or drops every packet of 'in': encapsulated packets are moved
 * to 'out', the others freed.  'now' is the time in ms. */
void
mux_dp_process(struct mux_pmd *pmd, const struct mux_config *cfg,
               struct dp_packet_batch *in, struct dp_packet_batch *out,
               uint32_t now)
{
    struct dp_packet *packet;

    if (!cfg) {
        pmd->drops[MUX_DROP_NO_CONFIG] += dp_packet_batch_size(in);
        dp_packet_delete_batch(in, true);
        return;
    }

    struct mux_verdict verdicts[NETDEV_MAX_BURST];
    uint16_t ip_lens[NETDEV_MAX_BURST];
    int max_ip_len = cfg->underlay.mtu - MUX_ENCAP_LEN;

    /* First parse and match every packet, and start loading the flow
     * table buckets (and, for a probable new flow, the Maglev entry) that
     * it will need; then pick the backends.  The memory accesses of a batch
     * overlap. */
    const struct mux_verdict *prev = NULL;
    DP_PACKET_BATCH_FOR_EACH (i, packet, in) {
        struct mux_verdict *v = &verdicts[i];

        verdict_init(v);
        v->drop = parse(cfg, packet, v, &ip_lens[i], prev);
        if (v->drop == MUX_N_DROPS) {
            match_rule(cfg, v, prev);
            prev = v;
            if (OVS_UNLIKELY(v->icmp_error)) {
                /* Its backend now, from the flow table as it is: it
                 * teaches the table nothing. */
                pmd->icmp_errors++;
                if (v->drop == MUX_N_DROPS && !v->target) {
                    pick_backend(pmd, cfg, now, false, v);
                }
            } else if (v->drop == MUX_N_DROPS && !v->target
                       && !v->fragment) {
                mux_flow_prefetch(&pmd->flows, v->hash,
                                  !mux_flow_key_is_ipv4(&v->key), v->syn);
                if (v->syn) {
                    OVS_PREFETCH(maglev_entry(cfg, v, v->rule->maglev));
                }
            } else if (OVS_UNLIKELY(v->drop == MUX_DROP_FRAGMENT)
                       && pmd->frags) {
                place_fragment(pmd, cfg, now, true, packet, ip_lens[i], v);
                send_fragment(pmd, cfg, packet, ip_lens[i], v);
            }
        }
    }

    DP_PACKET_BATCH_FOR_EACH (i, packet, in) {
        struct mux_verdict *v = &verdicts[i];
        uint16_t ip_len = ip_lens[i];

        if (v->drop == MUX_N_DROPS && !v->target) {
            pick_backend(pmd, cfg, now, true, v);
        }
        if (v->drop == MUX_N_DROPS && ip_len > max_ip_len) {
            v->drop = MUX_DROP_TOO_BIG;
        }
        if (v->drop != MUX_N_DROPS) {
            if (OVS_UNLIKELY(v->drop == MUX_PATH_ANSWER)) {
                take_path_answer(pmd, v, packet);
            } else if (v->drop >= MUX_FRAGMENT_HELD) {
                continue;       /* The fragment table's work has it. */
            } else {
                pmd->drops[v->drop]++;
            }
            dp_packet_delete(packet);
            continue;
        }

        uint32_t stats_id = (v->snat ? v->snat->stats_id
                             : v->rule->stats_id);
        struct mux_rule_stats *rs = &pmd->rule_stats[stats_id];
        rs->packets++;
        rs->bytes += ip_len;
        pmd->fragments += v->fragment;

        if (v->decap) {
            dp_packet_pull(packet, MUX_ENCAP_LEN);
        }

        if (OVS_LIKELY(!v->n_candidates)) {
            encapsulate(packet, v->target, ip_len, v->hash);
        } else {
            send_candidates(pmd, cfg, packet, v, ip_len);
            encapsulate(packet, v->target, ip_len, v->hash);
            mark_candidate(packet);
        }
        dp_packet_batch_add(out, packet);
    }
    dp_packet_batch_init(in);
}

/* Appends 'addr' and 'port' to 'out': "10.0.0.1:80", or "[2001:db8::1]:80"
 * for an IPv6 address. */
void
mux_put_endpoint(struct ds *out, const struct in6_addr *addr, uint16_t port)
{
    bool ipv6 = !IN6_IS_ADDR_V4MAPPED(addr);
    ds_put_cstr(out, ipv6 ? "[" : "");
    ipv6_format_mapped(addr, out);
    ds_put_format(out, "%s:%"PRIu16, ipv6 ? "]" : "", port);
}

/* Describes in 'out' what the mux would do with 'packet', without
 * changing any state.  The flow's packets may reach any of the 'n_pmds'
 * threads in 'pmds': the trace uses the flow table of the one that knows
 * the flow, if any.  If 'sent' is nonnull, stores in '*sent' the packet
 * that the mux would send, which the caller must delete, or NULL if it
 * would send none. */
void
mux_dp_trace(struct mux_pmd *const pmds[], size_t n_pmds,
             const struct mux_config *cfg, const struct dp_packet *packet,
             uint32_t now, struct ds *out, struct dp_packet **sent)
{
    struct mux_verdict v;
    uint16_t ip_len = 0;

    if (sent) {
        *sent = NULL;
    }

    if (!cfg) {
        ds_put_format(out, "drop: %s (%s)\n",
                      mux_drop_name(MUX_DROP_NO_CONFIG),
                      mux_drop_description(MUX_DROP_NO_CONFIG));
        return;
    }

    struct mux_pmd *pmd = pmds[0];
    for (size_t i = 0; i < n_pmds; i++) {
        classify(pmds[i], cfg, packet, now, false, &v, &ip_len);
        if (v.from_flow_table) {
            pmd = pmds[i];
            break;
        }
    }
    classify(pmd, cfg, packet, now, false, &v, &ip_len);
    bool by_table = v.drop == MUX_DROP_FRAGMENT && v.fragment && pmd->frags;
    if (by_table) {
        place_fragment(pmd, cfg, now, false, CONST_CAST(struct dp_packet *,
                                                        packet),
                       ip_len, &v);
    }
    if (v.decap) {
        const struct ip_header *outer = (const struct ip_header *)
            ((const uint8_t *) dp_packet_data(packet) + ETH_HEADER_LEN);
        const struct eth_header *inner = (const struct eth_header *)
            ((const uint8_t *) outer + MUX_TUNNEL_HEADERS);
        const struct mux_flow_key *k = &v.key;
        ds_put_format(out, "tunnel: from %s "IP_FMT", vni %"PRIu32
                      ", inner "ETH_ADDR_FMT" -> "ETH_ADDR_FMT"\n",
                      v.from_mux ? "mux" : "host",
                      IP_ARGS(get_16aligned_be32(&outer->ip_src)),
                      mux_flow_key_vni(k),
                      ETH_ADDR_ARGS(inner->eth_src),
                      ETH_ADDR_ARGS(inner->eth_dst));
    }
    if (v.drop == MUX_PATH_ANSWER) {
        ds_put_format(out, "path probe answer: VIP "IP_FMT" from host "
                      IP_FMT", for the prober\n",
                      IP_ARGS(v.key.src),
                      IP_ARGS(v.tunnel_src));
        return;
    }
    /* The reasons before "fragment" are found before the 5-tuple is. */
    if (v.drop == MUX_N_DROPS || v.drop >= MUX_DROP_FRAGMENT) {
        const struct mux_flow_key *k = &v.key;
        ds_put_format(out, "flow: proto %u ", k->proto);
        struct in6_addr src = mux_flow_key_src(k);
        struct in6_addr dst = mux_flow_key_dst(k);
        mux_put_endpoint(out, &src, ntohs(k->sport));
        ds_put_cstr(out, " -> ");
        mux_put_endpoint(out, &dst, ntohs(k->dport));
        ds_put_format(out, ", hash %08"PRIx32"%s\n",
                      v.hash, v.fragment ? ", fragment" : "");
    }
    if (by_table) {
        ds_put_format(out, "fragment: datagram %"PRIu32", bytes %u-%u%s, "
                      "placed by ", v.frag_id, v.span.offset,
                      v.span.offset + v.span.len - 1,
                      v.span.more ? "" : " (the last)");
        if (v.to_mux) {
            ds_put_format(out, "mux "IP_FMT"\n", IP_ARGS(v.to_mux));
            ds_put_format(out, "output: vxlan "IP_FMT" -> "IP_FMT" vni %"
                          PRIu32" udp %u -> %d\n",
                          IP_ARGS(cfg->underlay.pa), IP_ARGS(v.to_mux),
                          mux_flow_key_vni(&v.key),
                          0xc000 | (datagram_hash(&v) & 0x3fff),
                          MUX_VXLAN_PORT);
            if (sent) {
                *sent = dp_packet_clone(packet);
                if (v.decap) {
                    dp_packet_pull(*sent, MUX_ENCAP_LEN);
                }
                encapsulate_to_mux(cfg, *sent, &v, ip_len);
            }
            return;
        }
        ds_put_format(out, "this mux%s\n",
                      v.drop == MUX_FRAGMENT_HELD
                      ? ": it waits for its datagram's first fragment" : "");
        if (v.drop == MUX_FRAGMENT_HELD) {
            return;
        }
    }
    if (v.rule) {
        static const char *const dists[] = {
            [MUX_DIST_5_TUPLE] = "5-tuple",
            [MUX_DIST_3_TUPLE] = "3-tuple",
            [MUX_DIST_2_TUPLE] = "2-tuple",
        };
        ds_put_format(out, "rule: %s (%s)\n", v.rule->name,
                      v.rule->type == MUX_RULE_NAT ? "inbound NAT"
                      : dists[v.rule->distribution]);
    } else if (v.snat) {
        ds_put_format(out, "rule: %s (SNAT return)\n", v.snat->rule_name);
    }
    if (v.drop == MUX_N_DROPS && too_big(cfg, ip_len)) {
        v.drop = MUX_DROP_TOO_BIG;
    }
    if (v.drop != MUX_N_DROPS) {
        ds_put_format(out, "drop: %s (%s)\n", mux_drop_name(v.drop),
                      mux_drop_description(v.drop));
        return;
    }

    const char *why = (by_table && !v.rule && !v.snat
                       ? "where its datagram's first fragment went"
                       : v.snat ? "owner of the SNAT port"
                       : v.rule->type == MUX_RULE_NAT ? "the rule's backend"
                       : v.from_flow_table
                       ? (v.established ? "established flow"
                                        : "flow seen once before")
                       : v.fragment && !by_table
                       ? "consistent hash, without ports"
                       : v.n_candidates ? "candidate"
                       : "consistent hash");
    int port = v.n_candidates ? SLB_VXLAN_CANDIDATE_PORT : MUX_VXLAN_PORT;
    for (size_t i = 0; i <= v.n_candidates; i++) {
        const struct mux_target *t = (i ? target_of(cfg, v.candidates[i - 1])
                                      : v.target);
        ds_put_cstr(out, "backend: ");
        ipv6_format_mapped(&t->ca, out);
        ds_put_format(out, " (%s)\n", why);
        ds_put_format(out, "output: vxlan "IP_FMT" -> "IP_FMT" vni %"PRIu32
                      " udp %u -> %d\n", IP_ARGS(cfg->underlay.pa),
                      IP_ARGS(t->pa), t->vni, 0xc000 | (v.hash & 0x3fff),
                      port);
    }
    if (v.n_candidates) {
        ds_put_format(out, "(a connection that the mux does not know, "
                      "whose backend its tables disagree on: %d copies, "
                      "which only the connection's host passes on)\n",
                      v.n_candidates + 1);
    }
    if (sent) {
        *sent = dp_packet_clone(packet);
        if (v.decap) {
            dp_packet_pull(*sent, MUX_ENCAP_LEN);
        }
        encapsulate(*sent, v.target, ip_len, v.hash);
        if (v.n_candidates) {
            mark_candidate(*sent);
        }
    }
}

/* Building configurations. */

struct mux_config *
mux_config_create(void)
{
    static atomic_uint64_t next_generation = ATOMIC_VAR_INIT(1);
    struct mux_config *cfg = xzalloc(sizeof *cfg);
    atomic_add_relaxed(&next_generation, 1, &cfg->generation);
    cfg->underlay.mtu = 1500;
    return cfg;
}

/* Staging area for lookup keys until mux_config_finish(): kept in the
 * 'keys' and 'values' arrays, unhashed, with 'mask' as the count. */
static void
stage_key(struct mux_config *cfg, uint64_t key, uint32_t value)
{
    size_t n = cfg->mask;
    if (!(n & (n + 1)) || !n) {
        /* Grow at 0, 1, 3, 7, ...: powers of two minus one. */
        size_t cap = n ? (n + 1) * 2 : 2;
        cfg->keys = xrealloc(cfg->keys, cap * sizeof *cfg->keys);
        cfg->values = xrealloc(cfg->values, cap * sizeof *cfg->values);
    }
    cfg->keys[n] = key;
    cfg->values[n] = value;
    cfg->mask = n + 1;
}

/* A (VNI, VIP), while a configuration is built, and its number in the
 * lookup keys: an internal IPv4 VIP, or an IPv6 VIP. */
struct net_node {
    struct hmap_node node;
    uint32_t vni;
    struct in6_addr vip;
    uint32_t number;
};

/* Returns the number of VIP 'vip' of the network with 'vni' (0 for a
 * public IPv6 VIP) in 'cfg', giving it the next one if it has none. */
static uint32_t
net_number(struct mux_config *cfg, uint32_t vni, const struct in6_addr *vip)
{
    if (!cfg->nets) {
        cfg->nets = xmalloc(sizeof *cfg->nets);
        hmap_init(cfg->nets);
    }
    uint32_t hash = vip6_hash(vip, vni);
    struct net_node *n;
    HMAP_FOR_EACH_WITH_HASH (n, node, hash, cfg->nets) {
        if (n->vni == vni && ipv6_addr_equals(&n->vip, vip)) {
            return n->number;
        }
    }
    n = xmalloc(sizeof *n);
    n->vni = vni;
    n->vip = *vip;
    n->number = ++cfg->n_nets;
    hmap_insert(cfg->nets, &n->node, hash);
    if (IN6_IS_ADDR_V4MAPPED(vip)) {
        ovs_be32 vip4 = in6_addr_get_mapped_ipv4(vip);
        stage_key(cfg, make_net_key(vni, vip4), n->number);
        stage_key(cfg, make_key(vip4, KEY_INTERNAL_VIP, 0, 0), 0);
    }
    return n->number;
}

/* Marks 'vip' as a VIP, so that packets to it without a rule count as
 * "no-rule" rather than "not-vip". */
void
mux_config_add_vip(struct mux_config *cfg, const struct in6_addr *vip)
{
    if (IN6_IS_ADDR_V4MAPPED(vip)) {
        stage_key(cfg, make_key(in6_addr_get_mapped_ipv4(vip), KEY_VIP, 0, 0),
                  0);
    } else {
        net_number(cfg, 0, vip);
    }
}

/* Marks 'vip' as an internal VIP of the virtual network with 'vni'. */
void
mux_config_add_internal_vip(struct mux_config *cfg, uint32_t vni,
                            const struct in6_addr *vip)
{
    net_number(cfg, vni, vip);
}

/* Puts IPv6 VIP number 'number' for ('vip', 'vni') into the table of
 * 'cfg', unless that pair is there already. */
static void
put_vip6(struct mux_config *cfg, const struct in6_addr *vip, uint32_t vni,
         uint32_t number)
{
    for (uint32_t i = vip6_hash(vip, vni); ; i++) {
        struct mux_vip6 *slot = &cfg->vips6[i & cfg->vips6_mask];
        if (!slot->number) {
            slot->vip = *vip;
            slot->vni = vni;
            slot->number = number;
            return;
        } else if (slot->vni == vni && ipv6_addr_equals(&slot->vip, vip)) {
            return;
        }
    }
}

/* Builds the table of IPv6 VIPs' numbers from those given while 'cfg' was
 * built, with a mark for each internal one that it is a VIP of some
 * network. */
static void
build_vips6(struct mux_config *cfg)
{
    size_t n = 0;
    const struct net_node *node;
    HMAP_FOR_EACH (node, node, cfg->nets) {
        n += !IN6_IS_ADDR_V4MAPPED(&node->vip) ? 1 + (node->vni != 0) : 0;
    }
    if (!n) {
        return;
    }
    uint32_t size = 1u << log_2_ceil(MAX(2 * n, 4));
    cfg->vips6 = xzalloc(size * sizeof *cfg->vips6);
    cfg->vips6_mask = size - 1;
    HMAP_FOR_EACH (node, node, cfg->nets) {
        if (!IN6_IS_ADDR_V4MAPPED(&node->vip)) {
            put_vip6(cfg, &node->vip, node->vni, node->number);
            if (node->vni) {
                put_vip6(cfg, &node->vip, MUX_VNI_ANY, node->number);
            }
        }
    }
}

/* Lets the host with 'pa' send the mux its VMs' packets to internal
 * VIPs. */
void
mux_config_add_host(struct mux_config *cfg, ovs_be32 pa)
{
    stage_key(cfg, make_key(pa, KEY_HOST, 0, 0), 0);
}

/* Adds the mux with 'pa' to those that share out the fragments that need
 * the fragment table.  Another mux's may send this one such fragments;
 * 'self' says that it is this mux's own. */
void
mux_config_add_mux(struct mux_config *cfg, ovs_be32 pa, bool self)
{
    if (!self) {
        stage_key(cfg, make_key(pa, KEY_MUX, 0, 0), 0);
    }
    cfg->muxes = xrealloc(cfg->muxes, (cfg->n_muxes + 1) * sizeof *cfg->muxes);
    cfg->muxes[cfg->n_muxes++] = pa;
}

static int
compare_be32s(const void *a_, const void *b_)
{
    uint32_t a = ntohl(*(const ovs_be32 *) a_);
    uint32_t b = ntohl(*(const ovs_be32 *) b_);
    return a < b ? -1 : a > b;
}

static void
destroy_nets(struct mux_config *cfg)
{
    if (cfg->nets) {
        struct net_node *n;
        HMAP_FOR_EACH_POP (n, node, cfg->nets) {
            free(n);
        }
        hmap_destroy(cfg->nets);
        free(cfg->nets);
        cfg->nets = NULL;
    }
}

/* Sets the past tables of 'r' to the 'n' in 'past', which gain a
 * reference. */
static void
set_past_tables(struct mux_rule *r, const struct mux_past_table *past,
                size_t n)
{
    r->past = n ? xmemdup(past, n * sizeof *past) : NULL;
    r->n_past = n;
    for (size_t i = 0; i < n; i++) {
        ovs_refcount_ref(&past[i].maglev->refcount);
    }
}

static void
clear_past_tables(struct mux_rule *r)
{
    for (size_t i = 0; i < r->n_past; i++) {
        mux_maglev_unref(r->past[i].maglev);
    }
    free(r->past);
    r->past = NULL;
    r->n_past = 0;
}

/* Makes 'r' a copy of 'rule' (whose name, moved backends and states are
 * copied; its Maglev tables, if any, gain a reference). */
static void
copy_rule(struct mux_rule *r, const struct mux_rule *rule)
{
    *r = *rule;
    r->name = xstrdup(rule->name);
    set_past_tables(r, rule->past, rule->n_past);
    r->moved = (rule->n_moved
                ? xmemdup(rule->moved, rule->n_moved * sizeof *rule->moved)
                : NULL);
    r->states = (rule->maglev && rule->states
                 ? xmemdup(rule->states, rule->maglev->n + 1)
                 : NULL);
    if (r->maglev) {
        if (!r->maglev_est) {
            r->maglev_est = r->maglev;
        }
        ovs_refcount_ref(&r->maglev->refcount);
        ovs_refcount_ref(&r->maglev_est->refcount);
    }
}

static void
free_rule(struct mux_rule *r)
{
    free(r->name);
    free(r->moved);
    free(r->states);
    mux_maglev_unref(r->maglev);
    mux_maglev_unref(r->maglev_est);
    clear_past_tables(r);
}

/* Returns true if Maglev tables 'a' and 'b' are the same, or built from the
 * same backends in the same order, and so have the same entries. */
static bool
same_maglev(const struct mux_maglev *a, const struct mux_maglev *b)
{
    return (a == b
            || (a->size == b->size && a->seed == b->seed && a->n == b->n
                && !memcmp(a->ids, b->ids, a->n * sizeof *a->ids)
                && !memcmp(a->keys, b->keys, a->n * sizeof *a->keys)
                && !memcmp(a->weights, b->weights,
                           a->n * sizeof *a->weights)));
}

/* Returns the rule named 'name' of 'cfg', whose rule 'hint' it may be, or
 * NULL.  Indexes the rules in 'index' the first time that 'hint' is
 * not it. */
static const struct mux_rule *
find_rule_by_name(const struct mux_config *cfg, const char *name, size_t hint,
                  struct shash *index)
{
    if (hint < cfg->n_rules && !strcmp(cfg->rules[hint].name, name)) {
        return &cfg->rules[hint];
    }
    if (shash_is_empty(index)) {
        for (size_t i = 0; i < cfg->n_rules; i++) {
            shash_add_once(index, cfg->rules[i].name, &cfg->rules[i]);
        }
    }
    return shash_find_data(index, name);
}

/* Gives each load-balancing rule of 'cfg', which replaces 'old' (NULL for
 * none) at time 'now' (in ms, as mux_dp_process() is given it), the past
 * tables that the same rule of 'old' leaves: its table for new flows if
 * 'cfg' changes it (none for a rule that mux_history_load() read), then
 * its own past tables, those of the last
 * MUX_MAX_PAST_TABLES changes, each for the rule's idle timeout after a
 * change replaced it.  A connection that another mux placed under one of
 * them, and that reaches this mux when its table differs, is sent to each
 * backend that they may have given it (see pick_candidates()).  The same
 * rule is the rule of the same name, VIP, protocol and port: one that
 * keeps its name for another frontend starts afresh.
 *
 * Returns true if a load-balancing rule's table for new flows changed, or
 * the rules did. */
bool
mux_config_inherit(struct mux_config *cfg, const struct mux_config *old,
                   uint32_t now)
{
    bool changed = !old || cfg->n_rules != old->n_rules;
    struct shash index = SHASH_INITIALIZER(&index);
    for (size_t i = 0; i < cfg->n_rules; i++) {
        struct mux_rule *r = &cfg->rules[i];
        clear_past_tables(r);
        if (!old || r->type != MUX_RULE_LB) {
            continue;
        }
        const struct mux_rule *o = find_rule_by_name(old, r->name, i,
                                                     &index);
        if (!o || o->type != MUX_RULE_LB || o->vni != r->vni
            || !ipv6_addr_equals(&o->vip, &r->vip) || o->proto != r->proto
            || o->port != r->port) {
            changed = true;
            continue;
        }
        changed |= o->maglev != r->maglev;

        struct mux_past_table past[MUX_MAX_PAST_TABLES];
        size_t n = 0;
        if (o->maglev && o->maglev != r->maglev) {
            past[n++] = (struct mux_past_table) {
                .maglev = o->maglev, .until = now + r->idle_timeout,
            };
        }
        for (size_t j = 0; j < o->n_past && n < ARRAY_SIZE(past); j++) {
            const struct mux_past_table *p = &o->past[j];
            bool known = same_maglev(p->maglev, r->maglev);
            for (size_t k = 0; k < n; k++) {
                known |= same_maglev(past[k].maglev, p->maglev);
            }
            if (!known && (int32_t) (p->until - now) >= 0) {
                past[n++] = *p;
            }
        }
        set_past_tables(r, past, n);
    }
    shash_destroy(&index);
    return changed;
}

/* Adds a copy of 'rule' (see copy_rule()). */
void
mux_config_add_rule(struct mux_config *cfg, const struct mux_rule *rule)
{
    size_t n = cfg->n_rules;
    if (!(n & (n - 1))) {
        /* Full at 0, 1, 2, 4, ...: grow to twice as many. */
        cfg->rules = xrealloc(cfg->rules, MAX(2 * n, 1) * sizeof *cfg->rules);
    }
    copy_rule(&cfg->rules[n], rule);
    uint64_t key = (rule->vni || !IN6_IS_ADDR_V4MAPPED(&rule->vip)
                    ? make_key(htonl(net_number(cfg, rule->vni, &rule->vip)),
                               KEY_NET_RULE, rule->proto, rule->port)
                    : make_key(in6_addr_get_mapped_ipv4(&rule->vip),
                               KEY_RULE, rule->proto, rule->port));
    stage_key(cfg, key, cfg->n_rules++);
}

static int
compare_ranges(const void *a_, const void *b_)
{
    const struct mux_snat_range *a = a_, *b = b_;
    return a->min < b->min ? -1 : a->min > b->min;
}

/* Adds the SNAT ports 'snat' of (VIP, 'proto'), taking ownership of its
 * ranges and name. */
void
mux_config_add_snat(struct mux_config *cfg, const struct in6_addr *vip,
                    uint8_t proto, const struct mux_snat *snat)
{
    cfg->snats = xrealloc(cfg->snats, (cfg->n_snats + 1)
                          * sizeof *cfg->snats);
    struct mux_snat *s = &cfg->snats[cfg->n_snats];
    *s = *snat;
    s->vip = *vip;
    s->proto = proto;
    qsort(s->ranges, s->n, sizeof *s->ranges, compare_ranges);
    uint64_t key = (IN6_IS_ADDR_V4MAPPED(vip)
                    ? make_key(in6_addr_get_mapped_ipv4(vip), KEY_SNAT, proto,
                               0)
                    : make_key(htonl(net_number(cfg, 0, vip)), KEY_NET_SNAT,
                               proto, 0));
    stage_key(cfg, key, cfg->n_snats++);
}

/* A staged rule key, and the order it was staged in. */
struct staged_rule {
    uint64_t key;
    size_t order;
};

static int
compare_keys(const void *a_, const void *b_)
{
    const uint64_t *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

static int
compare_staged_rules(const void *a_, const void *b_)
{
    const struct staged_rule *a = a_, *b = b_;
    return (a->key != b->key ? (a->key < b->key ? -1 : 1)
            : a->order < b->order ? -1 : a->order > b->order);
}

/* Returns true if 'a' and 'b' send a fragment to the same backend: they
 * share their Maglev table, and both hash it by 2 tuples or neither. */
static bool
same_fragment_pick(const struct mux_rule *a, const struct mux_rule *b)
{
    return (a->type == MUX_RULE_LB && b->type == MUX_RULE_LB
            && a->maglev && a->maglev == b->maglev
            && ((a->distribution == MUX_DIST_2_TUPLE)
                == (b->distribution == MUX_DIST_2_TUPLE)));
}

/* Stages, for each VIP and protocol (TCP or UDP) whose rules (those for
 * one of its ports and for all of them) all send a datagram without ports
 * to the same backend, a KEY_FRAG or KEY_NET_FRAG key that names one of
 * them: the rule for that VIP's fragments.  Not where an inbound NAT rule
 * or an outbound rule's SNAT ports might own the fragment instead (only a
 * public VIP has SNAT ports, an IPv6 one by its number). */
static void
stage_fragment_keys(struct mux_config *cfg)
{
    size_t n_staged = cfg->mask;
    struct staged_rule *rules = xmalloc(n_staged * sizeof *rules);
    uint64_t *snats = xmalloc(n_staged * sizeof *snats);
    size_t n = 0, n_snats = 0;
    for (size_t i = 0; i < n_staged; i++) {
        uint8_t kind = cfg->keys[i] >> 24;
        if (kind == KEY_RULE || kind == KEY_NET_RULE) {
            rules[n].key = cfg->keys[i];
            rules[n].order = i;
            n++;
        } else if (kind == KEY_SNAT || kind == KEY_NET_SNAT) {
            snats[n_snats++] = cfg->keys[i];
        }
    }
    qsort(rules, n, sizeof *rules, compare_staged_rules);
    qsort(snats, n_snats, sizeof *snats, compare_keys);

    /* Each (VIP, kind) in turn, its HA-ports rule first if it has one. */
    for (size_t start = 0, end; start < n; start = end) {
        uint64_t vip_kind = rules[start].key >> 24;
        for (end = start; end < n && rules[end].key >> 24 == vip_kind;
             end++) {
            continue;
        }
        static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
        for (size_t p = 0; p < ARRAY_SIZE(protos); p++) {
            uint8_t proto = protos[p];
            const struct mux_rule *first = NULL;
            uint32_t first_idx = 0;
            bool ok = true;
            for (size_t i = start; i < end && ok; i++) {
                uint64_t key = rules[i].key;
                uint8_t key_proto = key >> 16;
                if ((key_proto && key_proto != proto)
                    || (i > start && key == rules[i - 1].key)) {
                    continue;   /* Another protocol's, or never looked up. */
                }
                uint32_t idx = cfg->values[rules[i].order];
                const struct mux_rule *r = &cfg->rules[idx];
                if (!first) {
                    first = r;
                    first_idx = idx;
                }
                ok = same_fragment_pick(first, r);
            }
            ovs_be32 vip = htonl(vip_kind >> 8);
            bool public = (vip_kind & 0xff) == KEY_RULE;
            uint64_t snat = make_key(vip, public ? KEY_SNAT : KEY_NET_SNAT,
                                     proto, 0);
            if (first && ok
                && !bsearch(&snat, snats, n_snats, sizeof *snats,
                            compare_keys)) {
                stage_key(cfg, make_key(vip, public ? KEY_FRAG : KEY_NET_FRAG,
                                        proto, 0), first_idx);
            }
        }
    }
    free(rules);
    free(snats);
}

/* Gives 'cfg', which has none yet, copies of the rules, SNAT port sets and
 * targets of 'src', without their lookup keys, which the caller stages
 * (see mux_config_stage_keys()). */
void
mux_config_copy(struct mux_config *cfg, const struct mux_config *src)
{
    ovs_assert(!cfg->n_rules && !cfg->n_snats && !cfg->n_targets);

    /* As mux_config_add_rule() would have them, should it add more. */
    cfg->rules = xmalloc(MAX(2 * src->n_rules, 1) * sizeof *cfg->rules);
    for (size_t i = 0; i < src->n_rules; i++) {
        copy_rule(&cfg->rules[i], &src->rules[i]);
    }
    cfg->n_rules = src->n_rules;

    cfg->snats = xmalloc(MAX(src->n_snats, 1) * sizeof *cfg->snats);
    for (size_t i = 0; i < src->n_snats; i++) {
        const struct mux_snat *from = &src->snats[i];
        struct mux_snat *to = &cfg->snats[i];
        *to = *from;
        to->rule_name = xstrdup(from->rule_name);
        to->ranges = xmemdup(from->ranges,
                             MAX(from->n, 1) * sizeof *from->ranges);
    }
    cfg->n_snats = src->n_snats;

    cfg->targets = xcalloc(MAX(src->n_targets, 1), sizeof *cfg->targets);
    for (size_t i = 0; i < src->n_targets; i++) {
        if (src->targets[i]) {
            cfg->targets[i] = xmemdup(src->targets[i],
                                      sizeof *src->targets[i]);
        }
    }
    cfg->n_targets = src->n_targets;
    cfg->n_nets = src->n_nets;
    if (src->n_muxes) {
        cfg->muxes = xmemdup(src->muxes, src->n_muxes * sizeof *cfg->muxes);
        cfg->n_muxes = src->n_muxes;
    }
    if (src->vips6) {
        cfg->vips6 = xmemdup(src->vips6,
                             (src->vips6_mask + 1) * sizeof *src->vips6);
        cfg->vips6_mask = src->vips6_mask;
    }
}

/* Replaces rule 'idx' of 'cfg' by a copy of 'rule' (see copy_rule()). */
void
mux_config_replace_rule(struct mux_config *cfg, size_t idx,
                        const struct mux_rule *rule)
{
    ovs_assert(idx < cfg->n_rules);
    free_rule(&cfg->rules[idx]);
    copy_rule(&cfg->rules[idx], rule);
}

/* Returns the keys that 'cfg' has staged so far, and their values, in new
 * arrays of '*n' each, in the order they were staged. */
void
mux_config_staged_keys(const struct mux_config *cfg, uint64_t **keys,
                       uint32_t **values, size_t *n)
{
    *n = cfg->mask;
    *keys = xmemdup(cfg->keys, MAX(*n, 1) * sizeof **keys);
    *values = xmemdup(cfg->values, MAX(*n, 1) * sizeof **values);
}

/* Stages the 'n' keys 'keys' with their 'values', in order, in 'cfg', which
 * has staged none yet. */
void
mux_config_stage_keys(struct mux_config *cfg, const uint64_t *keys,
                      const uint32_t *values, size_t n)
{
    ovs_assert(!cfg->mask);
    for (size_t i = 0; i < n; i++) {
        stage_key(cfg, keys[i], values[i]);
    }
}

/* Builds the lookup table from the staged keys.  A key staged twice keeps
 * its first value. */
void
mux_config_finish(struct mux_config *cfg)
{
    stage_fragment_keys(cfg);
    if (cfg->n_muxes) {
        qsort(cfg->muxes, cfg->n_muxes, sizeof *cfg->muxes, compare_be32s);
    }

    size_t n = cfg->mask;
    uint64_t *staged_keys = cfg->keys;
    uint32_t *staged_values = cfg->values;
    uint32_t size = 1u << log_2_ceil(MAX(2 * n, 4));

    cfg->keys = xzalloc(size * sizeof *cfg->keys);
    cfg->values = xzalloc(size * sizeof *cfg->values);
    cfg->mask = size - 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = staged_keys[i];
        for (uint32_t j = mux_rule_key_hash(key); ; j++) {
            uint64_t *k = &cfg->keys[j & cfg->mask];
            if (!*k) {
                *k = key;
                cfg->values[j & cfg->mask] = staged_values[i];
                break;
            } else if (*k == key) {
                break;
            }
        }
    }
    free(staged_keys);
    free(staged_values);
    if (cfg->nets) {
        /* A whole build: a patched one has the numbers of the build that
         * it copied (see mux_config_copy()). */
        build_vips6(cfg);
    }
    destroy_nets(cfg);
}

/* Returns a Maglev table of 'size' entries, built with 'seed', over the
 * 'n' backends 'backends' (their keys and weights), whose ids are 'ids',
 * with one reference. */
struct mux_maglev *
mux_maglev_create(const struct maglev_backend *backends,
                  const uint32_t *ids, size_t n, uint32_t size,
                  uint32_t seed)
{
    struct mux_maglev *m = xzalloc(sizeof *m);
    m->size = size;
    m->seed = seed;
    m->n = n;
    m->entries = xmalloc(size * sizeof *m->entries);
    m->ids = xmalloc((n + 1) * sizeof *m->ids);
    m->keys = xmalloc((n + 1) * sizeof *m->keys);
    m->weights = xmalloc((n + 1) * sizeof *m->weights);
    for (size_t i = 0; i < n; i++) {
        m->ids[i] = ids[i];
        m->keys[i] = backends[i].key;
        m->weights[i] = backends[i].weight;
    }
    maglev_build(backends, n, seed, size, m->entries);
    ovs_refcount_init(&m->refcount);
    return m;
}

/* Drops a reference to 'm', freeing it with the last one. */
void
mux_maglev_unref(struct mux_maglev *m)
{
    if (m && ovs_refcount_unref(&m->refcount) == 1) {
        free(m->entries);
        free(m->ids);
        free(m->keys);
        free(m->weights);
        free(m);
    }
}

/* Configuration comparison. */

static void
diff_maglev(const char *rule, const struct mux_maglev *a,
            const struct mux_maglev *b, struct ds *diff)
{
    if (!a || !b) {
        if (a != b) {
            ds_put_format(diff, "rule %s: a Maglev table on one side only\n",
                          rule);
        }
    } else if (!same_maglev(a, b)
               || memcmp(a->entries, b->entries,
                         a->size * sizeof *a->entries)) {
        ds_put_format(diff, "rule %s: Maglev tables differ\n", rule);
    }
}

static void
diff_rule(const struct mux_rule *a, const struct mux_rule *b,
          struct ds *diff)
{
    if (strcmp(a->name, b->name)) {
        ds_put_format(diff, "rule %s: rule %s in its place\n", a->name,
                      b->name);
        return;
    }
    if (a->stats_id != b->stats_id || a->type != b->type
        || a->distribution != b->distribution
        || a->idle_timeout != b->idle_timeout || a->backend != b->backend
        || a->vni != b->vni || !ipv6_addr_equals(&a->vip, &b->vip)
        || a->proto != b->proto
        || a->port != b->port || a->n_moved != b->n_moved
        || (a->n_moved
            && memcmp(a->moved, b->moved, a->n_moved * sizeof *a->moved))
        || a->failed_open != b->failed_open
        || !a->states != !b->states) {
        ds_put_format(diff, "rule %s: differs\n", a->name);
    }
    /* (Past tables are the mux's history, not the database's content: a
     * configuration built from scratch has none.) */
    diff_maglev(a->name, a->maglev, b->maglev, diff);
    if ((a->maglev_est == a->maglev) != (b->maglev_est == b->maglev)) {
        ds_put_format(diff, "rule %s: one table for established "
                      "connections, not the other\n", a->name);
    } else if (a->maglev_est != a->maglev) {
        diff_maglev(a->name, a->maglev_est, b->maglev_est, diff);
    }
    if (a->states && b->states && a->maglev && b->maglev
        && a->maglev->n == b->maglev->n
        && memcmp(a->states, b->states, a->maglev->n)) {
        ds_put_format(diff, "rule %s: backend states differ\n", a->name);
    }
}

static void
diff_snat(const struct mux_snat *a, const struct mux_snat *b,
          struct ds *diff)
{
    if (!ipv6_addr_equals(&a->vip, &b->vip) || a->proto != b->proto
        || strcmp(a->rule_name, b->rule_name) || a->stats_id != b->stats_id
        || a->n != b->n
        || memcmp(a->ranges, b->ranges, a->n * sizeof *a->ranges)) {
        ds_put_format(diff, "SNAT of rule %s: differs\n", a->rule_name);
    }
}

static void
diff_target(uint32_t id, const struct mux_target *a,
            const struct mux_target *b, struct ds *diff)
{
    if (!a || !b) {
        if (a != b) {
            ds_put_format(diff, "backend %"PRIu32": on one side only\n", id);
        }
    } else if (!ipv6_addr_equals(&a->ca, &b->ca) || a->pa != b->pa
               || a->vni != b->vni
               || !eth_addr_equals(a->mac, b->mac)
               || memcmp(a->header, b->header, sizeof a->header)
               || a->header_csum != b->header_csum) {
        ds_put_format(diff, "backend %"PRIu32" (", id);
        ipv6_format_mapped(&a->ca, diff);
        ds_put_cstr(diff, "): differs\n");
    }
}

/* Appends to 'diff' a line for each way in which 'a' and 'b' differ, other
 * than in their generations, in which Maglev tables they share and in the
 * nb_cfg they were built for (a change that alters nothing, such as a
 * backend's admin state set to what it is, bumps nb_cfg without a new
 * build): none, if they take every packet the same way. */
void
mux_config_diff(const struct mux_config *a, const struct mux_config *b,
                struct ds *diff)
{
    if (a->seed != b->seed
        || a->fastpath != b->fastpath || a->anycast != b->anycast
        || a->underlay.pa != b->underlay.pa
        || !eth_addr_equals(a->underlay.mac, b->underlay.mac)
        || !eth_addr_equals(a->underlay.nexthop, b->underlay.nexthop)
        || a->underlay.mtu != b->underlay.mtu
        || a->n_stats_ids != b->n_stats_ids) {
        ds_put_cstr(diff, "settings differ\n");
    }
    if (a->mask != b->mask
        || memcmp(a->keys, b->keys, (a->mask + 1) * sizeof *a->keys)
        || memcmp(a->values, b->values, (a->mask + 1) * sizeof *a->values)
        || !a->vips6 != !b->vips6
        || (a->vips6
            && (a->vips6_mask != b->vips6_mask
                || memcmp(a->vips6, b->vips6,
                          (a->vips6_mask + 1) * sizeof *a->vips6)))) {
        ds_put_cstr(diff, "VIP and rule lookups differ\n");
    }
    if (a->n_muxes != b->n_muxes
        || (a->n_muxes
            && memcmp(a->muxes, b->muxes, a->n_muxes * sizeof *a->muxes))) {
        ds_put_cstr(diff, "muxes differ\n");
    }
    if (a->n_rules != b->n_rules) {
        ds_put_format(diff, "%"PRIuSIZE" rules, not %"PRIuSIZE"\n",
                      a->n_rules, b->n_rules);
    }
    for (size_t i = 0; i < MIN(a->n_rules, b->n_rules); i++) {
        diff_rule(&a->rules[i], &b->rules[i], diff);
    }
    if (a->n_snats != b->n_snats) {
        ds_put_format(diff, "%"PRIuSIZE" SNAT port sets, not %"PRIuSIZE"\n",
                      a->n_snats, b->n_snats);
    }
    for (size_t i = 0; i < MIN(a->n_snats, b->n_snats); i++) {
        diff_snat(&a->snats[i], &b->snats[i], diff);
    }
    for (size_t i = 0; i < MAX(a->n_targets, b->n_targets); i++) {
        diff_target(i, i < a->n_targets ? a->targets[i] : NULL,
                    i < b->n_targets ? b->targets[i] : NULL, diff);
    }
}

void
mux_config_destroy(struct mux_config *cfg)
{
    if (!cfg) {
        return;
    }
    for (size_t i = 0; i < cfg->n_rules; i++) {
        free_rule(&cfg->rules[i]);
    }
    free(cfg->rules);
    for (size_t i = 0; i < cfg->n_snats; i++) {
        free(cfg->snats[i].rule_name);
        free(cfg->snats[i].ranges);
    }
    free(cfg->snats);
    for (size_t i = 0; i < cfg->n_targets; i++) {
        free(cfg->targets[i]);
    }
    free(cfg->targets);
    free(cfg->stats_epochs);
    for (size_t i = 0; i < cfg->n_maglevs; i++) {
        mux_maglev_unref(cfg->maglevs[i]);
    }
    free(cfg->maglevs);
    free(cfg->keys);
    free(cfg->values);
    free(cfg->vips6);
    free(cfg->muxes);
    destroy_nets(cfg);
    free(cfg);
}
