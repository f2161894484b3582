/* SPDX-License-Identifier: Apache-2.0 */
/* Data-path availability: the mux's probes of the way that a VIP's packets
 * take to each host with a backend of the VIP.
 *
 * Every interval, the prober builds for each target, a (VIP, host) pair, an
 * ICMP echo request from SLB_PATH_PROBE_SOURCE to the VIP (ICMPv6, from
 * SLB_PATH_PROBE_SOURCE6, for an IPv6 VIP), encapsulated by
 * the packet path's own code exactly as the VIP's packets are for a backend
 * on that host (outer headers, VNI, inner destination MAC); the outer UDP
 * source port changes from round to round, so that over time the probes
 * take each of the underlay's ECMP paths.  The caller sends them through
 * the mux's interface.  The host's pipeline answers (vswitch-ext/
 * pipeline.h) through the tunnel; the packet threads take the answers
 * (struct mux_path_answer, see mux-dp.h) and the caller hands them to the
 * prober, which matches each with its probe by the echo's data: the
 * prober's random nonce, the round, the time it was sent.
 *
 * A target is up once a probe of it is answered before the next round,
 * down after MUX_PATH_DOWN_AFTER probes in a row go unanswered, and of no
 * verdict before either. */

#ifndef MUX_PATH_PROBE_H
#define MUX_PATH_PROBE_H 1

#include <stdbool.h>
#include <stddef.h>

struct dp_packet;
struct ds;
struct mux_config;
struct mux_path_answer;
struct shash;
struct smap;

#define MUX_PATH_DOWN_AFTER 3

/* How many ways down mux_path_prober_states() names, at most. */
#define MUX_PATH_DOWN_LISTED 64

struct mux_path_prober *mux_path_prober_create(long long int interval_ms);
void mux_path_prober_destroy(struct mux_path_prober *);

void mux_path_prober_set_targets(struct mux_path_prober *,
                                 const struct mux_config *,
                                 const struct shash *host_names);
bool mux_path_prober_due(const struct mux_path_prober *,
                         long long int now_ms);
size_t mux_path_prober_run(struct mux_path_prober *, long long int now_ms,
                           struct dp_packet ***probes);
void mux_path_prober_wait(const struct mux_path_prober *);
void mux_path_prober_take(struct mux_path_prober *,
                          const struct mux_path_answer *, size_t n,
                          long long int now_usec);

bool mux_path_prober_changed(struct mux_path_prober *);
/* How many targets are in each state. */
struct mux_path_counts {
    size_t up, down, unknown;
};

void mux_path_prober_states(const struct mux_path_prober *,
                            struct smap *down, struct mux_path_counts *);
void mux_path_prober_format(const struct mux_path_prober *, struct ds *);
void mux_path_prober_metrics(const struct mux_path_prober *, struct ds *);

#endif /* path-probe.h */
