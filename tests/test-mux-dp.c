/* Unit tests for mux/mux-dp.c: how a packet thread's state follows the
 * configurations that the main thread swaps in. */

#include <config.h>

#include <check.h>
#include <stdlib.h>

#include "mux-dp.h"
#include "slb-check.h"
#include "util.h"

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

static Suite *
dp_suite(void)
{
    Suite *s = suite_create("mux-dp");
    TCase *tc = tcase_create("pmd");

    tcase_add_test(tc, test_prepare_follows_generation);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(dp_suite)
