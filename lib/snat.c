/* SPDX-License-Identifier: Apache-2.0 */
/* Outbound SNAT port allocation; see snat.h for the rules. */

#include <config.h>
#include "snat.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

#include "bitmap.h"
#include "util.h"

/* Returns the default ports per instance for a pool of 'n_backends', as
 * Azure documents it, or 0 if the pool is too large for a default. */
unsigned int
snat_default_ports(size_t n_backends)
{
    static const struct {
        size_t max_backends;
        unsigned int ports;
    } tiers[] = {
        { 50, 1024 }, { 100, 512 }, { 200, 256 },
        { 400, 128 }, { 800, 64 }, { SNAT_MAX_AUTO_BACKENDS, 32 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(tiers); i++) {
        if (n_backends <= tiers[i].max_backends) {
            return tiers[i].ports;
        }
    }
    return 0;
}

static unsigned int
range_size(const struct snat_range *r)
{
    return r->min ? r->max - r->min + 1 : 0;
}

/* Returns the size that every valid range in 'old' shares, or 0 if there
 * is none or they disagree (someone edited the database by hand). */
static unsigned int
common_size(const struct snat_range old[], size_t n)
{
    unsigned int size = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned int s = range_size(&old[i]);
        if (!s) {
            continue;
        }
        if (old[i].min < SNAT_PORT_MIN
            || old[i].max >= SNAT_PORT_MIN + SNAT_PORTS
            || (size && s != size)) {
            return 0;
        }
        size = s;
    }
    return size;
}

/* Returns a bitmap of the slots of 'size' ports that hold a port of the
 * 'n_blocked' in 'blocked'.  (Its bits say "in use" to the callers.) */
static unsigned long *
blocked_slots(const uint16_t blocked[], size_t n_blocked, unsigned int size)
{
    unsigned int n_slots = SNAT_PORTS / size;
    unsigned long *slots = bitmap_allocate(n_slots);

    for (size_t i = 0; i < n_blocked; i++) {
        if (blocked[i] >= SNAT_PORT_MIN) {
            unsigned int s = (blocked[i] - SNAT_PORT_MIN) / size;
            if (s < n_slots) {
                bitmap_set1(slots, s);
            }
        }
    }
    return slots;
}

/* Returns true if every existing range starts on a slot boundary for
 * slots of 'size' ports, and distinct ranges sit in distinct slots, so
 * that all of them can grow in place to 'size'. */
static bool
can_grow_in_place(const struct snat_range old[], size_t n, unsigned int size,
                  const uint16_t blocked[], size_t n_blocked)
{
    unsigned int n_slots = SNAT_PORTS / size;
    unsigned long *used = blocked_slots(blocked, n_blocked, size);
    bool ok = true;

    for (size_t i = 0; ok && i < n; i++) {
        if (!old[i].min) {
            continue;
        }
        unsigned int offset = old[i].min - SNAT_PORT_MIN;
        unsigned int slot = offset / size;
        if (offset % size || slot >= n_slots || bitmap_is_set(used, slot)) {
            ok = false;
        } else {
            bitmap_set1(used, slot);
        }
    }
    bitmap_free(used);
    return ok;
}

/* Picks the ports per instance for this round: 'target' unless the rule is
 * automatic and the ranges could not all grow in place to it. */
static unsigned int
choose_size(const struct snat_range old[], size_t n, unsigned int target,
            bool automatic, const uint16_t blocked[], size_t n_blocked)
{
    unsigned int current = common_size(old, n);

    if (!automatic || !current || target <= current
        || can_grow_in_place(old, n, target, blocked, n_blocked)) {
        return target;
    }
    return current;
}

/* Computes the ranges of 'n' backends on one frontend IP.  'old[i]' is
 * backend i's current range (min 0 if it has none); 'new[i]' receives the
 * range it must have.  'requested' is the operator's ports per instance,
 * or 0 for the default by pool size.  No range holds one of the
 * 'n_blocked' ports in 'blocked', the ports of the frontend IP's rules of
 * one port (in any order, repeats allowed).  The result depends only on
 * 'old', 'blocked' and the order of the backends, so callers pass backends
 * in a canonical order.  Returns NULL, or an error message if the request
 * cannot be met, in which case 'new' is unspecified. */
char *
snat_allocate(const struct snat_range old[], size_t n,
              unsigned int requested,
              const uint16_t blocked[], size_t n_blocked,
              struct snat_range new[])
{
    unsigned int target;

    if (!n) {
        return NULL;
    }
    if (requested) {
        if (requested % SNAT_PORT_ALIGN) {
            return xasprintf("%u ports per instance is not a multiple of %d",
                             requested, SNAT_PORT_ALIGN);
        }
        if ((unsigned long long int) requested * n > SNAT_PORTS) {
            return xasprintf("%u ports per instance for %"PRIuSIZE" "
                             "backends over-allocates the %d SNAT ports of "
                             "a frontend IP", requested, n, SNAT_PORTS);
        }
        target = requested;
    } else {
        target = snat_default_ports(n);
        if (!target) {
            return xasprintf("automatic SNAT allocation serves at most %d "
                             "backends, the pool has %"PRIuSIZE": set ports "
                             "per instance", SNAT_MAX_AUTO_BACKENDS, n);
        }
    }

    unsigned int size = choose_size(old, n, target, !requested,
                                    blocked, n_blocked);
    unsigned int n_slots = SNAT_PORTS / size;
    unsigned long *used = blocked_slots(blocked, n_blocked, size);
    unsigned int n_free = n_slots - bitmap_count1(used, n_slots);
    if (n > n_free) {
        bitmap_free(used);
        return xasprintf("%"PRIuSIZE" backends need as many ranges of %u "
                         "ports, and the ports that rules of one port "
                         "claim leave %u", n, size, n_free);
    }
    unsigned int *slot = xmalloc(n * sizeof *slot);

    /* First every backend whose range starts on a free slot boundary keeps
     * that slot; then the others take the lowest free slots in order. */
    for (size_t i = 0; i < n; i++) {
        slot[i] = UINT_MAX;
        if (old[i].min >= SNAT_PORT_MIN) {
            unsigned int offset = old[i].min - SNAT_PORT_MIN;
            unsigned int s = offset / size;
            if (!(offset % size) && s < n_slots && !bitmap_is_set(used, s)) {
                bitmap_set1(used, s);
                slot[i] = s;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (slot[i] == UINT_MAX) {
            slot[i] = bitmap_scan(used, 0, 0, n_slots);
            ovs_assert(slot[i] < n_slots);
            bitmap_set1(used, slot[i]);
        }
        new[i].min = SNAT_PORT_MIN + slot[i] * size;
        new[i].max = new[i].min + size - 1;
    }

    free(slot);
    bitmap_free(used);
    return NULL;
}
