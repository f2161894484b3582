/* SPDX-License-Identifier: Apache-2.0 */
/* Reading part of an OVSDB database: see partial-read.h. */

#include <config.h>

#include "partial-read.h"

#include <string.h>

#include "ovsdb-data.h"
#include "ovsdb-idl-provider.h"
#include "ovsdb-idl.h"
#include "util.h"
#include "uuid.h"

/* Every table's "_uuid" column, which the IDL's classes leave out, for the
 * clauses that name a row by its UUID. */
static const struct ovsdb_idl_column uuid_column = {
    .name = (char *) "_uuid",
    .type = OVSDB_TYPE_SCALAR_INITIALIZER(OVSDB_BASE_UUID_INIT),
};

void
partial_read_init(struct partial_read *r, struct ovsdb_idl *idl,
                  const struct ovsdb_idl_class *class,
                  const struct ovsdb_idl_table_class *const partial[],
                  size_t n_partial)
{
    r->idl = idl;
    r->class = class;
    r->conds = xcalloc(class->n_tables, sizeof *r->conds);
    r->partial = xcalloc(class->n_tables, sizeof *r->partial);
    r->n_clauses = 0;
    r->n_rounds = 0;
    for (size_t i = 0; i < n_partial; i++) {
        size_t table = partial[i] - class->tables;
        ovsdb_idl_condition_init(&r->conds[table]);
        r->partial[table] = true;
    }
}

static bool
is_partial(const struct partial_read *r, size_t table)
{
    return r->partial[table];
}

void
partial_read_destroy(struct partial_read *r)
{
    for (size_t i = 0; i < r->class->n_tables; i++) {
        if (is_partial(r, i)) {
            ovsdb_idl_condition_destroy(&r->conds[i]);
        }
    }
    free(r->conds);
    free(r->partial);
}

/* Starts a round: the conditions are empty until the caller adds its
 * clauses.
 *
 * The IDL sends a condition again whenever its JSON differs, and the JSON
 * lists the clauses in the order of a hash map, which depends on the map's
 * history as well as on its contents.  So each round starts from new maps
 * and adds its clauses in an order that depends only on what the replica
 * holds: otherwise the same clauses could come out in another order each
 * round, and the rounds would never end. */
void
partial_read_start(struct partial_read *r)
{
    for (size_t i = 0; i < r->class->n_tables; i++) {
        if (is_partial(r, i)) {
            ovsdb_idl_condition_destroy(&r->conds[i]);
            ovsdb_idl_condition_init(&r->conds[i]);
            partial_read_anchor_uuid(&r->conds[i]);
        }
    }
}

/* Adds to 'cond' a clause on "_uuid" that no row satisfies.
 *
 * ovsdb-server (3.1 at least) adds the columns that a condition names to
 * the monitor it evaluates it in, which other clients may share, and in
 * which the changes already recorded have one value per column it had
 * then.  A condition change that names a column the monitor lacks, as
 * "_uuid" is unless asked for, makes the server evaluate such a change at
 * a column past its values, and crash.  A condition that names "_uuid"
 * from the first request on gives the monitor that column from the
 * start. */
void
partial_read_anchor_uuid(struct ovsdb_idl_condition *cond)
{
    partial_read_add_uuid_clause(cond, OVSDB_F_EQ, NULL, &UUID_ZERO);
}

/* Returns the condition of table 'tc', to which the caller adds clauses,
 * or NULL if 'tc' is read whole. */
struct ovsdb_idl_condition *
partial_read_cond(struct partial_read *r,
                  const struct ovsdb_idl_table_class *tc)
{
    size_t i = tc - r->class->tables;
    return is_partial(r, i) ? &r->conds[i] : NULL;
}

/* Returns the index of the table named 'name'. */
static size_t
table_index(const struct partial_read *r, const char *name)
{
    for (size_t i = 0; i < r->class->n_tables; i++) {
        if (!strcmp(r->class->tables[i].name, name)) {
            return i;
        }
    }
    OVS_NOT_REACHED();
}

/* The UUIDs of the rows of one table that the replica refers to. */
struct references {
    struct uuid *uuids;
    size_t n, allocated;
};

static void
add_references(struct references *refs, const union ovsdb_atom *atoms,
               size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (refs->n >= refs->allocated) {
            refs->uuids = x2nrealloc(refs->uuids, &refs->allocated,
                                     sizeof *refs->uuids);
        }
        refs->uuids[refs->n++] = atoms[i].uuid;
    }
}

static int
compare_uuids(const void *a, const void *b)
{
    return uuid_compare_3way(a, b);
}

/* Adds to 'cond' the clause "'column' 'function' 'uuid'", where a null
 * 'column' stands for "_uuid", which the IDL's classes leave out. */
void
partial_read_add_uuid_clause(struct ovsdb_idl_condition *cond,
                             enum ovsdb_function function,
                             const struct ovsdb_idl_column *column,
                             const struct uuid *uuid)
{
    if (!column) {
        column = &uuid_column;
    }
    /* The clause keeps what it is given, so it gets its own copy. */
    struct ovsdb_datum datum = {
        .n = 1,
        .keys = xmalloc(sizeof *datum.keys),
    };
    datum.keys[0].uuid = *uuid;
    ovsdb_idl_condition_add_clause(cond, function, column, &datum);
    ovsdb_datum_destroy(&datum, &column->type);
}

/* Adds to 'cond' the clause "'column' 'function' 'string'". */
void
partial_read_add_string_clause(struct ovsdb_idl_condition *cond,
                               enum ovsdb_function function,
                               const struct ovsdb_idl_column *column,
                               const char *string)
{
    struct ovsdb_datum datum = {
        .n = 1,
        .keys = xmalloc(sizeof *datum.keys),
    };
    datum.keys[0].s = ovsdb_atom_string_create(string);
    ovsdb_idl_condition_add_clause(cond, function, column, &datum);
    ovsdb_datum_destroy(&datum, &column->type);
}

/* Asks for the rows of partial table 'table' that 'refs' names, in the
 * order of their UUIDs. */
static void
ask_for_uuids(struct partial_read *r, size_t table, struct references *refs)
{
    qsort(refs->uuids, refs->n, sizeof *refs->uuids, compare_uuids);
    for (size_t i = 0; i < refs->n; i++) {
        partial_read_add_uuid_clause(&r->conds[table], OVSDB_F_EQ, NULL,
                                     &refs->uuids[i]);
    }
    free(refs->uuids);
}

/* Asks for every row of a partial table that a row of the replica refers
 * to. */
static void
ask_for_references(struct partial_read *r)
{
    struct references *refs = xcalloc(r->class->n_tables, sizeof *refs);
    for (size_t t = 0; t < r->class->n_tables; t++) {
        const struct ovsdb_idl_table_class *tc = &r->class->tables[t];
        for (size_t c = 0; c < tc->n_columns; c++) {
            const struct ovsdb_idl_column *column = &tc->columns[c];
            const struct ovsdb_type *type = &column->type;
            const char *key_ref = (type->key.type == OVSDB_TYPE_UUID
                                   ? type->key.uuid.refTableName : NULL);
            const char *value_ref = (type->value.type == OVSDB_TYPE_UUID
                                     ? type->value.uuid.refTableName
                                     : NULL);
            size_t key_table = key_ref ? table_index(r, key_ref) : 0;
            size_t value_table = value_ref ? table_index(r, value_ref) : 0;
            if (key_ref && !is_partial(r, key_table)) {
                key_ref = NULL;
            }
            if (value_ref && !is_partial(r, value_table)) {
                value_ref = NULL;
            }
            if (!key_ref && !value_ref) {
                continue;
            }

            for (const struct ovsdb_idl_row *row
                     = ovsdb_idl_first_row(r->idl, tc);
                 row; row = ovsdb_idl_next_row(row)) {
                const struct ovsdb_datum *datum = ovsdb_idl_read(row, column);
                if (key_ref) {
                    add_references(&refs[key_table], datum->keys, datum->n);
                }
                if (value_ref) {
                    add_references(&refs[value_table], datum->values,
                                   datum->n);
                }
            }
        }
    }
    for (size_t t = 0; t < r->class->n_tables; t++) {
        if (is_partial(r, t)) {
            ask_for_uuids(r, t, &refs[t]);
        }
    }
    free(refs);
}

/* Ends a round: adds the rows that the replica refers to and sends the
 * conditions to the server.  Returns true if the replica holds all that
 * they ask for. */
bool
partial_read_finish(struct partial_read *r)
{
    ask_for_references(r);

    unsigned int expected = 0;
    size_t n_clauses = 0;
    for (size_t i = 0; i < r->class->n_tables; i++) {
        if (is_partial(r, i)) {
            expected = MAX(expected, ovsdb_idl_set_condition(
                               r->idl, &r->class->tables[i], &r->conds[i]));
            n_clauses += hmap_count(&r->conds[i].clauses);
        }
    }
    r->n_clauses = n_clauses;

    bool done = (ovsdb_idl_has_ever_connected(r->idl)
                 && expected == ovsdb_idl_get_condition_seqno(r->idl));
    if (!done) {
        r->n_rounds++;
    }
    return done;
}
