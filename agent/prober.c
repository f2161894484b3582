/* SPDX-License-Identifier: Apache-2.0 */
/* Probing backends in a thread of its own; see prober.h.
 *
 * The thread owns a libevent base and, for each target, a job: a timer
 * and, while a probe is in flight, its bufferevent.  The
 * main thread hands over new targets under 'mutex' and writes a byte into
 * 'control' to make the thread take them; the thread hands results back
 * under 'mutex' and sets 'results_latch'. */

#include <config.h>
#include "prober.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hash.h"
#include "latch.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "ovs-rcu.h"
#include "ovs-thread.h"
#include "packets.h"
#include "random.h"
#include "socket-util.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(prober);

struct prober {
    ovs_be32 source4;           /* Source of IPv4 probes, or 0: any. */
    struct in6_addr source6;    /* Source of IPv6 probes, or all-zeros. */
    pthread_t thread;
    int control[2];             /* Pipe: main thread to prober thread. */

    struct ovs_mutex mutex;
    struct prober_target *targets OVS_GUARDED;  /* New set, or NULL. */
    size_t n_targets OVS_GUARDED;
    bool exiting OVS_GUARDED;
    struct prober_result *results OVS_GUARDED;
    size_t n_results OVS_GUARDED, allocated_results OVS_GUARDED;
    struct latch results_latch;

    /* Only in the prober thread. */
    struct event_base *base;
    SSL_CTX *tls;               /* For HTTPS probes, once one is needed. */
    struct event *control_event;
    struct hmap jobs;           /* Of struct job, by hash of target key. */
};

/* One target, in the prober thread. */
struct job {
    struct hmap_node node;
    struct prober *prober;
    struct prober_target target;
    struct event *timer;
    struct bufferevent *bev;    /* While a probe is in flight. */
    bool connected;             /* HTTP: waiting for the status line. */
};

static void copy_target(struct prober_target *, const struct prober_target *);
static void free_target(struct prober_target *);

/* Results. */

static void
report(struct job *job, bool ok, const char *reason)
{
    struct prober *p = job->prober;
    if (job->bev) {
        bufferevent_free(job->bev);
        job->bev = NULL;
    }

    ovs_mutex_lock(&p->mutex);
    if (p->n_results >= p->allocated_results) {
        p->results = x2nrealloc(p->results, &p->allocated_results,
                                sizeof *p->results);
    }
    struct prober_result *r = &p->results[p->n_results++];
    r->key = xstrdup(job->target.key);
    r->ok = ok;
    ovs_strzcpy(r->reason, reason, sizeof r->reason);
    ovs_mutex_unlock(&p->mutex);
    latch_set(&p->results_latch);
}

/* Probes. */

static void
probe_event_cb(struct bufferevent *bev, short events, void *job_)
{
    struct job *job = job_;
    if (events & BEV_EVENT_CONNECTED) {
        if (!job->target.path) {
            report(job, true, "connected");
        } else {
            struct ds host = DS_EMPTY_INITIALIZER;
            ipv6_format_mapped(&job->target.ip, &host);
            bool ipv6 = !IN6_IS_ADDR_V4MAPPED(&job->target.ip);
            job->connected = true;
            evbuffer_add_printf(bufferevent_get_output(job->bev),
                                "GET %s HTTP/1.0\r\nHost: %s%s%s\r\n"
                                "User-Agent: slb-agent\r\n\r\n",
                                job->target.path, ipv6 ? "[" : "",
                                ds_cstr(&host), ipv6 ? "]" : "");
            ds_destroy(&host);
            bufferevent_enable(job->bev, EV_READ);
        }
    } else if (events & BEV_EVENT_TIMEOUT) {
        report(job, false, "timeout");
    } else if (events & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
        int error = EVUTIL_SOCKET_ERROR();
        /* Takes every TLS error, so that none is left for the next. */
        bool tls_error = false;
        while (job->target.tls && bufferevent_get_openssl_error(bev)) {
            tls_error = true;
        }
        report(job, false,
               !job->connected && error == ECONNREFUSED ? "refused"
               : !job->connected && error == EHOSTUNREACH ? "unreachable"
               : !job->connected && tls_error ? "tls handshake failed"
               : job->connected ? "no answer" : "error");
    }
}

/* HTTP: reads the status line, "HTTP/1.x NNN ...". */
static void
probe_read_cb(struct bufferevent *bev, void *job_)
{
    struct job *job = job_;
    char *line = evbuffer_readln(bufferevent_get_input(bev), NULL,
                                 EVBUFFER_EOL_CRLF);
    if (!line) {
        return;
    }
    int status;
    if (sscanf(line, "HTTP/%*d.%*d %d", &status) == 1) {
        char reason[32];
        snprintf(reason, sizeof reason, "http %d", status);
        report(job, status == 200, reason);
    } else {
        report(job, false, "bad http answer");
    }
    free(line);
}

/* Stores in '*ss' the socket address of 'ip' (IPv4-mapped for IPv4) and
 * 'port', in interface 'scope' if it is link-local, and returns its
 * length. */
static socklen_t
probe_sockaddr(const struct in6_addr *ip, uint16_t port, int scope,
               struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (IN6_IS_ADDR_V4MAPPED(ip)) {
        struct sockaddr_in *sin = (struct sockaddr_in *) ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = in6_addr_get_mapped_ipv4(ip);
        sin->sin_port = htons(port);
        return sizeof *sin;
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr = *ip;
    sin6->sin6_port = htons(port);
    sin6->sin6_scope_id = IN6_IS_ADDR_LINKLOCAL(ip) ? scope : 0;
    return sizeof *sin6;
}

static void
start_probe(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
            void *job_)
{
    struct job *job = job_;
    struct prober *p = job->prober;
    struct timeval interval = {
        .tv_sec = job->target.interval_ms / 1000,
        .tv_usec = job->target.interval_ms % 1000 * 1000,
    };
    event_add(job->timer, &interval);
    if (job->bev) {
        return;                 /* The last one is still in flight. */
    }

    const struct prober_target *t = &job->target;
    bool ipv6 = !IN6_IS_ADDR_V4MAPPED(&t->ip);
    int sock = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    if (sock < 0) {
        report(job, false, "no socket");
        return;
    }
    evutil_make_socket_nonblocking(sock);
    struct in6_addr source = (ipv6 ? p->source6
                              : in6_addr_mapped_ipv4(p->source4));
    if (ipv6 ? ipv6_addr_is_set(&source) : p->source4 != 0) {
        struct sockaddr_storage ss;
        socklen_t len = probe_sockaddr(&source, 0, t->scope, &ss);
        if (bind(sock, (struct sockaddr *) &ss, len) < 0) {
            close(sock);
            report(job, false, "no source address");
            return;
        }
    }

    job->connected = false;
    if (job->target.tls) {
        SSL *ssl = p->tls ? SSL_new(p->tls) : NULL;
        if (!ssl) {
            close(sock);
            report(job, false, "no tls");
            return;
        }
        /* With BEV_OPT_CLOSE_ON_FREE, freeing the bufferevent frees 'ssl'
         * and closes 'sock'.  A server may close without a TLS goodbye
         * once it has answered: the answer still counts. */
        job->bev = bufferevent_openssl_socket_new(p->base, sock, ssl,
                                                  BUFFEREVENT_SSL_CONNECTING,
                                                  BEV_OPT_CLOSE_ON_FREE);
        bufferevent_openssl_set_allow_dirty_shutdown(job->bev, 1);
    } else {
        job->bev = bufferevent_socket_new(p->base, sock,
                                          BEV_OPT_CLOSE_ON_FREE);
    }
    bufferevent_setcb(job->bev, probe_read_cb, NULL, probe_event_cb, job);
    struct timeval timeout = {
        .tv_sec = job->target.timeout_ms / 1000,
        .tv_usec = job->target.timeout_ms % 1000 * 1000,
    };
    bufferevent_set_timeouts(job->bev, &timeout, &timeout);

    struct sockaddr_storage ss;
    socklen_t len = probe_sockaddr(&t->ip, t->port, t->scope, &ss);
    if (bufferevent_socket_connect(job->bev, (struct sockaddr *) &ss, len) < 0
        && job->bev) {
        report(job, false, errno == ECONNREFUSED ? "refused" : "error");
    }
}

/* Jobs. */

static void
job_destroy(struct job *job)
{
    if (job->bev) {
        bufferevent_free(job->bev);
    }
    event_free(job->timer);
    free_target(&job->target);
    free(job);
}

static struct job *
find_job(const struct hmap *jobs, const char *key)
{
    struct job *job;
    HMAP_FOR_EACH_WITH_HASH (job, node, hash_string(key, 0), jobs) {
        if (!strcmp(job->target.key, key)) {
            return job;
        }
    }
    return NULL;
}

static bool
target_equal(const struct prober_target *a, const struct prober_target *b)
{
    return (ipv6_addr_equals(&a->ip, &b->ip) && a->scope == b->scope
            && a->port == b->port && a->tls == b->tls
            && a->interval_ms == b->interval_ms
            && a->timeout_ms == b->timeout_ms
            && nullable_string_is_equal(a->path, b->path));
}

/* Replaces the jobs by those of 'targets'; unchanged targets keep their
 * timers.  A new job's first probe comes at a random point of its first
 * interval, so that a thousand probes do not all start at once. */
static void
update_jobs(struct prober *p, struct prober_target *targets, size_t n)
{
    struct hmap old = HMAP_INITIALIZER(&old);
    hmap_swap(&old, &p->jobs);

    for (size_t i = 0; i < n; i++) {
        struct job *job = find_job(&old, targets[i].key);
        if (job && target_equal(&job->target, &targets[i])) {
            hmap_remove(&old, &job->node);
        } else {
            job = xzalloc(sizeof *job);
            job->prober = p;
            copy_target(&job->target, &targets[i]);
            job->timer = evtimer_new(p->base, start_probe, job);
            int ms = random_range(targets[i].interval_ms);
            struct timeval first = {
                .tv_sec = ms / 1000,
                .tv_usec = ms % 1000 * 1000,
            };
            event_add(job->timer, &first);
        }
        hmap_insert(&p->jobs, &job->node, hash_string(job->target.key, 0));
    }

    struct job *job;
    HMAP_FOR_EACH_POP (job, node, &old) {
        job_destroy(job);
    }
    hmap_destroy(&old);
}

/* The thread. */

static void
control_cb(evutil_socket_t fd, short what OVS_UNUSED, void *p_)
{
    struct prober *p = p_;
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
        continue;
    }

    ovs_mutex_lock(&p->mutex);
    bool exiting = p->exiting;
    struct prober_target *targets = p->targets;
    size_t n = p->n_targets;
    p->targets = NULL;
    p->n_targets = 0;
    ovs_mutex_unlock(&p->mutex);

    if (exiting) {
        event_base_loopbreak(p->base);
    } else if (targets) {
        update_jobs(p, targets, n);
        for (size_t i = 0; i < n; i++) {
            free_target(&targets[i]);
        }
        free(targets);
    }
}

static void *
prober_main(void *p_)
{
    struct prober *p = p_;

    /* The thread touches nothing that RCU protects: it is quiescent for
     * good, so that RCU never waits for it. */
    ovsrcu_quiesce_start();
    event_base_dispatch(p->base);
    return NULL;
}

/* Starts a prober whose probes connect from 'source4' (0: any address)
 * for IPv4 targets, and from 'source6' (NULL: any) for IPv6 ones. */
struct prober *
prober_create(ovs_be32 source4, const struct in6_addr *source6)
{
    struct prober *p = xzalloc(sizeof *p);
    p->source4 = source4;
    p->source6 = source6 ? *source6 : in6addr_any;
    ovs_mutex_init(&p->mutex);
    latch_init(&p->results_latch);
    hmap_init(&p->jobs);
    xpipe_nonblocking(p->control);

    p->base = event_base_new();
    p->tls = SSL_CTX_new(TLS_client_method());
    if (p->tls) {
        SSL_CTX_set_verify(p->tls, SSL_VERIFY_NONE, NULL);
    } else {
        VLOG_ERR("cannot set up TLS: HTTPS probes will fail");
    }
    p->control_event = event_new(p->base, p->control[0],
                                 EV_READ | EV_PERSIST, control_cb, p);
    event_add(p->control_event, NULL);
    p->thread = ovs_thread_create("prober", prober_main, p);
    return p;
}

void
prober_destroy(struct prober *p)
{
    if (!p) {
        return;
    }
    ovs_mutex_lock(&p->mutex);
    p->exiting = true;
    ovs_mutex_unlock(&p->mutex);
    ignore(write(p->control[1], "", 1));
    xpthread_join(p->thread, NULL);

    struct job *job;
    HMAP_FOR_EACH_POP (job, node, &p->jobs) {
        job_destroy(job);
    }
    hmap_destroy(&p->jobs);
    event_free(p->control_event);
    event_base_free(p->base);
    SSL_CTX_free(p->tls);
    close(p->control[0]);
    close(p->control[1]);
    for (size_t i = 0; i < p->n_targets; i++) {
        free_target(&p->targets[i]);
    }
    free(p->targets);
    prober_results_destroy(p->results, p->n_results);
    latch_destroy(&p->results_latch);
    ovs_mutex_destroy(&p->mutex);
    free(p);
}

/* Makes the prober run the 'n' probes of 'targets' (copied), instead of
 * those it runs. */
void
prober_set_targets(struct prober *p, const struct prober_target *targets,
                   size_t n)
{
    struct prober_target *copy = xcalloc(MAX(n, 1), sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        copy_target(&copy[i], &targets[i]);
    }

    ovs_mutex_lock(&p->mutex);
    for (size_t i = 0; i < p->n_targets; i++) {
        free_target(&p->targets[i]);
    }
    free(p->targets);
    p->targets = copy;
    p->n_targets = n;
    ovs_mutex_unlock(&p->mutex);
    ignore(write(p->control[1], "", 1));
}

/* Returns the results that came in since the last call, and their number
 * in '*n'; the caller frees them with prober_results_destroy(). */
struct prober_result *
prober_take_results(struct prober *p, size_t *n)
{
    latch_poll(&p->results_latch);
    ovs_mutex_lock(&p->mutex);
    struct prober_result *results = p->results;
    *n = p->n_results;
    p->results = NULL;
    p->n_results = p->allocated_results = 0;
    ovs_mutex_unlock(&p->mutex);
    return results;
}

void
prober_results_destroy(struct prober_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(results[i].key);
    }
    free(results);
}

/* Wakes the main loop when results come in. */
void
prober_wait(struct prober *p)
{
    latch_wait(&p->results_latch);
}

static void
copy_target(struct prober_target *dst, const struct prober_target *src)
{
    *dst = *src;
    dst->key = xstrdup(src->key);
    dst->path = nullable_xstrdup(src->path);
}

static void
free_target(struct prober_target *t)
{
    free(t->key);
    free(t->path);
}
