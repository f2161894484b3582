/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for vswitch-ext/host-flows.c: port ranges as bit-masked
 * matches, and the flows that views of a host give, each of which must
 * parse as an OpenFlow flow. */

#include <config.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "host-flows.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/util.h"
#include "pipeline.h"
#include "random.h"
#include "slb-check.h"
#include "svec.h"
#include "util.h"

/* Asserts that the blocks of 'min'...'max' take every port of the range
 * and no other, with no port in two blocks. */
static void
check_port_range(uint16_t min, uint16_t max)
{
    struct host_port_block blocks[HOST_FLOWS_MAX_PORT_BLOCKS];
    size_t n = host_flows_port_blocks(min, max, blocks);
    ck_assert_uint_le(n, 30);

    static uint8_t hits[65536];
    memset(hits, 0, sizeof hits);
    for (size_t i = 0; i < n; i++) {
        unsigned int value = blocks[i].value, mask = blocks[i].mask;
        ck_assert_uint_eq(value & ~mask & 0xffff, 0);
        /* The mask must be a prefix: the block is value...value|~mask. */
        ck_assert_uint_eq((~mask & 0xffff) & ((~mask & 0xffff) + 1), 0);
        for (unsigned int port = value; port <= (value | (~mask & 0xffff));
             port++) {
            hits[port]++;
        }
    }
    /* (Check asserts are slow: each writes to a pipe.) */
    for (unsigned int port = 0; port < 65536; port++) {
        if (hits[port] != (port >= min && port <= max)) {
            ck_abort_msg("range %u-%u: port %u matched %u times", min, max,
                         port, hits[port]);
        }
    }
}

START_TEST(test_port_ranges)
{
    static const uint16_t cases[][2] = {
        { 0, 65535 }, { 1, 65535 }, { 0, 65534 }, { 80, 80 },
        { 1024, 2047 }, { 1023, 2048 }, { 22352, 43679 }, { 65535, 65535 },
        { 1, 1 }, { 8000, 8099 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        check_port_range(cases[i][0], cases[i][1]);
    }
    for (int i = 0; i < 200; i++) {
        uint16_t a = random_uint32(), b = random_uint32();
        check_port_range(MIN(a, b), MAX(a, b));
    }
}
END_TEST

/* IPv4 address 'x', in host order, IPv4-mapped. */
static struct in6_addr
ip4(uint32_t x)
{
    return in6_addr_mapped_ipv4(htonl(x));
}

/* An IPv6 address, parsed. */
static struct in6_addr
ip6(const char *s)
{
    struct in6_addr a;
    ovs_assert(ipv6_parse(s, &a));
    return a;
}

/* A host with one VM (10.10.10.12, port 5), a mux and another host as
 * peers, a VM of that other host, and whatever the test adds. */
static void
base_view(struct host_view *v)
{
    memset(v, 0, sizeof *v);
    v->cookie = 0x1;
    v->pa = htonl(0xc0a8010c);                      /* 192.168.1.12 */
    v->tunnel_ofport = 9;
    v->candidate_ofport = 10;
    v->underlay_mtu = 1500;
    v->uplink_ofport = -1;

    v->n_vms = 1;
    v->vms = xzalloc(sizeof *v->vms);
    v->vms[0] = (struct host_vm) {
        .cookie = 0x2, .ca = ip4(0x0a0a0a0c), .vni = 5001, .ofport = 5,
        .mac = ETH_ADDR_C(00, 00, 00, 00, 00, 12),
    };
    v->n_remote_vms = 1;
    v->remote_vms = xzalloc(sizeof *v->remote_vms);
    v->remote_vms[0] = (struct host_remote_vm) {
        .cookie = 0x3, .ca = ip4(0x0a0a0a0b), .vni = 5001,
        .pa = htonl(0xc0a8010b),
    };
    v->n_peers = 2;
    v->peers = xcalloc(2, sizeof *v->peers);
    v->peers[0] = (struct host_peer) { .cookie = 0x4,
                                       .pa = htonl(0xc0a81e33),
                                       .any_vni = true };
    v->peers[1] = (struct host_peer) { .cookie = 0x3,
                                       .pa = htonl(0xc0a8010b) };
    host_peer_add_vni(&v->peers[1], 5001);
    v->n_vnets = 1;
    v->vnets = xzalloc(sizeof *v->vnets);
    v->vnets[0].cookie = 0x5;
    v->vnets[0].vni = 5001;
}

static bool
same_key(const struct host_flow *a, const struct host_flow *b)
{
    return (a->table_id == b->table_id && a->priority == b->priority
            && minimatch_equal(&a->match, &b->match));
}

/* Leaves in 'flows', of each set of flows with the same key, the one that
 * the bridge gets: the one of the lowest cookie. */
static void
keep_lowest_cookies(struct host_flows *flows)
{
    size_t n = 0;
    for (size_t i = 0; i < flows->n; i++) {
        struct host_flow *f = &flows->flows[i];
        size_t j;
        for (j = 0; j < n && !same_key(&flows->flows[j], f); j++) {
            continue;
        }
        if (j == n) {
            flows->flows[n++] = *f;
            continue;
        }
        struct host_flow *kept = &flows->flows[j];
        if (f->cookie < kept->cookie) {
            struct host_flow tmp = *kept;
            *kept = *f;
            *f = tmp;
        }
        minimatch_destroy(&f->match);
        free(f->ofpacts);
    }
    flows->n = n;
}

/* Builds the flows of 'v', asserts that each encodes as an OpenFlow 1.5
 * flow_mod that decodes back to the same flow, and returns those that
 * the bridge gets. */
static void
build(const struct host_view *v, struct host_flows *flows)
{
    memset(flows, 0, sizeof *flows);
    host_flows_build(v, flows);
    keep_lowest_cookies(flows);
    for (size_t i = 0; i < flows->n; i++) {
        const struct host_flow *f = &flows->flows[i];
        struct ofputil_flow_mod fm = {
            .match = f->match, .priority = f->priority,
            .table_id = f->table_id, .command = OFPFC_ADD,
            .new_cookie = htonll(f->cookie), .buffer_id = UINT32_MAX,
            .out_port = OFPP_ANY, .out_group = OFPG_ANY,
            .ofpacts = f->ofpacts, .ofpacts_len = f->ofpacts_len,
        };
        struct ofpbuf *msg = ofputil_encode_flow_mod(
            &fm, OFPUTIL_P_OF15_OXM);

        struct ofputil_flow_mod back;
        struct ofpbuf ofpacts;
        ofpbuf_init(&ofpacts, 64);
        enum ofperr error = ofputil_decode_flow_mod(
            &back, msg->data, OFPUTIL_P_OF15_OXM, NULL, NULL, &ofpacts,
            OFPP_MAX, 255);
        struct ds text = DS_EMPTY_INITIALIZER;
        host_flow_format(f, &text);
        ck_assert_msg(!error, "%s: %s", ds_cstr(&text),
                      ofperr_to_string(error));
        ck_assert_msg(back.table_id == f->table_id
                      && back.priority == f->priority
                      && minimatch_equal(&back.match, &f->match)
                      && ofpacts.size == f->ofpacts_len,
                      "%s: does not decode back", ds_cstr(&text));
        ds_destroy(&text);
        minimatch_destroy(&back.match);
        ofpbuf_uninit(&ofpacts);
        ofpbuf_delete(msg);
    }
}

/* Returns the number of flows in 'flows' of 'cookie' whose text, as
 * ovs-ofctl shows it, contains 'text'. */
static size_t
count(const struct host_flows *flows, uint64_t cookie, const char *text)
{
    size_t n = 0;
    for (size_t i = 0; i < flows->n; i++) {
        if (flows->flows[i].cookie == cookie) {
            struct ds s = DS_EMPTY_INITIALIZER;
            host_flow_format(&flows->flows[i], &s);
            n += strstr(ds_cstr(&s), text) != NULL;
            ds_destroy(&s);
        }
    }
    return n;
}

/* The flows of 'cookie' in 'flows', one per line, for a failure's
 * message. */
static char *
flows_of(const struct host_flows *flows, uint64_t cookie)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < flows->n; i++) {
        if (flows->flows[i].cookie == cookie) {
            ds_put_char(&s, '\n');
            host_flow_format(&flows->flows[i], &s);
        }
    }
    return ds_steal_cstr(&s);
}

#define ASSERT_FLOW(FLOWS, COOKIE, TEXT)                                \
    ck_assert_msg(count(FLOWS, COOKIE, TEXT) == 1,                      \
                  "expected one flow of cookie %#x with \"%s\" in:%s", \
                  (unsigned int) (COOKIE), TEXT, flows_of(FLOWS, COOKIE))
#define ASSERT_NO_FLOW(FLOWS, COOKIE, TEXT)                             \
    ck_assert_msg(count(FLOWS, COOKIE, TEXT) == 0,                      \
                  "unexpected flow of cookie %#x with \"%s\" in:%s",   \
                  (unsigned int) (COOKIE), TEXT, flows_of(FLOWS, COOKIE))

/* Asserts that 'flows' has, with 'cookie', the two flows that take ICMP
 * errors ("destination unreachable", "time exceeded") matched by 'match'
 * to the local VM of the base view, through conntrack in its zone. */
static void
assert_icmp_error_flows(const struct host_flows *flows, uint64_t cookie,
                        const char *match)
{
    static const int types[] = { 3, 11 };
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        char *text = xasprintf("table=10,priority=105,icmp,reg0=0x1389,%s,"
                               "icmp_type=%d actions=set_field:0x5->reg1,"
                               "ct(table=11,zone=5,nat)", match, types[i]);
        ASSERT_FLOW(flows, cookie, text);
        free(text);
    }
}

START_TEST(test_classify)
{
    struct host_view v;
    struct host_flows flows;
    base_view(&v);
    build(&v, &flows);

    /* Each peer, to this host's PA, with each VNI that it may send; the
     * drop after. */
    ASSERT_FLOW(&flows, 0x4, "table=0,priority=100,tun_id=0x1389,"
                "tun_src=192.168.30.51,tun_dst=192.168.1.12,in_port=9 "
                "actions=set_field:0x1389->reg0,goto_table:10");
    ASSERT_FLOW(&flows, 0x3, "tun_id=0x1389,tun_src=192.168.1.11,"
                "tun_dst=192.168.1.12");
    ASSERT_FLOW(&flows, 0x1, "table=0,priority=50,in_port=9 actions=drop");

    /* Candidate copies come to a port of their own, from muxes only, and
     * go to a table of their own; from anywhere else they are dropped. */
    ASSERT_FLOW(&flows, 0x4, "table=0,priority=100,tun_id=0x1389,"
                "tun_src=192.168.30.51,tun_dst=192.168.1.12,in_port=10 "
                "actions=set_field:0x1389->reg0,goto_table:12");
    ASSERT_NO_FLOW(&flows, 0x3, "in_port=10");
    ASSERT_FLOW(&flows, 0x1, "table=0,priority=50,in_port=10 actions=drop");
    host_flows_destroy(&flows);

    /* With a second network on this host: the mux may send its VNI, the
     * other host only once it has a VM of it too. */
    v.vnets = xrealloc(v.vnets, 2 * sizeof *v.vnets);
    v.vnets[1] = (struct host_vnet) { .cookie = 0x7, .vni = 5002 };
    v.n_vnets = 2;
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x4, "tun_id=0x138a,tun_src=192.168.30.51,"
                "tun_dst=192.168.1.12,in_port=9");
    ASSERT_NO_FLOW(&flows, 0x3, "tun_id=0x138a");
    host_flows_destroy(&flows);
    host_peer_add_vni(&v.peers[1], 5002);
    host_peer_add_vni(&v.peers[1], 5001);
    ck_assert_uint_eq(v.peers[1].n_vnis, 2);
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x3, "tun_id=0x138a,tun_src=192.168.1.11");
    ASSERT_FLOW(&flows, 0x3, "tun_id=0x1389,tun_src=192.168.1.11");

    /* The VM's packets, and its ARP. */
    ASSERT_FLOW(&flows, 0x2, "table=0,priority=100,in_port=5 actions="
                "set_field:0x1389->reg0,set_field:0x5->reg1,"
                "set_field:0x1->reg2,goto_table:5");
    ASSERT_FLOW(&flows, 0x2, "arp_tpa=10.10.10.12 actions=drop");
    ASSERT_FLOW(&flows, 0x2, "arp,in_port=5,arp_op=1");

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

START_TEST(test_port_security)
{
    struct host_view v;
    struct host_flows flows;
    base_view(&v);

    /* A second VM, whose MAC the database does not know.  The first owns
     * 20.20.20.100 by two floating-IP rules and 20.20.20.101 by one; the
     * second owns 20.20.20.100 too, and is the backend of a rule without
     * floating IP on 20.20.20.102. */
    v.vms = xrealloc(v.vms, 2 * sizeof *v.vms);
    v.n_vms = 2;
    v.vms[1] = (struct host_vm) {
        .cookie = 0x6, .ca = ip4(0x0a0a0a0d), .vni = 5001, .ofport = 6,
    };
    struct in6_addr vip = ip4(0x14141464);               /* 20.20.20.100 */
    v.n_lbs = 5;
    v.lbs = xcalloc(5, sizeof *v.lbs);
    v.lbs[0] = (struct host_lb) { .cookie = 0x12, .vm = 0, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 80,
                                  .floating_ip = true };
    v.lbs[1] = (struct host_lb) { .cookie = 0x11, .vm = 0, .vip = vip,
                                  .proto = IPPROTO_UDP, .port = 53,
                                  .floating_ip = true };
    v.lbs[2] = (struct host_lb) { .cookie = 0x13, .vm = 0,
                                  .vip = ip4(0x14141465),
                                  .floating_ip = true };
    v.lbs[3] = (struct host_lb) { .cookie = 0x14, .vm = 1, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 80,
                                  .floating_ip = true };
    v.lbs[4] = (struct host_lb) { .cookie = 0x15, .vm = 1,
                                  .vip = ip4(0x14141466),
                                  .proto = IPPROTO_TCP, .port = 80 };
    build(&v, &flows);

    /* Each VM's CA, with its MAC if known. */
    ASSERT_FLOW(&flows, 0x2, "table=5,priority=100,ip,reg1=0x5,"
                "dl_src=00:00:00:00:00:12,nw_src=10.10.10.12 "
                "actions=goto_table:15");
    ASSERT_FLOW(&flows, 0x6, "table=5,priority=100,ip,reg1=0x6,"
                "nw_src=10.10.10.13 actions=goto_table:15");

    /* Each VM's floating IPs, once each, from the rule of the lowest
     * cookie; none for a rule without floating IP. */
    ASSERT_FLOW(&flows, 0x11, "table=5,priority=100,ip,reg1=0x5,"
                "dl_src=00:00:00:00:00:12,nw_src=20.20.20.100 ");
    ASSERT_NO_FLOW(&flows, 0x12, "table=5,");
    ASSERT_FLOW(&flows, 0x13, "ip,reg1=0x5,dl_src=00:00:00:00:00:12,"
                "nw_src=20.20.20.101 ");
    ASSERT_FLOW(&flows, 0x14, "table=5,priority=100,ip,reg1=0x6,"
                "nw_src=20.20.20.100 ");
    ASSERT_NO_FLOW(&flows, 0x15, "table=5,");

    /* Anything else from a VM is dropped by a flow of its own. */
    ASSERT_FLOW(&flows, 0x2, "table=5,priority=50,reg1=0x5 actions=drop");
    ASSERT_FLOW(&flows, 0x6, "table=5,priority=50,reg1=0x6 actions=drop");
    ASSERT_FLOW(&flows, 0x1, "table=5,priority=0 actions=drop");
    /* So is neighbour discovery, whichever address it is from. */
    for (int type = 133; type <= 137; type++) {
        char flow[64];
        snprintf(flow, sizeof flow,
                 "table=5,priority=110,icmp6,icmp_type=%d actions=drop",
                 type);
        ASSERT_FLOW(&flows, 0x1, flow);
    }

    size_t n = 0;
    for (size_t i = 0; i < flows.n; i++) {
        n += flows.flows[i].table_id == 5;
    }
    ck_assert_uint_eq(n, 13);

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

START_TEST(test_lb_variants)
{
    struct host_view v;
    struct host_flows flows;
    base_view(&v);
    v.n_lbs = 5;
    v.lbs = xcalloc(5, sizeof *v.lbs);
    struct in6_addr vip = ip4(0x14141464);               /* 20.20.20.100 */
    v.lbs[0] = (struct host_lb) { .cookie = 0x10, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 80,
                                  .backend_port = 8080, .by_mac = true };
    v.lbs[4] = (struct host_lb) { .cookie = 0x10, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 80,
                                  .backend_port = 8080 };
    v.lbs[1] = (struct host_lb) { .cookie = 0x11, .vip = vip,
                                  .proto = IPPROTO_UDP, .port = 53,
                                  .floating_ip = true };
    v.lbs[2] = (struct host_lb) { .cookie = 0x12, .vip = vip };
    v.lbs[3] = (struct host_lb) { .cookie = 0x13, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 2222,
                                  .backend_port = 22, .nat_rule = true };
    build(&v, &flows);

    /* DNAT to the CA and backend port, committed as load balanced: for
     * packets to the VM's MAC, and below them for any other. */
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=100,tcp,reg0=0x1389,"
                "dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.100,tp_dst=80 "
                "actions=set_field:0x5->reg1,ct(commit,table=20,zone=5,"
                "nat(dst=10.10.10.12:8080),exec(set_field:0x1/0x1->ct_mark))");
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=99,tcp,reg0=0x1389,"
                "nw_dst=20.20.20.100,tp_dst=80 actions=set_field:0x5->reg1,"
                "ct(commit,table=20,zone=5,nat(dst=10.10.10.12:8080),"
                "exec(set_field:0x1/0x1->ct_mark))");
    /* Floating IP: no translation. */
    ASSERT_FLOW(&flows, 0x11, "udp,reg0=0x1389,nw_dst=20.20.20.100,"
                "tp_dst=53 actions=set_field:0x5->reg1,ct(commit,table=20,"
                "zone=5,exec(set_field:0x1/0x1->ct_mark))");
    /* HA ports: every protocol and port; the address only. */
    ASSERT_FLOW(&flows, 0x12, "ip,reg0=0x1389,nw_dst=20.20.20.100 actions="
                "set_field:0x5->reg1,ct(commit,table=20,zone=5,"
                "nat(dst=10.10.10.12),");
    /* An inbound NAT rule wins over load-balancing rules. */
    ASSERT_FLOW(&flows, 0x13, "table=10,priority=110,tcp,reg0=0x1389,"
                "nw_dst=20.20.20.100,tp_dst=2222");
    /* ICMP errors about the VM's connections, for any of its VIPs, by
     * its MAC: conntrack in its zone translates them, and only related
     * ones go on. */
    assert_icmp_error_flows(&flows, 0x2, "dl_dst=00:00:00:00:00:12");
    ASSERT_NO_FLOW(&flows, 0x10, "icmp_type=3");

    /* A mux's candidate copy of a TCP segment of a rule goes through
     * conntrack in the VM's zone, translated as its connection is, but
     * commits nothing; only a connection that a mux brought in, known
     * and not invalid, takes it on to the VM, in the original direction;
     * the rest are dropped and counted.  Not for UDP, nor for inbound NAT
     * rules (whose one backend no mux doubts); for HA ports, its TCP. */
    ASSERT_FLOW(&flows, 0x10, "table=12,priority=100,tcp,reg0=0x1389,"
                "dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.100,tp_dst=80 "
                "actions=set_field:0x5->reg1,ct(table=13,zone=5,nat)");
    ASSERT_FLOW(&flows, 0x10, "table=12,priority=99,tcp,reg0=0x1389,"
                "nw_dst=20.20.20.100,tp_dst=80 actions=set_field:0x5->reg1,"
                "ct(table=13,zone=5,nat)");
    ASSERT_NO_FLOW(&flows, 0x11, "table=12");
    ASSERT_FLOW(&flows, 0x12, "table=12,priority=99,tcp,reg0=0x1389,"
                "nw_dst=20.20.20.100 actions=set_field:0x5->reg1,"
                "ct(table=13,zone=5,nat)");
    ASSERT_NO_FLOW(&flows, 0x13, "table=12");
    ASSERT_FLOW(&flows, 0x1, "table=12,priority=0 actions=drop");
    ASSERT_FLOW(&flows, 0x1, "table=13,priority=100,"
                "ct_state=+est-rpl-inv+trk,ct_mark=0x1/0x1 "
                "actions=goto_table:20");
    ASSERT_FLOW(&flows, 0x1, "table=13,priority=0 actions=drop");
    ASSERT_NO_FLOW(&flows, 0x10, "icmp_type=11");

    /* The rules of a VIP answer the muxes' path probes of it: the echo
     * request goes back through the tunnel as a reply, from the VIP to
     * the probe source, from this host's PA to the mux's. */
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=120,icmp,reg0=0x1389,"
                "nw_src=169.254.0.2,nw_dst=20.20.20.100,icmp_type=8 "
                "actions=push:NXM_OF_ETH_SRC[],push:NXM_OF_ETH_DST[],"
                "pop:NXM_OF_ETH_SRC[],pop:NXM_OF_ETH_DST[],"
                "push:NXM_OF_IP_SRC[],push:NXM_OF_IP_DST[],"
                "pop:NXM_OF_IP_SRC[],pop:NXM_OF_IP_DST[],"
                "set_field:0->icmp_type,"
                "move:NXM_NX_TUN_IPV4_SRC[]->NXM_NX_TUN_IPV4_DST[],"
                "set_field:192.168.1.12->tun_src,IN_PORT");

    /* Without a MAC, a VM needs them for each VIP. */
    v.vms[0].mac = eth_addr_zero;
    host_flows_destroy(&flows);
    build(&v, &flows);
    assert_icmp_error_flows(&flows, 0x10, "nw_dst=20.20.20.100");
    ASSERT_NO_FLOW(&flows, 0x2, "icmp_type=3");
    ASSERT_FLOW(&flows, 0x13, "nat(dst=10.10.10.12:22)");

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

/* A rule with TCP reset looks a connection up before it commits it: a
 * packet of one that a mux brought in goes on, a segment of one that the
 * VM's conntrack does not know goes to the agent, from either end, and
 * the rest is committed as without it.  Each VM's zone keeps idle
 * connections for the longest idle timeout of its rules. */
START_TEST(test_tcp_reset)
{
    struct host_view v;
    struct host_flows flows;
    base_view(&v);
    v.n_lbs = 4;
    v.lbs = xcalloc(4, sizeof *v.lbs);
    struct in6_addr vip = ip4(0x14141464);               /* 20.20.20.100 */
    v.lbs[0] = (struct host_lb) { .cookie = 0x10, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 80,
                                  .backend_port = 8080, .by_mac = true,
                                  .tcp_reset = true, .idle_timeout = 300 };
    v.lbs[1] = (struct host_lb) { .cookie = 0x11, .vip = vip,
                                  .tcp_reset = true, .idle_timeout = 600 };
    v.lbs[2] = (struct host_lb) { .cookie = 0x12, .vip = vip,
                                  .proto = IPPROTO_UDP, .port = 53,
                                  .tcp_reset = true, .idle_timeout = 900 };
    v.lbs[3] = (struct host_lb) { .cookie = 0x13, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 2222,
                                  .backend_port = 22, .nat_rule = true,
                                  .tcp_reset = true, .idle_timeout = 240 };
    build(&v, &flows);

    /* From the muxes: looked up first, but fragments... */
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=100,tcp,reg0=0x1389,"
                "reg2=0/0x2,dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.100,"
                "nw_frag=no,tp_dst=80 actions=set_field:0x2/0x2->reg2,"
                "set_field:0x5->reg1,ct(table=14,zone=5,nat)");
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=100,tcp,reg0=0x1389,"
                "reg2=0x2/0x2,dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.100,"
                "tp_dst=80 actions=set_field:0x5->reg1,ct(commit,table=20,"
                "zone=5,nat(dst=10.10.10.12:8080),"
                "exec(set_field:0x1/0x1->ct_mark))");
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=100,tcp,reg0=0x1389,"
                "reg2=0/0x2,dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.100,"
                "nw_frag=yes,tp_dst=80 actions=set_field:0x5->reg1,"
                "ct(commit,");
    ASSERT_FLOW(&flows, 0x11, "table=10,priority=99,ip,reg0=0x1389,"
                "reg2=0/0x2,nw_dst=20.20.20.100,nw_frag=no actions=");
    /* ...not for UDP, nor for inbound NAT rules. */
    ASSERT_NO_FLOW(&flows, 0x12, "reg2=");
    ASSERT_NO_FLOW(&flows, 0x13, "reg2=");
    ASSERT_NO_FLOW(&flows, 0x13, "table=16");

    ASSERT_FLOW(&flows, 0x1, "table=14,priority=100,"
                "ct_state=+est-rpl-inv+trk,ct_mark=0x1/0x1 "
                "actions=goto_table:20");
    ASSERT_FLOW(&flows, 0x1, "table=14,priority=100,ct_state=+new+trk,tcp,"
                "tcp_flags=-syn-rst actions=controller(userdata=00.00.00.02,"
                "meter_id=1)");
    ASSERT_FLOW(&flows, 0x1, "table=14,priority=100,ct_state=+new+trk,tcp6,"
                "tcp_flags=-syn-rst actions=controller(");
    ASSERT_FLOW(&flows, 0x1, "table=14,priority=0 actions=resubmit(,10)");

    /* From the VM: from its backend port; none for HA ports, whose port
     * the VM's segment does not show. */
    ASSERT_FLOW(&flows, 0x10, "table=16,priority=100,ct_state=+new+trk,tcp,"
                "reg1=0x5,nw_src=10.10.10.12,tp_src=8080,tcp_flags=-syn-rst "
                "actions=controller(userdata=00.00.00.02,meter_id=1)");
    ASSERT_NO_FLOW(&flows, 0x11, "table=16");
    ASSERT_FLOW(&flows, 0x1, "table=16,priority=0 actions=goto_table:25");
    ASSERT_FLOW(&flows, 0x1, "table=15,priority=100,ip actions=ct(table=16,"
                "zone=NXM_NX_REG1[0..15],nat)");

    /* The zone's timeouts: the longest TCP rule's, HA ports among them,
     * and the longest UDP rule's. */
    struct host_zone_timeouts *zones;
    ck_assert_uint_eq(host_view_zone_timeouts(&v, &zones), 1);
    ck_assert_uint_eq(zones[0].zone, 5);
    ck_assert_uint_eq(zones[0].tcp, 600);
    ck_assert_uint_eq(zones[0].udp, 900);
    free(zones);

    /* Without TCP reset, a rule commits at once. */
    v.lbs[0].tcp_reset = false;
    host_flows_destroy(&flows);
    build(&v, &flows);
    ASSERT_NO_FLOW(&flows, 0x10, "reg2=");
    ASSERT_NO_FLOW(&flows, 0x10, "table=16");

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

/* Rules of one VIP and protocol take fragments only if they agree on the
 * translation; the first fragment goes in by the port that conntrack
 * found, the others by the VIP. */
START_TEST(test_fragments)
{
    struct host_view v;
    struct host_flows flows;
    base_view(&v);
    v.n_lbs = 7;
    v.lbs = xcalloc(7, sizeof *v.lbs);
    struct in6_addr vip = ip4(0x14141464);               /* 20.20.20.100 */
    struct in6_addr vip2 = ip4(0x14141465);              /* 20.20.20.101 */
    v.lbs[0] = (struct host_lb) { .cookie = 0x20, .vip = vip,
                                  .proto = IPPROTO_UDP, .port = 53,
                                  .backend_port = 5353 };
    v.lbs[1] = (struct host_lb) { .cookie = 0x21, .vip = vip,
                                  .proto = IPPROTO_UDP, .port = 54,
                                  .backend_port = 5353 };
    v.lbs[2] = (struct host_lb) { .cookie = 0x22, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 80 };
    v.lbs[3] = (struct host_lb) { .cookie = 0x23, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 443,
                                  .backend_port = 443 };
    v.lbs[4] = (struct host_lb) { .cookie = 0x24, .vip = vip2,
                                  .proto = IPPROTO_TCP, .port = 81,
                                  .backend_port = 8081, .by_mac = true };
    v.lbs[5] = (struct host_lb) { .cookie = 0x25, .vip = vip2,
                                  .proto = IPPROTO_TCP, .port = 82,
                                  .by_mac = true };
    v.lbs[6] = (struct host_lb) { .cookie = 0x26, .vip = vip2,
                                  .by_mac = true };
    host_view_settle_fragments(&v);
    ck_assert(v.lbs[0].fragments && v.lbs[0].fragment_port == 5353);
    ck_assert(v.lbs[1].fragments && v.lbs[1].fragment_port == 5353);
    ck_assert(v.lbs[2].fragments && !v.lbs[2].fragment_port);
    ck_assert(v.lbs[3].fragments && !v.lbs[3].fragment_port);
    ck_assert(!v.lbs[4].fragments && !v.lbs[5].fragments);
    ck_assert(!v.lbs[6].fragments);
    for (size_t i = 0; i < 7; i++) {
        ck_assert(v.lbs[i].fragments_held == (i >= 4));
    }
    build(&v, &flows);

    /* The first fragment meets its rule's flow by port; the others one
     * by VIP, through the one translation of the VIP's UDP rules. */
    ASSERT_FLOW(&flows, 0x20, "table=10,priority=99,udp,reg0=0x1389,"
                "nw_dst=20.20.20.100,nw_frag=later actions=set_field:0x5->"
                "reg1,ct(commit,table=20,zone=5,nat(dst=10.10.10.12:5353),");
    /* (0x21's flow for them is the same flow, which the lower cookie
     * holds.) */
    ASSERT_FLOW(&flows, 0x21, "tp_dst=54 actions=");
    ASSERT_NO_FLOW(&flows, 0x21, "nw_frag");
    /* Rules that keep their ports keep the fragments' too. */
    ASSERT_FLOW(&flows, 0x22, "nw_frag=later actions=set_field:0x5->reg1,"
                "ct(commit,table=20,zone=5,nat(dst=10.10.10.12),");
    ASSERT_FLOW(&flows, 0x23, "tp_dst=443 actions=set_field:0x5->reg1,"
                "ct(commit");
    ASSERT_NO_FLOW(&flows, 0x23, "nw_frag");
    /* Rules that disagree, and HA ports, which takes every port, have
     * every fragment of the VIP, the first too, paused and held by the
     * agent, which sends them on with their datagram's protocol and port
     * in reg6 to table 18, where the rules take them by it. */
    ASSERT_FLOW(&flows, 0x24, "table=10,priority=115,tcp,reg0=0x1389,"
                "nw_dst=20.20.20.101,nw_frag=first actions=controller(");
    ASSERT_FLOW(&flows, 0x24, "table=10,priority=115,tcp,reg0=0x1389,"
                "nw_dst=20.20.20.101,nw_frag=later actions=controller(userdata="
                "00.00.00.03,pause,meter_id=1),resubmit(,18)");
    ASSERT_FLOW(&flows, 0x24, "table=18,priority=100,ip,reg0=0x1389,"
                "reg6=0x60051,dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.101 "
                "actions=set_field:0x5->reg1,ct(commit,table=20,zone=5,"
                "nat(dst=10.10.10.12:8081),");
    ASSERT_FLOW(&flows, 0x25, "table=18,priority=100,ip,reg0=0x1389,"
                "reg6=0x60052,dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.101 "
                "actions=set_field:0x5->reg1,ct(commit,table=20,zone=5,"
                "nat(dst=10.10.10.12),");
    ASSERT_FLOW(&flows, 0x26, "table=10,priority=115,ip,reg0=0x1389,"
                "nw_dst=20.20.20.101,nw_frag=later actions=controller(");
    ASSERT_FLOW(&flows, 0x26, "table=18,priority=100,ip,reg0=0x1389,"
                "dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.101 actions="
                "set_field:0x5->reg1,");
    ASSERT_FLOW(&flows, 0x1, "table=18,priority=0 actions=drop");
    ASSERT_NO_FLOW(&flows, 0x24, "table=10,priority=100,tcp,reg0=0x1389,"
                   "dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.101,nw_frag");

    /* A local VM's SNAT range of the VIP for TCP: the later fragments of
     * its replies would look like those of the VIP's TCP rules, whose
     * fragments, all of them, are then looked up in the VM's zone first;
     * a new datagram's are committed by one flow. */
    v.n_snats = 1;
    v.snats = xcalloc(1, sizeof *v.snats);
    v.snats[0] = (struct host_snat) { .cookie = 0x27, .vip = vip,
                                      .proto = IPPROTO_TCP,
                                      .port_min = 1024, .port_max = 2047 };
    host_view_settle_fragments(&v);
    ck_assert(v.lbs[2].fragments_looked_up && v.lbs[3].fragments_looked_up);
    ck_assert(v.lbs[0].fragments && v.lbs[1].fragments);
    ck_assert(!v.lbs[0].fragments_looked_up);
    host_flows_destroy(&flows);
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x22, "table=10,priority=103,tcp,reg0=0x1389,"
                "nw_dst=20.20.20.100,nw_frag=first actions=set_field:0x5->"
                "reg1,ct(table=17,zone=5,nat)");
    ASSERT_FLOW(&flows, 0x22, "table=10,priority=103,tcp,reg0=0x1389,"
                "nw_dst=20.20.20.100,nw_frag=later actions=set_field:0x5->"
                "reg1,ct(table=17,zone=5,nat)");
    ASSERT_FLOW(&flows, 0x22, "table=17,priority=100,ct_state=+new+trk,tcp,"
                "reg1=0x5,nw_dst=20.20.20.100 actions=set_field:0x5->reg1,"
                "ct(commit,table=20,zone=5,nat(dst=10.10.10.12),");
    ASSERT_FLOW(&flows, 0x1, "table=17,priority=100,"
                "ct_state=+est-rpl+trk,ct_mark=0x1/0x1 actions=goto_table:20");
    ASSERT_FLOW(&flows, 0x1, "table=17,priority=100,ct_state=+est+rpl+trk "
                "actions=resubmit(,11)");
    ASSERT_FLOW(&flows, 0x1, "table=17,priority=0 actions=drop");
    /* The range of another local VM: its replies come to that VM's MAC,
     * which the rules' flows by MAC tell apart, and the others would take
     * too: those take no fragments. */
    v.vms = xrealloc(v.vms, 2 * sizeof *v.vms);
    v.vms[1] = (struct host_vm) {
        .cookie = 0x6, .ca = ip4(0x0a0a0a0d), .vni = 5001, .ofport = 6,
        .mac = ETH_ADDR_C(00, 00, 00, 00, 00, 13),
    };
    v.n_vms = 2;
    v.snats[0].vm = 1;
    v.vms[0].mac = eth_addr_zero;
    host_view_settle_fragments(&v);
    ck_assert(!v.lbs[2].fragments && !v.lbs[3].fragments);
    ck_assert(v.lbs[2].fragments_held && v.lbs[3].fragments_held);
    ck_assert_int_eq(v.snats[0].fragments_held, HOST_SNAT_TCP);
    ck_assert(!v.lbs[0].fragments_held);
    host_flows_destroy(&flows);
    build(&v, &flows);
    /* Held, a fragment of a reply to the range meets it by port. */
    ASSERT_FLOW(&flows, 0x27, "table=18,priority=90,ip,reg0=0x1389,"
                "reg6=0x60400/0xfffc00,nw_dst=20.20.20.100 actions="
                "set_field:0x6->reg1,ct(table=11,zone=6,nat)");
    ASSERT_FLOW(&flows, 0x22, "table=18,priority=99,ip,reg0=0x1389,"
                "reg6=0x60050,nw_dst=20.20.20.100 actions=");
    /* Unless their VM has a MAC, to which the muxes send: then its
     * entries by MAC take the rules' fragments, and these take none. */
    v.vms[0].mac = (struct eth_addr) ETH_ADDR_C(00, 00, 00, 00, 00, 12);
    host_view_settle_fragments(&v);
    ck_assert(!v.lbs[2].fragments && !v.lbs[2].fragments_held);
    ck_assert(!v.snats[0].fragments_held);
    v.lbs[2].by_mac = v.lbs[3].by_mac = true;
    host_view_settle_fragments(&v);
    ck_assert(v.lbs[2].fragments && v.lbs[3].fragments);
    ck_assert(!v.lbs[2].fragments_held && !v.snats[0].fragments_held);
    ck_assert(!v.lbs[2].fragments_looked_up && !v.lbs[3].fragments_looked_up);
    v.lbs[2].by_mac = v.lbs[3].by_mac = false;
    v.snats[0].vm = 0;

    /* With TCP reset, a rule's segments are looked up otherwise: the
     * agent holds its fragments. */
    v.lbs[3].tcp_reset = true;
    host_view_settle_fragments(&v);
    ck_assert(!v.lbs[2].fragments && !v.lbs[3].fragments);
    v.lbs[2].by_mac = v.lbs[3].by_mac = true;
    host_view_settle_fragments(&v);
    ck_assert(v.lbs[2].fragments_held && v.lbs[3].fragments_held);
    v.lbs[2].by_mac = v.lbs[3].by_mac = false;
    v.lbs[3].tcp_reset = false;
    host_view_settle_fragments(&v);
    /* The later fragments of those replies reach the VM through its
     * range, by VIP and the VM's MAC, in the zone where the first
     * fragment meets conntrack; a range whose VM has no MAC takes them
     * only if no other local range of the VIP and protocol could. */
    ck_assert(v.snats[0].reply_fragments);
    host_flows_destroy(&flows);
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x27, "table=10,priority=90,tcp,reg0=0x1389,"
                "dl_dst=00:00:00:00:00:12,nw_dst=20.20.20.100,nw_frag=later "
                "actions=set_field:0x5->reg1,ct(table=11,zone=5,nat)");
    v.vms[0].mac = eth_addr_zero;
    host_view_settle_fragments(&v);
    ck_assert(v.snats[0].reply_fragments);
    v.snats = xrealloc(v.snats, 2 * sizeof *v.snats);
    v.snats[1] = v.snats[0];
    v.snats[1].cookie = 0x28;
    v.snats[1].proto = 0;
    v.n_snats = 2;
    host_view_settle_fragments(&v);
    ck_assert(!v.snats[0].reply_fragments && !v.snats[1].reply_fragments);
    v.snats[1].vip = vip2;
    host_view_settle_fragments(&v);
    ck_assert(v.snats[0].reply_fragments && v.snats[1].reply_fragments);

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

START_TEST(test_snat)
{
    struct host_view v;
    struct host_flows flows;
    base_view(&v);
    v.n_snats = 1;
    v.snats = xzalloc(sizeof *v.snats);
    v.snats[0] = (struct host_snat) {
        .cookie = 0x20, .vip = ip4(0x14141464), .port_min = 1024,
        .port_max = 2047,
    };
    host_view_order_snats(&v);
    build(&v, &flows);

    /* Both protocols, out from the range and back into it. */
    ASSERT_FLOW(&flows, 0x20, "table=50,priority=100,ct_state=+new+trk,"
                "tcp,reg1=0x5 actions=ct(commit,table=52,zone=5,"
                "nat(src=20.20.20.100:1024-2047),"
                "exec(set_field:0x6/0x6->ct_mark))");
    ASSERT_FLOW(&flows, 0x20, "ct_state=+new+trk,udp");
    /* What conntrack translated goes on to the uplink; what it could not
     * (every port in use toward the destination) meets the VM's drop,
     * whose counters say how often. */
    ASSERT_FLOW(&flows, 0x1, "table=52,priority=100,ct_mark=0x4/0x4 "
                "actions=goto_table:60");
    ASSERT_FLOW(&flows, 0x20, "table=52,priority=50,reg1=0x5 actions=drop");
    ASSERT_FLOW(&flows, 0x1, "table=52,priority=0 actions=drop");
    host_flows_destroy(&flows);

    /* Ranges on more VIPs (TCP only on 20.20.20.99): the VM's new
     * connections of each protocol pick one of the ranges that take it by
     * a hash of the connection, and replies come back to every range. */
    v.n_snats = 3;
    v.snats = xrealloc(v.snats, 3 * sizeof *v.snats);
    v.snats[1] = (struct host_snat) {
        .cookie = 0x21, .vip = ip4(0x14141463), .proto = IPPROTO_TCP,
        .port_min = 4096, .port_max = 4097,
    };
    v.snats[2] = (struct host_snat) {
        .cookie = 0x22, .vip = ip4(0x14141465), .port_min = 1024,
        .port_max = 2047,
    };
    host_view_order_snats(&v);
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x21, "table=50,priority=100,ct_state=+new+trk,"
                "tcp,reg1=0x5 actions=multipath(symmetric_l3l4+udp,0,"
                "modulo_n,3,0,NXM_NX_REG4[0..15]),goto_table:51");
    ASSERT_FLOW(&flows, 0x20, "table=50,priority=100,ct_state=+new+trk,"
                "udp,reg1=0x5 actions=multipath(symmetric_l3l4+udp,0,"
                "modulo_n,2,0,NXM_NX_REG4[0..15]),goto_table:51");
    ASSERT_NO_FLOW(&flows, 0x22, "table=50,");
    ASSERT_FLOW(&flows, 0x21, "table=51,priority=100,ct_state=+new+trk,"
                "tcp,reg1=0x5,reg4=0 actions=ct(commit,table=52,zone=5,"
                "nat(src=20.20.20.99:4096-4097),");
    ASSERT_FLOW(&flows, 0x20, "table=51,priority=100,ct_state=+new+trk,"
                "tcp,reg1=0x5,reg4=0x1 actions=ct(commit,table=52,zone=5,"
                "nat(src=20.20.20.100:1024-2047),");
    ASSERT_FLOW(&flows, 0x22, "table=51,priority=100,ct_state=+new+trk,"
                "tcp,reg1=0x5,reg4=0x2 actions=ct(commit,table=52,zone=5,"
                "nat(src=20.20.20.101:1024-2047),");
    ASSERT_FLOW(&flows, 0x20, "table=51,priority=100,ct_state=+new+trk,"
                "udp,reg1=0x5,reg4=0 actions=ct(commit,table=52,zone=5,"
                "nat(src=20.20.20.100:1024-2047),");
    ASSERT_FLOW(&flows, 0x22, "table=51,priority=100,ct_state=+new+trk,"
                "udp,reg1=0x5,reg4=0x1 actions=ct(commit,table=52,zone=5,"
                "nat(src=20.20.20.101:1024-2047),");
    ASSERT_FLOW(&flows, 0x21, "nw_dst=20.20.20.99,tp_dst=0x1000/0xfffe");
    ASSERT_FLOW(&flows, 0x22, "tcp,reg0=0x1389,nw_dst=20.20.20.101,"
                "tp_dst=0x400/0xfc00");
    ASSERT_FLOW(&flows, 0x20, "table=10,priority=90,tcp,reg0=0x1389,"
                "nw_dst=20.20.20.100,tp_dst=0x400/0xfc00 actions="
                "set_field:0x5->reg1,ct(table=11,zone=5,nat)");
    ASSERT_FLOW(&flows, 0x20, "udp,reg0=0x1389,nw_dst=20.20.20.100,"
                "tp_dst=0x400/0xfc00");
    /* Without an uplink, nothing leaves. */
    ASSERT_NO_FLOW(&flows, 0x1, "table=60,priority=100");

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

START_TEST(test_acls)
{
    struct host_view v;
    struct host_flows flows;
    base_view(&v);
    v.n_acls = 2;
    v.acls = xcalloc(2, sizeof *v.acls);
    v.acls[0] = (struct host_acl) {
        .cookie = 0x30, .to_vm = true, .priority = 200,
        .proto = IPPROTO_TCP, .family = AF_INET, .has_src = true,
        .src = { ip4(0x01020300), 24 }, .dst_port_min = 8000,
        .dst_port_max = 8099,
    };
    v.acls[1] = (struct host_acl) {
        .cookie = 0x31, .to_vm = false, .priority = 7, .allow = true,
        .family = AF_INET, .has_dst = true, .dst = { ip4(0x08080808), 32 },
        /* Ports without TCP or UDP mean nothing and match nothing. */
        .src_port_min = 5, .src_port_max = 5,
    };
    build(&v, &flows);

    /* A deny entry: one flow per block of ports, above the default. */
    ck_assert_uint_eq(count(&flows, 0x30, "table=20,priority=1200,tcp,"
                            "reg1=0x5,nw_src=1.2.3.0/24,tp_dst="), 3);
    ck_assert_uint_eq(count(&flows, 0x30, "actions=drop"), 4);
    /* ...and one for fragments, since later ones have no ports: a
     * fragmented datagram is denied whole. */
    ASSERT_FLOW(&flows, 0x30, "table=20,priority=1200,tcp,reg1=0x5,"
                "nw_src=1.2.3.0/24,nw_frag=yes actions=drop");
    /* An allow entry from the VM: on to metering; committed later. */
    ASSERT_FLOW(&flows, 0x31, "table=25,priority=1007,ip,reg1=0x5,"
                "nw_dst=8.8.8.8 actions=goto_table:35");
    /* To the VM, the default allows and commits as allowed. */
    ASSERT_FLOW(&flows, 0x1, "table=20,priority=0,ip actions=ct(commit,"
                "zone=NXM_NX_REG1[0..15],exec(set_field:0x2/0x2->ct_mark)),"
                "goto_table:30");

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

START_TEST(test_vnet_and_uplink)
{
    struct host_view v;
    struct host_flows flows;
    base_view(&v);
    v.uplink_ofport = 7;
    v.uplink_mac = (struct eth_addr) ETH_ADDR_C(aa, 55, aa, 55, 00, 03);
    v.gateway_mac = (struct eth_addr) ETH_ADDR_C(00, 00, 5e, 00, 02, 01);
    v.probe_ofport = 8;
    v.probe_mac = (struct eth_addr) ETH_ADDR_C(aa, 55, aa, 55, 00, 08);
    v.n_meters = 1;
    v.meters = xzalloc(sizeof *v.meters);
    v.meters[0] = (struct host_meter) { .cookie = 0x40, .to_vm = false,
                                        .meter_id = 10, .kbps = 1000 };
    v.vnets[0].n_prefixes = 1;
    v.vnets[0].prefixes = xmalloc(sizeof *v.vnets[0].prefixes);
    v.vnets[0].prefixes[0] = (struct host_prefix) { ip4(0x0a0a0a00), 24 };
    build(&v, &flows);

    /* Delivery, and the remote VM through the tunnel (no MAC known). */
    ASSERT_FLOW(&flows, 0x2, "table=40,priority=100,reg1=0x5,reg2=0/0x1 "
                "actions=set_field:"SLB_VROUTER_MAC"->eth_src,"
                "set_field:00:00:00:00:00:12->eth_dst,output:5");
    ASSERT_FLOW(&flows, 0x3, "table=40,priority=100,ip,reg0=0x1389,"
                "reg2=0x1/0x1,nw_dst=10.10.10.11 actions=set_field:"
                SLB_VROUTER_MAC"->eth_src,set_field:192.168.1.11->tun_dst,"
                "set_field:0x1389->tun_id,check_pkt_larger(1464)->"
                "NXM_NX_REG3[0],resubmit(,65)");
    /* Into the tunnel if the frame fits a 1500-byte underlay, else to the
     * agent. */
    ASSERT_FLOW(&flows, 0x1, "table=65,priority=100,reg3=0x1/0x1 "
                "actions=controller(userdata=00.00.00.01,meter_id=1)");
    ASSERT_FLOW(&flows, 0x1, "table=65,priority=0 actions=output:9");
    ASSERT_FLOW(&flows, 0x3, "table=40,priority=101");
    ASSERT_FLOW(&flows, 0x5, "priority=80,ip,reg0=0x1389,"
                "nw_dst=10.10.10.0/24 actions=drop");
    /* The meter on the way out of the VM, none on the way in. */
    ASSERT_FLOW(&flows, 0x40, "table=35,priority=100,reg1=0x5 "
                "actions=meter:10,goto_table:40");
    ASSERT_FLOW(&flows, 0x2, "table=30,priority=100,reg1=0x5 "
                "actions=goto_table:40");
    /* Probes: from the probe port to the VM's probe address, translated
     * to its CA, and the answers back from the probe address. */
    ASSERT_FLOW(&flows, 0x2, "table=0,priority=110,ip,in_port=8,"
                "nw_src=169.254.0.1,nw_dst=169.254.128.5 actions="
                "set_field:0x1389->reg0,set_field:0x5->reg1,"
                "set_field:10.10.10.12->ip_dst,ct(table=20,zone=5,nat)");
    ASSERT_FLOW(&flows, 0x2, "table=40,priority=110,ip,reg1=0x5,"
                "reg2=0x1/0x1,nw_src=10.10.10.12,nw_dst=169.254.0.1 actions="
                "set_field:169.254.128.5->ip_src,set_field:"SLB_VROUTER_MAC
                "->eth_src,set_field:aa:55:aa:55:00:08->eth_dst,output:8");
    ASSERT_FLOW(&flows, 0x1, "table=0,priority=100,in_port=8 actions=drop");

    /* Out through the uplink, to the gateway. */
    ASSERT_FLOW(&flows, 0x1, "table=60,priority=100,ip,reg2=0x1/0x1 "
                "actions=set_field:aa:55:aa:55:00:03->eth_src,"
                "set_field:00:00:5e:00:02:01->eth_dst,output:7");

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

/* The base view, with a local VM of IPv6 (fd00:10::12, port 6) beside the
 * IPv4 one, an IPv6 VM on the other host, an IPv6 prefix, a rule and a
 * SNAT range on an IPv6 VIP, and an ACL entry with an IPv6 prefix. */
static void
ipv6_view(struct host_view *v)
{
    base_view(v);
    v->uplink_ofport = 7;
    v->uplink_mac = (struct eth_addr) ETH_ADDR_C(aa, 55, aa, 55, 00, 03);
    v->gateway_mac = (struct eth_addr) ETH_ADDR_C(00, 00, 5e, 00, 02, 01);
    v->probe_ofport = 8;
    v->probe_mac = (struct eth_addr) ETH_ADDR_C(aa, 55, aa, 55, 00, 08);
    v->vms = xrealloc(v->vms, 2 * sizeof *v->vms);
    v->n_vms = 2;
    v->vms[1] = (struct host_vm) {
        .cookie = 0x6, .ca = ip6("fd00:10::12"), .vni = 5001, .ofport = 6,
        .mac = ETH_ADDR_C(00, 00, 00, 00, 00, 16),
    };
    v->remote_vms = xrealloc(v->remote_vms, 2 * sizeof *v->remote_vms);
    v->n_remote_vms = 2;
    v->remote_vms[1] = (struct host_remote_vm) {
        .cookie = 0x8, .ca = ip6("fd00:10::11"), .vni = 5001,
        .pa = htonl(0xc0a8010b),
    };
    v->vnets[0].n_prefixes = 1;
    v->vnets[0].prefixes = xmalloc(sizeof *v->vnets[0].prefixes);
    v->vnets[0].prefixes[0] = (struct host_prefix) { ip6("fd00:10::"), 64 };

    v->n_lbs = 1;
    v->lbs = xzalloc(sizeof *v->lbs);
    v->lbs[0] = (struct host_lb) {
        .cookie = 0x10, .vm = 1, .vip = ip6("2001:db8::100"),
        .proto = IPPROTO_TCP, .port = 80, .backend_port = 8080,
    };
    v->n_snats = 1;
    v->snats = xzalloc(sizeof *v->snats);
    v->snats[0] = (struct host_snat) {
        .cookie = 0x20, .vm = 1, .vip = ip6("2001:db8::100"),
        .port_min = 1024, .port_max = 2047,
    };
    host_view_order_snats(v);
    host_view_settle_fragments(v);
    v->n_acls = 2;
    v->acls = xcalloc(2, sizeof *v->acls);
    v->acls[0] = (struct host_acl) {
        .cookie = 0x30, .vm = 1, .to_vm = true, .priority = 200,
        .proto = IPPROTO_ICMP, .family = AF_INET6, .has_src = true,
        .src = { ip6("2001:db8:bad::"), 48 },
    };
    v->acls[1] = (struct host_acl) {
        .cookie = 0x31, .vm = 1, .to_vm = false, .priority = 100,
        .proto = IPPROTO_UDP, .dst_port_min = 53, .dst_port_max = 53,
        .allow = true,
    };
}

START_TEST(test_ipv6)
{
    struct host_view v;
    struct host_flows flows;
    ipv6_view(&v);
    build(&v, &flows);

    /* Neighbour discovery: the VM's solicitations for others' addresses
     * become advertisements of the virtual router's MAC, finished in
     * slb_nd_answer; its own address, and duplicate address detection,
     * get none; link-scope multicast goes nowhere. */
    ASSERT_FLOW(&flows, 0x6, "table=0,priority=110,icmp6,in_port=6,"
                "icmp_type=135,icmp_code=0 actions="
                "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                "set_field:"SLB_VROUTER_MAC"->eth_src,"
                "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],"
                "move:NXM_NX_ND_TARGET[]->NXM_NX_IPV6_SRC[],"
                "set_field:136->icmpv6_type,"
                "set_field:3758096384->nd_reserved,"
                "set_field:2->nd_options_type,resubmit(,1)");
    ASSERT_FLOW(&flows, 0x1, "table=1,priority=100,icmp6,icmp_type=136,"
                "icmp_code=0 actions=set_field:"SLB_VROUTER_MAC"->nd_tll,"
                "IN_PORT");
    ASSERT_FLOW(&flows, 0x6, "table=0,priority=120,icmp6,in_port=6,"
                "icmp_type=135,icmp_code=0,nd_target=fd00:10::12 "
                "actions=drop");
    ASSERT_FLOW(&flows, 0x6, "icmp_type=136,icmp_code=0,"
                "nd_target=fd00:10::12 actions=drop");
    ASSERT_FLOW(&flows, 0x1, "table=0,priority=120,icmp6,ipv6_src=::,"
                "icmp_type=135 actions=drop");
    ASSERT_FLOW(&flows, 0x1, "table=0,priority=105,ipv6,ipv6_dst=ff02::/16 "
                "actions=drop");
    ASSERT_NO_FLOW(&flows, 0x6, "arp");
    ASSERT_NO_FLOW(&flows, 0x2, "icmp6");

    /* Port security: IPv6 from its CA only. */
    ASSERT_FLOW(&flows, 0x6, "table=5,priority=100,ipv6,reg1=0x6,"
                "dl_src=00:00:00:00:00:16,ipv6_src=fd00:10::12 "
                "actions=goto_table:15");

    /* Load balancing: DNAT to the CA and port, and the ICMPv6 errors
     * about its connections ("packet too big" among them) by MAC. */
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=99,tcp6,reg0=0x1389,"
                "ipv6_dst=2001:db8::100,tp_dst=80 actions=set_field:0x6->reg1,"
                "ct(commit,table=20,zone=6,"
                "nat(dst=[fd00:10::12]:8080),"
                "exec(set_field:0x1/0x1->ct_mark))");
    for (int type = 1; type <= 3; type++) {
        char *text = xasprintf("table=10,priority=105,icmp6,reg0=0x1389,"
                               "dl_dst=00:00:00:00:00:16,icmp_type=%d "
                               "actions=set_field:0x6->reg1,"
                               "ct(table=11,zone=6,nat)", type);
        ASSERT_FLOW(&flows, 0x6, text);
        free(text);
    }
    /* The muxes' data-path probes of the VIP: an ICMPv6 echo request from
     * fe80::5b:3 goes back through the tunnel as the reply. */
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=120,icmp6,reg0=0x1389,"
                "ipv6_src=fe80::5b:3,ipv6_dst=2001:db8::100,icmp_type=128 "
                "actions=push:NXM_OF_ETH_SRC[],push:NXM_OF_ETH_DST[],"
                "pop:NXM_OF_ETH_SRC[],pop:NXM_OF_ETH_DST[],"
                "push:NXM_NX_IPV6_SRC[],push:NXM_NX_IPV6_DST[],"
                "pop:NXM_NX_IPV6_SRC[],pop:NXM_NX_IPV6_DST[],"
                "set_field:129->icmpv6_type,"
                "move:NXM_NX_TUN_IPV4_SRC[]->NXM_NX_TUN_IPV4_DST[],"
                "set_field:192.168.1.12->tun_src,IN_PORT");

    /* SNAT out from the IPv6 VIP, and its replies back. */
    ASSERT_FLOW(&flows, 0x20, "table=50,priority=100,ct_state=+new+trk,"
                "tcp6,reg1=0x6 actions=ct(commit,table=52,zone=6,"
                "nat(src=[2001:db8::100]:1024-2047),"
                "exec(set_field:0x6/0x6->ct_mark))");
    ASSERT_FLOW(&flows, 0x20, "table=10,priority=90,udp6,reg0=0x1389,"
                "ipv6_dst=2001:db8::100,tp_dst=0x400/0xfc00 "
                "actions=set_field:0x6->reg1,ct(table=11,zone=6,nat)");

    /* ACLs: an entry with an IPv6 prefix for IPv6 (ICMP as ICMPv6), one
     * without for both families. */
    ASSERT_FLOW(&flows, 0x30, "table=20,priority=1200,icmp6,reg1=0x6,"
                "ipv6_src=2001:db8:bad::/48 actions=drop");
    ck_assert_uint_eq(count(&flows, 0x30, ""), 1);
    ASSERT_FLOW(&flows, 0x31, "table=25,priority=1100,udp,reg1=0x6,"
                "tp_dst=53 actions=goto_table:35");
    ASSERT_FLOW(&flows, 0x31, "table=25,priority=1100,udp6,reg1=0x6,"
                "tp_dst=53 actions=goto_table:35");

    /* The virtual network: the prefix, the local and the remote VM. */
    ASSERT_FLOW(&flows, 0x5, "table=40,priority=80,ipv6,reg0=0x1389,"
                "ipv6_dst=fd00:10::/64 actions=drop");
    ASSERT_FLOW(&flows, 0x6, "table=40,priority=100,ipv6,reg0=0x1389,"
                "reg2=0x1/0x1,ipv6_dst=fd00:10::12 actions=");
    ASSERT_FLOW(&flows, 0x8, "table=40,priority=100,ipv6,reg0=0x1389,"
                "reg2=0x1/0x1,ipv6_dst=fd00:10::11 actions="
                "set_field:"SLB_VROUTER_MAC"->eth_src,"
                "set_field:192.168.1.11->tun_dst");

    /* Health probes, from the probe port's link-local address to one that
     * stands for the VM, whose answer goes back with it; the port's
     * solicitations are answered as a VM's. */
    ASSERT_FLOW(&flows, 0x6, "table=0,priority=110,ipv6,in_port=8,"
                "ipv6_src=fe80::5b:1,ipv6_dst=fe80::5b:2:6 actions="
                "set_field:0x1389->reg0,set_field:0x6->reg1,"
                "set_field:fd00:10::12->ipv6_dst,ct(table=20,zone=6,nat)");
    ASSERT_FLOW(&flows, 0x6, "table=40,priority=110,ipv6,reg1=0x6,"
                "reg2=0x1/0x1,ipv6_src=fd00:10::12,ipv6_dst=fe80::5b:1 "
                "actions=set_field:fe80::5b:2:6->ipv6_src,"
                "set_field:"SLB_VROUTER_MAC"->eth_src,"
                "set_field:aa:55:aa:55:00:08->eth_dst,output:8");
    ASSERT_FLOW(&flows, 0x1, "table=0,priority=110,icmp6,in_port=8,"
                "icmp_type=135,icmp_code=0 actions=");

    /* Both families: out of the VM through conntrack, Direct Server
     * Return, SNAT and the uplink. */
    static const char *const both[] = {
        "table=15,priority=100,ip%s actions=ct(table=16,"
        "zone=NXM_NX_REG1[0..15],nat)",
        "table=40,priority=90,ct_state=+est+rpl+trk,ct_mark=0x1/0x1,"
        "ip%s,reg2=0x1/0x1 actions=goto_table:60",
        "table=40,priority=0,ip%s,reg2=0x1/0x1 actions=goto_table:50",
        "table=60,priority=100,ip%s,reg2=0x1/0x1 actions=",
        "table=20,priority=0,ip%s actions=ct(commit",
    };
    for (size_t i = 0; i < ARRAY_SIZE(both); i++) {
        for (int ipv6 = 0; ipv6 < 2; ipv6++) {
            char *text = xasprintf(both[i], ipv6 ? "v6" : "");
            ASSERT_FLOW(&flows, 0x1, text);
            free(text);
        }
    }

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

/* Open vSwitch shows an IPv6 later fragment with protocol 44 and no
 * ports: the host's flows for later fragments match that, know no
 * protocol, and go only where one translation is sure. */
START_TEST(test_ipv6_later_fragments)
{
    struct host_view v;
    struct host_flows flows;
    ipv6_view(&v);

    /* The VM's only SNAT range takes its later fragments too; an ACL
     * entry that denies some ports denies every later fragment between
     * its addresses. */
    v.acls[1].allow = false;
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x20, "table=50,priority=100,ct_state=+new+trk,"
                "ipv6,reg1=0x6,nw_proto=44,nw_frag=later actions=ct(commit,"
                "table=52,zone=6,nat(src=[2001:db8::100]:1024-2047)");
    ASSERT_FLOW(&flows, 0x31, "table=25,priority=1100,ipv6,reg1=0x6,"
                "nw_proto=44,nw_frag=later actions=drop");
    /* The VIP's SNAT ports, here of both protocols, make the later
     * fragments of replies look like those of the TCP rule's datagrams:
     * the rule's fragments are looked up first, and the later ones show
     * no protocol.  Of UDP alone, for IPv6, they still do. */
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=103,tcp6,reg0=0x1389,"
                "ipv6_dst=2001:db8::100,nw_frag=first actions=set_field:"
                "0x6->reg1,ct(table=17,zone=6,nat)");
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=103,ipv6,reg0=0x1389,"
                "ipv6_dst=2001:db8::100,nw_proto=44,nw_frag=later actions=");
    ASSERT_FLOW(&flows, 0x10, "table=17,priority=100,ct_state=+new+trk,ipv6,"
                "reg1=0x6,ipv6_dst=2001:db8::100 actions=set_field:0x6->"
                "reg1,ct(commit,table=20,zone=6,nat(dst=[fd00:10::12]:8080),");
    host_flows_destroy(&flows);
    v.snats[0].proto = IPPROTO_UDP;
    host_view_order_snats(&v);
    host_view_settle_fragments(&v);
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x10, "nw_proto=44,nw_frag=later actions="
                "set_field:0x6->reg1,ct(table=17,");
    host_flows_destroy(&flows);

    /* Without SNAT ports of the VIP, the rule takes them by VIP alone. */
    v.snats[0].vip = ip6("2001:db8::200");
    host_view_order_snats(&v);
    host_view_settle_fragments(&v);
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=99,ipv6,reg0=0x1389,"
                "ipv6_dst=2001:db8::100,nw_proto=44,nw_frag=later "
                "actions=set_field:0x6->reg1,ct(commit,table=20,zone=6,"
                "nat(dst=[fd00:10::12]:8080)");
    host_flows_destroy(&flows);

    /* With a second range, on another VIP, the first fragment's range
     * could be either: the later fragments meet one range's commit
     * (conntrack joins them with the first, whatever its range), the
     * lower cookie's.  The later fragments of replies still
     * reach the VM, by each range's VIP and its MAC. */
    v.snats = xrealloc(v.snats, 2 * sizeof *v.snats);
    v.snats[1] = v.snats[0];
    v.snats[1].cookie = 0x21;
    v.snats[1].vip = ip6("2001:db8::300");
    v.n_snats = 2;
    host_view_order_snats(&v);
    host_view_settle_fragments(&v);
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x20, "table=50,priority=100,ct_state=+new+trk,"
                "ipv6,reg1=0x6,nw_proto=44,nw_frag=later actions=ct(commit,"
                "table=52,zone=6,nat(src=[2001:db8::200]");
    ASSERT_NO_FLOW(&flows, 0x21, "nw_frag=later actions=ct(commit");
    host_flows_destroy(&flows);

    /* But not a range of one protocol beside another's: then the agent
     * holds every fragment of the VM's new connections until the first
     * shows the protocol, which each range's later fragments then meet. */
    v.snats[1].proto = IPPROTO_TCP;
    host_view_order_snats(&v);
    host_view_settle_fragments(&v);
    ck_assert(v.snats[0].later_fragments_held
              && v.snats[1].later_fragments_held);
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x20, "table=50,priority=105,ct_state=+new+trk,ipv6,"
                "reg1=0x6,reg6=0,nw_frag=yes actions=controller(userdata="
                "00.00.00.03,pause,meter_id=1),resubmit(,50)");
    ASSERT_FLOW(&flows, 0x20, "table=50,priority=100,ct_state=+new+trk,ipv6,"
                "reg1=0x6,reg6=0x110000/0xff0000,nw_proto=44,nw_frag=later "
                "actions=ct(commit,table=52,zone=6,"
                "nat(src=[2001:db8::200]:1024-2047)");
    ASSERT_FLOW(&flows, 0x21, "table=50,priority=100,ct_state=+new+trk,ipv6,"
                "reg1=0x6,reg6=0x60000/0xff0000,nw_proto=44,nw_frag=later "
                "actions=ct(commit,table=52,zone=6,"
                "nat(src=[2001:db8::300]:1024-2047)");
    host_flows_destroy(&flows);
    v.snats[1].proto = IPPROTO_UDP;
    host_view_order_snats(&v);
    ck_assert(!v.snats[0].later_fragments_held);
    host_view_settle_fragments(&v);
    build(&v, &flows);
    ASSERT_FLOW(&flows, 0x20, "table=10,priority=90,ipv6,reg0=0x1389,"
                "dl_dst=00:00:00:00:00:16,ipv6_dst=2001:db8::200,nw_proto=44,"
                "nw_frag=later actions=set_field:0x6->reg1,"
                "ct(table=11,zone=6,nat)");
    ASSERT_FLOW(&flows, 0x21, "ipv6_dst=2001:db8::300,nw_proto=44,"
                "nw_frag=later actions=");

    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

/* A view with something of every kind: the base view, with a second
 * local VM and a second network, and rules, SNAT ranges, ACL entries and
 * meters. */
static void
rich_view(struct host_view *v)
{
    base_view(v);
    v->uplink_ofport = 7;
    v->uplink_mac = (struct eth_addr) ETH_ADDR_C(aa, 55, aa, 55, 00, 03);
    v->gateway_mac = (struct eth_addr) ETH_ADDR_C(00, 00, 5e, 00, 02, 01);
    v->probe_ofport = 8;
    v->probe_mac = (struct eth_addr) ETH_ADDR_C(aa, 55, aa, 55, 00, 08);
    v->vms = xrealloc(v->vms, 2 * sizeof *v->vms);
    v->n_vms = 2;
    v->vms[1] = (struct host_vm) {
        .cookie = 0x6, .ca = ip4(0x0a0a0a0c), .vni = 5002, .ofport = 6,
    };
    v->vnets = xrealloc(v->vnets, 2 * sizeof *v->vnets);
    v->n_vnets = 2;
    v->vnets[1] = (struct host_vnet) { .cookie = 0x7, .vni = 5002 };
    v->vnets[0].n_prefixes = 1;
    v->vnets[0].prefixes = xmalloc(sizeof *v->vnets[0].prefixes);
    v->vnets[0].prefixes[0] = (struct host_prefix) { ip4(0x0a0a0a00), 24 };

    struct in6_addr vip = ip4(0x14141464);               /* 20.20.20.100 */
    v->n_lbs = 4;
    v->lbs = xcalloc(4, sizeof *v->lbs);
    v->lbs[0] = (struct host_lb) { .cookie = 0x10, .vip = vip,
                                   .proto = IPPROTO_TCP, .port = 80,
                                   .backend_port = 8080, .by_mac = true };
    v->lbs[1] = (struct host_lb) { .cookie = 0x12, .vm = 1, .vip = vip,
                                   .proto = IPPROTO_UDP, .port = 53,
                                   .floating_ip = true };
    v->lbs[2] = (struct host_lb) { .cookie = 0x11, .vm = 1, .vip = vip,
                                   .proto = IPPROTO_TCP, .port = 53,
                                   .floating_ip = true };
    v->lbs[3] = (struct host_lb) { .cookie = 0x13, .vip = vip,
                                   .proto = IPPROTO_TCP, .port = 2222,
                                   .backend_port = 22, .nat_rule = true };
    v->n_snats = 1;
    v->snats = xcalloc(1, sizeof *v->snats);
    v->snats[0] = (struct host_snat) { .cookie = 0x20, .vip = vip,
                                       .port_min = 1024, .port_max = 2047 };
    host_view_order_snats(v);
    v->n_acls = 2;
    v->acls = xcalloc(2, sizeof *v->acls);
    v->acls[0] = (struct host_acl) {
        .cookie = 0x30, .to_vm = true, .priority = 200,
        .proto = IPPROTO_TCP, .dst_port_min = 20, .dst_port_max = 23,
    };
    v->acls[1] = (struct host_acl) { .cookie = 0x31, .vm = 1,
                                     .unusable = true };
    v->n_meters = 1;
    v->meters = xzalloc(sizeof *v->meters);
    v->meters[0] = (struct host_meter) { .cookie = 0x40, .meter_id = 10,
                                         .kbps = 1000 };

    /* An IPv6 VM, with a rule, SNAT ports and an ACL entry of its own. */
    v->vms = xrealloc(v->vms, 3 * sizeof *v->vms);
    v->n_vms = 3;
    v->vms[2] = (struct host_vm) {
        .cookie = 0x8, .ca = ip6("fd00:10::12"), .vni = 5001, .ofport = 11,
    };
    struct in6_addr vip6 = ip6("2001:db8::100");
    v->lbs = xrealloc(v->lbs, 5 * sizeof *v->lbs);
    v->n_lbs = 5;
    v->lbs[4] = (struct host_lb) { .cookie = 0x14, .vm = 2, .vip = vip6,
                                   .proto = IPPROTO_TCP, .port = 80 };
    v->snats = xrealloc(v->snats, 2 * sizeof *v->snats);
    v->n_snats = 2;
    v->snats[1] = (struct host_snat) { .cookie = 0x21, .vm = 2, .vip = vip6,
                                       .port_min = 1024, .port_max = 2047 };
    host_view_order_snats(v);
    v->acls = xrealloc(v->acls, 3 * sizeof *v->acls);
    v->n_acls = 3;
    v->acls[2] = (struct host_acl) {
        .cookie = 0x32, .vm = 2, .to_vm = true, .priority = 100,
        .family = AF_INET6, .has_dst = true,
        .dst = { ip6("fd00:10::12"), 128 },
    };
}

/* Appends to 'texts' the flows of 'flows', with their cookies. */
static void
flow_texts(const struct host_flows *flows, struct svec *texts)
{
    for (size_t i = 0; i < flows->n; i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        ds_put_format(&s, "cookie=%#"PRIx64",", flows->flows[i].cookie);
        host_flow_format(&flows->flows[i], &s);
        svec_add_nocopy(texts, ds_steal_cstr(&s));
    }
}

/* The flows of item 'index' of 'kind' of 'v', as sorted texts. */
static void
item_texts(const struct host_view *v, enum host_item_kind kind,
           size_t index, struct svec *texts)
{
    struct host_flows flows = { .n = 0 };
    host_flows_build_item(v, kind, index, &flows);
    flow_texts(&flows, texts);
    svec_sort(texts);
    host_flows_destroy(&flows);
}

/* The items together give the flows of the whole view, each once. */
START_TEST(test_items_make_the_whole)
{
    struct host_view v;
    rich_view(&v);

    struct host_flows flows = { .n = 0 };
    host_flows_build(&v, &flows);
    struct svec whole = SVEC_EMPTY_INITIALIZER;
    flow_texts(&flows, &whole);
    svec_sort(&whole);

    struct svec parts = SVEC_EMPTY_INITIALIZER;
    for (int kind = 0; kind < HOST_N_ITEM_KINDS; kind++) {
        for (size_t i = 0; i < host_view_n_items(&v, kind); i++) {
            struct host_flows item = { .n = 0 };
            host_flows_build_item(&v, kind, i, &item);
            flow_texts(&item, &parts);
            host_flows_destroy(&item);
        }
    }
    svec_sort(&parts);
    ck_assert_uint_eq(whole.n, parts.n);
    for (size_t i = 0; i < whole.n; i++) {
        ck_assert_str_eq(whole.names[i], parts.names[i]);
    }

    svec_destroy(&whole);
    svec_destroy(&parts);
    host_flows_destroy(&flows);
    host_view_destroy(&v);
}
END_TEST

/* Changes to one field of a view, each made to a fresh rich view. */
static void
mutate(struct host_view *v, int which)
{
    switch (which) {
    case 0: v->vms[0].mac.ea[5] ^= 1; break;
    case 1: v->vms[0].ofport = 15; break;
    case 2: v->vms[1].ca = ip4(0x0a0a0a63); break;
    case 3: v->vms[1].vni = 5003; break;
    case 4: v->vnets[1].vni = 5004; break;
    case 5: v->pa = htonl(0xc0a80163); break;
    case 6: v->tunnel_ofport = 19; break;
    case 7: v->probe_mac.ea[5] ^= 1; break;
    case 8: v->probe_ofport = 18; break;
    case 9: v->underlay_mtu = 9000; break;
    case 10: v->uplink_mac.ea[5] ^= 1; break;
    case 11: v->gateway_mac.ea[5] ^= 1; break;
    case 12: v->lbs[0].backend_port = 8081; break;
    case 13: v->meters[0].meter_id = 11; break;
    case 14: v->meters[0].to_vm = true; break;
    case 15: v->snats[0].port_max = 4095; break;
    case 16: v->acls[0].priority = 201; break;
    case 17: v->remote_vms[0].pa = htonl(0xc0a80164); break;
    case 18: v->peers[0].pa = htonl(0xc0a81e34); break;
    case 19: v->vnets[0].prefixes[0].plen = 16; break;
    case 20: v->cookie = 0x99; break;
    case 21: host_peer_add_vni(&v->peers[1], 5002); break;
    case 22: v->vms[2].ca = ip6("fd00:10::13"); break;
    case 23: v->lbs[4].vip = ip6("2001:db8::101"); break;
    case 24: v->acls[2].dst.plen = 64; break;
    case 25: v->candidate_ofport = 20; break;
    case 26: v->lbs[0].tcp_reset = true; break;
    }
}
#define N_MUTATIONS 27

/* An item whose key stays the same when the view changes gives the same
 * flows: the keys hold everything that the flows depend on. */
START_TEST(test_item_keys)
{
    for (int m = 0; m < N_MUTATIONS; m++) {
        struct host_view a, b;
        rich_view(&a);
        rich_view(&b);
        mutate(&b, m);

        size_t n_changed = 0;
        for (int kind = 0; kind < HOST_N_ITEM_KINDS; kind++) {
            for (size_t i = 0; i < host_view_n_items(&a, kind); i++) {
                struct ofpbuf ka, kb;
                ofpbuf_init(&ka, 64);
                ofpbuf_init(&kb, 64);
                host_flows_item_key(&a, kind, i, &ka);
                host_flows_item_key(&b, kind, i, &kb);
                struct svec fa = SVEC_EMPTY_INITIALIZER;
                struct svec fb = SVEC_EMPTY_INITIALIZER;
                item_texts(&a, kind, i, &fa);
                item_texts(&b, kind, i, &fb);
                if (ka.size == kb.size && !memcmp(ka.data, kb.data, ka.size)) {
                    ck_assert_msg(svec_equal(&fa, &fb),
                                  "change %d: item %d/%"PRIuSIZE" gives "
                                  "other flows under the same key", m, kind,
                                  i);
                } else {
                    n_changed++;
                }
                svec_destroy(&fa);
                svec_destroy(&fb);
                ofpbuf_uninit(&ka);
                ofpbuf_uninit(&kb);
            }
        }
        /* Every change concerns some item. */
        ck_assert_msg(n_changed > 0, "change %d: no item's key changed", m);
        host_view_destroy(&a);
        host_view_destroy(&b);
    }
}
END_TEST

/* A dual-stack VM is two VMs of one port: the flows that only the port
 * decides are the same for both, its meter among them, whichever of the
 * two the meter's row names. */
START_TEST(test_dual_stack)
{
    for (size_t named = 0; named < 2; named++) {
        struct host_view v;
        struct host_flows flows;
        base_view(&v);
        v.vms = xrealloc(v.vms, 2 * sizeof *v.vms);
        v.n_vms = 2;
        v.vms[1] = v.vms[0];
        v.vms[1].cookie = 0x6;
        v.vms[1].ca = ip6("fd00:10::12");
        v.n_meters = 1;
        v.meters = xzalloc(sizeof *v.meters);
        v.meters[0] = (struct host_meter) { .cookie = 0x40, .vm = named,
                                            .to_vm = true, .meter_id = 11,
                                            .kbps = 1000 };
        build(&v, &flows);

        /* Both VMs give the port's metered flow, none an unmetered one,
         * so that the bridge meters the port whichever wins. */
        ck_assert_uint_eq(count(&flows, 0x40, "table=30,priority=100,"
                                "reg1=0x5 actions=meter:11,"), 1);
        ck_assert_uint_eq(count(&flows, 0x2, "table=30,priority=100,"
                                "reg1=0x5 actions=goto"), 0);
        ck_assert_uint_eq(count(&flows, 0x6, "table=30,priority=100,"
                                "reg1=0x5 actions=goto"), 0);
        /* Each family's own flows: ARP for one, ND for the other. */
        ASSERT_FLOW(&flows, 0x2, "arp,in_port=5,arp_op=1");
        ASSERT_FLOW(&flows, 0x6, "table=0,priority=110,icmp6,in_port=5,"
                    "icmp_type=135");
        host_flows_destroy(&flows);
        host_view_destroy(&v);
    }
}
END_TEST

static Suite *
host_flows_suite(void)
{
    Suite *s = suite_create("host-flows");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_port_ranges);
    tcase_add_test(tc, test_classify);
    tcase_add_test(tc, test_port_security);
    tcase_add_test(tc, test_lb_variants);
    tcase_add_test(tc, test_tcp_reset);
    tcase_add_test(tc, test_fragments);
    tcase_add_test(tc, test_snat);
    tcase_add_test(tc, test_acls);
    tcase_add_test(tc, test_vnet_and_uplink);
    tcase_add_test(tc, test_ipv6);
    tcase_add_test(tc, test_ipv6_later_fragments);
    tcase_add_test(tc, test_dual_stack);
    tcase_add_test(tc, test_items_make_the_whole);
    tcase_add_test(tc, test_item_keys);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(host_flows_suite)
