/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The host log, rate-limited per container. Every crash starts a new helper process, so the
 * state lives in a small table file shared by all of them: LOGRATE_DIR/lograte, in a directory
 * only root may enter, a fixed number of entries reused least-recently-used first, updated under
 * flock(). Each key (a container, "host", "helper") may write `burst` lines per window of
 * `interval`; lines over that are counted, not written. The count is never lost: the first line
 * that key writes in its next window begins with `ratelimit_key="KEY" suppressed=N
 * suppressed_sec=S`, and any helper that
 * finds a key whose window has ended with lines suppressed (or that must reuse its entry) writes
 * a summary line for it. A table that cannot be used never silences a line: the line is written
 * without a limit.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGRATE_DIR "/run/core_pipe"
#define LOGRATE_KEY_MAX 96
#define LOGRATE_ENTRIES 256
/* Summary lines for other keys one helper writes at most (its own line comes on top). */
#define LOGRATE_SUMMARIES_MAX 4

struct lograte_limits {
        unsigned burst;         /* lines per interval; 0 = no limit */
        uint64_t interval_usec; /* 0 = no limit */
};

/* One key's window, as stored in the table file (fixed layout, 128 bytes). */
struct lograte_entry {
        char key[LOGRATE_KEY_MAX]; /* NUL-terminated; "" = free */
        uint64_t window_start;     /* CLOCK_BOOTTIME, usec */
        uint64_t last_used;        /* CLOCK_BOOTTIME, usec: least recently used is reused first */
        uint32_t emitted;          /* lines written in this window */
        uint32_t suppressed;       /* lines not written in this window */
        uint64_t reserved;
};

/* A count of suppressed lines to report: for key, n lines over span_usec. */
struct lograte_report {
        char key[LOGRATE_KEY_MAX];
        uint32_t n;
        uint64_t span_usec;
};

/* What lograte_account() decided for one line. */
struct lograte_decision {
        bool emit;                 /* write the line */
        struct lograte_report own; /* own.n > 0: append the count to the line */
        struct lograte_report others[LOGRATE_SUMMARIES_MAX + 1];
        size_t n_others; /* summary lines to write for other keys */
};

/*
 * The decision for one line of key at time now on an in-memory table (no I/O: unit tests drive
 * it). Entries that cannot be valid (no NUL in the key, a time in the future) are cleared first.
 * Updates the table; returns the decision.
 */
void lograte_account(struct lograte_entry *table, size_t n, const char *key, uint64_t now,
                     const struct lograte_limits *l, struct lograte_decision *ret);

/*
 * Writes one host log line (hostlog_send) for key, within the limits, with the table in dir
 * (normally LOGRATE_DIR). Summary lines for other keys go out with the same ident. Returns 0 when
 * the line was written or counted, or the negative errno of the log sink.
 */
int lograte_send(const char *dir, const struct lograte_limits *l, const char *key, int priority, const char *ident,
                 const char *message);
