/* SPDX-License-Identifier: Apache-2.0 */
/* Whether a daemon has its SLB database; see db-watch.h. */

#include <config.h>
#include "db-watch.h"

#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "timeval.h"

VLOG_DEFINE_THIS_MODULE(db_watch);

/* Notes whether 'idl', connected to 'remote', has its database, and logs
 * a loss, with 'meanwhile' (what the daemon does until it is back), and a
 * return. */
void
db_watch_run(struct db_watch *w, struct ovsdb_idl *idl, const char *remote,
             const char *meanwhile)
{
    if (!ovsdb_idl_is_connected(idl)) {
        if (!w->lost) {
            w->lost = time_msec();
            if (w->had) {
                VLOG_WARN("lost the SLB database %s; %s", remote, meanwhile);
            }
        }
    } else {
        if (w->lost && w->had) {
            VLOG_INFO("the SLB database is back after %lld ms",
                      time_msec() - w->lost);
        }
        w->lost = 0;
        w->had = true;
    }
}

/* Returns how long ago the daemon lost its database, in milliseconds, or
 * -1 if it has it (or never had it). */
long long int
db_watch_lost_msec(const struct db_watch *w)
{
    return w->lost && w->had ? time_msec() - w->lost : -1;
}
