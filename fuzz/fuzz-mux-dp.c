/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the mux's packet path on arbitrary frames.
 *
 * The input is a run of frames, each a 2-byte big-endian length and that
 * many bytes (or the rest of the input, if shorter); a length of 0 ends a
 * batch and moves the clock on by a second, and a batch holds at most 32
 * frames.  They go through mux_dp_process(), with one thread's flow table,
 * small enough to fill, under a fixed configuration: on VIP 20.20.20.100,
 * a TCP rule for port 80 (5-tuple), a UDP rule for port 53 (2-tuple, its
 * drained backend admin down), an inbound NAT rule for TCP port 2222 and
 * SNAT ports for TCP; on VIP 20.20.20.101, an HA-ports rule (3-tuple); and
 * on internal VIP 10.10.10.100 of the network with VNI 5001, a TCP rule
 * for port 80, which host 192.168.1.11 may send to; on IPv6 VIP
 * 2001:db8::100, a TCP rule for port 80 over IPv6 backends and SNAT ports
 * for UDP; on internal IPv6 VIP fd00::100 of VNI 5001, a TCP rule for
 * port 80.  The TCP rule on port 80 of 20.20.20.100 has a past table, of
 * other weights, that counts for the first minute, and the IPv6 one a
 * table for connections apart: their segments of unknown connections may
 * go to several hosts.  A second mux, 192.168.30.52, shares the fragments
 * of datagrams that the fragment table places (TCP to 20.20.20.100, UDP
 * to 2001:db8::100): the mux sends it those it does not place itself, and
 * takes such fragments from it.
 *
 * Beyond what the sanitizers catch, each batch must keep the books (every
 * frame forwarded, dropped for one reason, or taken as the answer to a
 * path probe, or waiting in the fragment table), and every forwarded frame
 * must be well-formed VXLAN to a backend's host (or a fragment to the
 * other mux): outer IPv4 without
 * options, its lengths and checksum right, within the MTU, UDP to port
 * 4789 (or, with its copies, each to a host of its own, to 4790), the VNI and host of a backend, and inside, the chosen VM's MAC
 * and an IP packet of its stated length and of its backend's family,
 * without the Ethernet padding, whose TCP or UDP header lengths hold
 * unless it is a fragment or has IPv6 extension headers.  The fastpath
 * redirects it queues are for new flows of the internal rule only, from
 * its host, to a backend.
 *
 * With FUZZ_VERBOSE set in the environment, each batch's fate goes to
 * standard error, to see what the seeds reach. */

#include <config.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "dp-packet.h"
#include "mux/maglev.h"
#include "mux/mux-dp.h"
#include "netdev.h"
#include "packets.h"
#include "util.h"
#include "vswitch-ext/pipeline.h"

#define N_TARGETS 6                     /* 4 and 5 IPv6. */
#define N_TARGETS4 4
#define VIP htonl(0x14141464)           /* 20.20.20.100 */
#define HA_VIP htonl(0x14141465)        /* 20.20.20.101 */
#define INTERNAL_VIP htonl(0x0a0a0a64)  /* 10.10.10.100 */
#define HOST_PA htonl(0xc0a8010b)       /* 192.168.1.11 */
#define OTHER_MUX_PA htonl(0xc0a81e34)  /* 192.168.30.52 */
#define MAGLEV_SIZE 251
#define HEADROOM 128            /* As AF_XDP buffers have. */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The Maglev table over the IPv4 backends, or with 'ipv6' the IPv6
 * ones; with 'other', of other weights. */
static struct mux_maglev *
make_maglev(struct mux_config *cfg, bool ipv6, bool other)
{
    struct maglev_backend backends[N_TARGETS];
    uint32_t ids[N_TARGETS];
    size_t n = 0;
    for (int i = ipv6 ? N_TARGETS4 : 0; i < (ipv6 ? N_TARGETS : N_TARGETS4);
         i++) {
        ids[n] = i;
        backends[n].key = (uint64_t) (0x0a0a0a0b + i) << 32 | 5001;
        /* One drained backend, which takes no new flows. */
        backends[n].weight = i == 3 ? 0 : other ? 4 - i : i + 1;
        n++;
    }
    return mux_maglev_create(backends, ids, n, MAGLEV_SIZE, cfg->seed);
}

static struct in6_addr
ipv6_of(const char *s)
{
    struct in6_addr a;
    ovs_assert(inet_pton(AF_INET6, s, &a) == 1);
    return a;
}

static struct mux_config *
make_config(void)
{
    struct mux_config *cfg = mux_config_create();
    cfg->seed = 12345;
    cfg->underlay.pa = htonl(0xc0a81e33);
    cfg->underlay.mac = (struct eth_addr) ETH_ADDR_C(aa,55,aa,55,00,00);
    cfg->underlay.nexthop = (struct eth_addr) ETH_ADDR_C(00,00,5e,00,01,01);
    cfg->underlay.mtu = 1500;

    cfg->targets = xcalloc(N_TARGETS, sizeof *cfg->targets);
    cfg->n_targets = N_TARGETS;
    for (int i = 0; i < N_TARGETS; i++) {
        struct mux_target *t = xzalloc(sizeof *t);
        t->id = i;
        t->ca = (i < N_TARGETS4
                 ? in6_addr_mapped_ipv4(htonl(0x0a0a0a0b + i))
                 : ipv6_of(i == 4 ? "2001:db8:10::b" : "2001:db8:10::c"));
        t->pa = htonl(0xc0a8010b + i);
        t->vni = 5001 + (i & 1);
        if (i != 2) {
            t->mac = (struct eth_addr) ETH_ADDR_C(00,00,00,00,00,11);
            t->mac.ea[5] += i;
        }
        mux_target_init_header(t, &cfg->underlay);
        cfg->targets[i] = t;
    }

    struct mux_maglev *m = make_maglev(cfg, false, false);
    struct mux_maglev *m6 = make_maglev(cfg, true, false);
    struct mux_maglev *past = make_maglev(cfg, false, true);
    struct mux_maglev *m6_est = make_maglev(cfg, true, true);
    cfg->maglevs = xmalloc(4 * sizeof *cfg->maglevs);
    cfg->maglevs[0] = m;
    cfg->maglevs[1] = m6;
    cfg->maglevs[2] = past;
    cfg->maglevs[3] = m6_est;
    cfg->n_maglevs = 4;
    struct mux_past_table web_past[] = {
        { .maglev = past, .until = 60 * 1000 },
    };
    struct in6_addr vip = in6_addr_mapped_ipv4(VIP);
    struct in6_addr ha_vip = in6_addr_mapped_ipv4(HA_VIP);
    struct in6_addr internal_vip = in6_addr_mapped_ipv4(INTERNAL_VIP);
    struct in6_addr vip6 = ipv6_of("2001:db8::100");
    struct in6_addr internal_vip6 = ipv6_of("fd00::100");

    /* The drained backend is "down" to the UDP rule: its flows move. */
    uint32_t moved[] = { 3 };
    const struct mux_rule rules[] = {
        { .name = "web", .stats_id = 0, .type = MUX_RULE_LB,
          .distribution = MUX_DIST_5_TUPLE, .idle_timeout = 4000,
          .maglev = m, .past = web_past, .n_past = ARRAY_SIZE(web_past),
          .vip = vip, .proto = IPPROTO_TCP, .port = 80 },
        { .name = "dns", .stats_id = 1, .type = MUX_RULE_LB,
          .distribution = MUX_DIST_2_TUPLE, .idle_timeout = 4000,
          .maglev = m, .moved = moved, .n_moved = ARRAY_SIZE(moved),
          .vip = vip, .proto = IPPROTO_UDP, .port = 53 },
        { .name = "ssh", .stats_id = 2, .type = MUX_RULE_NAT,
          .idle_timeout = 4000, .backend = 1, .vip = vip,
          .proto = IPPROTO_TCP, .port = 2222 },
        { .name = "ha", .stats_id = 3, .type = MUX_RULE_LB,
          .distribution = MUX_DIST_3_TUPLE, .idle_timeout = 4000,
          .maglev = m, .vip = ha_vip, .proto = 0, .port = 0 },
        { .name = "east", .stats_id = 5, .type = MUX_RULE_LB,
          .distribution = MUX_DIST_5_TUPLE, .idle_timeout = 4000,
          .maglev = m, .vni = 5001, .vip = internal_vip,
          .proto = IPPROTO_TCP, .port = 80 },
        { .name = "web6", .stats_id = 6, .type = MUX_RULE_LB,
          .distribution = MUX_DIST_5_TUPLE, .idle_timeout = 4000,
          .maglev = m6, .maglev_est = m6_est, .vip = vip6,
          .proto = IPPROTO_TCP, .port = 80 },
        { .name = "east6", .stats_id = 7, .type = MUX_RULE_LB,
          .distribution = MUX_DIST_5_TUPLE, .idle_timeout = 4000,
          .maglev = m6, .vni = 5001, .vip = internal_vip6,
          .proto = IPPROTO_TCP, .port = 80 },
    };
    mux_config_add_vip(cfg, &vip);
    mux_config_add_vip(cfg, &ha_vip);
    mux_config_add_vip(cfg, &vip6);
    mux_config_add_internal_vip(cfg, 5001, &internal_vip);
    mux_config_add_internal_vip(cfg, 5001, &internal_vip6);
    mux_config_add_host(cfg, HOST_PA);
    mux_config_add_mux(cfg, cfg->underlay.pa, true);
    mux_config_add_mux(cfg, OTHER_MUX_PA, false);
    cfg->fastpath = true;
    for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
        mux_config_add_rule(cfg, &rules[i]);
    }

    struct mux_snat snat = {
        .rule_name = xstrdup("out"),
        .stats_id = 4,
        .ranges = xmalloc(2 * sizeof *snat.ranges),
        .n = 2,
    };
    snat.ranges[0] = (struct mux_snat_range) { 1024, 30000, 0 };
    snat.ranges[1] = (struct mux_snat_range) { 30001, 65535, 2 };
    mux_config_add_snat(cfg, &vip, IPPROTO_TCP, &snat);

    struct mux_snat snat6 = {
        .rule_name = xstrdup("out6"),
        .stats_id = 8,
        .ranges = xmalloc(sizeof *snat6.ranges),
        .n = 1,
    };
    snat6.ranges[0] = (struct mux_snat_range) { 1024, 65535, 5 };
    mux_config_add_snat(cfg, &vip6, IPPROTO_UDP, &snat6);
    cfg->n_stats_ids = 9;
    mux_config_finish(cfg);
    return cfg;
}

/* Returns the target of 'cfg' with host 'pa' and VNI 'vni', or NULL. */
static const struct mux_target *
find_target(const struct mux_config *cfg, ovs_be32 pa, uint32_t vni)
{
    for (size_t i = 0; i < cfg->n_targets; i++) {
        const struct mux_target *t = cfg->targets[i];
        if (t->pa == pa && t->vni == vni) {
            return t;
        }
    }
    return NULL;
}

/* Aborts unless the lengths that the mux read by held, in the TCP or UDP
 * header at 'l4' (of protocol 'proto') of a packet with 'l4_len' bytes from
 * there on. */
static void
check_ports(uint8_t proto, const void *l4, size_t l4_len)
{
    if (proto == IPPROTO_TCP) {
        const struct tcp_header *tcp = l4;
        ovs_assert(l4_len >= TCP_HEADER_LEN);
        ovs_assert(TCP_OFFSET(tcp->tcp_ctl) * 4 >= TCP_HEADER_LEN);
        ovs_assert(TCP_OFFSET(tcp->tcp_ctl) * 4 <= l4_len);
    } else if (proto == IPPROTO_UDP) {
        const struct udp_header *udp = l4;
        ovs_assert(ntohs(udp->udp_len) >= UDP_HEADER_LEN);
        ovs_assert(ntohs(udp->udp_len) <= l4_len);
    }
}

/* Aborts unless 'p' is well-formed VXLAN to a target of 'cfg', carrying an
 * IP packet whole, to VXLAN's port or, if 'candidate', to the hosts' port
 * for candidate copies, which carries an IPv4 TCP segment or IPv6. */
static void
check_forwarded(const struct mux_config *cfg, const struct dp_packet *p,
                bool candidate)
{
    const uint8_t *h = dp_packet_data(p);
    uint32_t size = dp_packet_size(p);
    ovs_assert(size >= MUX_ENCAP_LEN + ETH_HEADER_LEN + IP_HEADER_LEN);

    const struct eth_header *eth = (const struct eth_header *) h;
    ovs_assert(eth->eth_type == htons(ETH_TYPE_IP));
    ovs_assert(eth_addr_equals(eth->eth_src, cfg->underlay.mac));
    ovs_assert(eth_addr_equals(eth->eth_dst, cfg->underlay.nexthop));

    const struct ip_header *ip = (const struct ip_header *) (eth + 1);
    ovs_assert(ip->ip_ihl_ver == IP_IHL_VER(5, 4));
    ovs_assert(ntohs(ip->ip_tot_len) == size - ETH_HEADER_LEN);
    ovs_assert(ntohs(ip->ip_tot_len) <= cfg->underlay.mtu);
    ovs_assert(ip->ip_proto == IPPROTO_UDP);
    ovs_assert(!csum(ip, IP_HEADER_LEN));
    ovs_assert(get_16aligned_be32(&ip->ip_src) == cfg->underlay.pa);

    const struct udp_header *udp = (const struct udp_header *) (ip + 1);
    ovs_assert(udp->udp_dst == htons(candidate ? SLB_VXLAN_CANDIDATE_PORT
                                     : MUX_VXLAN_PORT));
    ovs_assert(ntohs(udp->udp_src) >= 0xc000);
    ovs_assert(ntohs(udp->udp_len) == size - ETH_HEADER_LEN - IP_HEADER_LEN);

    const struct vxlanhdr *vx = (const struct vxlanhdr *) (udp + 1);
    ovs_assert(get_16aligned_be32(&vx->vx_flags) == htonl(VXLAN_FLAGS));
    uint32_t vni = ntohl(get_16aligned_be32(&vx->vx_vni)) >> 8;
    const struct eth_header *inner
        = (const struct eth_header *) (h + MUX_ENCAP_LEN);
    if (get_16aligned_be32(&ip->ip_dst) == OTHER_MUX_PA) {
        /* A fragment for the other mux to place, of a public VIP or of the
         * internal VIPs' network. */
        ovs_assert(!candidate && (!vni || vni == 5001));
        return;
    }
    const struct mux_target *t = find_target(
        cfg, get_16aligned_be32(&ip->ip_dst), vni);
    ovs_assert(t);

    if (!eth_addr_is_zero(t->mac)) {
        ovs_assert(eth_addr_equals(inner->eth_dst, t->mac));
    }
    if (!IN6_IS_ADDR_V4MAPPED(&t->ca)) {
        ovs_assert(inner->eth_type == htons(ETH_TYPE_IPV6));
        const struct ovs_16aligned_ip6_hdr *ip6
            = (const struct ovs_16aligned_ip6_hdr *) (inner + 1);
        ovs_assert(size >= MUX_ENCAP_LEN + ETH_HEADER_LEN + IPV6_HEADER_LEN);
        uint16_t plen = ntohs(ip6->ip6_ctlun.ip6_un1.ip6_un1_plen);
        ovs_assert(IPV6_HEADER_LEN + plen
                   == size - MUX_ENCAP_LEN - ETH_HEADER_LEN);
        /* Beyond extension headers, the mux read lengths that the check
         * does not follow. */
        check_ports(ip6->ip6_ctlun.ip6_un1.ip6_un1_nxt, ip6 + 1, plen);
        return;
    }
    ovs_assert(inner->eth_type == htons(ETH_TYPE_IP));
    const struct ip_header *inner_ip = (const struct ip_header *) (inner + 1);
    ovs_assert(ntohs(inner_ip->ip_tot_len)
               == size - MUX_ENCAP_LEN - ETH_HEADER_LEN);
    if (candidate) {
        ovs_assert(inner_ip->ip_proto == IPPROTO_TCP
                   && !IP_IS_FRAGMENT(inner_ip->ip_frag_off));
    }
    if (IP_IS_FRAGMENT(inner_ip->ip_frag_off)) {
        return;                 /* The mux read no header beyond IPv4's. */
    }

    check_ports(inner_ip->ip_proto, inner_ip + 1,
                ntohs(inner_ip->ip_tot_len) - IP_HEADER_LEN);
}

static uint64_t
total_drops(const struct mux_pmd *pmd)
{
    uint64_t n = 0;
    for (int i = 0; i < MUX_N_DROPS; i++) {
        n += pmd->drops[i];
    }
    return n;
}

static uint64_t
total_forwarded(const struct mux_pmd *pmd, const struct mux_config *cfg)
{
    uint64_t n = 0;
    for (size_t i = 0; i < cfg->n_stats_ids; i++) {
        n += pmd->rule_stats[i].packets;
    }
    return n;
}

static void
run_batch(struct mux_pmd *pmd, const struct mux_config *cfg,
          struct dp_packet_batch *in, uint32_t now)
{
    size_t n_in = dp_packet_batch_size(in);
    uint64_t drops = total_drops(pmd);
    uint64_t forwarded = total_forwarded(pmd, cfg);
    uint64_t answers = pmd->n_path_answers + pmd->path_answers_lost;
    uint64_t segments = pmd->candidate_segments;
    uint64_t copies = pmd->candidate_copies;
    uint64_t to_muxes = pmd->fragments_to_muxes;
    struct mux_frags_usage before, after;
    mux_frags_usage(pmd->frags, &before);

    struct dp_packet_batch out;
    dp_packet_batch_init(&out);
    mux_dp_process(pmd, cfg, in, &out, now);

    size_t n_out = dp_packet_batch_size(&out);
    if (getenv("FUZZ_VERBOSE")) {
        /* To see what the seeds reach. */
        fprintf(stderr, "batch of %"PRIuSIZE": %"PRIuSIZE" forwarded",
                n_in, n_out);
        for (int i = 0; i < MUX_N_DROPS; i++) {
            if (pmd->drops[i]) {
                fprintf(stderr, ", %s %"PRIu64, mux_drop_name(i),
                        pmd->drops[i]);
            }
        }
        fprintf(stderr, " (drops so far), %"PRIuSIZE" copies\n",
                dp_packet_batch_size(&pmd->copies));
    }
    /* What the fragment table's work sent goes apart from the batch; the
     * fragments that waited and now went were held before (or earlier in
     * the batch), as were those dropped with their first fragment. */
    uint64_t taken = pmd->n_path_answers + pmd->path_answers_lost - answers;
    mux_frags_usage(pmd->frags, &after);
    ovs_assert(n_out + (total_drops(pmd) - drops) + taken
               + (after.held - before.held) + pmd->n_frag_out == n_in);
    ovs_assert(total_forwarded(pmd, cfg) - forwarded
               == n_out + pmd->n_frag_out
                  - (pmd->fragments_to_muxes - to_muxes));
    for (size_t i = 0; i < pmd->n_frag_out; i++) {
        check_forwarded(cfg, pmd->frag_out[i].packet, false);
        dp_packet_delete(pmd->frag_out[i].packet);
    }
    pmd->n_frag_out = 0;
    /* A segment sent to several hosts goes in 'out' to the first, marked,
     * and in copies to the others. */
    size_t n_marked = 0;
    struct dp_packet *p;
    DP_PACKET_BATCH_FOR_EACH (i, p, &out) {
        const struct udp_header *udp = (const struct udp_header *)
            ((const uint8_t *) dp_packet_data(p) + ETH_HEADER_LEN
             + IP_HEADER_LEN);
        bool marked = udp->udp_dst == htons(SLB_VXLAN_CANDIDATE_PORT);
        check_forwarded(cfg, p, marked);
        n_marked += marked;
    }
    dp_packet_delete_batch(&out, true);
    ovs_assert(pmd->candidate_segments - segments == n_marked);
    ovs_assert(pmd->candidate_copies - copies
               == n_marked + dp_packet_batch_size(&pmd->copies));
    ovs_assert(!pmd->candidate_copies_lost);
    DP_PACKET_BATCH_FOR_EACH (i, p, &pmd->copies) {
        check_forwarded(cfg, p, true);
    }
    dp_packet_delete_batch(&pmd->copies, true);
    dp_packet_batch_init(&pmd->copies);

    /* Redirects: only for new flows of the internal rule, from its host,
     * to a backend; the caller takes them after each batch. */
    ovs_assert(pmd->n_redirects <= n_out);
    const struct in6_addr internal_vip = in6_addr_mapped_ipv4(INTERNAL_VIP);
    const struct in6_addr internal_vip6 = ipv6_of("fd00::100");
    for (size_t i = 0; i < pmd->n_redirects; i++) {
        const struct mux_redirect *r = &pmd->redirects[i];
        ovs_assert(r->host == HOST_PA);
        struct in6_addr dst = mux_flow_key_dst(&r->key);
        ovs_assert(ipv6_addr_equals(&dst, &internal_vip)
                   || ipv6_addr_equals(&dst, &internal_vip6));
        ovs_assert(mux_flow_key_vni(&r->key) == 5001);
        ovs_assert(r->backend < N_TARGETS);
    }
    pmd->n_redirects = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mux_config *cfg;
    if (!cfg) {
        cfg = make_config();
    }

    struct mux_pmd pmd;
    mux_pmd_init(&pmd, 16, 8, 1000);
    mux_pmd_prepare(&pmd, cfg);
    pmd.frags = mux_frags_create(64, 16);

    uint32_t now = 1000;
    while (size >= 2) {
        struct dp_packet_batch in;
        dp_packet_batch_init(&in);
        while (size >= 2 && dp_packet_batch_size(&in) < NETDEV_MAX_BURST) {
            size_t len = (data[0] << 8) | data[1];
            data += 2;
            size -= 2;
            if (!len) {
                now += 1000;
                uint64_t expired = mux_frags_expire(pmd.frags, now);
                pmd.drops[MUX_DROP_FRAGMENT_EXPIRED] += expired;
                break;
            }
            len = MIN(len, size);
            struct dp_packet *p = dp_packet_new_with_headroom(
                len, HEADROOM);
            dp_packet_put(p, data, len);
            dp_packet_batch_add(&in, p);
            data += len;
            size -= len;
        }
        run_batch(&pmd, cfg, &in, now);
    }

    mux_frags_destroy(pmd.frags);
    mux_pmd_destroy(&pmd);
    return 0;
}
