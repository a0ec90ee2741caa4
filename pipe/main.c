/* SPDX-License-Identifier: MIT */
/*
 * core_pipe: the helper named in kernel.core_pattern. It runs as root in the host's namespaces
 * for every crash on the machine, with the core as its stdin. It pins the crashed process, finds
 * the receiver inside that process's own root and hands the core pipe over, or falls back to
 * the host policy. It never reads the core itself and leaves one log line per crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "config.h"
#include "fdio.h"
#include "forward.h"
#include "logsink.h"
#include "macro.h"
#include "parse.h"
#include "process.h"
#include "slots.h"

#ifndef CORE_PIPE_CONFIG_PATH
#error "CORE_PIPE_CONFIG_PATH must be set by the build"
#endif

#define IDENT "core_pipe"
/* The kernel's pipe is 64 KiB: the crashed process would block on every 64 KiB while we set
 * things up. 1 MiB lets the dump run ahead and lets the receiver read in large chunks. */
#define CORE_PIPE_BUFFER_SIZE (1024 * 1024)

static void report_config_problem(const char *path, unsigned line, const char *message) {
        hostlog_sendf(LOG_WARNING, IDENT, "%s:%u: %s", path, line, message);
}

/* The kernel starts us with only stdin open. Anything that prints by accident must not land
 * in the core pipe or in a descriptor we open later, so 1 and 2 point to /dev/null first. */
static void ensure_standard_fds(void) {
        for (int fd = 1; fd <= 2; fd++)
                if (fcntl(fd, F_GETFD) < 0) {
                        int null = open("/dev/null", O_WRONLY | O_NOCTTY);
                        if (null >= 0 && null != fd) {
                                dup2(null, fd);
                                close(null);
                        }
                }
}

struct crash_log {
        char head[1024];
        char outcome[1024];
};

static void describe_crash(const struct kernel_args *a, const struct crashed_process *p, struct crash_log *log) {
        char comm[4 * KERNEL_COMM_MAX + 8];
        escape_for_log(a->comm, strlen(a->comm), comm, sizeof(comm));
        if (!p) {
                snprintf(log->head, sizeof(log->head), "pid=%d comm=\"%s\" uid=%u gid=%u signal=%u", (int) a->pid, comm,
                         a->uid, a->gid, a->signal);
                return;
        }
        char container[256] = "", id[4 * sizeof(p->container.id) + 8];
        if (p->container.runtime[0]) {
                /* Parsed out of a path the container may shape: escaped like everything else. */
                escape_for_log(p->container.id, strlen(p->container.id), id, sizeof(id));
                snprintf(container, sizeof(container), " container=\"%s:%s\"%s%s", p->container.runtime, id,
                         p->container.pod_uid[0] ? " pod=" : "", p->container.pod_uid);
        }
        snprintf(log->head, sizeof(log->head),
                 "pid=%d comm=\"%s\" uid=%u gid=%u signal=%u origin=%s mntns=%llu root=\"%s\" cgroup=\"%s\"%s",
                 (int) a->pid, comm, a->uid, a->gid, a->signal, p->root_is_ours ? "host" : "container",
                 (unsigned long long) p->mntns, p->root_path, p->cgroup, container);
}

static void describe_state(const char *where, const struct conversation *c, char *out, size_t size) {
        char reason[4 * CP_TEXT_MAX + 8], text[4 * CP_TEXT_MAX + 8];
        escape_for_log(c->reason, strlen(c->reason), reason, sizeof(reason));
        switch (c->state) {
        case CONVERSATION_SKIPPED:
                snprintf(out, size, "outcome=skipped receiver=%s reason=\"%s\"", where, reason);
                return;
        case CONVERSATION_HANDED_OVER:
                if (!c->have_outcome) {
                        snprintf(out, size, "outcome=handed-over receiver=%s note=\"%s\"", where, reason);
                        return;
                }
                escape_for_log(c->outcome.text, strlen(c->outcome.text), text, sizeof(text));
                if (c->outcome.error == 0)
                        snprintf(
                                out, size,
                                "outcome=stored receiver=%s file=\"%s\" core_bytes=%llu stored_bytes=%llu truncated=%s",
                                where, text, (unsigned long long) c->outcome.core_size,
                                (unsigned long long) c->outcome.stored_size,
                                c->outcome.flags & CP_OUTCOME_TRUNCATED ? "yes" : "no");
                else
                        snprintf(out, size, "outcome=failed receiver=%s error=\"%s\" reason=\"%s\"", where,
                                 strerror(c->outcome.error), text);
                return;
        default:
                snprintf(out, size, "outcome=failed receiver=%s reason=\"%s\"", where, reason);
                return;
        }
}

static void describe_conversation(const char *where, const struct conversation *c, char *out, size_t size) {
        describe_state(where, c, out, size);
        if (c->interrupted) {
                size_t n = strlen(out);
                snprintf(out + n, size - n, " interrupted=\"%s\"", c->interruption);
        }
}

/* The bounds of one conversation, its verdict deadline counted from now. */
static struct conversation_limits conversation_limits(const struct pipe_config *cfg, const struct crashed_process *p,
                                                      const struct crash_slots *slots) {
        return (struct conversation_limits){
                .verdict_deadline = now_monotonic_usec() + cfg->timeout_usec,
                .outcome_timeout_usec = cfg->outcome_timeout_usec,
                .stall_usec = cfg->stall_timeout_usec,
                .min_rate = cfg->min_dump_rate,
                .dump_timeout_usec = cfg->dump_timeout_usec,
                .iofd = p->iofd,
                .slot_fd = slots->container_fd,
        };
}

/* Tries the receiver inside the process's root. Returns true when the crash is dealt with
 * (handed over or skipped by the receiver); false with *why set when the fallback applies. */
static bool try_container_receiver(const struct pipe_config *cfg, struct crashed_process *p,
                                   const struct cp_request *req, const struct ucred *cred, int *core_fd, int *pidfd,
                                   const struct crash_slots *slots, struct crash_log *log, char *why, size_t why_size) {
        struct conversation_limits lim = conversation_limits(cfg, p, slots);
        struct conversation c;

        if (!p->have_root_uid) {
                snprintf(why, why_size, "its user namespace has no root to own a receiver socket");
                return false;
        }
        _cleanup_close_ int pathfd = resolve_socket_in_root(p->rootfd, p->root_uid);
        /* Nothing of the container's but the socket stays open while we talk to it. */
        p->rootfd = safe_close(p->rootfd);
        if (pathfd < 0) {
                snprintf(why, why_size, "no receiver at %s in its root: %s", CP_SOCKET_PATH,
                         pathfd == -EPERM ? "socket not owned by the root of its user namespace" : strerror(-pathfd));
                return false;
        }
        _cleanup_close_ int sock = connect_resolved_socket(pathfd, lim.verdict_deadline);
        if (sock < 0) {
                snprintf(why, why_size, "cannot connect to %s in its root: %s", CP_SOCKET_PATH, strerror(-sock));
                return false;
        }
        pathfd = safe_close(pathfd);
        converse(sock, req, cred, core_fd, pidfd, &lim, &c);
        if (c.state == CONVERSATION_HANDED_OVER || c.state == CONVERSATION_SKIPPED) {
                describe_conversation(p->root_is_ours ? "host" : "container", &c, log->outcome, sizeof(log->outcome));
                return true;
        }
        char reason[4 * CP_TEXT_MAX + 8];
        escape_for_log(c.reason, strlen(c.reason), reason, sizeof(reason));
        snprintf(why, why_size, "receiver in its root %s: %s", c.state == CONVERSATION_REFUSED ? "refused" : "failed",
                 reason);
        return false;
}

static void run_fallback(const struct pipe_config *cfg, const struct crashed_process *p, const struct cp_request *req,
                         const struct ucred *cred, int *core_fd, int *pidfd, const char *why, struct crash_slots *slots,
                         struct crash_log *log) {
        char dir[PIPE_CONFIG_PATH_MAX + 64], result[1024], cap[256];
        struct conversation c;

        if (cfg->fallback == FALLBACK_DROP) {
                snprintf(log->outcome, sizeof(log->outcome), "outcome=dropped reason=\"%s\" policy=Fallback=drop", why);
                return;
        }
        if (!crash_slots_admit_fallback(cfg, slots, cap, sizeof(cap))) {
                snprintf(log->outcome, sizeof(log->outcome), "outcome=dropped reason=\"%s\" fallback=\"%s\"", why, cap);
                return;
        }
        /* Host processes share one directory; every container gets its own, so that limits can
         * be applied per container and no container sees another's cores. */
        if (p->root_is_ours)
                snprintf(dir, sizeof(dir), "%s/host", cfg->fallback_store);
        else
                snprintf(dir, sizeof(dir), "%s/containers/mntns-%llu", cfg->fallback_store,
                         (unsigned long long) p->mntns);

        _cleanup_close_ int sock = spawn_fallback_receiver(cfg, dir, NULL);
        if (sock < 0) {
                snprintf(log->outcome, sizeof(log->outcome),
                         "outcome=dropped reason=\"%s\" fallback=\"cannot start %s: %s\"", why, cfg->receiver,
                         strerror(-sock));
                return;
        }
        struct conversation_limits lim = conversation_limits(cfg, p, slots);
        converse(sock, req, cred, core_fd, pidfd, &lim, &c);
        describe_conversation("fallback", &c, result, sizeof(result));
        snprintf(log->outcome, sizeof(log->outcome), "%s dir=\"%s\" why=\"%s\"", result, dir, why);
}

/* The config named by C= or the built-in path; a file that cannot be read leaves the defaults. */
static void load_config(const struct kernel_args *a, struct pipe_config *cfg) {
        int r;

        pipe_config_defaults(cfg);
        const char *config_path = a->config_path[0] ? a->config_path : CORE_PIPE_CONFIG_PATH;
        r = pipe_config_load(config_path, cfg, report_config_problem);
        if (r < 0)
                hostlog_sendf(LOG_WARNING, IDENT, "%s: cannot read: %s; using defaults", config_path, strerror(-r));
}

/* Hands the core of the pinned process to the receiver in its root, or to the host fallback;
 * log->outcome says what became of it. */
static void forward_core(const struct pipe_config *cfg, const struct kernel_args *a, struct crashed_process *p,
                         int *core_fd, struct crash_log *log) {
        _cleanup_(crash_slots_done) struct crash_slots slots = CRASH_SLOTS_NULL;
        char why[1024];

        struct cp_request req = {
                .signal = a->signal,
                .dump_mode = a->dump_mode,
                .dump_time = a->time,
                .core_limit = a->core_limit,
                .container = p->container,
        };
        /* The kernel translates these into the receiver's namespaces: a container's receiver
         * sees the pid, uid and gid the container knows. */
        struct ucred cred = {.pid = a->pid, .uid = a->uid, .gid = a->gid};
        /* The identity is a label parsed from names the container may shape (a delegated cgroup
         * subtree): one the protocol cannot carry is dropped, and the crash still goes to the
         * container's receiver. */
        if (!cp_container_encodable(&req.container))
                memset(&req.container, 0, sizeof(req.container));

        /* A container holds at most its share of the kernel's core_pipe_limit slots; a crash over
         * it goes nowhere, the fallback included (core_pipe(8), SECURITY). */
        if (!crash_slots_admit(cfg, p, &slots, why, sizeof(why))) {
                snprintf(log->outcome, sizeof(log->outcome), "outcome=dropped reason=\"%s\"", why);
                return;
        }
        if (why[0]) /* admitted without a slot: the table could not be used */
                snprintf(log->head + strlen(log->head), sizeof(log->head) - strlen(log->head), " slots=\"%s\"", why);
        bool done = false;
        if (a->dump_mode != 1)
                /* suid_dumpable=2 dumps are readable by host root only: a container must never
                 * receive one (a host setuid program may have crashed with its pid swapped). */
                snprintf(why, sizeof(why), "dump mode %u (privileged process): never forwarded", a->dump_mode);
        else
                done = try_container_receiver(cfg, p, &req, &cred, core_fd, &p->pidfd, &slots, log, why, sizeof(why));
        if (!done)
                run_fallback(cfg, p, &req, &cred, core_fd, &p->pidfd, why, &slots, log);
}

int main(int argc, char *argv[]) {
        struct kernel_args a;
        struct pipe_config cfg;
        struct crashed_process p = CRASHED_PROCESS_NULL;
        struct crash_log log = {0};
        char err[512];
        const char *pin_why = "";
        int core_fd = STDIN_FILENO;
        int r;

        ensure_standard_fds();
        /* Root in the host's namespaces, talking to a receiver that may be hostile: no ptrace
         * or /proc access to us from any user namespace but the host's, and no core of ours. */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        signal(SIGPIPE, SIG_IGN);
        umask(0077);

        r = parse_kernel_args(argc, argv, &a, err, sizeof(err));
        if (r < 0) {
                hostlog_sendf(LOG_ERR, IDENT, "cannot handle a crash: %s; core dropped", err);
                return 1;
        }

        load_config(&a, &cfg);

        r = pin_process(&a, &p, &pin_why);
        if (r < 0) {
                describe_crash(&a, NULL, &log);
                hostlog_sendf(LOG_ERR, IDENT, "%s outcome=dropped reason=\"cannot pin the crashed process: %s (%s)\"",
                              log.head, pin_why, strerror(-r));
                if (a.have_pidfd)
                        safe_close(a.pidfd);
                return 1;
        }
        describe_crash(&a, &p, &log);
        /* Only once the process is pinned: with kernel.core_pipe_limit=0 the kernel does not
         * wait for us, and a core that fits the pipe would let the process exit first. */
        (void) fcntl(core_fd, F_SETPIPE_SZ, CORE_PIPE_BUFFER_SIZE);

        forward_core(&cfg, &a, &p, &core_fd, &log);

        int priority = strstr(log.outcome, "outcome=stored") || strstr(log.outcome, "outcome=skipped") ? LOG_INFO
                                                                                                       : LOG_WARNING;
        hostlog_sendf(priority, IDENT, "%s %s", log.head, log.outcome);
        crashed_process_done(&p);
        safe_close(core_fd);
        return 0;
}
