/* SPDX-License-Identifier: Apache-2.0 */
/* The idle timeouts of the local VMs' connections: see ct-zones.h. */

#include <config.h>

#include "ct-zones.h"

#include "host-flows.h"
#include "openvswitch/vlog.h"
#include "smap.h"
#include "util.h"
#include "vswitch-idl.h"

VLOG_DEFINE_THIS_MODULE(ct_zones);

/* The key of CT_Zone external_ids that marks the agent's own rows. */
#define OWNER_KEY "slb-agent"

/* The keys of a CT_Timeout_Policy that the agent sets: TCP's established
 * state, then UDP's three. */
static const char *const timeout_keys[] = {
    "tcp_established", "udp_first", "udp_single", "udp_multiple",
};
#define N_TIMEOUT_KEYS ARRAY_SIZE(timeout_keys)

/* Registers in 'idl' the columns of the local database that
 * ct_zones_update() reads and writes.  The agent's own writes to them
 * call for no new computation of its flows: they alert no one. */
void
ct_zones_add_columns(struct ovsdb_idl *idl)
{
    static const struct ovsdb_idl_column *columns[] = {
        &ovsrec_open_vswitch_col_datapaths,
        &ovsrec_datapath_col_datapath_version,
        &ovsrec_datapath_col_ct_zones,
        &ovsrec_ct_zone_col_timeout_policy,
        &ovsrec_ct_zone_col_external_ids,
        &ovsrec_ct_timeout_policy_col_timeouts,
    };
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_datapath_type);
    ovsdb_idl_add_table(idl, &ovsrec_table_datapath);
    ovsdb_idl_add_table(idl, &ovsrec_table_ct_zone);
    ovsdb_idl_add_table(idl, &ovsrec_table_ct_timeout_policy);
    for (size_t i = 0; i < ARRAY_SIZE(columns); i++) {
        ovsdb_idl_add_column(idl, columns[i]);
        ovsdb_idl_omit_alert(idl, columns[i]);
    }
}

/* Fills 'values' with the timeouts of 'z' for timeout_keys, and returns
 * how many of the keys, from the first, have one: TCP's only if the zone
 * has one, UDP's only if it has one. */
static void
policy_values(const struct host_zone_timeouts *z, const char *keys[],
              int64_t values[], size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < N_TIMEOUT_KEYS; i++) {
        uint32_t value = i == 0 ? z->tcp : z->udp;
        if (value) {
            keys[*n] = timeout_keys[i];
            values[(*n)++] = value;
        }
    }
}

/* Returns true if 'tp' holds exactly the timeouts of 'z'. */
static bool
policy_is(const struct ovsrec_ct_timeout_policy *tp,
          const struct host_zone_timeouts *z)
{
    const char *keys[N_TIMEOUT_KEYS];
    int64_t values[N_TIMEOUT_KEYS];
    size_t n;
    policy_values(z, keys, values, &n);
    if (!tp || tp->n_timeouts != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < n && strcmp(tp->key_timeouts[j], keys[i])) {
            j++;
        }
        if (j == n || tp->value_timeouts[j] != values[i]) {
            return false;
        }
    }
    return true;
}

/* Gives the agent's zone row 'zone' the policy of 'z', in 'txn'. */
static void
set_policy(const struct ovsrec_ct_zone *zone,
           const struct host_zone_timeouts *z, struct ovsdb_idl_txn *txn)
{
    const char *keys[N_TIMEOUT_KEYS];
    int64_t values[N_TIMEOUT_KEYS];
    size_t n;
    policy_values(z, keys, values, &n);

    const struct ovsrec_ct_timeout_policy *tp = zone->timeout_policy;
    if (!tp) {
        tp = ovsrec_ct_timeout_policy_insert(txn);
        ovsrec_ct_zone_set_timeout_policy(zone, tp);
    }
    ovsrec_ct_timeout_policy_set_timeouts(tp, keys, values, n);
}

/* Returns the zone of 'zones' (of 'n', sorted) numbered 'number', or
 * NULL. */
static const struct host_zone_timeouts *
find_zone(const struct host_zone_timeouts *zones, size_t n, int64_t number)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (zones[mid].zone == number) {
            return &zones[mid];
        } else if (zones[mid].zone < number) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Makes the conntrack zones of the datapath of bridge 'br' keep idle
 * connections for the timeouts of 'zones' ('n_zones' of them, sorted by
 * zone, as host_view_zone_timeouts() gives them), through 'txn' if it is
 * nonnull.  Returns true if the local database already says so. */
bool
ct_zones_update(struct ovsdb_idl *idl, const struct ovsrec_bridge *br,
                const struct host_zone_timeouts *zones, size_t n_zones,
                struct ovsdb_idl_txn *txn)
{
    const struct ovsrec_open_vswitch *cfg = ovsrec_open_vswitch_first(idl);
    if (!cfg) {
        return false;
    }
    const char *type = (br->datapath_type && br->datapath_type[0]
                        ? br->datapath_type : "system");
    const struct ovsrec_datapath *dp = NULL;
    for (size_t i = 0; i < cfg->n_datapaths; i++) {
        if (!strcmp(cfg->key_datapaths[i], type)) {
            dp = cfg->value_datapaths[i];
        }
    }

    bool *seen = xcalloc(MAX(n_zones, 1), sizeof *seen);
    bool ok = true;

    /* The zones of the datapath: the agent's own follow 'zones'. */
    for (size_t i = 0; dp && i < dp->n_ct_zones; i++) {
        int64_t number = dp->key_ct_zones[i];
        const struct ovsrec_ct_zone *zone = dp->value_ct_zones[i];
        const struct host_zone_timeouts *z = find_zone(zones, n_zones,
                                                       number);
        if (z) {
            seen[z - zones] = true;
        }
        if (!smap_get_bool(&zone->external_ids, OWNER_KEY, false)
            || (z && policy_is(zone->timeout_policy, z))) {
            continue;
        }
        ok = false;
        if (!txn) {
            continue;
        } else if (z) {
            set_policy(zone, z, txn);
        } else {
            ovsrec_datapath_update_ct_zones_delkey(dp, number);
        }
    }

    /* New zones. */
    for (size_t i = 0; i < n_zones; i++) {
        if (seen[i]) {
            continue;
        }
        ok = false;
        if (!txn) {
            continue;
        }
        if (!dp) {
            struct ovsrec_datapath *new_dp = ovsrec_datapath_insert(txn);
            ovsrec_datapath_set_datapath_version(new_dp, "");
            ovsrec_open_vswitch_update_datapaths_setkey(cfg, type, new_dp);
            dp = new_dp;
        }
        struct ovsrec_ct_zone *zone = ovsrec_ct_zone_insert(txn);
        const struct smap ids = SMAP_CONST1(&ids, OWNER_KEY, "true");
        ovsrec_ct_zone_set_external_ids(zone, &ids);
        set_policy(zone, &zones[i], txn);
        ovsrec_datapath_update_ct_zones_setkey(dp, zones[i].zone, zone);
    }
    if (!ok && txn) {
        ovsdb_idl_txn_add_comment(txn, "slb-agent: conntrack zone timeouts");
        VLOG_INFO("%s: setting the idle timeouts of %"PRIuSIZE" conntrack "
                  "zones", type, n_zones);
    }
    free(seen);
    return ok;
}
