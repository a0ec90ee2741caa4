/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One crash, as the helper handles it: the kernel's arguments, the helper's settings, the
 * pinned process with its descriptors, the core pipe and, once the helper is done, the
 * outcome. main() reads as parse -> pin -> choose a receiver -> hand over -> report, and every
 * step writes only its own part of this context.
 */

#include <errno.h>
#include <stdbool.h>
#include <syslog.h>

#include "args.h"
#include "config.h"
#include "forward.h"
#include "kernelsock.h"
#include "macro.h"
#include "process.h"
#include "slots.h"

/* What became of the core. A typed value: the log line's priority and wording come from it,
 * never from text a receiver sent. */
enum outcome_kind {
        OUTCOME_DROPPED,       /* nobody took it (policy, no receiver, cannot start the fallback) */
        OUTCOME_SKIPPED,       /* a receiver accounted for it and stores nothing, by its policy */
        OUTCOME_RECEIVER_DIED, /* a receiver took the pipe and sent no report */
        OUTCOME_STORED,        /* a receiver reported the core stored */
        OUTCOME_FAILED,        /* a receiver answered or took the pipe, then failed */
};

enum receiver_kind {
        RECEIVER_NONE,
        RECEIVER_CONTAINER, /* the receiver in the crashed process's root, inside a container */
        RECEIVER_HOST,      /* the receiver in the root of a host process */
        RECEIVER_FALLBACK,  /* the host's fallback receiver, started by the helper */
};

struct crash_outcome {
        enum outcome_kind kind;
        enum receiver_kind receiver;
        struct conversation conversation; /* with the receiver that had the last word */
        char why_fallback[1024];          /* why the receiver in its root did not take it */
        char dropped[512];                /* why nobody took it, for OUTCOME_DROPPED */
        char fallback_dir[PIPE_CONFIG_PATH_MAX + 64];
        bool fallback_killed; /* the fallback receiver sent no report in time and was killed */
};

struct crash {
        struct kernel_args args;
        struct pipe_config cfg;
        struct crashed_process proc;
        bool pinned;              /* proc holds the pinned process */
        int core_fd;              /* the core pipe: stdin until handed over */
        struct crash_slots slots; /* its place in the machine-wide table of hand-overs (slots.h) */
        char oom_path[1400];      /* its memory cgroup's OOM kill counter (fate.h), "" when unknown */
        struct crash_outcome outcome;
        /* The kernel's coredump socket, when the crash came that way (sockmode.c); NULL for the
         * pipe. core_fd is then that connection, and the kernel gets an ack from the shared path:
         * KERNEL(|WAIT) right before a hand-over, REJECT when nobody took the core. */
        struct kcore_conn *kernel;
        /* Run once the process is pinned, before anything is offered: what a transport learns
         * only through the pinned process (the socket: RLIMIT_CORE, comm). NULL = nothing. */
        int (*after_pin)(struct crash *c);
};

#define CRASH_NULL                                                                                                     \
        { .proc = CRASHED_PROCESS_NULL, .core_fd = 0, .slots = CRASH_SLOTS_NULL }

/* The helper's own problems (config, arguments, a connection that is not the kernel's), under a
 * log share of their own. */
void log_helper_problem(int priority, const char *fmt, ...) _printf_(2, 3);

/* The same key ("helper"), limited by the config's LogRateLimitBurst=/IntervalSec= (0 = no
 * limit): lines the server writes about crashes it cannot handle (REJECTed, not identified). */
void log_crash_problem(const struct pipe_config *cfg, int priority, const char *fmt, ...) _printf_(3, 4);

/* Loads the config at path ("" or NULL: the built-in path) over the defaults; problems are
 * logged and leave the defaults. */
void crash_load_config(const char *path, struct pipe_config *cfg);

/*
 * The path every crash takes, with c->args, c->cfg, c->core_fd (and for the socket c->kernel,
 * c->after_pin) filled in: pin -> admit -> receivers -> fallback -> the kernel's answer -> one
 * log line. Closes everything c holds. Returns a negative errno when the process could not be
 * pinned (the crash is logged as dropped either way).
 */
int crash_handle(struct crash *c);

/* The outcome a finished conversation gives: skipped, stored, failed or handed over. */
enum outcome_kind outcome_from_conversation(const struct conversation *c);

/* The log priority of an outcome: informational when the crash was dealt with as configured. */
int outcome_log_priority(enum outcome_kind kind);

/* The host log line of a crash: who crashed, then what became of the core. */
void crash_describe(const struct crash *c, char *out, size_t size);
