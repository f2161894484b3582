/* SPDX-License-Identifier: Apache-2.0 */
/* A client of GoBGP's gRPC API.
 *
 * slb-mux does not speak BGP itself: a gobgpd beside it does, and slb-mux
 * drives it through gobgpd's gRPC API (service apipb.GobgpApi), with gRPC
 * core's C API and message code that protoc-c generates at build time from
 * GoBGP's own .proto files.  Calls are synchronous with a short deadline:
 * gobgpd runs on the same node and answers in well under a millisecond.
 *
 * Every call returns NULL on success or a malloc'd error message. */

#ifndef BGP_H
#define BGP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/compiler.h"
#include "openvswitch/types.h"

struct bgp_client;
struct in6_addr;

struct bgp_peer_config {
    const char *address;        /* IPv4 address. */
    uint32_t remote_as;
    const char *password;       /* TCP MD5, or NULL. */
    uint32_t hold_time;         /* Seconds, 0 for gobgpd's default. */
    uint16_t remote_port;       /* 0 for 179. */
    bool passive;               /* Wait for the peer to connect. */
};

struct bgp_peer_state {
    char *address;
    const char *state;          /* "established", "active", ... */
    uint32_t remote_as;
};

struct bgp_client *bgp_client_create(const char *target);
void bgp_client_destroy(struct bgp_client *);
const char *bgp_client_target(const struct bgp_client *);
bool bgp_client_timed_out(const struct bgp_client *);

char *bgp_get_global(struct bgp_client *, uint32_t *asn, char **router_id,
                     int *listen_port)
    OVS_WARN_UNUSED_RESULT;
char *bgp_start(struct bgp_client *, uint32_t asn, const char *router_id,
                int listen_port, const char *listen_address)
    OVS_WARN_UNUSED_RESULT;
char *bgp_stop(struct bgp_client *) OVS_WARN_UNUSED_RESULT;
char *bgp_add_peer(struct bgp_client *, const struct bgp_peer_config *)
    OVS_WARN_UNUSED_RESULT;
char *bgp_delete_peer(struct bgp_client *, const char *address)
    OVS_WARN_UNUSED_RESULT;
char *bgp_list_peers(struct bgp_client *, struct bgp_peer_state **,
                     size_t *n)
    OVS_WARN_UNUSED_RESULT;
void bgp_peer_states_destroy(struct bgp_peer_state *, size_t n);
char *bgp_announce(struct bgp_client *, const struct in6_addr *prefix,
                   const struct in6_addr *nexthop)
    OVS_WARN_UNUSED_RESULT;
char *bgp_withdraw(struct bgp_client *, const struct in6_addr *prefix,
                   const struct in6_addr *nexthop)
    OVS_WARN_UNUSED_RESULT;

#endif /* bgp.h */
