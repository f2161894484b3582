/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus metrics over HTTP; see metrics.h. */

#include <config.h>
#include "metrics.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovs-rcu.h"
#include "ovs-thread.h"
#include "packets.h"
#include "seq.h"
#include "socket-util.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(metrics);

/* How long a scrape waits for the main thread before it takes the last
 * text. */
#define BUILD_WAIT_MS 2000

struct slb_metrics {
    slb_metrics_build_func *build;
    void *aux;
    char *url;

    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    int exit_fds[2];            /* A pipe: a byte ends the HTTP thread. */
    struct event *exit_event;

    /* The HTTP thread asks by bumping 'requested'; the main thread builds
     * and sets 'built' to it. */
    struct ovs_mutex mutex;
    pthread_cond_t cond;
    uint64_t requested OVS_GUARDED;
    uint64_t built OVS_GUARDED;
    char *text OVS_GUARDED;     /* The last text built, or NULL. */
    struct seq *request_seq;    /* Changes when 'requested' does. */
    uint64_t last_seq;          /* Main thread: the last seen. */
};

/* On the HTTP thread: the main thread's text, fresh if it answers within
 * BUILD_WAIT_MS, in a copy that the caller frees. */
static char *
fresh_text(struct slb_metrics *m)
{
    ovs_mutex_lock(&m->mutex);
    uint64_t want = ++m->requested;
    seq_change(m->request_seq);
    long long int deadline = time_wall_msec() + BUILD_WAIT_MS;
    while (m->built < want && time_wall_msec() < deadline) {
        struct timespec ts = {
            .tv_sec = deadline / 1000,
            .tv_nsec = (deadline % 1000) * 1000 * 1000,
        };
        pthread_cond_timedwait(&m->cond, &m->mutex.lock, &ts);
    }
    char *text = nullable_xstrdup(m->text);
    ovs_mutex_unlock(&m->mutex);
    return text;
}

static void
handle_request(struct evhttp_request *req, void *m_)
{
    struct slb_metrics *m = m_;

    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, "only GET");
        return;
    }
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (!path || strcmp(path, "/metrics")) {
        evhttp_send_error(req, HTTP_NOTFOUND, "see /metrics");
        return;
    }
    char *text = fresh_text(m);
    if (!text) {
        evhttp_send_error(req, HTTP_SERVUNAVAIL, "no metrics yet");
        return;
    }
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, text, strlen(text));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, HTTP_OK, "OK", body);
    evbuffer_free(body);
    free(text);
}

static void
exit_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *m_)
{
    struct slb_metrics *m = m_;
    event_base_loopbreak(m->base);
}

static void *
http_thread(void *m_)
{
    struct slb_metrics *m = m_;
    /* The thread reads nothing that RCU protects (the main thread builds
     * the text), and blocks in libevent for as long as the daemon runs: as
     * a quiescent thread, it does not hold back what other threads
     * postpone freeing (a mux's old configurations). */
    ovsrcu_quiesce_start();
    event_base_dispatch(m->base);
    return NULL;
}

/* Parses 'spec', "[ADDR:]PORT" (ADDR an IPv4 address, by default
 * 127.0.0.1; PORT 0 for any free port), into '*addr' and '*port'. */
static char *
parse_spec(const char *spec, char **addr, uint16_t *port)
{
    const char *colon = strrchr(spec, ':');
    const char *port_s = colon ? colon + 1 : spec;
    *addr = colon ? xmemdup0(spec, colon - spec) : xstrdup("127.0.0.1");
    ovs_be32 ip;
    int value;
    if (!ip_parse(*addr, &ip)) {
        char *error = xasprintf("--metrics: \"%s\" is not an IPv4 address",
                                *addr);
        free(*addr);
        return error;
    }
    if (!str_to_int(port_s, 10, &value) || value < 0 || value > 65535) {
        free(*addr);
        return xasprintf("--metrics: \"%s\" is not a port (0 to 65535)",
                         port_s);
    }
    *port = value;
    return NULL;
}

/* Returns 'spec', the argument of a daemon's --metrics option, once it
 * has checked it, so that a daemon refuses a bad one before it starts
 * anything; exits with a message if it is not valid. */
const char *
slb_metrics_option(const char *spec)
{
    char *addr;
    uint16_t port;
    char *error = parse_spec(spec, &addr, &port);
    if (error) {
        ovs_fatal(0, "%s", error);
    }
    free(addr);
    return spec;
}

/* Opens in '*fdp' a nonblocking TCP socket that listens on IPv4 address
 * 'addr' and 'port'.  Returns 0 or an errno value.  (libevent's own would
 * resolve the address, which fails in a network namespace whose only IPv4
 * address is the loopback's.) */
static int
listen_on(const char *addr, uint16_t port, int *fdp)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
    };
    if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
        return EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)
        || bind(fd, (struct sockaddr *) &sin, sizeof sin)
        || listen(fd, 16)) {
        int error = errno;
        close(fd);
        return error;
    }
    *fdp = fd;
    return 0;
}

/* Starts serving the metrics that 'build' writes (called with 'aux' on
 * the main thread, in slb_metrics_run()) at 'spec', "[ADDR:]PORT", and
 * stores the server in '*mp'.  Returns NULL, or an error message that the
 * caller must free (then '*mp' is NULL). */
char *
slb_metrics_start(const char *spec, slb_metrics_build_func *build,
                  void *aux, struct slb_metrics **mp)
{
    *mp = NULL;

    char *addr;
    uint16_t port = 0;
    char *error = parse_spec(spec, &addr, &port);
    if (error) {
        return error;
    }

    struct slb_metrics *m = xzalloc(sizeof *m);
    m->build = build;
    m->aux = aux;
    m->base = event_base_new();
    m->http = m->base ? evhttp_new(m->base) : NULL;
    int fd = -1;
    int retval = m->http ? listen_on(addr, port, &fd) : ENOMEM;
    struct evhttp_bound_socket *bound = (!retval
                                         ? evhttp_accept_socket_with_handle(
                                               m->http, fd)
                                         : NULL);
    if (!bound) {
        error = xasprintf("--metrics: cannot listen on %s:%"PRIu16" (%s)",
                          addr, port, ovs_strerror(retval ? retval : errno));
        if (fd >= 0) {
            close(fd);
        }
        if (m->http) {
            evhttp_free(m->http);
        }
        if (m->base) {
            event_base_free(m->base);
        }
        free(m);
        free(addr);
        return error;
    }
    evhttp_set_gencb(m->http, handle_request, m);

    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!getsockname(evhttp_bound_socket_get_fd(bound),
                     (struct sockaddr *) &ss, &len)) {
        port = ss_get_port(&ss);
    }
    m->url = xasprintf("http://%s:%"PRIu16"/metrics", addr, port);
    free(addr);

    ovs_mutex_init(&m->mutex);
    xpthread_cond_init(&m->cond, NULL);
    m->request_seq = seq_create();
    m->last_seq = seq_read(m->request_seq);
    xpipe_nonblocking(m->exit_fds);
    m->exit_event = event_new(m->base, m->exit_fds[0], EV_READ, exit_cb, m);
    event_add(m->exit_event, NULL);
    m->thread = ovs_thread_create("metrics", http_thread, m);
    VLOG_INFO("serving metrics at %s", m->url);

    *mp = m;
    return NULL;
}

/* On the main thread: builds the metrics if a scrape waits for them. */
void
slb_metrics_run(struct slb_metrics *m)
{
    if (!m) {
        return;
    }
    uint64_t seq = seq_read(m->request_seq);
    if (seq == m->last_seq) {
        return;
    }
    m->last_seq = seq;

    ovs_mutex_lock(&m->mutex);
    uint64_t want = m->requested;
    ovs_mutex_unlock(&m->mutex);

    struct ds text = DS_EMPTY_INITIALIZER;
    m->build(&text, m->aux);

    ovs_mutex_lock(&m->mutex);
    free(m->text);
    m->text = ds_steal_cstr(&text);
    m->built = want;
    xpthread_cond_broadcast(&m->cond);
    ovs_mutex_unlock(&m->mutex);
}

void
slb_metrics_wait(struct slb_metrics *m)
{
    if (m) {
        seq_wait(m->request_seq, m->last_seq);
    }
}

/* Returns the URL where 'm' serves the metrics. */
const char *
slb_metrics_url(const struct slb_metrics *m)
{
    return m->url;
}

void
slb_metrics_destroy(struct slb_metrics *m)
{
    if (!m) {
        return;
    }
    ignore(write(m->exit_fds[1], "", 1));
    xpthread_join(m->thread, NULL);
    event_free(m->exit_event);
    evhttp_free(m->http);
    event_base_free(m->base);
    close(m->exit_fds[0]);
    close(m->exit_fds[1]);
    seq_destroy(m->request_seq);
    xpthread_cond_destroy(&m->cond);
    ovs_mutex_destroy(&m->mutex);
    free(m->text);
    free(m->url);
    free(m);
}

/* Writes the HELP and TYPE lines of metric family 'name' ('type' is
 * "counter" or "gauge"). */
void
slb_metrics_family(struct ds *out, const char *name, const char *type,
                   const char *help)
{
    ds_put_format(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                  type);
}

/* Writes family 'name' of 'type' with one sample, 'value', without
 * labels. */
void
slb_metrics_put(struct ds *out, const char *name, const char *type,
                const char *help, double value)
{
    slb_metrics_family(out, name, type, help);
    slb_metrics_sample(out, name, value, NULL);
}

/* Writes a sample of 'name' with 'value' and the labels that follow, pairs
 * of name and value, ended by NULL. */
void
slb_metrics_sample(struct ds *out, const char *name, double value, ...)
{
    va_list args;
    const char *label;

    ds_put_cstr(out, name);
    va_start(args, value);
    int n = 0;
    while ((label = va_arg(args, const char *)) != NULL) {
        const char *v = va_arg(args, const char *);
        ds_put_format(out, "%c%s=\"", n++ ? ',' : '{', label);
        for (; *v; v++) {
            if (*v == '\\' || *v == '"') {
                ds_put_format(out, "\\%c", *v);
            } else if (*v == '\n') {
                ds_put_cstr(out, "\\n");
            } else {
                ds_put_char(out, *v);
            }
        }
        ds_put_char(out, '"');
    }
    va_end(args);
    if (n) {
        ds_put_char(out, '}');
    }
    if (value == floor(value) && fabs(value) < 1e15) {
        ds_put_format(out, " %.0f\n", value);
    } else {
        ds_put_format(out, " %.9g\n", value);
    }
}
