/* SPDX-License-Identifier: Apache-2.0 */
/* Ids that the mux's packet path keeps across configurations.
 *
 * A packet thread's flow table remembers a flow's backend by id, and its
 * counters of a rule are indexed by the rule's statistics id, so an id
 * must name the same thing in every configuration that a thread may still
 * be using, and a backend id for as long as some flow table may still
 * hold it.  A struct mux_id_map gives each name (a backend's "CA/VNI", a
 * rule's "kind:name") an id while configurations use the name, holds the
 * id for a while after the last one stops, and then lets another name take
 * it: however many backends and rules come and go over a mux's life, ids
 * stay as few as the names in use, and so do the arrays indexed by them.
 *
 * Each id has an epoch that changes whenever another name takes it, so
 * that a counter indexed by the id can tell the new name's counts from the
 * old one's. */

#ifndef MUX_IDS_H
#define MUX_IDS_H 1

#include <stddef.h>
#include <stdint.h>
#include "simap.h"

struct mux_id_slot {
    char *name;                 /* NULL while free. */
    long long int unused_since; /* LLONG_MAX while in use. */
    uint32_t epoch;
};

struct mux_id_map {
    struct simap by_name;       /* Name to id plus one. */
    struct mux_id_slot *slots;  /* Indexed by id. */
    size_t n, allocated;
    uint32_t *free;             /* Ids that a new name may take. */
    size_t n_free, allocated_free;
};

#define MUX_ID_NONE UINT32_MAX

void mux_id_map_init(struct mux_id_map *);
void mux_id_map_destroy(struct mux_id_map *);

uint32_t mux_id_map_get(struct mux_id_map *, const char *name);
uint32_t mux_id_map_find(const struct mux_id_map *, const char *name);

/* Every id ever given is below this. */
static inline size_t
mux_id_map_size(const struct mux_id_map *map)
{
    return map->n;
}

static inline uint32_t
mux_id_map_epoch(const struct mux_id_map *map, uint32_t id)
{
    return map->slots[id].epoch;
}

void mux_id_map_update(struct mux_id_map *, const unsigned long *in_use,
                       long long int now, long long int hold_ms);
void mux_id_map_count(const struct mux_id_map *, size_t *n_used,
                      size_t *n_held, size_t *n_free);

#endif /* mux-ids.h */
