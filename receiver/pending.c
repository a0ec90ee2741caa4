/* SPDX-License-Identifier: MIT */
#include "pending.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "jsontext.h"
#include "macro.h"

/* A core's stem as core_file_stem() makes it: "core." then [A-Za-z0-9_+.-], no "..". The
 * uploader opens <stem>, <stem>.zst and <stem>.json in the store: never anything else. */
static bool valid_stem(const char *s) {
        size_t n = strlen(s);
        if (n <= 5 || n >= CORE_STEM_MAX || strncmp(s, "core.", 5) != 0 || strstr(s, ".."))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '+' || c == '-' || c == '.'))
                        return false;
        }
        return s[n - 1] != '.';
}

static bool valid_core_name(const char *core, const char *stem) {
        size_t n = strlen(stem);
        return valid_stem(stem) && strncmp(core, stem, n) == 0 && (core[n] == '\0' || strcmp(core + n, ".zst") == 0);
}

int pending_entry_init(struct pending_entry *e, const char *core, const char *stem, uint64_t now_usec) {
        if (strlen(core) >= sizeof(e->core) || !valid_core_name(core, stem))
                return -EINVAL;
        *e = (struct pending_entry){.created_usec = now_usec, .next_usec = now_usec};
        snprintf(e->core, sizeof(e->core), "%s", core);
        snprintf(e->stem, sizeof(e->stem), "%s", stem);
        return 0;
}

bool pending_entry_done(const struct pending_entry *e, const char *url) {
        for (size_t i = 0; i < e->n_done; i++)
                if (strcmp(e->done[i], url) == 0)
                        return true;
        return false;
}

int pending_entry_mark_done(struct pending_entry *e, const char *url) {
        if (pending_entry_done(e, url))
                return 0;
        if (e->n_done >= UPLOAD_URLS_MAX || strlen(url) >= UPLOAD_URL_MAX)
                return -E2BIG;
        snprintf(e->done[e->n_done++], UPLOAD_URL_MAX, "%s", url);
        return 0;
}

char *pending_entry_to_json(const struct pending_entry *e) {
        _cleanup_(json_putp) struct json_object *o = json_object_new_object();
        struct json_object *done = json_object_new_array();
        if (!o || !done) {
                json_putp(&done);
                return NULL;
        }
        json_object_object_add(o, "format", json_object_new_int(1));
        json_object_object_add(o, "core", json_object_new_string(e->core));
        json_object_object_add(o, "stem", json_object_new_string(e->stem));
        json_object_object_add(o, "created_usec", json_object_new_uint64(e->created_usec));
        json_object_object_add(o, "attempts", json_object_new_uint64(e->attempts));
        json_object_object_add(o, "next_usec", json_object_new_uint64(e->next_usec));
        json_object_object_add(o, "last_error", json_object_new_string(e->last_error));
        for (size_t i = 0; i < e->n_done; i++)
                json_object_array_add(done, json_object_new_string(e->done[i]));
        json_object_object_add(o, "done", done);
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        return text ? strdup(text) : NULL;
}

/* A required unsigned integer field, at most max. */
static int get_uint(struct json_object *o, const char *key, uint64_t max, uint64_t *ret) {
        struct json_object *f;
        if (!json_object_object_get_ex(o, key, &f) || !json_object_is_type(f, json_type_int))
                return -EBADMSG;
        errno = 0;
        uint64_t x = json_object_get_uint64(f);
        if (errno != 0 || json_object_get_int64(f) < 0 || x > max)
                return -EBADMSG;
        *ret = x;
        return 0;
}

/* A string (no NUL inside) that fits in size bytes with its terminator. */
static int copy_string(struct json_object *f, char *buf, size_t size) {
        if (!f || !json_object_is_type(f, json_type_string))
                return -EBADMSG;
        int len = json_object_get_string_len(f);
        const char *s = json_object_get_string(f);
        if (len < 0 || (size_t) len >= size || strlen(s) != (size_t) len)
                return -EBADMSG;
        memcpy(buf, s, (size_t) len + 1);
        return 0;
}

static int get_string(struct json_object *o, const char *key, char *buf, size_t size) {
        struct json_object *f = NULL;
        if (!json_object_object_get_ex(o, key, &f))
                return -EBADMSG;
        return copy_string(f, buf, size);
}

static int parse_done(struct json_object *o, struct pending_entry *e) {
        struct json_object *a;
        if (!json_object_object_get_ex(o, "done", &a) || !json_object_is_type(a, json_type_array))
                return -EBADMSG;
        size_t n = json_object_array_length(a);
        if (n > UPLOAD_URLS_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                if (copy_string(json_object_array_get_idx(a, i), e->done[i], UPLOAD_URL_MAX) < 0)
                        return -EBADMSG;
        e->n_done = n;
        return 0;
}

static int parse_fields(struct json_object *o, struct pending_entry *e) {
        uint64_t format = 0, attempts = 0;
        int r = get_uint(o, "format", UINT32_MAX, &format);
        if (r < 0 || format != 1)
                return -EBADMSG;
        r = get_string(o, "core", e->core, sizeof(e->core));
        r = r < 0 ? r : get_string(o, "stem", e->stem, sizeof(e->stem));
        r = r < 0 ? r : get_uint(o, "created_usec", INT64_MAX, &e->created_usec);
        r = r < 0 ? r : get_uint(o, "attempts", UINT32_MAX, &attempts);
        r = r < 0 ? r : get_uint(o, "next_usec", INT64_MAX, &e->next_usec);
        r = r < 0 ? r : get_string(o, "last_error", e->last_error, sizeof(e->last_error));
        r = r < 0 ? r : parse_done(o, e);
        if (r < 0 || !valid_core_name(e->core, e->stem))
                return -EBADMSG;
        e->attempts = (uint32_t) attempts;
        return 0;
}

int pending_entry_parse(const char *text, size_t len, struct pending_entry *ret) {
        if (len == 0 || len > PENDING_ENTRY_MAX)
                return -EBADMSG;
        _cleanup_(json_putp) struct json_object *o = NULL;
        int r = json_object_from_text(text, len, 8, &o);
        if (r < 0)
                return r;
        /* Large: built on the heap, copied out only when whole. */
        _cleanup_free_ struct pending_entry *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        if (parse_fields(o, e) < 0)
                return -EBADMSG;
        *ret = *e;
        return 0;
}

uint64_t pending_backoff_usec(const struct upload_settings *u, uint32_t attempts) {
        uint64_t delay = MAX(u->retry_delay_usec, 1), max = MAX(u->retry_delay_max_usec, delay);
        for (uint32_t i = 1; i < attempts && delay < max; i++)
                delay = delay > max / 2 ? max : delay * 2;
        return MIN(delay, max);
}

void pending_entry_failed(struct pending_entry *e, const struct upload_settings *u, const char *error,
                          uint64_t now_usec) {
        if (e->attempts < UINT32_MAX)
                e->attempts++;
        e->next_usec = now_usec + pending_backoff_usec(u, e->attempts);
        snprintf(e->last_error, sizeof(e->last_error), "%s", error);
        /* One line: a server's text may hold anything. */
        for (char *p = e->last_error; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
}

enum pending_action pending_entry_action(const struct pending_entry *e, const struct upload_settings *u,
                                         uint64_t now_usec) {
        if (u->retry_attempts > 0 && e->attempts >= u->retry_attempts)
                return PENDING_GIVE_UP;
        if (e->attempts > 0 && u->retry_for_usec != USEC_INFINITY && now_usec > e->created_usec &&
            now_usec - e->created_usec > u->retry_for_usec)
                return PENDING_GIVE_UP;
        /* A next time far in the future (a clock set back, an entry from elsewhere) waits at
         * most the longest backoff. */
        if (e->next_usec > now_usec && e->next_usec - now_usec <= MAX(u->retry_delay_max_usec, u->retry_delay_usec))
                return PENDING_WAIT;
        return PENDING_DUE;
}

int pending_open_dir(int store_dirfd) {
        if (mkdirat(store_dirfd, PENDING_DIR, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        _cleanup_close_ int fd = openat(store_dirfd, PENDING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_uid != geteuid() || (st.st_mode & 0022))
                return -EPERM;
        return TAKE_FD(fd);
}

int pending_lock(int qfd, bool wait) {
        _cleanup_close_ int fd = openat(qfd, "lock", O_RDONLY | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
                return -EBADFD;
        int r;
        do
                r = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

static void entry_name(const char *stem, char *out, size_t size) {
        snprintf(out, size, "%s%s", stem, PENDING_SUFFIX);
}

int pending_add(int qfd, const struct pending_entry *e) {
        char name[CORE_STEM_MAX + 16];
        _cleanup_free_ char *text = pending_entry_to_json(e);
        if (!text)
                return -ENOMEM;
        entry_name(e->stem, name, sizeof(name));
        return store_file_atomic(qfd, name, text, strlen(text));
}

int pending_save(int qfd, const struct pending_entry *e) {
        char name[CORE_STEM_MAX + 16], tmp[CORE_STEM_MAX + 24];
        _cleanup_free_ char *text = pending_entry_to_json(e);
        if (!text)
                return -ENOMEM;
        entry_name(e->stem, name, sizeof(name));
        snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
        /* The lock is held: a file by this name is a leftover of an attempt that died. */
        (void) unlinkat(qfd, tmp, 0);
        int r = store_file_atomic(qfd, tmp, text, strlen(text));
        if (r >= 0 && renameat(qfd, tmp, qfd, name) < 0)
                r = negative_errno();
        if (r >= 0 && fsync(qfd) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(qfd, tmp, 0);
        return r;
}

int pending_load(int qfd, const char *name, struct pending_entry *ret) {
        _cleanup_close_ int fd = store_open_own_file(qfd, name);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *buf = malloc(PENDING_ENTRY_MAX + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read_full(fd, buf, PENDING_ENTRY_MAX + 1);
        if (n < 0)
                return (int) n;
        if (n > PENDING_ENTRY_MAX)
                return -EBADMSG;
        return pending_entry_parse(buf, (size_t) n, ret);
}

int pending_remove(int qfd, const char *stem) {
        char name[CORE_STEM_MAX + 16];
        entry_name(stem, name, sizeof(name));
        if (unlinkat(qfd, name, 0) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

static bool is_entry_name(const char *name) {
        size_t n = strlen(name), s = strlen(PENDING_SUFFIX);
        return name[0] != '.' && n > s && n < sizeof(pending_name) && strcmp(name + n - s, PENDING_SUFFIX) == 0;
}

static int names_add(pending_name **names, size_t *n, size_t *cap, const char *name) {
        if (*n == *cap) {
                size_t ncap = *cap ? *cap * 2 : 16;
                pending_name *m = realloc(*names, ncap * sizeof(**names));
                if (!m)
                        return -ENOMEM;
                *names = m;
                *cap = ncap;
        }
        snprintf((*names)[(*n)++], sizeof(pending_name), "%s", name);
        return 0;
}

int pending_list(int qfd, pending_name **ret, size_t *ret_n) {
        int fd = fcntl(qfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        DIR *d = fdopendir(fd);
        if (!d) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        rewinddir(d);
        pending_name *names = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        while (r >= 0 && n < PENDING_LIST_MAX) {
                errno = 0;
                struct dirent *de = readdir(d);
                if (!de) {
                        r = errno != 0 ? negative_errno() : 0;
                        break;
                }
                if (!is_entry_name(de->d_name))
                        continue;
                r = names_add(&names, &n, &cap, de->d_name);
        }
        closedir(d);
        if (r < 0) {
                free(names);
                return r;
        }
        *ret = names;
        *ret_n = n;
        return 0;
}
