/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the decoder of the fastpath's redirects
 * (lib/redirect.c), which reads datagrams that anyone may send to a
 * host's redirect port.
 *
 * The input's first byte picks what the rest is: with its low bit clear, a
 * Redirect message that the target signs with its key, so that the
 * decoder reaches the message's own checks; with it set, a datagram as it
 * arrives.  Beyond what the sanitizers catch: a datagram that is not
 * signed with the key is never accepted; an accepted redirect is of TCP
 * or UDP, in a network of 24 bits, from and to addresses of one family,
 * and encodes to a datagram that decodes to the same redirect. */

#include <config.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "lib/redirect.h"
#include "lib/redirect.pb-c.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct slb_redirect_key key = {
    .key = "0123456789abcdef0123456789abcdef",
    .len = 32,
    .port = SLB_REDIRECT_PORT,
};

/* Appends to 'out' Redirect message 'body', of 'len' bytes, signed with
 * 'key'. */
static void
sign(const uint8_t *body, size_t len, struct ofpbuf *out)
{
    uint8_t mac[32];
    unsigned int mac_len = sizeof mac;
    HMAC(EVP_sha256(), key.key, key.len, body, len, mac, &mac_len);

    Slb__SignedRedirect msg = SLB__SIGNED_REDIRECT__INIT;
    msg.redirect.data = CONST_CAST(uint8_t *, body);
    msg.redirect.len = len;
    msg.hmac.data = mac;
    msg.hmac.len = mac_len;
    size_t n = slb__signed_redirect__get_packed_size(&msg);
    slb__signed_redirect__pack(&msg, ofpbuf_put_uninit(out, n));
}

static bool
redirects_equal(const struct slb_redirect *a, const struct slb_redirect *b)
{
    return (a->vni == b->vni
            && ipv6_addr_equals(&a->client, &b->client)
            && a->client_port == b->client_port
            && ipv6_addr_equals(&a->vip, &b->vip)
            && a->vip_port == b->vip_port
            && a->protocol == b->protocol
            && a->backend_pa == b->backend_pa
            && eth_addr_equals(a->backend_mac, b->backend_mac)
            && a->lifetime == b->lifetime
            && a->sequence == b->sequence);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) {
        return 0;
    }
    bool signed_here = !(data[0] & 1);
    struct ofpbuf datagram;
    ofpbuf_init(&datagram, 64);
    if (signed_here) {
        sign(data + 1, size - 1, &datagram);
    } else {
        ofpbuf_put(&datagram, data + 1, size - 1);
    }

    struct slb_redirect r;
    enum slb_redirect_error error = slb_redirect_decode(
        datagram.data, datagram.size, &key, &r);
    if (!signed_here) {
        /* The fuzzer cannot sign: nothing of its own is accepted. */
        ovs_assert(error != SLB_REDIRECT_OK);
    }
    if (!error) {
        ovs_assert(r.protocol == IPPROTO_TCP || r.protocol == IPPROTO_UDP);
        ovs_assert(r.vni && r.vni <= 0xffffff);
        ovs_assert(IN6_IS_ADDR_V4MAPPED(&r.client)
                   == IN6_IS_ADDR_V4MAPPED(&r.vip));

        struct ofpbuf again;
        ofpbuf_init(&again, 64);
        slb_redirect_encode(&r, &key, &again);
        struct slb_redirect r2;
        ovs_assert(slb_redirect_decode(again.data, again.size, &key, &r2)
                   == SLB_REDIRECT_OK);
        ovs_assert(redirects_equal(&r, &r2));
        ofpbuf_uninit(&again);
    }
    ofpbuf_uninit(&datagram);
    return 0;
}
