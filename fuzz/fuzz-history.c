/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the mux's history file (mux/mux-history.c), which a
 * mux reads back when it starts again, whatever a crash or a full disk
 * left in it.
 *
 * The input is the file's text.  Beyond what the sanitizers catch: a
 * history that is refused gives one line of error and no configuration;
 * one that is accepted gives load-balancing rules, each with at least the
 * table that was in force (at most MUX_MAX_PAST_TABLES), each table's
 * entries naming one of its backends or none, each past table counting
 * for no more than the time that the file may give it; and the backends
 * of the known names "10.10.10.11/5001" and "10.10.10.12/5001" get their
 * ids, every other one none. */

#include <config.h>

#include <string.h>

#include "mux/maglev.h"
#include "mux/mux-dp.h"
#include "mux/mux-history.h"
#include "mux/mux-ids.h"
#include "openvswitch/json.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 100000
#define WALL_NOW 1700000000000LL

static void
check_table(const struct mux_maglev *m)
{
    ovs_assert(maglev_is_prime(m->size));
    for (uint32_t i = 0; i < m->size; i++) {
        ovs_assert(m->entries[i] == MAGLEV_NONE || m->entries[i] < m->n);
    }
    for (size_t i = 0; i < m->n; i++) {
        ovs_assert(m->ids[i] <= 1 || m->ids[i] == MUX_ID_NONE);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mux_id_map names;
    if (!mux_id_map_size(&names)) {
        mux_id_map_init(&names);
        ovs_assert(!mux_id_map_get(&names, "10.10.10.11/5001"));
        ovs_assert(mux_id_map_get(&names, "10.10.10.12/5001") == 1);
    }

    char *text = xmemdup0((const char *) data, size);
    struct json *json = json_from_string(text);
    free(text);
    if (json->type == JSON_STRING) {
        json_destroy(json);             /* Not JSON: the parser's own. */
        return 0;
    }

    struct mux_config *cfg;
    char *error = mux_history_parse(json, "history", &names, NOW, WALL_NOW,
                                    &cfg);
    json_destroy(json);
    if (error) {
        ovs_assert(!cfg && !strchr(error, '\n'));
        free(error);
        return 0;
    }
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct mux_rule *r = &cfg->rules[i];
        ovs_assert(r->type == MUX_RULE_LB && !r->maglev);
        ovs_assert(r->n_past >= 1 && r->n_past <= MUX_MAX_PAST_TABLES);
        for (size_t j = 0; j < r->n_past; j++) {
            int32_t left = r->past[j].until - (uint32_t) NOW;
            ovs_assert(left >= 0);
            check_table(r->past[j].maglev);
        }
    }
    mux_config_destroy(cfg);
    return 0;
}
