/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for mux/mux-flow.c: promotion, timeouts, the new-flow quota
 * under a SYN flood, and what happens when the tables are full. */

#include <config.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mux-flow.h"
#include "slb-check.h"
#include "util.h"

static struct mux_flow_key
key_of(uint32_t i)
{
    struct mux_flow_key key;

    memset(&key, 0, sizeof key);
    mux_flow_key_set_ipv4(&key, htonl(0xc0a80000 + i), htonl(0x14141464));
    key.sport = htons(1024 + i % 50000);
    key.dport = htons(80);
    key.proto = 6;
    return key;
}

/* Sends one packet of flow 'i' at 'now': returns the remembered backend,
 * or remembers 'backend' for a flow it did not know. */
static uint32_t
packet(struct mux_flow_table *t, uint32_t i, uint32_t backend, uint32_t now,
       uint32_t timeout)
{
    struct mux_flow_key key = key_of(i);
    uint32_t hash = mux_flow_hash(&key, 0);
    uint32_t found = mux_flow_lookup(t, &key, hash, now, timeout);
    if (found == MUX_FLOW_NONE) {
        mux_flow_insert(t, &key, hash, backend, now, timeout);
    }
    return found;
}

START_TEST(test_promotion)
{
    struct mux_flow_table t;
    uint32_t n_est, n_new;

    mux_flow_table_init(&t, 1024, 256, 1000);
    ck_assert_uint_eq(packet(&t, 1, 7, 0, 60000), MUX_FLOW_NONE);
    mux_flow_count(&t, 0, &n_est, &n_new);
    ck_assert_uint_eq(n_est, 0);
    ck_assert_uint_eq(n_new, 1);

    /* The second packet finds the flow and promotes it; later packets keep
     * their backend even when the caller would choose another one. */
    ck_assert_uint_eq(packet(&t, 1, 8, 10, 60000), 7);
    ck_assert_uint_eq(packet(&t, 1, 9, 20, 60000), 7);
    mux_flow_count(&t, 20, &n_est, &n_new);
    ck_assert_uint_eq(n_est, 1);
    ck_assert_uint_eq(n_new, 0);
    ck_assert_uint_eq(t.stats.promoted, 1);
    ck_assert_uint_eq(t.stats.hits, 2);
    ck_assert_uint_eq(t.stats.misses, 1);
    mux_flow_table_destroy(&t);
}
END_TEST

START_TEST(test_timeouts)
{
    struct mux_flow_table t;

    mux_flow_table_init(&t, 1024, 256, 1000);

    /* A new flow is forgotten after the new-flow timeout. */
    packet(&t, 1, 7, 0, 60000);
    ck_assert_uint_eq(packet(&t, 1, 8, 1000, 60000), MUX_FLOW_NONE);

    /* An established flow lives while it is active, and no longer. */
    packet(&t, 2, 5, 0, 60000);
    packet(&t, 2, 5, 1, 60000);
    ck_assert_uint_eq(packet(&t, 2, 6, 59000, 60000), 5);
    ck_assert_uint_eq(packet(&t, 2, 6, 118000, 60000), 5);
    ck_assert_uint_eq(packet(&t, 2, 6, 178000, 60000), MUX_FLOW_NONE);
    mux_flow_table_destroy(&t);
}
END_TEST

/* Millisecond times wrap around every 49 days without harm. */
START_TEST(test_time_wraps)
{
    struct mux_flow_table t;
    uint32_t start = UINT32_MAX - 500;

    mux_flow_table_init(&t, 1024, 256, 1000);
    packet(&t, 1, 3, start, 60000);
    packet(&t, 1, 3, start + 100, 60000);
    ck_assert_uint_eq(packet(&t, 1, 4, start + 30000, 60000), 3);
    ck_assert_uint_eq(packet(&t, 1, 4, start + 100000, 60000),
                      MUX_FLOW_NONE);
    mux_flow_table_destroy(&t);
}
END_TEST

/* A flood of single-packet flows, ten times the size of the new region,
 * evicts no established flow.  (A few of the active flows find their
 * bucket of the established region full and are not established.) */
START_TEST(test_syn_flood)
{
    enum { EST = 4096, NEW = 1024, ACTIVE = 1000 };
    struct mux_flow_table t;
    uint32_t n_est, n_new;

    mux_flow_table_init(&t, EST, NEW, 5000);
    for (uint32_t i = 0; i < ACTIVE; i++) {
        packet(&t, i, i, 0, 60000);
        packet(&t, i, i, 1, 60000);
    }
    uint32_t established = t.stats.promoted;
    ck_assert_uint_ge(established, ACTIVE * 99 / 100);

    for (uint32_t i = 0; i < 10 * NEW; i++) {
        packet(&t, 100000 + i, 1, 2, 60000);
    }
    mux_flow_count(&t, 2, &n_est, &n_new);
    ck_assert_uint_eq(n_est, established);
    ck_assert_uint_le(n_new, NEW);
    ck_assert_uint_gt(t.stats.evicted_new, 0);

    uint32_t kept = 0;
    for (uint32_t i = 0; i < ACTIVE; i++) {
        kept += packet(&t, i, 999999, 3, 60000) == i;
    }
    ck_assert_uint_eq(kept, established);
    mux_flow_table_destroy(&t);
}
END_TEST

/* Each region fills to 90 % before it turns a flow away (a flow sits in
 * either of two buckets, and others move to make room), and every flow in
 * it is found with its backend. */
START_TEST(test_fills_up)
{
    enum { SIZE = 4096 };
    struct mux_flow_table t;
    uint32_t n, found;
    bool established;

    /* New flows, a packet each, until one evicts another. */
    mux_flow_table_init(&t, SIZE, SIZE, 5000);
    for (n = 0; !t.stats.evicted_new; n++) {
        packet(&t, n, n, 0, 60000);
    }
    ck_assert_uint_ge(n - 1, SIZE * 9 / 10);
    found = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct mux_flow_key key = key_of(i);
        found += mux_flow_peek(&t, &key, mux_flow_hash(&key, 0), 0,
                               &established) == i;
    }
    ck_assert_uint_eq(found, n - 1);
    mux_flow_table_destroy(&t);

    /* Flows of two packets, until one finds no room among the established
     * ones. */
    mux_flow_table_init(&t, SIZE, SIZE, 5000);
    for (n = 0; !t.stats.established_full; n++) {
        packet(&t, n, n, 0, 60000);
        packet(&t, n, n, 0, 60000);
    }
    ck_assert_uint_ge(n - 1, SIZE * 9 / 10);
    found = 0;
    for (uint32_t i = 0; i < n - 1; i++) {
        struct mux_flow_key key = key_of(i);
        found += (mux_flow_peek(&t, &key, mux_flow_hash(&key, 0), 0,
                                &established) == i && established);
    }
    ck_assert_uint_eq(found, n - 1);
    mux_flow_table_destroy(&t);
}
END_TEST

/* With the established region full, flows stay in the new region and keep
 * being found while they stay active. */
START_TEST(test_established_full)
{
    struct mux_flow_table t;
    uint32_t found = 0;

    mux_flow_table_init(&t, MUX_FLOW_WAYS, 1024, 1000);
    for (uint32_t i = 0; i < 64; i++) {
        packet(&t, i, i, 0, 60000);
    }
    for (uint32_t i = 0; i < 64; i++) {
        found += packet(&t, i, 999, 10, 60000) == i;
    }
    ck_assert_uint_eq(t.stats.promoted, MUX_FLOW_WAYS);
    ck_assert_uint_eq(t.stats.established_full + t.stats.evicted_new
                      + t.stats.promoted, 64);
    ck_assert_uint_eq(found, 64 - t.stats.evicted_new);
    mux_flow_table_destroy(&t);
}
END_TEST

/* Counts the entries of 'r' in use, expired or not. */
static uint32_t
count_entries(const struct mux_flow_region *r)
{
    uint32_t n = 0;
    for (size_t i = 0; i < ((size_t) r->mask + 1) * MUX_FLOW_WAYS; i++) {
        const struct mux_flow *f = (const struct mux_flow *)
            ((const char *) r->entries + (i << r->shift));
        n += f->hash != 0;
    }
    return n;
}

/* IPv6 flows live in regions of their own, with their whole addresses:
 * an IPv6 flow whose addresses end as an IPv4 flow's is another flow,
 * and each keeps its backend, is promoted and is counted. */
START_TEST(test_ipv6_flows)
{
    struct mux_flow_table t;
    uint32_t n_est, n_new;

    mux_flow_table_init(&t, 1024, 256, 1000);
    for (uint32_t i = 0; i < 100; i++) {
        struct mux_flow_key k4 = key_of(i);
        struct mux_flow_key k6 = k4;
        k6.src_hi[0] = k6.dst_hi[0] = htonl(0x20010db8);
        uint32_t h4 = mux_flow_hash(&k4, 0), h6 = mux_flow_hash(&k6, 0);

        ck_assert_uint_eq(mux_flow_lookup(&t, &k4, h4, 0, 60000),
                          MUX_FLOW_NONE);
        mux_flow_insert(&t, &k4, h4, 4, 0, 60000);
        ck_assert_uint_eq(mux_flow_lookup(&t, &k6, h6, 0, 60000),
                          MUX_FLOW_NONE);
        mux_flow_insert(&t, &k6, h6, 6, 0, 60000);
        ck_assert_uint_eq(mux_flow_lookup(&t, &k4, h4, 1, 60000), 4);
        ck_assert_uint_eq(mux_flow_lookup(&t, &k6, h6, 1, 60000), 6);
    }
    mux_flow_count(&t, 1, &n_est, &n_new);
    ck_assert_uint_eq(n_est, 200);
    ck_assert_uint_eq(n_new, 0);
    ck_assert_uint_eq(count_entries(&t.est), 100);
    ck_assert_uint_eq(count_entries(&t.est6), 100);
    mux_flow_table_destroy(&t);
}
END_TEST

/* A sweep forgets expired entries that no packet comes back for, within
 * MUX_FLOW_SWEEP_MS of their expiry, a slice at a time, and keeps the
 * rest. */

START_TEST(test_sweep)
{
    struct mux_flow_table t;
    uint32_t n_est, n_new;

    mux_flow_table_init(&t, 4096, 1024, 1000);
    mux_flow_sweep(&t, 0);
    for (uint32_t i = 0; i < 500; i++) {
        packet(&t, i, i, 0, 60000);
        packet(&t, i, i, 1, i < 250 ? 2000 : 60000);
    }
    packet(&t, 1000, 1, 1, 60000);
    uint32_t before = count_entries(&t.est) + count_entries(&t.new);
    ck_assert_uint_eq(before, 501);

    /* A tenth of the sweep's period sweeps about a tenth of the table. */
    mux_flow_sweep(&t, 3001);
    ck_assert_uint_gt(t.stats.expired, 0);
    ck_assert_uint_lt(t.stats.expired, 100);

    /* Ten steps later, every expired entry is gone from both regions,
     * without a lookup, and only those. */
    uint32_t now;
    for (now = 4001; now <= 3001 + MUX_FLOW_SWEEP_MS; now += 1000) {
        mux_flow_sweep(&t, now);
    }
    mux_flow_count(&t, now, &n_est, &n_new);
    ck_assert_uint_ge(n_est, 240);
    ck_assert_uint_eq(count_entries(&t.est), n_est);
    ck_assert_uint_eq(count_entries(&t.new), 0);
    ck_assert_uint_eq(t.stats.expired, before - n_est);
    mux_flow_table_destroy(&t);
}
END_TEST

static Suite *
flow_suite(void)
{
    Suite *s = suite_create("mux-flow");
    TCase *tc = tcase_create("table");

    tcase_add_test(tc, test_promotion);
    tcase_add_test(tc, test_timeouts);
    tcase_add_test(tc, test_time_wraps);
    tcase_add_test(tc, test_syn_flood);
    tcase_add_test(tc, test_established_full);
    tcase_add_test(tc, test_fills_up);
    tcase_add_test(tc, test_ipv6_flows);
    tcase_add_test(tc, test_sweep);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(flow_suite)
