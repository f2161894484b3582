/* SPDX-License-Identifier: Apache-2.0 */
/* The flows that the agent wants on its bridge, kept item by item.
 *
 * host-flows.h divides the flows of a host into items: the host's own, and
 * those of each peer, network, VM, remote VM, load-balancing rule, SNAT
 * range and ACL entry, each with a key that holds everything its flows
 * depend on.  desired_flows_update() builds only the flows of the items
 * whose key it has not seen before, and drops those of the items that are
 * gone, so that a change to one backend builds the few flows of its items
 * and leaves the thousands of others as they are.  Building every item
 * afresh (desired_flows_clear(), then desired_flows_update()) is the full
 * recompute, the reference that the incremental result must equal:
 * "slb-agent/recompute" does it and compares the result with the bridge's
 * flows. */

#ifndef DESIRED_FLOWS_H
#define DESIRED_FLOWS_H 1

#include <stdbool.h>
#include <stddef.h>
#include "openvswitch/hmap.h"

struct host_view;

struct desired_flows {
    struct hmap flows;          /* Of struct ofctrl_flow: what the bridge is
                                 * to have, for ofctrl_run(). */
    struct hmap shadowed;       /* Of struct ofctrl_flow: flows whose key a
                                 * flow of a lower cookie has in 'flows'. */
    struct hmap items;          /* Of struct desired_item, by key. */

    /* Of the last update: items whose flows were built, and items in
     * all. */
    size_t n_built;
    size_t n_items;
};

void desired_flows_init(struct desired_flows *);
void desired_flows_destroy(struct desired_flows *);
void desired_flows_clear(struct desired_flows *);
bool desired_flows_update(struct desired_flows *, const struct host_view *);

#endif /* desired-flows.h */
