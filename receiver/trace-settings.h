/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The settings of backtraces at crash time and of crash loops (receiver.conf, [Receiver]):
 *   Backtrace=              yes: a symbolized backtrace of every thread in the record (default)
 *   StackCapturePerThread=  stack bytes kept per thread from its stack pointer up (default 256K)
 *   StackCaptureMax=        stack bytes kept for all threads together (default 16M)
 *   BacktraceTimeout=       the whole unwinding, debuginfod included (default 10s)
 *   MaxCoresPerSignature=   cores kept per crash signature within Interval= (default 0: all)
 * Interval= is the rate limit's (settings.h).
 */

#include <stdbool.h>
#include <stdint.h>

struct trace_settings {
        bool backtrace;
        uint64_t stack_per_thread; /* bytes */
        uint64_t stack_max;        /* bytes */
        uint64_t timeout_usec;
        unsigned max_cores_per_signature; /* 0 = no crash-loop handling */
};

void trace_settings_defaults(struct trace_settings *t);

/* Sets one of the keys above from text: 0, -EINVAL (*ret_expect says what is valid), or -ENOKEY
 * for any other key. */
int trace_settings_set(struct trace_settings *t, const char *key, const char *value, const char **ret_expect);
