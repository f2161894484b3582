/* SPDX-License-Identifier: Apache-2.0 */
/* The mux's flow table; see mux-flow.h. */

#include <config.h>
#include "mux-flow.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hash.h"
#include "util.h"

BUILD_ASSERT_DECL(sizeof(struct mux_flow_key) == 40);
BUILD_ASSERT_DECL(MUX_FLOW_KEY4_LEN == 16);
BUILD_ASSERT_DECL(sizeof(struct mux_flow4) == MUX_FLOW4_SIZE);
BUILD_ASSERT_DECL(sizeof(struct mux_flow6) == MUX_FLOW6_SIZE);

/* mux_flow_hash_addrs6__(), out of line. */
uint32_t
mux_flow_hash_addrs6(const struct mux_flow_key *key, uint32_t basis)
{
    return mux_flow_hash_addrs6__(key, basis);
}

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

/* Initializes 'r' for about 'capacity' flows, of IPv6 if 'ipv6'.  An IPv4
 * region is written whole at once, so that no packet waits for the
 * kernel to give it a page; an IPv6 region comes from anonymous memory
 * that the kernel gives as it is first written, so that a mux without
 * IPv6 flows pays nothing for them. */
static void
region_init(struct mux_flow_region *r, uint32_t capacity, bool ipv6)
{
    uint32_t n_buckets = MAX(1, capacity / MUX_FLOW_WAYS);
    n_buckets = 1u << log_2_ceil(n_buckets);
    r->ipv6 = ipv6;
    r->shift = log_2_floor(ipv6 ? MUX_FLOW6_SIZE : MUX_FLOW4_SIZE);
    size_t size = (size_t) n_buckets * MUX_FLOW_WAYS << r->shift;

    r->huge = size >= HUGE_PAGE_SIZE;
    if (ipv6) {
        r->size = size + (r->huge ? HUGE_PAGE_SIZE : 0);
        r->base = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r->base == MAP_FAILED) {
            out_of_memory();
        }
        r->entries = (void *) ROUND_UP((uintptr_t) r->base,
                                       r->huge ? HUGE_PAGE_SIZE : 1);
    } else if (r->huge) {
        r->entries = xmalloc_size_align(size, HUGE_PAGE_SIZE);
    } else {
        r->entries = xmalloc_cacheline(size);
    }
#ifdef MADV_HUGEPAGE
    if (r->huge) {
        /* Only a hint: without transparent huge pages, nothing changes. */
        madvise(r->entries, size, MADV_HUGEPAGE);
    }
#endif
    if (!ipv6) {
        memset(r->entries, 0, size);
    }
    r->mask = n_buckets - 1;
    r->sweep = 0;
    r->cuckoo_skip = 0;
    r->cuckoo_backoff = CUCKOO_SKIP;
}

static void
region_destroy(struct mux_flow_region *r)
{
    if (r->ipv6) {
        munmap(r->base, r->size);
    } else if (r->huge) {
        free_size_align(r->entries);
    } else {
        free_cacheline(r->entries);
    }
}

/* Initializes 'table' with room for about 'est_capacity' established and
 * 'new_capacity' new flows of each family (each rounded up to a power of
 * 2), new flows being forgotten after 'new_timeout_ms' without a second
 * packet. */
void
mux_flow_table_init(struct mux_flow_table *table, uint32_t est_capacity,
                    uint32_t new_capacity, uint32_t new_timeout_ms)
{
    region_init(&table->est, est_capacity, false);
    region_init(&table->new, new_capacity, false);
    region_init(&table->est6, est_capacity, true);
    region_init(&table->new6, new_capacity, true);
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
        region_destroy(&table->est6);
        region_destroy(&table->new6);
    }
}

/* Entries and keys.
 *
 * The functions below work on either family's regions: an IPv4 region
 * compares and keeps the first MUX_FLOW_KEY4_LEN bytes of a key, an IPv6
 * region all of it.  Those on the way
 * of every packet also take 'v6', the region's family, as a constant from
 * their callers, so that the compiler makes a version of each for each
 * family, with entry and key sizes fixed. */

#define ENTRY_SHIFT(V6) ((V6) ? 6 : 5)
BUILD_ASSERT_DECL(MUX_FLOW4_SIZE == 1 << ENTRY_SHIFT(false));
BUILD_ASSERT_DECL(MUX_FLOW6_SIZE == 1 << ENTRY_SHIFT(true));

/* Returns entry 'i' of 'r', of the family that 'v6' says. */
static inline struct mux_flow * ALWAYS_INLINE
entry__(const struct mux_flow_region *r, size_t i, bool v6)
{
    return (struct mux_flow *) ((char *) r->entries
                                + (i << ENTRY_SHIFT(v6)));
}

/* Returns entry 'i' of 'r', off the packets' way. */
static struct mux_flow *
entry(const struct mux_flow_region *r, size_t i)
{
    return (struct mux_flow *) ((char *) r->entries + (i << r->shift));
}

/* Returns the 'which'th (0 or 1) bucket of the flow with 'hash' in 'r'. */
static inline uint32_t
bucket_of(const struct mux_flow_region *r, uint32_t hash, int which)
{
    return which ? mux_flow_bucket2(hash, r->mask) : hash & r->mask;
}

static inline void
copy_entry(const struct mux_flow_region *r, struct mux_flow *to,
           const struct mux_flow *from)
{
    memcpy(to, from, (size_t) 1 << r->shift);
}

/* Returns true if the key of 'f', in a region of the family that 'v6'
 * says, is 'key', comparing 64-bit words: callers keep the padding
 * zero. */
static inline bool ALWAYS_INLINE
key_equals(const struct mux_flow *f, const void *key, bool v6)
{
    size_t n = v6 ? sizeof(struct mux_flow_key) : MUX_FLOW_KEY4_LEN;
    const char *a = (const char *) (f + 1);
    uint64_t diff = 0;

    for (size_t i = 0; i < n; i += 8) {
        uint64_t wa, wb;
        memcpy(&wa, a + i, 8);
        memcpy(&wb, (const char *) key + i, 8);
        diff |= wa ^ wb;
    }
    return !diff;
}

/* Stores 'key' as the key of 'f', in a region of the family that 'v6'
 * says. */
static inline void ALWAYS_INLINE
set_key(struct mux_flow *f, const struct mux_flow_key *key, bool v6)
{
    memcpy(f + 1, key, v6 ? sizeof *key : MUX_FLOW_KEY4_LEN);
}

/* Fills in '*key' from the key of 'f', in 'r'. */
static void
get_key(const struct mux_flow_region *r, const struct mux_flow *f,
        struct mux_flow_key *key)
{
    memset(key, 0, sizeof *key);
    memcpy(key, f + 1, r->ipv6 ? sizeof *key : MUX_FLOW_KEY4_LEN);
}

static inline struct mux_flow * ALWAYS_INLINE
find_in_bucket(const struct mux_flow_region *r, uint32_t bucket,
               const struct mux_flow_key *key, uint32_t hash, bool v6)
{
    for (int i = 0; i < MUX_FLOW_WAYS; i++) {
        struct mux_flow *f = entry__(r, (size_t) bucket * MUX_FLOW_WAYS + i,
                                     v6);
        if (f->hash == hash && key_equals(f, key, v6)) {
            return f;
        }
    }
    return NULL;
}

static inline struct mux_flow * ALWAYS_INLINE
find(const struct mux_flow_region *r, const struct mux_flow_key *key,
     uint32_t hash, bool v6)
{
    struct mux_flow *f = find_in_bucket(r, bucket_of(r, hash, 0), key, hash,
                                        v6);
    return f ? f : find_in_bucket(r, bucket_of(r, hash, 1), key, hash, v6);
}

/* Returns an entry of the bucket with index 'i' in 'r' that is free or
 * expired, or NULL. */
static inline struct mux_flow * ALWAYS_INLINE
room_in(const struct mux_flow_region *r, uint32_t i, uint32_t now, bool v6)
{
    for (int w = 0; w < MUX_FLOW_WAYS; w++) {
        struct mux_flow *f = entry__(r, (size_t) i * MUX_FLOW_WAYS + w, v6);
        if (!f->hash || is_expired(f, now)) {
            return f;
        }
    }
    return NULL;
}

/* Returns an entry of the buckets of the flow with 'hash' in 'r' that is
 * free or expired, the first bucket's first, or NULL. */
static inline struct mux_flow * ALWAYS_INLINE
find_room(const struct mux_flow_region *r, uint32_t hash, uint32_t now,
          bool v6)
{
    struct mux_flow *room = room_in(r, hash & r->mask, now, v6);
    return (room ? room
            : room_in(r, mux_flow_bucket2(hash, r->mask), now, v6));
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
        for (int w = 0; w < MUX_FLOW_WAYS; w++) {
            struct mux_flow *f = entry(r, (size_t) q[head].bucket
                                          * MUX_FLOW_WAYS + w);
            uint32_t first = f->hash & r->mask;
            uint32_t alt = (first != q[head].bucket ? first
                            : mux_flow_bucket2(f->hash, r->mask));
            if (alt == q[head].bucket || cuckoo_seen(q, n, alt)) {
                continue;
            }
            struct mux_flow *room = room_in(r, alt, now, r->ipv6);
            if (room) {
                /* Move this flow there, then each flow of the chain into
                 * the entry that the one after it left. */
                copy_entry(r, room, f);
                struct mux_flow *hole = f;
                for (int i = head; q[i].parent >= 0; i = q[i].parent) {
                    struct mux_flow *from
                        = entry(r, (size_t) q[q[i].parent].bucket
                                   * MUX_FLOW_WAYS + q[i].way);
                    copy_entry(r, hole, from);
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

/* The regions of one family, and a flow's key. */
struct family {
    struct mux_flow_region *est;
    struct mux_flow_region *new;
    const struct mux_flow_key *key;
};

/* Returns the regions of 'table' that hold 'key'. */
static inline struct family
family_of(const struct mux_flow_table *table, const struct mux_flow_key *key)
{
    struct mux_flow_table *t = CONST_CAST(struct mux_flow_table *, table);
    return (OVS_LIKELY(mux_flow_key_is_ipv4(key))
            ? (struct family) { &t->est, &t->new, key }
            : (struct family) { &t->est6, &t->new6, key });
}

/* The rest of mux_flow_lookup(), for a flow that is not live in the first
 * bucket of the established region: 'f' is its expired entry there, or
 * NULL if it has none (a flow has one entry in a region at most). */
static uint32_t __attribute__((noinline))
lookup_slow(struct mux_flow_table *table, const struct mux_flow_key *key,
            uint32_t hash, uint32_t now, uint32_t timeout, struct mux_flow *f)
{
    struct family fam = family_of(table, key);
    struct mux_flow_region *est = fam.est;
    bool v6 = est->ipv6;
    if (!f) {
        f = find_in_bucket(est, bucket_of(est, hash, 1), fam.key, hash, v6);
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

    f = find(fam.new, fam.key, hash, v6);
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
    struct mux_flow *room = find_room(est, hash, now, v6);
    if (!room) {
        room = make_room(est, hash, now);
    }
    if (room) {
        copy_entry(est, room, f);
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
static inline uint32_t ALWAYS_INLINE
lookup__(struct mux_flow_table *table, const struct mux_flow_key *key,
         uint32_t hash, uint32_t now, uint32_t timeout, bool v6)
{
    struct mux_flow_region *est = v6 ? &table->est6 : &table->est;
    struct mux_flow *f = find_in_bucket(est, hash & est->mask, key, hash,
                                        v6);
    if (OVS_LIKELY(f && !is_expired(f, now))) {
        f->expires = now + f->timeout;
        table->stats.hits++;
        return f->backend;
    }
    return lookup_slow(table, key, hash, now, timeout, f);
}

static uint32_t __attribute__((noinline))
lookup6(struct mux_flow_table *table, const struct mux_flow_key *key,
        uint32_t hash, uint32_t now, uint32_t timeout)
{
    return lookup__(table, key, hash, now, timeout, true);
}

uint32_t
mux_flow_lookup(struct mux_flow_table *table, const struct mux_flow_key *key,
                uint32_t hash, uint32_t now, uint32_t timeout)
{
    return (OVS_LIKELY(mux_flow_key_is_ipv4(key))
            ? lookup__(table, key, hash, now, timeout, false)
            : lookup6(table, key, hash, now, timeout));
}

/* Remembers that new flow 'key' goes to 'backend'.  If both its buckets in
 * the new region are full, and no flow can move to make room, the entry of
 * the two closest to expiry gives way. */
static inline void ALWAYS_INLINE
insert__(struct mux_flow_table *table, struct family fam, uint32_t hash,
         uint32_t backend, uint32_t now, uint32_t timeout, bool v6)
{
    struct mux_flow_region *r = fam.new;
    struct mux_flow *f = find_room(r, hash, now, v6);
    if (!f) {
        f = make_room(r, hash, now);
    }
    if (!f) {
        f = entry(r, (size_t) bucket_of(r, hash, 0) * MUX_FLOW_WAYS);
        for (int which = 0; which < 2; which++) {
            for (int i = 0; i < MUX_FLOW_WAYS; i++) {
                struct mux_flow *g = entry(r, (size_t) bucket_of(r, hash,
                                                                 which)
                                              * MUX_FLOW_WAYS + i);
                if ((int32_t) (g->expires - f->expires) < 0) {
                    f = g;
                }
            }
        }
        table->stats.evicted_new++;
    }
    set_key(f, fam.key, v6);
    f->hash = hash;
    f->backend = backend;
    f->timeout = timeout;
    f->expires = now + table->new_timeout;
    table->stats.inserted++;
}

void
mux_flow_insert(struct mux_flow_table *table, const struct mux_flow_key *key,
                uint32_t hash, uint32_t backend, uint32_t now,
                uint32_t timeout)
{
    struct family fam = family_of(table, key);
    if (fam.new->ipv6) {
        insert__(table, fam, hash, backend, now, timeout, true);
    } else {
        insert__(table, fam, hash, backend, now, timeout, false);
    }
}

/* Forgets flow 'key', wherever it is, so that a new choice of backend
 * for it can take its place. */
void
mux_flow_forget(struct mux_flow_table *table, const struct mux_flow_key *key,
                uint32_t hash)
{
    struct family fam = family_of(table, key);
    bool v6 = fam.est->ipv6;
    struct mux_flow *f = find(fam.est, fam.key, hash, v6);
    if (f) {
        f->hash = 0;
    }
    f = find(fam.new, fam.key, hash, v6);
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
        for (int j = 0; j < MUX_FLOW_WAYS; j++) {
            struct mux_flow *f = entry(r, (size_t) r->sweep * MUX_FLOW_WAYS
                                          + j);
            if (f->hash && is_expired(f, now)) {
                f->hash = 0;
                stats->expired++;
            }
        }
        r->sweep = (r->sweep + 1) & r->mask;
    }
}

/* Sweeps the part of 'table' that is due at 'now', so that every entry
 * leaves within MUX_FLOW_SWEEP_MS of its expiry, provided that the owner
 * calls this at least every second or so.  (The IPv6 regions' untouched
 * pages, read as zeros, stay untouched.) */
void
mux_flow_sweep(struct mux_flow_table *table, uint32_t now)
{
    uint32_t elapsed = now - table->swept;
    if (elapsed) {
        table->swept = now;
        sweep_region(&table->est, now, elapsed, &table->stats);
        sweep_region(&table->new, now, elapsed, &table->stats);
        sweep_region(&table->est6, now, elapsed, &table->stats);
        sweep_region(&table->new6, now, elapsed, &table->stats);
    }
}

/* Returns the backend of flow 'key' without touching the table, for
 * tracing, and whether the flow is established. */
uint32_t
mux_flow_peek(const struct mux_flow_table *table,
              const struct mux_flow_key *key, uint32_t hash, uint32_t now,
              bool *established)
{
    struct family fam = family_of(table, key);
    bool v6 = fam.est->ipv6;
    const struct mux_flow *f = find(fam.est, fam.key, hash, v6);
    *established = f != NULL;
    if (!f) {
        f = find(fam.new, fam.key, hash, v6);
    }
    return f && !is_expired(f, now) ? f->backend : MUX_FLOW_NONE;
}

static void
visit_region(const struct mux_flow_region *r, bool established, uint32_t now,
             mux_flow_visit_cb *cb, void *aux)
{
    size_t n = ((size_t) r->mask + 1) * MUX_FLOW_WAYS;
    for (size_t i = 0; i < n; i++) {
        const struct mux_flow *f = entry(r, i);
        if (f->hash && !is_expired(f, now)) {
            struct mux_flow_key key;
            get_key(r, f, &key);
            cb(&key, f, established, aux);
        }
    }
}

/* Calls 'cb' for every live flow in 'table', established ones first. */
void
mux_flow_visit(const struct mux_flow_table *table, uint32_t now,
               mux_flow_visit_cb *cb, void *aux)
{
    visit_region(&table->est, true, now, cb, aux);
    visit_region(&table->est6, true, now, cb, aux);
    visit_region(&table->new, false, now, cb, aux);
    visit_region(&table->new6, false, now, cb, aux);
}

static void
count_cb(const struct mux_flow_key *key OVS_UNUSED,
         const struct mux_flow *f OVS_UNUSED, bool established, void *aux)
{
    uint32_t *counts = aux;
    counts[established ? 0 : 1]++;
}

/* Counts the live flows of each region, of both families. */
void
mux_flow_count(const struct mux_flow_table *table, uint32_t now,
               uint32_t *n_est, uint32_t *n_new)
{
    uint32_t counts[2] = { 0, 0 };
    mux_flow_visit(table, now, count_cb, counts);
    *n_est = counts[0];
    *n_new = counts[1];
}
