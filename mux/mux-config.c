/* SPDX-License-Identifier: Apache-2.0 */
/* Turning the SLB database into a mux configuration; see mux-config.h. */

#include <config.h>
#include "mux-config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap.h"
#include "hash.h"
#include "hmapx.h"
#include "lib/hosts.h"
#include "lib/lb.h"
#include "lib/redirect.h"
#include "lib/slb-idl.h"
#include "lib/slb-parse.h"
#include "maglev.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/shash.h"
#include "packets.h"
#include "smap.h"
#include "sset.h"
#include "util.h"
#include "uuid.h"
#include "uuidset.h"

void
mux_ids_init(struct mux_ids *ids, uint32_t new_flow_timeout_ms)
{
    mux_id_map_init(&ids->backends);
    mux_id_map_init(&ids->stats);
    ids->longest_timeout = new_flow_timeout_ms;
}

void
mux_ids_destroy(struct mux_ids *ids)
{
    if (ids) {
        mux_id_map_destroy(&ids->backends);
        mux_id_map_destroy(&ids->stats);
    }
}

/* How long after its last packet a flow table entry that names a backend
 * may still be found, beyond its timeout: until the packet threads sweep it
 * out, plus time for a thread to finish a pass with an older
 * configuration. */
#define MUX_IDS_GRACE_MS (MUX_FLOW_SWEEP_MS + 1000)

/* Tells 'ids' that 'cfg' is applied at 'now'.  A backend id that 'cfg'
 * does not use is held for as long as a flow table may still name it: the
 * longest flow timeout of any configuration so far, and a grace period.
 * A statistics id may go to another rule at once: its epoch tells the
 * packet threads to count afresh. */
void
mux_ids_update(struct mux_ids *ids, const struct mux_config *cfg,
               long long int now)
{
    for (size_t i = 0; i < cfg->n_rules; i++) {
        ids->longest_timeout = MAX(ids->longest_timeout,
                                   cfg->rules[i].idle_timeout);
    }

    size_t n = mux_id_map_size(&ids->backends);
    unsigned long *in_use = bitmap_allocate(n);
    for (size_t i = 0; i < MIN(n, cfg->n_targets); i++) {
        if (cfg->targets[i]) {
            bitmap_set1(in_use, i);
        }
    }
    mux_id_map_update(&ids->backends, in_use, now,
                      (long long int) ids->longest_timeout
                      + MUX_IDS_GRACE_MS);
    bitmap_free(in_use);

    n = mux_id_map_size(&ids->stats);
    in_use = bitmap_allocate(n);
    for (size_t i = 0; i < cfg->n_rules; i++) {
        bitmap_set1(in_use, cfg->rules[i].stats_id);
    }
    for (size_t i = 0; i < cfg->n_snats; i++) {
        bitmap_set1(in_use, cfg->snats[i].stats_id);
    }
    mux_id_map_update(&ids->stats, in_use, now, 0);
    bitmap_free(in_use);
}

/* State of one build. */
struct builder {
    struct ovsdb_idl *idl;
    struct mux_config *cfg;
    struct mux_ids *ids;
    const struct mux_config *old;
    struct ds *problems;
    struct hmap down;           /* Unhealthy (backend, probe) pairs. */
    struct hmapx bound;         /* The VMs that their hosts have bound. */

    /* The Maglev tables of 'cfg' and of 'old', of struct maglev_node, by
     * hash of their inputs: rules with the same backends share one table,
     * and a table that did not change is not built again. */
    struct hmap maglevs;
    struct hmap old_maglevs;

    /* The (VIP, protocol, port)s that rules took, of struct rule_claim:
     * any OVSDB client can write two rules for the same one. */
    struct hmap claims;

    /* The lines of 'problems', each once however many rules lead to it. */
    struct sset reported;

    /* The target of each VM row met so far, of struct vm_target: a VM is
     * the backend of many pools. */
    struct hmap vm_targets;

    size_t n_built;             /* Rules worked out from their rows. */
};

struct vm_target {
    struct hmap_node node;      /* In 'vm_targets', by the VM's pointer. */
    const struct slbrec_vm *vm;
    const struct mux_target *target;    /* NULL: the VM cannot receive. */
};

/* Appends 'problem', a line that this frees, to the build's problems
 * unless it is there already. */
static void
add_problem(struct builder *b, char *problem)
{
    if (sset_add(&b->reported, problem)) {
        ds_put_format(b->problems, "%s\n", problem);
    }
    free(problem);
}

static const char *
proto_name(uint8_t proto)
{
    return (proto == IPPROTO_TCP ? "tcp"
            : proto == IPPROTO_UDP ? "udp" : "all");
}

/* Marks 'vip' as a VIP of 'cfg': public for 'vni' 0, else internal to the
 * virtual network with 'vni'. */
static void
add_vip(struct mux_config *cfg, uint32_t vni, const struct in6_addr *vip)
{
    if (vni) {
        mux_config_add_internal_vip(cfg, vni, vip);
    } else {
        mux_config_add_vip(cfg, vip);
    }
}

struct rule_claim {
    struct hmap_node node;
    uint32_t vni;               /* 0, or an internal VIP's network. */
    struct in6_addr vip;
    uint8_t proto;
    uint16_t port;
    const char *what;           /* "rule" or "inbound NAT rule"... */
    const char *rule;           /* ...and the name of the rule. */
};

static uint32_t
hash_claim(const struct in6_addr *vip, uint8_t proto, uint16_t port)
{
    return hash_words(vip->s6_addr32, 4, (uint32_t) proto << 16 | port);
}

/* Returns the claim on (VIP 'vip' of the network with 'vni', or public for
 * 0, 'proto', 'port'), or NULL. */
static const struct rule_claim *
find_claim(const struct builder *b, uint32_t vni, const struct in6_addr *vip,
           uint8_t proto, uint16_t port)
{
    const struct rule_claim *c;
    HMAP_FOR_EACH_WITH_HASH (c, node, hash_claim(vip, proto, port),
                             &b->claims) {
        if (ipv6_addr_equals(&c->vip, vip) && c->proto == proto
            && c->port == port
            && c->vni == vni) {
            return c;
        }
    }
    return NULL;
}

/* Takes (VIP 'vip', 'proto', 'port') for rule 'name' (a "rule" or an
 * "inbound NAT rule", as 'what' says) and returns true, or returns false
 * and reports the conflict if another rule has it.  Rules come in order
 * of their names, so that every mux keeps the same one. */
static bool
claim_rule_key(struct builder *b, const char *what, const char *name,
               uint32_t vni, const struct in6_addr *vip, uint8_t proto,
               uint16_t port)
{
    const struct rule_claim *c = find_claim(b, vni, vip, proto, port);
    if (c) {
        char buf[SLB_ADDR_STRLEN];
        ds_put_format(b->problems, "%s %s: %s %s port %"PRIu16
                      " is rule %s's already: left out\n", what, name,
                      slb_addr_to_string(vip, buf), proto_name(proto), port,
                      c->rule);
        return false;
    }
    struct rule_claim *new = xmalloc(sizeof *new);
    new->vni = vni;
    new->vip = *vip;
    new->proto = proto;
    new->port = port;
    new->what = what;
    new->rule = name;
    hmap_insert(&b->claims, &new->node, hash_claim(vip, proto, port));
    return true;
}

/* Returns true if 'snat' gives port 'port' to a backend. */
static bool
snat_has_port(const struct mux_snat *snat, uint16_t port)
{
    for (size_t i = 0; i < snat->n; i++) {
        if (port >= snat->ranges[i].min && port <= snat->ranges[i].max) {
            return true;
        }
    }
    return false;
}

struct snat_node {
    struct hmap_node node;      /* By hash_claim() of its VIP and protocol. */
    const struct mux_snat *snat;
};

/* Returns the SNAT ports of (VIP 'vip', 'proto') in 'snats', or NULL. */
static const struct mux_snat *
find_snat(const struct hmap *snats, const struct in6_addr *vip,
          uint8_t proto)
{
    const struct snat_node *sn;
    HMAP_FOR_EACH_WITH_HASH (sn, node, hash_claim(vip, proto, 0), snats) {
        if (ipv6_addr_equals(&sn->snat->vip, vip)
            && sn->snat->proto == proto) {
            return sn->snat;
        }
    }
    return NULL;
}

/* Reports the claims of the configuration that overlap without being the
 * same (VIP, protocol, port): slb-ctl refuses them, but another client may
 * write them.  The packet path settles them alike on every mux, whatever
 * the order of the rows: a rule for a port first, then the SNAT ports that
 * an outbound rule gave its backends, then an HA-ports rule. */
static void
report_overlaps(struct builder *b)
{
    const struct mux_config *cfg = b->cfg;
    struct hmap snats = HMAP_INITIALIZER(&snats);
    for (size_t i = 0; i < cfg->n_snats; i++) {
        struct snat_node *sn = xmalloc(sizeof *sn);
        sn->snat = &cfg->snats[i];
        hmap_insert(&snats, &sn->node,
                    hash_claim(&sn->snat->vip, sn->snat->proto, 0));
    }

    static const uint8_t tcp_udp[] = { IPPROTO_TCP, IPPROTO_UDP };
    const struct rule_claim *c;
    HMAP_FOR_EACH (c, node, &b->claims) {
        const struct rule_claim *ha = (c->port
                                       ? find_claim(b, c->vni, &c->vip, 0, 0)
                                       : NULL);
        char vip[SLB_ADDR_STRLEN];
        slb_addr_to_string(&c->vip, vip);
        if (ha) {
            add_problem(b, xasprintf(
                            "rule %s (HA ports): %s %s has %s %s "
                            "port %"PRIu16" first", ha->rule, c->what,
                            c->rule, vip, proto_name(c->proto), c->port));
        }
        if (c->vni) {
            continue;           /* An internal VIP has no SNAT ports. */
        }
        if (c->port) {
            const struct mux_snat *snat = find_snat(&snats, &c->vip,
                                                    c->proto);
            if (snat && snat_has_port(snat, c->port)) {
                add_problem(b, xasprintf(
                                "outbound rule %s: %s %s has %s %s "
                                "port %"PRIu16", which it gave for SNAT: "
                                "its replies go to the rule", snat->rule_name,
                                c->what, c->rule, vip,
                                proto_name(c->proto), c->port));
            }
        } else if (!c->proto) {
            for (size_t p = 0; p < ARRAY_SIZE(tcp_udp); p++) {
                const struct mux_snat *snat = find_snat(&snats, &c->vip,
                                                        tcp_udp[p]);
                if (snat) {
                    add_problem(b, xasprintf(
                                    "rule %s (HA ports): the %s ports of "
                                    "%s that outbound rule %s gave for "
                                    "SNAT go to its backends first", c->rule,
                                    proto_name(tcp_udp[p]), vip,
                                    snat->rule_name));
                }
            }
        }
    }

    struct snat_node *sn;
    HMAP_FOR_EACH_POP (sn, node, &snats) {
        free(sn);
    }
    hmap_destroy(&snats);
}

struct maglev_node {
    struct hmap_node node;
    struct mux_maglev *m;
};

struct down_pair {
    struct hmap_node node;
    const struct slbrec_vm *vm;
    const struct slbrec_probe *probe;
};

static uint32_t
hash_pair(const void *a, const void *b)
{
    return hash_pointer(b, hash_pointer(a, 0));
}

static bool
is_down(const struct builder *b, const struct slbrec_vm *vm,
        const struct slbrec_probe *probe)
{
    const struct down_pair *p;
    HMAP_FOR_EACH_WITH_HASH (p, node, hash_pair(vm, probe), &b->down) {
        if (p->vm == vm && p->probe == probe) {
            return true;
        }
    }
    return false;
}

static bool
parse_ip(const char *s, ovs_be32 *ip)
{
    return s && ip_parse(s, ip);
}

/* Parses VIP or CA 's', IPv4 or IPv6, into '*addr'. */
static bool
parse_addr(const char *s, struct in6_addr *addr)
{
    return s && slb_addr_from_string(s, addr);
}

/* Returns the name of 'vm' for its target's id: its CA and VNI. */
static char *
target_name(const struct in6_addr *ca, int64_t vni)
{
    char buf[SLB_ADDR_STRLEN];
    return xasprintf("%s/%"PRId64, slb_addr_to_string(ca, buf), vni);
}

static const struct mux_target *add_target__(struct builder *,
                                             const struct slbrec_vm *);

/* Makes room in 'cfg' for targets with ids below 'n'. */
static void
grow_targets(struct mux_config *cfg, size_t n)
{
    if (n > cfg->n_targets) {
        cfg->targets = xrealloc(cfg->targets, n * sizeof *cfg->targets);
        memset(&cfg->targets[cfg->n_targets], 0,
               (n - cfg->n_targets) * sizeof *cfg->targets);
        cfg->n_targets = n;
    }
}

/* Returns the target of 'vm', adding it to the configuration, or NULL if
 * the VM cannot receive traffic (no VM, host or network). */
static const struct mux_target *
add_target(struct builder *b, const struct slbrec_vm *vm)
{
    uint32_t hash = hash_pointer(vm, 0);
    struct vm_target *vt;
    HMAP_FOR_EACH_WITH_HASH (vt, node, hash, &b->vm_targets) {
        if (vt->vm == vm) {
            return vt->target;
        }
    }
    vt = xmalloc(sizeof *vt);
    vt->vm = vm;
    vt->target = add_target__(b, vm);
    hmap_insert(&b->vm_targets, &vt->node, hash);
    return vt->target;
}

static const struct mux_target *
add_target__(struct builder *b, const struct slbrec_vm *vm)
{
    struct in6_addr ca;
    ovs_be32 pa;

    if (!vm || !vm->host || !vm->vnet) {
        return NULL;
    }
    if (!parse_addr(vm->ca, &ca)) {
        add_problem(b, xasprintf("VM \"%s\" of virtual network %s is left "
                                 "out: its CA is not an IPv4 or IPv6 "
                                 "address", vm->ca, vm->vnet->name));
        return NULL;
    }
    if (!parse_ip(vm->host->pa, &pa)) {
        add_problem(b, xasprintf("VM %s of virtual network %s is left out: "
                                 "the PA \"%s\" of its host %s is not an "
                                 "IPv4 address", vm->ca, vm->vnet->name,
                                 vm->host->pa, vm->host->name));
        return NULL;
    }

    char *name = target_name(&ca, vm->vnet->vni);
    uint32_t id = mux_id_map_get(&b->ids->backends, name);
    free(name);

    struct mux_config *cfg = b->cfg;
    if (id >= cfg->n_targets) {
        grow_targets(cfg, mux_id_map_size(&b->ids->backends));
    }
    if (!cfg->targets[id]) {
        struct mux_target *t = xzalloc(sizeof *t);
        t->id = id;
        t->ca = ca;
        t->pa = pa;
        t->vni = vm->vnet->vni;
        mux_target_init_header(t, &cfg->underlay);
        cfg->targets[id] = t;
    }
    return cfg->targets[id];
}

/* Gives each target the MAC of its VM (see struct slb_vms), and names the
 * VM rows whose MAC is not one. */
static void
set_target_macs(struct builder *b, const struct ovsdb_idl *idl)
{
    struct mux_config *cfg = b->cfg;
    struct slb_vms vms;
    slb_vms_init(&vms);
    const struct slbrec_vm *row;
    SLBREC_VM_FOR_EACH (row, idl) {
        struct eth_addr mac;
        if (row->mac && row->vnet
            && !eth_addr_from_string(row->mac, &mac)) {
            add_problem(b, xasprintf("VM %s of virtual network %s: MAC "
                                     "\"%s\" is not an Ethernet address; "
                                     "the mux sends to it without one",
                                     row->ca, row->vnet->name, row->mac));
        }
        slb_vms_add(&vms, row);
    }
    const struct slb_vm *vm;
    SLB_VMS_FOR_EACH (vm, &vms) {
        if (!vm->mac_row) {
            continue;
        }
        char *name = target_name(&vm->ca, vm->vni);
        uint32_t id = mux_id_map_find(&b->ids->backends, name);
        free(name);
        if (id < cfg->n_targets && cfg->targets[id]) {
            cfg->targets[id]->mac = vm->mac;
        }
    }
    slb_vms_destroy(&vms);
}

struct maglev_input {
    uint64_t key;
    struct in6_addr ca;         /* Orders inputs of the same key alike on
                                 * every mux. */
    uint32_t weight;
    uint32_t id;
    uint8_t state;              /* enum slb_backend_state, for the rule. */
};

/* Returns the key that gives target 't' its Maglev permutation, the same
 * on every mux.  An IPv4 backend's is its CA and VNI, as it was before
 * muxes knew IPv6, so that tables do not change across an upgrade; an
 * IPv6 backend's, a 64-bit hash of both. */
static uint64_t
maglev_key(const struct mux_target *t)
{
    if (IN6_IS_ADDR_V4MAPPED(&t->ca)) {
        return ((uint64_t) ntohl(in6_addr_get_mapped_ipv4(&t->ca)) << 32
                | t->vni);
    }
    uint64_t words[2];
    memcpy(words, &t->ca, sizeof words);
    return hash_bytes64(words, sizeof words, t->vni);
}

static int
compare_inputs(const void *a_, const void *b_)
{
    const struct maglev_input *a = a_, *b = b_;
    return (a->key != b->key ? (a->key < b->key ? -1 : 1)
            : memcmp(&a->ca, &b->ca, sizeof a->ca));
}

/* Returns the hash of a Maglev table's inputs: its backends' keys and
 * weights, its seed and its size. */
static uint32_t
hash_maglev_inputs(const uint64_t *keys, const uint32_t *weights,
                   size_t key_stride, size_t weight_stride, size_t n,
                   uint32_t seed, uint32_t size)
{
    uint32_t hash = hash_2words(seed, size);
    for (size_t i = 0; i < n; i++) {
        hash = hash_add64(hash, *(const uint64_t *) ((const char *) keys
                                                     + i * key_stride));
        hash = hash_add(hash, *(const uint32_t *) ((const char *) weights
                                                   + i * weight_stride));
    }
    return hash_finish(hash, n);
}

static uint32_t
hash_maglev(const struct mux_maglev *m)
{
    return hash_maglev_inputs(m->keys, m->weights, sizeof *m->keys,
                              sizeof *m->weights, m->n, m->seed, m->size);
}

static void
index_maglev(struct hmap *index, struct mux_maglev *m, uint32_t hash)
{
    struct maglev_node *node = xmalloc(sizeof *node);
    node->m = m;
    hmap_insert(index, &node->node, hash);
}

static void
index_destroy(struct hmap *index)
{
    struct maglev_node *node;
    HMAP_FOR_EACH_POP (node, node, index) {
        free(node);
    }
    hmap_destroy(index);
}

static bool
maglev_matches(const struct mux_maglev *m, const struct maglev_input *in,
               size_t n, uint32_t seed, uint32_t size)
{
    if (m->n != n || m->seed != seed || m->size != size) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (m->keys[i] != in[i].key || m->weights[i] != in[i].weight
            || m->ids[i] != in[i].id) {
            return false;
        }
    }
    return true;
}

/* Returns a Maglev table for the 'n' backends in 'in' (sorted by key):
 * one that this configuration or the previous one already has, or a new
 * one. */
static struct mux_maglev *
get_maglev(struct builder *b, const struct maglev_input *in, size_t n,
           uint32_t size)
{
    struct mux_config *cfg = b->cfg;
    uint32_t hash = hash_maglev_inputs(&in->key, &in->weight, sizeof *in,
                                       sizeof *in, n, cfg->seed, size);

    const struct maglev_node *node;
    HMAP_FOR_EACH_WITH_HASH (node, node, hash, &b->maglevs) {
        if (maglev_matches(node->m, in, n, cfg->seed, size)) {
            return node->m;
        }
    }

    struct mux_maglev *m = NULL;
    HMAP_FOR_EACH_WITH_HASH (node, node, hash, &b->old_maglevs) {
        if (maglev_matches(node->m, in, n, cfg->seed, size)) {
            m = node->m;
            ovs_refcount_ref(&m->refcount);
            break;
        }
    }
    if (!m) {
        struct maglev_backend *backends = xmalloc((n + 1)
                                                  * sizeof *backends);
        uint32_t *ids = xmalloc((n + 1) * sizeof *ids);
        for (size_t i = 0; i < n; i++) {
            backends[i].key = in[i].key;
            backends[i].weight = in[i].weight;
            ids[i] = in[i].id;
        }
        m = mux_maglev_create(backends, ids, n, size, cfg->seed);
        free(ids);
        free(backends);
    }

    cfg->maglevs = xrealloc(cfg->maglevs, (cfg->n_maglevs + 1)
                            * sizeof *cfg->maglevs);
    cfg->maglevs[cfg->n_maglevs++] = m;
    index_maglev(&b->maglevs, m, hash);
    return m;
}

/* Adds to the configuration Maglev table 'm', which a rule kept from an
 * earlier build has, unless it has it already. */
static void
keep_maglev(struct builder *b, struct mux_maglev *m)
{
    uint32_t hash = hash_maglev(m);
    const struct maglev_node *node;
    HMAP_FOR_EACH_WITH_HASH (node, node, hash, &b->maglevs) {
        if (node->m == m) {
            return;
        }
    }
    struct mux_config *cfg = b->cfg;
    ovs_refcount_ref(&m->refcount);
    cfg->maglevs = xrealloc(cfg->maglevs, (cfg->n_maglevs + 1)
                            * sizeof *cfg->maglevs);
    cfg->maglevs[cfg->n_maglevs++] = m;
    index_maglev(&b->maglevs, m, hash);
}

/* Returns the target of backend 'vm' as a member of 'pool', adding it to
 * the configuration, or NULL if it cannot take the pool's traffic. */
static const struct mux_target *
add_pool_target(struct builder *b, const struct slbrec_backend_pool *pool,
                const struct slbrec_vm *backend)
{
    char *problem;
    const struct slbrec_vm *vm = slb_pool_backend_vm(pool, backend, &problem);
    if (problem) {
        add_problem(b, problem);
    }
    return add_target(b, vm);
}

/* What one load-balancing rule gives the configuration, worked out from
 * its rows: kept in struct mux_rule_cache from build to build until one of
 * them changes.  Building the configuration from an entry replays, in the
 * same order, what working it out did to the rest of the configuration
 * (targets, problems), so that the result is the same either way. */
struct rule_entry {
    struct hmap_node node;      /* In struct mux_rule_cache, by UUID. */
    struct uuid uuid;           /* The LB_Rule row's. */
    uint64_t build;             /* The last build that had the rule. */

    char *unusable;             /* Nonnull: the problem that leaves the
                                 * rule out, and the rest is unset. */
    uint32_t vni;               /* Of an internal VIP, else 0. */
    struct in6_addr vip;
    uint8_t proto;
    uint16_t port;

    /* The rest is set only once the rule got its (VIP, protocol, port)
     * in some build. */
    bool built;
    size_t n_backends;          /* The pool's backends, in its order: */
    char **backend_problems;    /* ...the problem each raised, if any... */
    struct uuid *backend_vms;   /* ...and its VM, all-zero for none. */
    bool truncated;             /* More than MAGLEV_MAX_BACKENDS. */
    char *hosts_problem;        /* See slb_hosts_rule_problem(). */
    struct mux_rule rule;       /* Owns its name and a Maglev reference. */
    size_t index;               /* Of 'rule' in the rules of the cache's
                                 * configuration, or SIZE_MAX if it has
                                 * none there. */
};

struct mux_rule_cache {
    struct hmap entries;        /* Contains "struct rule_entry"s. */
    bool valid;                 /* Whether they and the IDL's tracked
                                 * changes together tell the truth. */
    uint64_t build;             /* Number of the last build. */
    size_t n_built;             /* Rules worked out in the last build. */
    bool patched;               /* Whether it patched the one before (see
                                 * patch_config()). */

    /* The rules in order of their names, while no rule changes. */
    const struct slbrec_lb_rule **sorted;
    size_t n_sorted;

    /* The configuration that the last build made, by its generation, and
     * from the last build that worked out the whole configuration, the
     * keys that it staged before its fragment keys and whether it met a
     * problem: see patch_config(). */
    uint64_t generation;
    uint64_t *staged_keys;
    uint32_t *staged_values;
    size_t n_staged;
    bool had_problems;
};

static void unbuild_rule_entry(struct rule_entry *);

static void
rule_entry_destroy(struct rule_entry *e)
{
    if (e) {
        free(e->unusable);
        if (e->built) {
            unbuild_rule_entry(e);
        }
        free(e);
    }
}

struct mux_rule_cache *
mux_rule_cache_create(void)
{
    struct mux_rule_cache *cache = xzalloc(sizeof *cache);
    hmap_init(&cache->entries);
    return cache;
}

static void
clear_entries(struct hmap *entries)
{
    struct rule_entry *e;
    HMAP_FOR_EACH_POP (e, node, entries) {
        rule_entry_destroy(e);
    }
}

static void
forget_order(struct mux_rule_cache *cache)
{
    free(cache->sorted);
    cache->sorted = NULL;
    cache->n_sorted = 0;
}

static void
forget_staging(struct mux_rule_cache *cache)
{
    free(cache->staged_keys);
    free(cache->staged_values);
    cache->staged_keys = NULL;
    cache->staged_values = NULL;
    cache->n_staged = 0;
    cache->generation = 0;
}

void
mux_rule_cache_destroy(struct mux_rule_cache *cache)
{
    if (cache) {
        clear_entries(&cache->entries);
        hmap_destroy(&cache->entries);
        forget_order(cache);
        forget_staging(cache);
        free(cache);
    }
}

void
mux_rule_cache_invalidate(struct mux_rule_cache *cache)
{
    clear_entries(&cache->entries);
    forget_order(cache);
    forget_staging(cache);
    cache->valid = false;
}

bool
mux_rule_cache_patched(const struct mux_rule_cache *cache)
{
    return cache->patched;
}

size_t
mux_rule_cache_n_built(const struct mux_rule_cache *cache)
{
    return cache->n_built;
}

/* Returns the entry of rule 'uuid' in 'cache', if any. */
static struct rule_entry *
find_entry(struct mux_rule_cache *cache, const struct uuid *uuid)
{
    struct rule_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, uuid_hash(uuid), &cache->entries) {
        if (uuid_equals(&e->uuid, uuid)) {
            return e;
        }
    }
    return NULL;
}

/* Returns a new entry for rule 'lr', with its (VIP, protocol, port). */
static struct rule_entry *
rule_entry_create(const struct slbrec_lb_rule *lr)
{
    struct rule_entry *e = xzalloc(sizeof *e);
    e->uuid = lr->header_.uuid;
    e->index = SIZE_MAX;
    const char *problem = slb_rule_ports_problem(lr->protocol,
                                                 lr->frontend_port,
                                                 lr->backend_port);
    if (!lr->frontend || !parse_addr(lr->frontend->vip, &e->vip)
        || !lr->pool) {
        e->unusable = xasprintf("rule %s: no usable frontend or pool",
                                lr->name);
    } else if (problem
               || (problem = slb_frontend_problem(lr->frontend, lr->pool))) {
        e->unusable = xasprintf("rule %s: %s: left out", lr->name, problem);
    } else if (slb_frontend_is_internal(lr->frontend)) {
        e->vni = lr->frontend->vnet->vni;
    }
    e->proto = slb_protocol(lr->protocol);
    e->port = lr->frontend_port;
    return e;
}

/* Works out the rest of 'e', for rule 'lr', with a Maglev table sized for
 * its backends, of at most 'max_size' entries. */
static void
build_rule_entry(struct builder *b, struct rule_entry *e,
                 const struct slbrec_lb_rule *lr, uint32_t max_size)
{
    const struct slbrec_backend_pool *pool = lr->pool;
    struct maglev_input *in = xmalloc((pool->n_members + 1) * sizeof *in);
    size_t n = 0;
    uint32_t *moved = NULL;
    size_t n_moved = 0;
    e->n_backends = pool->n_members;
    e->backend_problems = xcalloc(pool->n_members + 1,
                                  sizeof *e->backend_problems);
    e->backend_vms = xcalloc(pool->n_members + 1, sizeof *e->backend_vms);
    for (size_t i = 0; i < pool->n_members; i++) {
        char *problem;
        const struct slbrec_vm *vm = slb_pool_backend_vm(
            pool, pool->members[i], &problem);
        if (problem) {
            e->backend_problems[i] = xstrdup(problem);
            add_problem(b, problem);
        }
        const struct mux_target *t = add_target(b, vm);
        if (!t) {
            continue;
        }
        e->backend_vms[i] = vm->header_.uuid;
        enum slb_backend_state state = slb_backend_state(
            pool, vm, hmapx_contains(&b->bound, vm),
            lr->probe && is_down(b, vm, lr->probe));
        if (IN6_IS_ADDR_V4MAPPED(&t->ca) != IN6_IS_ADDR_V4MAPPED(&e->vip)) {
            char *family_problem = xasprintf(
                "rule %s: backend %s is left out: its VIP is %s", lr->name,
                vm->ca, IN6_IS_ADDR_V4MAPPED(&e->vip) ? "IPv4" : "IPv6");
            e->backend_problems[i] = xstrdup(family_problem);
            add_problem(b, family_problem);
            continue;
        }
        in[n].key = maglev_key(t);
        in[n].ca = t->ca;
        in[n].id = t->id;
        in[n].weight = slb_backend_weight(pool, vm);
        in[n].state = state;
        if (state == SLB_BACKEND_ADMIN_DOWN) {
            moved = xrealloc(moved, (n_moved + 1) * sizeof *moved);
            moved[n_moved++] = t->id;
        }
        n++;
    }
    qsort(in, n, sizeof *in, compare_inputs);
    if (n > MAGLEV_MAX_BACKENDS) {
        e->truncated = true;
        n = MAGLEV_MAX_BACKENDS;
    }

    /* The connections of backends that their probes or admin state keep
     * from new flows go on: a mux that never saw one of them finds its
     * backend in a table of its own, if it differs. */
    uint32_t size = maglev_size(n, max_size);
    for (size_t i = 0; i < n; i++) {
        if (in[i].state == SLB_BACKEND_UNBOUND) {
            in[i].weight = 0;
        }
    }
    struct mux_maglev *maglev_est = get_maglev(b, in, n, size);

    /* Only backends that are up take new flows, unless none is and the
     * rule then fails open to those that only their probes hold back. */
    bool fail_open = slb_rule_fails_open(lr);
    uint8_t *states = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        states[i] = in[i].state;
        if (in[i].state == SLB_BACKEND_UP && in[i].weight) {
            fail_open = false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (in[i].state != SLB_BACKEND_UP
            && !(fail_open && in[i].state == SLB_BACKEND_PROBED_DOWN)) {
            in[i].weight = 0;
        }
    }

    char *stats_name = xasprintf("rule:%s", lr->name);
    e->rule = (struct mux_rule) {
        .name = xstrdup(lr->name),
        .stats_id = mux_id_map_get(&b->ids->stats, stats_name),
        .type = MUX_RULE_LB,
        .distribution = (!lr->distribution ? MUX_DIST_5_TUPLE
                         : !strcmp(lr->distribution, "3-tuple")
                         ? MUX_DIST_3_TUPLE
                         : !strcmp(lr->distribution, "2-tuple")
                         ? MUX_DIST_2_TUPLE : MUX_DIST_5_TUPLE),
        .idle_timeout = slb_rule_idle_timeout(lr) * 1000,
        .maglev = get_maglev(b, in, n, size),
        .maglev_est = maglev_est,
        .moved = moved,
        .n_moved = n_moved,
        .states = states,
        .failed_open = fail_open,
        .vni = e->vni,
        .vip = e->vip,
        .proto = e->proto,
        .port = e->port,
    };
    ovs_refcount_ref(&e->rule.maglev->refcount);
    ovs_refcount_ref(&e->rule.maglev_est->refcount);
    free(stats_name);
    free(in);
    e->hosts_problem = slb_hosts_rule_problem(lr);
    if (e->hosts_problem) {
        add_problem(b, xstrdup(e->hosts_problem));
    }
    e->built = true;
}

/* Frees what build_rule_entry() added to 'e'. */
static void
unbuild_rule_entry(struct rule_entry *e)
{
    for (size_t i = 0; i < e->n_backends; i++) {
        free(e->backend_problems[i]);
    }
    free(e->backend_problems);
    free(e->backend_vms);
    free(e->hosts_problem);
    free(CONST_CAST(char *, e->rule.name));
    free(e->rule.moved);
    free(e->rule.states);
    mux_maglev_unref(e->rule.maglev);
    mux_maglev_unref(e->rule.maglev_est);
    e->n_backends = 0;
    e->backend_problems = NULL;
    e->backend_vms = NULL;
    e->hosts_problem = NULL;
    e->truncated = false;
    memset(&e->rule, 0, sizeof e->rule);
    e->built = false;
}

/* Replays for 'b' what working out built entry 'e' did to the rest of the
 * configuration, and returns true.  Should a VM that it names be gone or
 * unable to receive (the tracked changes should have said so), it unbuilds
 * 'e', which must be worked out again, and returns false. */
static bool
replay_rule_entry(struct builder *b, struct rule_entry *e)
{
    const struct slbrec_vm **vms = xcalloc(e->n_backends + 1, sizeof *vms);
    for (size_t i = 0; i < e->n_backends; i++) {
        if (!uuid_is_zero(&e->backend_vms[i])) {
            vms[i] = slbrec_vm_get_for_uuid(b->idl, &e->backend_vms[i]);
            if (!vms[i]) {
                free(vms);
                unbuild_rule_entry(e);
                return false;
            }
        }
    }
    for (size_t i = 0; i < e->n_backends; i++) {
        if (e->backend_problems[i]) {
            add_problem(b, xstrdup(e->backend_problems[i]));
        }
        if (vms[i] && !add_target(b, vms[i])) {
            free(vms);
            unbuild_rule_entry(e);
            return false;
        }
    }
    free(vms);
    if (e->hosts_problem) {
        add_problem(b, xstrdup(e->hosts_problem));
    }
    keep_maglev(b, e->rule.maglev);
    keep_maglev(b, e->rule.maglev_est);
    return true;
}

/* Adds load-balancing rule 'lr' from entry 'e', working out what 'e' does
 * not hold yet. */
static void
add_lb_rule(struct builder *b, const struct slbrec_lb_rule *lr,
            struct rule_entry *e, uint32_t max_size)
{
    e->index = SIZE_MAX;
    if (e->unusable) {
        ds_put_format(b->problems, "%s\n", e->unusable);
        return;
    }
    if (!claim_rule_key(b, "rule", lr->name, e->vni, &e->vip, e->proto,
                        e->port)) {
        /* Its ids go to other names once no configuration uses them: it
         * must not keep them for when it comes back. */
        unbuild_rule_entry(e);
        return;
    }
    if (!e->built || !replay_rule_entry(b, e)) {
        build_rule_entry(b, e, lr, max_size);
        b->n_built++;
    }
    if (e->truncated) {
        ds_put_format(b->problems, "rule %s: only the first %d backends "
                      "are used\n", lr->name, MAGLEV_MAX_BACKENDS);
    }
    add_vip(b->cfg, e->vni, &e->vip);
    e->index = b->cfg->n_rules;
    mux_config_add_rule(b->cfg, &e->rule);
}

static void
add_nat_rule(struct builder *b, const struct slbrec_inbound_nat_rule *nr)
{
    struct in6_addr vip;
    const struct mux_target *t = add_target(b, nr->vm);

    if (!nr->frontend || !parse_addr(nr->frontend->vip, &vip) || !t) {
        ds_put_format(b->problems, "inbound NAT rule %s: no usable "
                      "frontend or backend\n", nr->name);
        return;
    }
    const char *fe_problem = slb_nat_frontend_problem(nr->frontend, nr->vm);
    if (fe_problem) {
        ds_put_format(b->problems, "inbound NAT rule %s: %s: left out\n",
                      nr->name, fe_problem);
        return;
    }
    uint32_t vni = (slb_frontend_is_internal(nr->frontend)
                    ? nr->frontend->vnet->vni : 0);
    if (IN6_IS_ADDR_V4MAPPED(&t->ca) != IN6_IS_ADDR_V4MAPPED(&vip)) {
        ds_put_format(b->problems, "inbound NAT rule %s: backend %s is not "
                      "of its VIP's family: left out\n", nr->name,
                      nr->vm->ca);
        return;
    }
    if (!claim_rule_key(b, "inbound NAT rule", nr->name, vni, &vip,
                        slb_protocol(nr->protocol), nr->frontend_port)) {
        return;
    }
    char *problem = slb_hosts_nat_problem(nr);
    if (problem) {
        add_problem(b, problem);
    }

    char *stats_name = xasprintf("nat:%s", nr->name);
    struct mux_rule rule = {
        .name = nr->name,
        .stats_id = mux_id_map_get(&b->ids->stats, stats_name),
        .type = MUX_RULE_NAT,
        .backend = t->id,
        .vni = vni,
        .vip = vip,
        .proto = slb_protocol(nr->protocol),
        .port = nr->frontend_port,
    };
    free(stats_name);
    add_vip(b->cfg, vni, &vip);
    mux_config_add_rule(b->cfg, &rule);
}

/* One allocation's SNAT ports, while they are collected. */
struct snat_piece {
    struct mux_snat_range range;
    const struct slbrec_snat_allocation *a;
};

/* The SNAT ports of one (VIP, protocol), while they are collected: one
 * outbound rule's. */
struct snat_builder {
    struct in6_addr vip;
    uint8_t proto;
    const char *rule;
    struct snat_piece *pieces;
    size_t n, allocated;
};

/* Returns the CA of the VM of SNAT allocation 'a', for messages. */
static const char *
allocation_ca(const struct slbrec_snat_allocation *a)
{
    return a->vm ? a->vm->ca : "?";
}

static void
add_outbound_rule(struct builder *b, const struct slbrec_outbound_rule *or,
                  struct shash *snats)
{
    static const uint8_t tcp_udp[] = { IPPROTO_TCP, IPPROTO_UDP };
    uint8_t proto = slb_protocol(or->protocol);

    for (size_t i = 0; i < or->n_allocations; i++) {
        const struct slbrec_snat_allocation *a = or->allocations[i];
        char *problem = slb_hosts_allocation_problem(a, or);
        if (problem) {
            add_problem(b, problem);
        }
        const struct mux_target *t = (!a->vm ? NULL
                                      : or->pool
                                      ? add_pool_target(b, or->pool, a->vm)
                                      : add_target(b, a->vm));
        struct in6_addr vip;

        if (!t || !a->frontend || !parse_addr(a->frontend->vip, &vip)) {
            continue;
        }
        if (slb_frontend_is_internal(a->frontend)) {
            add_problem(b, xasprintf("outbound rule %s: frontend %s is "
                                     "internal: left out", or->name,
                                     a->frontend->name));
            continue;
        }
        if (IN6_IS_ADDR_V4MAPPED(&t->ca) != IN6_IS_ADDR_V4MAPPED(&vip)) {
            add_problem(b, xasprintf("outbound rule %s: backend %s is not "
                                     "of the family of frontend %s: left "
                                     "out", or->name, allocation_ca(a),
                                     a->frontend->name));
            continue;
        }
        for (size_t p = 0; p < ARRAY_SIZE(tcp_udp); p++) {
            if (proto && proto != tcp_udp[p]) {
                continue;
            }
            char buf[SLB_ADDR_STRLEN];
            char *key = xasprintf("%s/%u", slb_addr_to_string(&vip, buf),
                                  tcp_udp[p]);
            struct snat_builder *sb = shash_find_data(snats, key);
            if (!sb) {
                sb = xzalloc(sizeof *sb);
                sb->vip = vip;
                sb->proto = tcp_udp[p];
                sb->rule = or->name;
                shash_add_nocopy(snats, key, sb);
            } else {
                free(key);
            }
            if (strcmp(sb->rule, or->name)) {
                /* Rules come in order of their names: the first keeps the
                 * VIP's ports of this protocol. */
                add_problem(b, xasprintf(
                                "outbound rule %s: the %s SNAT ports of "
                                "%s are outbound rule %s's already: "
                                "left out", or->name,
                                proto_name(tcp_udp[p]), buf, sb->rule));
                continue;
            }
            if (sb->n >= sb->allocated) {
                sb->pieces = x2nrealloc(sb->pieces, &sb->allocated,
                                        sizeof *sb->pieces);
            }
            struct snat_piece *piece = &sb->pieces[sb->n++];
            piece->range.min = a->port_min;
            piece->range.max = a->port_max;
            piece->range.backend = t->id;
            piece->a = a;
        }
        mux_config_add_vip(b->cfg, &vip);
    }
}

static int
compare_pieces(const void *a_, const void *b_)
{
    const struct snat_piece *a = a_, *b = b_;
    return (a->range.min != b->range.min ? (a->range.min < b->range.min
                                            ? -1 : 1)
            : a->range.max != b->range.max ? (a->range.max < b->range.max
                                              ? -1 : 1)
            : uuid_compare_3way(&a->a->header_.uuid, &b->a->header_.uuid));
}

/* Turns 'sb' into the SNAT of its VIP and protocol in the configuration.
 * The return traffic to a port goes to the one backend whose range holds
 * it, so ranges must not overlap: slb-ctl never allocates two that do, and
 * of two that another client wrote, the one that starts lower (or, from
 * the same port, ends lower, then has the lower UUID) keeps the ports, on
 * every mux alike, and the other is reported. */
static void
finish_snat(struct builder *b, struct snat_builder *sb)
{
    qsort(sb->pieces, sb->n, sizeof *sb->pieces, compare_pieces);
    struct mux_snat snat = {
        .rule_name = xstrdup(sb->rule),
        .ranges = xmalloc(MAX(sb->n, 1) * sizeof *snat.ranges),
    };
    char *stats_name = xasprintf("snat:%s", sb->rule);
    snat.stats_id = mux_id_map_get(&b->ids->stats, stats_name);
    free(stats_name);

    const struct snat_piece *last = NULL;
    for (size_t i = 0; i < sb->n; i++) {
        const struct snat_piece *piece = &sb->pieces[i];
        if (piece->range.min > piece->range.max) {
            add_problem(b, xasprintf("outbound rule %s: SNAT ports %"PRIu16
                                     "-%"PRIu16" of backend %s are no "
                                     "range: left out", sb->rule,
                                     piece->range.min, piece->range.max,
                                     allocation_ca(piece->a)));
        } else if (last && piece->range.min <= last->range.max) {
            add_problem(b, xasprintf("outbound rule %s: SNAT ports %"PRIu16
                                     "-%"PRIu16" of backend %s overlap "
                                     "ports %"PRIu16"-%"PRIu16" of backend "
                                     "%s: left out", sb->rule,
                                     piece->range.min, piece->range.max,
                                     allocation_ca(piece->a),
                                     last->range.min, last->range.max,
                                     allocation_ca(last->a)));
        } else {
            snat.ranges[snat.n++] = piece->range;
            last = piece;
        }
    }
    mux_config_add_snat(b->cfg, &sb->vip, sb->proto, &snat);
}

/* Defines sorted_TABLE(idl, &n), which returns the rows of TABLE in order
 * of their names, in an array of '*n' that the caller frees. */
#define DEFINE_SORTED(TABLE, NAME)                                      \
    static int                                                          \
    compare_##NAME(const void *a_, const void *b_)                      \
    {                                                                   \
        const struct slbrec_##TABLE *const *a = a_;                     \
        const struct slbrec_##TABLE *const *b = b_;                     \
        return strcmp((*a)->name, (*b)->name);                          \
    }                                                                   \
                                                                        \
    static const struct slbrec_##TABLE **                               \
    sorted_##NAME(struct ovsdb_idl *idl, size_t *n)                     \
    {                                                                   \
        const struct slbrec_##TABLE **rows = NULL;                      \
        size_t allocated = 0;                                           \
        const struct slbrec_##TABLE *row;                               \
        *n = 0;                                                         \
        for (row = slbrec_##TABLE##_first(idl); row;                    \
             row = slbrec_##TABLE##_next(row)) {                        \
            if (*n >= allocated) {                                      \
                rows = x2nrealloc(rows, &allocated, sizeof *rows);      \
            }                                                           \
            rows[(*n)++] = row;                                         \
        }                                                               \
        if (*n) {                                                       \
            qsort(rows, *n, sizeof *rows, compare_##NAME);              \
        }                                                               \
        return rows;                                                    \
    }
DEFINE_SORTED(lb_rule, lb_rules)
DEFINE_SORTED(inbound_nat_rule, nat_rules)
DEFINE_SORTED(outbound_rule, outbound_rules)

/* Adds to 'dirty' the UUIDs of the load-balancing rules whose entries in
 * a struct mux_rule_cache the changes that the IDL tracked make wrong.
 * Returns false if the changes make every entry wrong.
 *
 * A rule depends on the rows that it refers to, directly or not (its
 * frontend, pool and probe, the pool's backend VMs, the VMs' hosts), and
 * the IDL tracks a change of a row as a change of every row that refers to
 * it, and so on up: so the rules to work out again are those that the IDL
 * tracked.  Health verdicts and bindings name their VMs instead, so the
 * pools of those are looked for. */
static bool
find_dirty_rules(struct ovsdb_idl *idl, struct uuidset *dirty)
{
    const struct slbrec_slb_global *global
        = slbrec_slb_global_track_get_first(idl);
    if (global && (ovsdb_idl_track_is_updated(&global->header_,
                                              &slbrec_slb_global_col_hash_seed)
                   || ovsdb_idl_track_is_updated(
                       &global->header_, &slbrec_slb_global_col_options)
                   || slbrec_slb_global_is_new(global)
                   || slbrec_slb_global_is_deleted(global))) {
        return false;           /* The seed, or the size of the tables. */
    }
    if (slbrec_mux_track_get_first(idl) || slbrec_vnet_track_get_first(idl)) {
        return false;           /* Perhaps this mux's PA, or a VNI. */
    }

    const struct slbrec_lb_rule *lr;
    SLBREC_LB_RULE_FOR_EACH_TRACKED (lr, idl) {
        uuidset_insert(dirty, &lr->header_.uuid);
    }

    /* A verdict or a binding that comes or goes concerns the backends of
     * its VM.  A deleted binding still says which VM it bound (compared,
     * never read); a row whose VM is gone concerns nothing that the VM's
     * own deletion does not. */
    struct hmapx vms = HMAPX_INITIALIZER(&vms);
    const struct slbrec_backend_health *h;
    SLBREC_BACKEND_HEALTH_FOR_EACH_TRACKED (h, idl) {
        if (slbrec_backend_health_is_deleted(h) || !h->vm) {
            hmapx_destroy(&vms);
            return false;       /* Which backend it judged is gone. */
        }
        if (slbrec_backend_health_is_new(h)
            || slbrec_backend_health_is_updated(
                h, SLBREC_BACKEND_HEALTH_COL_STATUS)
            || slbrec_backend_health_is_updated(
                h, SLBREC_BACKEND_HEALTH_COL_VM)
            || slbrec_backend_health_is_updated(
                h, SLBREC_BACKEND_HEALTH_COL_PROBE)
            || slbrec_backend_health_is_updated(
                h, SLBREC_BACKEND_HEALTH_COL_HOST_NAME)) {
            hmapx_add(&vms, CONST_CAST(struct slbrec_vm *, h->vm));
        }                       /* (A new reason alone changes nothing.) */
    }
    const struct slbrec_vm_binding *vb;
    SLBREC_VM_BINDING_FOR_EACH_TRACKED (vb, idl) {
        if (vb->vm) {
            hmapx_add(&vms, CONST_CAST(struct slbrec_vm *, vb->vm));
        }
    }

    if (!hmapx_is_empty(&vms)) {
        struct hmapx pools = HMAPX_INITIALIZER(&pools);
        const struct slbrec_backend_pool *pool;
        SLBREC_BACKEND_POOL_FOR_EACH (pool, idl) {
            for (size_t i = 0; i < pool->n_members; i++) {
                if (hmapx_contains(&vms, pool->members[i])) {
                    hmapx_add(&pools, CONST_CAST(struct slbrec_backend_pool *,
                                                 pool));
                    break;
                }
            }
        }
        SLBREC_LB_RULE_FOR_EACH (lr, idl) {
            if (lr->pool && hmapx_contains(&pools, lr->pool)) {
                uuidset_insert(dirty, &lr->header_.uuid);
            }
        }
        hmapx_destroy(&pools);
    }
    hmapx_destroy(&vms);
    return true;
}

/* Whether the rules' order by name may have changed since the last build:
 * a rule is new, gone or renamed. */
static bool
rule_order_changed(struct ovsdb_idl *idl)
{
    const struct slbrec_lb_rule *lr;
    SLBREC_LB_RULE_FOR_EACH_TRACKED (lr, idl) {
        if (slbrec_lb_rule_is_new(lr) || slbrec_lb_rule_is_deleted(lr)
            || slbrec_lb_rule_is_updated(lr, SLBREC_LB_RULE_COL_NAME)) {
            return true;
        }
    }
    return false;
}

/* Frees what builder 'b' holds of its configuration's own: the index of
 * its Maglev tables, its claims, the problems reported and the VMs'
 * targets. */
static void
destroy_build_state(struct builder *b)
{
    index_destroy(&b->maglevs);
    struct rule_claim *claim;
    HMAP_FOR_EACH_POP (claim, node, &b->claims) {
        free(claim);
    }
    hmap_destroy(&b->claims);
    sset_destroy(&b->reported);
    struct vm_target *vt;
    HMAP_FOR_EACH_POP (vt, node, &b->vm_targets) {
        free(vt);
    }
    hmap_destroy(&b->vm_targets);
}

/* Frees what builder 'b' holds. */
static void
destroy_builder(struct builder *b)
{
    struct down_pair *p;
    HMAP_FOR_EACH_POP (p, node, &b->down) {
        free(p);
    }
    hmap_destroy(&b->down);
    hmapx_destroy(&b->bound);
    index_destroy(&b->old_maglevs);
    destroy_build_state(b);
}

/* Gives 'cfg' what every build ends with: room for every backend id ever
 * given, which is more than this configuration uses (a flow table may name
 * a backend that it left out), the statistics ids' epochs, and its lookup
 * table. */
static void
end_build(struct mux_config *cfg, struct mux_ids *ids)
{
    grow_targets(cfg, mux_id_map_size(&ids->backends));
    cfg->n_stats_ids = mux_id_map_size(&ids->stats);
    cfg->stats_epochs = xmalloc(MAX(cfg->n_stats_ids, 1)
                                * sizeof *cfg->stats_epochs);
    for (size_t i = 0; i < cfg->n_stats_ids; i++) {
        cfg->stats_epochs[i] = mux_id_map_epoch(&ids->stats, i);
    }
    mux_config_finish(cfg);
}

/* Whether rule entry 'e' is in the cache's configuration and led to no
 * problem. */
static bool
entry_is_clean(const struct rule_entry *e)
{
    if (!e->built || e->unusable || e->index == SIZE_MAX || e->truncated
        || e->hosts_problem) {
        return false;
    }
    for (size_t i = 0; i < e->n_backends; i++) {
        if (e->backend_problems[i]) {
            return false;
        }
    }
    return true;
}

/* Whether the changes that the IDL tracked can be patched into the cache's
 * configuration 'old' (see patch_config()): they reach only load-balancing
 * rules, through their pools, backends, probes, health verdicts and
 * bindings, not the rules' order, nor VMs, hosts, inbound NAT or outbound
 * rules, nor what frontends say (their "hosts" are for agents). */
static bool
patchable(struct ovsdb_idl *idl, const struct mux_rule_cache *cache,
          const struct mux_config *old, bool order_changed)
{
    if (!old || !cache->valid || order_changed || cache->had_problems
        || !cache->staged_keys || cache->generation != old->generation) {
        return false;
    }
    if (slbrec_vm_track_get_first(idl) || slbrec_host_track_get_first(idl)
        || slbrec_inbound_nat_rule_track_get_first(idl)
        || slbrec_outbound_rule_track_get_first(idl)
        || slbrec_snat_allocation_track_get_first(idl)) {
        return false;
    }
    const struct slbrec_frontend *fe;
    SLBREC_FRONTEND_FOR_EACH_TRACKED (fe, idl) {
        if (slbrec_frontend_is_new(fe) || slbrec_frontend_is_deleted(fe)
            || slbrec_frontend_is_updated(fe, SLBREC_FRONTEND_COL_VIP)
            || slbrec_frontend_is_updated(fe, SLBREC_FRONTEND_COL_TYPE)
            || slbrec_frontend_is_updated(fe, SLBREC_FRONTEND_COL_VNET)) {
            return false;
        }
    }
    return true;
}

/* Removes from 'cfg' the targets that none of its rules and SNAT port sets
 * names, as a configuration built whole would not have them. */
static void
prune_targets(struct mux_config *cfg)
{
    unsigned long *used = bitmap_allocate(cfg->n_targets);
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct mux_rule *r = &cfg->rules[i];
        if (r->type == MUX_RULE_NAT) {
            bitmap_set1(used, r->backend);
        }
        /* (A rule's 'maglev_est' has the same backends, weighed
         * otherwise.) */
        for (size_t j = 0; r->maglev && j < r->maglev->n; j++) {
            bitmap_set1(used, r->maglev->ids[j]);
        }
    }
    for (size_t i = 0; i < cfg->n_snats; i++) {
        for (size_t j = 0; j < cfg->snats[i].n; j++) {
            bitmap_set1(used, cfg->snats[i].ranges[j].backend);
        }
    }
    for (size_t i = 0; i < cfg->n_targets; i++) {
        if (cfg->targets[i] && !bitmap_is_set(used, i)) {
            free(cfg->targets[i]);
            cfg->targets[i] = NULL;
        }
    }
    bitmap_free(used);
}

/* Returns a configuration like 'full->old', the cache's, with the rules in
 * 'dirty' worked out again in place, or NULL if that cannot give what
 * building the whole configuration would.
 *
 * With 10,000 VIPs, replaying every rule's entry costs a mux tens of ms
 * for each change; most changes (a backend added, a weight, a verdict)
 * change a few rules' backends and nothing else: their (VIP, protocol,
 * port)s, the lookup keys, the VIPs and the other rules stay.  So this
 * copies the old configuration's rules, SNAT port sets and targets, works
 * out the changed rules into the same places, and stages the keys in the
 * order that the last whole build staged them, so that the lookup table
 * comes out the same as that of a whole build (which "slb-mux/recompute"
 * compares).  It does so only where nothing had or has a problem, so that
 * no problem line and no target that only a problem leaves behind can
 * differ.  Entries that it worked out stay in 'cache', right either way. */
static struct mux_config *
patch_config(const struct builder *full, struct mux_rule_cache *cache,
             const struct uuidset *dirty, uint32_t max_size)
{
    const struct mux_config *old = full->old;
    const struct mux_underlay *u = &full->cfg->underlay;
    if (u->pa != old->underlay.pa || u->mtu != old->underlay.mtu
        || !eth_addr_equals(u->mac, old->underlay.mac)
        || !eth_addr_equals(u->nexthop, old->underlay.nexthop)) {
        return NULL;            /* Every target's outer headers change. */
    }
    struct mux_config *cfg = mux_config_create();
    cfg->nb_cfg = full->cfg->nb_cfg;
    cfg->seed = full->cfg->seed;
    cfg->fastpath = full->cfg->fastpath;
    cfg->anycast = full->cfg->anycast;
    cfg->underlay = full->cfg->underlay;
    mux_config_copy(cfg, old);

    /* The health verdicts, bindings and old Maglev tables are those that
     * 'full' gathered, read through copies of its maps' heads. */
    struct ds problems = DS_EMPTY_INITIALIZER;
    struct builder b = *full;
    b.cfg = cfg;
    b.problems = &problems;
    hmap_init(&b.maglevs);
    hmap_init(&b.claims);
    sset_init(&b.reported);
    hmap_init(&b.vm_targets);
    b.n_built = 0;

    bool ok = true;
    const struct uuidset_node *node;
    UUIDSET_FOR_EACH (node, dirty) {
        const struct slbrec_lb_rule *lr
            = slbrec_lb_rule_get_for_uuid(b.idl, &node->uuid);
        struct rule_entry *e = find_entry(cache, &node->uuid);
        if (!lr || !e || !entry_is_clean(e)) {
            ok = false;
            break;
        }
        struct rule_entry *new = rule_entry_create(lr);
        if (new->unusable || new->vni != e->vni
            || !ipv6_addr_equals(&new->vip, &e->vip)
            || new->proto != e->proto || new->port != e->port) {
            rule_entry_destroy(new);
            ok = false;
            break;
        }
        build_rule_entry(&b, new, lr, max_size);
        b.n_built++;
        new->index = e->index;
        new->build = e->build;
        hmap_replace(&cache->entries, &e->node, &new->node);
        rule_entry_destroy(e);
        if (!entry_is_clean(new) || problems.length) {
            ok = false;
            break;
        }
        mux_config_replace_rule(cfg, new->index, &new->rule);
    }

    if (ok) {
        for (size_t i = 0; i < cfg->n_rules; i++) {
            const struct mux_rule *r = &cfg->rules[i];
            if (r->maglev) {
                keep_maglev(&b, r->maglev);
                keep_maglev(&b, r->maglev_est);
            }
        }
        prune_targets(cfg);
        set_target_macs(&b, b.idl);
        ok = !problems.length;
    }
    destroy_build_state(&b);
    ds_destroy(&problems);
    if (!ok) {
        mux_config_destroy(cfg);
        return NULL;
    }

    mux_config_stage_keys(cfg, cache->staged_keys, cache->staged_values,
                          cache->n_staged);
    end_build(cfg, full->ids);
    cache->generation = cfg->generation;
    cache->n_built = b.n_built;
    cache->patched = true;
    return cfg;
}

/* Builds the configuration of mux 'self' from the database in 'idl', for
 * the underlay 'underlay' (whose 'pa' this fills in from 'self').  Reuses
 * unchanged Maglev tables of 'old', if nonnull, and the rules of 'cache'
 * whose rows did not change, if nonnull, and keeps the rules there for the
 * next build.  Appends to 'problems' a line for each part of the
 * configuration it had to leave out. */
struct mux_config *
mux_config_from_idl(struct ovsdb_idl *idl, const struct slbrec_mux *self,
                    const struct mux_underlay *underlay, struct mux_ids *ids,
                    const struct mux_config *old,
                    struct mux_rule_cache *cache, struct ds *problems)
{
    const struct slbrec_slb_global *global = slbrec_slb_global_first(idl);
    struct mux_config *cfg = mux_config_create();
    size_t problems_start = problems->length;

    cfg->nb_cfg = global ? global->nb_cfg : 0;
    cfg->seed = global ? global->hash_seed : 0;
    if (global) {
        struct slb_redirect_key key;
        slb_redirect_settings(&global->options, &key);
        cfg->fastpath = key.len > 0;
        const char *anycast = smap_get(&global->options, "mux-anycast");
        if (anycast && !ip_parse(anycast, &cfg->anycast)) {
            ds_put_format(problems, "options:mux-anycast \"%s\" is not an "
                          "IPv4 address\n", anycast);
        }
    }
    cfg->underlay = *underlay;
    if (!parse_ip(self->pa, &cfg->underlay.pa)) {
        ds_put_format(problems, "mux %s: PA \"%s\" is not an IPv4 "
                      "address\n", self->name, self->pa);
    }

    uint32_t max_size = MAGLEV_DEFAULT_SIZE;
    if (global) {
        unsigned int size = smap_get_uint(&global->options,
                                          "maglev-table-size",
                                          MAGLEV_DEFAULT_SIZE);
        if (maglev_is_prime(size) && size <= 10000019) {
            max_size = size;
        } else {
            ds_put_format(problems, "options:maglev-table-size %u is not a "
                          "prime up to 10000019; using %u\n", size,
                          max_size);
        }
    }

    struct builder b = {
        .idl = idl, .cfg = cfg, .ids = ids, .old = old, .problems = problems,
        .down = HMAP_INITIALIZER(&b.down),
        .maglevs = HMAP_INITIALIZER(&b.maglevs),
        .old_maglevs = HMAP_INITIALIZER(&b.old_maglevs),
        .claims = HMAP_INITIALIZER(&b.claims),
        .reported = SSET_INITIALIZER(&b.reported),
        .vm_targets = HMAP_INITIALIZER(&b.vm_targets),
        .bound = HMAPX_INITIALIZER(&b.bound),
    };
    for (size_t i = 0; old && i < old->n_maglevs; i++) {
        index_maglev(&b.old_maglevs, old->maglevs[i],
                     hash_maglev(old->maglevs[i]));
    }
    const struct slbrec_backend_health *h;
    SLBREC_BACKEND_HEALTH_FOR_EACH (h, idl) {
        if (slb_health_counts(h) && !strcmp(h->status, "down")) {
            struct down_pair *p = xmalloc(sizeof *p);
            p->vm = h->vm;
            p->probe = h->probe;
            hmap_insert(&b.down, &p->node, hash_pair(h->vm, h->probe));
        }
    }
    const struct slbrec_vm_binding *vb;
    SLBREC_VM_BINDING_FOR_EACH (vb, idl) {
        if (slb_binding_counts(vb)) {
            hmapx_add(&b.bound, CONST_CAST(struct slbrec_vm *, vb->vm));
        }
    }

    /* Rules in order of their names, load-balancing rules first: where two
     * want the same (VIP, protocol, port), every mux keeps the same one.
     * Each load-balancing rule comes from its entry in 'cache' where the
     * tracked changes leave it right, else is worked out into a new one;
     * without a cache, into a scratch one. */
    struct mux_rule_cache scratch = {
        .entries = HMAP_INITIALIZER(&scratch.entries),
    };
    struct uuidset dirty = UUIDSET_INITIALIZER(&dirty);
    if (!cache) {
        cache = &scratch;
    } else if (!cache->valid || !find_dirty_rules(idl, &dirty)) {
        mux_rule_cache_invalidate(cache);
    }
    bool order_changed = !cache->sorted || rule_order_changed(idl);
    if (order_changed) {
        forget_order(cache);
        cache->sorted = sorted_lb_rules(idl, &cache->n_sorted);
    }
    if (cache != &scratch && patchable(idl, cache, old, order_changed)) {
        struct mux_config *patched = patch_config(&b, cache, &dirty,
                                                  max_size);
        if (patched) {
            uuidset_destroy(&dirty);
            destroy_builder(&b);
            mux_config_destroy(cfg);
            return patched;
        }
    }
    uint64_t build = ++cache->build;
    for (size_t i = 0; i < cache->n_sorted; i++) {
        const struct slbrec_lb_rule *lr = cache->sorted[i];
        const struct uuid *uuid = &lr->header_.uuid;
        struct rule_entry *e = find_entry(cache, uuid);
        if (e && uuidset_find(&dirty, uuid)) {
            hmap_remove(&cache->entries, &e->node);
            rule_entry_destroy(e);
            e = NULL;
        }
        if (!e) {
            e = rule_entry_create(lr);
            hmap_insert(&cache->entries, &e->node, uuid_hash(uuid));
        }
        e->build = build;
        add_lb_rule(&b, lr, e, max_size);
    }
    uuidset_destroy(&dirty);
    struct rule_entry *e;
    HMAP_FOR_EACH_SAFE (e, node, &cache->entries) {
        if (e->build != build) {
            hmap_remove(&cache->entries, &e->node);
            rule_entry_destroy(e);
        }
    }
    cache->valid = true;
    cache->n_built = b.n_built;
    cache->patched = false;
    if (cache == &scratch) {
        mux_rule_cache_invalidate(&scratch);
        hmap_destroy(&scratch.entries);
    }
    size_t n;
    const struct slbrec_inbound_nat_rule **nrs = sorted_nat_rules(idl, &n);
    for (size_t i = 0; i < n; i++) {
        add_nat_rule(&b, nrs[i]);
    }
    free(nrs);
    struct shash snats = SHASH_INITIALIZER(&snats);
    const struct slbrec_outbound_rule **ors = sorted_outbound_rules(idl, &n);
    for (size_t i = 0; i < n; i++) {
        add_outbound_rule(&b, ors[i], &snats);
    }
    free(ors);
    struct shash_node *node;
    SHASH_FOR_EACH (node, &snats) {
        struct snat_builder *sb = node->data;
        finish_snat(&b, sb);
        free(sb->pieces);
    }
    shash_destroy_free_data(&snats);
    report_overlaps(&b);

    set_target_macs(&b, idl);

    /* A frontend without rules is still a VIP. */
    const struct slbrec_frontend *fe;
    SLBREC_FRONTEND_FOR_EACH (fe, idl) {
        struct in6_addr vip;
        if (parse_addr(fe->vip, &vip) && !slb_frontend_problem(fe, NULL)) {
            add_vip(cfg, (slb_frontend_is_internal(fe)
                          ? fe->vnet->vni : 0), &vip);
        }
    }

    /* The muxes, which share out the fragments that need the fragment
     * table. */
    const struct slbrec_mux *mux;
    SLBREC_MUX_FOR_EACH (mux, idl) {
        ovs_be32 pa;
        if (ip_parse(mux->pa, &pa)) {
            mux_config_add_mux(cfg, pa, mux == self);
        }
    }

    /* The hosts, which send the mux their VMs' packets to internal
     * VIPs. */
    const struct slbrec_host *host;
    SLBREC_HOST_FOR_EACH (host, idl) {
        ovs_be32 pa;
        if (ip_parse(host->pa, &pa)) {
            mux_config_add_host(cfg, pa);
        }
    }

    destroy_builder(&b);

    if (cache != &scratch) {
        forget_staging(cache);
        mux_config_staged_keys(cfg, &cache->staged_keys,
                               &cache->staged_values, &cache->n_staged);
        cache->had_problems = problems->length > problems_start;
    }
    end_build(cfg, ids);
    if (cache != &scratch) {
        cache->generation = cfg->generation;
    }
    return cfg;
}
