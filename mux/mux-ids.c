/* SPDX-License-Identifier: Apache-2.0 */
/* Ids that the mux's packet path keeps across configurations; see
 * mux-ids.h. */

#include <config.h>
#include "mux-ids.h"

#include <limits.h>
#include <stdlib.h>

#include "bitmap.h"
#include "util.h"

void
mux_id_map_init(struct mux_id_map *map)
{
    simap_init(&map->by_name);
    map->slots = NULL;
    map->n = map->allocated = 0;
    map->free = NULL;
    map->n_free = map->allocated_free = 0;
}

void
mux_id_map_destroy(struct mux_id_map *map)
{
    if (map) {
        for (size_t i = 0; i < map->n; i++) {
            free(map->slots[i].name);
        }
        free(map->slots);
        free(map->free);
        simap_destroy(&map->by_name);
    }
}

/* Returns the id of 'name', giving it the lowest free id, or a new one, if
 * it has none.  The id counts as in use until mux_id_map_update() is told
 * otherwise. */
uint32_t
mux_id_map_get(struct mux_id_map *map, const char *name)
{
    uint32_t id = simap_get(&map->by_name, name);
    if (id) {
        return id - 1;
    }

    if (map->n_free) {
        id = map->free[--map->n_free];
    } else {
        if (map->n >= map->allocated) {
            map->slots = x2nrealloc(map->slots, &map->allocated,
                                    sizeof *map->slots);
        }
        id = map->n++;
        map->slots[id].epoch = 0;
    }
    struct mux_id_slot *slot = &map->slots[id];
    slot->name = xstrdup(name);
    slot->unused_since = LLONG_MAX;
    slot->epoch++;
    simap_put(&map->by_name, name, id + 1);
    return id;
}

/* Returns the id of 'name', or MUX_ID_NONE if it has none. */
uint32_t
mux_id_map_find(const struct mux_id_map *map, const char *name)
{
    return simap_get(&map->by_name, name) - 1;
}

static int
compare_ids_descending(const void *a_, const void *b_)
{
    uint32_t a = *(const uint32_t *) a_, b = *(const uint32_t *) b_;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* Tells 'map' that the configuration applied at 'now' uses the ids whose
 * bits are set in 'in_use' (of mux_id_map_size() bits, or NULL for none).
 * An id that it does not use stays with its name for 'hold_ms' from the
 * first configuration that stopped using it, and is then free for another
 * name: the lowest free id first, so that ids stay dense. */
void
mux_id_map_update(struct mux_id_map *map, const unsigned long *in_use,
                  long long int now, long long int hold_ms)
{
    size_t n_free = map->n_free;
    for (size_t id = 0; id < map->n; id++) {
        struct mux_id_slot *slot = &map->slots[id];
        if (!slot->name) {
            continue;
        }
        if (in_use && bitmap_is_set(in_use, id)) {
            slot->unused_since = LLONG_MAX;
            continue;
        }
        if (slot->unused_since == LLONG_MAX) {
            slot->unused_since = now;
        }
        if (now - slot->unused_since >= hold_ms) {
            simap_find_and_delete(&map->by_name, slot->name);
            free(slot->name);
            slot->name = NULL;
            if (map->n_free >= map->allocated_free) {
                map->free = x2nrealloc(map->free, &map->allocated_free,
                                       sizeof *map->free);
            }
            map->free[map->n_free++] = id;
        }
    }
    if (map->n_free != n_free) {
        qsort(map->free, map->n_free, sizeof *map->free,
              compare_ids_descending);
    }
}

/* Counts the ids that are in use, held after their last use, and free. */
void
mux_id_map_count(const struct mux_id_map *map, size_t *n_used,
                 size_t *n_held, size_t *n_free)
{
    *n_used = *n_held = 0;
    for (size_t id = 0; id < map->n; id++) {
        const struct mux_id_slot *slot = &map->slots[id];
        if (slot->name) {
            ++*(slot->unused_since == LLONG_MAX ? n_used : n_held);
        }
    }
    *n_free = map->n_free;
}
