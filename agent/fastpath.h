/* SPDX-License-Identifier: Apache-2.0 */
/* The host's end of internal load balancing's fastpath: redirects from the
 * muxes (lib/redirect.h).
 *
 * A mux that picked the backend of a new connection from a local VM to an
 * internal VIP tells this host, in a signed UDP datagram, which backend's
 * host and VM the connection's later packets may go to.  The agent takes
 * it only if the key of SLB_Global options:redirect-key signed it, it
 * comes from a mux's PA and is newer than the last from that mux (its
 * number, from the mux's clock, within a minute of this host's), and it
 * names a local VM of its network, an internal rule of the VIP, protocol
 * and port, and a VM of that network on the host with that PA and MAC; it
 * then adds the connection's flow (host_flows_fastpath()), which the
 * bridge removes once idle for the rule's idle timeout.  What it refuses
 * it counts by reason.  It listens only while this host's VMs have
 * internal VIPs to reach. */

#ifndef FASTPATH_H
#define FASTPATH_H 1

#include <stdint.h>

struct ds;
struct host_view;
struct ofctrl;
struct ovsdb_idl;

/* FASTPATH_REASON(ENUM, NAME): why a datagram was refused. */
#define FASTPATH_REASONS                                                \
    FASTPATH_REASON(MALFORMED, "malformed")                             \
    FASTPATH_REASON(BAD_MAC, "bad-mac")                                 \
    FASTPATH_REASON(UNKNOWN_SENDER, "unknown-sender")                   \
    FASTPATH_REASON(REPLAY, "replay")                                   \
    FASTPATH_REASON(UNKNOWN_VNI, "unknown-vni")                         \
    FASTPATH_REASON(NO_RULE, "no-rule")                                 \
    FASTPATH_REASON(NO_BACKEND, "no-backend")

enum fastpath_reason {
#define FASTPATH_REASON(ENUM, NAME) FASTPATH_##ENUM,
    FASTPATH_REASONS
#undef FASTPATH_REASON
    FASTPATH_N_REASONS
};

struct fastpath *fastpath_create(struct ovsdb_idl *);
void fastpath_destroy(struct fastpath *);
void fastpath_run(struct fastpath *, struct ovsdb_idl *,
                  const struct host_view *, struct ofctrl *);
void fastpath_wait(const struct fastpath *);
void fastpath_format(const struct fastpath *, struct ds *);
void fastpath_metrics(const struct fastpath *, struct ds *);

#endif /* fastpath.h */
