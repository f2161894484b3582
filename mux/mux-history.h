/* SPDX-License-Identifier: Apache-2.0 */
/* The past tables of a mux's rules, kept across its restarts.
 *
 * A mux sends a TCP segment of a connection that it does not know to each
 * backend that the rule's tables, now and before its last changes, may
 * have given the connection (see mux_config_inherit()).  Those past tables
 * live in the mux's configurations; so that a mux that starts again (after
 * a crash, or an upgrade) still knows them, and the tables in force when
 * it ended (a change may come while it is away), it writes both into a
 * file soon after each change, and reads them back before its first
 * configuration takes effect.
 *
 * The file is JSON: each distinct table once, as its size, seed and
 * backends (each backend's "CA/VNI" name, Maglev key and weight, in the
 * table's order, from which the table is built again exactly), and each
 * load-balancing rule (name, VNI, VIP, protocol, port, idle timeout) with
 * its table for new flows and its past tables by index, each past table
 * with the wall-clock time until which it counts. */

#ifndef MUX_HISTORY_H
#define MUX_HISTORY_H 1

#include "mux-dp.h"

struct json;
struct mux_id_map;

char *mux_history_save(const char *file_name, const struct mux_config *,
                       const struct mux_id_map *backends,
                       long long int now, long long int wall_now)
    OVS_WARN_UNUSED_RESULT;
char *mux_history_load(const char *file_name,
                       const struct mux_id_map *backends,
                       long long int now, long long int wall_now,
                       struct mux_config **)
    OVS_WARN_UNUSED_RESULT;
char *mux_history_parse(const struct json *, const char *file_name,
                        const struct mux_id_map *backends,
                        long long int now, long long int wall_now,
                        struct mux_config **)
    OVS_WARN_UNUSED_RESULT;

#endif /* mux-history.h */
