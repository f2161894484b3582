/* SPDX-License-Identifier: Apache-2.0 */
/* The idle timeouts of the local VMs' connections in the switch's
 * connection tracking.
 *
 * Each local VM's connections live in a conntrack zone of its own, whose
 * number is its OpenFlow port (pipeline.h).  Open vSwitch forgets an idle
 * connection after the timeout policy of its zone, which the local
 * database gives (the Open_vSwitch row's datapaths, each Datapath's
 * ct_zones, their CT_Timeout_Policy), or else after its own defaults (a
 * day for an established TCP connection, half a minute for UDP).  The
 * agent gives each zone whose VM some rule reaches the timeouts of
 * host_view_zone_timeouts(): a TCP connection's "established" timeout,
 * and UDP's.
 *
 * The agent marks the CT_Zone rows that it creates
 * (external_ids:slb-agent=true) and changes or removes only those: a zone
 * that another client set up keeps its policy. */

#ifndef CT_ZONES_H
#define CT_ZONES_H 1

#include <stdbool.h>
#include <stddef.h>

struct host_zone_timeouts;
struct ovsdb_idl;
struct ovsdb_idl_txn;
struct ovsrec_bridge;

void ct_zones_add_columns(struct ovsdb_idl *);
bool ct_zones_update(struct ovsdb_idl *, const struct ovsrec_bridge *,
                     const struct host_zone_timeouts *, size_t n_zones,
                     struct ovsdb_idl_txn *);

#endif /* ct-zones.h */
