/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/frag-hold.c: fragments held until their datagram's
 * first fragment shows its port. */

#include <config.h>

#include <check.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip6.h>
#include <string.h>

#include "frag-hold.h"
#include "openvswitch/list.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "pipeline.h"
#include "slb-check.h"
#include "util.h"

/* The tests' datagrams: UDP, from 1.2.3.4:4000 (2001:db8::4) to
 * 20.20.20.102 (2001:db8::102) and a port, of DATAGRAM bytes (its UDP
 * header included), in fragments of FRAGMENT bytes. */
#define DATAGRAM 3008
#define FRAGMENT 1480

/* A frame with bytes 'offset' to 'offset + len' of a datagram of
 * 'total' bytes to port 'dport', of identification 'id', over IPv6 if
 * 'ipv6', else IPv4. */
static struct ofpbuf *
fragment(bool ipv6, uint16_t dport, uint32_t id, uint32_t offset,
         uint32_t len, uint32_t total)
{
    struct ofpbuf *b = ofpbuf_new(128 + len);
    struct eth_header *eth = ofpbuf_put_zeros(b, sizeof *eth);
    bool more = offset + len < total;
    if (!ipv6) {
        eth->eth_type = htons(ETH_TYPE_IP);
        struct ip_header *ip = ofpbuf_put_zeros(b, sizeof *ip);
        ip->ip_ihl_ver = IP_IHL_VER(5, 4);
        ip->ip_tot_len = htons(IP_HEADER_LEN + len);
        ip->ip_id = htons(id);
        ip->ip_frag_off = htons((more ? IP_MORE_FRAGMENTS : 0) | offset / 8);
        ip->ip_ttl = 64;
        ip->ip_proto = IPPROTO_UDP;
        put_16aligned_be32(&ip->ip_src, htonl(0x01020304));
        put_16aligned_be32(&ip->ip_dst, htonl(0x14141466));
    } else {
        eth->eth_type = htons(ETH_TYPE_IPV6);
        struct ovs_16aligned_ip6_hdr *ip6 = ofpbuf_put_zeros(b, sizeof *ip6);
        ip6->ip6_vfc = 0x60;
        ip6->ip6_plen = htons(sizeof(struct ovs_16aligned_ip6_frag) + len);
        ip6->ip6_nxt = IPPROTO_FRAGMENT;
        ip6->ip6_hlim = 64;
        struct in6_addr src, dst;
        ovs_assert(ipv6_parse("2001:db8::4", &src));
        ovs_assert(ipv6_parse("2001:db8::102", &dst));
        memcpy(&ip6->ip6_src, &src, sizeof src);
        memcpy(&ip6->ip6_dst, &dst, sizeof dst);
        struct ovs_16aligned_ip6_frag *frag = ofpbuf_put_zeros(b,
                                                               sizeof *frag);
        frag->ip6f_nxt = IPPROTO_UDP;
        frag->ip6f_offlg = htons(offset | more);
        put_16aligned_be32(&frag->ip6f_ident, htonl(id));
    }
    uint8_t *data = ofpbuf_put_zeros(b, len);
    for (uint32_t i = 0; i < len; i++) {
        data[i] = offset + i;
    }
    if (!offset) {
        struct udp_header *udp = (struct udp_header *) data;
        udp->udp_src = htons(4000);
        udp->udp_dst = htons(dport);
        udp->udp_len = htons(total);
    }
    return b;
}

/* Gives 'fh' fragment 'index' (0 is the first) of a datagram of 'total'
 * bytes to 'dport' of identification 'id' and virtual network 'vni', at
 * 'now'; returns what frag_hold_add() returns, with the number of the
 * messages made ready in '*n_ready'. */
static uint32_t
add_part(struct frag_hold *fh, bool ipv6, uint32_t vni, uint16_t dport,
         uint32_t id, int index, uint32_t total, long long int now,
         size_t *n_ready)
{
    uint32_t offset = index * FRAGMENT;
    ovs_assert(offset < total);
    struct ofpbuf *b = fragment(ipv6, dport, id, offset,
                                MIN(FRAGMENT, total - offset), total);
    struct ovs_list ready = OVS_LIST_INITIALIZER(&ready);
    uint32_t port = frag_hold_add(fh, vni, b->data, b->size, b, now,
                                  &ready);
    *n_ready = 0;
    struct ofpbuf *msg;
    LIST_FOR_EACH_POP (msg, list_node, &ready) {
        ofpbuf_delete(msg);
        ++*n_ready;
    }
    return port;
}

/* The same for the tests' datagram of DATAGRAM bytes. */
static uint32_t
add(struct frag_hold *fh, bool ipv6, uint32_t vni, uint16_t dport,
    uint32_t id, int index, long long int now, size_t *n_ready)
{
    return add_part(fh, ipv6, vni, dport, id, index, DATAGRAM, now, n_ready);
}

START_TEST(test_last_first)
{
    for (int ipv6 = 0; ipv6 < 2; ipv6++) {
        struct frag_hold *fh = frag_hold_create();
        size_t n;
        ck_assert_uint_eq(add(fh, ipv6, 5001, 53, 7, 2, 0, &n), 0);
        ck_assert_uint_eq(add(fh, ipv6, 5001, 53, 7, 1, 0, &n), 0);
        ck_assert_uint_eq(frag_hold_n_datagrams(fh), 1);
        ck_assert_uint_eq(frag_hold_n_held(fh), 2);
        ck_assert_uint_eq(add(fh, ipv6, 5001, 53, 7, 0, 0, &n),
                          SLB_FRAG_PORT(IPPROTO_UDP, 53));
        ck_assert_uint_eq(n, 3);
        /* Every byte came: forgotten. */
        ck_assert_uint_eq(frag_hold_n_datagrams(fh), 0);
        ck_assert_uint_eq(frag_hold_n_held(fh), 0);
        ck_assert_uint_eq(frag_hold_get_stats(fh)->released, 3);
        frag_hold_destroy(fh);
    }
}
END_TEST

START_TEST(test_first_first)
{
    for (int ipv6 = 0; ipv6 < 2; ipv6++) {
        struct frag_hold *fh = frag_hold_create();
        uint32_t port = SLB_FRAG_PORT(IPPROTO_UDP, 54);
        size_t n;
        ck_assert_uint_eq(add(fh, ipv6, 5001, 54, 7, 0, 0, &n), port);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(add(fh, ipv6, 5001, 54, 7, 2, 0, &n), port);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(frag_hold_n_datagrams(fh), 1);
        ck_assert_uint_eq(frag_hold_n_held(fh), 0);
        ck_assert_uint_eq(add(fh, ipv6, 5001, 54, 7, 1, 0, &n), port);
        ck_assert_uint_eq(n, 1);
        ck_assert_uint_eq(frag_hold_n_datagrams(fh), 0);
        frag_hold_destroy(fh);
    }
}
END_TEST

/* Datagrams of different identifications or networks never meet. */
START_TEST(test_datagrams_apart)
{
    for (int ipv6 = 0; ipv6 < 2; ipv6++) {
        struct frag_hold *fh = frag_hold_create();
        size_t n;
        ck_assert_uint_eq(add(fh, ipv6, 5001, 53, 7, 2, 0, &n), 0);
        ck_assert_uint_eq(add(fh, ipv6, 5001, 54, 8, 2, 0, &n), 0);
        ck_assert_uint_eq(add(fh, ipv6, 5002, 55, 7, 2, 0, &n), 0);
        ck_assert_uint_eq(frag_hold_n_datagrams(fh), 3);
        ck_assert_uint_eq(add(fh, ipv6, 5001, 54, 8, 0, 0, &n),
                          SLB_FRAG_PORT(IPPROTO_UDP, 54));
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(add(fh, ipv6, 5002, 55, 7, 0, 0, &n),
                          SLB_FRAG_PORT(IPPROTO_UDP, 55));
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(add(fh, ipv6, 5001, 53, 7, 0, 0, &n),
                          SLB_FRAG_PORT(IPPROTO_UDP, 53));
        ck_assert_uint_eq(n, 2);
        ck_assert_uint_eq(frag_hold_n_datagrams(fh), 3);   /* No middle. */
        ck_assert_uint_eq(frag_hold_n_held(fh), 0);
        frag_hold_destroy(fh);
    }
}
END_TEST

START_TEST(test_expiry)
{
    struct frag_hold *fh = frag_hold_create();
    size_t n;
    ck_assert_int_eq(frag_hold_next_expiry(fh), LLONG_MAX);
    ck_assert_uint_eq(add(fh, false, 5001, 53, 7, 2, 1000, &n), 0);
    ck_assert_uint_eq(add(fh, false, 5001, 53, 7, 1, 1500, &n), 0);
    ck_assert_uint_eq(add(fh, false, 5001, 53, 8, 0, 1800, &n),
                      SLB_FRAG_PORT(IPPROTO_UDP, 53));
    ck_assert_int_eq(frag_hold_next_expiry(fh), 1000 + FRAG_HOLD_MSEC);
    frag_hold_run(fh, 1000 + FRAG_HOLD_MSEC - 1);
    ck_assert_uint_eq(frag_hold_n_held(fh), 2);
    frag_hold_run(fh, 1000 + FRAG_HOLD_MSEC);
    ck_assert_uint_eq(frag_hold_n_held(fh), 0);
    ck_assert_uint_eq(frag_hold_get_stats(fh)->expired, 2);
    ck_assert_int_eq(frag_hold_next_expiry(fh), 1800 + FRAG_HOLD_MSEC);

    /* The first fragment of ID 8 went on; its others never came. */
    frag_hold_run(fh, 1800 + FRAG_HOLD_MSEC);
    ck_assert_uint_eq(frag_hold_n_datagrams(fh), 0);
    ck_assert_uint_eq(frag_hold_get_stats(fh)->expired, 2);
    ck_assert_int_eq(frag_hold_next_expiry(fh), LLONG_MAX);

    /* A fragment of ID 7 after the expiry starts afresh. */
    ck_assert_uint_eq(add(fh, false, 5001, 53, 7, 0, 5000, &n),
                      SLB_FRAG_PORT(IPPROTO_UDP, 53));
    ck_assert_uint_eq(n, 1);
    frag_hold_destroy(fh);
}
END_TEST

START_TEST(test_room)
{
    struct frag_hold *fh = frag_hold_create();
    size_t n;
    int per_datagram = FRAG_HOLD_MAX_FRAGMENTS / FRAG_HOLD_MAX_DATAGRAMS;
    uint32_t total = (per_datagram + 2) * FRAGMENT;
    for (uint32_t id = 0; id < FRAG_HOLD_MAX_DATAGRAMS; id++) {
        for (int i = 1; i <= per_datagram; i++) {
            ck_assert_uint_eq(add_part(fh, false, 5001, 53, id, i, total, 0,
                                       &n), 0);
        }
    }
    ck_assert_uint_eq(frag_hold_n_held(fh), FRAG_HOLD_MAX_FRAGMENTS);
    ck_assert_uint_eq(frag_hold_get_stats(fh)->full, 0);

    /* No room for another datagram, nor for another held fragment; but a
     * first fragment releases its datagram's. */
    ck_assert_uint_eq(add_part(fh, false, 5001, 53, UINT16_MAX, 1, total, 0,
                               &n), 0);
    ck_assert_uint_eq(add_part(fh, false, 5001, 53, 0, per_datagram + 1,
                               total, 0, &n), 0);
    ck_assert_uint_eq(frag_hold_get_stats(fh)->full, 2);
    ck_assert_uint_eq(add_part(fh, false, 5001, 53, 0, 0, total, 0, &n),
                      SLB_FRAG_PORT(IPPROTO_UDP, 53));
    ck_assert_uint_eq(n, per_datagram + 1);
    ck_assert_uint_eq(frag_hold_n_held(fh),
                      FRAG_HOLD_MAX_FRAGMENTS - per_datagram);
    frag_hold_destroy(fh);
}
END_TEST

START_TEST(test_malformed)
{
    struct frag_hold *fh = frag_hold_create();
    struct ovs_list ready = OVS_LIST_INITIALIZER(&ready);

    /* A whole datagram; a first fragment with 2 bytes of its header. */
    struct ofpbuf *whole = fragment(false, 53, 7, 0, 100, 100);
    ck_assert_uint_eq(frag_hold_add(fh, 5001, whole->data, whole->size,
                                    whole, 0, &ready), 0);
    struct ofpbuf *short_first = fragment(false, 53, 7, 0, 2, 3000);
    ck_assert_uint_eq(frag_hold_add(fh, 5001, short_first->data,
                                    short_first->size, short_first, 0,
                                    &ready), 0);

    /* A fragment cut short anywhere. */
    struct ofpbuf *b = fragment(true, 53, 7, FRAGMENT, FRAGMENT, DATAGRAM);
    for (size_t len = 0; len < b->size; len++) {
        struct ofpbuf *cut = ofpbuf_clone_data(b->data, len);
        ck_assert_uint_eq(frag_hold_add(fh, 5001, cut->data, cut->size, cut,
                                        0, &ready), 0);
    }
    ofpbuf_delete(b);
    ck_assert(ovs_list_is_empty(&ready));
    ck_assert_uint_eq(frag_hold_n_datagrams(fh), 0);
    ck_assert_uint_eq(frag_hold_get_stats(fh)->malformed,
                      2 + ETH_HEADER_LEN + IPV6_HEADER_LEN + 8 + FRAGMENT);
    frag_hold_destroy(fh);
}
END_TEST

static Suite *
frag_hold_suite(void)
{
    Suite *s = suite_create("frag-hold");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_last_first);
    tcase_add_test(tc, test_first_first);
    tcase_add_test(tc, test_datagrams_apart);
    tcase_add_test(tc, test_expiry);
    tcase_add_test(tc, test_room);
    tcase_add_test(tc, test_malformed);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(frag_hold_suite)
