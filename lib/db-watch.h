/* SPDX-License-Identifier: Apache-2.0 */
/* Whether a daemon has its SLB database, for the log and for "show".
 *
 * slb-agent and slb-mux keep working from what they last read while the
 * connection to the SLB database is gone.  A db_watch notes when it went
 * and says so in the log: a warning when it goes, a line when it comes
 * back. */

#ifndef DB_WATCH_H
#define DB_WATCH_H 1

#include <stdbool.h>

struct ovsdb_idl;

struct db_watch {
    long long int lost;         /* When the connection went, or since when
                                 * the daemon waits for a first one; 0
                                 * while connected. */
    bool had;                   /* Was connected once. */
};

void db_watch_run(struct db_watch *, struct ovsdb_idl *, const char *remote,
                  const char *meanwhile);
long long int db_watch_lost_msec(const struct db_watch *);

#endif /* db-watch.h */
