/* SPDX-License-Identifier: MIT */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "fdio.h"
#include "macro.h"
#include "memcg.h"
#include "vacuum.h"

/* Kept free in our memory cgroup beyond the store's plan: libdwfl's own allocations come after
 * the stream (the capture is then the only large buffer), but the capture itself lives during it. */
#define TRACE_MEMCG_MARGIN (UINT64_C(2) << 20)
/* Below this, a capture could not hold the notes and one stack: none is made. */
#define TRACE_CAPTURE_MIN (UINT64_C(64) << 10)

static void fail(struct crash_trace *t, const char *fmt, ...) _printf_(2, 3);
static void fail(struct crash_trace *t, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->error, sizeof(t->error), fmt, ap);
        va_end(ap);
        t->state = TRACE_FAILED;
        t->cap = stack_capture_free(t->cap);
}

/* StackCaptureMax=, or less when our memory cgroup has less headroom left after the store's plan
 * (read once, for the plan: the crashed process is dumping meanwhile). */
static uint64_t capture_total(const struct trace_settings *s, uint64_t headroom, uint64_t store_need) {
        if (headroom == MEMCG_UNLIMITED)
                return s->stack_max;
        uint64_t taken = store_need + TRACE_MEMCG_MARGIN;
        return headroom > taken ? MIN(s->stack_max, headroom - taken) : 0;
}

void crash_trace_begin(struct crash_trace *t, const struct trace_settings *s, bool fallback, struct core_head *head,
                       uint64_t headroom, uint64_t store_need, struct store_options *so) {
        if (!s->backtrace || fallback) {
                t->state = TRACE_OFF;
                snprintf(t->error, sizeof(t->error), "%s",
                         fallback ? "not made by the host's fallback (the modules are the container's)"
                                  : "Backtrace=no");
                return;
        }
        if (!head) {
                fail(t, "the core's notes could not be read (out of memory)");
                return;
        }
        struct stack_capture_limits l = {.per_thread = s->stack_per_thread,
                                         .total = capture_total(s, headroom, store_need)};
        if (l.total < TRACE_CAPTURE_MIN) {
                fail(t, "no memory headroom for the stack capture in our memory cgroup");
                return;
        }
        l.per_thread = MIN(l.per_thread, l.total);
        int r = stack_capture_new(&l, head, &t->cap);
        if (r < 0) {
                fail(t, "cannot start the stack capture: %s", strerror(-r));
                return;
        }
        t->state = TRACE_PENDING;
        so->observe = stack_capture_observe;
        so->observe_userdata = t->cap;
}

/* The crashing thread's frames as the signature reads them. */
static void compute_signature(struct crash_trace *t) {
        const struct bt_thread *th = t->bt.n_threads > 0 ? &t->bt.threads[0] : NULL;
        struct signature_frame f[BACKTRACE_FRAMES_MAX];
        size_t n = 0;
        if (!th || !th->crashed)
                return;
        for (size_t i = 0; i < th->n_frames && n < ELEMENTSOF(f); i++)
                f[n++] = (struct signature_frame){
                        .function = th->frames[i].function,
                        .module = th->frames[i].module,
                        .module_offset = th->frames[i].module_offset,
                };
        int r = signature_compute(f, n, t->signature);
        t->n_signature_frames = r > 0 ? r : 0;
}

/* MaxCoresPerSignature=: counted under the store's lock; a repeat's core is removed. */
static void count_signature(struct crash_trace *t, const struct trace_settings *s, uint64_t interval_usec, int dirfd,
                            const char *core_name) {
        if (t->n_signature_frames <= 0 || s->max_cores_per_signature == 0 || dirfd < 0)
                return;
        _cleanup_close_ int lock = store_lock(dirfd);
        int r = lock < 0 ? lock
                         : crash_loop_admit(dirfd, t->signature, s->max_cores_per_signature, interval_usec,
                                            now_realtime_usec(), &t->loop);
        if (r < 0) {
                snprintf(t->error, sizeof(t->error), "crash-loop state of the store unusable (%s): core kept",
                         strerror(-r));
                return;
        }
        t->have_loop = true;
        if (t->loop.repeat && core_name && unlinkat(dirfd, core_name, 0) >= 0)
                t->core_removed = true;
}

/* The unwinding is nobody's wait: the crashed process is gone, but the kernel may still be freeing
 * its memory, and other crashes may be streaming. It runs at a lower priority than they do. This
 * process handles this one crash (listen.c forks one per connection; socket activation starts
 * one), so the priority is never restored. */
#define TRACE_NICE 10
static void yield_to_crashes(void) {
        errno = 0;
        int now = getpriority(PRIO_PROCESS, 0);
        if (errno == 0 && now < TRACE_NICE)
                (void) setpriority(PRIO_PROCESS, 0, TRACE_NICE);
}

void crash_trace_finish(struct crash_trace *t, const struct trace_settings *s, uint64_t interval_usec, int dirfd,
                        const char *core_name, int pidfd) {
        if (t->state != TRACE_PENDING)
                return;
        /* Not a wait for the process: for the CPUs. Until it has ended, the kernel is still
         * tearing down its memory, and the crash's stall lasts; unwinding meanwhile slowed it. */
        if (pidfd >= 0)
                (void) fd_wait_until(pidfd, POLLIN, now_monotonic_usec() + TRACE_EXIT_WAIT_USEC);
        t->interval_usec = interval_usec;
        stack_capture_stats(t->cap, &t->stats);
        struct backtrace_options o = {.timeout_usec = s->timeout_usec};
        yield_to_crashes();
        int r = backtrace_from_capture(t->cap, &o, &t->bt);
        /* The captured stacks are not needed any more: the record is made from bt. */
        t->cap = stack_capture_free(t->cap);
        t->state = TRACE_DONE;
        if (r <= 0)
                snprintf(t->error, sizeof(t->error), "%s",
                         t->bt.error[0] ? t->bt.error
                         : r < 0        ? strerror(-r)
                                        : "no thread could be unwound");
        else if (t->bt.error[0])
                snprintf(t->error, sizeof(t->error), "%s", t->bt.error);
        compute_signature(t);
        count_signature(t, s, interval_usec, dirfd, core_name);
}

void crash_trace_done(struct crash_trace *t) {
        t->cap = stack_capture_free(t->cap);
        if (t->state == TRACE_DONE)
                backtrace_done(&t->bt);
        t->state = TRACE_OFF;
}
