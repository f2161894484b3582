/* What the rows of the SLB database mean: see lb.h. */

#include <config.h>

#include "lb.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "lib/slb-idl.h"
#include "util.h"

/* Returns the VM of 'backend', a member of 'pool', or NULL if it cannot
 * take the pool's traffic.
 *
 * A backend without a VM, or whose VM has no virtual network, takes none.
 * A pool belongs to one virtual network, and its backends' VMs must be in
 * it: a VM of another network would get one tenant's traffic (and, for
 * SNAT, send its own from the other tenant's VIP).  slb-ctl refuses to put
 * such a backend in a pool; for one written by another client, this stores
 * in '*problem' a one-line message naming it, which the caller frees, and
 * returns NULL.  Otherwise '*problem' is NULL. */
const struct slbrec_vm *
slb_pool_backend_vm(const struct slbrec_backend_pool *pool,
                    const struct slbrec_backend *backend, char **problem)
{
    const struct slbrec_vm *vm = backend->vm;

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

/* Returns the weight of 'backend': 1 unless its row says otherwise. */
int64_t
slb_backend_weight(const struct slbrec_backend *backend)
{
    return backend->n_weight ? backend->weight[0] : 1;
}

/* Returns how long, in seconds, a flow of 'rule' may stay idle before the
 * muxes forget its backend: SLB_IDLE_TIMEOUT_DEFAULT unless its row says
 * otherwise. */
int64_t
slb_rule_idle_timeout(const struct slbrec_lb_rule *rule)
{
    return rule->n_idle_timeout ? rule->idle_timeout[0]
                                : SLB_IDLE_TIMEOUT_DEFAULT;
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
