/* SPDX-License-Identifier: Apache-2.0 */
/* The mux's packet path.
 *
 * A packet to a VIP, IPv4 or IPv6, arrives from an edge router, or, for an
 * internal VIP
 * (an address of a virtual network), VXLAN-encapsulated from the host of
 * the client VM, with the network's VNI.  The mux matches (VIP, protocol,
 * destination port), and the VNI for an internal VIP, to a rule:
 *
 *   - a load-balancing rule: the flow table gives the backend of a known
 *     flow, else the rule's Maglev table picks one by the rule's
 *     distribution mode (5-, 3- or 2-tuple hash), and the flow table
 *     remembers it;
 *   - an inbound NAT rule: its one backend;
 *   - the SNAT ports of an outbound rule: the backend that owns the port,
 *     statelessly (the reply to a VM's outbound connection);
 *   - an HA-ports rule: as a load-balancing rule, for any protocol and
 *     port.
 *
 * It then VXLAN-encapsulates the unchanged packet from the mux's PA to the
 * backend's host PA with the backend's VNI, the outer UDP source port
 * taken from the flow's hash, and sends it to the underlay's next hop.
 * Every other packet is dropped for a named reason and counted.
 *
 * The configuration (struct mux_config) is built beside the packet path
 * from the database and swapped in whole; the packet path only reads it.
 * Per-thread state (struct mux_pmd) holds the flow table and counters, so
 * threads share nothing but the configuration. */

#ifndef MUX_DP_H
#define MUX_DP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp-packet.h"
#include "mux-flow.h"
#include "mux-frag.h"
#include "ovs-atomic.h"
#include "openvswitch/types.h"
#include "packets.h"

struct dp_packet;
struct dp_packet_batch;
struct maglev_backend;
struct ds;
struct hmap;

/* Why a packet was not forwarded.  The names appear in "slb-mux/stats". */
#define MUX_DROP_REASONS                                                \
    MUX_DROP(NO_CONFIG, "no-config", "no configuration applied yet")    \
    MUX_DROP(OTHER_MAC, "other-mac", "unicast to another MAC")         \
    MUX_DROP(NOT_IP, "not-ip", "neither IPv4 nor IPv6")                 \
    MUX_DROP(MALFORMED, "malformed", "truncated or malformed headers")  \
    MUX_DROP(IP_OPTIONS, "ip-options", "IPv4 header with options")      \
    MUX_DROP(IPV6_EXT, "ipv6-ext", "IPv6 extension headers not walked " \
             "(a routing header with segments left, or too many)")      \
    MUX_DROP(FRAGMENT, "fragment",                                      \
             "fragment of a datagram whose first fragment was dropped, " \
             "or that no single pool of its VIP takes on a mux "        \
             "without a fragment table")                                \
    MUX_DROP(FRAGMENT_EXPIRED, "fragment-expired",                      \
             "fragment whose datagram's first fragment did not come in " \
             "time")                                                    \
    MUX_DROP(FRAGMENT_FULL, "fragment-full",                            \
             "fragment that the fragment table had no room for")        \
    MUX_DROP(LOCAL, "local", "to the mux's own address, for its kernel") \
    MUX_DROP(NOT_HOST, "not-host",                                      \
             "encapsulated by a sender that is no host, or not VXLAN, " \
             "or by another mux and no fragment")                       \
    MUX_DROP(NOT_VIP, "not-vip", "destination is not a VIP")            \
    MUX_DROP(INTERNAL, "internal",                                      \
             "to an internal VIP, from outside its virtual network")    \
    MUX_DROP(NO_RULE, "no-rule", "no rule for this protocol and port")  \
    MUX_DROP(NO_BACKEND, "no-backend", "the rule has no healthy backend") \
    MUX_DROP(TOO_BIG, "too-big", "too big to encapsulate within the MTU")

enum mux_drop {
#define MUX_DROP(ENUM, NAME, DESCRIPTION) MUX_DROP_##ENUM,
    MUX_DROP_REASONS
#undef MUX_DROP
    MUX_N_DROPS,

    /* No drop either: a host's answer to one of the mux's path probes,
     * which the packet path keeps for the prober (see path-probe.h)... */
    MUX_PATH_ANSWER,

    /* ...a fragment that waits in the fragment table for its datagram's
     * first (see mux-frag.h)... */
    MUX_FRAGMENT_HELD,

    /* ...and one that the fragment table's work sent already, to the mux
     * that places its datagram or where the first fragment went (see
     * 'frag_out' in struct mux_pmd). */
    MUX_FRAGMENT_SENT
};

const char *mux_drop_name(enum mux_drop);
const char *mux_drop_description(enum mux_drop);

/* VXLAN encapsulation overhead: outer Ethernet, IPv4, UDP, VXLAN.  The
 * underlay is IPv4; the inner frame, IPv4 or IPv6. */
#define MUX_ENCAP_LEN (ETH_HEADER_LEN + IP_HEADER_LEN + UDP_HEADER_LEN \
                       + sizeof(struct vxlanhdr))
#define MUX_VXLAN_PORT 4789

/* Where the mux sends encapsulated packets from and to. */
struct mux_underlay {
    ovs_be32 pa;                /* The mux's PA: outer source address. */
    struct in6_addr pa6;        /* Its IPv6 address on its routers' link
                                 * (its IPv6 VIPs' next hop), or
                                 * all-zeros: its own, not a VIP's. */
    struct eth_addr mac;        /* The mux's MAC: outer source. */
    struct eth_addr nexthop;    /* The underlay next hop: outer dest. */
    int mtu;                    /* Largest outer IPv4 packet. */
};

/* A backend as the packet path needs it.  Its id stays the same across
 * configurations for as long as the backend exists, and after that for as
 * long as a flow table may refer to it (see mux-ids.h). */
struct mux_target {
    uint32_t id;
    struct in6_addr ca;         /* The backend's CA, for display. */
    ovs_be32 pa;                /* Its host's PA. */
    uint32_t vni;               /* Its virtual network's VNI. */
    struct eth_addr mac;        /* The VM's MAC, the inner destination that
                                 * tells its host which VM the mux chose;
                                 * eth_addr_zero if unknown. */
    uint8_t header[MUX_ENCAP_LEN];   /* Outer headers to copy. */
    uint32_t header_csum;       /* Partial outer IPv4 checksum. */
};

enum mux_rule_type {
    MUX_RULE_LB,                /* Load balancing, Maglev and flow table. */
    MUX_RULE_NAT,               /* Inbound NAT: one backend. */
};

enum mux_distribution {
    MUX_DIST_5_TUPLE,
    MUX_DIST_3_TUPLE,
    MUX_DIST_2_TUPLE,
};

/* A Maglev table and the backends its entries name.  Rules over the same
 * backends share one, and an unchanged table is carried over from one
 * configuration to the next. */
struct mux_maglev {
    uint32_t size;
    uint16_t *entries;          /* Indexes into 'ids'. */
    uint32_t *ids;              /* Backend ids. */
    uint64_t *keys;             /* Backend keys and weights, for reuse. */
    uint32_t *weights;
    size_t n;
    uint32_t seed;
    struct ovs_refcount refcount;   /* Configurations are freed by the RCU
                                     * thread, built by the main thread. */
};

/* A rule's Maglev table for new flows, from an earlier configuration: a
 * connection begun under it went where it says. */
struct mux_past_table {
    struct mux_maglev *maglev;
    uint32_t until;             /* ms: it no longer counts after this, the
                                 * rule's idle timeout after a later
                                 * configuration replaced it. */
};

/* At most so many past tables per rule: with each, a TCP segment of a
 * connection that the mux does not know may go to one host more. */
#define MUX_MAX_PAST_TABLES 4

/* The most backends that such a segment may go to: those of the rule's
 * table for new flows, of its table for connections, and of its past
 * tables. */
#define MUX_MAX_CANDIDATES (2 + MUX_MAX_PAST_TABLES)

struct mux_rule {
    char *name;
    uint32_t stats_id;          /* Stable across configurations. */
    enum mux_rule_type type;
    enum mux_distribution distribution;
    uint32_t idle_timeout;      /* ms. */
    struct mux_maglev *maglev;  /* MUX_RULE_LB. */
    struct mux_maglev *maglev_est;  /* MUX_RULE_LB: the table of the
                                 * backends that keep their connections
                                 * (those up, and those that only their
                                 * probes or admin state keep from new
                                 * flows), for a TCP segment of a connection
                                 * that this mux never saw; if NULL when the
                                 * rule is added, 'maglev'. */
    struct mux_past_table *past;    /* MUX_RULE_LB: the new flows' tables
                                 * of earlier configurations, newest first,
                                 * under which connections may have begun
                                 * (see mux_config_inherit())... */
    size_t n_past;              /* ...how many. */
    uint32_t *moved;            /* MUX_RULE_LB: the backends whose UDP flows
                                 * move to others (admin state down)... */
    size_t n_moved;             /* ...how many. */
    uint8_t *states;            /* MUX_RULE_LB: the enum slb_backend_state of
                                 * each backend of 'maglev', in order. */
    bool failed_open;           /* MUX_RULE_LB: no backend is up, and those
                                 * probed down take the new flows. */
    uint32_t backend;           /* MUX_RULE_NAT. */
    uint32_t vni;               /* 0 for a public VIP, else the virtual
                                 * network of an internal one. */
    struct in6_addr vip;        /* IPv4-mapped for an IPv4 VIP. */
    uint8_t proto;              /* IPPROTO_TCP, IPPROTO_UDP or 0 (all). */
    uint16_t port;              /* 0 for HA ports. */
};

/* The SNAT ports of one (VIP, protocol): sorted, disjoint ranges. */
struct mux_snat_range {
    uint16_t min, max;
    uint32_t backend;
};

struct mux_snat {
    struct in6_addr vip;        /* IPv4-mapped for an IPv4 VIP. */
    uint8_t proto;              /* IPPROTO_TCP or IPPROTO_UDP. */
    char *rule_name;
    uint32_t stats_id;
    struct mux_snat_range *ranges;
    size_t n;
};

/* An IPv6 VIP's number (see mux-dp.c), in an open-addressing table. */
struct mux_vip6 {
    struct in6_addr vip;
    uint32_t vni;               /* 0 for a public VIP, MUX_VNI_ANY for
                                 * "an internal VIP of some network". */
    uint32_t number;            /* 0 for a free slot. */
};
#define MUX_VNI_ANY UINT32_MAX

/* One applied configuration.  Immutable once built. */
struct mux_config {
    uint64_t generation;        /* Unique to this configuration, from 1. */
    int64_t nb_cfg;
    uint32_t seed;
    bool fastpath;              /* Redirect new flows of internal VIPs to
                                 * their backends (lib/redirect.h). */
    ovs_be32 anycast;           /* The muxes' shared address, to which hosts
                                 * send packets to internal VIPs, or 0. */
    struct mux_underlay underlay;

    /* (VIP, protocol, port) lookups: see mux-dp.c for the key layout. */
    uint64_t *keys;
    uint32_t *values;
    uint32_t mask;
    struct mux_vip6 *vips6;     /* IPv6 VIPs' numbers, or NULL... */
    uint32_t vips6_mask;        /* ...in so many slots, minus one. */
    struct hmap *nets;          /* While building: the (VNI, VIP) pairs
                                 * numbered so far. */
    uint32_t n_nets;            /* How many there are. */

    struct mux_rule *rules;
    size_t n_rules;
    struct mux_snat *snats;
    size_t n_snats;

    /* Every mux's PA, this one's too, in increasing order: the muxes
     * among which the fragments of datagrams that need the fragment table
     * are shared out (see mux-frag.h). */
    ovs_be32 *muxes;
    size_t n_muxes;

    /* Indexed by backend id; NULL where a backend no longer exists. */
    struct mux_target **targets;
    size_t n_targets;

    struct mux_maglev **maglevs;
    size_t n_maglevs;

    /* Statistics ids: every one given so far is below 'n_stats_ids'.  An
     * id's epoch changes when another rule takes it (see mux-ids.h). */
    uint32_t n_stats_ids;
    uint32_t *stats_epochs;     /* Or NULL, for all 0. */
};

static inline uint32_t
mux_config_stats_epoch(const struct mux_config *cfg, uint32_t stats_id)
{
    return cfg->stats_epochs ? cfg->stats_epochs[stats_id] : 0;
}

/* Counters of one rule or SNAT rule. */
struct mux_rule_stats {
    uint64_t packets;
    uint64_t bytes;
    uint64_t new_flows;         /* Flows that the Maglev table placed. */
};

/* A new flow of an internal VIP, whose client's host the mux tells which
 * backend it picked (see lib/redirect.h). */
struct mux_redirect {
    struct mux_flow_key key;    /* The flow, its VNI in the padding. */
    ovs_be32 host;              /* The client VM's host's PA. */
    uint32_t backend;           /* The backend's id. */
    uint32_t lifetime;          /* Seconds of idleness, the rule's. */
};

/* Redirects that one thread keeps until its caller takes them. */
#define MUX_PMD_REDIRECTS 256

/* An answer to one of the mux's data-path probes (see path-probe.h), as
 * the packet path takes it from a host's tunnel packet. */
#define MUX_PATH_DATA_LEN 24    /* The echo's data, as the prober sent it. */
struct mux_path_answer {
    ovs_be32 host;              /* The host that answered: outer source. */
    struct in6_addr vip;        /* The VIP probed: inner source,
                                 * IPv4-mapped for IPv4. */
    uint8_t data[MUX_PATH_DATA_LEN];
};

/* Answers that one thread keeps until its caller takes them. */
#define MUX_PMD_PATH_ANSWERS 256

/* Per-thread state. */
struct mux_pmd {
    struct mux_flow_table flows;
    uint64_t drops[MUX_N_DROPS];
    struct mux_rule_stats *rule_stats;  /* Indexed by stats id.  Their sums
                                         * are the forwarded totals. */
    uint32_t *rule_stats_epochs;        /* The epoch that each counts for. */
    size_t n_rule_stats;
    struct mux_rule_stats retired;      /* Counts of rules whose ids went to
                                         * other rules. */
    uint64_t icmp_errors;       /* ICMP errors taken for packets of the
                                 * connections that they quote. */
    uint64_t fragments;         /* Fragments forwarded to backends... */
    uint64_t fragments_to_muxes;    /* ...and to the muxes that place their
                                     * datagrams. */
    struct mux_frags *frags;    /* The fragment table that every thread
                                 * shares, or NULL for none (then the
                                 * fragments that need one are dropped). */
    struct mux_frag_held *frag_out;     /* Fragments that the fragment
                                         * table's work sent (to the muxes
                                         * that place their datagrams, or
                                         * where their first fragments
                                         * went, those that waited too),
                                         * encapsulated, for the caller to
                                         * send after the batch that
                                         * mux_dp_process() gives it... */
    size_t n_frag_out, allocated_frag_out;      /* ...how many. */
    uint64_t candidate_segments;    /* TCP segments of connections that the
                                     * mux does not know and whose backend
                                     * its tables disagree on, sent to each
                                     * candidate's host... */
    uint64_t candidate_copies;  /* ...in so many packets in all... */
    uint64_t candidate_copies_lost;     /* ...and copies that found no room
                                         * in 'copies'. */
    struct dp_packet_batch copies;      /* Those copies but the first, for
                                         * the caller to send after the
                                         * batch that mux_dp_process()
                                         * gives it. */
    struct mux_redirect redirects[MUX_PMD_REDIRECTS];
    size_t n_redirects;         /* Redirects for the caller to send... */
    uint64_t redirects_lost;    /* ...and those that found no room. */
    struct mux_path_answer path_answers[MUX_PMD_PATH_ANSWERS];
    size_t n_path_answers;      /* Answers for the caller to take... */
    uint64_t path_answers_lost; /* ...and those that found no room. */
    uint64_t generation;        /* Of the configuration it is prepared for,
                                 * 0 for none. */
};

/* What the packet path decided about one packet. */
struct mux_verdict {
    enum mux_drop drop;         /* MUX_N_DROPS if forwarded, MUX_PATH_ANSWER
                                 * if taken for the prober. */
    const struct mux_rule *rule;        /* Or NULL. */
    const struct mux_snat *snat;        /* Or NULL. */
    const struct mux_target *target;    /* Or NULL. */
    struct mux_flow_key key;    /* Of the inner packet, for one that a host
                                 * encapsulated: its VNI in the padding. */
    uint32_t hash;              /* Flow hash (5-tuple, seeded). */
    uint32_t net;               /* For a packet to an internal VIP or to an
                                 * IPv6 VIP: its (VNI, VIP)'s number in the
                                 * lookup keys, else 0. */
    ovs_be32 tunnel_src;        /* For 'decap', the host that sent it. */
    bool decap;                 /* A host encapsulated it: the mux strips
                                 * the outer headers before its own. */
    bool from_flow_table;
    bool established;
    bool syn;                   /* A TCP SYN without ACK. */
    bool fragment;              /* A fragment of a TCP or UDP datagram,
                                 * keyed without ports. */
    bool icmp_error;            /* An ICMP error, keyed by the connection
                                 * that it quotes. */
    bool from_mux;              /* With 'decap': another mux sent it, a
                                 * fragment for this one to place. */
    /* For a fragment: */
    struct mux_frag_span span;  /* Which bytes of its datagram it holds... */
    uint32_t frag_id;           /* ...its datagram's identification... */
    ovs_be16 frag_ports[2];     /* ...and for a first fragment, its source
                                 * and destination ports... */
    bool frag_ports_ok;         /* ...if it holds them. */
    ovs_be32 to_mux;            /* Through the fragment table: the mux that
                                 * places its datagram, if another, where
                                 * the packet goes, else 0... */
    uint32_t frag_stats_id;     /* ...and for a fragment that goes where its
                                 * first went, the rule that counts it. */
    uint8_t n_candidates;       /* How many other backends a TCP segment of
                                 * a connection that the mux does not know
                                 * goes to too: 0 unless its tables
                                 * disagree... */
    uint32_t candidates[MUX_MAX_CANDIDATES - 1];    /* ...and which. */
    uint64_t rule_key;          /* Lookup key of a load-balancing rule for
                                 * one port that the packet matched, for the
                                 * next packet to reuse; else 0. */
};

void mux_pmd_init(struct mux_pmd *, uint32_t est_capacity,
                  uint32_t new_capacity, uint32_t new_timeout_ms);
void mux_pmd_destroy(struct mux_pmd *);
void mux_pmd_prepare(struct mux_pmd *, const struct mux_config *);

/* Returns true if 'pmd' is prepared for 'cfg' (which may be NULL).  Known
 * by the configuration's generation, not its address: a freed
 * configuration's memory may hold the next one. */
static inline bool
mux_pmd_is_prepared(const struct mux_pmd *pmd, const struct mux_config *cfg)
{
    return pmd->generation == (cfg ? cfg->generation : 0);
}

void mux_dp_process(struct mux_pmd *, const struct mux_config *,
                    struct dp_packet_batch *in, struct dp_packet_batch *out,
                    uint32_t now);
void mux_dp_trace(struct mux_pmd *const pmds[], size_t n_pmds,
                  const struct mux_config *, const struct dp_packet *,
                  uint32_t now, struct ds *, struct dp_packet **sent);

/* Building configurations: see mux-config.c. */
struct mux_config *mux_config_create(void);
void mux_config_add_vip(struct mux_config *, const struct in6_addr *vip);
void mux_config_add_internal_vip(struct mux_config *, uint32_t vni,
                                 const struct in6_addr *vip);
void mux_config_add_host(struct mux_config *, ovs_be32 pa);
void mux_config_add_mux(struct mux_config *, ovs_be32 pa, bool self);
void mux_config_add_rule(struct mux_config *, const struct mux_rule *);
void mux_config_add_snat(struct mux_config *, const struct in6_addr *vip,
                         uint8_t proto, const struct mux_snat *);
void mux_config_finish(struct mux_config *);
void mux_config_destroy(struct mux_config *);
void mux_config_copy(struct mux_config *, const struct mux_config *src);
void mux_config_replace_rule(struct mux_config *, size_t idx,
                             const struct mux_rule *);
void mux_config_staged_keys(const struct mux_config *, uint64_t **keys,
                            uint32_t **values, size_t *n);
void mux_config_stage_keys(struct mux_config *, const uint64_t *keys,
                           const uint32_t *values, size_t n);
struct mux_maglev *mux_maglev_create(const struct maglev_backend *,
                                     const uint32_t *ids, size_t n,
                                     uint32_t size, uint32_t seed);
void mux_maglev_unref(struct mux_maglev *);
void mux_config_diff(const struct mux_config *, const struct mux_config *,
                     struct ds *diff);
bool mux_config_inherit(struct mux_config *, const struct mux_config *old,
                        uint32_t now);
void mux_target_init_header(struct mux_target *,
                            const struct mux_underlay *);
void mux_dp_encapsulate(struct dp_packet *, const struct mux_target *,
                        uint16_t ip_len, uint32_t hash);

uint32_t mux_rule_key_hash(uint64_t key);

/* Returns true if backend 'id' is among the moved backends of 'rule'
 * (admin state down). */
static inline bool
mux_rule_moves(const struct mux_rule *rule, uint32_t id)
{
    for (size_t i = 0; i < rule->n_moved; i++) {
        if (rule->moved[i] == id) {
            return true;
        }
    }
    return false;
}
void mux_put_endpoint(struct ds *, const struct in6_addr *, uint16_t port);

#endif /* mux-dp.h */
