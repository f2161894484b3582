/* What one host's agent reads of the SLB database: see monitor.h. */

#include <config.h>

#include "monitor.h"

#include "lib/partial-read.h"
#include "lib/slb-idl.h"
#include "openvswitch/hmap.h"
#include "ovsdb-data.h"
#include "ovsdb-idl-provider.h"
#include "ovsdb-idl.h"
#include "sset.h"
#include "util.h"
#include "uuid.h"
#include "uuidset.h"

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

/* The rows of a table that hold a set of references, such as the pools
 * that hold backends, are asked for in two ways.  A row of the replica
 * that holds one of 'wanted' is asked for by its UUID, which the server
 * finds in an index.  Each of 'wanted' that no row of the replica holds
 * yet is asked for by a clause "COLUMN includes UUID", which the server
 * must test on every row of the table, but only until the row that holds
 * it is in the replica.  (With a clause "includes" per local backend, each
 * change of the conditions would cost the server a test of every pool
 * against every local backend: seconds, at 10,000 pools.)
 *
 * Adds to 'cond' the clause that asks for the row 'row' of the replica,
 * whose column holds 'refs', if it holds one of 'wanted', and removes
 * those from 'unplaced'. */
static void
add_holder(struct conditions *c, struct ovsdb_idl_condition *cond,
           const struct ovsdb_idl_row *row, const struct ovsdb_datum *refs,
           const struct uuidset *wanted, struct uuidset *unplaced)
{
    bool holds = false;
    for (size_t i = 0; i < refs->n; i++) {
        const struct uuid *ref = &refs->keys[i].uuid;
        if (uuidset_find(wanted, ref)) {
            holds = true;
            uuidset_find_and_delete(unplaced, ref);
        }
    }
    if (holds) {
        add_uuid_clause(c, cond, OVSDB_F_EQ, NULL, &row->uuid);
    }
}

/* Adds to 'cond' a clause "'column' includes UUID" for each of
 * 'unplaced'. */
static void
add_unplaced(struct conditions *c, struct ovsdb_idl_condition *cond,
             const struct ovsdb_idl_column *column,
             const struct uuidset *unplaced)
{
    const struct uuidset_node *node;
    UUIDSET_FOR_EACH (node, unplaced) {
        add_uuid_clause(c, cond, OVSDB_F_INCLUDES, column, &node->uuid);
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
    c.n_clauses = 0;

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
    struct uuidset backends = UUIDSET_INITIALIZER(&backends);
    struct uuidset unplaced = UUIDSET_INITIALIZER(&unplaced);
    const struct slbrec_backend *b;
    SLBREC_BACKEND_FOR_EACH (b, idl) {
        if (self && b->vm && b->vm->host == self) {
            add_backend(&c, b);
            uuidset_insert(&backends, &b->header_.uuid);
            uuidset_insert(&unplaced, &b->header_.uuid);
        }
    }
    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, idl) {
        add_holder(&c, &c.backend_pool, &pool->header_,
                   slbrec_backend_pool_get_backends(pool, OVSDB_TYPE_UUID),
                   &backends, &unplaced);
        slbrec_lb_rule_add_clause_pool(&c.lb_rule, OVSDB_F_EQ,
                                       &pool->header_.uuid);
        c.n_clauses++;
    }
    add_unplaced(&c, &c.backend_pool, &slbrec_backend_pool_col_backends,
                 &unplaced);
    uuidset_destroy(&backends);
    uuidset_destroy(&unplaced);
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
    struct uuidset allocations = UUIDSET_INITIALIZER(&allocations);
    struct uuidset unplaced_allocations
        = UUIDSET_INITIALIZER(&unplaced_allocations);
    const struct slbrec_snat_allocation *a;
    SLBREC_SNAT_ALLOCATION_FOR_EACH (a, idl) {
        uuidset_insert(&allocations, &a->header_.uuid);
        uuidset_insert(&unplaced_allocations, &a->header_.uuid);
        add_ref_clauses(&c, &c.frontend, slbrec_snat_allocation_get_frontend(
                            a, OVSDB_TYPE_UUID));
    }
    const struct slbrec_outbound_rule *or;
    SLBREC_OUTBOUND_RULE_FOR_EACH (or, idl) {
        add_holder(&c, &c.outbound_rule, &or->header_,
                   slbrec_outbound_rule_get_allocations(or, OVSDB_TYPE_UUID),
                   &allocations, &unplaced_allocations);
    }
    add_unplaced(&c, &c.outbound_rule, &slbrec_outbound_rule_col_allocations,
                 &unplaced_allocations);
    uuidset_destroy(&allocations);
    uuidset_destroy(&unplaced_allocations);

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
    m->expected = expected;
    m->n_clauses = c.n_clauses;
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
