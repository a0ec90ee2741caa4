/* SPDX-License-Identifier: MIT */
#include "forward.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/close_range.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "fate.h"
#include "fdio.h"
#include "macro.h"
#include "ns.h"
#include "process.h"
#include "slots.h"

int resolve_socket_in_root(int rootfd, uid_t *ret_owner) {
        struct open_how how = {
                .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        struct stat st;

        /* CP_SOCKET_PATH without its leading "/": relative to rootfd, which RESOLVE_IN_ROOT
         * makes the root of the whole lookup. */
        _cleanup_close_ int fd = (int) syscall(SYS_openat2, rootfd, CP_SOCKET_PATH + 1, &how, sizeof(how));
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISSOCK(st.st_mode))
                return -ENOTSOCK;
        *ret_owner = st.st_uid;
        return TAKE_FD(fd);
}

int connect_resolved_socket(int pathfd, uint64_t deadline_usec) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        /* Connecting through our own descriptor's /proc/self/fd entry reaches exactly the
         * inode we resolved and checked; nothing the container renames afterwards matters. */
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d", pathfd);

        _cleanup_close_ int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (sock < 0)
                return negative_errno();
        for (;;) {
                if (connect(sock, (struct sockaddr *) &sa, sizeof(sa)) >= 0)
                        return TAKE_FD(sock);
                if (errno == EINTR)
                        continue;
                /* A full backlog: AF_UNIX answers EAGAIN instead of queueing us. */
                if (errno != EAGAIN)
                        return negative_errno();
                if (now_monotonic_usec() >= deadline_usec)
                        return -ETIMEDOUT;
                struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

/* A socket owner worth connecting to: root of the host, of the crashed process's user namespace
 * or of its container init's. Only a first sieve, so that we never connect to a socket any user
 * bound; check_receiver_listener() after the connect is the rule. */
static bool owner_may_serve(const struct crashed_process *p, uid_t owner) {
        return owner == 0 || (p->have_root_uid && owner == p->root_uid) ||
               (p->have_ct_root_uid && owner == p->ct_root_uid);
}

/* Resolves the socket in one candidate root to an O_PATH descriptor with its owner, or says in
 * c->why why there is none worth connecting to. */
static void resolve_candidate(const struct crashed_process *p, int rootfd, const char *where,
                              struct receiver_candidate *c) {
        *c = (struct receiver_candidate){.pathfd = -EBADF, .where = where};
        int fd = resolve_socket_in_root(rootfd, &c->owner);
        if (fd < 0) {
                snprintf(c->why, sizeof(c->why), "no receiver at %s in %s: %s", CP_SOCKET_PATH, where, strerror(-fd));
                return;
        }
        if (!owner_may_serve(p, c->owner)) {
                snprintf(c->why, sizeof(c->why),
                         "no receiver at %s in %s: socket not owned by the root of its user namespace or "
                         "of an ancestor's",
                         CP_SOCKET_PATH, where);
                safe_close(fd);
                return;
        }
        c->pathfd = fd;
}

void resolve_receivers(struct crashed_process *p, struct receiver_candidate ret[RECEIVER_CANDIDATES]) {
        if (p->rootfd >= 0)
                resolve_candidate(p, p->rootfd, "its root", &ret[0]);
        else
                ret[0] = (struct receiver_candidate){
                        .pathfd = -EBADF, .where = "its root", .why = "its root is not open"};
        ret[1] = (struct receiver_candidate){.pathfd = -EBADF, .where = "its container's root"};
        if (p->ct_rootfd >= 0)
                resolve_candidate(p, p->ct_rootfd, "its container's root", &ret[1]);
        /* Nothing of the container's but the sockets' O_PATH descriptors stays open while we
         * talk to a receiver (one may take what we hold, see core_pipe(8)). */
        p->rootfd = safe_close(p->rootfd);
        p->ct_rootfd = safe_close(p->ct_rootfd);
}

int connect_candidate(const struct crashed_process *p, struct receiver_candidate *c, uint64_t deadline) {
        const char *check;
        if (c->pathfd < 0)
                return -ENOENT; /* c->why says why */
        _cleanup_close_ int pathfd = TAKE_FD(c->pathfd);
        _cleanup_close_ int sock = connect_resolved_socket(pathfd, deadline);
        if (sock < 0) {
                snprintf(c->why, sizeof(c->why), "cannot connect to %s in %s: %s", CP_SOCKET_PATH, c->where,
                         strerror(-sock));
                return sock;
        }
        int r = check_receiver_listener(sock, p->pidfd, c->owner, &check);
        if (r < 0) {
                snprintf(c->why, sizeof(c->why), "receiver at %s in %s not eligible: %s", CP_SOCKET_PATH, c->where,
                         check);
                return r;
        }
        return TAKE_FD(sock);
}

void receiver_candidates_done(struct receiver_candidate c[RECEIVER_CANDIDATES]) {
        for (int i = 0; i < RECEIVER_CANDIDATES; i++)
                c[i].pathfd = safe_close(c[i].pathfd);
}

static void fail(struct conversation *c, enum conversation_state state, const char *what, int err) {
        c->state = state;
        if (err)
                snprintf(c->reason, sizeof(c->reason), "%s: %s", what, strerror(-err));
        else
                snprintf(c->reason, sizeof(c->reason), "%s", what);
}

/* A receiver of today sends its OUTCOME_DETAIL right after a stored core's OUTCOME; one of
 * before sends nothing more and closes, or stays silent: a short wait either way. */
#define DETAIL_WAIT_USEC (200 * USEC_PER_MSEC)
static void try_read_detail(int sock, struct conversation *ret) {
        uint8_t buf[CP_MSG_MAX];
        size_t len;
        if (ret->outcome.error != 0)
                return;
        if (recv_message(sock, buf, sizeof(buf), now_monotonic_usec() + DETAIL_WAIT_USEC, &len, NULL, 0, NULL, NULL,
                         NULL) < 0)
                return;
        ret->have_detail = cp_decode_outcome_detail(buf, len, &ret->detail) >= 0;
}

/* A receiver that makes backtraces sends the crash's signature once it is made, after the crashed
 * process is released (the receiver bounds it with its BacktraceTimeout=, 10 s by default); one
 * that makes none (or a receiver of before) closes the connection, which ends the wait at once.
 * Nothing is held meanwhile: the process is gone and its slot given up. */
#define TRACE_WAIT_USEC (15 * USEC_PER_SEC)
static void try_read_trace(int sock, struct conversation *ret) {
        uint8_t buf[CP_MSG_MAX];
        size_t len;
        if (!ret->have_detail)
                return;
        if (recv_message(sock, buf, sizeof(buf), now_monotonic_usec() + TRACE_WAIT_USEC, &len, NULL, 0, NULL, NULL,
                         NULL) < 0)
                return;
        ret->have_trace = cp_decode_outcome_trace(buf, len, &ret->trace) >= 0;
}

static bool try_read_outcome(int sock, struct conversation *ret) {
        uint8_t buf[CP_MSG_MAX];
        size_t len;
        /* Called when poll() saw the socket readable: the deadline only guards a spurious wake. */
        int r = recv_message(sock, buf, sizeof(buf), now_monotonic_usec() + USEC_PER_SEC, &len, NULL, 0, NULL, NULL,
                             NULL);
        if (r < 0) {
                snprintf(ret->reason, sizeof(ret->reason), "no report from the receiver: %s", strerror(-r));
                return false;
        }
        if (cp_decode_outcome(buf, len, &ret->outcome) < 0) {
                snprintf(ret->reason, sizeof(ret->reason), "malformed report from the receiver");
                return false;
        }
        ret->have_outcome = true;
        try_read_detail(sock, ret);
        try_read_trace(sock, ret);
        return true;
}

/* Where a dump in the receiver's hands stands against its bounds. */
struct dump_watch {
        uint64_t start;         /* the hand-over */
        uint64_t written;       /* the process's write count when it last moved */
        uint64_t last_progress; /* when it last moved */
        uint64_t window_start;  /* the current rate window */
        uint64_t window_written;
        bool can_count; /* the write count can be read */
};

/* Without a stall timeout the rate is still averaged over a window: this one. */
#define RATE_WINDOW_DEFAULT_USEC (10 * USEC_PER_SEC)

/* Whether the minimum rate is broken over the window that ends now; starts the next window. */
static bool dump_too_slow(const struct conversation_limits *lim, struct dump_watch *w, uint64_t now, uint64_t count,
                          char *why, size_t size) {
        uint64_t window = lim->stall_usec > 0 ? lim->stall_usec : RATE_WINDOW_DEFAULT_USEC;
        uint64_t elapsed = now - w->window_start, moved = count - w->window_written;
        if (lim->min_rate == 0 || elapsed < window)
                return false;
        /* A dump that has not moved for half a window is left to the stall check, which ends
         * it within that half, and says what it is: one that does not move at all. */
        if (lim->stall_usec > 0 && now - w->last_progress >= window / 2)
                return false;
        w->window_start = now;
        w->window_written = count;
        /* In milliseconds, clamped to 70 min (the longest window is 1 h): times a rate of at most
         * 1 TiB/s (config.c) that stays below 2^62. */
        uint64_t ms = MIN(elapsed / USEC_PER_MSEC, UINT64_C(1) << 22);
        if (moved >= lim->min_rate * ms / 1000)
                return false;
        snprintf(why, size,
                 "the dump moved %llu bytes in %llu ms in the receiver's hands, under MinDumpRate=%llu bytes/s, "
                 "after %llu bytes; process killed",
                 (unsigned long long) moved, (unsigned long long) (elapsed / USEC_PER_MSEC),
                 (unsigned long long) lim->min_rate, (unsigned long long) count);
        return true;
}

/* Whether the dump broke one of its bounds (deadline, stall, rate); why says which. */
static bool dump_over_bound(const struct conversation_limits *lim, struct dump_watch *w, uint64_t now, char *why,
                            size_t size, uint64_t *ret_count) {
        uint64_t count = w->written;
        if (w->can_count && read_write_count(lim->iofd, &count) >= 0 && count != w->written) {
                w->written = count;
                w->last_progress = now;
        }
        *ret_count = count;
        if (lim->dump_timeout_usec > 0 && now - w->start >= lim->dump_timeout_usec) {
                snprintf(why, size,
                         "the dump ran past DumpTimeoutSec=%llus in the receiver's hands after %llu bytes; "
                         "process killed",
                         (unsigned long long) (lim->dump_timeout_usec / USEC_PER_SEC), (unsigned long long) count);
                return true;
        }
        if (!w->can_count)
                return false;
        if (lim->stall_usec > 0 && now - w->last_progress >= lim->stall_usec) {
                snprintf(why, size, "the dump stalled in the receiver's hands after %llu bytes; process killed",
                         (unsigned long long) count);
                return true;
        }
        return dump_too_slow(lim, w, now, count, why, size);
}

/* SIGKILL ends a dump at its next write and the kernel's wait for the pipe's readers; the
 * receiver sees a short core. */
static void end_dump(int pidfd, const char *why, uint64_t count, struct conversation *ret) {
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0)
                return;
        ret->interrupted = true;
        ret->stalled_at = count;
        snprintf(ret->interruption, sizeof(ret->interruption), "%s", why);
}

/* After the hand-over: see the dump progress, end it if it breaks a bound, collect the report. */
static void watch_dump(int sock, int pidfd, const struct conversation_limits *lim, struct conversation *ret) {
        bool released = false, sock_done = false;
        uint64_t now = now_monotonic_usec(), released_at = 0;
        struct dump_watch w = {.start = now, .last_progress = now, .window_start = now};
        w.can_count = lim->iofd >= 0 && read_write_count(lim->iofd, &w.written) >= 0;
        w.window_written = w.written;
        /* Blind (nothing to count and no deadline): wait for the report as after a release. */
        bool bounded = lim->dump_timeout_usec > 0 || (w.can_count && (lim->stall_usec > 0 || lim->min_rate > 0));

        for (;;) {
                struct pollfd p[2] = {
                        {.fd = sock_done ? -1 : sock, .events = POLLIN},
                        {.fd = released ? -1 : pidfd, .events = POLLIN},
                };
                if (poll(p, 2, 200) < 0 && errno != EINTR)
                        break;
                now = now_monotonic_usec();
                if (p[0].revents) {
                        sock_done = true;
                        if (try_read_outcome(sock, ret))
                                break; /* the receiver is done with the pipe */
                }
                if (!released && (p[1].revents || pidfd_check_alive(pidfd) < 0)) {
                        /* The process is gone: the kernel finished (or ended) the dump, and its
                         * core_pipe_limit slot is free again: so is ours. */
                        released = true;
                        released_at = now;
                        slots_release(lim->slot_fd);
                }
                if (released) {
                        /* A receiver that sat on the core will not report it either. */
                        uint64_t wait = ret->interrupted ? MIN(lim->outcome_timeout_usec, USEC_PER_SEC)
                                                         : lim->outcome_timeout_usec;
                        if (sock_done || now - released_at >= wait)
                                break;
                        continue;
                }
                if (!bounded) {
                        if (now - w.start >= lim->outcome_timeout_usec)
                                break;
                        continue;
                }
                char why[sizeof(ret->interruption)];
                uint64_t count;
                if (!ret->interrupted && dump_over_bound(lim, &w, now, why, sizeof(why), &count))
                        end_dump(pidfd, why, count, ret);
        }
}

/* Sends the request with the crashed process's credentials and waits for the verdict until the
 * deadline. Returns true when the receiver asked for the core; otherwise ret says why not
 * (refused, skipped, or the exchange failed). */
static bool ask_for_verdict(int sock, const struct cp_request *req, const struct ucred *cred, uint64_t verdict_deadline,
                            struct conversation *ret) {
        uint8_t buf[CP_MSG_MAX];
        size_t len;
        int r;

        r = cp_encode_request(req, buf, sizeof(buf));
        if (r < 0) {
                fail(ret, CONVERSATION_FAILED, "encoding the request", r);
                return false;
        }
        size_t n = (size_t) r;
        r = send_message(sock, buf, n, NULL, 0, cred, verdict_deadline);
        if (r == -ESRCH && cred->pid != getpid()) {
                /* The crashed process is reaped (killed while we held it): the kernel no longer
                 * passes its pid. Ours instead: a container's receiver sees pid 0 and refuses,
                 * the host's fallback receiver (our child) sees its parent and knows. */
                struct ucred ours = {.pid = getpid(), .uid = cred->uid, .gid = cred->gid};
                r = send_message(sock, buf, n, NULL, 0, &ours, verdict_deadline);
        }
        if (r < 0) {
                fail(ret, CONVERSATION_FAILED, "sending the request", r);
                return false;
        }

        r = recv_message(sock, buf, sizeof(buf), verdict_deadline, &len, NULL, 0, NULL, NULL, NULL);
        if (r < 0) {
                fail(ret, CONVERSATION_FAILED, "waiting for the verdict", r);
                return false;
        }
        struct cp_verdict_msg v;
        r = cp_decode_verdict(buf, len, &v);
        if (r < 0) {
                fail(ret, CONVERSATION_FAILED, "malformed verdict", r);
                return false;
        }
        snprintf(ret->reason, sizeof(ret->reason), "%s", v.reason);
        if (v.verdict == CP_VERDICT_REFUSE) {
                ret->state = CONVERSATION_REFUSED;
                return false;
        }
        if (v.verdict == CP_VERDICT_SKIP) {
                ret->state = CONVERSATION_SKIPPED;
                return false;
        }
        return true;
}

/* How long a helper whose receiver sent no report waits for the crashed process's end, to say
 * what became of it. The core pipe is no longer ours: the kernel does not wait for us. */
#define FATE_WAIT_USEC (2 * USEC_PER_SEC)

/* A receiver took the core and sent no report: what the helper can learn itself of the crashed
 * process (how it ended, whether its memory cgroup's OOM killer struck meanwhile). */
static void learn_fate(int pidfd, const struct conversation_limits *lim, struct conversation *ret) {
        ret->have_exit =
                process_exit_status(pidfd, -EBADF, now_monotonic_usec() + FATE_WAIT_USEC, &ret->exit_status) >= 0;
        ret->have_oom = ret->have_oom && memcg_oom_kills_at(lim->oom_path, &ret->oom_after) >= 0;
}

void converse(int sock, const struct cp_request *req, const struct ucred *cred, int *core_fd, int *pidfd,
              const struct conversation_limits *lim, struct conversation *ret) {
        uint8_t buf[CP_MSG_MAX];
        int r;

        *ret = (struct conversation){.state = CONVERSATION_FAILED};
        /* Before the receiver can charge anything to the cgroup (it may share the crashed
         * process's memory cgroup, and be the one the OOM killer takes). */
        ret->have_oom = lim->oom_path && lim->oom_path[0] && memcg_oom_kills_at(lim->oom_path, &ret->oom_before) >= 0;

        if (!ask_for_verdict(sock, req, cred, lim->verdict_deadline, ret))
                return;
        /* The kernel writes nothing before our ack, and after it writes at once: only now that a
         * receiver wants the core. The connection stays ours if the hand-over fails below. */
        if (lim->kernel && kcore_conn_accept(lim->kernel, *core_fd, lim->verdict_deadline) < 0) {
                fail(ret, CONVERSATION_FAILED, lim->kernel->why, 0);
                return;
        }

        r = cp_encode_handover(buf, sizeof(buf));
        if (r < 0) {
                fail(ret, CONVERSATION_FAILED, "encoding the hand-over", r);
                return;
        }
        int fds[2] = {*core_fd, *pidfd};
        r = send_message(sock, buf, (size_t) r, fds, 2, NULL, lim->verdict_deadline);
        if (r < 0) {
                fail(ret, CONVERSATION_FAILED, "handing over the core", r);
                return;
        }

        /* From here on the receiver alone holds the core pipe: the kernel releases the crashed
         * process when it closes it. We must not read it, and must not keep it open. The pidfd
         * stays with us only to watch the dump. */
        *core_fd = safe_close(*core_fd);
        int watch_pidfd = *pidfd;
        *pidfd = -EBADF;
        ret->state = CONVERSATION_HANDED_OVER;
        snprintf(ret->reason, sizeof(ret->reason), "no report from the receiver");
        watch_dump(sock, watch_pidfd, lim, ret);
        if (!ret->have_outcome)
                learn_fate(watch_pidfd, lim, ret);
        else
                /* A cut core: the helper's own view of the cgroup beside the receiver's words. */
                ret->have_oom = ret->have_oom && (ret->outcome.flags & CP_OUTCOME_TRUNCATED) &&
                                memcg_oom_kills_at(lim->oom_path, &ret->oom_after) >= 0;
        safe_close(watch_pidfd);
}

/* Steps of the fallback receiver's start that a child reports before it dies. */
static const char *const spawn_steps[] = {"entering its cgroup", "setting up its descriptors", "exec"};

/* The child of spawn_fallback_receiver(): enters its cgroups, then runs the receiver with the
 * connection as fd 3 in the socket activation convention, /dev/null elsewhere (never the core
 * pipe: that comes over the socket, like for any receiver), and a fixed environment. A failure
 * is written to status (close-on-exec: an exec that works closes it empty). */
/* In the child: claims[i] (unless -1) becomes fd 4 + i, which the receiver inherits. */
static int keep_claims(const int claims[2]) {
        for (int i = 0; i < 2; i++) {
                if (claims[i] < 0)
                        continue;
                if (dup2(claims[i], 4 + i) < 0 || fcntl(4 + i, F_SETFD, 0) < 0)
                        return -1;
        }
        return 0;
}

static _Noreturn void exec_fallback_receiver(const struct pipe_config *cfg, const char *store_dir,
                                             const struct fallback_cgroups *cgroups, int conn, const int claims[2],
                                             int status) {
        char listen_pid[32], config[PIPE_CONFIG_PATH_MAX + 16], root[PIPE_CONFIG_PATH_MAX + 24];
        int report[2] = {0, fallback_cgroups_enter(cgroups)};
        if (report[1] < 0)
                goto fail;
        report[0] = 1;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(conn, 3) < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
            /* dup2() onto itself keeps close-on-exec: clear it explicitly. */
            fcntl(3, F_SETFD, 0) < 0 ||
            /* The fallback's claims in the slot table (OFD locks) as fds 4 and 5: held for as
             * long as the receiver runs, whether or not the helper waits for it. */
            keep_claims(claims) < 0 ||
            /* Everything else goes at exec (the status pipe only then). */
            syscall(SYS_close_range, 6U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
                report[1] = negative_errno();
                goto fail;
        }
        snprintf(listen_pid, sizeof(listen_pid), "LISTEN_PID=%d", (int) getpid());
        char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LISTEN_FDS=1", listen_pid, NULL};
        snprintf(config, sizeof(config), "--config=%s", cfg->receiver_config);
        snprintf(root, sizeof(root), "--fallback-root=%s", cfg->fallback_store);
        char *argv[] = {"core_pipe-receiver", "--fallback", config, root, "--store", (char *) store_dir, NULL};
        execve(cfg->receiver, argv, envp);
        report[0] = 2;
        report[1] = negative_errno();
fail:
        (void) write(status, report, sizeof(report));
        _exit(127);
}

/* Waits for the child's exec (its status pipe closes empty) or its report of what failed, until
 * the deadline: a child that entered a frozen cgroup (a container may freeze its own) is killed. */
static int wait_for_exec(pid_t pid, int status, uint64_t deadline_usec, const char **ret_step) {
        int report[2];
        ssize_t n = -1;
        int r = fd_wait_until(status, POLLIN, deadline_usec);
        if (r >= 0)
                do
                        n = read(status, report, sizeof(report));
                while (n < 0 && errno == EINTR);
        if (n == 0)
                return 0;
        if (r < 0)
                (void) kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        if (r < 0) {
                *ret_step = spawn_steps[0];
                return r;
        }
        if (n != (ssize_t) sizeof(report) || report[0] < 0 || report[0] > 2 || report[1] >= 0) {
                *ret_step = "starting";
                return n < 0 ? negative_errno() : -EIO;
        }
        *ret_step = spawn_steps[report[0]];
        return report[1];
}

int spawn_fallback_receiver(const struct pipe_config *cfg, const char *store_dir,
                            const struct fallback_cgroups *cgroups, const int claims[2], pid_t *ret_pid,
                            const char **ret_failed_step) {
        int sv[2], status[2];
        *ret_failed_step = "starting";
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return negative_errno();
        if (pipe2(status, O_CLOEXEC) < 0) {
                int r = negative_errno();
                safe_close(sv[0]);
                safe_close(sv[1]);
                return r;
        }
        pid_t pid = fork();
        if (pid == 0)
                exec_fallback_receiver(cfg, store_dir, cgroups, sv[1], claims, status[1]);
        int r = pid < 0 ? negative_errno() : 0;
        safe_close(sv[1]);
        safe_close(status[1]);
        if (r == 0)
                r = wait_for_exec(pid, status[0], now_monotonic_usec() + cfg->timeout_usec, ret_failed_step);
        safe_close(status[0]);
        if (r < 0) {
                safe_close(sv[0]);
                return r;
        }
        if (ret_pid)
                *ret_pid = pid;
        /* Non-blocking like a connected receiver socket; every wait has a deadline. */
        int flags = fcntl(sv[0], F_GETFL);
        if (flags >= 0)
                (void) fcntl(sv[0], F_SETFL, flags | O_NONBLOCK);
        return sv[0];
}
