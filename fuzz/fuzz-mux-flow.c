/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the mux's flow table under arbitrary operations.
 *
 * The input is a run of 4-byte operations on a table of 8 established
 * and 4 new flows (2 and 1 buckets of 4), with keys from a set of 64, so
 * that buckets overflow: a packet that starts a flow (looked up, and
 * inserted with a backend if not found, as the packet path does), a packet
 * of a flow (looked up), a peek, a flow forgotten, a sweep, or the clock
 * moved on (by up to 25.5 s, or by 2^31 ms, so that it wraps).  Beside the
 * table, a model remembers the backend last inserted for each key.  Beyond
 * what the sanitizers catch:
 *
 *   - a flow just inserted is found, with its backend;
 *   - a lookup or peek finds no backend but the one last inserted for its
 *     key, and nothing for a key forgotten since;
 *   - the table's census and visit agree, and never exceed its size. */

#include <config.h>

#include <string.h>

#include "mux/mux-flow.h"
#include "util.h"

#define N_KEYS 64
#define EST_CAPACITY 8
#define NEW_CAPACITY 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Key 'i': an IPv4 flow, or for every eighth an IPv6 flow whose
 * addresses end as the IPv4 flow's would. */
static struct mux_flow_key
make_key(unsigned int i)
{
    struct mux_flow_key key = {
        .sport = htons(1024 + i % 4),
        .dport = htons(80),
        .proto = 6,
    };
    mux_flow_key_set_ipv4(&key, htonl(0x0a000000 + i / 4),
                          htonl(0x14141464));
    if (i % 8 == 7) {
        key.src_hi[0] = key.dst_hi[0] = htonl(0x20010db8);
    }
    return key;
}

/* Live flows, [0] of IPv4, [1] of IPv6. */
struct census {
    uint32_t n_est[2], n_new[2];
};

static void
count_entry(const struct mux_flow_key *key, const struct mux_flow *flow,
            bool established, void *census_)
{
    struct census *census = census_;
    ovs_assert(flow->hash == mux_flow_hash(key, 0));
    int family = !mux_flow_key_is_ipv4(key);
    if (established) {
        census->n_est[family]++;
    } else {
        census->n_new[family]++;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mux_flow_table table;
    mux_flow_table_init(&table, EST_CAPACITY, NEW_CAPACITY, 1000);

    /* The backend last inserted for each key, or MUX_FLOW_NONE. */
    uint32_t model[N_KEYS];
    for (int i = 0; i < N_KEYS; i++) {
        model[i] = MUX_FLOW_NONE;
    }

    uint32_t now = 1000;
    for (; size >= 4; data += 4, size -= 4) {
        unsigned int k = data[1] % N_KEYS;
        struct mux_flow_key key = make_key(k);
        uint32_t hash = mux_flow_hash(&key, 0);
        uint32_t backend = data[2];
        uint32_t timeout = (data[3] % 8 + 1) * 1000;
        uint32_t found;
        bool established;

        switch (data[0] % 7) {
        case 0:
            found = mux_flow_lookup(&table, &key, hash, now, timeout);
            if (found == MUX_FLOW_NONE) {
                mux_flow_insert(&table, &key, hash, backend, now, timeout);
                model[k] = backend;
                ovs_assert(mux_flow_peek(&table, &key, hash, now,
                                         &established) == backend);
            } else {
                ovs_assert(found == model[k]);
            }
            break;

        case 1:
            found = mux_flow_lookup(&table, &key, hash, now, timeout);
            ovs_assert(found == MUX_FLOW_NONE || found == model[k]);
            break;

        case 2:
            found = mux_flow_peek(&table, &key, hash, now, &established);
            ovs_assert(found == MUX_FLOW_NONE || found == model[k]);
            break;

        case 3:
            mux_flow_forget(&table, &key, hash);
            model[k] = MUX_FLOW_NONE;
            ovs_assert(mux_flow_peek(&table, &key, hash, now, &established)
                       == MUX_FLOW_NONE);
            break;

        case 4:
            mux_flow_sweep(&table, now);
            break;

        case 5:
            now += data[3] * 100;
            break;

        case 6:
            now += 1u << 31;
            break;
        }

        struct census census = { { 0, 0 }, { 0, 0 } };
        mux_flow_visit(&table, now, count_entry, &census);
        uint32_t n_est, n_new;
        mux_flow_count(&table, now, &n_est, &n_new);
        ovs_assert(census.n_est[0] + census.n_est[1] == n_est);
        ovs_assert(census.n_new[0] + census.n_new[1] == n_new);
        ovs_assert(census.n_est[0] <= (table.est.mask + 1) * MUX_FLOW_WAYS);
        ovs_assert(census.n_new[0] <= (table.new.mask + 1) * MUX_FLOW_WAYS);
        ovs_assert(census.n_est[1]
                   <= (table.est6.mask + 1) * MUX_FLOW_WAYS);
        ovs_assert(census.n_new[1]
                   <= (table.new6.mask + 1) * MUX_FLOW_WAYS);
    }

    mux_flow_table_destroy(&table);
    return 0;
}
