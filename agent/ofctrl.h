/* The agent's OpenFlow connection to its bridge.
 *
 * The agent says which flows the bridge should have (a set of struct
 * ofctrl_flow); ofctrl compares them with the flows that the bridge has
 * and sends only the difference, as one atomic OpenFlow bundle.  On every
 * new connection (the agent or ovs-vswitchd restarted) it first reads the
 * bridge's flows, so that a restart with an unchanged configuration sends
 * no flow modification at all.
 *
 * Flows are compared in OVS's own text form, after a round trip through
 * its parser and formatter, so that equivalent spellings compare equal. */

#ifndef OFCTRL_H
#define OFCTRL_H 1

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/compiler.h"
#include "openvswitch/hmap.h"

struct ofctrl;

/* A flow, in ovs-ofctl's syntax without the cookie: "table=N,priority=P,
 * MATCH actions=ACTIONS". */
struct ofctrl_flow {
    struct hmap_node node;      /* In a set, by hash of 'key'. */
    char *key;                  /* "table=N,priority=P,MATCH". */
    char *actions;              /* "ACTIONS". */
    uint64_t cookie;            /* Names the database row of the flow. */
};

struct ofctrl_stats {
    uint64_t flow_mods;         /* Flow additions, changes and deletions. */
    uint64_t bundles;           /* Bundles committed. */
    uint64_t dumps;             /* Times the bridge's flows were read in
                                 * full. */
};

struct ofctrl *ofctrl_create(void);
void ofctrl_destroy(struct ofctrl *);
void ofctrl_set_bridge(struct ofctrl *, const char *bridge);
char *ofctrl_add_flow(struct hmap *flows, uint64_t cookie, const char *spec)
    OVS_WARN_UNUSED_RESULT;
void ofctrl_flows_destroy(struct hmap *flows);
void ofctrl_run(struct ofctrl *, const struct hmap *desired);
void ofctrl_resync(struct ofctrl *);
void ofctrl_wait(struct ofctrl *);
bool ofctrl_is_synced(const struct ofctrl *);
const struct ofctrl_stats *ofctrl_get_stats(const struct ofctrl *);
size_t ofctrl_n_installed(const struct ofctrl *);

#endif /* ofctrl.h */
