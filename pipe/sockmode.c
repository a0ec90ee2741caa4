/* SPDX-License-Identifier: MIT */
#include "sockmode.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "fdio.h"
#include "kernelsock.h"
#include "macro.h"
#include "parse.h"
#include "sockdiag.h"

#define LISTEN_FD 3
#define LISTEN_BACKLOG 512 /* as core_pipe.socket: a full backlog makes the kernel skip a core */

/* What the kernel tells only through the pinned process: its RLIMIT_CORE (the socket carries no
 * %c, and the kernel does not enforce it there) and its comm. The /proc directory is proven to be
 * the pinned process's by its pidfd being alive after the reads. */
static int socket_after_pin(struct crash *c) {
        char path[32], text[4096];
        size_t len;
        snprintf(path, sizeof(path), "/proc/%d", (int) c->proc.pid);
        _cleanup_close_ int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r = procfd < 0 ? negative_errno() : read_small_file_at(procfd, "limits", text, sizeof(text), NULL);
        if (r >= 0)
                r = parse_limits_core(text, &c->args.core_limit);
        if (r >= 0 && read_small_file_at(procfd, "comm", text, sizeof(text), &len) >= 0) {
                len = strcspn(text, "\n");
                snprintf(c->args.comm, sizeof(c->args.comm), "%.*s", (int) MIN(len, (size_t) KERNEL_COMM_MAX), text);
        }
        if (r >= 0)
                r = pidfd_check_alive(c->proc.pidfd);
        if (r < 0) {
                c->outcome.kind = OUTCOME_DROPPED;
                snprintf(c->outcome.why_fallback, sizeof(c->outcome.why_fallback),
                         "cannot read the RLIMIT_CORE of the crashed process: %s", strerror(-r));
        }
        return r;
}

/* Who connected, from the kernel's own records: a task dumping core (PIDFD_INFO_COREDUMP), its
 * real ids and dump mode; then its request. Fills c->args as the pipe's arguments would be. */
static int identify_peer(int conn, struct crash *c, uint64_t accepted_at, const char **ret_step) {
        struct kcore_peer peer;
        pid_t cred_pid;
        int pidfd, r;

        *ret_step = "reading its peer (SO_PEERPIDFD)";
        r = kcore_peer_pidfd(conn, &pidfd, &cred_pid);
        if (r < 0)
                return r;
        c->args = (struct kernel_args){.have_pidfd = true, .pidfd = pidfd, .pid = cred_pid};
        *ret_step = "asking its pidfd (PIDFD_GET_INFO)";
        r = kcore_peer_info(pidfd, &peer);
        if (r == -EPERM)
                *ret_step = "checking that its peer is dumping core (a connection not made by the kernel)";
        if (r < 0)
                return r;
        if (peer.pid != cred_pid)
                return *ret_step = "matching its pidfd to SO_PEERCRED", -ESRCH;
        c->args.uid = peer.uid;
        c->args.gid = peer.gid;
        c->args.dump_mode = peer.dump_mode;
        c->args.time = accepted_at / USEC_PER_SEC; /* the socket carries no %t */
        c->args.core_limit = UINT64_MAX;           /* until after_pin reads it */
        *ret_step = "reading the kernel's request (is the pattern @@PATH?)";
        return kcore_request_read(conn, now_monotonic_usec() + c->cfg.timeout_usec, &c->kernel->req);
}

/* "pid=N comm=\"...\"" of the task at the other end of conn, for a line about a crash that is
 * not handled (SO_PEERCRED, then its /proc comm while it is still there). */
static void describe_peer(int conn, char *out, size_t size) {
        struct ucred cred = {0};
        socklen_t len = sizeof(cred);
        char path[32], comm[KERNEL_COMM_MAX + 2], esc[4 * KERNEL_COMM_MAX + 8];
        size_t n;
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0) {
                snprintf(out, size, "pid=unknown");
                return;
        }
        snprintf(path, sizeof(path), "/proc/%d/comm", (int) cred.pid);
        if (read_small_file_at(AT_FDCWD, path, comm, sizeof(comm), &n) < 0) {
                snprintf(out, size, "pid=%d", (int) cred.pid);
                return;
        }
        escape_for_log(comm, strcspn(comm, "\n"), esc, sizeof(esc));
        snprintf(out, size, "pid=%d comm=\"%s\"", (int) cred.pid, esc);
}

int socket_handle_connection(int conn, const char *config_path) {
        struct crash c = CRASH_NULL;
        struct kcore_conn kernel = {0};
        const char *step = "";
        uint64_t accepted_at = now_realtime_usec();

        crash_load_config(config_path, &c.cfg);
        c.core_fd = conn;
        c.kernel = &kernel;
        c.after_pin = socket_after_pin;
        int r = identify_peer(conn, &c, accepted_at, &step);
        if (r < 0) {
                char who[128];
                describe_peer(conn, who, sizeof(who));
                log_crash_problem(&c.cfg, LOG_ERR,
                                  "%s: a connection on the coredump socket: %s: %s; closed without a core", who, step,
                                  strerror(-r));
                if (c.args.have_pidfd)
                        safe_close(c.args.pidfd);
                safe_close(conn);
                return r;
        }
        return crash_handle(&c);
}

/* The descriptor the service manager passed (LISTEN_PID ours, LISTEN_FDS=1): fd 3, a socket. */
static int listen_fd_from_manager(void) {
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
        uint32_t p, n;
        struct stat st;
        if (!pid || !fds || parse_uint32(pid, &p) < 0 || parse_uint32(fds, &n) < 0 || (pid_t) p != getpid())
                return -ENXIO;
        if (n != 1 || fstat(LISTEN_FD, &st) < 0 || !S_ISSOCK(st.st_mode))
                return -EBADF;
        (void) fcntl(LISTEN_FD, F_SETFD, FD_CLOEXEC);
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        return LISTEN_FD;
}

/* Its directory (/run/core_pipe on a host without systemd's tmpfiles), made 0700 when missing; one
 * that is there is judged by the socket file's checks after, never changed here. */
static void make_parent_directory(const char *path) {
        char dir[sizeof(((struct sockaddr_un *) NULL)->sun_path)];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                (void) mkdir(dir, 0700);
        }
}

/* Binds and listens at path ourselves (tests, hosts without systemd). A stale socket there is
 * replaced (the kernel would skip every crash on one nobody listens to); a listened one is not. */
static int listen_at(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (path[0] != '/' || strlen(path) >= sizeof(sa.sun_path))
                return -EINVAL;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        /* A live server there keeps its socket: two would split the crashes between them. */
        char why[256];
        int r = unix_socket_listens(path, why, sizeof(why));
        if (r > 0)
                return -EADDRINUSE;
        struct stat st;
        if (lstat(path, &st) >= 0 && S_ISSOCK(st.st_mode))
                (void) unlink(path);
        make_parent_directory(path);
        mode_t mask = umask(0177); /* 0600 from its creation on: only root reaches it */
        r = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, LISTEN_BACKLOG) < 0 ? negative_errno() : 0;
        umask(mask);
        return r < 0 ? r : TAKE_FD(fd);
}

/* Anyone who can connect to the coredump socket can make connections that look like crashes: only
 * root may reach it. The socket served (the listener, or the one an accepted connection came
 * through) must be a root-owned 0600 socket file in directories only root can write. */
static int check_served_socket(const char *mode, int fd) {
        char why[256];
        int r = served_socket_check(fd, why, sizeof(why));
        if (r < 0)
                fprintf(stderr,
                        "core_pipe %s: not serving %s: only root may be able to reach the coredump socket (anyone "
                        "who can connect to it can forge crashes)\n",
                        mode, why);
        return r;
}

static volatile sig_atomic_t stop_requested;
static void on_stop_signal(int sig) {
        (void) sig;
        stop_requested = 1;
}

/* Only to wake poll(): a worker that ended frees its place at once, not a second later. */
static void on_child_signal(int sig) {
        (void) sig;
}

/* A worker and the crashing process it handles (the inode of its pidfd: one per process). */
struct worker {
        pid_t pid;
        ino_t crash;
        int pidfd;     /* the crashing process's, to tell when its dump is over (-1: none) */
        char who[128]; /* the crashed process, for a line if the worker must be ended */
};

struct server {
        struct pipe_config cfg;
        int listen_fd;
        const char *config_path;
        unsigned max;           /* MaxConcurrentDumps=: crashes whose dump is in progress */
        unsigned n_workers;     /* 2 × max: as many again may wind up (the receiver's backtrace) */
        struct worker *workers; /* n_workers slots, pid 0 = free */
        unsigned running;
};

/* Whether a worker's crash is still dumping: its process has not ended. A worker whose process
 * ended only waits for its receiver's last word (forward.c, at most 15 s): no longer a crash in
 * progress, neither for MaxConcurrentDumps= nor for the kernel's one connection per crash. */
static bool worker_dumping(const struct worker *w) {
        struct pollfd p = {.fd = w->pidfd, .events = POLLIN};
        return w->pid != 0 && (w->pidfd < 0 || poll(&p, 1, 0) == 0);
}

static unsigned crashes_in_progress(const struct server *s) {
        unsigned n = 0;
        for (unsigned i = 0; i < s->n_workers; i++)
                n += worker_dumping(&s->workers[i]);
        return n;
}

/* Reaps the workers that ended; with wait_for set, waits up to deadline for all of them. */
static void reap_workers(struct server *s, uint64_t deadline_usec) {
        for (;;) {
                pid_t pid = waitpid(-1, NULL, WNOHANG);
                if (pid > 0) {
                        for (unsigned i = 0; i < s->n_workers; i++)
                                if (s->workers[i].pid == pid) {
                                        safe_close(s->workers[i].pidfd);
                                        s->workers[i] = (struct worker){.pidfd = -EBADF};
                                        s->running--;
                                }
                        continue;
                }
                if (s->running == 0 || now_monotonic_usec() >= deadline_usec)
                        return;
                struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

/* A connection that is not handled: REJECTed at once (the kernel would otherwise hold the task
 * until a worker is free, or skip it silently once the backlog is full), and said. */
static void reject_connection(const struct server *s, int conn, const char *why) {
        struct kcore_conn k = {0};
        char who[128];
        describe_peer(conn, who, sizeof(who));
        (void) kcore_conn_reject(&k, conn, now_monotonic_usec() + 100 * USEC_PER_MSEC);
        log_crash_problem(&s->cfg, LOG_WARNING, "%s: %s: REJECTed, no core", who, why);
}

static void reject_over_cap(const struct server *s, int conn) {
        char why[96];
        snprintf(why, sizeof(why), "MaxConcurrentDumps=%u crashes in progress", s->max);
        reject_connection(s, conn, why);
}

/* The inode of the connecting task's pidfd (pidfs: the same for every pidfd of one process), or 0
 * when it has none or is not dumping core (then the worker refuses the connection itself, and it
 * never holds the place of the crash the kernel connects for later). */
static ino_t peer_crash_inode(int conn, int *ret_pidfd) {
        int pidfd;
        pid_t pid;
        struct stat st;
        struct kcore_peer peer;
        *ret_pidfd = -EBADF;
        if (kcore_peer_pidfd(conn, &pidfd, &pid) < 0)
                return 0;
        ino_t ino = kcore_peer_info(pidfd, &peer) < 0 || fstat(pidfd, &st) < 0 ? 0 : st.st_ino;
        if (ino == 0)
                safe_close(pidfd);
        else
                *ret_pidfd = pidfd;
        return ino;
}

/* The kernel makes one connection per crash: a second one from a process whose crash a worker is
 * handling was made by someone else (a process that connected before crashing). */
static bool crash_in_progress(const struct server *s, ino_t crash) {
        for (unsigned i = 0; crash != 0 && i < s->n_workers; i++)
                if (s->workers[i].pid != 0 && s->workers[i].crash == crash)
                        return true;
        return false;
}

/* A worker per connection, in the same code as --socket. */
static void start_worker(struct server *s, int conn, ino_t crash, int pidfd, const char *who) {
        unsigned slot = 0;
        while (slot < s->n_workers && s->workers[slot].pid != 0)
                slot++;
        pid_t pid = slot < s->n_workers ? fork() : -1;
        if (pid == 0) {
                signal(SIGTERM, SIG_DFL);
                signal(SIGINT, SIG_DFL);
                signal(SIGCHLD, SIG_DFL);
                safe_close(s->listen_fd);
                _exit(socket_handle_connection(conn, s->config_path) < 0 ? 1 : 0);
        }
        if (pid < 0) {
                log_helper_problem(LOG_ERR, "cannot start a worker for a crash: %s",
                                   slot < s->n_workers ? strerror(errno) : "every worker's place is taken");
                reject_over_cap(s, conn);
                safe_close(pidfd);
        } else {
                s->workers[slot] = (struct worker){.pid = pid, .crash = crash, .pidfd = pidfd};
                snprintf(s->workers[slot].who, sizeof(s->workers[slot].who), "%s", who);
                s->running++;
        }
        safe_close(conn);
}

static void serve_loop(struct server *s) {
        while (!stop_requested) {
                reap_workers(s, 0);
                struct pollfd p = {.fd = s->listen_fd, .events = POLLIN};
                if (poll(&p, 1, 1000) <= 0)
                        continue;
                int conn = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (conn < 0) {
                        /* Out of descriptors or memory: no busy loop while it lasts. */
                        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                                nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
                        continue;
                }
                int pidfd;
                ino_t crash = peer_crash_inode(conn, &pidfd);
                if (crashes_in_progress(s) >= s->max)
                        reject_over_cap(s, conn);
                else if (crash_in_progress(s, crash))
                        reject_connection(
                                s, conn,
                                "a second connection from a crash in progress: not the kernel's (it makes one)");
                else {
                        char who[128];
                        describe_peer(conn, who, sizeof(who));
                        start_worker(s, conn, crash, pidfd, who);
                        continue;
                }
                safe_close(pidfd);
                safe_close(conn);
        }
}

/* SIGTERM: no new crash is accepted; the workers get SERVE_STOP_SEC to finish, then are ended. */
static void serve_stop(struct server *s) {
        s->listen_fd = safe_close(s->listen_fd);
        reap_workers(s, now_monotonic_usec() + SERVE_STOP_SEC * USEC_PER_SEC);
        for (unsigned i = 0; i < s->n_workers; i++)
                if (s->workers[i].pid > 0 && kill(s->workers[i].pid, SIGKILL) >= 0)
                        /* Its worker's line will never come: the crash gets this one. */
                        log_crash_problem(&s->cfg, LOG_ERR,
                                          "%s transport=socket outcome=dropped reason=\"the service stopped: its "
                                          "worker was still at the crash after %d s and was ended\"",
                                          s->workers[i].who, SERVE_STOP_SEC);
        reap_workers(s, now_monotonic_usec() + 5 * USEC_PER_SEC);
}

static int serve(const char *config_path, const char *listen_path) {
        struct server s = {.config_path = config_path};
        crash_load_config(config_path, &s.cfg);
        s.max = s.cfg.max_concurrent_dumps;
        s.listen_fd = listen_path ? listen_at(listen_path) : listen_fd_from_manager();
        if (s.listen_fd < 0) {
                fprintf(stderr, "core_pipe --serve: %s: %s\n",
                        listen_path ? listen_path : "no listening socket from the service manager (LISTEN_FDS)",
                        strerror(-s.listen_fd));
                return 1;
        }
        if (check_served_socket("--serve", s.listen_fd) < 0) {
                safe_close(s.listen_fd);
                return 1;
        }
        s.n_workers = 2 * s.max;
        _cleanup_free_ struct worker *workers = calloc(s.n_workers, sizeof(struct worker));
        if (!workers)
                return 1;
        for (unsigned i = 0; i < s.n_workers; i++)
                workers[i].pidfd = -EBADF;
        s.workers = workers;
        struct sigaction sa = {.sa_handler = on_stop_signal}; /* no SA_RESTART: poll() returns */
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sa.sa_handler = on_child_signal;
        sigaction(SIGCHLD, &sa, NULL);
        serve_loop(&s);
        /* Before the socket closes: a crash meanwhile goes to the pipe helper, not to nobody. */
        if (listen_path)
                (void) pattern_restore_pipe(listen_path);
        serve_stop(&s);
        if (listen_path)
                (void) unlink(listen_path);
        return 0;
}

/* core_pipe --socket: the connection the service manager accepted for us. systemd accepts with
 * SOCK_NONBLOCK; the receiver gets the connection blocking, as --serve accepts it (the helper's
 * own reads and writes on it never block either way: each waits in poll() with a deadline). */
static int socket_once(const char *config_path) {
        int conn = listen_fd_from_manager();
        if (conn < 0) {
                fprintf(stderr, "core_pipe --socket: no connection from the service manager (LISTEN_FDS): %s\n",
                        strerror(-conn));
                return 1;
        }
        if (check_served_socket("--socket", conn) < 0) {
                safe_close(conn);
                return 1;
        }
        int flags = fcntl(conn, F_GETFL);
        if (flags >= 0 && (flags & O_NONBLOCK))
                (void) fcntl(conn, F_SETFL, flags & ~O_NONBLOCK);
        return socket_handle_connection(conn, config_path) < 0 ? 1 : 0;
}

static int usage(const char *why) {
        fprintf(stderr,
                "core_pipe: %s\n"
                "usage: core_pipe --socket [--config PATH]\n"
                "       core_pipe --serve [--config PATH] [--listen PATH]\n"
                "       core_pipe --pattern socket|pipe [--listen PATH]\n"
                "       (as the helper of kernel.core_pattern: see core_pipe(8))\n",
                why);
        return 2;
}

/* "--opt VALUE" or "--opt=VALUE" at argv[*i]; advances *i past what it took. */
static const char *option_value(int argc, char *argv[], int *i, const char *name) {
        size_t n = strlen(name);
        if (strncmp(argv[*i], name, n) != 0)
                return NULL;
        if (argv[*i][n] == '=')
                return argv[*i] + n + 1;
        if (argv[*i][n] != '\0' || *i + 1 >= argc)
                return NULL;
        return argv[++*i];
}

int service_main(int argc, char *argv[]) {
        const char *mode = argv[1], *config = NULL, *listen = NULL, *which = NULL;
        int i = 2;
        if (strcmp(mode, "--pattern") == 0 && argc > 2)
                which = argv[i++];
        for (; i < argc; i++) {
                const char *v;
                if ((v = option_value(argc, argv, &i, "--config")) && v[0] == '/')
                        config = v;
                else if ((v = option_value(argc, argv, &i, "--listen")) && v[0] == '/')
                        listen = v;
                else
                        return usage("unknown argument or a path that is not absolute");
        }
        if (strcmp(mode, "--socket") == 0 && !listen)
                return socket_once(config);
        if (strcmp(mode, "--serve") == 0)
                return serve(config, listen);
        if (which && !config)
                return pattern_main(which, listen ? listen : CORE_PIPE_KERNEL_SOCKET);
        return usage("unknown mode");
}
