/* SPDX-License-Identifier: Apache-2.0 */
/* Who may write what in the SLB database: the RBAC roles of its daemons.
 *
 * ovsdb-server checks every write that a client makes through a
 * Connection row with a "role" against that role's RBAC_Role row, with the
 * common name of the client's certificate as its identity.  An agent
 * (role "slb-agent", its certificate named after its host) writes only its
 * host's status row and the health verdicts and bindings that name its
 * host; a mux (role "slb-mux", named after its mux) only its own status
 * row.  Everything else is the management plane's, which connects through
 * a remote without a role.  slb-ctl init writes the roles, so a database
 * always has those of its schema. */

#ifndef SLB_RBAC_H
#define SLB_RBAC_H 1

#include <stdbool.h>
#include <stddef.h>

struct ovsdb_idl;
struct ovsdb_idl_column;
struct ovsdb_idl_table_class;
struct ovsdb_idl_txn;

/* What a role may do to the rows of one table whose 'authorization' column
 * holds the client's identity: insert and delete them (if
 * 'insert_delete'), and change the 'update' columns. */
struct slb_rbac_permission {
    const struct ovsdb_idl_table_class *table;
    const struct ovsdb_idl_column *authorization;
    bool insert_delete;
    const struct ovsdb_idl_column *update[6]; /* Ends at the first NULL. */
};

struct slb_rbac_role {
    const char *name;
    const struct slb_rbac_permission *permissions;
    size_t n_permissions;
};

extern const struct slb_rbac_role slb_rbac_roles[];
extern const size_t slb_n_rbac_roles;

void slb_rbac_add_tables(struct ovsdb_idl *);
bool slb_rbac_sync(struct ovsdb_idl *, struct ovsdb_idl_txn *);

/* The tables that only the database server reads: its remotes, its keys
 * and these roles.  The daemons leave them out (the server rewrites the
 * status of its remotes every few seconds). */
bool slb_is_server_table(const struct ovsdb_idl_table_class *);
void slb_omit_server_tables(struct ovsdb_idl *);

#endif /* lib/rbac.h */
