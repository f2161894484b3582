/* Unit tests for vswitch-ext/host-flows.c: port ranges as bit-masked
 * matches, and the flows that views of a host give, each of which must
 * parse as an OpenFlow flow. */

#include <config.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "host-flows.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/util.h"
#include "pipeline.h"
#include "random.h"
#include "slb-check.h"
#include "svec.h"
#include "util.h"

/* Asserts that the matches of 'min'...'max' take every port of the range
 * and no other, with no port in two blocks. */
static void
check_port_range(uint16_t min, uint16_t max)
{
    struct svec matches = SVEC_EMPTY_INITIALIZER;
    host_flows_port_matches("tp_dst", min, max, &matches);
    ck_assert_uint_le(matches.n, 30);

    static uint8_t hits[65536];
    memset(hits, 0, sizeof hits);
    for (size_t i = 0; i < matches.n; i++) {
        unsigned int value, mask;
        if (sscanf(matches.names[i], ",tp_dst=0x%x/0x%x", &value, &mask)
            != 2) {
            ck_assert_int_eq(sscanf(matches.names[i], ",tp_dst=%u", &value),
                             1);
            mask = 0xffff;
        }
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
    svec_destroy(&matches);
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

/* A host with one VM (10.10.10.12, port 5), a mux and another host as
 * peers, a VM of that other host, and whatever the test adds. */
static void
base_view(struct host_view *v)
{
    memset(v, 0, sizeof *v);
    v->cookie = 0x1;
    v->pa = htonl(0xc0a8010c);                      /* 192.168.1.12 */
    v->tunnel_ofport = 9;
    v->underlay_mtu = 1500;
    v->uplink_ofport = -1;

    v->n_vms = 1;
    v->vms = xzalloc(sizeof *v->vms);
    v->vms[0] = (struct host_vm) {
        .cookie = 0x2, .ca = htonl(0x0a0a0a0c), .vni = 5001, .ofport = 5,
        .mac = ETH_ADDR_C(00, 00, 00, 00, 00, 12),
    };
    v->n_remote_vms = 1;
    v->remote_vms = xzalloc(sizeof *v->remote_vms);
    v->remote_vms[0] = (struct host_remote_vm) {
        .cookie = 0x3, .ca = htonl(0x0a0a0a0b), .vni = 5001,
        .pa = htonl(0xc0a8010b),
    };
    v->n_peers = 2;
    v->peers = xcalloc(2, sizeof *v->peers);
    v->peers[0] = (struct host_peer) { 0x4, htonl(0xc0a81e33) };
    v->peers[1] = (struct host_peer) { 0x3, htonl(0xc0a8010b) };
    v->n_vnets = 1;
    v->vnets = xzalloc(sizeof *v->vnets);
    v->vnets[0].cookie = 0x5;
    v->vnets[0].vni = 5001;
}

/* Builds the flows of 'v', asserts that each parses as an OpenFlow flow,
 * and returns them. */
static void
build(const struct host_view *v, struct host_flows *flows)
{
    memset(flows, 0, sizeof *flows);
    host_flows_build(v, flows);
    for (size_t i = 0; i < flows->n; i++) {
        struct ofputil_flow_mod fm;
        enum ofputil_protocol usable;
        char *error = parse_ofp_flow_mod_str(&fm, flows->flows[i].spec,
                                             NULL, NULL, OFPFC_ADD,
                                             &usable);
        ck_assert_msg(!error, "%s: %s", flows->flows[i].spec, error);
        minimatch_destroy(&fm.match);
        free(CONST_CAST(struct ofpact *, fm.ofpacts));
    }
}

/* Returns the number of flows in 'flows' of 'cookie' whose text contains
 * 'text'. */
static size_t
count(const struct host_flows *flows, uint64_t cookie, const char *text)
{
    size_t n = 0;
    for (size_t i = 0; i < flows->n; i++) {
        if (flows->flows[i].cookie == cookie
            && strstr(flows->flows[i].spec, text)) {
            n++;
        }
    }
    return n;
}

#define ASSERT_FLOW(FLOWS, COOKIE, TEXT)                                \
    ck_assert_msg(count(FLOWS, COOKIE, TEXT) == 1,                      \
                  "expected one flow of cookie %#x with \"%s\"",        \
                  (unsigned int) (COOKIE), TEXT)
#define ASSERT_NO_FLOW(FLOWS, COOKIE, TEXT)                             \
    ck_assert_msg(count(FLOWS, COOKIE, TEXT) == 0,                      \
                  "unexpected flow of cookie %#x with \"%s\"",          \
                  (unsigned int) (COOKIE), TEXT)

START_TEST(test_classify)
{
    struct host_view v;
    struct host_flows flows;
    base_view(&v);
    build(&v, &flows);

    /* Each peer, to this host's PA, with each VNI; the drop after. */
    ASSERT_FLOW(&flows, 0x4, "table=0,priority=100,in_port=9,"
                "tun_src=192.168.30.51,tun_dst=192.168.1.12,tun_id=5001 "
                "actions=set_field:5001->reg0,goto_table:10");
    ASSERT_FLOW(&flows, 0x3, "tun_src=192.168.1.11,tun_dst=192.168.1.12");
    ASSERT_FLOW(&flows, 0x1, "table=0,priority=50,in_port=9 actions=drop");

    /* The VM's packets, and its ARP. */
    ASSERT_FLOW(&flows, 0x2, "table=0,priority=100,in_port=5 actions="
                "set_field:5001->reg0,set_field:5->reg1,set_field:1->reg2,"
                "goto_table:5");
    ASSERT_FLOW(&flows, 0x2, "arp_tpa=10.10.10.12 actions=drop");
    ASSERT_FLOW(&flows, 0x2, "arp,arp_op=1");

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
        .cookie = 0x6, .ca = htonl(0x0a0a0a0d), .vni = 5001, .ofport = 6,
    };
    ovs_be32 vip = htonl(0x14141464);               /* 20.20.20.100 */
    v.n_lbs = 5;
    v.lbs = xcalloc(5, sizeof *v.lbs);
    v.lbs[0] = (struct host_lb) { .cookie = 0x12, .vm = 0, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 80,
                                  .floating_ip = true };
    v.lbs[1] = (struct host_lb) { .cookie = 0x11, .vm = 0, .vip = vip,
                                  .proto = IPPROTO_UDP, .port = 53,
                                  .floating_ip = true };
    v.lbs[2] = (struct host_lb) { .cookie = 0x13, .vm = 0,
                                  .vip = htonl(0x14141465),
                                  .floating_ip = true };
    v.lbs[3] = (struct host_lb) { .cookie = 0x14, .vm = 1, .vip = vip,
                                  .proto = IPPROTO_TCP, .port = 80,
                                  .floating_ip = true };
    v.lbs[4] = (struct host_lb) { .cookie = 0x15, .vm = 1,
                                  .vip = htonl(0x14141466),
                                  .proto = IPPROTO_TCP, .port = 80 };
    build(&v, &flows);

    /* Each VM's CA, with its MAC if known. */
    ASSERT_FLOW(&flows, 0x2, "table=5,priority=100,reg1=5,"
                "dl_src=00:00:00:00:00:12,ip,nw_src=10.10.10.12 "
                "actions=goto_table:15");
    ASSERT_FLOW(&flows, 0x6, "table=5,priority=100,reg1=6,ip,"
                "nw_src=10.10.10.13 actions=goto_table:15");

    /* Each VM's floating IPs, once each, from the rule of the lowest
     * cookie; none for a rule without floating IP. */
    ASSERT_FLOW(&flows, 0x11, "table=5,priority=100,reg1=5,"
                "dl_src=00:00:00:00:00:12,ip,nw_src=20.20.20.100 ");
    ASSERT_NO_FLOW(&flows, 0x12, "table=5,");
    ASSERT_FLOW(&flows, 0x13, "reg1=5,dl_src=00:00:00:00:00:12,ip,"
                "nw_src=20.20.20.101 ");
    ASSERT_FLOW(&flows, 0x14, "table=5,priority=100,reg1=6,ip,"
                "nw_src=20.20.20.100 ");
    ASSERT_NO_FLOW(&flows, 0x15, "table=5,");

    /* Anything else from a VM is dropped by a flow of its own. */
    ASSERT_FLOW(&flows, 0x2, "table=5,priority=50,reg1=5 actions=drop");
    ASSERT_FLOW(&flows, 0x6, "table=5,priority=50,reg1=6 actions=drop");
    ASSERT_FLOW(&flows, 0x1, "table=5,priority=0 actions=drop");

    size_t n = 0;
    for (size_t i = 0; i < flows.n; i++) {
        n += !strncmp(flows.flows[i].spec, "table=5,", 8);
    }
    ck_assert_uint_eq(n, 8);

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
    ovs_be32 vip = htonl(0x14141464);               /* 20.20.20.100 */
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
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=100,reg0=5001,"
                "dl_dst=00:00:00:00:00:12,tcp,tp_dst=80,nw_dst=20.20.20.100 "
                "actions=set_field:5->reg1,ct(commit,zone=5,"
                "nat(dst=10.10.10.12:8080),exec(set_field:1/1->ct_mark),"
                "table=20)");
    ASSERT_FLOW(&flows, 0x10, "table=10,priority=99,reg0=5001,tcp,"
                "tp_dst=80,nw_dst=20.20.20.100 actions=set_field:5->reg1,"
                "ct(commit,zone=5,nat(dst=10.10.10.12:8080),"
                "exec(set_field:1/1->ct_mark),table=20)");
    /* Floating IP: no translation. */
    ASSERT_FLOW(&flows, 0x11, "udp,tp_dst=53,nw_dst=20.20.20.100 "
                "actions=set_field:5->reg1,ct(commit,zone=5,"
                "exec(set_field:1/1->ct_mark),table=20)");
    /* HA ports: every protocol and port; the address only. */
    ASSERT_FLOW(&flows, 0x12, "reg0=5001,ip,nw_dst=20.20.20.100 actions="
                "set_field:5->reg1,ct(commit,zone=5,nat(dst=10.10.10.12),");
    /* An inbound NAT rule wins over load-balancing rules. */
    ASSERT_FLOW(&flows, 0x13, "table=10,priority=110,reg0=5001,tcp,"
                "tp_dst=2222");
    ASSERT_FLOW(&flows, 0x13, "nat(dst=10.10.10.12:22)");

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
        .cookie = 0x20, .vip = htonl(0x14141464), .port_min = 1024,
        .port_max = 2047,
    };
    build(&v, &flows);

    /* Both protocols, out from the range and back into it. */
    ASSERT_FLOW(&flows, 0x20, "table=50,priority=100,reg1=5,"
                "ct_state=+new+trk,tcp actions=ct(commit,zone=5,"
                "nat(src=20.20.20.100:1024-2047),"
                "exec(set_field:6/6->ct_mark),table=60)");
    ASSERT_FLOW(&flows, 0x20, "ct_state=+new+trk,udp");
    ASSERT_FLOW(&flows, 0x20, "table=10,priority=90,reg0=5001,tcp,"
                "nw_dst=20.20.20.100,tp_dst=0x400/0xfc00 actions="
                "set_field:5->reg1,ct(zone=5,nat,table=11)");
    ASSERT_FLOW(&flows, 0x20, "udp,nw_dst=20.20.20.100,tp_dst=0x400/0xfc00");
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
        .proto = IPPROTO_TCP, .src = htonl(0x01020300),
        .src_mask = htonl(0xffffff00), .dst_port_min = 8000,
        .dst_port_max = 8099,
    };
    v.acls[1] = (struct host_acl) {
        .cookie = 0x31, .to_vm = false, .priority = 7, .allow = true,
        .dst = htonl(0x08080808), .dst_mask = OVS_BE32_MAX,
        /* Ports without TCP or UDP mean nothing and match nothing. */
        .src_port_min = 5, .src_port_max = 5,
    };
    build(&v, &flows);

    /* A deny entry: one flow per block of ports, above the default. */
    ck_assert_uint_eq(count(&flows, 0x30, "table=20,priority=1200,reg1=5,"
                            "tcp,nw_src=1.2.3.0/24,tp_dst="), 3);
    ck_assert_uint_eq(count(&flows, 0x30, "actions=drop"), 3);
    /* An allow entry from the VM: on to metering; committed later. */
    ASSERT_FLOW(&flows, 0x31, "table=25,priority=1007,reg1=5,ip,"
                "nw_dst=8.8.8.8 actions=goto_table:35");
    /* To the VM, the default allows and commits as allowed. */
    ASSERT_FLOW(&flows, 0x1, "table=20,priority=0,ip actions=ct(commit,"
                "zone=NXM_NX_REG1[0..15],exec(set_field:2/2->ct_mark)),"
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
    v.vnets[0].masks = xmalloc(sizeof *v.vnets[0].masks);
    v.vnets[0].prefixes[0] = htonl(0x0a0a0a00);
    v.vnets[0].masks[0] = htonl(0xffffff00);
    build(&v, &flows);

    /* Delivery, and the remote VM through the tunnel (no MAC known). */
    ASSERT_FLOW(&flows, 0x2, "table=40,priority=100,reg1=5,reg2=0/1 "
                "actions=set_field:"SLB_VROUTER_MAC"->eth_src,"
                "set_field:00:00:00:00:00:12->eth_dst,output:5");
    ASSERT_FLOW(&flows, 0x3, "table=40,priority=100,reg0=5001,reg2=1/1,"
                "ip,nw_dst=10.10.10.11 actions=set_field:"SLB_VROUTER_MAC
                "->eth_src,set_field:192.168.1.11->tun_dst,"
                "set_field:5001->tun_id,check_pkt_larger(1464)->"
                "NXM_NX_REG3[0],resubmit(,65)");
    /* Into the tunnel if the frame fits a 1500-byte underlay, else to the
     * agent. */
    ASSERT_FLOW(&flows, 0x1, "table=65,priority=100,reg3=1/1 "
                "actions=controller(userdata=00.00.00.01)");
    ASSERT_FLOW(&flows, 0x1, "table=65,priority=0 actions=output:9");
    ASSERT_FLOW(&flows, 0x3, "table=40,priority=101");
    ASSERT_FLOW(&flows, 0x5, "priority=80,reg0=5001,ip,"
                "nw_dst=10.10.10.0/24 actions=drop");
    /* The meter on the way out of the VM, none on the way in. */
    ASSERT_FLOW(&flows, 0x40, "table=35,priority=100,reg1=5 "
                "actions=meter:10,goto_table:40");
    ASSERT_FLOW(&flows, 0x2, "table=30,priority=100,reg1=5 "
                "actions=goto_table:40");
    /* Probes: from the probe port to the VM's probe address, translated
     * to its CA, and the answers back from the probe address. */
    ASSERT_FLOW(&flows, 0x2, "table=0,priority=110,in_port=8,ip,"
                "nw_src=169.254.0.1,nw_dst=169.254.128.5 actions="
                "set_field:5001->reg0,set_field:5->reg1,"
                "set_field:10.10.10.12->ip_dst,ct(zone=5,nat,table=20)");
    ASSERT_FLOW(&flows, 0x2, "table=40,priority=110,reg1=5,reg2=1/1,ip,"
                "nw_src=10.10.10.12,nw_dst=169.254.0.1 actions="
                "set_field:169.254.128.5->ip_src,set_field:"SLB_VROUTER_MAC
                "->eth_src,set_field:aa:55:aa:55:00:08->eth_dst,output:8");
    ASSERT_FLOW(&flows, 0x1, "table=0,priority=100,in_port=8 actions=drop");

    /* Out through the uplink, to the gateway. */
    ASSERT_FLOW(&flows, 0x1, "table=60,priority=100,reg2=1/1,ip "
                "actions=set_field:aa:55:aa:55:00:03->eth_src,"
                "set_field:00:00:5e:00:02:01->eth_dst,output:7");

    host_flows_destroy(&flows);
    host_view_destroy(&v);
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
    tcase_add_test(tc, test_snat);
    tcase_add_test(tc, test_acls);
    tcase_add_test(tc, test_vnet_and_uplink);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(host_flows_suite)
