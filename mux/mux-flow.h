/* SPDX-License-Identifier: Apache-2.0 */
/* The mux's flow table: which backend each established flow goes to.
 *
 * A mux picks the backend of a new flow from the rule's Maglev table.  The
 * flow table remembers that choice, so that a flow keeps its backend when
 * the backend set changes (a backend added, drained or unhealthy) for as
 * long as the flow stays active.
 *
 * There are two regions.  A flow that has sent one packet enters the small
 * "new" region, with a short timeout; its second packet promotes it to the
 * "established" region, with the rule's idle timeout.  A SYN flood thus
 * churns only the new region and cannot evict established flows.  When the
 * established region has no room, the flow simply stays unremembered and
 * follows the Maglev table, which gives the same backend unless the
 * backend set changes.
 *
 * Each region is a hash table of buckets of MUX_FLOW_WAYS entries, one
 * entry MUX_FLOW_ENTRY_SIZE bytes, allocated once: memory is bounded by
 * the configured capacities.  A flow may sit in either of two buckets that
 * its hash picks, and goes into the first that has room; when both are
 * full, flows move each to its other bucket to make room, as in cuckoo
 * hashing.  With one bucket per flow, some bucket overflowed while the
 * region was nearly empty: a SYN flood evicted the first new flow at 7 %
 * occupancy of the 262,144 entries of the default new region.  Now the
 * first eviction comes at about 95 % ("slb-mux-bench --occupancy" measures
 * both regions).  A lookup reads at most two buckets.  Moving flows costs
 * a search, which fails when the region is full: then the next flows go
 * in without one (a SYN flood into a full new region would otherwise pay
 * a failed search per packet).  A table belongs to one thread and needs no
 * locking.
 *
 * An expired entry is normally found expired when its flow or a new one
 * comes by.  Its owner also sweeps the table, so that no expired entry
 * outlives its expiry by more than MUX_FLOW_SWEEP_MS: the backend ids that
 * entries hold can then go to other backends (see mux-ids.h), and an entry
 * left alone for weeks cannot come back to life when the 32-bit
 * millisecond clock wraps. */

#ifndef MUX_FLOW_H
#define MUX_FLOW_H 1

#include <stdbool.h>
#include <stdint.h>
#include "hash.h"
#include "openvswitch/compiler.h"
#include "openvswitch/types.h"

#define MUX_FLOW_WAYS 4
#define MUX_FLOW_NONE UINT32_MAX        /* No backend. */
#define MUX_FLOW_SWEEP_MS 10000         /* One sweep of a whole table. */

/* A flow's 5-tuple, in network byte order, and for a flow of an internal
 * VIP its virtual network's VNI (see mux_flow_key_vni()). */
struct mux_flow_key {
    ovs_be32 src;
    ovs_be32 dst;
    ovs_be16 sport;
    ovs_be16 dport;
    uint8_t proto;
    uint8_t pad[3];             /* 0, or the VNI of an internal VIP. */
};

static inline uint32_t
mux_flow_key_vni(const struct mux_flow_key *k)
{
    return ((uint32_t) k->pad[0] << 16) | (k->pad[1] << 8) | k->pad[2];
}

static inline void
mux_flow_key_set_vni(struct mux_flow_key *k, uint32_t vni)
{
    k->pad[0] = vni >> 16;
    k->pad[1] = vni >> 8;
    k->pad[2] = vni;
}

struct mux_flow {
    struct mux_flow_key key;
    uint32_t hash;              /* Hash of 'key', 0 for a free entry. */
    uint32_t backend;           /* Backend id. */
    uint32_t expires;           /* Time, in ms, truncated to 32 bits. */
    uint32_t timeout;           /* Idle timeout in ms, once established. */
};
#define MUX_FLOW_ENTRY_SIZE 32

struct mux_flow_stats {
    uint64_t hits;              /* Packets of remembered flows. */
    uint64_t misses;            /* Packets of flows not remembered. */
    uint64_t inserted;          /* Flows entered in the new region. */
    uint64_t promoted;          /* Flows moved to the established region. */
    uint64_t evicted_new;       /* New flows pushed out by newer ones. */
    uint64_t established_full;  /* Promotions refused for lack of room. */
    uint64_t expired;           /* Entries found past their timeout. */
};

struct mux_flow_region {
    struct mux_flow *entries;   /* n_buckets * MUX_FLOW_WAYS. */
    uint32_t mask;              /* n_buckets - 1. */
    uint32_t sweep;             /* The next bucket to sweep. */
    uint32_t cuckoo_skip;       /* Flows to place without moving others,
                                 * after a search for room failed... */
    uint32_t cuckoo_backoff;    /* ...and so many after the next failure. */
    bool huge;                  /* Allocated for huge pages. */
};

struct mux_flow_table {
    struct mux_flow_region est; /* Established flows. */
    struct mux_flow_region new; /* Flows that have sent one packet. */
    uint32_t new_timeout;       /* ms. */
    uint32_t swept;             /* Time of the last sweep. */
    struct mux_flow_stats stats;
};

void mux_flow_table_init(struct mux_flow_table *, uint32_t est_capacity,
                         uint32_t new_capacity, uint32_t new_timeout_ms);
void mux_flow_table_destroy(struct mux_flow_table *);

static inline uint32_t mux_flow_hash(const struct mux_flow_key *,
                                     uint32_t basis);
static inline void mux_flow_prefetch(const struct mux_flow_table *,
                                     uint32_t hash, bool new_too)
    ALWAYS_INLINE;
uint32_t mux_flow_lookup(struct mux_flow_table *, const struct mux_flow_key *,
                         uint32_t hash, uint32_t now, uint32_t timeout);
void mux_flow_insert(struct mux_flow_table *, const struct mux_flow_key *,
                     uint32_t hash, uint32_t backend, uint32_t now,
                     uint32_t timeout);
void mux_flow_forget(struct mux_flow_table *, const struct mux_flow_key *,
                     uint32_t hash);
void mux_flow_sweep(struct mux_flow_table *, uint32_t now);
uint32_t mux_flow_peek(const struct mux_flow_table *,
                       const struct mux_flow_key *, uint32_t hash,
                       uint32_t now, bool *established);

/* Visiting the live entries, for "slb-mux/flows". */
typedef void mux_flow_visit_cb(const struct mux_flow *, bool established,
                               void *aux);
void mux_flow_visit(const struct mux_flow_table *, uint32_t now,
                    mux_flow_visit_cb *, void *aux);
void mux_flow_count(const struct mux_flow_table *, uint32_t now,
                    uint32_t *n_est, uint32_t *n_new);

/* Returns the hash of 'key' with 'basis', never 0 (which marks a free
 * entry). */
static inline uint32_t
mux_flow_hash(const struct mux_flow_key *key, uint32_t basis)
{
    uint32_t hash = hash_add(basis, (OVS_FORCE uint32_t) key->src);
    hash = hash_add(hash, (OVS_FORCE uint32_t) key->dst);
    hash = hash_add(hash, ((uint32_t) (OVS_FORCE uint16_t) key->sport << 16)
                          | (OVS_FORCE uint16_t) key->dport);
    /* The protocol goes in with the final mixing. */
    hash = hash_finish(hash, (uint32_t) key->proto << 8 | 13);
    return hash ? hash : 1;
}

/* Returns the index of the second bucket of the flow with 'hash' in a
 * region with 'mask': from other bits of the hash than the first's. */
static inline uint32_t
mux_flow_bucket2(uint32_t hash, uint32_t mask)
{
    return ((hash >> 16 | hash << 16) * 0x9e3779b1u) >> 8 & mask;
}

/* Starts loading the first bucket of the established region where the
 * flow of 'hash' would be (where most flows are, unless the region is
 * nearly full) and, if 'new_too', its second and both of the new region,
 * so that a batch of packets overlaps its memory accesses: the packet path
 * calls this for every packet of a batch before looking any of them up.
 * Only packets that probably start a flow (TCP SYNs) need the rest:
 * prefetching it for every packet would waste memory bandwidth on
 * established flows.
 *
 * It must be inlined early: GCC otherwise takes a function that only
 * prefetches for one without effects, and deletes the calls. */
static inline void
mux_flow_prefetch(const struct mux_flow_table *table, uint32_t hash,
                  bool new_too)
{
    const struct mux_flow_region *r = &table->est;
    const struct mux_flow *b = &r->entries[(hash & r->mask) * MUX_FLOW_WAYS];
    OVS_PREFETCH(b);
    OVS_PREFETCH(b + MUX_FLOW_WAYS / 2);
    if (new_too) {
        /* A new flow is in neither of its buckets: both are read. */
        b = &r->entries[mux_flow_bucket2(hash, r->mask) * MUX_FLOW_WAYS];
        OVS_PREFETCH(b);
        OVS_PREFETCH(b + MUX_FLOW_WAYS / 2);

        r = &table->new;
        b = &r->entries[(hash & r->mask) * MUX_FLOW_WAYS];
        OVS_PREFETCH(b);
        OVS_PREFETCH(b + MUX_FLOW_WAYS / 2);
        b = &r->entries[mux_flow_bucket2(hash, r->mask) * MUX_FLOW_WAYS];
        OVS_PREFETCH(b);
        OVS_PREFETCH(b + MUX_FLOW_WAYS / 2);
    }
}

#endif /* mux-flow.h */
