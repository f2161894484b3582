/* SPDX-License-Identifier: Apache-2.0 */
/* The SNAT ports that a host's VMs use; see snat-usage.h. */

#include <config.h>
#include "snat-usage.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "dirs.h"
#include "jsonrpc.h"
#include "latch.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "packets.h"
#include "seq.h"
#include "timeval.h"
#include "unixctl.h"
#include "lib/slb-parse.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(snat_usage);

struct snat_usage_reader {
    char *ctl_path;             /* ovs-vswitchd's control socket, or NULL
                                 * to find it through its pidfile. */
    uint32_t mark;              /* The ct_mark bit of SNAT entries. */
    pthread_t thread;
    struct seq *request_seq;    /* Changes when the main thread asks. */
    struct latch exit_latch;

    struct ovs_mutex mutex;
    struct snat_usage *usage OVS_GUARDED;   /* The last count... */
    size_t n OVS_GUARDED;
    long long int when OVS_GUARDED;         /* ...when it was made (0 for
                                             * never)... */
    char *error OVS_GUARDED;                /* ...or why it failed. */
};

/* One SNAT port in use, as read from an entry. */
struct used_port {
    uint16_t zone;
    uint8_t proto;
    struct in6_addr vip;
    uint16_t port;
};

/* Orders (zone, VIP, protocol) triples. */
static int
compare_triples(uint16_t za, const struct in6_addr *va, uint8_t pa,
                uint16_t zb, const struct in6_addr *vb, uint8_t pb)
{
    int cmp = memcmp(va, vb, sizeof *va);
    return (za != zb ? (za < zb ? -1 : 1)
            : cmp ? cmp
            : pa != pb ? (pa < pb ? -1 : 1)
            : 0);
}

static int
compare_used(const void *a_, const void *b_)
{
    const struct used_port *a = a_, *b = b_;
    int cmp = compare_triples(a->zone, &a->vip, a->proto,
                              b->zone, &b->vip, b->proto);
    return cmp ? cmp : a->port != b->port ? (a->port < b->port ? -1 : 1) : 0;
}

/* Reads one entry of "dpctl/dump-conntrack" from 'line': if it is a TCP or
 * UDP entry whose mark has a bit of 'mark', stores the zone, protocol and
 * its reply's destination (the translated source) in '*u' and returns
 * true. */
static bool
parse_entry(const char *line, uint32_t mark, struct used_port *u)
{
    u->proto = (!strncmp(line, "tcp,", 4) ? IPPROTO_TCP
                : !strncmp(line, "udp,", 4) ? IPPROTO_UDP : 0);
    const char *m = strstr(line, ",mark=");
    const char *z = strstr(line, ",zone=");
    const char *reply = strstr(line, ",reply=(");
    unsigned int entry_mark, zone, port;
    char dst[INET6_ADDRSTRLEN];
    if (!u->proto || !m || !z || !reply
        || sscanf(m, ",mark=%u", &entry_mark) != 1 || !(entry_mark & mark)
        || sscanf(z, ",zone=%u", &zone) != 1 || zone > UINT16_MAX
        || sscanf(reply, ",reply=(src=%*[^,],dst=%45[^,],sport=%*u,"
                  "dport=%u)", dst, &port) != 2
        || port > UINT16_MAX || !slb_addr_from_string(dst, &u->vip)) {
        return false;
    }
    u->zone = zone;
    u->port = port;
    return true;
}

/* Counts, in the text of "dpctl/dump-conntrack" 'dump', the distinct SNAT
 * ports of the entries whose mark has a bit of 'mark', for each zone, VIP
 * and protocol.  Stores the counts, sorted by zone, VIP and protocol, in a
 * new array in '*usagep', and returns how many there are. */
size_t
snat_usage_parse(const char *dump, uint32_t mark, struct snat_usage **usagep)
{
    struct used_port *used = NULL;
    size_t n_used = 0, allocated = 0;
    for (const char *line = dump; line && *line; ) {
        const char *eol = strchr(line, '\n');
        char *copy = xmemdup0(line, eol ? eol - line : strlen(line));
        struct used_port u;
        if (parse_entry(copy, mark, &u)) {
            if (n_used >= allocated) {
                used = x2nrealloc(used, &allocated, sizeof *used);
            }
            used[n_used++] = u;
        }
        free(copy);
        line = eol ? eol + 1 : NULL;
    }
    qsort(used, n_used, sizeof *used, compare_used);

    struct snat_usage *usage = xmalloc(MAX(n_used, 1) * sizeof *usage);
    size_t n = 0;
    for (size_t i = 0; i < n_used; i++) {
        const struct used_port *u = &used[i];
        struct snat_usage *last = n ? &usage[n - 1] : NULL;
        if (!last || last->zone != u->zone
            || !ipv6_addr_equals(&last->vip, &u->vip)
            || last->proto != u->proto) {
            usage[n++] = (struct snat_usage) {
                .zone = u->zone, .vip = u->vip, .proto = u->proto,
                .ports = 1,
            };
        } else if (used[i - 1].port != u->port) {
            last->ports++;
        }
    }
    free(used);
    *usagep = usage;
    return n;
}

static int
compare_usage(const void *a_, const void *b_)
{
    const struct snat_usage *a = a_, *b = b_;
    return compare_triples(a->zone, &a->vip, a->proto,
                           b->zone, &b->vip, b->proto);
}

/* Returns the count of 'zone', 'vip' and 'proto' among the 'n' counts in
 * 'usage', in the order that snat_usage_parse() gives them, or NULL. */
const struct snat_usage *
snat_usage_find(const struct snat_usage *usage, size_t n, uint16_t zone,
                const struct in6_addr *vip, uint8_t proto)
{
    const struct snat_usage key = { .zone = zone, .vip = *vip,
                                    .proto = proto };
    return n ? bsearch(&key, usage, n, sizeof *usage, compare_usage) : NULL;
}

/* Returns the path of ovs-vswitchd's control socket, as ovs-appctl finds
 * it from its pidfile, or NULL. */
static char *
vswitchd_ctl_path(void)
{
    char *pidfile = xasprintf("%s/ovs-vswitchd.pid", ovs_rundir());
    pid_t pid = read_pidfile(pidfile);
    free(pidfile);
    return pid > 0 ? xasprintf("%s/ovs-vswitchd.%ld.ctl", ovs_rundir(),
                               (long int) pid) : NULL;
}

/* Reads ovs-vswitchd's conntrack once, and publishes the count. */
static void
read_once(struct snat_usage_reader *r)
{
    char *path = r->ctl_path ? xstrdup(r->ctl_path) : vswitchd_ctl_path();
    struct jsonrpc *client;
    char *result = NULL, *failure = NULL;
    int retval = path ? unixctl_client_create(path, &client) : ENOENT;
    if (!retval) {
        retval = unixctl_client_transact(client, "dpctl/dump-conntrack", 0,
                                         NULL, &result, &failure);
        jsonrpc_close(client);
    }

    struct snat_usage *usage = NULL;
    size_t n = 0;
    char *error = NULL;
    if (retval) {
        error = xasprintf("%s: %s", path ? path : "ovs-vswitchd.pid",
                          ovs_strerror(retval));
    } else if (failure) {
        error = xasprintf("dpctl/dump-conntrack: %s", failure);
    } else {
        n = snat_usage_parse(result, r->mark, &usage);
    }

    ovs_mutex_lock(&r->mutex);
    free(r->usage);
    r->usage = usage;
    r->n = n;
    r->when = time_msec();
    free(r->error);
    r->error = error;
    ovs_mutex_unlock(&r->mutex);

    free(path);
    free(result);
    free(failure);
}

static void *
reader_main(void *r_)
{
    struct snat_usage_reader *r = r_;
    uint64_t seen = seq_read(r->request_seq);
    while (!latch_is_set(&r->exit_latch)) {
        uint64_t current = seq_read(r->request_seq);
        if (current != seen) {
            seen = current;
            read_once(r);
        }
        seq_wait(r->request_seq, seen);
        latch_wait(&r->exit_latch);
        poll_block();
    }
    return NULL;
}

/* Starts a reader of the conntrack of the ovs-vswitchd whose control
 * socket is 'ctl_path' (NULL: the one of the run directory's pidfile),
 * which counts the entries whose mark has a bit of 'mark'. */
struct snat_usage_reader *
snat_usage_reader_create(const char *ctl_path, uint32_t mark)
{
    struct snat_usage_reader *r = xzalloc(sizeof *r);
    r->ctl_path = nullable_xstrdup(ctl_path);
    r->mark = mark;
    r->request_seq = seq_create();
    latch_init(&r->exit_latch);
    ovs_mutex_init(&r->mutex);
    r->thread = ovs_thread_create("snat_usage", reader_main, r);
    return r;
}

void
snat_usage_reader_destroy(struct snat_usage_reader *r)
{
    if (r) {
        latch_set(&r->exit_latch);
        xpthread_join(r->thread, NULL);
        latch_destroy(&r->exit_latch);
        seq_destroy(r->request_seq);
        ovs_mutex_destroy(&r->mutex);
        free(r->usage);
        free(r->error);
        free(r->ctl_path);
        free(r);
    }
}

/* Asks for a new count (the reader may still be making the last one). */
void
snat_usage_reader_request(struct snat_usage_reader *r)
{
    seq_change(r->request_seq);
}

/* Stores the last count in a new array in '*usage' and when it was made in
 * '*when' (0 if none was), or why it failed in a new string in '*error'
 * (else NULL), and returns the count's size. */
size_t
snat_usage_reader_get(struct snat_usage_reader *r, struct snat_usage **usage,
                      long long int *when, char **error)
{
    ovs_mutex_lock(&r->mutex);
    size_t n = r->n;
    *usage = n ? xmemdup(r->usage, n * sizeof **usage) : NULL;
    *when = r->when;
    *error = nullable_xstrdup(r->error);
    ovs_mutex_unlock(&r->mutex);
    return n;
}
