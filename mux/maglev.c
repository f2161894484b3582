/* SPDX-License-Identifier: Apache-2.0 */
/* Maglev consistent hashing; see maglev.h. */

#include <config.h>
#include "maglev.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "util.h"

/* Returns true if 'n' is prime. */
bool
maglev_is_prime(uint32_t n)
{
    if (n < 2) {
        return false;
    }
    for (uint32_t d = 2; (uint64_t) d * d <= n; d++) {
        if (n % d == 0) {
            return false;
        }
    }
    return true;
}

/* Returns the size of the table for 'n_backends' backends: the smallest
 * prime of at least MAGLEV_ENTRIES_PER_BACKEND entries per backend, or
 * 'max_size' (a prime) if that is smaller.  Every mux computes the same
 * size from the same backends, and a backend drained or down (weight 0)
 * still counts, so that it does not reshuffle the others. */
uint32_t
maglev_size(size_t n_backends, uint32_t max_size)
{
    uint64_t size = (uint64_t) MAX(n_backends, 1)
                    * MAGLEV_ENTRIES_PER_BACKEND;
    if (size >= max_size) {
        return max_size;
    }
    while (!maglev_is_prime(size)) {
        size++;
    }
    return MIN(size, max_size);
}

/* Where one backend stands in its walk over the table. */
struct maglev_walk {
    uint32_t pos;               /* Next entry to try. */
    uint32_t skip;              /* Step, 1 to size - 1. */
    uint32_t credit;            /* Accumulated weight, see below. */
};

/* Builds the lookup table 'entries' of 'size' entries ('size' prime) for
 * the 'n' backends in 'backends', which the caller orders canonically (by
 * key) so that every mux builds the same table.  Each entry receives the
 * index of a backend in 'backends', or MAGLEV_NONE if no backend has a
 * positive weight. */
void
maglev_build(const struct maglev_backend backends[], size_t n, uint32_t seed,
             uint32_t size, uint16_t *entries)
{
    ovs_assert(maglev_is_prime(size));
    ovs_assert(n <= MAGLEV_MAX_BACKENDS);

    memset(entries, 0xff, size * sizeof *entries);

    uint32_t max_weight = 0;
    for (size_t i = 0; i < n; i++) {
        max_weight = MAX(max_weight, backends[i].weight);
    }
    if (!max_weight) {
        return;
    }

    /* The permutation of backend i visits offset, offset + skip, offset +
     * 2 * skip, ... modulo 'size': every entry once, since 'size' is
     * prime. */
    struct maglev_walk *walks = xmalloc(n * sizeof *walks);
    for (size_t i = 0; i < n; i++) {
        uint64_t key = backends[i].key;
        walks[i].pos = hash_uint64_basis(key, seed) % size;
        walks[i].skip = hash_uint64_basis(key, ~seed) % (size - 1) + 1;
        walks[i].credit = 0;
    }

    /* Each round, every backend earns its weight in credit and claims one
     * entry for each 'max_weight' of credit it holds: with equal weights,
     * one entry per backend per round, as in the paper. */
    uint32_t filled = 0;
    while (filled < size) {
        for (size_t i = 0; i < n && filled < size; i++) {
            struct maglev_walk *w = &walks[i];

            w->credit += backends[i].weight;
            while (w->credit >= max_weight && filled < size) {
                w->credit -= max_weight;
                while (entries[w->pos] != MAGLEV_NONE) {
                    w->pos += w->skip;
                    if (w->pos >= size) {
                        w->pos -= size;
                    }
                }
                entries[w->pos] = i;
                filled++;
            }
        }
    }
    free(walks);
}
