/* SPDX-License-Identifier: Apache-2.0 */
/* slb-mux-bench: measures the mux's packet path in memory, without I/O.
 *
 * It builds a configuration as slb-mux would (one VIP, one rule, eight
 * backends, a Maglev table of 65537 entries), generates packets, and pushes
 * them in batches of 32 through mux_dp_process(), the same function that
 * slb-mux runs, on one core:
 *
 *   - established: packets of 65536 flows that the flow table knows;
 *   - new: TCP SYNs of flows never seen before (Maglev lookup and insert).
 *
 * Beside each figure it prints a baseline measured in the same run: a bare
 * C loop doing the same work on plain buffers (parse, flow table or Maglev
 * lookup, write the outer headers), without OVS's dp_packet and without
 * the configuration's indirections, and the ratio of the two.
 *
 * It also times Maglev table builds for 1000 backends at M = 65537 and
 * 655373 against the figures of the Maglev paper (1.8 ms and 22.9 ms), and
 * measures how full each region of a flow table of the default size gets
 * before it must turn a flow away: the new region under a flood of SYNs of
 * distinct flows (until one evicts another), the established region as
 * distinct flows send their second packet (until one finds no room).
 *
 * With --callgrind it runs a fixed number of established packets only, for
 * "valgrind --tool=callgrind --toggle-collect=mux_dp_process"; with
 * --occupancy, it only measures the flow table's occupancy. */

#include <config.h>

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

static double
now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Writes into 'frame' a minimum-size TCP frame of flow number 'i', a SYN
 * if 'syn', else an ACK. */
static void
make_frame(uint8_t *frame, uint32_t i, bool syn)
{
    struct eth_header *eth = (struct eth_header *) frame;
    memset(frame, 0, FRAME_LEN);
    eth->eth_dst = (struct eth_addr) { { { 0xaa, 0x55, 0xaa, 0x55, 0, 0 } } };
    eth->eth_src = (struct eth_addr) { { { 0, 0, 0x5e, 0, 1, 1 } } };
    eth->eth_type = htons(ETH_TYPE_IP);

    struct ip_header *ip = (struct ip_header *) (eth + 1);
    ip->ip_ihl_ver = IP_IHL_VER(5, 4);
    ip->ip_tot_len = htons(FRAME_LEN - ETH_HEADER_LEN);
    ip->ip_ttl = 64;
    ip->ip_proto = IPPROTO_TCP;
    put_16aligned_be32(&ip->ip_src, htonl(0x0a000000 + (i >> 8)));
    put_16aligned_be32(&ip->ip_dst, htonl(0x14141464));
    ip->ip_csum = csum(ip, IP_HEADER_LEN);

    struct tcp_header *tcp = (struct tcp_header *) (ip + 1);
    tcp->tcp_src = htons(1024 + (i & 0xff));
    tcp->tcp_dst = htons(80);
    tcp->tcp_ctl = TCP_CTL(syn ? TCP_SYN : TCP_ACK, 5);
}

/* The configuration that slb-mux would build for the benchmark's rule. */
static struct mux_config *
make_config(void)
{
    struct mux_config *cfg = mux_config_create();
    cfg->seed = 12345;
    cfg->underlay.pa = htonl(0xc0a81e33);
    cfg->underlay.mac = (struct eth_addr) { { { 0xaa, 0x55, 0xaa, 0x55,
                                                0, 0 } } };
    cfg->underlay.nexthop = (struct eth_addr) { { { 0, 0, 0x5e, 0, 1,
                                                    1 } } };
    cfg->underlay.mtu = 1500;

    struct mux_maglev *m = xzalloc(sizeof *m);
    m->size = MAGLEV_DEFAULT_SIZE;
    m->seed = cfg->seed;
    m->n = N_BACKENDS;
    m->entries = xmalloc(m->size * sizeof *m->entries);
    m->ids = xmalloc(N_BACKENDS * sizeof *m->ids);
    m->keys = xmalloc(N_BACKENDS * sizeof *m->keys);
    m->weights = xmalloc(N_BACKENDS * sizeof *m->weights);
    ovs_refcount_init(&m->refcount);

    struct maglev_backend backends[N_BACKENDS];
    cfg->targets = xcalloc(N_BACKENDS, sizeof *cfg->targets);
    cfg->n_targets = N_BACKENDS;
    for (int i = 0; i < N_BACKENDS; i++) {
        struct mux_target *t = xzalloc(sizeof *t);
        t->id = i;
        t->ca = htonl(0x0a0a0a0b + i);
        t->pa = htonl(0xc0a8010b + i);
        t->vni = 5001;
        mux_target_init_header(t, &cfg->underlay);
        cfg->targets[i] = t;

        m->ids[i] = i;
        m->keys[i] = backends[i].key = ((uint64_t) ntohl(t->ca) << 32) | 5001;
        m->weights[i] = backends[i].weight = 1;
    }
    maglev_build(backends, N_BACKENDS, cfg->seed, m->size, m->entries);
    cfg->maglevs = xmalloc(sizeof *cfg->maglevs);
    cfg->maglevs[0] = m;
    cfg->n_maglevs = 1;

    struct mux_rule rule = {
        .name = "bench", .stats_id = 0, .type = MUX_RULE_LB,
        .distribution = MUX_DIST_5_TUPLE, .idle_timeout = 240000,
        .maglev = m, .vip = htonl(0x14141464), .proto = IPPROTO_TCP,
        .port = 80,
    };
    mux_config_add_vip(cfg, rule.vip);
    mux_config_add_rule(cfg, &rule);
    cfg->n_stats_ids = 1;
    mux_config_finish(cfg);
    return cfg;
}

/* Flows as the generator draws them: source address and port. */
struct flow_set {
    ovs_be32 *src;
    ovs_be16 *sport;
    size_t n;
};

static struct flow_set
make_flows(size_t n, uint32_t first)
{
    struct flow_set fs = {
        .src = xmalloc(n * sizeof *fs.src),
        .sport = xmalloc(n * sizeof *fs.sport),
        .n = n,
    };
    for (size_t i = 0; i < n; i++) {
        uint32_t f = first + i;
        fs.src[i] = htonl(0x0a000000 + (f >> 8));
        fs.sport[i] = htons(1024 + (f & 0xff));
    }
    return fs;
}

/* Stands in for the NIC: writes flow 'i' of 'fs' into the frame at
 * 'frame', as received data lands in a recycled buffer. */
static inline void
receive(uint8_t *frame, const struct flow_set *fs, size_t i)
{
    struct ip_header *ip = (struct ip_header *) (frame + ETH_HEADER_LEN);
    put_16aligned_be32(&ip->ip_src, fs->src[i]);
    ((ovs_be16 *) (ip + 1))[0] = fs->sport[i];
}

/* Runs 'n_packets' packets of the flows in 'fs', in turn, through the
 * packet path, in recycled buffers.  Returns packets per second. */
static double
run_mux(struct mux_pmd *pmd, const struct mux_config *cfg,
        struct dp_packet **pkts, const struct flow_set *fs,
        uint64_t n_packets)
{
    struct dp_packet_batch in, out;
    uint32_t now = 1000;
    double start = now_sec();
    uint64_t done = 0;
    size_t next = 0;

    while (done < n_packets) {
        dp_packet_batch_init(&in);
        for (int i = 0; i < BATCH; i++) {
            receive(dp_packet_data(pkts[i]), fs, next);
            dp_packet_batch_add(&in, pkts[i]);
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
    }
    return done / (now_sec() - start);
}

/* The baseline: the same work on plain buffers. */
struct bare_flow {
    uint32_t src, dst;
    uint32_t ports;
    uint32_t hash;
    uint32_t backend;
    uint32_t expires;
};

struct bare {
    struct bare_flow *flows;    /* 4-way buckets. */
    uint32_t mask;
    const uint16_t *maglev;
    uint32_t size;
    uint8_t headers[N_BACKENDS][MUX_ENCAP_LEN];
    uint32_t csums[N_BACKENDS];
};

static inline uint32_t
bare_hash(const uint8_t *frame)
{
    const struct ip_header *ip = (const struct ip_header *)
                                 (frame + ETH_HEADER_LEN);
    uint32_t ports;
    memcpy(&ports, ip + 1, 4);
    return hash_finish(hash_add(hash_add(hash_add(
                                             0, get_16aligned_be32(
                                                 &ip->ip_src)),
                                         get_16aligned_be32(&ip->ip_dst)),
                                ports), 12) | 1;
}

static inline void
bare_packet(struct bare *b, uint8_t *frame, uint32_t hash, uint32_t now)
{
    const struct ip_header *ip = (const struct ip_header *)
                                 (frame + ETH_HEADER_LEN);
    if (((const struct eth_header *) frame)->eth_type != htons(ETH_TYPE_IP)
        || ip->ip_ihl_ver != IP_IHL_VER(5, 4)) {
        abort();
    }
    uint32_t src = get_16aligned_be32(&ip->ip_src);
    uint32_t dst = get_16aligned_be32(&ip->ip_dst);
    uint32_t ports;
    memcpy(&ports, ip + 1, 4);

    struct bare_flow *bucket = &b->flows[(hash & b->mask) * 4];
    uint32_t backend = UINT32_MAX;
    for (int i = 0; i < 4; i++) {
        struct bare_flow *f = &bucket[i];
        if (f->hash == hash && f->src == src && f->dst == dst
            && f->ports == ports) {
            f->expires = now + 240000;
            backend = f->backend;
            break;
        }
    }
    if (backend == UINT32_MAX) {
        backend = b->maglev[((uint64_t) hash * b->size) >> 32];
        struct bare_flow *f = &bucket[hash & 3];
        f->src = src;
        f->dst = dst;
        f->ports = ports;
        f->hash = hash;
        f->backend = backend;
        f->expires = now + 5000;
    }

    uint16_t ip_len = ntohs(ip->ip_tot_len);
    uint8_t *h = frame - MUX_ENCAP_LEN;
    memcpy(h, b->headers[backend], MUX_ENCAP_LEN);
    struct ip_header *oip = (struct ip_header *) (h + ETH_HEADER_LEN);
    uint16_t outer_len = ip_len + MUX_ENCAP_LEN;
    oip->ip_tot_len = htons(outer_len);
    oip->ip_csum = csum_finish(b->csums[backend] + htons(outer_len));
    struct udp_header *udp = (struct udp_header *) (oip + 1);
    udp->udp_src = htons(0xc000 | (hash & 0x3fff));
    udp->udp_len = htons(outer_len - IP_HEADER_LEN);
}

/* The baseline's loop: batches of 32, hashes and prefetches first, as the
 * packet path does. */
static double
run_bare(struct bare *b, uint8_t **frames, const struct flow_set *fs,
         uint64_t n_packets)
{
    double start = now_sec();
    size_t next = 0;
    uint32_t hashes[BATCH];

    for (uint64_t done = 0; done < n_packets; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            receive(frames[i], fs, next);
            hashes[i] = bare_hash(frames[i]);
            OVS_PREFETCH(&b->flows[(hashes[i] & b->mask) * 4]);
            next = next + 1 < fs->n ? next + 1 : 0;
        }
        for (int i = 0; i < BATCH; i++) {
            bare_packet(b, frames[i], hashes[i], 1000);
        }
    }
    return n_packets / (now_sec() - start);
}

/* A batch of recycled buffers, each holding a frame of the benchmark's
 * rule. */
static struct dp_packet **
make_packets(bool syn)
{
    struct dp_packet **pkts = xmalloc(BATCH * sizeof *pkts);
    for (size_t i = 0; i < BATCH; i++) {
        pkts[i] = dp_packet_new_with_headroom(FRAME_LEN, HEADROOM);
        make_frame(dp_packet_put_uninit(pkts[i], FRAME_LEN), 0, syn);
    }
    return pkts;
}

static uint8_t **
make_frames(bool syn)
{
    uint8_t **frames = xmalloc(BATCH * sizeof *frames);
    for (size_t i = 0; i < BATCH; i++) {
        uint8_t *buf = xmalloc(HEADROOM + FRAME_LEN);
        frames[i] = buf + HEADROOM;
        make_frame(frames[i], 0, syn);
    }
    return frames;
}

/* A flow of a flood from many sources, 'i' from 0. */
static struct mux_flow_key
flood_key(uint32_t i)
{
    return (struct mux_flow_key) {
        .src = htonl(0x0a000000 + (i >> 6)),
        .dst = htonl(0x14141464),
        .sport = htons(1024 + (i & 63)),
        .dport = htons(80),
        .proto = IPPROTO_TCP,
    };
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

int
main(int argc, char *argv[])
{
    bool callgrind = false;
    for (int i = 1; i < argc; i++) {
        callgrind |= !strcmp(argv[i], "--callgrind");
    }
    uint64_t n_packets = callgrind ? 1000000 : 50000000;
    size_t n_est_flows = N_EST_FLOWS;
    uint32_t table_size = 1 << 20, new_table_size = 1 << 18;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "--flows=", 8)) {
            n_est_flows = atoi(argv[i] + 8);
        } else if (!strncmp(argv[i], "--flow-table-size=", 18)) {
            table_size = atoi(argv[i] + 18);
        } else if (!strncmp(argv[i], "--new-flow-table-size=", 22)) {
            new_table_size = atoi(argv[i] + 22);
        } else if (!strncmp(argv[i], "--packets=", 10)) {
            n_packets = strtoull(argv[i] + 10, NULL, 10);
        }
    }

    set_program_name(argv[0]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--occupancy")) {
            bench_occupancy(table_size, new_table_size);
            return 0;
        }
    }
    struct mux_config *cfg = make_config();
    struct mux_pmd pmd;
    mux_pmd_init(&pmd, table_size, new_table_size, 5000);
    mux_pmd_prepare(&pmd, cfg);

    struct dp_packet **pkts = make_packets(false);
    struct flow_set est = make_flows(n_est_flows, 0);

    /* Two passes make every flow established. */
    run_mux(&pmd, cfg, pkts, &est, 2 * n_est_flows);
    if (callgrind) {
        run_mux(&pmd, cfg, pkts, &est, n_packets);
        printf("mux_dp_process() saw %"PRIu64" packets, %"PRIu64" of "
               "established flows\n", 2 * n_est_flows + n_packets,
               n_packets);
        return 0;
    }

    struct bare bare;
    /* The baseline's table is as large as the established region. */
    size_t bare_entries = (pmd.flows.est.mask + 1) * MUX_FLOW_WAYS;
    bare.flows = xzalloc_cacheline(bare_entries * sizeof *bare.flows);
    bare.mask = bare_entries / 4 - 1;
    bare.maglev = cfg->maglevs[0]->entries;
    bare.size = cfg->maglevs[0]->size;
    for (int i = 0; i < N_BACKENDS; i++) {
        memcpy(bare.headers[i], cfg->targets[i]->header, MUX_ENCAP_LEN);
        bare.csums[i] = cfg->targets[i]->header_csum;
    }
    uint8_t **frames = make_frames(false);
    run_bare(&bare, frames, &est, 2 * n_est_flows);

    printf("one core, %d-packet batches, %d-byte frames, %d backends, "
           "%"PRIuSIZE" established flows, flow table %"PRIu32" + %"PRIu32
           " entries\n", BATCH, FRAME_LEN, N_BACKENDS, n_est_flows,
           table_size, new_table_size);
    double mux_est = run_mux(&pmd, cfg, pkts, &est, n_packets);
    double bare_est = run_bare(&bare, frames, &est, n_packets);
    printf("established flows: %6.2f Mpps   (bare C %6.2f Mpps, ratio "
           "%.2f)\n", mux_est / 1e6, bare_est / 1e6, mux_est / bare_est);

    /* New flows: 4 Mi distinct flows, far more than the new region holds,
     * so that every packet is a miss. */
    struct flow_set new = make_flows(N_NEW_FLOWS, 1 << 24);
    struct dp_packet **syns = make_packets(true);
    uint8_t **syn_frames = make_frames(true);
    uint64_t misses = pmd.flows.stats.misses;
    double mux_new = run_mux(&pmd, cfg, syns, &new, N_NEW_FLOWS);
    misses = pmd.flows.stats.misses - misses;
    double bare_new = run_bare(&bare, syn_frames, &new, N_NEW_FLOWS);
    printf("new flows:         %6.2f Mpps   (bare C %6.2f Mpps, ratio "
           "%.2f; %.1f%% were flow table misses)\n", mux_new / 1e6,
           bare_new / 1e6, mux_new / bare_new,
           100.0 * misses / N_NEW_FLOWS);

    bench_maglev(65537, 1.8);
    bench_maglev(655373, 22.9);
    bench_occupancy(table_size, new_table_size);
    return 0;
}
