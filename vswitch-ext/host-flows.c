/* SPDX-License-Identifier: Apache-2.0 */
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

#include <netinet/icmp6.h>
#include <stdlib.h>

#include "flow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "pipeline.h"
#include "util.h"

/* The priority band of ACL entries: entry priority P becomes OpenFlow
 * priority ACL_PRIORITY_BASE + P, below the flows that let established
 * connections through. */
#define ACL_PRIORITY_BASE 1000

/* The conntrack zone of the VM whose port is in the VM_PORT register: a
 * zone of ZONE_FROM_REG. */
#define ZONE_FROM_REG (-1)

/* A flow being built: its match and its actions, which the builder
 * functions below add to. */
struct flow_builder {
    struct match match;
    struct ofpbuf ofpacts;
    uint64_t stub[256 / 8];
};

static void
fb_init(struct flow_builder *fb)
{
    match_init_catchall(&fb->match);
    ofpbuf_use_stub(&fb->ofpacts, fb->stub, sizeof fb->stub);
}

/* Adds the flow of 'fb' to 'flows', in 'table' at 'priority', caused by
 * the row of 'cookie', and makes 'fb' ready for another flow. */
static void
add(struct host_flows *flows, uint64_t cookie, int table, int priority,
    struct flow_builder *fb)
{
    if (flows->n >= flows->allocated) {
        flows->flows = x2nrealloc(flows->flows, &flows->allocated,
                                  sizeof *flows->flows);
    }
    struct host_flow *f = &flows->flows[flows->n++];
    f->cookie = cookie;
    f->table_id = table;
    f->priority = priority;
    minimatch_init(&f->match, &fb->match);
    f->ofpacts_len = fb->ofpacts.size;
    f->ofpacts = (fb->ofpacts.size
                  ? xmemdup(fb->ofpacts.data, fb->ofpacts.size) : NULL);
    ofpbuf_uninit(&fb->ofpacts);
    fb_init(fb);
}

void
host_flows_destroy(struct host_flows *flows)
{
    if (flows) {
        for (size_t i = 0; i < flows->n; i++) {
            minimatch_destroy(&flows->flows[i].match);
            free(flows->flows[i].ofpacts);
        }
        free(flows->flows);
        memset(flows, 0, sizeof *flows);
    }
}

/* Appends to 's' the flow of 'table_id', 'priority', 'match' and actions
 * 'ofpacts' (none: drop) as ovs-ofctl shows it, without a cookie. */
void
host_flows_format(uint8_t table_id, uint16_t priority,
                  const struct minimatch *match, const struct ofpact *ofpacts,
                  size_t ofpacts_len, struct ds *s)
{
    ds_put_format(s, "table=%"PRIu8",", table_id);
    struct match m;
    minimatch_expand(match, &m);
    match_format(&m, NULL, s, priority);
    ds_chomp(s, ',');
    ds_chomp(s, ' ');
    ds_put_cstr(s, " actions=");
    if (ofpacts_len) {
        struct ofpact_format_params fp = { .s = s };
        ofpacts_format(ofpacts, ofpacts_len, &fp);
    } else {
        ds_put_cstr(s, "drop");
    }
}

/* Appends to 's' flow 'f' as ovs-ofctl shows it, without the cookie. */
void
host_flow_format(const struct host_flow *f, struct ds *s)
{
    host_flows_format(f->table_id, f->priority, &f->match, f->ofpacts,
                      f->ofpacts_len, s);
}

void
host_view_destroy(struct host_view *view)
{
    if (view) {
        for (size_t i = 0; i < view->n_vnets; i++) {
            free(view->vnets[i].prefixes);
        }
        free(view->vms);
        free(view->remote_vms);
        for (size_t i = 0; i < view->n_peers; i++) {
            free(view->peers[i].vnis);
        }
        free(view->peers);
        free(view->muxes);
        free(view->internal_vips);
        free(view->vnets);
        free(view->lbs);
        free(view->snats);
        free(view->acls);
        free(view->meters);
        memset(view, 0, sizeof *view);
    }
}

/* Returns the index of the VM in 'v' whose CA is 'ca' in virtual network
 * 'vni', or SIZE_MAX. */
size_t
host_view_find_vm(const struct host_view *v, const struct in6_addr *ca,
                  uint32_t vni)
{
    for (size_t i = 0; i < v->n_vms; i++) {
        if (ipv6_addr_equals(&v->vms[i].ca, ca) && v->vms[i].vni == vni) {
            return i;
        }
    }
    return SIZE_MAX;
}

/* Compares addresses 'a' and 'b' as numbers (IPv4 before IPv6). */
static int
compare_addrs(const struct in6_addr *a, const struct in6_addr *b)
{
    return memcmp(a, b, sizeof *a);
}

static int
compare_snats(const void *a_, const void *b_)
{
    const struct host_snat *a = a_, *b = b_;
    int cmp = compare_addrs(&a->vip, &b->vip);
    return (a->vm != b->vm ? (a->vm < b->vm ? -1 : 1)
            : cmp ? cmp
            : a->port_min != b->port_min ? (a->port_min < b->port_min ? -1
                                            : 1)
            : 0);
}

/* Returns true if IPv6 SNAT range 'sn' takes its VM's later fragments,
 * which show no protocol nor ports (see later_fragment_proto()): if it is
 * a way out for every protocol that has one, so that it may translate any
 * datagram of the VM.  The first fragment may have taken another range:
 * conntrack in the VM's zone still holds the datagram's fragments until
 * it is whole, whatever commit each one met, and translates it by the
 * flow of the fragment that completes it.  (Where several ranges may,
 * each gives the same flow, and the lowest cookie's is installed.  An
 * IPv4 later fragment shows its protocol, and meets the flows of that
 * protocol.) */
static bool
takes_later_fragments(const struct host_snat *sn)
{
    return (!IN6_IS_ADDR_V4MAPPED(&sn->vip) && sn->exits
            && (!sn->n_ways[0] || sn->exits & HOST_SNAT_TCP)
            && (!sn->n_ways[1] || sn->exits & HOST_SNAT_UDP));
}

/* Sorts the SNAT ranges of 'view' by VM, VIP and first port, and says
 * through which of them each VM's new connections leave: for each
 * protocol, every range that takes it, the ways of a choice that hashes
 * each connection.  (A VM with ranges on several VIPs, from an outbound
 * rule with several frontends, has the ports of all of them.)  A range
 * whose VIP comes again for the VM, a second rule's on one frontend, takes
 * only replies: a connection leaves from one range per VIP, lest two
 * ranges give it the same source. */
void
host_view_order_snats(struct host_view *view)
{
    if (view->n_snats) {
        qsort(view->snats, view->n_snats, sizeof *view->snats,
              compare_snats);
    }
    for (size_t first = 0, end; first < view->n_snats; first = end) {
        /* The ranges of one VM: first...end-1. */
        size_t vm = view->snats[first].vm;
        for (end = first; end < view->n_snats && view->snats[end].vm == vm;
             end++) {
            continue;
        }

        /* The ranges of one VIP come together, sorted: for each protocol,
         * the first of them is a way out. */
        uint8_t n_ways[2] = { 0, 0 };
        struct in6_addr last_vip[2];    /* Of way n_ways[p] - 1. */
        for (size_t i = first; i < end; i++) {
            struct host_snat *sn = &view->snats[i];
            uint8_t protos = (sn->proto == IPPROTO_TCP ? HOST_SNAT_TCP
                              : sn->proto == IPPROTO_UDP ? HOST_SNAT_UDP
                              : HOST_SNAT_TCP | HOST_SNAT_UDP);
            sn->exits = 0;
            for (int p = 0; p < 2; p++) {
                uint8_t bit = p ? HOST_SNAT_UDP : HOST_SNAT_TCP;
                if (protos & bit && n_ways[p] < UINT8_MAX
                    && !(n_ways[p]
                         && ipv6_addr_equals(&last_vip[p], &sn->vip))) {
                    sn->exits |= bit;
                    sn->way[p] = n_ways[p]++;
                    last_vip[p] = sn->vip;
                }
            }
        }
        bool later = false;
        for (size_t i = first; i < end; i++) {
            memcpy(view->snats[i].n_ways, n_ways, sizeof n_ways);
            later = later || takes_later_fragments(&view->snats[i]);
        }

        /* An IPv6 VM none of whose ranges takes its later fragments has
         * the agent hold them. */
        for (size_t i = first; i < end; i++) {
            struct host_snat *sn = &view->snats[i];
            sn->later_fragments_held = (!later && sn->exits
                                        && !IN6_IS_ADDR_V4MAPPED(&sn->vip));
        }
    }
}

/* The protocol by which a later fragment of a datagram to 'vip' of
 * protocol 'proto' is known: its own for IPv4, but for IPv6 the fragment
 * header's, IPPROTO_FRAGMENT, as Open vSwitch shows the later fragments
 * of IPv6 (without their fragment header's next header), so that the
 * host cannot tell those of TCP from those of UDP. */
static uint8_t
later_fragment_proto(const struct in6_addr *vip, uint8_t proto)
{
    return IN6_IS_ADDR_V4MAPPED(vip) ? proto : IPPROTO_FRAGMENT;
}

/* A load-balancing entry of a view, by the group that shares the flows of
 * their later fragments: one VIP and protocol (for IPv6, every protocol:
 * see later_fragment_proto()), and the VM when by MAC. */
struct fragment_group {
    struct in6_addr vip;
    uint8_t proto;
    bool by_mac;
    size_t vm;                  /* SIZE_MAX if not 'by_mac'. */
    size_t index;               /* In the view's 'lbs'. */
};

static int
compare_fragment_groups(const void *a_, const void *b_)
{
    const struct fragment_group *a = a_, *b = b_;
    int cmp = compare_addrs(&a->vip, &b->vip);
    return (cmp ? cmp
            : a->proto != b->proto ? (a->proto < b->proto ? -1 : 1)
            : a->by_mac != b->by_mac ? (a->by_mac < b->by_mac ? -1 : 1)
            : a->vm < b->vm ? -1 : a->vm > b->vm);
}

/* A VIP and protocol, to sort and search, and the local VM of a SNAT
 * range of them. */
struct vip_proto {
    struct in6_addr vip;
    uint8_t proto;
    size_t vm;                  /* Not compared. */
};

static int
compare_vip_protos(const void *a_, const void *b_)
{
    const struct vip_proto *a = a_, *b = b_;
    int cmp = compare_addrs(&a->vip, &b->vip);
    return cmp ? cmp : a->proto < b->proto ? -1 : a->proto > b->proto;
}

static int
compare_u32(const void *a_, const void *b_)
{
    const uint32_t *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

/* Adds 'vni' to those that host peer 'p' may send, unless it has it. */
void
host_peer_add_vni(struct host_peer *p, uint32_t vni)
{
    size_t i = 0;
    while (i < p->n_vnis && p->vnis[i] < vni) {
        i++;
    }
    if (i < p->n_vnis && p->vnis[i] == vni) {
        return;
    }
    p->vnis = xrealloc(p->vnis, (p->n_vnis + 1) * sizeof *p->vnis);
    memmove(&p->vnis[i + 1], &p->vnis[i], (p->n_vnis - i) * sizeof *p->vnis);
    p->vnis[i] = vni;
    p->n_vnis++;
}

/* The port to which entry 'lb' translates its destination port, 0 if it
 * keeps it. */
static uint16_t
translated_port(const struct host_lb *lb)
{
    return (lb->floating_ip || !lb->backend_port
            || lb->backend_port == lb->port ? 0 : lb->backend_port);
}

/* Returns the port of entry 'lb' as its VM sees it: the one that it
 * translates to, or the frontend port (0 for HA ports: any). */
uint16_t
host_lb_vm_port(const struct host_lb *lb)
{
    return translated_port(lb) ? translated_port(lb) : lb->port;
}

/* Returns the index of the first of the 'n' entries of 'vps', sorted by
 * compare_vip_protos(), whose VIP is 'vip' or sorts after it. */
static size_t
first_of_vip(const struct vip_proto *vps, size_t n, const struct in6_addr *vip)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (compare_addrs(&vps[mid].vip, vip) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Whose SNAT ranges could take the later fragments of datagrams to a VIP
 * and protocol (snat_owners()). */
#define SNAT_OF_VM 1            /* The VM's own. */
#define SNAT_OF_OTHERS 2        /* Other local VMs'. */

/* Returns which of the 'n' SNAT ranges in 'snats', sorted by VIP and
 * protocol, make the later fragments of replies to connections from 'vip'
 * look like those of datagrams to 'vip' of protocol 'proto' for local VM
 * 'vm': those of 'proto' do, and for IPv6 those of either protocol.  A
 * bitmap of SNAT_OF_VM and SNAT_OF_OTHERS. */
static int
snat_owners(const struct vip_proto *snats, size_t n,
            const struct in6_addr *vip, uint8_t proto, size_t vm)
{
    bool any_proto = later_fragment_proto(vip, proto) == IPPROTO_FRAGMENT;
    int owners = 0;
    for (size_t i = first_of_vip(snats, n, vip);
         i < n && ipv6_addr_equals(&snats[i].vip, vip); i++) {
        if (any_proto || snats[i].proto == proto) {
            owners |= snats[i].vm == vm ? SNAT_OF_VM : SNAT_OF_OTHERS;
        }
    }
    return owners;
}

/* Returns true if SNAT ranges 'a' and 'b' would take the same later
 * fragments of replies: to the same VIP, of a protocol of both (for IPv6,
 * any: see later_fragment_proto()). */
static bool
same_reply_fragments(const struct host_snat *a, const struct host_snat *b)
{
    return (ipv6_addr_equals(&a->vip, &b->vip)
            && (!IN6_IS_ADDR_V4MAPPED(&a->vip)
                || !a->proto || !b->proto || a->proto == b->proto));
}

/* Says which SNAT ranges of 'view' take the later fragments of replies to
 * their VM's connections.  The first fragment meets the range by its port,
 * the later ones only by VIP and protocol, and, if the VM has a MAC, by
 * that MAC, which the mux sets to say whose port it was: a range takes
 * them if its VM has a MAC, or if no other local range could.  (Both
 * kinds of fragment meet conntrack in the VM's zone in the same pass, so
 * it reassembles them together.) */
static void
settle_reply_fragments(struct host_view *view)
{
    for (size_t i = 0; i < view->n_snats; i++) {
        struct host_snat *sn = &view->snats[i];
        bool alone = true;
        for (size_t j = 0; j < view->n_snats && alone; j++) {
            alone = j == i || !same_reply_fragments(sn, &view->snats[j]);
        }
        sn->reply_fragments = (alone
                               || !eth_addr_is_zero(view->vms[sn->vm].mac));
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

/* Returns HOST_SNAT_TCP for TCP, HOST_SNAT_UDP for UDP. */
static uint8_t
snat_proto_bit(uint8_t proto)
{
    return proto == IPPROTO_TCP ? HOST_SNAT_TCP : HOST_SNAT_UDP;
}

/* Returns true if 'held', 'n' VIPs and protocols sorted by
 * compare_vip_protos(), has 'vip' with 'proto' (0, in either, for any). */
static bool
has_vip_proto(const struct vip_proto *held, size_t n,
              const struct in6_addr *vip, uint8_t proto)
{
    for (size_t i = first_of_vip(held, n, vip);
         i < n && ipv6_addr_equals(&held[i].vip, vip); i++) {
        if (!proto || !held[i].proto || held[i].proto == proto) {
            return true;
        }
    }
    return false;
}

/* Has the agent hold the fragments of each of the 'n_held' VIPs and
 * protocols in 'held' (as later_fragment_proto() gives them): every entry
 * of 'view' of one gives its fragments to the agent, and takes them back
 * by the port of their datagram's first fragment, as do the SNAT ranges
 * of the VIP and protocol, which may have replies among them.  Sorts
 * 'held'. */
static void
settle_held_fragments(struct host_view *view, struct vip_proto *held,
                      size_t n_held)
{
    qsort(held, n_held, sizeof *held, compare_vip_protos);
    for (size_t i = 0; i < view->n_lbs; i++) {
        struct host_lb *lb = &view->lbs[i];
        lb->fragments_held = has_vip_proto(
            held, n_held, &lb->vip, later_fragment_proto(&lb->vip, lb->proto));
        if (lb->fragments_held) {
            lb->fragments = lb->fragments_looked_up = false;
            lb->fragment_port = 0;
        }
    }
    for (size_t i = 0; i < view->n_snats; i++) {
        struct host_snat *sn = &view->snats[i];
        uint8_t protos[2];
        size_t n_protos = l4_protos(sn->proto, protos);
        sn->fragments_held = 0;
        for (size_t j = 0; j < n_protos; j++) {
            if (has_vip_proto(held, n_held, &sn->vip,
                              later_fragment_proto(&sn->vip, protos[j]))) {
                sn->fragments_held |= snat_proto_bit(protos[j]);
            }
        }
    }
}

/* Says how the load-balancing entries of 'view' take fragmented
 * datagrams.  Only the first fragment has the datagram's ports: the host
 * lets it through by its rule's port, but the later fragments only by VIP
 * and protocol (and MAC), all through one translation (that of the
 * fragment that completes the datagram in conntrack), whichever port
 * their datagram is for.  (For IPv6 the later fragments show no protocol:
 * see later_fragment_proto().)  So the datapath places the fragments of
 * the entries of a VIP and protocol (and MAC) by itself only if they agree
 * on their VM, on floating IP, and on the port that their datagrams go to
 * (kept, or the same one for all); then a datagram for another port loses
 * its first fragment, and the VM never sees the others reassembled.
 * Where the VM's own SNAT range of the VIP and protocol makes the later
 * fragments of replies to its connections look alike, the entries'
 * fragments are all looked up in conntrack first, which tells the two
 * apart (see build_lb_fragments_looked_up()); not those of entries that
 * look up or commit their first fragments otherwise (TCP reset, inbound
 * NAT).  Another local VM's replies come to its MAC: entries by MAC take
 * fragments beside its range, the others could not (their flows would
 * take its replies too).  Every other VIP and protocol has the agent
 * place its fragments, by their datagram's port (settle_held_fragments(),
 * build_lb_held()).  Call after the view has its SNAT ranges. */
void
host_view_settle_fragments(struct host_view *view)
{
    struct vip_proto *snats = xmalloc(2 * view->n_snats * sizeof *snats);
    size_t n_snats = 0;
    for (size_t i = 0; i < view->n_snats; i++) {
        const struct host_snat *sn = &view->snats[i];
        if (sn->proto != IPPROTO_UDP) {
            snats[n_snats++] = (struct vip_proto) { sn->vip, IPPROTO_TCP,
                                                    sn->vm };
        }
        if (sn->proto != IPPROTO_TCP) {
            snats[n_snats++] = (struct vip_proto) { sn->vip, IPPROTO_UDP,
                                                    sn->vm };
        }
    }
    qsort(snats, n_snats, sizeof *snats, compare_vip_protos);
    settle_reply_fragments(view);

    size_t n = view->n_lbs;
    struct fragment_group *groups = xmalloc(n * sizeof *groups);
    struct vip_proto *held = xmalloc(n * sizeof *held);
    size_t n_held = 0;
    for (size_t i = 0; i < n; i++) {
        const struct host_lb *lb = &view->lbs[i];
        groups[i] = (struct fragment_group) {
            .vip = lb->vip, .proto = later_fragment_proto(&lb->vip, lb->proto),
            .by_mac = lb->by_mac,
            .vm = lb->by_mac ? lb->vm : SIZE_MAX, .index = i,
        };
    }
    qsort(groups, n, sizeof *groups, compare_fragment_groups);
    for (size_t first = 0, end; first < n; first = end) {
        const struct host_lb *a = &view->lbs[groups[first].index];
        bool agree = true, own_flows = false, fallback = !a->by_mac;
        int snat = 0;
        for (end = first;
             end < n && !compare_fragment_groups(&groups[first], &groups[end]);
             end++) {
            const struct host_lb *b = &view->lbs[groups[end].index];
            agree = (agree && b->proto != 0
                     && b->vm == a->vm
                     && b->floating_ip == a->floating_ip
                     && translated_port(b) == translated_port(a));
            snat |= snat_owners(snats, n_snats, &b->vip, b->proto, b->vm);
            own_flows = own_flows || host_lb_takes_reset(b) || b->nat_rule;
            fallback = (fallback && !b->nat_rule
                        && !eth_addr_is_zero(view->vms[b->vm].mac));
        }
        /* Another VM's replies come by that VM's MAC: entries by MAC never
         * see them, the others would take them all. */
        bool own_snat = snat & SNAT_OF_VM;
        bool others_snat = snat & SNAT_OF_OTHERS && !a->by_mac;
        for (size_t i = first; i < end; i++) {
            struct host_lb *lb = &view->lbs[groups[i].index];
            lb->fragments = (agree && !others_snat
                             && !(own_snat && own_flows));
            lb->fragment_port = lb->fragments ? translated_port(a) : 0;
            lb->fragments_looked_up = lb->fragments && own_snat;
        }
        /* The agent places the fragments of the VIP and protocol if the
         * datapath cannot place a group's, but for a group of rules not
         * by MAC to VMs with MACs: the muxes send those rules' packets to
         * those MACs, where the rules' entries by MAC take them. */
        if (!a->fragments && !fallback) {
            held[n_held++] = (struct vip_proto) { a->vip,
                                                  groups[first].proto, 0 };
        }
    }
    settle_held_fragments(view, held, n_held);
    free(held);
    free(groups);
    free(snats);
}

/* The timeouts of one rule of protocol 'proto' (0: TCP and UDP) and idle
 * timeout 'timeout', for the zone of VM port 'zone'. */
static struct host_zone_timeouts
rule_zone_timeouts(int zone, uint8_t proto, uint32_t timeout)
{
    return (struct host_zone_timeouts) {
        .zone = zone,
        .tcp = proto != IPPROTO_UDP ? timeout : 0,
        .udp = proto != IPPROTO_TCP ? timeout : 0,
    };
}

static int
compare_zone_timeouts(const void *a_, const void *b_)
{
    const struct host_zone_timeouts *a = a_, *b = b_;
    return a->zone < b->zone ? -1 : a->zone > b->zone;
}

/* Stores in '*zonesp' the idle timeouts of the conntrack zones of the VMs
 * of 'v' that its rules reach, sorted by zone, and returns how many they
 * are.  The caller frees '*zonesp'.
 *
 * A zone has one timeout per protocol for all of its VM's connections, so
 * a VM of rules that disagree keeps each idle connection for the longest:
 * a connection is never forgotten before its rule's time. */
size_t
host_view_zone_timeouts(const struct host_view *v,
                        struct host_zone_timeouts **zonesp)
{
    size_t n_rules = v->n_lbs + v->n_snats;
    struct host_zone_timeouts *zones = xmalloc(MAX(n_rules, 1)
                                               * sizeof *zones);
    for (size_t i = 0; i < v->n_lbs; i++) {
        const struct host_lb *lb = &v->lbs[i];
        zones[i] = rule_zone_timeouts(v->vms[lb->vm].ofport, lb->proto,
                                      lb->idle_timeout);
    }
    for (size_t i = 0; i < v->n_snats; i++) {
        const struct host_snat *sn = &v->snats[i];
        zones[v->n_lbs + i] = rule_zone_timeouts(v->vms[sn->vm].ofport,
                                                 sn->proto, sn->idle_timeout);
    }
    qsort(zones, n_rules, sizeof *zones, compare_zone_timeouts);

    size_t n = 0;
    for (size_t i = 0; i < n_rules; i++) {
        if (n && zones[n - 1].zone == zones[i].zone) {
            zones[n - 1].tcp = MAX(zones[n - 1].tcp, zones[i].tcp);
            zones[n - 1].udp = MAX(zones[n - 1].udp, zones[i].udp);
        } else {
            zones[n++] = zones[i];
        }
    }
    *zonesp = zones;
    return n;
}

/* Constants of pipeline.h, as values. */

static struct eth_addr
vrouter_mac(void)
{
    static struct eth_addr mac;
    if (eth_addr_is_zero(mac)) {
        ovs_assert(eth_addr_from_string(SLB_VROUTER_MAC, &mac));
    }
    return mac;
}

/* The source of the probes of VMs of 'family'. */
static struct in6_addr
probe_source(int family)
{
    static struct in6_addr ip4, ip6;
    if (!ipv6_addr_is_set(&ip6)) {
        ovs_be32 ip;
        ovs_assert(ip_parse(SLB_PROBE_SOURCE, &ip));
        in6_addr_set_mapped_ipv4(&ip4, ip);
        ovs_assert(ipv6_parse(SLB_PROBE_SOURCE6, &ip6));
    }
    return family == AF_INET6 ? ip6 : ip4;
}

/* Matches. */

static void
m_reg(struct flow_builder *fb, int reg, uint32_t value)
{
    match_set_reg(&fb->match, reg, value);
}

static void
m_reg_masked(struct flow_builder *fb, int reg, uint32_t value, uint32_t mask)
{
    match_set_reg_masked(&fb->match, reg, value, mask);
}

static void
m_in_port(struct flow_builder *fb, int ofport)
{
    match_set_in_port(&fb->match, u16_to_ofp(ofport));
}

/* The family of overlay address 'ip': AF_INET if it is IPv4-mapped, else
 * AF_INET6. */
static int
family_of(const struct in6_addr *ip)
{
    return IN6_IS_ADDR_V4MAPPED(ip) ? AF_INET : AF_INET6;
}

/* The families that flows for both are built for, in turn. */
static const int families[] = { AF_INET, AF_INET6 };

/* IP of 'family' (AF_INET or AF_INET6) and protocol 'proto' (TCP, UDP,
 * ICMP or ICMPv6), or any protocol if 'proto' is 0.  (As in OpenFlow, a
 * match on a protocol implies Ethernet.) */
static void
m_ip(struct flow_builder *fb, int family, uint8_t proto)
{
    match_set_dl_type(&fb->match, htons(family == AF_INET6 ? ETH_TYPE_IPV6
                                        : ETH_TYPE_IP));
    if (proto) {
        match_set_nw_proto(&fb->match, proto);
    }
    match_set_default_packet_type(&fb->match);
}

/* ICMPv6, of 'type'. */
static void
m_icmp6(struct flow_builder *fb, uint8_t type)
{
    m_ip(fb, AF_INET6, IPPROTO_ICMPV6);
    match_set_icmp_type(&fb->match, type);
}

static void
m_arp(struct flow_builder *fb)
{
    match_set_dl_type(&fb->match, htons(ETH_TYPE_ARP));
    match_set_default_packet_type(&fb->match);
}

/* A prefix length of all the bits of an address's family. */
#define ALL_BITS 128

/* Source (if not 'dst') or destination address 'ip', of either family:
 * its first 'plen' bits, counted in that family's bits (at most
 * ALL_BITS), or any address of the family if 'plen' is 0.  The caller
 * matches the family. */
static void
m_addr(struct flow_builder *fb, bool dst, const struct in6_addr *ip,
       unsigned int plen)
{
    if (!plen) {
        return;                 /* Any address of the family. */
    }
    if (IN6_IS_ADDR_V4MAPPED(ip)) {
        ovs_be32 ip4 = in6_addr_get_mapped_ipv4(ip);
        ovs_be32 mask = be32_prefix_mask(MIN(plen, 32));
        if (dst) {
            match_set_nw_dst_masked(&fb->match, ip4, mask);
        } else {
            match_set_nw_src_masked(&fb->match, ip4, mask);
        }
    } else {
        struct in6_addr mask = ipv6_create_mask(MIN(plen, 128));
        if (dst) {
            match_set_ipv6_dst_masked(&fb->match, ip, &mask);
        } else {
            match_set_ipv6_src_masked(&fb->match, ip, &mask);
        }
    }
}

/* IP of the family of 'ip', from 'ip' (all of it), of protocol 'proto'
 * (0 for any). */
static void
m_from(struct flow_builder *fb, const struct in6_addr *ip, uint8_t proto)
{
    m_ip(fb, family_of(ip), proto);
    m_addr(fb, false, ip, ALL_BITS);
}

/* IP of the family of 'ip', to 'ip' (all of it), of protocol 'proto' (0
 * for any). */
static void
m_to(struct flow_builder *fb, const struct in6_addr *ip, uint8_t proto)
{
    m_ip(fb, family_of(ip), proto);
    m_addr(fb, true, ip, ALL_BITS);
}

/* A fragment of a datagram but its first. */
static void
m_later_fragment(struct flow_builder *fb)
{
    match_set_nw_frag_masked(&fb->match, FLOW_NW_FRAG_LATER,
                             FLOW_NW_FRAG_LATER);
}

/* Connection tracking states that must all be set. */
static void
m_ct_state(struct flow_builder *fb, uint32_t states)
{
    match_set_ct_state_masked(&fb->match, states, states);
}

/* Stores in register 'reg' a number below 'n_ways', a hash of the
 * connection's addresses, protocol and ports, by 'algorithm' (an enum
 * nx_mp_algorithm). */
static void
a_multipath(struct ofpbuf *ofpacts, int reg, int algorithm,
            unsigned int n_ways)
{
    struct ofpact_multipath *mp = ofpact_put_MULTIPATH(ofpacts);
    mp->fields = NX_HASH_FIELDS_SYMMETRIC_L3L4_UDP;
    mp->basis = 0;
    mp->algorithm = algorithm;
    mp->max_link = n_ways - 1;
    mp->arg = 0;
    mp->dst.field = mf_from_id(MFF_REG0 + reg);
    mp->dst.ofs = 0;
    mp->dst.n_bits = 16;
}

/* Stores in SLB_REG_SNAT_WAY a number below 'n_ways', a hash of the
 * connection. */
static void
a_pick_way(struct flow_builder *fb, unsigned int n_ways)
{
    a_multipath(&fb->ofpacts, SLB_REG_SNAT_WAY, NX_MP_ALG_MODULO_N, n_ways);
}

/* A TCP segment that is neither a SYN nor a reset. */
static void
m_not_syn_rst(struct flow_builder *fb)
{
    match_set_tcp_flags_masked(&fb->match, 0, htons(TCP_SYN | TCP_RST));
}

/* Marks that must all be set. */
static void
m_ct_mark(struct flow_builder *fb, uint32_t marks)
{
    match_set_ct_mark_masked(&fb->match, marks, marks);
}

/* Actions. */

static void
a_goto(struct flow_builder *fb, int table)
{
    ofpact_put_GOTO_TABLE(&fb->ofpacts)->table_id = table;
}

static void
a_set_field(struct ofpbuf *ofpacts, enum mf_field_id id, const void *value,
            const void *mask)
{
    ofpact_put_set_field(ofpacts, mf_from_id(id), value, mask);
}

static void
a_set_reg(struct flow_builder *fb, int reg, uint32_t value)
{
    ovs_be32 v = htonl(value);
    a_set_field(&fb->ofpacts, MFF_REG0 + reg, &v, NULL);
}

/* Sets the bits 'bits' of register 'reg', leaving the others. */
static void
a_set_reg_bits(struct flow_builder *fb, int reg, uint32_t bits)
{
    ovs_be32 v = htonl(bits);
    a_set_field(&fb->ofpacts, MFF_REG0 + reg, &v, &v);
}

/* Sends the packet to the agent, with userdata 'reason' (SLB_PIN_*),
 * through meter SLB_PIN_METER, and nowhere else; if 'pause', paused, to go
 * on with the flow's next actions once the agent resumes it. */
static void
a_controller__(struct flow_builder *fb, uint32_t reason, bool pause)
{
    struct ofpact_controller *oc = ofpact_put_CONTROLLER(&fb->ofpacts);
    oc->max_len = UINT16_MAX;
    oc->reason = OFPR_ACTION;
    oc->meter_id = SLB_PIN_METER;
    oc->pause = pause;
    ovs_be32 userdata = htonl(reason);
    ofpbuf_put(&fb->ofpacts, &userdata, sizeof userdata);
    oc = fb->ofpacts.header;
    oc->userdata_len = sizeof userdata;
    ofpact_finish_CONTROLLER(&fb->ofpacts, &oc);
}

static void
a_controller(struct flow_builder *fb, uint32_t reason)
{
    a_controller__(fb, reason, false);
}

/* Gives a fragment to the agent, which holds it until its datagram's first
 * fragment shows the port, and then resumes it, with the protocol and
 * port in SLB_REG_FRAG_PORT, in table 'table'. */
static void
a_hold_fragment(struct flow_builder *fb, int table)
{
    a_controller__(fb, SLB_PIN_FRAGMENT, true);
    struct ofpact_resubmit *resubmit = ofpact_put_RESUBMIT(&fb->ofpacts);
    resubmit->in_port = OFPP_IN_PORT;
    resubmit->table_id = table;
}

static void
a_set_eth(struct flow_builder *fb, enum mf_field_id id, struct eth_addr mac)
{
    a_set_field(&fb->ofpacts, id, &mac, NULL);
}

static void
a_set_ip(struct flow_builder *fb, enum mf_field_id id, ovs_be32 ip)
{
    a_set_field(&fb->ofpacts, id, &ip, NULL);
}

/* Sets the packet's source (if not 'dst') or destination address to 'ip',
 * of the packet's family. */
static void
a_set_addr(struct flow_builder *fb, bool dst, const struct in6_addr *ip)
{
    if (IN6_IS_ADDR_V4MAPPED(ip)) {
        a_set_ip(fb, dst ? MFF_IPV4_DST : MFF_IPV4_SRC,
                 in6_addr_get_mapped_ipv4(ip));
    } else {
        a_set_field(&fb->ofpacts, dst ? MFF_IPV6_DST : MFF_IPV6_SRC, ip,
                    NULL);
    }
}

static void
a_output(struct flow_builder *fb, ofp_port_t port)
{
    ofpact_put_OUTPUT(&fb->ofpacts)->port = port;
}

static struct mf_subfield
whole_field(enum mf_field_id id)
{
    const struct mf_field *field = mf_from_id(id);
    return (struct mf_subfield) { field, 0, field->n_bits };
}

/* A NAT of conntrack: reversing the translations of established
 * connections for 'flags' 0, else translating NX_NAT_F_DST or _SRC to
 * 'ip' (of either family) and ports 'port_min'...'port_max' (0: keep the
 * port; 'port_max' 0 for one port). */
struct ct_nat {
    uint16_t flags;
    struct in6_addr ip;
    uint16_t port_min, port_max;
};

/* A conntrack action in 'zone' (or ZONE_FROM_REG), which commits the
 * connection if 'commit' and then sets 'marks' in its ct_mark, applies
 * 'nat' if nonnull, and continues the packet in 'table' (or nowhere, if
 * -1). */
static void
a_ct(struct flow_builder *fb, bool commit, int zone, const struct ct_nat *nat,
     uint32_t marks, int table)
{
    struct ofpbuf *ofpacts = &fb->ofpacts;
    size_t ct_offset = ofpacts->size;
    struct ofpact_conntrack *ct = ofpact_put_CT(ofpacts);
    ct->flags = commit ? NX_CT_F_COMMIT : 0;
    if (zone == ZONE_FROM_REG) {
        ct->zone_src = (struct mf_subfield) {
            mf_from_id(MFF_REG0 + SLB_REG_VM_PORT), 0, 16
        };
    } else {
        ct->zone_imm = zone;
    }
    ct->recirc_table = table < 0 ? NX_CT_RECIRC_NONE : table;

    if (nat) {
        struct ofpact_nat *on = ofpact_put_NAT(ofpacts);
        on->flags = nat->flags;
        if (nat->flags) {
            if (IN6_IS_ADDR_V4MAPPED(&nat->ip)) {
                on->range_af = AF_INET;
                on->range.addr.ipv4.min = in6_addr_get_mapped_ipv4(&nat->ip);
            } else {
                on->range_af = AF_INET6;
                on->range.addr.ipv6.min = nat->ip;
            }
            on->range.proto.min = nat->port_min;
            on->range.proto.max = nat->port_max;
        }
    }
    if (marks) {
        ovs_be32 value = htonl(marks);
        a_set_field(ofpacts, MFF_CT_MARK, &value, &value);
    }

    ct = ofpbuf_at_assert(ofpacts, ct_offset, sizeof *ct);
    ofpacts->header = ct;
    ofpact_finish_CT(ofpacts, &ct);
}

/* Runs the packet through conntrack in the zone of local VM 'vm', which
 * translates it as its connection is and commits nothing, on to table
 * 'table', with the VM port register set to the VM's. */
static void
a_vm_lookup(struct flow_builder *fb, const struct host_vm *vm, int table)
{
    static const struct ct_nat reverse = { .flags = 0 };
    a_set_reg(fb, SLB_REG_VM_PORT, vm->ofport);
    a_ct(fb, false, vm->ofport, &reverse, 0, table);
}

/* Packets of a VM's new connection to a VM of its network: committed in
 * the VM's zone, marked as allowed by its ACLs. */
static void
a_commit_allowed(struct flow_builder *fb)
{
    a_ct(fb, true, ZONE_FROM_REG, NULL, SLB_CT_ALLOWED, -1);
}

/* Stores in 'blocks' the aligned blocks of ports that, together, make up
 * 'min'...'max', and returns how many: at most HOST_FLOWS_MAX_PORT_BLOCKS,
 * fewer the more aligned the range is. */
size_t
host_flows_port_blocks(uint16_t min, uint16_t max,
                       struct host_port_block *blocks)
{
    size_t n = 0;
    uint32_t port = min;
    while (port <= max) {
        /* The largest block that starts at 'port' and ends by 'max'. */
        uint32_t size = port ? port & -port : 1u << 16;
        while (port + size - 1 > max) {
            size /= 2;
        }
        ovs_assert(n < HOST_FLOWS_MAX_PORT_BLOCKS);
        blocks[n++] = (struct host_port_block) {
            .value = port, .mask = 0xffff & ~(size - 1),
        };
        port += size;
    }
    return n;
}

/* Adds to 'flows' the flow that answers ARP requests from port 'ofport'
 * as the virtual router: the request becomes its own reply, from the
 * router's MAC, whatever address it asks for. */
static void
add_arp_responder(struct host_flows *flows, uint64_t cookie, int ofport)
{
    struct flow_builder fb;
    fb_init(&fb);
    m_in_port(&fb, ofport);
    m_arp(&fb);
    match_set_nw_proto(&fb.match, ARP_OP_REQUEST);

    struct ofpbuf *ofpacts = &fb.ofpacts;
    struct ofpact_reg_move *move = ofpact_put_REG_MOVE(ofpacts);
    move->src = whole_field(MFF_ETH_SRC);
    move->dst = whole_field(MFF_ETH_DST);
    a_set_eth(&fb, MFF_ETH_SRC, vrouter_mac());
    ovs_be16 reply = htons(ARP_OP_REPLY);
    a_set_field(ofpacts, MFF_ARP_OP, &reply, NULL);
    move = ofpact_put_REG_MOVE(ofpacts);
    move->src = whole_field(MFF_ARP_SHA);
    move->dst = whole_field(MFF_ARP_THA);
    a_set_eth(&fb, MFF_ARP_SHA, vrouter_mac());
    ofpact_put_STACK_PUSH(ofpacts)->subfield = whole_field(MFF_ARP_TPA);
    move = ofpact_put_REG_MOVE(ofpacts);
    move->src = whole_field(MFF_ARP_SPA);
    move->dst = whole_field(MFF_ARP_TPA);
    ofpact_put_STACK_POP(ofpacts)->subfield = whole_field(MFF_ARP_SPA);
    a_output(&fb, OFPP_IN_PORT);
    add(flows, cookie, SLB_TABLE_CLASSIFY, 110, &fb);
}

/* Adds to 'flows' the flow that answers neighbour solicitations from port
 * 'ofport' as the virtual router, the way add_arp_responder() answers ARP:
 * the solicitation becomes its own advertisement, from the address that
 * it asks for and the router's MAC, back to its sender.  Its source
 * link-layer address option becomes the target's; slb_nd_answer fills in
 * the router's MAC, once the packet is an advertisement, which OpenFlow
 * requires of a match on that option.  (Solicitations from the
 * unspecified address, duplicate address detection, get no answer: see
 * build_classify().) */
static void
add_nd_responder(struct host_flows *flows, uint64_t cookie, int ofport)
{
    struct flow_builder fb;
    fb_init(&fb);
    m_in_port(&fb, ofport);
    m_icmp6(&fb, ND_NEIGHBOR_SOLICIT);
    match_set_icmp_code(&fb.match, 0);

    struct ofpbuf *ofpacts = &fb.ofpacts;
    struct ofpact_reg_move *move = ofpact_put_REG_MOVE(ofpacts);
    move->src = whole_field(MFF_ETH_SRC);
    move->dst = whole_field(MFF_ETH_DST);
    a_set_eth(&fb, MFF_ETH_SRC, vrouter_mac());
    move = ofpact_put_REG_MOVE(ofpacts);
    move->src = whole_field(MFF_IPV6_SRC);
    move->dst = whole_field(MFF_IPV6_DST);
    move = ofpact_put_REG_MOVE(ofpacts);
    move->src = whole_field(MFF_ND_TARGET);
    move->dst = whole_field(MFF_IPV6_SRC);
    uint8_t type = ND_NEIGHBOR_ADVERT;
    a_set_field(ofpacts, MFF_ICMPV6_TYPE, &type, NULL);
    /* Router, solicited, override. */
    ovs_be32 flags = htonl(ND_RSO_ROUTER | ND_RSO_SOLICITED
                           | ND_RSO_OVERRIDE);
    a_set_field(ofpacts, MFF_ND_RESERVED, &flags, NULL);
    uint8_t option = ND_OPT_TARGET_LINKADDR;
    a_set_field(ofpacts, MFF_ND_OPTIONS_TYPE, &option, NULL);
    struct ofpact_resubmit *resubmit = ofpact_put_RESUBMIT(ofpacts);
    resubmit->in_port = OFPP_IN_PORT;
    resubmit->table_id = SLB_TABLE_ND_ANSWER;
    add(flows, cookie, SLB_TABLE_CLASSIFY, 110, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

/* Adds to 'ofpacts' the actions that swap fields 'a' and 'b', of the same
 * width, through the stack. */
static void
a_swap(struct ofpbuf *ofpacts, enum mf_field_id a, enum mf_field_id b)
{
    ofpact_put_STACK_PUSH(ofpacts)->subfield = whole_field(a);
    ofpact_put_STACK_PUSH(ofpacts)->subfield = whole_field(b);
    ofpact_put_STACK_POP(ofpacts)->subfield = whole_field(a);
    ofpact_put_STACK_POP(ofpacts)->subfield = whole_field(b);
}

/* Adds the flow that answers the muxes' data-path probes of 'vip' (see
 * SLB_PATH_PROBE_SOURCE in pipeline.h) for a local backend of it in
 * network 'vni': the echo request becomes its reply, from the VIP to the
 * probe source, and goes back through the tunnel that it came by, from
 * this host's PA to the mux's, with the same VNI.  (Above the rules' own
 * flows, and before conntrack: an HA-ports rule would take it.  The
 * datapath mends the ICMP checksum for the new type; swapping the
 * addresses leaves an ICMPv6 checksum's pseudo-header sum as it was.) */
static void
add_path_probe_answer(struct host_flows *flows, uint64_t cookie,
                      const struct host_view *v, uint32_t vni,
                      const struct in6_addr *vip)
{
    static const struct in6_addr source6 = SLB_PATH_PROBE_SOURCE6_INIT;
    bool ipv4 = family_of(vip) == AF_INET;
    struct flow_builder fb;
    fb_init(&fb);
    m_reg(&fb, SLB_REG_VNI, vni);
    if (ipv4) {
        m_ip(&fb, AF_INET, IPPROTO_ICMP);
        match_set_icmp_type(&fb.match, ICMP4_ECHO_REQUEST);
        match_set_nw_src(&fb.match, htonl(SLB_PATH_PROBE_SOURCE));
    } else {
        m_icmp6(&fb, ICMP6_ECHO_REQUEST);
        match_set_ipv6_src(&fb.match, &source6);
    }
    m_addr(&fb, true, vip, ALL_BITS);

    struct ofpbuf *ofpacts = &fb.ofpacts;
    a_swap(ofpacts, MFF_ETH_SRC, MFF_ETH_DST);
    if (ipv4) {
        a_swap(ofpacts, MFF_IPV4_SRC, MFF_IPV4_DST);
        uint8_t reply = ICMP4_ECHO_REPLY;
        a_set_field(ofpacts, MFF_ICMPV4_TYPE, &reply, NULL);
    } else {
        a_swap(ofpacts, MFF_IPV6_SRC, MFF_IPV6_DST);
        uint8_t reply = ICMP6_ECHO_REPLY;
        a_set_field(ofpacts, MFF_ICMPV6_TYPE, &reply, NULL);
    }
    struct ofpact_reg_move *move = ofpact_put_REG_MOVE(ofpacts);
    move->src = whole_field(MFF_TUN_SRC);
    move->dst = whole_field(MFF_TUN_DST);
    a_set_ip(&fb, MFF_TUN_SRC, v->pa);
    a_output(&fb, OFPP_IN_PORT);
    add(flows, cookie, SLB_TABLE_LB_IN, 120, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

/* Which items of a view a build takes: all of them, or one. */
struct item_sel {
    bool all;
    enum host_item_kind kind;
    size_t index;
};

static size_t
sel_begin(const struct item_sel *sel, enum host_item_kind kind, size_t n)
{
    return sel->all ? 0 : sel->kind == kind ? sel->index : n;
}

static size_t
sel_end(const struct item_sel *sel, enum host_item_kind kind, size_t n)
{
    return sel->all ? n : sel->kind == kind ? sel->index + 1 : 0;
}

/* For each index I of the items of KIND, out of N, that SEL takes. */
#define FOR_EACH_ITEM(I, SEL, KIND, N)                                  \
    for (size_t I = sel_begin(SEL, KIND, N); I < sel_end(SEL, KIND, N); \
         I++)

/* Whether 'sel' takes the host's own flows, those of no other item. */
static bool
sel_host(const struct item_sel *sel)
{
    return sel->all || sel->kind == HOST_ITEM_HOST;
}

/* The classification layer.
 *
 * Tunnel packets are accepted only from the PA of a peer to this host's
 * PA, with the VNI of a virtual network that the peer may send (any, for a
 * mux; for another host, those of its VMs), which goes into the VNI
 * register, and on the port for candidate copies only from a mux; other
 * tunnel packets are dropped by a flow of their own, whose counters say
 * how many.  Packets of VM ports
 * carry the VM's VNI and port into the registers.  The host answers its
 * VMs' ARP requests, or their IPv6 neighbour solicitations, for any
 * address but their own with the virtual router's MAC (in slb_nd_answer
 * the advertisement's last field).  Link-scope IPv6 multicast of the VMs
 * (router solicitations, MLD reports, their unsolicited advertisements)
 * has no one to reach in a virtual network: it is dropped, without a
 * word, as are solicitations for duplicate address detection, which must
 * get no answer. */
static void
build_classify(const struct host_view *v, const struct item_sel *sel,
               struct host_flows *flows)
{
    bool host = sel_host(sel);
    struct flow_builder fb;
    fb_init(&fb);
    FOR_EACH_ITEM (i, sel, HOST_ITEM_PEER, v->n_peers) {
        const struct host_peer *p = &v->peers[i];
        for (size_t j = 0; j < v->n_vnets; j++) {
            uint32_t vni = v->vnets[j].vni;
            if (!p->any_vni && !bsearch(&vni, p->vnis, p->n_vnis,
                                        sizeof *p->vnis, compare_u32)) {
                continue;
            }
            /* A mux's candidate copies come to their own port. */
            for (int candidate = 0; candidate <= p->any_vni; candidate++) {
                m_in_port(&fb, (candidate ? v->candidate_ofport
                                : v->tunnel_ofport));
                match_set_tun_src(&fb.match, p->pa);
                match_set_tun_dst(&fb.match, v->pa);
                match_set_tun_id(&fb.match, htonll(vni));
                a_set_reg(&fb, SLB_REG_VNI, vni);
                a_goto(&fb, (candidate ? SLB_TABLE_LB_CANDIDATE
                             : SLB_TABLE_LB_IN));
                add(flows, p->cookie, SLB_TABLE_CLASSIFY, 100, &fb);
            }
        }
    }
    if (host) {
        m_in_port(&fb, v->tunnel_ofport);
        add(flows, v->cookie, SLB_TABLE_CLASSIFY, 50, &fb);
        m_in_port(&fb, v->candidate_ofport);
        add(flows, v->cookie, SLB_TABLE_CLASSIFY, 50, &fb);
    }

    FOR_EACH_ITEM (i, sel, HOST_ITEM_VM, v->n_vms) {
        const struct host_vm *vm = &v->vms[i];
        m_in_port(&fb, vm->ofport);
        a_set_reg(&fb, SLB_REG_VNI, vm->vni);
        a_set_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
        a_set_reg(&fb, SLB_REG_FLAGS, SLB_FLAG_FROM_VM);
        a_goto(&fb, SLB_TABLE_PORT_SECURITY);
        add(flows, vm->cookie, SLB_TABLE_CLASSIFY, 100, &fb);

        if (family_of(&vm->ca) == AF_INET) {
            /* ARP: the request becomes its own reply, from the virtual
             * router.  Requests for the VM's own address (duplicate
             * address detection, gratuitous ARP) get no answer. */
            m_in_port(&fb, vm->ofport);
            m_arp(&fb);
            match_set_nw_dst(&fb.match, in6_addr_get_mapped_ipv4(&vm->ca));
            add(flows, vm->cookie, SLB_TABLE_CLASSIFY, 120, &fb);
            add_arp_responder(flows, vm->cookie, vm->ofport);
        } else {
            /* Solicitations and advertisements of the VM's own address
             * get no answer, and go nowhere. */
            static const uint8_t types[] = { ND_NEIGHBOR_SOLICIT,
                                             ND_NEIGHBOR_ADVERT };
            for (size_t j = 0; j < ARRAY_SIZE(types); j++) {
                m_in_port(&fb, vm->ofport);
                m_icmp6(&fb, types[j]);
                match_set_icmp_code(&fb.match, 0);
                match_set_nd_target(&fb.match, &vm->ca);
                add(flows, vm->cookie, SLB_TABLE_CLASSIFY, 120, &fb);
            }
            add_nd_responder(flows, vm->cookie, vm->ofport);
        }
    }
    if (host) {
        m_icmp6(&fb, ND_NEIGHBOR_SOLICIT);
        match_set_ipv6_src(&fb.match, &in6addr_any);
        add(flows, v->cookie, SLB_TABLE_CLASSIFY, 120, &fb);

        static const struct in6_addr link_scope = {
            .s6_addr = { 0xff, 0x02 },                  /* ff02::/16 */
        };
        struct in6_addr mask = ipv6_create_mask(16);
        m_ip(&fb, AF_INET6, 0);
        match_set_ipv6_dst_masked(&fb.match, &link_scope, &mask);
        add(flows, v->cookie, SLB_TABLE_CLASSIFY, 105, &fb);

        add(flows, v->cookie, SLB_TABLE_CLASSIFY, 0, &fb);

        /* The advertisement of add_nd_responder(), the router's MAC in its
         * target link-layer address option. */
        m_icmp6(&fb, ND_NEIGHBOR_ADVERT);
        match_set_icmp_code(&fb.match, 0);
        a_set_eth(&fb, MFF_ND_TLL, vrouter_mac());
        a_output(&fb, OFPP_IN_PORT);
        add(flows, v->cookie, SLB_TABLE_ND_ANSWER, 100, &fb);
        add(flows, v->cookie, SLB_TABLE_ND_ANSWER, 0, &fb);
    }
    ofpbuf_uninit(&fb.ofpacts);
}

/* Adds the flow that lets packets of 'vm' from address 'ip' through port
 * security. */
static void
add_port_security(struct host_flows *flows, uint64_t cookie,
                  const struct host_vm *vm, const struct in6_addr *ip)
{
    struct flow_builder fb;
    fb_init(&fb);
    m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
    if (!eth_addr_is_zero(vm->mac)) {
        match_set_dl_src(&fb.match, vm->mac);
    }
    m_from(&fb, ip, 0);
    a_goto(&fb, SLB_TABLE_LB_OUT);
    add(flows, cookie, SLB_TABLE_PORT_SECURITY, 100, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

/* Port security.
 *
 * A VM sends IP of its CA's family from its CA, or from a VIP that it owns
 * by a floating-IP rule (with the VIP on one of its interfaces, it answers
 * from it), and, if the database knows its MAC, from that MAC.  Everything
 * else from it (other addresses, the other family, ARP but the requests
 * that the classification layer answers) meets a drop flow of the VM's
 * own, whose counters say how much.  Neighbour discovery that the
 * classification layer left (advertisements for others' addresses,
 * redirects) goes no further either: a flow of the host drops it.  (A VIP
 * that a VM owns by several rules gets a flow from each: the same flow, of
 * which the bridge gets the one of the lowest cookie.) */
static void
build_port_security(const struct host_view *v, const struct item_sel *sel,
                    struct host_flows *flows)
{
    struct flow_builder fb;
    fb_init(&fb);
    FOR_EACH_ITEM (i, sel, HOST_ITEM_VM, v->n_vms) {
        const struct host_vm *vm = &v->vms[i];
        add_port_security(flows, vm->cookie, vm, &vm->ca);
        m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
        add(flows, vm->cookie, SLB_TABLE_PORT_SECURITY,
            HOST_FLOWS_PORT_SECURITY_DROP, &fb);
    }
    FOR_EACH_ITEM (i, sel, HOST_ITEM_LB, v->n_lbs) {
        const struct host_lb *lb = &v->lbs[i];
        if (lb->floating_ip) {
            add_port_security(flows, lb->cookie, &v->vms[lb->vm], &lb->vip);
        }
    }
    if (sel_host(sel)) {
        for (uint8_t type = ND_ROUTER_SOLICIT; type <= ND_REDIRECT; type++) {
            m_icmp6(&fb, type);
            add(flows, v->cookie, SLB_TABLE_PORT_SECURITY, 110, &fb);
        }
        add(flows, v->cookie, SLB_TABLE_PORT_SECURITY, 0, &fb);
    }
    ofpbuf_uninit(&fb.ofpacts);
}

/* Adds to 'flows' the flows that take to local VM 'vm' the ICMP errors
 * about its connections ("fragmentation needed" about a reply that it sent
 * by Direct Server Return, say) that a mux brings for a VIP, or that come
 * for its CA: conntrack in the VM's zone finds the connection that the
 * error quotes, in its reply direction, and translates the error with it
 * (a VIP becomes the VM's CA, outside and in the quote); only related
 * packets go on (table SNAT_RETURN), and through the VM's ACLs as their
 * connection did.  A mux sends them with the VM's MAC as inner
 * destination, which tells the VMs of a VIP apart: with a MAC, two flows
 * per VM do for all its VIPs ('vip' NULL); without one, each VIP of the VM
 * needs its own.  (ICMPv6 errors, "packet too big" among them, for a VM
 * of IPv6.)  (Above the rules' flows: an HA-ports rule would take an
 * error for a new connection of its own.) */
static void
add_icmp_errors(struct host_flows *flows, uint64_t cookie,
                const struct host_vm *vm, const struct in6_addr *vip)
{
    static const uint8_t types4[] = { ICMP4_DST_UNREACH,
                                      ICMP4_TIME_EXCEEDED };
    static const uint8_t types6[] = { ICMP6_DST_UNREACH, ICMP6_PACKET_TOO_BIG,
                                      ICMP6_TIME_EXCEEDED };
    bool ipv6 = family_of(&vm->ca) == AF_INET6;
    const uint8_t *types = ipv6 ? types6 : types4;
    size_t n_types = ipv6 ? ARRAY_SIZE(types6) : ARRAY_SIZE(types4);
    struct flow_builder fb;
    fb_init(&fb);
    for (size_t i = 0; i < n_types; i++) {
        m_reg(&fb, SLB_REG_VNI, vm->vni);
        if (!eth_addr_is_zero(vm->mac)) {
            match_set_dl_dst(&fb.match, vm->mac);
        }
        m_ip(&fb, family_of(&vm->ca), ipv6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
        match_set_icmp_type(&fb.match, types[i]);
        if (vip) {
            m_addr(&fb, true, vip, ALL_BITS);
        }
        a_vm_lookup(&fb, vm, SLB_TABLE_SNAT_RETURN);
        add(flows, cookie, SLB_TABLE_LB_IN, 105, &fb);
    }
    ofpbuf_uninit(&fb.ofpacts);
}

/* The load-balancing layer.
 *
 * Inbound, a packet that a mux sent for (VIP, protocol, port) of a rule with a
 * local backend is committed to conntrack in the zone of the backend's VM,
 * marked as load balanced, with its destination translated to the
 * backend's CA and port (not for floating IP, where the VM owns the VIP).
 * Inbound NAT rules do the same for their one backend.  A packet for a
 * VIP and a port of a local VM's SNAT range is a reply of the VM's
 * outbound connection: conntrack reverses the SNAT.  ICMP errors about
 * either kind of connection reach the VM as related packets.  Other packets for a
 * local VM's CA come from its virtual network.  Outbound, conntrack in the
 * VM's zone reverses the translations of its connections. */
/* Whether entry 'lb' resets the TCP connections that its VM's conntrack
 * forgets: a load-balancing rule of TCP, or of HA ports, with TCP
 * reset. */
bool
host_lb_takes_reset(const struct host_lb *lb)
{
    return (lb->tcp_reset && !lb->nat_rule
            && (!lb->proto || lb->proto == IPPROTO_TCP));
}

/* The packets that entry 'lb', to local VM 'vm', takes from the muxes:
 * its later fragments if 'later', else its others. */
static void
m_lb(struct flow_builder *fb, const struct host_lb *lb,
     const struct host_vm *vm, bool later)
{
    m_reg(fb, SLB_REG_VNI, vm->vni);
    if (lb->by_mac) {
        match_set_dl_dst(&fb->match, vm->mac);
    }
    m_to(fb, &lb->vip, (later ? later_fragment_proto(&lb->vip, lb->proto)
                        : lb->proto));
    if (later) {
        m_later_fragment(fb);
    } else if (lb->proto) {
        match_set_tp_dst(&fb->match, htons(lb->port));
    }
}

/* The protocol that every fragment of entry 'lb''s datagrams shows, the
 * first and the later ones: the entry's, but none (0) for IPv6, whose
 * later fragments show none (later_fragment_proto()). */
static uint8_t
fragments_proto(const struct host_lb *lb)
{
    return (later_fragment_proto(&lb->vip, lb->proto) == IPPROTO_FRAGMENT
            ? 0 : lb->proto);
}

/* A fragment to entry 'lb''s VIP: a later one if 'later', of the protocol
 * that later fragments show, else a first one of protocol 'first_proto'
 * (0 for any). */
static void
m_lb_fragment(struct flow_builder *fb, const struct host_lb *lb, bool later,
              uint8_t first_proto)
{
    m_to(fb, &lb->vip, (later ? later_fragment_proto(&lb->vip, lb->proto)
                        : first_proto));
    if (later) {
        m_later_fragment(fb);
    } else {
        match_set_nw_frag_masked(&fb->match, FLOW_NW_FRAG_ANY,
                                 FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER);
    }
}

/* The actions of entry 'lb''s packets to local VM 'vm': committed in the
 * VM's zone, marked as load balanced, translated by 'dnat' unless the VM
 * owns the VIP, on to the ACLs. */
static void
a_commit_lb(struct flow_builder *fb, const struct host_lb *lb,
            const struct host_vm *vm, const struct ct_nat *dnat)
{
    a_set_reg(fb, SLB_REG_VM_PORT, vm->ofport);
    a_ct(fb, true, vm->ofport, lb->floating_ip ? NULL : dnat, SLB_CT_LB,
         SLB_TABLE_ACL_TO_VM);
}

/* The host's flows of rules with TCP reset.
 *
 * Such a rule's packets from the muxes, but fragments, are looked up in
 * their VM's conntrack before anything is committed, and come here.  A
 * packet of a connection that a mux brought in goes on to the ACLs as it
 * is (translated by the lookup).  A TCP segment that is neither a SYN nor
 * a reset, of a connection that the VM's conntrack does not know (it
 * idled out, or the switch restarted), goes to the agent, which resets
 * both ends, instead of reaching the VM as a connection taken up midway.
 * Everything else goes back to the rule's flows, which commit it as
 * every rule's packets are.
 *
 * From the VM, its segments of such connections meet its rule's flow in
 * SLB_TABLE_LB_RESET_OUT; everything else goes on to the ACLs. */
static void
build_lb_reset(const struct host_view *v, struct host_flows *flows)
{
    struct flow_builder fb;
    fb_init(&fb);
    match_set_ct_state_masked(&fb.match, CS_TRACKED | CS_ESTABLISHED,
                              CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR
                              | CS_INVALID);
    m_ct_mark(&fb, SLB_CT_LB);
    a_goto(&fb, SLB_TABLE_ACL_TO_VM);
    add(flows, v->cookie, SLB_TABLE_LB_RESET_IN, 100, &fb);
    for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
        m_ct_state(&fb, CS_TRACKED | CS_NEW);
        m_ip(&fb, families[f], IPPROTO_TCP);
        m_not_syn_rst(&fb);
        a_controller(&fb, SLB_PIN_TCP_RESET);
        add(flows, v->cookie, SLB_TABLE_LB_RESET_IN, 100, &fb);
    }
    struct ofpact_resubmit *resubmit = ofpact_put_RESUBMIT(&fb.ofpacts);
    resubmit->in_port = OFPP_IN_PORT;
    resubmit->table_id = SLB_TABLE_LB_IN;
    add(flows, v->cookie, SLB_TABLE_LB_RESET_IN, 0, &fb);

    a_goto(&fb, SLB_TABLE_ACL_FROM_VM);
    add(flows, v->cookie, SLB_TABLE_LB_RESET_OUT, 0, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

/* The host's flows of fragmented datagrams looked up before they are
 * committed (see build_lb_fragments_looked_up()): a reply to a SNAT port
 * goes on as such replies do, a datagram of a connection that a rule
 * began goes on to the ACLs, and whatever else no flow of a rule's takes
 * is dropped; and of those that the agent held (build_lb_held()), those
 * of a port that no entry or SNAT range takes are dropped. */
static void
build_lb_frag(const struct host_view *v, struct host_flows *flows)
{
    struct flow_builder fb;
    fb_init(&fb);
    match_set_ct_state_masked(&fb.match, CS_TRACKED | CS_ESTABLISHED
                              | CS_REPLY_DIR,
                              CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR);
    struct ofpact_resubmit *resubmit = ofpact_put_RESUBMIT(&fb.ofpacts);
    resubmit->in_port = OFPP_IN_PORT;
    resubmit->table_id = SLB_TABLE_SNAT_RETURN;   /* An earlier table. */
    add(flows, v->cookie, SLB_TABLE_LB_FRAG, 100, &fb);
    match_set_ct_state_masked(&fb.match, CS_TRACKED | CS_ESTABLISHED,
                              CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR);
    m_ct_mark(&fb, SLB_CT_LB);
    a_goto(&fb, SLB_TABLE_ACL_TO_VM);
    add(flows, v->cookie, SLB_TABLE_LB_FRAG, 100, &fb);
    add(flows, v->cookie, SLB_TABLE_LB_FRAG, 0, &fb);
    add(flows, v->cookie, SLB_TABLE_LB_FRAG_PORT, 0, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

/* The flows of the fragmented datagrams of entry 'lb', to local VM 'vm',
 * whose VIP and protocol also has SNAT ports of a local VM: the later
 * fragments of replies to those look like the rule's own.  So every
 * fragment of a datagram to the VIP and protocol (and MAC), the first too,
 * is looked up in the VM's zone, where conntrack holds them until the
 * datagram is whole: a reply to an outbound connection comes out of it
 * translated back, and goes on as replies to SNAT ports do; a datagram of
 * a connection that the rule began, translated too, goes on to the ACLs;
 * a new one's fragments are all committed by one flow of table
 * SLB_TABLE_LB_FRAG, which conntrack again holds until whole, with the
 * translation 'dnat' that the entries of the group agree on (see
 * host_view_settle_fragments()).  The entries of a group share these
 * flows. */
static void
build_lb_fragments_looked_up(const struct host_lb *lb,
                             const struct host_vm *vm,
                             const struct ct_nat *dnat,
                             struct host_flows *flows)
{
    int priority = lb->by_mac ? 104 : 103;
    struct flow_builder fb;
    fb_init(&fb);
    for (int later = 0; later < 2; later++) {
        m_reg(&fb, SLB_REG_VNI, vm->vni);
        if (lb->by_mac) {
            match_set_dl_dst(&fb.match, vm->mac);
        }
        m_lb_fragment(&fb, lb, later, lb->proto);
        a_vm_lookup(&fb, vm, SLB_TABLE_LB_FRAG);
        add(flows, lb->cookie, SLB_TABLE_LB_IN, priority, &fb);
    }

    /* New datagrams of the group, untranslated by the lookup. */
    m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
    m_ct_state(&fb, CS_TRACKED | CS_NEW);
    if (lb->by_mac) {
        match_set_dl_dst(&fb.match, vm->mac);
    }
    m_to(&fb, &lb->vip, fragments_proto(lb));
    a_commit_lb(&fb, lb, vm, dnat);
    add(flows, lb->cookie, SLB_TABLE_LB_FRAG, priority - 3, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

/* The flows of the fragmented datagrams of entry 'lb', to local VM 'vm',
 * whose VIP and protocol the datapath cannot place by itself (see
 * host_view_settle_fragments()).  Every fragment of the VIP and protocol,
 * the first too, goes to the agent, which holds it until the datagram's
 * first fragment shows the protocol and port, and resumes every fragment
 * of the datagram with them in SLB_REG_FRAG_PORT.  In
 * SLB_TABLE_LB_FRAG_PORT, the entry takes them by that register as it
 * takes whole packets by their port, at the same priority 'priority', and
 * commits them: conntrack holds them until the datagram is whole (they
 * came back the same way, so they meet there) and translates it by the
 * entry's 'dnat'. */
static void
build_lb_held(const struct host_lb *lb, const struct host_vm *vm,
              const struct ct_nat *dnat, int priority,
              struct host_flows *flows)
{
    struct flow_builder fb;
    fb_init(&fb);
    for (int later = 0; later < 2; later++) {
        m_reg(&fb, SLB_REG_VNI, vm->vni);
        m_lb_fragment(&fb, lb, later, fragments_proto(lb));
        a_hold_fragment(&fb, SLB_TABLE_LB_FRAG_PORT);
        add(flows, lb->cookie, SLB_TABLE_LB_IN, 115, &fb);
    }

    m_reg(&fb, SLB_REG_VNI, vm->vni);
    if (lb->by_mac) {
        match_set_dl_dst(&fb.match, vm->mac);
    }
    m_to(&fb, &lb->vip, 0);
    if (lb->proto) {
        m_reg(&fb, SLB_REG_FRAG_PORT, SLB_FRAG_PORT(lb->proto, lb->port));
    }
    a_commit_lb(&fb, lb, vm, dnat);
    add(flows, lb->cookie, SLB_TABLE_LB_FRAG_PORT, priority, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

static void
build_lb(const struct host_view *v, const struct item_sel *sel,
         struct host_flows *flows)
{
    static const struct ct_nat reverse = { .flags = 0 };
    bool host = sel_host(sel);
    struct flow_builder fb;
    fb_init(&fb);

    FOR_EACH_ITEM (i, sel, HOST_ITEM_LB, v->n_lbs) {
        const struct host_lb *lb = &v->lbs[i];
        const struct host_vm *vm = &v->vms[lb->vm];
        int priority = lb->nat_rule ? 110 : lb->by_mac ? 100 : 99;

        /* Its packets and first fragments, by port (the agent has the
         * bridge show a first fragment's ports, with "nx-match" fragment
         * handling); then, for a rule of one port, its datagrams' later
         * fragments, by VIP alone (see host_view_settle_fragments()).
         * Conntrack in the VM's zone holds the fragments, in whatever
         * order they come, until the datagram is whole, translates it,
         * and sends every fragment on translated with it. */
        if (lb->fragments_held) {
            struct ct_nat dnat = {
                .flags = NX_NAT_F_DST, .ip = vm->ca,
                .port_min = lb->backend_port,
            };
            build_lb_held(lb, vm, &dnat, priority, flows);
        }
        for (int later = 0; later <= lb->fragments; later++) {
            struct ct_nat dnat = {
                .flags = NX_NAT_F_DST, .ip = vm->ca,
                .port_min = later ? lb->fragment_port : lb->backend_port,
            };
            if (later && lb->fragments_looked_up) {
                build_lb_fragments_looked_up(lb, vm, &dnat, flows);
                continue;
            }
            if (later || !host_lb_takes_reset(lb)) {
                m_lb(&fb, lb, vm, later);
                a_commit_lb(&fb, lb, vm, &dnat);
                add(flows, lb->cookie, SLB_TABLE_LB_IN, priority, &fb);
                continue;
            }

            /* With TCP reset, looked up first (but fragments), committed
             * once looked up: see build_lb_reset(). */
            m_lb(&fb, lb, vm, false);
            m_reg_masked(&fb, SLB_REG_FLAGS, 0, SLB_FLAG_LOOKED_UP);
            match_set_nw_frag_masked(&fb.match, 0, FLOW_NW_FRAG_MASK);
            a_set_reg_bits(&fb, SLB_REG_FLAGS, SLB_FLAG_LOOKED_UP);
            a_vm_lookup(&fb, vm, SLB_TABLE_LB_RESET_IN);
            add(flows, lb->cookie, SLB_TABLE_LB_IN, priority, &fb);
            for (int looked_up = 0; looked_up < 2; looked_up++) {
                m_lb(&fb, lb, vm, false);
                if (looked_up) {
                    m_reg_masked(&fb, SLB_REG_FLAGS, SLB_FLAG_LOOKED_UP,
                                 SLB_FLAG_LOOKED_UP);
                } else {
                    m_reg_masked(&fb, SLB_REG_FLAGS, 0, SLB_FLAG_LOOKED_UP);
                    match_set_nw_frag_masked(&fb.match, FLOW_NW_FRAG_ANY,
                                             FLOW_NW_FRAG_ANY);
                }
                a_commit_lb(&fb, lb, vm, &dnat);
                add(flows, lb->cookie, SLB_TABLE_LB_IN, priority, &fb);
            }
        }
        if (host_lb_takes_reset(lb) && lb->proto) {
            /* The VM's segments of a connection that its conntrack no
             * longer knows, from the rule's port. */
            m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
            m_ct_state(&fb, CS_TRACKED | CS_NEW);
            m_from(&fb, lb->floating_ip ? &lb->vip : &vm->ca, IPPROTO_TCP);
            match_set_tp_src(&fb.match, htons(host_lb_vm_port(lb)));
            m_not_syn_rst(&fb);
            a_controller(&fb, SLB_PIN_TCP_RESET);
            add(flows, lb->cookie, SLB_TABLE_LB_RESET_OUT, 100, &fb);
        }
        if (eth_addr_is_zero(vm->mac)) {
            add_icmp_errors(flows, lb->cookie, vm, &lb->vip);
        }
        add_path_probe_answer(flows, lb->cookie, v, vm->vni, &lb->vip);

        /* A mux's candidate copy of a TCP segment of the rule goes on
         * only if the VM's conntrack knows its connection as one that a
         * mux brought in (which it does without committing anything). */
        if (!lb->nat_rule && (!lb->proto || lb->proto == IPPROTO_TCP)) {
            m_lb(&fb, lb, vm, false);
            match_set_nw_proto(&fb.match, IPPROTO_TCP);   /* HA ports. */
            a_vm_lookup(&fb, vm, SLB_TABLE_CANDIDATE_KNOWN);
            add(flows, lb->cookie, SLB_TABLE_LB_CANDIDATE, priority, &fb);
        }
    }
    if (host) {
        add(flows, v->cookie, SLB_TABLE_LB_CANDIDATE, 0, &fb);
        match_set_ct_state_masked(&fb.match, CS_TRACKED | CS_ESTABLISHED,
                                  CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR
                                  | CS_INVALID);
        m_ct_mark(&fb, SLB_CT_LB);
        a_goto(&fb, SLB_TABLE_ACL_TO_VM);
        add(flows, v->cookie, SLB_TABLE_CANDIDATE_KNOWN, 100, &fb);
        add(flows, v->cookie, SLB_TABLE_CANDIDATE_KNOWN, 0, &fb);
    }

    FOR_EACH_ITEM (i, sel, HOST_ITEM_SNAT, v->n_snats) {
        const struct host_snat *sn = &v->snats[i];
        const struct host_vm *vm = &v->vms[sn->vm];
        struct host_port_block blocks[HOST_FLOWS_MAX_PORT_BLOCKS];
        size_t n_blocks = host_flows_port_blocks(sn->port_min, sn->port_max,
                                                 blocks);
        uint8_t protos[2];
        size_t n_protos = l4_protos(sn->proto, protos);
        for (size_t j = 0; j < n_protos; j++) {
            for (size_t k = 0; k < n_blocks; k++) {
                m_reg(&fb, SLB_REG_VNI, vm->vni);
                m_to(&fb, &sn->vip, protos[j]);
                match_set_tp_dst_masked(&fb.match, htons(blocks[k].value),
                                        htons(blocks[k].mask));
                a_vm_lookup(&fb, vm, SLB_TABLE_SNAT_RETURN);
                add(flows, sn->cookie, SLB_TABLE_LB_IN, 90, &fb);
                if (sn->fragments_held & snat_proto_bit(protos[j])) {
                    /* Fragments that the agent held, by their datagram's
                     * port (see build_lb_held()). */
                    m_reg(&fb, SLB_REG_VNI, vm->vni);
                    m_to(&fb, &sn->vip, 0);
                    m_reg_masked(&fb, SLB_REG_FRAG_PORT,
                                 SLB_FRAG_PORT(protos[j], blocks[k].value),
                                 SLB_FRAG_PORT(UINT8_MAX, blocks[k].mask));
                    a_vm_lookup(&fb, vm, SLB_TABLE_SNAT_RETURN);
                    add(flows, sn->cookie, SLB_TABLE_LB_FRAG_PORT, 90, &fb);
                }
            }
            if (sn->reply_fragments
                && (!j || later_fragment_proto(&sn->vip, protos[j])
                          != IPPROTO_FRAGMENT)) {
                /* The later fragments of replies, by VIP (and MAC). */
                m_reg(&fb, SLB_REG_VNI, vm->vni);
                if (!eth_addr_is_zero(vm->mac)) {
                    match_set_dl_dst(&fb.match, vm->mac);
                }
                m_to(&fb, &sn->vip, later_fragment_proto(&sn->vip,
                                                         protos[j]));
                m_later_fragment(&fb);
                a_vm_lookup(&fb, vm, SLB_TABLE_SNAT_RETURN);
                add(flows, sn->cookie, SLB_TABLE_LB_IN, 90, &fb);
            }
        }
        if (eth_addr_is_zero(vm->mac)) {
            add_icmp_errors(flows, sn->cookie, vm, &sn->vip);
        }
    }
    /* Only replies and related packets (ICMP errors) of connections that
     * the VM opened reach it through its SNAT ports. */
    if (host) {
        m_ct_state(&fb, CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR);
        a_goto(&fb, SLB_TABLE_ACL_TO_VM);
        add(flows, v->cookie, SLB_TABLE_SNAT_RETURN, 100, &fb);
        m_ct_state(&fb, CS_TRACKED | CS_RELATED);
        a_goto(&fb, SLB_TABLE_ACL_TO_VM);
        add(flows, v->cookie, SLB_TABLE_SNAT_RETURN, 100, &fb);
        add(flows, v->cookie, SLB_TABLE_SNAT_RETURN, 0, &fb);
    }

    FOR_EACH_ITEM (i, sel, HOST_ITEM_VM, v->n_vms) {
        const struct host_vm *vm = &v->vms[i];
        m_reg(&fb, SLB_REG_VNI, vm->vni);
        m_to(&fb, &vm->ca, 0);
        a_vm_lookup(&fb, vm, SLB_TABLE_ACL_TO_VM);
        add(flows, vm->cookie, SLB_TABLE_LB_IN, 50, &fb);
        if (!eth_addr_is_zero(vm->mac)) {
            add_icmp_errors(flows, vm->cookie, vm, NULL);
        }
    }
    if (host) {
        add(flows, v->cookie, SLB_TABLE_LB_IN, 0, &fb);

        for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
            m_ip(&fb, families[i], 0);
            a_ct(&fb, false, ZONE_FROM_REG, &reverse, 0,
                 SLB_TABLE_LB_RESET_OUT);
            add(flows, v->cookie, SLB_TABLE_LB_OUT, 100, &fb);
        }
        add(flows, v->cookie, SLB_TABLE_LB_OUT, 0, &fb);
        build_lb_reset(v, flows);
        build_lb_frag(v, flows);
    }
    ofpbuf_uninit(&fb.ofpacts);
}

/* The actions of a packet that the ACLs of direction 'to_vm' let through:
 * on to 'next', committed first on the way to the VM. */
static void
a_acl_allow(struct flow_builder *fb, bool to_vm, int next)
{
    if (to_vm) {
        a_commit_allowed(fb);
    }
    a_goto(fb, next);
}

/* The match of ACL entry 'acl' of the VM on 'ofport', for its packets of
 * 'family' (one of the entry's), but for ports.  An entry for ICMP takes
 * ICMPv6 for IPv6. */
static void
m_acl(struct flow_builder *fb, const struct host_acl *acl, int ofport,
      int family)
{
    uint8_t proto = acl->proto;
    if (proto == IPPROTO_ICMP && family == AF_INET6) {
        proto = IPPROTO_ICMPV6;
    }
    m_reg(fb, SLB_REG_VM_PORT, ofport);
    m_ip(fb, family, proto);
    if (acl->has_src) {
        m_addr(fb, false, &acl->src.net, acl->src.plen);
    }
    if (acl->has_dst) {
        m_addr(fb, true, &acl->dst.net, acl->dst.plen);
    }
}

/* The ACL layer, one table per direction.
 *
 * Invalid packets are dropped.  Packets of established connections that
 * the ACLs allowed pass.  Otherwise the VM's entries decide, by priority
 * (an entry with a prefix for its prefixes' family, one without for both);
 * what none of them matches is allowed.  A VM with an entry that the agent
 * could not understand gets none of this in that direction: all of its
 * traffic is dropped.  In the to-VM direction an
 * allowed connection is committed here, marked as allowed; in the from-VM
 * direction, where the VM's new connection leaves. */
static void
build_acl(const struct host_view *v, const struct item_sel *sel, bool to_vm,
          struct host_flows *flows)
{
    int table = to_vm ? SLB_TABLE_ACL_TO_VM : SLB_TABLE_ACL_FROM_VM;
    int next = to_vm ? SLB_TABLE_METER_TO_VM : SLB_TABLE_METER_FROM_VM;
    bool host = sel_host(sel);
    struct flow_builder fb;
    fb_init(&fb);

    if (host) {
        m_ct_state(&fb, CS_TRACKED | CS_INVALID);
        add(flows, v->cookie, table, 65535, &fb);
        m_ct_state(&fb, CS_TRACKED | CS_ESTABLISHED);
        m_ct_mark(&fb, SLB_CT_ALLOWED);
        a_goto(&fb, next);
        add(flows, v->cookie, table, 65534, &fb);
        m_ct_state(&fb, CS_TRACKED | CS_RELATED);
        m_ct_mark(&fb, SLB_CT_ALLOWED);
        a_goto(&fb, next);
        add(flows, v->cookie, table, 65534, &fb);
    }

    FOR_EACH_ITEM (i, sel, HOST_ITEM_ACL, v->n_acls) {
        const struct host_acl *acl = &v->acls[i];
        int ofport = v->vms[acl->vm].ofport;
        if (acl->to_vm != to_vm) {
            continue;
        }
        if (acl->unusable) {
            /* Fail closed: above every flow that would let a packet of
             * the VM through, established connections included.  (The
             * drop of invalid packets shares the priority, and the
             * action.) */
            m_reg(&fb, SLB_REG_VM_PORT, ofport);
            add(flows, acl->cookie, table, 65535, &fb);
            continue;
        }

        /* Port ranges multiply into one flow per pair of blocks; a block
         * with mask 0 matches any port. */
        struct host_port_block sports[HOST_FLOWS_MAX_PORT_BLOCKS];
        struct host_port_block dports[HOST_FLOWS_MAX_PORT_BLOCKS];
        size_t n_sports = 1, n_dports = 1;
        sports[0] = dports[0] = (struct host_port_block) { 0, 0 };
        bool l4 = acl->proto == IPPROTO_TCP || acl->proto == IPPROTO_UDP;
        if (l4 && acl->src_port_max) {
            n_sports = host_flows_port_blocks(acl->src_port_min,
                                              acl->src_port_max, sports);
        }
        if (l4 && acl->dst_port_max) {
            n_dports = host_flows_port_blocks(acl->dst_port_min,
                                              acl->dst_port_max, dports);
        }
        for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
            if (acl->family != AF_UNSPEC && acl->family != families[f]) {
                continue;
            }
            for (size_t s = 0; s < n_sports; s++) {
                for (size_t d = 0; d < n_dports; d++) {
                    m_acl(&fb, acl, ofport, families[f]);
                    if (sports[s].mask) {
                        match_set_tp_src_masked(&fb.match,
                                                htons(sports[s].value),
                                                htons(sports[s].mask));
                    }
                    if (dports[d].mask) {
                        match_set_tp_dst_masked(&fb.match,
                                                htons(dports[d].value),
                                                htons(dports[d].mask));
                    }
                    if (acl->allow) {
                        a_acl_allow(&fb, to_vm, next);
                    }
                    add(flows, acl->cookie, table,
                        ACL_PRIORITY_BASE + acl->priority, &fb);
                }
            }

            /* Later fragments have no ports: a deny entry for some ports
             * denies every fragment, the first one too, of whatever
             * datagram it might deny (and an allow entry for some ports
             * allows no later fragment). */
            if (!acl->allow && (n_sports > 1 || sports[0].mask
                                || n_dports > 1 || dports[0].mask)) {
                m_acl(&fb, acl, ofport, families[f]);
                match_set_nw_frag_masked(&fb.match, FLOW_NW_FRAG_ANY,
                                         FLOW_NW_FRAG_ANY);
                add(flows, acl->cookie, table,
                    ACL_PRIORITY_BASE + acl->priority, &fb);
                if (families[f] == AF_INET6) {
                    /* IPv6's later fragments show no protocol (see
                     * later_fragment_proto()). */
                    m_acl(&fb, acl, ofport, families[f]);
                    match_set_nw_proto(&fb.match, IPPROTO_FRAGMENT);
                    m_later_fragment(&fb);
                    add(flows, acl->cookie, table,
                        ACL_PRIORITY_BASE + acl->priority, &fb);
                }
            }
        }
    }
    if (host) {
        for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
            m_ip(&fb, families[f], 0);
            a_acl_allow(&fb, to_vm, next);
            add(flows, v->cookie, table, 0, &fb);
        }
    }
    ofpbuf_uninit(&fb.ofpacts);
}

/* Returns the meter of the traffic of VM 'vm' of 'v' in direction
 * 'to_vm', or NULL: that of its port, which a dual-stack VM's two
 * addresses share. */
static const struct host_meter *
find_meter(const struct host_view *v, size_t vm, bool to_vm)
{
    const struct host_meter *meter = NULL;
    for (size_t j = 0; j < v->n_meters; j++) {
        if (v->vms[v->meters[j].vm].ofport == v->vms[vm].ofport
            && v->meters[j].to_vm == to_vm) {
            meter = &v->meters[j];
        }
    }
    return meter;
}

/* The metering layer: one flow per VM and direction, whose counters are
 * the VM's, through the VM's OpenFlow meter if it has a rate limit. */
static void
build_meter(const struct host_view *v, const struct item_sel *sel,
            bool to_vm, struct host_flows *flows)
{
    int table = to_vm ? SLB_TABLE_METER_TO_VM : SLB_TABLE_METER_FROM_VM;
    struct flow_builder fb;
    fb_init(&fb);
    FOR_EACH_ITEM (i, sel, HOST_ITEM_VM, v->n_vms) {
        const struct host_vm *vm = &v->vms[i];
        const struct host_meter *meter = find_meter(v, i, to_vm);
        m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
        if (meter) {
            ofpact_put_METER(&fb.ofpacts)->meter_id = meter->meter_id;
        }
        a_goto(&fb, SLB_TABLE_VNET);
        add(flows, meter ? meter->cookie : vm->cookie, table, 100, &fb);
    }
    if (sel_host(sel)) {
        add(flows, v->cookie, table, 0, &fb);
    }
    ofpbuf_uninit(&fb.ofpacts);
}

/* Into the tunnel, through slb_tunnel_out, which first sees whether the
 * frame fits the underlay once encapsulated. */
static void
a_tunnel_out(struct flow_builder *fb, const struct host_view *v)
{
    struct ofpact_check_pkt_larger *larger
        = ofpact_put_CHECK_PKT_LARGER(&fb->ofpacts);
    larger->pkt_len = v->underlay_mtu - SLB_VXLAN_OVERHEAD + ETH_HEADER_LEN;
    larger->dst = (struct mf_subfield) {
        mf_from_id(MFF_REG0 + SLB_REG_TOO_BIG), 0, 1
    };
    struct ofpact_resubmit *resubmit = ofpact_put_RESUBMIT(&fb->ofpacts);
    resubmit->in_port = OFPP_IN_PORT;
    resubmit->table_id = SLB_TABLE_TUNNEL_OUT;
}

/* Adds to 'flows' the two flows of a VM's packets toward 'ca' in virtual
 * network 'vni', which end with 'actions': one for the first packet of a
 * connection, which commits it in the VM's zone first, and one for the
 * others. */
static void
add_vnet_route(uint64_t cookie, uint32_t vni, const struct in6_addr *ca,
               const struct ofpbuf *actions, struct host_flows *flows)
{
    struct flow_builder fb;
    fb_init(&fb);
    for (int first = 0; first < 2; first++) {
        m_reg(&fb, SLB_REG_VNI, vni);
        m_reg_masked(&fb, SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM);
        m_to(&fb, ca, 0);
        if (first) {
            m_ct_state(&fb, CS_NEW | CS_TRACKED);
            a_commit_allowed(&fb);
        }
        ofpbuf_put(&fb.ofpacts, actions->data, actions->size);
        add(flows, cookie, SLB_TABLE_VNET, first ? 101 : 100, &fb);
    }
    ofpbuf_uninit(&fb.ofpacts);
}

/* The virtual network layer.
 *
 * To a VM: the packet goes out the VM's port, from the virtual router's
 * MAC to the VM's.  From a VM: a packet for the CA of a VM of its virtual
 * network goes to that VM, through its to-VM layers if it is local, else
 * through the tunnel to its host's PA with the network's VNI; a packet to
 * an internal VIP of its network goes to a mux, picked in slb_mux_pick, or
 * to the muxes' shared address, where the underlay picks one; a
 * reply of a load-balanced connection goes to the uplink (Direct Server
 * Return); what is left of the network's own CA space is dropped;
 * everything else goes to SNAT. */
static void
build_vnet(const struct host_view *v, const struct item_sel *sel,
           struct host_flows *flows)
{
    static const struct ct_nat reverse = { .flags = 0 };
    bool host = sel_host(sel);
    struct flow_builder fb, route;
    fb_init(&fb);
    fb_init(&route);

    FOR_EACH_ITEM (i, sel, HOST_ITEM_VM, v->n_vms) {
        const struct host_vm *vm = &v->vms[i];
        m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
        m_reg_masked(&fb, SLB_REG_FLAGS, 0, SLB_FLAG_FROM_VM);
        a_set_eth(&fb, MFF_ETH_SRC, vrouter_mac());
        if (!eth_addr_is_zero(vm->mac)) {
            a_set_eth(&fb, MFF_ETH_DST, vm->mac);
        }
        a_output(&fb, u16_to_ofp(vm->ofport));
        add(flows, vm->cookie, SLB_TABLE_VNET, 100, &fb);

        /* From another VM of this host. */
        ofpbuf_clear(&route.ofpacts);
        a_set_reg(&route, SLB_REG_VM_PORT, vm->ofport);
        a_set_reg(&route, SLB_REG_FLAGS, 0);
        a_ct(&route, false, vm->ofport, &reverse, 0, SLB_TABLE_ACL_TO_VM);
        add_vnet_route(vm->cookie, vm->vni, &vm->ca, &route.ofpacts, flows);
    }

    FOR_EACH_ITEM (i, sel, HOST_ITEM_REMOTE_VM, v->n_remote_vms) {
        const struct host_remote_vm *r = &v->remote_vms[i];
        ofpbuf_clear(&route.ofpacts);
        a_set_eth(&route, MFF_ETH_SRC, vrouter_mac());
        if (!eth_addr_is_zero(r->mac)) {
            a_set_eth(&route, MFF_ETH_DST, r->mac);
        }
        a_set_ip(&route, MFF_TUN_DST, r->pa);
        ovs_be64 tun_id = htonll(r->vni);
        a_set_field(&route.ofpacts, MFF_TUN_ID, &tun_id, NULL);
        a_tunnel_out(&route, v);
        add_vnet_route(r->cookie, r->vni, &r->ca, &route.ofpacts, flows);
    }

    /* To an internal VIP: to a mux, picked by a hash of the connection
     * (highest random weight, so that a mux more or less moves only its
     * own share of the connections), which picks the backend. */
    FOR_EACH_ITEM (i, sel, HOST_ITEM_INTERNAL_VIP, v->n_internal_vips) {
        const struct host_internal_vip *iv = &v->internal_vips[i];
        if (!v->n_muxes && !v->mux_anycast) {
            continue;           /* The network's prefix drops it. */
        }
        ofpbuf_clear(&route.ofpacts);
        a_set_eth(&route, MFF_ETH_SRC, vrouter_mac());
        ovs_be64 tun_id = htonll(iv->vni);
        a_set_field(&route.ofpacts, MFF_TUN_ID, &tun_id, NULL);
        if (v->mux_anycast) {
            a_set_ip(&route, MFF_TUN_DST, v->mux_anycast);
            a_tunnel_out(&route, v);
        } else {
            a_multipath(&route.ofpacts, SLB_REG_MUX_WAY, NX_MP_ALG_HRW,
                        v->n_muxes);
            a_goto(&route, SLB_TABLE_MUX_PICK);
        }
        add_vnet_route(iv->cookie, iv->vni, &iv->vip, &route.ofpacts,
                       flows);
    }
    FOR_EACH_ITEM (i, sel, HOST_ITEM_MUX, v->n_muxes) {
        if (!v->n_internal_vips || v->mux_anycast) {
            continue;
        }
        m_reg(&fb, SLB_REG_MUX_WAY, i);
        a_set_ip(&fb, MFF_TUN_DST, v->muxes[i].pa);
        a_tunnel_out(&fb, v);
        add(flows, v->muxes[i].cookie, SLB_TABLE_MUX_PICK, 100, &fb);
    }
    if (host) {
        add(flows, v->cookie, SLB_TABLE_MUX_PICK, 0, &fb);
    }

    for (size_t f = 0; host && f < ARRAY_SIZE(families); f++) {
        m_reg_masked(&fb, SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM);
        m_ct_state(&fb, CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR);
        m_ct_mark(&fb, SLB_CT_LB);
        m_ip(&fb, families[f], 0);
        a_goto(&fb, SLB_TABLE_UPLINK);
        add(flows, v->cookie, SLB_TABLE_VNET, 90, &fb);
    }
    FOR_EACH_ITEM (i, sel, HOST_ITEM_VNET, v->n_vnets) {
        const struct host_vnet *vnet = &v->vnets[i];
        for (size_t j = 0; j < vnet->n_prefixes; j++) {
            const struct host_prefix *prefix = &vnet->prefixes[j];
            m_reg(&fb, SLB_REG_VNI, vnet->vni);
            m_ip(&fb, family_of(&prefix->net), 0);
            m_addr(&fb, true, &prefix->net, prefix->plen);
            add(flows, vnet->cookie, SLB_TABLE_VNET, 80, &fb);
        }
    }
    for (size_t f = 0; host && f < ARRAY_SIZE(families); f++) {
        m_reg_masked(&fb, SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM);
        m_ip(&fb, families[f], 0);
        a_goto(&fb, SLB_TABLE_SNAT);
        add(flows, v->cookie, SLB_TABLE_VNET, 0, &fb);
    }
    ofpbuf_uninit(&fb.ofpacts);
    ofpbuf_uninit(&route.ofpacts);
}

/* A new connection of local VM 'vm' of protocol 'proto', leaving through
 * SNAT range 'sn': if 'later', a held later fragment of its datagram,
 * which shows no protocol, by the one that the agent wrote (see
 * build_snat()). */
static void
m_snat_new(struct flow_builder *fb, const struct host_snat *sn,
           const struct host_vm *vm, uint8_t proto, bool later)
{
    m_reg(fb, SLB_REG_VM_PORT, vm->ofport);
    m_ct_state(fb, CS_NEW | CS_TRACKED);
    if (later) {
        m_ip(fb, AF_INET6, IPPROTO_FRAGMENT);
        m_later_fragment(fb);
        m_reg_masked(fb, SLB_REG_FRAG_PORT, SLB_FRAG_PORT(proto, 0),
                     SLB_FRAG_PORT(UINT8_MAX, 0));
    } else {
        m_ip(fb, family_of(&sn->vip), proto);
    }
}

/* The SNAT layer: a VM's new connection to the outside leaves from a
 * VIP and a port of the VM's range there; the packets after the first
 * were translated already, by conntrack in lb_out.  A VM with ranges on
 * several VIPs picks one by a hash of the connection (multipath into
 * SLB_REG_SNAT_WAY, then slb_snat_pick), so that its connections spread
 * over all of its ports.  A VM without SNAT ports has no way out.
 *
 * Conntrack cannot translate a new connection when every port of the
 * range is taken by a connection to the same destination: it then
 * passes the packet on untranslated, without committing it.  So the
 * translated ones go on from slb_snat_out by their mark, and the others,
 * which would leave from the VM's CA, meet a drop flow of the VM's own:
 * its counters are the VM's SNAT failures. */
static void
build_snat(const struct host_view *v, const struct item_sel *sel,
           struct host_flows *flows)
{
    struct flow_builder fb;
    fb_init(&fb);
    FOR_EACH_ITEM (i, sel, HOST_ITEM_SNAT, v->n_snats) {
        const struct host_snat *sn = &v->snats[i];
        const struct host_vm *vm = &v->vms[sn->vm];
        const struct ct_nat snat = {
            .flags = NX_NAT_F_SRC, .ip = sn->vip,
            .port_min = sn->port_min, .port_max = sn->port_max,
        };
        uint8_t protos[2];
        size_t n_protos = l4_protos(sn->proto, protos);
        for (size_t j = 0; j < n_protos; j++) {
            int p = protos[j] == IPPROTO_UDP;
            if (!(sn->exits & (p ? HOST_SNAT_UDP : HOST_SNAT_TCP))) {
                continue;
            }
            bool pick = sn->n_ways[p] > 1;
            for (int later = 0; later <= sn->later_fragments_held; later++) {
                if (pick && !sn->way[p]) {
                    /* The choice, made once per VM and protocol. */
                    m_snat_new(&fb, sn, vm, protos[j], later);
                    a_pick_way(&fb, sn->n_ways[p]);
                    a_goto(&fb, SLB_TABLE_SNAT_PICK);
                    add(flows, sn->cookie, SLB_TABLE_SNAT, 100, &fb);
                }
                m_snat_new(&fb, sn, vm, protos[j], later);
                if (pick) {
                    m_reg(&fb, SLB_REG_SNAT_WAY, sn->way[p]);
                }
                a_ct(&fb, true, vm->ofport, &snat,
                     SLB_CT_SNAT | SLB_CT_ALLOWED, SLB_TABLE_SNAT_OUT);
                add(flows, sn->cookie,
                    pick ? SLB_TABLE_SNAT_PICK : SLB_TABLE_SNAT, 100, &fb);
            }
        }
        if (sn->later_fragments_held) {
            /* Every fragment of the VM's new connections, the first too,
             * to the agent, and back here with their protocol. */
            m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
            m_ct_state(&fb, CS_NEW | CS_TRACKED);
            m_ip(&fb, AF_INET6, 0);
            match_set_nw_frag_masked(&fb.match, FLOW_NW_FRAG_ANY,
                                     FLOW_NW_FRAG_ANY);
            m_reg(&fb, SLB_REG_FRAG_PORT, 0);
            a_hold_fragment(&fb, SLB_TABLE_SNAT);
            add(flows, sn->cookie, SLB_TABLE_SNAT, 105, &fb);
        }
        if (takes_later_fragments(sn)) {
            m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
            m_ct_state(&fb, CS_NEW | CS_TRACKED);
            m_ip(&fb, AF_INET6, IPPROTO_FRAGMENT);
            m_later_fragment(&fb);
            a_ct(&fb, true, vm->ofport, &snat, SLB_CT_SNAT | SLB_CT_ALLOWED,
                 SLB_TABLE_SNAT_OUT);
            add(flows, sn->cookie, SLB_TABLE_SNAT, 100, &fb);
        }
        m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
        add(flows, sn->cookie, SLB_TABLE_SNAT_OUT,
            HOST_FLOWS_SNAT_FAILED, &fb);
    }
    if (sel_host(sel)) {
        m_ct_state(&fb, CS_TRACKED | CS_ESTABLISHED);
        m_ct_mark(&fb, SLB_CT_SNAT);
        a_goto(&fb, SLB_TABLE_UPLINK);
        add(flows, v->cookie, SLB_TABLE_SNAT, 90, &fb);
        add(flows, v->cookie, SLB_TABLE_SNAT, 0, &fb);

        m_ct_mark(&fb, SLB_CT_SNAT);
        a_goto(&fb, SLB_TABLE_UPLINK);
        add(flows, v->cookie, SLB_TABLE_SNAT_OUT, 100, &fb);
        add(flows, v->cookie, SLB_TABLE_SNAT_OUT, 0, &fb);
    }
    ofpbuf_uninit(&fb.ofpacts);
}

/* The uplink layer: out to the gateway, from the uplink's MAC. */
static void
build_uplink(const struct host_view *v, struct host_flows *flows)
{
    struct flow_builder fb;
    fb_init(&fb);
    bool uplink = v->uplink_ofport > 0 && !eth_addr_is_zero(v->gateway_mac);
    for (size_t f = 0; uplink && f < ARRAY_SIZE(families); f++) {
        m_reg_masked(&fb, SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM);
        m_ip(&fb, families[f], 0);
        a_set_eth(&fb, MFF_ETH_SRC, v->uplink_mac);
        a_set_eth(&fb, MFF_ETH_DST, v->gateway_mac);
        a_output(&fb, u16_to_ofp(v->uplink_ofport));
        add(flows, v->cookie, SLB_TABLE_UPLINK, 100, &fb);
    }
    add(flows, v->cookie, SLB_TABLE_UPLINK, 0, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

/* Into the tunnel, if the frame fits the underlay once encapsulated;
 * otherwise to the agent, which answers the VM with ICMP "fragmentation
 * needed" (OVS would drop the frame without a word). */
static void
build_tunnel_out(const struct host_view *v, struct host_flows *flows)
{
    struct flow_builder fb;
    fb_init(&fb);

    m_reg_masked(&fb, SLB_REG_TOO_BIG, 1, 1);
    a_controller(&fb, SLB_PIN_FRAG_NEEDED);
    add(flows, v->cookie, SLB_TABLE_TUNNEL_OUT, 100, &fb);

    a_output(&fb, u16_to_ofp(v->tunnel_ofport));
    add(flows, v->cookie, SLB_TABLE_TUNNEL_OUT, 0, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

/* Returns the address that stands for the VM on OpenFlow port 'ofport' in
 * the probes from the probe port, of 'family', the VM's: 169.254.128.0
 * plus the port number for IPv4, fe80::5b:2:0 plus it for IPv6 (the agent
 * probes VMs on ports below 32768). */
struct in6_addr
host_flows_probe_address(int ofport, int family)
{
    struct in6_addr ip;
    if (family == AF_INET6) {
        ip = (struct in6_addr) { .s6_addr = {
                0xfe, 0x80, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0x5b, 0, 0x02, (ofport >> 8) & 0x7f, ofport & 0xff,
            } };
    } else {
        in6_addr_set_mapped_ipv4(&ip, htonl(0xa9fe8000 | (ofport & 0x7fff)));
    }
    return ip;
}

/* The probe port, in classification and the virtual network layer.
 *
 * The host answers the probe port's ARP requests and neighbour
 * solicitations as a VM's.  A packet from the probe port for a VM's probe
 * address goes to the VM, its destination translated to the VM's CA,
 * through conntrack and the to-VM layers; the VM's answer to the probe
 * source comes back with the probe address as its source. */
static void
build_probe(const struct host_view *v, const struct item_sel *sel,
            struct host_flows *flows)
{
    static const struct ct_nat reverse = { .flags = 0 };
    if (v->probe_ofport <= 0) {
        return;
    }
    struct flow_builder fb;
    fb_init(&fb);
    if (sel_host(sel)) {
        add_arp_responder(flows, v->cookie, v->probe_ofport);
        add_nd_responder(flows, v->cookie, v->probe_ofport);
        m_in_port(&fb, v->probe_ofport);
        add(flows, v->cookie, SLB_TABLE_CLASSIFY, 100, &fb);
    }

    FOR_EACH_ITEM (i, sel, HOST_ITEM_VM, v->n_vms) {
        const struct host_vm *vm = &v->vms[i];
        int family = family_of(&vm->ca);
        struct in6_addr probe = host_flows_probe_address(vm->ofport, family);
        struct in6_addr source = probe_source(family);
        m_in_port(&fb, v->probe_ofport);
        m_from(&fb, &source, 0);
        m_addr(&fb, true, &probe, ALL_BITS);
        a_set_reg(&fb, SLB_REG_VNI, vm->vni);
        a_set_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
        a_set_addr(&fb, true, &vm->ca);
        a_ct(&fb, false, vm->ofport, &reverse, 0, SLB_TABLE_ACL_TO_VM);
        add(flows, vm->cookie, SLB_TABLE_CLASSIFY, 110, &fb);

        m_reg(&fb, SLB_REG_VM_PORT, vm->ofport);
        m_reg_masked(&fb, SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM);
        m_from(&fb, &vm->ca, 0);
        m_addr(&fb, true, &source, ALL_BITS);
        a_set_addr(&fb, false, &probe);
        a_set_eth(&fb, MFF_ETH_SRC, vrouter_mac());
        a_set_eth(&fb, MFF_ETH_DST, v->probe_mac);
        a_output(&fb, u16_to_ofp(v->probe_ofport));
        add(flows, vm->cookie, SLB_TABLE_VNET, 110, &fb);
    }
    ofpbuf_uninit(&fb.ofpacts);
}

/* Appends to 'flows' the flow of the redirected connection 'fp': its
 * established packets from the client VM go through the tunnel to the
 * backend's host (its first, committed by the VIP's flow, went to a
 * mux). */
void
host_flows_fastpath(const struct host_view *v,
                    const struct host_fastpath *fp, struct host_flows *flows)
{
    struct flow_builder fb;
    fb_init(&fb);
    m_reg(&fb, SLB_REG_VNI, fp->vni);
    m_reg_masked(&fb, SLB_REG_FLAGS, SLB_FLAG_FROM_VM, SLB_FLAG_FROM_VM);
    match_set_ct_state_masked(&fb.match, CS_TRACKED | CS_ESTABLISHED,
                              CS_TRACKED | CS_ESTABLISHED | CS_REPLY_DIR);
    m_ip(&fb, family_of(&fp->vip), fp->proto);
    m_addr(&fb, false, &fp->client, ALL_BITS);
    m_addr(&fb, true, &fp->vip, ALL_BITS);
    match_set_tp_src(&fb.match, fp->client_port);
    match_set_tp_dst(&fb.match, fp->vip_port);

    a_set_eth(&fb, MFF_ETH_SRC, vrouter_mac());
    a_set_eth(&fb, MFF_ETH_DST, fp->backend_mac);
    a_set_ip(&fb, MFF_TUN_DST, fp->backend_pa);
    ovs_be64 tun_id = htonll(fp->vni);
    a_set_field(&fb.ofpacts, MFF_TUN_ID, &tun_id, NULL);
    a_tunnel_out(&fb, v);
    add(flows, fp->cookie, SLB_TABLE_VNET, HOST_FLOWS_FASTPATH_PRIORITY, &fb);
    ofpbuf_uninit(&fb.ofpacts);
}

/* Appends to 'flows' the flows of every layer that the items of 'sel'
 * give. */
static void
build(const struct host_view *v, const struct item_sel *sel,
      struct host_flows *flows)
{
    build_classify(v, sel, flows);
    build_port_security(v, sel, flows);
    build_lb(v, sel, flows);
    build_acl(v, sel, true, flows);
    build_acl(v, sel, false, flows);
    build_meter(v, sel, true, flows);
    build_meter(v, sel, false, flows);
    build_vnet(v, sel, flows);
    build_snat(v, sel, flows);
    if (sel_host(sel)) {
        build_uplink(v, flows);
        build_tunnel_out(v, flows);
    }
    build_probe(v, sel, flows);
}

/* Replaces the contents of 'flows' by the flows of every layer for the
 * host that 'v' describes. */
void
host_flows_build(const struct host_view *v, struct host_flows *flows)
{
    static const struct item_sel all = { .all = true };
    host_flows_destroy(flows);
    build(v, &all, flows);
}

/* Appends to 'flows' the flows that item 'index' of 'kind' of 'v' gives
 * (for HOST_ITEM_HOST, 'index' is 0). */
void
host_flows_build_item(const struct host_view *v, enum host_item_kind kind,
                      size_t index, struct host_flows *flows)
{
    const struct item_sel sel = { .kind = kind, .index = index };
    build(v, &sel, flows);
}

/* Returns how many items of 'kind' 'v' has. */
size_t
host_view_n_items(const struct host_view *v, enum host_item_kind kind)
{
    switch (kind) {
    case HOST_ITEM_HOST: return 1;
    case HOST_ITEM_PEER: return v->n_peers;
    case HOST_ITEM_VNET: return v->n_vnets;
    case HOST_ITEM_VM: return v->n_vms;
    case HOST_ITEM_REMOTE_VM: return v->n_remote_vms;
    case HOST_ITEM_LB: return v->n_lbs;
    case HOST_ITEM_SNAT: return v->n_snats;
    case HOST_ITEM_ACL: return v->n_acls;
    case HOST_ITEM_MUX: return v->n_muxes;
    case HOST_ITEM_INTERNAL_VIP: return v->n_internal_vips;
    case HOST_N_ITEM_KINDS: default: OVS_NOT_REACHED();
    }
}

#define KEY_PUT(KEY, VALUE) ofpbuf_put(KEY, &(VALUE), sizeof (VALUE))

/* Appends to 'key' what the flows of VM 'index' of 'v' depend on, as far
 * as an item that refers to it uses it. */
static void
put_vm_key(const struct host_view *v, size_t index, struct ofpbuf *key)
{
    const struct host_vm *vm = &v->vms[index];
    KEY_PUT(key, vm->cookie);
    KEY_PUT(key, vm->ca);
    KEY_PUT(key, vm->vni);
    KEY_PUT(key, vm->ofport);
    KEY_PUT(key, vm->mac);
}

/* Appends to 'key' everything that the flows of item 'index' of 'kind' of
 * 'v' depend on: two items with the same key give the same flows, so that
 * the flows of an item whose key did not change need not be built
 * again. */
void
host_flows_item_key(const struct host_view *v, enum host_item_kind kind,
                    size_t index, struct ofpbuf *key)
{
    uint8_t k = kind;
    KEY_PUT(key, k);
    switch (kind) {
    case HOST_ITEM_HOST:
        KEY_PUT(key, v->cookie);
        KEY_PUT(key, v->tunnel_ofport);
        KEY_PUT(key, v->candidate_ofport);
        KEY_PUT(key, v->uplink_ofport);
        KEY_PUT(key, v->uplink_mac);
        KEY_PUT(key, v->gateway_mac);
        KEY_PUT(key, v->probe_ofport);
        break;

    case HOST_ITEM_PEER: {
        const struct host_peer *p = &v->peers[index];
        KEY_PUT(key, p->cookie);
        KEY_PUT(key, p->pa);
        KEY_PUT(key, p->any_vni);
        KEY_PUT(key, p->n_vnis);
        ofpbuf_put(key, p->vnis, p->n_vnis * sizeof *p->vnis);
        KEY_PUT(key, v->pa);
        KEY_PUT(key, v->tunnel_ofport);
        KEY_PUT(key, v->candidate_ofport);
        for (size_t i = 0; i < v->n_vnets; i++) {
            KEY_PUT(key, v->vnets[i].vni);
        }
        break;
    }

    case HOST_ITEM_VNET: {
        const struct host_vnet *vnet = &v->vnets[index];
        KEY_PUT(key, vnet->cookie);
        KEY_PUT(key, vnet->vni);
        ofpbuf_put(key, vnet->prefixes,
                   vnet->n_prefixes * sizeof *vnet->prefixes);
        break;
    }

    case HOST_ITEM_VM:
        put_vm_key(v, index, key);
        KEY_PUT(key, v->probe_ofport);
        KEY_PUT(key, v->probe_mac);
        for (int to_vm = 0; to_vm < 2; to_vm++) {
            const struct host_meter *m = find_meter(v, index, to_vm);
            uint64_t cookie = m ? m->cookie : 0;
            uint32_t id = m ? m->meter_id : 0;
            KEY_PUT(key, cookie);
            KEY_PUT(key, id);
        }
        break;

    case HOST_ITEM_REMOTE_VM: {
        const struct host_remote_vm *r = &v->remote_vms[index];
        KEY_PUT(key, r->cookie);
        KEY_PUT(key, r->ca);
        KEY_PUT(key, r->vni);
        KEY_PUT(key, r->pa);
        KEY_PUT(key, r->mac);
        KEY_PUT(key, v->underlay_mtu);
        break;
    }

    case HOST_ITEM_LB: {
        const struct host_lb *lb = &v->lbs[index];
        put_vm_key(v, lb->vm, key);
        KEY_PUT(key, lb->cookie);
        KEY_PUT(key, lb->vip);
        KEY_PUT(key, lb->proto);
        KEY_PUT(key, lb->port);
        KEY_PUT(key, lb->backend_port);
        KEY_PUT(key, lb->floating_ip);
        KEY_PUT(key, lb->nat_rule);
        KEY_PUT(key, lb->by_mac);
        KEY_PUT(key, lb->fragments);
        KEY_PUT(key, lb->fragment_port);
        KEY_PUT(key, lb->fragments_looked_up);
        KEY_PUT(key, lb->fragments_held);
        KEY_PUT(key, lb->tcp_reset);
        KEY_PUT(key, v->pa);        /* Of its answers to path probes. */
        break;
    }

    case HOST_ITEM_SNAT: {
        const struct host_snat *sn = &v->snats[index];
        put_vm_key(v, sn->vm, key);
        KEY_PUT(key, sn->cookie);
        KEY_PUT(key, sn->vip);
        KEY_PUT(key, sn->proto);
        KEY_PUT(key, sn->port_min);
        KEY_PUT(key, sn->port_max);
        KEY_PUT(key, sn->exits);
        KEY_PUT(key, sn->way);
        KEY_PUT(key, sn->n_ways);
        KEY_PUT(key, sn->reply_fragments);
        KEY_PUT(key, sn->later_fragments_held);
        KEY_PUT(key, sn->fragments_held);
        break;
    }

    case HOST_ITEM_ACL: {
        const struct host_acl *acl = &v->acls[index];
        put_vm_key(v, acl->vm, key);
        KEY_PUT(key, acl->cookie);
        KEY_PUT(key, acl->to_vm);
        KEY_PUT(key, acl->priority);
        KEY_PUT(key, acl->proto);
        KEY_PUT(key, acl->family);
        KEY_PUT(key, acl->has_src);
        KEY_PUT(key, acl->src);
        KEY_PUT(key, acl->has_dst);
        KEY_PUT(key, acl->dst);
        KEY_PUT(key, acl->src_port_min);
        KEY_PUT(key, acl->src_port_max);
        KEY_PUT(key, acl->dst_port_min);
        KEY_PUT(key, acl->dst_port_max);
        KEY_PUT(key, acl->allow);
        KEY_PUT(key, acl->unusable);
        break;
    }

    case HOST_ITEM_MUX: {
        const struct host_mux *mux = &v->muxes[index];
        uint64_t way = index;
        bool used = v->n_internal_vips > 0 && !v->mux_anycast;
        KEY_PUT(key, mux->cookie);
        KEY_PUT(key, mux->pa);
        KEY_PUT(key, way);
        KEY_PUT(key, v->underlay_mtu);
        KEY_PUT(key, used);
        break;
    }

    case HOST_ITEM_INTERNAL_VIP: {
        const struct host_internal_vip *iv = &v->internal_vips[index];
        uint64_t n_muxes = v->n_muxes;
        KEY_PUT(key, v->mux_anycast);
        KEY_PUT(key, v->underlay_mtu);
        KEY_PUT(key, iv->cookie);
        KEY_PUT(key, iv->vni);
        KEY_PUT(key, iv->vip);
        KEY_PUT(key, n_muxes);
        break;
    }

    case HOST_N_ITEM_KINDS:
    default:
        OVS_NOT_REACHED();
    }
}
