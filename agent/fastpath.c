/* SPDX-License-Identifier: Apache-2.0 */
/* The host's end of the fastpath: see fastpath.h. */

#include <config.h>

#include "fastpath.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coverage.h"
#include "host-flows.h"
#include "lib/lb.h"
#include "lib/metrics.h"
#include "lib/redirect.h"
#include "lib/slb-idl.h"
#include "lib/slb-parse.h"
#include "ofctrl.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "socket-util.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(fastpath);

COVERAGE_DEFINE(fastpath_installed);

/* Datagrams taken in one pass of the main loop, at most. */
#define MAX_PER_RUN 64

/* The newest redirect from one mux. */
struct sender {
    struct hmap_node node;      /* By hash of 'pa'. */
    ovs_be32 pa;
    uint64_t sequence;
};

struct fastpath {
    struct ovsdb_idl_index *rules_by_frontend;  /* LB_Rule rows. */
    struct ovsdb_idl_index *vms_by_host;        /* VM rows. */
    struct slb_redirect_key key;
    unsigned int idl_seqno;     /* The replica's, when 'key' was read... */
    bool wanted;                /* ...and whether the host needed it. */
    int fd;                     /* Bound to 'key.port', or -1. */
    uint16_t bound_port;
    struct hmap senders;
    uint64_t received;
    uint64_t installed;
    uint64_t refused[FASTPATH_N_REASONS];
};

static const char *const reason_names[] = {
#define FASTPATH_REASON(ENUM, NAME) NAME,
    FASTPATH_REASONS
#undef FASTPATH_REASON
};

/* Returns a new fastpath for the agent whose SLB database replica is
 * 'idl' (before it first runs, for its indexes). */
struct fastpath *
fastpath_create(struct ovsdb_idl *idl)
{
    struct fastpath *fp = xzalloc(sizeof *fp);
    fp->rules_by_frontend = ovsdb_idl_index_create1(
        idl, &slbrec_lb_rule_col_frontend);
    fp->vms_by_host = ovsdb_idl_index_create1(idl, &slbrec_vm_col_host);
    fp->fd = -1;
    hmap_init(&fp->senders);
    return fp;
}

void
fastpath_destroy(struct fastpath *fp)
{
    if (fp) {
        if (fp->fd >= 0) {
            close(fp->fd);
        }
        struct sender *s;
        HMAP_FOR_EACH_POP (s, node, &fp->senders) {
            free(s);
        }
        hmap_destroy(&fp->senders);
        free(fp);
    }
}

/* Takes the key and port of SLB_Global's options, in 'key': listens on the
 * port, on every address, while there is a key and 'wanted'. */
static void
configure(struct fastpath *fp, const struct slb_redirect_key *key,
          bool wanted)
{
    fp->key = *key;
    bool want = key->len > 0 && wanted;
    if (fp->fd >= 0 && (!want || fp->bound_port != key->port)) {
        close(fp->fd);
        fp->fd = -1;
    }
    if (want && fp->fd < 0) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sin = {
            .sin_family = AF_INET,
            .sin_addr.s_addr = htonl(INADDR_ANY),
            .sin_port = htons(key->port),
        };
        if (fd < 0 || set_nonblocking(fd)
            || bind(fd, (struct sockaddr *) &sin, sizeof sin)) {
            VLOG_WARN_RL(&rl, "cannot listen for fastpath redirects on UDP "
                         "port %"PRIu16" (%s)", key->port,
                         ovs_strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            return;
        }
        VLOG_INFO("listening for fastpath redirects on UDP port %"PRIu16,
                  key->port);
        fp->fd = fd;
        fp->bound_port = key->port;
    }
}

static bool
is_mux(struct ovsdb_idl *idl, ovs_be32 pa)
{
    const struct slbrec_mux *mux;
    SLBREC_MUX_FOR_EACH (mux, idl) {
        ovs_be32 ip;
        if (ip_parse(mux->pa, &ip) && ip == pa) {
            return true;
        }
    }
    return false;
}

/* How far a redirect's sequence number, the microseconds of its mux's
 * clock when it sent it, may be from this host's clock: the hosts' and
 * muxes' clocks are kept in step (NTP), and a redirect that old would be
 * one recorded and sent again. */
#define MAX_CLOCK_SKEW_US (60 * 1000 * 1000LL)

/* Returns true if 'sequence' from the mux at 'pa' is newer than all before
 * it, and recent, and remembers it. */
static bool
is_new(struct fastpath *fp, ovs_be32 pa, uint64_t sequence)
{
    long long int now = time_wall_usec();
    if (sequence > now + MAX_CLOCK_SKEW_US
        || sequence + MAX_CLOCK_SKEW_US < now) {
        return false;
    }

    struct sender *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash_int((OVS_FORCE uint32_t) pa, 0),
                             &fp->senders) {
        if (s->pa == pa) {
            if (sequence <= s->sequence) {
                return false;
            }
            s->sequence = sequence;
            return true;
        }
    }
    s = xmalloc(sizeof *s);
    s->pa = pa;
    s->sequence = sequence;
    hmap_insert(&fp->senders, &s->node, hash_int((OVS_FORCE uint32_t) pa, 0));
    return true;
}

/* Returns the internal rule of 'r''s VIP, protocol and port in its
 * network, or NULL.  (The replica holds the internal frontends of this
 * host's networks only: a few.) */
static const struct slbrec_lb_rule *
find_rule(const struct fastpath *fp, struct ovsdb_idl *idl,
          const struct slb_redirect *r)
{
    const struct slbrec_lb_rule *found = NULL;
    const struct slbrec_frontend *fe;
    SLBREC_FRONTEND_FOR_EACH (fe, idl) {
        struct in6_addr vip;
        if (!slb_frontend_is_internal(fe) || !fe->vnet
            || fe->vnet->vni != r->vni || !slb_addr_from_string(fe->vip, &vip)
            || !ipv6_addr_equals(&vip, &r->vip)) {
            continue;
        }
        struct slbrec_lb_rule *key = slbrec_lb_rule_index_init_row(
            fp->rules_by_frontend);
        slbrec_lb_rule_index_set_frontend(key, fe);
        const struct slbrec_lb_rule *rule;
        SLBREC_LB_RULE_FOR_EACH_EQUAL (rule, key, fp->rules_by_frontend) {
            uint8_t proto = slb_protocol(rule->protocol);
            if (!proto || (proto == r->protocol
                           && rule->frontend_port == ntohs(r->vip_port))) {
                found = rule;
                break;
            }
        }
        slbrec_lb_rule_index_destroy_row(key);
        if (found) {
            break;
        }
    }
    return found;
}

/* Returns true if a VM of 'r''s network is on the host with the
 * redirect's backend PA and has its MAC. */
static bool
is_backend(const struct fastpath *fp, struct ovsdb_idl *idl,
           const struct slb_redirect *r)
{
    bool found = false;
    const struct slbrec_host *host;
    SLBREC_HOST_FOR_EACH (host, idl) {
        ovs_be32 pa;
        if (!ip_parse(host->pa, &pa) || pa != r->backend_pa) {
            continue;
        }
        struct slbrec_vm *key = slbrec_vm_index_init_row(fp->vms_by_host);
        slbrec_vm_index_set_host(key, host);
        const struct slbrec_vm *vm;
        SLBREC_VM_FOR_EACH_EQUAL (vm, key, fp->vms_by_host) {
            struct eth_addr mac;
            if (vm->vnet && vm->vnet->vni == r->vni && vm->mac
                && eth_addr_from_string(vm->mac, &mac)
                && eth_addr_equals(mac, r->backend_mac)) {
                found = true;
                break;
            }
        }
        slbrec_vm_index_destroy_row(key);
        if (found) {
            break;
        }
    }
    return found;
}

/* Handles datagram 'data' of 'len' bytes from 'from': returns why it is
 * refused, or FASTPATH_N_REASONS once its flow is added. */
static enum fastpath_reason
handle(struct fastpath *fp, struct ovsdb_idl *idl, const struct host_view *v,
       struct ofctrl *ofctrl, const void *data, size_t len, ovs_be32 from)
{
    struct slb_redirect r;
    switch (slb_redirect_decode(data, len, &fp->key, &r)) {
    case SLB_REDIRECT_MALFORMED:
        return FASTPATH_MALFORMED;
    case SLB_REDIRECT_BAD_HMAC:
        return FASTPATH_BAD_MAC;
    case SLB_REDIRECT_OK:
        break;
    }
    if (!is_mux(idl, from)) {
        return FASTPATH_UNKNOWN_SENDER;
    }
    if (!is_new(fp, from, r.sequence)) {
        return FASTPATH_REPLAY;
    }
    if (host_view_find_vm(v, &r.client, r.vni) == SIZE_MAX) {
        return FASTPATH_UNKNOWN_VNI;
    }
    const struct slbrec_lb_rule *rule = find_rule(fp, idl, &r);
    if (!rule) {
        return FASTPATH_NO_RULE;
    }
    if (!is_backend(fp, idl, &r)) {
        return FASTPATH_NO_BACKEND;
    }

    const struct uuid *u = &rule->header_.uuid;
    struct host_fastpath hf = {
        .cookie = ((uint64_t) u->parts[0] << 32) | u->parts[1],
        .vni = r.vni,
        .proto = r.protocol,
        .client = r.client,
        .vip = r.vip,
        .client_port = r.client_port,
        .vip_port = r.vip_port,
        .backend_pa = r.backend_pa,
        .backend_mac = r.backend_mac,
    };
    struct host_flows flows = { .n = 0 };
    host_flows_fastpath(v, &hf, &flows);
    uint16_t idle = MIN(MAX(r.lifetime, 1), UINT16_MAX);
    for (size_t i = 0; i < flows.n; i++) {
        const struct host_flow *f = &flows.flows[i];
        struct ofctrl_flow *of = ofctrl_flow_create(f->table_id, f->priority,
                                                    f->cookie, &f->match,
                                                    f->ofpacts,
                                                    f->ofpacts_len);
        ofctrl_add_expiring_flow(ofctrl, of, idle);
        ofctrl_flow_destroy(of);
    }
    host_flows_destroy(&flows);
    COVERAGE_INC(fastpath_installed);
    return FASTPATH_N_REASONS;
}

/* Takes the redirects that came, and adds the flows of those it accepts
 * for the VMs of 'v'. */
void
fastpath_run(struct fastpath *fp, struct ovsdb_idl *idl,
             const struct host_view *v, struct ofctrl *ofctrl)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    /* Only a host whose VMs have internal VIPs to reach needs redirects.
     * The settings are read again only when they may have changed. */
    const struct slbrec_slb_global *global = slbrec_slb_global_first(idl);
    bool wanted = v->n_internal_vips > 0;
    if (global && (ovsdb_idl_get_seqno(idl) != fp->idl_seqno
                   || wanted != fp->wanted)) {
        struct slb_redirect_key key;
        slb_redirect_settings(&global->options, &key);
        configure(fp, &key, wanted);
        if (fp->fd >= 0 || !key.len || !wanted) {
            /* Done; a socket that could not be bound is tried again. */
            fp->idl_seqno = ovsdb_idl_get_seqno(idl);
            fp->wanted = wanted;
        }
    }
    for (int i = 0; fp->fd >= 0 && i < MAX_PER_RUN; i++) {
        uint8_t buf[512];
        struct sockaddr_in from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(fp->fd, buf, sizeof buf, 0,
                             (struct sockaddr *) &from, &from_len);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                VLOG_WARN_RL(&rl, "receiving redirects: %s",
                             ovs_strerror(errno));
            }
            return;
        }
        fp->received++;
        enum fastpath_reason reason = handle(fp, idl, v, ofctrl, buf, n,
                                             from.sin_addr.s_addr);
        if (reason == FASTPATH_N_REASONS) {
            fp->installed++;
        } else {
            fp->refused[reason]++;
            VLOG_DBG_RL(&rl, "redirect from "IP_FMT" refused: %s",
                        IP_ARGS(from.sin_addr.s_addr), reason_names[reason]);
        }
    }
}

void
fastpath_wait(const struct fastpath *fp)
{
    if (fp->fd >= 0) {
        poll_fd_wait(fp->fd, POLLIN);
    }
}

/* Appends to 'out' the fastpath's counters as Prometheus metrics. */
void
fastpath_metrics(const struct fastpath *fp, struct ds *out)
{
    slb_metrics_put(out, "slb_agent_redirects_received_total", "counter",
                    "Fastpath redirects received from muxes.", fp->received);
    slb_metrics_put(out, "slb_agent_redirects_installed_total", "counter",
                    "Fastpath redirects whose flow the agent added.",
                    fp->installed);
    slb_metrics_family(out, "slb_agent_redirects_refused_total", "counter",
                       "Fastpath redirects refused, by reason.");
    for (int i = 0; i < FASTPATH_N_REASONS; i++) {
        slb_metrics_sample(out, "slb_agent_redirects_refused_total",
                           fp->refused[i], "reason", reason_names[i], NULL);
    }
}

/* Appends to 'out' a line of the fastpath's counters. */
void
fastpath_format(const struct fastpath *fp, struct ds *out)
{
    if (fp->fd < 0) {
        ds_put_cstr(out, "fastpath: off (no internal VIP, no redirect key, "
                    "or no socket)\n");
        return;
    }
    ds_put_format(out, "fastpath: UDP port %"PRIu16", %"PRIu64" redirects "
                  "received, %"PRIu64" installed, refused:", fp->bound_port,
                  fp->received, fp->installed);
    for (int i = 0; i < FASTPATH_N_REASONS; i++) {
        ds_put_format(out, " %s %"PRIu64, reason_names[i], fp->refused[i]);
    }
    ds_put_char(out, '\n');
}
