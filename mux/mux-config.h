/* Turning the SLB database into a mux configuration.
 *
 * The control side of slb-mux reads the database through the IDL and builds
 * a complete struct mux_config from it, off the packet path.  Ids that the
 * packet path keeps across configurations (backend ids in the flow table,
 * statistics ids of rules) live in struct mux_ids, which outlives every
 * configuration. */

#ifndef MUX_CONFIG_H
#define MUX_CONFIG_H 1

#include <stdint.h>
#include "mux-dp.h"
#include "simap.h"

struct ds;
struct ovsdb_idl;
struct slbrec_mux;

struct mux_ids {
    struct simap backends;      /* "CA/VNI" to backend id. */
    struct simap stats;         /* "kind:name" to statistics id. */
};

void mux_ids_init(struct mux_ids *);
void mux_ids_destroy(struct mux_ids *);

struct mux_config *mux_config_from_idl(struct ovsdb_idl *,
                                       const struct slbrec_mux *,
                                       const struct mux_underlay *,
                                       struct mux_ids *,
                                       const struct mux_config *old,
                                       struct ds *problems);

#endif /* mux-config.h */
