/* SPDX-License-Identifier: Apache-2.0 */
/* The BGP speaker that slb-mux runs as its own child: see speaker.h. */

#include <config.h>

#include "speaker.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "process.h"
#include "socket-util.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(speaker);

#define FIRST_BACKOFF_MS 1000
#define MAX_BACKOFF_MS 30000
/* A gobgpd that ran this long before it exited starts again after the
 * first back-off, not after a longer one. */
#define STABLE_MS 60000

/* Whom gobgpd runs as, if not as the mux's own user. */
struct mux_speaker_user {
    uid_t uid;
    gid_t gid;
    gid_t *groups;              /* The user's supplementary groups. */
    int n_groups;
    char *failure;              /* What the child writes if it cannot
                                 * become that user, newline included. */
};

struct mux_speaker {
    char *path;                 /* The program, found in $PATH. */
    char **argv;                /* Its arguments, NULL-terminated. */
    char *log_file;             /* Its standard output and error, or NULL
                                 * for the mux's own. */
    char *api_address;          /* Its gRPC API, HOST:PORT. */
    struct mux_speaker_user *user; /* Or NULL: the mux's user. */

    pid_t pid;                  /* 0: not running. */
    int life_fd;                /* Read end of a pipe whose write end only
                                 * the child holds: EOF once it exits... */
    bool exiting;               /* ...which it has reached. */
    long long int started;      /* When it last started, in ms. */
    long long int restart_at;   /* If not running: when to start it. */
    int backoff_ms;
    unsigned int n_starts;
    char *last_exit;            /* How the last one ended, or NULL. */
};

/* Returns the path of the executable 'program' as execve() wants it,
 * searching $PATH for a bare name, or NULL. */
static char *
find_program(const char *program)
{
    if (strchr(program, '/')) {
        return access(program, X_OK) ? NULL : xstrdup(program);
    }
    const char *path = getenv("PATH");
    char *dirs = xstrdup(path && path[0] ? path : "/usr/bin:/bin");
    char *save = NULL, *found = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        size_t len = strlen(dir);
        char *candidate = xasprintf("%s%s%s", len ? dir : ".",
                                    len && dir[len - 1] == '/' ? "" : "/",
                                    program);
        if (!access(candidate, X_OK)) {
            found = candidate;
        } else {
            free(candidate);
        }
    }
    free(dirs);
    return found;
}

/* Parses 'spec', USER or USER:GROUP (default: the user's primary group),
 * into '*userp', to run gobgpd as that user in its supplementary groups,
 * with no capability but CAP_NET_BIND_SERVICE, so that it can listen on
 * BGP's port.  Returns NULL, or an error message that the caller must free
 * (then '*userp' is NULL).  Checks that the mux has what that takes:
 * CAP_SETUID and CAP_SETGID to become the user, CAP_NET_BIND_SERVICE to
 * hand it on, and CAP_KILL to end a gobgpd that is no longer its own
 * user's. */
char *
mux_speaker_user_parse(const char *spec, struct mux_speaker_user **userp)
{
    *userp = NULL;

    char *user_name = xstrdup(spec);
    char *group_name = strchr(user_name, ':');
    if (group_name) {
        *group_name++ = '\0';
    }
    char *error = NULL;
    struct passwd *pw = user_name[0] ? getpwnam(user_name) : NULL;
    struct group *gr = NULL;
    if (!pw) {
        error = xasprintf("--gobgpd-user: no user \"%s\"", user_name);
    } else if (group_name && !(gr = getgrnam(group_name))) {
        error = xasprintf("--gobgpd-user: no group \"%s\"", group_name);
    }
    if (error) {
        free(user_name);
        return error;
    }

    struct __user_cap_header_struct header = {
        .version = _LINUX_CAPABILITY_VERSION_3,
    };
    struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
    static const struct {
        int cap;
        const char *name;
    } needed[] = {
        { CAP_SETUID, "CAP_SETUID" },
        { CAP_SETGID, "CAP_SETGID" },
        { CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE" },
        { CAP_KILL, "CAP_KILL" },
    };
    if (syscall(SYS_capget, &header, caps)) {
        error = xasprintf("--gobgpd-user: cannot read the mux's "
                          "capabilities (%s)", ovs_strerror(errno));
    }
    for (size_t i = 0; !error && i < ARRAY_SIZE(needed); i++) {
        if (!(caps[0].permitted & (1u << needed[i].cap))) {
            error = xasprintf("--gobgpd-user: slb-mux lacks %s, which it "
                              "needs to start gobgpd as %s",
                              needed[i].name, spec);
        }
    }
    if (error) {
        free(user_name);
        return error;
    }

    struct mux_speaker_user *user = xzalloc(sizeof *user);
    user->uid = pw->pw_uid;
    user->gid = gr ? gr->gr_gid : pw->pw_gid;
    int n = 16;
    for (;;) {
        user->groups = xrealloc(user->groups, n * sizeof *user->groups);
        int got = n;
        if (getgrouplist(user_name, user->gid, user->groups, &got) >= 0) {
            user->n_groups = got;
            break;
        }
        n = MAX(got, n * 2);
    }
    user->failure = xasprintf("slb-mux: cannot start gobgpd as %s\n", spec);
    free(user_name);
    *userp = user;
    return NULL;
}

static void
mux_speaker_user_destroy(struct mux_speaker_user *user)
{
    if (user) {
        free(user->groups);
        free(user->failure);
        free(user);
    }
}

/* In the child: becomes 'user', with CAP_NET_BIND_SERVICE as its only
 * capability, ambient so that it outlives execve().  Returns false if any
 * step fails.  Only system calls: see exec_child(). */
static bool
become_user(const struct mux_speaker_user *user)
{
    if (setgroups(user->n_groups, user->groups)
        || setresgid(user->gid, user->gid, user->gid)
        || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0)
        || setresuid(user->uid, user->uid, user->uid)) {
        return false;
    }

    /* Keeping its capabilities across setresuid() left the child all of
     * the mux's: down to the one, then made ambient. */
    struct __user_cap_header_struct header = {
        .version = _LINUX_CAPABILITY_VERSION_3,
    };
    struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
    memset(caps, 0, sizeof caps);
    uint32_t bind = 1u << CAP_NET_BIND_SERVICE;
    caps[0].effective = caps[0].permitted = caps[0].inheritable = bind;
    return (!syscall(SYS_capset, &header, caps)
            && !prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0)
            && !prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
                      CAP_NET_BIND_SERVICE, 0, 0));
}

/* In the child, between fork() and execve(): only async-signal-safe calls,
 * since the mux has other threads whose locks the child inherits held.
 * Never returns. */
static void OVS_NO_RETURN
exec_child(const struct mux_speaker *s, pid_t parent, int life_fd,
           int log_fd, int max_fds)
{
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
    }
    if (log_fd >= 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
    }
    /* The write end of the life pipe stays open, as descriptor 3, until
     * gobgpd exits; every other descriptor of the mux is closed. */
    if (dup2(life_fd, 3) != 3) {
        _exit(1);
    }
    if (close_range(4, ~0U, 0)) {
        for (int fd = 4; fd < max_fds; fd++) {
            close(fd);
        }
    }

    if (s->user && !become_user(s->user)) {
        ignore(write(STDERR_FILENO, s->user->failure,
                     strlen(s->user->failure)));
        _exit(126);
    }

    /* Dies with the mux.  (After the change of user, which clears this
     * setting.)  If the mux died before this line, no signal is coming:
     * the parent is another process already. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent) {
        _exit(1);
    }

    /* The mux ignores SIGPIPE and may block signals: gobgpd starts from
     * the defaults. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);

    extern char **environ;
    execve(s->path, s->argv, environ);
    _exit(127);
}

static void
speaker_spawn(struct mux_speaker *s)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC)) {
        VLOG_ERR("cannot start gobgpd: pipe failed (%s)", ovs_strerror(errno));
        s->restart_at = time_msec() + s->backoff_ms;
        return;
    }
    int log_fd = -1;
    if (s->log_file) {
        log_fd = open(s->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0644);
        if (log_fd < 0) {
            VLOG_WARN("%s: cannot open gobgpd's log (%s): it writes to the "
                      "mux's standard error instead", s->log_file,
                      ovs_strerror(errno));
        }
    }

    pid_t parent = getpid();
    int max_fds = sysconf(_SC_OPEN_MAX);
    pid_t pid = fork();
    if (!pid) {
        exec_child(s, parent, fds[1], log_fd, max_fds);
    }
    close(fds[1]);
    if (log_fd >= 0) {
        close(log_fd);
    }
    if (pid < 0) {
        VLOG_ERR("cannot start gobgpd: fork failed (%s)", ovs_strerror(errno));
        close(fds[0]);
        s->restart_at = time_msec() + s->backoff_ms;
        return;
    }
    s->pid = pid;
    s->life_fd = fds[0];
    set_nonblocking(s->life_fd);
    s->started = time_msec();
    s->n_starts++;
    VLOG_INFO("started %s (pid %ld)", s->path, (long) pid);
}

static void speaker_exited(struct mux_speaker *, int status);

/* Returns true if something accepts TCP connections at 's''s API. */
static bool
api_listens(const struct mux_speaker *s)
{
    struct sockaddr_storage ss;
    if (!inet_parse_active(s->api_address, -1, &ss, false, NULL)) {
        return false;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    bool ok = !connect(fd, (struct sockaddr *) &ss, ss_length(&ss));
    close(fd);
    return ok;
}

/* Waits up to 5 s for the gobgpd just started to listen on its API, so
 * that the mux's first call reaches it: a first call that finds nobody
 * there leaves the gRPC channel failing calls for seconds more. */
static void
speaker_wait_ready(struct mux_speaker *s)
{
    long long int deadline = time_msec() + 5000;
    while (!api_listens(s)) {
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            speaker_exited(s, status);
            return;
        }
        if (time_msec() >= deadline) {
            VLOG_WARN("gobgpd (pid %ld) does not listen on %s after 5 s",
                      (long) s->pid, s->api_address);
            return;
        }
        xnanosleep(20 * 1000 * 1000);
    }
}

/* Starts 'program' (found in $PATH unless it names a path) as gobgpd with
 * its gRPC API at 'api_address' (HOST:PORT), writing its log to 'log_file'
 * (or, if NULL, to the mux's standard error), as 'user' (from
 * mux_speaker_user_parse(), taken over; NULL: as the mux's user), and
 * returns what keeps it running.  Exits with a message if there is no such
 * program. */
struct mux_speaker *
mux_speaker_start(const char *program, const char *api_address,
                  const char *log_file, struct mux_speaker_user *user)
{
    struct mux_speaker *s = xzalloc(sizeof *s);
    s->path = find_program(program);
    if (!s->path) {
        ovs_fatal(0, "--gobgpd: no executable \"%s\" (in $PATH)", program);
    }
    s->argv = xcalloc(6, sizeof *s->argv);
    s->argv[0] = xstrdup(program);
    s->argv[1] = xasprintf("--api-hosts=%s", api_address);
    s->argv[2] = xstrdup("--pprof-disable");
    s->argv[3] = xstrdup("--log-plain");
    s->argv[4] = xstrdup("--log-level=warn");
    s->log_file = nullable_xstrdup(log_file);
    s->api_address = xstrdup(api_address);
    s->user = user;
    s->life_fd = -1;
    s->backoff_ms = FIRST_BACKOFF_MS;
    speaker_spawn(s);
    if (s->pid) {
        speaker_wait_ready(s);
    }
    return s;
}

/* Returns true if 'fd', nonblocking, has reached its end. */
static bool
at_eof(int fd)
{
    char buf[64];
    ssize_t n;
    do {
        n = read(fd, buf, sizeof buf);
    } while (n > 0 || (n < 0 && errno == EINTR));
    return n == 0;
}

/* Notes that gobgpd exited with 'status', and when to start it again. */
static void
speaker_exited(struct mux_speaker *s, int status)
{
    long long int now = time_msec();
    if (now - s->started >= STABLE_MS) {
        s->backoff_ms = FIRST_BACKOFF_MS;
    }
    free(s->last_exit);
    s->last_exit = process_status_msg(status);
    VLOG_WARN("gobgpd (pid %ld) %s: starting it again in %d ms",
              (long) s->pid, s->last_exit, s->backoff_ms);
    s->restart_at = now + s->backoff_ms;
    s->backoff_ms = MIN(s->backoff_ms * 2, MAX_BACKOFF_MS);
    s->pid = 0;
    s->exiting = false;
    close(s->life_fd);
    s->life_fd = -1;
}

void
mux_speaker_run(struct mux_speaker *s)
{
    if (!s) {
        return;
    }
    if (s->pid) {
        int status;
        pid_t retval = waitpid(s->pid, &status, WNOHANG);
        if (retval == s->pid) {
            speaker_exited(s, status);
        } else if (retval < 0 && errno != EINTR) {
            VLOG_ERR("waitpid for gobgpd (pid %ld) failed (%s)",
                     (long) s->pid, ovs_strerror(errno));
            speaker_exited(s, 0);
        } else if (!s->exiting) {
            s->exiting = at_eof(s->life_fd);
        }
    }
    if (!s->pid && time_msec() >= s->restart_at) {
        speaker_spawn(s);
    }
}

void
mux_speaker_wait(const struct mux_speaker *s)
{
    if (!s) {
        return;
    }
    if (!s->pid) {
        poll_timer_wait_until(s->restart_at);
    } else if (s->exiting) {
        /* It closed its end: waitpid() will soon tell how it ended. */
        poll_timer_wait(10);
    } else {
        poll_fd_wait(s->life_fd, POLLIN);
    }
}

void
mux_speaker_show(const struct mux_speaker *s, struct ds *out)
{
    if (!s) {
        return;
    }
    ds_put_format(out, "gobgpd run by slb-mux: ");
    if (s->pid) {
        ds_put_format(out, "pid %ld", (long) s->pid);
    } else {
        ds_put_format(out, "not running, starting again in %lld ms",
                      MAX(s->restart_at - time_msec(), 0));
    }
    ds_put_format(out, ", started %u time%s", s->n_starts,
                  s->n_starts == 1 ? "" : "s");
    if (s->last_exit) {
        ds_put_format(out, ", the last one %s", s->last_exit);
    }
    ds_put_char(out, '\n');
}

/* Ends gobgpd, with SIGTERM so that it closes its sessions, or SIGKILL if
 * it does not exit within 5 s, and frees 's'. */
void
mux_speaker_destroy(struct mux_speaker *s)
{
    if (!s) {
        return;
    }
    if (s->pid) {
        kill(s->pid, SIGTERM);
        long long int deadline = time_msec() + 5000;
        int status;
        while (waitpid(s->pid, &status, WNOHANG) == 0) {
            if (time_msec() >= deadline) {
                VLOG_WARN("gobgpd (pid %ld) did not exit: killing it",
                          (long) s->pid);
                kill(s->pid, SIGKILL);
                waitpid(s->pid, &status, 0);
                break;
            }
            xnanosleep(10 * 1000 * 1000);
        }
        close(s->life_fd);
    }
    for (char **arg = s->argv; *arg; arg++) {
        free(*arg);
    }
    free(s->argv);
    free(s->path);
    free(s->log_file);
    free(s->api_address);
    mux_speaker_user_destroy(s->user);
    free(s->last_exit);
    free(s);
}
