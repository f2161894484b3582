/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for mux/maglev.c: balance, disruption, order independence and
 * weights of the consistent-hash tables. */

#include <config.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "slb-check.h"
#include "util.h"

#define SEED 0x5eed
#define M 65537

/* Returns a backend key as a mux derives it: CA and VNI. */
static uint64_t
key_of(uint32_t i)
{
    return ((uint64_t) (0x0a000000 + i) << 32) | 5001;
}

static void
count_entries(const uint16_t *entries, uint32_t size, size_t n,
              uint32_t counts[])
{
    memset(counts, 0, n * sizeof *counts);
    for (uint32_t i = 0; i < size; i++) {
        ck_assert_uint_lt(entries[i], n);
        counts[entries[i]]++;
    }
}

START_TEST(test_primes)
{
    ck_assert(maglev_is_prime(65537));
    ck_assert(maglev_is_prime(655373));
    ck_assert(maglev_is_prime(2));
    ck_assert(!maglev_is_prime(65536));
    ck_assert(!maglev_is_prime(1));
    ck_assert(!maglev_is_prime(655371));
}
END_TEST

/* With equal weights every backend gets floor(M/N) or ceil(M/N) entries. */
START_TEST(test_balance)
{
    static const size_t sizes[] = { 1, 2, 3, 7, 100, 1000 };
    uint16_t *entries = xmalloc(M * sizeof *entries);

    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        size_t n = sizes[s];
        struct maglev_backend *b = xmalloc(n * sizeof *b);
        uint32_t *counts = xmalloc(n * sizeof *counts);

        for (size_t i = 0; i < n; i++) {
            b[i].key = key_of(i);
            b[i].weight = 1;
        }
        maglev_build(b, n, SEED, M, entries);
        count_entries(entries, M, n, counts);
        for (size_t i = 0; i < n; i++) {
            ck_assert_uint_ge(counts[i], M / n);
            ck_assert_uint_le(counts[i], (M + n - 1) / n);
        }
        free(counts);
        free(b);
    }
    free(entries);
}
END_TEST

/* Removing 1 of N backends moves its own entries, and of the others' only
 * a small share: at most 2% of the table for N = 10 and N = 100 here. */
START_TEST(test_disruption)
{
    static const size_t sizes[] = { 10, 100 };
    uint16_t *before = xmalloc(M * sizeof *before);
    uint16_t *after = xmalloc(M * sizeof *after);

    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        size_t n = sizes[s];
        struct maglev_backend *b = xmalloc(n * sizeof *b);
        for (size_t i = 0; i < n; i++) {
            b[i].key = key_of(i);
            b[i].weight = 1;
        }
        maglev_build(b, n, SEED, M, before);

        /* Remove backend 'gone'; the survivors shift down by one index. */
        size_t gone = n / 2;
        memmove(&b[gone], &b[gone + 1], (n - gone - 1) * sizeof *b);
        maglev_build(b, n - 1, SEED, M, after);

        uint32_t moved_others = 0;
        for (uint32_t e = 0; e < M; e++) {
            if (before[e] == gone) {
                continue;
            }
            uint16_t was = before[e] > gone ? before[e] - 1 : before[e];
            moved_others += was != after[e];
        }
        ck_assert_msg(moved_others <= M / 50,
                      "%u of %d entries of surviving backends moved "
                      "(N = %zu)", moved_others, M, n);
        free(b);
    }
    free(before);
    free(after);
}
END_TEST

/* A rule's table has at least 100 entries per backend, a prime, and no
 * more than the largest size allowed. */
START_TEST(test_size)
{
    ck_assert_uint_eq(maglev_size(0, M), 101);
    ck_assert_uint_eq(maglev_size(1, M), 101);
    ck_assert_uint_eq(maglev_size(3, M), 307);
    ck_assert_uint_eq(maglev_size(8, M), 809);
    ck_assert_uint_eq(maglev_size(655, M), 65519);
    ck_assert_uint_eq(maglev_size(656, M), 65537);
    ck_assert_uint_eq(maglev_size(1000, M), 65537);
    ck_assert_uint_eq(maglev_size(3, 211), 211);
    for (size_t n = 1; n < 700; n++) {
        uint32_t size = maglev_size(n, M);
        ck_assert(maglev_is_prime(size));
        ck_assert(size >= n * 100 || size == M);
    }
}
END_TEST

/* With tables sized for their backends, draining 1 of N backends (weight
 * 0, as when its probe fails) moves few of the others' entries: on
 * average over 200 seeds, under 4% for N from 3 to 16. */
START_TEST(test_disruption_sized)
{
    for (size_t n = 3; n <= 16; n++) {
        uint32_t size = maglev_size(n, M);
        uint16_t *before = xmalloc(size * sizeof *before);
        uint16_t *after = xmalloc(size * sizeof *after);
        struct maglev_backend *b = xmalloc(n * sizeof *b);
        uint64_t moved = 0, others = 0;

        for (uint32_t seed = 1; seed <= 200; seed++) {
            for (size_t i = 0; i < n; i++) {
                b[i].key = key_of(i);
                b[i].weight = 1;
            }
            maglev_build(b, n, seed, size, before);
            b[1].weight = 0;
            maglev_build(b, n, seed, size, after);
            for (uint32_t e = 0; e < size; e++) {
                if (before[e] != 1) {
                    others++;
                    moved += before[e] != after[e];
                }
            }
        }
        ck_assert_msg(moved * 25 < others, "%"PRIu64" of %"PRIu64" entries "
                      "of the other backends moved (N = %zu, %"PRIu32
                      " entries)", moved, others, n, size);
        free(b);
        free(before);
        free(after);
    }
}
END_TEST

/* The table depends on the set of backends, not on the order in which a
 * mux learned them, once they are sorted by key. */
START_TEST(test_order_independence)
{
    enum { N = 50 };
    struct maglev_backend sorted[N], shuffled[N];
    uint16_t *a = xmalloc(M * sizeof *a);
    uint16_t *b = xmalloc(M * sizeof *b);

    for (size_t i = 0; i < N; i++) {
        sorted[i].key = key_of(i * 7);
        sorted[i].weight = 1 + i % 3;
    }
    memcpy(shuffled, sorted, sizeof sorted);
    srand(7);
    for (size_t i = N - 1; i > 0; i--) {
        size_t j = rand() % (i + 1);
        struct maglev_backend tmp = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = tmp;
    }

    /* Sorting by key, as the mux does, gives back the same table. */
    maglev_build(sorted, N, SEED, M, a);
    for (size_t i = 0; i < N; i++) {
        for (size_t j = i + 1; j < N; j++) {
            if (shuffled[j].key < shuffled[i].key) {
                struct maglev_backend tmp = shuffled[i];
                shuffled[i] = shuffled[j];
                shuffled[j] = tmp;
            }
        }
    }
    maglev_build(shuffled, N, SEED, M, b);
    ck_assert(!memcmp(a, b, M * sizeof *a));

    /* Another seed gives another table. */
    maglev_build(sorted, N, SEED + 1, M, b);
    ck_assert(memcmp(a, b, M * sizeof *a));
    free(a);
    free(b);
}
END_TEST

/* Entries follow weights, to within one entry per round; weight 0 gets
 * nothing; no positive weight at all gives an empty table. */
START_TEST(test_weights)
{
    struct maglev_backend b[4] = {
        { key_of(1), 1 }, { key_of(2), 2 }, { key_of(3), 5 }, { key_of(4), 0 },
    };
    uint16_t *entries = xmalloc(M * sizeof *entries);
    uint32_t counts[4];

    maglev_build(b, 4, SEED, M, entries);
    count_entries(entries, M, 4, counts);
    ck_assert_uint_eq(counts[3], 0);
    ck_assert_uint_eq(counts[0] + counts[1] + counts[2], M);
    /* Expected M * w / 8: 8192, 16384, 40960. */
    ck_assert_uint_le(abs((int) counts[0] - 8192), 2);
    ck_assert_uint_le(abs((int) counts[1] - 16384), 2);
    ck_assert_uint_le(abs((int) counts[2] - 40960), 2);

    for (size_t i = 0; i < 4; i++) {
        b[i].weight = 0;
    }
    maglev_build(b, 4, SEED, M, entries);
    for (uint32_t e = 0; e < M; e++) {
        ck_assert_uint_eq(entries[e], MAGLEV_NONE);
    }
    maglev_build(b, 0, SEED, M, entries);
    ck_assert_uint_eq(entries[M - 1], MAGLEV_NONE);
    free(entries);
}
END_TEST

/* Lookups spread hashes over the whole table. */
START_TEST(test_lookup_range)
{
    uint16_t entries[7] = { 0, 1, 2, 3, 4, 5, 6 };

    ck_assert_uint_eq(maglev_lookup(entries, 7, 0), 0);
    ck_assert_uint_eq(maglev_lookup(entries, 7, UINT32_MAX), 6);
    ck_assert_uint_eq(maglev_lookup(entries, 7, UINT32_MAX / 2), 3);
}
END_TEST

static Suite *
maglev_suite(void)
{
    Suite *s = suite_create("maglev");
    TCase *tc = tcase_create("tables");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_primes);
    tcase_add_test(tc, test_balance);
    tcase_add_test(tc, test_disruption);
    tcase_add_test(tc, test_size);
    tcase_add_test(tc, test_disruption_sized);
    tcase_add_test(tc, test_order_independence);
    tcase_add_test(tc, test_weights);
    tcase_add_test(tc, test_lookup_range);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(maglev_suite)
