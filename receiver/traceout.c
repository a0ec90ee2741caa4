/* SPDX-License-Identifier: MIT */
#include "traceout.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "utf8.h"

/* The stack trace in a journal entry, at most (a journal field may be larger, but a MESSAGE of
 * hundreds of threads helps nobody: the record has them all). */
#define TRACE_MESSAGE_MAX (64U << 10)

/* Text from the core or the container's files: made valid UTF-8 like every string of a record. */
static struct json_object *text_or_null(const char *s) {
        size_t n;
        if (!s || !s[0])
                return NULL;
        _cleanup_free_ char *valid = utf8_make_valid(s, strlen(s), &n);
        return valid && n <= INT32_MAX ? json_object_new_string_len(valid, (int) n) : NULL;
}

static struct json_object *hex(uint64_t v) {
        char buf[24];
        snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
        return json_object_new_string(buf);
}

static struct json_object *frame_json(const struct bt_frame *f) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "pc", hex(f->pc));
        json_object_object_add(o, "module", text_or_null(f->module));
        json_object_object_add(o, "build_id", text_or_null(f->build_id));
        json_object_object_add(o, "offset", hex(f->module_offset));
        json_object_object_add(o, "function", text_or_null(f->function));
        json_object_object_add(o, "function_offset", f->function ? hex(f->function_offset) : NULL);
        json_object_object_add(o, "file", text_or_null(f->file));
        json_object_object_add(o, "line", f->line > 0 ? json_object_new_int(f->line) : NULL);
        json_object_object_add(o, "inlined", json_object_new_boolean(f->inlined));
        return o;
}

static struct json_object *threads_json(const struct backtrace *b) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < b->n_threads; i++) {
                const struct bt_thread *th = &b->threads[i];
                struct json_object *o = json_object_new_object(), *frames = json_object_new_array();
                json_object_object_add(o, "tid", json_object_new_int64(th->tid));
                json_object_object_add(o, "crashed", json_object_new_boolean(th->crashed));
                json_object_object_add(o, "cut", json_object_new_boolean(th->cut));
                for (size_t k = 0; k < th->n_frames; k++)
                        json_object_array_add(frames, frame_json(&th->frames[k]));
                json_object_object_add(o, "frames", frames);
                json_object_array_add(a, o);
        }
        return a;
}

/* A module's package note is JSON the container wrote: kept only if it parses as an object. */
static struct json_object *package_note(const char *text) {
        struct json_object *p = text ? json_tokener_parse(text) : NULL;
        if (p && !json_object_is_type(p, json_type_object)) {
                json_object_put(p);
                p = NULL;
        }
        return p;
}

static struct json_object *modules_json(const struct backtrace *b) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < b->n_modules; i++) {
                const struct bt_module *m = &b->modules[i];
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "path", text_or_null(m->path));
                json_object_object_add(o, "build_id", text_or_null(m->build_id));
                json_object_object_add(o, "start", hex(m->start));
                json_object_object_add(o, "end", hex(m->end));
                json_object_object_add(o, "elf", json_object_new_boolean(m->have_elf));
                json_object_object_add(o, "debug", json_object_new_boolean(m->have_debug));
                json_object_object_add(o, "package", package_note(m->package_json));
                json_object_array_add(a, o);
        }
        return a;
}

static struct json_object *capture_json(const struct stack_capture_stats *st) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "threads", json_object_new_uint64(st->threads));
        json_object_object_add(o, "threads_cut", json_object_new_uint64(st->threads_cut));
        json_object_object_add(o, "stack_bytes", json_object_new_uint64(st->stack_bytes));
        json_object_object_add(o, "module_bytes", json_object_new_uint64(st->module_bytes));
        json_object_object_add(o, "modules_left", json_object_new_uint64(st->modules_left));
        json_object_object_add(o, "memory", json_object_new_uint64(st->memory));
        return o;
}

static void add_repeat(struct json_object *o, const struct crash_trace *t) {
        struct json_object *r = json_object_new_object();
        json_object_object_add(r, "nth", json_object_new_uint64(t->loop.nth));
        json_object_object_add(r, "kept", json_object_new_uint64(t->loop.kept));
        json_object_object_add(r, "window_start_usec", json_object_new_uint64(t->loop.window_start));
        json_object_object_add(r, "interval_usec", json_object_new_uint64(t->interval_usec));
        json_object_object_add(o, "repeat", r);
        if (t->core_removed)
                json_object_object_add(o, "core_file", NULL);
}

void trace_record_add(struct json_object *o, const struct crash_trace *t) {
        json_object_object_add(o, "signature", t->n_signature_frames > 0 ? json_object_new_string(t->signature) : NULL);
        /* Written before a hold is given back, the record is written again once the backtrace is
         * made: this one stays only when the receiver ended first. */
        json_object_object_add(o, "backtrace_error",
                               t->state == TRACE_PENDING
                                       ? json_object_new_string("not made yet: made once the crashed process is "
                                                                "released (a record left so: the receiver ended first)")
                                       : text_or_null(t->error));
        if (t->state != TRACE_DONE)
                return;
        struct json_object *b = json_object_new_object();
        json_object_object_add(b, "threads", threads_json(&t->bt));
        json_object_object_add(b, "modules", modules_json(&t->bt));
        json_object_object_add(b, "capture", capture_json(&t->stats));
        json_object_object_add(b, "signature_frames", json_object_new_int(t->n_signature_frames));
        json_object_object_add(b, "usec", json_object_new_uint64(t->bt.usec));
        json_object_object_add(o, "backtrace", b);
        if (crash_trace_is_repeat(t))
                add_repeat(o, t);
}

void trace_describe(const struct crash_trace *t, char *out, size_t size) {
        out[0] = '\0';
        /* Pending: a line of its own follows once the backtrace is made (after a hold). */
        if (t->state == TRACE_OFF || t->state == TRACE_PENDING)
                return;
        if (t->n_signature_frames <= 0) {
                snprintf(out, size, ", no backtrace signature: %s", t->error[0] ? t->error : "no frame named");
                return;
        }
        if (crash_trace_is_repeat(t))
                snprintf(out, size, ", repeat %u of signature %s within Interval= (%u cores kept): %s",
                         t->loop.nth - t->loop.kept, t->signature, t->loop.kept,
                         t->core_removed ? "core removed" : "core kept (could not remove it)");
        else
                snprintf(out, size, ", signature %s", t->signature);
}

/* "Module NAME with build-id ID", or from its package note "Module NAME from TYPE NAME-VERSION,
 * build-id=ID", as systemd-coredump words it. */
static void module_line(FILE *f, const struct bt_module *m) {
        const char *slash = m->path ? strrchr(m->path, '/') : NULL;
        const char *name = slash ? slash + 1 : m->path ? m->path : "?";
        struct json_object *p = package_note(m->package_json), *type, *pname, *version;
        if (p && json_object_object_get_ex(p, "type", &type) && json_object_object_get_ex(p, "name", &pname) &&
            json_object_object_get_ex(p, "version", &version))
                fprintf(f, "Module %s from %s %s-%s, build-id=%s\n", name, json_object_get_string(type),
                        json_object_get_string(pname), json_object_get_string(version), m->build_id);
        else
                fprintf(f, "Module %s with build-id %s\n", name, m->build_id);
        if (p)
                json_object_put(p);
}

char *trace_journal_message(const struct crash_trace *t, const char *line) {
        _cleanup_free_ char *stack = NULL;
        if (t->state != TRACE_DONE || t->bt.n_threads == 0)
                return NULL;
        if (backtrace_format(&t->bt, TRACE_MESSAGE_MAX, &stack) < 0)
                return NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        if (!f)
                return NULL;
        fprintf(f, "%s\n\n", line);
        bool modules = false;
        for (size_t i = 0; i < t->bt.n_modules; i++)
                if (t->bt.modules[i].build_id[0]) {
                        module_line(f, &t->bt.modules[i]);
                        modules = true;
                }
        fprintf(f, "%s%s", modules ? "\n" : "", stack);
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

char *trace_package_json(const struct crash_trace *t) {
        if (t->state != TRACE_DONE)
                return NULL;
        struct json_object *o = json_object_new_object();
        size_t n = 0;
        for (size_t i = 0; i < t->bt.n_modules; i++) {
                const struct bt_module *m = &t->bt.modules[i];
                if (!m->path || !m->build_id[0])
                        continue;
                struct json_object *p = package_note(m->package_json);
                if (!p)
                        p = json_object_new_object();
                json_object_object_add(p, "buildId", json_object_new_string(m->build_id));
                _cleanup_free_ char *path = NULL;
                size_t len;
                path = utf8_make_valid(m->path, strlen(m->path), &len);
                if (path)
                        json_object_object_add(o, path, p);
                else
                        json_object_put(p);
                n++;
        }
        const char *s =
                n > 0 ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                      : NULL;
        char *copy = s ? strdup(s) : NULL;
        json_object_put(o);
        return copy;
}
