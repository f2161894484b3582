/* SPDX-License-Identifier: Apache-2.0 */
/* Turning the SLB database into a mux configuration.
 *
 * The control side of slb-mux reads the database through the IDL and builds
 * a complete struct mux_config from it, off the packet path, again after
 * each change: the rules whose rows did not change come from a cache, the
 * rest, and everything else, from the rows.  Ids that the
 * packet path keeps across configurations (backend ids in the flow table,
 * statistics ids of rules) live in struct mux_ids, which outlives every
 * configuration and is told of each one applied. */

#ifndef MUX_CONFIG_H
#define MUX_CONFIG_H 1

#include <stdint.h>
#include "mux-dp.h"
#include "mux-ids.h"

struct ds;
struct mux_rule_cache;
struct ovsdb_idl;
struct slbrec_mux;

struct mux_ids {
    struct mux_id_map backends; /* "CA/VNI" to backend id. */
    struct mux_id_map stats;    /* "kind:name" to statistics id. */
    uint32_t longest_timeout;   /* ms: the longest that a flow table entry
                                 * has lived without a packet. */
};

void mux_ids_init(struct mux_ids *, uint32_t new_flow_timeout_ms);
void mux_ids_destroy(struct mux_ids *);
void mux_ids_update(struct mux_ids *, const struct mux_config *,
                    long long int now);

/* What each load-balancing rule gave the last configuration, kept for the
 * next build while none of the rows that it comes from changes.  The
 * build learns what changed from the IDL's change tracking, so the IDL
 * must track every table, and the caller must clear the tracked changes
 * after each build and invalidate the cache whenever it skips one. */
struct mux_rule_cache *mux_rule_cache_create(void);
void mux_rule_cache_destroy(struct mux_rule_cache *);
void mux_rule_cache_invalidate(struct mux_rule_cache *);
size_t mux_rule_cache_n_built(const struct mux_rule_cache *);
bool mux_rule_cache_patched(const struct mux_rule_cache *);

struct mux_config *mux_config_from_idl(struct ovsdb_idl *,
                                       const struct slbrec_mux *,
                                       const struct mux_underlay *,
                                       struct mux_ids *,
                                       const struct mux_config *old,
                                       struct mux_rule_cache *,
                                       struct ds *problems);

#endif /* mux-config.h */
