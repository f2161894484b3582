/* SPDX-License-Identifier: Apache-2.0 */
/* The RBAC roles of the SLB database: see rbac.h. */

#include <config.h>

#include "rbac.h"

#include <string.h>

#include "lib/slb-idl.h"
#include "openvswitch/shash.h"
#include "ovsdb-idl.h"
#include "sset.h"
#include "util.h"

static const struct slb_rbac_permission agent_permissions[] = {
    { &slbrec_table_host_status, &slbrec_host_status_col_name, true,
      { &slbrec_host_status_col_nb_cfg,
        &slbrec_host_status_col_nb_cfg_timestamp,
        &slbrec_host_status_col_status } },
    { &slbrec_table_backend_health, &slbrec_backend_health_col_host_name,
      true,
      { &slbrec_backend_health_col_status,
        &slbrec_backend_health_col_reason } },
    { &slbrec_table_vm_binding, &slbrec_vm_binding_col_host_name, true,
      { &slbrec_vm_binding_col_port } },
};

static const struct slb_rbac_permission mux_permissions[] = {
    { &slbrec_table_mux_status, &slbrec_mux_status_col_name, true,
      { &slbrec_mux_status_col_nb_cfg,
        &slbrec_mux_status_col_nb_cfg_timestamp,
        &slbrec_mux_status_col_status,
        &slbrec_mux_status_col_peer_states,
        &slbrec_mux_status_col_path_states } },
};

const struct slb_rbac_role slb_rbac_roles[] = {
    { "slb-agent", agent_permissions, ARRAY_SIZE(agent_permissions) },
    { "slb-mux", mux_permissions, ARRAY_SIZE(mux_permissions) },
};
const size_t slb_n_rbac_roles = ARRAY_SIZE(slb_rbac_roles);

bool
slb_is_server_table(const struct ovsdb_idl_table_class *tc)
{
    return (tc == &slbrec_table_connection || tc == &slbrec_table_ssl
            || tc == &slbrec_table_rbac_role
            || tc == &slbrec_table_rbac_permission);
}

/* Makes 'idl', which replicates everything, leave out the server's
 * tables, and the global row's references to them. */
void
slb_omit_server_tables(struct ovsdb_idl *idl)
{
    for (size_t i = 0; i < SLBREC_N_TABLES; i++) {
        const struct ovsdb_idl_table_class *tc = &slbrec_table_classes[i];
        for (size_t j = 0; slb_is_server_table(tc) && j < tc->n_columns;
             j++) {
            ovsdb_idl_omit(idl, &tc->columns[j]);
        }
    }
    ovsdb_idl_omit(idl, &slbrec_slb_global_col_connections);
    ovsdb_idl_omit(idl, &slbrec_slb_global_col_ssl);
}

/* Makes 'idl' replicate the RBAC tables, which slb_rbac_sync() reads. */
void
slb_rbac_add_tables(struct ovsdb_idl *idl)
{
    static const struct ovsdb_idl_table_class *const tables[] = {
        &slbrec_table_rbac_role, &slbrec_table_rbac_permission,
    };
    for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
        ovsdb_idl_add_table(idl, tables[i]);
        for (size_t j = 0; j < tables[i]->n_columns; j++) {
            ovsdb_idl_add_column(idl, &tables[i]->columns[j]);
        }
    }
}

/* Returns true if 'row' says what 'p' does. */
static bool
permission_equal(const struct slbrec_rbac_permission *row,
                 const struct slb_rbac_permission *p)
{
    struct sset want = SSET_INITIALIZER(&want);
    for (size_t i = 0; i < ARRAY_SIZE(p->update) && p->update[i]; i++) {
        sset_add(&want, p->update[i]->name);
    }
    struct sset have = SSET_INITIALIZER(&have);
    sset_add_array(&have, row->update, row->n_update);
    bool equal = (!strcmp(row->table, p->table->name)
                  && row->n_authorization == 1
                  && !strcmp(row->authorization[0], p->authorization->name)
                  && row->insert_delete == p->insert_delete
                  && sset_equals(&have, &want));
    sset_destroy(&have);
    sset_destroy(&want);
    return equal;
}

/* Returns true if 'row' gives exactly the permissions of 'role'. */
static bool
role_equal(const struct slbrec_rbac_role *row,
           const struct slb_rbac_role *role)
{
    if (row->n_permissions != role->n_permissions) {
        return false;
    }
    for (size_t i = 0; i < role->n_permissions; i++) {
        const struct slb_rbac_permission *p = &role->permissions[i];
        const struct slbrec_rbac_permission *have = NULL;
        for (size_t j = 0; j < row->n_permissions; j++) {
            if (!strcmp(row->key_permissions[j], p->table->name)) {
                have = row->value_permissions[j];
            }
        }
        if (!have || !permission_equal(have, p)) {
            return false;
        }
    }
    return true;
}

/* Writes into 'row', in 'txn', the permissions of 'role', in new
 * RBAC_Permission rows, and deletes those it had. */
static void
role_write(struct ovsdb_idl_txn *txn, const struct slbrec_rbac_role *row,
           const struct slb_rbac_role *role)
{
    for (size_t i = 0; i < row->n_permissions; i++) {
        if (row->value_permissions[i]) {
            slbrec_rbac_permission_delete(row->value_permissions[i]);
        }
    }

    const char **tables = xmalloc(role->n_permissions * sizeof *tables);
    struct slbrec_rbac_permission **rows
        = xmalloc(role->n_permissions * sizeof *rows);
    for (size_t i = 0; i < role->n_permissions; i++) {
        const struct slb_rbac_permission *p = &role->permissions[i];
        const char *update[ARRAY_SIZE(p->update)];
        size_t n_update = 0;
        while (n_update < ARRAY_SIZE(p->update) && p->update[n_update]) {
            update[n_update] = p->update[n_update]->name;
            n_update++;
        }

        rows[i] = slbrec_rbac_permission_insert(txn);
        slbrec_rbac_permission_set_table(rows[i], p->table->name);
        const char *authorization = p->authorization->name;
        slbrec_rbac_permission_set_authorization(rows[i], &authorization, 1);
        slbrec_rbac_permission_set_insert_delete(rows[i], p->insert_delete);
        slbrec_rbac_permission_set_update(rows[i], update, n_update);
        tables[i] = p->table->name;
    }
    slbrec_rbac_role_set_permissions(row, tables, rows, role->n_permissions);
    free(tables);
    free(rows);
}

/* Makes the roles of 'idl', which replicates the RBAC tables (see
 * slb_rbac_add_tables()), those of slb_rbac_roles, in 'txn'.  Roles of
 * other names are left alone.  Returns true if it changed anything. */
bool
slb_rbac_sync(struct ovsdb_idl *idl, struct ovsdb_idl_txn *txn)
{
    bool changed = false;
    for (size_t i = 0; i < slb_n_rbac_roles; i++) {
        const struct slb_rbac_role *role = &slb_rbac_roles[i];
        const struct slbrec_rbac_role *row = NULL, *r;
        SLBREC_RBAC_ROLE_FOR_EACH (r, idl) {
            if (!strcmp(r->name, role->name)) {
                row = r;
                break;
            }
        }
        if (row && role_equal(row, role)) {
            continue;
        }
        if (!row) {
            struct slbrec_rbac_role *new_row = slbrec_rbac_role_insert(txn);
            slbrec_rbac_role_set_name(new_row, role->name);
            row = new_row;
        }
        role_write(txn, row, role);
        changed = true;
    }
    return changed;
}
