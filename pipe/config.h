/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Settings of the host helper, from /etc/core_pipe/pipe.conf (see core_pipe.conf(5)):
 *
 *   [Pipe]
 *   Fallback=store          # store | drop: what happens when no receiver takes a core
 *   TimeoutSec=3            # bound on connecting to a receiver and getting its verdict
 *   OutcomeTimeoutSec=60    # how long to wait for the receiver's report, for the log line
 *   FallbackStore=/var/lib/core_pipe
 *   Receiver=/usr/libexec/core_pipe-receiver
 *   LogRateLimitBurst=10    # host log lines per container and interval (0 = no limit)
 *   LogRateLimitIntervalSec=60
 *   FallbackCgroup=         # the fallback receiver's cgroup; empty = the crashed process's
 *   StallTimeoutSec=10s     # a handed-over dump that does not move this long is ended
 *   MinDumpRate=1M          # bytes a second a dump must average over each stall window
 *   DumpTimeoutSec=30min    # overall bound on one hand-over
 *   MaxDumpsPerContainer=8  # hand-overs one container may have in progress at once
 *   MaxConcurrentFallback=4 # fallback receivers running at once, machine-wide
 *   MaxFallbackPerContainer=2 # of those, for one container
 *   MaxConcurrentDumps=64   # crashes the coredump socket's server (core_pipe --serve) handles at once
 *
 * The helper must stay libc-only, so this is a deliberately tiny line parser, not an INI
 * library. A bad line never stops a core from being handled: it is reported, and that setting
 * keeps its default.
 */

#include <stdbool.h>
#include <stdint.h>

#define PIPE_CONFIG_PATH_MAX 256

enum fallback_policy {
        FALLBACK_STORE,
        FALLBACK_DROP,
};

struct pipe_config {
        enum fallback_policy fallback;
        uint64_t timeout_usec;
        uint64_t outcome_timeout_usec;
        uint64_t stall_timeout_usec;
        uint64_t min_dump_rate;              /* bytes per second over each stall window; 0 = no minimum */
        uint64_t dump_timeout_usec;          /* overall bound on a hand-over; 0 = none */
        unsigned max_dumps_per_container;    /* 0 = no share */
        unsigned max_concurrent_fallback;    /* 0 = no cap */
        unsigned max_fallback_per_container; /* 0 = no cap */
        unsigned max_concurrent_dumps;       /* workers of core_pipe --serve at once (>= 1) */
        char fallback_store[PIPE_CONFIG_PATH_MAX];
        char receiver[PIPE_CONFIG_PATH_MAX];
        char receiver_config[PIPE_CONFIG_PATH_MAX];
        unsigned log_rate_burst;                    /* host log lines per container and interval; 0 = no limit */
        uint64_t log_rate_interval_usec;            /* 0 = no limit */
        char fallback_cgroup[PIPE_CONFIG_PATH_MAX]; /* "" = the crashed process's own cgroups */
};

void pipe_config_defaults(struct pipe_config *c);

/* Called once for every problem found, with file, line number and a message. */
typedef void (*config_problem_fn)(const char *path, unsigned line, const char *message);

/*
 * Loads path over the defaults already in *c. A missing file is not an error (returns 0, *c
 * keeps its defaults); an unreadable one returns a negative errno. Problems on single lines are
 * passed to report and do not fail the load. Returns the number of problems reported.
 */
int pipe_config_load(const char *path, struct pipe_config *c, config_problem_fn report);

/* Parses the text of a config file (for tests and fuzzing); same contract as the loader. */
int pipe_config_parse(const char *path, const char *text, struct pipe_config *c, config_problem_fn report);
