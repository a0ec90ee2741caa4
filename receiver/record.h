/* SPDX-License-Identifier: MIT */
#pragma once

/* The JSON record stored beside each core as <stem>.json (written with json-c). */

#include <stdbool.h>

#include "metadata.h"
#include "store.h"

struct crash_trace;

struct record_info {
        const char *core_file;  /* file name of the core in the store, NULL if none */
        const char *handled_by; /* "container" or "host-fallback" */
        bool compressed;        /* zstd, or the core as the kernel wrote it */
        long max_rss_kib;       /* the receiver's peak resident memory for this core */
        uint64_t cpu_usec;      /* the receiver's CPU time (user + system, all threads) */
        const struct store_result *result;
        const struct crash_trace *trace; /* the backtrace (traceout.h), or NULL */
};

/* Returns a newly allocated JSON text, or NULL on allocation failure. */
char *record_to_json(const struct core_metadata *m, const struct record_info *info);
