/* SPDX-License-Identifier: MIT */
/*
 * The backtrace as the unwinding child sends it to the receiver (backtrace.h): little-endian
 * integers, strings as a length (BACKTRACE_WIRE_NULL for none) and their bytes. The child reads
 * the container's files with libdw; if one of them took it over, what it sends is hostile: every
 * count and length is checked against the bytes received and the caps before use.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtrace.h"
#include "macro.h"

#define WIRE_MAGIC 0x31425043u /* "CPB1" */
#define WIRE_NULL UINT32_MAX
#define WIRE_STRING_MAX 4096u

/* ---- writing ---- */

static void put_u64(FILE *f, uint64_t v) {
        v = htole64(v);
        fwrite(&v, sizeof(v), 1, f);
}

static void put_u32(FILE *f, uint32_t v) {
        v = htole32(v);
        fwrite(&v, sizeof(v), 1, f);
}

static void put_str(FILE *f, const char *s) {
        size_t n = s ? strnlen(s, WIRE_STRING_MAX) : 0;
        put_u32(f, s ? (uint32_t) n : WIRE_NULL);
        if (s)
                fwrite(s, 1, n, f);
}

static void put_frame(FILE *f, const struct bt_frame *fr) {
        put_u64(f, fr->pc);
        put_str(f, fr->module);
        put_str(f, fr->build_id);
        put_u64(f, fr->module_offset);
        put_str(f, fr->function);
        put_u64(f, fr->function_offset);
        put_str(f, fr->file);
        put_u32(f, (uint32_t) fr->line);
        put_u32(f, fr->inlined);
}

static void put_module(FILE *f, const struct bt_module *m) {
        put_u64(f, m->start);
        put_u64(f, m->end);
        put_str(f, m->path);
        put_str(f, m->build_id);
        put_u32(f, (uint32_t) m->have_elf | (uint32_t) m->have_debug << 1);
        put_str(f, m->package_json);
}

int backtrace_serialize(const struct backtrace *b, int result, char **ret_buf, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        put_u32(f, WIRE_MAGIC);
        put_u32(f, (uint32_t) result);
        put_u64(f, b->usec);
        put_str(f, b->error);
        put_u64(f, b->n_threads);
        for (size_t i = 0; i < b->n_threads; i++) {
                const struct bt_thread *t = &b->threads[i];
                put_u32(f, (uint32_t) t->tid);
                put_u32(f, (uint32_t) t->crashed | (uint32_t) t->cut << 1);
                put_u64(f, t->n_frames);
                for (size_t j = 0; j < t->n_frames; j++)
                        put_frame(f, &t->frames[j]);
        }
        put_u64(f, b->n_modules);
        for (size_t i = 0; i < b->n_modules; i++)
                put_module(f, &b->modules[i]);
        bool failed = ferror(f);
        if (fclose(f) != 0 || failed) {
                free(buf);
                return -ENOMEM;
        }
        *ret_buf = buf;
        *ret_size = size;
        return 0;
}

/* ---- reading ---- */

struct reader {
        const uint8_t *p;
        size_t left;
        bool bad; /* ran off the end, or a value out of bounds */
};

static uint64_t get_u64(struct reader *r) {
        uint64_t v = 0;
        if (r->left < sizeof(v)) {
                r->bad = true;
                return 0;
        }
        memcpy(&v, r->p, sizeof(v));
        r->p += sizeof(v);
        r->left -= sizeof(v);
        return le64toh(v);
}

static uint32_t get_u32(struct reader *r) {
        uint32_t v = 0;
        if (r->left < sizeof(v)) {
                r->bad = true;
                return 0;
        }
        memcpy(&v, r->p, sizeof(v));
        r->p += sizeof(v);
        r->left -= sizeof(v);
        return le32toh(v);
}

/* A string: NULL for none (or when bad); a NUL inside it ends it early, harmlessly. */
static char *get_str(struct reader *r, int *error) {
        uint32_t n = get_u32(r);
        if (r->bad || n == WIRE_NULL)
                return NULL;
        if (n > WIRE_STRING_MAX || n > r->left) {
                r->bad = true;
                return NULL;
        }
        char *s = strndup((const char *) r->p, n);
        if (!s)
                *error = -ENOMEM;
        r->p += n;
        r->left -= n;
        return s;
}

/* Into a fixed buffer (the error text, a build-id), cut to fit. */
static void get_fixed(struct reader *r, char *out, size_t size, int *error) {
        char *s = get_str(r, error);
        snprintf(out, size, "%s", s ? s : "");
        free(s);
}

static void get_frame(struct reader *r, struct bt_frame *f, int *error) {
        f->pc = get_u64(r);
        f->module = get_str(r, error);
        get_fixed(r, f->build_id, sizeof(f->build_id), error);
        f->module_offset = get_u64(r);
        f->function = get_str(r, error);
        f->function_offset = get_u64(r);
        f->file = get_str(r, error);
        uint32_t line = get_u32(r);
        f->line = line <= INT32_MAX ? (int) line : 0;
        f->inlined = get_u32(r) & 1;
}

static int get_thread(struct reader *r, struct bt_thread *t, int *error) {
        t->tid = (pid_t) get_u32(r);
        uint32_t flags = get_u32(r);
        t->crashed = flags & 1;
        t->cut = flags & 2;
        uint64_t n = get_u64(r);
        /* Each frame takes at least 44 bytes: a count beyond what is left is a lie. */
        if (r->bad || n > BACKTRACE_WIRE_FRAMES_MAX || n > r->left / 44) {
                r->bad = true;
                return 0;
        }
        t->frames = calloc(n ? n : 1, sizeof(*t->frames));
        if (!t->frames)
                return -ENOMEM;
        for (; t->n_frames < n && !r->bad && *error == 0; t->n_frames++)
                get_frame(r, &t->frames[t->n_frames], error);
        return *error;
}

static int get_module(struct reader *r, struct bt_module *m, int *error) {
        m->start = get_u64(r);
        m->end = get_u64(r);
        m->path = get_str(r, error);
        get_fixed(r, m->build_id, sizeof(m->build_id), error);
        uint32_t flags = get_u32(r);
        m->have_elf = flags & 1;
        m->have_debug = flags & 2;
        m->package_json = get_str(r, error);
        return *error;
}

static int get_threads(struct reader *r, struct backtrace *b) {
        int error = 0;
        uint64_t n = get_u64(r);
        if (r->bad || n > BACKTRACE_WIRE_THREADS_MAX || n > r->left / 16)
                return -EBADMSG;
        b->threads = calloc(n ? n : 1, sizeof(*b->threads));
        if (!b->threads)
                return -ENOMEM;
        for (; b->n_threads < n && !r->bad && error == 0; b->n_threads++)
                error = get_thread(r, &b->threads[b->n_threads], &error);
        return error < 0 ? error : r->bad ? -EBADMSG : 0;
}

static int get_modules(struct reader *r, struct backtrace *b) {
        int error = 0;
        uint64_t n = get_u64(r);
        if (r->bad || n > BACKTRACE_WIRE_MODULES_MAX || n > r->left / 32)
                return -EBADMSG;
        b->modules = calloc(n ? n : 1, sizeof(*b->modules));
        if (!b->modules)
                return -ENOMEM;
        for (; b->n_modules < n && !r->bad && error == 0; b->n_modules++)
                error = get_module(r, &b->modules[b->n_modules], &error);
        return error < 0 ? error : r->bad ? -EBADMSG : 0;
}

int backtrace_deserialize(const void *buf, size_t size, int *ret_result, struct backtrace *ret) {
        struct reader r = {.p = buf, .left = size};
        struct backtrace b = {0};
        int error = 0;
        if (get_u32(&r) != WIRE_MAGIC || r.bad)
                return -EBADMSG;
        int result = (int) get_u32(&r);
        b.usec = get_u64(&r);
        get_fixed(&r, b.error, sizeof(b.error), &error);
        int k = error < 0 ? error : get_threads(&r, &b);
        if (k >= 0)
                k = get_modules(&r, &b);
        /* All of it read, and a result that is a thread count or an errno. */
        if (k >= 0 && (r.left != 0 || result > (int) b.n_threads || result < -4095))
                k = -EBADMSG;
        if (k < 0) {
                backtrace_done(&b);
                return k;
        }
        *ret_result = result;
        *ret = b;
        return 0;
}
