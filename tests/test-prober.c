/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for agent/prober.c, against servers on loopback: TCP probes
 * that connect or are refused, HTTP probes answered 200 or 503, and one
 * that gets no answer in time; over IPv4 and IPv6. */

#include <config.h>

#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
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

/* Listens on a free port of 127.0.0.1, or ::1 if 'ipv6', and returns the
 * socket; the port in '*port'. */
static int
listen_loopback(bool ipv6, uint16_t *port)
{
    int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
    if (ipv6) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_loopback;
    } else {
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    socklen_t len = ipv6 ? sizeof *sin6 : sizeof *sin;
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &ss, len), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    getsockname(fd, (struct sockaddr *) &ss, &len);
    *port = ntohs(ipv6 ? sin6->sin6_port : sin->sin_port);
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
    struct prober *p = prober_create(htonl(INADDR_LOOPBACK),
                                     &in6addr_loopback);
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
make_target(bool ipv6, uint16_t port, const char *path)
{
    return (struct prober_target) {
        .key = CONST_CAST(char *, "backend/probe"),
        .ip = (ipv6 ? in6addr_loopback
               : in6_addr_mapped_ipv4(htonl(INADDR_LOOPBACK))),
        .port = port,
        .path = CONST_CAST(char *, path),
        .interval_ms = 100,
        .timeout_ms = 500,
    };
}

static void
check_tcp(bool ipv6)
{
    uint16_t port;
    int fd = listen_loopback(ipv6, &port);
    struct prober_target t = make_target(ipv6, port, NULL);
    struct prober_result r = probe_once(&t);
    ck_assert(r.ok);
    ck_assert_str_eq(r.reason, "connected");

    /* Closed: refused. */
    close(fd);
    r = probe_once(&t);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.reason, "refused");
}

START_TEST(test_tcp)
{
    check_tcp(false);
}
END_TEST

/* Probes an HTTP server answering 'status' and returns the result. */
static struct prober_result
probe_http(bool ipv6, int status)
{
    struct http_server server;
    uint16_t port;
    server.fd = listen_loopback(ipv6, &port);
    server.status = status;
    pthread_t thread = ovs_thread_create("http", http_server_main, &server);

    struct prober_target t = make_target(ipv6, port, "/healthz");
    struct prober_result r = probe_once(&t);
    shutdown(server.fd, SHUT_RDWR);
    close(server.fd);
    xpthread_join(thread, NULL);
    return r;
}

START_TEST(test_http)
{
    struct prober_result r = probe_http(false, 200);
    ck_assert(r.ok);
    ck_assert_str_eq(r.reason, "http 200");

    r = probe_http(false, 503);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.reason, "http 503");

    /* Connected, but no answer within the timeout. */
    r = probe_http(false, 0);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.reason, "timeout");
}
END_TEST

/* The same over IPv6, from its own source address. */
START_TEST(test_ipv6)
{
    check_tcp(true);
    struct prober_result r = probe_http(true, 200);
    ck_assert(r.ok);
    ck_assert_str_eq(r.reason, "http 200");
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
    tcase_add_test(tc, test_ipv6);
    suite_add_tcase(s, tc);
    return s;
}

SLB_CHECK_MAIN(prober_suite)
