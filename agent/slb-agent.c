/* SPDX-License-Identifier: Apache-2.0 */
/* slb-agent: the OVS-SLB host agent.
 *
 * One slb-agent runs on every host, beside ovs-vswitchd.  It finds its
 * settings in the local Open_vSwitch database, as ovn-controller does
 * (external_ids:slb-remote, slb-host-name, slb-encap-ip, slb-bridge),
 * connects to the SLB database, creates the VXLAN port that carries the
 * host's traffic to and from muxes and other hosts, names the bridge's
 * OpenFlow tables after the pipeline's (vswitch-ext/pipeline.h), binds the
 * host's VM ports to their backends by external_ids:iface-id, and reports
 * into its own Host_Status row the configuration it has applied.  It
 * monitors only its own rows of the status tables (Host_Status and
 * Backend_Health), so that no other daemon's report wakes it.
 *
 * From both databases it builds a view of the host (struct host_view),
 * from which host-flows.c computes the whole pipeline: port security, load
 * balancing with Direct Server Return, SNAT, ACLs, metering and the
 * virtual network.  ofctrl.c installs the flows and meters as a difference
 * from what the bridge has, in atomic bundles.  The agent also probes the
 * host's backends (prober.c, on a thread of its own), writes their health
 * verdicts (health.c) into the SLB database, and answers the pipeline's
 * frames too big for the tunnel with ICMP "fragmentation needed". */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "command-line.h"
#include "coverage.h"
#include "daemon.h"
#include "db-watch.h"
#include "dp-packet.h"
#include "netdev.h"
#include "netlink.h"
#include "netlink-socket.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "fastpath.h"
#include "frag-hold.h"
#include "frag-needed.h"
#include "tcp-reset.h"
#include "bitmap.h"
#include "lib/hosts.h"
#include "lib/lb.h"
#include "lib/metrics.h"
#include "lib/slb-idl.h"
#include "lib/slb-parse.h"
#include "lib/vswitch-idl.h"
#include "ct-zones.h"
#include "desired-flows.h"
#include "monitor.h"
#include "ofctrl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "packets.h"
#include "unaligned.h"
#include "host-flows.h"
#include "pipeline.h"
#include "prober.h"
#include "snat-usage.h"
#include "health.h"
#include "slb-version.h"
#include "smap.h"
#include "stream-ssl.h"
#include "stream.h"
#include "sset.h"
#include "svec.h"
#include "uuid.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(slb_agent);

COVERAGE_DEFINE(agent_flows_computed);
COVERAGE_DEFINE(agent_changes_ignored);
COVERAGE_DEFINE(agent_frag_needed);
COVERAGE_DEFINE(agent_tcp_reset);
COVERAGE_DEFINE(agent_tcp_reset_unknown);
COVERAGE_DEFINE(agent_too_big_dropped);

/* Name of the VXLAN port that the agent owns on the bridge. */
#define TUNNEL_PORT "slb-vxlan"

static char *ovs_remote;
static char *unixctl_path;
static const char *metrics_spec; /* --metrics, or NULL. */
static struct unixctl_server *unixctl_server;

/* Whether --private-key, --certificate or --ca-cert was given, which then
 * take the place of the local Open_vSwitch row's SSL settings. */
static bool ssl_on_command_line;

/* The agent's settings, from the local Open_vSwitch row. */
struct agent_settings {
    char *slb_remote;           /* The SLB database. */
    char *host_name;            /* This host's row in the Host table. */
    char *encap_ip;             /* The host's PA: tunnel packets must be
                                 * addressed to it. */
    char *bridge;               /* The integration bridge. */
    char *uplink;               /* Port toward the gateway, or NULL. */
};

/* What a VM port carries: a VM in the virtual network of 'vni', with an
 * IPv4 CA, an IPv6 CA, or both (a dual-stack VM: one VM row for each).
 * Two VMs of one host may have the same CA in two virtual networks: a VM
 * is its (CA, VNI), never its CA alone. */
struct vm_binding {
    uint32_t vni;
    char *cas[2];               /* Its IPv4 and IPv6 CAs, as the VM rows
                                 * spell them, or NULL: one at least. */
    struct uuid vms[2];         /* The VM rows that bound them. */
    struct uuid *rows;          /* Every VM row that agrees with them
                                 * (another client may write several). */
    size_t n_rows;
};

/* Appends the CAs of 'b' to 's': "10.0.0.5", or "10.0.0.5, fd00::5". */
static void
format_binding_cas(const struct vm_binding *b, struct ds *s)
{
    for (int f = 0; f < 2; f++) {
        if (b->cas[f]) {
            ds_put_format(s, "%s%s", f && b->cas[0] ? ", " : "", b->cas[f]);
        }
    }
}

/* The index in a struct vm_binding's 'cas' of the family of CA 's'. */
static int
ca_family_index(const char *s)
{
    struct in6_addr ca;
    return slb_addr_from_string(s, &ca) && !IN6_IS_ADDR_V4MAPPED(&ca);
}

/* Frees the bindings in 'bindings', by port name, and the map. */
static void
vm_bindings_destroy(struct shash *bindings)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, bindings) {
        struct vm_binding *b = node->data;
        free(b->cas[0]);
        free(b->cas[1]);
        free(b->rows);
        free(b);
    }
    shash_destroy(bindings);
}

struct slb_agent {
    struct ovsdb_idl_loop ovs_loop;     /* Local Open_vSwitch database. */
    struct ovsdb_idl_loop slb_loop;     /* SLB database. */
    struct agent_settings settings;

    struct monitor monitor;     /* What the agent reads of the SLB
                                 * database... */
    unsigned int monitor_ovs_seqno;     /* ...worked out from these change */
    unsigned int monitor_slb_seqno;     /* numbers. */
    char *problem;              /* Why the agent cannot apply, or NULL. */

    /* Bindings: VM port name to struct vm_binding, for the backends of this
     * host whose iface-id a port of the bridge has. */
    struct shash bindings;

    struct ofctrl *ofctrl;      /* OpenFlow connection to the bridge. */
    struct fastpath *fastpath;  /* Redirects from the muxes. */
    struct frag_hold *frag_hold;    /* Fragments that wait for their
                                     * datagram's first (SLB_PIN_FRAGMENT). */
    struct slb_metrics *metrics; /* With --metrics, or NULL. */

    /* Desired flows, item by item, and meters, of struct ofctrl_meter.
     * 'flows_complete' is false while the tunnel port or the probe port
     * has no OpenFlow port number yet. */
    struct desired_flows flows;
    struct hmap meters;
    bool flows_complete;
    bool flows_offered;         /* Passed to ofctrl_run() last time. */
    struct host_view view;      /* What 'flows' were computed from. */
    struct host_zone_timeouts *zones;   /* The idle timeouts of 'view''s */
    size_t n_zones;                     /* conntrack zones. */

    /* Rows of the SLB database that the flows could not use as they are,
     * one line each, sorted: logged when they first appear and reported
     * in the Host_Status row. */
    struct svec row_problems;

    /* The change numbers of the two databases that 'bindings' and 'flows'
     * were computed from, and the local backends that each pool held then
     * (see changes_matter()). */
    unsigned int ovs_seqno;
    unsigned int slb_seqno;
    struct hmap pool_locals;    /* Of struct pool_locals. */
    bool exiting;

    /* The last change of a database: when the agent saw it (0 once it is
     * applied), how long it took to compute the flows, and how long until
     * the bridge had applied them, in milliseconds; and how many times the
     * monitor conditions changed meanwhile. */
    long long int change_start;
    long long int compute_msec;
    long long int apply_msec;
    unsigned int change_start_rounds;   /* monitor.n_rounds then. */
    unsigned int change_rounds;
    struct db_watch db;         /* Whether it has the SLB database. */
    unsigned long long int n_tcp_resets;    /* Connections reset at both
                                             * ends (tcp-reset.h). */
    unsigned int n_computes;    /* Times the flows were computed, as the
                                 * agent_flows_computed coverage counter
                                 * counts them, but exact at any time. */

    /* Health probes of the local backends: the prober, once the probe port
     * has its address (NULL before, and 'probe_problem' says why), and the
     * health of each (backend, probe), by "BACKEND-UUID/PROBE-UUID". */
    struct prober *prober;
    char *probe_problem;
    int probe_ifindex6;         /* The probe port's, if it has its IPv6
                                 * address, else 0, and... */
    char *probe6_problem;       /* ...why not: IPv6 backends are not
                                 * probed. */
    struct shash health;
    long long int next_results;     /* When to take the prober's results
                                     * next: at most ten times a second. */

    /* "slb-agent/counters" commands that wait for the bridge's counters. */
    struct unixctl_conn **counters_conns;
    size_t n_counters_conns;

    /* With --metrics, every METRICS_READ_INTERVAL, the bridge's counters
     * (the last ones in, and when they came) and the VMs' SNAT ports in
     * use, which a thread reads from ovs-vswitchd's conntrack. */
    struct ofctrl_counters *counters;
    size_t n_counters;
    long long int counters_time;
    long long int next_read;
    struct snat_usage_reader *snat_usage;
};

/* How often the agent reads the counters that only its metrics give. */
#define METRICS_READ_INTERVAL 10000

/* The columns of the SLB database that the agent reads or writes. */
static const struct ovsdb_idl_column *slb_columns[] = {
    &slbrec_slb_global_col_nb_cfg, &slbrec_slb_global_col_options,
    &slbrec_vnet_col_name, &slbrec_vnet_col_vni, &slbrec_vnet_col_prefixes,
    &slbrec_host_col_name, &slbrec_host_col_pa, &slbrec_host_col_options,
    &slbrec_host_status_col_name, &slbrec_host_status_col_nb_cfg,
    &slbrec_host_status_col_nb_cfg_timestamp,
    &slbrec_host_status_col_status,
    &slbrec_mux_col_name, &slbrec_mux_col_pa,
    &slbrec_mux_status_col_name, &slbrec_mux_status_col_status,
    &slbrec_frontend_col_vip, &slbrec_frontend_col_type,
    &slbrec_frontend_col_vnet,
    &slbrec_backend_pool_col_name, &slbrec_backend_pool_col_vnet,
    &slbrec_backend_pool_col_members,
    &slbrec_vm_col_ca, &slbrec_vm_col_vnet, &slbrec_vm_col_host,
    &slbrec_vm_col_mac, &slbrec_vm_col_iface_id,
    &slbrec_probe_col_name, &slbrec_probe_col_protocol,
    &slbrec_probe_col_port, &slbrec_probe_col_path,
    &slbrec_probe_col_interval, &slbrec_probe_col_timeout,
    &slbrec_probe_col_up_threshold, &slbrec_probe_col_down_threshold,
    &slbrec_lb_rule_col_name, &slbrec_lb_rule_col_frontend,
    &slbrec_lb_rule_col_protocol, &slbrec_lb_rule_col_frontend_port,
    &slbrec_lb_rule_col_backend_port, &slbrec_lb_rule_col_pool,
    &slbrec_lb_rule_col_probe, &slbrec_lb_rule_col_floating_ip,
    &slbrec_lb_rule_col_idle_timeout, &slbrec_lb_rule_col_tcp_reset,
    &slbrec_inbound_nat_rule_col_name,
    &slbrec_inbound_nat_rule_col_frontend,
    &slbrec_inbound_nat_rule_col_protocol,
    &slbrec_inbound_nat_rule_col_frontend_port,
    &slbrec_inbound_nat_rule_col_vm,
    &slbrec_inbound_nat_rule_col_backend_port,
    &slbrec_inbound_nat_rule_col_floating_ip,
    &slbrec_inbound_nat_rule_col_idle_timeout,
    &slbrec_outbound_rule_col_pool, &slbrec_outbound_rule_col_protocol,
    &slbrec_outbound_rule_col_allocations,
    &slbrec_outbound_rule_col_idle_timeout,
    &slbrec_snat_allocation_col_frontend,
    &slbrec_snat_allocation_col_vm,
    &slbrec_snat_allocation_col_outbound_rule,
    &slbrec_snat_allocation_col_port_min,
    &slbrec_snat_allocation_col_port_max,
    &slbrec_acl_col_name, &slbrec_acl_col_iface_id,
    &slbrec_acl_col_direction, &slbrec_acl_col_priority,
    &slbrec_acl_col_protocol, &slbrec_acl_col_src_prefix,
    &slbrec_acl_col_dst_prefix, &slbrec_acl_col_src_port_min,
    &slbrec_acl_col_src_port_max, &slbrec_acl_col_dst_port_min,
    &slbrec_acl_col_dst_port_max, &slbrec_acl_col_action,
    &slbrec_meter_col_iface_id, &slbrec_meter_col_direction,
    &slbrec_meter_col_rate, &slbrec_meter_col_burst,
    &slbrec_backend_health_col_vm, &slbrec_backend_health_col_probe,
    &slbrec_backend_health_col_host_name,
    &slbrec_backend_health_col_status,
    &slbrec_backend_health_col_reason,
    &slbrec_vm_binding_col_vm, &slbrec_vm_binding_col_host_name,
    &slbrec_vm_binding_col_port,
};

static void parse_options(int argc, char *argv[]);
static void pool_locals_clear(struct hmap *);
OVS_NO_RETURN static void usage(void);
static void agent_run(struct slb_agent *, struct ovsdb_idl_txn *ovs_txn,
                      struct ovsdb_idl_txn *slb_txn);
static void register_commands(struct slb_agent *);
static slb_metrics_build_func build_metrics;
static ofctrl_packet_in_cb handle_packet_in;
static void take_counters(struct slb_agent *);
static void sum_vm_counters(const struct ofctrl_counters *, size_t n,
                            int table, int priority, int64_t ofport,
                            uint64_t *packets, uint64_t *bytes);
static void sum_table_drops(const struct ofctrl_counters *, size_t n,
                            int table, uint64_t *packets, uint64_t *bytes);

/* Every table of the pipeline. */
static const enum slb_table all_tables[] = {
#define SLB_TABLE(ENUM, LAYER, NUMBER, NAME) SLB_TABLE_##ENUM,
    SLB_TABLES
#undef SLB_TABLE
};
static void read_for_metrics(struct slb_agent *);

static void
settings_destroy(struct agent_settings *s)
{
    free(s->slb_remote);
    free(s->host_name);
    free(s->encap_ip);
    free(s->bridge);
    free(s->uplink);
    memset(s, 0, sizeof *s);
}

static void use_local_ssl(struct ovsdb_idl *ovs_idl);

int
main(int argc, char *argv[])
{
    struct slb_agent agent;

    set_program_name(argv[0]);
    service_start(&argc, &argv);
    fatal_ignore_sigpipe();
    vlog_set_levels_from_string_assert("reconnect:warn");
    parse_options(argc, argv);
    ssl_on_command_line = stream_ssl_is_configured();

    daemonize_start(false);
    if (unixctl_server_create(unixctl_path, &unixctl_server)) {
        exit(EXIT_FAILURE);
    }

    memset(&agent, 0, sizeof agent);
    agent.monitor_ovs_seqno = agent.monitor_slb_seqno = UINT_MAX;
    shash_init(&agent.bindings);
    shash_init(&agent.health);
    svec_init(&agent.row_problems);
    agent.ofctrl = ofctrl_create();
    ofctrl_set_packet_in_cb(agent.ofctrl, handle_packet_in, &agent);
    desired_flows_init(&agent.flows);
    hmap_init(&agent.meters);
    hmap_init(&agent.pool_locals);

    /* The local database: only what the agent reads or writes. */
    struct ovsdb_idl *ovs_idl = ovsdb_idl_create(ovs_remote, &ovsrec_idl_class,
                                                 false, true);
    ovsdb_idl_add_table(ovs_idl, &ovsrec_table_open_vswitch);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_open_vswitch_col_external_ids);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_open_vswitch_col_bridges);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_open_vswitch_col_ssl);
    ovsdb_idl_add_table(ovs_idl, &ovsrec_table_ssl);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_ssl_col_private_key);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_ssl_col_certificate);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_ssl_col_ca_cert);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_ssl_col_bootstrap_ca_cert);
    ovsdb_idl_add_table(ovs_idl, &ovsrec_table_bridge);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_bridge_col_name);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_bridge_col_ports);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_bridge_col_flow_tables);
    ovsdb_idl_add_table(ovs_idl, &ovsrec_table_flow_table);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_flow_table_col_name);
    ovsdb_idl_add_table(ovs_idl, &ovsrec_table_port);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_port_col_name);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_port_col_interfaces);
    ovsdb_idl_add_table(ovs_idl, &ovsrec_table_interface);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_interface_col_name);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_interface_col_type);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_interface_col_options);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_interface_col_external_ids);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_interface_col_ofport);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_interface_col_mac_in_use);
    ct_zones_add_columns(ovs_idl);
    agent.ovs_loop = (struct ovsdb_idl_loop) OVSDB_IDL_LOOP_INITIALIZER(
        ovs_idl);

    /* The SLB database, once the local one says where it is: only what the
     * agent reads or writes, with what changes tracked (see
     * changes_matter()). */
    struct ovsdb_idl *slb_idl = ovsdb_idl_create_unconnected(
        &slbrec_idl_class, false);
    for (size_t i = 0; i < ARRAY_SIZE(slb_columns); i++) {
        ovsdb_idl_add_column(slb_idl, slb_columns[i]);
        ovsdb_idl_track_add_column(slb_idl, slb_columns[i]);
    }
    /* The hosts that read a row only tell the agent whether a row that it
     * needs comes without being asked for (see agent/monitor.c): their
     * changes alone call for nothing. */
    for (size_t i = 0; i < SLB_N_HOSTS_COLUMNS; i++) {
        ovsdb_idl_add_column(slb_idl, slb_hosts_columns[i]);
        ovsdb_idl_omit_alert(slb_idl, slb_hosts_columns[i]);
    }
    /* Neither a new nb_cfg alone nor the agent's own reports call for
     * computing the flows again. */
    ovsdb_idl_omit_alert(slb_idl, &slbrec_slb_global_col_nb_cfg);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_host_status_col_nb_cfg);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_host_status_col_nb_cfg_timestamp);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_host_status_col_status);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_backend_health_col_status);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_backend_health_col_reason);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_vm_binding_col_vm);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_vm_binding_col_host_name);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_vm_binding_col_port);
    /* Of a clustered database, any member will do: a follower passes the
     * agent's reports on to the leader. */
    ovsdb_idl_set_leader_only(slb_idl, false);
    agent.fastpath = fastpath_create(slb_idl);
    agent.frag_hold = frag_hold_create();
    agent.slb_loop = (struct ovsdb_idl_loop) OVSDB_IDL_LOOP_INITIALIZER(
        slb_idl);

    register_commands(&agent);
    if (metrics_spec) {
        char *error = slb_metrics_start(metrics_spec, build_metrics, &agent,
                                        &agent.metrics);
        if (error) {
            ovs_fatal(0, "%s", error);
        }
        agent.snat_usage = snat_usage_reader_create(NULL, SLB_CT_SNAT);
    }
    bool detached = false;
    while (!agent.exiting) {
        struct ovsdb_idl_txn *ovs_txn = ovsdb_idl_loop_run(&agent.ovs_loop);
        struct ovsdb_idl_txn *slb_txn = ovsdb_idl_loop_run(&agent.slb_loop);

        if (!ssl_on_command_line) {
            use_local_ssl(ovs_idl);
        }
        agent_run(&agent, ovs_txn, slb_txn);
        fastpath_run(agent.fastpath, agent.slb_loop.idl, &agent.view,
                     agent.ofctrl);
        frag_hold_run(agent.frag_hold, time_msec());
        take_counters(&agent);
        read_for_metrics(&agent);
        if (!detached && ovsdb_idl_has_ever_connected(ovs_idl)) {
            daemonize_complete();
            detached = true;
        }

        unixctl_server_run(unixctl_server);
        slb_metrics_run(agent.metrics);
        slb_metrics_wait(agent.metrics);
        ofctrl_wait(agent.ofctrl);
        fastpath_wait(agent.fastpath);
        if (frag_hold_n_datagrams(agent.frag_hold)) {
            poll_timer_wait_until(frag_hold_next_expiry(agent.frag_hold));
        }
        if (agent.prober) {
            if (time_msec() >= agent.next_results) {
                prober_wait(agent.prober);
            } else {
                poll_timer_wait_until(agent.next_results);
            }
        }
        ovsdb_idl_loop_commit_and_wait(&agent.ovs_loop);
        ovsdb_idl_loop_commit_and_wait(&agent.slb_loop);
        unixctl_server_wait(unixctl_server);
        if (agent.metrics) {
            poll_timer_wait_until(agent.next_read);
        }
        if (agent.exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    slb_metrics_destroy(agent.metrics);
    snat_usage_reader_destroy(agent.snat_usage);
    free(agent.counters);
    ovsdb_idl_loop_destroy(&agent.ovs_loop);
    ovsdb_idl_loop_destroy(&agent.slb_loop);
    monitor_destroy(&agent.monitor);
    vm_bindings_destroy(&agent.bindings);
    desired_flows_destroy(&agent.flows);
    ofctrl_meters_destroy(&agent.meters);
    pool_locals_clear(&agent.pool_locals);
    hmap_destroy(&agent.pool_locals);
    host_view_destroy(&agent.view);
    free(agent.zones);
    svec_destroy(&agent.row_problems);
    ofctrl_destroy(agent.ofctrl);
    fastpath_destroy(agent.fastpath);
    frag_hold_destroy(agent.frag_hold);
    settings_destroy(&agent.settings);
    free(agent.problem);
    free(agent.counters_conns);
    prober_destroy(agent.prober);
    free(agent.probe_problem);
    free(agent.probe6_problem);
    shash_destroy_free_data(&agent.health);
    unixctl_server_destroy(unixctl_server);
    service_stop();
    return 0;
}

/* Settings. */

/* Uses the SSL settings of the local Open_vSwitch row (ovs-vsctl set-ssl)
 * for an SLB database at ssl:..., as ovs-vswitchd does for its
 * controllers: a host's key and certificate serve both.  Called on every
 * trip through the main loop, as ovs-vswitchd does, because a renewed
 * certificate changes the files and not the row (stream-ssl re-reads a
 * file only when its name or modification time changes). */
static void
use_local_ssl(struct ovsdb_idl *ovs_idl)
{
    const struct ovsrec_open_vswitch *cfg = ovsrec_open_vswitch_first(ovs_idl);
    const struct ovsrec_ssl *ssl = cfg ? cfg->ssl : NULL;
    if (ssl) {
        stream_ssl_set_key_and_cert(ssl->private_key, ssl->certificate);
        stream_ssl_set_ca_cert_file(ssl->ca_cert, ssl->bootstrap_ca_cert);
    }
}

/* Reads the agent's settings from the Open_vSwitch row into 's'.  Returns
 * NULL, or what is missing. */
static char *
read_settings(const struct ovsrec_open_vswitch *cfg,
              struct agent_settings *s)
{
    settings_destroy(s);
    if (!cfg) {
        return xstrdup("no Open_vSwitch row in the local database");
    }

    const struct smap *ids = &cfg->external_ids;
    const char *remote = smap_get(ids, "slb-remote");
    const char *name = smap_get(ids, "slb-host-name");
    const char *encap_ip = smap_get(ids, "slb-encap-ip");
    ovs_be32 ip;
    if (!remote || !name || !encap_ip) {
        return xasprintf("external_ids:%s is missing from the Open_vSwitch "
                         "row", !remote ? "slb-remote"
                         : !name ? "slb-host-name" : "slb-encap-ip");
    }
    if (!ip_parse(encap_ip, &ip)) {
        return xasprintf("external_ids:slb-encap-ip \"%s\" is not an IPv4 "
                         "address", encap_ip);
    }
    s->slb_remote = xstrdup(remote);
    s->host_name = xstrdup(name);
    s->encap_ip = xstrdup(encap_ip);
    s->bridge = xstrdup(smap_get_def(ids, "slb-bridge", "br-int"));
    s->uplink = nullable_xstrdup(smap_get(ids, "slb-uplink"));
    return NULL;
}

static const struct ovsrec_bridge *
find_bridge(struct ovsdb_idl *idl, const char *name)
{
    const struct ovsrec_bridge *br;
    OVSREC_BRIDGE_FOR_EACH (br, idl) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

static const struct ovsrec_port *
find_port(const struct ovsrec_bridge *br, const char *name)
{
    for (size_t i = 0; i < br->n_ports; i++) {
        if (!strcmp(br->ports[i]->name, name)) {
            return br->ports[i];
        }
    }
    return NULL;
}

/* Makes sure 'br' has port 'name' with one interface of 'type' and
 * 'options'.  Returns true if it is there as it should be. */
static bool
ensure_port(const struct ovsrec_bridge *br, const char *name,
            const char *type, const struct smap *options,
            struct ovsdb_idl_txn *txn)
{
    const struct ovsrec_port *port = find_port(br, name);
    bool ok = (port && port->n_interfaces == 1
               && !strcmp(port->interfaces[0]->type, type)
               && smap_equal(&port->interfaces[0]->options, options));
    if (!ok && txn) {
        const struct ovsrec_interface *iface;
        if (port && port->n_interfaces == 1) {
            iface = port->interfaces[0];
        } else {
            struct ovsrec_interface *new_iface
                = ovsrec_interface_insert(txn);
            ovsrec_interface_set_name(new_iface, name);
            iface = new_iface;
        }
        ovsrec_interface_set_type(iface, type);
        ovsrec_interface_set_options(iface, options);
        if (!port) {
            struct ovsrec_port *new_port = ovsrec_port_insert(txn);
            ovsrec_port_set_name(new_port, name);
            ovsrec_port_set_interfaces(
                new_port, (struct ovsrec_interface **) &iface, 1);
            ovsrec_bridge_update_ports_addvalue(br, new_port);
        }
        ovsdb_idl_txn_add_comment(txn, "slb-agent: %s port %s", type, name);
        VLOG_INFO("%s: setting up %s port %s", br->name, type, name);
    }
    return ok;
}

/* Makes sure 'br' has the host's ports: the VXLAN port, with flow-based
 * remote and key, the same on UDP port SLB_VXLAN_CANDIDATE_PORT for the
 * muxes' candidate copies, and the probe port.  Returns true if they are
 * there as they should be.
 *
 * The VXLAN port has no local_ip: the source of encapsulated packets is
 * the one that the route to the peer gives, which on a host whose PA is
 * its address toward the underlay is the PA.  (With local_ip, OVS would
 * require a local route to the PA in its own route table, which only the
 * kernel's route table provides.) */
static bool
ensure_host_ports(const struct ovsrec_bridge *br, struct ovsdb_idl_txn *txn)
{
    struct smap options = SMAP_INITIALIZER(&options);
    smap_add(&options, "remote_ip", "flow");
    smap_add(&options, "key", "flow");
    bool ok = ensure_port(br, TUNNEL_PORT, "vxlan", &options, txn);
    smap_add_format(&options, "dst_port", "%d", SLB_VXLAN_CANDIDATE_PORT);
    ok &= ensure_port(br, SLB_CANDIDATE_PORT, "vxlan", &options, txn);
    smap_clear(&options);
    ok &= ensure_port(br, SLB_PROBE_PORT, "internal", &options, txn);
    smap_destroy(&options);
    return ok;
}

/* Gives the bridge's OpenFlow tables the names of the pipeline's tables,
 * through the bridge's Flow_Table rows, so that "ovs-ofctl dump-tables"
 * and "dump-flows --names" show them.  Returns true if they have them. */
static bool
ensure_table_names(const struct ovsrec_bridge *br, struct ovsdb_idl_txn *txn)
{
    static const struct {
        int64_t number;
        const char *name;
    } tables[] = {
#define SLB_TABLE(ENUM, LAYER, NUMBER, NAME) { NUMBER, NAME },
        SLB_TABLES
#undef SLB_TABLE
    };
    bool ok = true;

    for (size_t i = 0; i < ARRAY_SIZE(tables); i++) {
        const struct ovsrec_flow_table *ft = NULL;
        for (size_t j = 0; j < br->n_flow_tables; j++) {
            if (br->key_flow_tables[j] == tables[i].number) {
                ft = br->value_flow_tables[j];
            }
        }
        if (ft && ft->name && !strcmp(ft->name, tables[i].name)) {
            continue;
        }
        ok = false;
        if (!txn) {
            continue;
        }
        if (!ft) {
            struct ovsrec_flow_table *new_ft = ovsrec_flow_table_insert(txn);
            ovsrec_bridge_update_flow_tables_setkey(br, tables[i].number,
                                                    new_ft);
            ft = new_ft;
        }
        ovsrec_flow_table_set_name(ft, tables[i].name);
    }
    return ok;
}

/* Returns the name of the port that VM row 'vm' names by its iface-id, as
 * 'iface_ids' (iface-id to port name) gives it, if 'vm' is of 'host', or
 * NULL. */
static const char *
vm_port(const struct slbrec_vm *vm, const struct slbrec_host *host,
        const struct shash *iface_ids)
{
    return (vm->host == host && vm->iface_id
            ? shash_find_data(iface_ids, vm->iface_id)
            : NULL);
}

/* Binds the ports of 'br' to the VMs of 'host' by iface-id: a port binds
 * one VM row of each family, whose VM is dual-stack if it has two.  Should
 * another client write more, the lowest row binds the port, its VNI
 * the port's network, and the lowest of the other family in that network
 * the other family; a row that gives the port another address of a family
 * that it has, or another network, is left out with a warning. */
static void
update_bindings(struct slb_agent *agent, const struct ovsrec_bridge *br,
                struct ovsdb_idl *slb_idl, const struct slbrec_host *host)
{
    struct shash iface_ids = SHASH_INITIALIZER(&iface_ids);
    for (size_t i = 0; i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            const char *id = smap_get(&port->interfaces[j]->external_ids,
                                      "iface-id");
            if (id) {
                shash_replace(&iface_ids, id,
                              CONST_CAST(char *, port->interfaces[j]->name));
            }
        }
    }

    /* The lowest VM row of each bound port: its network. */
    struct shash rows = SHASH_INITIALIZER(&rows);
    const struct slbrec_vm *vm;
    SLBREC_VM_FOR_EACH (vm, slb_idl) {
        const char *port = vm->vnet ? vm_port(vm, host, &iface_ids) : NULL;
        if (!port) {
            continue;
        }
        const struct slbrec_vm *best = shash_find_data(&rows, port);
        if (!best || uuid_compare_3way(&vm->header_.uuid,
                                       &best->header_.uuid) < 0) {
            shash_replace(&rows, port, vm);
        }
    }

    struct shash bindings = SHASH_INITIALIZER(&bindings);
    struct shash_node *node;
    SHASH_FOR_EACH (node, &rows) {
        const struct slbrec_vm *best = node->data;
        struct vm_binding *b = xzalloc(sizeof *b);
        b->vni = best->vnet->vni;
        shash_add(&bindings, node->name, b);
    }

    /* In that network, the lowest row of each family. */
    SLBREC_VM_FOR_EACH (vm, slb_idl) {
        const char *port = vm_port(vm, host, &iface_ids);
        struct vm_binding *b = port ? shash_find_data(&bindings, port) : NULL;
        if (b && vm->vnet && vm->vnet->vni == b->vni) {
            int f = ca_family_index(vm->ca);
            if (!b->cas[f] || uuid_compare_3way(&vm->header_.uuid,
                                                &b->vms[f]) < 0) {
                free(b->cas[f]);
                b->cas[f] = xstrdup(vm->ca);
                b->vms[f] = vm->header_.uuid;
            }
        }
    }
    SLBREC_VM_FOR_EACH (vm, slb_idl) {
        const char *port = vm_port(vm, host, &iface_ids);
        struct vm_binding *b = port ? shash_find_data(&bindings, port) : NULL;
        int f = ca_family_index(vm->ca);
        if (b && vm->vnet && vm->vnet->vni == b->vni
            && !strcmp(vm->ca, b->cas[f])) {
            b->rows = xrealloc(b->rows, (b->n_rows + 1) * sizeof *b->rows);
            b->rows[b->n_rows++] = vm->header_.uuid;
        } else if (b) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
            int g = b->cas[f] ? f : !f;
            VLOG_WARN_RL(&rl, "VM "UUID_FMT" gives port %s (iface-id %s) "
                         "address %s in VNI %"PRId64", but VM "UUID_FMT
                         " gives it %s in VNI %"PRIu32": the port keeps the "
                         "latter", UUID_ARGS(&vm->header_.uuid), port,
                         vm->iface_id, vm->ca, vm->vnet ? vm->vnet->vni : 0,
                         UUID_ARGS(&b->vms[g]), b->cas[g], b->vni);
        }
    }
    shash_destroy(&rows);

    /* Log what changed. */
    SHASH_FOR_EACH (node, &bindings) {
        const struct vm_binding *new = node->data;
        const struct vm_binding *old = shash_find_data(&agent->bindings,
                                                       node->name);
        if (!old || old->vni != new->vni
            || !nullable_string_is_equal(old->cas[0], new->cas[0])
            || !nullable_string_is_equal(old->cas[1], new->cas[1])) {
            struct ds cas = DS_EMPTY_INITIALIZER;
            format_binding_cas(new, &cas);
            VLOG_INFO("bound port %s to backend %s in VNI %"PRIu32,
                      node->name, ds_cstr(&cas), new->vni);
            ds_destroy(&cas);
        }
    }
    SHASH_FOR_EACH (node, &agent->bindings) {
        if (!shash_find(&bindings, node->name)) {
            VLOG_INFO("unbound port %s", node->name);
        }
    }
    shash_swap(&agent->bindings, &bindings);
    vm_bindings_destroy(&bindings);
    shash_destroy(&iface_ids);
}

/* Returns the cookie of the flows that database row 'row' causes: the
 * first 64 bits of its UUID, so that "ovs-ofctl dump-flows" leads to the
 * row. */
static uint64_t
row_cookie(const struct ovsdb_idl_row *row)
{
    return ((uint64_t) row->uuid.parts[0] << 32) | row->uuid.parts[1];
}

/* Returns interface 'name' of 'br', or NULL. */
static const struct ovsrec_interface *
find_iface(const struct ovsrec_bridge *br, const char *name)
{
    for (size_t i = 0; i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            if (!strcmp(port->interfaces[j]->name, name)) {
                return port->interfaces[j];
            }
        }
    }
    return NULL;
}

/* Returns the OpenFlow port number of interface 'name' of 'br', or -1. */
static int64_t
ofport_of(const struct ovsrec_bridge *br, const char *name)
{
    const struct ovsrec_interface *iface = find_iface(br, name);
    return (iface && iface->n_ofport && iface->ofport[0] > 0
            ? iface->ofport[0] : -1);
}

/* The view of this host that the flows are computed from. */

/* Returns the index of the VM in 'v' of 'backend', a member of 'pool' (if
 * nonnull), or SIZE_MAX if it is not bound on this host or cannot take the
 * pool's traffic (lib/lb.h).  Adds to 'problems' (if nonnull) why a local
 * backend cannot. */
static size_t
backend_vm(const struct host_view *v, const struct slbrec_host *self,
           const struct slbrec_backend_pool *pool,
           const struct slbrec_vm *backend, struct svec *problems)
{
    const struct slbrec_vm *vm = backend;
    if (vm && pool) {
        char *problem;
        bool local = vm->host == self;
        vm = slb_pool_backend_vm(pool, backend, &problem);
        if (problem && problems && local) {
            svec_add_nocopy(problems, problem);
        } else {
            free(problem);
        }
    }
    struct in6_addr ca;
    return (vm && vm->host == self && vm->vnet
            && slb_addr_from_string(vm->ca, &ca)
            ? host_view_find_vm(v, &ca, vm->vnet->vni)
            : SIZE_MAX);
}

/* Returns true if VM 'vm' of 'v' (an index, or SIZE_MAX for none) is of
 * the family of 'vip', so that a rule on 'vip' may send to it: one of the
 * other family is left out, as the muxes leave it out (and report it). */
static bool
vm_of_family(const struct host_view *v, size_t vm, const struct in6_addr *vip)
{
    return (vm != SIZE_MAX
            && (IN6_IS_ADDR_V4MAPPED(&v->vms[vm].ca)
                == IN6_IS_ADDR_V4MAPPED(vip)));
}

/* Returns the index of the VM in 'v' whose port has 'iface_id', or
 * SIZE_MAX. */
static size_t
iface_vm(const struct host_view *v, const struct ovsrec_bridge *br,
         const char *iface_id)
{
    for (size_t i = 0; i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            const struct ovsrec_interface *iface = port->interfaces[j];
            const char *id = smap_get(&iface->external_ids, "iface-id");
            if (id && !strcmp(id, iface_id) && iface->n_ofport) {
                for (size_t k = 0; k < v->n_vms; k++) {
                    if (v->vms[k].ofport == iface->ofport[0]) {
                        return k;
                    }
                }
            }
        }
    }
    return SIZE_MAX;
}

static struct eth_addr
parse_mac(const char *s)
{
    struct eth_addr ea;
    return s && eth_addr_from_string(s, &ea) ? ea : eth_addr_zero;
}

/* Appends a zeroed element to 'array' of '*n' elements of 'size' bytes.
 * Returns the new array. */
static void *
view_grow(void *array, size_t *n, size_t size)
{
    array = xrealloc(array, (*n + 1) * size);
    memset((char *) array + *n * size, 0, size);
    (*n)++;
    return array;
}

/* Appends a zeroed element to array MEMBER of host_view 'V' and returns
 * it. */
#define VIEW_APPEND(V, MEMBER)                                          \
    ((V)->MEMBER = view_grow((V)->MEMBER, &(V)->n_##MEMBER,             \
                             sizeof *(V)->MEMBER),                      \
     &(V)->MEMBER[(V)->n_##MEMBER - 1])

/* The VMs: one per bound port, in port order. */
static void
view_add_vms(const struct slb_agent *agent, const struct ovsrec_bridge *br,
             struct ovsdb_idl *slb_idl, const struct slbrec_host *self,
             struct host_view *v)
{
    /* This host's VMs, each named by its lowest row (see struct slb_vms),
     * so that every run of the agent gives its flows the same cookie.  The
     * VM is its CA in its virtual network: another network's VM with the
     * same CA is another VM. */
    struct slb_vms vms;
    slb_vms_init(&vms);
    const struct slbrec_vm *row;
    SLBREC_VM_FOR_EACH (row, slb_idl) {
        if (row->host == self) {
            slb_vms_add(&vms, row);
        }
    }

    const struct shash_node **nodes = shash_sort(&agent->bindings);
    for (size_t i = 0; i < shash_count(&agent->bindings); i++) {
        const struct vm_binding *binding = nodes[i]->data;
        int64_t ofport = ofport_of(br, nodes[i]->name);
        for (int f = 0; ofport > 0 && f < 2; f++) {
            struct in6_addr ca;
            if (!binding->cas[f]
                || !slb_addr_from_string(binding->cas[f], &ca)) {
                continue;
            }
            const struct slb_vm *vm = slb_vms_find(&vms, &ca, binding->vni);
            if (vm && host_view_find_vm(v, &ca, vm->vni) == SIZE_MAX) {
                struct host_vm *hv = VIEW_APPEND(v, vms);
                hv->cookie = row_cookie(&vm->row->header_);
                hv->ca = ca;
                hv->vni = vm->vni;
                hv->ofport = ofport;
                hv->mac = vm->mac;
            }
        }
    }
    free(nodes);
    slb_vms_destroy(&vms);
}

static int
compare_muxes(const void *a_, const void *b_)
{
    const struct slbrec_mux *const *a = a_, *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* The muxes that take the VMs' packets to internal VIPs, in the order of
 * their names: those whose status says that they applied a
 * configuration, or all of them if none says so. */
static void
view_add_muxes(struct ovsdb_idl *slb_idl, struct host_view *v)
{
    struct sset up = SSET_INITIALIZER(&up);
    const struct slbrec_mux_status *ms;
    SLBREC_MUX_STATUS_FOR_EACH (ms, slb_idl) {
        const char *state = smap_get_def(&ms->status, "state", "");
        if (!strcmp(state, "active") || !strcmp(state, "degraded")) {
            sset_add(&up, ms->name);
        }
    }

    const struct slbrec_mux **muxes = NULL;
    size_t n = 0, allocated = 0;
    const struct slbrec_mux *mux;
    SLBREC_MUX_FOR_EACH (mux, slb_idl) {
        if (sset_is_empty(&up) || sset_contains(&up, mux->name)) {
            if (n >= allocated) {
                muxes = x2nrealloc(muxes, &allocated, sizeof *muxes);
            }
            muxes[n++] = mux;
        }
    }
    if (n) {
        qsort(muxes, n, sizeof *muxes, compare_muxes);
    }
    for (size_t i = 0; i < n; i++) {
        ovs_be32 pa;
        if (ip_parse(muxes[i]->pa, &pa)) {
            struct host_mux *hm = VIEW_APPEND(v, muxes);
            hm->cookie = row_cookie(&muxes[i]->header_);
            hm->pa = pa;
        }
    }
    free(muxes);
    sset_destroy(&up);
}

/* The internal VIPs of the virtual networks with the 'n_vnis' VNIs in
 * 'vnis', those of this host's VMs. */
static void
view_add_internal_vips(struct ovsdb_idl *slb_idl, const uint32_t *vnis,
                       size_t n_vnis, struct host_view *v)
{
    const struct slbrec_frontend *fe;
    SLBREC_FRONTEND_FOR_EACH (fe, slb_idl) {
        struct in6_addr vip;
        if (!slb_frontend_is_internal(fe) || !fe->vnet
            || !slb_addr_from_string(fe->vip, &vip)) {
            continue;
        }
        for (size_t i = 0; i < n_vnis; i++) {
            if (vnis[i] == fe->vnet->vni) {
                struct host_internal_vip *iv = VIEW_APPEND(v, internal_vips);
                iv->cookie = row_cookie(&fe->header_);
                iv->vni = fe->vnet->vni;
                iv->vip = vip;
                break;
            }
        }
    }
}

/* Another host, as a tunnel peer, while view_add_remote() learns the
 * networks that it may send packets of. */
struct host_peer_node {
    struct hmap_node node;      /* In a map by host row. */
    const struct slbrec_host *host;
    struct host_peer peer;
};

static struct host_peer_node *
host_peer_lookup(const struct hmap *map, const struct slbrec_host *host)
{
    struct host_peer_node *hp;
    HMAP_FOR_EACH_WITH_HASH (hp, node, hash_pointer(host, 0), map) {
        if (hp->host == host) {
            return hp;
        }
    }
    return NULL;
}

/* The peer of 'host' in 'map', added if it is not there yet. */
static struct host_peer *
find_host_peer(struct hmap *map, const struct slbrec_host *host)
{
    struct host_peer_node *hp = host_peer_lookup(map, host);
    if (!hp) {
        hp = xzalloc(sizeof *hp);
        hp->host = host;
        hmap_insert(map, &hp->node, hash_pointer(host, 0));
    }
    return &hp->peer;
}

/* The other hosts' VMs in the virtual networks of this host's VMs, and
 * those networks' internal VIPs; the tunnel peers: every mux, and every
 * other host with VMs in those networks, with their VNIs; the networks'
 * prefixes ('problems' gets a line for each that the agent cannot read,
 * which it leaves out). */
static void
view_add_remote(struct ovsdb_idl *slb_idl, const struct slbrec_host *self,
                struct host_view *v, struct svec *problems)
{
    /* The virtual networks of this host's VMs: a few. */
    uint32_t *vnis = xmalloc(MAX(v->n_vms, 1) * sizeof *vnis);
    size_t n_vnis = 0;
    for (size_t i = 0; i < v->n_vms; i++) {
        size_t j = 0;
        while (j < n_vnis && vnis[j] != v->vms[i].vni) {
            j++;
        }
        if (j == n_vnis) {
            vnis[n_vnis++] = v->vms[i].vni;
        }
    }

    /* Each VM named by its lowest row, which gives its host, and its MAC
     * by the lowest row with one (see struct slb_vms). */
    struct slb_vms vms;
    slb_vms_init(&vms);
    struct hmap host_peers = HMAP_INITIALIZER(&host_peers);
    const struct slbrec_vm *row;
    SLBREC_VM_FOR_EACH (row, slb_idl) {
        ovs_be32 pa;
        if (!row->host || row->host == self || !row->vnet
            || !ip_parse(row->host->pa, &pa)) {
            continue;
        }
        for (size_t j = 0; j < n_vnis; j++) {
            if (vnis[j] == row->vnet->vni) {
                slb_vms_add(&vms, row);
                host_peer_add_vni(find_host_peer(&host_peers, row->host),
                                  vnis[j]);
                break;
            }
        }
    }
    view_add_internal_vips(slb_idl, vnis, n_vnis, v);
    free(vnis);
    const struct slb_vm *vm;
    SLB_VMS_FOR_EACH (vm, &vms) {
        struct host_remote_vm *r = VIEW_APPEND(v, remote_vms);
        r->cookie = row_cookie(&vm->row->header_);
        r->ca = vm->ca;
        r->vni = vm->vni;
        ip_parse(vm->row->host->pa, &r->pa);
        r->mac = vm->mac;
    }
    slb_vms_destroy(&vms);

    const struct slbrec_mux *mux;
    SLBREC_MUX_FOR_EACH (mux, slb_idl) {
        ovs_be32 pa;
        if (ip_parse(mux->pa, &pa)) {
            struct host_peer *p = VIEW_APPEND(v, peers);
            p->cookie = row_cookie(&mux->header_);
            p->pa = pa;
            p->any_vni = true;
        }
    }
    view_add_muxes(slb_idl, v);
    const struct slbrec_host *host;
    SLBREC_HOST_FOR_EACH (host, slb_idl) {
        struct host_peer_node *hp = host_peer_lookup(&host_peers, host);
        if (hp) {
            struct host_peer *p = VIEW_APPEND(v, peers);
            *p = hp->peer;
            p->cookie = row_cookie(&host->header_);
            ip_parse(host->pa, &p->pa);
            hp->peer.vnis = NULL;
        }
    }
    struct host_peer_node *hp;
    HMAP_FOR_EACH_POP (hp, node, &host_peers) {
        free(hp->peer.vnis);
        free(hp);
    }
    hmap_destroy(&host_peers);

    const struct slbrec_vnet *vnet;
    SLBREC_VNET_FOR_EACH (vnet, slb_idl) {
        struct host_vnet *hv = VIEW_APPEND(v, vnets);
        hv->cookie = row_cookie(&vnet->header_);
        hv->vni = vnet->vni;
        hv->prefixes = xcalloc(vnet->n_prefixes, sizeof *hv->prefixes);
        for (size_t i = 0; i < vnet->n_prefixes; i++) {
            struct host_prefix *prefix = &hv->prefixes[hv->n_prefixes];
            char *error = slb_parse_addr_prefix("prefix", vnet->prefixes[i],
                                                &prefix->net, &prefix->plen);
            if (error) {
                svec_add_nocopy(problems, xasprintf(
                                    "virtual network %s: %s: left out",
                                    vnet->name, error));
                free(error);
            } else {
                hv->n_prefixes++;
            }
        }
    }
}

/* Adds to 'v' an entry for the rule of 'row' (a load-balancing or an
 * inbound NAT rule) on VIP 'vip', to local VM 'vm', and returns it for the
 * caller to finish. */
static struct host_lb *
view_add_lb(struct host_view *v, const struct ovsdb_idl_row *row,
            const struct in6_addr *vip, size_t vm, const char *protocol, int64_t port,
            int64_t backend_port, bool floating_ip)
{
    struct host_lb *lb = VIEW_APPEND(v, lbs);
    lb->cookie = row_cookie(row);
    lb->vm = vm;
    lb->vip = *vip;
    lb->proto = slb_protocol(protocol);
    lb->port = port;
    lb->backend_port = backend_port;
    lb->floating_ip = floating_ip;
    return lb;
}

/* Adds to 'v' an entry for load-balancing rule 'rule' on VIP 'vip' to
 * local VM 'vm', and returns it for the caller to finish. */
static struct host_lb *
view_add_lb_rule(struct host_view *v, const struct slbrec_lb_rule *rule,
                 const struct in6_addr *vip, size_t vm)
{
    struct host_lb *lb = view_add_lb(v, &rule->header_, vip, vm,
                                     rule->protocol, rule->frontend_port,
                                     rule->backend_port, rule->floating_ip);
    lb->idle_timeout = slb_rule_idle_timeout(rule);
    lb->tcp_reset = rule->tcp_reset;
    return lb;
}

/* The load-balancing and inbound NAT rules with a local backend.
 *
 * The mux sends a flow to the host of the backend it chose, with the VM's
 * MAC as the inner destination if the database has it: each local backend
 * with a MAC gets the rule's packets to its MAC, and the one with the
 * lowest CA the others. */
static void
view_add_lbs(struct ovsdb_idl *slb_idl, const struct slbrec_host *self,
             struct host_view *v, struct svec *problems)
{
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, slb_idl) {
        struct in6_addr vip;
        if (!rule->frontend
            || !slb_addr_from_string(rule->frontend->vip, &vip)) {
            continue;
        }
        const char *fe_problem = slb_frontend_problem(rule->frontend,
                                                      rule->pool);
        if (fe_problem) {
            svec_add_nocopy(problems, xasprintf("rule %s: %s: left out",
                                                rule->name, fe_problem));
            continue;
        }
        size_t best = SIZE_MAX;
        for (size_t i = 0; rule->pool && i < rule->pool->n_members; i++) {
            size_t vm = backend_vm(v, self, rule->pool,
                                   rule->pool->members[i], problems);
            if (!vm_of_family(v, vm, &vip)) {
                continue;
            }
            if (best == SIZE_MAX
                || memcmp(&v->vms[vm].ca, &v->vms[best].ca,
                          sizeof v->vms[vm].ca) < 0) {
                best = vm;
            }
            if (!eth_addr_is_zero(v->vms[vm].mac)) {
                view_add_lb_rule(v, rule, &vip, vm)->by_mac = true;
            }
        }
        if (best != SIZE_MAX) {
            view_add_lb_rule(v, rule, &vip, best);
        }
    }

    const struct slbrec_inbound_nat_rule *nr;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nr, slb_idl) {
        struct in6_addr vip;
        size_t vm = backend_vm(v, self, NULL, nr->vm, NULL);
        if (vm != SIZE_MAX && nr->frontend
            && slb_addr_from_string(nr->frontend->vip, &vip)
            && vm_of_family(v, vm, &vip)
            && !slb_nat_frontend_problem(nr->frontend, nr->vm)) {
            struct host_lb *lb = view_add_lb(v, &nr->header_, &vip, vm,
                                             nr->protocol, nr->frontend_port,
                                             nr->backend_port,
                                             nr->floating_ip);
            lb->nat_rule = true;
            lb->idle_timeout = slb_idle_timeout(nr->idle_timeout,
                                                nr->n_idle_timeout);
        }
    }
}

/* The SNAT ports of the local VMs, by VM and VIP (see
 * host_view_order_snats() for the one each VM leaves through). */
static void
view_add_snats(struct ovsdb_idl *slb_idl, const struct slbrec_host *self,
               struct host_view *v, struct svec *problems)
{
    const struct slbrec_outbound_rule *rule;
    SLBREC_OUTBOUND_RULE_FOR_EACH (rule, slb_idl) {
        for (size_t i = 0; i < rule->n_allocations; i++) {
            const struct slbrec_snat_allocation *a = rule->allocations[i];
            size_t vm = backend_vm(v, self, rule->pool, a->vm, problems);
            struct in6_addr vip;
            if (vm != SIZE_MAX && a->frontend
                && !slb_frontend_is_internal(a->frontend)
                && slb_addr_from_string(a->frontend->vip, &vip)
                && vm_of_family(v, vm, &vip)
                && a->port_min <= a->port_max) {
                struct host_snat *sn = VIEW_APPEND(v, snats);
                sn->cookie = row_cookie(&a->header_);
                sn->vm = vm;
                sn->vip = vip;
                sn->proto = slb_protocol(rule->protocol);
                sn->port_min = a->port_min;
                sn->port_max = a->port_max;
                sn->idle_timeout = slb_idle_timeout(rule->idle_timeout,
                                                    rule->n_idle_timeout);
            }
        }
    }
    host_view_order_snats(v);
}

/* Parses optional prefix 'prefix' of ACL column 'column' into '*p' and
 * '*has' (false for none).  Returns NULL, or what is wrong with it. */
static char *
parse_acl_prefix(const char *column, const char *prefix,
                 struct host_prefix *p, bool *has)
{
    *has = prefix != NULL;
    if (!prefix) {
        return NULL;
    }
    char *error = slb_parse_addr_prefix(column, prefix, &p->net, &p->plen);
    if (error) {
        free(error);
        return xasprintf("%s \"%s\" is not an IPv4 or IPv6 prefix", column,
                         prefix);
    }
    return NULL;
}

/* Fills the match of 'a' from ACL row 'acl', if the agent can turn it into
 * flows.  Returns NULL, or what is wrong with it. */
static char *
parse_acl(const struct slbrec_acl *acl, struct host_acl *a)
{
    char *problem = parse_acl_prefix("src_prefix", acl->src_prefix, &a->src,
                                     &a->has_src);
    if (!problem) {
        problem = parse_acl_prefix("dst_prefix", acl->dst_prefix, &a->dst,
                                   &a->has_dst);
    }
    if (problem) {
        return problem;
    }
    bool ipv4 = IN6_IS_ADDR_V4MAPPED(a->has_src ? &a->src.net : &a->dst.net);
    if (a->has_src && a->has_dst
        && ipv4 != IN6_IS_ADDR_V4MAPPED(&a->dst.net)) {
        return xasprintf("src_prefix \"%s\" and dst_prefix \"%s\" are of "
                         "different families", acl->src_prefix,
                         acl->dst_prefix);
    }
    a->family = (!a->has_src && !a->has_dst ? AF_UNSPEC
                 : ipv4 ? AF_INET : AF_INET6);
    if (acl->n_src_port_max && (!acl->n_src_port_min
                                || *acl->src_port_max < *acl->src_port_min)) {
        return xstrdup("src_port_max without a src_port_min at most it");
    }
    if (acl->n_dst_port_max && (!acl->n_dst_port_min
                                || *acl->dst_port_max < *acl->dst_port_min)) {
        return xstrdup("dst_port_max without a dst_port_min at most it");
    }
    a->proto = slb_protocol(acl->protocol);
    if (acl->n_src_port_min) {
        a->src_port_min = *acl->src_port_min;
        a->src_port_max = (acl->n_src_port_max ? *acl->src_port_max
                           : a->src_port_min);
    }
    if (acl->n_dst_port_min) {
        a->dst_port_min = *acl->dst_port_min;
        a->dst_port_max = (acl->n_dst_port_max ? *acl->dst_port_max
                           : a->dst_port_min);
    }
    return NULL;
}

/* The ACL entries and rate limits of the local VMs.  An ACL row that the
 * agent cannot understand fails closed: its VM's traffic in its direction
 * is dropped, and 'problems' gets a line that names the row. */
static void
view_add_acls(const struct ovsrec_bridge *br, struct ovsdb_idl *slb_idl,
              struct host_view *v, struct svec *problems)
{
    const struct slbrec_acl *acl;
    SLBREC_ACL_FOR_EACH (acl, slb_idl) {
        size_t vm = iface_vm(v, br, acl->iface_id);
        if (vm == SIZE_MAX) {
            continue;
        }
        struct host_acl *a = VIEW_APPEND(v, acls);
        a->cookie = row_cookie(&acl->header_);
        a->vm = vm;
        a->to_vm = !strcmp(acl->direction, "to-vm");
        char *problem = parse_acl(acl, a);
        if (problem) {
            svec_add_nocopy(problems, xasprintf(
                                "ACL %s: %s: all %s traffic of %s dropped",
                                acl->name, problem, acl->direction,
                                acl->iface_id));
            free(problem);
            *a = (struct host_acl) {
                .cookie = a->cookie, .vm = vm, .to_vm = a->to_vm,
                .unusable = true,
            };
            continue;
        }
        a->priority = acl->priority;
        a->allow = !strcmp(acl->action, "allow");
    }

    /* A VM's meter for a direction has a number of its own, so that it
     * stays the same from one run of the agent to the next. */
    const struct slbrec_meter *meter;
    SLBREC_METER_FOR_EACH (meter, slb_idl) {
        size_t vm = iface_vm(v, br, meter->iface_id);
        if (vm != SIZE_MAX) {
            struct host_meter *m = VIEW_APPEND(v, meters);
            m->cookie = row_cookie(&meter->header_);
            m->vm = vm;
            m->to_vm = !strcmp(meter->direction, "to-vm");
            m->meter_id = 2 * v->vms[vm].ofport + m->to_vm;
            m->kbps = meter->rate;
            m->burst = meter->n_burst ? *meter->burst : 0;
        }
    }
}

/* Fills 'v' with what the flows of host 'self' depend on. */
static void
build_view(const struct slb_agent *agent, const struct ovsrec_bridge *br,
           struct ovsdb_idl *slb_idl, const struct slbrec_host *self,
           struct host_view *v, struct svec *problems)
{
    host_view_destroy(v);
    v->cookie = row_cookie(&self->header_);
    ip_parse(agent->settings.encap_ip, &v->pa);
    v->tunnel_ofport = ofport_of(br, TUNNEL_PORT);
    v->candidate_ofport = ofport_of(br, SLB_CANDIDATE_PORT);

    const char *uplink = agent->settings.uplink;
    v->uplink_ofport = uplink ? ofport_of(br, uplink) : -1;
    const struct ovsrec_interface *iface = uplink ? find_iface(br, uplink)
                                                  : NULL;
    v->uplink_mac = parse_mac(iface ? iface->mac_in_use : NULL);
    v->gateway_mac = parse_mac(smap_get(&self->options, "gateway-mac"));
    v->probe_ofport = ofport_of(br, SLB_PROBE_PORT);
    iface = find_iface(br, SLB_PROBE_PORT);
    v->probe_mac = parse_mac(iface ? iface->mac_in_use : NULL);
    v->underlay_mtu = smap_get_int(&self->options, "underlay-mtu", 1500);
    if (v->underlay_mtu < 576 || v->underlay_mtu > 65535) {
        v->underlay_mtu = 1500;
    }
    const struct slbrec_slb_global *global = slbrec_slb_global_first(slb_idl);
    const char *anycast = global ? smap_get(&global->options, "mux-anycast")
                                 : NULL;
    if (anycast && !ip_parse(anycast, &v->mux_anycast)) {
        svec_add_nocopy(problems, xasprintf("options:mux-anycast \"%s\" is "
                                            "not an IPv4 address", anycast));
    }

    view_add_vms(agent, br, slb_idl, self, v);
    view_add_remote(slb_idl, self, v, problems);
    view_add_lbs(slb_idl, self, v, problems);
    view_add_snats(slb_idl, self, v, problems);
    host_view_settle_fragments(v);
    view_add_acls(br, slb_idl, v, problems);
}

/* Replaces the agent's list of rows it cannot use by 'problems', logging
 * each problem that is new, so that a row is named once, not on every
 * computation. */
static void
update_row_problems(struct slb_agent *agent, struct svec *problems)
{
    svec_sort_unique(problems);
    for (size_t i = 0; i < problems->n; i++) {
        if (!svec_contains(&agent->row_problems, problems->names[i])) {
            VLOG_WARN("%s", problems->names[i]);
        }
    }
    svec_swap(&agent->row_problems, problems);
}

/* Returns true if meter sets 'a' and 'b' differ. */
static bool
meters_differ(const struct hmap *a, const struct hmap *b)
{
    if (hmap_count(a) != hmap_count(b)) {
        return true;
    }
    const struct ofctrl_meter *m;
    HMAP_FOR_EACH (m, node, a) {
        bool found = false;
        const struct ofctrl_meter *n;
        HMAP_FOR_EACH_WITH_HASH (n, node, m->node.hash, b) {
            if (n->id == m->id) {
                found = ofctrl_meter_equal(n, m);
                break;
            }
        }
        if (!found) {
            return true;
        }
    }
    return false;
}

/* Brings the flows and meters that the bridge should have, in
 * 'agent->flows' and 'agent->meters', in line with the databases: builds
 * the flows of what changed only.  Returns true if they may have
 * changed. */
static bool
compute_flows(struct slb_agent *agent, const struct ovsrec_bridge *br,
              struct ovsdb_idl *slb_idl, const struct slbrec_host *self)
{
    struct host_view *view = &agent->view;
    struct svec problems = SVEC_EMPTY_INITIALIZER;
    build_view(agent, br, slb_idl, self, view, &problems);
    update_row_problems(agent, &problems);
    svec_destroy(&problems);

    struct hmap meters = HMAP_INITIALIZER(&meters);
    ofctrl_add_meter(&meters, SLB_PIN_METER, SLB_PIN_RATE, true,
                     SLB_PIN_RATE);
    for (size_t i = 0; i < view->n_meters; i++) {
        const struct host_meter *m = &view->meters[i];
        ofctrl_add_meter(&meters, m->meter_id, m->kbps, false, m->burst);
    }
    bool changed = meters_differ(&meters, &agent->meters);
    ofctrl_meters_destroy(&agent->meters);
    hmap_init(&agent->meters);
    hmap_swap(&meters, &agent->meters);
    hmap_destroy(&meters);

    agent->flows_complete = (view->tunnel_ofport > 0
                             && view->candidate_ofport > 0
                             && view->probe_ofport > 0);
    if (agent->flows_complete) {
        changed |= desired_flows_update(&agent->flows, view);
    } else if (!hmap_is_empty(&agent->flows.items)) {
        desired_flows_clear(&agent->flows);
        changed = true;
    }
    return changed;
}

/* Health probes. */

/* The health of one backend under one probe. */
struct health_entry {
    struct health_state state;
    struct uuid vm;             /* The backend's VM row. */
    struct uuid probe;          /* The Probe row. */
    char *ca;                   /* The backend's CA and the probe's name, */
    char *probe_name;           /* for display. */
    int up_threshold;
    int down_threshold;
    bool seen;                  /* Still to probe, while updating. */
    uint64_t n_results[2];      /* Results so far: failures, successes. */
};

static void
health_entry_destroy(struct health_entry *e)
{
    if (e) {
        free(e->ca);
        free(e->probe_name);
        free(e);
    }
}

/* Gives network device 'name' link-local IPv6 address 'addr'/'plen',
 * without duplicate address detection (the pipeline answers no
 * solicitation from the unspecified address), and stores its index in
 * '*ifindex'.  Returns 0 or a positive errno value. */
static int
set_link_local6(const char *name, const struct in6_addr *addr,
                unsigned int plen, int *ifindex)
{
    *ifindex = if_nametoindex(name);
    if (!*ifindex) {
        return errno;
    }
    struct ofpbuf request;
    ofpbuf_init(&request, 0);
    nl_msg_put_nlmsghdr(&request, sizeof(struct ifaddrmsg), RTM_NEWADDR,
                        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE
                        | NLM_F_REPLACE);
    struct ifaddrmsg *ifa = ofpbuf_put_zeros(&request, sizeof *ifa);
    ifa->ifa_family = AF_INET6;
    ifa->ifa_prefixlen = plen;
    ifa->ifa_flags = IFA_F_NODAD;
    ifa->ifa_scope = RT_SCOPE_LINK;
    ifa->ifa_index = *ifindex;
    nl_msg_put_unspec(&request, IFA_LOCAL, addr, sizeof *addr);
    nl_msg_put_unspec(&request, IFA_ADDRESS, addr, sizeof *addr);
    int error = nl_transact(NETLINK_ROUTE, &request, NULL);
    ofpbuf_uninit(&request);
    return error;
}

/* Gives the probe port its IPv6 address, for the probes of IPv6 backends.
 * Returns true if it has it; otherwise 'agent->probe6_problem' says why
 * (IPv6 may be off on the host). */
static bool
configure_probe_port6(struct slb_agent *agent, struct in6_addr *source)
{
    ovs_assert(ipv6_parse(SLB_PROBE_SOURCE6, source));
    int error = set_link_local6(SLB_PROBE_PORT, source,
                                SLB_PROBE_SOURCE6_PLEN,
                                &agent->probe_ifindex6);
    free(agent->probe6_problem);
    agent->probe6_problem = NULL;
    if (error) {
        agent->probe_ifindex6 = 0;
        agent->probe6_problem = xasprintf(
            "no probes of IPv6 backends: cannot give %s the address %s (%s)",
            SLB_PROBE_PORT, SLB_PROBE_SOURCE6, ovs_strerror(error));
        VLOG_INFO("%s", agent->probe6_problem);
        return false;
    }
    return true;
}

/* Gives the probe port its address, once, so that the prober can connect
 * from it.  Returns true if it has it.  (With the dummy datapath of the
 * tests in sandboxes, the port has no kernel device and the agent does
 * not probe.) */
static bool
configure_probe_port(struct slb_agent *agent)
{
    if (agent->prober) {
        return true;
    }
    struct netdev *netdev;
    struct in_addr addr, mask;
    inet_pton(AF_INET, SLB_PROBE_SOURCE, &addr);
    mask.s_addr = be32_prefix_mask(SLB_PROBE_SOURCE_PLEN);
    int error = netdev_open(SLB_PROBE_PORT, "system", &netdev);
    if (!error) {
        error = netdev_set_in4(netdev, addr, mask);
        if (!error) {
            error = netdev_turn_flags_on(netdev, NETDEV_UP, NULL);
        }
        netdev_close(netdev);
    }
    if (error) {
        char *problem = xasprintf("no probes: cannot give %s the address "
                                  "%s (%s)", SLB_PROBE_PORT,
                                  SLB_PROBE_SOURCE, ovs_strerror(error));
        if (!agent->probe_problem || strcmp(problem, agent->probe_problem)) {
            VLOG_INFO("%s", problem);
        }
        free(agent->probe_problem);
        agent->probe_problem = problem;
        return false;
    }
    free(agent->probe_problem);
    agent->probe_problem = NULL;
    VLOG_INFO("probing from %s on %s", SLB_PROBE_SOURCE, SLB_PROBE_PORT);
    struct in6_addr source6;
    bool ipv6 = configure_probe_port6(agent, &source6);
    if (ipv6) {
        VLOG_INFO("probing IPv6 backends from %s on %s", SLB_PROBE_SOURCE6,
                  SLB_PROBE_PORT);
    }
    agent->prober = prober_create(addr.s_addr, ipv6 ? &source6 : NULL);
    return true;
}

/* Returns the key of the health of 'backend' under 'probe', in
 * 'agent->health' and in the map of health_rows(): "BACKEND/PROBE", by
 * their UUIDs.  The caller frees it. */
static char *
health_key(const struct uuid *backend, const struct uuid *probe)
{
    return xasprintf(UUID_FMT"/"UUID_FMT, UUID_ARGS(backend),
                     UUID_ARGS(probe));
}

/* Fills 'rows' with this host's Backend_Health rows whose backend and probe
 * still exist, by health_key(). */
static void
health_rows(struct ovsdb_idl *idl, const struct slbrec_host *self,
            struct shash *rows)
{
    const struct slbrec_backend_health *row;
    SLBREC_BACKEND_HEALTH_FOR_EACH (row, idl) {
        if (row->vm && row->probe
            && !strcmp(row->host_name, self->name)) {
            char *key = health_key(&row->vm->header_.uuid,
                                   &row->probe->header_.uuid);
            shash_add_once(rows, key, row);
            free(key);
        }
    }
}

/* Deletes, through 'txn', this host's Backend_Health rows that stand for
 * no health that the agent keeps: their backend or probe is gone, the
 * backend is no longer bound here, or the row repeats another. */
static void
delete_stale_health_rows(const struct slb_agent *agent,
                         struct ovsdb_idl *idl, const struct slbrec_host *self)
{
    struct sset seen = SSET_INITIALIZER(&seen);
    const struct slbrec_backend_health *row;
    SLBREC_BACKEND_HEALTH_FOR_EACH (row, idl) {
        if (strcmp(row->host_name, self->name)) {
            continue;           /* Another host's, until the monitor
                                 * condition applies. */
        }
        char *key = (row->vm && row->probe
                     ? health_key(&row->vm->header_.uuid,
                                  &row->probe->header_.uuid)
                     : NULL);
        if (!key || !shash_find(&agent->health, key)
            || !sset_add(&seen, key)) {
            VLOG_INFO("deleting the health of %s for probe %s: %s",
                      row->vm ? row->vm->ca : "a deleted backend",
                      row->probe ? row->probe->name : "a deleted probe",
                      !key ? "gone"
                      : !shash_find(&agent->health, key) ? "not probed here"
                      : "a duplicate");
            slbrec_backend_health_delete(row);
        }
        free(key);
    }
    sset_destroy(&seen);
}

/* Makes the prober probe every local backend of every rule with a probe,
 * and keeps the health of each, starting from the database's. */
static void
update_probes(struct slb_agent *agent, struct ovsdb_idl *slb_idl,
              const struct slbrec_host *self)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, &agent->health) {
        ((struct health_entry *) node->data)->seen = false;
    }

    struct shash rows = SHASH_INITIALIZER(&rows);
    health_rows(slb_idl, self, &rows);

    struct prober_target *targets = NULL;
    size_t n_targets = 0, allocated = 0;
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, slb_idl) {
        const struct slbrec_probe *probe = rule->probe;
        for (size_t i = 0; probe && rule->pool
                 && i < rule->pool->n_members; i++) {
            const struct slbrec_vm *b = rule->pool->members[i];
            size_t vm = backend_vm(&agent->view, self, rule->pool, b, NULL);
            if (vm == SIZE_MAX) {
                continue;
            }
            const struct host_vm *hv = &agent->view.vms[vm];
            int family = IN6_IS_ADDR_V4MAPPED(&hv->ca) ? AF_INET : AF_INET6;
            if (family == AF_INET6 && !agent->probe_ifindex6) {
                continue;       /* 'probe6_problem' says why. */
            }
            char *key = health_key(&b->header_.uuid, &probe->header_.uuid);
            struct health_entry *e = shash_find_data(&agent->health, key);
            if (!e) {
                const struct slbrec_backend_health *row
                    = shash_find_data(&rows, key);
                e = xzalloc(sizeof *e);
                health_init(&e->state, !row || strcmp(row->status, "down"),
                            row ? row->reason : NULL);
                e->vm = b->header_.uuid;
                e->probe = probe->header_.uuid;
                shash_add(&agent->health, key, e);
            } else if (e->seen) {
                free(key);
                continue;       /* Another rule with the same probe. */
            }
            free(e->ca);
            free(e->probe_name);
            e->ca = xstrdup(b->ca);
            e->probe_name = xstrdup(probe->name);
            struct slb_probe_settings ps;
            slb_probe_settings(probe, &ps);
            e->up_threshold = ps.up_threshold;
            e->down_threshold = ps.down_threshold;
            e->seen = true;

            if (n_targets >= allocated) {
                targets = x2nrealloc(targets, &allocated, sizeof *targets);
            }
            targets[n_targets++] = (struct prober_target) {
                .key = key,
                .ip = host_flows_probe_address(hv->ofport, family),
                .scope = agent->probe_ifindex6,
                .port = probe->port,
                .path = (strcmp(probe->protocol, "tcp") ? probe->path : NULL),
                .tls = !strcmp(probe->protocol, "https"),
                .interval_ms = ps.interval * 1000,
                .timeout_ms = ps.timeout * 1000,
            };
        }
    }

    shash_destroy(&rows);

    struct shash_node *next;
    SHASH_FOR_EACH_SAFE (node, next, &agent->health) {
        struct health_entry *e = node->data;
        if (!e->seen) {
            health_entry_destroy(e);
            shash_delete(&agent->health, node);
        }
    }
    if (agent->prober) {
        prober_set_targets(agent->prober, targets, n_targets);
    }
    for (size_t i = 0; i < n_targets; i++) {
        free(targets[i].key);
    }
    free(targets);
}

/* Feeds the prober's results into the health of the backends, and writes
 * into the database through 'txn' each backend's first verdict and each
 * change of its verdict or of the kind of its results, and only those: a
 * steady backend costs no writes. */
static void
process_probe_results(struct slb_agent *agent, struct ovsdb_idl *slb_idl,
                      const struct slbrec_host *self,
                      struct ovsdb_idl_txn *txn)
{
    long long int now = time_msec();
    if (!agent->prober || !txn || now < agent->next_results) {
        return;
    }
    /* Results come in one by one; taking them in batches spares the main
     * loop a wakeup for each. */
    agent->next_results = now + 100;
    size_t n;
    struct prober_result *results = prober_take_results(agent->prober, &n);
    struct shash rows = SHASH_INITIALIZER(&rows);
    if (n) {
        health_rows(slb_idl, self, &rows);
    }
    for (size_t i = 0; i < n; i++) {
        const struct prober_result *r = &results[i];
        struct health_entry *e = shash_find_data(&agent->health, r->key);
        if (!e) {
            continue;
        }
        e->n_results[r->ok]++;
        bool changed = health_update(&e->state, r->ok, r->reason,
                                     e->up_threshold, e->down_threshold,
                                     now);
        const struct slbrec_backend_health *row = shash_find_data(&rows,
                                                                  r->key);
        if (!changed && row && !strcmp(row->reason, r->reason)) {
            continue;
        }

        /* A backend's first result is written even if it leaves the
         * verdict as it was ("up" then means probed, not just "not yet
         * found down"), and so is a result of another kind than the last
         * ("refused", then "http 200"): operators see why. */
        const char *status = e->state.up ? "up" : "down";
        if (changed) {
            VLOG_INFO("backend %s is %s for probe %s: %s", e->ca, status,
                      e->probe_name, r->reason);
        }
        const struct slbrec_vm *vm = slbrec_vm_get_for_uuid(slb_idl, &e->vm);
        const struct slbrec_probe *probe
            = slbrec_probe_get_for_uuid(slb_idl, &e->probe);
        if (!vm || !probe) {
            continue;
        }
        if (!row) {
            struct slbrec_backend_health *new_row
                = slbrec_backend_health_insert(txn);
            slbrec_backend_health_set_vm(new_row, vm);
            slbrec_backend_health_set_probe(new_row, probe);
            slbrec_backend_health_set_host_name(new_row, self->name);
            row = new_row;
            shash_add(&rows, r->key, row);  /* Another result may follow. */
        }
        slbrec_backend_health_set_status(row, status);
        slbrec_backend_health_set_reason(row, r->reason);
    }
    shash_destroy(&rows);
    prober_results_destroy(results, n);
}

/* Packets from the pipeline. */

/* A frame too big for the tunnel may be a VM's answer on a load-balanced
 * connection from another VM of its network, whose source conntrack has
 * turned back into the VIP and port: gives 'frame' ('len' bytes, from VM
 * 'vm' of 'v') the VM's own address and port again, those that the VM's
 * socket has, which the VM must find in the quote of the answer. */
static void
restore_source(const struct host_view *v, size_t vm, uint8_t *frame,
               size_t len)
{
    struct in6_addr src;
    uint8_t proto;
    ovs_be16 sport;
    if (!frag_needed_source(frame, len, &src, &proto, &sport)
        || ipv6_addr_equals(&src, &v->vms[vm].ca)) {
        return;
    }
    for (size_t i = 0; i < v->n_lbs; i++) {
        const struct host_lb *lb = &v->lbs[i];
        if (lb->vm == vm && ipv6_addr_equals(&lb->vip, &src)
            && !lb->floating_ip
            && (!lb->proto
                || (lb->proto == proto && lb->port == ntohs(sport)))) {
            ovs_be16 port = (lb->backend_port ? htons(lb->backend_port)
                             : sport);
            frag_needed_restore_source(frame, len, &v->vms[vm].ca, port);
            return;
        }
    }
}

/* Answers frame 'pin', from the VM on OpenFlow port 'ofport', too big for
 * the tunnel. */
static void
answer_too_big(struct slb_agent *agent, const struct ofputil_packet_in *pin,
               uint32_t ofport)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    const struct host_view *v = &agent->view;
    for (size_t i = 0; i < v->n_vms; i++) {
        if (v->vms[i].ofport == ofport) {
            int mtu = v->underlay_mtu - SLB_VXLAN_OVERHEAD;
            uint8_t *frame = xmemdup(pin->packet, pin->packet_len);
            restore_source(v, i, frame, pin->packet_len);
            struct dp_packet *reply = frag_needed_compose(frame,
                                                          pin->packet_len,
                                                          v->vms[i].mac, mtu);
            free(frame);
            if (reply) {
                ofctrl_send_packet(agent->ofctrl, dp_packet_data(reply),
                                   dp_packet_size(reply), ofport);
                dp_packet_delete(reply);
                COVERAGE_INC(agent_frag_needed);
            } else {
                COVERAGE_INC(agent_too_big_dropped);
            }
            VLOG_DBG_RL(&rl, "port %"PRIu32": %"PRIuSIZE"-byte frame too big "
                        "for the tunnel (MTU %d)", ofport, pin->packet_len,
                        mtu);
            return;
        }
    }
}

/* Returns the entry of 'v' with TCP reset, to the VM on OpenFlow port
 * 'ofport', whose connection TCP segment 'frame' ('len' bytes) is of: one
 * that the VM sent if 'from_vm', else one from a mux, whose destination
 * port it stores in '*dportp'.  Returns NULL if there is none. */
static const struct host_lb *
find_reset_entry(const struct host_view *v, uint32_t ofport, bool from_vm,
                 const uint8_t *frame, size_t len, uint16_t *dportp)
{
    struct in6_addr src, dst;
    uint16_t sport, dport;
    if (!tcp_reset_addresses(frame, len, &src, &sport, &dst, &dport)) {
        return NULL;
    }
    *dportp = dport;
    for (size_t i = 0; i < v->n_lbs; i++) {
        const struct host_lb *lb = &v->lbs[i];
        const struct host_vm *vm = &v->vms[lb->vm];
        if (!host_lb_takes_reset(lb) || vm->ofport != ofport) {
            continue;
        }
        if (from_vm) {
            if (lb->proto && ipv6_addr_equals(&src, lb->floating_ip
                                              ? &lb->vip : &vm->ca)
                && sport == host_lb_vm_port(lb)) {
                return lb;
            }
        } else if (ipv6_addr_equals(&dst, &lb->vip)
                   && (!lb->proto || dport == lb->port)) {
            return lb;
        }
    }
    return NULL;
}

/* Returns true if 'vip' is an internal VIP of virtual network 'vni' in
 * 'v': its clients are VMs of the network. */
static bool
is_internal_vip(const struct host_view *v, const struct in6_addr *vip,
                uint32_t vni)
{
    for (size_t i = 0; i < v->n_internal_vips; i++) {
        if (v->internal_vips[i].vni == vni
            && ipv6_addr_equals(&v->internal_vips[i].vip, vip)) {
            return true;
        }
    }
    return false;
}

/* Sends 'packet' through the pipeline from table 'table', with the VNI,
 * VM port and flags registers set to 'vni', 'ofport' and 'flags'. */
static void
inject(struct slb_agent *agent, struct dp_packet *packet, uint32_t vni,
       uint32_t ofport, uint32_t flags, int table)
{
    uint32_t regs[FLOW_N_REGS] = {
        [SLB_REG_VNI] = vni,
        [SLB_REG_VM_PORT] = ofport,
        [SLB_REG_FLAGS] = flags,
    };
    ofctrl_resubmit_packet(agent->ofctrl, dp_packet_data(packet),
                           dp_packet_size(packet), regs, table);
    dp_packet_delete(packet);
}

/* Resets both ends of the connection of TCP segment 'pin', which the VM
 * on OpenFlow port 'ofport' sent if 'from_vm', else a mux brought, and
 * which the VM's conntrack does not know (see tcp-reset.h).  The VM's
 * reset goes out its port as the pipeline delivers to it; the client's
 * leaves as the VM's replies do: through the uplink (Direct Server
 * Return), or, for an internal VIP, through the virtual network. */
static void
reset_connection(struct slb_agent *agent,
                 const struct ofputil_packet_in *pin, uint32_t ofport,
                 bool from_vm)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    const struct host_view *v = &agent->view;
    uint16_t dport;
    const struct host_lb *lb = find_reset_entry(v, ofport, from_vm,
                                                pin->packet, pin->packet_len,
                                                &dport);
    if (!lb) {
        COVERAGE_INC(agent_tcp_reset_unknown);
        VLOG_DBG_RL(&rl, "port %"PRIu32": segment of no rule with TCP reset",
                    ofport);
        return;
    }
    const struct host_vm *vm = &v->vms[lb->vm];
    struct tcp_reset_ends ends = {
        .vm_ip = lb->floating_ip ? lb->vip : vm->ca,
        .vm_port = host_lb_vm_port(lb),
        .vm_mac = vm->mac,
        .vip = lb->vip,
        .vip_port = lb->port,
    };
    if (!lb->proto) {
        /* HA ports keep the port, which only a client's segment shows (the
         * rule's VM-side flow needs a port). */
        ends.vip_port = ends.vm_port = dport;
    }
    struct dp_packet *to_vm, *to_client;
    if (!tcp_reset_compose(pin->packet, pin->packet_len, from_vm, &ends,
                           &to_vm, &to_client)) {
        COVERAGE_INC(agent_tcp_reset_unknown);
        return;
    }
    inject(agent, to_vm, vm->vni, vm->ofport, 0, SLB_TABLE_VNET);
    if (is_internal_vip(v, &lb->vip, vm->vni)) {
        inject(agent, to_client, vm->vni, vm->ofport, SLB_FLAG_FROM_VM,
               SLB_TABLE_VNET);
    } else {
        inject(agent, to_client, vm->vni, vm->ofport, SLB_FLAG_FROM_VM,
               SLB_TABLE_UPLINK);
    }
    COVERAGE_INC(agent_tcp_reset);
    agent->n_tcp_resets++;
    VLOG_DBG_RL(&rl, "port %"PRIu32": reset a connection that idled out, "
                "on the %s's segment", ofport, from_vm ? "VM" : "client");
}

/* Takes fragment 'pin', which the bridge paused and sent in message
 * 'msg', and sends back to the bridge those of its datagram whose port is
 * known now (see frag-hold.h). */
static void
hold_fragment(struct slb_agent *agent, const struct ofputil_packet_in *pin,
              const struct ofp_header *msg)
{
    struct ovs_list ready = OVS_LIST_INITIALIZER(&ready);
    uint32_t port = frag_hold_add(
        agent->frag_hold, pin->flow_metadata.flow.regs[SLB_REG_VNI],
        pin->packet, pin->packet_len,
        ofpbuf_clone_data(msg, ntohs(msg->length)), time_msec(), &ready);
    struct ofpbuf *held;
    LIST_FOR_EACH_POP (held, list_node, &ready) {
        ofctrl_resume(agent->ofctrl, held->data, SLB_REG_FRAG_PORT, port);
        ofpbuf_delete(held);
    }
}

/* Handles a packet that a flow sent to the agent: a frame too big for the
 * tunnel, a segment of a connection to reset, or a fragment to hold. */
static void
handle_packet_in(const struct ofputil_packet_in *pin,
                 const struct ofp_header *msg, void *agent_)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    struct slb_agent *agent = agent_;

    uint32_t reason = (pin->userdata_len == 4
                       ? ntohl(get_unaligned_be32(
                                   ALIGNED_CAST(const ovs_be32 *,
                                                pin->userdata)))
                       : 0);
    uint32_t ofport = pin->flow_metadata.flow.regs[SLB_REG_VM_PORT];
    if (reason == SLB_PIN_FRAG_NEEDED) {
        answer_too_big(agent, pin, ofport);
    } else if (reason == SLB_PIN_TCP_RESET) {
        reset_connection(agent, pin, ofport,
                         pin->table_id == SLB_TABLE_LB_RESET_OUT);
    } else if (reason == SLB_PIN_FRAGMENT) {
        hold_fragment(agent, pin, msg);
    } else {
        VLOG_WARN_RL(&rl, "packet from the bridge with unknown userdata");
    }
}

static const struct slbrec_host *
find_host(struct ovsdb_idl *idl, const char *name)
{
    const struct slbrec_host *host;
    SLBREC_HOST_FOR_EACH (host, idl) {
        if (!strcmp(host->name, name)) {
            return host;
        }
    }
    return NULL;
}

static void
set_problem(struct slb_agent *agent, char *problem)
{
    if (problem && (!agent->problem || strcmp(problem, agent->problem))) {
        VLOG_WARN("%s", problem);
    }
    free(agent->problem);
    agent->problem = problem;
}

/* Makes the SLB database send only what this host needs (monitor.h), from
 * the rows that the agent has and the iface-ids of the ports of 'br' (if
 * nonnull).  Called on every pass, it works the conditions out again only
 * when a database changed: with thousands of local backends, that is
 * milliseconds. */
static void
update_monitor(struct slb_agent *agent, struct ovsdb_idl *ovs_idl,
               struct ovsdb_idl *slb_idl, const struct ovsrec_bridge *br,
               const struct slbrec_host *self)
{
    /* (Not the change numbers of the tables that the conditions come from:
     * the IDL may move a table's number ahead of the database's when rows
     * go with the rows that refer to them, and then leave it where it is
     * on the table's next change.) */
    unsigned int ovs_seqno = ovsdb_idl_get_seqno(ovs_idl);
    unsigned int slb_seqno = ovsdb_idl_get_seqno(slb_idl);
    if (ovs_seqno == agent->monitor_ovs_seqno
        && slb_seqno == agent->monitor_slb_seqno) {
        return;
    }
    agent->monitor_ovs_seqno = ovs_seqno;
    agent->monitor_slb_seqno = slb_seqno;

    struct sset iface_ids = SSET_INITIALIZER(&iface_ids);
    for (size_t i = 0; br && i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            const char *id = smap_get(&port->interfaces[j]->external_ids,
                                      "iface-id");
            if (id) {
                sset_add(&iface_ids, id);
            }
        }
    }
    monitor_update(&agent->monitor, slb_idl, agent->settings.host_name,
                   self, &iface_ids);
    sset_destroy(&iface_ids);
}

/* Makes this host's VM_Binding rows, through 'txn', say which VMs the
 * agent bound to which ports: one row per VM row of a bound VM, none for
 * any other.
 * Called once the bridge has the flows of the bindings, so that a mux
 * sends a VM new flows only once its host can deliver them. */
static void
report_bindings(const struct slb_agent *agent, struct ovsdb_idl *slb_idl,
                struct ovsdb_idl_txn *txn)
{
    /* The port of each bound VM row. */
    struct shash wanted = SHASH_INITIALIZER(&wanted);
    struct shash_node *node;
    SHASH_FOR_EACH (node, &agent->bindings) {
        const struct vm_binding *b = node->data;
        for (size_t i = 0; i < b->n_rows; i++) {
            char *key = xasprintf(UUID_FMT, UUID_ARGS(&b->rows[i]));
            shash_add_nocopy(&wanted, key, node->name);
        }
    }

    const char *self = agent->settings.host_name;
    const struct slbrec_vm_binding *row;
    SLBREC_VM_BINDING_FOR_EACH (row, slb_idl) {
        if (strcmp(row->host_name, self)) {
            continue;           /* Another host's, until the monitor
                                 * condition applies. */
        }
        char *key = (row->vm
                     ? xasprintf(UUID_FMT, UUID_ARGS(&row->vm->header_.uuid))
                     : NULL);
        const char *port = key ? shash_find_and_delete(&wanted, key) : NULL;
        if (!port) {
            slbrec_vm_binding_delete(row);
        } else if (strcmp(row->port, port)) {
            slbrec_vm_binding_set_port(row, port);
        }
        free(key);
    }
    SHASH_FOR_EACH (node, &wanted) {
        struct uuid uuid;
        const struct slbrec_vm *vm
            = (uuid_from_string(&uuid, node->name)
               ? slbrec_vm_get_for_uuid(slb_idl, &uuid) : NULL);
        if (vm) {
            struct slbrec_vm_binding *new = slbrec_vm_binding_insert(txn);
            slbrec_vm_binding_set_vm(new, vm);
            slbrec_vm_binding_set_host_name(new, self);
            slbrec_vm_binding_set_port(new, node->data);
        }
    }
    shash_destroy(&wanted);
}

/* Writes into the host's Host_Status row, through 'txn', the nb_cfg of
 * 'global' (the configuration is applied) and the agent's state. */
static void
report_status(const struct slb_agent *agent, struct ovsdb_idl *slb_idl,
              const struct slbrec_slb_global *global,
              struct ovsdb_idl_txn *txn)
{
    const char *name = agent->settings.host_name;
    const struct slbrec_host_status *hs;
    SLBREC_HOST_STATUS_FOR_EACH (hs, slb_idl) {
        if (!strcmp(hs->name, name)) {
            break;
        }
    }
    if (!hs) {
        struct slbrec_host_status *new_hs = slbrec_host_status_insert(txn);
        slbrec_host_status_set_name(new_hs, name);
        hs = new_hs;
    }

    if (global && hs->nb_cfg != global->nb_cfg) {
        slbrec_host_status_set_nb_cfg(hs, global->nb_cfg);
        slbrec_host_status_set_nb_cfg_timestamp(hs, time_wall_msec());
    }
    struct smap status = SMAP_INITIALIZER(&status);
    size_t n_rejected = ofctrl_n_rejected(agent->ofctrl);
    smap_add(&status, "state", (n_rejected || agent->row_problems.n
                                ? "degraded" : "active"));
    smap_add_format(&status, "bindings", "%"PRIuSIZE,
                    shash_count(&agent->bindings));
    struct svec problems = SVEC_EMPTY_INITIALIZER;
    svec_append(&problems, &agent->row_problems);
    if (n_rejected) {
        svec_add_nocopy(&problems, xasprintf("the bridge refused %"PRIuSIZE
                                             " flows", n_rejected));
    }
    if (problems.n) {
        char *s = svec_join(&problems, "; ", "");
        smap_add(&status, "problems", s);
        free(s);
    }
    svec_destroy(&problems);
    if (!smap_equal(&status, &hs->status)) {
        slbrec_host_status_set_status(hs, &status);
    }
    smap_destroy(&status);
}

/* Changes that concern no flow of this host.
 *
 * Every pool that holds a backend of this host is in the replica, and so
 * is every change of its set of backends, including those that only add
 * or take away another host's backend.  Each host with a backend in the
 * pool would work out its conditions and its flows again, for nothing: a
 * backend added to a pool of eight backends would wake eight hosts.  So
 * the agent tracks what changes in the replica, and remembers which of its
 * own backends each pool held when it last computed the flows.  When
 * nothing changed but pools' sets of backends, and each changed pool still
 * holds the same backends of this host (those that the replica has), the
 * change is none of this host's business. */

struct pool_locals {
    struct hmap_node node;      /* In 'pool_locals' of struct slb_agent. */
    struct uuid pool;
    struct uuid *backends;      /* This host's backends that it holds. */
    size_t n;
};

static void
pool_locals_clear(struct hmap *map)
{
    struct pool_locals *pl;
    HMAP_FOR_EACH_POP (pl, node, map) {
        free(pl->backends);
        free(pl);
    }
}

static const struct pool_locals *
pool_locals_find(const struct hmap *map, const struct uuid *pool)
{
    const struct pool_locals *pl;
    HMAP_FOR_EACH_WITH_HASH (pl, node, uuid_hash(pool), map) {
        if (uuid_equals(&pl->pool, pool)) {
            return pl;
        }
    }
    return NULL;
}

/* Returns true if 'pl' (which may be NULL) lists exactly the backends on
 * 'host' that 'pool' holds.  (The replica also holds the other VMs of this
 * host's networks, some of them backends of the same pools, but those
 * change no flow here.) */
static bool
pool_locals_equal(const struct pool_locals *pl,
                  const struct slbrec_backend_pool *pool,
                  const struct slbrec_host *host)
{
    if (!pl) {
        return false;
    }
    size_t n = 0;
    for (size_t i = 0; i < pool->n_members; i++) {
        const struct slbrec_vm *vm = pool->members[i];
        if (vm->host == host
            && (n >= pl->n || !uuid_equals(&pl->backends[n++],
                                           &vm->header_.uuid))) {
            return false;
        }
    }
    return n == pl->n;
}

/* Remembers, once the flows are computed, which backends on 'host' each
 * pool holds, and forgets the changes that led there. */
static void
remember_inputs(struct slb_agent *agent, struct ovsdb_idl *idl,
                const struct slbrec_host *host)
{
    pool_locals_clear(&agent->pool_locals);
    const struct slbrec_backend_pool *pool;
    SLBREC_BACKEND_POOL_FOR_EACH (pool, idl) {
        struct pool_locals *pl = xmalloc(sizeof *pl);
        pl->pool = pool->header_.uuid;
        pl->n = 0;
        pl->backends = xmalloc(MAX(pool->n_members, 1)
                               * sizeof *pl->backends);
        for (size_t i = 0; i < pool->n_members; i++) {
            if (pool->members[i]->host == host) {
                pl->backends[pl->n++] = pool->members[i]->header_.uuid;
            }
        }
        hmap_insert(&agent->pool_locals, &pl->node, uuid_hash(&pl->pool));
    }
    ovsdb_idl_track_clear(idl);
}

/* Returns true if tracked row 'row' came, went, or changed a column.  (The
 * IDL also tracks, unchanged, the rows that refer to a changed row.) */
static bool
row_changed(const struct ovsdb_idl_row *row)
{
    if (ovsdb_idl_row_get_seqno(row, OVSDB_IDL_CHANGE_INSERT)
        || ovsdb_idl_row_get_seqno(row, OVSDB_IDL_CHANGE_DELETE)) {
        return true;
    }
    const struct ovsdb_idl_table_class *tc = row->table->class_;
    for (size_t c = 0; c < tc->n_columns; c++) {
        if (ovsdb_idl_track_is_updated(row, &tc->columns[c])) {
            return true;
        }
    }
    return false;
}

/* Returns true if the SLB database changed since remember_inputs() in a
 * way that may concern this host's conditions or flows. */
static bool
changes_matter(const struct slb_agent *agent, struct ovsdb_idl *idl,
               const struct slbrec_host *host)
{
    for (size_t t = 0; t < slbrec_idl_class.n_tables; t++) {
        const struct ovsdb_idl_table_class *tc = &slbrec_idl_class.tables[t];
        if (tc == &slbrec_table_host_status || tc == &slbrec_table_vm_binding
            || tc == &slbrec_table_backend_health) {
            continue;           /* What the agent itself reports. */
        }
        for (const struct ovsdb_idl_row *row = ovsdb_idl_track_get_first(idl,
                                                                         tc);
             row; row = ovsdb_idl_track_get_next(row)) {
            if (!row_changed(row)) {
                continue;
            }
            if (tc != &slbrec_table_backend_pool) {
                return true;
            }
            const struct slbrec_backend_pool *pool
                = CONTAINER_OF(row, struct slbrec_backend_pool, header_);
            if (slbrec_backend_pool_is_new(pool)
                || slbrec_backend_pool_is_deleted(pool)) {
                return true;
            }
            for (int c = 0; c < SLBREC_BACKEND_POOL_N_COLUMNS; c++) {
                if (c != SLBREC_BACKEND_POOL_COL_MEMBERS
                    && slbrec_backend_pool_is_updated(pool, c)) {
                    return true;
                }
            }
            if (!pool_locals_equal(pool_locals_find(&agent->pool_locals,
                                                    &row->uuid),
                                   pool, host)) {
                return true;
            }
        }
    }
    return false;
}

/* The part of a pass of the agent that reads the databases: settings,
 * tunnel port, bindings, flows, health.  Returns this host's row, or NULL
 * if the agent cannot work out the flows yet, and sets '*bridge_ready' to
 * whether the bridge is ready to take them. */
static const struct slbrec_host *
agent_update(struct slb_agent *agent, struct ovsdb_idl_txn *ovs_txn,
             struct ovsdb_idl_txn *slb_txn, bool *bridge_ready)
{
    struct ovsdb_idl *ovs_idl = agent->ovs_loop.idl;
    struct ovsdb_idl *slb_idl = agent->slb_loop.idl;

    /* Nothing to judge before the first contents of the database. */
    if (!ovsdb_idl_has_ever_connected(ovs_idl)) {
        return NULL;
    }
    char *problem = read_settings(ovsrec_open_vswitch_first(ovs_idl),
                                  &agent->settings);
    if (problem) {
        set_problem(agent, problem);
        return NULL;
    }
    struct agent_settings *s = &agent->settings;
    const struct ovsrec_bridge *br = find_bridge(ovs_idl, s->bridge);
    const struct slbrec_host *host = find_host(slb_idl, s->host_name);

    /* A change of either database starts the clock, before the conditions
     * that it calls for go out: waiting for the rows that they bring
     * counts too. */
    unsigned int ovs_seqno = ovsdb_idl_get_seqno(ovs_idl);
    unsigned int slb_seqno = ovsdb_idl_get_seqno(slb_idl);
    bool db_changed = (ovs_seqno != agent->ovs_seqno
                       || slb_seqno != agent->slb_seqno);
    if (db_changed && ovs_seqno == agent->ovs_seqno && agent->n_computes
        && host && monitor_is_complete(&agent->monitor, slb_idl)
        && !changes_matter(agent, slb_idl, host)) {
        /* Neither the conditions nor the flows can change, and each pool
         * still holds the local backends remembered. */
        COVERAGE_INC(agent_changes_ignored);
        agent->slb_seqno = slb_seqno;
        agent->monitor_slb_seqno = slb_seqno;
        ovsdb_idl_track_clear(slb_idl);
        db_changed = false;
    }
    if (db_changed && !agent->change_start) {
        agent->change_start = time_msec();
        agent->change_start_rounds = agent->monitor.n_rounds;
    }
    update_monitor(agent, ovs_idl, slb_idl, br, host);
    ovsdb_idl_set_remote(slb_idl, s->slb_remote, true);
    ofctrl_set_bridge(agent->ofctrl, s->bridge);

    if (!br) {
        set_problem(agent, xasprintf("bridge %s does not exist", s->bridge));
        return NULL;
    }
    *bridge_ready = ensure_host_ports(br, ovs_txn);
    *bridge_ready &= ensure_table_names(br, ovs_txn);

    if (!ovsdb_idl_has_ever_connected(slb_idl)) {
        return NULL;
    }
    if (!host) {
        set_problem(agent, xasprintf("no host named \"%s\" in the SLB "
                                     "database", s->host_name));
        return NULL;
    }
    set_problem(agent, NULL);

    /* The bindings and the flows: computed in full when either database
     * changed, the flows installed as a difference.  While the replica
     * fills in, round after round, the flows would be computed for
     * nothing: they are offered to the bridge only once it is complete. */
    if (db_changed && monitor_is_complete(&agent->monitor, slb_idl)) {
        COVERAGE_INC(agent_flows_computed);
        agent->n_computes++;
        agent->ovs_seqno = ovs_seqno;
        agent->slb_seqno = slb_seqno;
        long long int start = time_msec();
        update_bindings(agent, br, slb_idl, host);
        if (compute_flows(agent, br, slb_idl, host)) {
            ofctrl_desired_changed(agent->ofctrl);
        }
        remember_inputs(agent, slb_idl, host);
        if (agent->view.probe_ofport > 0) {
            configure_probe_port(agent);
        }
        update_probes(agent, slb_idl, host);
        free(agent->zones);
        agent->n_zones = host_view_zone_timeouts(&agent->view,
                                                 &agent->zones);
        agent->compute_msec = time_msec() - start;
    }
    if (agent->n_computes) {
        *bridge_ready &= ct_zones_update(ovs_idl, br, agent->zones,
                                         agent->n_zones, ovs_txn);
    }

    /* The status rows: only once the server sends all that this host
     * needs, or a health row's backend could seem gone. */
    if (slb_txn && monitor_is_complete(&agent->monitor, slb_idl)) {
        process_probe_results(agent, slb_idl, host, slb_txn);
        delete_stale_health_rows(agent, slb_idl, host);
    }

    *bridge_ready &= agent->flows_complete;
    return host;
}

/* One pass of the agent: reads the databases, has the bridge install the
 * flows, and reports what is applied. */
static void
agent_run(struct slb_agent *agent, struct ovsdb_idl_txn *ovs_txn,
          struct ovsdb_idl_txn *slb_txn)
{
    bool bridge_ready = false;
    const struct slbrec_host *host = agent_update(agent, ovs_txn, slb_txn,
                                                  &bridge_ready);
    if (agent->settings.slb_remote) {
        db_watch_run(&agent->db, agent->slb_loop.idl,
                     agent->settings.slb_remote, "the flows stay as they are");
    }

    /* The OpenFlow connection runs in every pass, also while the flows
     * cannot be worked out: ofctrl_wait() waits on it.  The flows go to the
     * bridge only once the server has sent all that this host needs: a
     * replica still filling in would take away, for a moment, the flows of
     * the rows still to come (all of them, when the agent restarts). */
    struct ovsdb_idl *slb_idl = agent->slb_loop.idl;
    bool complete = monitor_is_complete(&agent->monitor, slb_idl);
    bool offer = host && bridge_ready && complete;
    if (offer && !agent->flows_offered) {
        ofctrl_desired_changed(agent->ofctrl);
    }
    agent->flows_offered = offer;
    ofctrl_run(agent->ofctrl, offer ? &agent->flows.flows : NULL,
               &agent->meters);
    if (!offer || !ofctrl_is_synced(agent->ofctrl)) {
        return;
    }
    if (agent->change_start) {
        agent->apply_msec = time_msec() - agent->change_start;
        agent->change_start = 0;
        agent->change_rounds = (agent->monitor.n_rounds
                                - agent->change_start_rounds);
    }

    /* The configuration is applied: the bridge has the tunnel port, the
     * table names and the flows of all that this host needs. */
    if (slb_txn) {
        report_bindings(agent, slb_idl, slb_txn);
        report_status(agent, slb_idl, slbrec_slb_global_first(slb_idl),
                      slb_txn);
    }
}

/* Control commands. */

static void
cmd_exit(struct unixctl_conn *conn, int argc OVS_UNUSED,
         const char *argv[] OVS_UNUSED, void *agent_)
{
    struct slb_agent *agent = agent_;
    agent->exiting = true;
    unixctl_command_reply(conn, NULL);
}

/* Returns the number of rows of table 'tc' that 'idl' has. */
static size_t
count_rows(const struct ovsdb_idl *idl, const struct ovsdb_idl_table_class *tc)
{
    size_t n = 0;
    for (const struct ovsdb_idl_row *row = ovsdb_idl_first_row(idl, tc); row;
         row = ovsdb_idl_next_row(row)) {
        n++;
    }
    return n;
}

/* Says what became of the fragments that the agent held, once it held
 * any. */
static void
format_frag_hold(const struct frag_hold *fh, struct ds *out)
{
    const struct frag_hold_stats *st = frag_hold_get_stats(fh);
    if (st->released || st->expired || st->full || st->malformed) {
        ds_put_format(out, "fragments held for their datagram's first: "
                      "%"PRIuSIZE" datagrams, %"PRIuSIZE" fragments now; "
                      "%"PRIu64" sent on, %"PRIu64" expired, %"PRIu64" "
                      "dropped for room, %"PRIu64" malformed\n",
                      frag_hold_n_datagrams(fh), frag_hold_n_held(fh),
                      st->released, st->expired, st->full, st->malformed);
    }
}

static void
cmd_show(struct unixctl_conn *conn, int argc OVS_UNUSED,
         const char *argv[] OVS_UNUSED, void *agent_)
{
    struct slb_agent *agent = agent_;
    const struct agent_settings *s = &agent->settings;
    struct ds out = DS_EMPTY_INITIALIZER;

    if (agent->problem) {
        ds_put_format(&out, "problem: %s\n", agent->problem);
    }
    if (s->host_name) {
        ds_put_format(&out, "host %s, PA %s, bridge %s, SLB database %s\n",
                      s->host_name, s->encap_ip, s->bridge, s->slb_remote);
    }
    long long int lost = db_watch_lost_msec(&agent->db);
    if (lost >= 0) {
        ds_put_format(&out, "problem: the SLB database was lost %lld ms "
                      "ago\n", lost);
    }
    if (agent->metrics) {
        ds_put_format(&out, "metrics: %s\n", slb_metrics_url(agent->metrics));
    }
    const struct ofctrl_stats *st = ofctrl_get_stats(agent->ofctrl);
    ds_put_format(&out, "flows: %"PRIuSIZE" installed, %"PRIu64" flow mods "
                  "in %"PRIu64" bundles, %"PRIu64" dumps\n",
                  ofctrl_n_installed(agent->ofctrl), st->flow_mods,
                  st->bundles, st->dumps);
    ds_put_format(&out, "meters: %"PRIuSIZE" installed, %"PRIu64" meter "
                  "mods\n", ofctrl_n_installed_meters(agent->ofctrl),
                  st->meter_mods);
    size_t n_rejected = ofctrl_n_rejected(agent->ofctrl);
    if (n_rejected) {
        ds_put_format(&out, "problem: the bridge refused %"PRIuSIZE" flows "
                      "(see the log)\n", n_rejected);
    }
    for (size_t i = 0; i < agent->row_problems.n; i++) {
        ds_put_format(&out, "problem: %s\n", agent->row_problems.names[i]);
    }
    struct ovsdb_idl *slb_idl = agent->slb_loop.idl;
    ds_put_format(&out, "SLB database: %"PRIuSIZE" monitor clauses (%s), "
                  "%"PRIuSIZE" of them searches, %"PRIuSIZE" by reference; "
                  "rows: %"PRIuSIZE" VM, %"PRIuSIZE" Backend_Pool, "
                  "%"PRIuSIZE" LB_Rule, %"PRIuSIZE" Frontend\n",
                  agent->monitor.n_clauses,
                  (monitor_is_complete(&agent->monitor, slb_idl)
                   ? "complete" : "filling in"),
                  agent->monitor.n_searches, agent->monitor.n_by_reference,
                  count_rows(slb_idl, &slbrec_table_vm),
                  count_rows(slb_idl, &slbrec_table_backend_pool),
                  count_rows(slb_idl, &slbrec_table_lb_rule),
                  count_rows(slb_idl, &slbrec_table_frontend));
    ds_put_format(&out, "last change: flows computed in %lld ms (the flows "
                  "of %"PRIuSIZE" of %"PRIuSIZE" items built), applied by "
                  "the bridge %lld ms after the change, %u condition "
                  "rounds (flows computed %u times)\n", agent->compute_msec,
                  agent->flows.n_built, agent->flows.n_items,
                  agent->apply_msec, agent->change_rounds,
                  agent->n_computes);
    const struct shash_node **nodes = shash_sort(&agent->bindings);
    for (size_t i = 0; i < shash_count(&agent->bindings); i++) {
        const struct vm_binding *b = nodes[i]->data;
        ds_put_format(&out, "port %s: backend ", nodes[i]->name);
        format_binding_cas(b, &out);
        ds_put_format(&out, " vni %"PRIu32"\n", b->vni);
    }
    free(nodes);
    if (agent->probe_problem) {
        ds_put_format(&out, "%s\n", agent->probe_problem);
    }
    if (agent->probe6_problem) {
        ds_put_format(&out, "%s\n", agent->probe6_problem);
    }
    fastpath_format(agent->fastpath, &out);
    format_frag_hold(agent->frag_hold, &out);
    nodes = shash_sort(&agent->health);
    for (size_t i = 0; i < shash_count(&agent->health); i++) {
        const struct health_entry *e = nodes[i]->data;
        ds_put_format(&out, "health: backend %s probe %s: %s", e->ca,
                      e->probe_name, e->state.up ? "up" : "down");
        if (e->state.reason[0]) {
            ds_put_format(&out, " (%s)", e->state.reason);
        }
        ds_put_char(&out, '\n');
    }
    free(nodes);
    unixctl_command_reply(conn, ds_cstr(&out));
    ds_destroy(&out);
}

/* Metrics (--metrics): see lib/metrics.h. */

/* Returns an array that says, for each local VM of 'v', whether it names
 * its port in the metrics of the port's counters: a dual-stack VM's port
 * binds a VM row of each family, and its counters, the port's, are named
 * once, by its IPv4 CA. */
static bool *
port_namers(const struct host_view *v)
{
    bool *namer = xcalloc(v->n_vms, sizeof *namer);
    unsigned long *seen = bitmap_allocate(UINT16_MAX + 1);
    for (int ipv4 = 1; ipv4 >= 0; ipv4--) {
        for (size_t i = 0; i < v->n_vms; i++) {
            const struct host_vm *vm = &v->vms[i];
            if (IN6_IS_ADDR_V4MAPPED(&vm->ca) == ipv4
                && vm->ofport >= 0 && vm->ofport <= UINT16_MAX
                && !bitmap_is_set(seen, vm->ofport)) {
                bitmap_set1(seen, vm->ofport);
                namer[i] = true;
            }
        }
    }
    bitmap_free(seen);
    return namer;
}

/* Writes the metrics that come from the bridge's counters, as last read,
 * if they have been. */
static void
put_counter_metrics(struct ds *out, const struct slb_agent *agent)
{
    const struct ofctrl_counters *c = agent->counters;
    size_t n = agent->n_counters;
    if (!agent->counters_time) {
        return;
    }
    slb_metrics_put(out, "slb_agent_counters_age_seconds", "gauge",
                    "How old the bridge's counters below are: the agent "
                    "reads them every 10 s.",
                    (time_msec() - agent->counters_time) / 1000.0);

    static const struct {
        const char *name, *help;
        int table, priority;
    } per_vm[] = {
        { "slb_agent_snat_failures_total",
          "New outbound connections of each local VM that SNAT could not "
          "translate (every port of its range in use toward that "
          "destination), dropped.", SLB_TABLE_SNAT_OUT,
          HOST_FLOWS_SNAT_FAILED },
        { "slb_agent_port_security_dropped_packets_total",
          "Packets of each local VM that port security dropped.",
          SLB_TABLE_PORT_SECURITY, HOST_FLOWS_PORT_SECURITY_DROP },
    };
    const struct host_view *v = &agent->view;
    bool *namer = port_namers(v);
    for (size_t f = 0; f < ARRAY_SIZE(per_vm); f++) {
        slb_metrics_family(out, per_vm[f].name, "counter", per_vm[f].help);
        for (size_t i = 0; i < v->n_vms; i++) {
            const struct host_vm *vm = &v->vms[i];
            if (!namer[i]) {
                continue;
            }
            uint64_t packets, bytes;
            sum_vm_counters(c, n, per_vm[f].table, per_vm[f].priority,
                            vm->ofport, &packets, &bytes);
            char ca[SLB_ADDR_STRLEN], vni[16];
            snprintf(vni, sizeof vni, "%"PRIu32, vm->vni);
            slb_metrics_sample(out, per_vm[f].name, packets, "backend",
                               slb_addr_to_string(&vm->ca, ca), "vni", vni,
                               NULL);
        }
    }
    free(namer);

    slb_metrics_family(out, "slb_agent_dropped_packets_total", "counter",
                       "Packets that each table's flows without actions "
                       "dropped.");
    for (size_t t = 0; t < ARRAY_SIZE(all_tables); t++) {
        uint64_t packets, bytes;
        sum_table_drops(c, n, all_tables[t], &packets, &bytes);
        slb_metrics_sample(out, "slb_agent_dropped_packets_total", packets,
                           "table", slb_table_name(all_tables[t]), NULL);
    }
}

/* Writes the SNAT ports in use of each local VM on each VIP of its ranges,
 * for TCP and UDP, from the last read of conntrack, if there was one. */
static void
put_snat_usage_metrics(struct ds *out, const struct slb_agent *agent)
{
    struct snat_usage *usage;
    long long int when;
    char *error;
    size_t n = snat_usage_reader_get(agent->snat_usage, &usage, &when,
                                     &error);
    if (when) {
        slb_metrics_put(out, "slb_agent_snat_usage_read_ok", "gauge",
                        "1 if the last read of ovs-vswitchd's conntrack, "
                        "every 10 s, worked.", !error);
    }
    if (when && !error) {
        slb_metrics_family(out, "slb_agent_snat_ports_in_use", "gauge",
                           "SNAT ports that each local VM's connections "
                           "hold, by VIP and protocol, from conntrack.");
        const struct host_view *v = &agent->view;
        for (size_t i = 0; i < v->n_snats; i++) {
            const struct host_snat *sn = &v->snats[i];
            const struct host_vm *vm = &v->vms[sn->vm];
            static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
            for (size_t p = 0; p < ARRAY_SIZE(protos); p++) {
                if (sn->proto && sn->proto != protos[p]) {
                    continue;
                }
                const struct snat_usage *u = snat_usage_find(
                    usage, n, vm->ofport, &sn->vip, protos[p]);
                uint32_t ports = u ? u->ports : 0;
                char ca[SLB_ADDR_STRLEN], vip[SLB_ADDR_STRLEN];
                slb_metrics_sample(out, "slb_agent_snat_ports_in_use", ports,
                                   "backend", slb_addr_to_string(&vm->ca, ca),
                                   "vip", slb_addr_to_string(&sn->vip, vip),
                                   "protocol",
                                   protos[p] == IPPROTO_TCP ? "tcp" : "udp",
                                   NULL);
            }
        }
    }
    free(usage);
    free(error);
}

static void
build_metrics(struct ds *out, void *agent_)
{
    struct slb_agent *agent = agent_;
    const struct ofctrl_stats *st = ofctrl_get_stats(agent->ofctrl);

    slb_metrics_put(out, "slb_agent_flows_installed", "gauge",
                    "Flows that the agent has installed on the bridge.",
                    ofctrl_n_installed(agent->ofctrl));
    slb_metrics_put(out, "slb_agent_flows_rejected", "gauge",
                    "Flows that the bridge refused.",
                    ofctrl_n_rejected(agent->ofctrl));
    slb_metrics_put(out, "slb_agent_meters_installed", "gauge",
                    "Meters that the agent has installed on the bridge.",
                    ofctrl_n_installed_meters(agent->ofctrl));
    slb_metrics_put(out, "slb_agent_flow_mods_total", "counter",
                    "Flow mods sent to the bridge.", st->flow_mods);
    slb_metrics_put(out, "slb_agent_bundles_total", "counter",
                    "Bundles sent to the bridge.", st->bundles);
    slb_metrics_put(out, "slb_agent_flow_dumps_total", "counter",
                    "Times the agent read the bridge's flows.", st->dumps);
    slb_metrics_put(out, "slb_agent_computes_total", "counter",
                    "Times the agent computed its flows.", agent->n_computes);
    slb_metrics_put(out, "slb_agent_tcp_resets_total", "counter",
                    "Connections of rules with TCP reset that idled out, "
                    "reset at both ends.", agent->n_tcp_resets);
    const struct frag_hold_stats *fst = frag_hold_get_stats(agent->frag_hold);
    slb_metrics_put(out, "slb_agent_fragments_sent_on_total", "counter",
                    "Fragments that the agent held until their datagram's "
                    "first fragment came, sent on.", fst->released);
    slb_metrics_family(out, "slb_agent_fragments_dropped_total", "counter",
                       "Fragments that the agent held and dropped, by "
                       "reason.");
    slb_metrics_sample(out, "slb_agent_fragments_dropped_total",
                       fst->expired, "reason", "expired", NULL);
    slb_metrics_sample(out, "slb_agent_fragments_dropped_total", fst->full,
                       "reason", "full", NULL);
    slb_metrics_sample(out, "slb_agent_fragments_dropped_total",
                       fst->malformed, "reason", "malformed", NULL);
    slb_metrics_put(out, "slb_agent_last_compute_seconds", "gauge",
                    "How long the last change's flows took to compute.",
                    agent->compute_msec / 1000.0);
    slb_metrics_put(out, "slb_agent_last_apply_seconds", "gauge",
                    "How long after the last change the bridge had "
                    "applied it.",
                    agent->apply_msec / 1000.0);
    fastpath_metrics(agent->fastpath, out);

    struct ovsdb_idl *slb_idl = agent->slb_loop.idl;
    const struct slbrec_slb_global *global
        = slbrec_slb_global_first(slb_idl);
    const struct slbrec_host_status *hs, *own = NULL;
    SLBREC_HOST_STATUS_FOR_EACH (hs, slb_idl) {
        if (agent->settings.host_name
            && !strcmp(hs->name, agent->settings.host_name)) {
            own = hs;
        }
    }
    int64_t wanted = global ? global->nb_cfg : 0;
    int64_t applied = own ? own->nb_cfg : 0;
    slb_metrics_put(out, "slb_agent_nb_cfg", "gauge",
                    "The database's configuration number.", wanted);
    slb_metrics_put(out, "slb_agent_nb_cfg_applied", "gauge",
                    "The configuration number that this host has applied.",
                    applied);
    slb_metrics_put(out, "slb_agent_nb_cfg_lag", "gauge",
                    "Configurations that this host has yet to apply.",
                    wanted - applied);
    slb_metrics_put(out, "slb_agent_database_connected", "gauge",
                    "1 while the agent has the SLB database.",
                    db_watch_lost_msec(&agent->db) < 0);
    slb_metrics_put(out, "slb_agent_row_problems", "gauge",
                    "Rows that the agent cannot use (see slb-agent/show).",
                    agent->row_problems.n);

    slb_metrics_family(out, "slb_agent_port_bound", "gauge",
                       "1 for each port that binds a backend's VM.");
    const struct shash_node **nodes = shash_sort(&agent->bindings);
    for (size_t i = 0; i < shash_count(&agent->bindings); i++) {
        const struct vm_binding *b = nodes[i]->data;
        char vni[16];
        snprintf(vni, sizeof vni, "%"PRIu32, b->vni);
        for (int f = 0; f < 2; f++) {
            if (b->cas[f]) {
                slb_metrics_sample(out, "slb_agent_port_bound", 1,
                                   "port", nodes[i]->name,
                                   "backend", b->cas[f], "vni", vni, NULL);
            }
        }
    }
    free(nodes);

    slb_metrics_family(out, "slb_agent_backend_up", "gauge",
                       "The verdict of each probe on each local backend: "
                       "1 up, 0 down.");
    nodes = shash_sort(&agent->health);
    for (size_t i = 0; i < shash_count(&agent->health); i++) {
        const struct health_entry *e = nodes[i]->data;
        slb_metrics_sample(out, "slb_agent_backend_up", e->state.up,
                           "backend", e->ca, "probe", e->probe_name, NULL);
    }
    slb_metrics_family(out, "slb_agent_probe_results_total", "counter",
                       "Results of each probe of each local backend, by "
                       "result.");
    for (size_t i = 0; i < shash_count(&agent->health); i++) {
        const struct health_entry *e = nodes[i]->data;
        for (int ok = 1; ok >= 0; ok--) {
            slb_metrics_sample(out, "slb_agent_probe_results_total",
                               e->n_results[ok], "backend", e->ca,
                               "probe", e->probe_name,
                               "result", ok ? "success" : "failure", NULL);
        }
    }
    free(nodes);

    slb_metrics_family(out, "slb_agent_snat_ports", "gauge",
                       "SNAT ports allocated to each local VM, by VIP.");
    const struct host_view *v = &agent->view;
    for (size_t i = 0; i < v->n_snats; i++) {
        const struct host_snat *sn = &v->snats[i];
        char ca[SLB_ADDR_STRLEN], vip[SLB_ADDR_STRLEN];
        slb_metrics_sample(out, "slb_agent_snat_ports",
                           sn->port_max - sn->port_min + 1,
                           "backend", slb_addr_to_string(&v->vms[sn->vm].ca,
                                                         ca),
                           "vip", slb_addr_to_string(&sn->vip, vip),
                           "protocol", (sn->proto == IPPROTO_TCP ? "tcp"
                                        : sn->proto == IPPROTO_UDP ? "udp"
                                        : "all"), NULL);
    }

    put_counter_metrics(out, agent);
    put_snat_usage_metrics(out, agent);
}

/* Recomputes every flow from the databases and compares them with the
 * bridge's, freshly read: with flows computed right, the comparison finds
 * nothing to change. */
static void
cmd_recompute(struct unixctl_conn *conn, int argc OVS_UNUSED,
              const char *argv[] OVS_UNUSED, void *agent_)
{
    struct slb_agent *agent = agent_;
    agent->ovs_seqno = agent->slb_seqno = 0;
    desired_flows_clear(&agent->flows);
    ofctrl_resync(agent->ofctrl);
    poll_immediate_wake();
    unixctl_command_reply(conn, NULL);
}

/* Keeps the monitor conditions as they are ("on"), as a server slow to
 * apply new ones would, or lets them follow the rows again ("off"). */
static void
cmd_hold_conditions(struct unixctl_conn *conn, int argc OVS_UNUSED,
                    const char *argv[], void *agent_)
{
    struct slb_agent *agent = agent_;
    if (!strcmp(argv[1], "on")) {
        agent->monitor.held = true;
    } else if (!strcmp(argv[1], "off")) {
        agent->monitor.held = false;
        agent->monitor_ovs_seqno = agent->monitor_slb_seqno = UINT_MAX;
        poll_immediate_wake();
    } else {
        unixctl_command_reply_error(conn, "expected \"on\" or \"off\"");
        return;
    }
    unixctl_command_reply(conn, NULL);
}

static void
cmd_counters(struct unixctl_conn *conn, int argc OVS_UNUSED,
             const char *argv[] OVS_UNUSED, void *agent_)
{
    struct slb_agent *agent = agent_;
    if (!ofctrl_request_counters(agent->ofctrl)) {
        unixctl_command_reply_error(conn, "not connected to the bridge");
        return;
    }
    agent->counters_conns = xrealloc(agent->counters_conns,
                                     (agent->n_counters_conns + 1)
                                     * sizeof *agent->counters_conns);
    agent->counters_conns[agent->n_counters_conns++] = conn;
}

/* Sums into '*packets' and '*bytes' the counters among 'c' of the flows in
 * 'table' that match 'ofport' in the VM port register, only those of
 * 'priority' if it is nonnegative. */
static void
sum_vm_counters(const struct ofctrl_counters *c, size_t n, int table,
                int priority, int64_t ofport, uint64_t *packets,
                uint64_t *bytes)
{
    *packets = *bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].table_id == table && c[i].regs[SLB_REG_VM_PORT] == ofport
            && (priority < 0 || c[i].priority == priority)) {
            *packets += c[i].packets;
            *bytes += c[i].bytes;
        }
    }
}

/* Appends to 'out' a line "KIND NAME: N packets, M bytes" for the flows
 * among 'c' that 'row' caused, if there are any. */
static void
put_row_counters(struct ds *out, const struct ofctrl_counters *c, size_t n,
                 const char *kind, const char *name,
                 const struct ovsdb_idl_row *row)
{
    uint64_t cookie = row_cookie(row);
    uint64_t packets = 0, bytes = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (c[i].cookie == cookie) {
            packets += c[i].packets;
            bytes += c[i].bytes;
            found = true;
        }
    }
    if (found) {
        ds_put_format(out, "%s %s: %"PRIu64" packets, %"PRIu64" bytes\n",
                      kind, name, packets, bytes);
    }
}

/* Appends to 'out' a line "lb-rule NAME fastpath: K connections, N
 * packets, M bytes" for the fastpath flows among 'c' of rule 'rule' (one
 * per redirected connection that has not yet been idle for its lifetime),
 * if there are any. */
static void
put_fastpath_counters(struct ds *out, const struct ofctrl_counters *c,
                      size_t n, const struct slbrec_lb_rule *rule)
{
    uint64_t cookie = row_cookie(&rule->header_);
    uint64_t flows = 0, packets = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].cookie == cookie && c[i].table_id == SLB_TABLE_VNET
            && c[i].priority == HOST_FLOWS_FASTPATH_PRIORITY) {
            flows++;
            packets += c[i].packets;
            bytes += c[i].bytes;
        }
    }
    if (flows) {
        ds_put_format(out, "lb-rule %s fastpath: %"PRIu64" connections, "
                      "%"PRIu64" packets, %"PRIu64" bytes\n", rule->name,
                      flows, packets, bytes);
    }
}

/* Appends to 'out' a line "table NAME: dropped N packets, M bytes" for
 * each table of the pipeline whose flows without actions (among them the
 * defaults of most tables) have dropped packets, with the sum of their
 * counters. */
static void
put_drop_counters(struct ds *out, const struct ofctrl_counters *c, size_t n)
{
    for (size_t t = 0; t < ARRAY_SIZE(all_tables); t++) {
        uint64_t packets, bytes;
        sum_table_drops(c, n, all_tables[t], &packets, &bytes);
        if (packets) {
            ds_put_format(out, "table %s: dropped %"PRIu64" packets, "
                          "%"PRIu64" bytes\n", slb_table_name(all_tables[t]),
                          packets, bytes);
        }
    }
}

/* Sums into '*packets' and '*bytes' the counters among 'c' of the flows
 * without actions in 'table'. */
static void
sum_table_drops(const struct ofctrl_counters *c, size_t n, int table,
                uint64_t *packets, uint64_t *bytes)
{
    *packets = *bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].drops && c[i].table_id == table) {
            *packets += c[i].packets;
            *bytes += c[i].bytes;
        }
    }
}

/* Answers the waiting "slb-agent/counters" commands with the bridge's
 * counters 'c', 'n' of them: packets and bytes of each VM in each
 * direction (the flows of the metering layer), of each rule (and of its
 * fastpath connections) and ACL entry, and of the drops of each table. */
static void
reply_counters(struct slb_agent *agent, const struct ofctrl_counters *c,
               size_t n)
{
    if (!agent->n_counters_conns) {
        return;
    }

    struct ds out = DS_EMPTY_INITIALIZER;
    const struct ovsrec_bridge *br = (agent->settings.bridge
                                      ? find_bridge(agent->ovs_loop.idl,
                                                    agent->settings.bridge)
                                      : NULL);
    const struct shash_node **nodes = shash_sort(&agent->bindings);
    for (size_t i = 0; br && i < shash_count(&agent->bindings); i++) {
        int64_t ofport = ofport_of(br, nodes[i]->name);
        uint64_t to_packets, to_bytes, from_packets, from_bytes;
        uint64_t drop_packets, drop_bytes, snat_packets, snat_bytes;
        sum_vm_counters(c, n, SLB_TABLE_METER_TO_VM, -1, ofport,
                        &to_packets, &to_bytes);
        sum_vm_counters(c, n, SLB_TABLE_METER_FROM_VM, -1, ofport,
                        &from_packets, &from_bytes);
        sum_vm_counters(c, n, SLB_TABLE_PORT_SECURITY,
                        HOST_FLOWS_PORT_SECURITY_DROP, ofport,
                        &drop_packets, &drop_bytes);
        sum_vm_counters(c, n, SLB_TABLE_SNAT_OUT, HOST_FLOWS_SNAT_FAILED,
                        ofport, &snat_packets, &snat_bytes);
        ds_put_format(&out, "port %s (", nodes[i]->name);
        format_binding_cas(nodes[i]->data, &out);
        ds_put_format(&out, "): to-vm %"PRIu64" packets, "
                      "%"PRIu64" bytes; from-vm %"PRIu64" packets, "
                      "%"PRIu64" bytes; port security dropped %"PRIu64
                      " packets, %"PRIu64" bytes; SNAT failed %"PRIu64
                      " packets\n", to_packets, to_bytes,
                      from_packets, from_bytes, drop_packets, drop_bytes,
                      snat_packets);
    }
    free(nodes);

    struct ovsdb_idl *idl = agent->slb_loop.idl;
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, idl) {
        put_row_counters(&out, c, n, "lb-rule", rule->name, &rule->header_);
        put_fastpath_counters(&out, c, n, rule);
    }
    const struct slbrec_inbound_nat_rule *nr;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nr, idl) {
        put_row_counters(&out, c, n, "inbound-nat-rule", nr->name,
                         &nr->header_);
    }
    const struct slbrec_acl *acl;
    SLBREC_ACL_FOR_EACH (acl, idl) {
        put_row_counters(&out, c, n, "acl", acl->name, &acl->header_);
    }
    put_drop_counters(&out, c, n);

    for (size_t i = 0; i < agent->n_counters_conns; i++) {
        if (n) {
            unixctl_command_reply(agent->counters_conns[i], ds_cstr(&out));
        } else {
            unixctl_command_reply_error(agent->counters_conns[i],
                                        "the connection to the bridge was "
                                        "lost");
        }
    }
    agent->n_counters_conns = 0;
    ds_destroy(&out);
}

/* Takes the bridge's counters, once they are in: answers the commands
 * that wait for them, and keeps them for the metrics. */
static void
take_counters(struct slb_agent *agent)
{
    struct ofctrl_counters *c;
    size_t n;
    if (ofctrl_get_counters(agent->ofctrl, &c, &n)) {
        reply_counters(agent, c, n);
        free(agent->counters);
        agent->counters = c;
        agent->n_counters = n;
        agent->counters_time = time_msec();
    }
}

/* With --metrics, asks for the bridge's counters and the VMs' SNAT ports
 * in use every METRICS_READ_INTERVAL. */
static void
read_for_metrics(struct slb_agent *agent)
{
    long long int now = time_msec();
    if (agent->metrics && now >= agent->next_read) {
        agent->next_read = now + METRICS_READ_INTERVAL;
        ofctrl_request_counters(agent->ofctrl);
        snat_usage_reader_request(agent->snat_usage);
    }
}

static void
register_commands(struct slb_agent *agent)
{
    unixctl_command_register("exit", "", 0, 0, cmd_exit, agent);
    unixctl_command_register("slb-agent/show", "", 0, 0, cmd_show, agent);
    unixctl_command_register("slb-agent/hold-conditions", "on|off", 1, 1,
                             cmd_hold_conditions, agent);
    unixctl_command_register("slb-agent/recompute", "", 0, 0, cmd_recompute,
                             agent);
    unixctl_command_register("slb-agent/counters", "", 0, 0, cmd_counters,
                             agent);
}

/* Command line. */

static void
usage(void)
{
    printf("%s: OVS-SLB host agent\n"
           "usage: %s [OPTIONS] [OVS-DATABASE]\n"
           "OVS-DATABASE is the local Open_vSwitch database (default: "
           "unix:%s/db.sock).\n"
           "The agent reads from its Open_vSwitch row:\n"
           "  external_ids:slb-remote     the SLB database\n"
           "  external_ids:slb-host-name  this host's name in it\n"
           "  external_ids:slb-encap-ip   this host's PA\n"
           "  external_ids:slb-bridge     the bridge (default: br-int)\n",
           program_name, program_name, ovs_rundir());
    daemon_usage();
    vlog_usage();
    stream_usage("OVS-DATABASE", true, false, true);
    printf("\nOther options:\n"
           "  --metrics=[ADDR:]PORT   serve Prometheus metrics at "
           "http://ADDR:PORT/metrics\n"
           "                          (ADDR default 127.0.0.1; PORT 0: "
           "any free port)\n"
           "  --unixctl=SOCKET        override default control socket name\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n");
    exit(EXIT_SUCCESS);
}

static void
parse_options(int argc, char *argv[])
{
    enum {
        OPT_UNIXCTL = UCHAR_MAX + 1,
        OPT_METRICS,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
        SSL_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"metrics", required_argument, NULL, OPT_METRICS},
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
        case OPT_UNIXCTL:
            unixctl_path = optarg;
            break;

        case OPT_METRICS:
            metrics_spec = slb_metrics_option(optarg);
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
        ovs_fatal(0, "at most one non-option argument (the local database) "
                  "is accepted; use --help for usage");
    }
    ovs_remote = (argc ? xstrdup(argv[0])
                  : xasprintf("unix:%s/db.sock", ovs_rundir()));
}
