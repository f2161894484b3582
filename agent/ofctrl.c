/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's OpenFlow connection to its bridge; see ofctrl.h. */

#include <config.h>
#include "ofctrl.h"

#include <stdlib.h>
#include <string.h>

#include "dirs.h"
#include "hash.h"
#include "hmapx.h"
#include "host-flows.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-connection.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-meter.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/rconn.h"
#include "openvswitch/vlog.h"
#include "byte-order.h"
#include "flow.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofctrl);

enum ofctrl_state {
    S_NEW,                      /* Connected: the bridge's state unknown. */
    S_DUMPING,                  /* Reading the bridge's flows and meters. */
    S_SYNCED,                   /* 'installed' and 'installed_meters' are
                                 * what the bridge has. */
    S_BACKOFF,                  /* The bridge refused changes: read its
                                 * state again at 'retry_at'. */
};

/* How long ofctrl waits before it reads the bridge's state again after an
 * error, at first and at most, in milliseconds.  Each error in a row
 * doubles the wait; changes that the bridge takes reset it. */
#define OFCTRL_BACKOFF_MIN 1000
#define OFCTRL_BACKOFF_MAX 30000

/* How long a refused flow is left out before it is tried again, at first
 * and at most, in milliseconds: each try costs a failed bundle and a read
 * of the bridge's flows.  ("slb-agent/recompute" tries every flow at
 * once.) */
#define OFCTRL_RETRY_MIN 1000
#define OFCTRL_RETRY_MAX (5 * 60 * 1000)

/* A flow that the bridge refused: it is left out of what ofctrl sends
 * until 'retry_at', and then tried again, with a longer wait after each
 * refusal.  Found by the flow's key and actions, so that a changed flow is
 * tried at once. */
struct rejected_flow {
    struct hmap_node node;      /* In 'rejected', by hash of its key. */
    struct ofctrl_flow *flow;   /* A copy, without a set. */
    long long int retry_at;
    int backoff;                /* Milliseconds, for the next refusal. */
    bool pending;               /* Tried again in the changes in flight. */
    bool seen;                  /* Still desired, while syncing. */
};

/* A flow in a list, while a sync works out the changes. */
struct flow_ref {
    struct ovs_list node;
    const struct ofctrl_flow *flow;
};

/* A flow_mod of the last bundle, by the xids of its messages. */
struct sent_flow {
    struct hmap_node node;      /* In 'sent', by 'xid', from the sending
                                 * until the bridge answers the barrier
                                 * after it. */
    ovs_be32 xid;
    struct ofctrl_flow *flow;   /* A copy, or NULL for a message of another
                                 * kind. */
};

struct ofctrl {
    struct rconn *rconn;
    char *target;
    unsigned int seqno;         /* rconn connection seqno last seen. */
    enum ofctrl_state state;
    ovs_be32 dump_xid;          /* Of the flow dump, while S_DUMPING. */
    ovs_be32 meter_dump_xid;    /* Of the meter dump, while S_DUMPING. */
    bool flows_dumped;          /* While S_DUMPING. */
    bool meters_dumped;         /* While S_DUMPING. */

    /* A barrier after the last changes sent, until the bridge answers it:
     * only then has it applied them. */
    ovs_be32 barrier_xid;
    bool barrier_pending;
    uint32_t next_bundle_id;

    /* Errors: the flows of the last bundle by the xids of their messages,
     * the flows that the bridge refused, and the wait before the next
     * attempt after an error. */
    struct hmap sent;           /* Of struct sent_flow. */
    struct hmap rejected;       /* Of struct rejected_flow. */
    long long int retry_at;     /* In S_BACKOFF. */
    int backoff;                /* Milliseconds; 0 after a success. */

    /* Whether the desired flows and meters may differ from the installed
     * ones: without a change, ofctrl_run() compares nothing. */
    bool need_sync;

    struct hmap installed;      /* Of struct ofctrl_flow. */
    struct hmap installed_meters;   /* Of struct ofctrl_meter. */

    /* A request for the counters of every flow: its xid while the replies
     * come in, the counters so far, and whether they are all in. */
    ovs_be32 counters_xid;
    bool counters_pending;
    bool counters_done;
    struct ofctrl_counters *counters;
    size_t n_counters, allocated_counters;

    ofctrl_packet_in_cb *packet_in_cb;
    void *packet_in_aux;
    struct ofctrl_stats stats;
};

/* Flow sets. */

static uint32_t
key_hash(uint8_t table_id, uint16_t priority, const struct minimatch *match)
{
    return minimatch_hash(match, hash_int(table_id << 16 | priority, 0));
}

/* Whether 'a' and 'b' have the same table, priority and match. */
bool
ofctrl_flow_same_key(const struct ofctrl_flow *a, const struct ofctrl_flow *b)
{
    return (a->table_id == b->table_id && a->priority == b->priority
            && minimatch_equal(&a->match, &b->match));
}

static bool
same_actions(const struct ofctrl_flow *a, const struct ofctrl_flow *b)
{
    return ofpacts_equal(a->ofpacts, a->ofpacts_len,
                         b->ofpacts, b->ofpacts_len);
}

/* Returns the flow of 'flows' with the key of 'key', or NULL. */
struct ofctrl_flow *
ofctrl_flow_find(const struct hmap *flows, const struct ofctrl_flow *key)
{
    struct ofctrl_flow *f;
    HMAP_FOR_EACH_WITH_HASH (f, node, key->node.hash, flows) {
        if (ofctrl_flow_same_key(f, key)) {
            return f;
        }
    }
    return NULL;
}

/* Returns a new flow, in no set, that takes 'ofpacts' (malloc'ed, or
 * NULL). */
static struct ofctrl_flow *
flow_create(uint8_t table_id, uint16_t priority, uint64_t cookie,
            const struct minimatch *match, struct ofpact *ofpacts,
            size_t ofpacts_len)
{
    struct ofctrl_flow *f = xmalloc(sizeof *f);
    f->table_id = table_id;
    f->priority = priority;
    minimatch_clone(&f->match, match);
    f->ofpacts = ofpacts;
    f->ofpacts_len = ofpacts_len;
    f->cookie = cookie;
    f->node.hash = key_hash(table_id, priority, match);
    return f;
}

static struct ofctrl_flow *
flow_clone(const struct ofctrl_flow *f)
{
    struct ofctrl_flow *copy = flow_create(
        f->table_id, f->priority, f->cookie, &f->match,
        f->ofpacts_len ? xmemdup(f->ofpacts, f->ofpacts_len) : NULL,
        f->ofpacts_len);
    return copy;
}

void
ofctrl_flow_destroy(struct ofctrl_flow *f)
{
    if (f) {
        minimatch_destroy(&f->match);
        free(f->ofpacts);
        free(f);
    }
}

/* Inserts 'f' into 'flows', unless a flow with its key is there already:
 * then frees it. */
static void
insert_flow(struct hmap *flows, struct ofctrl_flow *f)
{
    if (!ofctrl_flow_find(flows, f)) {
        hmap_insert_fast(flows, &f->node, f->node.hash);
    } else {
        ofctrl_flow_destroy(f);
    }
}

void
ofctrl_flows_destroy(struct hmap *flows)
{
    struct ofctrl_flow *f;
    HMAP_FOR_EACH_POP (f, node, flows) {
        ofctrl_flow_destroy(f);
    }
    hmap_destroy(flows);
}

static struct ofctrl_meter *
find_meter(const struct hmap *meters, uint32_t id)
{
    struct ofctrl_meter *m;
    HMAP_FOR_EACH_WITH_HASH (m, node, hash_int(id, 0), meters) {
        if (m->id == id) {
            return m;
        }
    }
    return NULL;
}

/* Adds to 'meters' meter 'id', which drops what exceeds 'rate' kilobits
 * per second, or packets if 'pktps', after a burst of 'burst' of them (0:
 * the switch's default).  A meter whose 'id' is already in 'meters' is
 * ignored. */
void
ofctrl_add_meter(struct hmap *meters, uint32_t id, uint32_t rate,
                 bool pktps, uint32_t burst)
{
    if (!find_meter(meters, id)) {
        struct ofctrl_meter *m = xmalloc(sizeof *m);
        m->id = id;
        m->rate = rate;
        m->pktps = pktps;
        m->burst = burst;
        hmap_insert(meters, &m->node, hash_int(id, 0));
    }
}

/* Returns true if meters 'a' and 'b' are the same meter, with the same
 * band. */
bool
ofctrl_meter_equal(const struct ofctrl_meter *a, const struct ofctrl_meter *b)
{
    return (a->id == b->id && a->rate == b->rate && a->pktps == b->pktps
            && a->burst == b->burst);
}

void
ofctrl_meters_destroy(struct hmap *meters)
{
    struct ofctrl_meter *m;
    HMAP_FOR_EACH_POP (m, node, meters) {
        free(m);
    }
    hmap_destroy(meters);
}

/* Zeroes the bytes that pad the values and masks of the set_field actions
 * among 'ofpacts', the actions nested in ct among them: OVS leaves them
 * unset, and ofpacts compare as bytes. */
static void
zero_padding(struct ofpact *ofpacts, size_t ofpacts_len)
{
    struct ofpact *a;
    OFPACT_FOR_EACH (a, ofpacts, ofpacts_len) {
        if (a->type == OFPACT_SET_FIELD) {
            struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
            size_t n = sf->field->n_bytes;
            size_t padded = ROUND_UP(n, OFPACT_ALIGNTO);
            uint8_t *value = (uint8_t *) sf->value;
            memset(value + n, 0, padded - n);
            memset(value + padded + n, 0, padded - n);
        } else if (a->type == OFPACT_CT) {
            struct ofpact_conntrack *ct = ofpact_get_CT(a);
            zero_padding(ct->actions, ofpact_ct_get_action_len(ct));
        }
    }
}

/* Returns 'ofpacts' as the bridge gives them back in its replies: encoded
 * as ofctrl sends them, and decoded again.  (Decoding records which
 * OpenFlow encoding each action came in, and ofpacts compare as bytes.)
 * Stores the length in '*len'; NULL for no actions. */
static struct ofpact *
normalize_ofpacts(const struct ofpact *ofpacts, size_t ofpacts_len,
                  size_t *len)
{
    uint64_t wire_stub[1024 / 8];
    struct ofpbuf wire = OFPBUF_STUB_INITIALIZER(wire_stub);
    ofpacts_put_openflow_instructions(ofpacts, ofpacts_len, &wire,
                                      OFP15_VERSION);
    struct ofpbuf decoded;
    ofpbuf_init(&decoded, ofpacts_len);
    enum ofperr error = ofpacts_pull_openflow_instructions(
        &wire, wire.size, OFP15_VERSION, NULL, NULL, &decoded);
    ofpbuf_uninit(&wire);
    if (error) {
        /* Cannot happen for actions that OVS encoded itself: keep them as
         * they are. */
        VLOG_ERR("actions do not decode: %s", ofperr_to_string(error));
        ofpbuf_clear(&decoded);
        ofpbuf_put(&decoded, ofpacts, ofpacts_len);
    }
    zero_padding(decoded.data, decoded.size);
    *len = decoded.size;
    if (!decoded.size) {
        ofpbuf_uninit(&decoded);
        return NULL;
    }
    return ofpbuf_steal_data(&decoded);
}

/* Returns a new flow, in no set, of 'table_id', 'priority' and 'match'
 * with actions 'ofpacts' (none: drop) and 'cookie'. */
struct ofctrl_flow *
ofctrl_flow_create(uint8_t table_id, uint16_t priority, uint64_t cookie,
                   const struct minimatch *match,
                   const struct ofpact *ofpacts, size_t ofpacts_len)
{
    size_t len;
    struct ofpact *normal = normalize_ofpacts(ofpacts, ofpacts_len, &len);
    return flow_create(table_id, priority, cookie, match, normal, len);
}

/* Returns 'f' as ovs-ofctl shows it, without its cookie.  The caller
 * frees it. */
static char *
flow_text(const struct ofctrl_flow *f)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    host_flows_format(f->table_id, f->priority, &f->match, f->ofpacts,
                      f->ofpacts_len, &s);
    return ds_steal_cstr(&s);
}

/* Refused flows. */

static void
sent_clear(struct hmap *sent)
{
    struct sent_flow *sf;
    HMAP_FOR_EACH_POP (sf, node, sent) {
        ofctrl_flow_destroy(sf->flow);
        free(sf);
    }
}

/* Remembers that the message with 'xid' is part of the changes in flight,
 * and carries a copy of flow 'f' if it is nonnull. */
static void
sent_add(struct hmap *sent, ovs_be32 xid, const struct ofctrl_flow *f)
{
    struct sent_flow *sf = xmalloc(sizeof *sf);
    sf->xid = xid;
    sf->flow = f ? flow_clone(f) : NULL;
    hmap_insert(sent, &sf->node, hash_int((OVS_FORCE uint32_t) xid, 0));
}

static const struct sent_flow *
sent_find(const struct hmap *sent, ovs_be32 xid)
{
    const struct sent_flow *sf;
    HMAP_FOR_EACH_WITH_HASH (sf, node, hash_int((OVS_FORCE uint32_t) xid, 0),
                             sent) {
        if (sf->xid == xid) {
            return sf;
        }
    }
    return NULL;
}

/* Returns the refusal of flow 'f', with its key and actions, or NULL. */
static struct rejected_flow *
rejected_find(const struct hmap *rejected, const struct ofctrl_flow *f)
{
    struct rejected_flow *r;
    HMAP_FOR_EACH_WITH_HASH (r, node, f->node.hash, rejected) {
        if (ofctrl_flow_same_key(r->flow, f) && same_actions(r->flow, f)) {
            return r;
        }
    }
    return NULL;
}

static void
rejected_remove(struct hmap *rejected, struct rejected_flow *r)
{
    hmap_remove(rejected, &r->node);
    ofctrl_flow_destroy(r->flow);
    free(r);
}

static void
rejected_clear(struct hmap *rejected)
{
    struct rejected_flow *r;
    HMAP_FOR_EACH_SAFE (r, node, rejected) {
        rejected_remove(rejected, r);
    }
}

/* The bridge refused flow 'f' with 'error': leave it out for a while.
 * Names it once, when it is first refused. */
static void
reject_flow(struct ofctrl *c, const struct ofctrl_flow *f, enum ofperr error)
{
    struct rejected_flow *r = rejected_find(&c->rejected, f);
    char *text = flow_text(f);
    if (!r) {
        VLOG_WARN("%s: the bridge refused flow \"%s\" (%s); the other flows "
                  "are applied without it, and it is tried again later",
                  c->target, text, ofperr_to_string(error));
        r = xzalloc(sizeof *r);
        r->flow = flow_clone(f);
        r->backoff = OFCTRL_RETRY_MIN;
        hmap_insert(&c->rejected, &r->node, f->node.hash);
    } else {
        VLOG_DBG("%s: the bridge refused flow \"%s\" again (%s)", c->target,
                 text, ofperr_to_string(error));
    }
    free(text);
    r->pending = false;
    r->retry_at = time_msec() + r->backoff;
    r->backoff = MIN(r->backoff * 2, OFCTRL_RETRY_MAX);
}

/* Returns when the first refused flow is due to be tried again, or
 * LLONG_MAX. */
static long long int
next_retry(const struct ofctrl *c)
{
    long long int next = LLONG_MAX;
    const struct rejected_flow *r;
    HMAP_FOR_EACH (r, node, &c->rejected) {
        if (!r->pending) {
            next = MIN(next, r->retry_at);
        }
    }
    return next;
}

/* The connection. */

struct ofctrl *
ofctrl_create(void)
{
    struct ofctrl *c = xzalloc(sizeof *c);
    c->rconn = rconn_create(5, 8, 0, 1u << OFP15_VERSION);
    hmap_init(&c->installed);
    hmap_init(&c->installed_meters);
    hmap_init(&c->sent);
    hmap_init(&c->rejected);
    c->next_bundle_id = 1;
    return c;
}

void
ofctrl_destroy(struct ofctrl *c)
{
    if (c) {
        rconn_destroy(c->rconn);
        ofctrl_flows_destroy(&c->installed);
        ofctrl_meters_destroy(&c->installed_meters);
        sent_clear(&c->sent);
        hmap_destroy(&c->sent);
        rejected_clear(&c->rejected);
        hmap_destroy(&c->rejected);
        free(c->counters);
        free(c->target);
        free(c);
    }
}

/* Connects to the management socket of 'bridge', if not already. */
void
ofctrl_set_bridge(struct ofctrl *c, const char *bridge)
{
    char *target = xasprintf("unix:%s/%s.mgmt", ovs_rundir(), bridge);
    if (!c->target || strcmp(c->target, target)) {
        free(c->target);
        c->target = target;
        rconn_connect(c->rconn, target, target);
        c->state = S_NEW;
    } else {
        free(target);
    }
}

static enum ofputil_protocol
protocol(const struct ofctrl *c)
{
    return ofputil_protocol_from_ofp_version(rconn_get_version(c->rconn));
}

/* Asks the bridge for whole packets, with their metadata and the
 * controller action's userdata, in the packets that flows send to the
 * agent.  (A service connection such as the agent's gets none until it
 * sets a miss_send_len and asks for them in its asynchronous
 * configuration.) */
static void
send_packet_in_config(struct ofctrl *c)
{
    enum ofp_version version = rconn_get_version(c->rconn);
    rconn_send(c->rconn,
               ofputil_encode_set_packet_in_format(version,
                                                   OFPUTIL_PACKET_IN_NXT2),
               NULL);
    struct ofputil_switch_config config = {
        /* First fragments show their ports to the flows (see table 10's
         * flows for fragments in host-flows.c). */
        .frag = OFPUTIL_FRAG_NX_MATCH,
        .invalid_ttl_to_controller = -1,
        .miss_send_len = UINT16_MAX,
    };
    rconn_send(c->rconn, ofputil_encode_set_config(&config, version), NULL);

    /* Only the packets of "controller" actions, no other asynchronous
     * message. */
    struct ofputil_async_cfg ac = OFPUTIL_ASYNC_CFG_INIT;
    ac.primary[OAM_PACKET_IN] = 1u << OFPR_ACTION;
    rconn_send(c->rconn, ofputil_encode_set_async_config(&ac,
                                                         1u << OAM_PACKET_IN,
                                                         version), NULL);
}

/* Asks the bridge for every flow with its counters.  Returns the xid of
 * the request, which its replies carry. */
static ovs_be32
send_flow_stats_request(struct ofctrl *c)
{
    struct ofputil_flow_stats_request fsr = {
        .aggregate = false,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = 0xff,
    };
    match_init_catchall(&fsr.match);
    struct ofpbuf *msg = ofputil_encode_flow_stats_request(&fsr,
                                                           protocol(c));
    ovs_be32 xid = ((struct ofp_header *) msg->data)->xid;
    rconn_send(c->rconn, msg, NULL);
    return xid;
}

static void
send_dump_request(struct ofctrl *c)
{
    sent_clear(&c->sent);
    ofctrl_flows_destroy(&c->installed);
    hmap_init(&c->installed);
    c->dump_xid = send_flow_stats_request(c);

    struct ofpbuf *msg = ofputil_encode_meter_request(
        rconn_get_version(c->rconn), OFPUTIL_METER_CONFIG, OFPM13_ALL);
    c->meter_dump_xid = ((struct ofp_header *) msg->data)->xid;
    ofctrl_meters_destroy(&c->installed_meters);
    hmap_init(&c->installed_meters);
    rconn_send(c->rconn, msg, NULL);

    c->state = S_DUMPING;
    c->flows_dumped = c->meters_dumped = false;
}

/* Ends a dump once the bridge has sent both its flows and its meters. */
static void
dump_done(struct ofctrl *c)
{
    if (c->flows_dumped && c->meters_dumped) {
        c->state = S_SYNCED;
        c->need_sync = true;
        c->stats.dumps++;
        VLOG_INFO("%s: bridge has %"PRIuSIZE" flows and %"PRIuSIZE
                  " meters", c->target, hmap_count(&c->installed),
                  hmap_count(&c->installed_meters));
    }
}

static void
handle_meter_dump_reply(struct ofctrl *c, struct ofpbuf *msg)
{
    const struct ofp_header *oh = msg->data;
    struct ofpbuf bands;
    ofpbuf_init(&bands, 64);
    for (;;) {
        struct ofputil_meter_config mc;
        int retval = ofputil_decode_meter_config(msg, &mc, &bands);
        if (retval) {
            if (retval != EOF) {
                VLOG_WARN("bad meter config reply: %s",
                          ofperr_to_string(retval));
            }
            break;
        }
        if (mc.n_bands == 1 && mc.bands[0].type == OFPMBT13_DROP
            && mc.flags & (OFPMF13_KBPS | OFPMF13_PKTPS)) {
            ofctrl_add_meter(&c->installed_meters, mc.meter_id,
                             mc.bands[0].rate, mc.flags & OFPMF13_PKTPS,
                             (mc.flags & OFPMF13_BURST
                              ? mc.bands[0].burst_size : 0));
        } else {
            /* Not one of ours: a value that no desired meter has makes
             * the next sync replace or delete it. */
            ofctrl_add_meter(&c->installed_meters, mc.meter_id, 0, false,
                             0);
        }
    }
    ofpbuf_uninit(&bands);

    if (!ofpmp_more(oh)) {
        c->meters_dumped = true;
        dump_done(c);
    }
}

/* Calls 'cb' for each flow in flow stats reply 'msg'.  Returns true if
 * 'msg' is the last reply of its request. */
static bool
for_each_flow_stats(struct ofctrl *c, struct ofpbuf *msg,
                    void (*cb)(struct ofctrl *,
                               const struct ofputil_flow_stats *))
{
    const struct ofp_header *oh = msg->data;
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    for (;;) {
        struct ofputil_flow_stats fs;
        int retval = ofputil_decode_flow_stats_reply(&fs, msg, false,
                                                     &ofpacts);
        if (retval) {
            if (retval != EOF) {
                VLOG_WARN("bad flow stats reply: %s",
                          ofperr_to_string(retval));
            }
            break;
        }
        cb(c, &fs);
    }
    ofpbuf_uninit(&ofpacts);
    return !ofpmp_more(oh);
}

/* A flow of the bridge, as read on connecting: installed, unless it is
 * one that expires (see ofctrl_add_expiring_flow()). */
static void
add_installed_flow(struct ofctrl *c, const struct ofputil_flow_stats *fs)
{
    if (fs->idle_timeout) {
        return;
    }
    struct minimatch match;
    minimatch_init(&match, &fs->match);
    struct ofpact *ofpacts = NULL;
    if (fs->ofpacts_len) {
        ofpacts = xmemdup(fs->ofpacts, fs->ofpacts_len);
        zero_padding(ofpacts, fs->ofpacts_len);
    }
    insert_flow(&c->installed,
                flow_create(fs->table_id, fs->priority, ntohll(fs->cookie),
                            &match, ofpacts, fs->ofpacts_len));
    minimatch_destroy(&match);
}

static void
handle_dump_reply(struct ofctrl *c, struct ofpbuf *msg)
{
    if (for_each_flow_stats(c, msg, add_installed_flow)) {
        c->flows_dumped = true;
        dump_done(c);
    }
}

/* A flow's counters, as asked for by ofctrl_request_counters(). */
static void
add_counters(struct ofctrl *c, const struct ofputil_flow_stats *fs)
{
    if (c->n_counters >= c->allocated_counters) {
        c->counters = x2nrealloc(c->counters, &c->allocated_counters,
                                 sizeof *c->counters);
    }
    struct ofctrl_counters *fc = &c->counters[c->n_counters++];
    fc->table_id = fs->table_id;
    fc->priority = fs->priority;
    fc->cookie = ntohll(fs->cookie);
    for (size_t i = 0; i < FLOW_N_REGS; i++) {
        fc->regs[i] = fs->match.flow.regs[i] & fs->match.wc.masks.regs[i];
    }
    fc->packets = fs->packet_count == UINT64_MAX ? 0 : fs->packet_count;
    fc->bytes = fs->byte_count == UINT64_MAX ? 0 : fs->byte_count;
    fc->drops = !fs->ofpacts_len;
}

static void
handle_counters_reply(struct ofctrl *c, struct ofpbuf *msg)
{
    if (for_each_flow_stats(c, msg, add_counters)) {
        c->counters_pending = false;
        c->counters_done = true;
    }
}

/* The bridge took every change sent: flows that it had refused before
 * and took now leave the refused set, and the next error waits no more
 * than the first. */
static void
changes_applied(struct ofctrl *c)
{
    struct rejected_flow *r;
    HMAP_FOR_EACH_SAFE (r, node, &c->rejected) {
        if (r->pending) {
            char *text = flow_text(r->flow);
            VLOG_INFO("%s: the bridge took flow \"%s\" that it had refused",
                      c->target, text);
            free(text);
            rejected_remove(&c->rejected, r);
        }
    }
    sent_clear(&c->sent);
    c->backoff = 0;
}

/* Handles error reply 'oh'.  A bundle that the bridge refuses changes
 * nothing: if the error names one of its flows, that flow is left out from
 * now on; either way ofctrl reads the bridge's state again and sends the
 * rest, at once after a first error, and after a growing wait if errors go
 * on. */
static void
handle_error(struct ofctrl *c, const struct ofp_header *oh)
{
    enum ofperr error = ofperr_decode_msg(oh, NULL);
    const struct sent_flow *sf = sent_find(&c->sent, oh->xid);
    if (!sf) {
        /* About changes from before the bridge's state was read again,
         * such as the failed commit of a bundle whose flow was already
         * named: the reading took it into account. */
        VLOG_DBG("%s: %s for an earlier message", c->target,
                 ofperr_to_string(error));
        return;
    } else if (sf->flow) {
        reject_flow(c, sf->flow, error);
    } else if (error != OFPERR_OFPBFC_MSG_FAILED) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
        char *s = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 1);
        VLOG_WARN_RL(&rl, "%s: %s", c->target, s);
        free(s);
    }

    if (c->state != S_BACKOFF) {
        c->state = S_BACKOFF;
        c->retry_at = time_msec() + c->backoff;
        c->backoff = (c->backoff
                      ? MIN(c->backoff * 2, OFCTRL_BACKOFF_MAX)
                      : OFCTRL_BACKOFF_MIN);
    }
}

static void
process_messages(struct ofctrl *c)
{
    for (int i = 0; i < 50; i++) {
        struct ofpbuf *msg = rconn_recv(c->rconn);
        if (!msg) {
            break;
        }

        const struct ofp_header *oh = msg->data;
        enum ofptype type;
        if (!ofptype_decode(&type, oh)) {
            if (type == OFPTYPE_ECHO_REQUEST) {
                rconn_send(c->rconn, ofputil_encode_echo_reply(oh), NULL);
            } else if (type == OFPTYPE_FLOW_STATS_REPLY
                       && c->state == S_DUMPING && oh->xid == c->dump_xid) {
                handle_dump_reply(c, msg);
            } else if (type == OFPTYPE_PACKET_IN && c->packet_in_cb) {
                struct ofputil_packet_in pin;
                if (!ofputil_decode_packet_in(oh, true, NULL, NULL, &pin,
                                              NULL, NULL, NULL)) {
                    /* 'pin' points into 'msg'. */
                    c->packet_in_cb(&pin, oh, c->packet_in_aux);
                }
            } else if (type == OFPTYPE_BARRIER_REPLY
                       && c->barrier_pending && oh->xid == c->barrier_xid) {
                c->barrier_pending = false;
                if (c->state == S_SYNCED) {
                    changes_applied(c);
                }
            } else if (type == OFPTYPE_FLOW_STATS_REPLY
                       && c->counters_pending
                       && oh->xid == c->counters_xid) {
                handle_counters_reply(c, msg);
            } else if (type == OFPTYPE_METER_CONFIG_STATS_REPLY
                       && c->state == S_DUMPING
                       && oh->xid == c->meter_dump_xid) {
                handle_meter_dump_reply(c, msg);
            } else if (type == OFPTYPE_ERROR) {
                handle_error(c, oh);
            }
        }
        ofpbuf_delete(msg);
    }
}

/* Returns a flow_mod of 'command' for flow 'f' (its key only, for a
 * deletion), with 'idle_timeout' in seconds (0 for none). */
static struct ofpbuf *
encode_flow_mod(const struct ofctrl *c, int command,
                const struct ofctrl_flow *f, uint16_t idle_timeout)
{
    bool add = command != OFPFC_DELETE_STRICT;
    struct ofputil_flow_mod fm = {
        .match = f->match,
        .priority = f->priority,
        .table_id = f->table_id,
        .command = command,
        .new_cookie = add ? htonll(f->cookie) : OVS_BE64_MAX,
        .idle_timeout = idle_timeout,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .ofpacts = add ? f->ofpacts : NULL,
        .ofpacts_len = add ? f->ofpacts_len : 0,
    };
    return ofputil_encode_flow_mod(&fm, protocol(c));
}

/* Appends to 'msgs' a flow_mod of 'command' for flow 'f' (its key only,
 * for a deletion), and remembers its xid, so that an error can name the
 * flow. */
static void
queue_flow_mod(struct ofctrl *c, struct ovs_list *msgs, int command,
               const struct ofctrl_flow *f)
{
    struct ofpbuf *msg = encode_flow_mod(c, command, f, 0);
    sent_add(&c->sent, ((struct ofp_header *) msg->data)->xid, f);
    ovs_list_push_back(msgs, &msg->list_node);
}

/* Sends a meter_mod of 'command' for 'm'. */
static void
send_meter_mod(struct ofctrl *c, uint16_t command,
               const struct ofctrl_meter *m)
{
    struct ofputil_meter_band band = {
        .type = OFPMBT13_DROP,
        .rate = m->rate,
        .burst_size = m->burst,
    };
    struct ofputil_meter_mod mm = {
        .command = command,
        .meter = {
            .meter_id = m->id,
            .flags = ((m->pktps ? OFPMF13_PKTPS : OFPMF13_KBPS)
                      | OFPMF13_STATS | (m->burst ? OFPMF13_BURST : 0)),
            .n_bands = command == OFPMC13_DELETE ? 0 : 1,
            .bands = &band,
        },
    };
    struct ofpbuf *msg = ofputil_encode_meter_mod(rconn_get_version(c->rconn),
                                                  &mm);
    sent_add(&c->sent, ((struct ofp_header *) msg->data)->xid, NULL);
    rconn_send(c->rconn, msg, NULL);
    c->stats.meter_mods++;
}

static void
send_bundle_ctrl(struct ofctrl *c, const struct ofputil_bundle_ctrl_msg *bc)
{
    struct ofpbuf *msg = ofputil_encode_bundle_ctrl_request(
        rconn_get_version(c->rconn), CONST_CAST(struct ofputil_bundle_ctrl_msg *,
                                                bc));
    sent_add(&c->sent, ((struct ofp_header *) msg->data)->xid, NULL);
    rconn_send(c->rconn, msg, NULL);
}

/* Returns true if 'f' is to be left out of what the bridge gets: it
 * refused it, and it is not yet time to try again.  Marks the refused
 * flows that are still desired, and those tried again. */
static bool
leave_out(struct ofctrl *c, const struct ofctrl_flow *f, long long int now)
{
    if (hmap_is_empty(&c->rejected)) {
        return false;
    }
    struct rejected_flow *r = rejected_find(&c->rejected, f);
    if (!r) {
        return false;
    }
    r->seen = true;
    if (now >= r->retry_at) {
        r->pending = true;
        return false;
    }
    return true;
}

/* Sends the flows of 'desired' that the bridge lacks or has otherwise, and
 * deletions of those that it should not have, as one atomic bundle.
 * Flows that the bridge refused are left out until they are due to be
 * tried again. */
static void
sync_flows(struct ofctrl *c, const struct hmap *desired)
{
    struct ovs_list msgs = OVS_LIST_INITIALIZER(&msgs);
    const struct ofctrl_flow *f;
    long long int now = time_msec();

    /* What the bridge is to have: the desired flows but those left out.
     * Only the flows that it lacks or has otherwise are copied. */
    struct rejected_flow *r;
    HMAP_FOR_EACH (r, node, &c->rejected) {
        r->seen = false;
    }
    struct hmapx left_out = HMAPX_INITIALIZER(&left_out);
    struct ovs_list adds = OVS_LIST_INITIALIZER(&adds);
    struct ovs_list add_msgs = OVS_LIST_INITIALIZER(&add_msgs);
    HMAP_FOR_EACH (f, node, desired) {
        if (leave_out(c, f, now)) {
            hmapx_add(&left_out, CONST_CAST(struct ofctrl_flow *, f));
            continue;
        }
        const struct ofctrl_flow *old = ofctrl_flow_find(&c->installed, f);
        if (!old || !same_actions(old, f) || old->cookie != f->cookie) {
            queue_flow_mod(c, &add_msgs, OFPFC_ADD, f);
            struct flow_ref *ref = xmalloc(sizeof *ref);
            ref->flow = f;
            ovs_list_push_back(&adds, &ref->node);
        }
    }
    HMAP_FOR_EACH_SAFE (r, node, &c->rejected) {
        if (!r->seen) {
            rejected_remove(&c->rejected, r);   /* No longer desired. */
        }
    }

    struct ofctrl_flow *old;
    struct ovs_list gone = OVS_LIST_INITIALIZER(&gone);
    HMAP_FOR_EACH (old, node, &c->installed) {
        const struct ofctrl_flow *d = ofctrl_flow_find(desired, old);
        if (!d || hmapx_contains(&left_out, d)) {
            queue_flow_mod(c, &msgs, OFPFC_DELETE_STRICT, old);
            struct flow_ref *ref = xmalloc(sizeof *ref);
            ref->flow = old;
            ovs_list_push_back(&gone, &ref->node);
        }
    }
    hmapx_destroy(&left_out);
    ovs_list_push_back_all(&msgs, &add_msgs);

    /* The bridge is to have them from now on (an error reply sends the
     * connection back to reading its flows). */
    struct flow_ref *ref;
    LIST_FOR_EACH_POP (ref, node, &gone) {
        hmap_remove(&c->installed, &CONST_CAST(struct ofctrl_flow *,
                                               ref->flow)->node);
        ofctrl_flow_destroy(CONST_CAST(struct ofctrl_flow *, ref->flow));
        free(ref);
    }
    LIST_FOR_EACH_POP (ref, node, &adds) {
        old = ofctrl_flow_find(&c->installed, ref->flow);
        if (old) {
            hmap_remove(&c->installed, &old->node);
            ofctrl_flow_destroy(old);
        }
        struct ofctrl_flow *copy = flow_clone(ref->flow);
        hmap_insert(&c->installed, &copy->node, copy->node.hash);
        free(ref);
    }
    if (ovs_list_is_empty(&msgs)) {
        return;
    }

    enum ofp_version version = rconn_get_version(c->rconn);
    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = c->next_bundle_id++,
        .type = OFPBCT_OPEN_REQUEST,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
    };
    send_bundle_ctrl(c, &bc);
    struct ofpbuf *msg;
    LIST_FOR_EACH_POP (msg, list_node, &msgs) {
        struct ofputil_bundle_add_msg bam = {
            .bundle_id = bc.bundle_id,
            .flags = bc.flags,
            .msg = msg->data,
        };
        rconn_send(c->rconn, ofputil_encode_bundle_add(version, &bam), NULL);
        ofpbuf_delete(msg);
        c->stats.flow_mods++;
    }
    bc.type = OFPBCT_COMMIT_REQUEST;
    send_bundle_ctrl(c, &bc);
    c->stats.bundles++;
}

/* Brings the bridge's flows and meters in line with 'flows' and 'meters',
 * and records it as having them (an error reply sends the connection back
 * to reading the bridge's state).  Meters that flows come to use exist
 * before the flows do, and meters that flows cease to use go after
 * them. */
static void
sync(struct ofctrl *c, const struct hmap *flows, const struct hmap *meters)
{
    uint64_t n_mods = c->stats.flow_mods + c->stats.meter_mods;
    const struct ofctrl_meter *m;
    HMAP_FOR_EACH (m, node, meters) {
        const struct ofctrl_meter *old = find_meter(&c->installed_meters,
                                                    m->id);
        if (!old) {
            send_meter_mod(c, OFPMC13_ADD, m);
        } else if (!ofctrl_meter_equal(old, m)) {
            send_meter_mod(c, OFPMC13_MODIFY, m);
        }
    }
    sync_flows(c, flows);
    HMAP_FOR_EACH (m, node, &c->installed_meters) {
        if (!find_meter(meters, m->id)) {
            send_meter_mod(c, OFPMC13_DELETE, m);
        }
    }

    ofctrl_meters_destroy(&c->installed_meters);
    hmap_init(&c->installed_meters);
    HMAP_FOR_EACH (m, node, meters) {
        ofctrl_add_meter(&c->installed_meters, m->id, m->rate, m->pktps,
                         m->burst);
    }

    if (c->stats.flow_mods + c->stats.meter_mods != n_mods) {
        struct ofpbuf *msg = ofputil_encode_barrier_request(
            rconn_get_version(c->rconn));
        c->barrier_xid = ((struct ofp_header *) msg->data)->xid;
        c->barrier_pending = true;
        rconn_send(c->rconn, msg, NULL);
    }
}

/* Talks to the bridge and brings its flows and meters in line with 'flows'
 * and 'meters', if they are nonnull. */
void
ofctrl_run(struct ofctrl *c, const struct hmap *flows,
           const struct hmap *meters)
{
    rconn_run(c->rconn);
    if (!rconn_is_connected(c->rconn)) {
        return;
    }
    if (rconn_get_connection_seqno(c->rconn) != c->seqno) {
        /* Perhaps another ovs-vswitchd: it may take what this one
         * refused. */
        c->seqno = rconn_get_connection_seqno(c->rconn);
        c->state = S_NEW;
        c->barrier_pending = false;
        rejected_clear(&c->rejected);
        c->backoff = 0;
        if (c->counters_pending) {
            /* The replies are lost with the connection: give back none. */
            c->counters_pending = false;
            c->counters_done = true;
            c->n_counters = 0;
        }
    }

    process_messages(c);
    if (c->state == S_BACKOFF && time_msec() >= c->retry_at) {
        c->state = S_NEW;
    }
    if (c->state == S_NEW) {
        send_packet_in_config(c);
        send_dump_request(c);
    }
    if (c->state == S_SYNCED && time_msec() >= next_retry(c)) {
        c->need_sync = true;
    }
    if (c->state == S_SYNCED && flows && meters && c->need_sync) {
        c->need_sync = false;
        sync(c, flows, meters);
    }
}

/* Tells 'c' that the flows or meters to pass to ofctrl_run() changed (or
 * became nonnull).  Without it, ofctrl_run() does not look at them. */
void
ofctrl_desired_changed(struct ofctrl *c)
{
    c->need_sync = true;
}

/* Returns how many flows the bridge refused, which 'c' leaves out. */
size_t
ofctrl_n_rejected(const struct ofctrl *c)
{
    return hmap_count(&c->rejected);
}

/* Makes the next ofctrl_run() read the bridge's flows again and send the
 * difference from there, as after a reconnection, including the flows
 * that the bridge refused before. */
void
ofctrl_resync(struct ofctrl *c)
{
    c->state = S_NEW;
    rejected_clear(&c->rejected);
    c->backoff = 0;
}

void
ofctrl_wait(struct ofctrl *c)
{
    rconn_run_wait(c->rconn);
    rconn_recv_wait(c->rconn);
    if (c->state == S_BACKOFF) {
        poll_timer_wait_until(c->retry_at);
    } else if (c->state == S_SYNCED) {
        long long int next = next_retry(c);
        if (next != LLONG_MAX) {
            poll_timer_wait_until(next);
        }
    }
}

/* Returns true if the bridge is known to have applied exactly the flows
 * and meters last passed to ofctrl_run(). */
bool
ofctrl_is_synced(const struct ofctrl *c)
{
    return (c->state == S_SYNCED && !c->barrier_pending
            && rconn_is_connected(c->rconn));
}

const struct ofctrl_stats *
ofctrl_get_stats(const struct ofctrl *c)
{
    return &c->stats;
}

size_t
ofctrl_n_installed(const struct ofctrl *c)
{
    return hmap_count(&c->installed);
}

size_t
ofctrl_n_installed_meters(const struct ofctrl *c)
{
    return hmap_count(&c->installed_meters);
}

/* Asks the bridge for the counters of every flow, which
 * ofctrl_get_counters() returns once they are in.  Returns false if there
 * is no connection to ask through. */
bool
ofctrl_request_counters(struct ofctrl *c)
{
    if (!rconn_is_connected(c->rconn)) {
        return false;
    }
    if (!c->counters_pending) {
        c->counters_xid = send_flow_stats_request(c);
        c->counters_pending = true;
        c->counters_done = false;
        c->n_counters = 0;
    }
    return true;
}

/* If the counters that ofctrl_request_counters() asked for are all in,
 * passes them to the caller in '*counters' and '*n', to free, and returns
 * true.  Otherwise returns false. */
bool
ofctrl_get_counters(struct ofctrl *c, struct ofctrl_counters **counters,
                    size_t *n)
{
    if (!c->counters_done) {
        return false;
    }
    *counters = c->counters;
    *n = c->n_counters;
    c->counters = NULL;
    c->n_counters = c->allocated_counters = 0;
    c->counters_done = false;
    return true;
}

/* Makes ofctrl call 'cb' with 'aux' for every packet that the bridge's
 * flows send to the agent. */
void
ofctrl_set_packet_in_cb(struct ofctrl *c, ofctrl_packet_in_cb *cb, void *aux)
{
    c->packet_in_cb = cb;
    c->packet_in_aux = aux;
}

/* Has the bridge apply 'ofpacts' to 'packet' ('len' bytes), from the
 * controller, if connected. */
static void
send_packet_out(struct ofctrl *c, const void *packet, size_t len,
                const struct ofpbuf *ofpacts)
{
    if (!rconn_is_connected(c->rconn)) {
        return;
    }
    struct ofputil_packet_out po = {
        .packet = packet,
        .packet_len = len,
        .buffer_id = UINT32_MAX,
        .ofpacts = ofpacts->data,
        .ofpacts_len = ofpacts->size,
    };
    match_init_catchall(&po.flow_metadata);
    match_set_in_port(&po.flow_metadata, OFPP_CONTROLLER);
    rconn_send(c->rconn, ofputil_encode_packet_out(&po, protocol(c)), NULL);
}

/* Adds 'f' to the bridge, outside the desired flows, to be removed by the
 * bridge after 'idle_timeout' seconds without a packet (nonzero).  It
 * replaces a flow with the same key.  Returns false if the bridge is not
 * connected. */
bool
ofctrl_add_expiring_flow(struct ofctrl *c, const struct ofctrl_flow *f,
                         uint16_t idle_timeout)
{
    if (!rconn_is_connected(c->rconn)) {
        return false;
    }
    rconn_send(c->rconn, encode_flow_mod(c, OFPFC_ADD, f, idle_timeout),
               NULL);
    return true;
}

/* Sends the 'len' bytes of 'packet' out of the bridge's OpenFlow port
 * 'out_port', if connected. */
void
ofctrl_send_packet(struct ofctrl *c, const void *packet, size_t len,
                   uint32_t out_port)
{
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    ofpact_put_OUTPUT(&ofpacts)->port = u16_to_ofp(out_port);
    send_packet_out(c, packet, len, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}

/* Has the bridge go on with the packet that flow action "controller"
 * paused and sent in message 'packet_in', with register 'reg' set to
 * 'value'.  Returns false if the bridge is not connected or the message
 * holds no paused packet. */
bool
ofctrl_resume(struct ofctrl *c, const struct ofp_header *packet_in, int reg,
              uint32_t value)
{
    if (!rconn_is_connected(c->rconn)) {
        return false;
    }
    struct ofputil_packet_in pin;
    struct ofpbuf continuation;
    if (ofputil_decode_packet_in(packet_in, true, NULL, NULL, &pin, NULL,
                                 NULL, &continuation)
        || !continuation.size) {
        return false;
    }
    match_set_reg(&pin.flow_metadata, reg, value);
    rconn_send(c->rconn, ofputil_encode_resume(&pin, &continuation,
                                               protocol(c)), NULL);
    return true;
}

/* Has the bridge take 'packet' ('len' bytes) through its flows from table
 * 'table', with the registers of 'regs' (indexed by register number) that
 * are nonzero set to their values. */
void
ofctrl_resubmit_packet(struct ofctrl *c, const void *packet, size_t len,
                       const uint32_t regs[FLOW_N_REGS], uint8_t table)
{
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 64);
    for (int i = 0; i < FLOW_N_REGS; i++) {
        if (regs[i]) {
            ovs_be32 value = htonl(regs[i]);
            ofpact_put_set_field(&ofpacts, mf_from_id(MFF_REG0 + i), &value,
                                 NULL);
        }
    }
    struct ofpact_resubmit *resubmit = ofpact_put_RESUBMIT(&ofpacts);
    resubmit->in_port = OFPP_IN_PORT;
    resubmit->table_id = table;
    send_packet_out(c, packet, len, &ofpacts);
    ofpbuf_uninit(&ofpacts);
}
