/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/prober.c, against servers on loopback: TCP probes
 * that connect or are refused, HTTP probes answered 200 or 503, and one
 * that gets no answer in time. */

#include <config.h>

#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ovs-thread.h"
#include "packets.h"
#include "openvswitch/poll-loop.h"
#include "prober.h"
#include "slb-check.h"
#include "timeval.h"
#include "util.h"

/* Listens on a free port of 127.0.0.1 and returns the socket; the port in
 * '*port'. */
static int
listen_loopback(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof sin), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    socklen_t len = sizeof sin;
    getsockname(fd, (struct sockaddr *) &sin, &len);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* An HTTP server on one socket: answers every request with 'status', or
 * never if 'status' is 0. */
struct http_server {
    int fd;
    int status;
};

static void *
http_server_main(void *server_)
{
    struct http_server *server = server_;
    for (;;) {
        int conn = accept(server->fd, NULL, NULL);
        if (conn < 0) {
            return NULL;
        }
        char buf[512];
        ignore(read(conn, buf, sizeof buf));
        if (server->status) {
            char answer[128];
            int n = snprintf(answer, sizeof answer, "HTTP/1.0 %d X\r\n"
                             "Content-Length: 0\r\n\r\n", server->status);
            ignore(write(conn, answer, n));
            close(conn);
        }
        /* Without a status, the connection stays open and silent. */
    }
}

/* Runs 'target' once through a prober and returns its first result. */
static struct prober_result
probe_once(struct prober_target *target)
{
    struct prober *p = prober_create(htonl(INADDR_LOOPBACK));
    prober_set_targets(p, target, 1);

    long long int deadline = time_msec() + 10000;
    for (;;) {
        size_t n;
        struct prober_result *r = prober_take_results(p, &n);
        if (n) {
            struct prober_result first = r[0];
            first.key = NULL;
            ck_assert_str_eq(r[0].key, target->key);
            prober_results_destroy(r, n);
            prober_destroy(p);
            return first;
        }
        free(r);
        ck_assert_msg(time_msec() < deadline, "no result in 10 s");
        prober_wait(p);
        poll_timer_wait_until(deadline);
        poll_block();
    }
}

static struct prober_target
make_target(uint16_t port, const char *path)
{
    return (struct prober_target) {
        .key = CONST_CAST(char *, "backend/probe"),
        .ip = htonl(INADDR_LOOPBACK),
        .port = port,
        .path = CONST_CAST(char *, path),
        .interval_ms = 100,
        .timeout_ms = 500,
    };
}

START_TEST(test_tcp)
{
    uint16_t port;
    int fd = listen_loopback(&port);
    struct prober_target t = make_target(port, NULL);
    struct prober_result r = probe_once(&t);
    ck_assert(r.ok);
    ck_assert_str_eq(r.reason, "connected");

    /* Closed: refused. */
    close(fd);
    r = probe_once(&t);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.reason, "refused");
}
END_TEST

/* Probes an HTTP server answering 'status' and returns the result. */
static struct prober_result
probe_http(int status)
{
    struct http_server server;
    uint16_t port;
    server.fd = listen_loopback(&port);
    server.status = status;
    pthread_t thread = ovs_thread_create("http", http_server_main, &server);

    struct prober_target t = make_target(port, "/healthz");
    struct prober_result r = probe_once(&t);
    shutdown(server.fd, SHUT_RDWR);
    close(server.fd);
    xpthread_join(thread, NULL);
    return r;
}

START_TEST(test_http)
{
    struct prober_result r = probe_http(200);
    ck_assert(r.ok);
    ck_assert_str_eq(r.reason, "http 200");

    r = probe_http(503);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.reason, "http 503");

    /* Connected, but no answer within the timeout. */
    r = probe_http(0);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.reason, "timeout");
}
END_TEST

static Suite *
prober_suite(void)
{
    Suite *s = suite_create("prober");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_tcp);
    tcase_add_test(tc, test_http);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(prober_suite)
