/* SPDX-License-Identifier: Apache-2.0 */
/* The flows of a host's pipeline, computed from a view of the host.
 *
 * slb-agent reads the SLB and local Open_vSwitch databases into a struct
 * host_view: what this host needs to know, in plain values (addresses,
 * ports, OpenFlow port numbers), each item with the cookie of the database
 * row it comes from.  host_flows_build() turns a view into the flows of
 * every layer of pipeline.h.  It knows nothing of OVSDB or OpenFlow
 * connections, so that unit tests can give it views of their own.
 *
 * Addresses of the overlay (CAs, VIPs, their prefixes) may be of either
 * family: each is a struct in6_addr, an IPv4 address IPv4-mapped, as
 * lib/slb-parse.h holds them, and each item's flows are of its address's
 * family.  Addresses of the underlay (PAs) are IPv4. */

#ifndef HOST_FLOWS_H
#define HOST_FLOWS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/match.h"
#include "openvswitch/types.h"
#include "packets.h"

/* An overlay prefix: 'plen' leading bits of 'net', counted in the bits of
 * its family (0 to 32 for IPv4, to 128 for IPv6). */
struct host_prefix {
    struct in6_addr net;
    unsigned int plen;
};

/* A VM port bound on this host to a backend.  A dual-stack VM's port is
 * two of them, one for each family, with the same port, network and
 * zone; the flows that only the port decides (classification, delivery,
 * metering, port security's drop) are the same for both. */
struct host_vm {
    uint64_t cookie;            /* Of the VM row. */
    struct in6_addr ca;
    uint32_t vni;
    int ofport;                 /* Also the VM's conntrack zone. */
    struct eth_addr mac;        /* eth_addr_zero if unknown. */
};

/* A VM of a virtual network on another host. */
struct host_remote_vm {
    uint64_t cookie;            /* Of the VM row. */
    struct in6_addr ca;
    uint32_t vni;
    ovs_be32 pa;                /* Its host's PA. */
    struct eth_addr mac;        /* eth_addr_zero if unknown. */
};

/* A tunnel peer (a mux or another host) that may send to this host: a
 * mux with the VNI of any of this host's virtual networks, another host
 * only with those of the networks that it has VMs of too. */
struct host_peer {
    uint64_t cookie;            /* Of the Mux or Host row. */
    ovs_be32 pa;
    bool any_vni;               /* A mux. */
    uint32_t *vnis;             /* A host: those VNIs, in ascending order. */
    size_t n_vnis;
};

/* A mux, to which the hosts send their VMs' packets to internal VIPs. */
struct host_mux {
    uint64_t cookie;            /* Of the Mux row. */
    ovs_be32 pa;
};

/* An internal VIP of the virtual network of a local VM: an address of the
 * network that stands for a load balancer, whose mux picks the backend. */
struct host_internal_vip {
    uint64_t cookie;            /* Of the Frontend row. */
    uint32_t vni;
    struct in6_addr vip;
};

/* A virtual network. */
struct host_vnet {
    uint64_t cookie;            /* Of the VNet row. */
    uint32_t vni;
    struct host_prefix *prefixes;       /* Its CA space. */
    size_t n_prefixes;
};

/* A load-balancing or inbound NAT rule that sends to a local VM. */
struct host_lb {
    uint64_t cookie;            /* Of the LB_Rule or Inbound_NAT_Rule. */
    size_t vm;                  /* Index in host_view's 'vms'. */
    struct in6_addr vip;        /* Of the VM's family. */
    uint8_t proto;              /* IPPROTO_TCP or _UDP, or 0 for all. */
    uint16_t port;              /* Frontend port (not for proto 0). */
    uint16_t backend_port;      /* 0: the frontend port. */
    bool floating_ip;           /* The VM owns the VIP: no DNAT. */
    bool nat_rule;              /* An inbound NAT rule: it takes
                                 * precedence over load-balancing rules. */
    bool by_mac;                /* Only for packets to the VM's MAC, the
                                 * mux's way to say which VM it chose; the
                                 * rule's other packets go to the VM of its
                                 * entry without 'by_mac'. */
    bool fragments;             /* It takes fragmented datagrams too, whose
                                 * destination port becomes... */
    uint16_t fragment_port;     /* ...this, or stays if 0
                                 * (host_view_settle_fragments())... */
    bool fragments_looked_up;   /* ...after a lookup in conntrack, which
                                 * tells them from replies to a local VM's
                                 * SNAT ports of the VIP. */
    bool fragments_held;        /* Or: the agent holds every fragment of
                                 * the VIP and protocol until the first one
                                 * shows the datagram's port, which then
                                 * picks the entry (SLB_PIN_FRAGMENT). */
    uint32_t idle_timeout;      /* Seconds a connection may stay idle. */
    bool tcp_reset;             /* Either end of a TCP connection that the
                                 * VM's conntrack no longer knows gets the
                                 * agent to reset both (not for inbound
                                 * NAT rules). */
};

/* The SNAT ports of a local VM: its outbound connections leave from
 * 'vip':'port_min'-'port_max'. */
struct host_snat {
    uint64_t cookie;            /* Of the SNAT_Allocation row. */
    size_t vm;                  /* Index in host_view's 'vms'. */
    struct in6_addr vip;        /* Of the VM's family. */
    uint8_t proto;              /* IPPROTO_TCP or _UDP, or 0 for both. */
    uint16_t port_min, port_max;
    uint8_t exits;              /* HOST_SNAT_TCP and _UDP: the protocols
                                 * whose new connections may leave through
                                 * this range (host_view_order_snats())... */
    uint8_t way[2];             /* ...for TCP and for UDP: its number among
                                 * the VM's ranges that take the protocol,
                                 * and... */
    uint8_t n_ways[2];          /* ...how many they are. */
    uint32_t idle_timeout;      /* Seconds a translation may stay idle. */
    bool reply_fragments;       /* The later fragments of replies to the
                                 * VIP and protocol reach the VM through
                                 * this range (host_view_settle_fragments()):
                                 * they name no port. */
    uint8_t fragments_held;     /* HOST_SNAT_TCP and _UDP: the protocols
                                 * whose fragments to the VIP the agent
                                 * holds (as host_lb's 'fragments_held'),
                                 * some of which may be replies to this
                                 * range. */
    bool later_fragments_held;  /* IPv6: no range of the VM takes its later
                                 * fragments, which show no protocol, for
                                 * every protocol: the agent holds every
                                 * fragment of its new connections until
                                 * the first one shows the protocol
                                 * (host_view_order_snats()). */
};

#define HOST_SNAT_TCP 1
#define HOST_SNAT_UDP 2

/* An access control entry of a local VM. */
struct host_acl {
    uint64_t cookie;            /* Of the ACL row. */
    size_t vm;                  /* Index in host_view's 'vms'. */
    bool to_vm;                 /* Direction: to the VM or from it. */
    uint16_t priority;          /* 0 to 32767, higher first. */
    uint8_t proto;              /* IPPROTO_TCP, _UDP, _ICMP (ICMPv6 for
                                 * IPv6), or 0: any. */
    int family;                 /* AF_INET, AF_INET6, or AF_UNSPEC for
                                 * both, when neither prefix is set. */
    struct host_prefix src;     /* Set if 'has_src', of 'family'. */
    struct host_prefix dst;     /* Set if 'has_dst', of 'family'. */
    bool has_src, has_dst;
    uint16_t src_port_min, src_port_max;    /* 0, 0: any. */
    uint16_t dst_port_min, dst_port_max;    /* 0, 0: any. */
    bool allow;
    bool unusable;              /* The agent could not understand the row:
                                 * it drops all of the VM's traffic in this
                                 * direction, and the rest is unset. */
};

/* The rate limit of a local VM's traffic in one direction. */
struct host_meter {
    uint64_t cookie;            /* Of the Meter row. */
    size_t vm;                  /* Index in host_view's 'vms'. */
    bool to_vm;
    uint32_t meter_id;          /* The OpenFlow meter that limits it. */
    uint32_t kbps;              /* The limit, in kilobits per second... */
    uint32_t burst;             /* ...after a burst of this many kilobits,
                                 * or 0 for the switch's default. */
};

/* Everything that the pipeline of one host depends on. */
struct host_view {
    uint64_t cookie;            /* Of this host's Host row. */
    ovs_be32 pa;                /* This host's PA. */
    int tunnel_ofport;          /* The VXLAN port. */
    int candidate_ofport;       /* The VXLAN port of the muxes' candidate
                                 * copies (pipeline.h). */
    int underlay_mtu;           /* The largest IPv4 packet of the
                                 * underlay. */

    /* Toward the gateway, for Direct Server Return and SNAT: 'uplink_ofport'
     * is -1 if the host has none yet. */
    int uplink_ofport;
    struct eth_addr uplink_mac;
    struct eth_addr gateway_mac;

    /* The probe port, from which the agent probes the VMs: 'probe_ofport'
     * is -1 if the host has none yet. */
    int probe_ofport;
    struct eth_addr probe_mac;

    struct host_vm *vms;
    size_t n_vms;
    struct host_remote_vm *remote_vms;
    size_t n_remote_vms;
    struct host_peer *peers;
    size_t n_peers;
    struct host_mux *muxes;     /* The muxes that take packets to internal
                                 * VIPs, in the order of their ways... */
    size_t n_muxes;
    ovs_be32 mux_anycast;       /* ...or their shared address, if nonzero,
                                 * where the underlay picks one. */
    struct host_internal_vip *internal_vips;
    size_t n_internal_vips;
    struct host_vnet *vnets;
    size_t n_vnets;
    struct host_lb *lbs;
    size_t n_lbs;
    struct host_snat *snats;
    size_t n_snats;
    struct host_acl *acls;
    size_t n_acls;
    struct host_meter *meters;
    size_t n_meters;
};

void host_view_destroy(struct host_view *);
void host_peer_add_vni(struct host_peer *, uint32_t vni);
size_t host_view_find_vm(const struct host_view *, const struct in6_addr *ca,
                         uint32_t vni);
void host_view_order_snats(struct host_view *);
void host_view_settle_fragments(struct host_view *);

/* A flow of the pipeline, and the cookie of the row it comes from. */
struct host_flow {
    uint64_t cookie;
    uint8_t table_id;
    uint16_t priority;
    struct minimatch match;
    struct ofpact *ofpacts;     /* None: drop. */
    size_t ofpacts_len;
};

struct host_flows {
    struct host_flow *flows;
    size_t n, allocated;
};

struct ds;

/* The priority of each VM's drop flow in SLB_TABLE_PORT_SECURITY, whose
 * counters are the VM's packets that port security dropped. */
#define HOST_FLOWS_PORT_SECURITY_DROP 50

/* The priority of each VM's drop flow in SLB_TABLE_SNAT_OUT, whose
 * counters are the VM's new connections that SNAT could not translate. */
#define HOST_FLOWS_SNAT_FAILED 50

/* An aligned block of transport ports: those whose bits under 'mask' are
 * 'value'. */
struct host_port_block {
    uint16_t value;
    uint16_t mask;
};

/* OpenFlow matches ports with bit masks, not ranges: a range takes at
 * most this many blocks. */
#define HOST_FLOWS_MAX_PORT_BLOCKS 32

/* The items of a view, each of which gives flows of its own: the host's
 * own flows (the default flows of each table, the uplink, the tunnel),
 * and those of each peer, network, VM, remote VM, load-balancing rule,
 * SNAT range and ACL entry.  The agent keeps each item's flows until the
 * item, or what its flows depend on, changes: host_flows_item_key() says
 * what that is.
 *
 * Two items may give flows with the same table, priority and match (a VIP
 * that a VM owns by two floating-IP rules): the bridge gets the one of the
 * lowest cookie. */
enum host_item_kind {
    HOST_ITEM_HOST,
    HOST_ITEM_PEER,
    HOST_ITEM_VNET,
    HOST_ITEM_VM,
    HOST_ITEM_REMOTE_VM,
    HOST_ITEM_LB,
    HOST_ITEM_SNAT,
    HOST_ITEM_ACL,
    HOST_ITEM_MUX,
    HOST_ITEM_INTERNAL_VIP,
    HOST_N_ITEM_KINDS
};

/* A connection of a local VM to an internal VIP that a mux redirected:
 * its later packets go straight to the backend's host, with the backend
 * VM's MAC, whose host keeps translating them on the same conntrack
 * entry.  (Its flow is not among the desired flows: the agent adds it on
 * its own, and the bridge removes it once idle.) */
struct host_fastpath {
    uint64_t cookie;            /* Of the LB_Rule. */
    uint32_t vni;
    uint8_t proto;              /* IPPROTO_TCP or _UDP. */
    struct in6_addr client, vip;        /* IPv4-mapped for IPv4. */
    ovs_be16 client_port, vip_port;
    ovs_be32 backend_pa;
    struct eth_addr backend_mac;
};

/* The priority of fastpath flows in SLB_TABLE_VNET. */
#define HOST_FLOWS_FASTPATH_PRIORITY 102

struct ofpbuf;

void host_flows_build(const struct host_view *, struct host_flows *);
void host_flows_fastpath(const struct host_view *,
                         const struct host_fastpath *, struct host_flows *);
size_t host_view_n_items(const struct host_view *, enum host_item_kind);
void host_flows_item_key(const struct host_view *, enum host_item_kind,
                         size_t index, struct ofpbuf *key);
void host_flows_build_item(const struct host_view *, enum host_item_kind,
                           size_t index, struct host_flows *);
/* The idle timeouts, in seconds, of the connections of one VM's conntrack
 * zone: the longest of its rules' of each protocol, 0 where none of its
 * rules takes the protocol (the switch's default then holds). */
struct host_zone_timeouts {
    uint16_t zone;
    uint32_t tcp;
    uint32_t udp;
};
size_t host_view_zone_timeouts(const struct host_view *,
                               struct host_zone_timeouts **);

uint16_t host_lb_vm_port(const struct host_lb *);
bool host_lb_takes_reset(const struct host_lb *);
struct in6_addr host_flows_probe_address(int ofport, int family);
size_t host_flows_port_blocks(uint16_t min, uint16_t max,
                              struct host_port_block *);
void host_flow_format(const struct host_flow *, struct ds *);
void host_flows_format(uint8_t table_id, uint16_t priority,
                       const struct minimatch *, const struct ofpact *,
                       size_t ofpacts_len, struct ds *);
void host_flows_destroy(struct host_flows *);

#endif /* host-flows.h */
