/* SPDX-License-Identifier: Apache-2.0 */
/* What the rows of the SLB database mean, in one place for slb-ctl, the
 * agent and the mux.
 *
 * slb-ctl refuses what these functions reject, but any OVSDB client can
 * write around it, so the agent and the mux apply the same rules to what
 * they read and name what they leave out. */

#ifndef SLB_LB_H
#define SLB_LB_H 1

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "openvswitch/hmap.h"
#include "openvswitch/types.h"

struct ovsdb_idl;
struct slbrec_backend_health;
struct slbrec_backend_pool;
struct slbrec_lb_rule;
struct slbrec_probe;
struct slbrec_vm;
struct slbrec_vm_binding;

/* A pool's backends are its "members", VMs; what the operator says of
 * each (its weight, its admin state) is in the pool's maps, keyed by the
 * VM, which hold only what differs from the default. */
const struct slbrec_vm *slb_pool_backend_vm(
    const struct slbrec_backend_pool *, const struct slbrec_vm *,
    char **problem);

/* The VMs that some rows of the VM table name.  A VM is its CA in its
 * virtual network.  slb-ctl writes one row per VM; another client may
 * write several, and then the lowest row (by UUID) names the VM and the
 * lowest with a MAC gives its MAC, so that every agent and mux agrees,
 * whatever order it reads the rows in. */
struct slb_vm {
    struct hmap_node node;      /* In 'map' of struct slb_vms. */
    struct in6_addr ca;         /* IPv4-mapped for an IPv4 CA. */
    int64_t vni;
    const struct slbrec_vm *row;     /* The lowest row. */
    const struct slbrec_vm *mac_row; /* The lowest row with a MAC, or NULL. */
    struct eth_addr mac;             /* Its MAC, or eth_addr_zero. */
};

struct slb_vms {
    struct hmap map;            /* Contains "struct slb_vm"s. */
};

void slb_vms_init(struct slb_vms *);
void slb_vms_destroy(struct slb_vms *);
bool slb_vms_add(struct slb_vms *, const struct slbrec_vm *);
const struct slb_vm *slb_vms_find(const struct slb_vms *,
                                  const struct in6_addr *ca, int64_t vni);
#define SLB_VMS_FOR_EACH(VM, VMS) HMAP_FOR_EACH (VM, node, &(VMS)->map)

/* What a frontend's VIP is an address of. */
struct slbrec_frontend;
bool slb_frontend_is_internal(const struct slbrec_frontend *);
const char *slb_frontend_problem(const struct slbrec_frontend *,
                                 const struct slbrec_backend_pool *);
const char *slb_nat_frontend_problem(const struct slbrec_frontend *,
                                     const struct slbrec_vm *);

uint8_t slb_protocol(const char *name);
const char *slb_rule_ports_problem(const char *protocol, int64_t frontend_port,
                                   int64_t backend_port);
int64_t slb_backend_weight(const struct slbrec_backend_pool *,
                           const struct slbrec_vm *);

/* What a rule takes of its frontend's VIP: packets of these protocols to
 * these ports are the rule's.  A mux gives each packet to one rule, so two
 * claims on one VIP must not conflict, and slb-ctl refuses a rule whose
 * claim would.  The SNAT ports of an outbound rule make way for rules of
 * one port: the ranges that its backends get leave out every port that
 * such a rule claims (snat_allocate()'s 'blocked'), so that load-balancing
 * and inbound NAT rules share a VIP with its outbound rule, as in Azure.
 * Only an HA-ports rule, which takes every port, or a second outbound rule
 * for the same protocol, conflicts with an outbound rule. */
struct slb_claim {
    bool tcp, udp;
    uint16_t port_min, port_max;
    bool snat;                  /* An outbound rule's SNAT ports. */
};

struct slb_claim slb_rule_claim(const char *protocol, int64_t port);
struct slb_claim slb_snat_claim(const char *protocol);
bool slb_claims_conflict(const struct slb_claim *, const struct slb_claim *);
bool slb_claim_blocks_snat(const struct slb_claim *rule,
                           const struct slb_claim *snat);

/* What the operator says of a backend, above its probes (Backend_Pool
 * admin_states). */
enum slb_admin_state {
    SLB_ADMIN_NONE,             /* Its probes decide. */
    SLB_ADMIN_UP,               /* New flows, whatever its probes say. */
    SLB_ADMIN_DOWN,             /* No new flows; established TCP stays, UDP
                                 * flows move. */
};
enum slb_admin_state slb_backend_admin_state(
    const struct slbrec_backend_pool *, const struct slbrec_vm *);
const char *slb_admin_state_name(enum slb_admin_state);

/* Only the agent of a VM's own host speaks for its backends: a binding or a
 * health verdict that another host reports (the one that the VM moved
 * from, say) is stale and counts for nothing. */
bool slb_binding_counts(const struct slbrec_vm_binding *);
bool slb_health_counts(const struct slbrec_backend_health *);

/* Whether a backend takes new flows of a rule, and if not, why. */
enum slb_backend_state {
    SLB_BACKEND_UP,             /* It does: bound, and not probed down. */
    SLB_BACKEND_ADMIN_DOWN,     /* Its admin state is down. */
    SLB_BACKEND_UNBOUND,        /* No agent of its host has bound its VM. */
    SLB_BACKEND_PROBED_DOWN,    /* Its host's probe of it failed. */
};
enum slb_backend_state slb_backend_state(const struct slbrec_backend_pool *,
                                         const struct slbrec_vm *,
                                         bool bound, bool probed_down);
const char *slb_backend_state_name(enum slb_backend_state);

/* What a rule does when none of its backends is up but some are only
 * probed down (LB_Rule no_healthy_backends). */
bool slb_rule_fails_open(const struct slbrec_lb_rule *);

/* How long, in seconds, a flow of a rule may stay idle: what a
 * load-balancing or inbound NAT rule may say (Azure's 4 to 100 minutes),
 * what an outbound rule may say (4 to 120), and what a rule that says
 * nothing gets.  The schema holds the same bounds. */
#define SLB_IDLE_TIMEOUT_MIN 240
#define SLB_IDLE_TIMEOUT_MAX 6000
#define SLB_OUTBOUND_IDLE_TIMEOUT_MAX 7200
#define SLB_IDLE_TIMEOUT_DEFAULT 240
int64_t slb_idle_timeout(const int64_t *idle_timeout, size_t n);
int64_t slb_rule_idle_timeout(const struct slbrec_lb_rule *);

/* What a probe does, the defaults filled in. */
struct slb_probe_settings {
    int64_t interval;           /* Seconds from one probe to the next: 5. */
    int64_t timeout;            /* Seconds to wait for an answer: the
                                 * interval. */
    int64_t up_threshold;       /* Successes in a row that mark a backend
                                 * up: 2. */
    int64_t down_threshold;     /* Failures in a row that mark it down: 2. */
};

void slb_probe_settings(const struct slbrec_probe *,
                        struct slb_probe_settings *);

#endif /* lb.h */
