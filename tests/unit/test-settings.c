/* SPDX-License-Identifier: MIT */
/* receiver.conf: every key, its validation, and errors that name file, line and key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"
#include "tap.h"

static char dir[] = "/tmp/core_pipe-settings.XXXXXX";

static int load_text(const char *text, struct receiver_settings *s, char *err, size_t errsize) {
        char path[128];
        snprintf(path, sizeof(path), "%s/receiver.conf", dir);
        FILE *f = fopen(path, "we");
        if (!f)
                abort();
        fputs(text, f);
        fclose(f);
        settings_defaults(s);
        err[0] = '\0';
        return settings_load(path, s, err, errsize);
}

static int has(const char *err, const char *what) {
        return strstr(err, what) != NULL;
}

int main(void) {
        struct receiver_settings s;
        char err[768];
        const char *expect;
        uint64_t v;

        if (!mkdtemp(dir))
                return 1;

        settings_defaults(&s);
        CHECK(s.storage == STORAGE_EXTERNAL && s.compress && s.compress_level == 1, "defaults: external, zstd level 1");
        CHECK(s.process_size_max == (UINT64_C(32) << 30), "default ProcessSizeMax is 32G");
        CHECK(s.max_use.percent && s.max_use.value == 10 && s.keep_free.percent && s.keep_free.value == 15,
              "defaults: MaxUse=10%%, KeepFree=15%%");
        CHECK(s.max_cores_per_interval == 20 && s.interval_usec == 60000000, "default rate: 20 cores per minute");
        CHECK(strcmp(s.store, "/var/lib/core_pipe") == 0, "default store /var/lib/core_pipe");

        CHECK(parse_size("4096", &v) == 0 && v == 4096, "size: plain bytes");
        CHECK(parse_size("512M", &v) == 0 && v == (UINT64_C(512) << 20), "size: M");
        CHECK(parse_size("2T", &v) == 0 && v == (UINT64_C(2) << 40), "size: T");
        CHECK(parse_size("infinity", &v) == 0 && v == UINT64_MAX, "size: infinity");
        CHECK(parse_size("1X", &v) < 0 && parse_size("", &v) < 0 && parse_size("-1", &v) < 0, "size: junk refused");
        CHECK(parse_size("99999999999999T", &v) < 0, "size: overflow refused");

        struct size_limit l = {.percent = true, .value = 10};
        CHECK(size_limit_bytes(&l, 1000) == 100, "10%% of 1000 is 100");
        l = (struct size_limit){.percent = false, .value = 77};
        CHECK(size_limit_bytes(&l, 1000) == 77, "absolute limit is itself");

        CHECK(load_text("[Receiver]\nStorage=none\nCompress=no\nCompressLevel=5\nProcessSizeMax=1G\nMaxUse=2G\n"
                        "KeepFree=5%\nMaxCoresPerInterval=3\nInterval=10s\nStore=/srv/cores\n",
                        &s, err, sizeof(err)) == 0,
              "a file with every key loads");
        CHECK(s.storage == STORAGE_NONE && !s.compress && s.compress_level == 5, "Storage, Compress, CompressLevel");
        CHECK(s.process_size_max == (UINT64_C(1) << 30), "ProcessSizeMax=1G");
        CHECK(!s.max_use.percent && s.max_use.value == (UINT64_C(2) << 30), "MaxUse=2G");
        CHECK(s.keep_free.percent && s.keep_free.value == 5, "KeepFree=5%%");
        CHECK(s.max_cores_per_interval == 3 && s.interval_usec == 10000000, "MaxCoresPerInterval=3, Interval=10s");
        CHECK(strcmp(s.store, "/srv/cores") == 0, "Store=/srv/cores");

        /* The host fallback's shares: a quarter of MaxUse= unless set, never more than MaxUse=. */
        settings_defaults(&s);
        CHECK(s.max_containers == 1024 && !s.max_use_per_container_set, "defaults: MaxContainers=1024, share unset");
        CHECK(settings_container_share(&s, 1000000) == 25000, "default share: a quarter of MaxUse= (10%% of 1000000)");
        CHECK(load_text("[Receiver]\nMaxUsePerContainer=3%\nMaxContainers=7\n", &s, err, sizeof(err)) == 0 &&
                      settings_container_share(&s, 1000000) == 30000 && s.max_containers == 7,
              "MaxUsePerContainer=3%%, MaxContainers=7");
        CHECK(load_text("[Receiver]\nMaxUsePerContainer=1T\n", &s, err, sizeof(err)) == 0 &&
                      settings_container_share(&s, 1000000) == 100000,
              "a share is never more than MaxUse=");
        CHECK(load_text("[Receiver]\nMaxContainers=0\n", &s, err, sizeof(err)) < 0 &&
                      has(err, ":2: MaxContainers=0 is invalid"),
              "MaxContainers=0 refused (%s)", err);
        CHECK(load_text("[Receiver]\nMaxUsePerContainer=lots\n", &s, err, sizeof(err)) < 0 &&
                      has(err, ":2: MaxUsePerContainer=lots is invalid"),
              "bad MaxUsePerContainer (%s)", err);

        CHECK(load_text("# comment\n; comment\n\n[Receiver]\n  CompressLevel = 3  \n", &s, err, sizeof(err)) == 0 &&
                      s.compress_level == 3,
              "comments, blank lines and spaces around = are fine");

        CHECK(load_text("[Receiver]\nCompress=yes\nCompressLevel=30\n", &s, err, sizeof(err)) < 0 &&
                      has(err, "receiver.conf:3: CompressLevel=30 is invalid: expected a zstd level from 1 to 19"),
              "bad CompressLevel names file, line, key and what is valid (%s)", err);
        CHECK(load_text("[Receiver]\nMaxUse=lots\n", &s, err, sizeof(err)) < 0 &&
                      has(err, ":2: MaxUse=lots is invalid"),
              "bad MaxUse (%s)", err);
        CHECK(load_text("[Receiver]\nKeepFree=101%\n", &s, err, sizeof(err)) < 0 &&
                      has(err, ":2: KeepFree=101% is invalid"),
              "KeepFree over 100%% (%s)", err);
        CHECK(load_text("[Receiver]\nStorage=journal\n", &s, err, sizeof(err)) < 0 &&
                      has(err, "Storage=journal is invalid: expected \"external\" or \"none\""),
              "bad Storage (%s)", err);
        CHECK(load_text("[Receiver]\nInterval=0\n", &s, err, sizeof(err)) < 0 && has(err, "Interval=0 is invalid"),
              "Interval=0 (%s)", err);
        CHECK(load_text("[Receiver]\nStore=relative/dir\n", &s, err, sizeof(err)) < 0 &&
                      has(err, "Store=relative/dir is invalid: expected an absolute path"),
              "relative Store (%s)", err);
        CHECK(load_text("[Receiver]\nProcessSizeMax=1Q\n", &s, err, sizeof(err)) < 0 && has(err, "ProcessSizeMax=1Q"),
              "bad ProcessSizeMax (%s)", err);
        CHECK(load_text("[Receiver]\nMaxCoresPerInterval=many\n", &s, err, sizeof(err)) < 0 &&
                      has(err, "MaxCoresPerInterval=many"),
              "bad MaxCoresPerInterval (%s)", err);
        CHECK(load_text("[Receiver]\nCompres=yes\n", &s, err, sizeof(err)) < 0 && has(err, ":2: unknown key Compres"),
              "a misspelt key is an error (%s)", err);
        CHECK(load_text("[Coredump]\nCompress=yes\n", &s, err, sizeof(err)) < 0 &&
                      has(err, ":2: unknown section [Coredump]"),
              "an unknown section is an error (%s)", err);
        CHECK(load_text("[Receiver]\nCompress\n", &s, err, sizeof(err)) < 0 && has(err, ":2: syntax error"),
              "a line without = is a syntax error with its line (%s)", err);

        char missing[128];
        snprintf(missing, sizeof(missing), "%s/none.conf", dir);
        settings_defaults(&s);
        CHECK(settings_load(missing, &s, err, sizeof(err)) == 0 && s.compress_level == 1,
              "a missing file means defaults");

        CHECK(settings_set(&s, "Compress", "maybe", &expect) < 0 && strstr(expect, "boolean"),
              "setter says what it expects");

        char path[128];
        snprintf(path, sizeof(path), "%s/receiver.conf", dir);

        /* Backtraces and crash loops (trace-settings.h). */
        settings_defaults(&s);
        CHECK(s.trace.backtrace && s.trace.stack_per_thread == (256 << 10) && s.trace.stack_max == (16 << 20) &&
                      s.trace.timeout_usec == 10000000 && s.trace.max_cores_per_signature == 0,
              "defaults: Backtrace=yes, 256K per thread, 16M in all, 10s, no crash-loop limit");
        CHECK(load_text("[Receiver]\nBacktrace=no\nStackCapturePerThread=64K\nStackCaptureMax=1M\n"
                        "BacktraceTimeout=500ms\nMaxCoresPerSignature=0\n",
                        &s, err, sizeof(err)) == 0 &&
                      !s.trace.backtrace && s.trace.stack_per_thread == (64 << 10) && s.trace.stack_max == (1 << 20) &&
                      s.trace.timeout_usec == 500000 && s.trace.max_cores_per_signature == 0,
              "backtrace keys are read");
        CHECK(load_text("[Receiver]\nStackCapturePerThread=1K\n", &s, err, sizeof(err)) < 0 &&
                      has(err, "StackCapturePerThread=1K is invalid: expected a size from 4K to 64M"),
              "StackCapturePerThread= below 4K refused, naming the range: %s", err);
        CHECK(load_text("[Receiver]\nStackCaptureMax=2G\n", &s, err, sizeof(err)) < 0 && has(err, ":2: "),
              "StackCaptureMax= above 1G refused with its line");
        CHECK(load_text("[Receiver]\nBacktraceTimeout=1h\n", &s, err, sizeof(err)) < 0 &&
                      load_text("[Receiver]\nBacktrace=maybe\n", &s, err, sizeof(err)) < 0 &&
                      load_text("[Receiver]\nMaxCoresPerSignature=-1\n", &s, err, sizeof(err)) < 0,
              "BacktraceTimeout=1h, Backtrace=maybe, MaxCoresPerSignature=-1 refused");
        CHECK(settings_set(&s, "MaxCoresPerSignature", "7", &expect) == 0 && s.trace.max_cores_per_signature == 7,
              "settings_set() takes a backtrace key (the command line's way)");

        unlink(path);
        rmdir(dir);
        return tap_done();
}
