/* SPDX-License-Identifier: MIT */
#include "cause.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

bool stream_ended_short(const struct stream_facts *f) {
        if (f->receiver_cut)
                return false;
        if (f->headers_missing)
                return true;
        return f->expected > 0 && f->read < f->expected;
}

void short_stream_cause(const struct stream_facts *f, char *out, size_t size) {
        if (f->have_oom && f->oom_after > f->oom_before) {
                snprintf(out, size, "the process was OOM-killed by its memory cgroup (oom_kill %llu -> %llu)",
                         (unsigned long long) f->oom_before, (unsigned long long) f->oom_after);
                return;
        }
        /* A process that dies of its own crash signal was not stopped by anyone: the kernel's
         * dump ended by itself. Any other signal came during the dump and ended it. */
        if (f->have_exit && WIFSIGNALED(f->exit_status) && (uint32_t) WTERMSIG(f->exit_status) != f->crash_signal) {
                const char *abbrev = sigabbrev_np(WTERMSIG(f->exit_status));
                if (abbrev)
                        snprintf(out, size, "the process was killed by SIG%s during its dump", abbrev);
                else
                        snprintf(out, size, "the process was killed by signal %d during its dump",
                                 WTERMSIG(f->exit_status));
                return;
        }
        snprintf(out, size, "the kernel ended the dump early (cause unknown)");
}

void size_limit_cause(uint64_t core_limit, uint64_t process_size_max, char *out, size_t size) {
        if (core_limit <= process_size_max)
                snprintf(out, size, "RLIMIT_CORE of %llu bytes", (unsigned long long) core_limit);
        else
                snprintf(out, size, "ProcessSizeMax= of %llu bytes", (unsigned long long) process_size_max);
}
