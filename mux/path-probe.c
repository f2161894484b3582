/* SPDX-License-Identifier: Apache-2.0 */
/* Data-path availability probes; see path-probe.h. */

#include <config.h>
#include "path-probe.h"

#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "dp-packet.h"
#include "hash.h"
#include "lib/lb.h"
#include "lib/metrics.h"
#include "mux-dp.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "packets.h"
#include "random.h"
#include "smap.h"
#include "timeval.h"
#include "util.h"
#include "vswitch-ext/pipeline.h"

/* The echo's data: whose probe it is, and which. */
struct path_probe_data {
    ovs_32aligned_be64 nonce;   /* The prober's, random. */
    ovs_be32 round;             /* Of the target's probes. */
    ovs_be32 pad;
    ovs_32aligned_be64 sent;    /* time_usec() when built. */
};
BUILD_ASSERT_DECL(sizeof(struct path_probe_data) == MUX_PATH_DATA_LEN);

/* The ICMP identifier of every probe: "SP". */
#define PATH_PROBE_ID 0x5350

enum path_state {
    PATH_UNKNOWN,               /* Neither up nor down yet. */
    PATH_UP,
    PATH_DOWN,
};

static const char *
path_state_name(enum path_state state)
{
    return state == PATH_UP ? "up" : state == PATH_DOWN ? "down" : "unknown";
}

/* A host that some target reaches, by its PA. */
struct path_host {
    struct hmap_node node;      /* In 'hosts', by PA. */
    ovs_be32 pa;
    char *name;                 /* Its Host row's name, or its PA. */
    bool used;                  /* A target reaches it, while targets are
                                 * set. */
};

/* One (VIP, host) pair that the prober probes. */
struct path_target {
    struct hmap_node node;      /* In 'targets', by VIP and host. */
    struct in6_addr vip;        /* IPv4-mapped for IPv4. */
    struct mux_target to;       /* How the VIP's packets reach the host: a
                                 * backend of the VIP there, as the packet
                                 * path knows it. */
    struct path_host *host;     /* Of 'to.pa'. */
    bool present;               /* Still a target, while targets are set. */

    enum path_state state;
    uint32_t sent_round;        /* The round of the last probe sent, or 0. */
    bool answered;              /* The last probe sent got its answer. */
    unsigned int misses;        /* Unanswered probes in a row. */
    uint64_t n_sent, n_answered;
    long long int rtt_usec;     /* Of the last answer, or -1. */
};

struct mux_path_prober {
    struct hmap targets;
    struct hmap hosts;          /* Of the targets. */
    long long int interval;     /* ms. */
    long long int next;         /* When the next round starts. */
    uint32_t round;             /* The last round's number, from 1. */
    uint64_t nonce;
    bool changed;               /* A verdict changed since the last call of
                                 * mux_path_prober_changed(). */
    uint64_t n_stale;           /* Answers too late for their round, or of
                                 * probes that are gone. */
    uint64_t n_foreign;         /* Answers to no probe of this prober. */
};

struct mux_path_prober *
mux_path_prober_create(long long int interval_ms)
{
    struct mux_path_prober *p = xzalloc(sizeof *p);
    hmap_init(&p->targets);
    hmap_init(&p->hosts);
    p->interval = interval_ms;
    p->next = LLONG_MIN;
    random_bytes(&p->nonce, sizeof p->nonce);
    return p;
}

static void
host_destroy(struct path_host *h)
{
    free(h->name);
    free(h);
}

void
mux_path_prober_destroy(struct mux_path_prober *p)
{
    if (p) {
        struct path_target *t;
        HMAP_FOR_EACH_POP (t, node, &p->targets) {
            free(t);
        }
        hmap_destroy(&p->targets);
        struct path_host *h;
        HMAP_FOR_EACH_POP (h, node, &p->hosts) {
            host_destroy(h);
        }
        hmap_destroy(&p->hosts);
        free(p);
    }
}

static uint32_t
target_hash(const struct in6_addr *vip, ovs_be32 host)
{
    return hash_bytes(vip, sizeof *vip, (OVS_FORCE uint32_t) host);
}

static struct path_target *
find_target(const struct mux_path_prober *p, const struct in6_addr *vip,
            ovs_be32 host)
{
    struct path_target *t;
    HMAP_FOR_EACH_WITH_HASH (t, node, target_hash(vip, host), &p->targets) {
        if (ipv6_addr_equals(&t->vip, vip) && t->to.pa == host) {
            return t;
        }
    }
    return NULL;
}

static struct path_host *
find_host(const struct mux_path_prober *p, ovs_be32 pa)
{
    struct path_host *h;
    HMAP_FOR_EACH_WITH_HASH (h, node, hash_int((OVS_FORCE uint32_t) pa, 0),
                             &p->hosts) {
        if (h->pa == pa) {
            return h;
        }
    }
    return NULL;
}

/* Returns the host of PA 'pa', named 'name' (if null, by its PA), adding it
 * if it is new. */
static struct path_host *
set_host(struct mux_path_prober *p, ovs_be32 pa, const char *name)
{
    struct path_host *h = find_host(p, pa);
    if (!h) {
        h = xzalloc(sizeof *h);
        h->pa = pa;
        hmap_insert(&p->hosts, &h->node, hash_int((OVS_FORCE uint32_t) pa,
                                                  0));
    }
    if (!h->name || (name && strcmp(h->name, name))) {
        free(h->name);
        h->name = name ? xstrdup(name) : xasprintf(IP_FMT, IP_ARGS(pa));
    }
    return h;
}

/* Makes (VIP, the host of 'to') a target, if it is not one yet, with 'to'
 * as the way to it. */
static void
add_target(struct mux_path_prober *p, const struct in6_addr *vip,
           const struct mux_target *to)
{
    if (!to || !to->pa) {
        return;
    }
    struct path_target *t = find_target(p, vip, to->pa);
    if (!t) {
        t = xzalloc(sizeof *t);
        t->vip = *vip;
        t->rtt_usec = -1;
        hmap_insert(&p->targets, &t->node, target_hash(vip, to->pa));
    } else if (t->present) {
        return;                 /* Another backend on the same host. */
    }
    t->present = true;
    t->to = *to;
    t->host = find_host(p, to->pa);
    if (!t->host) {
        t->host = set_host(p, to->pa, NULL);
    }
    t->host->used = true;
}

/* Makes the targets those of 'cfg': each VIP with each host of its rules'
 * backends that an agent has bound (a host without a bound backend holds
 * no flow for the VIP).  Targets that stay keep their verdicts and
 * counters.  'host_names' maps each host's PA, as text, to its name. */
void
mux_path_prober_set_targets(struct mux_path_prober *p,
                            const struct mux_config *cfg,
                            const struct shash *host_names)
{
    struct path_host *h;
    HMAP_FOR_EACH (h, node, &p->hosts) {
        h->used = false;
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, host_names) {
        ovs_be32 pa;
        if (ip_parse(node->name, &pa)) {
            set_host(p, pa, node->data);
        }
    }

    struct path_target *t;
    HMAP_FOR_EACH (t, node, &p->targets) {
        t->present = false;
    }
    for (size_t i = 0; cfg && i < cfg->n_rules; i++) {
        const struct mux_rule *r = &cfg->rules[i];
        if (r->type == MUX_RULE_NAT) {
            add_target(p, &r->vip, cfg->targets[r->backend]);
            continue;
        }
        for (size_t j = 0; j < r->maglev->n; j++) {
            if (!r->states || r->states[j] != SLB_BACKEND_UNBOUND) {
                add_target(p, &r->vip, cfg->targets[r->maglev->ids[j]]);
            }
        }
    }
    HMAP_FOR_EACH_SAFE (t, node, &p->targets) {
        if (!t->present) {
            if (t->state != PATH_UNKNOWN) {
                p->changed = true;
            }
            hmap_remove(&p->targets, &t->node);
            free(t);
        }
    }
    HMAP_FOR_EACH_SAFE (h, node, &p->hosts) {
        if (!h->used) {
            hmap_remove(&p->hosts, &h->node);
            host_destroy(h);
        }
    }
}

/* Puts the IP header of 't''s probe, of 'l4_len' bytes of ICMP or ICMPv6
 * after it, into 'packet'. */
static void
put_probe_ip(struct dp_packet *packet, const struct path_target *t,
             size_t l4_len)
{
    if (IN6_IS_ADDR_V4MAPPED(&t->vip)) {
        struct ip_header *ip = dp_packet_put_zeros(packet, sizeof *ip);
        ip->ip_ihl_ver = IP_IHL_VER(5, 4);
        ip->ip_tot_len = htons(sizeof *ip + l4_len);
        ip->ip_frag_off = htons(IP_DONT_FRAGMENT);
        ip->ip_ttl = 64;
        ip->ip_proto = IPPROTO_ICMP;
        put_16aligned_be32(&ip->ip_src, htonl(SLB_PATH_PROBE_SOURCE));
        put_16aligned_be32(&ip->ip_dst, in6_addr_get_mapped_ipv4(&t->vip));
        ip->ip_csum = csum(ip, sizeof *ip);
    } else {
        static const struct in6_addr source6 = SLB_PATH_PROBE_SOURCE6_INIT;
        struct ovs_16aligned_ip6_hdr *ip6 = dp_packet_put_zeros(
            packet, sizeof *ip6);
        put_16aligned_be32(&ip6->ip6_ctlun.ip6_un1.ip6_un1_flow,
                           htonl(6 << 28));
        ip6->ip6_ctlun.ip6_un1.ip6_un1_plen = htons(l4_len);
        ip6->ip6_ctlun.ip6_un1.ip6_un1_nxt = IPPROTO_ICMPV6;
        ip6->ip6_ctlun.ip6_un1.ip6_un1_hlim = 64;
        memcpy(&ip6->ip6_src, &source6, sizeof source6);
        memcpy(&ip6->ip6_dst, &t->vip, sizeof t->vip);
    }
}

/* Returns a probe of 't' for round 'round', encapsulated: an ICMP echo
 * request, or an ICMPv6 one for an IPv6 VIP. */
static struct dp_packet *
build_probe(const struct mux_path_prober *p, const struct path_target *t,
            uint32_t round)
{
    bool ipv4 = IN6_IS_ADDR_V4MAPPED(&t->vip);
    size_t l4_len = ICMP_HEADER_LEN + MUX_PATH_DATA_LEN;
    size_t ip_len = (ipv4 ? IP_HEADER_LEN : IPV6_HEADER_LEN) + l4_len;
    struct dp_packet *packet = dp_packet_new_with_headroom(
        ETH_HEADER_LEN + ip_len, MUX_ENCAP_LEN);

    struct eth_header *eth = dp_packet_put_zeros(packet, sizeof *eth);
    eth->eth_dst = t->to.mac;   /* As the packet path sets it; zero if the
                                 * VM's MAC is unknown, which the host's
                                 * answer does not look at. */
    eth->eth_src = (((const struct eth_header *) t->to.header)->eth_src);
    eth->eth_type = htons(ipv4 ? ETH_TYPE_IP : ETH_TYPE_IPV6);
    put_probe_ip(packet, t, l4_len);
    const void *ip = dp_packet_at_assert(packet, ETH_HEADER_LEN,
                                         ip_len - l4_len);

    /* ICMP's echo and ICMPv6's have the same layout. */
    struct icmp_header *icmp = dp_packet_put_zeros(packet, sizeof *icmp);
    icmp->icmp_type = ipv4 ? ICMP4_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
    icmp->icmp_fields.echo.id = htons(PATH_PROBE_ID);
    icmp->icmp_fields.echo.seq = htons(round & 0xffff);
    struct path_probe_data *data = dp_packet_put_zeros(packet, sizeof *data);
    put_32aligned_be64(&data->nonce, htonll(p->nonce));
    data->round = htonl(round);
    put_32aligned_be64(&data->sent, htonll(time_usec()));
    icmp->icmp_csum = (ipv4
                       ? csum(icmp, l4_len)
                       : packet_csum_upperlayer6(ip, icmp, IPPROTO_ICMPV6,
                                                 l4_len));

    mux_dp_encapsulate(packet, &t->to, ip_len,
                       hash_int(round, target_hash(&t->vip, 0)));
    return packet;
}

/* Returns true if a round is due at 'now_ms'. */
bool
mux_path_prober_due(const struct mux_path_prober *p, long long int now_ms)
{
    return now_ms >= p->next;
}

/* If a round is due at 'now_ms', starts it: the targets whose last probe
 * went unanswered count a miss, and each target gets a probe.  Stores the
 * probes, for the caller to send and free, in a new array in '*probes',
 * which the caller frees too, and returns how many there are (0, and
 * '*probes' NULL, if no round is due). */
size_t
mux_path_prober_run(struct mux_path_prober *p, long long int now_ms,
                    struct dp_packet ***probes)
{
    *probes = NULL;
    if (now_ms < p->next || hmap_is_empty(&p->targets)) {
        return 0;
    }
    p->next = now_ms + p->interval;
    p->round++;

    size_t n = 0;
    *probes = xmalloc(hmap_count(&p->targets) * sizeof **probes);
    struct path_target *t;
    HMAP_FOR_EACH (t, node, &p->targets) {
        if (t->sent_round && !t->answered
            && ++t->misses >= MUX_PATH_DOWN_AFTER && t->state != PATH_DOWN) {
            t->state = PATH_DOWN;
            p->changed = true;
        }
        t->sent_round = p->round;
        t->answered = false;
        t->n_sent++;
        (*probes)[n++] = build_probe(p, t, p->round);
    }
    return n;
}

void
mux_path_prober_wait(const struct mux_path_prober *p)
{
    if (!hmap_is_empty(&p->targets)) {
        poll_timer_wait_until(p->next);
    }
}

/* Takes the 'n' answers in 'answers', which arrived by 'now_usec'. */
void
mux_path_prober_take(struct mux_path_prober *p,
                     const struct mux_path_answer *answers, size_t n,
                     long long int now_usec)
{
    for (size_t i = 0; i < n; i++) {
        const struct mux_path_answer *a = &answers[i];
        struct path_probe_data data;
        memcpy(&data, a->data, sizeof data);
        if (ntohll(get_32aligned_be64(&data.nonce)) != p->nonce) {
            p->n_foreign++;
            continue;
        }
        struct path_target *t = find_target(p, &a->vip, a->host);
        if (!t || ntohl(data.round) != t->sent_round || t->answered) {
            p->n_stale++;
            continue;
        }
        t->answered = true;
        t->misses = 0;
        t->n_answered++;
        t->rtt_usec = now_usec - (long long int) ntohll(
            get_32aligned_be64(&data.sent));
        if (t->state != PATH_UP) {
            t->state = PATH_UP;
            p->changed = true;
        }
    }
}

/* Returns true if a target's verdict changed since the last call. */
bool
mux_path_prober_changed(struct mux_path_prober *p)
{
    bool changed = p->changed;
    p->changed = false;
    return changed;
}

static int
compare_targets(const void *a_, const void *b_)
{
    const struct path_target *const *a = a_;
    const struct path_target *const *b = b_;
    int cmp = memcmp(&(*a)->vip, &(*b)->vip, sizeof (*a)->vip);
    return cmp ? cmp : strcmp((*a)->host->name, (*b)->host->name);
}

/* Returns the targets of 'p', by VIP and host name, in a new array. */
static const struct path_target **
sorted_targets(const struct mux_path_prober *p)
{
    const struct path_target **sorted = xmalloc(
        hmap_count(&p->targets) * sizeof *sorted);
    size_t n = 0;
    const struct path_target *t;
    HMAP_FOR_EACH (t, node, &p->targets) {
        sorted[n++] = t;
    }
    qsort(sorted, n, sizeof *sorted, compare_targets);
    return sorted;
}

/* Counts the targets up, down and without a verdict in 'counts', and
 * stores in 'down' the first MUX_PATH_DOWN_LISTED targets that are down,
 * by VIP and host name, as "VIP@HOST" = "down". */
void
mux_path_prober_states(const struct mux_path_prober *p, struct smap *down,
                       struct mux_path_counts *counts)
{
    memset(counts, 0, sizeof *counts);
    const struct path_target *t;
    HMAP_FOR_EACH (t, node, &p->targets) {
        if (t->state == PATH_UP) {
            counts->up++;
        } else if (t->state == PATH_UNKNOWN) {
            counts->unknown++;
        } else {
            counts->down++;
        }
    }
    if (!counts->down) {
        return;
    }

    const struct path_target **sorted = sorted_targets(p);
    size_t n_listed = 0;
    for (size_t i = 0; i < hmap_count(&p->targets)
                       && n_listed < MUX_PATH_DOWN_LISTED; i++) {
        t = sorted[i];
        if (t->state == PATH_DOWN) {
            char vip[INET6_ADDRSTRLEN];
            smap_add_nocopy(down, xasprintf("%s@%s",
                                            ipv6_string_mapped(vip, &t->vip),
                                            t->host->name),
                            xstrdup(path_state_name(t->state)));
            n_listed++;
        }
    }
    free(sorted);
}

/* Appends a line for each target to 'out'. */
void
mux_path_prober_format(const struct mux_path_prober *p, struct ds *out)
{
    ds_put_format(out, "path probes: every %lld ms, round %"PRIu32", %"
                  PRIuSIZE" targets, %"PRIu64" stale and %"PRIu64
                  " foreign answers\n", p->interval, p->round,
                  hmap_count(&p->targets), p->n_stale, p->n_foreign);
    const struct path_target **sorted = sorted_targets(p);
    for (size_t i = 0; i < hmap_count(&p->targets); i++) {
        const struct path_target *t = sorted[i];
        char vip[INET6_ADDRSTRLEN];
        ds_put_format(out, "  %s to %s ("IP_FMT", vni %"PRIu32"): %s,"
                      " %"PRIu64" of %"PRIu64" answered",
                      ipv6_string_mapped(vip, &t->vip),
                      t->host->name, IP_ARGS(t->to.pa), t->to.vni,
                      path_state_name(t->state), t->n_answered, t->n_sent);
        if (t->rtt_usec >= 0) {
            ds_put_format(out, ", last in %lld us", t->rtt_usec);
        }
        ds_put_char(out, '\n');
    }
    free(sorted);
}

/* Writes the prober's metric families to 'out'. */
void
mux_path_prober_metrics(const struct mux_path_prober *p, struct ds *out)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        { "slb_mux_path_probes_sent_total", "counter",
          "Data-path probes sent through each VIP's way to each host." },
        { "slb_mux_path_probes_answered_total", "counter",
          "Data-path probes that the host answered in time." },
        { "slb_mux_path_up", "gauge",
          "1 if the VIP's way to the host works, 0 if its last probes "
          "went unanswered (no sample before a verdict)." },
        { "slb_mux_path_rtt_seconds", "gauge",
          "Round trip of the last answered data-path probe." },
    };
    const struct path_target **sorted = sorted_targets(p);
    for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
        slb_metrics_family(out, families[f].name, families[f].type,
                           families[f].help);
        for (size_t i = 0; i < hmap_count(&p->targets); i++) {
            const struct path_target *t = sorted[i];
            double value = (f == 0 ? t->n_sent
                            : f == 1 ? t->n_answered
                            : f == 2 ? t->state == PATH_UP
                            : t->rtt_usec / 1e6);
            if ((f == 2 && t->state == PATH_UNKNOWN)
                || (f == 3 && t->rtt_usec < 0)) {
                continue;
            }
            char vip[INET6_ADDRSTRLEN];
            slb_metrics_sample(out, families[f].name, value, "vip",
                               ipv6_string_mapped(vip, &t->vip),
                               "host", t->host->name, NULL);
        }
    }
    free(sorted);
    slb_metrics_put(out, "slb_mux_path_answers_stale_total", "counter",
                    "Answers to data-path probes that came too late, or "
                    "for probes no longer sent.", p->n_stale);
}
