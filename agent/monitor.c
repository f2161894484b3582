/* SPDX-License-Identifier: Apache-2.0 */
/* What one host's agent reads of the SLB database: see monitor.h. */

#include <config.h>

#include "monitor.h"

#include "coverage.h"
#include "hmapx.h"
#include "lib/lb.h"
#include "lib/partial-read.h"
#include "lib/slb-idl.h"
#include "openvswitch/hmap.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "ovsdb-data.h"
#include "ovsdb-idl-provider.h"
#include "ovsdb-idl.h"
#include "sset.h"
#include "util.h"
#include "uuid.h"
#include "uuidset.h"

VLOG_DEFINE_THIS_MODULE(agent_monitor);

/* Clauses "includes" in the conditions sent to the server: see struct
 * holders. */
COVERAGE_DEFINE(monitor_search_clauses);
/* Changes of the conditions. */
COVERAGE_DEFINE(monitor_rounds);

/* The tables that the agent reads under conditions. */
enum table {
    T_VM, T_BACKEND_POOL, T_LB_RULE, T_INBOUND_NAT_RULE,
    T_OUTBOUND_RULE, T_SNAT_ALLOCATION, T_FRONTEND, T_PROBE, T_ACL, T_METER,
    T_HOST_STATUS, T_BACKEND_HEALTH, T_VM_BINDING, T_MUX_STATUS, N_TABLES
};

static const struct ovsdb_idl_table_class *const table_classes[N_TABLES] = {
    [T_VM] = &slbrec_table_vm,
    [T_BACKEND_POOL] = &slbrec_table_backend_pool,
    [T_LB_RULE] = &slbrec_table_lb_rule,
    [T_INBOUND_NAT_RULE] = &slbrec_table_inbound_nat_rule,
    [T_OUTBOUND_RULE] = &slbrec_table_outbound_rule,
    [T_SNAT_ALLOCATION] = &slbrec_table_snat_allocation,
    [T_FRONTEND] = &slbrec_table_frontend,
    [T_PROBE] = &slbrec_table_probe,
    [T_ACL] = &slbrec_table_acl,
    [T_METER] = &slbrec_table_meter,
    [T_HOST_STATUS] = &slbrec_table_host_status,
    [T_BACKEND_HEALTH] = &slbrec_table_backend_health,
    [T_VM_BINDING] = &slbrec_table_vm_binding,
    [T_MUX_STATUS] = &slbrec_table_mux_status,
};

/* One clause: "'column' 'function' 'uuid'" ("_uuid" for a null 'column')
 * or, for a column of strings, "'column' 'function' 'string'".
 *
 * The clauses of a table are kept sorted, as plain values, so that those
 * of a new round are compared with the last round's before the IDL sees
 * them.  The IDL would find out as well that a condition did not change,
 * but only by turning it into JSON: each round, tens of thousands of
 * clauses, of which a handful changed. */
struct clause {
    const struct ovsdb_idl_column *column;
    enum ovsdb_function function;
    struct uuid uuid;
    char *string;
};

struct clauses {
    struct clause *clauses;
    size_t n, allocated;
};

/* The clauses under construction, table by table. */
struct conditions {
    struct clauses tables[N_TABLES];
    size_t n_searches;          /* Clauses "includes", among those... */
    size_t n_by_reference;      /* ...and clauses for rows that do not name
                                 * this host. */
};

static void
add_clause(struct conditions *c, enum table t,
           const struct ovsdb_idl_column *column,
           enum ovsdb_function function, const struct uuid *uuid,
           const char *string)
{
    struct clauses *cl = &c->tables[t];
    if (cl->n >= cl->allocated) {
        cl->clauses = x2nrealloc(cl->clauses, &cl->allocated,
                                 sizeof *cl->clauses);
    }
    cl->clauses[cl->n++] = (struct clause) {
        .column = column,
        .function = function,
        .uuid = uuid ? *uuid : UUID_ZERO,
        .string = CONST_CAST(char *, string),
    };
}

static void
add_uuid_clause(struct conditions *c, enum table t,
                enum ovsdb_function function,
                const struct ovsdb_idl_column *column, const struct uuid *uuid)
{
    add_clause(c, t, column, function, uuid, NULL);
}

static int
compare_clauses(const void *a_, const void *b_)
{
    const struct clause *a = a_, *b = b_;
    if (a->column != b->column) {
        return (uintptr_t) a->column < (uintptr_t) b->column ? -1 : 1;
    }
    if (a->function != b->function) {
        return a->function < b->function ? -1 : 1;
    }
    int cmp = uuid_compare_3way(&a->uuid, &b->uuid);
    return (cmp ? cmp
            : a->string && b->string ? strcmp(a->string, b->string)
            : !!a->string - !!b->string);
}

/* Sorts the clauses of 'cl' and drops those that come twice. */
static void
clauses_sort(struct clauses *cl)
{
    qsort(cl->clauses, cl->n, sizeof *cl->clauses, compare_clauses);
    size_t n = 0;
    for (size_t i = 0; i < cl->n; i++) {
        if (!n || compare_clauses(&cl->clauses[n - 1], &cl->clauses[i])) {
            cl->clauses[n++] = cl->clauses[i];
        }
    }
    cl->n = n;
}

static bool
clauses_equal(const struct clauses *a, const struct clauses *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (compare_clauses(&a->clauses[i], &b->clauses[i])) {
            return false;
        }
    }
    return true;
}

/* Frees the strings of 'cl', which owns them, and its array. */
static void
clauses_destroy(struct clauses *cl)
{
    for (size_t i = 0; i < cl->n; i++) {
        free(cl->clauses[i].string);
    }
    free(cl->clauses);
}

/* Makes 'cl', whose strings belong to the replica, own copies of them. */
static void
clauses_own_strings(struct clauses *cl)
{
    for (size_t i = 0; i < cl->n; i++) {
        cl->clauses[i].string = nullable_xstrdup(cl->clauses[i].string);
    }
}

/* Returns the IDL's form of the clauses 'cl'. */
static void
clauses_to_condition(const struct clauses *cl,
                     struct ovsdb_idl_condition *cond)
{
    ovsdb_idl_condition_init(cond);
    for (size_t i = 0; i < cl->n; i++) {
        const struct clause *k = &cl->clauses[i];
        if (k->string) {
            partial_read_add_string_clause(cond, k->function, k->column,
                                           k->string);
        } else {
            partial_read_add_uuid_clause(cond, k->function, k->column,
                                         &k->uuid);
        }
    }
}

/* The rows that name their readers (see lib/hosts.h), by the column that
 * does. */
static const struct ovsdb_idl_column *const hosts_columns[N_TABLES] = {
    [T_BACKEND_POOL] = &slbrec_backend_pool_col_hosts,
    [T_LB_RULE] = &slbrec_lb_rule_col_hosts,
    [T_INBOUND_NAT_RULE] = &slbrec_inbound_nat_rule_col_hosts,
    [T_OUTBOUND_RULE] = &slbrec_outbound_rule_col_hosts,
    [T_SNAT_ALLOCATION] = &slbrec_snat_allocation_col_hosts,
    [T_FRONTEND] = &slbrec_frontend_col_hosts,
    [T_PROBE] = &slbrec_probe_col_hosts,
};

/* Returns true if 'row', of table 't', names 'host' among its readers. */
static bool
names_host(const struct ovsdb_idl_row *row, enum table t, const char *host)
{
    const struct ovsdb_datum *hosts = ovsdb_idl_read(row, hosts_columns[t]);
    for (size_t i = 0; i < hosts->n; i++) {
        if (!strcmp(json_string(hosts->keys[i].s), host)) {
            return true;
        }
    }
    return false;
}

/* Returns true if the replica holds the row of table 't' with UUID 'uuid'
 * (not only a reference to it), and the row names 'host'. */
static bool
has_row_for(struct ovsdb_idl *idl, enum table t, const struct uuid *uuid,
            const char *host)
{
    const struct ovsdb_idl_row *row
        = ovsdb_idl_get_row_for_uuid(idl, table_classes[t], uuid);
    return row && row->old_datum && names_host(row, t, host);
}

/* Adds to table 't' a clause for each row that 'ref', a column of
 * references, names, but that the replica does not hold as a row that
 * names 'host'.  The IDL leaves out of a row's C members the references
 * to rows that it does not have, such as those that these clauses ask
 * for, so the references come from the column's datum. */
static void
add_ref_clauses(struct conditions *c, struct ovsdb_idl *idl, enum table t,
                const char *host, const struct ovsdb_datum *ref)
{
    for (size_t i = 0; i < ref->n; i++) {
        if (!has_row_for(idl, t, &ref->keys[i].uuid, host)) {
            add_uuid_clause(c, t, OVSDB_F_EQ, NULL, &ref->keys[i].uuid);
            c->n_by_reference++;
        }
    }
}

/* Finding the rows that hold some of a set of references, when they do not
 * name this host: the outbound rules that hold its SNAT allocations.
 *
 * A clause "COLUMN includes UUID" would find a holder anywhere, but the
 * server cannot find it in an index: it tests every row of the table
 * against the table's whole condition, one clause after another, for as
 * long as such a clause is in it (seconds, at 10,000 rows and thousands
 * of clauses).  So each wanted row names its holder itself
 * (SNAT_Allocation:outbound_rule), and the holder is asked for by its UUID,
 * which the server finds in an index; so is a holder in the replica that
 * holds a wanted row, so that it stays.  Only a wanted row that names no
 * holder, or names one that turns out not to hold it, which only a client
 * other than slb-ctl can write, is asked for by "includes".  A named
 * holder is asked for even then, or it would leave the replica, come back
 * the next round, and so on.
 *
 * A holder that names this host comes anyway: it is not asked for. */
struct wanted_row {
    struct hmap_node node;      /* In 'wanted' of struct holders. */
    struct uuid uuid;
    struct uuid holder;         /* The holder it names, if 'named'. */
    bool named;
    bool placed;                /* A holder in the replica holds it. */
};

struct holders {
    struct hmap wanted;         /* Contains "struct wanted_row"s. */
    struct uuidset named;       /* Holders that wanted rows name... */
    struct uuidset present;     /* ...those that the replica has... */
    struct uuidset tagged;      /* ...and those of them that name this
                                 * host. */
    struct uuidset asked;       /* Holders asked for by UUID. */
};

static void
holders_init(struct holders *h)
{
    hmap_init(&h->wanted);
    uuidset_init(&h->named);
    uuidset_init(&h->present);
    uuidset_init(&h->tagged);
    uuidset_init(&h->asked);
}

static void
holders_destroy(struct holders *h)
{
    struct wanted_row *w;
    HMAP_FOR_EACH_POP (w, node, &h->wanted) {
        free(w);
    }
    hmap_destroy(&h->wanted);
    uuidset_destroy(&h->named);
    uuidset_destroy(&h->present);
    uuidset_destroy(&h->tagged);
    uuidset_destroy(&h->asked);
}

static struct wanted_row *
holders_find(const struct holders *h, const struct uuid *uuid)
{
    struct wanted_row *w;
    HMAP_FOR_EACH_WITH_HASH (w, node, uuid_hash(uuid), &h->wanted) {
        if (uuid_equals(&w->uuid, uuid)) {
            return w;
        }
    }
    return NULL;
}

/* Adds the row 'uuid' to those whose holders 'h' finds.  'holder' is the
 * column of the row that names its holder. */
static void
holders_want(struct holders *h, const struct uuid *uuid,
             const struct ovsdb_datum *holder)
{
    struct wanted_row *w = xzalloc(sizeof *w);
    w->uuid = *uuid;
    if (holder->n) {
        w->named = true;
        w->holder = holder->keys[0].uuid;
        uuidset_insert(&h->named, &w->holder);
    }
    hmap_insert(&h->wanted, &w->node, uuid_hash(uuid));
}

static void
holders_ask(struct conditions *c, enum table t, struct holders *h,
            const struct uuid *holder)
{
    if (!uuidset_find(&h->asked, holder)) {
        uuidset_insert(&h->asked, holder);
        add_uuid_clause(c, t, OVSDB_F_EQ, NULL, holder);
        c->n_by_reference++;
    }
}

/* Tells 'h' of row 'row' of table 't' in the replica, whose column holds
 * 'refs': asks for it by UUID if it holds a wanted row and does not name
 * 'host'. */
static void
holders_offer(struct conditions *c, enum table t, struct holders *h,
              const char *host, const struct ovsdb_idl_row *row,
              const struct ovsdb_datum *refs)
{
    bool holds = false;
    for (size_t i = 0; i < refs->n; i++) {
        struct wanted_row *w = holders_find(h, &refs->keys[i].uuid);
        if (w) {
            w->placed = holds = true;
        }
    }
    bool tagged = names_host(row, t, host);
    if (holds && !tagged) {
        holders_ask(c, t, h, &row->uuid);
    }
    if (uuidset_find(&h->named, &row->uuid)) {
        uuidset_insert(&h->present, &row->uuid);
        if (tagged) {
            uuidset_insert(&h->tagged, &row->uuid);
        }
    }
}

/* Adds to table 't' the clauses for the holders that the wanted rows name
 * and that the replica lacks or that do not name this host, and a clause
 * "'column' includes UUID" for each wanted row that the replica has no
 * holder for and that names none still to come. */
static void
holders_finish(struct conditions *c, enum table t,
               const struct ovsdb_idl_column *column, struct holders *h)
{
    const struct uuidset_node *node;
    UUIDSET_FOR_EACH (node, &h->named) {
        if (!uuidset_find(&h->tagged, &node->uuid)) {
            holders_ask(c, t, h, &node->uuid);
        }
    }
    const struct wanted_row *w;
    HMAP_FOR_EACH (w, node, &h->wanted) {
        if (!w->placed
            && (!w->named || uuidset_find(&h->present, &w->holder))) {
            add_uuid_clause(c, t, OVSDB_F_INCLUDES, column, &w->uuid);
            c->n_searches++;
        }
    }
}

/* Returns true if the clauses of some table of 'c' differ from the last
 * round's. */
static bool
conditions_differ(const struct monitor *m, struct conditions *c)
{
    for (size_t t = 0; t < N_TABLES; t++) {
        clauses_sort(&c->tables[t]);
        if (!m->last || !clauses_equal(&c->tables[t], &m->last[t])) {
            return true;
        }
    }
    return false;
}

/* Hands to the IDL the clauses of each table of 'c' that differ from the
 * last round's, and keeps them as the last round's.  Returns the
 * condition change number from which the server applies them all. */
static unsigned int
set_conditions(struct monitor *m, struct ovsdb_idl *idl, struct conditions *c)
{
    unsigned int expected = m->expected;
    bool first = !m->last;
    if (first) {
        m->last = xcalloc(N_TABLES, sizeof *m->last);
    }
    for (size_t t = 0; t < N_TABLES; t++) {
        struct clauses *new = &c->tables[t];
        struct clauses *last = &m->last[t];
        clauses_sort(new);
        if (!first && clauses_equal(new, last)) {
            free(new->clauses);
            continue;
        }
        struct ovsdb_idl_condition cond;
        clauses_to_condition(new, &cond);
        expected = MAX(expected,
                       ovsdb_idl_set_condition(idl, table_classes[t], &cond));
        ovsdb_idl_condition_destroy(&cond);
        clauses_destroy(last);
        clauses_own_strings(new);
        *last = *new;
    }
    return expected;
}

void
monitor_update(struct monitor *m, struct ovsdb_idl *idl,
               const char *host_name, const struct slbrec_host *self,
               const struct sset *iface_ids)
{
    struct conditions c;
    memset(&c, 0, sizeof c);

    /* The tables whose rows are asked for by UUID name "_uuid" from the
     * first request on, for the server's sake: see
     * partial_read_anchor_uuid(). */
    static const enum table by_uuid[] = {
        T_OUTBOUND_RULE, T_FRONTEND, T_PROBE,
    };
    for (size_t i = 0; i < ARRAY_SIZE(by_uuid); i++) {
        add_uuid_clause(&c, by_uuid[i], OVSDB_F_EQ, NULL, &UUID_ZERO);
    }

    /* The rows that name this host as a reader: with rows written by
     * slb-ctl, all of the rest but the VMs, the pools, and the inbound NAT
     * rules and SNAT allocations of its VMs. */
    for (size_t t = 0; t < N_TABLES; t++) {
        if (hosts_columns[t]) {
            add_clause(&c, t, hosts_columns[t], OVSDB_F_INCLUDES, NULL,
                       host_name);
        }
    }

    /* This host's own status rows. */
    add_clause(&c, T_HOST_STATUS, &slbrec_host_status_col_name, OVSDB_F_EQ,
               NULL, host_name);
    add_clause(&c, T_BACKEND_HEALTH, &slbrec_backend_health_col_host_name,
               OVSDB_F_EQ, NULL, host_name);
    add_clause(&c, T_VM_BINDING, &slbrec_vm_binding_col_host_name,
               OVSDB_F_EQ, NULL, host_name);

    /* The VMs of this host, and the other VMs and the internal VIPs of
     * their networks. */
    if (self) {
        add_uuid_clause(&c, T_VM, OVSDB_F_EQ, &slbrec_vm_col_host,
                        &self->header_.uuid);
    }
    /* ...the pools that have them as backends, which the server finds by
     * testing each pool (one clause per VM of this host: a few, while a
     * host's VMs may be backends of thousands of pools), and the inbound
     * NAT rules and SNAT allocations that name them.  What hangs from the
     * pools comes by the rows' "hosts", or else it is asked for through the
     * references that lead to it.  The replica holds only rows that the
     * conditions asked for (or, for a moment, asked for before), so that
     * every pool, rule and allocation here leads on. */
    struct hmapx vnets = HMAPX_INITIALIZER(&vnets);   /* This host's. */
    const struct slbrec_vm *vm;
    SLBREC_VM_FOR_EACH (vm, idl) {
        if (!self || vm->host != self) {
            continue;
        }
        if (vm->vnet && hmapx_add(&vnets, CONST_CAST(struct slbrec_vnet *,
                                                     vm->vnet))) {
            add_uuid_clause(&c, T_VM, OVSDB_F_EQ, &slbrec_vm_col_vnet,
                            &vm->vnet->header_.uuid);
            add_uuid_clause(&c, T_FRONTEND, OVSDB_F_EQ,
                            &slbrec_frontend_col_vnet,
                            &vm->vnet->header_.uuid);
        }
        add_uuid_clause(&c, T_BACKEND_POOL, OVSDB_F_INCLUDES,
                        &slbrec_backend_pool_col_members, &vm->header_.uuid);
        add_uuid_clause(&c, T_INBOUND_NAT_RULE, OVSDB_F_EQ,
                        &slbrec_inbound_nat_rule_col_vm, &vm->header_.uuid);
        add_uuid_clause(&c, T_SNAT_ALLOCATION, OVSDB_F_EQ,
                        &slbrec_snat_allocation_col_vm, &vm->header_.uuid);
        c.n_searches++;
    }

    /* The internal VIPs of this host's networks: their rules, which say
     * which connections the muxes may redirect, and the muxes' states,
     * which say which muxes take the packets to them.  (Without them,
     * nothing that a mux reports concerns this host.) */
    const struct slbrec_frontend *fe;
    SLBREC_FRONTEND_FOR_EACH (fe, idl) {
        if (slb_frontend_is_internal(fe) && fe->vnet
            && hmapx_contains(&vnets, fe->vnet)) {
            add_uuid_clause(&c, T_MUX_STATUS, OVSDB_F_NE, NULL, &UUID_ZERO);
            add_uuid_clause(&c, T_LB_RULE, OVSDB_F_EQ,
                            &slbrec_lb_rule_col_frontend, &fe->header_.uuid);
        }
    }
    hmapx_destroy(&vnets);

    /* The rules of the pools that do not name this host, which may not
     * name it either. */
    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, idl) {
        if (!names_host(&pool->header_, T_BACKEND_POOL, host_name)) {
            add_uuid_clause(&c, T_LB_RULE, OVSDB_F_EQ,
                            &slbrec_lb_rule_col_pool, &pool->header_.uuid);
            c.n_by_reference++;
        }
    }
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, idl) {
        add_ref_clauses(&c, idl, T_FRONTEND, host_name,
                        slbrec_lb_rule_get_frontend(rule, OVSDB_TYPE_UUID));
        add_ref_clauses(&c, idl, T_PROBE, host_name,
                        slbrec_lb_rule_get_probe(rule, OVSDB_TYPE_UUID));
    }
    const struct slbrec_inbound_nat_rule *nr;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nr, idl) {
        add_ref_clauses(&c, idl, T_FRONTEND, host_name,
                        slbrec_inbound_nat_rule_get_frontend(
                            nr, OVSDB_TYPE_UUID));
    }
    struct holders rules;
    holders_init(&rules);
    const struct slbrec_snat_allocation *a;
    SLBREC_SNAT_ALLOCATION_FOR_EACH (a, idl) {
        holders_want(&rules, &a->header_.uuid,
                     slbrec_snat_allocation_get_outbound_rule(
                         a, OVSDB_TYPE_UUID));
        add_ref_clauses(&c, idl, T_FRONTEND, host_name,
                        slbrec_snat_allocation_get_frontend(
                            a, OVSDB_TYPE_UUID));
    }
    const struct slbrec_outbound_rule *or;
    SLBREC_OUTBOUND_RULE_FOR_EACH (or, idl) {
        holders_offer(&c, T_OUTBOUND_RULE, &rules, host_name, &or->header_,
                      slbrec_outbound_rule_get_allocations(or,
                                                           OVSDB_TYPE_UUID));
    }
    holders_finish(&c, T_OUTBOUND_RULE, &slbrec_outbound_rule_col_allocations,
                   &rules);
    holders_destroy(&rules);

    /* The ACLs and meters of this host's ports. */
    const char *iface_id;
    SSET_FOR_EACH (iface_id, iface_ids) {
        add_clause(&c, T_ACL, &slbrec_acl_col_iface_id, OVSDB_F_EQ, NULL,
                   iface_id);
        add_clause(&c, T_METER, &slbrec_meter_col_iface_id, OVSDB_F_EQ, NULL,
                   iface_id);
    }

    if (m->held) {
        m->stale = conditions_differ(m, &c);
        for (size_t t = 0; t < N_TABLES; t++) {
            free(c.tables[t].clauses);
        }
        return;
    }
    m->stale = false;

    unsigned int expected = set_conditions(m, idl, &c);
    size_t n_clauses = 0;
    for (size_t t = 0; t < N_TABLES; t++) {
        n_clauses += m->last[t].n;
    }
    if (expected != m->expected) {
        m->n_rounds++;
        COVERAGE_INC(monitor_rounds);
        COVERAGE_ADD(monitor_search_clauses, c.n_searches);
        VLOG_DBG("conditions changed (round %u): %"PRIuSIZE" clauses, "
                 "%"PRIuSIZE" of them searches, in force from condition "
                 "change %u", m->n_rounds, n_clauses, c.n_searches,
                 expected);
    }
    m->expected = expected;
    m->n_clauses = n_clauses;
    m->n_searches = c.n_searches;
    m->n_by_reference = c.n_by_reference;
}

void
monitor_destroy(struct monitor *m)
{
    if (m->last) {
        for (size_t t = 0; t < N_TABLES; t++) {
            clauses_destroy(&m->last[t]);
        }
        free(m->last);
        m->last = NULL;
    }
}

bool
monitor_is_complete(const struct monitor *m, struct ovsdb_idl *idl)
{
    return !m->stale && ovsdb_idl_get_condition_seqno(idl) == m->expected;
}
