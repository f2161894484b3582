/* slb-agent: the OVS-SLB host agent.
 *
 * One slb-agent runs on every host, beside ovs-vswitchd.  It finds its
 * settings in the local Open_vSwitch database, as ovn-controller does
 * (external_ids:slb-remote, slb-host-name, slb-encap-ip, slb-bridge),
 * connects to the SLB database, creates the VXLAN port that carries the
 * host's traffic to and from muxes and other hosts, names the bridge's
 * OpenFlow tables after the pipeline's (vswitch-ext/pipeline.h), binds the
 * host's VM ports to their backends by external_ids:iface-id, and reports
 * into its Host row the configuration it has applied.
 *
 * It installs its flows through ofctrl.c, as a difference from what the
 * bridge has.  So far the pipeline classifies packets, load balances those
 * that muxes send (DNAT in conntrack) and delivers them to the VM; Direct
 * Server Return of the replies, SNAT, ACLs, metering and the virtual
 * network come next. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "command-line.h"
#include "coverage.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "lib/slb-idl.h"
#include "lib/vswitch-idl.h"
#include "ofctrl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "packets.h"
#include "pipeline.h"
#include "smap.h"
#include "stream-ssl.h"
#include "stream.h"
#include "svec.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(slb_agent);

COVERAGE_DEFINE(agent_flows_computed);

/* Name of the VXLAN port that the agent owns on the bridge. */
#define TUNNEL_PORT "slb-vxlan"

static char *ovs_remote;
static char *unixctl_path;
static struct unixctl_server *unixctl_server;

/* The agent's settings, from the local Open_vSwitch row. */
struct agent_settings {
    char *slb_remote;           /* The SLB database. */
    char *host_name;            /* This host's row in the Host table. */
    char *encap_ip;             /* The host's PA, the tunnel's local_ip. */
    char *bridge;               /* The integration bridge. */
    char *uplink;               /* Port toward the gateway, or NULL. */
};

struct slb_agent {
    struct ovsdb_idl_loop ovs_loop;     /* Local Open_vSwitch database. */
    struct ovsdb_idl_loop slb_loop;     /* SLB database. */
    struct agent_settings settings;
    char *problem;              /* Why the agent cannot apply, or NULL. */

    /* Bindings: VM port name to the CA of the backend it carries, for the
     * backends of this host whose iface-id a port of the bridge has. */
    struct shash bindings;

    struct ofctrl *ofctrl;      /* OpenFlow connection to the bridge. */

    /* Desired flows, of struct ofctrl_flow.  'flows_complete' is false
     * while the tunnel port has no OpenFlow port number yet. */
    struct hmap flows;
    bool flows_complete;

    /* The change numbers of the two databases that 'bindings' and 'flows'
     * were computed from. */
    unsigned int ovs_seqno;
    unsigned int slb_seqno;
    bool exiting;
};

static void parse_options(int argc, char *argv[]);
OVS_NO_RETURN static void usage(void);
static void agent_run(struct slb_agent *, struct ovsdb_idl_txn *ovs_txn,
                      struct ovsdb_idl_txn *slb_txn);
static void register_commands(struct slb_agent *);

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

int
main(int argc, char *argv[])
{
    struct slb_agent agent;

    set_program_name(argv[0]);
    service_start(&argc, &argv);
    fatal_ignore_sigpipe();
    vlog_set_levels_from_string_assert("reconnect:warn");
    parse_options(argc, argv);

    daemonize_start(false);
    if (unixctl_server_create(unixctl_path, &unixctl_server)) {
        exit(EXIT_FAILURE);
    }

    memset(&agent, 0, sizeof agent);
    shash_init(&agent.bindings);
    agent.ofctrl = ofctrl_create();
    hmap_init(&agent.flows);

    /* The local database: only what the agent reads or writes. */
    struct ovsdb_idl *ovs_idl = ovsdb_idl_create(ovs_remote, &ovsrec_idl_class,
                                                 false, true);
    ovsdb_idl_add_table(ovs_idl, &ovsrec_table_open_vswitch);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_open_vswitch_col_external_ids);
    ovsdb_idl_add_column(ovs_idl, &ovsrec_open_vswitch_col_bridges);
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
    agent.ovs_loop = (struct ovsdb_idl_loop) OVSDB_IDL_LOOP_INITIALIZER(
        ovs_idl);

    /* The SLB database, once the local one says where it is. */
    struct ovsdb_idl *slb_idl = ovsdb_idl_create_unconnected(
        &slbrec_idl_class, true);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_host_col_nb_cfg);
    ovsdb_idl_omit_alert(slb_idl, &slbrec_host_col_status);
    agent.slb_loop = (struct ovsdb_idl_loop) OVSDB_IDL_LOOP_INITIALIZER(
        slb_idl);

    register_commands(&agent);
    bool detached = false;
    while (!agent.exiting) {
        struct ovsdb_idl_txn *ovs_txn = ovsdb_idl_loop_run(&agent.ovs_loop);
        struct ovsdb_idl_txn *slb_txn = ovsdb_idl_loop_run(&agent.slb_loop);

        agent_run(&agent, ovs_txn, slb_txn);
        if (!detached && ovsdb_idl_has_ever_connected(ovs_idl)) {
            daemonize_complete();
            detached = true;
        }

        unixctl_server_run(unixctl_server);
        ofctrl_wait(agent.ofctrl);
        ovsdb_idl_loop_commit_and_wait(&agent.ovs_loop);
        ovsdb_idl_loop_commit_and_wait(&agent.slb_loop);
        unixctl_server_wait(unixctl_server);
        if (agent.exiting) {
            poll_immediate_wake();
        }
        poll_block();
    }

    ovsdb_idl_loop_destroy(&agent.ovs_loop);
    ovsdb_idl_loop_destroy(&agent.slb_loop);
    shash_destroy_free_data(&agent.bindings);
    ofctrl_flows_destroy(&agent.flows);
    ofctrl_destroy(agent.ofctrl);
    settings_destroy(&agent.settings);
    free(agent.problem);
    unixctl_server_destroy(unixctl_server);
    service_stop();
    return 0;
}

/* Settings. */

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

/* Makes sure 'br' has the VXLAN port of the host, with flow-based remote
 * and key and the host's PA as local address.  Returns true if it is there
 * as it should be. */
static bool
ensure_tunnel_port(const struct ovsrec_bridge *br, const char *encap_ip,
                   struct ovsdb_idl_txn *txn)
{
    struct smap options = SMAP_INITIALIZER(&options);
    smap_add(&options, "remote_ip", "flow");
    smap_add(&options, "key", "flow");
    smap_add(&options, "local_ip", encap_ip);

    const struct ovsrec_port *port = find_port(br, TUNNEL_PORT);
    bool ok = (port && port->n_interfaces == 1
               && !strcmp(port->interfaces[0]->type, "vxlan")
               && smap_equal(&port->interfaces[0]->options, &options));
    if (!ok && txn) {
        const struct ovsrec_interface *iface;
        if (port && port->n_interfaces == 1) {
            iface = port->interfaces[0];
        } else {
            struct ovsrec_interface *new_iface
                = ovsrec_interface_insert(txn);
            ovsrec_interface_set_name(new_iface, TUNNEL_PORT);
            iface = new_iface;
        }
        ovsrec_interface_set_type(iface, "vxlan");
        ovsrec_interface_set_options(iface, &options);
        if (!port) {
            struct ovsrec_port *new_port = ovsrec_port_insert(txn);
            ovsrec_port_set_name(new_port, TUNNEL_PORT);
            ovsrec_port_set_interfaces(
                new_port, (struct ovsrec_interface **) &iface, 1);
            ovsrec_bridge_update_ports_addvalue(br, new_port);
        }
        ovsdb_idl_txn_add_comment(txn, "slb-agent: tunnel port %s",
                                  TUNNEL_PORT);
        VLOG_INFO("%s: setting up tunnel port %s, local_ip %s", br->name,
                  TUNNEL_PORT, encap_ip);
    }
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

/* Binds the ports of 'br' to the backends of 'host' by iface-id. */
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

    struct shash bindings = SHASH_INITIALIZER(&bindings);
    const struct slbrec_backend *backend;
    SLBREC_BACKEND_FOR_EACH (backend, slb_idl) {
        if (backend->host == host && backend->iface_id) {
            const char *port = shash_find_data(&iface_ids,
                                               backend->iface_id);
            if (port && !shash_find(&bindings, port)) {
                shash_add(&bindings, port, xstrdup(backend->ca));
            }
        }
    }

    /* Log what changed. */
    struct shash_node *node;
    SHASH_FOR_EACH (node, &bindings) {
        const char *old = shash_find_data(&agent->bindings, node->name);
        if (!old || strcmp(old, node->data)) {
            VLOG_INFO("bound port %s to backend %s", node->name,
                      (char *) node->data);
        }
    }
    SHASH_FOR_EACH (node, &agent->bindings) {
        if (!shash_find(&bindings, node->name)) {
            VLOG_INFO("unbound port %s", node->name);
        }
    }
    shash_destroy_free_data(&agent->bindings);
    shash_swap(&agent->bindings, &bindings);
    shash_destroy(&bindings);
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

static void
add_flow(struct hmap *flows, const struct ovsdb_idl_row *row,
         const char *format, ...)
    OVS_PRINTF_FORMAT(3, 4);

/* Adds the flow that 'format' describes, caused by 'row', to 'flows'. */
static void
add_flow(struct hmap *flows, const struct ovsdb_idl_row *row,
         const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *spec = xvasprintf(format, args);
    va_end(args);

    char *error = ofctrl_add_flow(flows, row_cookie(row), spec);
    if (error) {
        VLOG_ERR("bad flow %s", error);
        free(error);
    }
    free(spec);
}

/* Returns the OpenFlow port number of interface 'name' of 'br', or -1. */
static int64_t
ofport_of(const struct ovsrec_bridge *br, const char *name)
{
    for (size_t i = 0; i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            const struct ovsrec_interface *iface = port->interfaces[j];
            if (!strcmp(iface->name, name) && iface->n_ofport
                && iface->ofport[0] > 0) {
                return iface->ofport[0];
            }
        }
    }
    return -1;
}

/* Returns the OpenFlow port of the VM of 'backend', if it is bound on this
 * host, else -1. */
static int64_t
backend_ofport(const struct slb_agent *agent, const struct ovsrec_bridge *br,
               const struct slbrec_host *self,
               const struct slbrec_backend *backend)
{
    if (backend->host != self || !backend->vnet) {
        return -1;
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, &agent->bindings) {
        if (!strcmp(node->data, backend->ca)) {
            return ofport_of(br, node->name);
        }
    }
    return -1;
}

/* The classification layer: where each packet comes from.
 *
 * Tunnel packets are accepted only from the PA of a mux or another host,
 * with the VNI of a virtual network, which goes into the VNI register;
 * other tunnel packets are dropped by a flow of their own, whose counters
 * say how many.  Packets of bound VM ports carry their backend's VNI and
 * port into the registers. */
static bool
build_classify_flows(const struct slb_agent *agent,
                     const struct ovsrec_bridge *br,
                     struct ovsdb_idl *slb_idl,
                     const struct slbrec_host *self, struct hmap *flows)
{
    int64_t tunnel = ofport_of(br, TUNNEL_PORT);
    if (tunnel < 0) {
        return false;
    }

    const struct slbrec_vnet *vnet;
    const struct slbrec_mux *mux;
    SLBREC_MUX_FOR_EACH (mux, slb_idl) {
        SLBREC_VNET_FOR_EACH (vnet, slb_idl) {
            add_flow(flows, &mux->header_,
                     "table=%d,priority=100,in_port=%"PRId64",tun_src=%s,"
                     "tun_id=%"PRId64" actions=set_field:%"PRId64
                     "->reg%d,goto_table:%d", SLB_TABLE_CLASSIFY, tunnel,
                     mux->pa, vnet->vni, vnet->vni, SLB_REG_VNI,
                     SLB_TABLE_LB_IN);
        }
    }
    const struct slbrec_host *host;
    SLBREC_HOST_FOR_EACH (host, slb_idl) {
        if (host == self) {
            continue;
        }
        SLBREC_VNET_FOR_EACH (vnet, slb_idl) {
            add_flow(flows, &host->header_,
                     "table=%d,priority=100,in_port=%"PRId64",tun_src=%s,"
                     "tun_id=%"PRId64" actions=set_field:%"PRId64
                     "->reg%d,goto_table:%d", SLB_TABLE_CLASSIFY, tunnel,
                     host->pa, vnet->vni, vnet->vni, SLB_REG_VNI,
                     SLB_TABLE_LB_IN);
        }
    }
    add_flow(flows, &self->header_,
             "table=%d,priority=50,in_port=%"PRId64" actions=drop",
             SLB_TABLE_CLASSIFY, tunnel);

    /* Bound VM ports. */
    const struct slbrec_backend *backend;
    SLBREC_BACKEND_FOR_EACH (backend, slb_idl) {
        int64_t ofport = backend_ofport(agent, br, self, backend);
        if (ofport > 0) {
            add_flow(flows, &backend->header_,
                     "table=%d,priority=100,in_port=%"PRId64
                     " actions=set_field:%"PRId64"->reg%d,"
                     "set_field:%"PRId64"->reg%d,"
                     "set_field:%d->reg%d,goto_table:%d",
                     SLB_TABLE_CLASSIFY, ofport, backend->vnet->vni,
                     SLB_REG_VNI, ofport, SLB_REG_VM_PORT,
                     SLB_FLAG_FROM_VM, SLB_REG_FLAGS, SLB_TABLE_LB_OUT);
        }
    }
    add_flow(flows, &self->header_, "table=%d,priority=0 actions=drop",
             SLB_TABLE_CLASSIFY);
    return true;
}

/* Returns the first backend of 'pool', in CA order, that is bound on this
 * host, and its port in '*ofport'; or NULL.
 *
 * The mux sends a flow to the host of the backend it chose, but the packet
 * does not say which backend: with two local backends of one pool, this
 * host picks the first. */
static const struct slbrec_backend *
local_backend(const struct slb_agent *agent, const struct ovsrec_bridge *br,
              const struct slbrec_host *self,
              const struct slbrec_backend_pool *pool, int64_t *ofport)
{
    const struct slbrec_backend *best = NULL;
    ovs_be32 best_ca = 0;

    for (size_t i = 0; pool && i < pool->n_backends; i++) {
        const struct slbrec_backend *b = pool->backends[i];
        ovs_be32 ca;
        int64_t port = backend_ofport(agent, br, self, b);
        if (port > 0 && ip_parse(b->ca, &ca)
            && (!best || ntohl(ca) < ntohl(best_ca))) {
            best = b;
            best_ca = ca;
            *ofport = port;
        }
    }
    return best;
}

/* The load-balancing layer, inbound: a packet that a mux sent for (VIP,
 * protocol, port) of a rule with a backend here is committed to
 * conntrack, in the zone of the backend's VM port, with its destination
 * translated to the backend's CA and port (not for floating IP, where the
 * VM owns the VIP), and goes on to delivery.  Inbound NAT rules do the same
 * for their one backend. */
static void
build_lb_flows(const struct slb_agent *agent, const struct ovsrec_bridge *br,
               struct ovsdb_idl *slb_idl, const struct slbrec_host *self,
               struct hmap *flows)
{
    const struct slbrec_lb_rule *rule;
    SLBREC_LB_RULE_FOR_EACH (rule, slb_idl) {
        int64_t ofport;
        const struct slbrec_backend *b = local_backend(agent, br, self,
                                                       rule->pool, &ofport);
        if (!b || !rule->frontend) {
            continue;
        }

        char *l4 = (!strcmp(rule->protocol, "all")
                    ? xstrdup("ip")
                    : xasprintf("%s,tp_dst=%"PRId64, rule->protocol,
                                rule->frontend_port));
        char *nat = (rule->floating_ip ? xstrdup("")
                     : rule->backend_port
                     ? xasprintf(",nat(dst=%s:%"PRId64")", b->ca,
                                 rule->backend_port)
                     : xasprintf(",nat(dst=%s)", b->ca));
        add_flow(flows, &rule->header_,
                 "table=%d,priority=100,reg%d=%"PRId64",%s,nw_dst=%s "
                 "actions=set_field:%"PRId64"->reg%d,"
                 "ct(commit,zone=%"PRId64"%s,table=%d)",
                 SLB_TABLE_LB_IN, SLB_REG_VNI, b->vnet->vni, l4,
                 rule->frontend->vip, ofport, SLB_REG_VM_PORT, ofport, nat,
                 SLB_TABLE_VNET);
        free(l4);
        free(nat);
    }

    const struct slbrec_inbound_nat_rule *nr;
    SLBREC_INBOUND_NAT_RULE_FOR_EACH (nr, slb_idl) {
        int64_t ofport = (nr->backend
                          ? backend_ofport(agent, br, self, nr->backend)
                          : -1);
        if (ofport < 0 || !nr->frontend) {
            continue;
        }
        char *nat = (nr->floating_ip ? xstrdup("")
                     : xasprintf(",nat(dst=%s:%"PRId64")", nr->backend->ca,
                                 nr->backend_port));
        add_flow(flows, &nr->header_,
                 "table=%d,priority=110,reg%d=%"PRId64",%s,nw_dst=%s,"
                 "tp_dst=%"PRId64" actions=set_field:%"PRId64"->reg%d,"
                 "ct(commit,zone=%"PRId64"%s,table=%d)", SLB_TABLE_LB_IN,
                 SLB_REG_VNI, nr->backend->vnet->vni, nr->protocol,
                 nr->frontend->vip, nr->frontend_port, ofport,
                 SLB_REG_VM_PORT, ofport, nat, SLB_TABLE_VNET);
        free(nat);
    }
}

/* The path of a VM's packets until the layers that are still to come:
 * conntrack in the zone of the VM's port reverses the translation of
 * load-balanced connections, ACL and meter layers pass, and a reply of a
 * connection that a mux brought in leaves straight through the uplink to
 * the gateway (Direct Server Return), its source the VIP again. */
static void
build_reply_flows(const struct slb_agent *agent,
                  const struct ovsrec_bridge *br, struct ovsdb_idl *slb_idl,
                  const struct slbrec_host *self, struct hmap *flows)
{
    const struct slbrec_backend *backend;
    SLBREC_BACKEND_FOR_EACH (backend, slb_idl) {
        int64_t ofport = backend_ofport(agent, br, self, backend);
        if (ofport > 0) {
            add_flow(flows, &backend->header_,
                     "table=%d,priority=100,reg%d=%"PRId64",ip "
                     "actions=ct(zone=%"PRId64",nat,table=%d)",
                     SLB_TABLE_LB_OUT, SLB_REG_VM_PORT, ofport, ofport,
                     SLB_TABLE_ACL_FROM_VM);
        }
    }
    add_flow(flows, &self->header_, "table=%d,priority=0 actions=drop",
             SLB_TABLE_LB_OUT);
    add_flow(flows, &self->header_,
             "table=%d,priority=0 actions=goto_table:%d",
             SLB_TABLE_ACL_FROM_VM, SLB_TABLE_METER_FROM_VM);
    add_flow(flows, &self->header_,
             "table=%d,priority=0 actions=goto_table:%d",
             SLB_TABLE_METER_FROM_VM, SLB_TABLE_VNET);

    /* Replies of load-balanced connections: to the uplink. */
    add_flow(flows, &self->header_,
             "table=%d,priority=90,reg%d=%d,ct_state=+trk+est+rpl,ip "
             "actions=goto_table:%d", SLB_TABLE_VNET, SLB_REG_FLAGS,
             SLB_FLAG_FROM_VM, SLB_TABLE_UPLINK);

    const char *uplink = agent->settings.uplink;
    const char *gateway_mac = smap_get(&self->options, "gateway-mac");
    int64_t uplink_port = uplink ? ofport_of(br, uplink) : -1;
    const char *host_mac = NULL;
    for (size_t i = 0; uplink && i < br->n_ports; i++) {
        const struct ovsrec_port *port = br->ports[i];
        for (size_t j = 0; j < port->n_interfaces; j++) {
            if (!strcmp(port->interfaces[j]->name, uplink)) {
                host_mac = port->interfaces[j]->mac_in_use;
            }
        }
    }
    struct eth_addr ea;
    if (uplink_port > 0 && host_mac && gateway_mac
        && eth_addr_from_string(gateway_mac, &ea)) {
        add_flow(flows, &self->header_,
                 "table=%d,priority=100,reg%d=%d,ip "
                 "actions=set_field:%s->eth_src,set_field:%s->eth_dst,"
                 "output:%"PRId64, SLB_TABLE_UPLINK, SLB_REG_FLAGS,
                 SLB_FLAG_FROM_VM, host_mac, gateway_mac, uplink_port);
    }
}

/* The virtual network layer, delivery: a packet for a bound VM goes to
 * its port, with the VM's MAC as destination when the database knows
 * it. */
static void
build_delivery_flows(const struct slb_agent *agent,
                     const struct ovsrec_bridge *br,
                     struct ovsdb_idl *slb_idl,
                     const struct slbrec_host *self, struct hmap *flows)
{
    const struct slbrec_backend *backend;
    SLBREC_BACKEND_FOR_EACH (backend, slb_idl) {
        int64_t ofport = backend_ofport(agent, br, self, backend);
        if (ofport < 0) {
            continue;
        }
        char *set_mac = (backend->mac
                         ? xasprintf("set_field:%s->eth_dst,", backend->mac)
                         : xstrdup(""));
        add_flow(flows, &backend->header_,
                 "table=%d,priority=100,reg%d=%"PRId64",reg%d=%"PRId64","
                 "reg%d=0,ip actions=%soutput:%"PRId64, SLB_TABLE_VNET,
                 SLB_REG_VNI, backend->vnet->vni, SLB_REG_VM_PORT, ofport,
                 SLB_REG_FLAGS, set_mac, ofport);
        free(set_mac);
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

/* One pass of the agent: settings, tunnel port, bindings, report. */
static void
agent_run(struct slb_agent *agent, struct ovsdb_idl_txn *ovs_txn,
          struct ovsdb_idl_txn *slb_txn)
{
    struct ovsdb_idl *ovs_idl = agent->ovs_loop.idl;
    struct ovsdb_idl *slb_idl = agent->slb_loop.idl;

    /* Nothing to judge before the first contents of the database. */
    if (!ovsdb_idl_has_ever_connected(ovs_idl)) {
        return;
    }
    char *problem = read_settings(ovsrec_open_vswitch_first(ovs_idl),
                                  &agent->settings);
    if (problem) {
        set_problem(agent, problem);
        return;
    }
    struct agent_settings *s = &agent->settings;
    ovsdb_idl_set_remote(slb_idl, s->slb_remote, true);

    const struct ovsrec_bridge *br = find_bridge(ovs_idl, s->bridge);
    if (!br) {
        set_problem(agent, xasprintf("bridge %s does not exist", s->bridge));
        return;
    }
    bool bridge_ready = ensure_tunnel_port(br, s->encap_ip, ovs_txn);
    bridge_ready &= ensure_table_names(br, ovs_txn);

    if (!ovsdb_idl_has_ever_connected(slb_idl)) {
        return;
    }
    const struct slbrec_host *host = find_host(slb_idl, s->host_name);
    if (!host) {
        set_problem(agent, xasprintf("no host named \"%s\" in the SLB "
                                     "database", s->host_name));
        return;
    }
    set_problem(agent, NULL);

    /* The bindings and the flows: computed in full when either database
     * changed, the flows installed as a difference. */
    unsigned int ovs_seqno = ovsdb_idl_get_seqno(ovs_idl);
    unsigned int slb_seqno = ovsdb_idl_get_seqno(slb_idl);
    if (ovs_seqno != agent->ovs_seqno || slb_seqno != agent->slb_seqno) {
        COVERAGE_INC(agent_flows_computed);
        agent->ovs_seqno = ovs_seqno;
        agent->slb_seqno = slb_seqno;
        update_bindings(agent, br, slb_idl, host);
        ofctrl_flows_destroy(&agent->flows);
        hmap_init(&agent->flows);
        agent->flows_complete = build_classify_flows(agent, br, slb_idl,
                                                     host, &agent->flows);
        build_lb_flows(agent, br, slb_idl, host, &agent->flows);
        build_delivery_flows(agent, br, slb_idl, host, &agent->flows);
        build_reply_flows(agent, br, slb_idl, host, &agent->flows);
    }
    bridge_ready &= agent->flows_complete;
    ofctrl_set_bridge(agent->ofctrl, s->bridge);
    ofctrl_run(agent->ofctrl, bridge_ready ? &agent->flows : NULL);
    bridge_ready &= ofctrl_is_synced(agent->ofctrl);

    /* Report what is applied: the configuration, once the bridge has the
     * tunnel port and the table names. */
    const struct slbrec_slb_global *global = slbrec_slb_global_first(
        slb_idl);
    if (slb_txn && bridge_ready) {
        if (global && host->nb_cfg != global->nb_cfg) {
            slbrec_host_set_nb_cfg(host, global->nb_cfg);
        }
        struct smap status = SMAP_INITIALIZER(&status);
        smap_add(&status, "state", "active");
        smap_add_format(&status, "bindings", "%"PRIuSIZE,
                        shash_count(&agent->bindings));
        if (!smap_equal(&status, &host->status)) {
            slbrec_host_set_status(host, &status);
        }
        smap_destroy(&status);
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
    const struct ofctrl_stats *st = ofctrl_get_stats(agent->ofctrl);
    ds_put_format(&out, "flows: %"PRIuSIZE" installed, %"PRIu64" flow mods "
                  "in %"PRIu64" bundles, %"PRIu64" dumps\n",
                  ofctrl_n_installed(agent->ofctrl), st->flow_mods,
                  st->bundles, st->dumps);
    const struct shash_node **nodes = shash_sort(&agent->bindings);
    for (size_t i = 0; i < shash_count(&agent->bindings); i++) {
        ds_put_format(&out, "port %s: backend %s\n", nodes[i]->name,
                      (char *) nodes[i]->data);
    }
    free(nodes);
    unixctl_command_reply(conn, ds_cstr(&out));
    ds_destroy(&out);
}

static void
register_commands(struct slb_agent *agent)
{
    unixctl_command_register("exit", "", 0, 0, cmd_exit, agent);
    unixctl_command_register("slb-agent/show", "", 0, 0, cmd_show, agent);
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
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
        SSL_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
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

        case 'h':
            usage();

        case 'V':
            ovs_print_version(0, 0);
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
