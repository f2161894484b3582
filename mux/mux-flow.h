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
 * Each region is a hash table of buckets of MUX_FLOW_WAYS entries,
 * allocated once: memory is bounded by the configured capacities.  IPv4
 * and IPv6 flows have regions of their own, each of both sizes: an IPv4
 * flow's entry takes 32 bytes (MUX_FLOW4_SIZE), so that a bucket is two
 * cache lines, and an IPv6 flow's 64 (MUX_FLOW6_SIZE).  The IPv6 regions
 * take memory only as IPv6 flows come (the kernel gives their pages when
 * they are first written), the IPv4 regions all of it at once.  A flow
 * may sit in either of two buckets that its hash picks, and goes into the
 * first that has room; when both are full, flows move each to its other
 * bucket to make room, as in cuckoo hashing.  With one bucket per flow,
 * some bucket overflowed while the region was nearly empty: a SYN flood
 * evicted the first new flow at 7 % occupancy of the 262,144 entries of
 * the default new region.  Now the
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
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include "hash.h"
#include "openvswitch/compiler.h"
#include "openvswitch/types.h"
#include "packets.h"

#define MUX_FLOW_WAYS 4
#define MUX_FLOW_NONE UINT32_MAX        /* No backend. */
#define MUX_FLOW_SWEEP_MS 10000         /* One sweep of a whole table. */

/* A flow's 5-tuple, in network byte order, and for a flow of an internal
 * VIP its virtual network's VNI (see mux_flow_key_vni()).  An IPv4 flow's
 * key is its first 16 bytes, which its flow table entry keeps, and the
 * rest is zero; an IPv6 flow's addresses are split, their first 96 bits
 * at the end.  No IPv6 VIP begins with 96 zero bits (the packet path
 * drops packets to such addresses), so the destination tells the
 * family. */
struct mux_flow_key {
    ovs_be32 src;               /* IPv4, or the last 32 bits of IPv6. */
    ovs_be32 dst;
    ovs_be16 sport;
    ovs_be16 dport;
    uint8_t proto;
    uint8_t pad[3];             /* 0, or the VNI of an internal VIP. */
    ovs_be32 src_hi[3];         /* IPv6: the first 96 bits; IPv4: 0. */
    ovs_be32 dst_hi[3];
};

/* Returns true if 'k' is an IPv4 flow. */
static inline bool
mux_flow_key_is_ipv4(const struct mux_flow_key *k)
{
    return !(k->dst_hi[0] | k->dst_hi[1] | k->dst_hi[2]);
}

/* Sets the addresses of 'k' to IPv4 'src' and 'dst'. */
static inline void
mux_flow_key_set_ipv4(struct mux_flow_key *k, ovs_be32 src, ovs_be32 dst)
{
    k->src = src;
    k->dst = dst;
    memset(k->src_hi, 0, sizeof k->src_hi + sizeof k->dst_hi);
}

/* Sets one address of 'k', '*lo' and 'hi', to the 16 bytes of IPv6
 * address 'a' (a struct in6_addr, or an address in a packet). */
static inline void
mux_flow_key_set_ipv6__(ovs_be32 *lo, ovs_be32 hi[3], const void *a)
{
    memcpy(hi, a, 12);
    memcpy(lo, (const uint8_t *) a + 12, 4);
}

/* Sets the addresses of 'k' to IPv6 'src' and 'dst', each a struct
 * in6_addr or 16 bytes of a packet. */
static inline void
mux_flow_key_set_ipv6(struct mux_flow_key *k, const void *src,
                      const void *dst)
{
    mux_flow_key_set_ipv6__(&k->src, k->src_hi, src);
    mux_flow_key_set_ipv6__(&k->dst, k->dst_hi, dst);
}

/* Returns one address of a key, 'lo' and 'hi', as an IPv6 address,
 * IPv4-mapped for an IPv4 flow, which 'ipv4' says. */
static inline struct in6_addr
mux_flow_key_addr__(ovs_be32 lo, const ovs_be32 hi[3], bool ipv4)
{
    if (ipv4) {
        return in6_addr_mapped_ipv4(lo);
    }
    struct in6_addr a;
    memcpy(&a, hi, 12);
    memcpy(&a.s6_addr[12], &lo, 4);
    return a;
}

/* Returns the source or destination address of 'k', as an IPv6 address,
 * IPv4-mapped for an IPv4 flow. */
static inline struct in6_addr
mux_flow_key_src(const struct mux_flow_key *k)
{
    return mux_flow_key_addr__(k->src, k->src_hi, mux_flow_key_is_ipv4(k));
}

static inline struct in6_addr
mux_flow_key_dst(const struct mux_flow_key *k)
{
    return mux_flow_key_addr__(k->dst, k->dst_hi, mux_flow_key_is_ipv4(k));
}

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

/* An entry of a region: this, then its flow's key, as struct mux_flow4
 * or struct mux_flow6 lay them out. */
struct mux_flow {
    uint32_t hash;              /* Hash of the key, 0 for a free entry. */
    uint32_t backend;           /* Backend id. */
    uint32_t expires;           /* Time, in ms, truncated to 32 bits. */
    uint32_t timeout;           /* Idle timeout in ms, once established. */
};

/* An IPv4 flow's entry keeps the first MUX_FLOW_KEY4_LEN bytes of its
 * key, the rest being zero. */
#define MUX_FLOW_KEY4_LEN offsetof(struct mux_flow_key, src_hi)
struct mux_flow4 {
    struct mux_flow f;
    uint8_t key[16];            /* MUX_FLOW_KEY4_LEN. */
};
#define MUX_FLOW4_SIZE 32

struct mux_flow6 {
    struct mux_flow f;
    struct mux_flow_key key;
    uint8_t pad[8];             /* To a cache line. */
};
#define MUX_FLOW6_SIZE 64

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
    void *entries;              /* n_buckets * MUX_FLOW_WAYS, each a struct
                                 * mux_flow4 or, if 'ipv6', mux_flow6. */
    bool ipv6;
    uint8_t shift;              /* log2 of the size of an entry. */
    uint32_t mask;              /* n_buckets - 1. */
    uint32_t sweep;             /* The next bucket to sweep. */
    uint32_t cuckoo_skip;       /* Flows to place without moving others,
                                 * after a search for room failed... */
    uint32_t cuckoo_backoff;    /* ...and so many after the next failure. */
    bool huge;                  /* Allocated for huge pages. */
    size_t size;                /* Bytes allocated, from 'base'. */
    void *base;
};

struct mux_flow_table {
    struct mux_flow_region est; /* Established IPv4 flows. */
    struct mux_flow_region new; /* IPv4 flows that have sent one packet. */
    struct mux_flow_region est6;    /* The same, of IPv6 flows. */
    struct mux_flow_region new6;
    uint32_t new_timeout;       /* ms. */
    uint32_t swept;             /* Time of the last sweep. */
    struct mux_flow_stats stats;
};

void mux_flow_table_init(struct mux_flow_table *, uint32_t est_capacity,
                         uint32_t new_capacity, uint32_t new_timeout_ms);
void mux_flow_table_destroy(struct mux_flow_table *);

static inline uint32_t mux_flow_hash(const struct mux_flow_key *,
                                     uint32_t basis)
    ALWAYS_INLINE;
static inline uint32_t mux_flow_hash__(const struct mux_flow_key *,
                                       uint32_t basis, bool ipv6)
    ALWAYS_INLINE;
static inline uint32_t mux_flow_hash_addrs6__(const struct mux_flow_key *,
                                              uint32_t basis)
    ALWAYS_INLINE;
uint32_t mux_flow_hash_addrs6(const struct mux_flow_key *, uint32_t basis);
static inline void mux_flow_prefetch(const struct mux_flow_table *,
                                     uint32_t hash, bool ipv6, bool new_too)
    ALWAYS_INLINE;
static inline void mux_flow_prefetch_bucket(const struct mux_flow_region *,
                                            uint32_t bucket, bool ipv6)
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

/* Visiting the live entries, for "slb-mux/flows": each flow's key and
 * entry. */
typedef void mux_flow_visit_cb(const struct mux_flow_key *,
                               const struct mux_flow *, bool established,
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
    return mux_flow_hash__(key, basis, !mux_flow_key_is_ipv4(key));
}

/* Returns 'basis' with the addresses of IPv6 flow 'key' hashed in: the
 * part of mux_flow_hash() for IPv6.  (Inline where the caller knows the
 * family; mux_flow_hash_addrs6() where it does not, out of the IPv4
 * packets' way.) */
static inline uint32_t
mux_flow_hash_addrs6__(const struct mux_flow_key *key, uint32_t basis)
{
    uint32_t hash = basis;
    for (int i = 0; i < 3; i++) {
        hash = hash_add(hash, (OVS_FORCE uint32_t) key->src_hi[i]);
        hash = hash_add(hash, (OVS_FORCE uint32_t) key->dst_hi[i]);
    }
    return hash;
}

/* Returns mux_flow_hash() of 'key', whose family the caller knows: of an
 * IPv6 flow if 'ipv6'. */
static inline uint32_t
mux_flow_hash__(const struct mux_flow_key *key, uint32_t basis, bool ipv6)
{
    /* An IPv4 flow hashes as it did before muxes knew IPv6: the hash picks
     * the backend of a 5-tuple rule, and muxes of both versions, side by
     * side during an upgrade, must pick alike. */
    uint32_t hash = ipv6 ? mux_flow_hash_addrs6__(key, basis) : basis;
    hash = hash_add(hash, (OVS_FORCE uint32_t) key->src);
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

static inline void
mux_flow_prefetch_bucket(const struct mux_flow_region *r, uint32_t bucket,
                         bool ipv6)
{
    /* A bucket is two cache lines of IPv4 entries, or four of IPv6. */
    BUILD_ASSERT(MUX_FLOW_WAYS * MUX_FLOW4_SIZE == 2 * 64);
    BUILD_ASSERT(MUX_FLOW_WAYS * MUX_FLOW6_SIZE == 4 * 64);
    size_t size = MUX_FLOW_WAYS * (ipv6 ? MUX_FLOW6_SIZE : MUX_FLOW4_SIZE);
    const char *b = (const char *) r->entries + bucket * size;
    OVS_PREFETCH(b);
    OVS_PREFETCH(b + 64);
    if (ipv6) {
        OVS_PREFETCH(b + 128);
        OVS_PREFETCH(b + 192);
    }
}

/* Starts loading the first bucket of the established region where the
 * flow of 'hash' (an IPv6 flow, if 'ipv6') would be (where most flows
 * are, unless the region is nearly full) and, if 'new_too', its second
 * and both of the new region, so that a batch of packets overlaps its
 * memory accesses: the packet path calls this for every packet of a batch
 * before looking any of them up.  Only packets that probably start a flow
 * (TCP SYNs) need the rest: prefetching it for every packet would waste
 * memory bandwidth on established flows.
 *
 * It must be inlined early: GCC otherwise takes a function that only
 * prefetches for one without effects, and deletes the calls. */
static inline void
mux_flow_prefetch(const struct mux_flow_table *table, uint32_t hash,
                  bool ipv6, bool new_too)
{
    const struct mux_flow_region *r = ipv6 ? &table->est6 : &table->est;
    mux_flow_prefetch_bucket(r, hash & r->mask, ipv6);
    if (new_too) {
        /* A new flow is in neither of its buckets: both are read. */
        mux_flow_prefetch_bucket(r, mux_flow_bucket2(hash, r->mask), ipv6);
        r = ipv6 ? &table->new6 : &table->new;
        mux_flow_prefetch_bucket(r, hash & r->mask, ipv6);
        mux_flow_prefetch_bucket(r, mux_flow_bucket2(hash, r->mask), ipv6);
    }
}

#endif /* mux-flow.h */
