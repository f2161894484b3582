/* SPDX-License-Identifier: Apache-2.0 */
/* Probing backends, in a thread of its own.
 *
 * slb-agent gives the prober the set of probes to run, each a target
 * (address, port, and for HTTP a path) with an interval and a timeout; a
 * thread runs them all concurrently on one libevent loop, with
 * bufferevents, and hands back each result, which the agent collects in
 * its main loop (prober_wait() wakes it).  A TCP probe succeeds if its
 * connection is accepted; an HTTP probe if "GET path" is answered with
 * status 200; an HTTPS probe likewise, over TLS, without checking the
 * server's certificate (a backend's certificate names its service, not
 * the address that the agent reaches it at).  Probes connect from a
 * source of their target's family, so that ACLs can tell them apart. */

#ifndef PROBER_H
#define PROBER_H 1

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include "openvswitch/types.h"

struct prober;

struct prober_target {
    char *key;                  /* Names the probe, for its results. */
    struct in6_addr ip;         /* IPv4-mapped for IPv4. */
    int scope;                  /* For a link-local 'ip', the index of the
                                 * interface to reach it through. */
    uint16_t port;
    char *path;                 /* For HTTP(S), the path to GET; else NULL. */
    bool tls;                   /* HTTPS. */
    int interval_ms;
    int timeout_ms;
};

struct prober_result {
    char *key;                  /* Of the target. */
    bool ok;
    char reason[32];            /* "connected", "refused", "timeout",
                                 * "http 503", ... */
};

struct prober *prober_create(ovs_be32 source4,
                             const struct in6_addr *source6);
void prober_destroy(struct prober *);
void prober_set_targets(struct prober *, const struct prober_target *,
                        size_t n);
struct prober_result *prober_take_results(struct prober *, size_t *n);
void prober_results_destroy(struct prober_result *, size_t n);
void prober_wait(struct prober *);

#endif /* prober.h */
