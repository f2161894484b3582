/* SPDX-License-Identifier: Apache-2.0 */
/* slb-mux: the OVS-SLB mux daemon.
 *
 * One slb-mux runs on every mux node.  Its main thread reads the SLB
 * database, builds the packet path's configuration from it (mux-config.c)
 * and publishes it through RCU.  Its packet threads each own one receive
 * queue of the interface and a flow table, and move packets between the
 * interface and the packet path (mux-dp.c) with Open vSwitch's netdev
 * library: AF_XDP or AF_PACKET on real interfaces, dummy interfaces in
 * tests.  The threads share nothing but the configuration.  The main thread
 * also reports the configuration it has applied, and its state, into its
 * row of the Mux table.
 *
 * Runtime introspection: "ovs-appctl -t slb-mux slb-mux/show", ".../stats",
 * ".../flows" and ".../trace". */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

#include "command-line.h"
#include "coverage.h"
#include "daemon.h"
#include "db-watch.h"
#include "dirs.h"
#include "dp-packet.h"
#include "dummy.h"
#include "fatal-signal.h"
#include "lib/lb.h"
#include "lib/rbac.h"
#include "lib/redirect.h"
#include "lib/slb-idl.h"
#include "lib/slb-parse.h"
#include "bgp.h"
#include "maglev.h"
#include "mux-bgp.h"
#include "speaker.h"
#include "lib/metrics.h"
#include "mux-config.h"
#include "mux-dp.h"
#include "mux-history.h"
#include "path-probe.h"
#include "latch.h"
#include "netdev.h"
#include "ovs-rcu.h"
#include "ovs-thread.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "packets.h"
#include "seq.h"
#include "slb-version.h"
#include "smap.h"
#include "socket-util.h"
#include "stream-ssl.h"
#include "stream.h"
#include "svec.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(slb_mux);

COVERAGE_DEFINE(mux_config_built);

/* Packets per receive batch, and batches per pass of the main loop before
 * it looks at the database and control socket again. */
#define BATCHES_PER_PASS 64

/* Settings from the command line. */
static char *db_remote;
static char *mux_name;
static char *iface_name;
static char *iface_type = "system";
static struct smap iface_options = SMAP_INITIALIZER(&iface_options);
static uint32_t flow_table_size = 1 << 20;
static uint32_t new_flow_table_size = 1 << 18;
static uint32_t new_flow_timeout = 5000;        /* ms. */
static int n_threads = 1;
static bool busy_poll;
static char *unixctl_path;
static char *bgp_target;        /* gobgpd's gRPC API, or NULL. */
static char *gobgpd_program;    /* gobgpd to run as a child, or NULL. */
static char *gobgpd_log;        /* Its log file, or NULL. */
static struct mux_speaker_user *gobgpd_user; /* Its user, or NULL. */
static const char *metrics_spec; /* --metrics, or NULL. */

/* How long the mux keeps announcing its VIPs without a database, in ms. */
static unsigned int db_loss_grace = 10000;

/* Where the mux keeps its rules' past tables across its restarts
 * (mux-history.h), or NULL for nowhere. */
static char *history_file;

/* How often the mux probes each VIP's way to each host, in ms (0: never). */
static unsigned int path_probe_interval = 5000;

static struct unixctl_server *unixctl_server;

/* A packet thread. */
struct mux_thread {
    struct slb_mux *mux;
    int id;
    struct netdev_rxq *rxq;
    pthread_t thread;

    /* The thread's own state.  The main thread reads the counters and the
     * flow table without locking, for display only; 'stats_mutex' guards
     * the reallocation of the per-rule counters. */
    struct mux_pmd pmd;
    struct ovs_mutex stats_mutex;
};

struct slb_mux {
    struct ovsdb_idl_loop idl_loop;
    unsigned int idl_seqno;     /* Change number last reconfigured from. */
    unsigned int config_seqno;  /* Change number that 'config' is of. */
    unsigned int cond_seqno;    /* Monitor conditions in force from this
                                 * condition change number. */
    unsigned int n_builds;      /* Configurations built from the database,
                                 * as the mux_config_built coverage counter
                                 * counts them, but exact at any time. */
    long long int history_due;  /* When to write 'history_file' next, or
                                 * LLONG_MAX if it is up to date. */

    struct netdev *netdev;
    int n_txq;
    struct mux_underlay underlay;

    struct mux_ids ids;
    struct mux_rule_cache *rule_cache;
    OVSRCU_TYPE(struct mux_config *) config;   /* Current, or NULL. */
    char *problems;             /* Why parts of the database were left out. */

    struct mux_thread *threads;
    struct mux_frags *frags;    /* The threads' fragment table. */
    struct latch exit_latch;
    bool exiting;

    /* BGP, through a thread that drives gobgpd (NULL if slb-mux does not):
     * what the main loop last handed it, whether that must be done again,
     * and the number of the status it last read. */
    struct mux_bgp_worker *bgp;
    struct mux_speaker *speaker; /* gobgpd as the mux's child, or NULL. */
    struct slb_metrics *metrics; /* With --metrics, or NULL. */
    bool bgp_dirty;
    bool bgp_announced;         /* Handed it VIPs to announce. */
    bool bgp_db_lost;           /* Handed it while without the database. */
    uint64_t bgp_status_seqno;
    struct db_watch db;         /* Whether it has the database. */

    /* What the packet threads hand over to the main thread: fastpath
     * redirects (lib/redirect.h), for it to sign and send, and answers to
     * path probes; and what it hands to packet thread 0: path probes, for
     * it to send. */
    struct ovs_mutex handover_mutex;
    struct mux_redirect *redirects OVS_GUARDED;
    size_t n_redirects OVS_GUARDED;
    uint64_t redirects_lost OVS_GUARDED;  /* Beyond MAX_REDIRECTS. */
    struct mux_path_answer *path_answers OVS_GUARDED;
    size_t n_path_answers OVS_GUARDED;
    uint64_t path_answers_lost OVS_GUARDED;   /* Beyond MAX_PATH_ANSWERS, or
                                               * the threads' own room. */
    struct dp_packet **probes OVS_GUARDED;
    size_t n_probes OVS_GUARDED;
    struct seq *handover_seq;   /* Changes when the threads hand over. */
    uint64_t handover_seqno;    /* What the main thread last saw. */
    struct seq *probe_seq;      /* Changes when the main thread does. */
    struct slb_redirect_key redirect_key;
    int redirect_fd;            /* UDP socket, or -1. */
    uint64_t redirects_sent;
    uint64_t redirects_unsent;  /* Lost in sending, or without a key. */
    uint64_t redirect_sequence; /* Of the last one sent. */

    struct mux_path_prober *prober;     /* Or NULL. */
    bool path_targets_stale;    /* The configuration changed since the
                                 * prober's targets were set. */
    bool path_states_dirty;     /* Its verdicts changed since 'path_down'
                                 * and 'path_counts' were taken. */
    struct smap path_down;      /* The ways that are down, for the
                                 * database. */
    struct mux_path_counts path_counts;
};

/* Redirects and path answers that wait for the main thread, at most. */
#define MAX_REDIRECTS 4096
#define MAX_PATH_ANSWERS 65536

/* The watchdog: a thread that warns when the main loop has been busy for
 * WATCHDOG_STUCK_MS without coming back to poll_block().  (gobgpd's calls
 * are made by a thread of their own, with a deadline each.) */
#define WATCHDOG_STUCK_MS 5000
static struct atomic_count main_turns = ATOMIC_COUNT_INIT(0);
static atomic_bool main_busy = false;

static void *
watchdog_main(void *aux OVS_UNUSED)
{
    unsigned int last = atomic_count_get(&main_turns);
    long long int since = time_msec();
    for (;;) {
        xsleep(1);

        unsigned int turns = atomic_count_get(&main_turns);
        bool busy;
        atomic_read_relaxed(&main_busy, &busy);
        long long int now = time_msec();
        if (turns != last || !busy) {
            last = turns;
            since = now;
        } else if (now - since >= WATCHDOG_STUCK_MS) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 1);
            VLOG_WARN_RL(&rl, "main loop busy for %lld ms", now - since);
        }
    }
    return NULL;
}

/* The current configuration, as the main thread sees it. */
static const struct mux_config *
current_config(const struct slb_mux *mux)
{
    return ovsrcu_get(struct mux_config *, &mux->config);
}

static void parse_options(int argc, char *argv[]);
OVS_NO_RETURN static void usage(void);
static void open_interface(struct slb_mux *);
static void register_commands(struct slb_mux *);
static void update_monitor_conditions(struct slb_mux *);
static void mux_reconfigure(struct slb_mux *);
static void mux_report(struct slb_mux *, struct ovsdb_idl_txn *);
static void start_threads(struct slb_mux *);
static void mux_run_bgp(struct slb_mux *);
static void save_history(struct slb_mux *, bool at_exit);
static void send_redirects(struct slb_mux *);
static void run_path_probes(struct slb_mux *);
static slb_metrics_build_func build_metrics;
static void stop_threads(struct slb_mux *);

int
main(int argc, char *argv[])
{
    struct slb_mux mux;

    set_program_name(argv[0]);
    service_start(&argc, &argv);
    fatal_ignore_sigpipe();
    vlog_set_levels_from_string_assert("reconnect:warn");
    parse_options(argc, argv);

    daemonize_start(false);
    if (unixctl_server_create(unixctl_path, &unixctl_server)) {
        exit(EXIT_FAILURE);
    }

    memset(&mux, 0, sizeof mux);
    ovs_mutex_init(&mux.handover_mutex);
    mux.handover_seq = seq_create();
    mux.handover_seqno = seq_read(mux.handover_seq);
    mux.probe_seq = seq_create();
    if (path_probe_interval) {
        mux.prober = mux_path_prober_create(path_probe_interval);
    }
    smap_init(&mux.path_down);
    mux.redirect_fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (mux.redirect_fd < 0 || set_nonblocking(mux.redirect_fd)) {
        VLOG_WARN("no socket for fastpath redirects (%s)",
                  ovs_strerror(errno));
    }
    mux_ids_init(&mux.ids, new_flow_timeout);
    mux.rule_cache = mux_rule_cache_create();
    mux.history_due = LLONG_MAX;
    ovsrcu_set_hidden(&mux.config, NULL);
    latch_init(&mux.exit_latch);
    open_interface(&mux);
    start_threads(&mux);
    if (gobgpd_program) {
        mux.speaker = mux_speaker_start(gobgpd_program, bgp_target,
                                        gobgpd_log, gobgpd_user);
    }
    if (bgp_target) {
        mux.bgp = mux_bgp_worker_create(bgp_target);
        mux.bgp_dirty = true;
    }
    if (metrics_spec) {
        char *error = slb_metrics_start(metrics_spec, build_metrics, &mux,
                                        &mux.metrics);
        if (error) {
            ovs_fatal(0, "%s", error);
        }
    }

    struct ovsdb_idl *idl = ovsdb_idl_create(db_remote, &slbrec_idl_class,
                                             true, true);
    /* Each build works out again only the rules whose rows changed.  (The
     * IDL alerts on the columns that it tracks: they come first, the
     * exceptions after.) */
    ovsdb_idl_track_add_all(idl);
    /* What the mux writes into its status row, and a new nb_cfg alone, must
     * not make it rebuild its configuration. */
    ovsdb_idl_omit_alert(idl, &slbrec_slb_global_col_nb_cfg);
    /* Nor may slb-ctl's mark on its transactions. */
    ovsdb_idl_omit(idl, &slbrec_slb_global_col_external_ids);
    ovsdb_idl_omit_alert(idl, &slbrec_mux_status_col_nb_cfg);
    ovsdb_idl_omit_alert(idl, &slbrec_mux_status_col_nb_cfg_timestamp);
    ovsdb_idl_omit_alert(idl, &slbrec_mux_status_col_status);
    ovsdb_idl_omit_alert(idl, &slbrec_mux_status_col_peer_states);
    ovsdb_idl_omit_alert(idl, &slbrec_mux_status_col_path_states);
    /* A health verdict's reason is for operators. */
    ovsdb_idl_omit_alert(idl, &slbrec_backend_health_col_reason);
    /* Of a clustered database, any member will do: a follower passes the
     * mux's reports on to the leader. */
    ovsdb_idl_set_leader_only(idl, false);
    /* The database server's own settings are none of the mux's business,
     * nor which VMs are ports of their networks (VNet "ports"): the mux
     * reaches VMs through backends only. */
    slb_omit_server_tables(idl);
    ovsdb_idl_omit(idl, &slbrec_vnet_col_ports);
    /* An inbound NAT pool is the management plane's: the mux sees the
     * inbound NAT rule of each of its backends. */
    ovsdb_idl_omit(idl, &slbrec_load_balancer_col_inbound_nat_pools);
    for (size_t i = 0; i < SLBREC_INBOUND_NAT_POOL_N_COLUMNS; i++) {
        ovsdb_idl_omit(idl, &slbrec_inbound_nat_pool_columns[i]);
    }
    mux.idl_loop = (struct ovsdb_idl_loop) OVSDB_IDL_LOOP_INITIALIZER(idl);
    update_monitor_conditions(&mux);
    mux.idl_seqno = ovsdb_idl_get_seqno(idl);

    register_commands(&mux);
    bool detached = false;
    ovs_thread_create("watchdog", watchdog_main, NULL);

    while (!mux.exiting) {
        atomic_count_inc(&main_turns);
        atomic_store_relaxed(&main_busy, true);
        struct ovsdb_idl_txn *txn = ovsdb_idl_loop_run(&mux.idl_loop);
        update_monitor_conditions(&mux);

        if (ovsdb_idl_get_seqno(idl) != mux.idl_seqno) {
            mux.idl_seqno = ovsdb_idl_get_seqno(idl);
            mux_reconfigure(&mux);
            mux.bgp_dirty = true;
            if (!detached && current_config(&mux)) {
                daemonize_complete();
                detached = true;
            }
        }
        ovsdb_idl_track_clear(idl);
        db_watch_run(&mux.db, idl, db_remote,
                     (mux.bgp ? "the VIPs stay announced for --db-loss-grace"
                      : "the packet path keeps its configuration"));
        mux_speaker_run(mux.speaker);
        mux_run_bgp(&mux);
        send_redirects(&mux);
        run_path_probes(&mux);
        save_history(&mux, false);
        if (mux.bgp) {
            mux.bgp_status_seqno = mux_bgp_worker_status_seqno(mux.bgp);
        }
        if (txn) {
            mux_report(&mux, txn);
        }

        unixctl_server_run(unixctl_server);
        netdev_run();
        slb_metrics_run(mux.metrics);

        ovsdb_idl_loop_commit_and_wait(&mux.idl_loop);
        unixctl_server_wait(unixctl_server);
        slb_metrics_wait(mux.metrics);
        netdev_wait();
        if (mux.bgp) {
            mux_bgp_worker_wait(mux.bgp, mux.bgp_status_seqno);
        }
        mux_speaker_wait(mux.speaker);
        seq_wait(mux.handover_seq, mux.handover_seqno);
        if (mux.prober) {
            mux_path_prober_wait(mux.prober);
        }
        if (mux.history_due != LLONG_MAX) {
            poll_timer_wait_until(mux.history_due);
        }
        if (mux.exiting) {
            poll_immediate_wake();
        }
        atomic_store_relaxed(&main_busy, false);
        poll_block();
    }

    /* A mux that starts again takes up the tables in force now. */
    save_history(&mux, true);

    /* Routers must stop sending to a mux that goes away: the worker
     * withdraws everything before it ends. */
    slb_metrics_destroy(mux.metrics);
    mux_bgp_worker_destroy(mux.bgp);
    mux_speaker_destroy(mux.speaker);
    stop_threads(&mux);
    ovsdb_idl_loop_destroy(&mux.idl_loop);
    mux_path_prober_destroy(mux.prober);
    smap_destroy(&mux.path_down);
    for (size_t i = 0; i < mux.n_probes; i++) {
        dp_packet_delete(mux.probes[i]);
    }
    free(mux.probes);
    free(mux.path_answers);
    mux_config_destroy(ovsrcu_get_protected(struct mux_config *,
                                            &mux.config));
    mux_ids_destroy(&mux.ids);
    mux_rule_cache_destroy(mux.rule_cache);
    netdev_close(mux.netdev);
    latch_destroy(&mux.exit_latch);
    free(mux.problems);
    unixctl_server_destroy(unixctl_server);
    service_stop();
    return 0;
}

/* The interface. */

static void
open_interface(struct slb_mux *mux)
{
    char *error = NULL;
    int retval;

    if (!strncmp(iface_type, "dummy", 5)) {
        netdev_dummy_register(DUMMY_OVERRIDE_NONE);
    }
    if (n_threads > 1 && !smap_get(&iface_options, "n_rxq")) {
        smap_add_format(&iface_options, "n_rxq", "%d", n_threads);
    }
    retval = netdev_open(iface_name, iface_type, &mux->netdev);
    if (retval) {
        ovs_fatal(retval, "%s: could not open interface of type %s",
                  iface_name, iface_type);
    }
    retval = netdev_set_config(mux->netdev, &iface_options, &error);
    if (retval) {
        ovs_fatal(retval, "%s: bad interface options (%s)", iface_name,
                  error ? error : "unknown error");
    }
    if (netdev_is_reconf_required(mux->netdev)) {
        retval = netdev_reconfigure(mux->netdev);
        if (retval && retval != EOPNOTSUPP) {
            ovs_fatal(retval, "%s: could not reconfigure", iface_name);
        }
    }
    retval = netdev_turn_flags_on(mux->netdev, NETDEV_UP, NULL);
    if (retval) {
        VLOG_WARN("%s: could not bring up (%s)", iface_name,
                  ovs_strerror(retval));
    }
    if (netdev_n_rxq(mux->netdev) < n_threads) {
        ovs_fatal(0, "%s: %d threads need as many receive queues, the "
                  "interface has %d", iface_name, n_threads,
                  netdev_n_rxq(mux->netdev));
    }
    mux->n_txq = MAX(1, netdev_n_txq(mux->netdev));

    retval = netdev_get_etheraddr(mux->netdev, &mux->underlay.mac);
    if (retval) {
        ovs_fatal(retval, "%s: could not read Ethernet address",
                  iface_name);
    }
    if (netdev_get_mtu(mux->netdev, &mux->underlay.mtu)) {
        mux->underlay.mtu = 1500;
    }
    VLOG_INFO("%s: opened as %s, MAC "ETH_ADDR_FMT", MTU %d", iface_name,
              iface_type, ETH_ADDR_ARGS(mux->underlay.mac),
              mux->underlay.mtu);
}

/* Packet threads. */

/* Appends to the array '*items' of '*n' elements of 'size' bytes as many
 * of the 'n_new' elements in 'new' as fit below 'max', and returns how
 * many did not. */
static size_t
append_bounded(void **items, size_t *n, size_t max, const void *new,
               size_t n_new, size_t size)
{
    size_t room = max - MIN(*n, max);
    size_t k = MIN(n_new, room);
    if (k) {
        *items = xrealloc(*items, (*n + k) * size);
        memcpy((char *) *items + *n * size, new, k * size);
        *n += k;
    }
    return n_new - k;
}

/* Hands the redirects and path answers that 'pmd' gathered over to the
 * main thread. */
static void
hand_over(struct slb_mux *mux, struct mux_pmd *pmd)
{
    ovs_mutex_lock(&mux->handover_mutex);
    mux->redirects_lost += append_bounded(
        (void **) &mux->redirects, &mux->n_redirects, MAX_REDIRECTS,
        pmd->redirects, pmd->n_redirects, sizeof *pmd->redirects);
    mux->redirects_lost += pmd->redirects_lost;
    mux->path_answers_lost += append_bounded(
        (void **) &mux->path_answers, &mux->n_path_answers,
        MAX_PATH_ANSWERS, pmd->path_answers, pmd->n_path_answers,
        sizeof *pmd->path_answers);
    mux->path_answers_lost += pmd->path_answers_lost;
    ovs_mutex_unlock(&mux->handover_mutex);
    pmd->n_redirects = pmd->n_path_answers = 0;
    pmd->redirects_lost = pmd->path_answers_lost = 0;
    seq_change(mux->handover_seq);
}

/* Takes, for the thread that calls it, the array '*items' of '*n'
 * elements that another thread handed over, leaving none: returns it and
 * stores its size in '*np'. */
static void *
take_handed_over(struct slb_mux *mux, void **items, size_t *n, size_t *np)
    OVS_EXCLUDED(mux->handover_mutex)
{
    ovs_mutex_lock(&mux->handover_mutex);
    void *taken = *items;
    *np = *n;
    *items = NULL;
    *n = 0;
    ovs_mutex_unlock(&mux->handover_mutex);
    return taken;
}

/* Sends the path probes that the main thread handed over, if it handed
 * over some since '*seqno' (packet thread 0's job). */
static void
send_path_probes(struct slb_mux *mux, uint64_t *seqno, int qid,
                 bool concurrent_txq)
{
    uint64_t current = seq_read(mux->probe_seq);
    if (current == *seqno) {
        return;
    }
    *seqno = current;

    size_t n;
    struct dp_packet **probes = take_handed_over(
        mux, (void **) &mux->probes, &mux->n_probes, &n);
    for (size_t i = 0; i < n; ) {
        struct dp_packet_batch batch;
        dp_packet_batch_init(&batch);
        for (; i < n && !dp_packet_batch_is_full(&batch); i++) {
            dp_packet_batch_add(&batch, probes[i]);
        }
        netdev_send(mux->netdev, qid, &batch, concurrent_txq);
    }
    free(probes);
}

/* Sends what the fragment table's work gave this thread's last batch:
 * fragments for the muxes that place them, and fragments that go where
 * their first went. */
static void
send_fragments(struct slb_mux *mux, struct mux_pmd *pmd, int qid,
              bool concurrent_txq)
{
    for (size_t i = 0; i < pmd->n_frag_out; ) {
        struct dp_packet_batch batch;
        dp_packet_batch_init(&batch);
        for (; i < pmd->n_frag_out && !dp_packet_batch_is_full(&batch);
             i++) {
            dp_packet_batch_add(&batch, pmd->frag_out[i].packet);
        }
        netdev_send(mux->netdev, qid, &batch, concurrent_txq);
    }
    pmd->n_frag_out = 0;
}

/* The loop of one packet thread: receive a batch, run it through the
 * packet path with the current configuration, send what it encapsulated.
 * The thread quiesces between passes, so that old configurations can be
 * freed. */
static void *
mux_thread_main(void *t_)
{
    struct mux_thread *t = t_;
    struct slb_mux *mux = t->mux;
    int qid = t->id % mux->n_txq;
    bool concurrent_txq = mux->n_txq < n_threads;
    uint64_t probe_seqno = seq_read(mux->probe_seq);

    while (!latch_is_set(&mux->exit_latch)) {
        const struct mux_config *cfg = ovsrcu_get(struct mux_config *,
                                                  &mux->config);
        if (!mux_pmd_is_prepared(&t->pmd, cfg)) {
            ovs_mutex_lock(&t->stats_mutex);
            mux_pmd_prepare(&t->pmd, cfg);
            ovs_mutex_unlock(&t->stats_mutex);
        }

        uint32_t now = time_msec();
        mux_flow_sweep(&t->pmd.flows, now);
        if (t->id == 0) {
            /* The shared fragment table ages in one thread, whose pass
             * comes at least every second. */
            t->pmd.drops[MUX_DROP_FRAGMENT_EXPIRED]
                += mux_frags_expire(mux->frags, now);
            send_path_probes(mux, &probe_seqno, qid, concurrent_txq);
        }
        int i;
        for (i = 0; i < BATCHES_PER_PASS; i++) {
            struct dp_packet_batch in, out;

            dp_packet_batch_init(&in);
            if (netdev_rxq_recv(t->rxq, &in, NULL)) {
                break;
            }
            dp_packet_batch_init(&out);
            mux_dp_process(&t->pmd, cfg, &in, &out, now);
            if (!dp_packet_batch_is_empty(&out)) {
                netdev_send(mux->netdev, qid, &out, concurrent_txq);
            }
            if (OVS_UNLIKELY(!dp_packet_batch_is_empty(&t->pmd.copies))) {
                netdev_send(mux->netdev, qid, &t->pmd.copies,
                            concurrent_txq);
                dp_packet_batch_init(&t->pmd.copies);
            }
            if (OVS_UNLIKELY(t->pmd.n_frag_out)) {
                send_fragments(mux, &t->pmd, qid, concurrent_txq);
            }
            if (t->pmd.n_path_answers
                > MUX_PMD_PATH_ANSWERS - NETDEV_MAX_BURST) {
                hand_over(mux, &t->pmd);
            }
        }
        if (t->pmd.n_redirects || t->pmd.n_path_answers
            || t->pmd.redirects_lost || t->pmd.path_answers_lost) {
            hand_over(mux, &t->pmd);
        }

        if (i == BATCHES_PER_PASS || busy_poll) {
            /* More may be waiting: only look at the exit latch. */
            poll_immediate_wake();
        } else {
            netdev_rxq_wait(t->rxq);
            poll_timer_wait(1000);      /* To sweep the flow table. */
        }
        if (t->id == 0) {
            seq_wait(mux->probe_seq, probe_seqno);
        }
        latch_wait(&mux->exit_latch);
        poll_block();
        ovsrcu_quiesce();
    }
    return NULL;
}

static void
start_threads(struct slb_mux *mux)
{
    mux->threads = xcalloc(n_threads, sizeof *mux->threads);
    mux->frags = mux_frags_create(MUX_FRAG_MAX_DATAGRAMS, MUX_FRAG_MAX_HELD);
    for (int i = 0; i < n_threads; i++) {
        struct mux_thread *t = &mux->threads[i];
        t->mux = mux;
        t->id = i;
        int retval = netdev_rxq_open(mux->netdev, &t->rxq, i);
        if (retval) {
            ovs_fatal(retval, "%s: could not open receive queue %d",
                      iface_name, i);
        }
        mux_pmd_init(&t->pmd, flow_table_size, new_flow_table_size,
                     new_flow_timeout);
        t->pmd.frags = mux->frags;
        ovs_mutex_init(&t->stats_mutex);
        t->thread = ovs_thread_create("mux", mux_thread_main, t);
    }
}

static void
stop_threads(struct slb_mux *mux)
{
    latch_set(&mux->exit_latch);
    for (int i = 0; i < n_threads; i++) {
        struct mux_thread *t = &mux->threads[i];
        xpthread_join(t->thread, NULL);
        netdev_rxq_close(t->rxq);
        mux_pmd_destroy(&t->pmd);
        ovs_mutex_destroy(&t->stats_mutex);
    }
    free(mux->threads);
    mux_frags_destroy(mux->frags);
}

/* Configuration. */

static const struct slbrec_mux *
find_self(struct ovsdb_idl *idl)
{
    const struct slbrec_mux *row;
    SLBREC_MUX_FOR_EACH (row, idl) {
        if (!strcmp(row->name, mux_name)) {
            return row;
        }
    }
    return NULL;
}

/* Of the status tables, the mux needs only its own row: no other mux's or
 * host's report must wake it.  Called on every pass: an unchanged
 * condition costs a comparison, and the IDL's answer says from which
 * condition change number it is in force. */
static void
update_monitor_conditions(struct slb_mux *mux)
{
    struct ovsdb_idl *idl = mux->idl_loop.idl;
    struct ovsdb_idl_condition cond;

    ovsdb_idl_condition_init(&cond);        /* No clause: no row. */
    unsigned int seqno = slbrec_host_status_set_condition(idl, &cond);
    ovsdb_idl_condition_destroy(&cond);

    ovsdb_idl_condition_init(&cond);
    slbrec_mux_status_add_clause_name(&cond, OVSDB_F_EQ, mux_name);
    seqno = MAX(seqno, slbrec_mux_status_set_condition(idl, &cond));
    ovsdb_idl_condition_destroy(&cond);
    mux->cond_seqno = seqno;
}

/* Makes the path prober probe the ways of 'cfg'. */
static void
set_path_targets(struct slb_mux *mux, const struct mux_config *cfg)
{
    struct shash names = SHASH_INITIALIZER(&names);
    const struct slbrec_host *host;
    SLBREC_HOST_FOR_EACH (host, mux->idl_loop.idl) {
        shash_add_once(&names, host->pa, host->name);
    }
    mux_path_prober_set_targets(mux->prober, cfg, &names);
    shash_destroy(&names);
}

/* Stores in '*nexthop6' the next hop of the IPv6 VIPs that mux 'self'
 * announces, its IPv6 address on its routers' link, from its
 * options:bgp-nexthop-ipv6.  Returns false, for no IPv6 announcements, if
 * it has none or it is not an IPv6 unicast address. */
static bool
bgp_nexthop6(const struct slbrec_mux *self, struct in6_addr *nexthop6)
{
    const char *s = smap_get(&self->options, "bgp-nexthop-ipv6");
    return (s && ipv6_parse(s, nexthop6) && ipv6_addr_is_set(nexthop6)
            && !IN6_IS_ADDR_V4MAPPED(nexthop6)
            && !ipv6_addr_is_multicast(nexthop6));
}

/* The history file is written this long after a change, at the most: a
 * burst of changes writes it once.  (A mux that ends within that time
 * leaves the tables before the last changes.) */
#define HISTORY_DELAY_MS 1000

/* Gives 'config', which replaces 'old' (NULL before the first), the past
 * tables of its rules: from 'old', or for the first configuration, from
 * the history file that the mux before this one left.  Then, if a rule's
 * table changed, has the history file written soon.  (With 10,000 rules,
 * each with a table of its own, writing it takes some 60 ms.) */
static void
inherit_past_tables(struct slb_mux *mux, struct mux_config *config,
                    const struct mux_config *old)
{
    long long int now = time_msec();
    struct mux_config *read = NULL;
    if (!old && history_file) {
        char *error = mux_history_load(history_file, &mux->ids.backends,
                                       now, time_wall_msec(), &read);
        if (error) {
            VLOG_WARN("%s; starting without past tables", error);
            free(error);
        } else if (read) {
            VLOG_INFO("%s: read the tables of %"PRIuSIZE" rules",
                      history_file, read->n_rules);
        }
    }
    bool changed = mux_config_inherit(config, old ? old : read, now);
    mux_config_destroy(read);
    if (history_file && changed) {
        mux->history_due = MIN(mux->history_due, now + HISTORY_DELAY_MS);
    }
}

/* Writes the history file, if it is due, or if 'at_exit', if it is not up
 * to date. */
static void
save_history(struct slb_mux *mux, bool at_exit)
{
    const struct mux_config *cfg = current_config(mux);
    if (!cfg || (!at_exit && time_msec() < mux->history_due)
        || mux->history_due == LLONG_MAX) {
        return;
    }
    char *error = mux_history_save(history_file, cfg, &mux->ids.backends,
                                   time_msec(), time_wall_msec());
    if (error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "%s", error);
        free(error);
    }
    mux->history_due = LLONG_MAX;
}

/* Rebuilds the configuration from the database and swaps it in. */
static void
mux_reconfigure(struct slb_mux *mux)
{
    struct ovsdb_idl *idl = mux->idl_loop.idl;
    const struct slbrec_mux *self = find_self(idl);
    struct ds problems = DS_EMPTY_INITIALIZER;

    free(mux->problems);
    mux->problems = NULL;
    if (!self) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        VLOG_WARN_RL(&rl, "no mux named \"%s\" in the database", mux_name);
        mux_rule_cache_invalidate(mux->rule_cache);
        return;
    }

    const struct slbrec_slb_global *global = slbrec_slb_global_first(idl);
    if (global) {
        slb_redirect_settings(&global->options, &mux->redirect_key);
    }

    /* A bad next hop keeps the last good one, so that it blocks no other
     * change; without one there is nowhere to send packets. */
    struct mux_config *old = ovsrcu_get_protected(struct mux_config *,
                                                  &mux->config);
    struct mux_underlay underlay = mux->underlay;
    const char *nexthop = smap_get(&self->options, "nexthop-mac");
    if (!nexthop || !eth_addr_from_string(nexthop, &underlay.nexthop)) {
        ds_put_format(&problems, "options:nexthop-mac \"%s\" is not an "
                      "Ethernet address", nexthop ? nexthop : "");
        if (!old) {
            mux->problems = ds_steal_cstr(&problems);
            VLOG_WARN("%s", mux->problems);
            mux_rule_cache_invalidate(mux->rule_cache);
            return;
        }
        ds_put_format(&problems, "; keeping "ETH_ADDR_FMT"\n",
                      ETH_ADDR_ARGS(old->underlay.nexthop));
        underlay.nexthop = old->underlay.nexthop;
    }

    const char *nexthop6 = smap_get(&self->options, "bgp-nexthop-ipv6");
    if (!bgp_nexthop6(self, &underlay.pa6)) {
        underlay.pa6 = in6addr_any;
    }
    if (nexthop6 && !ipv6_addr_is_set(&underlay.pa6)) {
        ds_put_format(&problems, "options:bgp-nexthop-ipv6 \"%s\" is not "
                      "an IPv6 unicast address: no IPv6 VIP is announced\n",
                      nexthop6);
    }

    long long int start = time_msec();
    COVERAGE_INC(mux_config_built);
    mux->n_builds++;
    struct mux_config *config = mux_config_from_idl(idl, self, &underlay,
                                                    &mux->ids, old,
                                                    mux->rule_cache,
                                                    &problems);
    inherit_past_tables(mux, config, old);
    ovsrcu_set(&mux->config, config);
    mux_ids_update(&mux->ids, config, time_msec());
    mux->path_targets_stale = true;
    mux->config_seqno = mux->idl_seqno;
    if (old) {
        ovsrcu_postpone(mux_config_destroy, old);
    }

    if (problems.length) {
        ds_chomp(&problems, '\n');
        VLOG_WARN("configuration %"PRId64": %s", config->nb_cfg,
                  ds_cstr(&problems));
        mux->problems = ds_steal_cstr(&problems);
    }
    ds_destroy(&problems);
    VLOG_INFO("applied configuration %"PRId64": %"PRIuSIZE" rules (%"
              PRIuSIZE" load-balancing rules worked out%s), %"PRIuSIZE" SNAT "
              "port sets, %"PRIuSIZE" Maglev tables (%lld ms)",
              config->nb_cfg, config->n_rules,
              mux_rule_cache_n_built(mux->rule_cache),
              (mux_rule_cache_patched(mux->rule_cache)
               ? ", patched in" : ""),
              config->n_snats, config->n_maglevs, time_msec() - start);
}

/* Data-path probes (path-probe.h). */

/* Gives the prober the answers that the packet threads handed over, and
 * hands packet thread 0 the probes of a new round, if one is due. */
static void
run_path_probes(struct slb_mux *mux)
{
    if (!mux->prober) {
        return;
    }
    size_t n;
    struct mux_path_answer *answers = take_handed_over(
        mux, (void **) &mux->path_answers, &mux->n_path_answers, &n);
    mux_path_prober_take(mux->prober, answers, n, time_usec());
    free(answers);

    /* The ways to probe follow the configuration once per round, not on
     * every change: with 10,000 VIPs that is a walk of 80,000 (VIP,
     * backend) pairs, which would delay each change by tens of ms. */
    long long int now = time_msec();
    if (mux->path_targets_stale && mux_path_prober_due(mux->prober, now)) {
        set_path_targets(mux, current_config(mux));
        mux->path_targets_stale = false;
    }
    struct dp_packet **probes;
    size_t n_probes = mux_path_prober_run(mux->prober, now, &probes);
    if (n_probes) {
        /* Probes that thread 0 has not sent in a whole interval (it is
         * stuck) go unsent: their round counts them unanswered. */
        ovs_mutex_lock(&mux->handover_mutex);
        for (size_t i = 0; i < mux->n_probes; i++) {
            dp_packet_delete(mux->probes[i]);
        }
        free(mux->probes);
        mux->probes = probes;
        mux->n_probes = n_probes;
        ovs_mutex_unlock(&mux->handover_mutex);
        seq_change(mux->probe_seq);
    }
    if (mux_path_prober_changed(mux->prober)) {
        mux->path_states_dirty = true;
    }
}

/* Fastpath redirects. */

/* Signs and sends the redirects that the packet threads handed over: to
 * the host of each new flow's client, its backend's host and VM. */
static void
send_redirects(struct slb_mux *mux)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    uint64_t seqno = seq_read(mux->handover_seq);
    if (seqno == mux->handover_seqno) {
        return;
    }
    mux->handover_seqno = seqno;

    size_t n;
    struct mux_redirect *redirects = take_handed_over(
        mux, (void **) &mux->redirects, &mux->n_redirects, &n);

    const struct mux_config *cfg = current_config(mux);
    struct ofpbuf buf;
    ofpbuf_init(&buf, 128);
    for (size_t i = 0; i < n; i++) {
        const struct mux_redirect *r = &redirects[i];
        const struct mux_target *t = (cfg && r->backend < cfg->n_targets
                                      ? cfg->targets[r->backend] : NULL);
        if (!t || !mux->redirect_key.len || mux->redirect_fd < 0) {
            mux->redirects_unsent++;
            continue;
        }
        /* Each greater than the last, from the clock, so that a restarted
         * mux goes on above the numbers it used before. */
        mux->redirect_sequence = MAX(mux->redirect_sequence + 1,
                                     (uint64_t) time_wall_usec());
        const struct mux_flow_key *k = &r->key;
        struct slb_redirect msg = {
            .vni = mux_flow_key_vni(k),
            .client = mux_flow_key_src(k),
            .client_port = k->sport,
            .vip = mux_flow_key_dst(k),
            .vip_port = k->dport,
            .protocol = k->proto,
            .backend_pa = t->pa,
            .backend_mac = t->mac,
            .lifetime = r->lifetime,
            .sequence = mux->redirect_sequence,
        };
        ofpbuf_clear(&buf);
        slb_redirect_encode(&msg, &mux->redirect_key, &buf);
        struct sockaddr_in sin = {
            .sin_family = AF_INET,
            .sin_addr.s_addr = r->host,
            .sin_port = htons(mux->redirect_key.port),
        };
        if (sendto(mux->redirect_fd, buf.data, buf.size, 0,
                   (struct sockaddr *) &sin, sizeof sin) < 0) {
            VLOG_WARN_RL(&rl, "redirect to "IP_FMT" not sent (%s)",
                         IP_ARGS(r->host), ovs_strerror(errno));
            mux->redirects_unsent++;
        } else {
            mux->redirects_sent++;
        }
    }
    ofpbuf_uninit(&buf);
    free(redirects);
}

/* BGP. */


/* Adds to 'bc' the public VIPs of which 'cfg' lets the mux serve some
 * flows: a rule of it has a backend of positive weight that is healthy, or
 * it has SNAT ports.  (Internal VIPs are addresses of virtual networks,
 * which routers must never hear of.) */
static void
add_servable_vips(const struct mux_config *cfg, struct mux_bgp_config *bc)
{
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct mux_rule *r = &cfg->rules[i];
        if (!r->vni
            && (r->type == MUX_RULE_NAT
                || (r->maglev && r->maglev->entries[0] != MAGLEV_NONE))) {
            mux_bgp_config_add_vip(bc, &r->vip);
        }
    }
    for (size_t i = 0; i < cfg->n_snats; i++) {
        const struct mux_snat *sn = &cfg->snats[i];
        if (sn->n) {
            mux_bgp_config_add_vip(bc, &sn->vip);
        }
    }
    /* The hosts reach the muxes that live at the shared address. */
    if (cfg->anycast) {
        struct in6_addr anycast = in6_addr_mapped_ipv4(cfg->anycast);
        mux_bgp_config_add_vip(bc, &anycast);
    }
}

/* Works out what gobgpd should do from the mux's row and configuration,
 * and has it done. */
static void
mux_run_bgp(struct slb_mux *mux)
{
    if (!mux->bgp) {
        return;
    }

    /* Without the database for a while, the mux cannot know that its
     * configuration is still right: it stops attracting traffic. */
    struct ovsdb_idl *idl = mux->idl_loop.idl;
    bool announce = !mux->exiting;
    if (mux->db.lost) {
        if (time_msec() - mux->db.lost >= db_loss_grace) {
            announce = false;
        } else {
            poll_timer_wait_until(mux->db.lost + db_loss_grace);
        }
    }
    if (announce != mux->bgp_announced
        || (mux->db.lost != 0) != mux->bgp_db_lost) {
        mux->bgp_dirty = true;
    }
    if (!mux->bgp_dirty) {
        return;
    }
    mux->bgp_dirty = false;

    const struct slbrec_mux *self = find_self(idl);
    const struct mux_config *cfg = current_config(mux);
    struct mux_bgp_config bc;
    mux_bgp_config_init(&bc);
    if (self && cfg) {
        ovs_be32 nexthop;
        const char *nh = smap_get_def(&self->options, "bgp-nexthop",
                                      self->pa);
        if (!ip_parse(nh, &nexthop)) {
            nexthop = cfg->underlay.pa;
        }
        bc.asn = self->local_as;
        bc.router_id = xstrdup(self->router_id);
        bc.listen_port = smap_get_int(&self->options, "bgp-listen-port",
                                      179);
        bc.listen_address = nullable_xstrdup(
            smap_get(&self->options, "bgp-listen-address"));
        bc.nexthop = in6_addr_mapped_ipv4(nexthop);
        if (!bgp_nexthop6(self, &bc.nexthop6)) {
            bc.nexthop6 = in6addr_any;
        }
        for (size_t i = 0; i < self->n_peers; i++) {
            const struct slbrec_bgp_peer *peer = self->peers[i];
            struct bgp_peer_config pc = {
                .address = peer->address,
                .remote_as = peer->remote_as,
                .password = peer->password,
                .hold_time = self->n_hold_time ? self->hold_time[0] : 0,
                .remote_port = smap_get_int(&peer->options, "port", 0),
                .passive = smap_get_bool(&peer->options, "passive", false),
            };
            mux_bgp_config_add_peer(&bc, &pc);
        }
        if (announce) {
            add_servable_vips(cfg, &bc);
        }
    }
    /* With no database and no row to say what BGP should be: keep the
     * sessions, withdraw the routes. */
    bool withdraw = !bc.asn && mux->db.lost;
    mux->bgp_announced = announce;
    mux->bgp_db_lost = mux->db.lost != 0;
    mux_bgp_worker_set(mux->bgp, &bc, withdraw);
    mux_bgp_config_destroy(&bc);
}

/* Writes what the mux has applied, and its state, into its Mux_Status
 * row. */
static void
mux_report(struct slb_mux *mux, struct ovsdb_idl_txn *txn)
{
    struct ovsdb_idl *idl = mux->idl_loop.idl;
    const struct slbrec_mux *self = find_self(idl);
    if (!self || ovsdb_idl_get_condition_seqno(idl) != mux->cond_seqno) {
        return;
    }
    const struct slbrec_mux_status *ms = slbrec_mux_status_first(idl);
    if (!ms) {
        struct slbrec_mux_status *new_ms = slbrec_mux_status_insert(txn);
        slbrec_mux_status_set_name(new_ms, mux_name);
        ms = new_ms;
    }

    /* The configuration built from the current contents of the database
     * applies every nb_cfg up to the current one. */
    const struct mux_config *cfg = current_config(mux);
    const struct slbrec_slb_global *global = slbrec_slb_global_first(idl);
    if (cfg && global && mux->config_seqno == ovsdb_idl_get_seqno(idl)
        && ms->nb_cfg != global->nb_cfg) {
        slbrec_mux_status_set_nb_cfg(ms, global->nb_cfg);
        slbrec_mux_status_set_nb_cfg_timestamp(ms, time_wall_msec());
    }

    /* The path probes' verdicts: the ways down by name, the others
     * counted, so that the row stays small with 10,000 VIPs on 100
     * hosts. */
    if (mux->path_states_dirty) {
        smap_clear(&mux->path_down);
        mux_path_prober_states(mux->prober, &mux->path_down,
                               &mux->path_counts);
        mux->path_states_dirty = false;
    }

    struct smap status = SMAP_INITIALIZER(&status);
    smap_add(&status, "state", (cfg
                                ? (mux->problems ? "degraded" : "active")
                                : "waiting"));
    if (mux->problems) {
        smap_add(&status, "problems", mux->problems);
    }
    if (mux->prober) {
        smap_add_format(&status, "paths-up", "%"PRIuSIZE,
                        mux->path_counts.up);
        smap_add_format(&status, "paths-down", "%"PRIuSIZE,
                        mux->path_counts.down);
    }
    if (!smap_equal(&status, &ms->status)) {
        slbrec_mux_status_set_status(ms, &status);
        ovsdb_idl_txn_add_comment(txn, "slb-mux %s: state %s", mux_name,
                                  smap_get(&status, "state"));
    }
    smap_destroy(&status);

    /* Each peer's session state, as gobgpd reports it. */
    struct smap states = SMAP_INITIALIZER(&states);
    if (mux->bgp) {
        mux_bgp_worker_peer_states(mux->bgp, &states);
    }
    struct smap peers = SMAP_INITIALIZER(&peers);
    for (size_t i = 0; mux->bgp && i < self->n_peers; i++) {
        const char *address = self->peers[i]->address;
        smap_replace(&peers, address,
                     smap_get_def(&states, address, "unknown"));
    }
    smap_destroy(&states);
    if (!smap_equal(&peers, &ms->peer_states)) {
        slbrec_mux_status_set_peer_states(ms, &peers);
    }
    smap_destroy(&peers);

    /* The ways down, until the database has them. */
    if (!smap_equal(&mux->path_down, &ms->path_states)) {
        slbrec_mux_status_set_path_states(ms, &mux->path_down);
    }
}

/* Control commands. */

static void
cmd_exit(struct unixctl_conn *conn, int argc OVS_UNUSED,
         const char *argv[] OVS_UNUSED, void *mux_)
{
    struct slb_mux *mux = mux_;
    mux->exiting = true;
    unixctl_command_reply(conn, NULL);
}

static void
put_id_counts(struct ds *s, const char *what, const struct mux_id_map *map)
{
    size_t n_used, n_held, n_free;
    mux_id_map_count(map, &n_used, &n_held, &n_free);
    ds_put_format(s, "%s: %"PRIuSIZE" in use, %"PRIuSIZE" held, %"PRIuSIZE
                  " free\n", what, n_used, n_held, n_free);
}

static void
cmd_show(struct unixctl_conn *conn, int argc OVS_UNUSED,
         const char *argv[] OVS_UNUSED, void *mux_)
{
    struct slb_mux *mux = mux_;
    const struct mux_config *cfg = current_config(mux);
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "mux %s: interface %s (%s), MAC "ETH_ADDR_FMT
                  ", MTU %d\n", mux_name, iface_name, iface_type,
                  ETH_ADDR_ARGS(mux->underlay.mac), mux->underlay.mtu);
    long long int lost = db_watch_lost_msec(&mux->db);
    if (lost >= 0) {
        ds_put_format(&s, "database %s: lost %lld ms ago\n", db_remote,
                      lost);
    }
    if (!cfg) {
        ds_put_format(&s, "no configuration applied%s%s\n",
                      mux->problems ? ": " : "",
                      mux->problems ? mux->problems : "");
        unixctl_command_reply(conn, ds_cstr(&s));
        ds_destroy(&s);
        return;
    }

    ds_put_format(&s, "configuration %"PRId64", PA "IP_FMT", next hop "
                  ETH_ADDR_FMT", hash seed %"PRIu32"\n", cfg->nb_cfg,
                  IP_ARGS(cfg->underlay.pa),
                  ETH_ADDR_ARGS(cfg->underlay.nexthop), cfg->seed);
    ds_put_format(&s, "configurations built: %u\n", mux->n_builds);
    if (mux->metrics) {
        ds_put_format(&s, "metrics: %s\n", slb_metrics_url(mux->metrics));
    }
    ds_put_format(&s, "load-balancing rules worked out in the last build: "
                  "%"PRIuSIZE"\n", mux_rule_cache_n_built(mux->rule_cache));
    ds_put_format(&s, "the last build: %s\n",
                  (mux_rule_cache_patched(mux->rule_cache)
                   ? "patched the configuration before" : "whole"));
    put_id_counts(&s, "backend ids", &mux->ids.backends);
    put_id_counts(&s, "statistics ids", &mux->ids.stats);

    /* Rules, sorted by name, each with its backends. */
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct mux_rule *r = &cfg->rules[i];
        struct ds line = DS_EMPTY_INITIALIZER;
        static const char *const dists[] = { "5-tuple", "3-tuple",
                                             "2-tuple" };

        char buf[SLB_ADDR_STRLEN];
        ds_put_format(&line, "rule %s: %s %s %u", r->name,
                      slb_addr_to_string(&r->vip, buf),
                      r->proto == IPPROTO_TCP ? "tcp"
                      : r->proto == IPPROTO_UDP ? "udp" : "all", r->port);
        if (r->type == MUX_RULE_NAT) {
            const struct mux_target *t = cfg->targets[r->backend];
            ds_put_format(&line, ", inbound NAT to %s on "IP_FMT
                          " vni %"PRIu32"\n", slb_addr_to_string(&t->ca, buf),
                          IP_ARGS(t->pa), t->vni);
        } else {
            const struct mux_maglev *m = r->maglev;
            ds_put_format(&line, ", %s, Maglev table of %"PRIu32" entries,"
                          " idle timeout %"PRIu32" s%s\n",
                          dists[r->distribution], m->size,
                          r->idle_timeout / 1000,
                          (r->failed_open
                           ? ", every backend probed down: all serve" : ""));
            uint32_t *counts = xcalloc(m->n + 1, sizeof *counts);
            for (uint32_t e = 0; e < m->size; e++) {
                if (m->entries[e] < m->n) {
                    counts[m->entries[e]]++;
                }
            }
            for (size_t j = 0; j < m->n; j++) {
                const struct mux_target *t = cfg->targets[m->ids[j]];
                ds_put_format(&line, "    backend %s on "IP_FMT
                              " vni %"PRIu32": weight %"PRIu32", %"PRIu32
                              " entries", slb_addr_to_string(&t->ca, buf),
                              IP_ARGS(t->pa), t->vni, m->weights[j],
                              counts[j]);
                if (r->states[j] != SLB_BACKEND_UP) {
                    ds_put_format(&line, ", %s",
                                  slb_backend_state_name(r->states[j]));
                }
                ds_put_char(&line, '\n');
            }
            free(counts);
        }
        svec_add_nocopy(&lines, ds_steal_cstr(&line));
    }
    for (size_t i = 0; i < cfg->n_snats; i++) {
        const struct mux_snat *sn = &cfg->snats[i];
        struct ds line = DS_EMPTY_INITIALIZER;
        char buf[SLB_ADDR_STRLEN];
        ds_put_format(&line, "snat %s: %s %s, %"PRIuSIZE
                      " port ranges\n", sn->rule_name,
                      slb_addr_to_string(&sn->vip, buf),
                      sn->proto == IPPROTO_TCP ? "tcp" : "udp", sn->n);
        svec_add_nocopy(&lines, ds_steal_cstr(&line));
    }
    svec_sort(&lines);
    for (size_t i = 0; i < lines.n; i++) {
        ds_put_cstr(&s, lines.names[i]);
    }
    svec_destroy(&lines);

    for (int i = 0; i < n_threads; i++) {
        const struct mux_flow_table *flows = &mux->threads[i].pmd.flows;
        uint32_t n_est, n_new;
        mux_flow_count(flows, time_msec(), &n_est, &n_new);
        ds_put_format(&s, "thread %d flow table: %"PRIu32" established of "
                      "%"PRIu32", %"PRIu32" new of %"PRIu32" per family "
                      "(%d bytes per IPv4 entry, %d per IPv6)\n", i, n_est,
                      (flows->est.mask + 1) * MUX_FLOW_WAYS, n_new,
                      (flows->new.mask + 1) * MUX_FLOW_WAYS,
                      MUX_FLOW4_SIZE, MUX_FLOW6_SIZE);
    }
    if (mux->problems) {
        ds_put_format(&s, "problems: %s\n", mux->problems);
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* The counters of every packet thread, added up. */
struct mux_totals {
    uint64_t drops[MUX_N_DROPS];
    struct mux_flow_stats flows;
    struct mux_rule_stats forwarded;    /* By every rule, gone ones too. */
    uint64_t icmp_errors;               /* Taken for their connections'. */
    uint64_t fragments;                 /* Forwarded... */
    uint64_t fragments_to_muxes;        /* ...and sent to other muxes. */
    uint64_t candidate_segments;        /* Sent to several hosts... */
    uint64_t candidate_copies;          /* ...in so many packets... */
    uint64_t candidate_copies_lost;     /* ...and copies not sent. */
    struct mux_rule_stats *rules;       /* Indexed by stats id. */
    size_t n_rules;
};

static void
add_rule_stats(struct mux_rule_stats *sum, const struct mux_rule_stats *rs)
{
    sum->packets += rs->packets;
    sum->bytes += rs->bytes;
    sum->new_flows += rs->new_flows;
}

/* Adds up the counters of every packet thread into 'tot'.  A thread's
 * counters of a rule count only if they count for the rule that has the
 * id in 'cfg': a thread that has not yet run with 'cfg' may still hold the
 * counts of a rule that had it before. */
static void
sum_threads(const struct slb_mux *mux, const struct mux_config *cfg,
            struct mux_totals *tot)
{
    memset(tot, 0, sizeof *tot);
    for (int i = 0; i < n_threads; i++) {
        struct mux_thread *t = &mux->threads[i];
        const struct mux_pmd *pmd = &t->pmd;

        for (int d = 0; d < MUX_N_DROPS; d++) {
            tot->drops[d] += pmd->drops[d];
        }
        const struct mux_flow_stats *fs = &pmd->flows.stats;
        tot->flows.hits += fs->hits;
        tot->flows.misses += fs->misses;
        tot->flows.inserted += fs->inserted;
        tot->flows.promoted += fs->promoted;
        tot->flows.evicted_new += fs->evicted_new;
        tot->flows.established_full += fs->established_full;
        tot->flows.expired += fs->expired;
        tot->icmp_errors += pmd->icmp_errors;
        tot->fragments += pmd->fragments;
        tot->fragments_to_muxes += pmd->fragments_to_muxes;
        tot->candidate_segments += pmd->candidate_segments;
        tot->candidate_copies += pmd->candidate_copies;
        tot->candidate_copies_lost += pmd->candidate_copies_lost;

        ovs_mutex_lock(&t->stats_mutex);
        if (pmd->n_rule_stats > tot->n_rules) {
            tot->rules = xrealloc(tot->rules, pmd->n_rule_stats
                                  * sizeof *tot->rules);
            memset(&tot->rules[tot->n_rules], 0,
                   (pmd->n_rule_stats - tot->n_rules) * sizeof *tot->rules);
            tot->n_rules = pmd->n_rule_stats;
        }
        add_rule_stats(&tot->forwarded, &pmd->retired);
        for (size_t r = 0; r < pmd->n_rule_stats; r++) {
            const struct mux_rule_stats *rs = &pmd->rule_stats[r];
            add_rule_stats(&tot->forwarded, rs);
            if (cfg && r < cfg->n_stats_ids
                && pmd->rule_stats_epochs[r]
                   == mux_config_stats_epoch(cfg, r)) {
                add_rule_stats(&tot->rules[r], rs);
            }
        }
        ovs_mutex_unlock(&t->stats_mutex);
    }
}

static const struct mux_rule_stats *
rule_stats(const struct mux_totals *tot, uint32_t stats_id)
{
    static const struct mux_rule_stats zero;
    return stats_id < tot->n_rules ? &tot->rules[stats_id] : &zero;
}

static void
cmd_stats(struct unixctl_conn *conn, int argc OVS_UNUSED,
          const char *argv[] OVS_UNUSED, void *mux_)
{
    struct slb_mux *mux = mux_;
    struct mux_totals tot;
    struct ds s = DS_EMPTY_INITIALIZER;

    const struct mux_config *cfg = current_config(mux);
    sum_threads(mux, cfg, &tot);

    /* Every forwarded packet counts against one rule, with its IPv4
     * length; it left with an Ethernet header and the encapsulation. */
    uint64_t tx_packets = tot.forwarded.packets;
    uint64_t tx_bytes = (tot.forwarded.bytes
                         + tx_packets * (ETH_HEADER_LEN + MUX_ENCAP_LEN));
    ds_put_format(&s, "forwarded: %"PRIu64" packets, %"PRIu64" bytes\n",
                  tx_packets, tx_bytes);
    ds_put_format(&s, "ICMP errors for connections: %"PRIu64"\n",
                  tot.icmp_errors);
    ds_put_format(&s, "fragments forwarded: %"PRIu64"\n", tot.fragments);
    struct mux_frags_usage fu;
    mux_frags_usage(mux->frags, &fu);
    ds_put_format(&s, "fragments sent to the muxes that place their "
                  "datagrams: %"PRIu64"\n", tot.fragments_to_muxes);
    ds_put_format(&s, "fragment table: %"PRIuSIZE" datagrams (of %"PRIuSIZE
                  "), %"PRIuSIZE" fragments waiting (of %"PRIuSIZE")\n",
                  fu.datagrams, fu.max_datagrams, fu.held, fu.max_held);
    ds_put_format(&s, "segments of unknown connections sent to each "
                  "candidate host: %"PRIu64" (%"PRIu64" packets, %"PRIu64
                  " copies without room)\n", tot.candidate_segments,
                  tot.candidate_copies, tot.candidate_copies_lost);
    ovs_mutex_lock(&mux->handover_mutex);
    uint64_t lost = mux->redirects_lost;
    ovs_mutex_unlock(&mux->handover_mutex);
    ds_put_format(&s, "fastpath redirects: %"PRIu64" sent, %"PRIu64
                  " not sent\n", mux->redirects_sent,
                  mux->redirects_unsent + lost);
    ds_put_cstr(&s, "dropped:\n");
    for (int i = 0; i < MUX_N_DROPS; i++) {
        ds_put_format(&s, "  %-12s %"PRIu64"\n", mux_drop_name(i),
                      tot.drops[i]);
    }
    const struct mux_flow_stats *fs = &tot.flows;
    ds_put_format(&s, "flow table: %"PRIu64" hits, %"PRIu64" misses, "
                  "%"PRIu64" inserted, %"PRIu64" promoted, %"PRIu64
                  " new evicted, %"PRIu64" established full, %"PRIu64
                  " expired\n", fs->hits, fs->misses, fs->inserted,
                  fs->promoted, fs->evicted_new, fs->established_full,
                  fs->expired);

    if (cfg) {
        struct svec lines = SVEC_EMPTY_INITIALIZER;
        for (size_t i = 0; i < cfg->n_rules; i++) {
            const struct mux_rule *r = &cfg->rules[i];
            const struct mux_rule_stats *rs = rule_stats(&tot, r->stats_id);
            svec_add_nocopy(&lines, xasprintf(
                                "  %s: %"PRIu64" packets, %"PRIu64
                                " bytes, %"PRIu64" new flows\n", r->name,
                                rs->packets, rs->bytes, rs->new_flows));
        }
        for (size_t i = 0; i < cfg->n_snats; i++) {
            const struct mux_snat *sn = &cfg->snats[i];
            const struct mux_rule_stats *rs = rule_stats(&tot, sn->stats_id);
            svec_add_nocopy(&lines, xasprintf(
                                "  %s (SNAT return): %"PRIu64" packets, "
                                "%"PRIu64" bytes\n", sn->rule_name,
                                rs->packets, rs->bytes));
        }
        svec_sort_unique(&lines);
        ds_put_cstr(&s, "rules:\n");
        for (size_t i = 0; i < lines.n; i++) {
            ds_put_cstr(&s, lines.names[i]);
        }
        svec_destroy(&lines);
    }
    free(tot.rules);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* Metrics (--metrics): see lib/metrics.h. */

/* Writes the sample of metric 'name' for the rule named 'rule' of 'vip'
 * (0: none) and 'kind': the field at 'offset' of its statistics 'rs'. */
static void
rule_sample(struct ds *out, const char *name,
            const struct mux_rule_stats *rs, size_t offset, const char *rule,
            const struct in6_addr *vip, const char *kind)
{
    char vip_s[SLB_ADDR_STRLEN] = "";
    if (vip) {
        slb_addr_to_string(vip, vip_s);
    }
    slb_metrics_sample(out, name,
                       *(const uint64_t *) ((const char *) rs + offset),
                       "rule", rule, "vip", vip_s, "kind", kind, NULL);
}

/* Writes a counter family 'name' of one sample per load-balancing and
 * inbound NAT rule (and with 'snat_too' per outbound rule's SNAT return)
 * of 'cfg', each the field of struct mux_rule_stats at 'offset' of 'tot'.
 * An outbound rule counts its replies once, over all its VIPs and
 * protocols: its sample has no VIP. */
static void
rule_metric(struct ds *out, const struct mux_config *cfg,
            const struct mux_totals *tot, const char *name, const char *help,
            size_t offset, bool snat_too)
{
    slb_metrics_family(out, name, "counter", help);
    for (size_t i = 0; cfg && i < cfg->n_rules; i++) {
        const struct mux_rule *r = &cfg->rules[i];
        rule_sample(out, name, rule_stats(tot, r->stats_id), offset, r->name,
                    &r->vip, r->type == MUX_RULE_NAT ? "nat" : "lb");
    }
    struct sset seen = SSET_INITIALIZER(&seen);
    for (size_t i = 0; snat_too && cfg && i < cfg->n_snats; i++) {
        const struct mux_snat *sn = &cfg->snats[i];
        if (sset_add(&seen, sn->rule_name)) {
            rule_sample(out, name, rule_stats(tot, sn->stats_id), offset,
                        sn->rule_name, NULL, "snat");
        }
    }
    sset_destroy(&seen);
}

static void
build_metrics(struct ds *out, void *mux_)
{
    struct slb_mux *mux = mux_;
    const struct mux_config *cfg = current_config(mux);
    struct mux_totals tot;
    sum_threads(mux, cfg, &tot);

    rule_metric(out, cfg, &tot, "slb_mux_rule_packets_total",
                "Packets forwarded by each rule.",
                offsetof(struct mux_rule_stats, packets), true);
    rule_metric(out, cfg, &tot, "slb_mux_rule_bytes_total",
                "IPv4 bytes forwarded by each rule.",
                offsetof(struct mux_rule_stats, bytes), true);
    rule_metric(out, cfg, &tot, "slb_mux_rule_new_flows_total",
                "New flows that each rule gave a backend.",
                offsetof(struct mux_rule_stats, new_flows), false);

    slb_metrics_put(out, "slb_mux_forwarded_packets_total", "counter",
                    "Packets forwarded, by every rule, gone ones too.",
                    tot.forwarded.packets);
    slb_metrics_family(out, "slb_mux_dropped_packets_total", "counter",
                       "Packets dropped, by reason.");
    for (int i = 0; i < MUX_N_DROPS; i++) {
        slb_metrics_sample(out, "slb_mux_dropped_packets_total",
                           tot.drops[i], "reason", mux_drop_name(i), NULL);
    }
    slb_metrics_put(out, "slb_mux_icmp_errors_total", "counter",
                    "ICMP errors sent to the backend of the connection "
                    "that they quote.",
                    tot.icmp_errors);
    slb_metrics_put(out, "slb_mux_fragments_total", "counter",
                    "Fragments of TCP and UDP datagrams forwarded.",
                    tot.fragments);
    slb_metrics_put(out, "slb_mux_fragments_to_muxes_total", "counter",
                    "Fragments sent to the mux that places their datagram.",
                    tot.fragments_to_muxes);
    slb_metrics_put(out, "slb_mux_candidate_segments_total", "counter",
                    "TCP segments of connections that the mux did not "
                    "know, sent to each host that the tables' candidate "
                    "backends have.", tot.candidate_segments);
    slb_metrics_put(out, "slb_mux_candidate_copies_total", "counter",
                    "Packets that those segments were sent in.",
                    tot.candidate_copies);
    slb_metrics_put(out, "slb_mux_candidate_copies_lost_total", "counter",
                    "Copies of those segments that found no room in "
                    "their thread's batch.", tot.candidate_copies_lost);
    ovs_mutex_lock(&mux->handover_mutex);
    uint64_t lost = mux->redirects_lost;
    ovs_mutex_unlock(&mux->handover_mutex);
    slb_metrics_put(out, "slb_mux_redirects_sent_total", "counter",
                    "Fastpath redirects sent to client VMs' hosts.",
                    mux->redirects_sent);
    if (mux->prober) {
        mux_path_prober_metrics(mux->prober, out);
        ovs_mutex_lock(&mux->handover_mutex);
        uint64_t answers_lost = mux->path_answers_lost;
        ovs_mutex_unlock(&mux->handover_mutex);
        slb_metrics_put(out, "slb_mux_path_answers_lost_total", "counter",
                        "Answers to data-path probes that found no room "
                        "on their way to the prober.", answers_lost);
    }
    slb_metrics_put(out, "slb_mux_redirects_unsent_total", "counter",
                    "Fastpath redirects not sent: no key, a send error, or "
                    "too many waiting.", mux->redirects_unsent + lost);

    static const struct {
        const char *name;
        const char *help;
        size_t offset;
    } flow_counters[] = {
#define FLOW_COUNTER(FIELD, HELP) \
        { "slb_mux_flow_table_" #FIELD "_total", HELP, \
          offsetof(struct mux_flow_stats, FIELD) }
        FLOW_COUNTER(hits, "Packets whose flow the flow table knew."),
        FLOW_COUNTER(misses, "Packets whose flow it did not know."),
        FLOW_COUNTER(inserted, "New flows inserted."),
        FLOW_COUNTER(promoted, "Flows promoted to established."),
        FLOW_COUNTER(evicted_new, "New flows evicted to make room."),
        FLOW_COUNTER(established_full,
                     "Flows not promoted: established region full."),
        FLOW_COUNTER(expired, "Flows found expired."),
#undef FLOW_COUNTER
    };
    for (size_t i = 0; i < ARRAY_SIZE(flow_counters); i++) {
        slb_metrics_put(out, flow_counters[i].name, "counter",
                        flow_counters[i].help,
                        *(const uint64_t *) ((const char *) &tot.flows
                                             + flow_counters[i].offset));
    }
    free(tot.rules);

    slb_metrics_family(out, "slb_mux_flow_table_entries", "gauge",
                       "Live entries of each thread's flow table, by "
                       "region.");
    for (int i = 0; i < n_threads; i++) {
        uint32_t n_est, n_new;
        mux_flow_count(&mux->threads[i].pmd.flows, time_msec(), &n_est,
                       &n_new);
        char thread[16];
        snprintf(thread, sizeof thread, "%d", i);
        slb_metrics_sample(out, "slb_mux_flow_table_entries", n_est,
                           "thread", thread, "region", "established", NULL);
        slb_metrics_sample(out, "slb_mux_flow_table_entries", n_new,
                           "thread", thread, "region", "new", NULL);
    }
    slb_metrics_family(out, "slb_mux_flow_table_capacity", "gauge",
                       "Entries of each thread's flow table, by region.");
    for (int i = 0; i < n_threads; i++) {
        const struct mux_flow_table *flows = &mux->threads[i].pmd.flows;
        char thread[16];
        snprintf(thread, sizeof thread, "%d", i);
        slb_metrics_sample(out, "slb_mux_flow_table_capacity",
                           (flows->est.mask + 1) * MUX_FLOW_WAYS,
                           "thread", thread, "region", "established", NULL);
        slb_metrics_sample(out, "slb_mux_flow_table_capacity",
                           (flows->new.mask + 1) * MUX_FLOW_WAYS,
                           "thread", thread, "region", "new", NULL);
    }

    slb_metrics_family(out, "slb_mux_bgp_peer_established", "gauge",
                       "1 if the BGP session with the peer is "
                       "established.");
    if (mux->bgp) {
        struct smap states = SMAP_INITIALIZER(&states);
        mux_bgp_worker_peer_states(mux->bgp, &states);
        const struct smap_node **peers = smap_sort(&states);
        for (size_t i = 0; i < smap_count(&states); i++) {
            slb_metrics_sample(out, "slb_mux_bgp_peer_established",
                               !strcmp(peers[i]->value, "established"),
                               "peer", peers[i]->key, NULL);
        }
        free(peers);
        smap_destroy(&states);
    }

    slb_metrics_put(out, "slb_mux_bgp_announced_vips", "gauge",
                    "VIPs that the mux's gobgpd announces.",
                    mux->bgp ? mux_bgp_worker_n_announced(mux->bgp) : 0);

    slb_metrics_family(out, "slb_mux_backend_weight", "gauge",
                       "Each backend's weight in each load-balancing rule's "
                       "table, by whether it takes new flows and why not.");
    for (size_t i = 0; cfg && i < cfg->n_rules; i++) {
        const struct mux_rule *r = &cfg->rules[i];
        const struct mux_maglev *m = r->type == MUX_RULE_LB ? r->maglev : NULL;
        for (size_t j = 0; m && j < m->n; j++) {
            const struct mux_target *t = (m->ids[j] < cfg->n_targets
                                          ? cfg->targets[m->ids[j]] : NULL);
            if (!t) {
                continue;
            }
            char ca[SLB_ADDR_STRLEN];
            slb_addr_to_string(&t->ca, ca);
            slb_metrics_sample(out, "slb_mux_backend_weight", m->weights[j],
                               "rule", r->name, "backend", ca,
                               "state", slb_backend_state_name(r->states[j]),
                               NULL);
        }
    }

    slb_metrics_put(out, "slb_mux_rules", "gauge",
                    "Load-balancing and inbound NAT rules in force.",
                    cfg ? cfg->n_rules : 0);
    slb_metrics_put(out, "slb_mux_configuration", "gauge",
                    "The nb_cfg of the configuration in force.",
                    cfg ? cfg->nb_cfg : 0);
    slb_metrics_put(out, "slb_mux_configurations_built_total", "counter",
                    "Configurations built from the database.",
                    mux->n_builds);
    slb_metrics_put(out, "slb_mux_database_connected", "gauge",
                    "1 while the mux has its database.",
                    db_watch_lost_msec(&mux->db) < 0);
}

struct flows_aux {
    const struct mux_config *cfg;
    struct svec *lines;
};

static void
flows_cb(const struct mux_flow_key *key, const struct mux_flow *f,
         bool established, void *aux_)
{
    struct flows_aux *aux = aux_;
    const struct mux_target *t = (aux->cfg && f->backend < aux->cfg->n_targets
                                  ? aux->cfg->targets[f->backend] : NULL);
    char backend[SLB_ADDR_STRLEN];

    if (t) {
        slb_addr_to_string(&t->ca, backend);
    } else {
        snprintf(backend, sizeof backend, "(gone)");
    }
    struct ds line = DS_EMPTY_INITIALIZER;
    ds_put_format(&line, "proto %u ", key->proto);
    struct in6_addr src = mux_flow_key_src(key);
    struct in6_addr dst = mux_flow_key_dst(key);
    mux_put_endpoint(&line, &src, ntohs(key->sport));
    ds_put_cstr(&line, " -> ");
    mux_put_endpoint(&line, &dst, ntohs(key->dport));
    uint32_t vni = mux_flow_key_vni(key);
    if (vni) {
        ds_put_format(&line, " vni %"PRIu32, vni);
    }
    ds_put_format(&line, " backend %s %s\n", backend,
                  established ? "established" : "new");
    svec_add_nocopy(aux->lines, ds_steal_cstr(&line));
}

static void
cmd_flows(struct unixctl_conn *conn, int argc OVS_UNUSED,
          const char *argv[] OVS_UNUSED, void *mux_)
{
    struct slb_mux *mux = mux_;
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    struct flows_aux aux = { current_config(mux), &lines };

    for (int i = 0; i < n_threads; i++) {
        mux_flow_visit(&mux->threads[i].pmd.flows, time_msec(), flows_cb,
                       &aux);
    }
    svec_sort(&lines);
    char *reply = svec_join(&lines, "", "");
    unixctl_command_reply(conn, reply);
    free(reply);
    svec_destroy(&lines);
}

/* "slb-mux/trace HEX": what the mux would do with the Ethernet frame whose
 * bytes HEX gives, without changing any state. */
static void
cmd_trace(struct unixctl_conn *conn, int argc OVS_UNUSED,
          const char *argv[], void *mux_)
{
    struct slb_mux *mux = mux_;
    struct dp_packet *packet;

    const char *error = eth_from_hex(argv[1], &packet);
    if (error) {
        char *msg = xasprintf("expected an Ethernet frame in hexadecimal "
                              "(%s)", error);
        unixctl_command_reply_error(conn, msg);
        free(msg);
        return;
    }

    struct ds s = DS_EMPTY_INITIALIZER;
    struct mux_pmd **pmds = xmalloc(n_threads * sizeof *pmds);
    for (int i = 0; i < n_threads; i++) {
        pmds[i] = &mux->threads[i].pmd;
    }
    mux_dp_trace(pmds, n_threads, current_config(mux), packet, time_msec(),
                 &s, NULL);
    free(pmds);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
    dp_packet_delete(packet);
}

static void
cmd_bgp(struct unixctl_conn *conn, int argc OVS_UNUSED,
        const char *argv[] OVS_UNUSED, void *mux_)
{
    struct slb_mux *mux = mux_;
    struct ds s = DS_EMPTY_INITIALIZER;

    if (mux->bgp) {
        mux_speaker_show(mux->speaker, &s);
        mux_bgp_worker_show(mux->bgp, &s);
    } else {
        ds_put_cstr(&s, "BGP is off: slb-mux runs without --bgp\n");
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* "slb-mux/stall MS": holds the main loop for MS milliseconds, as a call
 * that does not return would, for tests of the watchdog. */
static void
cmd_stall(struct unixctl_conn *conn, int argc OVS_UNUSED, const char *argv[],
          void *aux OVS_UNUSED)
{
    int ms;
    if (!str_to_int(argv[1], 10, &ms) || ms < 0 || ms > 60000) {
        unixctl_command_reply_error(conn, "invalid time: expected 0 to 60000 "
                                    "ms");
        return;
    }
    xnanosleep((uint64_t) ms * 1000 * 1000);
    unixctl_command_reply(conn, NULL);
}

/* Builds the configuration again from the database, from scratch, with
 * no Maglev table of the configuration in force, and replies with how the
 * two differ: nothing, if the configuration built change after change is
 * the one that the database makes. */
static void
cmd_recompute(struct unixctl_conn *conn, int argc OVS_UNUSED,
              const char *argv[] OVS_UNUSED, void *mux_)
{
    struct slb_mux *mux = mux_;
    struct ovsdb_idl *idl = mux->idl_loop.idl;
    const struct mux_config *cfg = current_config(mux);
    const struct slbrec_mux *self = find_self(idl);
    if (!cfg || !self || mux->config_seqno != ovsdb_idl_get_seqno(idl)) {
        unixctl_command_reply_error(conn, "no configuration of the "
                                    "database's current contents");
        return;
    }

    struct ds problems = DS_EMPTY_INITIALIZER;
    struct mux_config *fresh = mux_config_from_idl(idl, self, &cfg->underlay,
                                                   &mux->ids, NULL, NULL,
                                                   &problems);
    ds_destroy(&problems);
    struct ds diff = DS_EMPTY_INITIALIZER;
    mux_config_diff(cfg, fresh, &diff);
    mux_config_destroy(fresh);
    unixctl_command_reply(conn, ds_cstr(&diff));
    ds_destroy(&diff);
}

static void
cmd_paths(struct unixctl_conn *conn, int argc OVS_UNUSED,
          const char *argv[] OVS_UNUSED, void *mux_)
{
    struct slb_mux *mux = mux_;
    if (!mux->prober) {
        unixctl_command_reply(conn, "path probes: off\n");
        return;
    }
    struct ds s = DS_EMPTY_INITIALIZER;
    mux_path_prober_format(mux->prober, &s);
    ovs_mutex_lock(&mux->handover_mutex);
    uint64_t lost = mux->path_answers_lost;
    ovs_mutex_unlock(&mux->handover_mutex);
    if (lost) {
        ds_put_format(&s, "answers lost on their way: %"PRIu64"\n", lost);
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
register_commands(struct slb_mux *mux)
{
    unixctl_command_register("slb-mux/bgp", "", 0, 0, cmd_bgp, mux);
    unixctl_command_register("exit", "", 0, 0, cmd_exit, mux);
    unixctl_command_register("slb-mux/show", "", 0, 0, cmd_show, mux);
    unixctl_command_register("slb-mux/stats", "", 0, 0, cmd_stats, mux);
    unixctl_command_register("slb-mux/flows", "", 0, 0, cmd_flows, mux);
    unixctl_command_register("slb-mux/paths", "", 0, 0, cmd_paths, mux);
    unixctl_command_register("slb-mux/trace", "HEX-FRAME", 1, 1, cmd_trace,
                             mux);
    unixctl_command_register("slb-mux/stall", "MS", 1, 1, cmd_stall, NULL);
    unixctl_command_register("slb-mux/recompute", "", 0, 0, cmd_recompute,
                             mux);
}

/* Command line. */

static void
usage(void)
{
    printf("%s: OVS-SLB mux\n"
           "usage: %s [OPTIONS] [DATABASE]\n"
           "DATABASE is the SLB database (default: $SLB_DB or "
           "unix:%s/slb_db.sock).\n"
           "\nMux options:\n"
           "  --name=NAME             this mux's name in the database "
           "(required)\n"
           "  --interface=NAME        interface for traffic (required)\n"
           "  --interface-type=TYPE   netdev type: afxdp, system, dummy, "
           "dummy-pmd (default: system)\n"
           "  --interface-option=K=V  an interface option (repeatable)\n"
           "  --flow-table-size=N     established flows per thread "
           "(default: 1048576)\n"
           "  --new-flow-table-size=N new flows per thread "
           "(default: 262144)\n"
           "  --new-flow-timeout=MS   life of a flow's first packet "
           "(default: 5000)\n"
           "  --threads=N             packet threads, one receive queue "
           "each (default: 1)\n"
           "  --busy-poll             packet threads poll without "
           "sleeping\n"
           "  --bgp=HOST:PORT         announce VIPs through the gobgpd "
           "whose gRPC API is there\n"
           "  --gobgpd[=PROGRAM]      run that gobgpd as a child, which "
           "ends with the mux\n"
           "  --gobgpd-log=FILE       where that gobgpd logs (default: the "
           "mux's standard error)\n"
           "  --gobgpd-user=USER[:GROUP]  run that gobgpd as USER, with "
           "no capability but\n"
           "                          CAP_NET_BIND_SERVICE\n"
           "  --db-loss-grace=MS      keep announcing this long without "
           "the database (default: 10000)\n"
           "  --path-probe-interval=MS  probe each VIP's way to each host "
           "this often\n"
           "                          (default: 5000; 0: never)\n"
           "  --metrics=[ADDR:]PORT   serve Prometheus metrics at "
           "http://ADDR:PORT/metrics\n"
           "                          (ADDR default 127.0.0.1; PORT 0: "
           "any free port)\n"
           "  --history=FILE          keep the rules' past tables there "
           "across restarts\n"
           "                          (default: %s/slb-mux.NAME.history)\n"
           "  --no-history            keep them only in memory\n",
           program_name, program_name, ovs_rundir(), ovs_rundir());
    daemon_usage();
    vlog_usage();
    stream_usage("DATABASE", true, false, true);
    printf("\nOther options:\n"
           "  --unixctl=SOCKET        override default control socket name\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n");
    exit(EXIT_SUCCESS);
}

static uint32_t
parse_count(const char *option, const char *arg, uint32_t min, uint32_t max)
{
    unsigned int value;
    if (!str_to_uint(arg, 10, &value) || value < min || value > max) {
        ovs_fatal(0, "invalid --%s \"%s\": expected %"PRIu32" to %"PRIu32,
                  option, arg, min, max);
    }
    return value;
}

static void
parse_options(int argc, char *argv[])
{
    const char *gobgpd_user_spec = NULL;
    enum {
        OPT_NAME = UCHAR_MAX + 1,
        OPT_INTERFACE,
        OPT_INTERFACE_TYPE,
        OPT_INTERFACE_OPTION,
        OPT_FLOW_TABLE_SIZE,
        OPT_NEW_FLOW_TABLE_SIZE,
        OPT_NEW_FLOW_TIMEOUT,
        OPT_THREADS,
        OPT_BGP,
        OPT_GOBGPD,
        OPT_GOBGPD_LOG,
        OPT_GOBGPD_USER,
        OPT_METRICS,
        OPT_DB_LOSS_GRACE,
        OPT_PATH_PROBE_INTERVAL,
        OPT_BUSY_POLL,
        OPT_UNIXCTL,
        OPT_HISTORY,
        OPT_NO_HISTORY,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
        SSL_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"name", required_argument, NULL, OPT_NAME},
        {"interface", required_argument, NULL, OPT_INTERFACE},
        {"interface-type", required_argument, NULL, OPT_INTERFACE_TYPE},
        {"interface-option", required_argument, NULL, OPT_INTERFACE_OPTION},
        {"flow-table-size", required_argument, NULL, OPT_FLOW_TABLE_SIZE},
        {"new-flow-table-size", required_argument, NULL,
         OPT_NEW_FLOW_TABLE_SIZE},
        {"new-flow-timeout", required_argument, NULL, OPT_NEW_FLOW_TIMEOUT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"bgp", required_argument, NULL, OPT_BGP},
        {"gobgpd", optional_argument, NULL, OPT_GOBGPD},
        {"gobgpd-log", required_argument, NULL, OPT_GOBGPD_LOG},
        {"gobgpd-user", required_argument, NULL, OPT_GOBGPD_USER},
        {"metrics", required_argument, NULL, OPT_METRICS},
        {"db-loss-grace", required_argument, NULL, OPT_DB_LOSS_GRACE},
        {"path-probe-interval", required_argument, NULL,
         OPT_PATH_PROBE_INTERVAL},
        {"busy-poll", no_argument, NULL, OPT_BUSY_POLL},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"history", required_argument, NULL, OPT_HISTORY},
        {"no-history", no_argument, NULL, OPT_NO_HISTORY},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        VLOG_LONG_OPTIONS,
        DAEMON_LONG_OPTIONS,
        STREAM_SSL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }

        switch (c) {
        case OPT_NAME:
            mux_name = optarg;
            break;

        case OPT_INTERFACE:
            iface_name = optarg;
            break;

        case OPT_INTERFACE_TYPE:
            iface_type = optarg;
            break;

        case OPT_INTERFACE_OPTION: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                ovs_fatal(0, "invalid --interface-option \"%s\": expected "
                          "KEY=VALUE", optarg);
            }
            char *key = xmemdup0(optarg, eq - optarg);
            smap_replace(&iface_options, key, eq + 1);
            free(key);
            break;
        }

        case OPT_FLOW_TABLE_SIZE:
            flow_table_size = parse_count("flow-table-size", optarg, 4,
                                          1u << 28);
            break;

        case OPT_NEW_FLOW_TABLE_SIZE:
            new_flow_table_size = parse_count("new-flow-table-size", optarg,
                                              4, 1u << 26);
            break;

        case OPT_NEW_FLOW_TIMEOUT:
            new_flow_timeout = parse_count("new-flow-timeout", optarg, 1,
                                           3600000);
            break;

        case OPT_THREADS:
            n_threads = parse_count("threads", optarg, 1, 64);
            break;

        case OPT_BUSY_POLL:
            busy_poll = true;
            break;

        case OPT_BGP:
            bgp_target = optarg;
            break;

        case OPT_GOBGPD:
            gobgpd_program = optarg ? optarg : "gobgpd";
            break;

        case OPT_GOBGPD_LOG:
            gobgpd_log = optarg;
            break;

        case OPT_GOBGPD_USER:
            gobgpd_user_spec = optarg;
            break;

        case OPT_METRICS:
            metrics_spec = slb_metrics_option(optarg);
            break;

        case OPT_DB_LOSS_GRACE:
            db_loss_grace = parse_count("db-loss-grace", optarg, 0,
                                        3600000);
            break;

        case OPT_PATH_PROBE_INTERVAL:
            path_probe_interval = parse_count("path-probe-interval", optarg,
                                              0, 3600000);
            if (path_probe_interval && path_probe_interval < 100) {
                ovs_fatal(0, "invalid --path-probe-interval \"%s\": "
                          "expected 0 (off) or 100 to 3600000", optarg);
            }
            break;

        case OPT_UNIXCTL:
            unixctl_path = optarg;
            break;

        case OPT_HISTORY:
            free(history_file);
            history_file = xstrdup(optarg);
            break;

        case OPT_NO_HISTORY:
            free(history_file);
            history_file = xstrdup("");
            break;

        case 'h':
            usage();

        case 'V':
            slb_print_version();
            exit(EXIT_SUCCESS);

        VLOG_OPTION_HANDLERS
        DAEMON_OPTION_HANDLERS
        STREAM_SSL_OPTION_HANDLERS

        case '?':
            exit(EXIT_FAILURE);

        default:
            abort();
        }
    }
    free(short_options);

    argc -= optind;
    argv += optind;
    if (argc > 1) {
        ovs_fatal(0, "at most one non-option argument (the database) is "
                  "accepted; use --help for usage");
    }
    const char *env = getenv("SLB_DB");
    db_remote = (argc ? xstrdup(argv[0])
                 : env && env[0] ? xstrdup(env)
                 : xasprintf("unix:%s/slb_db.sock", ovs_rundir()));
    if (!mux_name) {
        ovs_fatal(0, "--name is required: this mux's name in the Mux table");
    }
    if (!history_file) {
        history_file = xasprintf("%s/slb-mux.%s.history", ovs_rundir(),
                                 mux_name);
    } else if (!history_file[0]) {
        free(history_file);
        history_file = NULL;
    }
    if (!iface_name) {
        ovs_fatal(0, "--interface is required");
    }
    if (gobgpd_program && !bgp_target) {
        ovs_fatal(0, "--gobgpd needs --bgp: the address of its gRPC API");
    }
    if (gobgpd_log && !gobgpd_program) {
        ovs_fatal(0, "--gobgpd-log needs --gobgpd");
    }
    if (gobgpd_user_spec) {
        if (!gobgpd_program) {
            ovs_fatal(0, "--gobgpd-user needs --gobgpd");
        }
        char *error = mux_speaker_user_parse(gobgpd_user_spec, &gobgpd_user);
        if (error) {
            ovs_fatal(0, "%s", error);
        }
    }
}
