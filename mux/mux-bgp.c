/* SPDX-License-Identifier: Apache-2.0 */
/* Keeping gobgpd in line with what the mux should announce; see
 * mux-bgp.h. */

#include <config.h>
#include "mux-bgp.h"

#include <stdlib.h>
#include <string.h>

#include "bgp.h"
#include "hash.h"
#include "ovs-thread.h"
#include "seq.h"
#include "smap.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "sort.h"
#include "svec.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(mux_bgp);

/* How often to check on gobgpd and its peers, in ms. */
#define MUX_BGP_INTERVAL 1000

struct mux_bgp {
    struct bgp_client *client;

    /* What gobgpd has been told.  'started' false means "unknown": the
     * next run finds out from gobgpd itself. */
    bool started;
    uint32_t asn;
    char *router_id;
    int listen_port;
    struct shash peers;         /* Address to struct bgp_peer_config. */
    struct hmap announced;      /* Of struct mux_bgp_vip. */
    struct in6_addr nexthop;    /* Of IPv4 VIPs, IPv4-mapped. */
    struct in6_addr nexthop6;   /* Of IPv6 VIPs, or all-zeros. */

    /* What gobgpd says of its peers. */
    struct shash peer_states;   /* Address to state name (malloc'd). */

    long long int next_run;
    char *last_error;
};

static uint32_t
hash_vip(const struct in6_addr *vip)
{
    return hash_bytes(vip, sizeof *vip, 0);
}

static struct mux_bgp_vip *
find_vip(const struct hmap *vips, const struct in6_addr *vip)
{
    struct mux_bgp_vip *v;
    HMAP_FOR_EACH_WITH_HASH (v, node, hash_vip(vip), vips) {
        if (ipv6_addr_equals(&v->vip, vip)) {
            return v;
        }
    }
    return NULL;
}

static void
add_vip(struct hmap *vips, const struct in6_addr *vip)
{
    if (!find_vip(vips, vip)) {
        struct mux_bgp_vip *v = xmalloc(sizeof *v);
        v->vip = *vip;
        hmap_insert(vips, &v->node, hash_vip(vip));
    }
}

/* The next hop of 'vip' among 'nexthop' (IPv4) and 'nexthop6' (IPv6), or
 * NULL if its family has none. */
static const struct in6_addr *
vip_nexthop(const struct in6_addr *vip, const struct in6_addr *nexthop,
            const struct in6_addr *nexthop6)
{
    return (IN6_IS_ADDR_V4MAPPED(vip) ? nexthop
            : ipv6_addr_is_set(nexthop6) ? nexthop6
            : NULL);
}

/* Appends 'vip' to 's' as a host route, "/32" or "/128". */
static void
format_vip_route(const struct in6_addr *vip, struct ds *s)
{
    ipv6_format_mapped(vip, s);
    ds_put_cstr(s, IN6_IS_ADDR_V4MAPPED(vip) ? "/32" : "/128");
}

static void
clear_vips(struct hmap *vips)
{
    struct mux_bgp_vip *v;
    HMAP_FOR_EACH_POP (v, node, vips) {
        free(v);
    }
}

static struct bgp_peer_config *
peer_config_clone(const struct bgp_peer_config *pc)
{
    struct bgp_peer_config *c = xmemdup(pc, sizeof *pc);
    c->address = xstrdup(pc->address);
    c->password = nullable_xstrdup(pc->password);
    return c;
}

static void
peer_config_free(void *pc_)
{
    struct bgp_peer_config *pc = pc_;
    if (pc) {
        free(CONST_CAST(char *, pc->address));
        free(CONST_CAST(char *, pc->password));
        free(pc);
    }
}

static bool
peer_config_equal(const struct bgp_peer_config *a,
                  const struct bgp_peer_config *b)
{
    return (!strcmp(a->address, b->address)
            && a->remote_as == b->remote_as
            && nullable_string_is_equal(a->password, b->password)
            && a->hold_time == b->hold_time
            && a->remote_port == b->remote_port
            && a->passive == b->passive);
}

/* Configurations. */

void
mux_bgp_config_init(struct mux_bgp_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen_port = -1;
    shash_init(&cfg->peers);
    hmap_init(&cfg->vips);
}

void
mux_bgp_config_destroy(struct mux_bgp_config *cfg)
{
    free(cfg->router_id);
    free(cfg->listen_address);
    shash_destroy_free_data(&cfg->peers);
    clear_vips(&cfg->vips);
    hmap_destroy(&cfg->vips);
}

void
mux_bgp_config_add_peer(struct mux_bgp_config *cfg,
                        const struct bgp_peer_config *pc)
{
    if (!shash_find(&cfg->peers, pc->address)) {
        shash_add(&cfg->peers, pc->address, peer_config_clone(pc));
    }
}

void
mux_bgp_config_add_vip(struct mux_bgp_config *cfg, const struct in6_addr *vip)
{
    add_vip(&cfg->vips, vip);
}

/* The state machine. */

static bool mux_bgp_is_due(const struct mux_bgp *);
static void mux_bgp_withdraw_all(struct mux_bgp *);

/* Creates the state of a mux that drives the gobgpd at 'target'. */
static struct mux_bgp *
mux_bgp_create(const char *target)
{
    struct mux_bgp *b = xzalloc(sizeof *b);
    b->client = bgp_client_create(target);
    shash_init(&b->peers);
    hmap_init(&b->announced);
    shash_init(&b->peer_states);
    return b;
}

static void
forget_gobgpd(struct mux_bgp *b)
{
    b->started = false;
    free(b->router_id);
    b->router_id = NULL;
    struct shash_node *node;
    SHASH_FOR_EACH (node, &b->peers) {
        peer_config_free(node->data);
    }
    shash_clear(&b->peers);
    clear_vips(&b->announced);
}

static void
mux_bgp_destroy(struct mux_bgp *b)
{
    if (b) {
        forget_gobgpd(b);
        shash_destroy(&b->peers);
        hmap_destroy(&b->announced);
        shash_destroy_free_data(&b->peer_states);
        bgp_client_destroy(b->client);
        free(b->last_error);
        free(b);
    }
}

/* Records 'error' (taking ownership), logs it at a limited rate, and
 * returns true if there was one. */
static bool
failed(struct mux_bgp *b, char *error)
{
    if (!error) {
        return false;
    }
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
    VLOG_WARN_RL(&rl, "%s", error);
    free(b->last_error);
    b->last_error = error;
    return true;
}

/* Makes sure gobgpd runs BGP with the global settings of 'cfg'.  Returns
 * false if it could not.
 *
 * A gobgpd that runs BGP although this process never started it there was
 * configured by an earlier slb-mux, or by hand: rather than adopt peers
 * and paths it cannot vouch for, the mux restarts BGP in it.  (Routers then
 * move this mux's flows to the other muxes for a moment, which pick the
 * same backends.) */
static bool
sync_global(struct mux_bgp *b, const struct mux_bgp_config *cfg)
{
    uint32_t asn;
    char *router_id;
    int listen_port;

    if (failed(b, bgp_get_global(b->client, &asn, &router_id,
                                 &listen_port))) {
        /* A gobgpd that does not answer in time is busy, or stopped for a
         * while, and still has what it was told: restarting BGP in it
         * would make every router drop this mux's routes.  One that
         * cannot be reached at all may come back empty, or another's. */
        if (!bgp_client_timed_out(b->client)) {
            forget_gobgpd(b);
        }
        return false;
    }

    bool same = (asn == cfg->asn && router_id
                 && !strcmp(router_id, cfg->router_id)
                 && listen_port == cfg->listen_port);
    free(router_id);
    if (b->started && same) {
        return true;
    }

    /* gobgpd is new, restarted, runs other settings, or was not started by
     * this process: whatever it had from us is gone or must go. */
    forget_gobgpd(b);
    if (asn) {
        VLOG_INFO("%s: restarting BGP", bgp_client_target(b->client));
        if (failed(b, bgp_stop(b->client))) {
            return false;
        }
    }
    if (failed(b, bgp_start(b->client, cfg->asn, cfg->router_id,
                            cfg->listen_port, cfg->listen_address))) {
        return false;
    }
    VLOG_INFO("%s: started BGP as AS %"PRIu32", router id %s",
              bgp_client_target(b->client), cfg->asn, cfg->router_id);
    b->started = true;
    b->asn = cfg->asn;
    b->router_id = xstrdup(cfg->router_id);
    b->listen_port = cfg->listen_port;
    return true;
}

static void
sync_peers(struct mux_bgp *b, const struct mux_bgp_config *cfg)
{
    /* Peers that must go or change. */
    struct shash_node *node, *next;
    SHASH_FOR_EACH_SAFE (node, next, &b->peers) {
        const struct bgp_peer_config *want = shash_find_data(&cfg->peers,
                                                             node->name);
        if (!want || !peer_config_equal(want, node->data)) {
            if (failed(b, bgp_delete_peer(b->client, node->name))) {
                return;
            }
            VLOG_INFO("removed BGP peer %s", node->name);
            peer_config_free(node->data);
            shash_delete(&b->peers, node);
        }
    }

    /* Peers to add. */
    SHASH_FOR_EACH (node, &cfg->peers) {
        const struct bgp_peer_config *want = node->data;
        if (!shash_find(&b->peers, node->name)) {
            if (failed(b, bgp_add_peer(b->client, want))) {
                return;
            }
            VLOG_INFO("added BGP peer %s, AS %"PRIu32, want->address,
                      want->remote_as);
            shash_add(&b->peers, node->name, peer_config_clone(want));
        }
    }
}

/* Announces the VIPs of 'want' of a family with a next hop, 'nexthop' for
 * IPv4 and 'nexthop6' for IPv6, and withdraws the others, and those whose
 * family's next hop changed. */
static void
sync_paths(struct mux_bgp *b, const struct hmap *want,
           const struct in6_addr *nexthop, const struct in6_addr *nexthop6)
{
    struct mux_bgp_vip *v;
    struct ds route = DS_EMPTY_INITIALIZER;

    HMAP_FOR_EACH_SAFE (v, node, &b->announced) {
        const struct in6_addr *old = vip_nexthop(&v->vip, &b->nexthop,
                                                 &b->nexthop6);
        const struct in6_addr *new = vip_nexthop(&v->vip, nexthop, nexthop6);
        if (!new || !ipv6_addr_equals(old, new)
            || !find_vip(want, &v->vip)) {
            if (failed(b, bgp_withdraw(b->client, &v->vip, old))) {
                goto out;
            }
            ds_clear(&route);
            format_vip_route(&v->vip, &route);
            VLOG_INFO("withdrew %s", ds_cstr(&route));
            hmap_remove(&b->announced, &v->node);
            free(v);
        }
    }
    b->nexthop = *nexthop;
    b->nexthop6 = *nexthop6;

    HMAP_FOR_EACH (v, node, want) {
        const struct in6_addr *nh = vip_nexthop(&v->vip, nexthop, nexthop6);
        if (nh && !find_vip(&b->announced, &v->vip)) {
            if (failed(b, bgp_announce(b->client, &v->vip, nh))) {
                goto out;
            }
            ds_clear(&route);
            format_vip_route(&v->vip, &route);
            ds_put_cstr(&route, ", next hop ");
            ipv6_format_mapped(nh, &route);
            VLOG_INFO("announced %s", ds_cstr(&route));
            add_vip(&b->announced, &v->vip);
        }
    }
out:
    ds_destroy(&route);
}

static void
poll_peers(struct mux_bgp *b)
{
    struct bgp_peer_state *states;
    size_t n;

    if (failed(b, bgp_list_peers(b->client, &states, &n))) {
        return;
    }
    shash_clear_free_data(&b->peer_states);
    for (size_t i = 0; i < n; i++) {
        shash_add(&b->peer_states, states[i].address,
                  xstrdup(states[i].state));
    }
    bgp_peer_states_destroy(states, n);

    /* A peer that gobgpd no longer has (someone deleted it) is added again
     * on the next run, which comes at once. */
    struct shash_node *node, *next;
    SHASH_FOR_EACH_SAFE (node, next, &b->peers) {
        if (!shash_find(&b->peer_states, node->name)) {
            VLOG_INFO("BGP peer %s is gone from gobgpd", node->name);
            peer_config_free(node->data);
            shash_delete(&b->peers, node);
            b->next_run = 0;
        }
    }
}

/* Brings gobgpd in line with 'cfg', and refreshes the peers' states.  Does
 * the work at once if 'cfg' changed anything, otherwise once a second. */
static void
mux_bgp_run(struct mux_bgp *b, const struct mux_bgp_config *cfg)
{
    if (!mux_bgp_is_due(b)) {
        return;
    }
    b->next_run = time_msec() + MUX_BGP_INTERVAL;

    free(b->last_error);
    b->last_error = NULL;
    if (!cfg->asn) {
        /* BGP not configured: announce nothing. */
        if (b->started) {
            mux_bgp_withdraw_all(b);
        }
        return;
    }
    if (sync_global(b, cfg)) {
        sync_peers(b, cfg);
        sync_paths(b, &cfg->vips, &cfg->nexthop, &cfg->nexthop6);
        poll_peers(b);
    }
}

/* Makes the next mux_bgp_run() do its work at once: the configuration
 * changed. */
static void
mux_bgp_refresh(struct mux_bgp *b)
{
    b->next_run = 0;
}

/* Returns true if mux_bgp_run() has work to do now. */
static bool
mux_bgp_is_due(const struct mux_bgp *b)
{
    return time_msec() >= b->next_run;
}

static void
mux_bgp_wait(const struct mux_bgp *b)
{
    poll_timer_wait_until(b->next_run);
}

/* Withdraws every VIP that gobgpd announces for the mux, at once, and
 * comes back to it no sooner than the next interval. */
static void
mux_bgp_withdraw_all(struct mux_bgp *b)
{
    struct hmap none = HMAP_INITIALIZER(&none);
    sync_paths(b, &none, &b->nexthop, &b->nexthop6);
    hmap_destroy(&none);
    b->next_run = time_msec() + MUX_BGP_INTERVAL;
}

/* Returns the session state of peer 'address', as gobgpd last said. */
static const char *
mux_bgp_peer_state(const struct mux_bgp *b, const char *address)
{
    const char *state = shash_find_data(&b->peer_states, address);
    return state ? state : "unknown";
}

static int
compare_vips(const void *a_, const void *b_)
{
    return memcmp(a_, b_, sizeof(struct in6_addr));
}

/* Appends what gobgpd was told, and the peers' states, to 's'. */
static void
mux_bgp_show(const struct mux_bgp *b, struct ds *s)
{
    ds_put_format(s, "gobgpd %s: ", bgp_client_target(b->client));
    if (!b->started) {
        ds_put_cstr(s, "BGP not started\n");
    } else {
        ds_put_format(s, "AS %"PRIu32", router id %s, port %d\n", b->asn,
                      b->router_id, b->listen_port);
    }
    if (b->last_error) {
        ds_put_format(s, "last error: %s\n", b->last_error);
    }

    const struct shash_node **peers = shash_sort(&b->peers);
    for (size_t i = 0; i < shash_count(&b->peers); i++) {
        const struct bgp_peer_config *pc = peers[i]->data;
        ds_put_format(s, "peer %s AS %"PRIu32": %s\n", pc->address,
                      pc->remote_as, mux_bgp_peer_state(b, pc->address));
    }
    free(peers);

    size_t n = hmap_count(&b->announced), i = 0;
    struct in6_addr *vips = xmalloc((n + 1) * sizeof *vips);
    const struct mux_bgp_vip *v;
    HMAP_FOR_EACH (v, node, &b->announced) {
        vips[i++] = v->vip;
    }
    qsort(vips, n, sizeof *vips, compare_vips);
    for (i = 0; i < n; i++) {
        ds_put_cstr(s, "announced ");
        format_vip_route(&vips[i], s);
        ds_put_cstr(s, " next hop ");
        ipv6_format_mapped(vip_nexthop(&vips[i], &b->nexthop, &b->nexthop6),
                           s);
        ds_put_char(s, '\n');
    }
    free(vips);
}

/* The worker thread. */

struct mux_bgp_worker {
    struct mux_bgp *bgp;        /* The worker's own, never the caller's. */
    pthread_t thread;
    struct seq *request_seq;    /* Changes with a new request. */
    struct seq *status_seq;     /* Changes with a new status. */

    struct ovs_mutex mutex;
    struct mux_bgp_config *next OVS_GUARDED;    /* Not yet taken, or NULL. */
    bool next_withdraw OVS_GUARDED;     /* With 'next': announce nothing. */
    bool exiting OVS_GUARDED;
    struct smap peer_states OVS_GUARDED;        /* As last published. */
    char *show OVS_GUARDED;                     /* Likewise. */
    size_t n_announced OVS_GUARDED;             /* Likewise. */
};

/* Publishes what the worker's 'b' knows, for the main thread, and wakes it
 * if that changed. */
static void
publish(struct mux_bgp_worker *w)
{
    struct ds show = DS_EMPTY_INITIALIZER;
    mux_bgp_show(w->bgp, &show);
    struct smap states = SMAP_INITIALIZER(&states);
    struct shash_node *node;
    SHASH_FOR_EACH (node, &w->bgp->peer_states) {
        smap_add(&states, node->name, node->data);
    }

    size_t n_announced = hmap_count(&w->bgp->announced);

    ovs_mutex_lock(&w->mutex);
    bool changed = (!w->show || strcmp(w->show, ds_cstr(&show))
                    || !smap_equal(&w->peer_states, &states)
                    || w->n_announced != n_announced);
    w->n_announced = n_announced;
    free(w->show);
    w->show = ds_steal_cstr(&show);
    smap_destroy(&w->peer_states);
    smap_clone(&w->peer_states, &states);
    ovs_mutex_unlock(&w->mutex);

    smap_destroy(&states);
    if (changed) {
        seq_change(w->status_seq);
    }
}

static void *
worker_main(void *w_)
{
    struct mux_bgp_worker *w = w_;
    struct mux_bgp_config *cfg = NULL;
    bool withdraw = false;

    for (;;) {
        uint64_t seqno = seq_read(w->request_seq);

        ovs_mutex_lock(&w->mutex);
        bool exiting = w->exiting;
        if (w->next) {
            if (cfg) {
                mux_bgp_config_destroy(cfg);
                free(cfg);
            }
            cfg = w->next;
            withdraw = w->next_withdraw;
            w->next = NULL;
            mux_bgp_refresh(w->bgp);
        }
        ovs_mutex_unlock(&w->mutex);
        if (exiting) {
            break;
        }

        if (cfg && mux_bgp_is_due(w->bgp)) {
            if (withdraw) {
                mux_bgp_withdraw_all(w->bgp);
            } else {
                mux_bgp_run(w->bgp, cfg);
            }
            publish(w);
        }

        seq_wait(w->request_seq, seqno);
        if (cfg) {
            mux_bgp_wait(w->bgp);
        }
        poll_block();
    }

    /* Routers must stop sending to a mux that goes away. */
    mux_bgp_withdraw_all(w->bgp);
    if (cfg) {
        mux_bgp_config_destroy(cfg);
        free(cfg);
    }
    return NULL;
}

/* Starts a thread that drives the gobgpd at 'target': its calls, which
 * may take a while (10,000 VIPs are 10,000 calls) or hang until their
 * deadline, never hold up the caller's loop. */
struct mux_bgp_worker *
mux_bgp_worker_create(const char *target)
{
    struct mux_bgp_worker *w = xzalloc(sizeof *w);
    w->bgp = mux_bgp_create(target);
    w->request_seq = seq_create();
    w->status_seq = seq_create();
    ovs_mutex_init(&w->mutex);
    smap_init(&w->peer_states);
    w->thread = ovs_thread_create("bgp", worker_main, w);
    return w;
}

/* Withdraws every VIP, stops the thread and frees 'w'. */
void
mux_bgp_worker_destroy(struct mux_bgp_worker *w)
{
    if (!w) {
        return;
    }
    ovs_mutex_lock(&w->mutex);
    w->exiting = true;
    ovs_mutex_unlock(&w->mutex);
    seq_change(w->request_seq);
    xpthread_join(w->thread, NULL);

    mux_bgp_destroy(w->bgp);
    if (w->next) {
        mux_bgp_config_destroy(w->next);
        free(w->next);
    }
    seq_destroy(w->request_seq);
    seq_destroy(w->status_seq);
    smap_destroy(&w->peer_states);
    free(w->show);
    ovs_mutex_destroy(&w->mutex);
    free(w);
}

/* Has the worker bring gobgpd in line with 'cfg', which it takes over, or,
 * if 'withdraw' is true, withdraw every VIP and keep the sessions. */
void
mux_bgp_worker_set(struct mux_bgp_worker *w, struct mux_bgp_config *cfg,
                   bool withdraw)
{
    struct mux_bgp_config *copy = xmemdup(cfg, sizeof *cfg);
    shash_moved(&copy->peers);
    hmap_moved(&copy->vips);
    mux_bgp_config_init(cfg);

    ovs_mutex_lock(&w->mutex);
    struct mux_bgp_config *old = w->next;
    w->next = copy;
    w->next_withdraw = withdraw;
    ovs_mutex_unlock(&w->mutex);
    if (old) {
        mux_bgp_config_destroy(old);
        free(old);
    }
    seq_change(w->request_seq);
}

/* Copies into 'states' the session state of each peer, by address, as
 * gobgpd last said. */
void
mux_bgp_worker_peer_states(struct mux_bgp_worker *w, struct smap *states)
{
    ovs_mutex_lock(&w->mutex);
    smap_clone(states, &w->peer_states);
    ovs_mutex_unlock(&w->mutex);
}

/* Returns how many VIPs gobgpd announces, as the worker last knew. */
size_t
mux_bgp_worker_n_announced(struct mux_bgp_worker *w)
{
    ovs_mutex_lock(&w->mutex);
    size_t n = w->n_announced;
    ovs_mutex_unlock(&w->mutex);
    return n;
}

/* Appends to 's' what the worker last said of gobgpd. */
void
mux_bgp_worker_show(struct mux_bgp_worker *w, struct ds *s)
{
    ovs_mutex_lock(&w->mutex);
    ds_put_cstr(s, w->show ? w->show : "gobgpd: not yet contacted\n");
    ovs_mutex_unlock(&w->mutex);
}

/* Makes poll_block() wake when the worker's status changes. */
void
mux_bgp_worker_wait(struct mux_bgp_worker *w, uint64_t seqno)
{
    seq_wait(w->status_seq, seqno);
}

/* Returns the number of the worker's status, for mux_bgp_worker_wait(). */
uint64_t
mux_bgp_worker_status_seqno(const struct mux_bgp_worker *w)
{
    return seq_read(w->status_seq);
}
