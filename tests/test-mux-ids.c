/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for mux/mux-ids.c: ids kept while in use, held after, then
 * given to other names, lowest first, each time with a new epoch. */

#include <config.h>

#include <check.h>
#include <stdlib.h>

#include "bitmap.h"
#include "mux-ids.h"
#include "slb-check.h"
#include "util.h"

/* Tells 'map' that a configuration applied at 'now' uses the ids of the
 * 'n' names in 'names', with a hold of 1000 ms. */
static void
apply(struct mux_id_map *map, const char *const names[], size_t n,
      long long int now)
{
    unsigned long *in_use = bitmap_allocate(mux_id_map_size(map));
    for (size_t i = 0; i < n; i++) {
        uint32_t id = mux_id_map_find(map, names[i]);
        ck_assert_uint_ne(id, MUX_ID_NONE);
        bitmap_set1(in_use, id);
    }
    mux_id_map_update(map, in_use, now, 1000);
    bitmap_free(in_use);
}

static void
check_counts(const struct mux_id_map *map, size_t used, size_t held,
             size_t free_)
{
    size_t n_used, n_held, n_free;
    mux_id_map_count(map, &n_used, &n_held, &n_free);
    ck_assert_uint_eq(n_used, used);
    ck_assert_uint_eq(n_held, held);
    ck_assert_uint_eq(n_free, free_);
}

START_TEST(test_hold_then_reuse)
{
    struct mux_id_map map;
    mux_id_map_init(&map);

    const char *const abc[] = { "a", "b", "c" };
    ck_assert_uint_eq(mux_id_map_get(&map, "a"), 0);
    ck_assert_uint_eq(mux_id_map_get(&map, "b"), 1);
    ck_assert_uint_eq(mux_id_map_get(&map, "c"), 2);
    ck_assert_uint_eq(mux_id_map_get(&map, "b"), 1);
    apply(&map, abc, 3, 0);
    check_counts(&map, 3, 0, 0);
    uint32_t epoch_a = mux_id_map_epoch(&map, 0);

    /* "a" and "b" leave at 100: held until 1100, even across later
     * configurations, however many. */
    apply(&map, abc + 2, 1, 100);
    apply(&map, abc + 2, 1, 1099);
    check_counts(&map, 1, 2, 0);
    ck_assert_uint_eq(mux_id_map_get(&map, "d"), 3);

    /* "b" comes back while held: it keeps its id and its epoch. */
    ck_assert_uint_eq(mux_id_map_get(&map, "b"), 1);
    const char *const bcd[] = { "b", "c", "d" };
    apply(&map, bcd, 3, 1100);
    check_counts(&map, 3, 0, 1);
    ck_assert_uint_eq(mux_id_map_find(&map, "a"), MUX_ID_NONE);

    /* "a"'s id, once free, goes to the next new name, with a new
     * epoch; ids stay below the most ever in use at once. */
    ck_assert_uint_eq(mux_id_map_get(&map, "e"), 0);
    ck_assert_uint_ne(mux_id_map_epoch(&map, 0), epoch_a);
    ck_assert_uint_eq(mux_id_map_size(&map), 4);
    mux_id_map_destroy(&map);
}
END_TEST

/* Churn: a thousand names, ten at a time, each used once.  The ids never
 * exceed what the names in use and those held need. */
START_TEST(test_churn_stays_dense)
{
    struct mux_id_map map;
    mux_id_map_init(&map);

    for (int round = 0; round < 100; round++) {
        char *names[10];
        for (int i = 0; i < 10; i++) {
            names[i] = xasprintf("n%d", round * 10 + i);
            mux_id_map_get(&map, names[i]);
        }
        /* A configuration every 500 ms: a name stays held for two more
         * after its own. */
        apply(&map, (const char *const *) names, 10, round * 500LL);
        for (int i = 0; i < 10; i++) {
            free(names[i]);
        }
    }
    ck_assert_uint_le(mux_id_map_size(&map), 40);

    /* Nothing in use: everything leaves, once held long enough. */
    mux_id_map_update(&map, NULL, 100000, 1000);
    mux_id_map_update(&map, NULL, 101000, 1000);
    check_counts(&map, 0, 0, mux_id_map_size(&map));
    mux_id_map_destroy(&map);
}
END_TEST

static Suite *
ids_suite(void)
{
    Suite *s = suite_create("mux-ids");
    TCase *tc = tcase_create("ids");

    tcase_add_test(tc, test_hold_then_reuse);
    tcase_add_test(tc, test_churn_stays_dense);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(ids_suite)
