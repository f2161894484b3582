/* The flows of a host's pipeline; see host-flows.h and pipeline.h.
 *
 * The walk of a packet, by table (slb-agent(8) has it in prose):
 *
 *   From a tunnel peer: classify -> lb_in (DNAT and commit, the reverse of
 *   SNAT, or plain conntrack for virtual network traffic) -> acl_to_vm ->
 *   meter_to_vm -> vnet (delivery to the VM).
 *
 *   From a VM: classify -> port_security (its own addresses only) ->
 *   lb_out (conntrack: reverses DNAT, applies the SNAT of established
 *   connections) -> acl_from_vm -> meter_from_vm -> vnet, which sends it
 *   to a local VM (through that VM's to-VM layers), to another host
 *   through the tunnel, or, for replies of load-balanced connections, to
 *   uplink (Direct Server Return); anything else goes to snat and leaves
 *   through uplink from a VIP.
 *
 * Conntrack runs in one zone per VM, numbered as its OpenFlow port.  A
 * connection is committed once its way is known: by lb_in for load
 * balancing, by the to-VM ACLs for traffic to the VM, and where a VM's
 * new connection leaves (vnet or snat) for traffic from it.  Its ct_mark
 * says what it is (SLB_CT_*), so that Direct Server Return takes only
 * replies of what a mux brought in, and established traffic skips the
 * ACLs only if they allowed it. */

#include <config.h>
#include "host-flows.h"

#include <stdarg.h>
#include <stdlib.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "pipeline.h"
#include "svec.h"
#include "util.h"

/* The priority band of ACL entries: entry priority P becomes OpenFlow
 * priority ACL_PRIORITY_BASE + P, below the flows that let established
 * connections through. */
#define ACL_PRIORITY_BASE 1000

/* The conntrack zone of the VM whose port is in the VM_PORT register. */
#define VM_ZONE "NXM_NX_REG1[0..15]"

static void add(struct host_flows *, uint64_t cookie, const char *format,
                ...)
    OVS_PRINTF_FORMAT(3, 4);

/* Adds the flow that 'format' describes, caused by the row of 'cookie'. */
static void
add(struct host_flows *flows, uint64_t cookie, const char *format, ...)
{
    if (flows->n >= flows->allocated) {
        flows->flows = x2nrealloc(flows->flows, &flows->allocated,
                                  sizeof *flows->flows);
    }
    va_list args;
    va_start(args, format);
    struct host_flow *f = &flows->flows[flows->n++];
    f->cookie = cookie;
    f->spec = xvasprintf(format, args);
    va_end(args);
}

void
host_flows_destroy(struct host_flows *flows)
{
    if (flows) {
        for (size_t i = 0; i < flows->n; i++) {
            free(flows->flows[i].spec);
        }
        free(flows->flows);
        memset(flows, 0, sizeof *flows);
    }
}

void
host_view_destroy(struct host_view *view)
{
    if (view) {
        for (size_t i = 0; i < view->n_vnets; i++) {
            free(view->vnets[i].prefixes);
            free(view->vnets[i].masks);
        }
        free(view->vms);
        free(view->remote_vms);
        free(view->peers);
        free(view->vnets);
        free(view->lbs);
        free(view->snats);
        free(view->acls);
        free(view->meters);
        memset(view, 0, sizeof *view);
    }
}

/* Match helpers. */

static const char *
proto_name(uint8_t proto)
{
    return (proto == IPPROTO_TCP ? "tcp"
            : proto == IPPROTO_UDP ? "udp"
            : proto == IPPROTO_ICMP ? "icmp"
            : "ip");
}

/* Appends to 'matches' one match ",FIELD=..." on 'field' for each aligned
 * block of ports that, together, make up 'min'...'max' (OpenFlow matches
 * ports with bit masks, not ranges): at most 30 blocks, fewer the more
 * aligned the range is. */
void
host_flows_port_matches(const char *field, uint16_t min, uint16_t max,
                        struct svec *matches)
{
    uint32_t port = min;
    while (port <= max) {
        /* The largest block that starts at 'port' and ends by 'max'. */
        uint32_t size = port ? port & -port : 1u << 16;
        while (port + size - 1 > max) {
            size /= 2;
        }
        if (size == 1) {
            svec_add_nocopy(matches, xasprintf(",%s=%"PRIu32, field, port));
        } else {
            svec_add_nocopy(matches, xasprintf(",%s=0x%"PRIx32"/0x%"PRIx32,
                                               field, port,
                                               0xffff & ~(size - 1)));
        }
        port += size;
    }
}

/* Appends to 'ds' a match on IPv4 field 'field' for 'ip'/'mask', if the
 * mask is not 0. */
static void
put_ip_match(struct ds *ds, const char *field, ovs_be32 ip, ovs_be32 mask)
{
    if (mask == OVS_BE32_MAX) {
        ds_put_format(ds, ",%s="IP_FMT, field, IP_ARGS(ip));
    } else if (mask) {
        ds_put_format(ds, ",%s="IP_FMT"/%d", field, IP_ARGS(ip),
                      ip_count_cidr_bits(mask));
    }
}

/* Stores in 'protos' the L4 protocols that 'proto' stands for, both TCP
 * and UDP for 0, else itself, and returns how many. */
static size_t
l4_protos(uint8_t proto, uint8_t protos[2])
{
    if (proto) {
        protos[0] = proto;
        return 1;
    }
    protos[0] = IPPROTO_TCP;
    protos[1] = IPPROTO_UDP;
    return 2;
}

/* Adds to 'flows' the flow that answers ARP requests from port 'ofport'
 * as the virtual router: the request becomes its own reply, from the
 * router's MAC, whatever address it asks for. */
static void
add_arp_responder(struct host_flows *flows, uint64_t cookie, int ofport)
{
    add(flows, cookie,
        "table=%d,priority=110,in_port=%d,arp,arp_op=1 "
        "actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
        "set_field:%s->eth_src,set_field:2->arp_op,"
        "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
        "set_field:%s->arp_sha,push:NXM_OF_ARP_TPA[],"
        "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
        "pop:NXM_OF_ARP_SPA[],output:in_port", SLB_TABLE_CLASSIFY, ofport,
        SLB_VROUTER_MAC, SLB_VROUTER_MAC);
}

/* The classification layer.
 *
 * Tunnel packets are accepted only from the PA of a peer (a mux or
 * another host) to this host's PA, with the VNI of a virtual network,
 * which goes into the VNI register; other tunnel packets are dropped by a
 * flow of their own, whose counters say how many.  Packets of VM ports
 * carry the VM's VNI and port into the registers.  The host answers its
 * VMs' ARP requests for any address but their own with the virtual
 * router's MAC. */
static void
build_classify(const struct host_view *v, struct host_flows *flows)
{
    for (size_t i = 0; i < v->n_peers; i++) {
        const struct host_peer *p = &v->peers[i];
        for (size_t j = 0; j < v->n_vnets; j++) {
            uint32_t vni = v->vnets[j].vni;
            add(flows, p->cookie,
                "table=%d,priority=100,in_port=%d,tun_src="IP_FMT","
                "tun_dst="IP_FMT",tun_id=%"PRIu32" actions=set_field:"
                "%"PRIu32"->reg%d,goto_table:%d", SLB_TABLE_CLASSIFY,
                v->tunnel_ofport, IP_ARGS(p->pa), IP_ARGS(v->pa), vni, vni,
                SLB_REG_VNI, SLB_TABLE_LB_IN);
        }
    }
    add(flows, v->cookie, "table=%d,priority=50,in_port=%d actions=drop",
        SLB_TABLE_CLASSIFY, v->tunnel_ofport);

    for (size_t i = 0; i < v->n_vms; i++) {
        const struct host_vm *vm = &v->vms[i];
        add(flows, vm->cookie,
            "table=%d,priority=100,in_port=%d actions=set_field:%"PRIu32
            "->reg%d,set_field:%d->reg%d,set_field:%d->reg%d,"
            "goto_table:%d", SLB_TABLE_CLASSIFY, vm->ofport, vm->vni,
            SLB_REG_VNI, vm->ofport, SLB_REG_VM_PORT, SLB_FLAG_FROM_VM,
            SLB_REG_FLAGS, SLB_TABLE_PORT_SECURITY);

        /* ARP: the request becomes its own reply, from the virtual
         * router.  Requests for the VM's own address (duplicate address
         * detection, gratuitous ARP) get no answer. */
        add(flows, vm->cookie,
            "table=%d,priority=120,in_port=%d,arp,arp_tpa="IP_FMT
            " actions=drop", SLB_TABLE_CLASSIFY, vm->ofport,
            IP_ARGS(vm->ca));
        add_arp_responder(flows, vm->cookie, vm->ofport);
    }
    add(flows, v->cookie, "table=%d,priority=0 actions=drop",
        SLB_TABLE_CLASSIFY);
}

/* A VIP that a VM owns through a floating-IP rule, and the rule. */
struct owned_vip {
    size_t vm;
    ovs_be32 vip;
    uint64_t cookie;
};

static int
compare_owned_vips(const void *a_, const void *b_)
{
    const struct owned_vip *a = a_, *b = b_;
    uint32_t a_vip = ntohl(a->vip), b_vip = ntohl(b->vip);
    return (a->vm != b->vm ? (a->vm < b->vm ? -1 : 1)
            : a_vip != b_vip ? (a_vip < b_vip ? -1 : 1)
            : a->cookie < b->cookie ? -1 : a->cookie > b->cookie);
}

/* Port security.
 *
 * A VM sends IPv4 from its CA, or from a VIP that it owns by a floating-IP
 * rule (with the VIP on one of its interfaces, it answers from it), and,
 * if the database knows its MAC, from that MAC.  Everything else from it
 * (other addresses, IPv6, ARP but the requests that the classification
 * layer answers) meets a drop flow of the VM's own, whose counters say
 * how much. */
static void
build_port_security(const struct host_view *v, struct host_flows *flows)
{
    /* Each VM's VIPs, once each, from the first of their rules. */
    struct owned_vip *owned = xmalloc((v->n_lbs + 1) * sizeof *owned);
    size_t n_owned = 0;
    for (size_t i = 0; i < v->n_lbs; i++) {
        const struct host_lb *lb = &v->lbs[i];
        if (lb->floating_ip) {
            owned[n_owned++] = (struct owned_vip) {
                .vm = lb->vm, .vip = lb->vip, .cookie = lb->cookie,
            };
        }
    }
    qsort(owned, n_owned, sizeof *owned, compare_owned_vips);

    size_t next = 0;
    for (size_t i = 0; i < v->n_vms; i++) {
        const struct host_vm *vm = &v->vms[i];
        char *mac = (eth_addr_is_zero(vm->mac) ? xstrdup("")
                     : xasprintf(",dl_src="ETH_ADDR_FMT,
                                 ETH_ADDR_ARGS(vm->mac)));
        add(flows, vm->cookie,
            "table=%d,priority=100,reg%d=%d%s,ip,nw_src="IP_FMT
            " actions=goto_table:%d", SLB_TABLE_PORT_SECURITY,
            SLB_REG_VM_PORT, vm->ofport, mac, IP_ARGS(vm->ca),
            SLB_TABLE_LB_OUT);
        for (; next < n_owned && owned[next].vm == i; next++) {
            const struct owned_vip *o = &owned[next];
            if (next && owned[next - 1].vm == i
                && owned[next - 1].vip == o->vip) {
                continue;
            }
            add(flows, o->cookie,
                "table=%d,priority=100,reg%d=%d%s,ip,nw_src="IP_FMT
                " actions=goto_table:%d", SLB_TABLE_PORT_SECURITY,
                SLB_REG_VM_PORT, vm->ofport, mac, IP_ARGS(o->vip),
                SLB_TABLE_LB_OUT);
        }
        add(flows, vm->cookie, "table=%d,priority=%d,reg%d=%d actions=drop",
            SLB_TABLE_PORT_SECURITY, HOST_FLOWS_PORT_SECURITY_DROP,
            SLB_REG_VM_PORT, vm->ofport);
        free(mac);
    }
    add(flows, v->cookie, "table=%d,priority=0 actions=drop",
        SLB_TABLE_PORT_SECURITY);
    free(owned);
}

/* The load-balancing layer.
 *
 * Inbound, a packet that a mux sent for (VIP, protocol, port) of a rule with a
 * local backend is committed to conntrack in the zone of the backend's VM,
 * marked as load balanced, with its destination translated to the
 * backend's CA and port (not for floating IP, where the VM owns the VIP).
 * Inbound NAT rules do the same for their one backend.  A packet for a
 * VIP and a port of a local VM's SNAT range is a reply of the VM's
 * outbound connection: conntrack reverses the SNAT.  Other packets for a
 * local VM's CA come from its virtual network.  Outbound, conntrack in the
 * VM's zone reverses the translations of its connections. */
static void
build_lb(const struct host_view *v, struct host_flows *flows)
{
    for (size_t i = 0; i < v->n_lbs; i++) {
        const struct host_lb *lb = &v->lbs[i];
        const struct host_vm *vm = &v->vms[lb->vm];
        char *l4 = (lb->proto
                    ? xasprintf("%s,tp_dst=%"PRIu16, proto_name(lb->proto),
                                lb->port)
                    : xstrdup("ip"));
        char *nat = (lb->floating_ip ? xstrdup("")
                     : lb->backend_port
                     ? xasprintf(",nat(dst="IP_FMT":%"PRIu16")",
                                 IP_ARGS(vm->ca), lb->backend_port)
                     : xasprintf(",nat(dst="IP_FMT")", IP_ARGS(vm->ca)));
        char *mac = (lb->by_mac
                     ? xasprintf(",dl_dst="ETH_ADDR_FMT,
                                 ETH_ADDR_ARGS(vm->mac))
                     : xstrdup(""));
        add(flows, lb->cookie,
            "table=%d,priority=%d,reg%d=%"PRIu32"%s,%s,nw_dst="IP_FMT" "
            "actions=set_field:%d->reg%d,ct(commit,zone=%d%s,"
            "exec(set_field:%d/%d->ct_mark),table=%d)", SLB_TABLE_LB_IN,
            lb->nat_rule ? 110 : lb->by_mac ? 100 : 99, SLB_REG_VNI, vm->vni,
            mac, l4, IP_ARGS(lb->vip), vm->ofport, SLB_REG_VM_PORT,
            vm->ofport, nat, SLB_CT_LB, SLB_CT_LB, SLB_TABLE_ACL_TO_VM);
        free(mac);
        free(l4);
        free(nat);
    }

    for (size_t i = 0; i < v->n_snats; i++) {
        const struct host_snat *sn = &v->snats[i];
        const struct host_vm *vm = &v->vms[sn->vm];
        uint8_t protos[2];
        size_t n_protos = l4_protos(sn->proto, protos);
        for (size_t j = 0; j < n_protos; j++) {
            struct svec ports = SVEC_EMPTY_INITIALIZER;
            host_flows_port_matches("tp_dst", sn->port_min, sn->port_max,
                                    &ports);
            for (size_t k = 0; k < ports.n; k++) {
                add(flows, sn->cookie,
                    "table=%d,priority=90,reg%d=%"PRIu32",%s,nw_dst="IP_FMT
                    "%s actions=set_field:%d->reg%d,ct(zone=%d,nat,"
                    "table=%d)", SLB_TABLE_LB_IN, SLB_REG_VNI, vm->vni,
                    proto_name(protos[j]), IP_ARGS(sn->vip), ports.names[k],
                    vm->ofport, SLB_REG_VM_PORT, vm->ofport,
                    SLB_TABLE_SNAT_RETURN);
            }
            svec_destroy(&ports);
        }
    }
    /* Only replies and related packets (ICMP errors) of connections that
     * the VM opened reach it through its SNAT ports. */
    add(flows, v->cookie,
        "table=%d,priority=100,ct_state=+trk+est+rpl actions=goto_table:%d",
        SLB_TABLE_SNAT_RETURN, SLB_TABLE_ACL_TO_VM);
    add(flows, v->cookie,
        "table=%d,priority=100,ct_state=+trk+rel actions=goto_table:%d",
        SLB_TABLE_SNAT_RETURN, SLB_TABLE_ACL_TO_VM);
    add(flows, v->cookie, "table=%d,priority=0 actions=drop",
        SLB_TABLE_SNAT_RETURN);

    for (size_t i = 0; i < v->n_vms; i++) {
        const struct host_vm *vm = &v->vms[i];
        add(flows, vm->cookie,
            "table=%d,priority=50,reg%d=%"PRIu32",ip,nw_dst="IP_FMT" "
            "actions=set_field:%d->reg%d,ct(zone=%d,nat,table=%d)",
            SLB_TABLE_LB_IN, SLB_REG_VNI, vm->vni, IP_ARGS(vm->ca),
            vm->ofport, SLB_REG_VM_PORT, vm->ofport, SLB_TABLE_ACL_TO_VM);
    }
    add(flows, v->cookie, "table=%d,priority=0 actions=drop",
        SLB_TABLE_LB_IN);

    add(flows, v->cookie,
        "table=%d,priority=100,ip actions=ct(zone=%s,nat,table=%d)",
        SLB_TABLE_LB_OUT, VM_ZONE, SLB_TABLE_ACL_FROM_VM);
    add(flows, v->cookie, "table=%d,priority=0 actions=drop",
        SLB_TABLE_LB_OUT);
}

/* The ACL layer, one table per direction.
 *
 * Invalid packets are dropped.  Packets of established connections that
 * the ACLs allowed pass.  Otherwise the VM's entries decide, by priority;
 * what none of them matches is allowed.  A VM with an entry that the agent
 * could not understand gets none of this in that direction: all of its
 * traffic is dropped.  In the to-VM direction an
 * allowed connection is committed here, marked as allowed; in the from-VM
 * direction, where the VM's new connection leaves. */
static void
build_acl(const struct host_view *v, bool to_vm, struct host_flows *flows)
{
    int table = to_vm ? SLB_TABLE_ACL_TO_VM : SLB_TABLE_ACL_FROM_VM;
    int next = to_vm ? SLB_TABLE_METER_TO_VM : SLB_TABLE_METER_FROM_VM;
    char *allow = (to_vm
                   ? xasprintf("ct(commit,zone=%s,exec(set_field:%d/%d->"
                               "ct_mark)),goto_table:%d", VM_ZONE,
                               SLB_CT_ALLOWED, SLB_CT_ALLOWED, next)
                   : xasprintf("goto_table:%d", next));

    add(flows, v->cookie, "table=%d,priority=65535,ct_state=+trk+inv "
        "actions=drop", table);
    add(flows, v->cookie, "table=%d,priority=65534,ct_state=+trk+est,"
        "ct_mark=%d/%d actions=goto_table:%d", table, SLB_CT_ALLOWED,
        SLB_CT_ALLOWED, next);
    add(flows, v->cookie, "table=%d,priority=65534,ct_state=+trk+rel,"
        "ct_mark=%d/%d actions=goto_table:%d", table, SLB_CT_ALLOWED,
        SLB_CT_ALLOWED, next);

    for (size_t i = 0; i < v->n_acls; i++) {
        const struct host_acl *acl = &v->acls[i];
        if (acl->to_vm != to_vm) {
            continue;
        }
        if (acl->unusable) {
            /* Fail closed: above every flow that would let a packet of
             * the VM through, established connections included.  (The
             * drop of invalid packets shares the priority, and the
             * action.) */
            add(flows, acl->cookie, "table=%d,priority=65535,reg%d=%d "
                "actions=drop", table, SLB_REG_VM_PORT,
                v->vms[acl->vm].ofport);
            continue;
        }
        struct ds match = DS_EMPTY_INITIALIZER;
        ds_put_format(&match, "table=%d,priority=%d,reg%d=%d,%s", table,
                      ACL_PRIORITY_BASE + acl->priority, SLB_REG_VM_PORT,
                      v->vms[acl->vm].ofport, proto_name(acl->proto));
        put_ip_match(&match, "nw_src", acl->src, acl->src_mask);
        put_ip_match(&match, "nw_dst", acl->dst, acl->dst_mask);

        /* Port ranges multiply into one flow per pair of blocks. */
        struct svec sports = SVEC_EMPTY_INITIALIZER;
        struct svec dports = SVEC_EMPTY_INITIALIZER;
        bool l4 = acl->proto == IPPROTO_TCP || acl->proto == IPPROTO_UDP;
        if (l4 && acl->src_port_max) {
            host_flows_port_matches("tp_src", acl->src_port_min,
                                    acl->src_port_max, &sports);
        } else {
            svec_add(&sports, "");
        }
        if (l4 && acl->dst_port_max) {
            host_flows_port_matches("tp_dst", acl->dst_port_min,
                                    acl->dst_port_max, &dports);
        } else {
            svec_add(&dports, "");
        }
        for (size_t s = 0; s < sports.n; s++) {
            for (size_t d = 0; d < dports.n; d++) {
                add(flows, acl->cookie, "%s%s%s actions=%s", ds_cstr(&match),
                    sports.names[s], dports.names[d],
                    acl->allow ? allow : "drop");
            }
        }
        svec_destroy(&sports);
        svec_destroy(&dports);
        ds_destroy(&match);
    }
    add(flows, v->cookie, "table=%d,priority=0,ip actions=%s", table, allow);
    free(allow);
}

/* The metering layer: one flow per VM and direction, whose counters are
 * the VM's, through the VM's OpenFlow meter if it has a rate limit. */
static void
build_meter(const struct host_view *v, bool to_vm, struct host_flows *flows)
{
    int table = to_vm ? SLB_TABLE_METER_TO_VM : SLB_TABLE_METER_FROM_VM;
    for (size_t i = 0; i < v->n_vms; i++) {
        const struct host_vm *vm = &v->vms[i];
        const struct host_meter *meter = NULL;
        for (size_t j = 0; j < v->n_meters; j++) {
            if (v->meters[j].vm == i && v->meters[j].to_vm == to_vm) {
                meter = &v->meters[j];
            }
        }
        if (meter) {
            add(flows, meter->cookie,
                "table=%d,priority=100,reg%d=%d actions=meter:%"PRIu32","
                "goto_table:%d", table, SLB_REG_VM_PORT, vm->ofport,
                meter->meter_id, SLB_TABLE_VNET);
        } else {
            add(flows, vm->cookie,
                "table=%d,priority=100,reg%d=%d actions=goto_table:%d",
                table, SLB_REG_VM_PORT, vm->ofport, SLB_TABLE_VNET);
        }
    }
    add(flows, v->cookie, "table=%d,priority=0 actions=drop", table);
}

/* Adds to 'flows' the two flows of a VM's packets toward 'ca' in virtual
 * network 'vni', which end with 'actions': one for the first packet of a
 * connection, which commits it in the VM's zone first, and one for the
 * others. */
static void
add_vnet_route(const struct host_view *v, uint64_t cookie, uint32_t vni,
               ovs_be32 ca, const char *actions, struct host_flows *flows)
{
    char *commit = xasprintf("ct(commit,zone=%s,exec(set_field:%d/%d->"
                             "ct_mark)),", VM_ZONE, SLB_CT_ALLOWED,
                             SLB_CT_ALLOWED);
    add(flows, cookie, "table=%d,priority=101,reg%d=%"PRIu32",reg%d=%d/%d,"
        "ct_state=+new+trk,ip,nw_dst="IP_FMT" actions=%s%s", SLB_TABLE_VNET,
        SLB_REG_VNI, vni, SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM,
        IP_ARGS(ca), commit, actions);
    add(flows, cookie, "table=%d,priority=100,reg%d=%"PRIu32",reg%d=%d/%d,"
        "ip,nw_dst="IP_FMT" actions=%s", SLB_TABLE_VNET, SLB_REG_VNI, vni,
        SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM, IP_ARGS(ca),
        actions);
    free(commit);
}

/* The virtual network layer.
 *
 * To a VM: the packet goes out the VM's port, from the virtual router's
 * MAC to the VM's.  From a VM: a packet for the CA of a VM of its virtual
 * network goes to that VM, through its to-VM layers if it is local, else
 * through the tunnel to its host's PA with the network's VNI; a reply of a
 * load-balanced connection goes to the uplink (Direct Server Return); what
 * is left of the network's own CA space is dropped; everything else goes
 * to SNAT. */
static void
build_vnet(const struct host_view *v, struct host_flows *flows)
{
    for (size_t i = 0; i < v->n_vms; i++) {
        const struct host_vm *vm = &v->vms[i];
        char *set_dst = (eth_addr_is_zero(vm->mac) ? xstrdup("")
                         : xasprintf("set_field:"ETH_ADDR_FMT"->eth_dst,",
                                     ETH_ADDR_ARGS(vm->mac)));
        add(flows, vm->cookie,
            "table=%d,priority=100,reg%d=%d,reg%d=0/%d "
            "actions=set_field:%s->eth_src,%soutput:%d", SLB_TABLE_VNET,
            SLB_REG_VM_PORT, vm->ofport, SLB_REG_FLAGS, SLB_FLAG_FROM_VM,
            SLB_VROUTER_MAC, set_dst, vm->ofport);
        free(set_dst);

        /* From another VM of this host. */
        char *to_vm = xasprintf("set_field:%d->reg%d,set_field:0->reg%d,"
                                "ct(zone=%d,nat,table=%d)", vm->ofport,
                                SLB_REG_VM_PORT, SLB_REG_FLAGS, vm->ofport,
                                SLB_TABLE_ACL_TO_VM);
        add_vnet_route(v, vm->cookie, vm->vni, vm->ca, to_vm, flows);
        free(to_vm);
    }

    for (size_t i = 0; i < v->n_remote_vms; i++) {
        const struct host_remote_vm *r = &v->remote_vms[i];
        char *set_dst = (eth_addr_is_zero(r->mac) ? xstrdup("")
                         : xasprintf("set_field:"ETH_ADDR_FMT"->eth_dst,",
                                     ETH_ADDR_ARGS(r->mac)));
        char *encap = xasprintf("set_field:%s->eth_src,%s"
                                "set_field:"IP_FMT"->tun_dst,"
                                "set_field:%"PRIu32"->tun_id,"
                                "check_pkt_larger(%d)->NXM_NX_REG%d[0],"
                                "resubmit(,%d)", SLB_VROUTER_MAC, set_dst,
                                IP_ARGS(r->pa), r->vni,
                                v->underlay_mtu - SLB_VXLAN_OVERHEAD
                                + ETH_HEADER_LEN, SLB_REG_TOO_BIG,
                                SLB_TABLE_TUNNEL_OUT);
        add_vnet_route(v, r->cookie, r->vni, r->ca, encap, flows);
        free(encap);
        free(set_dst);
    }

    add(flows, v->cookie,
        "table=%d,priority=90,reg%d=%d/%d,ct_state=+trk+est+rpl,"
        "ct_mark=%d/%d,ip actions=goto_table:%d", SLB_TABLE_VNET,
        SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM, SLB_CT_LB,
        SLB_CT_LB, SLB_TABLE_UPLINK);
    for (size_t i = 0; i < v->n_vnets; i++) {
        const struct host_vnet *vnet = &v->vnets[i];
        for (size_t j = 0; j < vnet->n_prefixes; j++) {
            struct ds match = DS_EMPTY_INITIALIZER;
            put_ip_match(&match, "nw_dst", vnet->prefixes[j],
                         vnet->masks[j]);
            add(flows, vnet->cookie,
                "table=%d,priority=80,reg%d=%"PRIu32",ip%s actions=drop",
                SLB_TABLE_VNET, SLB_REG_VNI, vnet->vni, ds_cstr(&match));
            ds_destroy(&match);
        }
    }
    add(flows, v->cookie, "table=%d,priority=0,reg%d=%d/%d,ip "
        "actions=goto_table:%d", SLB_TABLE_VNET, SLB_REG_FLAGS,
        SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM, SLB_TABLE_SNAT);
}

/* The SNAT layer: a VM's new connection to the outside leaves from the
 * VIP and a port of the VM's range; the packets after the first were
 * translated already, by conntrack in lb_out.  A VM without SNAT ports
 * has no way out. */
static void
build_snat(const struct host_view *v, struct host_flows *flows)
{
    for (size_t i = 0; i < v->n_snats; i++) {
        const struct host_snat *sn = &v->snats[i];
        const struct host_vm *vm = &v->vms[sn->vm];
        uint8_t protos[2];
        size_t n_protos = l4_protos(sn->proto, protos);
        for (size_t j = 0; j < n_protos; j++) {
            add(flows, sn->cookie,
                "table=%d,priority=100,reg%d=%d,ct_state=+new+trk,%s "
                "actions=ct(commit,zone=%d,nat(src="IP_FMT":%"PRIu16
                "-%"PRIu16"),exec(set_field:%d/%d->ct_mark),table=%d)",
                SLB_TABLE_SNAT, SLB_REG_VM_PORT, vm->ofport,
                proto_name(protos[j]), vm->ofport, IP_ARGS(sn->vip),
                sn->port_min, sn->port_max,
                SLB_CT_SNAT | SLB_CT_ALLOWED, SLB_CT_SNAT | SLB_CT_ALLOWED,
                SLB_TABLE_UPLINK);
        }
    }
    add(flows, v->cookie, "table=%d,priority=90,ct_state=+trk+est,"
        "ct_mark=%d/%d actions=goto_table:%d", SLB_TABLE_SNAT, SLB_CT_SNAT,
        SLB_CT_SNAT, SLB_TABLE_UPLINK);
    add(flows, v->cookie, "table=%d,priority=0 actions=drop",
        SLB_TABLE_SNAT);
}

/* The uplink layer: out to the gateway, from the uplink's MAC. */
static void
build_uplink(const struct host_view *v, struct host_flows *flows)
{
    if (v->uplink_ofport > 0 && !eth_addr_is_zero(v->gateway_mac)) {
        add(flows, v->cookie,
            "table=%d,priority=100,reg%d=%d/%d,ip "
            "actions=set_field:"ETH_ADDR_FMT"->eth_src,"
            "set_field:"ETH_ADDR_FMT"->eth_dst,output:%d", SLB_TABLE_UPLINK,
            SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM,
            ETH_ADDR_ARGS(v->uplink_mac), ETH_ADDR_ARGS(v->gateway_mac),
            v->uplink_ofport);
    }
    add(flows, v->cookie, "table=%d,priority=0 actions=drop",
        SLB_TABLE_UPLINK);
}

/* Into the tunnel, if the frame fits the underlay once encapsulated;
 * otherwise to the agent, which answers the VM with ICMP "fragmentation
 * needed" (OVS would drop the frame without a word). */
static void
build_tunnel_out(const struct host_view *v, struct host_flows *flows)
{
    add(flows, v->cookie,
        "table=%d,priority=100,reg%d=1/1 actions=controller(userdata="
        "00.00.00.%02x)", SLB_TABLE_TUNNEL_OUT, SLB_REG_TOO_BIG,
        SLB_PIN_FRAG_NEEDED);
    add(flows, v->cookie, "table=%d,priority=0 actions=output:%d",
        SLB_TABLE_TUNNEL_OUT, v->tunnel_ofport);
}

/* Returns the address that stands for the VM on OpenFlow port 'ofport' in
 * the probes from the probe port: 169.254.128.0 plus the port number (the
 * agent probes VMs on ports below 32768). */
ovs_be32
host_flows_probe_address(int ofport)
{
    return htonl(0xa9fe8000 | (ofport & 0x7fff));
}

/* The probe port, in classification and the virtual network layer.
 *
 * The host answers the probe port's ARP requests as a VM's.  A packet from
 * the probe port for a VM's probe address goes to the VM, its destination
 * translated to the VM's CA, through conntrack and the to-VM layers; the
 * VM's answer to the probe source comes back with the probe address as its
 * source. */
static void
build_probe(const struct host_view *v, struct host_flows *flows)
{
    if (v->probe_ofport <= 0) {
        return;
    }
    add_arp_responder(flows, v->cookie, v->probe_ofport);
    add(flows, v->cookie, "table=%d,priority=100,in_port=%d actions=drop",
        SLB_TABLE_CLASSIFY, v->probe_ofport);

    for (size_t i = 0; i < v->n_vms; i++) {
        const struct host_vm *vm = &v->vms[i];
        ovs_be32 probe = host_flows_probe_address(vm->ofport);
        add(flows, vm->cookie,
            "table=%d,priority=110,in_port=%d,ip,nw_src=%s,nw_dst="IP_FMT
            " actions=set_field:%"PRIu32"->reg%d,set_field:%d->reg%d,"
            "set_field:"IP_FMT"->ip_dst,ct(zone=%d,nat,table=%d)",
            SLB_TABLE_CLASSIFY, v->probe_ofport, SLB_PROBE_SOURCE,
            IP_ARGS(probe), vm->vni, SLB_REG_VNI, vm->ofport,
            SLB_REG_VM_PORT, IP_ARGS(vm->ca), vm->ofport,
            SLB_TABLE_ACL_TO_VM);
        add(flows, vm->cookie,
            "table=%d,priority=110,reg%d=%d,reg%d=%d/%d,ip,nw_src="IP_FMT","
            "nw_dst=%s actions=set_field:"IP_FMT"->ip_src,"
            "set_field:%s->eth_src,set_field:"ETH_ADDR_FMT"->eth_dst,"
            "output:%d", SLB_TABLE_VNET, SLB_REG_VM_PORT, vm->ofport,
            SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM,
            IP_ARGS(vm->ca), SLB_PROBE_SOURCE, IP_ARGS(probe),
            SLB_VROUTER_MAC, ETH_ADDR_ARGS(v->probe_mac), v->probe_ofport);
    }
}

/* Replaces the contents of 'flows' by the flows of every layer for the
 * host that 'v' describes. */
void
host_flows_build(const struct host_view *v, struct host_flows *flows)
{
    host_flows_destroy(flows);
    build_classify(v, flows);
    build_port_security(v, flows);
    build_lb(v, flows);
    build_acl(v, true, flows);
    build_acl(v, false, flows);
    build_meter(v, true, flows);
    build_meter(v, false, flows);
    build_vnet(v, flows);
    build_snat(v, flows);
    build_uplink(v, flows);
    build_tunnel_out(v, flows);
    build_probe(v, flows);
}
