/* SPDX-License-Identifier: Apache-2.0 */
/* The past tables of a mux's rules, kept across its restarts: see
 * mux-history.h. */

#include <config.h>
#include "mux-history.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "maglev.h"
#include "mux-ids.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/json.h"
#include "openvswitch/shash.h"
#include "util.h"

#define HISTORY_VERSION 1

/* The largest Maglev table that a mux builds (see mux-config.c). */
#define MAX_TABLE_SIZE 10000019

/* Returns the milliseconds left at 'now' until 'p' stops counting, or a
 * negative number if it no longer does. */
static int32_t
time_left(const struct mux_past_table *p, long long int now)
{
    return (int32_t) (p->until - (uint32_t) now);
}

/* Saving.
 *
 * The file is written as text directly, not through a JSON tree: with
 * 10,000 rules it holds some 20,000 tables. */

struct table_node {
    struct hmap_node node;
    const struct mux_maglev *maglev;
    size_t index;
};

/* Appends table 'm' to 'tables' as JSON. */
static void
put_table(struct ds *tables, const struct mux_maglev *m,
          const struct mux_id_map *backends)
{
    ds_put_format(tables, "%s{\"size\":%"PRIu32",\"seed\":%"PRIu32","
                  "\"backends\":[", tables->length ? "," : "", m->size,
                  m->seed);
    for (size_t i = 0; i < m->n; i++) {
        uint32_t id = m->ids[i];
        const char *name = (id < mux_id_map_size(backends)
                            ? backends->slots[id].name : NULL);
        ds_put_format(tables, "%s[", i ? "," : "");
        if (name) {
            json_string_escape(name, tables);
        } else {
            ds_put_cstr(tables, "null");
        }
        ds_put_format(tables, ",\"%#"PRIx64"\",%"PRIu32"]", m->keys[i],
                      m->weights[i]);
    }
    ds_put_cstr(tables, "]}");
}

/* Returns the index of 'm' among the tables in 'tables', adding it if it
 * is new. */
static size_t
table_index(struct hmap *index, struct ds *tables,
            const struct mux_maglev *m, const struct mux_id_map *backends)
{
    struct table_node *t;
    HMAP_FOR_EACH_WITH_HASH (t, node, hash_pointer(m, 0), index) {
        if (t->maglev == m) {
            return t->index;
        }
    }
    t = xmalloc(sizeof *t);
    t->maglev = m;
    t->index = hmap_count(index);
    hmap_insert(index, &t->node, hash_pointer(m, 0));
    put_table(tables, m, backends);
    return t->index;
}

/* Appends load-balancing rule 'r' to 'rules' as JSON, at 'now' (on the
 * clock of mux_config_inherit(), when the wall clock says 'wall_now'),
 * its tables by index in 'tables'. */
static void
put_rule(struct ds *rules, const struct mux_rule *r, struct hmap *index,
         struct ds *tables, const struct mux_id_map *backends,
         long long int now, long long int wall_now)
{
    char vip[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &r->vip, vip, sizeof vip);

    ds_put_cstr(rules, rules->length ? ",{\"name\":" : "{\"name\":");
    json_string_escape(r->name, rules);
    ds_put_format(rules, ",\"vni\":%"PRIu32",\"vip\":\"%s\","
                  "\"proto\":%"PRIu8",\"port\":%"PRIu16","
                  "\"idle_timeout\":%"PRIu32",\"current\":%"PRIuSIZE","
                  "\"past\":[", r->vni, vip, r->proto, r->port,
                  r->idle_timeout,
                  table_index(index, tables, r->maglev, backends));
    bool first = true;
    for (size_t j = 0; j < r->n_past; j++) {
        const struct mux_past_table *p = &r->past[j];
        int32_t left = time_left(p, now);
        if (left >= 0) {
            size_t t = table_index(index, tables, p->maglev, backends);
            ds_put_format(rules, "%s[%"PRIuSIZE",%lld]", first ? "" : ",",
                          t, wall_now + left);
            first = false;
        }
    }
    ds_put_cstr(rules, "]}");
}

/* Writes the tables for new flows of the load-balancing rules of 'cfg',
 * and their past tables that still count at 'now' (in ms, on the clock of
 * mux_config_inherit(), when the wall clock says 'wall_now'), into
 * 'file_name', through a temporary file beside it, or removes the file if
 * 'cfg' has no such rule.  Backend ids are written as the names that
 * 'backends' gives them.  Returns NULL, or an error message that the
 * caller must free. */
char *
mux_history_save(const char *file_name, const struct mux_config *cfg,
                 const struct mux_id_map *backends, long long int now,
                 long long int wall_now)
{
    struct ds tables = DS_EMPTY_INITIALIZER;
    struct ds rules = DS_EMPTY_INITIALIZER;
    struct hmap index = HMAP_INITIALIZER(&index);

    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct mux_rule *r = &cfg->rules[i];
        if (r->type == MUX_RULE_LB) {
            put_rule(&rules, r, &index, &tables, backends, now, wall_now);
        }
    }
    struct table_node *t;
    HMAP_FOR_EACH_POP (t, node, &index) {
        free(t);
    }
    hmap_destroy(&index);

    char *error = NULL;
    if (!rules.length) {
        if (unlink(file_name) && errno != ENOENT) {
            error = xasprintf("%s: could not remove (%s)", file_name,
                              ovs_strerror(errno));
        }
    } else {
        char *tmp = xasprintf("%s.tmp", file_name);
        FILE *stream = fopen(tmp, "w");
        if (!stream) {
            error = xasprintf("%s: could not create (%s)", tmp,
                              ovs_strerror(errno));
        } else {
            fprintf(stream, "{\"version\":%d,\"tables\":[%s],"
                    "\"rules\":[%s]}\n", HISTORY_VERSION, ds_cstr(&tables),
                    ds_cstr(&rules));
            bool ok = !ferror(stream);
            ok = !fclose(stream) && ok;
            if (!ok || rename(tmp, file_name)) {
                error = xasprintf("%s: could not write (%s)", file_name,
                                  ovs_strerror(errno));
                unlink(tmp);
            }
        }
        free(tmp);
    }
    ds_destroy(&tables);
    ds_destroy(&rules);
    return error;
}

/* Loading. */

/* Returns member 'name' of JSON object 'object' if it has 'type', else
 * NULL. */
static const struct json *
member(const struct json *object, const char *name, enum json_type type)
{
    const struct json *value = (object->type == JSON_OBJECT
                                ? shash_find_data(json_object(object), name)
                                : NULL);
    return value && value->type == type ? value : NULL;
}

/* Returns the integer 'json' in '*value', if it is one from 'min' to
 * 'max'. */
static bool
get_integer(const struct json *json, long long int min, long long int max,
            long long int *value)
{
    if (!json || json->type != JSON_INTEGER
        || json_integer(json) < min || json_integer(json) > max) {
        return false;
    }
    *value = json_integer(json);
    return true;
}

/* Builds again the Maglev table that 'json' describes, with the ids that
 * 'backends' gives its backends' names now (MUX_ID_NONE for a name that
 * it does not know: a backend gone since).  Returns NULL if 'json' is no
 * such table. */
static struct mux_maglev *
table_from_json(const struct json *json, const struct mux_id_map *backends)
{
    long long int size, seed;
    const struct json *list = member(json, "backends", JSON_ARRAY);
    if (!get_integer(member(json, "size", JSON_INTEGER), 1, MAX_TABLE_SIZE,
                     &size)
        || !maglev_is_prime(size)
        || !get_integer(member(json, "seed", JSON_INTEGER), 0, UINT32_MAX,
                        &seed)
        || !list || json_array(list)->n > MAGLEV_MAX_BACKENDS) {
        return NULL;
    }

    size_t n = json_array(list)->n;
    struct maglev_backend *in = xmalloc(MAX(n, 1) * sizeof *in);
    uint32_t *ids = xmalloc(MAX(n, 1) * sizeof *ids);
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        const struct json *b = json_array(list)->elems[i];
        const struct json_array *a = b->type == JSON_ARRAY ? json_array(b)
                                                            : NULL;
        long long int weight;
        char *end;
        ok = (a && a->n == 3
              && (a->elems[0]->type == JSON_STRING
                  || a->elems[0]->type == JSON_NULL)
              && a->elems[1]->type == JSON_STRING
              && get_integer(a->elems[2], 0, UINT32_MAX, &weight));
        if (ok) {
            errno = 0;
            in[i].key = strtoull(json_string(a->elems[1]), &end, 16);
            in[i].weight = weight;
            ok = !errno && !*end && end != json_string(a->elems[1]);
            ids[i] = (a->elems[0]->type == JSON_STRING
                      ? mux_id_map_find(backends, json_string(a->elems[0]))
                      : MUX_ID_NONE);
        }
    }
    struct mux_maglev *m = (ok ? mux_maglev_create(in, ids, n, size, seed)
                            : NULL);
    free(in);
    free(ids);
    return m;
}

/* Adds to 'cfg' the rule that 'json' describes, found in 'maglevs' (the
 * 'n' tables of the file), with the past tables that still count at 'now'
 * (when the wall clock says 'wall_now'): first its table for new flows
 * when the file was written, which was in force until the mux ended, at
 * most now, and so counts for the rule's idle timeout from now; then the
 * past tables that the file names, with the time that they have left.
 * Returns false if 'json' is no such rule. */
static bool
rule_from_json(const struct json *json, struct mux_maglev **maglevs,
               size_t n, long long int now, long long int wall_now,
               struct mux_config *cfg)
{
    const struct json *name = member(json, "name", JSON_STRING);
    const struct json *vip = member(json, "vip", JSON_STRING);
    const struct json *list = member(json, "past", JSON_ARRAY);
    long long int vni, proto, port, idle_timeout, current;
    struct mux_rule rule = { .type = MUX_RULE_LB };
    if (!name || !vip || !list || !n
        || inet_pton(AF_INET6, json_string(vip), &rule.vip) != 1
        || !get_integer(member(json, "vni", JSON_INTEGER), 0, 0xffffff, &vni)
        || !get_integer(member(json, "proto", JSON_INTEGER), 0, 255, &proto)
        || !get_integer(member(json, "port", JSON_INTEGER), 0, 65535, &port)
        || !get_integer(member(json, "idle_timeout", JSON_INTEGER), 0,
                        INT32_MAX, &idle_timeout)
        || !get_integer(member(json, "current", JSON_INTEGER), 0, n - 1,
                        &current)
        || json_array(list)->n > MUX_MAX_PAST_TABLES) {
        return false;
    }

    struct mux_past_table past[MUX_MAX_PAST_TABLES];
    past[0] = (struct mux_past_table) {
        .maglev = maglevs[current], .until = now + idle_timeout,
    };
    size_t n_past = 1;
    for (size_t i = 0; i < json_array(list)->n; i++) {
        const struct json *p = json_array(list)->elems[i];
        const struct json_array *a = p->type == JSON_ARRAY ? json_array(p)
                                                            : NULL;
        long long int index, until;
        if (!a || a->n != 2
            || !get_integer(a->elems[0], 0, n - 1, &index)
            || !get_integer(a->elems[1], 0, LLONG_MAX, &until)) {
            return false;
        }
        long long int left = until - wall_now;
        if (left >= 0 && left <= INT32_MAX
            && n_past < MUX_MAX_PAST_TABLES) {
            past[n_past++] = (struct mux_past_table) {
                .maglev = maglevs[index], .until = now + left,
            };
        }
    }
    rule.name = CONST_CAST(char *, json_string(name));
    rule.vni = vni;
    rule.proto = proto;
    rule.port = port;
    rule.past = past;
    rule.n_past = n_past;
    mux_config_add_rule(cfg, &rule);
    return true;
}

/* Reads the tables that 'file_name' holds, written by mux_history_save()
 * when the wall clock said what it says now ('wall_now') or earlier, into
 * '*cfgp' (see mux_history_parse()).  Returns NULL, with '*cfgp' NULL if
 * there is no such file, or an error message that the caller must free,
 * with '*cfgp' NULL. */
char *
mux_history_load(const char *file_name, const struct mux_id_map *backends,
                 long long int now, long long int wall_now,
                 struct mux_config **cfgp)
{
    *cfgp = NULL;
    struct stat s;
    if (stat(file_name, &s)) {
        return (errno == ENOENT ? NULL
                : xasprintf("%s: %s", file_name, ovs_strerror(errno)));
    }
    struct json *json = json_from_file(file_name);
    char *error = (json->type == JSON_STRING
                   ? xasprintf("%s: %s", file_name, json_string(json))
                   : mux_history_parse(json, file_name, backends, now,
                                       wall_now, cfgp));
    json_destroy(json);
    return error;
}

/* Reads the tables that 'json' (the content of 'file_name') holds into
 * '*cfgp': a configuration that holds only load-balancing rules, each
 * with the past tables that count at 'now' (on the clock of
 * mux_config_inherit()), for mux_config_inherit() to take as the
 * configuration before the first.  Backends get the ids that 'backends'
 * gives their names now.  Returns NULL, or an error message that the
 * caller must free, with '*cfgp' NULL. */
char *
mux_history_parse(const struct json *json, const char *file_name,
                  const struct mux_id_map *backends, long long int now,
                  long long int wall_now, struct mux_config **cfgp)
{
    *cfgp = NULL;
    long long int version;
    const struct json *tables = member(json, "tables", JSON_ARRAY);
    const struct json *rules = member(json, "rules", JSON_ARRAY);
    if (!get_integer(member(json, "version", JSON_INTEGER), HISTORY_VERSION,
                     HISTORY_VERSION, &version)
        || !tables || !rules) {
        return xasprintf("%s: not a mux history of version %d", file_name,
                         HISTORY_VERSION);
    }

    struct mux_config *cfg = mux_config_create();
    size_t n = json_array(tables)->n;
    cfg->maglevs = xmalloc(MAX(n, 1) * sizeof *cfg->maglevs);
    char *error = NULL;
    for (size_t i = 0; !error && i < n; i++) {
        struct mux_maglev *m = table_from_json(json_array(tables)->elems[i],
                                               backends);
        if (m) {
            cfg->maglevs[cfg->n_maglevs++] = m;
        } else {
            error = xasprintf("%s: table %"PRIuSIZE" is no Maglev table",
                              file_name, i);
        }
    }
    for (size_t i = 0; !error && i < json_array(rules)->n; i++) {
        if (!rule_from_json(json_array(rules)->elems[i], cfg->maglevs, n,
                            now, wall_now, cfg)) {
            error = xasprintf("%s: rule %"PRIuSIZE" is no rule with past "
                              "tables", file_name, i);
        }
    }
    if (error) {
        mux_config_destroy(cfg);
    } else {
        *cfgp = cfg;
    }
    return error;
}
