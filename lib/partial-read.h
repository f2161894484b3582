/* SPDX-License-Identifier: Apache-2.0 */
/* Reading part of an OVSDB database: the rows a client asks for, and the
 * rows that they refer to.
 *
 * A client that changes a few rows of a large database (slb-ctl adding a
 * thousand VIPs to ten thousand) need not read the rest.  It names the
 * rows it needs in clauses, table by table, and the IDL replicates only
 * those, through OVSDB conditional monitoring.  A row it writes must be
 * whole, references included: the IDL leaves out of a row the references
 * to rows it does not hold, and rewriting such a column would drop them.
 * So a partial read also asks for every row that the rows it holds refer
 * to, and so on, until nothing more is missing.
 *
 * The client calls partial_read_start(), adds its clauses through
 * partial_read_cond(), in view of what the replica holds so far, and calls
 * partial_read_finish().  It does so again after each change to the
 * replica, until partial_read_finish() returns true: the replica then
 * holds every row asked for, and every row that those refer to.
 *
 * Tables that are not partial are read whole. */

#ifndef LIB_PARTIAL_READ_H
#define LIB_PARTIAL_READ_H 1

#include <stdbool.h>
#include <stddef.h>

#include "ovsdb-condition.h"

struct ovsdb_idl;
struct ovsdb_idl_class;
struct ovsdb_idl_condition;
struct ovsdb_idl_column;
struct ovsdb_idl_table_class;
struct uuid;

struct partial_read {
    struct ovsdb_idl *idl;
    const struct ovsdb_idl_class *class;
    struct ovsdb_idl_condition *conds; /* One per table... */
    bool *partial;              /* ...that is partial (true). */
    size_t n_clauses;           /* In the conditions of the last round. */
    size_t n_rounds;            /* Rounds that changed the conditions. */
};

void partial_read_init(struct partial_read *, struct ovsdb_idl *,
                       const struct ovsdb_idl_class *,
                       const struct ovsdb_idl_table_class *const partial[],
                       size_t n_partial);
void partial_read_destroy(struct partial_read *);

void partial_read_start(struct partial_read *);
struct ovsdb_idl_condition *partial_read_cond(
    struct partial_read *, const struct ovsdb_idl_table_class *);
bool partial_read_finish(struct partial_read *);

void partial_read_add_uuid_clause(struct ovsdb_idl_condition *,
                                  enum ovsdb_function,
                                  const struct ovsdb_idl_column *,
                                  const struct uuid *);
void partial_read_add_string_clause(struct ovsdb_idl_condition *,
                                    enum ovsdb_function,
                                    const struct ovsdb_idl_column *,
                                    const char *);
void partial_read_anchor_uuid(struct ovsdb_idl_condition *);

#endif /* lib/partial-read.h */
