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

#include "fdio.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "metadata.h"
#include "parse.h"
#include "protocol.h"
#include "record.h"
#include "store.h"
#include "vacuum.h"

static int reply_verdict(int sock, uint32_t verdict, const char *reason, uint64_t deadline) {
        uint8_t buf[CP_MSG_MAX];
        int n = cp_encode_verdict(verdict, reason, buf, sizeof(buf));
        if (n < 0)
                return n;
        return send_message(sock, buf, (size_t) n, NULL, 0, NULL, deadline);
}

static void reply_outcome(int sock, int error, const struct store_result *res, const char *text, uint64_t deadline) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_outcome out = { .error = error < 0 ? -error : error };
        if (res) {
                out.core_size = res->core_size;
                out.stored_size = res->stored_size;
                out.flags = res->truncated ? CP_OUTCOME_TRUNCATED : 0;
        }
        escape_for_log(text, strlen(text), out.text, sizeof(out.text));
        int n = cp_encode_outcome(&out, buf, sizeof(buf));
        /* The helper may be gone already; its report is a courtesy. */
        if (n >= 0)
                (void) send_message(sock, buf, (size_t) n, NULL, 0, NULL, deadline);
}

/* The core pipe must be the read end of a pipe, the pidfd must name the process the kernel
 * named in the credentials, as this receiver's pid namespace sees it. */
static int check_handover_fds(const int fds[2], pid_t pid, const char **why) {
        struct stat st;
        if (fstat(fds[0], &st) < 0 || !S_ISFIFO(st.st_mode))
                return *why = "core descriptor is not a pipe", -EBADF;
        int fl = fcntl(fds[0], F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) != O_RDONLY)
                return *why = "core descriptor is not read-only", -EBADF;
        int pidfd_pid;
        int r = pidfd_get_pid(fds[1], &pidfd_pid);
        if (r < 0)
                return *why = "second descriptor is not a pidfd", r;
        if (pidfd_pid != pid)
                return *why = "pidfd names another process", -ESRCH;
        return 0;
}

/* The one line every crash leaves in the receiver's log. Where journald runs it is a
 * coredumpctl-compatible entry (priority crit for a stored core, as coredump entries are). */
static void report_crash(int level, const struct core_metadata *md, const char *store, const char *name,
                         const struct store_result *res, const char *fmt, ...) _printf_(6, 7);
static void report_crash(int level, const struct core_metadata *md, const char *store, const char *name,
                         const struct store_result *res, const char *fmt, ...) {
        char msg[2048], path[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (log_get_target() == LOG_TARGET_JOURNAL) {
                if (name)
                        snprintf(path, sizeof(path), "%s/%s", store, name);
                if (journal_record_crash(name ? LOG_CRIT : level, md, name ? path : NULL, res, msg) >= 0)
                        return;
        }
        log_msg(level, "%s", msg);
}

/* A crash accounted for without storing its core: the helper hears "skip" first (the crashed
 * process need not wait for us), then the crash is logged with what /proc can tell. */
static int skip_crash(int sock, int procfd, struct core_metadata *md, const char *comm, const struct receiver_options *o,
                      int level, const char *verdict_reason, const char *what, uint64_t deadline) {
        (void) reply_verdict(sock, CP_VERDICT_SKIP, verdict_reason, deadline);
        (void) collect_metadata(procfd, md);
        report_crash(level, md, o->settings->store, NULL, NULL, "Process %d (%s) of user %u crashed with signal %u; %s",
                     (int) md->pid, comm, (unsigned) md->uid, md->signal, what);
        core_metadata_done(md);
        return 0;
}

/* MaxUse=/KeepFree= on this store, never removing keep_stem. The caller holds the store's lock. */
static void vacuum_logged(int dirfd, const struct receiver_settings *s, const char *keep_stem) {
        struct vacuum_result vr;
        int r = vacuum_store(dirfd, s, keep_stem, &vr);
        if (r < 0)
                log_warning_errno(r, "Cannot vacuum %s", s->store);
        else if (vr.removed > 0)
                log_info("Removed %u old core(s) from %s (%llu bytes) to keep MaxUse=/KeepFree=", vr.removed, s->store,
                         (unsigned long long) vr.freed);
}

int handle_connection(int sock, const struct receiver_options *o) {
        uint8_t buf[CP_MSG_MAX];
        size_t len, n_fds = 0;
        struct ucred cred;
        bool have_cred = false;
        int fds[CP_MAX_FDS] = { -EBADF, -EBADF };
        struct cp_request req;
        struct core_metadata md = { 0 };
        char reason[CP_TEXT_MAX + 1], stem[CORE_STEM_MAX], name[CORE_STEM_MAX + 8];
        const char *why = NULL;
        int one = 1, r;

        (void) setsockopt(sock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));

        uint64_t deadline = now_monotonic_usec() + o->request_timeout_usec;
        r = recv_message(sock, buf, sizeof(buf), deadline, &len, NULL, 0, NULL, &cred, &have_cred);
        if (r < 0)
                return log_warning_errno(r, "No valid request from the helper");

        uint16_t version = 0;
        r = cp_decode_header(buf, len, &version);
        if (r == -EPROTONOSUPPORT) {
                snprintf(reason, sizeof(reason), "protocol version %u not supported (this receiver speaks %u)", version,
                         CP_PROTOCOL_VERSION);
                log_warning("Refusing a crash: %s", reason);
                (void) reply_verdict(sock, CP_VERDICT_REFUSE, reason, deadline);
                return -EPROTONOSUPPORT;
        }
        r = cp_decode_request(buf, len, &req);
        if (r < 0) {
                (void) reply_verdict(sock, CP_VERDICT_REFUSE, "malformed request", deadline);
                return log_warning_errno(r, "Refusing a malformed request (%zu bytes)", len);
        }
        if (!have_cred) {
                (void) reply_verdict(sock, CP_VERDICT_REFUSE, "no credentials", deadline);
                return log_warning_errno(-EPERM, "Refusing a request without credentials");
        }
        if (cred.pid <= 0) {
                (void) reply_verdict(sock, CP_VERDICT_REFUSE, "crashed process not visible in the receiver's pid namespace",
                                     deadline);
                return log_warning_errno(-ESRCH, "Refusing a crash of a process outside this pid namespace");
        }

        md.pid = cred.pid;
        md.uid = cred.uid;
        md.gid = cred.gid;
        md.signal = req.signal;
        md.dump_time = req.dump_time;
        md.core_limit = req.core_limit;
        md.received_usec = now_realtime_usec();

        char procpath[32];
        snprintf(procpath, sizeof(procpath), "/proc/%d", (int) cred.pid);
        _cleanup_close_ int procfd = open(procpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (procfd < 0) {
                r = negative_errno();
                (void) reply_verdict(sock, CP_VERDICT_REFUSE, "crashed process not found in /proc", deadline);
                return log_warning_errno(r, "Refusing crash of pid %d: %s", (int) cred.pid, procpath);
        }
        len = 0;
        (void) read_small_file_at(procfd, "comm", md.comm, sizeof(md.comm), &len);
        if (len > 0 && md.comm[len - 1] == '\n')
                md.comm[len - 1] = '\0';
        char comm[4 * sizeof(md.comm)];
        escape_for_log(md.comm, strlen(md.comm), comm, sizeof(comm));

        /* A privileged dump (suid_dumpable=2) is for host root's eyes only: only the host's
         * fallback receiver stores one. The helper never forwards it; this is the second wall. */
        if (req.dump_mode != 1 && !o->fallback) {
                (void) reply_verdict(sock, CP_VERDICT_REFUSE, "privileged dump (dump mode != 1)", deadline);
                return log_warning_errno(-EPERM, "Refusing crash of pid %d (%s): dump mode %u is not forwarded",
                                         (int) cred.pid, comm, req.dump_mode);
        }
        if (req.core_limit == 0)
                return skip_crash(sock, procfd, &md, comm, o, LOG_INFO, "RLIMIT_CORE is 0, no core stored",
                                  "RLIMIT_CORE is 0 (ulimit -c 0), so no core was stored", deadline);
        if (o->settings->storage == STORAGE_NONE)
                return skip_crash(sock, procfd, &md, comm, o, LOG_INFO, "Storage=none: cores are not kept",
                                  "Storage=none, so no core was stored", deadline);

        char note[512];
        _cleanup_close_ int dirfd = open_store_dir(o->settings->store, note, sizeof(note));
        if (dirfd < 0) {
                if (!note[0])
                        snprintf(note, sizeof(note), "store %s unavailable: %s", o->settings->store, strerror(-dirfd));
                snprintf(reason, sizeof(reason), "%s", note);
                (void) reply_verdict(sock, CP_VERDICT_REFUSE, reason, deadline);
                return log_error_errno(dirfd, "Cannot store core of pid %d (%s): %s", (int) cred.pid, comm, note);
        }
        if (note[0])
                log_warning("%s", note);
        uint64_t budget = UINT64_MAX;

        /* Under the store's lock, shared with every other receiver of this store: the rate
         * limit (refused before a byte is read), then room for this core. */
        {
                _cleanup_close_ int lock = store_lock(dirfd);
                unsigned recent = 0;
                r = lock < 0 ? lock : rate_limit_admit(dirfd, o->settings, now_realtime_usec(), &recent);
                if (r == 0) {
                        char what[CP_TEXT_MAX + 32];
                        snprintf(reason, sizeof(reason), "rate limit: %u cores in the last %llus (MaxCoresPerInterval=%u)",
                                 recent, (unsigned long long) (o->settings->interval_usec / USEC_PER_SEC),
                                 o->settings->max_cores_per_interval);
                        snprintf(what, sizeof(what), "core not stored: %s", reason);
                        return skip_crash(sock, procfd, &md, comm, o, LOG_WARNING, reason, what, deadline);
                }
                if (r < 0)
                        log_warning_errno(r, "Rate limit state of %s unusable; admitting pid %d", o->settings->store,
                                          (int) cred.pid);
                vacuum_logged(dirfd, o->settings, NULL);
                /* No room at all within KeepFree=: refused before the first byte, so that the
                 * helper's fallback applies; otherwise the core may take at most the budget. */
                struct store_space sp;
                r = store_room(dirfd, o->settings, &sp);
                if (r == 0) {
                        snprintf(reason, sizeof(reason), "store full: %llu bytes free, KeepFree=%llu",
                                 (unsigned long long) sp.free, (unsigned long long) sp.keep_free);
                        (void) reply_verdict(sock, CP_VERDICT_REFUSE, reason, deadline);
                        return log_error_errno(-ENOSPC, "Refusing the core of pid %d (%s): %s in %s", (int) cred.pid,
                                               comm, reason, o->settings->store);
                }
                if (r < 0)
                        log_warning_errno(r, "Cannot tell the free space of %s", o->settings->store);
                else
                        budget = sp.budget;
        }

        r = reply_verdict(sock, CP_VERDICT_SEND, NULL, deadline);
        if (r < 0)
                return log_warning_errno(r, "Cannot answer the helper for pid %d", (int) cred.pid);

        deadline = now_monotonic_usec() + o->request_timeout_usec;
        r = recv_message(sock, buf, sizeof(buf), deadline, &len, fds, CP_MAX_FDS, &n_fds, NULL, NULL);
        if (r == -ETOOMANYREFS)
                return log_warning("Malformed hand-over for pid %d (%s): more than %d descriptors", (int) cred.pid,
                                   comm, CP_MAX_FDS), r;
        if (r < 0)
                return log_warning_errno(r, "No hand-over for pid %d (%s)", (int) cred.pid, comm);
        _cleanup_close_ int core_fd = fds[0], pidfd = fds[1];
        if (cp_decode_handover(buf, len) < 0 || n_fds != 2)
                return log_warning_errno(-EBADMSG, "Malformed hand-over for pid %d (%s)", (int) cred.pid, comm);
        r = check_handover_fds(fds, cred.pid, &why);
        if (r < 0)
                return log_warning_errno(r, "Invalid hand-over for pid %d (%s): %s", (int) cred.pid, comm, why);

        /* Everything /proc can tell, while the kernel keeps the process for us. */
        r = collect_metadata(procfd, &md);
        if (r >= 0)
                r = pidfd_check_alive(pidfd);
        if (r < 0) {
                core_metadata_done(&md);
                reply_outcome(sock, r, NULL, "crashed process vanished", deadline);
                return log_warning_errno(r, "Crashed process %d (%s) vanished before its core was read",
                                         (int) cred.pid, comm);
        }

        r = core_file_stem(md.comm, md.uid, md.boot_id, md.pid, md.received_usec, stem, sizeof(stem));
        if (r < 0) {
                core_metadata_done(&md);
                return log_error_errno(r, "Cannot name the core of pid %d", (int) cred.pid);
        }
        snprintf(name, sizeof(name), o->store_opts.compress ? "%s.zst" : "%s", stem);

        /* The init of our pid namespace: once it is released it exits, and the kernel kills every
         * process of the namespace, this receiver too. Hold a reader on the pipe until the core
         * and its record are durable (the kernel waits for it when core_pipe_limit > 0). */
        _cleanup_close_ int hold_fd = -EBADF;
        if (md.pid == 1)
                hold_fd = fcntl(core_fd, F_DUPFD_CLOEXEC, 3);

        struct store_result res;
        /* The smaller of the process's RLIMIT_CORE and our ProcessSizeMax=. */
        uint64_t limit = MIN(req.core_limit, o->settings->process_size_max);
        const char *cap = req.core_limit <= o->settings->process_size_max ? "RLIMIT_CORE" : "ProcessSizeMax";
        r = store_core(dirfd, name, &core_fd, limit, budget, &o->store_opts, &res);
        if (r < 0) {
                core_metadata_done(&md);
                reply_outcome(sock, r, NULL, "storing the core failed", deadline);
                return log_error_errno(r, "Failed to store the core of pid %d (%s) in %s", (int) cred.pid, comm,
                                       o->settings->store);
        }

        struct rusage ru = { 0 };
        (void) getrusage(RUSAGE_SELF, &ru);
        struct record_info info = {
                .max_rss_kib = ru.ru_maxrss,
                .cpu_usec = (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * USEC_PER_SEC +
                            (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec),
                .core_file = name,
                .handled_by = o->fallback ? "host-fallback" : "container",
                .compressed = o->store_opts.compress,
                .result = &res,
        };
        _cleanup_free_ char *json = record_to_json(&md, &info);
        char json_name[CORE_STEM_MAX + 8];
        snprintf(json_name, sizeof(json_name), "%s.json", stem);
        r = json ? store_file_atomic(dirfd, json_name, json, strlen(json)) : -ENOMEM;
        if (r < 0)
                log_warning_errno(r, "Stored the core of pid %d but not its record %s", (int) cred.pid, json_name);

        const char *sig = signal_name(md.signal);
        bool cut_by_space = res.truncated_reason && strcmp(res.truncated_reason, STORE_CUT_NO_SPACE) == 0;
        report_crash(LOG_INFO, &md, o->settings->store, name, &res,
                     "Process %d (%s) of user %u crashed with signal %u (SIG%s); core stored as %s/%s (%llu bytes, %llu "
                     "stored%s%s)",
                     (int) md.pid, comm, (unsigned) md.uid, md.signal, sig ? sig : "?", o->settings->store, name,
                     (unsigned long long) res.core_size, (unsigned long long) res.stored_size,
                     !res.truncated ? "" : cut_by_space ? ", truncated: out of space" : ", truncated at ",
                     res.truncated && !cut_by_space ? cap : "");
        hold_fd = safe_close(hold_fd);
        /* The new core counts now: trim older ones, never this one. */
        _cleanup_close_ int lock = store_lock(dirfd);
        if (lock >= 0)
                vacuum_logged(dirfd, o->settings, stem);
        else
                log_warning_errno(lock, "Cannot lock %s", o->settings->store);
        lock = safe_close(lock);
        /* The host's fallback store: the same limits over all its directories, so that no
         * container can fill the host however its cores are spread. */
        _cleanup_close_ int rootfd = o->fallback_root ? open(o->fallback_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -EBADF;
        if (rootfd >= 0) {
                struct vacuum_result vr;
                lock = store_lock(rootfd);
                r = lock < 0 ? lock : vacuum_tree(rootfd, o->settings, dirfd, stem, &vr);
                if (r < 0)
                        log_warning_errno(r, "Cannot vacuum %s", o->fallback_root);
                else if (vr.removed > 0)
                        log_warning("Removed %u old core(s) from %s (%llu bytes): its total is held to MaxUse=/KeepFree=",
                                    vr.removed, o->fallback_root, (unsigned long long) vr.freed);
        }
        reply_outcome(sock, 0, &res, name, now_monotonic_usec() + o->request_timeout_usec);
        core_metadata_done(&md);
        return 0;
}
