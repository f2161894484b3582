/* SPDX-License-Identifier: Apache-2.0 */
/* Which hosts read which rows: see hosts.h. */

#include <config.h>

#include "hosts.h"

#include <string.h>

#include "hash.h"
#include "lib/slb-idl.h"
#include "openvswitch/hmap.h"
#include "sset.h"
#include "util.h"

const struct ovsdb_idl_column *const slb_hosts_columns[] = {
    &slbrec_frontend_col_hosts, &slbrec_backend_pool_col_hosts,
    &slbrec_probe_col_hosts, &slbrec_lb_rule_col_hosts,
    &slbrec_inbound_nat_rule_col_hosts, &slbrec_outbound_rule_col_hosts,
    &slbrec_snat_allocation_col_hosts,
};
BUILD_ASSERT_DECL(ARRAY_SIZE(slb_hosts_columns) == SLB_N_HOSTS_COLUMNS);

/* Adds to 'hosts' the host of backend 'vm', if it has one. */
static void
add_backend_host(struct sset *hosts, const struct slbrec_vm *vm)
{
    if (vm && vm->host) {
        sset_add(hosts, vm->host->name);
    }
}

/* Adds to 'hosts' the hosts of the backends of 'pool'. */
static void
add_pool_hosts(struct sset *hosts, const struct slbrec_backend_pool *pool)
{
    for (size_t i = 0; pool && i < pool->n_members; i++) {
        add_backend_host(hosts, pool->members[i]);
    }
}

/* Adds to 'hosts' those of outbound rule 'rule': its pool's, and those of
 * the backends that hold its SNAT allocations. */
static void
add_outbound_rule_hosts(struct sset *hosts,
                        const struct slbrec_outbound_rule *rule)
{
    add_pool_hosts(hosts, rule->pool);
    for (size_t i = 0; i < rule->n_allocations; i++) {
        add_backend_host(hosts, rule->allocations[i]->vm);
    }
}

static bool
hosts_equal(char **have, size_t n, const struct sset *want)
{
    if (n != sset_count(want)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!sset_contains(want, have[i])) {
            return false;
        }
    }
    return true;
}

/* Sets column "hosts" of 'ROW', a row of 'TABLE', to the sset 'HOSTS', if
 * it holds anything else, and then counts it in '*N_CHANGED'. */
#define SET_HOSTS(TABLE, ROW, HOSTS, N_CHANGED)                         \
    do {                                                                \
        if (!hosts_equal((ROW)->hosts, (ROW)->n_hosts, HOSTS)) {        \
            const char **v_ = sset_sort(HOSTS);                         \
            slbrec_##TABLE##_set_hosts(ROW, v_, sset_count(HOSTS));     \
            free(v_);                                                   \
            (*(N_CHANGED))++;                                           \
        }                                                               \
    } while (0)

/* The hosts of the users of one frontend or probe. */
struct users_hosts {
    struct hmap_node node;      /* In a map keyed by 'row'. */
    const void *row;
    struct sset hosts;
    bool done;                  /* Its column is set. */
};

static struct users_hosts *
users_hosts(struct hmap *map, const void *row)
{
    struct users_hosts *u;
    HMAP_FOR_EACH_WITH_HASH (u, node, hash_pointer(row, 0), map) {
        if (u->row == row) {
            return u;
        }
    }
    u = xzalloc(sizeof *u);
    u->row = row;
    sset_init(&u->hosts);
    hmap_insert(map, &u->node, hash_pointer(row, 0));
    return u;
}

/* Returns the hosts of the users of 'row' that 'map' found so far. */
static struct sset *
users_of(struct hmap *map, const void *row)
{
    return &users_hosts(map, row)->hosts;
}

/* Adds to 'map' the users of the frontends and probes among the rows of
 * 'idl', with their hosts. */
static void
find_users(struct ovsdb_idl *idl, struct hmap *map)
{
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, idl) {
        add_pool_hosts(users_of(map, rule->frontend), rule->pool);
        if (rule->probe) {
            add_pool_hosts(users_of(map, rule->probe), rule->pool);
        }
    }
    const struct slbrec_inbound_nat_rule *nat;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nat, idl) {
        add_backend_host(users_of(map, nat->frontend), nat->vm);
    }
    const struct slbrec_outbound_rule *out;
    SLBREC_OUTBOUND_RULE_FOR_EACH (out, idl) {
        for (size_t i = 0; i < out->n_frontends; i++) {
            add_outbound_rule_hosts(users_of(map, out->frontends[i]), out);
        }
    }
    const struct slbrec_snat_allocation *a;
    SLBREC_SNAT_ALLOCATION_FOR_EACH (a, idl) {
        add_backend_host(users_of(map, a->frontend), a->vm);
    }
}

/* Sets the "hosts" of the frontends and probes of 'lb', which the replica
 * holds with all its rows, to those of their users in 'map'. */
static void
update_lb(const struct slbrec_load_balancer *lb, struct hmap *map,
          size_t *n_changed)
{
    for (size_t i = 0; i < lb->n_frontends; i++) {
        const struct slbrec_frontend *fe = lb->frontends[i];
        struct users_hosts *u = users_hosts(map, fe);
        SET_HOSTS(frontend, fe, &u->hosts, n_changed);
        u->done = true;
    }
    for (size_t i = 0; i < lb->n_probes; i++) {
        const struct slbrec_probe *probe = lb->probes[i];
        struct users_hosts *u = users_hosts(map, probe);
        SET_HOSTS(probe, probe, &u->hosts, n_changed);
        u->done = true;
    }
}

/* Adds to the "hosts" of 'ROW', a frontend or probe that the users found
 * in 'U' use, the hosts of those users, counting it in '*N_CHANGED' if
 * that changes it. */
#define ADD_HOSTS(TABLE, ROW, U, N_CHANGED)                             \
    do {                                                                \
        for (size_t i_ = 0; i_ < (ROW)->n_hosts; i_++) {                \
            sset_add(&(U)->hosts, (ROW)->hosts[i_]);                    \
        }                                                               \
        SET_HOSTS(TABLE, ROW, &(U)->hosts, N_CHANGED);                  \
    } while (0)

/* Sets, through the transaction open on 'idl', the "hosts" column of each
 * row of its replica whose hosts can be told from what the replica holds,
 * where the column holds anything else.
 *
 * A pool's, a rule's or an allocation's hosts follow from the rows that it
 * refers to, which a replica that holds it holds too (slb-ctl's partial
 * reads follow references).  A frontend's or a probe's follow from the
 * rules that use it.  Only its load balancer lists them all, so that the
 * frontends and probes of the load balancers in the replica are set,
 * and the others only gain the hosts of the users that the replica holds:
 * a host that they keep for nothing then reads a row it does not need,
 * until a change to the load balancer works them out again.
 *
 * Returns the number of rows whose "hosts" it changed. */
size_t
slb_hosts_update(struct ovsdb_idl *idl)
{
    size_t n_changed = 0;
    struct sset hosts = SSET_INITIALIZER(&hosts);

    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, idl) {
        add_pool_hosts(&hosts, pool);
        SET_HOSTS(backend_pool, pool, &hosts, &n_changed);
        sset_clear(&hosts);
    }
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, idl) {
        add_pool_hosts(&hosts, rule->pool);
        SET_HOSTS(lb_rule, rule, &hosts, &n_changed);
        sset_clear(&hosts);
    }
    const struct slbrec_inbound_nat_rule *nat;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nat, idl) {
        add_backend_host(&hosts, nat->vm);
        SET_HOSTS(inbound_nat_rule, nat, &hosts, &n_changed);
        sset_clear(&hosts);
    }
    const struct slbrec_outbound_rule *out;
    SLBREC_OUTBOUND_RULE_FOR_EACH (out, idl) {
        add_outbound_rule_hosts(&hosts, out);
        SET_HOSTS(outbound_rule, out, &hosts, &n_changed);
        sset_clear(&hosts);
    }
    const struct slbrec_snat_allocation *a;
    SLBREC_SNAT_ALLOCATION_FOR_EACH (a, idl) {
        add_backend_host(&hosts, a->vm);
        SET_HOSTS(snat_allocation, a, &hosts, &n_changed);
        sset_clear(&hosts);
    }
    sset_destroy(&hosts);

    struct hmap map = HMAP_INITIALIZER(&map);
    find_users(idl, &map);
    const struct slbrec_load_balancer *lb;
    SLBREC_LOAD_BALANCER_FOR_EACH (lb, idl) {
        update_lb(lb, &map, &n_changed);
    }
    const struct slbrec_frontend *fe;
    SLBREC_FRONTEND_FOR_EACH (fe, idl) {
        struct users_hosts *u = users_hosts(&map, fe);
        if (!u->done) {
            ADD_HOSTS(frontend, fe, u, &n_changed);
        }
    }
    const struct slbrec_probe *probe;
    SLBREC_PROBE_FOR_EACH (probe, idl) {
        struct users_hosts *u = users_hosts(&map, probe);
        if (!u->done) {
            ADD_HOSTS(probe, probe, u, &n_changed);
        }
    }

    struct users_hosts *u;
    HMAP_FOR_EACH_POP (u, node, &map) {
        sset_destroy(&u->hosts);
        free(u);
    }
    hmap_destroy(&map);
    return n_changed;
}

/* Returns a one-line message saying that the 'n' 'hosts' of the row that
 * 'what' names leave out one of the 'want'ed hosts, the first by name, or
 * NULL if they leave out none.  Frees 'what' and destroys 'want'.
 *
 * Only another client than slb-ctl writes such a row.  An agent asks for
 * the rules, NAT rules and SNAT allocations of a pool or backend whose row
 * does not name its host, but trusts those of one that does to name it as
 * well (see agent/monitor.c): it does not read them.  (A frontend or probe
 * that leaves out a host only costs its agent a round: the agent asks for
 * it by UUID.) */
static char *
left_out_problem(struct sset *want, char **hosts, size_t n, char *what)
{
    const char **names = sset_sort(want);
    char *problem = NULL;
    for (size_t i = 0; names[i] && !problem; i++) {
        if (!slb_hosts_include(hosts, n, names[i])) {
            problem = xasprintf("%s leaves out host %s, whose agent then "
                                "does not read it (slb-ctl hosts-update "
                                "fixes that)", what, names[i]);
        }
    }
    free(names);
    free(what);
    sset_destroy(want);
    return problem;
}

/* Returns a one-line message naming a host of the backends of 'rule' that
 * the rule leaves out of its readers, or NULL: see left_out_problem(). */
char *
slb_hosts_rule_problem(const struct slbrec_lb_rule *rule)
{
    struct sset want = SSET_INITIALIZER(&want);
    add_pool_hosts(&want, rule->pool);
    return left_out_problem(&want, rule->hosts, rule->n_hosts,
                            xasprintf("rule %s", rule->name));
}

/* The same as slb_hosts_rule_problem(), for inbound NAT rule 'nat'. */
char *
slb_hosts_nat_problem(const struct slbrec_inbound_nat_rule *nat)
{
    struct sset want = SSET_INITIALIZER(&want);
    add_backend_host(&want, nat->vm);
    return left_out_problem(&want, nat->hosts, nat->n_hosts,
                            xasprintf("inbound NAT rule %s", nat->name));
}

/* The same as slb_hosts_rule_problem(), for SNAT allocation 'a' of
 * outbound rule 'rule'. */
char *
slb_hosts_allocation_problem(const struct slbrec_snat_allocation *a,
                             const struct slbrec_outbound_rule *rule)
{
    struct sset want = SSET_INITIALIZER(&want);
    add_backend_host(&want, a->vm);
    return left_out_problem(&want, a->hosts, a->n_hosts,
                            xasprintf("outbound rule %s: the SNAT "
                                      "allocation of backend %s", rule->name,
                                      a->vm ? a->vm->ca : "?"));
}

/* Returns true if the "hosts" columns follow from 'column' (or it is one of
 * them): a change to it may call for slb_hosts_update(). */
bool
slb_hosts_follow(const struct ovsdb_idl_column *column)
{
    static const struct ovsdb_idl_column *const inputs[] = {
        &slbrec_host_col_name,
        &slbrec_vm_col_host,
        &slbrec_backend_pool_col_members,
        &slbrec_lb_rule_col_frontend,
        &slbrec_lb_rule_col_pool,
        &slbrec_lb_rule_col_probe,
        &slbrec_inbound_nat_rule_col_frontend,
        &slbrec_inbound_nat_rule_col_vm,
        &slbrec_outbound_rule_col_frontends,
        &slbrec_outbound_rule_col_pool,
        &slbrec_outbound_rule_col_allocations,
        &slbrec_snat_allocation_col_frontend,
        &slbrec_snat_allocation_col_vm,
        &slbrec_load_balancer_col_frontends,
        &slbrec_load_balancer_col_probes,
        &slbrec_load_balancer_col_rules,
        &slbrec_load_balancer_col_inbound_nat_rules,
        &slbrec_load_balancer_col_outbound_rules,
    };
    for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
        if (column == inputs[i]) {
            return true;
        }
    }
    return !strcmp(column->name, "hosts");
}

/* Returns true if 'host' is one of the 'n' 'hosts' of a row. */
bool
slb_hosts_include(char **hosts, size_t n, const char *host)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(hosts[i], host)) {
            return true;
        }
    }
    return false;
}
