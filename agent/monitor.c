/* What one host's agent reads of the SLB database: see monitor.h. */

#include <config.h>

#include "monitor.h"

#include "coverage.h"
#include "lib/partial-read.h"
#include "lib/slb-idl.h"
#include "openvswitch/hmap.h"
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

/* The conditions under construction, one per table that has one, and the
 * rows that the other conditions will name. */
struct conditions {
    struct ovsdb_idl_condition vm;
    struct ovsdb_idl_condition backend;
    struct ovsdb_idl_condition backend_pool;
    struct ovsdb_idl_condition lb_rule;
    struct ovsdb_idl_condition inbound_nat_rule;
    struct ovsdb_idl_condition outbound_rule;
    struct ovsdb_idl_condition snat_allocation;
    struct ovsdb_idl_condition frontend;
    struct ovsdb_idl_condition probe;
    struct ovsdb_idl_condition acl;
    struct ovsdb_idl_condition meter;
    struct ovsdb_idl_condition host_status;
    struct ovsdb_idl_condition backend_health;
    size_t n_clauses;
    size_t n_searches;          /* Clauses "includes", among those. */
};

/* Adds to 'cond' the clause "'column' 'function' 'uuid'" ("_uuid" for a
 * null 'column'). */
static void
add_uuid_clause(struct conditions *c, struct ovsdb_idl_condition *cond,
                enum ovsdb_function function,
                const struct ovsdb_idl_column *column, const struct uuid *uuid)
{
    partial_read_add_uuid_clause(cond, function, column, uuid);
    c->n_clauses++;
}

/* Adds to 'cond' a clause for each row that 'ref', a column of references,
 * names.  The IDL leaves out of a row's C members the references to rows
 * that it does not have, such as those that these clauses ask for, so the
 * references come from the column's datum. */
static void
add_ref_clauses(struct conditions *c, struct ovsdb_idl_condition *cond,
                const struct ovsdb_datum *ref)
{
    for (size_t i = 0; i < ref->n; i++) {
        add_uuid_clause(c, cond, OVSDB_F_EQ, NULL, &ref->keys[i].uuid);
    }
}

/* Adds the clauses for local backend 'b': its inbound NAT rules and its
 * SNAT allocations. */
static void
add_backend(struct conditions *c, const struct slbrec_backend *b)
{
    const struct uuid *uuid = &b->header_.uuid;
    slbrec_inbound_nat_rule_add_clause_backend(&c->inbound_nat_rule,
                                               OVSDB_F_EQ, uuid);
    slbrec_snat_allocation_add_clause_backend(&c->snat_allocation,
                                              OVSDB_F_EQ, uuid);
    c->n_clauses += 2;
}

/* Finding the rows that hold some of a set of references: the pools that
 * hold this host's backends, the outbound rules that hold their SNAT
 * allocations.
 *
 * A clause "COLUMN includes UUID" would find a holder anywhere, but the
 * server cannot find it in an index: it tests every row of the table
 * against the table's whole condition, one clause after another, for as
 * long as such a clause is in it (seconds, at 10,000 pools and thousands
 * of clauses).  So each wanted row names its holder itself (Backend:pool,
 * SNAT_Allocation:outbound_rule), and the holder is asked for by its UUID,
 * which the server finds in an index; so is a holder in the replica that
 * holds a wanted row, so that it stays.  Only a wanted row that names no
 * holder, or names one that turns out not to hold it, which only a client
 * other than slb-ctl can write, is asked for by "includes".  A named
 * holder is asked for even then, or it would leave the replica, come back
 * the next round, and so on. */
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
    struct uuidset present;     /* ...and those that the replica has. */
    struct uuidset asked;       /* Holders asked for by UUID. */
};

static void
holders_init(struct holders *h)
{
    hmap_init(&h->wanted);
    uuidset_init(&h->named);
    uuidset_init(&h->present);
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
holders_ask(struct conditions *c, struct ovsdb_idl_condition *cond,
            struct holders *h, const struct uuid *holder)
{
    if (!uuidset_find(&h->asked, holder)) {
        uuidset_insert(&h->asked, holder);
        add_uuid_clause(c, cond, OVSDB_F_EQ, NULL, holder);
    }
}

/* Tells 'h' of row 'row' of the replica, whose column holds 'refs': asks
 * for it by UUID in 'cond' if it holds a wanted row. */
static void
holders_offer(struct conditions *c, struct ovsdb_idl_condition *cond,
              struct holders *h, const struct ovsdb_idl_row *row,
              const struct ovsdb_datum *refs)
{
    bool holds = false;
    for (size_t i = 0; i < refs->n; i++) {
        struct wanted_row *w = holders_find(h, &refs->keys[i].uuid);
        if (w) {
            w->placed = holds = true;
        }
    }
    if (holds) {
        holders_ask(c, cond, h, &row->uuid);
    }
    if (uuidset_find(&h->named, &row->uuid)) {
        uuidset_insert(&h->present, &row->uuid);
    }
}

/* Adds to 'cond' the clauses for the holders that the wanted rows name,
 * and a clause "'column' includes UUID" for each wanted row that the
 * replica has no holder for and that names none still to come. */
static void
holders_finish(struct conditions *c, struct ovsdb_idl_condition *cond,
               const struct ovsdb_idl_column *column, struct holders *h)
{
    const struct uuidset_node *node;
    UUIDSET_FOR_EACH (node, &h->named) {
        holders_ask(c, cond, h, &node->uuid);
    }
    const struct wanted_row *w;
    HMAP_FOR_EACH (w, node, &h->wanted) {
        if (!w->placed
            && (!w->named || uuidset_find(&h->present, &w->holder))) {
            add_uuid_clause(c, cond, OVSDB_F_INCLUDES, column, &w->uuid);
            c->n_searches++;
        }
    }
}

void
monitor_update(struct monitor *m, struct ovsdb_idl *idl,
               const char *host_name, const struct slbrec_host *self,
               const struct sset *iface_ids)
{
    if (m->held) {
        m->stale = true;
        return;
    }
    m->stale = false;

    struct conditions c;
    struct ovsdb_idl_condition *conds[] = {
        &c.vm, &c.backend, &c.backend_pool, &c.lb_rule, &c.inbound_nat_rule,
        &c.outbound_rule, &c.snat_allocation, &c.frontend, &c.probe, &c.acl,
        &c.meter, &c.host_status, &c.backend_health,
    };
    for (size_t i = 0; i < ARRAY_SIZE(conds); i++) {
        ovsdb_idl_condition_init(conds[i]);
    }
    c.n_clauses = c.n_searches = 0;

    /* The tables whose rows are asked for by UUID name "_uuid" from the
     * first request on, for the server's sake: see
     * partial_read_anchor_uuid(). */
    struct ovsdb_idl_condition *by_uuid[] = {
        &c.backend_pool, &c.outbound_rule, &c.frontend, &c.probe,
    };
    for (size_t i = 0; i < ARRAY_SIZE(by_uuid); i++) {
        partial_read_anchor_uuid(by_uuid[i]);
    }

    /* This host's own status rows. */
    slbrec_host_status_add_clause_name(&c.host_status, OVSDB_F_EQ, host_name);
    slbrec_backend_health_add_clause_host_name(&c.backend_health, OVSDB_F_EQ,
                                               host_name);
    c.n_clauses += 2;

    /* The VMs of this host, and the other VMs of their networks. */
    if (self) {
        slbrec_vm_add_clause_host(&c.vm, OVSDB_F_EQ, &self->header_.uuid);
        c.n_clauses++;
    }
    const struct slbrec_vm *vm;
    SLBREC_VM_FOR_EACH (vm, idl) {
        if (self && vm->host == self) {
            if (vm->vnet) {
                slbrec_vm_add_clause_vnet(&c.vm, OVSDB_F_EQ,
                                          &vm->vnet->header_.uuid);
            }
            slbrec_backend_add_clause_vm(&c.backend, OVSDB_F_EQ,
                                         &vm->header_.uuid);
            c.n_clauses += 2;
        }
    }

    /* What hangs from this host's backends.  The replica holds only rows
     * that the conditions asked for (or, for a moment, asked for before),
     * so that every pool, rule and allocation here leads on. */
    struct holders pools;
    holders_init(&pools);
    const struct slbrec_backend *b;
    SLBREC_BACKEND_FOR_EACH (b, idl) {
        if (self && b->vm && b->vm->host == self) {
            add_backend(&c, b);
            holders_want(&pools, &b->header_.uuid,
                         slbrec_backend_get_pool(b, OVSDB_TYPE_UUID));
        }
    }
    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, idl) {
        holders_offer(&c, &c.backend_pool, &pools, &pool->header_,
                      slbrec_backend_pool_get_backends(pool,
                                                       OVSDB_TYPE_UUID));
        slbrec_lb_rule_add_clause_pool(&c.lb_rule, OVSDB_F_EQ,
                                       &pool->header_.uuid);
        c.n_clauses++;
    }
    holders_finish(&c, &c.backend_pool, &slbrec_backend_pool_col_backends,
                   &pools);
    holders_destroy(&pools);
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, idl) {
        add_ref_clauses(&c, &c.frontend, slbrec_lb_rule_get_frontend(
                            rule, OVSDB_TYPE_UUID));
        add_ref_clauses(&c, &c.probe, slbrec_lb_rule_get_probe(
                            rule, OVSDB_TYPE_UUID));
    }
    const struct slbrec_inbound_nat_rule *nr;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nr, idl) {
        add_ref_clauses(&c, &c.frontend, slbrec_inbound_nat_rule_get_frontend(
                            nr, OVSDB_TYPE_UUID));
    }
    struct holders rules;
    holders_init(&rules);
    const struct slbrec_snat_allocation *a;
    SLBREC_SNAT_ALLOCATION_FOR_EACH (a, idl) {
        holders_want(&rules, &a->header_.uuid,
                     slbrec_snat_allocation_get_outbound_rule(
                         a, OVSDB_TYPE_UUID));
        add_ref_clauses(&c, &c.frontend, slbrec_snat_allocation_get_frontend(
                            a, OVSDB_TYPE_UUID));
    }
    const struct slbrec_outbound_rule *or;
    SLBREC_OUTBOUND_RULE_FOR_EACH (or, idl) {
        holders_offer(&c, &c.outbound_rule, &rules, &or->header_,
                      slbrec_outbound_rule_get_allocations(or,
                                                           OVSDB_TYPE_UUID));
    }
    holders_finish(&c, &c.outbound_rule,
                   &slbrec_outbound_rule_col_allocations, &rules);
    holders_destroy(&rules);

    /* The ACLs and meters of this host's ports. */
    const char *iface_id;
    SSET_FOR_EACH (iface_id, iface_ids) {
        slbrec_acl_add_clause_iface_id(&c.acl, OVSDB_F_EQ, iface_id);
        slbrec_meter_add_clause_iface_id(&c.meter, OVSDB_F_EQ, iface_id);
        c.n_clauses += 2;
    }

    unsigned int expected = 0;
#define SET(TABLE)                                                      \
    expected = MAX(expected, slbrec_##TABLE##_set_condition(idl, &c.TABLE))
    SET(vm);
    SET(backend);
    SET(backend_pool);
    SET(lb_rule);
    SET(inbound_nat_rule);
    SET(outbound_rule);
    SET(snat_allocation);
    SET(frontend);
    SET(probe);
    SET(acl);
    SET(meter);
    SET(host_status);
    SET(backend_health);
#undef SET
    for (size_t i = 0; i < ARRAY_SIZE(conds); i++) {
        ovsdb_idl_condition_destroy(conds[i]);
    }
    if (expected != m->expected) {
        m->n_rounds++;
        COVERAGE_INC(monitor_rounds);
        COVERAGE_ADD(monitor_search_clauses, c.n_searches);
        VLOG_DBG("conditions changed (round %u): %"PRIuSIZE" clauses, "
                 "%"PRIuSIZE" of them searches, in force from condition "
                 "change %u", m->n_rounds, c.n_clauses, c.n_searches,
                 expected);
    }
    m->expected = expected;
    m->n_clauses = c.n_clauses;
    m->n_searches = c.n_searches;
}

/* The tables whose rows the conditions name or follow: a change elsewhere
 * (a health verdict, a status row, a frontend's options) leaves the
 * conditions as they are. */
static const struct ovsdb_idl_table_class *const input_tables[] = {
    &slbrec_table_host, &slbrec_table_vm, &slbrec_table_backend,
    &slbrec_table_backend_pool, &slbrec_table_lb_rule,
    &slbrec_table_inbound_nat_rule, &slbrec_table_snat_allocation,
    &slbrec_table_outbound_rule,
};

/* Returns a number that changes whenever a row changes that
 * monitor_update() works the conditions out from. */
unsigned int
monitor_inputs_seqno(struct ovsdb_idl *idl)
{
    unsigned int seqno = 0;
    for (size_t i = 0; i < ARRAY_SIZE(input_tables); i++) {
        seqno = MAX(seqno, ovsdb_idl_table_get_seqno(idl, input_tables[i]));
    }
    return seqno;
}

bool
monitor_is_complete(const struct monitor *m, struct ovsdb_idl *idl)
{
    return !m->stale && ovsdb_idl_get_condition_seqno(idl) == m->expected;
}
