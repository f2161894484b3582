/* SPDX-License-Identifier: Apache-2.0 */
/* The OpenFlow pipeline that slb-agent installs on a host's bridge.
 *
 * Like VFP, the pipeline is a series of layers of match-action tables,
 * each layer a range of OpenFlow tables, in packet order.  This header is
 * the one place that assigns table numbers, their names (which the agent
 * gives the bridge, so that "ovs-ofctl dump-tables" and "dump-flows
 * --names" show them) and the registers that carry state between tables.
 * The build fails if two layers overlap, a table lies outside its layer,
 * or two registers share a number. */

#ifndef SLB_PIPELINE_H
#define SLB_PIPELINE_H 1

#include "openvswitch/util.h"

/* SLB_LAYER(ENUM, FIRST, LAST, NAME, PURPOSE): the layers, in packet
 * order, with their ranges of tables. */
#define SLB_LAYERS                                                      \
    SLB_LAYER(CLASSIFY, 0, 9, "classify",                               \
              "which VM port or tunnel peer a packet comes from; "      \
              "packets from unknown tunnel peers, and from VMs with "   \
              "addresses not theirs, are dropped; ARP and neighbour "   \
              "discovery answered")                                     \
    SLB_LAYER(LB, 10, 19, "lb",                                         \
              "load balancing and NAT: DNAT to the backend, floating "  \
              "IP, inbound NAT, the reverse of SNAT")                   \
    SLB_LAYER(ACL, 20, 29, "acl", "stateful per-VM access control")     \
    SLB_LAYER(METER, 30, 39, "meter",                                   \
              "counters and rate limits per VM and rule")               \
    SLB_LAYER(VNET, 40, 49, "vnet",                                     \
              "delivery to local VMs, CA to PA for remote ones")        \
    SLB_LAYER(SNAT, 50, 59, "snat", "outbound SNAT to a VIP and port")  \
    SLB_LAYER(UPLINK, 60, 69, "uplink",                                 \
              "out to the gateway (Direct Server Return) or a tunnel")

/* SLB_TABLE(ENUM, LAYER, NUMBER, NAME): the tables. */
#define SLB_TABLES                                                      \
    SLB_TABLE(CLASSIFY, CLASSIFY, 0, "slb_classify")                    \
    SLB_TABLE(ND_ANSWER, CLASSIFY, 1, "slb_nd_answer")                  \
    SLB_TABLE(PORT_SECURITY, CLASSIFY, 5, "slb_port_security")          \
    SLB_TABLE(LB_IN, LB, 10, "slb_lb_in")                               \
    SLB_TABLE(SNAT_RETURN, LB, 11, "slb_snat_return")                   \
    SLB_TABLE(LB_CANDIDATE, LB, 12, "slb_lb_candidate")                 \
    SLB_TABLE(CANDIDATE_KNOWN, LB, 13, "slb_candidate_known")           \
    SLB_TABLE(LB_RESET_IN, LB, 14, "slb_lb_reset_in")                   \
    SLB_TABLE(LB_OUT, LB, 15, "slb_lb_out")                             \
    SLB_TABLE(LB_RESET_OUT, LB, 16, "slb_lb_reset_out")                 \
    SLB_TABLE(LB_FRAG, LB, 17, "slb_lb_frag")                           \
    SLB_TABLE(LB_FRAG_PORT, LB, 18, "slb_lb_frag_port")                 \
    SLB_TABLE(ACL_TO_VM, ACL, 20, "slb_acl_to_vm")                      \
    SLB_TABLE(ACL_FROM_VM, ACL, 25, "slb_acl_from_vm")                  \
    SLB_TABLE(METER_TO_VM, METER, 30, "slb_meter_to_vm")                \
    SLB_TABLE(METER_FROM_VM, METER, 35, "slb_meter_from_vm")            \
    SLB_TABLE(VNET, VNET, 40, "slb_vnet")                               \
    SLB_TABLE(MUX_PICK, VNET, 41, "slb_mux_pick")                       \
    SLB_TABLE(SNAT, SNAT, 50, "slb_snat")                               \
    SLB_TABLE(SNAT_PICK, SNAT, 51, "slb_snat_pick")                     \
    SLB_TABLE(SNAT_OUT, SNAT, 52, "slb_snat_out")                       \
    SLB_TABLE(UPLINK, UPLINK, 60, "slb_uplink")                         \
    SLB_TABLE(TUNNEL_OUT, UPLINK, 65, "slb_tunnel_out")

/* SLB_REG(ENUM, NUMBER, PURPOSE): the registers (NXM_NX_REGn). */
#define SLB_REGS                                                        \
    SLB_REG(VNI, 0, "the packet's virtual network")                     \
    SLB_REG(VM_PORT, 1, "OpenFlow port of the VM the packet is of")     \
    SLB_REG(FLAGS, 2, "SLB_FLAG_* bits")                                \
    SLB_REG(TOO_BIG, 3, "bit 0: the frame is too big for the tunnel")   \
    SLB_REG(SNAT_WAY, 4, "which of its VM's SNAT ranges a new "         \
            "connection leaves from")                                   \
    SLB_REG(MUX_WAY, 5, "which mux a VM's packet to an internal VIP "   \
            "goes to")                                                  \
    SLB_REG(FRAG_PORT, 6, "a fragment's datagram's protocol (bits "     \
            "16-23) and destination port (bits 0-15), which the agent " \
            "writes")

/* Bits of the FLAGS register. */
#define SLB_FLAG_FROM_VM 1      /* The packet came from a local VM. */
#define SLB_FLAG_LOOKED_UP 2    /* A packet of a rule with TCP reset: its
                                 * VM's conntrack has looked it up, and
                                 * the rule's flows commit it now. */

/* Bits of a connection's ct_mark, in the conntrack zone of its VM (the
 * zone is the VM port's OpenFlow port number). */
#define SLB_CT_LB 1             /* A mux brought it in: replies go out by
                                 * Direct Server Return. */
#define SLB_CT_ALLOWED 2        /* The VM's ACLs allowed it. */
#define SLB_CT_SNAT 4           /* Outbound, SNATed to a VIP. */

/* The packets that the pipeline sends to the agent go through OpenFlow
 * meter SLB_PIN_METER (no VM's meter has its number: see the meter
 * layer), which lets SLB_PIN_RATE of them a second through after a burst
 * of as many, so that no flood of them (a VM's frames too big for the
 * tunnel, segments of connections unknown to a rule with TCP reset,
 * fragments to hold) can keep the switch and the agent busy; the others
 * are dropped. */
#define SLB_PIN_METER 1
#define SLB_PIN_RATE 1000

/* The userdata of the packets that the pipeline sends to the agent: a
 * 32-bit reason. */
#define SLB_PIN_FRAG_NEEDED 1   /* Too big for the tunnel: the agent answers
                                 * with ICMP "fragmentation needed", or
                                 * ICMPv6 "packet too big". */
#define SLB_PIN_TCP_RESET 2     /* A TCP segment, to or from a VM, of a
                                 * connection of a rule with TCP reset that
                                 * the VM's conntrack no longer knows (it
                                 * idled out): the agent resets both ends.
                                 * The flow's cookie is the rule's, and
                                 * the VM port register says which VM. */
#define SLB_PIN_FRAGMENT 3      /* A fragment of a datagram whose port (or,
                                 * from a VM, protocol) decides where it
                                 * goes, paused: the agent holds it until
                                 * the datagram's first fragment shows them,
                                 * writes the protocol and port into
                                 * SLB_REG_FRAG_PORT (SLB_FRAG_PORT()) and
                                 * resumes it, on to the table that the
                                 * flow names: SLB_TABLE_LB_FRAG_PORT, or
                                 * SLB_TABLE_SNAT again. */

/* The value of SLB_REG_FRAG_PORT for a datagram of protocol 'PROTO' to
 * destination port 'PORT'. */
#define SLB_FRAG_PORT(PROTO, PORT) ((uint32_t) (PROTO) << 16 | (PORT))

/* The bytes that VXLAN adds to an inner Ethernet frame: outer Ethernet,
 * IPv4, UDP and VXLAN headers.  An underlay of MTU M carries inner frames
 * of up to M - 36 bytes, inner IPv4 packets of up to M - 50. */
#define SLB_VXLAN_OVERHEAD 50

/* Health probes: the agent probes each local VM from the host's probe
 * port, whose address is SLB_PROBE_SOURCE (ACLs can allow it), or for a
 * VM of IPv6 the port's link-local SLB_PROBE_SOURCE6, to an address that
 * stands for the VM (see host_flows_probe_address()) and that the
 * pipeline translates to and from the VM's CA.  (No VM may have a
 * link-local CA, nor send from one but for neighbour discovery.) */
#define SLB_PROBE_PORT "slb-probe"
#define SLB_PROBE_SOURCE "169.254.0.1"
#define SLB_PROBE_SOURCE_PLEN 16
#define SLB_PROBE_SOURCE6 "fe80::5b:1"
#define SLB_PROBE_SOURCE6_PLEN 64

/* Data-path probes: a mux checks the way of a VIP's packets to each host
 * with a backend of the VIP by sending it, as it sends the VIP's packets,
 * an ICMP echo request from SLB_PATH_PROBE_SOURCE to the VIP, or for an
 * IPv6 VIP an ICMPv6 one from SLB_PATH_PROBE_SOURCE6.  The host's
 * load-balancing layer answers it as long as it holds a backend of the
 * VIP: it turns it into an echo reply, addresses swapped, and sends it
 * back through the tunnel to the mux.  No VM sees it.  (Addresses of the
 * link-local blocks, which no VM may send from, outside the VMs' and the
 * probe port's addresses.) */
#define SLB_PATH_PROBE_SOURCE 0xa9fe0002  /* 169.254.0.2, in host order. */
#define SLB_PATH_PROBE_SOURCE6_INIT                     /* fe80::5b:3 */ \
    { .s6_addr = { 0xfe, 0x80, [13] = 0x5b, [15] = 0x03 } }

/* Candidate copies: a mux that gets a TCP segment, not a SYN, of a
 * connection that it does not know (another mux placed it), and whose
 * tables disagree on where that connection went (a backend changed since
 * it began), sends the segment to the host of each backend that it may
 * have, to this UDP port rather than VXLAN's.  The host's second VXLAN
 * port takes them, and passes one on to its VM only if the VM's
 * connection tracking knows the connection; it drops the others, and
 * counts them. */
#define SLB_VXLAN_CANDIDATE_PORT 4790
#define SLB_CANDIDATE_PORT "slb-vxlan-cand"

/* The MAC address of the host's virtual router, as the VMs see it: the
 * agent answers their ARP requests with it, and it is the source of the
 * frames that the host delivers to them. */
#define SLB_VROUTER_MAC "0a:00:5b:00:00:01"

enum slb_layer {
#define SLB_LAYER(ENUM, FIRST, LAST, NAME, PURPOSE) SLB_LAYER_##ENUM,
    SLB_LAYERS
#undef SLB_LAYER
    SLB_N_LAYERS
};

/* Layer bounds, as constants for the checks below. */
enum {
#define SLB_LAYER(ENUM, FIRST, LAST, NAME, PURPOSE)                     \
    SLB_LAYER_FIRST_##ENUM = FIRST, SLB_LAYER_LAST_##ENUM = LAST,
    SLB_LAYERS
#undef SLB_LAYER
};

enum slb_table {
#define SLB_TABLE(ENUM, LAYER, NUMBER, NAME) SLB_TABLE_##ENUM = NUMBER,
    SLB_TABLES
#undef SLB_TABLE
};

enum slb_reg {
#define SLB_REG(ENUM, NUMBER, PURPOSE) SLB_REG_##ENUM = NUMBER,
    SLB_REGS
#undef SLB_REG
};

/* Every table lies inside its layer. */
#define SLB_TABLE(ENUM, LAYER, NUMBER, NAME)                            \
    BUILD_ASSERT_DECL(NUMBER >= SLB_LAYER_FIRST_##LAYER                 \
                      && NUMBER <= SLB_LAYER_LAST_##LAYER);
SLB_TABLES
#undef SLB_TABLE

/* No two layers share a table: the tables of all layers, counted layer by
 * layer, are as many as in their union.  (Masks of up to 128 tables.) */
#define SLB_RANGE_MASK_(FIRST, LAST)                                    \
    ((((unsigned __int128) 1 << ((LAST) + 1)) - 1)                      \
     & ~(((unsigned __int128) 1 << (FIRST)) - 1))
#define SLB_POPCOUNT128_(X)                                             \
    (__builtin_popcountll((unsigned long long) (X))                     \
     + __builtin_popcountll((unsigned long long) ((X) >> 64)))

#define SLB_LAYER(ENUM, FIRST, LAST, NAME, PURPOSE)                     \
    + SLB_POPCOUNT128_(SLB_RANGE_MASK_(FIRST, LAST))
enum { SLB_LAYER_TABLES_SUM_ = 0 SLB_LAYERS };
#undef SLB_LAYER
#define SLB_LAYER(ENUM, FIRST, LAST, NAME, PURPOSE)                     \
    | SLB_RANGE_MASK_(FIRST, LAST)
enum {
    SLB_LAYER_TABLES_UNION_ = SLB_POPCOUNT128_((unsigned __int128) 0
                                               SLB_LAYERS)
};
#undef SLB_LAYER
BUILD_ASSERT_DECL((int) SLB_LAYER_TABLES_SUM_
                  == (int) SLB_LAYER_TABLES_UNION_);

/* No two tables share a number, and no two registers. */
#define SLB_TABLE(ENUM, LAYER, NUMBER, NAME) + 1
enum { SLB_N_TABLES = 0 SLB_TABLES };
#undef SLB_TABLE
#define SLB_TABLE(ENUM, LAYER, NUMBER, NAME)                            \
    | ((unsigned __int128) 1 << NUMBER)
BUILD_ASSERT_DECL(SLB_POPCOUNT128_((unsigned __int128) 0 SLB_TABLES)
                  == SLB_N_TABLES);
#undef SLB_TABLE

#define SLB_REG(ENUM, NUMBER, PURPOSE) + 1
enum { SLB_N_REGS = 0 SLB_REGS };
#undef SLB_REG
#define SLB_REG(ENUM, NUMBER, PURPOSE) | (1u << NUMBER)
BUILD_ASSERT_DECL(__builtin_popcount(0 SLB_REGS) == SLB_N_REGS);
#undef SLB_REG

const char *slb_table_name(int table);
const char *slb_layer_name(enum slb_layer);

#endif /* pipeline.h */
