/* What the rows of the SLB database mean: see lb.h. */

#include <config.h>

#include "lb.h"

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
