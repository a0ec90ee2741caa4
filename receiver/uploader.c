/* SPDX-License-Identifier: MIT */
#include "uploader.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "journal.h"
#include "log.h"
#include "logsink.h"
#include "macro.h"
#include "parse.h"
#include "pending.h"
#include "store.h"
#include "uploader-record.h"

#define DRAIN_PASSES_MAX 16

void upload_targets_init(struct upload_targets *t, const struct upload_settings *u) {
        *t = (struct upload_targets){.config = {.part_size = u->part_size, .timeout_usec = u->timeout_usec}};
        snprintf(t->config.s3_endpoint, sizeof(t->config.s3_endpoint), "%s", u->s3_endpoint);
        snprintf(t->config.s3_region, sizeof(t->config.s3_region), "%s", u->s3_region);
        snprintf(t->config.name_template, sizeof(t->config.name_template), "%s", u->name_template);
        snprintf(t->config.credentials, sizeof(t->config.credentials), "%s", u->credentials);
        t->config.urls = t->urls;
}

int uploader_queue_core(int dirfd, const char *store, const char *stem, const char *core_name,
                        const struct receiver_settings *s) {
        _cleanup_free_ struct pending_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return log_error_errno(-ENOMEM, "Cannot queue %s/%s for upload", store, core_name);
        int r = pending_entry_init(e, core_name, stem, now_realtime_usec());
        if (r < 0)
                return log_error_errno(r, "Cannot queue %s/%s for upload: not a core's name", store, core_name);
        _cleanup_close_ int qfd = pending_open_dir(dirfd);
        if (qfd < 0)
                return log_error_errno(qfd, "Cannot queue %s/%s for upload: %s/%s unusable", store, core_name, store,
                                       PENDING_DIR);
        r = pending_add(qfd, e);
        if (r == -EEXIST)
                return 0; /* queued already */
        if (r < 0)
                return log_error_errno(r, "Cannot queue %s/%s for upload in %s/%s", store, core_name, store,
                                       PENDING_DIR);
        return 0;
}

/* One core's attempt: what it is, where it goes, and what came of it. */
struct attempt {
        int dirfd, qfd;
        const char *store;
        const struct receiver_settings *s;
        bool host_log;
        struct pending_entry *e;
        struct json_object *rec; /* its record, NULL if unreadable */
        struct upload_targets todo;
        struct upload_result core_res[UPLOAD_URLS_MAX], rec_res[UPLOAD_URLS_MAX];
        char core_object[1024], record_object[1024];
        char record_urls[UPLOAD_URLS_MAX][1024];
        char error[512]; /* the first failure, for the entry and the record */
        uint64_t now;
};

static void attempt_done(struct attempt *a) {
        if (a->rec)
                json_object_put(a->rec);
        a->rec = NULL;
}

/* Identity of the crash for the log: "core NAME of pid N (COMM)". */
static void describe_core(const struct attempt *a, char *out, size_t size) {
        struct upload_name_fields f;
        char comm[64];
        upload_record_name_fields(a->rec, a->e->core, &f);
        escape_for_log(f.comm ? f.comm : "?", f.comm ? strlen(f.comm) : 1, comm, sizeof(comm));
        snprintf(out, size, "core %s/%s of pid %llu (%s)", a->store, a->e->core, (unsigned long long) f.pid, comm);
}

/* "NAME=value" into f (a field too many, or no memory, is left out: the message is there). */
static void add_field(struct journal_fields *f, const char *fmt, ...) _printf_(2, 3);
static void add_field(struct journal_fields *f, const char *fmt, ...) {
        char *text;
        va_list ap;
        if (f->n >= JOURNAL_FIELDS_MAX)
                return;
        va_start(ap, fmt);
        int n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n >= 0)
                f->iov[f->n++] = (struct iovec){.iov_base = text, .iov_len = (size_t) n};
}

/* The upload's journal entry: its own MESSAGE_ID (coredumpctl lists the crash's entry, not
 * this), the core's file, COREDUMP_UPLOADED_TO= per confirmed target or the error. */
static int journal_upload(const struct attempt *a, int level, bool ok, const char *msg) {
        struct journal_fields f = {.n = 0};
        struct upload_name_fields nf;
        upload_record_name_fields(a->rec, a->e->core, &nf);
        add_field(&f, "MESSAGE_ID=%s", UPLOAD_MESSAGE_ID);
        add_field(&f, "PRIORITY=%d", level);
        add_field(&f, "SYSLOG_IDENTIFIER=core_pipe-receiver");
        add_field(&f, "MESSAGE=%s", msg);
        add_field(&f, "COREDUMP_FILENAME=%s/%s", a->store, a->e->core);
        add_field(&f, "COREDUMP_PID=%llu", (unsigned long long) nf.pid);
        for (size_t i = 0; ok && i < a->todo.config.n_urls; i++)
                if (a->core_res[i].confirmed)
                        add_field(&f, "COREDUMP_UPLOADED_TO=%s", a->core_res[i].url);
        if (!ok)
                add_field(&f, "CORE_PIPE_UPLOAD_ERROR=%s", a->error);
        int r = journal_fields_send(&f);
        journal_fields_done(&f);
        return r;
}

/* The host's log line of the fallback, in the helper's words (key=value, text escaped):
 * pid=N comm="COMM" file="CORE" uploaded=URL[ URL...] bytes=N sha256=HEX, or upload_error="...". */
static void host_line(const struct attempt *a, bool ok, char *out, size_t size) {
        struct upload_name_fields f;
        char comm[64], err[sizeof(a->error) * 4];
        upload_record_name_fields(a->rec, a->e->core, &f);
        escape_for_log(f.comm ? f.comm : "", f.comm ? strlen(f.comm) : 0, comm, sizeof(comm));
        int n = snprintf(out, size, "pid=%llu comm=\"%s\" file=\"%s/%s\"", (unsigned long long) f.pid, comm, a->store,
                         a->e->core);
        for (size_t i = 0, first = 1; ok && n > 0 && (size_t) n < size && i < a->todo.config.n_urls; i++)
                if (a->core_res[i].confirmed) {
                        n += snprintf(out + n, size - (size_t) n, "%s%s", first ? " uploaded=" : " ",
                                      a->core_res[i].url);
                        first = 0;
                }
        if (n <= 0 || (size_t) n >= size)
                return;
        if (ok && a->todo.config.n_urls > 0)
                snprintf(out + n, size - (size_t) n, " bytes=%llu sha256=%s", (unsigned long long) a->core_res[0].bytes,
                         a->core_res[0].sha256);
        else if (ok)
                snprintf(out + n, size - (size_t) n, " uploaded=earlier");
        else {
                escape_for_log(a->error, strlen(a->error), err, sizeof(err));
                snprintf(out + n, size - (size_t) n, " upload_error=\"%s\" attempts=%u", err, a->e->attempts);
        }
}

/* The outcome's line: the host's log for the fallback, else the journal, else our log. */
static void report(const struct attempt *a, int level, bool ok, const char *fmt, ...) _printf_(4, 5);
static void report(const struct attempt *a, int level, bool ok, const char *fmt, ...) {
        char msg[4096];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (a->host_log) {
                host_line(a, ok, msg, sizeof(msg));
                (void) hostlog_send(level, "core_pipe-receiver", msg);
                return;
        }
        if (log_get_target() == LOG_TARGET_JOURNAL && journal_upload(a, level, ok, msg) >= 0)
                return;
        log_msg(level, "%s", msg);
}

/* The targets still to do: Upload= but those the entry says confirmed. */
static void plan_targets(struct attempt *a) {
        const struct upload_settings *u = &a->s->upload;
        upload_targets_init(&a->todo, u);
        for (size_t i = 0; i < u->n_urls; i++) {
                if (pending_entry_done(a->e, u->urls[i]))
                        continue;
                a->todo.urls[a->todo.config.n_urls++] = (char *) u->urls[i];
        }
}

static int render_names(struct attempt *a) {
        struct upload_name_fields f;
        char record_file[CORE_STEM_MAX + 8];
        upload_record_name_fields(a->rec, a->e->core, &f);
        int r = upload_object_name(a->s->upload.name_template, &f, a->core_object, sizeof(a->core_object));
        if (r < 0)
                return r;
        snprintf(record_file, sizeof(record_file), "%s.json", a->e->stem);
        f.file = record_file;
        return upload_object_name(a->s->upload.name_template, &f, a->record_object, sizeof(a->record_object));
}

/* Where the record goes: the core's URL with the record's object name in place of the core's
 * ("" when the engine's URL does not end with the object name). */
static void derive_record_url(const struct attempt *a, const char *core_url, char *out, size_t size) {
        size_t n = strlen(core_url), m = strlen(a->core_object);
        out[0] = '\0';
        if (n >= m && strcmp(core_url + n - m, a->core_object) == 0)
                snprintf(out, size, "%.*s%s", (int) (n - m), core_url, a->record_object);
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The core, read by the engine from its descriptor: 0, -ENOENT (gone), or why it cannot be read
 * (every target's result then says so). */
static int send_core(struct attempt *a) {
        _cleanup_close_ int fd = store_open_own_file(a->dirfd, a->e->core);
        struct stat st;
        int r = fd < 0 ? fd : fstat(fd, &st) < 0 ? negative_errno() : 0;
        if (r == -ENOENT)
                return r;
        if (r < 0) {
                for (size_t i = 0; i < a->todo.config.n_urls; i++)
                        snprintf(a->core_res[i].error, sizeof(a->core_res[i].error), "cannot read %s/%s: %s", a->store,
                                 a->e->core, strerror(-r));
                return 0;
        }
        (void) upload_file(&a->todo.config, fd, (uint64_t) st.st_size, a->core_object,
                           has_suffix(a->e->core, ".zst") ? "application/zstd" : "application/octet-stream",
                           a->core_res);
        return 0;
}

void upload_failure_text(const struct upload_result *r, const char *target, char *out, size_t size) {
        const char *url = r->url[0] ? r->url : target, *reason = r->error;
        size_t n = strlen(url);
        /* The engine's error names the URL first: said once. */
        if (strncmp(reason, url, n) == 0 && reason[n] == ':' && reason[n + 1] == ' ')
                reason += n + 2;
        snprintf(out, size, "%s failed: %s", url, reason[0] ? reason : "not confirmed by the server");
}

/* The first failure among the targets to do ("URL failed: REASON"), into a->error; false if none. */
static bool first_failure(struct attempt *a, bool with_record) {
        for (size_t i = 0; i < a->todo.config.n_urls; i++) {
                const struct upload_result *r = &a->core_res[i];
                if (r->confirmed && with_record && a->rec)
                        r = &a->rec_res[i];
                if (r->confirmed)
                        continue;
                upload_failure_text(r, a->todo.urls[i], a->error, sizeof(a->error));
                return true;
        }
        a->error[0] = '\0';
        return false;
}

/* text as a file the engine can read (it uploads from a descriptor). */
static int text_fd(const char *text, size_t len) {
        _cleanup_close_ int fd = memfd_create("core_pipe-record", MFD_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        int r = write_full(fd, text, len);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

/* The targets that took the core, with where each put it, for the record. */
static size_t confirmed_targets(struct attempt *a, struct upload_record_target *t, struct upload_targets *ok,
                                size_t *ok_index) {
        size_t n = 0;
        upload_targets_init(ok, &a->s->upload);
        for (size_t i = 0; i < a->todo.config.n_urls; i++) {
                if (!a->core_res[i].confirmed)
                        continue;
                derive_record_url(a, a->core_res[i].url, a->record_urls[i], sizeof(a->record_urls[i]));
                t[n] = (struct upload_record_target){&a->core_res[i], a->record_urls[i][0] ? a->record_urls[i] : NULL};
                ok_index[n++] = i;
                ok->urls[ok->config.n_urls++] = a->todo.urls[i];
        }
        return n;
}

/*
 * The record as it will be kept (with "uploaded_to" for every target that took the core) goes
 * to those targets; *ret_text is the record to keep. What was sent is byte for byte what is
 * kept once every target confirmed.
 */
static int send_record(struct attempt *a, char **ret_text) {
        struct upload_record_target t[UPLOAD_URLS_MAX];
        struct upload_targets ok;
        size_t ok_index[UPLOAD_URLS_MAX];
        struct upload_result res[UPLOAD_URLS_MAX];
        size_t n = confirmed_targets(a, t, &ok, ok_index);
        bool failed = first_failure(a, false);
        _cleanup_free_ char *text = NULL;
        int r = upload_record_update(a->rec, t, n, a->now, failed ? a->error : NULL, &text);
        if (r < 0)
                return r;
        if (n > 0) {
                _cleanup_close_ int fd = text_fd(text, strlen(text));
                if (fd < 0)
                        return fd;
                (void) upload_file(&ok.config, fd, strlen(text), a->record_object, "application/json", res);
                for (size_t j = 0; j < n; j++)
                        a->rec_res[ok_index[j]] = res[j];
        }
        /* A record that did not go everywhere: the one kept says why. */
        if (!failed && first_failure(a, true)) {
                free(text);
                text = NULL;
                r = upload_record_update(a->rec, NULL, 0, a->now, a->error, &text);
                if (r < 0)
                        return r;
        }
        *ret_text = TAKE_PTR(text);
        return 0;
}

/* Every target confirmed: the record kept as sent, the entry gone, the core too if so set. */
static void attempt_succeeded(struct attempt *a) {
        char what[1024], where[2048] = "";
        describe_core(a, what, sizeof(what));
        for (size_t i = 0, w = 0; i < a->todo.config.n_urls && w < sizeof(where); i++)
                w += (size_t) snprintf(where + w, sizeof(where) - w, "%s%s", w ? " " : "", a->core_res[i].url);
        int r = pending_remove(a->qfd, a->e->stem);
        if (r < 0)
                log_warning_errno(r, "Cannot remove the upload entry of %s", what);
        bool removed = false;
        if (!a->s->upload.keep_after_upload) {
                removed = unlinkat(a->dirfd, a->e->core, 0) >= 0 || errno == ENOENT;
                if (!removed)
                        log_warning_errno(negative_errno(), "Cannot remove %s/%s after its upload", a->store,
                                          a->e->core);
        }
        const char *kept = removed ? "; local copy removed (KeepAfterUpload=no)" : "";
        if (a->todo.config.n_urls == 0)
                report(a, LOG_INFO, true, "%s is on every Upload= target (confirmed before)%s", what, kept);
        else
                report(a, LOG_INFO, true, "%s uploaded=%s (%llu bytes, sha256 %s)%s", what, where,
                       (unsigned long long) a->core_res[0].bytes, a->core_res[0].sha256, kept);
}

static void attempt_failed(struct attempt *a) {
        char what[1024];
        describe_core(a, what, sizeof(what));
        pending_entry_failed(a->e, &a->s->upload, a->error, a->now);
        int r = pending_save(a->qfd, a->e);
        if (r < 0)
                log_warning_errno(r, "Cannot update the upload entry of %s", what);
        char err[600];
        escape_for_log(a->error, strlen(a->error), err, sizeof(err));
        report(a, LOG_WARNING, false, "%s upload_error=\"%s\" (attempt %u, next in %llus; the core is kept)", what, err,
               a->e->attempts, (unsigned long long) ((a->e->next_usec - a->now) / USEC_PER_SEC));
}

/* Marks each target that took both files; writes the record to keep. */
static void settle(struct attempt *a, const char *text) {
        for (size_t i = 0; i < a->todo.config.n_urls; i++)
                if (a->core_res[i].confirmed && (!a->rec || a->rec_res[i].confirmed))
                        (void) pending_entry_mark_done(a->e, a->todo.urls[i]);
        if (text) {
                int r = upload_record_replace(a->dirfd, a->e->stem, text);
                if (r < 0)
                        log_warning_errno(r, "Cannot update the record %s/%s.json", a->store, a->e->stem);
        }
}

static bool all_targets_done(const struct attempt *a) {
        for (size_t i = 0; i < a->s->upload.n_urls; i++)
                if (!pending_entry_done(a->e, a->s->upload.urls[i]))
                        return false;
        return true;
}

/* One attempt at a due entry: 1 uploaded everywhere, 0 failed (kept), -ENOENT core gone. */
static int attempt_run(struct attempt *a) {
        int r = upload_record_load(a->dirfd, a->e->stem, &a->rec);
        if (r < 0 && r != -ENOENT)
                log_warning_errno(r, "Cannot read the record %s/%s.json; uploading the core alone", a->store,
                                  a->e->stem);
        plan_targets(a);
        r = render_names(a);
        if (r < 0) {
                snprintf(a->error, sizeof(a->error), "cannot name the object (UploadName=): %s", strerror(-r));
                attempt_failed(a);
                return 0;
        }
        if (a->todo.config.n_urls > 0) {
                r = send_core(a);
                if (r == -ENOENT)
                        return r;
        }
        _cleanup_free_ char *text = NULL;
        if (a->rec && send_record(a, &text) < 0)
                log_warning("Cannot update the record %s/%s.json: out of memory", a->store, a->e->stem);
        settle(a, text);
        if (all_targets_done(a)) {
                attempt_succeeded(a);
                return 1;
        }
        if (!first_failure(a, true))
                snprintf(a->error, sizeof(a->error), "not every Upload= target confirmed the core and its record");
        attempt_failed(a);
        return 0;
}

/* UploadRetryFor= / UploadRetryAttempts= are spent: the core stays, its record says so. */
static void give_up(struct attempt *a) {
        char what[1024], err[PENDING_ERROR_MAX * 4];
        (void) upload_record_load(a->dirfd, a->e->stem, &a->rec);
        describe_core(a, what, sizeof(what));
        snprintf(a->error, sizeof(a->error), "gave up after %u attempt(s): %s", a->e->attempts, a->e->last_error);
        _cleanup_free_ char *text = NULL;
        if (a->rec && upload_record_update(a->rec, NULL, 0, a->now, a->error, &text) >= 0)
                (void) upload_record_replace(a->dirfd, a->e->stem, text);
        (void) pending_remove(a->qfd, a->e->stem);
        escape_for_log(a->e->last_error, strlen(a->e->last_error), err, sizeof(err));
        report(a, LOG_ERR, false,
               "%s upload_error=\"%s\": no more attempts after %u (UploadRetryFor=, UploadRetryAttempts=); the core "
               "stays in the store",
               what, err, a->e->attempts);
}

/* The entry file name, for one that is unreadable or not what its name says. */
static void drop_entry(int qfd, const char *store, const char *name, const char *why, struct uploader_stats *st) {
        char esc[sizeof(pending_name) * 4];
        escape_for_log(name, strlen(name), esc, sizeof(esc));
        log_warning("Removing the upload entry %s/%s/%s: %s", store, PENDING_DIR, esc, why);
        (void) unlinkat(qfd, name, 0);
        st->dropped++;
}

static void note_waiting(struct uploader_stats *st, uint64_t next) {
        st->waiting++;
        if (st->next_usec == 0 || next < st->next_usec)
                st->next_usec = next;
}

static void drain_entry(struct attempt *a, const char *name, struct uploader_stats *st) {
        char expected[sizeof(pending_name)];
        int r = pending_load(a->qfd, name, a->e);
        if (r == -EBADMSG || r == -EBADFD || r == -ELOOP) {
                /* Not one we wrote: planted, or left by another program. */
                drop_entry(a->qfd, a->store, name, r == -EBADMSG ? "not a valid entry" : strerror(-r), st);
                return;
        }
        if (r < 0) {
                log_warning_errno(r, "Cannot read the upload entry %s/%s/%s", a->store, PENDING_DIR, name);
                st->failed++;
                return;
        }
        snprintf(expected, sizeof(expected), "%s%s", a->e->stem, PENDING_SUFFIX);
        if (strcmp(expected, name) != 0) {
                drop_entry(a->qfd, a->store, name, "its name is not its core's", st);
                return;
        }
        a->now = now_realtime_usec();
        switch (pending_entry_action(a->e, &a->s->upload, a->now)) {
        case PENDING_WAIT:
                note_waiting(st, a->e->next_usec);
                return;
        case PENDING_GIVE_UP:
                give_up(a);
                st->given_up++;
                return;
        case PENDING_DUE:
                break;
        }
        r = attempt_run(a);
        if (r == -ENOENT) {
                log_warning("Core %s/%s is gone (removed before it was uploaded): its upload is dropped", a->store,
                            a->e->core);
                (void) pending_remove(a->qfd, a->e->stem);
                st->dropped++;
        } else if (r > 0)
                st->uploaded++;
        else {
                st->failed++;
                note_waiting(st, a->e->next_usec);
        }
}

int uploader_drain(int dirfd, const char *store, const struct receiver_settings *s, bool wait, bool host_log,
                   struct uploader_stats *stats) {
        _cleanup_close_ int qfd = pending_open_dir(dirfd);
        if (qfd < 0)
                return log_error_errno(qfd, "Cannot use the upload queue %s/%s", store, PENDING_DIR);
        _cleanup_close_ int lock = pending_lock(qfd, wait);
        if (lock == -EWOULDBLOCK) {
                stats->busy = true;
                return 0;
        }
        if (lock < 0)
                return log_error_errno(lock, "Cannot lock the upload queue %s/%s", store, PENDING_DIR);
        _cleanup_free_ pending_name *names = NULL;
        size_t n = 0;
        int r = pending_list(qfd, &names, &n);
        if (r < 0)
                return log_error_errno(r, "Cannot read the upload queue %s/%s", store, PENDING_DIR);
        _cleanup_free_ struct pending_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return log_error_errno(-ENOMEM, "Cannot drain the upload queue %s/%s", store, PENDING_DIR);
        for (size_t i = 0; i < n; i++) {
                struct attempt a = {.dirfd = dirfd, .qfd = qfd, .store = store, .s = s, .host_log = host_log, .e = e};
                drain_entry(&a, names[i], stats);
                attempt_done(&a);
        }
        if (n == PENDING_LIST_MAX) {
                /* A pass takes that many: the rest are due at once, for the next pass. */
                log_info("The upload queue %s/%s holds more than %d entries: the others in the next pass", store,
                         PENDING_DIR, PENDING_LIST_MAX);
                note_waiting(stats, now_realtime_usec());
        }
        return 0;
}

bool uploader_has_due(int dirfd, const struct receiver_settings *s) {
        _cleanup_close_ int qfd = pending_open_dir(dirfd);
        _cleanup_free_ pending_name *names = NULL;
        _cleanup_free_ struct pending_entry *e = calloc(1, sizeof(*e));
        size_t n = 0;
        if (qfd < 0 || !e || pending_list(qfd, &names, &n) < 0)
                return false;
        uint64_t now = now_realtime_usec();
        for (size_t i = 0; i < n; i++)
                if (pending_load(qfd, names[i], e) >= 0 && pending_entry_action(e, &s->upload, now) != PENDING_WAIT)
                        return true;
        return false;
}

int uploader_drain_now(int dirfd, const char *store, const struct receiver_settings *s, bool host_log,
                       struct uploader_stats *stats) {
        for (unsigned pass = 0; pass < DRAIN_PASSES_MAX; pass++) {
                int r = uploader_drain(dirfd, store, s, false, host_log, stats);
                /* Busy: the holder looks again after it lets go (this is that look). */
                if (r < 0 || stats->busy || !uploader_has_due(dirfd, s))
                        return r;
        }
        return 0;
}

uint64_t uploader_period_usec(const struct receiver_settings *s) {
        return MIN(MAX(s->upload.retry_delay_usec, USEC_PER_SEC), 60 * USEC_PER_SEC);
}

static _Noreturn void uploader_child(const struct receiver_settings *s) {
        char note[512];
        struct uploader_stats st = {0};
        /* Crashes keep priority: the uploader takes the CPU and the disk they leave. SCHED_IDLE
         * runs it only on a CPU nothing else wants (a crash that comes during an upload is not
         * slowed by it), and still lets it move: it is never starved outright. Nice 10 where
         * SCHED_IDLE is refused (its threads inherit either). */
        (void) setpriority(PRIO_PROCESS, 0, 10);
        (void) sched_setscheduler(0, SCHED_IDLE, &(struct sched_param){0});
        (void) syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, 3 << 13 /* IOPRIO_CLASS_IDLE */);
        int dirfd = open_store_dir(s->store, note, sizeof(note));
        if (dirfd < 0) {
                log_error_errno(dirfd, "Cannot open the store %s to upload its cores%s%s", s->store,
                                note[0] ? ": " : "", note);
                _exit(1);
        }
        int r = uploader_drain(dirfd, s->store, s, true, false, &st);
        _exit(r < 0 || st.waiting > 0 ? 1 : 0);
}

int uploader_fork(const struct receiver_settings *s, const int *close_fds, size_t n_close, const sigset_t *mask,
                  pid_t *ret_pid) {
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(negative_errno(), "Cannot fork the uploader; trying again later");
        if (pid == 0) {
                for (size_t i = 0; i < n_close; i++)
                        safe_close(close_fds[i]);
                sigprocmask(SIG_SETMASK, mask, NULL);
                uploader_child(s);
        }
        *ret_pid = pid;
        return 0;
}
