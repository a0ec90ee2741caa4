/* SPDX-License-Identifier: MIT */
#include "recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "fdio.h"
#include "journal.h"
#include "jsontext.h"
#include "log.h"
#include "macro.h"
#include "store.h"
#include "vacuum.h"

#define RECOVER_SWEEP_MAX 4096

void (*recover_finalised_hook)(int dirfd, const char *store_path, const char *stem, const char *core_name) = NULL;
#define RECOVER_FIELD_MAX 65536

char *recover_marker_new(const struct core_metadata *m, const struct record_info *info) {
        _cleanup_free_ char *text = record_to_json(m, info);
        if (!text)
                return NULL;
        _cleanup_(json_putp) struct json_object *o = json_tokener_parse(text);
        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        json_object_object_add(o, "receiver_pid", json_object_new_int64(getpid()));
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        return s ? strdup(s) : NULL;
}

void recover_marker_done(struct recover_marker *m) {
        json_putp(&m->record);
        m->record = NULL;
        core_metadata_done(&m->md);
}

/* An unsigned integer field: absent is fine (*v unchanged), of another type or out of range not. */
static int get_uint(struct json_object *o, const char *key, uint64_t max, uint64_t *v) {
        struct json_object *f;
        if (!json_object_object_get_ex(o, key, &f))
                return 0;
        if (!json_object_is_type(f, json_type_int))
                return -EBADMSG;
        errno = 0;
        uint64_t x = json_object_get_uint64(f);
        if (errno != 0 || json_object_get_int64(f) < 0 || x > max)
                return -EBADMSG;
        *v = x;
        return 0;
}

/* A string field into a new C string: absent gives NULL; a NUL inside or more than max bytes is
 * refused. */
static int get_string(struct json_object *o, const char *key, size_t max, char **ret) {
        struct json_object *f;
        *ret = NULL;
        if (!json_object_object_get_ex(o, key, &f))
                return 0;
        if (!json_object_is_type(f, json_type_string))
                return -EBADMSG;
        int len = json_object_get_string_len(f);
        const char *s = json_object_get_string(f);
        if (len < 0 || (size_t) len > max || strlen(s) != (size_t) len)
                return -EBADMSG;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

/* A string field into a fixed buffer. */
static int get_fixed(struct json_object *o, const char *key, char *buf, size_t size) {
        _cleanup_free_ char *s = NULL;
        int r = get_string(o, key, size - 1, &s);
        if (r >= 0 && s)
                memcpy(buf, s, strlen(s) + 1);
        return r;
}

static int parse_ids(struct json_object *o, struct recover_marker *m) {
        uint64_t pid = 0, uid = 0, gid = 0, sig = 0, rpid = 0, dump_time = 0, received = 0, limit = UINT64_MAX;
        struct json_object *f;
        int r = 0;
        r = r < 0 ? r : get_uint(o, "pid", INT32_MAX, &pid);
        r = r < 0 ? r : get_uint(o, "uid", UINT32_MAX - 1, &uid);
        r = r < 0 ? r : get_uint(o, "gid", UINT32_MAX - 1, &gid);
        r = r < 0 ? r : get_uint(o, "signal", 255, &sig);
        r = r < 0 ? r : get_uint(o, "receiver_pid", INT32_MAX, &rpid);
        r = r < 0 ? r : get_uint(o, "dump_time", UINT64_MAX, &dump_time);
        r = r < 0 ? r : get_uint(o, "received_usec", UINT64_MAX, &received);
        /* "rlimit_core": a number, or "infinity" (the default here). */
        if (r >= 0 && json_object_object_get_ex(o, "rlimit_core", &f) && !json_object_is_type(f, json_type_string))
                r = get_uint(o, "rlimit_core", UINT64_MAX, &limit);
        if (r < 0)
                return r;
        m->md.pid = (pid_t) pid;
        m->md.uid = (uid_t) uid;
        m->md.gid = (gid_t) gid;
        m->md.signal = (uint32_t) sig;
        m->md.dump_time = dump_time;
        m->md.received_usec = received;
        m->md.core_limit = limit;
        m->receiver_pid = (pid_t) rpid;
        return 0;
}

static int parse_texts(struct json_object *o, struct recover_marker *m) {
        int r = get_fixed(o, "comm", m->md.comm, sizeof(m->md.comm));
        r = r < 0 ? r : get_fixed(o, "hostname", m->md.hostname, sizeof(m->md.hostname));
        r = r < 0 ? r : get_fixed(o, "boot_id", m->md.boot_id, sizeof(m->md.boot_id));
        r = r < 0 ? r : get_string(o, "exe", RECOVER_FIELD_MAX, &m->md.exe);
        r = r < 0 ? r : get_string(o, "cwd", RECOVER_FIELD_MAX, &m->md.cwd);
        r = r < 0 ? r : get_string(o, "cgroup", RECOVER_FIELD_MAX, &m->md.cgroup);
        return r;
}

int recover_marker_parse(const char *text, size_t len, struct recover_marker *ret) {
        if (len == 0 || len > RECOVER_MARKER_MAX)
                return -EBADMSG;
        /* One object and nothing after it but white space (the writer ends it so). */
        _cleanup_(json_putp) struct json_object *o = NULL;
        int r = json_object_from_text(text, len, 16, &o);
        if (r < 0)
                return r;
        uint64_t format = 0;
        struct json_object *f;
        if (get_uint(o, "format", UINT32_MAX, &format) < 0 || format != 1 ||
            !json_object_object_get_ex(o, "compression", &f) || !json_object_is_type(f, json_type_string))
                return -EBADMSG;
        const char *compression = json_object_get_string(f);
        if (strcmp(compression, "zstd") != 0 && strcmp(compression, "none") != 0)
                return -EBADMSG;
        struct recover_marker m = {.compressed = compression[0] == 'z'};
        r = parse_ids(o, &m);
        if (r >= 0)
                r = parse_texts(o, &m);
        if (r < 0) {
                recover_marker_done(&m);
                return r == -ENOMEM ? r : -EBADMSG;
        }
        m.record = TAKE_PTR(o);
        *ret = m;
        return 0;
}

static void dctx_freep(ZSTD_DCtx **d) {
        ZSTD_freeDCtx(*d);
}

/* Decodes in (whose first byte is at file offset base) into out, shown to head; each frame that
 * ends in it moves *keep and *core_size. Returns 1 to go on, 0 at the first bad frame. */
static int zstd_cut_feed(ZSTD_DCtx *d, const void *in, size_t len, uint64_t base, void *out, size_t out_size,
                         struct core_head *head, uint64_t *frame_out, uint64_t *keep, uint64_t *core_size) {
        ZSTD_inBuffer input = {in, len, 0};
        while (input.pos < input.size) {
                ZSTD_outBuffer output = {out, out_size, 0};
                size_t k = ZSTD_decompressStream(d, &output, &input);
                if (ZSTD_isError(k))
                        return 0;
                if (head && output.pos > 0)
                        core_head_observe(head, *core_size + *frame_out, out, output.pos);
                *frame_out += output.pos;
                if (k == 0) { /* a frame ends here, decoded, its checksum verified */
                        *keep = base + input.pos;
                        *core_size += *frame_out;
                        *frame_out = 0;
                }
        }
        return 1;
}

int recover_zstd_cut(int fd, uint64_t size, struct core_head *head, uint64_t *ret_keep, uint64_t *ret_core_size) {
        _cleanup_(dctx_freep) ZSTD_DCtx *d = ZSTD_createDCtx();
        size_t in_size = ZSTD_DStreamInSize(), out_size = ZSTD_DStreamOutSize();
        _cleanup_free_ void *in = malloc(in_size);
        _cleanup_free_ void *out = malloc(out_size);
        uint64_t off = 0, keep = 0, core_size = 0, frame_out = 0;
        if (!d || !in || !out)
                return -ENOMEM;
        if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, RECOVER_WINDOW_LOG_MAX)))
                return -EINVAL;
        while (off < size) {
                size_t n;
                int r = pread_full(fd, in, (size_t) MIN((uint64_t) in_size, size - off), off, &n);
                if (r < 0)
                        return r;
                if (n == 0)
                        break;
                if (!zstd_cut_feed(d, in, n, off, out, out_size, head, &frame_out, &keep, &core_size))
                        break;
                off += n;
        }
        *ret_keep = keep;
        *ret_core_size = core_size;
        return 0;
}

void recover_cause_from_status(int wait_status, char *buf, size_t size) {
        if (WIFSIGNALED(wait_status)) {
                const char *name = sigabbrev_np(WTERMSIG(wait_status));
                snprintf(buf, size, "the receiver was killed by signal %d (SIG%s)", WTERMSIG(wait_status),
                         name ? name : "?");
        } else if (WIFEXITED(wait_status))
                snprintf(buf, size, "the receiver exited with status %d before the core was stored",
                         WEXITSTATUS(wait_status));
        else
                snprintf(buf, size, "the receiver ended before the core was stored (wait status %#x)",
                         (unsigned) wait_status);
}

bool recover_cause_from_systemd(const char *exit_code, const char *exit_status, char *buf, size_t size) {
        if (!exit_code || !exit_status || strlen(exit_status) > 16 ||
            strspn(exit_status, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+") != strlen(exit_status))
                return false;
        if (strcmp(exit_code, "killed") == 0 || strcmp(exit_code, "dumped") == 0) {
                int sig = 0;
                for (int s = 1; s < NSIG && sig == 0; s++)
                        if (sigabbrev_np(s) && strcmp(sigabbrev_np(s), exit_status) == 0)
                                sig = s;
                snprintf(buf, size, "the receiver was killed by signal %d (SIG%s)", sig, exit_status);
                return sig > 0;
        }
        if (strcmp(exit_code, "exited") == 0 && strcmp(exit_status, "0") != 0) {
                snprintf(buf, size, "the receiver exited with status %s before the core was stored", exit_status);
                return true;
        }
        return false;
}

int recover_lock(int fd) {
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
                return errno == EAGAIN || errno == EACCES ? -EBUSY : negative_errno();
        return 0;
}

/* Gives the unnamed file fd the name name in dirfd; never replaces anything (-EEXIST). */
static int link_unnamed(int dirfd, int fd, const char *name) {
        if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) >= 0)
                return 0;
        if (errno == EEXIST)
                return -EEXIST;
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW) < 0)
                return negative_errno();
        return 0;
}

/* The marker, locked before it has its name (no finaliser can take it first), then named. */
static int marker_create(int dirfd, const char *name, const char *text) {
        bool named = false;
        _cleanup_close_ int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
                fd = openat(dirfd, name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0600);
                named = true;
        }
        if (fd < 0)
                return negative_errno();
        int r = recover_lock(fd);
        if (r >= 0)
                r = write_full(fd, text, strlen(text));
        if (r >= 0 && !named)
                r = link_unnamed(dirfd, fd, name);
        if (r < 0) {
                if (named && r != -EBUSY)
                        (void) unlinkat(dirfd, name, 0);
                return r;
        }
        return TAKE_FD(fd);
}

int recover_begin(int dirfd, const char *stem, const char *marker, struct recover_writer *ret) {
        struct recover_writer w = RECOVER_WRITER_INIT;
        if (strlen(stem) >= CORE_STEM_MAX)
                return -ENAMETOOLONG;
        snprintf(w.marker_name, sizeof(w.marker_name), RECOVER_PREFIX "%s" RECOVER_MARKER_SUFFIX, stem);
        snprintf(w.core_name, sizeof(w.core_name), RECOVER_PREFIX "%s" RECOVER_CORE_SUFFIX, stem);
        w.marker_fd = marker_create(dirfd, w.marker_name, marker);
        if (w.marker_fd < 0)
                return w.marker_fd;
        w.core_fd = openat(dirfd, w.core_name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (w.core_fd < 0) {
                int r = negative_errno();
                (void) unlinkat(dirfd, w.marker_name, 0);
                safe_close(w.marker_fd);
                return r;
        }
        *ret = w;
        return 0;
}

void recover_end(int dirfd, struct recover_writer *w) {
        if (w->marker_fd < 0)
                return;
        (void) unlinkat(dirfd, w->marker_name, 0);
        w->marker_fd = safe_close(w->marker_fd);
}

void recover_abort(int dirfd, struct recover_writer *w) {
        if (w->marker_fd < 0)
                return;
        (void) unlinkat(dirfd, w->core_name, 0);
        recover_end(dirfd, w);
}

/* An in-progress file for reading and writing, only if it is a regular file of our euid with one
 * link: -ELOOP for a link, -EBADFD for anything else that is not ours. */
static int open_own(int dirfd, const char *name, struct stat *ret_st) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ENXIO || errno == EISDIR || errno == EACCES || errno == EWOULDBLOCK ? -EBADFD
                                                                                                    : negative_errno();
        if (fstat(fd, ret_st) < 0)
                return negative_errno();
        if (!S_ISREG(ret_st->st_mode) || ret_st->st_uid != geteuid() || ret_st->st_nlink != 1)
                return -EBADFD;
        return TAKE_FD(fd);
}

static bool valid_stem(const char *s, size_t len) {
        if (len < 6 || len >= CORE_STEM_MAX || strncmp(s, "core.", 5) != 0)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.", s[i]) || s[i] == '\0')
                        return false;
        return true;
}

/* One dead writer's leftover, from its marker to its record. */
struct leftover {
        int dirfd;
        const char *store_path;
        char stem[CORE_STEM_MAX];
        char marker_name[CORE_STEM_MAX + 32], core_name[CORE_STEM_MAX + 32], final_name[CORE_STEM_MAX + 8];
        struct recover_marker m;
        struct store_result res;
        bool linked;
        bool whole;        /* core_size reached the expected size */
        uint64_t expected; /* from the program headers; 0: unknown */
        const char *cause;
};

/* A raw core's start, shown to head until its program headers are in (at most 1 MiB). */
static int raw_head(int fd, uint64_t size, struct core_head *head) {
        uint8_t buf[16384];
        for (uint64_t off = 0; head && off < MIN(size, (uint64_t) 1 << 20) && core_head_expected_size(head) == 0;) {
                size_t n;
                int r = pread_full(fd, buf, (size_t) MIN((uint64_t) sizeof(buf), size - off), off, &n);
                if (r < 0)
                        return r;
                if (n == 0)
                        break;
                core_head_observe(head, off, buf, n);
                off += n;
        }
        return 0;
}

/* The core as far as it is whole, under its final name: cut at the last whole frame (raw: all
 * of it). Without one whole frame (or without a core file) nothing is linked. */
static int keep_core(struct leftover *l) {
        struct stat st;
        uint64_t keep, core_size;
        _cleanup_close_ int fd = open_own(l->dirfd, l->core_name, &st);
        /* Renamed into place already: its receiver died before it wrote the record. */
        bool in_place = fd == -ENOENT && (fd = open_own(l->dirfd, l->final_name, &st)) >= 0;
        if (fd == -ENOENT)
                return 0;
        if (fd < 0) {
                (void) unlinkat(l->dirfd, l->core_name, 0); /* not ours to read: a stray */
                return 0;
        }
        _cleanup_core_head_ struct core_head *head = NULL;
        (void) core_head_new(&head); /* without it, the core cannot be known whole */
        int r = 0;
        if (l->m.compressed)
                r = recover_zstd_cut(fd, (uint64_t) st.st_size, head, &keep, &core_size);
        else {
                keep = core_size = (uint64_t) st.st_size;
                r = raw_head(fd, keep, head);
        }
        if (r < 0)
                return r;
        l->expected = head ? core_head_expected_size(head) : 0;
        if (keep == 0) {
                (void) unlinkat(l->dirfd, l->core_name, 0);
                return 0;
        }
        if ((keep < (uint64_t) st.st_size && ftruncate(fd, (off_t) keep) < 0) || fsync(fd) < 0)
                return negative_errno();
        if (!in_place &&
            (renameat2(l->dirfd, l->core_name, l->dirfd, l->final_name, RENAME_NOREPLACE) < 0 || fsync(l->dirfd) < 0))
                return negative_errno();
        l->linked = true;
        /* All that the program headers say the core has was written: it is whole, though its
         * receiver died before it could say so. */
        l->whole = l->expected > 0 && core_size >= l->expected;
        l->res = (struct store_result){
                .core_size = core_size,
                .read_size = core_size,
                .stored_size = keep,
                .truncated = !l->whole,
                .truncated_reason = l->whole ? NULL : RECOVER_REASON,
        };
        return 0;
}

/* The record the writer would have written, from its marker, saying what happened. */
static int write_record(struct leftover *l) {
        struct json_object *o = l->m.record;
        if (l->linked)
                json_object_object_add(o, "core_file", json_object_new_string(l->final_name));
        else
                json_object_object_del(o, "core_file");
        json_object_object_add(o, "core_size", json_object_new_uint64(l->res.core_size));
        json_object_object_add(o, "stored_size", json_object_new_uint64(l->res.stored_size));
        json_object_object_add(o, "read_size", json_object_new_uint64(l->res.read_size));
        if (l->expected > 0)
                json_object_object_add(o, "core_expected_size", json_object_new_uint64(l->expected));
        json_object_object_add(o, "truncated", json_object_new_boolean(!l->whole));
        if (l->whole) {
                json_object_object_del(o, "truncated_reason");
                json_object_object_del(o, "truncated_cause");
                json_object_object_add(o, "receiver_died", json_object_new_string(l->cause));
        } else {
                json_object_object_add(o, "truncated_reason", json_object_new_string(RECOVER_REASON));
                json_object_object_add(o, "truncated_cause", json_object_new_string(l->cause));
        }
        json_object_object_add(o, "finalised_by_pid", json_object_new_int64(getpid()));
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        char name[CORE_STEM_MAX + 8];
        snprintf(name, sizeof(name), "%s.json", l->stem);
        return store_file_atomic(l->dirfd, name, text, strlen(text));
}

/* A field of the journal entry unless journal.c has given it already. */
static void add_field(struct journal_fields *f, const char *name, const char *value) {
        size_t n = strlen(name);
        for (size_t i = 0; i < f->n; i++)
                if (f->iov[i].iov_len > n && memcmp(f->iov[i].iov_base, name, n) == 0 &&
                    ((char *) f->iov[i].iov_base)[n] == '=')
                        return;
        char *s;
        if (f->n >= JOURNAL_FIELDS_MAX || asprintf(&s, "%s=%s", name, value) < 0)
                return;
        f->iov[f->n++] = (struct iovec){.iov_base = s, .iov_len = strlen(s)};
}

/* The crash's line, or journal entry, as for any stored core. */
static void report_leftover(const struct leftover *l) {
        char msg[1024], path[4096], expected[64] = "";
        const char *sig = signal_name(l->m.md.signal);
        snprintf(path, sizeof(path), "%s/%s", l->store_path, l->final_name);
        if (l->expected > 0)
                snprintf(expected, sizeof(expected), " of %llu", (unsigned long long) l->expected);
        snprintf(msg, sizeof(msg),
                 "Process %d (%s) of user %u crashed with signal %u (SIG%s); its receiver died while storing the core, "
                 "%s; %s%s (%llu%s bytes, %llu stored%s)",
                 (int) l->m.md.pid, l->m.md.comm, (unsigned) l->m.md.uid, l->m.md.signal, sig ? sig : "?", l->cause,
                 !l->linked ? "nothing whole was written, record only"
                 : l->whole ? "the core was whole, stored as "
                            : "kept what was whole as ",
                 l->linked ? path : "", (unsigned long long) l->res.core_size, expected,
                 (unsigned long long) l->res.stored_size, l->whole ? "" : ", truncated: " RECOVER_REASON);
        struct journal_fields f;
        if (log_get_target() == LOG_TARGET_JOURNAL && journal_crash_fields(LOG_CRIT, &l->m.md, l->linked ? path : NULL,
                                                                           l->linked ? &l->res : NULL, msg, &f) >= 0) {
                if (!l->whole) {
                        add_field(&f, "COREDUMP_TRUNCATED", "1");
                        add_field(&f, "COREDUMP_TRUNCATED_REASON", RECOVER_REASON);
                        add_field(&f, "COREDUMP_TRUNCATED_CAUSE", l->cause);
                }
                int r = journal_fields_send(&f);
                journal_fields_done(&f);
                if (r >= 0)
                        return;
        }
        log_msg(LOG_WARNING, "%s", msg);
}

static const char *cause_for(pid_t writer, const struct recover_death *deaths, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (deaths[i].pid == 0 || (writer > 0 && deaths[i].pid == writer))
                        return deaths[i].cause;
        return "the receiver ended before the core was stored (how is not known)";
}

/* The marker's text, read whole (its size was checked: at most RECOVER_MARKER_MAX). */
static int read_marker(int fd, size_t size, struct recover_marker *ret) {
        _cleanup_free_ char *text = malloc(size + 1);
        if (!text)
                return -ENOMEM;
        ssize_t n = pread(fd, text, size, 0);
        if (n < 0)
                return negative_errno();
        return recover_marker_parse(text, (size_t) n, ret);
}

/* Removes a leftover that cannot be finalised: core first, then the marker. */
static void remove_leftover(struct leftover *l, const char *why, struct recover_stats *st) {
        log_warning("Removing in-progress files %s/%s%s.*: %s", l->store_path, RECOVER_PREFIX, l->stem, why);
        (void) unlinkat(l->dirfd, l->core_name, 0);
        (void) unlinkat(l->dirfd, l->marker_name, 0);
        st->removed++;
}

/* Finalises the leftover of stem, unless its writer lives (its marker is locked). */
static int finalise_one(struct leftover *l, const struct recover_death *deaths, size_t n, struct recover_stats *st) {
        struct stat mst, now;
        snprintf(l->marker_name, sizeof(l->marker_name), RECOVER_PREFIX "%s" RECOVER_MARKER_SUFFIX, l->stem);
        snprintf(l->core_name, sizeof(l->core_name), RECOVER_PREFIX "%s" RECOVER_CORE_SUFFIX, l->stem);
        _cleanup_close_ int mfd = open_own(l->dirfd, l->marker_name, &mst);
        if (mfd == -ENOENT)
                return 0;
        if (mfd == -ELOOP || mfd == -EBADFD || (mfd >= 0 && (uint64_t) mst.st_size > RECOVER_MARKER_MAX)) {
                remove_leftover(l, "its marker is not a file of ours, or too large", st);
                return 0;
        }
        if (mfd < 0)
                return mfd;
        int r = recover_lock(mfd);
        if (r == -EBUSY) {
                st->busy++;
                return 0;
        }
        /* Locked: ours now, unless another finaliser was done with it before we opened it. */
        if (r < 0 || fstatat(l->dirfd, l->marker_name, &now, AT_SYMLINK_NOFOLLOW) < 0 || now.st_ino != mst.st_ino ||
            now.st_dev != mst.st_dev)
                return r < 0 ? r : 0;
        r = read_marker(mfd, (size_t) mst.st_size, &l->m);
        if (r == -EBADMSG) {
                remove_leftover(l, "its marker is not a valid record", st);
                return 0;
        }
        if (r < 0)
                return r;
        snprintf(l->final_name, sizeof(l->final_name), "%s%s", l->stem, l->m.compressed ? ".zst" : "");
        char record_name[CORE_STEM_MAX + 8];
        snprintf(record_name, sizeof(record_name), "%s.json", l->stem);
        if (fstatat(l->dirfd, record_name, &now, AT_SYMLINK_NOFOLLOW) == 0) {
                /* Its receiver wrote the core and its record, then died before removing this. */
                (void) unlinkat(l->dirfd, l->marker_name, 0);
                if (recover_finalised_hook)
                        recover_finalised_hook(l->dirfd, l->store_path, l->stem, l->final_name);
                return 0;
        }
        l->cause = cause_for(l->m.receiver_pid, deaths, n);
        r = keep_core(l);
        if (r >= 0)
                r = write_record(l);
        if (r < 0)
                return r;
        report_leftover(l);
        (void) unlinkat(l->dirfd, l->marker_name, 0);
        if (recover_finalised_hook && l->linked)
                recover_finalised_hook(l->dirfd, l->store_path, l->stem, l->final_name);
        st->finalised++;
        return 0;
}

/* The stems of the in-progress files in dirfd (markers first), and the core files without one. */
struct sweep_names {
        char (*stem)[CORE_STEM_MAX];
        bool *is_marker;
        size_t n;
};

static int sweep_list(int dirfd, struct sweep_names *ret) {
        int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        DIR *d = fdopendir(dfd);
        if (!d) {
                safe_close(dfd);
                return -ENOMEM;
        }
        struct sweep_names s = {calloc(RECOVER_SWEEP_MAX, CORE_STEM_MAX), calloc(RECOVER_SWEEP_MAX, sizeof(bool)), 0};
        struct dirent *de;
        while (s.stem && s.is_marker && s.n < RECOVER_SWEEP_MAX && (de = readdir(d))) {
                const char *name = de->d_name;
                size_t len = strlen(name), plen = strlen(RECOVER_PREFIX), slen = strlen(RECOVER_MARKER_SUFFIX);
                if (len <= plen + slen || strncmp(name, RECOVER_PREFIX, plen) != 0)
                        continue;
                bool marker = strcmp(name + len - slen, RECOVER_MARKER_SUFFIX) == 0;
                if (!marker && strcmp(name + len - strlen(RECOVER_CORE_SUFFIX), RECOVER_CORE_SUFFIX) != 0)
                        continue;
                size_t stem_len = len - plen - (marker ? slen : strlen(RECOVER_CORE_SUFFIX));
                if (!valid_stem(name + plen, stem_len))
                        continue;
                memcpy(s.stem[s.n], name + plen, stem_len);
                s.stem[s.n][stem_len] = '\0';
                s.is_marker[s.n++] = marker;
        }
        closedir(d);
        if (!s.stem || !s.is_marker) {
                free(s.stem);
                free(s.is_marker);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

/* Records made again by a writer that died before renaming them (RECOVER_RECORD_PREFIX): under
 * the store's lock, no live writer has one. */
static void sweep_records(int dirfd, const char *store_path, struct recover_stats *st) {
        _cleanup_close_ int lock = store_lock(dirfd);
        int dfd = lock < 0 ? -EBADF : openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
        if (!d) {
                safe_close(dfd);
                return;
        }
        struct dirent *de;
        size_t plen = strlen(RECOVER_RECORD_PREFIX);
        while ((de = readdir(d)))
                if (strncmp(de->d_name, RECOVER_RECORD_PREFIX, plen) == 0 && de->d_name[plen] != '\0' &&
                    unlinkat(dirfd, de->d_name, 0) >= 0) {
                        log_warning("Removed %s/%s: a record its dead writer did not put in place", store_path,
                                    de->d_name);
                        st->removed++;
                }
        closedir(d);
}

int recover_store(int dirfd, const char *store_path, const struct recover_death *deaths, size_t n_deaths,
                  struct recover_stats *ret) {
        struct sweep_names s;
        struct recover_stats st = {0};
        int r = sweep_list(dirfd, &s), first_error = 0;
        if (r < 0)
                return r;
        for (size_t i = 0; i < s.n; i++) {
                struct leftover l = {.dirfd = dirfd, .store_path = store_path};
                if (!s.is_marker[i])
                        continue;
                memcpy(l.stem, s.stem[i], sizeof(l.stem));
                r = finalise_one(&l, deaths, n_deaths, &st);
                recover_marker_done(&l.m);
                if (r < 0) {
                        log_error_errno(r, "Cannot finalise the partial core %s/%s%s" RECOVER_CORE_SUFFIX, store_path,
                                        RECOVER_PREFIX, l.stem);
                        first_error = first_error ? first_error : r;
                }
        }
        /* A core file whose marker is gone belongs to no writer: a writer names its marker first
         * and removes it last. */
        for (size_t i = 0; i < s.n; i++) {
                char name[CORE_STEM_MAX + 32];
                struct stat sb;
                if (s.is_marker[i])
                        continue;
                snprintf(name, sizeof(name), RECOVER_PREFIX "%s" RECOVER_MARKER_SUFFIX, s.stem[i]);
                if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) >= 0 || errno != ENOENT)
                        continue;
                snprintf(name, sizeof(name), RECOVER_PREFIX "%s" RECOVER_CORE_SUFFIX, s.stem[i]);
                if (unlinkat(dirfd, name, 0) >= 0) {
                        log_warning("Removed %s/%s: an in-progress core without its marker", store_path, name);
                        st.removed++;
                }
        }
        free(s.stem);
        free(s.is_marker);
        sweep_records(dirfd, store_path, &st);
        if (ret)
                *ret = st;
        return first_error;
}
