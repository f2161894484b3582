/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for mux/mux-dp.c: how a packet thread's state follows the
 * configurations that the main thread swaps in. */

#include <config.h>

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csum.h"
#include "dp-packet.h"
#include "lib/lb.h"
#include "maglev.h"
#include "mux-dp.h"
#include "mux-history.h"
#include "mux-ids.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "path-probe.h"
#include "slb-check.h"
#include "smap.h"
#include "timeval.h"
#include "util.h"
#include "vswitch-ext/pipeline.h"

/* A configuration is known by its generation, not its address: when a
 * freed configuration's memory comes back as the next one, with more
 * rules, the thread's counters must still grow to cover them. */
START_TEST(test_prepare_follows_generation)
{
    struct mux_pmd pmd;
    mux_pmd_init(&pmd, 1024, 1024, 5000);

    struct mux_config *a = mux_config_create();
    a->n_stats_ids = 1;
    ck_assert(!mux_pmd_is_prepared(&pmd, a));
    mux_pmd_prepare(&pmd, a);
    ck_assert(mux_pmd_is_prepared(&pmd, a));
    ck_assert_uint_eq(pmd.n_rule_stats, 1);

    /* Free 'a' and build configurations until one takes its address (the
     * allocator gives freed blocks of the same size back at once). */
    const void *old_address = a;
    mux_config_destroy(a);
    struct mux_config *b = NULL;
    struct mux_config *others[16];
    size_t n_others = 0;
    for (int i = 0; i < 16; i++) {
        struct mux_config *c = mux_config_create();
        if ((const void *) c == old_address) {
            b = c;
            break;
        }
        others[n_others++] = c;
    }
    for (size_t i = 0; i < n_others; i++) {
        mux_config_destroy(others[i]);
    }
    if (!b) {
        b = mux_config_create();
    }
    b->n_stats_ids = 5;
    ck_assert(!mux_pmd_is_prepared(&pmd, b));
    mux_pmd_prepare(&pmd, b);
    ck_assert(mux_pmd_is_prepared(&pmd, b));
    ck_assert_uint_eq(pmd.n_rule_stats, 5);

    /* No configuration at all is a state of its own. */
    ck_assert(!mux_pmd_is_prepared(&pmd, NULL));
    mux_pmd_prepare(&pmd, NULL);
    ck_assert(mux_pmd_is_prepared(&pmd, NULL));

    mux_config_destroy(b);
    mux_pmd_destroy(&pmd);
}
END_TEST

/* Returns a configuration under construction with two backends, of CAs
 * 'cas', and a Maglev table over them built by maglev_build(), with
 * 'change' made to it: 1 a Maglev entry, 2 a backend's PA, 4 the
 * backends' hosts known as hosts (whose tunnel packets the mux takes). */
static struct mux_config *
start_config(const struct in6_addr cas[2], int change)
{
    struct mux_config *cfg = mux_config_create();
    cfg->underlay.pa = htonl(0xc0a81e33);
    cfg->underlay.mtu = 1500;
    cfg->n_targets = 2;
    cfg->targets = xcalloc(2, sizeof *cfg->targets);
    struct maglev_backend backends[2];
    uint32_t ids[2];
    for (uint32_t i = 0; i < 2; i++) {
        struct mux_target *t = xzalloc(sizeof *t);
        t->id = i;
        t->ca = cas[i];
        t->pa = htonl(0xc0a8010b + i + (change == 2 && i));
        t->vni = 5001;
        mux_target_init_header(t, &cfg->underlay);
        cfg->targets[i] = t;
        if (change == 4) {
            mux_config_add_host(cfg, t->pa);
        }
        backends[i].key = (uint64_t) (i + 1) << 32 | t->vni;
        backends[i].weight = 1;
        ids[i] = i;
    }

    struct mux_maglev *m = mux_maglev_create(backends, ids, 2, 211, 0);
    if (change == 1) {
        m->entries[7] ^= 1;
    }
    cfg->maglevs = xmalloc(sizeof *cfg->maglevs);
    cfg->maglevs[cfg->n_maglevs++] = m;
    return cfg;
}

/* Returns a configuration of one load-balancing rule over backends
 * 10.10.10.11 and .12 (see start_config()), with 'change' made to it: 0
 * none, 3 the rule's port, or another of start_config()'s. */
static struct mux_config *
make_config(int change)
{
    const struct in6_addr cas[2] = {
        in6_addr_mapped_ipv4(htonl(0x0a0a0a0b)),
        in6_addr_mapped_ipv4(htonl(0x0a0a0a0c)),
    };
    struct mux_config *cfg = start_config(cas, change);
    struct mux_rule rule = {
        .name = (char *) "http", .type = MUX_RULE_LB,
        .maglev = cfg->maglevs[0],
        .vip = in6_addr_mapped_ipv4(htonl(0x14141464)),
        .proto = IPPROTO_TCP, .port = change == 3 ? 81 : 80,
        .idle_timeout = 240000,
    };
    mux_config_add_vip(cfg, &rule.vip);
    mux_config_add_rule(cfg, &rule);
    cfg->n_stats_ids = 1;
    mux_config_finish(cfg);
    return cfg;
}

/* "slb-mux/recompute" compares the configuration in force with one built
 * from scratch: configurations that take every packet alike compare
 * equal, whatever their generations, and any difference is named. */
START_TEST(test_config_diff)
{
    struct mux_config *ref = make_config(0);
    static const char *const expected[] = {
        "",
        "rule http: Maglev tables differ\n",
        "backend 1 (10.10.10.12): differs\n",
        "VIP and rule lookups differ\nrule http: differs\n",
    };
    for (int change = 0; change < ARRAY_SIZE(expected); change++) {
        struct mux_config *cfg = make_config(change);
        ck_assert_uint_ne(cfg->generation, ref->generation);
        struct ds diff = DS_EMPTY_INITIALIZER;
        mux_config_diff(ref, cfg, &diff);
        ck_assert_str_eq(ds_cstr(&diff), expected[change]);
        ds_destroy(&diff);
        mux_config_destroy(cfg);
    }
    mux_config_destroy(ref);
}
END_TEST

/* Returns the ICMP or ICMPv6 header of path probe 'probe', or of its
 * answer. */
static struct icmp_header *
probe_icmp(struct dp_packet *probe)
{
    uint8_t *eth = (uint8_t *) dp_packet_data(probe) + MUX_ENCAP_LEN;
    bool ipv6 = ((struct eth_header *) eth)->eth_type
                == htons(ETH_TYPE_IPV6);
    return (struct icmp_header *)
        (eth + ETH_HEADER_LEN + (ipv6 ? IPV6_HEADER_LEN : IP_HEADER_LEN));
}

/* Returns the answer that a host's pipeline gives to path probe 'probe',
 * as it reaches the mux: outer and inner Ethernet and IP addresses
 * swapped, an echo reply.  (The mux checks no ICMP checksum.) */
static struct dp_packet *
answer_of(const struct dp_packet *probe)
{
    struct dp_packet *answer = dp_packet_clone(probe);
    uint8_t *outer = dp_packet_data(answer);
    bool ipv6 = false;
    for (int layer = 0; layer < 2; layer++) {
        uint8_t *l2 = outer + layer * MUX_ENCAP_LEN;
        struct eth_header *eth = (struct eth_header *) l2;
        struct eth_addr mac = eth->eth_src;
        eth->eth_src = eth->eth_dst;
        eth->eth_dst = mac;
        if (eth->eth_type == htons(ETH_TYPE_IPV6)) {
            struct ovs_16aligned_ip6_hdr *ip6 = (void *) (eth + 1);
            union ovs_16aligned_in6_addr addr = ip6->ip6_src;
            ip6->ip6_src = ip6->ip6_dst;
            ip6->ip6_dst = addr;
            ipv6 = true;
        } else {
            struct ip_header *ip = (struct ip_header *) (eth + 1);
            ovs_16aligned_be32 addr = ip->ip_src;
            ip->ip_src = ip->ip_dst;
            ip->ip_dst = addr;
        }
    }
    probe_icmp(answer)->icmp_type = ipv6 ? ICMP6_ECHO_REPLY
                                         : ICMP4_ECHO_REPLY;
    return answer;
}

/* Runs 'packet' through the packet path of 'cfg' in 'pmd'; returns how
 * many packets it forwarded. */
static size_t
process(struct mux_pmd *pmd, const struct mux_config *cfg,
        struct dp_packet *packet)
{
    struct dp_packet_batch in, out;
    dp_packet_batch_init_packet(&in, packet);
    dp_packet_batch_init(&out);
    mux_dp_process(pmd, cfg, &in, &out, 0);
    size_t n = dp_packet_batch_size(&out);
    dp_packet_delete_batch(&out, true);
    return n;
}

/* Returns the verdicts of 'p', as the mux writes them into its status
 * row, as one string: the counts, then the ways down. */
static char *
states_of(const struct mux_path_prober *p)
{
    struct smap states = SMAP_INITIALIZER(&states);
    struct mux_path_counts counts;
    mux_path_prober_states(p, &states, &counts);
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "%"PRIuSIZE" up, %"PRIuSIZE" down, %"PRIuSIZE
                  " unknown: ", counts.up, counts.down, counts.unknown);
    const struct smap_node **nodes = smap_sort(&states);
    for (size_t i = 0; i < smap_count(&states); i++) {
        ds_put_format(&s, "%s=%s ", nodes[i]->key, nodes[i]->value);
    }
    free(nodes);
    smap_destroy(&states);
    return ds_steal_cstr(&s);
}

#define ASSERT_STATES(P, EXPECTED)              \
    do {                                        \
        char *states_ = states_of(P);           \
        ck_assert_str_eq(states_, EXPECTED);    \
        free(states_);                          \
    } while (0)

/* Sends a round of 'p' at 'now' and returns its one probe. */
static struct dp_packet *
one_probe(struct mux_path_prober *p, long long int now)
{
    struct dp_packet **probes;
    ck_assert_uint_eq(mux_path_prober_run(p, now, &probes), 1);
    struct dp_packet *probe = probes[0];
    free(probes);
    return probe;
}

/* Runs path probe answer 'answer' (which it takes) through the packet path
 * of 'cfg' in 'pmd', which must take it for the prober, neither forwarded
 * nor dropped, and hands it to 'p'. */
static void
take_answer(struct mux_pmd *pmd, const struct mux_config *cfg,
            struct mux_path_prober *p, struct dp_packet *answer)
{
    ck_assert_uint_eq(process(pmd, cfg, answer), 0);
    ck_assert_uint_eq(pmd->n_path_answers, 1);
    for (int i = 0; i < MUX_N_DROPS; i++) {
        ck_assert_uint_eq(pmd->drops[i], 0);
    }
    mux_path_prober_take(p, pmd->path_answers, 1, time_usec());
}

/* Checks that slb-mux/paths of 'p' begins with 'expected'. */
static void
assert_paths_begin(const struct mux_path_prober *p, const char *expected)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    mux_path_prober_format(p, &s);
    ck_assert_msg(!strncmp(ds_cstr(&s), expected, strlen(expected)),
                  "%s", ds_cstr(&s));
    ds_destroy(&s);
}

/* The path prober: a (VIP, host) way for each bound backend's host; its
 * probe, as the packet path encapsulates; the answer taken by the packet
 * path for the prober, not forwarded; up at the first answer, down after
 * three unanswered rounds; stale and foreign answers told apart. */
START_TEST(test_path_probes)
{
    struct mux_config *cfg = make_config(4);
    static const uint8_t states[] = { SLB_BACKEND_UP, SLB_BACKEND_UNBOUND };
    cfg->rules[0].states = xmemdup(states, sizeof states);
    struct shash names = SHASH_INITIALIZER(&names);
    shash_add(&names, "192.168.1.11", "host1");
    struct mux_pmd pmd;
    mux_pmd_init(&pmd, 1024, 1024, 5000);
    mux_pmd_prepare(&pmd, cfg);

    struct mux_path_prober *p = mux_path_prober_create(1000);
    mux_path_prober_set_targets(p, cfg, &names);

    /* One probe, to host1 only (the other backend is unbound), from the
     * mux's PA with the backend's VNI; inside, an echo request from
     * 169.254.0.2 to the VIP. */
    struct dp_packet *probe = one_probe(p, 0);
    const uint8_t *d = dp_packet_data(probe);
    ck_assert_uint_eq(dp_packet_size(probe),
                      MUX_ENCAP_LEN + ETH_HEADER_LEN + IP_HEADER_LEN
                      + ICMP_HEADER_LEN + MUX_PATH_DATA_LEN);
    const struct ip_header *outer = (const void *) (d + ETH_HEADER_LEN);
    ck_assert_uint_eq(ntohl(get_16aligned_be32(&outer->ip_src)), 0xc0a81e33);
    ck_assert_uint_eq(ntohl(get_16aligned_be32(&outer->ip_dst)), 0xc0a8010b);
    const struct ip_header *inner = (const void *) (d + MUX_ENCAP_LEN
                                                    + ETH_HEADER_LEN);
    ck_assert_uint_eq(ntohl(get_16aligned_be32(&inner->ip_src)), 0xa9fe0002);
    ck_assert_uint_eq(ntohl(get_16aligned_be32(&inner->ip_dst)), 0x14141464);
    ck_assert_uint_eq(inner->ip_proto, IPPROTO_ICMP);
    ck_assert_uint_eq(csum(inner, IP_HEADER_LEN), 0);
    const struct icmp_header *icmp = (const void *) (inner + 1);
    ck_assert_uint_eq(icmp->icmp_type, ICMP4_ECHO_REQUEST);
    ck_assert_uint_eq(csum(icmp, ICMP_HEADER_LEN + MUX_PATH_DATA_LEN), 0);
    ASSERT_STATES(p, "0 up, 0 down, 1 unknown: ");

    /* Its answer: taken for the prober, neither forwarded nor dropped. */
    struct dp_packet *answer = answer_of(probe);
    take_answer(&pmd, cfg, p, dp_packet_clone(answer));
    ck_assert(mux_path_prober_changed(p));
    ck_assert(!mux_path_prober_changed(p));
    ASSERT_STATES(p, "1 up, 0 down, 0 unknown: ");

    /* The same answer again is stale; one with another prober's number
     * is foreign. */
    mux_path_prober_take(p, pmd.path_answers, 1, 0);
    struct mux_path_answer foreign = pmd.path_answers[0];
    foreign.data[0] ^= 1;
    mux_path_prober_take(p, &foreign, 1, 0);
    assert_paths_begin(p, "path probes: every 1000 ms, round 1, 1 targets, "
                       "1 stale and 1 foreign answers\n  20.20.20.100 to "
                       "host1 (192.168.1.11, vni 5001): up, 1 of 1 "
                       "answered, last in ");

    /* No round before its time; then rounds without answers: down after
     * the third.  An answer of an old round is stale. */
    struct dp_packet **none;
    ck_assert_uint_eq(mux_path_prober_run(p, 999, &none), 0);
    ck_assert(!none);
    for (int round = 2; round <= 4; round++) {
        dp_packet_delete(one_probe(p, (round - 1) * 1000));
        ASSERT_STATES(p, "1 up, 0 down, 0 unknown: ");
    }
    dp_packet_delete(one_probe(p, 4000));
    ASSERT_STATES(p, "0 up, 1 down, 0 unknown: 20.20.20.100@host1=down ");
    ck_assert(mux_path_prober_changed(p));
    mux_path_prober_take(p, pmd.path_answers, 1, 0);
    ASSERT_STATES(p, "0 up, 1 down, 0 unknown: 20.20.20.100@host1=down ");

    /* A malformed answer (no echo reply) is a drop. */
    pmd.n_path_answers = 0;
    struct dp_packet *bad = dp_packet_clone(answer);
    probe_icmp(bad)->icmp_type = ICMP4_ECHO_REQUEST;
    ck_assert_uint_eq(process(&pmd, cfg, bad), 0);
    ck_assert_uint_eq(pmd.n_path_answers, 0);
    ck_assert_uint_eq(pmd.drops[MUX_DROP_MALFORMED], 1);

    /* Both backends bound: two ways.  No configuration: none, which
     * changes the verdicts. */
    cfg->rules[0].states[1] = SLB_BACKEND_UP;
    mux_path_prober_set_targets(p, cfg, &names);
    struct dp_packet **probes;
    size_t n = mux_path_prober_run(p, 5000, &probes);
    ck_assert_uint_eq(n, 2);
    for (size_t i = 0; i < n; i++) {
        dp_packet_delete(probes[i]);
    }
    free(probes);
    mux_path_prober_changed(p);
    mux_path_prober_set_targets(p, NULL, &names);
    ck_assert(mux_path_prober_changed(p));
    ASSERT_STATES(p, "0 up, 0 down, 0 unknown: ");

    dp_packet_delete(probe);
    dp_packet_delete(answer);
    mux_path_prober_destroy(p);
    shash_destroy(&names);
    mux_pmd_destroy(&pmd);
    mux_config_destroy(cfg);
}
END_TEST

/* With more ways down than the status row names, the row names the first
 * MUX_PATH_DOWN_LISTED by VIP and host, and counts them all. */
START_TEST(test_path_states_listed)
{
    enum { N_VIPS = 40 };
    struct mux_config *cfg = make_config(4);
    struct mux_config *many = mux_config_create();
    many->underlay = cfg->underlay;
    many->n_targets = cfg->n_targets;
    many->targets = xmemdup(cfg->targets,
                            cfg->n_targets * sizeof *cfg->targets);
    for (int v = 0; v < N_VIPS; v++) {
        struct mux_rule rule = cfg->rules[0];
        rule.vip = in6_addr_mapped_ipv4(htonl(0x14141400 + v));
        mux_config_add_rule(many, &rule);
    }
    struct shash names = SHASH_INITIALIZER(&names);
    shash_add(&names, "192.168.1.11", "host1");
    shash_add(&names, "192.168.1.12", "host2");

    struct mux_path_prober *p = mux_path_prober_create(1000);
    mux_path_prober_set_targets(p, many, &names);
    for (int round = 0; round <= MUX_PATH_DOWN_AFTER; round++) {
        struct dp_packet **probes;
        size_t n = mux_path_prober_run(p, round * 1000, &probes);
        ck_assert_uint_eq(n, 2 * N_VIPS);
        for (size_t i = 0; i < n; i++) {
            dp_packet_delete(probes[i]);
        }
        free(probes);
    }

    struct smap down = SMAP_INITIALIZER(&down);
    struct mux_path_counts counts;
    mux_path_prober_states(p, &down, &counts);
    ck_assert_uint_eq(counts.down, 2 * N_VIPS);
    ck_assert_uint_eq(counts.up + counts.unknown, 0);
    ck_assert_uint_eq(smap_count(&down), MUX_PATH_DOWN_LISTED);
    ck_assert_str_eq(smap_get(&down, "20.20.20.0@host1"), "down");
    ck_assert_str_eq(smap_get(&down, "20.20.20.31@host2"), "down");
    ck_assert(!smap_get(&down, "20.20.20.32@host1"));
    smap_destroy(&down);

    mux_path_prober_destroy(p);
    shash_destroy(&names);
    free(many->targets);
    many->targets = NULL;
    many->n_targets = 0;
    mux_config_destroy(many);
    mux_config_destroy(cfg);
}
END_TEST

/* An IPv6 configuration: VIP 2001:db8::100 with a TCP rule for port 80
 * over backends 2001:db8:10::b and ::c, and SNAT ports 1024-65535 of UDP
 * for the first, with 'change' of start_config() made to it. */
static struct mux_config *
make_config6(int change)
{
    struct in6_addr cas[2];
    ovs_assert(inet_pton(AF_INET6, "2001:db8:10::b", &cas[0]) == 1);
    ovs_assert(inet_pton(AF_INET6, "2001:db8:10::c", &cas[1]) == 1);
    struct mux_config *cfg = start_config(cas, change);
    struct mux_maglev *m = cfg->maglevs[0];

    struct mux_rule rule = {
        .name = (char *) "web6", .type = MUX_RULE_LB, .maglev = m,
        .proto = IPPROTO_TCP, .port = 80, .idle_timeout = 240000,
    };
    ovs_assert(inet_pton(AF_INET6, "2001:db8::100", &rule.vip) == 1);
    mux_config_add_vip(cfg, &rule.vip);
    mux_config_add_rule(cfg, &rule);
    struct mux_snat snat = {
        .rule_name = xstrdup("out6"), .stats_id = 1,
        .ranges = xmalloc(sizeof *snat.ranges), .n = 1,
    };
    snat.ranges[0] = (struct mux_snat_range) { 1024, 65535, 0 };
    mux_config_add_snat(cfg, &rule.vip, IPPROTO_UDP, &snat);
    cfg->n_stats_ids = 2;
    mux_config_finish(cfg);
    return cfg;
}

/* The ways of an IPv6 VIP are probed as an IPv4 VIP's: an ICMPv6 echo
 * request from fe80::5b:3 to the VIP, whose answer the packet path takes
 * for the prober (though a packet to a link-local address is otherwise
 * the mux's kernel's); an answer that is no echo reply is malformed. */
START_TEST(test_path_probes6)
{
    struct mux_config *cfg = make_config6(4);
    struct shash names = SHASH_INITIALIZER(&names);
    shash_add(&names, "192.168.1.11", "host1");
    shash_add(&names, "192.168.1.12", "host2");
    struct mux_pmd pmd;
    mux_pmd_init(&pmd, 1024, 1024, 5000);
    mux_pmd_prepare(&pmd, cfg);
    struct mux_path_prober *p = mux_path_prober_create(1000);
    mux_path_prober_set_targets(p, cfg, &names);

    struct dp_packet **probes;
    ck_assert_uint_eq(mux_path_prober_run(p, 0, &probes), 2);
    struct dp_packet *probe = probes[0];
    if (get_16aligned_be32(&((const struct ip_header *)
                             ((uint8_t *) dp_packet_data(probe)
                              + ETH_HEADER_LEN))->ip_dst)
        != htonl(0xc0a8010b)) {
        probe = probes[1];
        probes[1] = probes[0];
    }
    dp_packet_delete(probes[1]);
    free(probes);
    ck_assert_uint_eq(dp_packet_size(probe),
                      MUX_ENCAP_LEN + ETH_HEADER_LEN + IPV6_HEADER_LEN
                      + ICMP_HEADER_LEN + MUX_PATH_DATA_LEN);
    const struct ovs_16aligned_ip6_hdr *ip6 = (const void *)
        ((uint8_t *) dp_packet_data(probe) + MUX_ENCAP_LEN + ETH_HEADER_LEN);
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    ck_assert_str_eq(inet_ntop(AF_INET6, &ip6->ip6_src, src, sizeof src),
                     "fe80::5b:3");
    ck_assert_str_eq(inet_ntop(AF_INET6, &ip6->ip6_dst, dst, sizeof dst),
                     "2001:db8::100");
    ck_assert_uint_eq(ip6->ip6_ctlun.ip6_un1.ip6_un1_nxt, IPPROTO_ICMPV6);
    ck_assert_uint_eq(ntohs(ip6->ip6_ctlun.ip6_un1.ip6_un1_plen),
                      ICMP_HEADER_LEN + MUX_PATH_DATA_LEN);
    struct icmp_header *icmp = probe_icmp(probe);
    ck_assert_uint_eq(icmp->icmp_type, ICMP6_ECHO_REQUEST);
    ck_assert_uint_eq(packet_csum_upperlayer6(ip6, icmp, IPPROTO_ICMPV6,
                                              ICMP_HEADER_LEN
                                              + MUX_PATH_DATA_LEN), 0);

    struct dp_packet *answer = answer_of(probe);
    take_answer(&pmd, cfg, p, dp_packet_clone(answer));
    ASSERT_STATES(p, "1 up, 0 down, 1 unknown: ");
    assert_paths_begin(p, "path probes: every 1000 ms, round 1, 2 targets, "
                       "0 stale and 0 foreign answers\n  2001:db8::100 to "
                       "host1 (192.168.1.11, vni 5001): up, 1 of 1 "
                       "answered, last in ");

    pmd.n_path_answers = 0;
    probe_icmp(answer)->icmp_type = ICMP6_ECHO_REQUEST;
    ck_assert_uint_eq(process(&pmd, cfg, answer), 0);
    ck_assert_uint_eq(pmd.n_path_answers, 0);
    ck_assert_uint_eq(pmd.drops[MUX_DROP_MALFORMED], 1);

    dp_packet_delete(probe);
    mux_path_prober_destroy(p);
    shash_destroy(&names);
    mux_pmd_destroy(&pmd);
    mux_config_destroy(cfg);
}
END_TEST

/* Returns an Ethernet frame with an IPv6 packet from 2001:db8:1::1 to
 * 'dst', with the 'n_ext' bytes of extension headers 'ext' (the first
 * of which is 'nh'), then 'l4' of 'l4_len' bytes, of protocol 'proto'.
 * Checksums are left zero: the mux checks none. */
static struct dp_packet *
frame6(const char *dst, uint8_t nh, const uint8_t *ext, size_t n_ext,
       uint8_t proto, const void *l4, size_t l4_len)
{
    struct dp_packet *p = dp_packet_new_with_headroom(0, MUX_ENCAP_LEN);
    struct eth_header *eth = dp_packet_put_zeros(p, ETH_HEADER_LEN);
    eth->eth_type = htons(ETH_TYPE_IPV6);
    struct ovs_16aligned_ip6_hdr *ip6 = dp_packet_put_zeros(p,
                                                            IPV6_HEADER_LEN);
    ip6->ip6_ctlun.ip6_un1.ip6_un1_flow = (ovs_16aligned_be32) {
        .hi = htons(0x6000) };
    ip6->ip6_ctlun.ip6_un1.ip6_un1_plen = htons(n_ext + l4_len);
    ip6->ip6_ctlun.ip6_un1.ip6_un1_nxt = n_ext ? nh : proto;
    ip6->ip6_ctlun.ip6_un1.ip6_un1_hlim = 64;
    struct in6_addr a;
    ovs_assert(inet_pton(AF_INET6, "2001:db8:1::1", &a) == 1);
    memcpy(&ip6->ip6_src, &a, sizeof a);
    ovs_assert(inet_pton(AF_INET6, dst, &a) == 1);
    memcpy(&ip6->ip6_dst, &a, sizeof a);
    dp_packet_put(p, ext, n_ext);
    dp_packet_put(p, l4, l4_len);
    return p;
}

/* The mux walks the IPv6 extension headers that may come before TCP or
 * UDP, keys fragments without ports, and names every drop. */
START_TEST(test_ipv6_parsing)
{
    struct mux_config *cfg = make_config6(0);
    struct mux_pmd pmd;
    mux_pmd_init(&pmd, 1024, 1024, 5000);
    mux_pmd_prepare(&pmd, cfg);

    struct tcp_header syn = {
        .tcp_src = htons(40000), .tcp_dst = htons(80),
        .tcp_ctl = TCP_CTL(TCP_SYN, 5),
    };
    struct udp_header reply = {
        .udp_src = htons(53), .udp_dst = htons(40000),
        .udp_len = htons(UDP_HEADER_LEN),
    };
    /* Hop-by-hop options, then destination options, each 8 bytes of
     * padding; a routing header with no segment left, or one left; a
     * fragment header, atomic or of a first fragment. */
    static const uint8_t hop_dst[] = {
        IPPROTO_DSTOPTS, 0, 1, 4, 0, 0, 0, 0,
        IPPROTO_TCP, 0, 1, 4, 0, 0, 0, 0,
    };
    static const uint8_t routing_done[] = {
        IPPROTO_TCP, 0, 4, 0, 0, 0, 0, 0,
    };
    static const uint8_t routing_left[] = {
        IPPROTO_TCP, 2, 4, 1, 0, 0, 0, 0,
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9,
    };
    static const uint8_t atomic_fragment[] = {
        IPPROTO_TCP, 0, 0, 0, 0, 0, 0, 7,
    };
    static const uint8_t first_fragment[] = {
        IPPROTO_TCP, 0, 0, 1, 0, 0, 0, 7,
    };
    /* As many destination options headers as the mux walks, and one
     * more. */
    uint8_t most[8 * 8], too_many[8 * 9];
    for (int i = 0; i < 9; i++) {
        for (int j = 0; j < 2; j++) {
            uint8_t *h = j ? &too_many[8 * i] : &most[8 * i];
            if (!j && i == 8) {
                continue;
            }
            memset(h, 0, 8);
            h[0] = i < 7 + j ? IPPROTO_DSTOPTS : IPPROTO_TCP;
            h[2] = 1;
            h[3] = 4;
        }
    }

    const struct {
        const char *dst;
        uint8_t nh;
        const uint8_t *ext;
        size_t n_ext;
        bool udp;
        size_t l4_len;
        enum mux_drop drop;
    } cases[] = {
        { "2001:db8::100", 0, NULL, 0, false, 20, MUX_N_DROPS },
        { "2001:db8::100", IPPROTO_HOPOPTS, hop_dst, sizeof hop_dst, false,
          20, MUX_N_DROPS },
        { "2001:db8::100", IPPROTO_ROUTING, routing_done,
          sizeof routing_done, false, 20, MUX_N_DROPS },
        { "2001:db8::100", IPPROTO_ROUTING, routing_left,
          sizeof routing_left, false, 20, MUX_DROP_IPV6_EXT },
        { "2001:db8::100", IPPROTO_FRAGMENT, atomic_fragment,
          sizeof atomic_fragment, false, 20, MUX_N_DROPS },
        /* A fragment goes where the VIP's one TCP table says. */
        { "2001:db8::100", IPPROTO_FRAGMENT, first_fragment,
          sizeof first_fragment, false, 20, MUX_N_DROPS },
        { "2001:db8::100", IPPROTO_DSTOPTS, most, sizeof most, false, 20,
          MUX_N_DROPS },
        { "2001:db8::100", IPPROTO_DSTOPTS, too_many, sizeof too_many,
          false, 20, MUX_DROP_IPV6_EXT },
        { "2001:db8::100", IPPROTO_HOPOPTS, hop_dst, 12, false, 0,
          MUX_DROP_MALFORMED },
        { "2001:db8::100", 0, NULL, 0, false, 12, MUX_DROP_MALFORMED },
        { "2001:db8::100", 0, NULL, 0, true, 8, MUX_N_DROPS },
        { "2001:db8::101", 0, NULL, 0, false, 20, MUX_DROP_NOT_VIP },
        { "::ffff:20.20.20.100", 0, NULL, 0, false, 20, MUX_DROP_NOT_VIP },
        { "ff02::1", 0, NULL, 0, false, 20, MUX_DROP_LOCAL },
        { "fe80::1", 0, NULL, 0, false, 20, MUX_DROP_LOCAL },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        uint64_t before[MUX_N_DROPS];
        memcpy(before, pmd.drops, sizeof before);
        struct dp_packet *p = frame6(
            cases[i].dst, cases[i].nh, cases[i].ext, cases[i].n_ext,
            cases[i].udp ? IPPROTO_UDP : IPPROTO_TCP,
            cases[i].udp ? (const void *) &reply : (const void *) &syn,
            cases[i].l4_len);
        size_t n = process(&pmd, cfg, p);
        if (cases[i].drop == MUX_N_DROPS) {
            ck_assert_msg(n == 1, "case %"PRIuSIZE": not forwarded", i);
        } else {
            ck_assert_msg(n == 0, "case %"PRIuSIZE": forwarded", i);
            ck_assert_msg(pmd.drops[cases[i].drop]
                          == before[cases[i].drop] + 1,
                          "case %"PRIuSIZE": not dropped as %s", i,
                          mux_drop_name(cases[i].drop));
        }
    }
    ck_assert_uint_eq(pmd.fragments, 1);

    /* All in one batch, each after another: the same verdicts (a packet
     * takes the previous one's VIP only if it has its destination). */
    uint64_t before[MUX_N_DROPS], expected[MUX_N_DROPS] = { 0 };
    memcpy(before, pmd.drops, sizeof before);
    struct dp_packet_batch in, out;
    dp_packet_batch_init(&in);
    dp_packet_batch_init(&out);
    size_t n_forwarded = 0;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        dp_packet_batch_add(&in, frame6(
            cases[i].dst, cases[i].nh, cases[i].ext, cases[i].n_ext,
            cases[i].udp ? IPPROTO_UDP : IPPROTO_TCP,
            cases[i].udp ? (const void *) &reply : (const void *) &syn,
            cases[i].l4_len));
        if (cases[i].drop == MUX_N_DROPS) {
            n_forwarded++;
        } else {
            expected[cases[i].drop]++;
        }
    }
    mux_dp_process(&pmd, cfg, &in, &out, 0);
    ck_assert_uint_eq(dp_packet_batch_size(&out), n_forwarded);
    dp_packet_delete_batch(&out, true);
    for (int i = 0; i < MUX_N_DROPS; i++) {
        ck_assert_msg(pmd.drops[i] - before[i] == expected[i],
                      "%s: %"PRIu64" drops in a batch, not %"PRIu64,
                      mux_drop_name(i), pmd.drops[i] - before[i],
                      expected[i]);
    }

    mux_pmd_destroy(&pmd);
    mux_config_destroy(cfg);
}
END_TEST

/* An IPv4 flow hashes as it did when flow keys held IPv4 addresses only,
 * so that muxes of both versions pick the same backends; an IPv6 flow
 * whose addresses end in an IPv4 flow's is another flow. */
START_TEST(test_ipv4_hash_unchanged)
{
    struct mux_flow_key k4 = {
        .sport = htons(40000), .dport = htons(80), .proto = IPPROTO_TCP,
    };
    mux_flow_key_set_ipv4(&k4, htonl(0x01020304), htonl(0x14141464));
    uint32_t old = hash_add(12345, (OVS_FORCE uint32_t) htonl(0x01020304));
    old = hash_add(old, (OVS_FORCE uint32_t) htonl(0x14141464));
    old = hash_add(old, ((uint32_t) (OVS_FORCE uint16_t) htons(40000) << 16)
                        | (OVS_FORCE uint16_t) htons(80));
    old = hash_finish(old, (uint32_t) IPPROTO_TCP << 8 | 13);
    ck_assert_uint_eq(mux_flow_hash(&k4, 12345), old ? old : 1);
    ck_assert(mux_flow_key_is_ipv4(&k4));

    struct mux_flow_key k6 = k4;
    k6.src_hi[0] = k6.dst_hi[0] = htonl(0x20010db8);
    ck_assert(!mux_flow_key_is_ipv4(&k6));
    ck_assert_uint_ne(mux_flow_hash(&k6, 12345), mux_flow_hash(&k4, 12345));
}
END_TEST

/* Gives 'cfg', whose underlay is set, 'n' backends: 10.10.10.11 and on
 * (ids 0 and on, VNI 5001), each on a host of its own, 192.168.1.11 and
 * on. */
static void
add_targets(struct mux_config *cfg, size_t n)
{
    cfg->n_targets = n;
    cfg->targets = xcalloc(n, sizeof *cfg->targets);
    for (uint32_t i = 0; i < n; i++) {
        struct mux_target *t = xzalloc(sizeof *t);
        t->id = i;
        t->ca = in6_addr_mapped_ipv4(htonl(0x0a0a0a0b + i));
        t->pa = htonl(0xc0a8010b + i);
        t->vni = 5001;
        mux_target_init_header(t, &cfg->underlay);
        cfg->targets[i] = t;
    }
}

/* Returns a configuration of rule "http" on 20.20.20.100 and TCP port
 * 'port' over backends 10.10.10.11 to .14 (ids 0 to 3, each on a host of
 * its own, 192.168.1.11 to .14), of weights 'weights' (0 for none). */
static struct mux_config *
weighted_config(const uint32_t weights[4], uint16_t port)
{
    struct mux_config *cfg = mux_config_create();
    cfg->underlay.pa = htonl(0xc0a81e33);
    add_targets(cfg, 4);
    struct maglev_backend backends[4];
    uint32_t ids[4];
    size_t n = 0;
    for (uint32_t i = 0; i < 4; i++) {
        const struct mux_target *t = cfg->targets[i];
        if (weights[i]) {
            backends[n].key = (uint64_t) (i + 1) << 32 | t->vni;
            backends[n].weight = weights[i];
            ids[n++] = i;
        }
    }
    cfg->maglevs = xmalloc(sizeof *cfg->maglevs);
    cfg->maglevs[cfg->n_maglevs++] = mux_maglev_create(backends, ids, n,
                                                       211, 0);
    struct mux_rule rule = {
        .name = (char *) "http", .type = MUX_RULE_LB,
        .maglev = cfg->maglevs[0],
        .vip = in6_addr_mapped_ipv4(htonl(0x14141464)),
        .proto = IPPROTO_TCP, .port = port, .idle_timeout = 240000,
    };
    mux_config_add_vip(cfg, &rule.vip);
    mux_config_add_rule(cfg, &rule);
    cfg->n_stats_ids = 1;
    mux_config_finish(cfg);
    return cfg;
}

/* Returns an Ethernet frame with a TCP segment from 1.2.3.4 port 'sport'
 * to 20.20.20.100 port 80, with TCP flags 'flags'. */
static struct dp_packet *
tcp_frame(uint16_t sport, uint16_t flags)
{
    struct dp_packet *p = dp_packet_new_with_headroom(0, MUX_ENCAP_LEN);
    struct eth_header *eth = dp_packet_put_zeros(p, ETH_HEADER_LEN);
    eth->eth_type = htons(ETH_TYPE_IP);
    struct ip_header *ip = dp_packet_put_zeros(p, IP_HEADER_LEN);
    ip->ip_ihl_ver = IP_IHL_VER(5, 4);
    ip->ip_tot_len = htons(IP_HEADER_LEN + TCP_HEADER_LEN);
    ip->ip_ttl = 64;
    ip->ip_proto = IPPROTO_TCP;
    put_16aligned_be32(&ip->ip_src, htonl(0x01020304));
    put_16aligned_be32(&ip->ip_dst, htonl(0x14141464));
    ip->ip_csum = csum(ip, IP_HEADER_LEN);
    struct tcp_header *tcp = dp_packet_put_zeros(p, TCP_HEADER_LEN);
    tcp->tcp_src = htons(sport);
    tcp->tcp_dst = htons(80);
    tcp->tcp_ctl = TCP_CTL(flags, 5);
    return p;
}

/* Where the mux sent one packet: the hosts, in order, and whether to the
 * port for candidate copies. */
struct sent {
    size_t n;
    ovs_be32 hosts[MUX_MAX_CANDIDATES];
    bool marked[MUX_MAX_CANDIDATES];
};

/* Runs 'packet' through the packet path of 'cfg' in 'pmd' at 'now' and
 * returns where it went. */
static struct sent
send_one(struct mux_pmd *pmd, const struct mux_config *cfg,
         struct dp_packet *packet, uint32_t now)
{
    struct dp_packet_batch in, out;
    dp_packet_batch_init_packet(&in, packet);
    dp_packet_batch_init(&out);
    mux_dp_process(pmd, cfg, &in, &out, now);

    struct sent sent = { .n = 0 };
    struct dp_packet_batch *batches[] = { &out, &pmd->copies };
    for (size_t i = 0; i < ARRAY_SIZE(batches); i++) {
        struct dp_packet *p;
        DP_PACKET_BATCH_FOR_EACH (j, p, batches[i]) {
            const struct ip_header *ip = (const void *)
                ((const uint8_t *) dp_packet_data(p) + ETH_HEADER_LEN);
            const struct udp_header *udp = (const void *) (ip + 1);
            ck_assert_uint_lt(sent.n, MUX_MAX_CANDIDATES);
            sent.hosts[sent.n] = get_16aligned_be32(&ip->ip_dst);
            sent.marked[sent.n++] = (udp->udp_dst
                                     == htons(SLB_VXLAN_CANDIDATE_PORT));
        }
        dp_packet_delete_batch(batches[i], true);
        dp_packet_batch_init(batches[i]);
    }
    return sent;
}

/* A TCP segment, not a SYN, of a connection that this mux never saw goes
 * to the host of each backend that the rule's tables, now and before the
 * last change, give it, to the port for candidate copies, and teaches the
 * flow table nothing; where they agree, it goes as before.  A SYN goes
 * by the table for new flows alone.  A past table counts for the rule's
 * idle timeout after it was replaced, and only the latest few do. */
START_TEST(test_candidates)
{
    static const uint32_t three[4] = { 1, 1, 1, 0 };
    static const uint32_t four[4] = { 1, 1, 1, 1 };
    struct mux_config *a = weighted_config(three, 80);
    struct mux_config *b = weighted_config(four, 80);
    ck_assert(mux_config_inherit(a, NULL, 1000));
    ck_assert_uint_eq(a->rules[0].n_past, 0);
    ck_assert(mux_config_inherit(b, a, 1000));
    ck_assert_uint_eq(b->rules[0].n_past, 1);
    ck_assert_ptr_eq(b->rules[0].past[0].maglev, a->rules[0].maglev);
    ck_assert_uint_eq(b->rules[0].past[0].until, 1000 + 240000);

    /* A configuration that changes no table keeps the past ones as they
     * are, and says that nothing changed. */
    struct mux_config *same = mux_config_create();
    mux_config_copy(same, b);
    ck_assert(!mux_config_inherit(same, b, 1500));
    ck_assert_uint_eq(same->rules[0].n_past, 1);
    ck_assert_ptr_eq(same->rules[0].past[0].maglev, a->rules[0].maglev);
    ck_assert_uint_eq(same->rules[0].past[0].until, 1000 + 240000);
    mux_config_destroy(same);

    /* History is no configuration's content. */
    struct mux_config *fresh = weighted_config(four, 80);
    struct ds diff = DS_EMPTY_INITIALIZER;
    mux_config_diff(b, fresh, &diff);
    ck_assert_str_eq(ds_cstr(&diff), "");
    ds_destroy(&diff);
    mux_config_destroy(fresh);

    /* Three threads: one under the old configuration, which saw the
     * connections open; one that sees new ones open; one that sees only
     * their later segments. */
    struct mux_pmd old, syns, acks;
    mux_pmd_init(&old, 1024, 1024, 5000);
    mux_pmd_init(&syns, 1024, 1024, 5000);
    mux_pmd_init(&acks, 1024, 1024, 5000);
    mux_pmd_prepare(&old, a);
    mux_pmd_prepare(&syns, b);
    mux_pmd_prepare(&acks, b);
    size_t n_moved = 0;
    uint16_t moved_sport = 0;
    ovs_be32 moved_to = 0;
    for (uint16_t sport = 40000; sport < 40200; sport++) {
        struct sent then = send_one(&old, a, tcp_frame(sport, TCP_SYN), 2000);
        struct sent now = send_one(&syns, b, tcp_frame(sport, TCP_SYN), 2000);
        ck_assert(then.n == 1 && !then.marked[0]);
        ck_assert(now.n == 1 && !now.marked[0]);
        bool moved = then.hosts[0] != now.hosts[0];
        for (int again = 0; again < 2; again++) {
            struct sent ack = send_one(&acks, b, tcp_frame(sport, TCP_ACK),
                                       2000);
            if (!moved) {
                ck_assert(ack.n == 1 && !ack.marked[0]);
                ck_assert_uint_eq(ack.hosts[0], now.hosts[0]);
            } else {
                /* The table for connections first (here the one for new
                 * flows too), then the past one. */
                ck_assert(ack.n == 2 && ack.marked[0] && ack.marked[1]);
                ck_assert_uint_eq(ack.hosts[0], now.hosts[0]);
                ck_assert_uint_eq(ack.hosts[1], then.hosts[0]);
            }
        }
        if (moved) {
            n_moved++;
            moved_sport = sport;
            moved_to = now.hosts[0];
        }
    }
    /* A fourth backend takes about a quarter of the flows. */
    ck_assert_uint_gt(n_moved, 20);
    ck_assert_uint_lt(n_moved, 100);
    ck_assert_uint_eq(acks.candidate_segments, 2 * n_moved);
    ck_assert_uint_eq(acks.candidate_copies, 4 * n_moved);
    ck_assert_uint_eq(acks.flows.stats.inserted, 200 - n_moved);

    /* The rule's idle timeout after the change, the past table no longer
     * counts: the segment goes where the table says, and is learnt. */
    struct sent late = send_one(&acks, b, tcp_frame(moved_sport, TCP_ACK),
                                1000 + 240000 + 1);
    ck_assert(late.n == 1 && !late.marked[0]);
    ck_assert_uint_eq(late.hosts[0], moved_to);
    ck_assert_uint_eq(acks.flows.stats.inserted, 200 - n_moved + 1);

    /* Each change adds the table that it replaced, newest first, and the
     * latest MUX_MAX_PAST_TABLES count; the rule of the same name on
     * another port starts afresh. */
    static const uint32_t weights[][4] = {
        { 2, 1, 1, 1 }, { 1, 2, 1, 1 }, { 1, 1, 2, 1 }, { 1, 1, 1, 2 },
        { 3, 1, 1, 1 },
    };
    struct mux_config *prev = b;
    for (size_t i = 0; i < ARRAY_SIZE(weights); i++) {
        struct mux_config *c = weighted_config(weights[i], 80);
        mux_config_inherit(c, prev, 3000);
        ck_assert_uint_eq(c->rules[0].n_past,
                          MIN(i + 2, MUX_MAX_PAST_TABLES));
        ck_assert_ptr_eq(c->rules[0].past[0].maglev, prev->rules[0].maglev);
        ck_assert_uint_eq(c->rules[0].past[0].until, 3000 + 240000);
        if (i) {
            ck_assert_ptr_eq(c->rules[0].past[1].maglev,
                             prev->rules[0].past[0].maglev);
        }
        mux_config_destroy(prev);
        prev = c;
    }
    struct mux_config *other_port = weighted_config(four, 81);
    mux_config_inherit(other_port, prev, 3000);
    ck_assert_uint_eq(other_port->rules[0].n_past, 0);

    mux_pmd_destroy(&old);
    mux_pmd_destroy(&syns);
    mux_pmd_destroy(&acks);
    mux_config_destroy(a);
    mux_config_destroy(prev);
    mux_config_destroy(other_port);
}
END_TEST

/* The tables outlive the mux: written into a file, the tables for new
 * flows and the past ones, read back by a mux that starts again, built
 * again from their backends with the same entries, each past table with
 * the time that it has left, and the tables for new flows as past tables
 * from then on (a change may have come while the mux was away). */
START_TEST(test_history)
{
    static const uint32_t three[4] = { 1, 1, 1, 0 };
    static const uint32_t four[4] = { 1, 1, 1, 1 };
    static const uint32_t other[4] = { 2, 1, 1, 1 };
    struct mux_id_map names;
    mux_id_map_init(&names);
    for (int i = 0; i < 4; i++) {
        char *name = xasprintf("10.10.10.%d/5001", 11 + i);
        ck_assert_uint_eq(mux_id_map_get(&names, name), i);
        free(name);
    }
    char file[] = "/tmp/test-mux-history.XXXXXX";
    int fd = mkstemp(file);
    ck_assert_int_ge(fd, 0);
    close(fd);

    struct mux_config *a = weighted_config(three, 80);
    struct mux_config *b = weighted_config(four, 80);
    mux_config_inherit(b, a, 1000);
    char *error = mux_history_save(file, b, &names, 2000, 1000000);
    ck_assert_msg(!error, "%s", error);

    /* A mux that starts again 3 s later, whose clock reads 50000 ms. */
    struct mux_config *read;
    error = mux_history_load(file, &names, 50000, 1003000, &read);
    ck_assert_msg(!error, "%s", error);
    ck_assert_uint_eq(read->n_rules, 1);
    const struct mux_rule *r = &read->rules[0];
    ck_assert_str_eq(r->name, "http");
    ck_assert_uint_eq(r->n_past, 2);
    ck_assert_uint_eq(r->past[0].until, 50000 + 240000);
    ck_assert_uint_eq(r->past[1].until, 50000 + 1000 + 240000 - 2000 - 3000);
    const struct mux_maglev *pairs[][2] = {
        { r->past[0].maglev, b->rules[0].maglev },
        { r->past[1].maglev, a->rules[0].maglev },
    };
    for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
        const struct mux_maglev *again = pairs[i][0], *then = pairs[i][1];
        ck_assert_uint_eq(again->size, then->size);
        ck_assert(!memcmp(again->entries, then->entries,
                          then->size * sizeof *then->entries));
        ck_assert(!memcmp(again->ids, then->ids, then->n * sizeof *then->ids));
    }

    /* Its first configuration takes them, as if from the one before: the
     * table that it has now, it does not keep twice. */
    struct mux_config *c = weighted_config(four, 80);
    mux_config_inherit(c, read, 50000);
    ck_assert_uint_eq(c->rules[0].n_past, 1);
    ck_assert_ptr_eq(c->rules[0].past[0].maglev, r->past[1].maglev);
    struct mux_config *d = weighted_config(other, 80);
    mux_config_inherit(d, read, 50000);
    ck_assert_uint_eq(d->rules[0].n_past, 2);
    ck_assert_ptr_eq(d->rules[0].past[0].maglev, r->past[0].maglev);
    mux_config_destroy(read);

    /* Past its time, a past table is read as none; a configuration
     * without load-balancing rules removes the file; a file that is no
     * history is refused. */
    error = mux_history_load(file, &names, 50000, 1000000 + 240000, &read);
    ck_assert_msg(!error, "%s", error);
    ck_assert_uint_eq(read->rules[0].n_past, 1);
    mux_config_destroy(read);
    struct mux_config *empty = mux_config_create();
    mux_config_finish(empty);
    error = mux_history_save(file, empty, &names, 2000, 1000000);
    ck_assert_msg(!error, "%s", error);
    ck_assert_int_eq(access(file, F_OK), -1);
    error = mux_history_load(file, &names, 50000, 1003000, &read);
    ck_assert(!error && !read);
    FILE *stream = fopen(file, "w");
    fputs("{\"version\": 1, \"tables\": [{\"size\": 12}], \"rules\": []}",
          stream);
    fclose(stream);
    error = mux_history_load(file, &names, 50000, 1003000, &read);
    ck_assert(error && !read);
    ck_assert(strstr(error, "table 0 is no Maglev table"));
    free(error);

    unlink(file);
    mux_config_destroy(a);
    mux_config_destroy(b);
    mux_config_destroy(c);
    mux_config_destroy(d);
    mux_config_destroy(empty);
    mux_id_map_destroy(&names);
}
END_TEST

/* Returns a configuration of mux 'self' (0 or 1: PA 192.168.30.51 or
 * .52, of the two muxes) with UDP rules on 20.20.20.100: port 53 over
 * backend 10.10.10.11 (id 0, host 192.168.1.11), port 54 over 10.10.10.12
 * (id 1, host .12).  Their tables differ: a datagram's fragments need the
 * fragment table. */
static struct mux_config *
two_pool_config(int self)
{
    struct mux_config *cfg = mux_config_create();
    cfg->underlay.pa = htonl(0xc0a81e33 + self);
    cfg->underlay.mtu = 1500;
    add_targets(cfg, 2);
    cfg->maglevs = xmalloc(2 * sizeof *cfg->maglevs);
    for (uint32_t i = 0; i < 2; i++) {
        struct maglev_backend backend = {
            .key = (uint64_t) (i + 1) << 32 | 5001, .weight = 1,
        };
        struct mux_maglev *m = mux_maglev_create(&backend, &i, 1, 211, 0);
        cfg->maglevs[cfg->n_maglevs++] = m;
        struct mux_rule rule = {
            .name = (char *) (i ? "dns54" : "dns53"), .stats_id = i,
            .type = MUX_RULE_LB, .distribution = MUX_DIST_5_TUPLE,
            .maglev = m, .vip = in6_addr_mapped_ipv4(htonl(0x14141464)),
            .proto = IPPROTO_UDP, .port = 53 + i, .idle_timeout = 240000,
        };
        mux_config_add_rule(cfg, &rule);
    }
    struct in6_addr vip = in6_addr_mapped_ipv4(htonl(0x14141464));
    mux_config_add_vip(cfg, &vip);
    for (int i = 0; i < 2; i++) {
        mux_config_add_mux(cfg, htonl(0xc0a81e33 + i), i == self);
    }
    cfg->n_stats_ids = 2;
    mux_config_finish(cfg);
    return cfg;
}

/* Returns fragment 'part' (0, 1 or 2) of UDP datagram 'id' from 1.2.3.4
 * port 4000 to 20.20.20.100 port 'dport', of 2 x 800 + 400 bytes. */
static struct dp_packet *
udp_fragment(uint16_t id, int part, uint16_t dport)
{
    uint16_t len = part < 2 ? 800 : 400;
    struct dp_packet *p = dp_packet_new_with_headroom(0, MUX_ENCAP_LEN);
    struct eth_header *eth = dp_packet_put_zeros(p, ETH_HEADER_LEN);
    eth->eth_type = htons(ETH_TYPE_IP);
    struct ip_header *ip = dp_packet_put_zeros(p, IP_HEADER_LEN);
    ip->ip_ihl_ver = IP_IHL_VER(5, 4);
    ip->ip_tot_len = htons(IP_HEADER_LEN + len);
    ip->ip_id = htons(id);
    ip->ip_frag_off = htons((part < 2 ? IP_MORE_FRAGMENTS : 0)
                            | part * 800 / 8);
    ip->ip_ttl = 64;
    ip->ip_proto = IPPROTO_UDP;
    put_16aligned_be32(&ip->ip_src, htonl(0x01020304));
    put_16aligned_be32(&ip->ip_dst, htonl(0x14141464));
    ip->ip_csum = csum(ip, IP_HEADER_LEN);
    uint8_t *payload = dp_packet_put_zeros(p, len);
    if (!part) {
        struct udp_header *udp = (struct udp_header *) payload;
        udp->udp_src = htons(4000);
        udp->udp_dst = htons(dport);
        udp->udp_len = htons(2000);
    }
    memset(payload + (part ? 0 : UDP_HEADER_LEN), 'a' + part,
           len - (part ? 0 : UDP_HEADER_LEN));
    return p;
}

/* The outer destination of encapsulated 'p', and its outer source in
 * '*src'. */
static ovs_be32
outer_dst(const struct dp_packet *p, ovs_be32 *src)
{
    const struct ip_header *ip = (const struct ip_header *)
        ((const uint8_t *) dp_packet_data(p) + ETH_HEADER_LEN);
    *src = get_16aligned_be32(&ip->ip_src);
    return get_16aligned_be32(&ip->ip_dst);
}

/* Runs 'packet' through 'pmd' with 'cfg' at 'now', and moves what it sent
 * (the batch's packets, then the fragments that waited) into 'sent', of
 * room for 4; returns how many. */
static size_t
run_fragment(struct mux_pmd *pmd, const struct mux_config *cfg,
             struct dp_packet *packet, uint32_t now, struct dp_packet *sent[4])
{
    struct dp_packet_batch in, out;
    dp_packet_batch_init_packet(&in, packet);
    dp_packet_batch_init(&out);
    mux_dp_process(pmd, cfg, &in, &out, now);
    size_t n = 0;
    struct dp_packet *p;
    DP_PACKET_BATCH_FOR_EACH (i, p, &out) {
        ck_assert(n < 4);
        sent[n++] = p;
    }
    for (size_t i = 0; i < pmd->n_frag_out; i++) {
        ck_assert(n < 4);
        sent[n++] = pmd->frag_out[i].packet;
    }
    pmd->n_frag_out = 0;
    return n;
}

/* Checks that encapsulated 'p' goes from 'src' to 'dst' and carries
 * 'frame', unchanged. */
static void
check_sent(struct dp_packet *p, ovs_be32 src, ovs_be32 dst,
           const struct dp_packet *frame)
{
    ovs_be32 outer_src;
    ck_assert_uint_eq(ntohl(outer_dst(p, &outer_src)), ntohl(dst));
    ck_assert_uint_eq(ntohl(outer_src), ntohl(src));
    ck_assert_uint_eq(dp_packet_size(p),
                      MUX_ENCAP_LEN + dp_packet_size(frame));
    ck_assert(!memcmp((const uint8_t *) dp_packet_data(p) + MUX_ENCAP_LEN,
                      dp_packet_data(frame), dp_packet_size(frame)));
    dp_packet_delete(p);
}

/* Where a VIP's rules send a datagram without ports to different backends,
 * every mux sends each fragment to the one mux that places the datagram,
 * picked alike by all; that mux places the first fragment by its port,
 * and the others where it went, whichever comes first and through
 * whichever mux. */
START_TEST(test_fragment_table)
{
    struct mux_config *cfgs[2] = { two_pool_config(0), two_pool_config(1) };
    struct mux_frags *frags[2];
    struct mux_pmd pmds[2];
    for (int m = 0; m < 2; m++) {
        frags[m] = mux_frags_create(MUX_FRAG_MAX_DATAGRAMS, 2);
        mux_pmd_init(&pmds[m], 1024, 1024, 5000);
        mux_pmd_prepare(&pmds[m], cfgs[m]);
        pmds[m].frags = frags[m];
    }
    const ovs_be32 mux_pa[2] = { htonl(0xc0a81e33), htonl(0xc0a81e34) };
    const ovs_be32 host_pa[2] = { htonl(0xc0a8010b), htonl(0xc0a8010c) };

    /* Datagrams to either port, last fragment first, through the mux
     * that does not place them where there is one; then the first
     * fragment and the middle one through the one that does. */
    int owned[2] = { 0, 0 };
    for (uint16_t id = 1; id <= 40; id++) {
        uint16_t port = 53 + id % 2;
        int backend = id % 2;
        struct dp_packet *sent[4];
        struct dp_packet *last = udp_fragment(id, 2, port);
        size_t n = run_fragment(&pmds[0], cfgs[0], dp_packet_clone(last),
                                1000, sent);
        int owner = n;          /* Sent on, or held by mux 0. */
        owned[owner]++;
        if (owner) {
            ck_assert_uint_eq(n, 1);
            /* To the other mux, VNI 0, with the frame as it came. */
            check_sent(dp_packet_clone(sent[0]), mux_pa[0], mux_pa[1],
                       last);
            ck_assert_uint_eq(run_fragment(&pmds[1], cfgs[1], sent[0], 1000,
                                           sent), 0);
        }
        struct dp_packet *first = udp_fragment(id, 0, port);
        n = run_fragment(&pmds[owner], cfgs[owner], dp_packet_clone(first),
                         1001, sent);
        ck_assert_uint_eq(n, 2);
        check_sent(sent[0], mux_pa[owner], host_pa[backend], first);
        check_sent(sent[1], mux_pa[owner], host_pa[backend], last);

        /* The middle fragment, through the other mux first. */
        struct dp_packet *middle = udp_fragment(id, 1, port);
        if (!owner) {
            n = run_fragment(&pmds[1], cfgs[1], dp_packet_clone(middle),
                             1002, sent);
            ck_assert_uint_eq(n, 1);
            check_sent(dp_packet_clone(sent[0]), mux_pa[1], mux_pa[0],
                       middle);
            n = run_fragment(&pmds[0], cfgs[0], sent[0], 1002, sent);
        } else {
            n = run_fragment(&pmds[1], cfgs[1], dp_packet_clone(middle),
                             1002, sent);
        }
        ck_assert_uint_eq(n, 1);
        check_sent(sent[0], mux_pa[owner], host_pa[backend], middle);

        /* Every byte of the datagram passed: its entry is gone. */
        struct mux_frags_usage usage;
        mux_frags_usage(frags[owner], &usage);
        ck_assert_uint_eq(usage.datagrams, 0);
        ck_assert_uint_eq(usage.held, 0);
        dp_packet_delete(first);
        dp_packet_delete(middle);
        dp_packet_delete(last);
    }
    /* Both muxes place datagrams. */
    ck_assert_uint_gt(owned[0], 5);
    ck_assert_uint_gt(owned[1], 5);
    ck_assert_uint_eq(pmds[0].fragments + pmds[1].fragments, 120);
    ck_assert_uint_eq(pmds[0].fragments_to_muxes
                      + pmds[1].fragments_to_muxes, 40);
    ck_assert_uint_eq(pmds[0].rule_stats[0].packets
                      + pmds[1].rule_stats[0].packets, 60);

    /* A datagram to a port without a rule: its first fragment is dropped,
     * and so are the later ones, at once. */
    uint16_t id = 100;
    struct dp_packet *sent[4];
    int owner = run_fragment(&pmds[0], cfgs[0], udp_fragment(id, 0, 99),
                             2000, sent);
    if (owner) {
        ck_assert_uint_eq(run_fragment(&pmds[1], cfgs[1], sent[0], 2000,
                                       sent), 0);
    }
    ck_assert_uint_eq(pmds[owner].drops[MUX_DROP_NO_RULE], 1);
    ck_assert_uint_eq(run_fragment(&pmds[owner], cfgs[owner],
                                   udp_fragment(id, 1, 99), 2000, sent), 0);
    ck_assert_uint_eq(pmds[owner].drops[MUX_DROP_FRAGMENT], 1);

    /* Later fragments whose first never comes wait until their
     * datagram's time is up, two at most (the table's room here). */
    for (id = 200; ; id++) {
        if (!run_fragment(&pmds[0], cfgs[0], udp_fragment(id, 1, 53), 3000,
                          sent)) {
            break;              /* Mux 0 places it. */
        }
        dp_packet_delete(sent[0]);
    }
    ck_assert_uint_eq(run_fragment(&pmds[0], cfgs[0],
                                   udp_fragment(id, 2, 53), 3000, sent), 0);
    ck_assert_uint_eq(run_fragment(&pmds[0], cfgs[0],
                                   udp_fragment(id, 2, 53), 3000, sent), 0);
    ck_assert_uint_eq(pmds[0].drops[MUX_DROP_FRAGMENT_FULL], 1);
    ck_assert_uint_eq(mux_frags_expire(frags[0], 3000 + MUX_FRAG_TIMEOUT_MS
                                       - 1), 0);
    ck_assert_uint_eq(mux_frags_expire(frags[0], 3000 + MUX_FRAG_TIMEOUT_MS),
                      2);
    struct mux_frags_usage usage;
    mux_frags_usage(frags[0], &usage);
    ck_assert_uint_eq(usage.datagrams, 0);

    /* Without a fragment table, such fragments are dropped. */
    pmds[0].frags = NULL;
    uint64_t dropped = pmds[0].drops[MUX_DROP_FRAGMENT];
    ck_assert_uint_eq(run_fragment(&pmds[0], cfgs[0],
                                   udp_fragment(1, 0, 53), 4000, sent), 0);
    ck_assert_uint_eq(pmds[0].drops[MUX_DROP_FRAGMENT], dropped + 1);

    for (int m = 0; m < 2; m++) {
        mux_pmd_destroy(&pmds[m]);
        mux_frags_destroy(frags[m]);
        mux_config_destroy(cfgs[m]);
    }
}
END_TEST

static Suite *
dp_suite(void)
{
    Suite *s = suite_create("mux-dp");
    TCase *tc = tcase_create("pmd");

    tcase_add_test(tc, test_prepare_follows_generation);
    tcase_add_test(tc, test_config_diff);
    tcase_add_test(tc, test_path_probes);
    tcase_add_test(tc, test_path_states_listed);
    tcase_add_test(tc, test_ipv6_parsing);
    tcase_add_test(tc, test_path_probes6);
    tcase_add_test(tc, test_ipv4_hash_unchanged);
    tcase_add_test(tc, test_candidates);
    tcase_add_test(tc, test_history);
    tcase_add_test(tc, test_fragment_table);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(dp_suite)
