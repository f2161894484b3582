/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's OpenFlow connection to its bridge.
 *
 * The agent says which flows the bridge should have (a set of struct
 * ofctrl_flow) and which meters (struct ofctrl_meter); ofctrl compares them
 * with what the bridge has and sends only the difference: the flows as one
 * atomic OpenFlow bundle, new and changed meters before it and deleted
 * meters after it (OpenFlow bundles do not take meters).  On every new
 * connection (the agent or ovs-vswitchd restarted) it first reads the
 * bridge's flows and meters, so that a restart with an unchanged
 * configuration sends no modification at all.  Without a change of the
 * desired flows (ofctrl_desired_changed()), it compares nothing.
 *
 * Flows with an idle timeout are not the desired flows' business: the
 * agent adds them one by one (ofctrl_add_expiring_flow()), for single
 * connections, and the bridge removes them once idle.  ofctrl leaves them
 * as they are.
 *
 * A flow that the bridge refuses (say, a table full) is named in the log
 * once and left out, and the rest applied; it is tried again after a wait
 * that doubles with each refusal.  Other errors make ofctrl read the
 * bridge's state again, at once the first time and then after a growing
 * wait.
 *
 * Flows are kept as OVS's struct minimatch and ofpacts, keyed by table,
 * priority and match, never as text: the desired flows' actions are put
 * into the form that the bridge's replies decode to, so that a flow read
 * back from the bridge compares equal to the one sent. */

#ifndef OFCTRL_H
#define OFCTRL_H 1

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/compiler.h"
#include "openvswitch/flow.h"
#include "openvswitch/hmap.h"
#include "openvswitch/match.h"

struct ofctrl;
struct ofpact;
struct ofp_header;
struct ofputil_packet_in;

/* Called for each packet that a flow's "controller" action sends to the
 * agent, with the message that brought it (for ofctrl_resume()). */
typedef void ofctrl_packet_in_cb(const struct ofputil_packet_in *,
                                 const struct ofp_header *msg, void *aux);

/* A flow: its key is its table, priority and match. */
struct ofctrl_flow {
    struct hmap_node node;      /* In a set, by hash of its key. */
    uint8_t table_id;
    uint16_t priority;
    struct minimatch match;
    struct ofpact *ofpacts;     /* None: drop. */
    size_t ofpacts_len;
    uint64_t cookie;            /* Names the database row of the flow. */
};

/* An OpenFlow meter that drops what exceeds 'rate', in a set keyed by
 * 'id'. */
struct ofctrl_meter {
    struct hmap_node node;      /* In a set, by hash of 'id'. */
    uint32_t id;
    uint32_t rate;              /* Kilobits per second, or... */
    bool pktps;                 /* ...packets per second if true. */
    uint32_t burst;             /* Kilobits (packets), or 0 for the
                                 * switch's default. */
};

/* The counters of one flow of the bridge. */
struct ofctrl_counters {
    uint8_t table_id;
    uint16_t priority;
    uint64_t cookie;
    uint32_t regs[FLOW_N_REGS]; /* The values of the registers it matches,
                                 * 0 for those it does not match. */
    uint64_t packets;
    uint64_t bytes;
    bool drops;                 /* It has no action: it drops all it
                                 * matches. */
};

struct ofctrl_stats {
    uint64_t flow_mods;         /* Flow additions, changes and deletions. */
    uint64_t meter_mods;        /* Meter additions, changes and deletions. */
    uint64_t bundles;           /* Bundles committed. */
    uint64_t dumps;             /* Times the bridge's flows were read in
                                 * full. */
};

struct ofctrl *ofctrl_create(void);
void ofctrl_destroy(struct ofctrl *);
void ofctrl_set_bridge(struct ofctrl *, const char *bridge);
void ofctrl_flows_destroy(struct hmap *flows);
struct ofctrl_flow *ofctrl_flow_create(uint8_t table_id, uint16_t priority,
                                       uint64_t cookie,
                                       const struct minimatch *,
                                       const struct ofpact *,
                                       size_t ofpacts_len);
void ofctrl_flow_destroy(struct ofctrl_flow *);
struct ofctrl_flow *ofctrl_flow_find(const struct hmap *flows,
                                     const struct ofctrl_flow *key);
bool ofctrl_flow_same_key(const struct ofctrl_flow *,
                          const struct ofctrl_flow *);
void ofctrl_add_meter(struct hmap *meters, uint32_t id, uint32_t rate,
                      bool pktps, uint32_t burst);
bool ofctrl_meter_equal(const struct ofctrl_meter *,
                        const struct ofctrl_meter *);
void ofctrl_meters_destroy(struct hmap *meters);
void ofctrl_run(struct ofctrl *, const struct hmap *flows,
                const struct hmap *meters);
void ofctrl_desired_changed(struct ofctrl *);
void ofctrl_resync(struct ofctrl *);
void ofctrl_set_packet_in_cb(struct ofctrl *, ofctrl_packet_in_cb *,
                             void *aux);
bool ofctrl_add_expiring_flow(struct ofctrl *, const struct ofctrl_flow *,
                              uint16_t idle_timeout);
void ofctrl_send_packet(struct ofctrl *, const void *packet, size_t len,
                        uint32_t out_port);
bool ofctrl_resume(struct ofctrl *, const struct ofp_header *packet_in,
                   int reg, uint32_t value);
void ofctrl_resubmit_packet(struct ofctrl *, const void *packet, size_t len,
                            const uint32_t regs[FLOW_N_REGS], uint8_t table);
void ofctrl_wait(struct ofctrl *);
bool ofctrl_is_synced(const struct ofctrl *);
const struct ofctrl_stats *ofctrl_get_stats(const struct ofctrl *);
size_t ofctrl_n_installed(const struct ofctrl *);
bool ofctrl_request_counters(struct ofctrl *);
bool ofctrl_get_counters(struct ofctrl *, struct ofctrl_counters **,
                         size_t *n);
size_t ofctrl_n_installed_meters(const struct ofctrl *);
size_t ofctrl_n_rejected(const struct ofctrl *);

#endif /* ofctrl.h */
