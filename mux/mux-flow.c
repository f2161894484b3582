/* SPDX-License-Identifier: Apache-2.0 */
/* The mux's flow table; see mux-flow.h. */

#include <config.h>
#include "mux-flow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hash.h"
#include "util.h"

BUILD_ASSERT_DECL(sizeof(struct mux_flow_key) == 16);
BUILD_ASSERT_DECL(sizeof(struct mux_flow) == MUX_FLOW_ENTRY_SIZE);

/* Times are milliseconds truncated to 32 bits, which wrap every 49 days:
 * compare them only through their difference. */
static inline bool
is_expired(const struct mux_flow *f, uint32_t now)
{
    return (int32_t) (f->expires - now) <= 0;
}

/* Flow tables are large and looked up at random: on 4 kB pages nearly
 * every lookup of a big table would also miss the TLB, so regions are
 * aligned to, and asked to be backed by, 2 MB huge pages. */
#define HUGE_PAGE_SIZE (2 * 1024 * 1024)

/* Making room by moving flows (see make_room()) searches so many buckets
 * at most.  After a search fails, so many flows go in without one, twice
 * as many after each failure in a row, up to CUCKOO_MAX_SKIP: a full
 * region, under a flood, pays for a failed search once per so many
 * packets. */
#define CUCKOO_MAX_NODES 64
#define CUCKOO_SKIP 1024
#define CUCKOO_MAX_SKIP 65536

static void
region_init(struct mux_flow_region *r, uint32_t capacity)
{
    uint32_t n_buckets = MAX(1, capacity / MUX_FLOW_WAYS);
    n_buckets = 1u << log_2_ceil(n_buckets);
    size_t size = (size_t) n_buckets * MUX_FLOW_WAYS * sizeof *r->entries;

    if (size >= HUGE_PAGE_SIZE) {
        r->entries = xmalloc_size_align(size, HUGE_PAGE_SIZE);
#ifdef MADV_HUGEPAGE
        /* Only a hint: without transparent huge pages, nothing changes. */
        madvise(r->entries, size, MADV_HUGEPAGE);
#endif
    } else {
        r->entries = xmalloc_cacheline(size);
    }
    memset(r->entries, 0, size);
    r->mask = n_buckets - 1;
    r->sweep = 0;
    r->cuckoo_skip = 0;
    r->cuckoo_backoff = CUCKOO_SKIP;
    r->huge = size >= HUGE_PAGE_SIZE;
}

static void
region_destroy(struct mux_flow_region *r)
{
    if (r->huge) {
        free_size_align(r->entries);
    } else {
        free_cacheline(r->entries);
    }
}

/* Initializes 'table' with room for about 'est_capacity' established and
 * 'new_capacity' new flows (each rounded up to a power of 2), new flows
 * being forgotten after 'new_timeout_ms' without a second packet. */
void
mux_flow_table_init(struct mux_flow_table *table, uint32_t est_capacity,
                    uint32_t new_capacity, uint32_t new_timeout_ms)
{
    region_init(&table->est, est_capacity);
    region_init(&table->new, new_capacity);
    table->new_timeout = new_timeout_ms;
    table->swept = 0;
    memset(&table->stats, 0, sizeof table->stats);
}

void
mux_flow_table_destroy(struct mux_flow_table *table)
{
    if (table) {
        region_destroy(&table->est);
        region_destroy(&table->new);
    }
}

/* Returns the first ('which' 0) or second ('which' 1) bucket of the flow
 * with 'hash' in 'r'. */
static inline struct mux_flow *
bucket(const struct mux_flow_region *r, uint32_t hash, int which)
{
    uint32_t i = which ? mux_flow_bucket2(hash, r->mask) : hash & r->mask;
    return &r->entries[i * MUX_FLOW_WAYS];
}

/* Compares two keys as two 64-bit words: callers keep the padding zero. */
static inline bool
key_equals(const struct mux_flow_key *a, const struct mux_flow_key *b)
{
    uint64_t a0, a1, b0, b1;

    memcpy(&a0, a, 8);
    memcpy(&a1, (const char *) a + 8, 8);
    memcpy(&b0, b, 8);
    memcpy(&b1, (const char *) b + 8, 8);
    return !((a0 ^ b0) | (a1 ^ b1));
}

static inline struct mux_flow *
find_in_bucket(struct mux_flow *b, const struct mux_flow_key *key,
               uint32_t hash)
{
    for (int i = 0; i < MUX_FLOW_WAYS; i++) {
        if (b[i].hash == hash && key_equals(&b[i].key, key)) {
            return &b[i];
        }
    }
    return NULL;
}

static inline struct mux_flow *
find(const struct mux_flow_region *r, const struct mux_flow_key *key,
     uint32_t hash)
{
    struct mux_flow *f = find_in_bucket(bucket(r, hash, 0), key, hash);
    return f ? f : find_in_bucket(bucket(r, hash, 1), key, hash);
}

/* Returns an entry of the bucket with index 'i' in 'r' that is free or
 * expired, or NULL. */
static struct mux_flow *
room_in(const struct mux_flow_region *r, uint32_t i, uint32_t now)
{
    struct mux_flow *b = &r->entries[i * MUX_FLOW_WAYS];
    for (int w = 0; w < MUX_FLOW_WAYS; w++) {
        if (!b[w].hash || is_expired(&b[w], now)) {
            return &b[w];
        }
    }
    return NULL;
}

/* Returns an entry of the buckets of the flow with 'hash' in 'r' that is
 * free or expired, the first bucket's first, or NULL. */
static struct mux_flow *
find_room(const struct mux_flow_region *r, uint32_t hash, uint32_t now)
{
    struct mux_flow *room = room_in(r, hash & r->mask, now);
    return room ? room : room_in(r, mux_flow_bucket2(hash, r->mask), now);
}

/* Cuckoo moves: a bucket reached from its parent's entry 'way', which
 * would move into it. */
struct cuckoo_node {
    uint32_t bucket;
    int16_t parent;             /* -1 for a bucket of the flow itself. */
    int8_t way;
};


static bool
cuckoo_seen(const struct cuckoo_node *q, int n, uint32_t bucket)
{
    for (int i = 0; i < n; i++) {
        if (q[i].bucket == bucket) {
            return true;
        }
    }
    return false;
}

/* Frees an entry in one of the two buckets of the flow with 'hash' in 'r',
 * both full, by moving flows each into its other bucket along the shortest
 * chain that ends in a bucket with room (as cuckoo hashing does), and
 * returns it; or returns NULL if no bucket within reach (CUCKOO_MAX_NODES
 * buckets, breadth first) has room, or if a search failed not long ago
 * (see CUCKOO_SKIP).  Every flow stays where lookups find it. */
static struct mux_flow *
make_room(struct mux_flow_region *r, uint32_t hash, uint32_t now)
{
    if (r->cuckoo_skip) {
        r->cuckoo_skip--;
        return NULL;
    }

    struct cuckoo_node q[CUCKOO_MAX_NODES];
    int n = 0;
    q[n++] = (struct cuckoo_node) { hash & r->mask, -1, -1 };
    uint32_t b2 = mux_flow_bucket2(hash, r->mask);
    if (b2 != q[0].bucket) {
        q[n++] = (struct cuckoo_node) { b2, -1, -1 };
    }

    for (int head = 0; head < n; head++) {
        struct mux_flow *b = &r->entries[q[head].bucket * MUX_FLOW_WAYS];
        for (int w = 0; w < MUX_FLOW_WAYS; w++) {
            uint32_t first = b[w].hash & r->mask;
            uint32_t alt = (first != q[head].bucket ? first
                            : mux_flow_bucket2(b[w].hash, r->mask));
            if (alt == q[head].bucket || cuckoo_seen(q, n, alt)) {
                continue;
            }
            struct mux_flow *room = room_in(r, alt, now);
            if (room) {
                /* Move this flow there, then each flow of the chain into
                 * the entry that the one after it left. */
                *room = b[w];
                struct mux_flow *hole = &b[w];
                for (int i = head; q[i].parent >= 0; i = q[i].parent) {
                    struct mux_flow *from
                        = &r->entries[q[q[i].parent].bucket * MUX_FLOW_WAYS
                                      + q[i].way];
                    *hole = *from;
                    hole = from;
                }
                r->cuckoo_backoff = CUCKOO_SKIP;
                return hole;
            }
            if (n < CUCKOO_MAX_NODES) {
                q[n++] = (struct cuckoo_node) { alt, head, w };
            }
        }
    }
    r->cuckoo_skip = r->cuckoo_backoff;
    r->cuckoo_backoff = MIN(r->cuckoo_backoff * 2, CUCKOO_MAX_SKIP);
    return NULL;
}

/* The rest of mux_flow_lookup(), for a flow that is not live in the first
 * bucket of the established region: 'f' is its expired entry there, or
 * NULL if it has none (a flow has one entry in a region at most). */
static uint32_t __attribute__((noinline))
lookup_slow(struct mux_flow_table *table, const struct mux_flow_key *key,
            uint32_t hash, uint32_t now, uint32_t timeout,
            struct mux_flow *f)
{
    if (!f) {
        f = find_in_bucket(bucket(&table->est, hash, 1), key, hash);
        if (f && !is_expired(f, now)) {
            f->expires = now + f->timeout;
            table->stats.hits++;
            return f->backend;
        }
    }
    if (f) {
        f->hash = 0;
        table->stats.expired++;
    }

    f = find(&table->new, key, hash);
    if (!f) {
        table->stats.misses++;
        return MUX_FLOW_NONE;
    }
    if (is_expired(f, now)) {
        f->hash = 0;
        table->stats.expired++;
        table->stats.misses++;
        return MUX_FLOW_NONE;
    }

    /* A new flow's second packet: it becomes established, if there is
     * room. */
    uint32_t backend = f->backend;
    struct mux_flow *room = find_room(&table->est, hash, now);
    if (!room) {
        room = make_room(&table->est, hash, now);
    }
    if (room) {
        *room = *f;
        room->timeout = timeout;
        room->expires = now + timeout;
        f->hash = 0;
        table->stats.promoted++;
    } else {
        /* No room among established flows: keep the flow where it is; the
         * Maglev table still gives it the same backend. */
        f->expires = now + table->new_timeout;
        table->stats.established_full++;
    }
    table->stats.hits++;
    return backend;
}

/* Looks up the flow 'key' (whose mux_flow_hash() is 'hash') at time 'now'
 * on behalf of one of its packets, and returns its backend or
 * MUX_FLOW_NONE.  A new flow's second packet promotes it to the
 * established region with idle timeout 'timeout' ms.
 *
 * The packets of established flows, nearly all in the first of their
 * buckets, take the short way, which needs no stack frame; the rest goes
 * out of line. */
uint32_t
mux_flow_lookup(struct mux_flow_table *table, const struct mux_flow_key *key,
                uint32_t hash, uint32_t now, uint32_t timeout)
{
    struct mux_flow *f = find_in_bucket(bucket(&table->est, hash, 0), key,
                                        hash);
    if (OVS_LIKELY(f && !is_expired(f, now))) {
        f->expires = now + f->timeout;
        table->stats.hits++;
        return f->backend;
    }
    return lookup_slow(table, key, hash, now, timeout, f);
}

/* Remembers that new flow 'key' goes to 'backend'.  If both its buckets in
 * the new region are full, and no flow can move to make room, the entry of
 * the two closest to expiry gives way. */
void
mux_flow_insert(struct mux_flow_table *table, const struct mux_flow_key *key,
                uint32_t hash, uint32_t backend, uint32_t now,
                uint32_t timeout)
{
    struct mux_flow *f = find_room(&table->new, hash, now);
    if (!f) {
        f = make_room(&table->new, hash, now);
    }
    if (!f) {
        f = bucket(&table->new, hash, 0);
        for (int which = 0; which < 2; which++) {
            struct mux_flow *b = bucket(&table->new, hash, which);
            for (int i = 0; i < MUX_FLOW_WAYS; i++) {
                if ((int32_t) (b[i].expires - f->expires) < 0) {
                    f = &b[i];
                }
            }
        }
        table->stats.evicted_new++;
    }
    f->key = *key;
    f->hash = hash;
    f->backend = backend;
    f->timeout = timeout;
    f->expires = now + table->new_timeout;
    table->stats.inserted++;
}

/* Forgets flow 'key', wherever it is, so that a new choice of backend
 * for it can take its place. */
void
mux_flow_forget(struct mux_flow_table *table, const struct mux_flow_key *key,
                uint32_t hash)
{
    struct mux_flow *f = find(&table->est, key, hash);
    if (f) {
        f->hash = 0;
    }
    f = find(&table->new, key, hash);
    if (f) {
        f->hash = 0;
    }
}

/* Forgets the expired entries of the next buckets of 'r', as many as its
 * share of 'elapsed' ms of a sweep of MUX_FLOW_SWEEP_MS. */
static void
sweep_region(struct mux_flow_region *r, uint32_t now, uint32_t elapsed,
             struct mux_flow_stats *stats)
{
    uint64_t n_buckets = (uint64_t) r->mask + 1;
    uint64_t n = MIN(n_buckets, DIV_ROUND_UP(n_buckets * elapsed,
                                             MUX_FLOW_SWEEP_MS));
    for (uint64_t i = 0; i < n; i++) {
        struct mux_flow *b = &r->entries[r->sweep * MUX_FLOW_WAYS];
        for (int j = 0; j < MUX_FLOW_WAYS; j++) {
            if (b[j].hash && is_expired(&b[j], now)) {
                b[j].hash = 0;
                stats->expired++;
            }
        }
        r->sweep = (r->sweep + 1) & r->mask;
    }
}

/* Sweeps the part of 'table' that is due at 'now', so that every entry
 * leaves within MUX_FLOW_SWEEP_MS of its expiry, provided that the owner
 * calls this at least every second or so. */
void
mux_flow_sweep(struct mux_flow_table *table, uint32_t now)
{
    uint32_t elapsed = now - table->swept;
    if (elapsed) {
        table->swept = now;
        sweep_region(&table->est, now, elapsed, &table->stats);
        sweep_region(&table->new, now, elapsed, &table->stats);
    }
}

/* Returns the backend of flow 'key' without touching the table, for
 * tracing, and whether the flow is established. */
uint32_t
mux_flow_peek(const struct mux_flow_table *table,
              const struct mux_flow_key *key, uint32_t hash, uint32_t now,
              bool *established)
{
    const struct mux_flow *f = find(&table->est, key, hash);
    *established = f != NULL;
    if (!f) {
        f = find(&table->new, key, hash);
    }
    return f && !is_expired(f, now) ? f->backend : MUX_FLOW_NONE;
}

static void
visit_region(const struct mux_flow_region *r, bool established, uint32_t now,
             mux_flow_visit_cb *cb, void *aux)
{
    size_t n = ((size_t) r->mask + 1) * MUX_FLOW_WAYS;
    for (size_t i = 0; i < n; i++) {
        const struct mux_flow *f = &r->entries[i];
        if (f->hash && !is_expired(f, now)) {
            cb(f, established, aux);
        }
    }
}

/* Calls 'cb' for every live flow in 'table', established ones first. */
void
mux_flow_visit(const struct mux_flow_table *table, uint32_t now,
               mux_flow_visit_cb *cb, void *aux)
{
    visit_region(&table->est, true, now, cb, aux);
    visit_region(&table->new, false, now, cb, aux);
}

static void
count_cb(const struct mux_flow *f OVS_UNUSED, bool established, void *aux)
{
    uint32_t *counts = aux;
    counts[established ? 0 : 1]++;
}

/* Counts the live flows of each region. */
void
mux_flow_count(const struct mux_flow_table *table, uint32_t now,
               uint32_t *n_est, uint32_t *n_new)
{
    uint32_t counts[2] = { 0, 0 };
    mux_flow_visit(table, now, count_cb, counts);
    *n_est = counts[0];
    *n_new = counts[1];
}
