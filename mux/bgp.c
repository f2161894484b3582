/* SPDX-License-Identifier: Apache-2.0 */
/* A client of GoBGP's gRPC API; see bgp.h. */

#include <config.h>
#include "bgp.h"

#include <arpa/inet.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdlib.h>
#include <string.h>

#include "attribute.pb-c.h"
#include "gobgp.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "ovs-atomic.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(bgp);

/* Deadline of every call, in ms. */
#define BGP_CALL_TIMEOUT 2000

struct bgp_client {
    char *target;
    grpc_channel *channel;
    grpc_completion_queue *cq;
    bool timed_out;             /* The last call had no answer in time. */
    bool unavailable;           /* The last call found no gobgpd. */
};

/* Opens a channel of 'c' to its gobgpd, which connects lazily, on the
 * first call. */
static void
open_channel(struct bgp_client *c)
{
    /* gobgpd runs beside the mux: once it listens, the next call should
     * reach it, not wait out gRPC's reconnect back-off, which grows to 2
     * minutes (a gobgpd that slb-mux starts itself is often not listening
     * yet at the first call). */
    grpc_arg args[] = {
        { .type = GRPC_ARG_INTEGER,
          .key = CONST_CAST(char *, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS),
          .value.integer = 100 },
        { .type = GRPC_ARG_INTEGER,
          .key = CONST_CAST(char *, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS),
          .value.integer = 1000 },
    };
    grpc_channel_args channel_args = {
        .num_args = ARRAY_SIZE(args), .args = args,
    };
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    c->channel = grpc_channel_create(c->target, creds, &channel_args);
    grpc_channel_credentials_release(creds);
}

/* Creates a client of the gobgpd whose gRPC API listens at 'target'
 * ("HOST:PORT").  Connects lazily, on the first call. */
struct bgp_client *
bgp_client_create(const char *target)
{
    static bool inited;
    if (!inited) {
        grpc_init();
        inited = true;
    }

    struct bgp_client *c = xzalloc(sizeof *c);
    c->target = xstrdup(target);
    open_channel(c);
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    return c;
}

void
bgp_client_destroy(struct bgp_client *c)
{
    if (c) {
        grpc_completion_queue_shutdown(c->cq);
        grpc_completion_queue_destroy(c->cq);
        grpc_channel_destroy(c->channel);
        free(c->target);
        free(c);
    }
}

const char *
bgp_client_target(const struct bgp_client *c)
{
    return c->target;
}

static gpr_timespec
deadline(void)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                        gpr_time_from_millis(BGP_CALL_TIMEOUT,
                                             GPR_TIMESPAN));
}

/* Serializes 'msg' into a gRPC byte buffer. */
static grpc_byte_buffer *
pack(const ProtobufCMessage *msg)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = xmalloc(len + 1);
    protobuf_c_message_pack(msg, buf);
    grpc_slice slice = grpc_slice_from_copied_buffer((const char *) buf,
                                                     len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    free(buf);
    return bb;
}

/* Deserializes 'bb' as a message of type 'desc'.  Returns NULL if it does
 * not parse. */
static ProtobufCMessage *
unpack(const ProtobufCMessageDescriptor *desc, grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb)) {
        return NULL;
    }
    grpc_slice slice = grpc_byte_buffer_reader_readall(&reader);
    grpc_byte_buffer_reader_destroy(&reader);
    ProtobufCMessage *msg = protobuf_c_message_unpack(
        desc, NULL, GRPC_SLICE_LENGTH(slice), GRPC_SLICE_START_PTR(slice));
    grpc_slice_unref(slice);
    return msg;
}

/* Returns true if the last call through 'c' failed because gobgpd did not
 * answer within the deadline: it is busy or stopped, not gone. */
bool
bgp_client_timed_out(const struct bgp_client *c)
{
    return c->timed_out;
}

/* Runs one batch of 'ops' on 'call' and waits for it. */
static bool
run_batch(struct bgp_client *c, grpc_call *call, const grpc_op *ops,
          size_t n, void *tag)
{
    if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK) {
        return false;
    }
    grpc_event ev = grpc_completion_queue_pluck(c->cq, tag, deadline(),
                                                NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        /* The batch is still pending.  Cancelling the call completes it
         * at once; taking that completion keeps it from answering a later
         * call's batch of the same tag. */
        grpc_call_cancel(call, NULL);
        grpc_completion_queue_pluck(c->cq, tag,
                                    gpr_inf_future(GPR_CLOCK_REALTIME),
                                    NULL);
        return false;
    }
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

/* Calls 'method' ("/apipb.GobgpApi/NAME") with 'request'.  Calls 'each'
 * with every response message (of type 'response_desc'), then frees it.
 * Returns NULL, or an error naming the method and gRPC's status. */
static char *
call(struct bgp_client *c, const char *method,
     const ProtobufCMessage *request,
     const ProtobufCMessageDescriptor *response_desc,
     void (*each)(const ProtobufCMessage *, void *aux), void *aux)
{
    if (c->unavailable) {
        /* gobgpd was gone, and may be back (slb-mux starts it again): a
         * new channel connects at once, where the old one may wait out
         * its back-off, which in this gRPC grows past the limit it was
         * given (a restarted gobgpd was seen unreached for 10 s). */
        grpc_channel_destroy(c->channel);
        open_channel(c);
    }
    grpc_slice method_slice = grpc_slice_from_static_string(method);
    grpc_call *gc = grpc_channel_create_call(c->channel, NULL,
                                             GRPC_PROPAGATE_DEFAULTS, c->cq,
                                             method_slice, NULL, deadline(),
                                             NULL);
    grpc_metadata_array initial_md, trailing_md;
    grpc_metadata_array_init(&initial_md);
    grpc_metadata_array_init(&trailing_md);
    grpc_byte_buffer *request_bb = pack(request);
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    char *error = NULL;

    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = request_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial_md;
    bool ok = run_batch(c, gc, ops, 4, (void *) 1);

    /* Unary calls answer once; server-streaming calls any number of
     * times, then end the stream. */
    while (ok) {
        grpc_byte_buffer *response_bb = NULL;
        memset(ops, 0, sizeof ops);
        ops[0].op = GRPC_OP_RECV_MESSAGE;
        ops[0].data.recv_message.recv_message = &response_bb;
        if (!run_batch(c, gc, ops, 1, (void *) 2) || !response_bb) {
            break;
        }
        ProtobufCMessage *response = unpack(response_desc, response_bb);
        grpc_byte_buffer_destroy(response_bb);
        if (!response) {
            error = xasprintf("%s: could not parse the response", method);
            break;
        }
        if (each) {
            each(response, aux);
        }
        protobuf_c_message_free_unpacked(response, NULL);
    }

    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &trailing_md;
    ops[0].data.recv_status_on_client.status = &status;
    ops[0].data.recv_status_on_client.status_details = &details;
    if (!run_batch(c, gc, ops, 1, (void *) 3)) {
        status = GRPC_STATUS_DEADLINE_EXCEEDED;
    }
    /* A gobgpd that is stopped keeps its connection, and a call to it
     * ends in DEADLINE_EXCEEDED, or in CANCELLED when gRPC gives up on it
     * first (seen in CI with gobgpd under SIGSTOP).  One that is gone ends
     * in UNAVAILABLE. */
    c->timed_out = (status == GRPC_STATUS_DEADLINE_EXCEEDED
                    || status == GRPC_STATUS_CANCELLED);
    c->unavailable = status == GRPC_STATUS_UNAVAILABLE;
    if (!error && status != GRPC_STATUS_OK) {
        char *text = grpc_slice_to_c_string(details);
        error = xasprintf("%s at %s: gRPC status %d%s%s", method, c->target,
                          status, text[0] ? ": " : "", text);
        gpr_free(text);
    }

    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial_md);
    grpc_metadata_array_destroy(&trailing_md);
    grpc_byte_buffer_destroy(request_bb);
    grpc_call_unref(gc);
    return error;
}

#define CALL(CLIENT, NAME, REQUEST, RESPONSE_DESC, EACH, AUX)           \
    call(CLIENT, "/apipb.GobgpApi/" NAME,                               \
         (const ProtobufCMessage *) (REQUEST), RESPONSE_DESC, EACH, AUX)

/* Global settings. */

struct global_aux {
    uint32_t *asn;
    char **router_id;
    int *listen_port;
};

static void
get_global_cb(const ProtobufCMessage *msg, void *aux_)
{
    const Apipb__GetBgpResponse *r = (const Apipb__GetBgpResponse *) msg;
    struct global_aux *aux = aux_;
    if (r->global) {
        *aux->asn = r->global->asn;
        *aux->router_id = xstrdup(r->global->router_id);
        *aux->listen_port = r->global->listen_port;
    }
}

/* Reads gobgpd's global settings; '*asn' is 0 if BGP is not started. */
char *
bgp_get_global(struct bgp_client *c, uint32_t *asn, char **router_id,
               int *listen_port)
{
    Apipb__GetBgpRequest req = APIPB__GET_BGP_REQUEST__INIT;
    struct global_aux aux = { asn, router_id, listen_port };

    *asn = 0;
    *router_id = NULL;
    *listen_port = 0;
    return CALL(c, "GetBgp", &req, &apipb__get_bgp_response__descriptor,
                get_global_cb, &aux);
}

/* Starts BGP in gobgpd as 'asn' with 'router_id', listening on
 * 'listen_port' (-1: do not listen) of 'listen_address' (NULL: all). */
char *
bgp_start(struct bgp_client *c, uint32_t asn, const char *router_id,
          int listen_port, const char *listen_address)
{
    Apipb__Global global = APIPB__GLOBAL__INIT;
    global.asn = asn;
    global.router_id = CONST_CAST(char *, router_id);
    global.listen_port = listen_port;
    char *addresses[1] = { CONST_CAST(char *, listen_address) };
    if (listen_address) {
        global.n_listen_addresses = 1;
        global.listen_addresses = addresses;
    }

    Apipb__StartBgpRequest req = APIPB__START_BGP_REQUEST__INIT;
    req.global = &global;
    return CALL(c, "StartBgp", &req, &google__protobuf__empty__descriptor,
                NULL, NULL);
}

char *
bgp_stop(struct bgp_client *c)
{
    Apipb__StopBgpRequest req = APIPB__STOP_BGP_REQUEST__INIT;
    return CALL(c, "StopBgp", &req, &google__protobuf__empty__descriptor,
                NULL, NULL);
}

/* Peers. */

char *
bgp_add_peer(struct bgp_client *c, const struct bgp_peer_config *pc)
{
    Apipb__PeerConf conf = APIPB__PEER_CONF__INIT;
    conf.neighbor_address = CONST_CAST(char *, pc->address);
    conf.peer_asn = pc->remote_as;
    if (pc->password) {
        conf.auth_password = CONST_CAST(char *, pc->password);
    }

    Apipb__TimersConfig timers_config = APIPB__TIMERS_CONFIG__INIT;
    Apipb__Timers timers = APIPB__TIMERS__INIT;
    if (pc->hold_time) {
        /* RFC 4271 suggests keepalives at a third of the hold time. */
        timers_config.hold_time = pc->hold_time;
        timers_config.keepalive_interval = MAX(1, pc->hold_time / 3);
        timers_config.connect_retry = 1;
        timers.config = &timers_config;
    }

    Apipb__Transport transport = APIPB__TRANSPORT__INIT;
    transport.remote_port = pc->remote_port;
    transport.passive_mode = pc->passive;

    /* Both unicast families over the one session (RFC 4760): IPv6 VIPs
     * go with an IPv6 next hop. */
    Apipb__Family families[2] = { APIPB__FAMILY__INIT, APIPB__FAMILY__INIT };
    Apipb__AfiSafiConfig afi_safi_configs[2];
    Apipb__AfiSafi afi_safis[2];
    Apipb__AfiSafi *afi_safi_ptrs[2];
    for (int i = 0; i < 2; i++) {
        families[i].afi = (i ? APIPB__FAMILY__AFI__AFI_IP6
                           : APIPB__FAMILY__AFI__AFI_IP);
        families[i].safi = APIPB__FAMILY__SAFI__SAFI_UNICAST;
        apipb__afi_safi_config__init(&afi_safi_configs[i]);
        afi_safi_configs[i].family = &families[i];
        afi_safi_configs[i].enabled = true;
        apipb__afi_safi__init(&afi_safis[i]);
        afi_safis[i].config = &afi_safi_configs[i];
        afi_safi_ptrs[i] = &afi_safis[i];
    }

    Apipb__Peer peer = APIPB__PEER__INIT;
    peer.conf = &conf;
    peer.timers = timers.config ? &timers : NULL;
    peer.transport = &transport;
    peer.n_afi_safis = ARRAY_SIZE(afi_safi_ptrs);
    peer.afi_safis = afi_safi_ptrs;

    Apipb__AddPeerRequest req = APIPB__ADD_PEER_REQUEST__INIT;
    req.peer = &peer;
    return CALL(c, "AddPeer", &req, &google__protobuf__empty__descriptor,
                NULL, NULL);
}

char *
bgp_delete_peer(struct bgp_client *c, const char *address)
{
    Apipb__DeletePeerRequest req = APIPB__DELETE_PEER_REQUEST__INIT;
    req.address = CONST_CAST(char *, address);
    return CALL(c, "DeletePeer", &req, &google__protobuf__empty__descriptor,
                NULL, NULL);
}

static const char *
session_state_name(Apipb__PeerState__SessionState state)
{
    switch (state) {
    case APIPB__PEER_STATE__SESSION_STATE__IDLE: return "idle";
    case APIPB__PEER_STATE__SESSION_STATE__CONNECT: return "connect";
    case APIPB__PEER_STATE__SESSION_STATE__ACTIVE: return "active";
    case APIPB__PEER_STATE__SESSION_STATE__OPENSENT: return "opensent";
    case APIPB__PEER_STATE__SESSION_STATE__OPENCONFIRM: return "openconfirm";
    case APIPB__PEER_STATE__SESSION_STATE__ESTABLISHED: return "established";
    case APIPB__PEER_STATE__SESSION_STATE__UNKNOWN:
    case _APIPB__PEER_STATE__SESSION_STATE_IS_INT_SIZE:
    default: return "unknown";
    }
}

struct peers_aux {
    struct bgp_peer_state *states;
    size_t n, allocated;
};

static void
list_peers_cb(const ProtobufCMessage *msg, void *aux_)
{
    const Apipb__ListPeerResponse *r = (const Apipb__ListPeerResponse *) msg;
    struct peers_aux *aux = aux_;

    if (!r->peer || !r->peer->conf) {
        return;
    }
    if (aux->n >= aux->allocated) {
        aux->states = x2nrealloc(aux->states, &aux->allocated,
                                 sizeof *aux->states);
    }
    struct bgp_peer_state *s = &aux->states[aux->n++];
    s->address = xstrdup(r->peer->conf->neighbor_address);
    s->remote_as = r->peer->conf->peer_asn;
    s->state = (r->peer->state
                ? session_state_name(r->peer->state->session_state)
                : "unknown");
}

/* Lists gobgpd's peers and their session states into '*states' and '*n',
 * which the caller frees with bgp_peer_states_destroy(). */
char *
bgp_list_peers(struct bgp_client *c, struct bgp_peer_state **states,
               size_t *n)
{
    Apipb__ListPeerRequest req = APIPB__LIST_PEER_REQUEST__INIT;
    struct peers_aux aux = { NULL, 0, 0 };
    char *error = CALL(c, "ListPeer", &req,
                       &apipb__list_peer_response__descriptor,
                       list_peers_cb, &aux);
    *states = aux.states;
    *n = aux.n;
    return error;
}

void
bgp_peer_states_destroy(struct bgp_peer_state *states, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(states[i].address);
    }
    free(states);
}

/* Routes. */

/* Wraps 'msg', of protobuf type 'type' ("apipb.X"), as a
 * google.protobuf.Any in 'any', whose 'value' the caller frees. */
static void
wrap_any(Google__Protobuf__Any *any, const char *type,
         const ProtobufCMessage *msg)
{
    google__protobuf__any__init(any);
    any->type_url = xasprintf("type.googleapis.com/%s", type);
    any->value.len = protobuf_c_message_get_packed_size(msg);
    any->value.data = xmalloc(any->value.len + 1);
    protobuf_c_message_pack(msg, any->value.data);
}

static void
free_any(Google__Protobuf__Any *any)
{
    free(any->type_url);
    free(any->value.data);
}

/* Announces, or with 'withdraw' withdraws, 'prefix' (IPv4-mapped for
 * IPv4) as a host route (/32 or /128) in gobgpd's global table, with next
 * hop 'nexthop' (of the prefix's family): for IPv4 in a NEXT_HOP
 * attribute, for IPv6 in MP_REACH_NLRI, as GoBGP takes them. */
static char *
update_path(struct bgp_client *c, const struct in6_addr *prefix,
            const struct in6_addr *nexthop, bool withdraw)
{
    bool ipv6 = !IN6_IS_ADDR_V4MAPPED(prefix);
    struct ds prefix_s = DS_EMPTY_INITIALIZER;
    struct ds nexthop_s = DS_EMPTY_INITIALIZER;
    ipv6_format_mapped(prefix, &prefix_s);
    ipv6_format_mapped(nexthop, &nexthop_s);

    Apipb__Family family = APIPB__FAMILY__INIT;
    family.afi = ipv6 ? APIPB__FAMILY__AFI__AFI_IP6 : APIPB__FAMILY__AFI__AFI_IP;
    family.safi = APIPB__FAMILY__SAFI__SAFI_UNICAST;

    Apipb__IPAddressPrefix nlri = APIPB__IPADDRESS_PREFIX__INIT;
    nlri.prefix_len = ipv6 ? 128 : 32;
    nlri.prefix = ds_cstr(&prefix_s);
    Apipb__OriginAttribute origin = APIPB__ORIGIN_ATTRIBUTE__INIT;
    origin.origin = 0;          /* IGP. */
    Google__Protobuf__Any nlri_any, origin_any, next_hop_any;
    wrap_any(&nlri_any, "apipb.IPAddressPrefix",
             (const ProtobufCMessage *) &nlri);
    wrap_any(&origin_any, "apipb.OriginAttribute",
             (const ProtobufCMessage *) &origin);
    if (ipv6) {
        Apipb__MpReachNLRIAttribute mp_reach
            = APIPB__MP_REACH_NLRIATTRIBUTE__INIT;
        char *next_hops[] = { ds_cstr(&nexthop_s) };
        Google__Protobuf__Any *nlris[] = { &nlri_any };
        mp_reach.family = &family;
        mp_reach.n_next_hops = ARRAY_SIZE(next_hops);
        mp_reach.next_hops = next_hops;
        mp_reach.n_nlris = ARRAY_SIZE(nlris);
        mp_reach.nlris = nlris;
        wrap_any(&next_hop_any, "apipb.MpReachNLRIAttribute",
                 (const ProtobufCMessage *) &mp_reach);
    } else {
        Apipb__NextHopAttribute next_hop = APIPB__NEXT_HOP_ATTRIBUTE__INIT;
        next_hop.next_hop = ds_cstr(&nexthop_s);
        wrap_any(&next_hop_any, "apipb.NextHopAttribute",
                 (const ProtobufCMessage *) &next_hop);
    }
    Google__Protobuf__Any *pattrs[] = { &origin_any, &next_hop_any };

    Apipb__Path path = APIPB__PATH__INIT;
    path.nlri = &nlri_any;
    path.n_pattrs = ARRAY_SIZE(pattrs);
    path.pattrs = pattrs;
    path.family = &family;

    char *error;
    if (withdraw) {
        Apipb__DeletePathRequest req = APIPB__DELETE_PATH_REQUEST__INIT;
        req.table_type = APIPB__TABLE_TYPE__GLOBAL;
        req.family = &family;
        req.path = &path;
        error = CALL(c, "DeletePath", &req,
                     &google__protobuf__empty__descriptor, NULL, NULL);
    } else {
        Apipb__AddPathRequest req = APIPB__ADD_PATH_REQUEST__INIT;
        req.table_type = APIPB__TABLE_TYPE__GLOBAL;
        req.path = &path;
        error = CALL(c, "AddPath", &req,
                     &apipb__add_path_response__descriptor, NULL, NULL);
    }

    free_any(&nlri_any);
    free_any(&origin_any);
    free_any(&next_hop_any);
    ds_destroy(&prefix_s);
    ds_destroy(&nexthop_s);
    return error;
}

char *
bgp_announce(struct bgp_client *c, const struct in6_addr *prefix,
             const struct in6_addr *nexthop)
{
    return update_path(c, prefix, nexthop, false);
}

char *
bgp_withdraw(struct bgp_client *c, const struct in6_addr *prefix,
             const struct in6_addr *nexthop)
{
    return update_path(c, prefix, nexthop, true);
}
