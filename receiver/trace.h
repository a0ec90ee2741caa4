/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A crash's backtrace, from the stream to the record: the capture chained into the store's
 * observer (common/stackcap.h), the unwinding once the crashed process is released
 * (receiver/backtrace.h), its signature and crash-loop verdict (receiver/signature.h), and what
 * the record, the log line and the journal entry say of it (receiver/traceout.h).
 *
 * The order keeps the crashed process's stall as it was: the capture only copies bounded ranges
 * out of chunks the store reads anyway, and everything else runs after the core's last byte
 * was read and any hold (--release=store) was given back. Nothing here fails the store: a
 * backtrace that cannot be made leaves the record's backtrace_error saying why.
 *
 * The host's fallback receiver makes none: it runs in the host's root, where the modules NT_FILE
 * names are not the container's (and a hostile container's core would have the host's root
 * parse files for it).
 */

#include <stdbool.h>
#include <stdint.h>

#include "backtrace.h"
#include "macro.h"
#include "signature.h"
#include "stackcap.h"
#include "store.h"
#include "trace-settings.h"

enum trace_state {
        TRACE_OFF,     /* Backtrace=no, or the host's fallback */
        TRACE_PENDING, /* capturing, or captured and not unwound yet */
        TRACE_DONE,    /* unwound (bt filled, maybe with an error) */
        TRACE_FAILED,  /* no backtrace: error says why */
};

struct crash_trace {
        enum trace_state state;
        struct stack_capture *cap;
        struct backtrace bt;
        struct stack_capture_stats stats;
        int n_signature_frames; /* > 0 when signature is set */
        char signature[SIGNATURE_HEX_LEN + 1];
        bool have_loop;
        struct loop_verdict loop;
        bool core_removed; /* a repeat's core, removed from the store */
        uint64_t interval_usec;
        char error[320]; /* why there is no backtrace (or no signature), "" otherwise */
};

#define CRASH_TRACE_INIT                                                                                               \
        { .state = TRACE_OFF }

/*
 * Before the store: with Backtrace=yes (and not for the host's fallback), a capture within
 * StackCapture*= and our memory cgroup's headroom (as read for the store's plan, memcg.h;
 * MEMCG_UNLIMITED when none) left after the store's own plan (store_need), chained
 * with head (which it feeds): so->observe is set to it. On any failure so is left as it was and
 * the record will say why.
 */
void crash_trace_begin(struct crash_trace *t, const struct trace_settings *s, bool fallback, struct core_head *head,
                       uint64_t headroom, uint64_t store_need, struct store_options *so);

/*
 * After the crashed process is released: waits for its end (its pidfd, at most
 * TRACE_EXIT_WAIT_USEC: the kernel frees its memory meanwhile, which is the end of its stall),
 * unwinds (bounded by BacktraceTimeout=), computes the signature, and with MaxCoresPerSignature=
 * counts it in the store (dirfd, under its lock). A repeat's core (core_name in dirfd) is
 * removed. Idempotent: the second call does nothing.
 */
#define TRACE_EXIT_WAIT_USEC (1000 * USEC_PER_MSEC)
void crash_trace_finish(struct crash_trace *t, const struct trace_settings *s, uint64_t interval_usec, int dirfd,
                        const char *core_name, int pidfd);

/* True when the core was counted as a repeat and removed. */
static inline bool crash_trace_is_repeat(const struct crash_trace *t) {
        return t->have_loop && t->loop.repeat;
}

void crash_trace_done(struct crash_trace *t);
