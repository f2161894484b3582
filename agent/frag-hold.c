/* SPDX-License-Identifier: Apache-2.0 */
/* The fragments that the agent holds for its bridge; see frag-hold.h. */

#include <config.h>
#include "frag-hold.h"

#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip6.h>
#include <string.h>

#include "flow.h"
#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "pipeline.h"
#include "util.h"

/* What identifies a datagram among those held. */
struct datagram_key {
    struct in6_addr src, dst;   /* IPv4 mapped into IPv6. */
    uint32_t id;                /* IPv4's identification, or IPv6's. */
    uint32_t vni;
    uint8_t proto;              /* IPv6: the fragment header's next header. */
};

/* A datagram some of whose fragments came. */
struct datagram {
    struct hmap_node node;      /* In frag_hold's 'datagrams'. */
    struct ovs_list age_node;   /* In frag_hold's 'by_age', oldest first. */
    struct datagram_key key;
    long long int expires;
    uint32_t port;              /* SLB_FRAG_PORT(), once the first fragment
                                 * came, else 0. */
    uint32_t bytes;             /* Of its data, that came. */
    uint32_t total;             /* Of its data, once the last fragment
                                 * came, else 0. */
    struct ovs_list held;       /* Of struct ofpbuf, in the order they
                                 * came. */
    size_t n_held;
};

struct frag_hold {
    struct hmap datagrams;
    struct ovs_list by_age;
    size_t n_held;
    struct frag_hold_stats stats;
};

/* A fragment, as frag_hold_add() needs it. */
struct fragment {
    struct datagram_key key;
    uint32_t offset;            /* Of its data in the datagram's. */
    uint32_t len;               /* Of its data. */
    bool last;
    uint32_t port;              /* The first fragment's SLB_FRAG_PORT(), or
                                 * 0 for the others. */
};

/* Returns the SLB_FRAG_PORT() of the first fragment whose transport header
 * of protocol 'proto' starts at 'l4', with 'room' bytes of the fragment's
 * data there: its destination port for TCP and UDP, 0 for the others.
 * Returns 0 if it has too little of its header. */
static uint32_t
first_fragment_port(uint8_t proto, const uint8_t *l4, size_t room)
{
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) {
        return SLB_FRAG_PORT(proto, 0);
    }
    if (room < 4) {
        return 0;               /* Both keep their ports in bytes 0-3. */
    }
    return SLB_FRAG_PORT(proto, l4[2] << 8 | l4[3]);
}

/* Parses the IPv4 fragment in 'l3' ('room' bytes) into 'f'. */
static bool
parse_ipv4(const uint8_t *l3, size_t room, struct fragment *f)
{
    if (room < IP_HEADER_LEN) {
        return false;
    }
    const struct ip_header *ip = ALIGNED_CAST(const struct ip_header *, l3);
    size_t l3_len = IP_IHL(ip->ip_ihl_ver) * 4;
    size_t ip_len = ntohs(ip->ip_tot_len);
    uint16_t frag_off = ntohs(ip->ip_frag_off);
    if (IP_VER(ip->ip_ihl_ver) != 4 || l3_len < IP_HEADER_LEN
        || ip_len < l3_len || ip_len > room
        || !IP_IS_FRAGMENT(ip->ip_frag_off)) {
        return false;
    }
    in6_addr_set_mapped_ipv4(&f->key.src, get_16aligned_be32(&ip->ip_src));
    in6_addr_set_mapped_ipv4(&f->key.dst, get_16aligned_be32(&ip->ip_dst));
    f->key.id = ntohs(ip->ip_id);
    f->key.proto = ip->ip_proto;
    f->offset = (frag_off & IP_FRAG_OFF_MASK) * 8;
    f->len = ip_len - l3_len;
    f->last = !(frag_off & IP_MORE_FRAGMENTS);
    if (!f->offset) {
        f->port = first_fragment_port(ip->ip_proto, l3 + l3_len, f->len);
        return f->port != 0;
    }
    return true;
}

/* Parses the IPv6 fragment in 'l3' ('room' bytes) into 'f'. */
static bool
parse_ipv6(const uint8_t *l3, size_t room, struct fragment *f)
{
    if (room < IPV6_HEADER_LEN) {
        return false;
    }
    const struct ovs_16aligned_ip6_hdr *ip6
        = ALIGNED_CAST(const struct ovs_16aligned_ip6_hdr *, l3);
    size_t ip_len = IPV6_HEADER_LEN + ntohs(ip6->ip6_plen);
    if ((ip6->ip6_vfc >> 4) != 6 || ip_len > room) {
        return false;
    }
    const void *data = l3 + IPV6_HEADER_LEN;
    size_t size = ip_len - IPV6_HEADER_LEN;
    uint8_t proto = ip6->ip6_nxt;
    uint8_t nw_frag = 0;
    const struct ovs_16aligned_ip6_frag *frag;
    if (!parse_ipv6_ext_hdrs(&data, &size, &proto, &nw_frag, &frag)
        || !frag || !(nw_frag & FLOW_NW_FRAG_ANY)) {
        return false;
    }
    const uint8_t *frag_data = (const uint8_t *) frag + sizeof *frag;
    uint16_t offlg = ntohs(frag->ip6f_offlg);
    memcpy(&f->key.src, &ip6->ip6_src, sizeof f->key.src);
    memcpy(&f->key.dst, &ip6->ip6_dst, sizeof f->key.dst);
    f->key.id = ntohl(get_16aligned_be32(&frag->ip6f_ident));
    f->key.proto = frag->ip6f_nxt;
    f->offset = offlg & ~7u;
    f->len = l3 + ip_len - frag_data;
    f->last = !(offlg & 1);
    if (!f->offset) {
        f->port = first_fragment_port(proto, data, size);
        return f->port != 0;
    }
    return true;
}

/* Parses the fragment in Ethernet frame 'frame' ('len' bytes) into 'f'. */
static bool
parse_fragment(const uint8_t *frame, size_t len, struct fragment *f)
{
    memset(f, 0, sizeof *f);
    if (len < ETH_HEADER_LEN) {
        return false;
    }
    size_t l2_len = ETH_HEADER_LEN;
    ovs_be16 type = ALIGNED_CAST(const struct eth_header *, frame)->eth_type;
    if (type == htons(ETH_TYPE_VLAN)) {
        if (len < ETH_HEADER_LEN + VLAN_HEADER_LEN) {
            return false;
        }
        type = ALIGNED_CAST(const struct vlan_header *,
                            frame + ETH_HEADER_LEN)->vlan_next_type;
        l2_len += VLAN_HEADER_LEN;
    }
    return (type == htons(ETH_TYPE_IP)
            ? parse_ipv4(frame + l2_len, len - l2_len, f)
            : type == htons(ETH_TYPE_IPV6)
            ? parse_ipv6(frame + l2_len, len - l2_len, f)
            : false);
}

struct frag_hold *
frag_hold_create(void)
{
    struct frag_hold *fh = xzalloc(sizeof *fh);
    hmap_init(&fh->datagrams);
    ovs_list_init(&fh->by_age);
    return fh;
}

/* Forgets datagram 'd', dropping the fragments that it holds. */
static void
forget(struct frag_hold *fh, struct datagram *d)
{
    struct ofpbuf *msg;
    LIST_FOR_EACH_POP (msg, list_node, &d->held) {
        ofpbuf_delete(msg);
    }
    fh->n_held -= d->n_held;
    hmap_remove(&fh->datagrams, &d->node);
    ovs_list_remove(&d->age_node);
    free(d);
}

void
frag_hold_destroy(struct frag_hold *fh)
{
    if (fh) {
        struct datagram *d;
        HMAP_FOR_EACH_SAFE (d, node, &fh->datagrams) {
            forget(fh, d);
        }
        hmap_destroy(&fh->datagrams);
        free(fh);
    }
}

static uint32_t
hash_key(const struct datagram_key *k)
{
    uint32_t hash = hash_bytes(&k->src, sizeof k->src, k->id);
    hash = hash_bytes(&k->dst, sizeof k->dst, hash);
    return hash_add(hash, k->vni << 8 | k->proto);
}

static bool
same_key(const struct datagram_key *a, const struct datagram_key *b)
{
    return (a->id == b->id && a->vni == b->vni && a->proto == b->proto
            && ipv6_addr_equals(&a->src, &b->src)
            && ipv6_addr_equals(&a->dst, &b->dst));
}

static struct datagram *
find_datagram(const struct frag_hold *fh, const struct datagram_key *key,
              uint32_t hash)
{
    struct datagram *d;
    HMAP_FOR_EACH_WITH_HASH (d, node, hash, &fh->datagrams) {
        if (same_key(&d->key, key)) {
            return d;
        }
    }
    return NULL;
}

/* Takes fragment 'frame' ('len' bytes), which came from virtual network
 * 'vni' (datagrams of different networks never meet), paused in message
 * 'msg', which the caller gives up.  If its datagram's first fragment has
 * come (now or before), moves to 'ready' the messages of the datagram that
 * are to go back now ('msg' and those held), and returns the datagram's
 * SLB_FRAG_PORT(), else returns 0 ('msg' held, or dropped).  'now' is
 * the time in ms. */
uint32_t
frag_hold_add(struct frag_hold *fh, uint32_t vni, const void *frame,
              size_t len, struct ofpbuf *msg, long long int now,
              struct ovs_list *ready)
{
    struct fragment f;
    if (!parse_fragment(frame, len, &f)) {
        fh->stats.malformed++;
        ofpbuf_delete(msg);
        return 0;
    }
    f.key.vni = vni;

    uint32_t hash = hash_key(&f.key);
    struct datagram *d = find_datagram(fh, &f.key, hash);
    if (!d) {
        if (hmap_count(&fh->datagrams) >= FRAG_HOLD_MAX_DATAGRAMS) {
            fh->stats.full++;
            ofpbuf_delete(msg);
            return 0;
        }
        d = xzalloc(sizeof *d);
        d->key = f.key;
        d->expires = now + FRAG_HOLD_MSEC;
        ovs_list_init(&d->held);
        hmap_insert(&fh->datagrams, &d->node, hash);
        ovs_list_push_back(&fh->by_age, &d->age_node);
    }
    if (!d->port && !f.port && fh->n_held >= FRAG_HOLD_MAX_FRAGMENTS) {
        fh->stats.full++;
        ofpbuf_delete(msg);
        return 0;
    }

    d->bytes += f.len;
    if (f.last) {
        d->total = f.offset + f.len;
    }
    d->port = d->port ? d->port : f.port;
    ovs_list_push_back(&d->held, &msg->list_node);
    d->n_held++;
    fh->n_held++;

    uint32_t port = d->port;
    if (port) {
        fh->stats.released += d->n_held;
        fh->n_held -= d->n_held;
        d->n_held = 0;
        ovs_list_push_back_all(ready, &d->held);
        if (d->total && d->bytes >= d->total) {
            forget(fh, d);
        }
    }
    return port;
}

/* Forgets the datagrams that expired by 'now', dropping what they hold. */
void
frag_hold_run(struct frag_hold *fh, long long int now)
{
    while (!ovs_list_is_empty(&fh->by_age)) {
        struct datagram *d = CONTAINER_OF(ovs_list_front(&fh->by_age),
                                          struct datagram, age_node);
        if (d->expires > now) {
            break;
        }
        fh->stats.expired += d->n_held;
        forget(fh, d);
    }
}

/* Returns when the oldest datagram expires, LLONG_MAX if none is held. */
long long int
frag_hold_next_expiry(const struct frag_hold *fh)
{
    if (ovs_list_is_empty(&fh->by_age)) {
        return LLONG_MAX;
    }
    const struct datagram *d = CONTAINER_OF(ovs_list_front(&fh->by_age),
                                            struct datagram, age_node);
    return d->expires;
}

const struct frag_hold_stats *
frag_hold_get_stats(const struct frag_hold *fh)
{
    return &fh->stats;
}

/* Returns how many datagrams 'fh' knows. */
size_t
frag_hold_n_datagrams(const struct frag_hold *fh)
{
    return hmap_count(&fh->datagrams);
}

/* Returns how many fragments 'fh' holds. */
size_t
frag_hold_n_held(const struct frag_hold *fh)
{
    return fh->n_held;
}
