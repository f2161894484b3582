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
 * the configured capacities.  A table belongs to one thread and needs no
 * locking. */

#ifndef MUX_FLOW_H
#define MUX_FLOW_H 1

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/types.h"

#define MUX_FLOW_WAYS 4
#define MUX_FLOW_NONE UINT32_MAX        /* No backend. */

/* A flow's 5-tuple, in network byte order. */
struct mux_flow_key {
    ovs_be32 src;
    ovs_be32 dst;
    ovs_be16 sport;
    ovs_be16 dport;
    uint8_t proto;
    uint8_t pad[3];
};

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
};

struct mux_flow_table {
    struct mux_flow_region est; /* Established flows. */
    struct mux_flow_region new; /* Flows that have sent one packet. */
    uint32_t new_timeout;       /* ms. */
    struct mux_flow_stats stats;
};

void mux_flow_table_init(struct mux_flow_table *, uint32_t est_capacity,
                         uint32_t new_capacity, uint32_t new_timeout_ms);
void mux_flow_table_destroy(struct mux_flow_table *);

uint32_t mux_flow_hash(const struct mux_flow_key *);
uint32_t mux_flow_lookup(struct mux_flow_table *, const struct mux_flow_key *,
                         uint32_t hash, uint32_t now, uint32_t timeout);
void mux_flow_insert(struct mux_flow_table *, const struct mux_flow_key *,
                     uint32_t hash, uint32_t backend, uint32_t now,
                     uint32_t timeout);
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

#endif /* mux-flow.h */
