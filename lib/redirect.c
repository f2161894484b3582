/* SPDX-License-Identifier: Apache-2.0 */
/* Fastpath redirects: see redirect.h. */

#include <config.h>

#include "redirect.h"

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include "lib/redirect.pb-c.h"
#include "openvswitch/ofpbuf.h"
#include "smap.h"
#include "util.h"

#define HMAC_LEN 32             /* SHA-256. */

/* Reads the key and port of the fastpath from SLB_Global 'options'.  A key
 * that is not 16 to 64 bytes in hexadecimal counts as none. */
void
slb_redirect_settings(const struct smap *options,
                      struct slb_redirect_key *k)
{
    memset(k, 0, sizeof *k);
    int port = smap_get_int(options, "redirect-port", SLB_REDIRECT_PORT);
    k->port = port > 0 && port < 65536 ? port : SLB_REDIRECT_PORT;
    if (!smap_get_bool(options, "fastpath", true)) {
        return;
    }

    const char *hex = smap_get_def(options, "redirect-key", "");
    size_t n = strlen(hex);
    if (n % 2 || n < 32 || n > 2 * SLB_REDIRECT_KEY_MAX) {
        return;
    }
    for (size_t i = 0; i < n / 2; i++) {
        bool ok;
        k->key[i] = hexits_value(&hex[2 * i], 2, &ok);
        if (!ok) {
            memset(k, 0, sizeof *k);
            k->port = port > 0 && port < 65536 ? port : SLB_REDIRECT_PORT;
            return;
        }
    }
    k->len = n / 2;
}

/* Returns a new random key, 32 bytes in hexadecimal, for SLB_Global
 * options:redirect-key.  The caller frees it. */
char *
slb_redirect_key_generate(void)
{
    uint8_t key[32];
    if (RAND_bytes(key, sizeof key) != 1) {
        ovs_fatal(0, "no random bytes for a redirect key");
    }
    char *hex = xmalloc(2 * sizeof key + 1);
    for (size_t i = 0; i < sizeof key; i++) {
        snprintf(&hex[2 * i], 3, "%02x", key[i]);
    }
    return hex;
}

static void
sign(const struct slb_redirect_key *k, const uint8_t *data, size_t len,
     uint8_t mac[HMAC_LEN])
{
    unsigned int mac_len = HMAC_LEN;
    HMAC(EVP_sha256(), k->key, k->len, data, len, mac, &mac_len);
}

/* Appends to 'out' redirect 'r', signed with 'k' (which has a key). */
void
slb_redirect_encode(const struct slb_redirect *r,
                    const struct slb_redirect_key *k, struct ofpbuf *out)
{
    Slb__Redirect msg = SLB__REDIRECT__INIT;
    msg.vni = r->vni;
    if (IN6_IS_ADDR_V4MAPPED(&r->client)) {
        msg.client = ntohl(in6_addr_get_mapped_ipv4(&r->client));
        msg.vip = ntohl(in6_addr_get_mapped_ipv4(&r->vip));
    } else {
        msg.client6.data = CONST_CAST(uint8_t *, r->client.s6_addr);
        msg.client6.len = sizeof r->client;
        msg.vip6.data = CONST_CAST(uint8_t *, r->vip.s6_addr);
        msg.vip6.len = sizeof r->vip;
    }
    msg.client_port = ntohs(r->client_port);
    msg.vip_port = ntohs(r->vip_port);
    msg.protocol = r->protocol;
    msg.backend_pa = ntohl(r->backend_pa);
    msg.backend_mac.data = CONST_CAST(uint8_t *, r->backend_mac.ea);
    msg.backend_mac.len = sizeof r->backend_mac.ea;
    msg.lifetime = r->lifetime;
    msg.sequence = r->sequence;

    size_t len = slb__redirect__get_packed_size(&msg);
    uint8_t *body = xmalloc(len);
    slb__redirect__pack(&msg, body);
    uint8_t mac[HMAC_LEN];
    sign(k, body, len, mac);

    Slb__SignedRedirect signed_msg = SLB__SIGNED_REDIRECT__INIT;
    signed_msg.redirect.data = body;
    signed_msg.redirect.len = len;
    signed_msg.hmac.data = mac;
    signed_msg.hmac.len = sizeof mac;
    size_t signed_len = slb__signed_redirect__get_packed_size(&signed_msg);
    slb__signed_redirect__pack(&signed_msg,
                               ofpbuf_put_uninit(out, signed_len));
    free(body);
}

/* Returns true if the addresses of 'msg' are those of an IPv4 connection
 * (none in 'client6' and 'vip6') or of an IPv6 one (16 bytes in each, of
 * no IPv4-mapped address, and 0 in 'client' and 'vip'). */
static bool
addrs_are_valid(const Slb__Redirect *msg)
{
    if (!msg->client6.len && !msg->vip6.len) {
        return true;
    }
    struct in6_addr client, vip;
    if (msg->client6.len != sizeof client || msg->vip6.len != sizeof vip
        || msg->client || msg->vip) {
        return false;
    }
    memcpy(&client, msg->client6.data, sizeof client);
    memcpy(&vip, msg->vip6.data, sizeof vip);
    return !IN6_IS_ADDR_V4MAPPED(&client) && !IN6_IS_ADDR_V4MAPPED(&vip);
}

/* Decodes datagram 'data' of 'len' bytes into '*r', if it is a redirect
 * that key 'k' signed. */
enum slb_redirect_error
slb_redirect_decode(const void *data, size_t len,
                    const struct slb_redirect_key *k, struct slb_redirect *r)
{
    Slb__SignedRedirect *signed_msg
        = slb__signed_redirect__unpack(NULL, len, data);
    if (!signed_msg) {
        return SLB_REDIRECT_MALFORMED;
    }
    enum slb_redirect_error error = SLB_REDIRECT_OK;
    uint8_t mac[HMAC_LEN];
    if (signed_msg->hmac.len != HMAC_LEN || !k->len) {
        error = SLB_REDIRECT_BAD_HMAC;
    } else {
        sign(k, signed_msg->redirect.data, signed_msg->redirect.len, mac);
        if (CRYPTO_memcmp(mac, signed_msg->hmac.data, HMAC_LEN)) {
            error = SLB_REDIRECT_BAD_HMAC;
        }
    }

    Slb__Redirect *msg = NULL;
    if (!error) {
        msg = slb__redirect__unpack(NULL, signed_msg->redirect.len,
                                    signed_msg->redirect.data);
        if (!msg || msg->backend_mac.len != ETH_ADDR_LEN
            || !addrs_are_valid(msg)
            || msg->client_port > UINT16_MAX || msg->vip_port > UINT16_MAX
            || (msg->protocol != IPPROTO_TCP
                && msg->protocol != IPPROTO_UDP)
            || !msg->vni || msg->vni > 0xffffff) {
            error = SLB_REDIRECT_MALFORMED;
        }
    }
    if (!error) {
        *r = (struct slb_redirect) {
            .vni = msg->vni,
            .client = in6_addr_mapped_ipv4(htonl(msg->client)),
            .client_port = htons(msg->client_port),
            .vip = in6_addr_mapped_ipv4(htonl(msg->vip)),
            .vip_port = htons(msg->vip_port),
            .protocol = msg->protocol,
            .backend_pa = htonl(msg->backend_pa),
            .lifetime = msg->lifetime,
            .sequence = msg->sequence,
        };
        memcpy(r->backend_mac.ea, msg->backend_mac.data, ETH_ADDR_LEN);
        if (msg->client6.len) {
            memcpy(&r->client, msg->client6.data, sizeof r->client);
            memcpy(&r->vip, msg->vip6.data, sizeof r->vip);
        }
    }
    if (msg) {
        slb__redirect__free_unpacked(msg, NULL);
    }
    slb__signed_redirect__free_unpacked(signed_msg, NULL);
    return error;
}
