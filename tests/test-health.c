/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/health.c: thresholds, and the longer wait of a
 * backend that flaps. */

#include <config.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "slb-check.h"
#include "util.h"

/* Feeds 'n' results 'ok' one second apart from '*now', asserting that only
 * the last one changes the verdict if 'changes_at_last'. */
static void
feed(struct health_state *h, int n, bool ok, bool changes_at_last,
     long long int *now)
{
    for (int i = 0; i < n; i++) {
        *now += 1000;
        bool changed = health_update(h, ok, ok ? "connected" : "refused", 2,
                                     3, *now);
        ck_assert_msg(changed == (changes_at_last && i == n - 1),
                      "result %d of %d changed: %d", i + 1, n, changed);
    }
}

START_TEST(test_thresholds)
{
    struct health_state h;
    long long int now = 1000000;
    health_init(&h, true, NULL);

    /* Two failures and a success: still up; then three failures: down. */
    feed(&h, 2, false, false, &now);
    feed(&h, 1, true, false, &now);
    feed(&h, 3, false, true, &now);
    ck_assert(!h.up);
    ck_assert_str_eq(h.reason, "refused");
    /* More failures change nothing; two successes: up. */
    feed(&h, 5, false, false, &now);
    feed(&h, 1, true, false, &now);
    feed(&h, 1, false, false, &now);
    feed(&h, 2, true, true, &now);
    ck_assert(h.up);
    ck_assert_str_eq(h.reason, "connected");
}
END_TEST

START_TEST(test_flapping)
{
    struct health_state h;
    long long int now = 1000000;
    health_init(&h, true, NULL);

    /* Each time it goes down within the window, it needs two more
     * successes to come back: 2, 4, 6, 8, then no more than 8. */
    for (int flaps = 1; flaps <= HEALTH_MAX_FLAPS + 1; flaps++) {
        feed(&h, 3, false, true, &now);
        int needed = 2 * MIN(flaps, HEALTH_MAX_FLAPS);
        ck_assert_int_eq(health_up_needed(&h, 2, now), needed);
        feed(&h, needed, true, true, &now);
    }

    /* Once the window has passed since it last went down, it is trusted
     * as soon as a steady backend. */
    now += HEALTH_FLAP_WINDOW;
    feed(&h, 3, false, true, &now);
    ck_assert_int_eq(health_up_needed(&h, 2, now), 2);
    feed(&h, 2, true, true, &now);
}
END_TEST

START_TEST(test_starts_down)
{
    /* A backend that the database says is down stays down until it has
     * passed the up threshold. */
    struct health_state h;
    long long int now = 1000000;
    health_init(&h, false, "timeout");
    ck_assert_str_eq(h.reason, "timeout");
    feed(&h, 2, true, true, &now);
}
END_TEST

static Suite *
health_suite(void)
{
    Suite *s = suite_create("health");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_thresholds);
    tcase_add_test(tc, test_flapping);
    tcase_add_test(tc, test_starts_down);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(health_suite)
