/* SPDX-License-Identifier: Apache-2.0 */
/* Maglev consistent hashing for the mux.
 *
 * Every load-balancing rule spreads new flows over its healthy backends
 * through a lookup table of a prime number of entries, each naming one
 * backend, built as in Google's Maglev (NSDI 2016): each backend walks the
 * table in its own permutation, derived from its key and a seed that all
 * muxes share, and claims free entries in turn.  Two muxes with the same
 * backends and seed build the same table whatever order they learned the
 * backends in, so a flow that ECMP moves to another mux keeps its
 * backend; removing one backend reassigns little more than its own
 * entries.
 *
 * Weights: in every round a backend claims entries in proportion to its
 * weight, relative to the largest weight.  A backend of weight 0 claims
 * none (it is drained: new flows avoid it). */

#ifndef MAGLEV_H
#define MAGLEV_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest table by default: a prime well above 100 times the largest
 * expected number of backends of one rule, as in the Maglev paper.  A
 * rule's table is sized for its own backends (maglev_size()). */
#define MAGLEV_DEFAULT_SIZE 65537

/* Entries per backend that maglev_size() gives a table, at least: the
 * Maglev paper keeps the table at least 100 times larger than the number
 * of backends, for an even spread. */
#define MAGLEV_ENTRIES_PER_BACKEND 100

/* An entry that names no backend: the table of a rule without any backend
 * of positive weight. */
#define MAGLEV_NONE UINT16_MAX

/* Backends per table, so that an entry fits in 16 bits. */
#define MAGLEV_MAX_BACKENDS (MAGLEV_NONE - 1)

struct maglev_backend {
    uint64_t key;               /* Identity, the same on every mux. */
    uint32_t weight;            /* 0 to drain. */
};

bool maglev_is_prime(uint32_t);
uint32_t maglev_size(size_t n_backends, uint32_t max_size);
void maglev_build(const struct maglev_backend[], size_t n, uint32_t seed,
                  uint32_t size, uint16_t *entries);

/* Returns the index of the backend for a flow of hash 'hash' in the table
 * 'entries' of 'size' entries, or MAGLEV_NONE.  Maps the hash to an entry
 * by multiplication rather than division, which costs tens of cycles. */
static inline uint16_t
maglev_lookup(const uint16_t *entries, uint32_t size, uint32_t hash)
{
    return entries[((uint64_t) hash * size) >> 32];
}

#endif /* maglev.h */
