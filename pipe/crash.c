/* SPDX-License-Identifier: MIT */
/*
 * The path every crash takes, whichever way the kernel gave it to us (the pipe of a helper named
 * in kernel.core_pattern, or a connection to the host's coredump socket): pin the process, admit
 * it under its container's share, offer it to the receiver in its root (then its container's),
 * else to the host's fallback, and leave one log line. Each transport only fills struct crash
 * first (main.c for the pipe, sockmode.c for the socket); nothing here is copied per transport.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "crash.h"
#include "fate.h"
#include "fdio.h"
#include "forward.h"
#include "kernelsock.h"
#include "lograte.h"
#include "logsink.h"
#include "macro.h"
#include "parse.h"
#include "process.h"

#ifndef CORE_PIPE_CONFIG_PATH
#error "CORE_PIPE_CONFIG_PATH must be set by the build"
#endif

#define IDENT "core_pipe"
/* The kernel's pipe is 64 KiB: the crashed process would block on every 64 KiB while we set
 * things up. 1 MiB lets the dump run ahead and lets the receiver read in large chunks. */
#define CORE_PIPE_BUFFER_SIZE (1024 * 1024)

/* Problems of the helper itself rather than of one crash (its config, its arguments, a process
 * it cannot pin): one key of their own, limited like a container with the default limits (the
 * config may not be read yet), so a flood of crashes cannot repeat them without bound. */
static void vlog_helper(const struct lograte_limits *limits, int priority, const char *fmt, va_list ap) {
        char msg[1536];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        (void) lograte_send(LOGRATE_DIR, limits, "helper", priority, IDENT, msg);
}

void log_helper_problem(int priority, const char *fmt, ...) {
        static const struct lograte_limits defaults = {.burst = 10, .interval_usec = 60 * USEC_PER_SEC};
        va_list ap;
        va_start(ap, fmt);
        vlog_helper(&defaults, priority, fmt, ap);
        va_end(ap);
}

void log_crash_problem(const struct pipe_config *cfg, int priority, const char *fmt, ...) {
        const struct lograte_limits limits = {.burst = cfg->log_rate_burst,
                                              .interval_usec = cfg->log_rate_interval_usec};
        va_list ap;
        va_start(ap, fmt);
        vlog_helper(&limits, priority, fmt, ap);
        va_end(ap);
}

static void report_config_problem(const char *path, unsigned line, const char *message) {
        log_helper_problem(LOG_WARNING, "%s:%u: %s", path, line, message);
}

/* The bounds of one conversation, its verdict deadline counted from now. */
static struct conversation_limits conversation_limits(const struct crash *c) {
        return (struct conversation_limits){
                .verdict_deadline = now_monotonic_usec() + c->cfg.timeout_usec,
                .outcome_timeout_usec = c->cfg.outcome_timeout_usec,
                .stall_usec = c->cfg.stall_timeout_usec,
                .min_rate = c->cfg.min_dump_rate,
                .dump_timeout_usec = c->cfg.dump_timeout_usec,
                .iofd = c->proc.iofd,
                .slot_fd = c->slots.container_fd,
                .oom_path = c->oom_path,
                .kernel = c->kernel,
        };
}

/* The kernel's coredump socket can be lost mid-way (a mark other than 0 after our ack): nobody
 * else may be offered a core that will never come. */
static bool core_lost(const struct crash *c) {
        return c->kernel && c->kernel->lost;
}

/* One place's receiver: true when it dealt with the crash (took the core or skipped it by its
 * policy); else cand->why says why not, and the core pipe is still ours. */
static bool try_candidate(struct crash *c, struct receiver_candidate *cand, enum receiver_kind kind,
                          const struct cp_request *req, const struct ucred *cred,
                          const struct conversation_limits *lim) {
        struct crash_outcome *o = &c->outcome;
        _cleanup_close_ int sock = connect_candidate(&c->proc, cand, lim->verdict_deadline);
        if (sock < 0)
                return false;
        converse(sock, req, cred, &c->core_fd, &c->proc.pidfd, lim, &o->conversation);
        const struct conversation *conv = &o->conversation;
        if (conv->state == CONVERSATION_HANDED_OVER || conv->state == CONVERSATION_SKIPPED) {
                o->receiver = kind;
                o->kind = outcome_from_conversation(conv);
                return true;
        }
        char reason[4 * CP_TEXT_MAX + 8];
        escape_for_log(conv->reason, strlen(conv->reason), reason, sizeof(reason));
        snprintf(cand->why, sizeof(cand->why), "receiver in %s %s: %s", cand->where,
                 conv->state == CONVERSATION_REFUSED ? "refused" : "failed", reason);
        return false;
}

/* Tries the receiver in the process's root, then the one in its container's root (a process
 * in a nested mount or user namespace whose own root has none, or whose own receiver refuses:
 * the container's receiver still gets it). Returns true when the crash is dealt with; false
 * with why_fallback set when the fallback applies. */
static bool try_container_receiver(struct crash *c, const struct cp_request *req, const struct ucred *cred) {
        struct crash_outcome *o = &c->outcome;
        struct conversation_limits lim = conversation_limits(c);
        struct receiver_candidate cands[RECEIVER_CANDIDATES];
        bool done = false;

        resolve_receivers(&c->proc, cands);
        for (int i = 0; i < RECEIVER_CANDIDATES && !done && !core_lost(c); i++) {
                if (i > 0 && cands[i].pathfd < 0 && cands[i].why[0] == '\0')
                        break; /* no second place: the container's root is the process's own */
                enum receiver_kind kind = i == 0 && c->proc.root_is_ours ? RECEIVER_HOST : RECEIVER_CONTAINER;
                done = try_candidate(c, &cands[i], kind, req, cred, &lim);
        }
        if (done)
                o->why_fallback[0] = '\0';
        else
                snprintf(o->why_fallback, sizeof(o->why_fallback), "%s%s%s", cands[0].why, cands[1].why[0] ? "; " : "",
                         cands[1].why);
        receiver_candidates_done(cands);
        return done;
}

static int start_fallback(const struct pipe_config *cfg, const struct crashed_process *p, const char *dir,
                          const struct crash_slots *slots, pid_t *ret_pid, struct crash_outcome *o) {
        char why[384];
        struct fallback_cgroups cg;
        const char *step;

        int r = fallback_cgroups_open(cfg->fallback_cgroup, p->cgroups, &cg, why, sizeof(why));
        if (r < 0) {
                snprintf(o->dropped, sizeof(o->dropped), "fallback=\"not charged to %s: %s\"",
                         cfg->fallback_cgroup[0] ? "FallbackCgroup=" : "the crashed process's cgroups", why);
                return r;
        }
        /* The fallback's claims go with it: they last as long as the receiver runs. */
        int claims[2] = {slots->fallback_fd, slots->fallback_ct_fd};
        int sock = spawn_fallback_receiver(cfg, dir, &cg, claims, ret_pid, &step);
        fallback_cgroups_close(&cg);
        if (sock < 0)
                snprintf(o->dropped, sizeof(o->dropped), "fallback=\"cannot start %s: %s: %s\"", cfg->receiver, step,
                         strerror(-sock));
        return sock;
}

static void run_fallback(struct crash *c, const struct cp_request *req, const struct ucred *cred) {
        const struct pipe_config *cfg = &c->cfg;
        const struct crashed_process *p = &c->proc;
        struct crash_outcome *o = &c->outcome;

        o->kind = OUTCOME_DROPPED;
        if (cfg->fallback == FALLBACK_DROP) {
                snprintf(o->dropped, sizeof(o->dropped), "policy=Fallback=drop");
                return;
        }
        char cap[256];
        if (!crash_slots_admit_fallback(cfg, p, &c->slots, cap, sizeof(cap))) {
                snprintf(o->dropped, sizeof(o->dropped), "fallback=\"%s\"", cap);
                return;
        }
        /* Host processes share one directory; every container gets its own, so that limits can
         * be applied per container and no container sees another's cores. */
        if (strcmp(p->container_key, CONTAINER_KEY_HOST) == 0)
                snprintf(o->fallback_dir, sizeof(o->fallback_dir), "%s/host", cfg->fallback_store);
        else
                snprintf(o->fallback_dir, sizeof(o->fallback_dir), "%s/containers/%s", cfg->fallback_store,
                         p->container_key);

        pid_t pid = 0;
        _cleanup_close_ int sock = start_fallback(cfg, p, o->fallback_dir, &c->slots, &pid, o);
        if (sock < 0)
                return;
        struct conversation_limits lim = conversation_limits(c);
        converse(sock, req, cred, &c->core_fd, &c->proc.pidfd, &lim, &o->conversation);
        o->receiver = RECEIVER_FALLBACK;
        o->kind = outcome_from_conversation(&o->conversation);
        /* A fallback receiver that has not reported by now is stuck, e.g. in a cgroup its
         * container froze: it must not hold the store's lock or a fallback slot for ever. It is
         * our child, not yet waited for, so its pid cannot have been reused. */
        const struct conversation *conv = &o->conversation;
        if (pid > 0 && !conv->have_outcome && conv->state != CONVERSATION_REFUSED &&
            conv->state != CONVERSATION_SKIPPED)
                o->fallback_killed = kill(pid, SIGKILL) >= 0;
}

void crash_load_config(const char *path, struct pipe_config *cfg) {
        int r;

        pipe_config_defaults(cfg);
        const char *config_path = path && path[0] ? path : CORE_PIPE_CONFIG_PATH;
        r = pipe_config_load(config_path, cfg, report_config_problem);
        if (r < 0)
                log_helper_problem(LOG_WARNING, "%s: cannot read: %s; using defaults", config_path, strerror(-r));
}

/* A container holds at most its share of the kernel's core_pipe_limit slots; a crash over it
 * goes nowhere, the fallback included (core_pipe(8), SECURITY). */
static bool admit(struct crash *c) {
        char why[256];
        bool admitted = crash_slots_admit(&c->cfg, &c->proc, &c->slots, why, sizeof(why));
        if (!admitted) {
                c->outcome.kind = OUTCOME_DROPPED;
                snprintf(c->outcome.why_fallback, sizeof(c->outcome.why_fallback), "%s", why);
        } else if (why[0])
                hostlog_sendf(LOG_WARNING, IDENT, "pid=%d: %s", (int) c->args.pid, why);
        return admitted;
}

/* Where the crashed process's memory cgroup counts its OOM kills, so that the log can say whether
 * one struck while its core was in a receiver's hands. Read from the pinned process's /proc entry,
 * checked against its pidfd after; only the path is kept (no descriptor of the host's cgroup file
 * system stays open while a receiver talks to us). */
static void find_oom_counter(struct crash *c) {
        char path[32];
        snprintf(path, sizeof(path), "/proc/%d", (int) c->proc.pid);
        _cleanup_close_ int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (procfd < 0 || memcg_oom_counter_find(procfd, "/sys/fs/cgroup", c->oom_path, sizeof(c->oom_path)) < 0 ||
            pidfd_check_alive(c->proc.pidfd) < 0)
                c->oom_path[0] = '\0';
}

/* Hands the core of the pinned process to the receiver in its root, or to the host fallback;
 * c->outcome says what became of it. */
static void hand_over(struct crash *c) {
        const struct kernel_args *a = &c->args;
        struct cp_request req = {
                .transport = c->kernel ? CP_TRANSPORT_SOCKET : CP_TRANSPORT_PIPE,
                /* The socket carries no signal before Linux 6.19: the receiver reads the core's
                 * notes for it. */
                .flags = c->kernel ? CP_REQUEST_SIGNAL_UNKNOWN : 0,
                .signal = a->signal,
                .dump_mode = a->dump_mode,
                .dump_time = a->time,
                .core_limit = a->core_limit,
                .container = c->proc.container,
        };
        /* The kernel translates these into the receiver's namespaces: a container's receiver
         * sees the pid, uid and gid the container knows. */
        struct ucred cred = {.pid = a->pid, .uid = a->uid, .gid = a->gid};
        /* The identity is a label parsed from names the container may shape (a delegated cgroup
         * subtree): one the protocol cannot carry is dropped, and the crash still goes to the
         * container's receiver. */
        if (!cp_container_encodable(&req.container))
                memset(&req.container, 0, sizeof(req.container));

        if (!admit(c))
                return;
        find_oom_counter(c);
        if (a->dump_mode != 1)
                /* suid_dumpable=2 dumps are readable by host root only: a container must never
                 * receive one (a host setuid program may have crashed with its pid swapped). */
                snprintf(c->outcome.why_fallback, sizeof(c->outcome.why_fallback),
                         "dump mode %u (privileged process): never forwarded", a->dump_mode);
        else if (try_container_receiver(c, &req, &cred))
                return;
        if (core_lost(c)) {
                c->outcome.kind = OUTCOME_DROPPED;
                snprintf(c->outcome.dropped, sizeof(c->outcome.dropped), "kernel=\"%s\"", c->kernel->why);
                return;
        }
        run_fallback(c, &req, &cred);
}

/* Pins the crashed process; on failure the crash is logged as dropped. */
static int pin(struct crash *c) {
        const char *why = "";
        int r = pin_process(&c->args, &c->proc, &why);
        if (r < 0) {
                snprintf(c->outcome.why_fallback, sizeof(c->outcome.why_fallback),
                         "cannot pin the crashed process: %s (%s)", why, strerror(-r));
                c->outcome.kind = OUTCOME_DROPPED;
                return r;
        }
        c->pinned = true;
        /* Only once the process is pinned: with kernel.core_pipe_limit=0 the kernel does not
         * wait for us, and a core that fits the pipe would let the process exit first. (The
         * kernel's coredump socket writes nothing before our ack.) */
        if (!c->kernel)
                (void) fcntl(c->core_fd, F_SETPIPE_SZ, CORE_PIPE_BUFFER_SIZE);
        return 0;
}

/* Whose share of log lines a crash's line counts against: its container's (the key nothing inside
 * a container can multiply, see crash_container_key()), or the helper's own when no process
 * could be pinned. */
static void crash_log_key(const struct crash *c, char *out, size_t size) {
        snprintf(out, size, "%s", c->pinned ? c->proc.container_key : "helper");
}

/* The crash's one line in the host log, within its container's share of lines
 * (LogRateLimitBurst=). */
static void report(const struct crash *c) {
        char line[3072], key[LOGRATE_KEY_MAX];
        struct lograte_limits limits = {.burst = c->cfg.log_rate_burst, .interval_usec = c->cfg.log_rate_interval_usec};

        crash_describe(c, line, sizeof(line));
        crash_log_key(c, key, sizeof(key));
        (void) lograte_send(LOGRATE_DIR, &limits, key, c->pinned ? outcome_log_priority(c->outcome.kind) : LOG_ERR,
                            IDENT, line);
}

/* Whatever became of the crash, the kernel gets its answer on the coredump socket: a core nobody
 * took is REJECTed (no dump at all, the process is released at once). */
static void answer_kernel(struct crash *c) {
        if (!c->kernel || c->kernel->answered)
                return;
        if (kcore_conn_reject(c->kernel, c->core_fd, now_monotonic_usec() + c->cfg.timeout_usec) < 0)
                hostlog_sendf(LOG_WARNING, IDENT, "pid=%d: %s", (int) c->args.pid, c->kernel->why);
}

int crash_handle(struct crash *c) {
        int r = pin(c);
        if (r >= 0 && c->after_pin)
                r = c->after_pin(c);
        if (r >= 0)
                hand_over(c);
        answer_kernel(c);
        report(c);

        crash_slots_done(&c->slots);
        if (c->pinned)
                crashed_process_done(&c->proc);
        else if (c->args.have_pidfd)
                safe_close(c->args.pidfd);
        c->core_fd = safe_close(c->core_fd);
        return r;
}
