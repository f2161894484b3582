/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus metrics over HTTP, for slb-mux and slb-agent.
 *
 * A daemon started with --metrics=[ADDR:]PORT serves GET /metrics in the
 * Prometheus text format.  The HTTP server (libevent's evhttp) runs on a
 * thread of its own.  The text is built on the daemon's main thread, and
 * only when a scrape asks for it: the HTTP thread asks and waits (up to 2
 * s, then it serves the last text); the main thread, woken in its
 * slb_metrics_run(), calls the daemon's builder and hands the text over.
 * So a scrape costs the main thread one build and nothing else, and the
 * packet threads nothing.
 *
 * Builders write with slb_metrics_family() and slb_metrics_sample(), which
 * follow the text format: a family's samples come together after its HELP
 * and TYPE lines, and label values are escaped. */

#ifndef SLB_METRICS_H
#define SLB_METRICS_H 1

#include <stdint.h>
#include "openvswitch/compiler.h"

struct ds;
struct slb_metrics;

typedef void slb_metrics_build_func(struct ds *, void *aux);

const char *slb_metrics_option(const char *spec);
char *slb_metrics_start(const char *spec, slb_metrics_build_func *,
                        void *aux, struct slb_metrics **)
    OVS_WARN_UNUSED_RESULT;
void slb_metrics_run(struct slb_metrics *);
void slb_metrics_wait(struct slb_metrics *);
const char *slb_metrics_url(const struct slb_metrics *);
void slb_metrics_destroy(struct slb_metrics *);

void slb_metrics_family(struct ds *, const char *name, const char *type,
                        const char *help);
void slb_metrics_sample(struct ds *, const char *name, double value, ...);
void slb_metrics_put(struct ds *, const char *name, const char *type,
                     const char *help, double value);

#endif /* metrics.h */
