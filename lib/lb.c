/* SPDX-License-Identifier: Apache-2.0 */
/* What the rows of the SLB database mean: see lb.h. */

#include <config.h>

#include "lb.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "hash.h"
#include "lib/slb-idl.h"
#include "packets.h"
#include "slb-parse.h"
#include "snat.h"
#include "util.h"
#include "uuid.h"

/* Returns 'vm', a member of 'pool', or NULL if it cannot take the pool's
 * traffic.
 *
 * A VM without a virtual network takes none.  A pool belongs to one
 * virtual network, and its backends must be in it: a VM of another network
 * would get one tenant's traffic (and, for SNAT, send its own from the
 * other tenant's VIP).  slb-ctl refuses to put such a VM in a pool; for one
 * written by another client, this stores in '*problem' a one-line message
 * naming it, which the caller frees, and returns NULL.  Otherwise
 * '*problem' is NULL. */
const struct slbrec_vm *
slb_pool_backend_vm(const struct slbrec_backend_pool *pool,
                    const struct slbrec_vm *vm, char **problem)
{
    *problem = NULL;
    if (!vm || !vm->vnet) {
        return NULL;
    }
    if (pool->vnet && pool->vnet != vm->vnet) {
        *problem = xasprintf("pool %s: backend %s of virtual network %s is "
                             "left out: the pool is in virtual network %s",
                             pool->name, vm->ca, vm->vnet->name,
                             pool->vnet->name);
        return NULL;
    }
    return vm;
}

/* Returns the index of 'vm' among the 'n' 'keys' of a pool's map column,
 * or -1.  The IDL keeps a map's keys in the order of their
 * datum, sorted by UUID, so this is a binary search. */
static int
find_member_key(struct slbrec_vm *const *keys, size_t n,
                const struct slbrec_vm *vm)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = uuid_compare_3way(&keys[mid]->header_.uuid,
                                    &vm->header_.uuid);
        if (!cmp) {
            return mid;
        } else if (cmp < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

void
slb_vms_init(struct slb_vms *vms)
{
    hmap_init(&vms->map);
}

void
slb_vms_destroy(struct slb_vms *vms)
{
    struct slb_vm *vm;
    HMAP_FOR_EACH_POP (vm, node, &vms->map) {
        free(vm);
    }
    hmap_destroy(&vms->map);
}

static uint32_t
vm_hash(const struct in6_addr *ca, int64_t vni)
{
    return hash_words(ca->s6_addr32, 4, vni);
}

static struct slb_vm *
vms_find(const struct slb_vms *vms, const struct in6_addr *ca, int64_t vni)
{
    struct slb_vm *vm;
    HMAP_FOR_EACH_WITH_HASH (vm, node, vm_hash(ca, vni), &vms->map) {
        if (ipv6_addr_equals(&vm->ca, ca) && vm->vni == vni) {
            return vm;
        }
    }
    return NULL;
}

/* Returns the VM with CA 'ca' in the virtual network of VNI 'vni', or
 * NULL if no row added to 'vms' names it. */
const struct slb_vm *
slb_vms_find(const struct slb_vms *vms, const struct in6_addr *ca,
             int64_t vni)
{
    return vms_find(vms, ca, vni);
}

static bool
is_lower(const struct slbrec_vm *a, const struct slbrec_vm *b)
{
    return !b || uuid_compare_3way(&a->header_.uuid, &b->header_.uuid) < 0;
}

/* Adds VM row 'row' to 'vms'.  Returns false, adding nothing, if it names
 * no VM: it has no virtual network, or its CA is not an IPv4 or IPv6
 * address. */
bool
slb_vms_add(struct slb_vms *vms, const struct slbrec_vm *row)
{
    struct in6_addr ca;
    if (!row->vnet || !slb_addr_from_string(row->ca, &ca)) {
        return false;
    }
    int64_t vni = row->vnet->vni;
    struct slb_vm *vm = vms_find(vms, &ca, vni);
    if (!vm) {
        vm = xzalloc(sizeof *vm);
        vm->ca = ca;
        vm->vni = vni;
        hmap_insert(&vms->map, &vm->node, vm_hash(&ca, vni));
    }
    if (is_lower(row, vm->row)) {
        vm->row = row;
    }
    struct eth_addr mac;
    if (row->mac && eth_addr_from_string(row->mac, &mac)
        && !eth_addr_is_zero(mac) && is_lower(row, vm->mac_row)) {
        vm->mac_row = row;
        vm->mac = mac;
    }
    return true;
}

/* Returns the IP protocol that a rule, an ACL or a probe names: IPPROTO_TCP,
 * IPPROTO_UDP or IPPROTO_ICMP, or 0 for "all", for none ('name' NULL), and
 * for any name that the schema does not allow. */
uint8_t
slb_protocol(const char *name)
{
    return (!name ? 0
            : !strcmp(name, "tcp") ? IPPROTO_TCP
            : !strcmp(name, "udp") ? IPPROTO_UDP
            : !strcmp(name, "icmp") ? IPPROTO_ICMP
            : 0);
}

/* Returns what is wrong with a load-balancing rule for 'protocol' with
 * ports 'frontend_port' and 'backend_port', or NULL if nothing is.  Port 0
 * means every port, and only an HA-ports rule, for protocol "all", has it
 * (both ports 0); a rule for "all" with ports would match no packet. */
const char *
slb_rule_ports_problem(const char *protocol, int64_t frontend_port,
                       int64_t backend_port)
{
    bool all = slb_protocol(protocol) == 0;
    if (!all && (!frontend_port || !backend_port)) {
        return "port 0 is only valid with protocol all (HA ports)";
    } else if (all && (frontend_port || backend_port)) {
        return ("protocol all is for HA ports and needs frontend and "
                "backend port 0");
    }
    return NULL;
}

/* Returns the claim of a load-balancing or inbound NAT rule for
 * 'protocol' ("tcp", "udp" or "all") and frontend 'port' (0: every port, an
 * HA-ports rule). */
struct slb_claim
slb_rule_claim(const char *protocol, int64_t port)
{
    uint8_t proto = slb_protocol(protocol);
    bool one_port = port > 0 && port <= UINT16_MAX;
    struct slb_claim c = {
        .tcp = proto != IPPROTO_UDP,
        .udp = proto != IPPROTO_TCP,
        .port_min = one_port ? port : 0,
        .port_max = one_port ? port : UINT16_MAX,
    };
    return c;
}

/* Returns the claim of an outbound rule for 'protocol' on each of its
 * frontends: every port that SNAT may give out. */
struct slb_claim
slb_snat_claim(const char *protocol)
{
    struct slb_claim c = slb_rule_claim(protocol, 0);
    c.port_min = SNAT_PORT_MIN;
    c.port_max = SNAT_PORT_MIN + SNAT_PORTS - 1;
    c.snat = true;
    return c;
}

static bool
claims_overlap(const struct slb_claim *a, const struct slb_claim *b)
{
    return (((a->tcp && b->tcp) || (a->udp && b->udp))
            && a->port_min <= b->port_max && b->port_min <= a->port_max);
}

/* Returns true if 'rule', a rule's claim, takes ports of 'snat', an
 * outbound rule's, that its backends' ranges must leave out: one port, or
 * an inbound NAT pool's range.  (A rule for every port, HA ports, leaves
 * SNAT none.) */
bool
slb_claim_blocks_snat(const struct slb_claim *rule,
                      const struct slb_claim *snat)
{
    return (snat->snat && !rule->snat
            && (rule->port_min || rule->port_max != UINT16_MAX)
            && claims_overlap(rule, snat));
}

/* Returns true if claims 'a' and 'b', on the same VIP, cannot both be
 * obeyed. */
bool
slb_claims_conflict(const struct slb_claim *a, const struct slb_claim *b)
{
    return (claims_overlap(a, b)
            && !slb_claim_blocks_snat(a, b) && !slb_claim_blocks_snat(b, a));
}

/* Returns true if 'fe' is internal: its VIP is an address of its virtual
 * network, which only that network's VMs reach, through a mux. */
bool
slb_frontend_is_internal(const struct slbrec_frontend *fe)
{
    return fe->type && !strcmp(fe->type, "internal");
}

/* Returns why the rules from frontend 'fe' to 'pool' cannot be used, or
 * NULL if they can: an internal VIP means something only in its own
 * network, which must be the pool's. */
const char *
slb_frontend_problem(const struct slbrec_frontend *fe,
                     const struct slbrec_backend_pool *pool)
{
    return (!slb_frontend_is_internal(fe) ? NULL
            : !fe->vnet ? "an internal frontend without a virtual network"
            : pool && pool->vnet != fe->vnet
            ? "an internal frontend of another virtual network than its pool"
            : NULL);
}

/* The same as slb_frontend_problem(), for an inbound NAT rule from 'fe' to
 * backend 'vm', whose network must be the internal VIP's. */
const char *
slb_nat_frontend_problem(const struct slbrec_frontend *fe,
                         const struct slbrec_vm *vm)
{
    return (!slb_frontend_is_internal(fe) ? NULL
            : !fe->vnet ? "an internal frontend without a virtual network"
            : vm && vm->vnet != fe->vnet
            ? "an internal frontend of another virtual network than its "
              "backend"
            : NULL);
}

/* Returns the weight of backend 'vm' in 'pool': 1 unless the pool's
 * "weights" say otherwise. */
int64_t
slb_backend_weight(const struct slbrec_backend_pool *pool,
                   const struct slbrec_vm *vm)
{
    int i = find_member_key(pool->key_weights, pool->n_weights, vm);
    return i >= 0 ? pool->value_weights[i] : 1;
}

/* Returns the admin state of backend 'vm' in 'pool'. */
enum slb_admin_state
slb_backend_admin_state(const struct slbrec_backend_pool *pool,
                        const struct slbrec_vm *vm)
{
    int i = find_member_key(pool->key_admin_states, pool->n_admin_states,
                            vm);
    const char *s = i >= 0 ? pool->value_admin_states[i] : NULL;
    return (!s ? SLB_ADMIN_NONE
            : !strcmp(s, "up") ? SLB_ADMIN_UP
            : !strcmp(s, "down") ? SLB_ADMIN_DOWN
            : SLB_ADMIN_NONE);
}

/* Returns the name of 'state', as slb-ctl takes and shows it. */
const char *
slb_admin_state_name(enum slb_admin_state state)
{
    return (state == SLB_ADMIN_UP ? "up"
            : state == SLB_ADMIN_DOWN ? "down"
            : "none");
}

/* Returns true if 'binding' is reported by the agent of its VM's host. */
bool
slb_binding_counts(const struct slbrec_vm_binding *binding)
{
    const struct slbrec_vm *vm = binding->vm;
    return vm && vm->host && !strcmp(binding->host_name, vm->host->name);
}

/* Returns true if 'health' is reported by the agent of its backend's
 * host. */
bool
slb_health_counts(const struct slbrec_backend_health *health)
{
    const struct slbrec_vm *vm = health->vm;
    return (vm && health->probe && vm->host
            && !strcmp(health->host_name, vm->host->name));
}

/* Returns the state of backend 'vm' of 'pool' for a rule, given whether
 * 'vm' is 'bound' and whether the rule's probe found it down.  An admin
 * state of up overrides the probe, not the binding: an unbound VM cannot
 * answer. */
enum slb_backend_state
slb_backend_state(const struct slbrec_backend_pool *pool,
                  const struct slbrec_vm *vm, bool bound, bool probed_down)
{
    enum slb_admin_state admin = slb_backend_admin_state(pool, vm);
    return (admin == SLB_ADMIN_DOWN ? SLB_BACKEND_ADMIN_DOWN
            : !bound ? SLB_BACKEND_UNBOUND
            : probed_down && admin != SLB_ADMIN_UP ? SLB_BACKEND_PROBED_DOWN
            : SLB_BACKEND_UP);
}

/* Returns the name of 'state', as slb-ctl and the mux show it. */
const char *
slb_backend_state_name(enum slb_backend_state state)
{
    switch (state) {
    case SLB_BACKEND_UP: return "up";
    case SLB_BACKEND_ADMIN_DOWN: return "admin down";
    case SLB_BACKEND_UNBOUND: return "unbound";
    case SLB_BACKEND_PROBED_DOWN: return "probed down";
    }
    OVS_NOT_REACHED();
}

/* Returns true if 'rule' treats its backends that are only probed down as
 * up while no backend is up (Azure's "all probed up"); false if it then
 * takes no new flows and its VIP may be withdrawn (the default). */
bool
slb_rule_fails_open(const struct slbrec_lb_rule *rule)
{
    return (rule->no_healthy_backends
            && !strcmp(rule->no_healthy_backends, "all-probed-up"));
}

/* Returns the idle timeout, in seconds, that optional column value
 * 'idle_timeout' (of 'n' elements, 0 or 1) of a rule's row gives:
 * SLB_IDLE_TIMEOUT_DEFAULT if it is empty. */
int64_t
slb_idle_timeout(const int64_t *idle_timeout, size_t n)
{
    return n ? idle_timeout[0] : SLB_IDLE_TIMEOUT_DEFAULT;
}

/* Returns how long, in seconds, a flow of 'rule' may stay idle before the
 * muxes forget its backend and its host its connection. */
int64_t
slb_rule_idle_timeout(const struct slbrec_lb_rule *rule)
{
    return slb_idle_timeout(rule->idle_timeout, rule->n_idle_timeout);
}

/* Fills in 's' with the settings of 'probe'. */
void
slb_probe_settings(const struct slbrec_probe *probe,
                   struct slb_probe_settings *s)
{
    s->interval = probe->n_interval ? probe->interval[0] : 5;
    s->timeout = probe->n_timeout ? probe->timeout[0] : s->interval;
    s->up_threshold = probe->n_up_threshold ? probe->up_threshold[0] : 2;
    s->down_threshold = (probe->n_down_threshold
                         ? probe->down_threshold[0] : 2);
}
