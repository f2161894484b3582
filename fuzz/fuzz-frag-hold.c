/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the fragments that the agent holds until their
 * datagram's first fragment shows its port (agent/frag-hold.c), for
 * arbitrary frames in arbitrary order.
 *
 * The input is a series of records: a byte whose two low bits pick the
 * frame's virtual network and whose six high bits say how many tenths of a
 * second passed since the last record, a two-byte length (big-endian), and
 * the frame.  After each frame the books must balance: every frame given
 * is held, sent on, or dropped (expired, for room, malformed), within the
 * bounds; a frame comes back with its datagram's port, nonzero, or not at
 * all.  Once every datagram expired, nothing is held. */

#include <config.h>

#include "agent/frag-hold.h"
#include "openvswitch/list.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Asserts that the books of 'fh' balance with 'given' frames given. */
static void
check_books(const struct frag_hold *fh, uint64_t given)
{
    const struct frag_hold_stats *st = frag_hold_get_stats(fh);
    ovs_assert(st->released + st->expired + st->full + st->malformed
               + frag_hold_n_held(fh) == given);
    ovs_assert(frag_hold_n_held(fh) <= FRAG_HOLD_MAX_FRAGMENTS);
    ovs_assert(frag_hold_n_datagrams(fh) <= FRAG_HOLD_MAX_DATAGRAMS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frag_hold *fh = frag_hold_create();
    long long int now = 1000;
    uint64_t given = 0, sent_on = 0;
    while (size >= 3) {
        uint32_t vni = 5001 + (data[0] & 3);
        now += (data[0] >> 2) * 100;
        size_t len = MIN(size - 3, (size_t) (data[1] << 8 | data[2]));
        struct ofpbuf *msg = ofpbuf_clone_data(data + 3, len);
        data += 3 + len;
        size -= 3 + len;

        frag_hold_run(fh, now);
        struct ovs_list ready = OVS_LIST_INITIALIZER(&ready);
        uint32_t port = frag_hold_add(fh, vni, msg->data, msg->size, msg,
                                      now, &ready);
        given++;
        ovs_assert(!port == ovs_list_is_empty(&ready));
        ovs_assert(!port || port >> 16);
        struct ofpbuf *b;
        LIST_FOR_EACH_POP (b, list_node, &ready) {
            ofpbuf_delete(b);
            sent_on++;
        }
        check_books(fh, given);
        ovs_assert(frag_hold_get_stats(fh)->released == sent_on);
        if (frag_hold_n_datagrams(fh)) {
            ovs_assert(frag_hold_next_expiry(fh) > now);
        }
    }
    frag_hold_run(fh, now + FRAG_HOLD_MSEC);
    ovs_assert(!frag_hold_n_datagrams(fh) && !frag_hold_n_held(fh));
    check_books(fh, given);
    frag_hold_destroy(fh);
    return 0;
}
