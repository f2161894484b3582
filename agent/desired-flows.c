/* SPDX-License-Identifier: Apache-2.0 */
/* The flows that the agent wants on its bridge, kept item by item; see
 * desired-flows.h. */

#include <config.h>
#include "desired-flows.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "host-flows.h"
#include "ofctrl.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"

/* An item of the view, by its key, and the flows that it gives. */
struct desired_item {
    struct hmap_node node;      /* In 'items', by hash of 'key'. */
    void *key;
    size_t key_len;
    struct ofctrl_flow **flows; /* Each in 'flows' or in 'shadowed'. */
    size_t n_flows;
    bool seen;                  /* In the view, during an update. */
};

void
desired_flows_init(struct desired_flows *df)
{
    hmap_init(&df->flows);
    hmap_init(&df->shadowed);
    hmap_init(&df->items);
    df->n_built = df->n_items = 0;
}

/* Adds 'f' to the flows of 'df': to those that the bridge is to have if no
 * flow of its key and of a cookie as low is there, else to the shadowed
 * ones. */
static void
add_flow(struct desired_flows *df, struct ofctrl_flow *f)
{
    struct ofctrl_flow *old = ofctrl_flow_find(&df->flows, f);
    if (!old) {
        hmap_insert(&df->flows, &f->node, f->node.hash);
    } else if (f->cookie < old->cookie) {
        hmap_replace(&df->flows, &old->node, &f->node);
        hmap_insert(&df->shadowed, &old->node, old->node.hash);
    } else {
        hmap_insert(&df->shadowed, &f->node, f->node.hash);
    }
}

/* Removes 'f' from the flows of 'df' and frees it.  If the bridge was to
 * have it, a shadowed flow of its key, the one of the lowest cookie, takes
 * its place. */
static void
remove_flow(struct desired_flows *df, struct ofctrl_flow *f)
{
    if (ofctrl_flow_find(&df->flows, f) != f) {
        hmap_remove(&df->shadowed, &f->node);
    } else {
        struct ofctrl_flow *next = NULL, *s;
        HMAP_FOR_EACH_WITH_HASH (s, node, f->node.hash, &df->shadowed) {
            if (ofctrl_flow_same_key(s, f)
                && (!next || s->cookie < next->cookie)) {
                next = s;
            }
        }
        if (next) {
            hmap_remove(&df->shadowed, &next->node);
            hmap_replace(&df->flows, &f->node, &next->node);
        } else {
            hmap_remove(&df->flows, &f->node);
        }
    }
    ofctrl_flow_destroy(f);
}

static void
remove_item(struct desired_flows *df, struct desired_item *item)
{
    for (size_t i = 0; i < item->n_flows; i++) {
        remove_flow(df, item->flows[i]);
    }
    hmap_remove(&df->items, &item->node);
    free(item->flows);
    free(item->key);
    free(item);
}

/* Removes every item and flow from 'df': the next update builds them
 * all. */
void
desired_flows_clear(struct desired_flows *df)
{
    struct desired_item *item;
    HMAP_FOR_EACH_SAFE (item, node, &df->items) {
        remove_item(df, item);
    }
    ovs_assert(hmap_is_empty(&df->flows) && hmap_is_empty(&df->shadowed));
}

void
desired_flows_destroy(struct desired_flows *df)
{
    if (df) {
        desired_flows_clear(df);
        hmap_destroy(&df->flows);
        hmap_destroy(&df->shadowed);
        hmap_destroy(&df->items);
    }
}

static struct desired_item *
find_item(const struct desired_flows *df, const struct ofpbuf *key,
          uint32_t hash)
{
    struct desired_item *item;
    HMAP_FOR_EACH_WITH_HASH (item, node, hash, &df->items) {
        if (item->key_len == key->size
            && !memcmp(item->key, key->data, key->size)) {
            return item;
        }
    }
    return NULL;
}

/* Builds the flows of item 'index' of 'kind' of 'v', whose key is 'key',
 * into a new item of 'df'. */
static void
build_item(struct desired_flows *df, const struct host_view *v,
           enum host_item_kind kind, size_t index, const struct ofpbuf *key,
           uint32_t hash)
{
    struct host_flows flows = { .n = 0 };
    host_flows_build_item(v, kind, index, &flows);

    struct desired_item *item = xmalloc(sizeof *item);
    item->key = xmemdup(key->data, key->size);
    item->key_len = key->size;
    item->n_flows = flows.n;
    item->flows = xmalloc(flows.n * sizeof *item->flows);
    item->seen = true;
    for (size_t i = 0; i < flows.n; i++) {
        const struct host_flow *hf = &flows.flows[i];
        item->flows[i] = ofctrl_flow_create(hf->table_id, hf->priority,
                                            hf->cookie, &hf->match,
                                            hf->ofpacts, hf->ofpacts_len);
        add_flow(df, item->flows[i]);
    }
    hmap_insert(&df->items, &item->node, hash);
    host_flows_destroy(&flows);
}

/* Brings the flows of 'df' in line with view 'v': builds the flows of its
 * new and changed items, and drops those of the items that it no longer
 * has.  Returns true if the flows that the bridge is to have may have
 * changed. */
bool
desired_flows_update(struct desired_flows *df, const struct host_view *v)
{
    struct desired_item *item;
    HMAP_FOR_EACH (item, node, &df->items) {
        item->seen = false;
    }

    bool changed = false;
    uint64_t stub[1024 / 8];
    struct ofpbuf key = OFPBUF_STUB_INITIALIZER(stub);
    df->n_built = df->n_items = 0;
    for (int kind = 0; kind < HOST_N_ITEM_KINDS; kind++) {
        size_t n = host_view_n_items(v, kind);
        for (size_t i = 0; i < n; i++) {
            ofpbuf_clear(&key);
            host_flows_item_key(v, kind, i, &key);
            uint32_t hash = hash_bytes(key.data, key.size, 0);
            item = find_item(df, &key, hash);
            if (item) {
                /* Unchanged, or an item the same as another: the same
                 * flows, which it has already. */
                item->seen = true;
            } else {
                build_item(df, v, kind, i, &key, hash);
                df->n_built++;
                changed = true;
            }
        }
    }
    ofpbuf_uninit(&key);

    HMAP_FOR_EACH_SAFE (item, node, &df->items) {
        if (!item->seen) {
            remove_item(df, item);
            changed = true;
        }
    }
    df->n_items = hmap_count(&df->items);
    return changed;
}
