/* What the rows of the SLB database mean, in one place for slb-ctl, the
 * agent and the mux.
 *
 * slb-ctl refuses what these functions reject, but any OVSDB client can
 * write around it, so the agent and the mux apply the same rules to what
 * they read and name what they leave out. */

#ifndef SLB_LB_H
#define SLB_LB_H 1

struct slbrec_backend;
struct slbrec_backend_pool;
struct slbrec_vm;

const struct slbrec_vm *slb_pool_backend_vm(
    const struct slbrec_backend_pool *, const struct slbrec_backend *,
    char **problem);

#endif /* lb.h */
