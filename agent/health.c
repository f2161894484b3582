/* SPDX-License-Identifier: Apache-2.0 */
/* The health of a backend from its probe results; see health.h. */

#include <config.h>
#include "health.h"

#include <string.h>

#include "util.h"

/* Starts 'h' with verdict 'up' (the database's, or up for a backend that
 * has none) and 'reason'. */
void
health_init(struct health_state *h, bool up, const char *reason)
{
    memset(h, 0, sizeof *h);
    h->up = up;
    ovs_strzcpy(h->reason, reason ? reason : "", sizeof h->reason);
}

/* Returns how many successes in a row bring 'h' up at time 'now': the
 * probe's 'up_threshold' times the number of times it went down in the
 * last HEALTH_FLAP_WINDOW (at least once). */
int
health_up_needed(const struct health_state *h, int up_threshold,
                 long long int now)
{
    int flaps = 0;
    for (int i = 0; i < HEALTH_MAX_FLAPS; i++) {
        if (h->downs[i] && now - h->downs[i] < HEALTH_FLAP_WINDOW) {
            flaps++;
        }
    }
    return up_threshold * MAX(1, flaps);
}

/* Feeds the result of one probe into 'h': 'ok' and its 'reason'
 * ("connected", "refused", "timeout", "http 503", ...), at time 'now' (in
 * milliseconds).  Returns true if the verdict changed. */
bool
health_update(struct health_state *h, bool ok, const char *reason,
              int up_threshold, int down_threshold, long long int now)
{
    ovs_strzcpy(h->reason, reason, sizeof h->reason);
    if (ok) {
        h->successes++;
        h->failures = 0;
        if (!h->up && h->successes >= health_up_needed(h, up_threshold,
                                                       now)) {
            h->up = true;
            return true;
        }
    } else {
        h->failures++;
        h->successes = 0;
        if (h->up && h->failures >= down_threshold) {
            h->up = false;
            memmove(&h->downs[1], &h->downs[0],
                    (HEALTH_MAX_FLAPS - 1) * sizeof h->downs[0]);
            h->downs[0] = now;
            return true;
        }
    }
    return false;
}
