/* SPDX-License-Identifier: Apache-2.0 */
/* Which hosts read which rows: the "hosts" columns of the SLB database.
 *
 * An agent reads the rows of the load balancers that have a backend on its
 * host.  Found through references, from its VMs to their pools,
 * rules and frontends, such rows would come in rounds, one table after
 * another, each round a new condition of thousands of clauses that the
 * server evaluates on every row of the table.  So each of these rows names
 * the hosts that read it, and an agent asks for the rows that name its
 * host: one clause per table, the same however many load balancers there
 * are.
 *
 * The writer keeps the names up to date: slb_hosts_update() works them out
 * from the rows themselves.  A row written by another client may lack
 * them; agents then find it, more slowly, through references (see
 * agent/monitor.c). */

#ifndef SLB_HOSTS_H
#define SLB_HOSTS_H 1

#include <stdbool.h>
#include <stddef.h>

struct ovsdb_idl;
struct ovsdb_idl_column;

/* The "hosts" columns, one per table that has one. */
#define SLB_N_HOSTS_COLUMNS 7
extern const struct ovsdb_idl_column *const
    slb_hosts_columns[SLB_N_HOSTS_COLUMNS];

size_t slb_hosts_update(struct ovsdb_idl *);
bool slb_hosts_follow(const struct ovsdb_idl_column *);

struct slbrec_inbound_nat_rule;
struct slbrec_lb_rule;
struct slbrec_outbound_rule;
struct slbrec_snat_allocation;
char *slb_hosts_rule_problem(const struct slbrec_lb_rule *);
char *slb_hosts_nat_problem(const struct slbrec_inbound_nat_rule *);
char *slb_hosts_allocation_problem(const struct slbrec_snat_allocation *,
                                   const struct slbrec_outbound_rule *);
bool slb_hosts_include(char **hosts, size_t n, const char *host);

#endif /* hosts.h */
