/* SPDX-License-Identifier: Apache-2.0 */
/* The mux's fragment table; see mux-frag.h. */

#include <config.h>
#include "mux-frag.h"

#include <string.h>

#include "dp-packet.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "ovs-thread.h"
#include "util.h"

BUILD_ASSERT_DECL(sizeof(struct mux_frag_key) == 44);

/* One datagram. */
struct frag_entry {
    struct hmap_node node;      /* In 'datagrams', by the caller's hash. */
    struct ovs_list age_node;   /* In 'by_age', oldest first. */
    struct mux_frag_key key;
    uint32_t expires;           /* ms. */
    bool placed;                /* The first fragment came... */
    struct mux_frag_place place;        /* ...and went there. */
    uint32_t received;          /* Payload bytes of the fragments seen. */
    uint32_t total;             /* The datagram's payload length, once its
                                 * last fragment came, else 0. */
    struct mux_frag_held *held; /* Fragments that wait for the first. */
    size_t n_held, allocated;
};

struct mux_frags {
    struct ovs_mutex mutex;
    struct hmap datagrams OVS_GUARDED;
    struct ovs_list by_age OVS_GUARDED;     /* All entries: each lives as
                                             * long as the others. */
    size_t n_held OVS_GUARDED;
    size_t max_datagrams, max_held;
};

/* Returns a fragment table for at most 'max_datagrams' datagrams at once,
 * and at most 'max_held' fragments waiting in all. */
struct mux_frags *
mux_frags_create(size_t max_datagrams, size_t max_held)
{
    struct mux_frags *frags = xzalloc(sizeof *frags);
    ovs_mutex_init(&frags->mutex);
    hmap_init(&frags->datagrams);
    ovs_list_init(&frags->by_age);
    frags->max_datagrams = max_datagrams;
    frags->max_held = max_held;
    return frags;
}

static void
remove_entry(struct mux_frags *frags, struct frag_entry *e)
    OVS_REQUIRES(frags->mutex)
{
    hmap_remove(&frags->datagrams, &e->node);
    ovs_list_remove(&e->age_node);
    for (size_t i = 0; i < e->n_held; i++) {
        dp_packet_delete(e->held[i].packet);
    }
    frags->n_held -= e->n_held;
    free(e->held);
    free(e);
}

void
mux_frags_destroy(struct mux_frags *frags)
{
    if (!frags) {
        return;
    }
    struct frag_entry *e;
    ovs_mutex_lock(&frags->mutex);
    HMAP_FOR_EACH_SAFE (e, node, &frags->datagrams) {
        remove_entry(frags, e);
    }
    ovs_mutex_unlock(&frags->mutex);
    hmap_destroy(&frags->datagrams);
    ovs_mutex_destroy(&frags->mutex);
    free(frags);
}

static struct frag_entry *
find_entry(const struct mux_frags *frags, const struct mux_frag_key *key,
           uint32_t hash)
    OVS_REQUIRES(frags->mutex)
{
    struct frag_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash, &frags->datagrams) {
        if (!memcmp(&e->key, key, sizeof *key)) {
            return e;
        }
    }
    return NULL;
}

/* Returns the entry of 'key', made if it is not there, or NULL if the
 * table is full. */
static struct frag_entry *
get_entry(struct mux_frags *frags, const struct mux_frag_key *key,
          uint32_t hash, uint32_t now)
    OVS_REQUIRES(frags->mutex)
{
    struct frag_entry *e = find_entry(frags, key, hash);
    if (e || hmap_count(&frags->datagrams) >= frags->max_datagrams) {
        return e;
    }
    e = xzalloc(sizeof *e);
    e->key = *key;
    e->expires = now + MUX_FRAG_TIMEOUT_MS;
    hmap_insert(&frags->datagrams, &e->node, hash);
    ovs_list_push_back(&frags->by_age, &e->age_node);
    return e;
}

/* Counts 'span' into 'e', and forgets 'e' if the first fragment has come
 * and with it every byte of the datagram. */
static void
count_span(struct mux_frags *frags, struct frag_entry *e,
           const struct mux_frag_span *span)
    OVS_REQUIRES(frags->mutex)
{
    e->received += span->len;
    if (!span->more) {
        e->total = span->offset + span->len;
    }
    if (e->placed && e->total && e->received >= e->total) {
        remove_entry(frags, e);
    }
}

/* Records that the first fragment of datagram 'key' (whose entry, if any,
 * has 'hash') went to 'place', and moves to '*held' ('*n_held' of them)
 * the fragments that came before it, for the caller to send there (or
 * free, if it was dropped).  A first fragment that comes again goes where
 * the first one went: the caller finds out with mux_frags_peek(). */
void
mux_frags_place(struct mux_frags *frags, const struct mux_frag_key *key,
                uint32_t hash, const struct mux_frag_place *place,
                const struct mux_frag_span *span, uint32_t now,
                struct mux_frag_held **held, size_t *n_held)
{
    *held = NULL;
    *n_held = 0;

    ovs_mutex_lock(&frags->mutex);
    struct frag_entry *e = get_entry(frags, key, hash, now);
    if (e && !e->placed) {
        e->placed = true;
        e->place = *place;
        *held = e->held;
        *n_held = e->n_held;
        frags->n_held -= e->n_held;
        e->held = NULL;
        e->n_held = e->allocated = 0;
    }
    if (e) {
        count_span(frags, e, span);
    }
    ovs_mutex_unlock(&frags->mutex);
}

/* Takes a later fragment of datagram 'key', in 'packet' (an Ethernet
 * frame, not encapsulated, whose IP packet is 'ip_len' bytes).  Returns
 * MUX_FRAG_PLACED with '*place' where the first fragment went (the caller
 * keeps 'packet'), MUX_FRAG_HELD if it now waits here for the first
 * (the table keeps 'packet'), MUX_FRAG_DROPPED if the first was dropped,
 * or MUX_FRAG_FULL if there is no room for it to wait. */
enum mux_frag_result
mux_frags_later(struct mux_frags *frags, const struct mux_frag_key *key,
                uint32_t hash, const struct mux_frag_span *span,
                struct dp_packet *packet, uint16_t ip_len, uint32_t now,
                struct mux_frag_place *place)
{
    enum mux_frag_result result;

    ovs_mutex_lock(&frags->mutex);
    struct frag_entry *e = get_entry(frags, key, hash, now);
    if (!e) {
        result = MUX_FRAG_FULL;
    } else if (e->placed) {
        *place = e->place;
        result = (place->target != MUX_FLOW_NONE ? MUX_FRAG_PLACED
                  : MUX_FRAG_DROPPED);
        count_span(frags, e, span);
    } else if (frags->n_held >= frags->max_held) {
        result = MUX_FRAG_FULL;
    } else {
        if (e->n_held >= e->allocated) {
            e->held = x2nrealloc(e->held, &e->allocated, sizeof *e->held);
        }
        e->held[e->n_held++] = (struct mux_frag_held) { packet, ip_len };
        frags->n_held++;
        count_span(frags, e, span);
        result = MUX_FRAG_HELD;
    }
    ovs_mutex_unlock(&frags->mutex);
    return result;
}

/* Stores in '*place' where the first fragment of datagram 'key' went, and
 * returns true, if it came; otherwise returns false.  Changes nothing: for
 * tracing, and for a first fragment that comes again. */
bool
mux_frags_peek(struct mux_frags *frags, const struct mux_frag_key *key,
               uint32_t hash, struct mux_frag_place *place)
{
    ovs_mutex_lock(&frags->mutex);
    const struct frag_entry *e = find_entry(frags, key, hash);
    bool placed = e && e->placed;
    if (placed) {
        *place = e->place;
    }
    ovs_mutex_unlock(&frags->mutex);
    return placed;
}

/* Forgets the datagrams whose time is up at 'now', and frees the
 * fragments that waited in vain for their first.  Returns how many those
 * were. */
size_t
mux_frags_expire(struct mux_frags *frags, uint32_t now)
{
    size_t dropped = 0;

    if (ovs_mutex_trylock(&frags->mutex)) {
        return 0;               /* Busy: next time. */
    }
    while (!ovs_list_is_empty(&frags->by_age)) {
        struct frag_entry *e = CONTAINER_OF(ovs_list_front(&frags->by_age),
                                            struct frag_entry, age_node);
        if ((int32_t) (e->expires - now) > 0) {
            break;
        }
        dropped += e->n_held;
        remove_entry(frags, e);
    }
    ovs_mutex_unlock(&frags->mutex);
    return dropped;
}

void
mux_frags_usage(struct mux_frags *frags, struct mux_frags_usage *usage)
{
    ovs_mutex_lock(&frags->mutex);
    usage->datagrams = hmap_count(&frags->datagrams);
    usage->held = frags->n_held;
    usage->max_datagrams = frags->max_datagrams;
    usage->max_held = frags->max_held;
    ovs_mutex_unlock(&frags->mutex);
}
