/* SPDX-License-Identifier: Apache-2.0 */
/* The health of one backend under one probe, from its probe results.
 *
 * slb-agent feeds every result of a probe into the health_state of its
 * (backend, probe); the state says when the backend's verdict changes,
 * which is all that the agent writes into the SLB database.  A backend
 * goes down after 'down_threshold' failures in a row and up again after
 * 'up_threshold' successes in a row, times the number of times it went
 * down in the last HEALTH_FLAP_WINDOW milliseconds (at most
 * HEALTH_MAX_FLAPS): a backend that flaps waits longer before it is
 * trusted again.  Nothing here does I/O; it is tested on its own. */

#ifndef HEALTH_H
#define HEALTH_H 1

#include <stdbool.h>

#define HEALTH_FLAP_WINDOW (5 * 60 * 1000)
#define HEALTH_MAX_FLAPS 4
#define HEALTH_REASON_LEN 32

struct health_state {
    bool up;                    /* The verdict; backends start up. */
    int successes;              /* Successes in a row. */
    int failures;               /* Failures in a row. */
    long long int downs[HEALTH_MAX_FLAPS];  /* When it last went down, most
                                             * recent first, 0 if never. */
    char reason[HEALTH_REASON_LEN];     /* Of the last result. */
};

void health_init(struct health_state *, bool up, const char *reason);
bool health_update(struct health_state *, bool ok, const char *reason,
                   int up_threshold, int down_threshold, long long int now);
int health_up_needed(const struct health_state *, int up_threshold,
                     long long int now);

#endif /* health.h */
