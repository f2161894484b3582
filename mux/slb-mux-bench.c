/* SPDX-License-Identifier: Apache-2.0 */
/* slb-mux-bench: measures the mux's packet path in memory, without I/O.
 *
 * It builds configurations as slb-mux would (rules for TCP port 80 of one
 * VIP or of 10,000, each over 8 backends, Maglev tables of 65537 entries),
 * generates packets, and pushes them in batches of 32 through
 * mux_dp_process(), the same function that slb-mux runs, on one core, in
 * two cases:
 *
 *   - hot: one VIP, 65536 flows, the same 32 buffers again and again (a
 *     loop that keeps everything in the caches);
 *   - cold: 10,000 VIPs, 262,144 flows, each packet in the next buffer of
 *     a pool far larger than the last-level cache, flushed from the caches
 *     once written, as a NIC's DMA leaves it;
 *
 * each for packets of established flows (the flow table knows them) and
 * of new ones (TCP SYNs of flows never seen: Maglev lookup and insert).
 * Each case runs for IPv6 too (VIPs, backends and clients of IPv6, in
 * 74-byte frames), beside IPv4 in turn, with the ratio of the two.
 *
 * Beside each figure it prints a baseline measured in the same run: the
 * same work done with the fewest instructions over the same flow table,
 * Maglev tables, batches and buffers (see run_bare()), so that the mux's
 * figure cannot exceed it by more than noise, and their ratio says what
 * the rest of the packet path costs.  With --data=FILE it also writes the
 * figures there, for a plot.
 *
 * It also times Maglev table builds for 1000 backends at M = 65537 and
 * 655373 against the figures of the Maglev paper (1.8 ms and 22.9 ms), and
 * measures how full each region of a flow table of the default size gets
 * before it must turn a flow away: the new region under a flood of SYNs of
 * distinct flows (until one evicts another), the established region as
 * distinct flows send their second packet (until one finds no room).
 *
 * With --callgrind it runs a fixed number of established packets only, of
 * the hot case (of IPv6 with --ipv6 as well), for "valgrind
 * --tool=callgrind --toggle-collect=mux_dp_process"; with --occupancy, it
 * only measures the flow table's occupancy. */

#include <config.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csum.h"
#include "dp-packet.h"
#include "hash.h"
#include "maglev.h"
#include "mux-dp.h"
#include "packets.h"
#include "util.h"

#define N_BACKENDS 8
#define N_EST_FLOWS 65536
#define N_NEW_FLOWS (1 << 22)
#define BATCH NETDEV_MAX_BURST
#define HEADROOM 128            /* As AF_XDP buffers have. */
#define FRAME_LEN 64
#define FRAME6_LEN (ETH_HEADER_LEN + IPV6_HEADER_LEN + TCP_HEADER_LEN)

/* The first 96 bits of the IPv6 addresses of clients, VIPs and backends:
 * the last 32 are those of IPv4's. */
static const uint8_t client6[12] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };
static const uint8_t vip6[12] = { 0x20, 0x01, 0x0d, 0xb8 };
static const uint8_t backend6[12] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x10 };

static struct in6_addr
addr6(const uint8_t prefix[12], ovs_be32 low)
{
    struct in6_addr a;
    memcpy(&a, prefix, 12);
    memcpy(&a.s6_addr[12], &low, 4);
    return a;
}

static size_t
frame_len(bool ipv6)
{
    return ipv6 ? FRAME6_LEN : FRAME_LEN;
}

static double
now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Writes into 'frame' a minimum-size TCP frame of flow number 'i', a SYN
 * if 'syn', else an ACK, of IPv6 if 'ipv6'. */
static void
make_frame(uint8_t *frame, uint32_t i, bool syn, bool ipv6)
{
    struct eth_header *eth = (struct eth_header *) frame;
    memset(frame, 0, frame_len(ipv6));
    eth->eth_dst = (struct eth_addr) { { { 0xaa, 0x55, 0xaa, 0x55, 0, 0 } } };
    eth->eth_src = (struct eth_addr) { { { 0, 0, 0x5e, 0, 1, 1 } } };
    struct tcp_header *tcp;
    if (ipv6) {
        eth->eth_type = htons(ETH_TYPE_IPV6);
        struct ovs_16aligned_ip6_hdr *ip6 = (void *) (eth + 1);
        put_16aligned_be32(&ip6->ip6_ctlun.ip6_un1.ip6_un1_flow,
                           htonl(6 << 28));
        ip6->ip6_ctlun.ip6_un1.ip6_un1_plen = htons(TCP_HEADER_LEN);
        ip6->ip6_ctlun.ip6_un1.ip6_un1_nxt = IPPROTO_TCP;
        ip6->ip6_ctlun.ip6_un1.ip6_un1_hlim = 64;
        struct in6_addr a = addr6(client6, htonl(0x0a000000 + (i >> 8)));
        memcpy(&ip6->ip6_src, &a, sizeof a);
        a = addr6(vip6, htonl(0x14141464));
        memcpy(&ip6->ip6_dst, &a, sizeof a);
        tcp = (struct tcp_header *) (ip6 + 1);
    } else {
        eth->eth_type = htons(ETH_TYPE_IP);
        struct ip_header *ip = (struct ip_header *) (eth + 1);
        ip->ip_ihl_ver = IP_IHL_VER(5, 4);
        ip->ip_tot_len = htons(FRAME_LEN - ETH_HEADER_LEN);
        ip->ip_ttl = 64;
        ip->ip_proto = IPPROTO_TCP;
        put_16aligned_be32(&ip->ip_src, htonl(0x0a000000 + (i >> 8)));
        put_16aligned_be32(&ip->ip_dst, htonl(0x14141464));
        ip->ip_csum = csum(ip, IP_HEADER_LEN);
        tcp = (struct tcp_header *) (ip + 1);
    }
    tcp->tcp_src = htons(1024 + (i & 0xff));
    tcp->tcp_dst = htons(80);
    tcp->tcp_ctl = TCP_CTL(syn ? TCP_SYN : TCP_ACK, 5);
}

/* A case of the benchmark: the VIPs over which the flows spread, and
 * whether the packets come hot (the same 32 buffers, again and again, as
 * a fast loop on one NIC queue would see them) or cold (each from the
 * next buffer of a pool far larger than the last-level cache, its lines
 * flushed once written, as a NIC's DMA without cache injection leaves
 * them). */
struct bench_case {
    const char *name;
    size_t n_vips;
    size_t n_flows;             /* Established flows. */
    bool cold;
};

#define N_POOLS 64              /* Backend sets, each 8 backends, over which
                                 * many VIPs spread: 64 Maglev tables. */
#define POOL_BUFFERS 65536      /* Buffers of a cold pool... */
#define BUFFER_SIZE 2048        /* ...each as large as an AF_XDP frame. */

/* The VIP of number 'i': 20.20.0.0 plus one. */
static ovs_be32
vip_of(size_t i)
{
    return htonl(0x14140000 + 1 + i);
}

/* The configuration that slb-mux would build for 'n_vips' VIPs, each with
 * a rule for TCP port 80 over one of min(n_vips, N_POOLS) backend sets of
 * N_BACKENDS backends (VIP i over set i mod N_POOLS), all IPv6 if
 * 'ipv6'. */
static struct mux_config *
make_config(size_t n_vips, bool ipv6)
{
    struct mux_config *cfg = mux_config_create();
    cfg->seed = 12345;
    cfg->underlay.pa = htonl(0xc0a81e33);
    cfg->underlay.mac = (struct eth_addr) { { { 0xaa, 0x55, 0xaa, 0x55,
                                                0, 0 } } };
    cfg->underlay.nexthop = (struct eth_addr) { { { 0, 0, 0x5e, 0, 1,
                                                    1 } } };
    cfg->underlay.mtu = 1500;

    size_t n_pools = MIN(n_vips, N_POOLS);
    size_t n_targets = n_pools * N_BACKENDS;
    cfg->targets = xcalloc(n_targets, sizeof *cfg->targets);
    cfg->n_targets = n_targets;
    cfg->maglevs = xmalloc(n_pools * sizeof *cfg->maglevs);
    for (size_t p = 0; p < n_pools; p++) {
        struct maglev_backend backends[N_BACKENDS];
        uint32_t ids[N_BACKENDS];
        for (int i = 0; i < N_BACKENDS; i++) {
            uint32_t id = p * N_BACKENDS + i;
            struct mux_target *t = xzalloc(sizeof *t);
            t->id = id;
            ovs_be32 ca = htonl(0x0a0a0000 + id + 1);
            t->ca = ipv6 ? addr6(backend6, ca) : in6_addr_mapped_ipv4(ca);
            t->pa = htonl(0xc0a80100 + id % 250 + 1);
            t->vni = 5001;
            mux_target_init_header(t, &cfg->underlay);
            cfg->targets[id] = t;

            ids[i] = id;
            backends[i].key = ((uint64_t) (0x0a0a0000 + id + 1) << 32) | 5001;
            backends[i].weight = 1;
        }
        cfg->maglevs[cfg->n_maglevs++] = mux_maglev_create(
            backends, ids, N_BACKENDS, MAGLEV_DEFAULT_SIZE, cfg->seed);
    }

    for (size_t v = 0; v < n_vips; v++) {
        char name[32];
        snprintf(name, sizeof name, "bench%"PRIuSIZE, v);
        struct mux_rule rule = {
            .name = name, .stats_id = v, .type = MUX_RULE_LB,
            .distribution = MUX_DIST_5_TUPLE, .idle_timeout = 240000,
            .maglev = cfg->maglevs[v % n_pools],
            .vip = (ipv6 ? addr6(vip6, vip_of(v))
                    : in6_addr_mapped_ipv4(vip_of(v))),
            .proto = IPPROTO_TCP, .port = 80,
        };
        mux_config_add_vip(cfg, &rule.vip);
        mux_config_add_rule(cfg, &rule);
    }
    cfg->n_stats_ids = n_vips;
    mux_config_finish(cfg);
    return cfg;
}

/* Flows as the generator draws them: source address and port, and VIP. */
struct flow_set {
    ovs_be32 *src;
    ovs_be16 *sport;
    ovs_be32 *dst;
    size_t n;
};

static struct flow_set
make_flows(size_t n, uint32_t first, size_t n_vips)
{
    struct flow_set fs = {
        .src = xmalloc(n * sizeof *fs.src),
        .sport = xmalloc(n * sizeof *fs.sport),
        .dst = xmalloc(n * sizeof *fs.dst),
        .n = n,
    };
    for (size_t i = 0; i < n; i++) {
        uint32_t f = first + i;
        fs.src[i] = htonl(0x0a000000 + (f >> 8));
        fs.sport[i] = htons(1024 + (f & 0xff));
        fs.dst[i] = vip_of(hash_int(f, 0) % n_vips);
    }
    return fs;
}

static void
free_flows(struct flow_set *fs)
{
    free(fs->src);
    free(fs->sport);
    free(fs->dst);
}

/* Flushes from the caches the lines of the 'n' bytes at 'p'. */
static inline void
flush(const void *p, size_t n)
{
#if defined(__x86_64__) || defined(__i386__)
    for (size_t i = 0; i < n; i += 64) {
        __builtin_ia32_clflush((const char *) p + i);
    }
#else
    (void) p;
    (void) n;
#endif
}

/* Stands in for the NIC: writes flow 'i' of 'fs' into the frame at
 * 'frame' (of IPv6 if 'ipv6': the last 32 bits of its addresses), as
 * received data lands in a recycled buffer; if 'cold', it then flushes
 * the frame's lines, and the line before it, where the outer headers will
 * go. */
static inline void
receive(uint8_t *frame, const struct flow_set *fs, size_t i, bool cold,
        bool ipv6)
{
    if (ipv6) {
        struct ovs_16aligned_ip6_hdr *ip6
            = (void *) (frame + ETH_HEADER_LEN);
        put_16aligned_be32(&ip6->ip6_src.be32[3], fs->src[i]);
        put_16aligned_be32(&ip6->ip6_dst.be32[3], fs->dst[i]);
        ((ovs_be16 *) (ip6 + 1))[0] = fs->sport[i];
    } else {
        struct ip_header *ip = (struct ip_header *) (frame + ETH_HEADER_LEN);
        put_16aligned_be32(&ip->ip_src, fs->src[i]);
        put_16aligned_be32(&ip->ip_dst, fs->dst[i]);
        ((ovs_be16 *) (ip + 1))[0] = fs->sport[i];
    }
    if (cold) {
        flush(frame - MUX_ENCAP_LEN, MUX_ENCAP_LEN + frame_len(ipv6));
    }
}

/* Buffers for the packets: a batch of them, used again and again (hot), or
 * a pool of POOL_BUFFERS, a batch after the other (cold). */
struct buffers {
    struct dp_packet **pkts;    /* For the mux. */
    uint8_t **frames;           /* For the baseline: the same frames in
                                 * buffers of the same size. */
    size_t n;
    bool cold;
    bool ipv6;
};

static struct buffers
make_buffers(bool cold, bool syn, bool ipv6)
{
    struct buffers b = { .n = cold ? POOL_BUFFERS : BATCH, .cold = cold,
                         .ipv6 = ipv6 };
    b.pkts = xmalloc(b.n * sizeof *b.pkts);
    b.frames = xmalloc(b.n * sizeof *b.frames);
    for (size_t i = 0; i < b.n; i++) {
        b.pkts[i] = dp_packet_new_with_headroom(BUFFER_SIZE - HEADROOM,
                                                HEADROOM);
        make_frame(dp_packet_put_uninit(b.pkts[i], frame_len(ipv6)), 0, syn,
                   ipv6);
        uint8_t *buf = xmalloc(BUFFER_SIZE);
        b.frames[i] = buf + HEADROOM;
        make_frame(b.frames[i], 0, syn, ipv6);
    }
    return b;
}

static void
free_buffers(struct buffers *b)
{
    for (size_t i = 0; i < b->n; i++) {
        dp_packet_delete(b->pkts[i]);
        free(b->frames[i] - HEADROOM);
    }
    free(b->pkts);
    free(b->frames);
}

/* Runs 'n_packets' packets of the flows in 'fs', in turn, through the
 * packet path, in the buffers of 'b'.  Returns packets per second. */
static double
run_mux(struct mux_pmd *pmd, const struct mux_config *cfg,
        const struct buffers *b, const struct flow_set *fs,
        uint64_t n_packets)
{
    struct dp_packet_batch in, out;
    uint32_t now = 1000;
    double start = now_sec();
    uint64_t done = 0;
    size_t next = 0, buf = 0;

    while (done < n_packets) {
        dp_packet_batch_init(&in);
        for (int i = 0; i < BATCH; i++) {
            struct dp_packet *p = b->pkts[buf + i];
            receive(dp_packet_data(p), fs, next, b->cold, b->ipv6);
            dp_packet_batch_add(&in, p);
            next = next + 1 < fs->n ? next + 1 : 0;
        }
        dp_packet_batch_init(&out);
        mux_dp_process(pmd, cfg, &in, &out, now);
        ovs_assert(dp_packet_batch_size(&out) == BATCH);

        /* Undo the encapsulation, so that the buffers serve again. */
        struct dp_packet *p;
        DP_PACKET_BATCH_FOR_EACH (i, p, &out) {
            dp_packet_pull(p, MUX_ENCAP_LEN);
        }
        done += BATCH;
        buf = buf + BATCH < b->n ? buf + BATCH : 0;
    }
    return done / (now_sec() - start);
}

/* The baseline: the work that the mux must do for a packet of a known or
 * a new flow, with as few instructions as C allows, over the same data
 * structures: the mux's flow table (its own lookup and insert, the same
 * capacities), its Maglev tables and its outer header templates, on plain
 * buffers in the same batches, in two passes as the mux makes (read the
 * headers, find the rule and start loading the flow's bucket; then look
 * the flow up).  Per packet: check that it is IPv4 without options, find
 * its rule by (VIP, port) in an open-addressing table (one probe, almost
 * always), hash the 5-tuple, look the flow up or take its backend from
 * the rule's Maglev table and insert it, count the packet and its bytes
 * against the rule, write the outer headers.  What the mux does besides:
 * dp_packet batches and their metadata, the configuration's
 * indirections, a verdict per packet, a drop reason for every way a
 * packet can be bad, TCP flags (a SYN is placed anew), the fragment,
 * ICMP-error, tunnel and SNAT cases, and the VIP lookup that tells "no
 * rule" from "not a VIP". */
struct bare_rule {
    const struct mux_maglev *maglev;
    uint64_t packets, bytes;
};

struct bare {
    struct mux_flow_table flows;
    uint64_t *rule_keys;        /* Open addressing: bare_rule_key(), 0 for
                                 * an empty slot... */
    uint32_t *rule_index;       /* ...and the rule's index in 'rules'. */
    uint32_t rule_mask;
    struct bare_rule *rules;
    uint32_t seed;
    uint8_t (*headers)[MUX_ENCAP_LEN];
    uint32_t *csums;
};

static inline uint64_t
bare_rule_key(ovs_be32 vip, ovs_be16 port)
{
    return ((uint64_t) (OVS_FORCE uint32_t) vip << 16
            | (OVS_FORCE uint16_t) port) + 1;
}

static inline uint32_t
bare_rule_slot(uint64_t key, uint32_t mask)
{
    return (key * UINT64_C(0x9e3779b97f4a7c15)) >> 32 & mask;
}

static void
bare_init(struct bare *b, const struct mux_config *cfg, size_t n_vips,
          uint32_t table_size, uint32_t new_table_size)
{
    mux_flow_table_init(&b->flows, table_size, new_table_size, 5000);
    uint32_t n_slots = 2;
    while (n_slots < 2 * n_vips) {
        n_slots *= 2;
    }
    b->rule_keys = xzalloc_cacheline(n_slots * sizeof *b->rule_keys);
    b->rule_index = xzalloc_cacheline(n_slots * sizeof *b->rule_index);
    b->rule_mask = n_slots - 1;
    b->rules = xzalloc_cacheline(n_vips * sizeof *b->rules);
    for (size_t v = 0; v < n_vips; v++) {
        uint64_t key = bare_rule_key(vip_of(v), htons(80));
        uint32_t i = bare_rule_slot(key, b->rule_mask);
        while (b->rule_keys[i]) {
            i = (i + 1) & b->rule_mask;
        }
        b->rule_keys[i] = key;
        b->rule_index[i] = v;
        b->rules[v].maglev = cfg->maglevs[v % cfg->n_maglevs];
    }
    b->seed = cfg->seed;
    b->headers = xmalloc(cfg->n_targets * sizeof *b->headers);
    b->csums = xmalloc(cfg->n_targets * sizeof *b->csums);
    for (size_t i = 0; i < cfg->n_targets; i++) {
        memcpy(b->headers[i], cfg->targets[i]->header, MUX_ENCAP_LEN);
        b->csums[i] = cfg->targets[i]->header_csum;
    }
}

static void
bare_destroy(struct bare *b)
{
    mux_flow_table_destroy(&b->flows);
    free_cacheline(b->rule_keys);
    free_cacheline(b->rule_index);
    free_cacheline(b->rules);
    free(b->headers);
    free(b->csums);
}

/* What the baseline's first pass learns of a packet. */
struct bare_packet {
    struct mux_flow_key key;
    uint32_t hash;
    uint16_t ip_len;
    struct bare_rule *rule;
};

static inline void
bare_parse(struct bare *b, const uint8_t *frame, struct bare_packet *bp)
{
    const struct ip_header *ip = (const struct ip_header *)
                                 (frame + ETH_HEADER_LEN);
    if (((const struct eth_header *) frame)->eth_type != htons(ETH_TYPE_IP)
        || ip->ip_ihl_ver != IP_IHL_VER(5, 4)) {
        abort();
    }
    const struct tcp_header *tcp = (const struct tcp_header *) (ip + 1);
    bp->key = (struct mux_flow_key) {
        .sport = tcp->tcp_src, .dport = tcp->tcp_dst,
        .proto = ip->ip_proto,
    };
    ovs_be32 dst = get_16aligned_be32(&ip->ip_dst);
    mux_flow_key_set_ipv4(&bp->key, get_16aligned_be32(&ip->ip_src), dst);
    bp->ip_len = ntohs(ip->ip_tot_len);

    uint64_t key = bare_rule_key(dst, bp->key.dport);
    uint32_t r = bare_rule_slot(key, b->rule_mask);
    while (b->rule_keys[r] != key) {
        r = (r + 1) & b->rule_mask;
    }
    bp->rule = &b->rules[b->rule_index[r]];
    bp->hash = mux_flow_hash(&bp->key, b->seed);

    /* As the mux does: a SYN probably starts a flow, whose Maglev entry
     * and every bucket it may go to are loaded too. */
    bool syn = (ntohs(tcp->tcp_ctl) & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    mux_flow_prefetch(&b->flows, bp->hash, false, syn);
    if (syn) {
        const struct mux_maglev *m = bp->rule->maglev;
        OVS_PREFETCH(&m->entries[((uint64_t) bp->hash * m->size) >> 32]);
    }
}

static inline void
bare_forward(struct bare *b, uint8_t *frame, const struct bare_packet *bp,
             uint32_t now)
{
    uint32_t backend = mux_flow_lookup(&b->flows, &bp->key, bp->hash, now,
                                       240000);
    if (backend == MUX_FLOW_NONE) {
        const struct mux_maglev *m = bp->rule->maglev;
        backend = m->ids[m->entries[((uint64_t) bp->hash * m->size) >> 32]];
        mux_flow_insert(&b->flows, &bp->key, bp->hash, backend, now, 240000);
    }
    bp->rule->packets++;
    bp->rule->bytes += bp->ip_len;

    uint8_t *h = frame - MUX_ENCAP_LEN;
    memcpy(h, b->headers[backend], MUX_ENCAP_LEN);
    struct ip_header *oip = (struct ip_header *) (h + ETH_HEADER_LEN);
    uint16_t outer_len = bp->ip_len + MUX_ENCAP_LEN;
    oip->ip_tot_len = htons(outer_len);
    oip->ip_csum = csum_finish(b->csums[backend] + htons(outer_len));
    struct udp_header *udp = (struct udp_header *) (oip + 1);
    udp->udp_src = htons(0xc000 | (bp->hash & 0x3fff));
    udp->udp_len = htons(outer_len - IP_HEADER_LEN);
}

/* The baseline's loop: batches of 32, received as for the mux, then
 * handled in two passes. */
static double
run_bare(struct bare *b, const struct buffers *bufs,
         const struct flow_set *fs, uint64_t n_packets)
{
    double start = now_sec();
    size_t next = 0, buf = 0;
    struct bare_packet bps[BATCH];

    for (uint64_t done = 0; done < n_packets; done += BATCH) {
        uint8_t **frames = &bufs->frames[buf];
        for (int i = 0; i < BATCH; i++) {
            receive(frames[i], fs, next, bufs->cold, false);
            next = next + 1 < fs->n ? next + 1 : 0;
        }
        for (int i = 0; i < BATCH; i++) {
            bare_parse(b, frames[i], &bps[i]);
        }
        for (int i = 0; i < BATCH; i++) {
            bare_forward(b, frames[i], &bps[i], 1000);
        }
        buf = buf + BATCH < bufs->n ? buf + BATCH : 0;
    }
    return n_packets / (now_sec() - start);
}

/* A flow of a flood from many sources, 'i' from 0. */
static struct mux_flow_key
flood_key(uint32_t i)
{
    struct mux_flow_key key = {
        .sport = htons(1024 + (i & 63)),
        .dport = htons(80),
        .proto = IPPROTO_TCP,
    };
    mux_flow_key_set_ipv4(&key, htonl(0x0a000000 + (i >> 6)),
                          htonl(0x14141464));
    return key;
}

/* Prints how full each region of a flow table of 'est' and 'new' entries
 * is when it first turns a flow away. */
static void
bench_occupancy(uint32_t est, uint32_t new)
{
    struct mux_flow_table t;
    uint32_t now = 1000, i;

    mux_flow_table_init(&t, est, new, 5000);
    uint32_t new_entries = (t.new.mask + 1) * MUX_FLOW_WAYS;
    for (i = 0; i < new_entries && !t.stats.evicted_new; i++) {
        struct mux_flow_key k = flood_key(i);
        mux_flow_insert(&t, &k, mux_flow_hash(&k, 12345), 0, now, 60000);
    }
    printf("flow table, new region of %"PRIu32" entries: first eviction "
           "by a SYN flood at %.1f%% occupancy\n", new_entries,
           100.0 * (i - 1) / new_entries);
    mux_flow_table_destroy(&t);

    mux_flow_table_init(&t, est, new, 5000);
    uint32_t est_entries = (t.est.mask + 1) * MUX_FLOW_WAYS;
    for (i = 0; i < est_entries && !t.stats.established_full; i++) {
        struct mux_flow_key k = flood_key(i);
        uint32_t hash = mux_flow_hash(&k, 12345);
        mux_flow_insert(&t, &k, hash, 0, now, 60000);
        mux_flow_lookup(&t, &k, hash, now, 60000);
    }
    printf("flow table, established region of %"PRIu32" entries: first "
           "flow refused at %.1f%% occupancy\n", est_entries,
           100.0 * (i - 1) / est_entries);
    mux_flow_table_destroy(&t);
}

static void
bench_maglev(uint32_t size, double paper_ms)
{
    enum { N = 1000, ROUNDS = 5 };
    struct maglev_backend *backends = xmalloc(N * sizeof *backends);
    uint16_t *entries = xmalloc(size * sizeof *entries);

    for (int i = 0; i < N; i++) {
        backends[i].key = ((uint64_t) (0x0a000000 + i) << 32) | 5001;
        backends[i].weight = 1;
    }
    maglev_build(backends, N, 1, size, entries);   /* Warm up. */
    double start = now_sec();
    for (int r = 0; r < ROUNDS; r++) {
        maglev_build(backends, N, r, size, entries);
    }
    double ms = (now_sec() - start) / ROUNDS * 1e3;
    printf("maglev build, 1000 backends, M = %-7"PRIu32": %7.2f ms   "
           "(paper %5.1f ms, ratio %.2f)\n", size, ms, paper_ms,
           ms / paper_ms);
    free(entries);
    free(backends);
}

/* Rounds of each measurement, the mux's and the baseline's in turn, so
 * that both meet the same noise of a shared machine. */
#define ROUNDS 5

/* The packets per second of ROUNDS rounds: their median, least and
 * most. */
struct rate {
    double rounds[ROUNDS];
    double median, min, max;
};

static int
compare_doubles(const void *a_, const void *b_)
{
    const double *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

static void
rate_finish(struct rate *r)
{
    double sorted[ROUNDS];
    memcpy(sorted, r->rounds, sizeof sorted);
    qsort(sorted, ROUNDS, sizeof *sorted, compare_doubles);
    r->median = sorted[ROUNDS / 2];
    r->min = sorted[0];
    r->max = sorted[ROUNDS - 1];
}

/* One row of the results. */
struct result {
    char label[96];
    struct rate mux, bare;
};

/* Runs case 'c' for IPv6 and IPv4 flows, in turn, ROUNDS rounds each of
 * established flows, then of new ones, and appends two rows to 'results':
 * IPv6's as 'mux', IPv4's as 'bare'. */
static void
run_case6(const struct bench_case *c, uint32_t table_size,
          uint32_t new_table_size, uint64_t n_packets,
          struct result *results, size_t *n_results)
{
    struct mux_config *cfgs[2];
    struct mux_pmd pmds[2];
    struct buffers bufs[2], syns[2];
    struct flow_set est = make_flows(c->n_flows, 0, c->n_vips);
    for (int f = 0; f < 2; f++) {
        cfgs[f] = make_config(c->n_vips, f);
        mux_pmd_init(&pmds[f], table_size, new_table_size, 5000);
        mux_pmd_prepare(&pmds[f], cfgs[f]);
        bufs[f] = make_buffers(c->cold, false, f);
        syns[f] = make_buffers(c->cold, true, f);
        run_mux(&pmds[f], cfgs[f], &bufs[f], &est, 2 * c->n_flows);
    }

    struct result *r = &results[(*n_results)++];
    snprintf(r->label, sizeof r->label, "%s, established", c->name);
    for (int i = 0; i < ROUNDS; i++) {
        r->mux.rounds[i] = run_mux(&pmds[1], cfgs[1], &bufs[1], &est,
                                   n_packets / ROUNDS);
        r->bare.rounds[i] = run_mux(&pmds[0], cfgs[0], &bufs[0], &est,
                                    n_packets / ROUNDS);
    }
    rate_finish(&r->mux);
    rate_finish(&r->bare);

    r = &results[(*n_results)++];
    snprintf(r->label, sizeof r->label, "%s, new flows", c->name);
    for (int i = 0; i < ROUNDS; i++) {
        struct flow_set new = make_flows(N_NEW_FLOWS / ROUNDS,
                                         (1 << 24) + i * N_NEW_FLOWS,
                                         c->n_vips);
        r->mux.rounds[i] = run_mux(&pmds[1], cfgs[1], &syns[1], &new,
                                   new.n);
        r->bare.rounds[i] = run_mux(&pmds[0], cfgs[0], &syns[0], &new,
                                    new.n);
        free_flows(&new);
    }
    rate_finish(&r->mux);
    rate_finish(&r->bare);

    free_flows(&est);
    for (int f = 0; f < 2; f++) {
        free_buffers(&bufs[f]);
        free_buffers(&syns[f]);
        mux_pmd_destroy(&pmds[f]);
        mux_config_destroy(cfgs[f]);
    }
}

/* Runs 'c', established flows then new ones, for the mux and the
 * baseline, in turn, ROUNDS rounds of 'n_packets' / ROUNDS established
 * packets each, and appends two rows to 'results'. */
static void
run_case(const struct bench_case *c, uint32_t table_size,
         uint32_t new_table_size, uint64_t n_packets,
         struct result *results, size_t *n_results)
{
    struct mux_config *cfg = make_config(c->n_vips, false);
    struct mux_pmd pmd;
    mux_pmd_init(&pmd, table_size, new_table_size, 5000);
    mux_pmd_prepare(&pmd, cfg);
    struct bare bare;
    bare_init(&bare, cfg, c->n_vips, table_size, new_table_size);

    /* Established: two passes make every flow established in the mux's
     * table; the baseline's takes them too. */
    struct flow_set est = make_flows(c->n_flows, 0, c->n_vips);
    struct buffers bufs = make_buffers(c->cold, false, false);
    run_mux(&pmd, cfg, &bufs, &est, 2 * c->n_flows);
    run_bare(&bare, &bufs, &est, 2 * c->n_flows);
    struct result *r = &results[(*n_results)++];
    snprintf(r->label, sizeof r->label, "%s, established", c->name);
    for (int i = 0; i < ROUNDS; i++) {
        r->mux.rounds[i] = run_mux(&pmd, cfg, &bufs, &est,
                                   n_packets / ROUNDS);
        r->bare.rounds[i] = run_bare(&bare, &bufs, &est, n_packets / ROUNDS);
    }
    rate_finish(&r->mux);
    rate_finish(&r->bare);
    free_buffers(&bufs);
    free_flows(&est);

    /* New flows: in each round, flows never seen before, far more than the
     * new region holds, so that every packet is a miss. */
    struct buffers syns = make_buffers(c->cold, true, false);
    r = &results[(*n_results)++];
    snprintf(r->label, sizeof r->label, "%s, new flows", c->name);
    for (int i = 0; i < ROUNDS; i++) {
        struct flow_set new = make_flows(N_NEW_FLOWS / ROUNDS,
                                         (1 << 24) + i * N_NEW_FLOWS,
                                         c->n_vips);
        r->mux.rounds[i] = run_mux(&pmd, cfg, &syns, &new, new.n);
        r->bare.rounds[i] = run_bare(&bare, &syns, &new, new.n);
        free_flows(&new);
    }
    rate_finish(&r->mux);
    rate_finish(&r->bare);
    free_buffers(&syns);

    bare_destroy(&bare);
    mux_pmd_destroy(&pmd);
    mux_config_destroy(cfg);
}

typedef void run_case_func(const struct bench_case *, uint32_t table_size,
                           uint32_t new_table_size, uint64_t n_packets,
                           struct result *, size_t *n_results);

/* Runs each of the 'n' cases 'cases' with 'run', which appends its rows to
 * 'results', and prints them as they come: the first figure of each row,
 * the second, and their ratio. */
static void
run_cases(const struct bench_case cases[], size_t n, run_case_func *run,
          uint32_t table_size, uint32_t new_table_size, uint64_t n_packets,
          struct result *results, size_t *n_results)
{
    for (size_t i = 0; i < n; i++) {
        const struct bench_case *c = &cases[i];
        char name[64];
        snprintf(name, sizeof name, "%s, %"PRIuSIZE" flows", c->name,
                 c->n_flows);
        struct bench_case named = *c;
        named.name = name;
        uint64_t n_case = (n_packets ? n_packets
                           : c->cold ? 20000000 : 50000000);
        size_t first = *n_results;
        run(&named, table_size, new_table_size, n_case, results, n_results);
        for (size_t j = first; j < *n_results; j++) {
            const struct result *r = &results[j];
            printf("%-52s %6.2f (%5.2f-%5.2f) %6.2f (%5.2f-%5.2f) %6.2f\n",
                   r->label, r->mux.median / 1e6, r->mux.min / 1e6,
                   r->mux.max / 1e6, r->bare.median / 1e6,
                   r->bare.min / 1e6, r->bare.max / 1e6,
                   r->mux.median / r->bare.median);
        }
    }
}

int
main(int argc, char *argv[])
{
    bool callgrind = false;
    bool ipv6 = false;
    const char *data = NULL;
    uint64_t n_packets = 0;
    size_t n_est_flows = N_EST_FLOWS;
    uint32_t table_size = 1 << 20, new_table_size = 1 << 18;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--callgrind")) {
            callgrind = true;
        } else if (!strcmp(argv[i], "--ipv6")) {
            ipv6 = true;
        } else if (!strncmp(argv[i], "--flows=", 8)) {
            n_est_flows = atoi(argv[i] + 8);
        } else if (!strncmp(argv[i], "--flow-table-size=", 18)) {
            table_size = atoi(argv[i] + 18);
        } else if (!strncmp(argv[i], "--new-flow-table-size=", 22)) {
            new_table_size = atoi(argv[i] + 22);
        } else if (!strncmp(argv[i], "--packets=", 10)) {
            n_packets = strtoull(argv[i] + 10, NULL, 10);
        } else if (!strncmp(argv[i], "--data=", 7)) {
            data = argv[i] + 7;
        }
    }

    set_program_name(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--occupancy")) {
            bench_occupancy(table_size, new_table_size);
            return 0;
        }
    }

    if (callgrind) {
        struct mux_config *cfg = make_config(1, ipv6);
        struct mux_pmd pmd;
        mux_pmd_init(&pmd, table_size, new_table_size, 5000);
        mux_pmd_prepare(&pmd, cfg);
        struct buffers bufs = make_buffers(false, false, ipv6);
        struct flow_set est = make_flows(n_est_flows, 0, 1);
        n_packets = n_packets ? n_packets : 1000000;
        /* Two passes make every flow established. */
        run_mux(&pmd, cfg, &bufs, &est, 2 * n_est_flows);
        run_mux(&pmd, cfg, &bufs, &est, n_packets);
        printf("mux_dp_process() saw %"PRIu64" packets, %"PRIu64" of "
               "established flows\n", 2 * n_est_flows + n_packets,
               n_packets);
        return 0;
    }

    const struct bench_case cases[] = {
        { "hot buffers, 1 VIP", 1, n_est_flows, false },
        { "cold buffers, 10000 VIPs", 10000, 4 * n_est_flows, true },
    };
    printf("one core, batches of %d, %d-byte TCP frames, %d backends per "
           "VIP (%d backend sets, so Maglev tables, at most), flow table %"
           PRIu32" + %"PRIu32" entries; hot: the same %d buffers again and "
           "again; cold: a pool of %d buffers of %d bytes, each frame "
           "flushed from the caches once written\n", BATCH, FRAME_LEN,
           N_BACKENDS, N_POOLS, table_size, new_table_size, BATCH,
           POOL_BUFFERS, BUFFER_SIZE);
    printf("baseline: the same work with the fewest instructions, over the "
           "same flow table, Maglev tables, header templates, batches and "
           "buffers; it leaves out dp_packet metadata, verdicts, drop "
           "reasons, TCP flags and the fragment, ICMP-error, tunnel and "
           "SNAT cases (see the source)\n\n");
    printf("Mpps: the median of %d rounds, the mux's and the baseline's in "
           "turn, with the least and the most; the ratio of the medians\n",
           ROUNDS);
    printf("%-52s %21s %21s %6s\n", "case", "mux", "baseline", "ratio");

    struct result results[4 * ARRAY_SIZE(cases)];
    size_t n_results = 0;
    run_cases(cases, ARRAY_SIZE(cases), run_case, table_size,
              new_table_size, n_packets, results, &n_results);

    printf("\nIPv6 beside IPv4: the mux's packet path for flows of IPv6 "
           "(%d-byte frames) and of IPv4 of the same case, in turn; Mpps "
           "as above, and the ratio of the medians\n", (int) FRAME6_LEN);
    printf("%-52s %21s %21s %6s\n", "case", "IPv6", "IPv4", "ratio");
    size_t n_ipv4 = n_results;
    run_cases(cases, ARRAY_SIZE(cases), run_case6, table_size,
              new_table_size, n_packets, results, &n_results);
    if (data) {
        FILE *f = fopen(data, "w");
        if (!f) {
            ovs_fatal(errno, "%s: could not create", data);
        }
        fprintf(f, "# case, mux and baseline Mpps (median), mux least "
                "and most, baseline least and most\n");
        for (size_t j = 0; j < n_ipv4; j++) {
            const struct result *r = &results[j];
            fprintf(f, "\"%s\" %.3f %.3f %.3f %.3f %.3f %.3f\n", r->label,
                    r->mux.median / 1e6, r->bare.median / 1e6,
                    r->mux.min / 1e6, r->mux.max / 1e6, r->bare.min / 1e6,
                    r->bare.max / 1e6);
        }
        fclose(f);
    }
    printf("\n");

    bench_maglev(65537, 1.8);
    bench_maglev(655373, 22.9);
    bench_occupancy(table_size, new_table_size);
    return 0;
}
