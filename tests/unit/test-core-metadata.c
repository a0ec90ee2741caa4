/* SPDX-License-Identifier: MIT */
/*
 * Metadata from the core's notes where /proc said no (a receiver without ptrace rights over the
 * crashed process): what metadata_fill_from_core() takes, what it leaves to /proc, which fields
 * stay missing, and what the JSON record and the journal entry then carry.
 */
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "macro.h"
#include "metadata.h"
#include "record.h"
#include "tap.h"

static struct core_mapping maps[] = {
        {0x400000, 0x401000, 0, "/usr/bin/my-app"},
        {0x401000, 0x402000, 0x1000, "/usr/bin/my-app"},
        {0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/x86_64-linux-gnu/libc.so.6"},
        {0x7f0000100000, 0x7f0000200000, 0x100000, "/usr/lib/x86_64-linux-gnu/libc.so.6"},
        {0x7f0000300000, 0x7f0000301000, 0, "/usr/bin/my-app"},
};

static struct core_notes notes(void) {
        struct core_notes n = {
                .expected_size = 1234567,
                .notes_complete = true,
                .have_prpsinfo = true,
                .fname = "my-app",
                .psargs = "/usr/bin/my-app --serve 'a b'",
                .uid = 1000,
                .gid = 1000,
                .pid = 42,
                .ppid = 1,
                .threads = 3,
                .signal = 11,
                .have_auxv = true,
                .at_entry = 0x400100,
                .have_files = true,
                .page_size = 4096,
                .n_files = ELEMENTSOF(maps),
                .files = maps,
        };
        n.exe = core_notes_find_exe(&n);
        return n;
}

/* A crash as a receiver without ptrace rights sees it: /proc gave the cgroup only. */
static void unreadable_proc(struct core_metadata *m, const char *cgroup) {
        memset(m, 0, sizeof(*m));
        m->pid = 42;
        m->uid = 1000;
        m->gid = 1000;
        m->signal = 11;
        m->dump_time = 1700000000;
        m->core_limit = UINT64_MAX;
        m->cgroup = cgroup ? strdup(cgroup) : NULL;
}

static bool has_field(const struct journal_fields *f, const char *field) {
        size_t n = strlen(field);
        for (size_t i = 0; i < f->n; i++)
                if (f->iov[i].iov_len == n && memcmp(f->iov[i].iov_base, field, n) == 0)
                        return true;
        return false;
}

static bool has_prefix(const struct journal_fields *f, const char *prefix) {
        for (size_t i = 0; i < f->n; i++)
                if (f->iov[i].iov_len >= strlen(prefix) && memcmp(f->iov[i].iov_base, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

static const char *json_str(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static bool str_is(const char *a, const char *b) {
        return a && strcmp(a, b) == 0;
}

static void test_fill(void) {
        struct core_metadata m;
        struct core_notes n = notes();
        char missing[256];

        unreadable_proc(&m, NULL);
        CHECK(metadata_missing_fields(&m, missing, sizeof(missing)) == 7 &&
                      strcmp(missing, "comm, exe, cmdline, cwd, mapped files, cgroup, threads") == 0,
              "nothing known: seven fields missing (%s)", missing);
        CHECK(metadata_fill_from_core(&m, &n) == 0, "fill from the core");
        CHECK(str_is(m.exe, "/usr/bin/my-app") && m.exe_source == SOURCE_CORE, "exe from NT_FILE");
        CHECK(strcmp(m.comm, "my-app") == 0 && m.comm_source == SOURCE_CORE, "comm from pr_fname");
        CHECK(str_is(m.cmdline, n.psargs) && m.cmdline_source == SOURCE_CORE, "cmdline from pr_psargs");
        CHECK(m.threads == 3 && m.threads_source == SOURCE_CORE && m.ppid == 1, "threads and ppid from the core");
        CHECK(m.core_files_len == sizeof("/usr/bin/my-app\0/usr/lib/x86_64-linux-gnu/libc.so.6\0/usr/bin/my-app") &&
                      memcmp(m.core_files, "/usr/bin/my-app\0/usr/lib/x86_64-linux-gnu/libc.so.6\0/usr/bin/my-app",
                             m.core_files_len) == 0 &&
                      m.files_source == SOURCE_CORE,
              "mapped files from NT_FILE, one per run of mappings");
        CHECK(m.core_expected_size == 1234567, "expected core size");
        CHECK(metadata_missing_fields(&m, missing, sizeof(missing)) == 2 && strcmp(missing, "cwd, cgroup") == 0,
              "after the core: only cwd and cgroup missing (%s)", missing);
        CHECK(metadata_missing_fields(&m, missing, 6) == 2 && strlen(missing) == 5, "a short buffer stays terminated");
        core_metadata_done(&m);

        unreadable_proc(&m, "0::/system.slice/my-app.service\n");
        m.exe = strdup("/proc/says/this");
        m.exe_source = SOURCE_PROC;
        snprintf(m.comm, sizeof(m.comm), "proc-comm");
        m.comm_source = SOURCE_PROC;
        CHECK(metadata_fill_from_core(&m, &n) == 0 && str_is(m.exe, "/proc/says/this") && m.exe_source == SOURCE_PROC &&
                      strcmp(m.comm, "proc-comm") == 0,
              "what /proc gave is kept");
        core_metadata_done(&m);
}

static void test_record(void) {
        struct core_metadata m;
        struct core_notes n = notes();
        struct store_result res = {.core_size = 1000, .stored_size = 100};
        struct record_info info = {.core_file = "core.x.zst", .handled_by = "container", .result = &res};

        unreadable_proc(&m, "0::/machine.slice/libpod-0123.scope/system.slice/my-app.service\n");
        (void) metadata_fill_from_core(&m, &n);
        _cleanup_free_ char *text = record_to_json(&m, &info);
        struct json_object *o = text ? json_tokener_parse(text) : NULL, *a = NULL, *s = NULL;
        CHECK(o != NULL, "record is JSON");
        CHECK(str_is(json_str(o, "exe"), "/usr/bin/my-app") && str_is(json_str(o, "exe_source"), "core"),
              "record: exe and its source");
        CHECK(str_is(json_str(o, "psargs"), n.psargs) && !json_object_object_get_ex(o, "cmdline", NULL),
              "record: pr_psargs as one string, never split into arguments");
        CHECK(json_object_object_get_ex(o, "mapped_files", &a) && json_object_array_length(a) == 3 &&
                      str_is(json_object_get_string(json_object_array_get_idx(a, 1)),
                             "/usr/lib/x86_64-linux-gnu/libc.so.6"),
              "record: mapped files from the core");
        CHECK(json_object_object_get_ex(o, "sources", &s) && str_is(json_str(s, "mapped_files"), "core") &&
                      str_is(json_str(s, "threads"), "core") && json_str(s, "cmdline"),
              "record: the source of each field");
        CHECK(str_is(json_str(o, "core_expected_size"), "1234567"), "record: expected core size");
        CHECK(str_is(json_str(o, "unit"), "my-app.service") && str_is(json_str(o, "slice"), "system.slice"),
              "record: the unit inside the container");
        json_object_put(o);
        core_metadata_done(&m);
}

static void test_journal(void) {
        struct core_metadata m;
        struct core_notes n = notes();
        struct journal_fields f;
        struct store_result res = {.core_size = 1000, .stored_size = 100};

        unreadable_proc(&m, "1:name=systemd:/system.slice/my-app.service\n0::/\n");
        (void) metadata_fill_from_core(&m, &n);
        int r = journal_crash_fields(2, &m, "/var/lib/core_pipe/core.x.zst", &res, "crashed", &f);
        CHECK(r == 0, "journal fields");
        if (r < 0)
                return;
        CHECK(has_field(&f, "COREDUMP_PID=42") && has_field(&f, "COREDUMP_UID=1000") &&
                      has_field(&f, "COREDUMP_GID=1000") && has_field(&f, "COREDUMP_SIGNAL=11") &&
                      has_field(&f, "COREDUMP_COMM=my-app"),
              "the five fields coredumpctl requires, comm from the core");
        CHECK(has_field(&f, "COREDUMP_EXE=/usr/bin/my-app"),
              "COREDUMP_EXE from the core (coredumpctl debug, list PATH)");
        CHECK(has_field(&f, "COREDUMP_UNIT=my-app.service") && has_field(&f, "COREDUMP_SLICE=system.slice"),
              "COREDUMP_UNIT and COREDUMP_SLICE from the name=systemd hierarchy of a hybrid host");
        CHECK(has_field(&f, "COREDUMP_CMDLINE=/usr/bin/my-app --serve 'a b'"), "COREDUMP_CMDLINE from pr_psargs");
        CHECK(!has_prefix(&f, "COREDUMP_CWD=") && !has_prefix(&f, "COREDUMP_USER_UNIT="), "no cwd, no user unit");
        journal_fields_done(&f);
        core_metadata_done(&m);

        unreadable_proc(&m, "0::/user.slice/user-1000.slice/user@1000.service/app.slice/my-app.scope\n");
        r = journal_crash_fields(2, &m, NULL, NULL, "crashed", &f);
        CHECK(r == 0 && has_field(&f, "COREDUMP_UNIT=user@1000.service") &&
                      has_field(&f, "COREDUMP_USER_UNIT=my-app.scope") && has_field(&f, "COREDUMP_OWNER_UID=1000") &&
                      has_field(&f, "COREDUMP_SLICE=user-1000.slice") && !has_prefix(&f, "COREDUMP_EXE="),
              "a user unit: COREDUMP_USER_UNIT and COREDUMP_OWNER_UID; no exe when neither source had it");
        if (r == 0)
                journal_fields_done(&f);
        core_metadata_done(&m);
}

/* A short core: the record and the journal entry say the same thing (truncated, reason, cause,
 * expected size); a whole core's record still has the keys, null. */
static void test_truncated(void) {
        struct core_metadata m;
        struct core_notes n = notes();
        struct journal_fields f;
        struct store_result res = {.core_size = 1000,
                                   .stored_size = 100,
                                   .read_size = 1000,
                                   .truncated = true,
                                   .truncated_reason = "short stream"};
        snprintf(res.truncated_cause, sizeof(res.truncated_cause), "%s",
                 "the process was OOM-killed by its memory cgroup (oom_kill 3 -> 4)");
        struct record_info info = {.core_file = "core.x.zst", .handled_by = "container", .result = &res};

        unreadable_proc(&m, "0::/\n");
        (void) metadata_fill_from_core(&m, &n);
        _cleanup_free_ char *text = record_to_json(&m, &info);
        struct json_object *o = text ? json_tokener_parse(text) : NULL, *v = NULL;
        CHECK(o && json_object_get_boolean(json_object_object_get_ex(o, "truncated", &v) ? v : NULL) &&
                      str_is(json_str(o, "truncated_reason"), "short stream") &&
                      str_is(json_str(o, "truncated_cause"), res.truncated_cause) &&
                      str_is(json_str(o, "core_expected_size"), "1234567"),
              "record: truncated, short stream, the cause, the expected size");
        json_object_put(o);
        int r = journal_crash_fields(2, &m, "/var/lib/core_pipe/core.x.zst", &res, "crashed", &f);
        CHECK(r == 0 && has_field(&f, "COREDUMP_TRUNCATED=1") &&
                      has_field(&f, "COREDUMP_TRUNCATED_REASON=short stream") &&
                      has_field(&f, "COREDUMP_TRUNCATED_CAUSE=the process was OOM-killed by its memory cgroup "
                                    "(oom_kill 3 -> 4)") &&
                      has_field(&f, "COREDUMP_EXPECTED_SIZE=1234567"),
              "journal: the same truncation, reason, cause and expected size");
        if (r == 0)
                journal_fields_done(&f);

        res = (struct store_result){.core_size = 1234567, .stored_size = 100, .read_size = 1234567};
        _cleanup_free_ char *whole = record_to_json(&m, &info);
        o = whole ? json_tokener_parse(whole) : NULL;
        CHECK(o && json_object_object_get_ex(o, "truncated_reason", &v) && v == NULL &&
                      json_object_object_get_ex(o, "truncated_cause", &v) && v == NULL,
              "a whole core's record: truncated_reason and truncated_cause present, null");
        json_object_put(o);
        core_metadata_done(&m);
}

/* The kernel's coredump socket does not say the signal: the notes', else the process's end. */
static void test_signal_resolve(void) {
        enum signal_source src = SIGNAL_FROM_KERNEL;
        CHECK(signal_resolve(SIGSEGV, true, SIGKILL, &src) == SIGSEGV && src == SIGNAL_FROM_CORE,
              "the notes' signal first, whatever ended the process");
        CHECK(signal_resolve(0, true, SIGABRT | 0x80, &src) == SIGABRT && src == SIGNAL_FROM_EXIT,
              "no notes: the signal that killed the process (core dumped)");
        CHECK(signal_resolve(0, true, 3 << 8, &src) == 0 && src == SIGNAL_UNKNOWN,
              "no notes and a process that exited: unknown, never its exit status");
        CHECK(signal_resolve(0, false, 0, &src) == 0 && src == SIGNAL_UNKNOWN, "neither: unknown");
        CHECK(signal_resolve(65, false, 0, &src) == 0 && src == SIGNAL_UNKNOWN, "a notes' signal out of range is none");
        CHECK(str_is(signal_source_name(SIGNAL_FROM_KERNEL, 11), "kernel") &&
                      str_is(signal_source_name(SIGNAL_FROM_CORE, 11), "core") &&
                      str_is(signal_source_name(SIGNAL_FROM_EXIT, 11), "exit") &&
                      str_is(signal_source_name(SIGNAL_FROM_KERNEL, 0), "unknown"),
              "the sources' names; signal 0 is unknown whoever said it");
}

/* The record and the journal entry say where the signal came from; coredumpctl still lists it. */
static void test_signal_source_out(void) {
        struct core_metadata m;
        struct core_notes n = notes();
        struct journal_fields f;
        struct store_result res = {.core_size = 1000, .stored_size = 100};
        struct record_info info = {.core_file = "core.x.zst", .handled_by = "container", .result = &res};

        unreadable_proc(&m, "0::/\n");
        (void) metadata_fill_from_core(&m, &n);
        m.signal_source = SIGNAL_FROM_CORE;
        _cleanup_free_ char *text = record_to_json(&m, &info);
        struct json_object *o = text ? json_tokener_parse(text) : NULL;
        CHECK(o && str_is(json_str(o, "signal"), "11") && str_is(json_str(o, "signal_source"), "core"),
              "record: the signal and its source, the core's notes");
        json_object_put(o);
        int r = journal_crash_fields(2, &m, "/var/lib/core_pipe/core.x.zst", &res, "crashed", &f);
        CHECK(r == 0 && has_field(&f, "COREDUMP_SIGNAL=11") && has_field(&f, "CORE_PIPE_SIGNAL_SOURCE=core"),
              "journal: COREDUMP_SIGNAL and where it came from");
        if (r == 0)
                journal_fields_done(&f);

        m.signal = 0;
        m.signal_source = SIGNAL_UNKNOWN;
        r = journal_crash_fields(2, &m, "/var/lib/core_pipe/core.x.zst", &res, "crashed", &f);
        CHECK(r == 0 && has_field(&f, "COREDUMP_SIGNAL=0") && has_field(&f, "CORE_PIPE_SIGNAL_SOURCE=unknown") &&
                      has_prefix(&f, "COREDUMP_PID=") && has_prefix(&f, "COREDUMP_UID=") &&
                      has_prefix(&f, "COREDUMP_GID=") && has_prefix(&f, "COREDUMP_COMM="),
              "journal: an unknown signal is still there (coredumpctl lists no entry without COREDUMP_SIGNAL)");
        if (r == 0)
                journal_fields_done(&f);
        _cleanup_free_ char *unknown = record_to_json(&m, &info);
        o = unknown ? json_tokener_parse(unknown) : NULL;
        CHECK(o && str_is(json_str(o, "signal"), "0") && str_is(json_str(o, "signal_source"), "unknown"),
              "record: signal 0, source unknown");
        json_object_put(o);

        m.signal = 6;
        m.signal_source = SIGNAL_FROM_KERNEL;
        r = journal_crash_fields(2, &m, "/var/lib/core_pipe/core.x.zst", &res, "crashed", &f);
        CHECK(r == 0 && has_field(&f, "COREDUMP_SIGNAL=6") && !has_prefix(&f, "CORE_PIPE_SIGNAL_SOURCE="),
              "journal: the kernel's signal needs no word on its source");
        if (r == 0)
                journal_fields_done(&f);
        core_metadata_done(&m);
}

int main(void) {
        test_signal_resolve();
        test_signal_source_out();
        test_fill();
        test_record();
        test_journal();
        test_truncated();
        return tap_done();
}
