/* SPDX-License-Identifier: MIT */
/* The verdict before a core's first byte: each rule alone, and their order. */
#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "macro.h"
#include "policy.h"
#include "tap.h"

static const struct crash_facts ordinary = {.dump_mode = 1, .core_limit = UINT64_MAX, .storage = STORAGE_EXTERNAL};

int main(void) {
        struct verdict v;
        struct crash_facts f = ordinary;

        CHECK(!policy_before_store(&f, &v), "an ordinary crash needs the store's facts");

        f.dump_mode = 2;
        CHECK(policy_before_store(&f, &v) && v.verdict == CP_VERDICT_REFUSE && strstr(v.reason, "dump mode 2"),
              "a privileged dump is refused by a container's receiver");
        f.fallback = true;
        CHECK(!policy_before_store(&f, &v), "the host's fallback takes a privileged dump");

        f = ordinary;
        f.core_limit = 0;
        CHECK(policy_before_store(&f, &v) && v.verdict == CP_VERDICT_SKIP && v.level == LOG_INFO &&
                      strstr(v.note, "ulimit -c 0"),
              "RLIMIT_CORE 0 is skipped, logged at info");
        f.dump_mode = 2;
        CHECK(policy_before_store(&f, &v) && v.verdict == CP_VERDICT_REFUSE,
              "a privileged dump is refused even with RLIMIT_CORE 0 (the first rule wins)");

        f = ordinary;
        f.storage = STORAGE_NONE;
        CHECK(policy_before_store(&f, &v) && v.verdict == CP_VERDICT_SKIP && strstr(v.reason, "Storage=none"),
              "Storage=none is skipped before the store is looked at");

        struct store_facts s = {.store = "/var/lib/core_pipe", .open_note = ""};
        policy_with_store(&s, &v);
        CHECK(v.verdict == CP_VERDICT_SEND, "a usable store with room: send the core");

        s.open_error = -EACCES;
        policy_with_store(&s, &v);
        CHECK(v.verdict == CP_VERDICT_REFUSE && strstr(v.reason, "/var/lib/core_pipe unavailable") &&
                      strstr(v.reason, strerror(EACCES)) && strcmp(v.verb, "Cannot store core of") == 0,
              "an unusable store is refused, naming it and the error");
        s.open_note = "store /var/lib/core_pipe is owned by uid 1000 (mode 0755)";
        policy_with_store(&s, &v);
        CHECK(strcmp(v.reason, s.open_note) == 0, "the store's own note is the reason when there is one");

        s = (struct store_facts){.store = "/s",
                                 .over_rate = true,
                                 .recent = 20,
                                 .interval_usec = 60 * USEC_PER_SEC,
                                 .max_per_interval = 20,
                                 .no_room = true};
        policy_with_store(&s, &v);
        CHECK(v.verdict == CP_VERDICT_SKIP && v.level == LOG_WARNING &&
                      strcmp(v.reason, "rate limit: 20 cores in the last 60s (MaxCoresPerInterval=20)") == 0 &&
                      strncmp(v.note, "core not stored: rate limit", 27) == 0,
              "over the rate limit: skipped (before the room is considered)");

        s.over_rate = false;
        s.free_bytes = 4096;
        s.keep_free = 1048576;
        policy_with_store(&s, &v);
        CHECK(v.verdict == CP_VERDICT_REFUSE &&
                      strcmp(v.reason, "store full: 4096 bytes free, KeepFree=1048576") == 0 &&
                      strcmp(v.note, "store full: 4096 bytes free, KeepFree=1048576 in /s") == 0 &&
                      strcmp(v.verb, "Refusing the core of") == 0,
              "no room within KeepFree=: refused before the first byte, so the host's fallback applies");

        f = ordinary;
        f.memory_short = true;
        f.memory_headroom = 3 << 20;
        f.memory_need = 6 << 20;
        CHECK(policy_before_store(&f, &v) && v.verdict == CP_VERDICT_REFUSE &&
                      strcmp(v.reason, "memory: 3.0 MiB of headroom in the cgroup, 6.0 MiB needed") == 0,
              "too little memory headroom: refused before the store (the rate limit does not count it)");
        f.core_limit = 0;
        CHECK(policy_before_store(&f, &v) && v.verdict == CP_VERDICT_SKIP, "RLIMIT_CORE 0 is skipped, memory or not");
        f.core_limit = UINT64_MAX;
        f.fallback = true;
        CHECK(!policy_before_store(&f, &v), "the host's fallback never refuses for memory: nothing comes after it");
        return tap_done();
}
