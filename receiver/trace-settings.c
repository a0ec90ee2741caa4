/* SPDX-License-Identifier: MIT */
#include "trace-settings.h"

#include <errno.h>
#include <string.h>

#include "macro.h"
#include "parse.h"
#include "settings.h"

void trace_settings_defaults(struct trace_settings *t) {
        *t = (struct trace_settings){
                .backtrace = true,
                .stack_per_thread = UINT64_C(256) << 10,
                .stack_max = UINT64_C(16) << 20,
                .timeout_usec = 10 * USEC_PER_SEC,
                .max_cores_per_signature = 0,
        };
}

/* A size within [min, max]: 0 and *ret, or -EINVAL. */
static int parse_size_within(const char *value, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v;
        if (parse_size(value, &v) < 0 || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int trace_settings_set(struct trace_settings *t, const char *key, const char *value, const char **ret_expect) {
        uint32_t u32;
        uint64_t u64;
        if (strcmp(key, "Backtrace") == 0) {
                *ret_expect = "a boolean (yes or no)";
                int b = parse_boolean(value);
                if (b < 0)
                        return -EINVAL;
                t->backtrace = b;
                return 0;
        }
        if (strcmp(key, "StackCapturePerThread") == 0) {
                *ret_expect = "a size from 4K to 64M (K, M suffixes)";
                return parse_size_within(value, 4 << 10, 64 << 20, &t->stack_per_thread);
        }
        if (strcmp(key, "StackCaptureMax") == 0) {
                *ret_expect = "a size from 64K to 1G (K, M, G suffixes)";
                return parse_size_within(value, 64 << 10, 1 << 30, &t->stack_max);
        }
        if (strcmp(key, "BacktraceTimeout") == 0) {
                *ret_expect = "a time span from 100ms to 10min";
                if (parse_timespan_usec(value, &u64) < 0 || u64 < 100 * USEC_PER_MSEC || u64 > 600 * USEC_PER_SEC)
                        return -EINVAL;
                t->timeout_usec = u64;
                return 0;
        }
        if (strcmp(key, "MaxCoresPerSignature") == 0) {
                *ret_expect = "a number of cores (0 = no limit)";
                if (parse_uint32(value, &u32) < 0 || u32 > 1000000)
                        return -EINVAL;
                t->max_cores_per_signature = u32;
                return 0;
        }
        *ret_expect = NULL;
        return -ENOKEY;
}
