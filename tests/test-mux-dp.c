/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for mux/mux-dp.c: how a packet thread's state follows the
 * configurations that the main thread swaps in. */

#include <config.h>

#include <check.h>
#include <stdlib.h>

#include "maglev.h"
#include "mux-dp.h"
#include "openvswitch/dynamic-string.h"
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

/* Returns a configuration of one load-balancing rule over two backends,
 * with a Maglev table built by maglev_build(), and with 'change' made to
 * it: 0 none, 1 a Maglev entry, 2 a backend's PA, 3 the rule's port. */
static struct mux_config *
make_config(int change)
{
    struct mux_config *cfg = mux_config_create();
    cfg->underlay.pa = htonl(0xc0a81e33);
    cfg->underlay.mtu = 1500;
    cfg->n_targets = 2;
    cfg->targets = xcalloc(2, sizeof *cfg->targets);
    struct maglev_backend backends[2];
    for (uint32_t i = 0; i < 2; i++) {
        struct mux_target *t = xzalloc(sizeof *t);
        t->id = i;
        t->ca = htonl(0x0a0a0a0b + i);
        t->pa = htonl(0xc0a8010b + i + (change == 2 && i));
        t->vni = 5001;
        mux_target_init_header(t, &cfg->underlay);
        cfg->targets[i] = t;
        backends[i].key = (uint64_t) ntohl(t->ca) << 32 | t->vni;
        backends[i].weight = 1;
    }

    struct mux_maglev *m = xzalloc(sizeof *m);
    m->size = 211;
    m->n = 2;
    m->entries = xmalloc(m->size * sizeof *m->entries);
    m->ids = xmalloc(2 * sizeof *m->ids);
    m->keys = xmalloc(2 * sizeof *m->keys);
    m->weights = xmalloc(2 * sizeof *m->weights);
    for (size_t i = 0; i < 2; i++) {
        m->ids[i] = i;
        m->keys[i] = backends[i].key;
        m->weights[i] = backends[i].weight;
    }
    maglev_build(backends, 2, 0, m->size, m->entries);
    if (change == 1) {
        m->entries[7] ^= 1;
    }
    ovs_refcount_init(&m->refcount);
    cfg->maglevs = xmalloc(sizeof *cfg->maglevs);
    cfg->maglevs[cfg->n_maglevs++] = m;

    struct mux_rule rule = {
        .name = (char *) "http", .type = MUX_RULE_LB, .maglev = m,
        .vip = htonl(0x14141464), .proto = IPPROTO_TCP,
        .port = change == 3 ? 81 : 80, .idle_timeout = 240000,
    };
    mux_config_add_vip(cfg, rule.vip);
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

static Suite *
dp_suite(void)
{
    Suite *s = suite_create("mux-dp");
    TCase *tc = tcase_create("pmd");

    tcase_add_test(tc, test_prepare_follows_generation);
    tcase_add_test(tc, test_config_diff);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(dp_suite)
