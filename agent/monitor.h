/* SPDX-License-Identifier: Apache-2.0 */
/* What one host's agent reads of the SLB database.
 *
 * An agent needs only the rows that lead to its own VMs: its VMs and the
 * other VMs of their virtual networks, the pools that have its VMs as
 * backends, the rules, frontends and probes of those pools, the inbound
 * NAT rules and SNAT allocations of its VMs, the ACLs and meters of its
 * ports, and the small tables that every host needs (hosts, muxes, virtual
 * networks, the global row).  monitor_update() turns what the agent has so
 * far into OVSDB monitor conditions, as ovn-controller does, so that a
 * change to another host's backends never reaches this one.
 *
 * Most of those rows name the hosts that read them (see lib/hosts.h), and
 * the agent asks for the rows that name its host: one clause per table,
 * which stays the same as load balancers come and go, so that a backend
 * added to a pool comes in the same update as the pool, its rules and
 * their frontends.  The VMs come by host and network; the pools, inbound
 * NAT rules and SNAT allocations by VM.
 *
 * A row written by another client than slb-ctl may not name its readers.
 * The agent then follows the references that lead to it (a pool to its
 * rules, a rule to its frontend, an allocation to its outbound rule), so
 * the replica fills in a few rounds: after each, the conditions grow, the
 * server sends the rows they add, and so on until the conditions stop
 * changing.  Only then is the replica all that the host needs:
 * monitor_is_complete() says so, and until it does the agent neither
 * reports a configuration as applied nor deletes health rows that look
 * stale.
 *
 * Outbound rules are then asked for by UUID, which the server finds in an
 * index: an allocation names its outbound rule.  Only an allocation that
 * names none, or a wrong one, makes the agent ask for its holder by
 * "includes", which the server tests against every row of the table. */

#ifndef AGENT_MONITOR_H
#define AGENT_MONITOR_H 1

#include <stdbool.h>
#include <stddef.h>

struct clauses;
struct ovsdb_idl;
struct slbrec_host;
struct sset;

struct monitor {
    unsigned int expected;      /* Condition change number at which the
                                 * server applies the latest conditions. */
    size_t n_clauses;           /* Clauses in those conditions... */
    size_t n_searches;          /* ..."includes" clauses among them... */
    size_t n_by_reference;      /* ...and clauses for rows that do not name
                                 * this host (see lib/hosts.h). */
    unsigned int n_rounds;      /* Times the conditions changed. */

    /* The clauses last handed to the IDL, table by table (null before
     * the first time). */
    struct clauses *last;

    /* While 'held', the conditions stay as they are, as if the server were
     * slow to apply new ones ("slb-agent/hold-conditions", for tests);
     * 'stale' says that the rows call for others meanwhile. */
    bool held;
    bool stale;
};

void monitor_destroy(struct monitor *);
void monitor_update(struct monitor *, struct ovsdb_idl *,
                    const char *host_name, const struct slbrec_host *self,
                    const struct sset *iface_ids);
bool monitor_is_complete(const struct monitor *, struct ovsdb_idl *);

#endif /* monitor.h */
