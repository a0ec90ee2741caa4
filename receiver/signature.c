/* SPDX-License-Identifier: MIT */
#include "signature.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "store.h"

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

static uint64_t fnv1a(uint64_t h, const char *s) {
        for (; *s; s++) {
                h ^= (uint8_t) *s;
                h *= FNV_PRIME;
        }
        return h;
}

/* The C library's way from abort(), raise() or a failed check to the signal: above the frame
 * that called it, the same for every crash that went this way. */
static bool abort_path(const char *function) {
        static const char *const names[] = {
                "raise",
                "gsignal",
                "abort",
                "__GI_raise",
                "__GI_abort",
                "pthread_kill",
                "__pthread_kill",
                "__pthread_kill_implementation",
                "__pthread_kill_internal",
                "__assert_fail",
                "__assert_fail_base",
                "__libc_message",
                "__fortify_fail",
                "__chk_fail",
                "__stack_chk_fail",
                "__libc_fatal",
        };
        if (!function)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(function, names[i]) == 0)
                        return true;
        return false;
}

void signature_module_name(const char *path, char *out, size_t size) {
        static const char deleted[] = " (deleted)";
        if (size == 0)
                return;
        out[0] = '\0';
        if (!path)
                return;
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        size_t n = strlen(base);
        if (n >= sizeof(deleted) - 1 && strcmp(base + n - (sizeof(deleted) - 1), deleted) == 0)
                n -= sizeof(deleted) - 1;
        snprintf(out, size, "%.*s", (int) MIN(n, (size_t) INT32_MAX), base);
}

int signature_compute(const struct signature_frame *frames, size_t n, char ret[SIGNATURE_HEX_LEN + 1]) {
        uint64_t h = FNV_OFFSET;
        size_t i = 0, used = 0;
        while (i < n && abort_path(frames[i].function))
                i++;
        if (i == n) /* nothing but the abort path: count it after all */
                i = 0;
        for (; i < n && used < SIGNATURE_FRAMES; i++) {
                const struct signature_frame *f = &frames[i];
                char module[256], offset[32];
                bool have_function = f->function && f->function[0];
                signature_module_name(f->module, module, sizeof(module));
                if (!have_function && !module[0])
                        continue;
                h = fnv1a(h, module);
                h = fnv1a(h, "\n");
                if (have_function)
                        h = fnv1a(h, f->function);
                else {
                        snprintf(offset, sizeof(offset), "+0x%" PRIx64, f->module_offset);
                        h = fnv1a(h, offset);
                }
                h = fnv1a(h, "\n");
                used++;
        }
        if (used == 0)
                return -ENODATA;
        snprintf(ret, SIGNATURE_HEX_LEN + 1, "%016" PRIx64, h);
        return (int) used;
}

void loop_state_done(struct loop_state *s) {
        free(s->entries);
        *s = (struct loop_state){0};
}

static bool is_signature(const char *s, size_t len) {
        if (len != SIGNATURE_HEX_LEN)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static struct loop_entry *loop_state_find(const struct loop_state *s, const char *signature) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->entries[i].signature, signature) == 0)
                        return &s->entries[i];
        return NULL;
}

/* Decimal digits only (no sign, no space), at most 20 of them, fitting 64 bits. */
static int parse_decimal(const char *s, size_t len, uint64_t *ret) {
        uint64_t v = 0;
        if (len == 0 || len > 20)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                unsigned d = (unsigned) (s[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

/* One line "SIGNATURE START COUNT", single spaces, nothing else: 0 and *ret, or -EINVAL. */
static int parse_line(const char *line, size_t len, struct loop_entry *ret) {
        uint64_t start, count;
        if (len < SIGNATURE_HEX_LEN + 4 || !is_signature(line, SIGNATURE_HEX_LEN) || line[SIGNATURE_HEX_LEN] != ' ')
                return -EINVAL;
        const char *a = line + SIGNATURE_HEX_LEN + 1, *end = line + len;
        const char *sp = memchr(a, ' ', (size_t) (end - a));
        if (!sp || parse_decimal(a, (size_t) (sp - a), &start) < 0 ||
            parse_decimal(sp + 1, (size_t) (end - sp - 1), &count) < 0)
                return -EINVAL;
        if (count == 0 || count > UINT32_MAX)
                return -EINVAL;
        *ret = (struct loop_entry){.window_start = start, .count = (uint32_t) count};
        memcpy(ret->signature, line, SIGNATURE_HEX_LEN);
        ret->signature[SIGNATURE_HEX_LEN] = '\0';
        return 0;
}

int loop_state_parse(const char *text, size_t len, uint64_t now_usec, uint64_t interval_usec, struct loop_state *ret) {
        struct loop_state s = {.entries = calloc(LOOP_STATE_ENTRIES, sizeof(struct loop_entry))};
        if (!s.entries)
                return -ENOMEM;
        len = MIN(len, (size_t) LOOP_STATE_TEXT_MAX);
        for (size_t i = 0; i < len && s.n < LOOP_STATE_ENTRIES;) {
                const char *line = text + i;
                const char *nl = memchr(line, '\n', len - i);
                size_t n = nl ? (size_t) (nl - line) : len - i;
                struct loop_entry e;
                i += n + 1;
                if (parse_line(line, n, &e) < 0)
                        continue;
                /* Ended, or opened in the future (a clock set back, or a forged state). */
                if (e.window_start > now_usec || now_usec - e.window_start >= interval_usec)
                        continue;
                if (loop_state_find(&s, e.signature))
                        continue;
                s.entries[s.n++] = e;
        }
        *ret = s;
        return 0;
}

char *loop_state_format(const struct loop_state *s) {
        size_t size = s->n * 64 + 1, off = 0;
        char *text = malloc(size);
        if (!text)
                return NULL;
        text[0] = '\0';
        for (size_t i = 0; i < s->n; i++) {
                int k = snprintf(text + off, size - off, "%s %" PRIu64 " %" PRIu32 "\n", s->entries[i].signature,
                                 s->entries[i].window_start, s->entries[i].count);
                if (k < 0 || (size_t) k >= size - off)
                        break;
                off += (size_t) k;
        }
        return text;
}

/* The entry to reuse when the state is full: the one whose window opened first. */
static struct loop_entry *oldest(struct loop_state *s) {
        struct loop_entry *o = &s->entries[0];
        for (size_t i = 1; i < s->n; i++)
                if (s->entries[i].window_start < o->window_start)
                        o = &s->entries[i];
        return o;
}

int loop_state_count(struct loop_state *s, const char *signature, uint64_t now_usec, uint64_t interval_usec) {
        if (!is_signature(signature, strlen(signature)))
                return -EINVAL;
        struct loop_entry *e = loop_state_find(s, signature);
        if (e && (e->window_start > now_usec || now_usec - e->window_start >= interval_usec))
                e->count = 0; /* its window ended: a new one opens now */
        if (!e) {
                if (!s->entries) {
                        s->entries = calloc(LOOP_STATE_ENTRIES, sizeof(struct loop_entry));
                        if (!s->entries)
                                return -ENOMEM;
                }
                e = s->n < LOOP_STATE_ENTRIES ? &s->entries[s->n++] : oldest(s);
                memcpy(e->signature, signature, sizeof(e->signature));
                e->count = 0;
        }
        if (e->count == 0)
                e->window_start = now_usec;
        if (e->count < UINT32_MAX)
                e->count++;
        return (int) MIN(e->count, (uint32_t) INT32_MAX);
}

/* Writes the state under a fresh name and renames it over the old one (never through a name
 * someone else made: O_EXCL|O_NOFOLLOW, whatever stood there removed first, as a name). */
static int loop_state_save(int dirfd, const struct loop_state *s) {
        char tmp[64];
        _cleanup_free_ char *text = loop_state_format(s);
        if (!text)
                return -ENOMEM;
        snprintf(tmp, sizeof(tmp), "%s.%d", LOOP_STATE_FILE, (int) getpid());
        (void) unlinkat(dirfd, tmp, 0);
        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        int r = write_full(fd, text, strlen(text));
        if (r >= 0 && renameat(dirfd, tmp, dirfd, LOOP_STATE_FILE) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r < 0 ? r : 0;
}

int crash_loop_admit(int dirfd, const char *signature, unsigned max, uint64_t interval_usec, uint64_t now_usec,
                     struct loop_verdict *ret) {
        if (max == 0) {
                *ret = (struct loop_verdict){.nth = 1, .kept = 1, .window_start = now_usec};
                return 0;
        }
        _cleanup_free_ char *text = malloc(LOOP_STATE_TEXT_MAX + 1);
        if (!text)
                return -ENOMEM;
        /* A state that is not a regular file of ours (a link, a FIFO) counts as empty, and is
         * replaced by the rename below. */
        _cleanup_close_ int fd = store_open_own_file(dirfd, LOOP_STATE_FILE);
        ssize_t len = fd < 0 ? 0 : read_full(fd, text, LOOP_STATE_TEXT_MAX);
        struct loop_state s;
        int r = loop_state_parse(text, len < 0 ? 0 : (size_t) len, now_usec, interval_usec, &s);
        if (r < 0)
                return r;
        int nth = loop_state_count(&s, signature, now_usec, interval_usec);
        const struct loop_entry *e = nth > 0 ? loop_state_find(&s, signature) : NULL;
        struct loop_verdict v = {
                .repeat = nth > (int) max,
                .nth = nth > 0 ? (unsigned) nth : 0,
                .kept = nth > 0 ? MIN((unsigned) nth, max) : 0,
                .window_start = e ? e->window_start : now_usec,
        };
        r = nth < 0 ? nth : loop_state_save(dirfd, &s);
        loop_state_done(&s);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}
