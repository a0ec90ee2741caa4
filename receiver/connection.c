/* SPDX-License-Identifier: MIT */
#include "connection.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cause.h"
#include "elfcore.h"
#include "fallback.h"
#include "fate.h"
#include "fdio.h"
#include "handover.h"
#include "journal.h"
#include "log.h"
#include "logsink.h"
#include "macro.h"
#include "memcg.h"
#include "memplan.h"
#include "metadata.h"
#include "parse.h"
#include "policy.h"
#include "protocol.h"
#include "record.h"
#include "recover.h"
#include "store.h"
#include "uploader.h"
#include "upstream.h"
#include "trace.h"
#include "traceout.h"
#include "vacuum.h"

/*
 * One crash, step by step: receive the request → verdict → hand-over → metadata → store →
 * record → outcome and trim. Each step logs its own failure and returns a negative errno; the
 * state of the crash lives here, released by crash_done().
 */
struct crash {
        int sock;
        const struct receiver_options *o;
        uint64_t deadline;
        struct cp_request req;
        struct ucred cred;
        struct core_metadata md;
        char comm[4 * sizeof(((struct core_metadata *) NULL)->comm)]; /* escaped for the log */
        int procfd, dirfd, core_fd, pidfd;
        int hold_fd; /* a second reader of the core pipe: the crashed process stays until closed */
        char stem[CORE_STEM_MAX], name[CORE_STEM_MAX + 8];
        struct store_result res;
        uint64_t budget;      /* bytes the core may take in the store (its free space within KeepFree=) */
        char store_note[512]; /* what opening the store had to say */
        struct core_head *head;
        struct fallback fb; /* with --fallback-root: the host's whole fallback store */
        int oomfd;          /* the crashed process's memory cgroup's OOM kill counter, if we see it */
        bool have_oom_before;
        uint64_t oom_before;  /* its count before the stream */
        struct mem_plan plan; /* the store's memory, sized to our memory cgroup's headroom */
        /* The host's fallback only: the crashed process was gone (killed and reaped) before /proc
         * was read; the core is what the pipe still holds, its metadata from its own notes. */
        bool gone;
        struct recover_writer partial; /* the marker, held until the record is written */
        struct upstream up;            /* Storage=none with Upload=: where the core went */
        struct crash_trace trace;      /* the backtrace (trace.h): captured in the stream, unwound after */
        uint64_t headroom;             /* our memory cgroup's, before the stream (MEMCG_UNLIMITED: none) */
};

static void crash_done(struct crash *c) {
        recover_end(c->dirfd, &c->partial);
        c->procfd = safe_close(c->procfd);
        c->dirfd = safe_close(c->dirfd);
        c->core_fd = safe_close(c->core_fd);
        c->pidfd = safe_close(c->pidfd);
        c->hold_fd = safe_close(c->hold_fd);
        c->oomfd = safe_close(c->oomfd);
        c->head = core_head_free(c->head);
        core_metadata_done(&c->md);
        fallback_done(&c->fb);
        crash_trace_done(&c->trace);
}

/* Storage=none with Upload=: the core is streamed to the targets (upstream.h), not stored. */
static bool streaming(const struct crash *c) {
        return c->o->settings->storage == STORAGE_NONE && upload_wanted(c->o->settings);
}

static int reply_verdict(const struct crash *c, uint32_t verdict, const char *reason) {
        uint8_t buf[CP_MSG_MAX];
        int n = cp_encode_verdict(verdict, reason, buf, sizeof(buf));
        if (n < 0)
                return n;
        return send_message(c->sock, buf, (size_t) n, NULL, 0, NULL, c->deadline);
}

/* The details of a stored core, right after its OUTCOME (protocol.h: a helper of before reads
 * the OUTCOME alone and never this). */
static void reply_outcome_detail(const struct crash *c, const struct store_result *res) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_outcome_detail d = {.expected_size = c->head ? core_head_expected_size(c->head) : 0};
        if (res->truncated) {
                const char *reason = res->truncated_reason ? res->truncated_reason : "";
                escape_for_log(reason, strlen(reason), d.reason, sizeof(d.reason));
                escape_for_log(res->truncated_cause, strlen(res->truncated_cause), d.cause, sizeof(d.cause));
        }
        int n = cp_encode_outcome_detail(&d, buf, sizeof(buf));
        if (n >= 0)
                (void) send_message(c->sock, buf, (size_t) n, NULL, 0, NULL,
                                    now_monotonic_usec() + c->o->request_timeout_usec);
}

static void reply_outcome(const struct crash *c, int error, const struct store_result *res, const char *text) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_outcome out = {.error = error < 0 ? -error : error};
        if (res) {
                out.core_size = res->core_size;
                out.stored_size = res->stored_size;
                out.flags = res->truncated ? CP_OUTCOME_TRUNCATED : 0;
        }
        escape_for_log(text, strlen(text), out.text, sizeof(out.text));
        int n = cp_encode_outcome(&out, buf, sizeof(buf));
        /* The helper may be gone already; its report is a courtesy. */
        if (n >= 0)
                (void) send_message(c->sock, buf, (size_t) n, NULL, 0, NULL,
                                    now_monotonic_usec() + c->o->request_timeout_usec);
        if (res)
                reply_outcome_detail(c, res);
}

/* A refusal the helper hears and the receiver logs; returns error. */
static int refuse(const struct crash *c, int error, const char *reason) {
        (void) reply_verdict(c, CP_VERDICT_REFUSE, reason);
        return log_warning_errno(error, "Refusing a crash%s%s: %s", c->comm[0] ? " of " : "", c->comm, reason);
}

/* The pidfd must name the process the kernel named in the credentials, as this receiver's pid
 * namespace sees it; the core's descriptor must be what the request's transport says
 * (handover.h). */
static int check_handover_fds(const struct crash *c, pid_t pid, bool may_be_gone, const char **why) {
        int r = handover_check_pidfd(c->pidfd, pid, may_be_gone, why);
        if (r < 0)
                return r;
        return handover_check_core_fd(c->req.transport, c->core_fd, c->pidfd, why);
}

/* The crash's journal entry: with its backtrace, the stack trace in MESSAGE as coredumpctl shows
 * it, COREDUMP_PACKAGE_JSON and the signature. */
static int journal_crash_entry(const struct crash *c, int priority, const char *path, const struct store_result *res,
                               const char *msg) {
        _cleanup_free_ char *message = path ? trace_journal_message(&c->trace, msg) : NULL;
        _cleanup_free_ char *packages = path ? trace_package_json(&c->trace) : NULL;
        _cleanup_free_ char *package_field = NULL, *signature_field = NULL;
        const char *extra[2];
        size_t n = 0;
        if (packages && asprintf(&package_field, "COREDUMP_PACKAGE_JSON=%s", packages) >= 0)
                extra[n++] = package_field;
        if (path && c->trace.n_signature_frames > 0 &&
            asprintf(&signature_field, "CORE_PIPE_SIGNATURE=%s", c->trace.signature) >= 0)
                extra[n++] = signature_field;
        return journal_record_crash_extra(priority, &c->md, path, res, message ? message : msg, extra, n);
}

/* The one line every crash leaves in the receiver's log. Where journald runs it is a
 * coredumpctl-compatible entry (priority crit for a stored core, as coredump entries are). */
static void report_crash(const struct crash *c, int level, const char *name, const struct store_result *res,
                         const char *fmt, ...) _printf_(5, 6);
static void report_crash(const struct crash *c, int level, const char *name, const struct store_result *res,
                         const char *fmt, ...) {
        char msg[2048], path[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (log_get_target() == LOG_TARGET_JOURNAL) {
                if (name)
                        snprintf(path, sizeof(path), "%s/%s", c->o->settings->store, name);
                if (journal_crash_entry(c, name ? LOG_CRIT : level, name ? path : NULL, res, msg) >= 0)
                        return;
        }
        log_msg(level, "%s", msg);
}

/* Step 1: the request, with the kernel's credentials; the process as this namespace sees it. */
/* The crashed process's /proc directory. A container's receiver refuses a process it cannot see:
 * it could not attribute the core to its container. The host's fallback, to which the helper
 * hands only a process it pinned, stores what the pipe still holds of one already reaped. */
static int open_proc(struct crash *c) {
        char procpath[32];
        snprintf(procpath, sizeof(procpath), "/proc/%d", (int) c->cred.pid);
        c->procfd = open(procpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (c->procfd >= 0)
                return 0;
        int r = negative_errno();
        if (r != -ENOENT || !c->o->fallback_root)
                return r;
        log_info("Crashed process %d is gone (killed and reaped) before its /proc was read: storing what its "
                 "pipe still holds, with the metadata of the core's own notes",
                 (int) c->cred.pid);
        c->gone = true;
        return 0;
}

static int receive_request(struct crash *c) {
        uint8_t buf[CP_MSG_MAX];
        size_t len;
        bool have_cred = false;
        uint16_t version = 0;
        char reason[CP_TEXT_MAX + 1];

        int r = recv_message(c->sock, buf, sizeof(buf), c->deadline, &len, NULL, 0, NULL, &c->cred, &have_cred);
        if (r < 0)
                return log_warning_errno(r, "No valid request from the helper");
        r = cp_decode_header(buf, len, &version);
        if (r == -EPROTONOSUPPORT) {
                snprintf(reason, sizeof(reason), "protocol version %u not supported (this receiver speaks %u)", version,
                         CP_PROTOCOL_VERSION);
                return refuse(c, r, reason);
        }
        if (cp_decode_request(buf, len, &c->req) < 0)
                return refuse(c, -EBADMSG, "malformed request");
        if (!have_cred)
                return refuse(c, -EPERM, "no credentials");
        if (c->cred.pid <= 0)
                return refuse(c, -ESRCH, "crashed process not visible in the receiver's pid namespace");

        c->md.pid = c->cred.pid;
        if (c->o->fallback_root && c->cred.pid == getppid()) {
                /* The helper's own pid: the crashed process was reaped before the helper could pass
                 * its pid (forward.c); its pid comes from the core's notes. */
                log_info("The crashed process is gone (killed and reaped): storing what its pipe still holds");
                c->gone = true;
                c->md.pid = 0;
        }
        c->md.uid = c->cred.uid;
        c->md.gid = c->cred.gid;
        c->md.signal = c->req.signal;
        /* The kernel's coredump socket does not say it (before 6.19): the core's notes will. */
        c->md.signal_source = c->req.flags & CP_REQUEST_SIGNAL_UNKNOWN ? SIGNAL_UNKNOWN : SIGNAL_FROM_KERNEL;
        c->md.dump_time = c->req.dump_time;
        c->md.core_limit = c->req.core_limit;
        c->md.received_usec = now_realtime_usec();
        c->md.host_container = c->req.container;

        r = c->gone ? 0 : open_proc(c);
        if (r < 0)
                return refuse(c, r, "crashed process not found in /proc");
        len = 0;
        (void) read_small_file_at(c->procfd, "comm", c->md.comm, sizeof(c->md.comm), &len);
        if (len > 0 && c->md.comm[len - 1] == '\n')
                c->md.comm[len - 1] = '\0';
        escape_for_log(c->md.comm, strlen(c->md.comm), c->comm, sizeof(c->comm));
        return 0;
}

/* MaxUse=/KeepFree= on this store, never removing keep_stem. The caller holds the store's lock.
 * A directory of the host's fallback store is vacuumed with the whole store instead (fallback.h:
 * its share, and the cores other receivers are still writing, are known there). */
static void vacuum_logged(const struct crash *c, const char *keep_stem) {
        const struct receiver_settings *s = c->o->settings;
        struct vacuum_result vr;
        if (c->o->fallback_root)
                return;
        int r = vacuum_store(c->dirfd, s, keep_stem, &vr);
        if (r < 0)
                log_warning_errno(r, "Cannot vacuum %s", s->store);
        else if (vr.removed > 0)
                log_info("Removed %u old core(s) from %s (%llu bytes) to keep MaxUse=/KeepFree=", vr.removed, s->store,
                         (unsigned long long) vr.freed);
}

/* The store's directory: on its own, or a directory of the host's fallback store, admitted
 * there first (fallback.h; a refusal says why in store_note). */
static int open_store(struct crash *c) {
        const struct receiver_settings *s = c->o->settings;
        if (!c->o->fallback_root)
                return open_store_dir(s->store, c->store_note, sizeof(c->store_note));
        int r = fallback_admit(&c->fb, c->o->fallback_root, s->store, c->md.received_usec, s, c->store_note,
                               sizeof(c->store_note));
        if (r < 0)
                snprintf(c->store_note, sizeof(c->store_note), "%s", c->fb.why);
        return r;
}

/* The store's facts for the verdict, under its lock (shared with every receiver of this store):
 * the rate limit, then room for this core after vacuuming. */
static void gather_store_facts(struct crash *c, struct store_facts *f) {
        const struct receiver_settings *s = c->o->settings;
        *f = (struct store_facts){
                .store = s->store,
                .open_note = c->store_note,
                .interval_usec = s->interval_usec,
                .max_per_interval = s->max_cores_per_interval,
        };
        c->dirfd = open_store(c);
        if (c->dirfd < 0) {
                f->open_error = c->dirfd;
                return;
        }
        if (c->store_note[0])
                log_warning("%s", c->store_note);
        _cleanup_close_ int lock = store_lock(c->dirfd);
        int r = lock < 0 ? lock : rate_limit_admit(c->dirfd, s, now_realtime_usec(), &f->recent);
        if (r == 0) {
                f->over_rate = true;
                return;
        }
        if (r < 0)
                log_warning_errno(r, "Rate limit state of %s unusable; admitting pid %d", s->store, (int) c->md.pid);
        vacuum_logged(c, NULL);
        /* Room for this core after vacuuming: none at all within KeepFree= is refused before its
         * first byte (the helper's fallback applies), else the core may take the budget. */
        struct store_space sp;
        r = store_room(c->dirfd, s, &sp);
        if (r < 0)
                log_warning_errno(r, "Cannot tell the free space of %s", s->store);
        else if (r == 0) {
                f->no_room = true;
                f->free_bytes = sp.free;
                f->keep_free = sp.keep_free;
        } else
                c->budget = sp.budget;
}

/* How long the receiver waits for the crashed process's end when neither the kernel nor the core's
 * notes said its signal (a core cut before its notes, or no core at all). With the kernel's
 * coredump socket the process ends as soon as the helper answered the kernel and every copy of
 * the connection is closed. */
#define SIGNAL_EXIT_WAIT_USEC (1000 * USEC_PER_MSEC)

/* For a crash accounted for without its core whose request did not say the signal: a pidfd of
 * the crashed process, opened before the verdict (the kernel holds the process until the helper
 * answers it). Opened by pid, it is the crashed process's if /proc/<pid> (procfd, opened at the
 * request) still names a live process after it: its pid cannot have been reused in between. */
static int pidfd_before_verdict(const struct crash *c) {
        if (c->md.signal_source != SIGNAL_UNKNOWN || c->procfd < 0)
                return -EBADF;
        int pidfd = pidfd_open_pid(c->md.pid);
        if (pidfd >= 0 && pidfd_check_alive(c->procfd) < 0)
                return safe_close(pidfd);
        return pidfd;
}

/* The signal that ended the process (the helper rejects the dump after our verdict, and the
 * process ends), bounded. */
static void signal_from_end(struct crash *c, int pidfd) {
        if (pidfd < 0)
                return;
        int status = 0;
        bool have_exit =
                process_exit_status(pidfd, c->procfd, now_monotonic_usec() + SIGNAL_EXIT_WAIT_USEC, &status) >= 0;
        c->md.signal = signal_resolve(0, have_exit, status, &c->md.signal_source);
}

/* A crash accounted for without storing its core: the helper hears the verdict first (the
 * crashed process need not wait for us), then the crash is logged with what /proc can tell. */
static int account_without_core(struct crash *c, const struct verdict *v) {
        _cleanup_close_ int pidfd = v->verdict == CP_VERDICT_SKIP ? pidfd_before_verdict(c) : -EBADF;
        (void) reply_verdict(c, v->verdict, v->reason);
        if (v->verdict == CP_VERDICT_REFUSE) {
                log_msg(v->level, "%s pid %d (%s): %s", v->verb, (int) c->md.pid, c->comm, v->note);
                return -EPERM;
        }
        (void) collect_metadata(c->procfd, &c->md);
        signal_from_end(c, pidfd);
        report_crash(c, v->level, NULL, NULL, "Process %d (%s) of user %u crashed with signal %u%s; %s",
                     (int) c->md.pid, c->comm, (unsigned) c->md.uid, c->md.signal,
                     c->md.signal == 0 ? " (unknown)" : "", v->note);
        return 0;
}

/*
 * The store's memory for this crash, from the headroom our memory cgroup has left now (the pipe
 * already holds the first bytes of the core, so their charge is counted). A headroom that cannot
 * be read leaves the store as configured.
 */
static void plan_memory(struct crash *c, struct crash_facts *cf) {
        const struct store_options *so = &c->o->store_opts;
        uint64_t headroom;
        int r = memcg_headroom(&headroom);
        if (r < 0) {
                log_warning_errno(r, "Cannot read the headroom of our memory cgroup; storing as configured");
                headroom = MEMCG_UNLIMITED;
        }
        c->headroom = headroom;
        r = mem_plan_choose(headroom, so->workers, so->chunk_size, so->compress_level, &c->plan);
        cf->memory_short = r < 0;
        cf->memory_headroom = headroom;
        cf->memory_need = c->plan.need;
        if (r < 0 && c->o->fallback)
                log_warning("Only %.1f MiB of headroom in our memory cgroup, %.1f MiB needed: storing the core of "
                            "pid %d with the smallest buffers all the same",
                            (double) headroom / (1 << 20), (double) c->plan.need / (1 << 20), (int) c->md.pid);
        else if (r >= 0 && c->plan.step > 0)
                log_info("%.1f MiB of headroom in our memory cgroup: storing the core of pid %d with %d worker(s) "
                         "and %zu KiB frames",
                         (double) headroom / (1 << 20), (int) c->md.pid, c->plan.workers, c->plan.chunk_size >> 10);
}

/* The plan's sizes into the store's options. */
static void apply_memory_plan(const struct crash *c, struct store_options *so) {
        so->workers = c->plan.workers;
        so->chunk_size = c->plan.chunk_size;
        so->window_log = c->plan.window_log;
        so->stage_size = c->plan.stage_size;
        so->writeback_window = c->plan.writeback_window;
}

/* Step 2: the verdict. Returns 1 when the core is to be sent, 0 when the crash is accounted for
 * without it, or a negative errno. */
static int give_verdict(struct crash *c) {
        const struct receiver_settings *s = c->o->settings;
        struct crash_facts cf = {
                .fallback = c->o->fallback,
                .dump_mode = c->req.dump_mode,
                .core_limit = c->req.core_limit,
                .storage = s->storage,
                .streaming = streaming(c),
        };
        struct verdict v;
        plan_memory(c, &cf);
        bool decided = policy_before_store(&cf, &v);
        if (!decided && cf.streaming)
                policy_streaming(&v);
        else if (!decided) {
                struct store_facts sf;
                gather_store_facts(c, &sf);
                policy_with_store(&sf, &v);
        }
        if (v.verdict != CP_VERDICT_SEND)
                return account_without_core(c, &v);
        int r = reply_verdict(c, CP_VERDICT_SEND, NULL);
        if (r < 0)
                return log_warning_errno(r, "Cannot answer the helper for pid %d", (int) c->md.pid);
        return 1;
}

/* Step 3: the core pipe and the pidfd, checked. */
static int receive_handover(struct crash *c) {
        uint8_t buf[CP_MSG_MAX];
        int fds[CP_MAX_FDS] = {-EBADF, -EBADF};
        size_t len, n_fds = 0;
        const char *why = NULL;

        c->deadline = now_monotonic_usec() + c->o->request_timeout_usec;
        int r = recv_message(c->sock, buf, sizeof(buf), c->deadline, &len, fds, CP_MAX_FDS, &n_fds, NULL, NULL);
        if (r == -ETOOMANYREFS)
                return log_warning("Malformed hand-over for pid %d (%s): more than %d descriptors", (int) c->md.pid,
                                   c->comm, CP_MAX_FDS),
                       r;
        if (r < 0)
                return log_warning_errno(r, "No hand-over for pid %d (%s)", (int) c->md.pid, c->comm);
        c->core_fd = fds[0];
        c->pidfd = fds[1];
        if (cp_decode_handover(buf, len) < 0 || n_fds != 2)
                return log_warning_errno(-EBADMSG, "Malformed hand-over for pid %d (%s)", (int) c->md.pid, c->comm);
        r = check_handover_fds(c, c->gone ? -1 : c->md.pid, c->gone || c->procfd >= 0, &why);
        if (r < 0)
                return log_warning_errno(r, "Invalid hand-over for pid %d (%s): %s", (int) c->md.pid, c->comm, why);
        return 0;
}

/* Step 4: everything /proc can tell, while the kernel keeps the process for us. */
static int collect(struct crash *c) {
        /* Gone: only what needs no /proc/<pid> (the boot id) is read; the notes tell the rest. */
        int r = collect_metadata(c->procfd, &c->md);
        if (r >= 0 && !c->gone)
                r = pidfd_check_alive(c->pidfd);
        if (r < 0 && (c->o->fallback_root || r == -ESRCH)) {
                /* Reaped since the request (which proved it ours: our /proc showed the pid the
                 * kernel gave): what /proc told before may be mixed; the notes tell. */
                log_info(
                        "Crashed process %d (%s) is gone before its /proc was read: its metadata from the core's notes",
                        (int) c->md.pid, c->comm);
                c->gone = true;
                r = 0;
        }
        if (r < 0) {
                reply_outcome(c, r, NULL, "crashed process vanished");
                return log_warning_errno(r, "Crashed process %d (%s) vanished before its core was read",
                                         (int) c->md.pid, c->comm);
        }
        r = core_file_stem(c->md.comm, c->md.uid, c->md.boot_id, c->md.pid, c->md.received_usec, c->stem,
                           sizeof(c->stem));
        if (r < 0)
                return log_error_errno(r, "Cannot name the core of pid %d", (int) c->md.pid);
        snprintf(c->name, sizeof(c->name), c->o->store_opts.compress ? "%s.zst" : "%s", c->stem);
        return 0;
}

/*
 * May the crashed process go as soon as its last byte is read, before the core is durable? Not
 * when its end can end this receiver's pid namespace: the kernel then kills every process in it,
 * this one too, and the core would be lost. That is the case for the namespace's pid 1 and, for
 * a resident receiver, for any process (an init such as tini, or a shell wrapper, exits with its
 * child). The receiver as the init, or started by a service manager, outlives every other
 * process: main() chooses the policy by mode (see core_pipe-receiver(8), --release=).
 */
static bool hold_until_durable(const struct crash *c) {
        switch (c->o->release) {
        case RELEASE_AFTER_READ:
                return false;
        case RELEASE_AFTER_STORE_IF_PID1:
                return c->md.pid == 1;
        case RELEASE_AFTER_STORE:
        default:
                return true;
        }
}

/* As soon as the crash is known, before the verdict and the first byte: the OOM kill count of the
 * crashed process's memory cgroup, where this receiver's mount namespace shows it (a container
 * without its cgroup file system does not). A kill before this (the dump's first pipe buffers are
 * charged to the process's own cgroup) is not seen moving: the cause then says how the process
 * ended, not why. */
static void watch_stream(struct crash *c) {
        c->oomfd = memcg_oom_counter_open(c->procfd, "/sys/fs/cgroup");
        c->have_oom_before = c->oomfd >= 0 && memcg_oom_kills_read(c->oomfd, &c->oom_before) >= 0;
}

/* How long the receiver waits, after a short stream, for the crashed process's end to say why:
 * a process killed during its dump does not wait for us, so this costs nothing then; one still
 * waiting for the pipe's readers (the kernel ended the dump by itself) waits this much longer. */
#define SHORT_STREAM_EXIT_WAIT_USEC (500 * USEC_PER_MSEC)

/* After the stream: a core shorter than its program headers say, that the receiver did not cut
 * itself, is truncated ("short stream") with its cause (cause.h); a size limit names its source. */
static void judge_stream(struct crash *c) {
        struct stream_facts f = {
                .expected = c->head ? core_head_expected_size(c->head) : 0,
                .read = c->res.read_size,
                .receiver_cut = c->res.truncated,
                .crash_signal = c->md.signal,
        };
        /* Without the program headers, a stream of any length that ended is short. */
        if (c->head && f.expected == 0) {
                struct core_notes notes;
                int r = core_head_parse(c->head, &notes);
                if (r >= 0)
                        core_notes_done(&notes);
                f.headers_missing = r == -ENODATA;
        }
        if (c->res.truncated && c->res.truncated_reason && strcmp(c->res.truncated_reason, STORE_CUT_SIZE_LIMIT) == 0)
                size_limit_cause(c->req.core_limit, c->o->settings->process_size_max, c->res.truncated_cause,
                                 sizeof(c->res.truncated_cause));
        if (!stream_ended_short(&f))
                return;
        f.have_exit = process_exit_status(c->pidfd, c->procfd, now_monotonic_usec() + SHORT_STREAM_EXIT_WAIT_USEC,
                                          &f.exit_status) >= 0;
        f.have_oom = c->have_oom_before && memcg_oom_kills_read(c->oomfd, &f.oom_after) >= 0;
        f.oom_before = c->oom_before;
        c->res.truncated = true;
        c->res.truncated_reason = TRUNCATED_SHORT_STREAM;
        short_stream_cause(&f, c->res.truncated_cause, sizeof(c->res.truncated_cause));
}

/* A crash whose request did not say its signal (the kernel's coredump socket): from the core's
 * notes, else from how the process ended (metadata.h, signal_resolve()). Before the stream is
 * judged: a short stream's cause compares the signal that ended the process with this one. */
static void resolve_signal(struct crash *c) {
        if (c->md.signal_source != SIGNAL_UNKNOWN)
                return;
        uint32_t from_notes = 0;
        struct core_notes notes;
        if (c->head && core_head_parse(c->head, &notes) >= 0) {
                from_notes = core_notes_crash_signal(&notes);
                core_notes_done(&notes);
        }
        int status = 0;
        /* A copy we hold (hold_until_durable()) keeps the process: there is no end to wait for. */
        bool have_exit =
                from_notes == 0 && c->hold_fd < 0 &&
                process_exit_status(c->pidfd, c->procfd, now_monotonic_usec() + SIGNAL_EXIT_WAIT_USEC, &status) >= 0;
        c->md.signal = signal_resolve(from_notes, have_exit, status, &c->md.signal_source);
        if (c->md.signal == 0)
                log_warning("Crash of pid %d (%s): its signal is unknown: the kernel did not say it, nor did the "
                            "core's notes%s",
                            (int) c->md.pid, c->comm,
                            c->hold_fd >= 0 ? " (its end is not waited for while the core is held)"
                                            : ", nor the process's end within 1 s");
}

/* The marker beside the core in progress (recover.h): the record as known before the first
 * byte, so that whoever outlives this receiver can finalise the core. Not for the host's
 * fallback store (its helper waits for the fallback receiver; nothing sweeps there). */
static char *partial_marker(const struct crash *c) {
        struct store_result none = {0};
        struct record_info info = {
                .core_file = c->name,
                .handled_by = "container",
                .compressed = c->o->store_opts.compress,
                .result = &none,
        };
        return c->o->fallback ? NULL : recover_marker_new(&c->md, &info);
}

/* A stream that ended before its first byte: no core, no record; the receiver's log line and
 * the helper's say so, with how the process ended. */
static int no_core(struct crash *c) {
        char why[CP_TEXT_MAX];
        c->res = (struct store_result){0};
        resolve_signal(c);
        judge_stream(c);
        snprintf(why, sizeof(why), "no core: the stream ended before its first byte%s%s",
                 c->res.truncated_cause[0] ? ": " : "", c->res.truncated_cause);
        reply_outcome(c, -ENODATA, NULL, why);
        log_warning("Crash of pid %d (%s): %s", (int) c->md.pid, c->comm, why);
        return -ENODATA;
}

/* Step 5: the core, from the pipe to a durable file; its notes read on the way. */
static int store(struct crash *c) {
        const struct receiver_settings *s = c->o->settings;
        if (hold_until_durable(c))
                c->hold_fd = fcntl(c->core_fd, F_DUPFD_CLOEXEC, 3);
        if (core_head_new(&c->head) < 0)
                log_warning("Cannot read the notes of the core of pid %d (%s): out of memory", (int) c->md.pid,
                            c->comm);
        struct store_options so = c->o->store_opts;
        apply_memory_plan(c, &so);
        _cleanup_free_ char *marker = partial_marker(c);
        so.partial_marker = marker;
        so.partial_out = &c->partial;
        so.observe = c->head ? core_head_observe : NULL;
        so.observe_userdata = c->head;
        crash_trace_begin(&c->trace, &s->trace, c->o->fallback, c->head, c->headroom, c->plan.need, &so);
        if (c->o->fallback_root) {
                so.reserve = fallback_reserve;
                so.reserve_userdata = &c->fb;
                so.budget_reason = STORE_CUT_KEEP_FREE; /* store_room(): free space less KeepFree= */
        }

        /* The smaller of the process's RLIMIT_CORE and our ProcessSizeMax=. */
        uint64_t limit = MIN(c->req.core_limit, s->process_size_max);
        int r = store_core(c->dirfd, c->name, &c->core_fd, limit, c->budget, &so, &c->res);
        if (r == -ENODATA)
                return no_core(c);
        if (r < 0) {
                reply_outcome(c, r, NULL, "storing the core failed");
                return log_error_errno(r, "Failed to store the core of pid %d (%s) in %s", (int) c->md.pid, c->comm,
                                       s->store);
        }
        resolve_signal(c);
        judge_stream(c);
        return 0;
}

/* What /proc would not tell (no ptrace rights over the process): from the core's notes. */
static void fill_from_notes(struct crash *c) {
        struct core_notes notes;
        int r = c->head ? core_head_parse(c->head, &notes) : -ENOMEM;
        if (r >= 0) {
                r = metadata_fill_from_core(&c->md, &notes);
                if (c->gone && c->md.pid == 0 && notes.have_prpsinfo)
                        c->md.pid = notes.pid;
                core_notes_done(&notes);
        }
        if (r < 0)
                log_info("Core of pid %d (%s): its ELF notes are unusable: %s", (int) c->md.pid, c->comm, strerror(-r));
        char missing[256];
        if (metadata_missing_fields(&c->md, missing, sizeof(missing)) > 0)
                log_warning(
                        "Crash of pid %d (%s): %s unknown: neither /proc/%d (no ptrace rights over the process) nor "
                        "the core's notes tell",
                        (int) c->md.pid, c->comm, missing, (int) c->md.pid);
}

/* A process gone before /proc was read: its core was named before its notes told its comm and
 * pid. It takes the name they give (the record, the log and the helper's line follow), unless
 * another file has that name already. */
static void rename_from_notes(struct crash *c) {
        char stem[CORE_STEM_MAX], name[CORE_STEM_MAX + 8];
        escape_for_log(c->md.comm, strlen(c->md.comm), c->comm, sizeof(c->comm));
        int r = core_file_stem(c->md.comm, c->md.uid, c->md.boot_id, c->md.pid, c->md.received_usec, stem,
                               sizeof(stem));
        if (r < 0 || strcmp(stem, c->stem) == 0)
                return;
        snprintf(name, sizeof(name), c->o->store_opts.compress ? "%s.zst" : "%s", stem);
        if (renameat2(c->dirfd, c->name, c->dirfd, name, RENAME_NOREPLACE) < 0 || fsync(c->dirfd) < 0) {
                log_warning_errno(negative_errno(), "Core %s keeps its name: cannot name it %s from its notes", c->name,
                                  name);
                return;
        }
        memcpy(c->stem, stem, sizeof(stem));
        memcpy(c->name, name, sizeof(name));
}

/* The log's words for a cut core, the record's: ", truncated at RLIMIT_CORE of N bytes" (a size
 * limit), ", truncated: short stream, N bytes expected: CAUSE", ", truncated: REASON[: CAUSE]". */
static void describe_cut(const struct crash *c, char *out, size_t size) {
        const struct store_result *res = &c->res;
        const char *reason = res->truncated_reason ? res->truncated_reason : "unknown reason";
        const char *sep = res->truncated_cause[0] ? ": " : "";
        out[0] = '\0';
        if (!res->truncated)
                return;
        if (strcmp(reason, STORE_CUT_SIZE_LIMIT) == 0 && res->truncated_cause[0])
                snprintf(out, size, ", truncated at %s", res->truncated_cause);
        else if (strcmp(reason, TRUNCATED_SHORT_STREAM) == 0 && c->head && core_head_expected_size(c->head) > 0)
                snprintf(out, size, ", truncated: %s, %llu bytes expected%s%s", reason,
                         (unsigned long long) core_head_expected_size(c->head), sep, res->truncated_cause);
        else
                snprintf(out, size, ", truncated: %s%s%s", reason, sep, res->truncated_cause);
}

/* ", from the core's notes" when the kernel did not say the signal, "" when it did. */
static const char *signal_origin(const struct core_metadata *m) {
        if (m->signal == 0)
                return ", unknown";
        switch (m->signal_source) {
        case SIGNAL_FROM_CORE:
                return ", from the core's notes";
        case SIGNAL_FROM_EXIT:
                return ", from the process's end";
        default:
                return "";
        }
}

/* The record made again goes over the first. Under the store's lock from its temporary name to
 * the rename, so that one seen under the lock is a dead writer's (recover.c sweeps those); and
 * only while the first is there: the vacuum may have removed the crash meanwhile, which no record
 * may outlive. */
static int replace_record(const struct crash *c, const char *json, const char *json_name) {
        char next_name[CORE_STEM_MAX + 16];
        struct stat st;
        snprintf(next_name, sizeof(next_name), RECOVER_RECORD_PREFIX "%s", json_name);
        _cleanup_close_ int lock = store_lock(c->dirfd);
        if (lock < 0)
                return lock;
        if (fstatat(c->dirfd, json_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                log_info("The core of pid %d (%s) was removed before its backtrace was made: no record for it",
                         (int) c->md.pid, c->comm);
                return 0;
        }
        (void) unlinkat(c->dirfd, next_name, 0);
        int r = store_file_atomic(c->dirfd, next_name, json, strlen(json));
        if (r >= 0 && renameat(c->dirfd, next_name, c->dirfd, json_name) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(c->dirfd, next_name, 0);
        return r;
}

/* The record beside the core; again once its backtrace is made after a hold, then written under a
 * name of its own and renamed over the first (a link never replaces a name). */
static void write_record(const struct crash *c, bool again) {
        struct rusage ru = {0}, child = {0};
        (void) getrusage(RUSAGE_SELF, &ru);
        /* The unwinding's child process (backtrace.h), waited for: its peak and its CPU count too. */
        (void) getrusage(RUSAGE_CHILDREN, &child);
        struct record_info info = {
                .max_rss_kib = MAX(ru.ru_maxrss, child.ru_maxrss),
                .cpu_usec = (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + child.ru_utime.tv_sec +
                                        child.ru_stime.tv_sec) *
                                    USEC_PER_SEC +
                            (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec + child.ru_utime.tv_usec +
                                        child.ru_stime.tv_usec),
                .core_file = c->name,
                .handled_by = c->o->fallback ? "host-fallback" : "container",
                .compressed = c->o->store_opts.compress,
                .result = &c->res,
                .trace = &c->trace,
        };
        _cleanup_free_ char *json = record_to_json(&c->md, &info);
        char json_name[CORE_STEM_MAX + 8];
        snprintf(json_name, sizeof(json_name), "%s.json", c->stem);
        int r = !json   ? -ENOMEM
                : again ? replace_record(c, json, json_name)
                        : store_file_atomic(c->dirfd, json_name, json, strlen(json));
        if (r < 0)
                log_warning_errno(r, "Stored the core of pid %d but not its record %s", (int) c->md.pid, json_name);
}

/* Step 6: the record beside the core, and the crash's log line (or journal entry). A process
 * already released (no hold) has its backtrace made first, so that both carry it. */
static void record(struct crash *c) {
        const struct receiver_settings *s = c->o->settings;
        fill_from_notes(c);
        if (c->gone)
                rename_from_notes(c);
        if (c->hold_fd < 0)
                crash_trace_finish(&c->trace, &s->trace, s->interval_usec, c->dirfd, c->name, c->pidfd);
        write_record(c, false);
        /* The core and its record are in place: nothing is left for a finaliser. */
        recover_end(c->dirfd, &c->partial);

        const char *sig = signal_name(c->md.signal);
        char cut[512], trace[512];
        describe_cut(c, cut, sizeof(cut));
        trace_describe(&c->trace, trace, sizeof(trace));
        report_crash(c, LOG_INFO, c->name, &c->res,
                     "Process %d (%s) of user %u crashed with signal %u (SIG%s%s); core stored as %s/%s (%llu bytes, "
                     "%llu stored%s)%s",
                     (int) c->md.pid, c->comm, (unsigned) c->md.uid, c->md.signal, sig ? sig : "?",
                     signal_origin(&c->md), c->o->settings->store, c->name, (unsigned long long) c->res.core_size,
                     (unsigned long long) c->res.stored_size, cut, trace);
}

/* Step 8, after a hold was given back: the backtrace, the record again with it, and a line. */
static void trace_after_release(struct crash *c) {
        const struct receiver_settings *s = c->o->settings;
        if (c->trace.state != TRACE_PENDING)
                return;
        crash_trace_finish(&c->trace, &s->trace, s->interval_usec, c->dirfd, c->name, c->pidfd);
        write_record(c, true);
        char trace[512];
        trace_describe(&c->trace, trace, sizeof(trace));
        log_info("Process %d (%s): backtrace of %zu thread(s) made after its release%s", (int) c->md.pid, c->comm,
                 c->trace.bt.n_threads, trace);
}

/* Bytes a stored file takes, as the vacuum counts them. */
static uint64_t file_blocks(int dirfd, const char *name) {
        struct stat st;
        return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? 0 : (uint64_t) st.st_blocks * 512;
}

/* Step 7: the outcome to the helper; only then may a held process go. The new core counts now:
 * older ones are trimmed, never this one. */
static void finish(struct crash *c) {
        reply_outcome(c, 0, &c->res, c->name);
        c->hold_fd = safe_close(c->hold_fd);
        _cleanup_close_ int lock = store_lock(c->dirfd);
        if (lock >= 0)
                vacuum_logged(c, c->stem);
        else
                log_warning_errno(lock, "Cannot lock %s", c->o->settings->store);
        lock = safe_close(lock);
        if (c->o->fallback_root) {
                char json_name[CORE_STEM_MAX + 8];
                snprintf(json_name, sizeof(json_name), "%s.json", c->stem);
                (void) fallback_finish(&c->fb, c->dirfd, c->stem,
                                       file_blocks(c->dirfd, c->name) + file_blocks(c->dirfd, json_name));
        }
        /* Upload=: queued now that core and record are durable and the process is gone; sent
         * by whoever drains the queue (uploader.h), never while a crash waits on us. */
        if (upload_wanted(c->o->settings))
                (void) uploader_queue_core(c->dirfd, c->o->settings->store, c->stem, c->name, c->o->settings);
}

/* Storage=none with Upload=, step 5: the core from the pipe to the targets, nothing kept here. */
static void stream(struct crash *c) {
        const struct receiver_settings *s = c->o->settings;
        if (hold_until_durable(c))
                c->hold_fd = fcntl(c->core_fd, F_DUPFD_CLOEXEC, 3);
        (void) core_head_new(&c->head);
        struct store_options so = c->o->store_opts;
        apply_memory_plan(c, &so);
        so.observe = c->head ? core_head_observe : NULL;
        so.observe_userdata = c->head;
        const struct container_identity *ci = &c->md.host_container;
        char record_file[CORE_STEM_MAX + 8];
        snprintf(record_file, sizeof(record_file), "%s.json", c->stem);
        struct upload_name_fields f = {.container = ci->id,
                                       .hostname = c->md.hostname,
                                       .file = c->name,
                                       .comm = c->md.comm,
                                       .boot_id = c->md.boot_id,
                                       .pid = (uint64_t) c->md.pid,
                                       .signal = c->md.signal,
                                       .time_usec = c->md.received_usec};
        (void) upstream_core(&c->up, s, &f, record_file, &c->core_fd, MIN(c->req.core_limit, s->process_size_max), &so,
                             &c->res);
        resolve_signal(c);
        judge_stream(c);
}

/* Its record to the targets that took the core, the crash's line (lost, if none did), the outcome. */
static void stream_done(struct crash *c) {
        char msg[2048], cut[512], err[1024];
        fill_from_notes(c);
        struct record_info info = {.core_file = c->name,
                                   .handled_by = c->o->fallback ? "host-fallback" : "container",
                                   .compressed = c->o->store_opts.compress,
                                   .result = &c->res};
        _cleanup_free_ char *json = c->up.confirmed ? record_to_json(&c->md, &info) : NULL;
        if (json)
                upstream_record(&c->up, json);
        describe_cut(c, cut, sizeof(cut));
        escape_for_log(c->up.error, strlen(c->up.error), err, sizeof(err));
        const char *sig = signal_name(c->md.signal);
        int n = snprintf(msg, sizeof(msg), "Process %d (%s) of user %u crashed with signal %u (SIG%s%s); ",
                         (int) c->md.pid, c->comm, (unsigned) c->md.uid, c->md.signal, sig ? sig : "?",
                         signal_origin(&c->md));
        if (c->up.confirmed)
                snprintf(msg + n, sizeof(msg) - (size_t) n, "core uploaded=%s (%llu bytes, %llu sent%s)%s%s",
                         c->up.res[0].confirmed ? c->up.res[0].url : c->up.t.urls[0],
                         (unsigned long long) c->res.core_size, (unsigned long long) c->res.stored_size, cut,
                         err[0] ? "; upload_error=" : "", err);
        else if (c->res.read_size == 0)
                snprintf(msg + n, sizeof(msg) - (size_t) n, "%s", err);
        else
                snprintf(msg + n, sizeof(msg) - (size_t) n, "core lost: upload to %s", err);
        int level = c->up.confirmed ? LOG_INFO : LOG_ERR;
        if (c->o->fallback)
                (void) hostlog_send(level, "core_pipe-receiver", msg);
        else if (log_get_target() != LOG_TARGET_JOURNAL || upstream_journal(level, &c->md, &c->up, msg) < 0)
                log_msg(level, "%s", msg);
        reply_outcome(c, c->up.confirmed ? 0 : -EIO, c->up.confirmed ? &c->res : NULL,
                      c->up.confirmed ? c->up.res[0].url : "core lost: upload failed");
        c->hold_fd = safe_close(c->hold_fd);
}

/* Step 9: what the host's log line says of the backtrace (protocol.h, OUTCOME_TRACE), once made. */
static void reply_trace(const struct crash *c) {
        uint8_t buf[CP_MSG_MAX];
        const struct crash_trace *t = &c->trace;
        if (t->n_signature_frames <= 0)
                return;
        struct cp_outcome_trace m = {
                .flags = crash_trace_is_repeat(t) ? CP_TRACE_REPEAT | (t->core_removed ? CP_TRACE_CORE_REMOVED : 0) : 0,
                .nth = crash_trace_is_repeat(t) ? t->loop.nth : 0,
                .kept = crash_trace_is_repeat(t) ? t->loop.kept : 0,
        };
        snprintf(m.signature, sizeof(m.signature), "%s", t->signature);
        int n = cp_encode_outcome_trace(&m, buf, sizeof(buf));
        if (n >= 0)
                (void) send_message(c->sock, buf, (size_t) n, NULL, 0, NULL,
                                    now_monotonic_usec() + c->o->request_timeout_usec);
}

static int serve_crash(struct crash *c) {
        int r = receive_request(c);
        if (r < 0)
                return r;
        watch_stream(c);
        r = give_verdict(c);
        if (r <= 0)
                return r;
        r = receive_handover(c);
        if (r >= 0)
                r = collect(c);
        if (r >= 0 && streaming(c)) {
                stream(c);
                stream_done(c);
                return c->up.confirmed ? 0 : -EIO;
        }
        if (r >= 0)
                r = store(c);
        if (r < 0)
                return r;
        record(c);
        finish(c);
        trace_after_release(c);
        reply_trace(c);
        return 0;
}

int handle_connection(int sock, const struct receiver_options *o) {
        int one = 1;
        (void) setsockopt(sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
        struct crash c = {
                .sock = sock,
                .o = o,
                .deadline = now_monotonic_usec() + o->request_timeout_usec,
                .procfd = -EBADF,
                .dirfd = -EBADF,
                .core_fd = -EBADF,
                .pidfd = -EBADF,
                .hold_fd = -EBADF,
                .oomfd = -EBADF,
                .budget = UINT64_MAX,
                .fb = FALLBACK_INIT,
                .partial = RECOVER_WRITER_INIT,
                .trace = CRASH_TRACE_INIT,
                .headroom = MEMCG_UNLIMITED,
        };
        int r = serve_crash(&c);
        crash_done(&c);
        return r;
}
