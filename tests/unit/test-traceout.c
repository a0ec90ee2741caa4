/* SPDX-License-Identifier: MIT */
/* What a crash's backtrace adds to the record and the journal (receiver/traceout.c), from a
 * backtrace made by hand: the crashing thread first, unknown values null, addresses as hex
 * strings, the module lines and stack trace in coredumpctl's layout, repeats of a crash loop. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "tap.h"
#include "traceout.h"

static struct bt_frame frames0[3], frames1[1];
static struct bt_thread threads[2];
static struct bt_module modules[2];

static void make(struct crash_trace *t) {
        frames0[0] = (struct bt_frame){.pc = 0x55d0c1a0126d,
                                       .module = "/app/server",
                                       .module_offset = 0x126d,
                                       .function = "crash_here",
                                       .function_offset = 0x1d,
                                       .file = "/src/server.c",
                                       .line = 41,
                                       .inlined = true};
        strcpy(frames0[0].build_id, "3f1c000000000000000000000000000000000001");
        frames0[1] = frames0[0];
        frames0[1].function = "level3";
        frames0[1].inlined = false;
        frames0[2] = (struct bt_frame){.pc = 0x7f0000001000, .module = "/usr/lib/libc.so.6", .module_offset = 0x1000};
        frames1[0] = (struct bt_frame){.pc = 0x7f0000002000,
                                       .module = "/usr/lib/libc.so.6",
                                       .module_offset = 0x2000,
                                       .function = "futex_wait",
                                       .file = "bad\xff.c"};
        threads[0] = (struct bt_thread){.tid = 4242, .crashed = true, .frames = frames0, .n_frames = 3};
        threads[1] = (struct bt_thread){.tid = 4243, .cut = true, .frames = frames1, .n_frames = 1};
        modules[0] = (struct bt_module){.start = 0x55d0c1a00000,
                                        .end = 0x55d0c1a05000,
                                        .path = "/app/server",
                                        .have_elf = true,
                                        .have_debug = true,
                                        .package_json = "{\"type\":\"deb\",\"name\":\"server\",\"version\":\"1.2\"}"};
        strcpy(modules[0].build_id, frames0[0].build_id);
        modules[1] = (struct bt_module){.start = 0x7f0000000000,
                                        .end = 0x7f0000100000,
                                        .path = "/usr/lib/libc.so.6",
                                        .have_elf = true,
                                        .package_json = "[not an object"};
        strcpy(modules[1].build_id, "aaaa000000000000000000000000000000000002");
        *t = (struct crash_trace){.state = TRACE_DONE, .n_signature_frames = 3, .signature = "0123456789abcdef"};
        t->bt = (struct backtrace){
                .threads = threads, .n_threads = 2, .modules = modules, .n_modules = 2, .usec = 1234};
        t->stats = (struct stack_capture_stats){.threads = 2, .stack_bytes = 8192, .memory = 20000};
}

static struct json_object *record_of(const struct crash_trace *t) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "core_file", json_object_new_string("core.server.zst"));
        trace_record_add(o, t);
        /* Through text, as the record is written and read. */
        struct json_object *back = json_tokener_parse(json_object_to_json_string(o));
        json_object_put(o);
        return back;
}

static const char *str(struct json_object *o, const char *path) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", path);
        struct json_object *cur = o;
        for (char *p = buf, *k; cur && (k = strsep(&p, "."));) {
                if (k[0] >= '0' && k[0] <= '9')
                        cur = json_object_array_get_idx(cur, (size_t) atoi(k));
                else if (!json_object_object_get_ex(cur, k, &cur))
                        return "(missing)";
        }
        return cur ? json_object_get_string(cur) : "(null)";
}

int main(void) {
        struct crash_trace t;
        make(&t);
        struct json_object *r = record_of(&t);
        CHECK(strcmp(str(r, "signature"), "0123456789abcdef") == 0, "record: signature");
        CHECK(strcmp(str(r, "backtrace_error"), "(null)") == 0, "record: backtrace_error null when whole");
        CHECK(strcmp(str(r, "backtrace.threads.0.tid"), "4242") == 0 &&
                      strcmp(str(r, "backtrace.threads.0.crashed"), "true") == 0,
              "record: the crashing thread first");
        CHECK(strcmp(str(r, "backtrace.threads.0.frames.0.function"), "crash_here") == 0 &&
                      strcmp(str(r, "backtrace.threads.0.frames.0.file"), "/src/server.c") == 0 &&
                      strcmp(str(r, "backtrace.threads.0.frames.0.line"), "41") == 0 &&
                      strcmp(str(r, "backtrace.threads.0.frames.0.inlined"), "true") == 0,
              "record: function, file, line, inlined");
        CHECK(strcmp(str(r, "backtrace.threads.0.frames.0.pc"), "0x55d0c1a0126d") == 0 &&
                      strcmp(str(r, "backtrace.threads.0.frames.0.offset"), "0x126d") == 0 &&
                      strcmp(str(r, "backtrace.threads.0.frames.0.function_offset"), "0x1d") == 0,
              "record: addresses as hex strings");
        CHECK(strcmp(str(r, "backtrace.threads.0.frames.2.function"), "(null)") == 0 &&
                      strcmp(str(r, "backtrace.threads.0.frames.2.function_offset"), "(null)") == 0 &&
                      strcmp(str(r, "backtrace.threads.0.frames.2.line"), "(null)") == 0 &&
                      strcmp(str(r, "backtrace.threads.0.frames.2.build_id"), "(null)") == 0,
              "record: unknown values null");
        CHECK(strcmp(str(r, "backtrace.threads.1.cut"), "true") == 0, "record: a cut thread says so");
        CHECK(strcmp(str(r, "backtrace.threads.1.frames.0.file"), "bad\xef\xbf\xbd.c") == 0,
              "record: a file name that is not UTF-8 made valid");
        CHECK(strcmp(str(r, "backtrace.modules.0.package.name"), "server") == 0 &&
                      strcmp(str(r, "backtrace.modules.1.package"), "(null)") == 0,
              "record: a module's package note, null when it is not a JSON object");
        CHECK(strcmp(str(r, "backtrace.capture.stack_bytes"), "8192") == 0 &&
                      strcmp(str(r, "backtrace.usec"), "1234") == 0 &&
                      strcmp(str(r, "backtrace.signature_frames"), "3") == 0,
              "record: the capture's figures, the time, the frames hashed");
        CHECK(strcmp(str(r, "repeat"), "(missing)") == 0 && strcmp(str(r, "core_file"), "core.server.zst") == 0,
              "record: not a repeat, its core named");
        json_object_put(r);

        char line[512];
        trace_describe(&t, line, sizeof(line));
        CHECK(strcmp(line, ", signature 0123456789abcdef") == 0, "log line: the signature (%s)", line);

        _cleanup_free_ char *msg = trace_journal_message(&t, "Process 4242 (server) crashed");
        CHECK(msg && strncmp(msg, "Process 4242 (server) crashed\n\n", 31) == 0, "journal: the line first");
        CHECK(msg && strstr(msg,
                            "Module server from deb server-1.2, build-id=3f1c000000000000000000000000000000000001\n"),
              "journal: a module line from its package note");
        CHECK(msg && strstr(msg, "Module libc.so.6 with build-id aaaa000000000000000000000000000000000002\n"),
              "journal: a module line with its build-id");
        CHECK(msg && strstr(msg, "\n\nStack trace of thread 4242:\n#0  0x000055d0c1a0126d crash_here (inlined) (server "
                                 "+ 0x126d)"),
              "journal: coredumpctl's layout");
        CHECK(msg && strstr(msg, "Module") < strstr(msg, "Stack trace of thread 4242") &&
                      strstr(msg, "Stack trace of thread 4242") < strstr(msg, "Stack trace of thread 4243"),
              "journal: modules, then the crashing thread, then the others");

        _cleanup_free_ char *pkg = trace_package_json(&t);
        struct json_object *p = pkg ? json_tokener_parse(pkg) : NULL;
        CHECK(p && strcmp(str(p, "/app/server.buildId"), "3f1c000000000000000000000000000000000001") == 0 &&
                      strcmp(str(p, "/app/server.version"), "1.2") == 0,
              "COREDUMP_PACKAGE_JSON: by path, buildId and the package note");
        json_object_put(p);

        /* A repeat of a crash loop. */
        t.have_loop = true;
        t.loop = (struct loop_verdict){.repeat = true, .nth = 7, .kept = 3, .window_start = 1000};
        t.interval_usec = 60000000;
        t.core_removed = true;
        r = record_of(&t);
        CHECK(strcmp(str(r, "repeat.nth"), "7") == 0 && strcmp(str(r, "repeat.kept"), "3") == 0 &&
                      strcmp(str(r, "core_file"), "(null)") == 0,
              "repeat: its number, the cores kept, no core_file");
        json_object_put(r);
        trace_describe(&t, line, sizeof(line));
        CHECK(strcmp(line, ", repeat 4 of signature 0123456789abcdef within Interval= (3 cores kept): core removed") ==
                      0,
              "repeat: the log line counts it (%s)", line);

        /* Off, failed, pending. */
        struct crash_trace off = {.state = TRACE_OFF, .error = "Backtrace=no"};
        r = record_of(&off);
        CHECK(strcmp(str(r, "backtrace_error"), "Backtrace=no") == 0 && strcmp(str(r, "backtrace"), "(missing)") == 0 &&
                      strcmp(str(r, "signature"), "(null)") == 0,
              "off: why, no backtrace, no signature");
        json_object_put(r);
        trace_describe(&off, line, sizeof(line));
        CHECK(line[0] == '\0', "off: nothing in the log line");
        CHECK(trace_journal_message(&off, "x") == NULL && trace_package_json(&off) == NULL,
              "off: nothing for the journal");
        struct crash_trace pending = {.state = TRACE_PENDING};
        r = record_of(&pending);
        CHECK(strncmp(str(r, "backtrace_error"), "not made yet", 12) == 0, "pending: the record says so");
        trace_describe(&pending, line, sizeof(line));
        CHECK(line[0] == '\0', "pending: nothing in the crash's line yet (%s)", line);
        json_object_put(r);
        return tap_done();
}
