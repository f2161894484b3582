/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for lib/snat.c: Azure's default port counts, explicit
 * requests, the stability of ranges as pools grow and shrink, and the
 * ports that rules of one port take from them. */

#include <config.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "snat.h"
#include "slb-check.h"
#include "util.h"

/* Asserts that 'r[0..n-1]' are valid ranges of 'size' ports: inside the
 * SNAT ports, on slot boundaries, and pairwise disjoint. */
static void
check_valid(const struct snat_range r[], size_t n, unsigned int size)
{
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_ge(r[i].min, SNAT_PORT_MIN);
        ck_assert_uint_le(r[i].max, SNAT_PORT_MIN + SNAT_PORTS - 1);
        ck_assert_uint_eq(r[i].max - r[i].min + 1, size);
        ck_assert_uint_eq((r[i].min - SNAT_PORT_MIN) % size, 0);
        for (size_t j = 0; j < i; j++) {
            ck_assert(r[i].max < r[j].min || r[j].max < r[i].min);
        }
    }
}

/* Asserts that none of 'r[0..n-1]' holds one of the 'n_blocked' ports in
 * 'blocked'. */
static void
check_unblocked(const struct snat_range r[], size_t n,
                const uint16_t blocked[], size_t n_blocked)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n_blocked; j++) {
            ck_assert_msg(blocked[j] < r[i].min || blocked[j] > r[i].max,
                          "range %u-%u holds port %u", r[i].min, r[i].max,
                          blocked[j]);
        }
    }
}

/* Allocates for 'n' backends whose current ranges are 'old', leaving out
 * the 'n_blocked' ports in 'blocked', asserting success. */
static void
allocate_blocked(const struct snat_range old[], size_t n,
                 unsigned int requested,
                 const uint16_t blocked[], size_t n_blocked,
                 struct snat_range new[])
{
    char *error = snat_allocate(old, n, requested, blocked, n_blocked, new);
    ck_assert_msg(!error, "unexpected error: %s", error);
    check_unblocked(new, n, blocked, n_blocked);
}

static void
allocate(const struct snat_range old[], size_t n, unsigned int requested,
         struct snat_range new[])
{
    allocate_blocked(old, n, requested, NULL, 0, new);
}

START_TEST(test_default_tiers)
{
    static const struct {
        size_t n;
        unsigned int ports;
    } cases[] = {
        { 1, 1024 }, { 50, 1024 }, { 51, 512 }, { 100, 512 },
        { 101, 256 }, { 200, 256 }, { 201, 128 }, { 400, 128 },
        { 401, 64 }, { 800, 64 }, { 801, 32 }, { 1000, 32 }, { 1001, 0 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        ck_assert_uint_eq(snat_default_ports(cases[i].n), cases[i].ports);
    }
}
END_TEST

START_TEST(test_fresh_allocation)
{
    struct snat_range old[3] = { { 0, 0 } }, new[3];

    allocate(old, 3, 0, new);
    check_valid(new, 3, 1024);
    ck_assert_uint_eq(new[0].min, 1024);
    ck_assert_uint_eq(new[1].min, 2048);
    ck_assert_uint_eq(new[2].min, 3072);

    /* The seed's example: 64,000 ports over three VMs. */
    allocate(old, 3, 21328, new);
    check_valid(new, 3, 21328);
    ck_assert_uint_eq(new[0].min, 1024);
    ck_assert_uint_eq(new[0].max, 22351);
    ck_assert_uint_eq(new[2].max, 65007);
}
END_TEST

START_TEST(test_refusals)
{
    struct snat_range old[1001], new[1001];
    char *error;

    memset(old, 0, sizeof old);

    error = snat_allocate(old, 3, 21336, NULL, 0, new);
    ck_assert_str_eq(error, "21336 ports per instance for 3 backends "
                     "over-allocates the 64000 SNAT ports of a frontend IP");
    free(error);

    error = snat_allocate(old, 3, 100, NULL, 0, new);
    ck_assert_str_eq(error, "100 ports per instance is not a multiple of 8");
    free(error);

    error = snat_allocate(old, 1001, 0, NULL, 0, new);
    ck_assert_str_eq(error, "automatic SNAT allocation serves at most 1000 "
                     "backends, the pool has 1001: set ports per instance");
    free(error);

    /* The largest pools fit when asked explicitly. */
    allocate(old, 1000, 64, new);
    check_valid(new, 1000, 64);
    allocate(old, 1000, 0, new);
    check_valid(new, 1000, 32);
}
END_TEST

/* Adding and removing backends one at a time, at random, within a tier:
 * no backend's range ever changes. */
START_TEST(test_stable_within_tier)
{
    enum { MAX = 50 };
    struct snat_range ranges[MAX], old[MAX], new[MAX];
    size_t n = 0;

    srand(12345);
    for (int round = 0; round < 2000; round++) {
        bool add = n == 0 || (n < MAX && rand() % 2);
        if (add) {
            /* The new backend lands at a random place in the canonical
             * order. */
            size_t pos = rand() % (n + 1);
            memmove(&ranges[pos + 1], &ranges[pos],
                    (n - pos) * sizeof *ranges);
            ranges[pos].min = ranges[pos].max = 0;
            n++;
        } else {
            size_t pos = rand() % n;
            memmove(&ranges[pos], &ranges[pos + 1],
                    (n - pos - 1) * sizeof *ranges);
            n--;
        }

        memcpy(old, ranges, n * sizeof *old);
        allocate(old, n, 0, new);
        check_valid(new, n, 1024);
        for (size_t i = 0; i < n; i++) {
            if (old[i].min) {
                ck_assert_uint_eq(new[i].min, old[i].min);
                ck_assert_uint_eq(new[i].max, old[i].max);
            }
        }
        memcpy(ranges, new, n * sizeof *ranges);
    }
}
END_TEST

/* Growing from 50 to 51 backends halves the default: every range keeps its
 * first port and its lower half, and the newcomer takes a freed half. */
START_TEST(test_tier_down_keeps_prefix)
{
    struct snat_range old[51], mid[51], new[51];

    memset(old, 0, sizeof old);
    allocate(old, 50, 0, mid);
    check_valid(mid, 50, 1024);

    memcpy(old, mid, 50 * sizeof *old);
    old[50].min = old[50].max = 0;
    allocate(old, 51, 0, new);
    check_valid(new, 51, 512);
    for (size_t i = 0; i < 50; i++) {
        ck_assert_uint_eq(new[i].min, mid[i].min);
        ck_assert_uint_eq(new[i].max, mid[i].min + 511);
    }
    ck_assert_uint_eq(new[50].min, mid[0].min + 512);
}
END_TEST

/* Shrinking back to 50 doubles the default again only if every range can
 * grow in place; otherwise nothing moves. */
START_TEST(test_tier_up_grows_in_place_or_not_at_all)
{
    struct snat_range old[51], at51[51], new[51];

    memset(old, 0, sizeof old);
    allocate(old, 50, 0, at51);
    memcpy(old, at51, 50 * sizeof *old);
    old[50].min = old[50].max = 0;
    allocate(old, 51, 0, at51);

    /* Removing the newcomer, which holds an upper half: all the others sit
     * on 1024-port boundaries and grow back. */
    allocate(at51, 50, 0, new);
    check_valid(new, 50, 1024);
    for (size_t i = 0; i < 50; i++) {
        ck_assert_uint_eq(new[i].min, at51[i].min);
    }

    /* Removing another one leaves the newcomer on an upper half: the
     * ranges stay at 512 ports, exactly where they were. */
    memcpy(old, &at51[1], 50 * sizeof *old);
    allocate(old, 50, 0, new);
    check_valid(new, 50, 512);
    for (size_t i = 0; i < 50; i++) {
        ck_assert_uint_eq(new[i].min, old[i].min);
        ck_assert_uint_eq(new[i].max, old[i].max);
    }
}
END_TEST

/* An explicit change of ports per instance keeps every range whose first
 * port is still a slot boundary; the rest move to free slots. */
START_TEST(test_explicit_change)
{
    struct snat_range old[3] = { { 0, 0 } }, mid[3], new[3];

    allocate(old, 3, 1024, mid);
    allocate(mid, 3, 2048, new);
    check_valid(new, 3, 2048);
    ck_assert_uint_eq(new[0].min, 1024);        /* Slot 0 stays. */
    ck_assert_uint_eq(new[2].min, 1024 + 2048); /* Slot 2 was at 3072. */
    ck_assert_uint_eq(new[1].min, 1024 + 2 * 2048);
}
END_TEST

/* Ranges that someone damaged by hand are repaired, not trusted. */
START_TEST(test_repairs_damage)
{
    struct snat_range old[3] = {
        { 1024, 2047 }, { 1024, 2047 }, { 70, 90 },
    }, new[3];

    allocate(old, 3, 0, new);
    check_valid(new, 3, 1024);
    ck_assert_uint_eq(new[0].min, 1024);
}
END_TEST

/* Rules of one port take their slots: ports outside the SNAT ports do not
 * count; a port that comes into a backend's slot moves that backend alone,
 * to the lowest free slot; a port that goes moves nothing back. */
START_TEST(test_blocked_ports)
{
    struct snat_range old[3] = { { 0, 0 } }, mid[3], new[3];
    static const uint16_t outside[] = { 80, 443, 1023, 65024, 65535 };

    allocate_blocked(old, 3, 0, outside, ARRAY_SIZE(outside), mid);
    ck_assert_uint_eq(mid[0].min, 1024);
    ck_assert_uint_eq(mid[1].min, 2048);
    ck_assert_uint_eq(mid[2].min, 3072);

    /* 1500 is in slot 0, 8443 in slot 7: fresh ranges skip both. */
    static const uint16_t two[] = { 8443, 1500, 8443 };
    allocate_blocked(old, 3, 0, two, ARRAY_SIZE(two), new);
    check_valid(new, 3, 1024);
    ck_assert_uint_eq(new[0].min, 2048);
    ck_assert_uint_eq(new[1].min, 3072);
    ck_assert_uint_eq(new[2].min, 4096);

    /* A rule for port 2500 comes: backend 1, in slot 1, moves to slot 3,
     * the lowest free one. */
    static const uint16_t p2500[] = { 2500 };
    allocate_blocked(mid, 3, 0, p2500, 1, new);
    ck_assert_uint_eq(new[0].min, 1024);
    ck_assert_uint_eq(new[1].min, 4096);
    ck_assert_uint_eq(new[2].min, 3072);

    /* It goes: nothing moves back. */
    memcpy(mid, new, sizeof mid);
    allocate(mid, 3, 0, new);
    ck_assert_uint_eq(new[1].min, 4096);

    /* Halving keeps the lower halves, unless a port is there. */
    struct snat_range big[2] = { { 1024, 2047 }, { 2048, 3071 } };
    static const uint16_t p2100[] = { 2100 };
    allocate_blocked(big, 2, 512, p2100, 1, new);
    ck_assert_uint_eq(new[0].min, 1024);
    ck_assert_uint_eq(new[1].min, 1536);

    /* Too few free slots left: refused, with the count. */
    static const uint16_t p2000[] = { 2000 };
    char *error = snat_allocate(old, 4, 16000, p2000, 1, new);
    ck_assert_str_eq(error, "4 backends need as many ranges of 16000 ports, "
                     "and the ports that rules of one port claim leave 3");
    free(error);
}
END_TEST

/* Backends and rules of one port come and go at random: no range ever
 * holds a rule's port, and a backend moves only when a rule takes a port
 * of its range. */
START_TEST(test_blocked_ports_churn)
{
    enum { MAX = 50, MAX_BLOCKED = 10 };
    struct snat_range ranges[MAX], new[MAX];
    uint16_t blocked[MAX_BLOCKED];
    size_t n = 0, n_blocked = 0;

    srand(54321);
    for (int round = 0; round < 3000; round++) {
        int what = rand() % 4;
        if (what == 0 && n < MAX) {
            size_t pos = rand() % (n + 1);
            memmove(&ranges[pos + 1], &ranges[pos],
                    (n - pos) * sizeof *ranges);
            ranges[pos].min = ranges[pos].max = 0;
            n++;
        } else if (what == 1 && n) {
            size_t pos = rand() % n;
            memmove(&ranges[pos], &ranges[pos + 1],
                    (n - pos - 1) * sizeof *ranges);
            n--;
        } else if (what == 2 && n_blocked < MAX_BLOCKED) {
            blocked[n_blocked++] = 1024 + rand() % 64000;
        } else if (what == 3 && n_blocked) {
            size_t gone = rand() % n_blocked;
            blocked[gone] = blocked[--n_blocked];
        }

        allocate_blocked(ranges, n, 0, blocked, n_blocked, new);
        check_valid(new, n, 1024);
        for (size_t i = 0; i < n; i++) {
            bool hit = false;
            for (size_t j = 0; j < n_blocked; j++) {
                hit |= (blocked[j] >= ranges[i].min
                        && blocked[j] <= ranges[i].max);
            }
            if (ranges[i].min && !hit) {
                ck_assert_uint_eq(new[i].min, ranges[i].min);
            }
        }
        memcpy(ranges, new, n * sizeof *ranges);
    }
}
END_TEST

static Suite *
snat_suite(void)
{
    Suite *s = suite_create("snat");
    TCase *tc = tcase_create("allocation");
    /* The refusals and the churn of blocked ports take a few seconds, more
     * than Check's default of 4 on a loaded builder. */
    tcase_set_timeout(tc, 60);

    tcase_add_test(tc, test_default_tiers);
    tcase_add_test(tc, test_fresh_allocation);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_stable_within_tier);
    tcase_add_test(tc, test_tier_down_keeps_prefix);
    tcase_add_test(tc, test_tier_up_grows_in_place_or_not_at_all);
    tcase_add_test(tc, test_explicit_change);
    tcase_add_test(tc, test_repairs_damage);
    tcase_add_test(tc, test_blocked_ports);
    tcase_add_test(tc, test_blocked_ports_churn);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(snat_suite)
