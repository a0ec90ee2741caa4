/* SPDX-License-Identifier: MIT */
/*
 * The unwinding child's message to the receiver (receiver/backtrace-wire.c): the child reads the
 * container's files with libdw, and one of them may have taken it over, so its message is as
 * untrusted as the files. Whatever the bytes, the reader refuses them or returns a backtrace
 * that holds together (counts within their caps, strings terminated), which written again
 * reads back the same.
 */
#include <string.h>

#include "backtrace.h"
#include "fuzz.h"

static void check(const struct backtrace *b, int result) {
        FUZZ_ASSERT(b->n_threads <= BACKTRACE_WIRE_THREADS_MAX && b->n_modules <= BACKTRACE_WIRE_MODULES_MAX);
        FUZZ_ASSERT(result <= (int) b->n_threads && result >= -4095);
        FUZZ_ASSERT(strlen(b->error) < sizeof(b->error));
        for (size_t i = 0; i < b->n_threads; i++) {
                FUZZ_ASSERT(b->threads[i].n_frames <= BACKTRACE_WIRE_FRAMES_MAX);
                for (size_t j = 0; j < b->threads[i].n_frames; j++) {
                        const struct bt_frame *f = &b->threads[i].frames[j];
                        FUZZ_ASSERT(strlen(f->build_id) < sizeof(f->build_id));
                        (void) (f->module && strlen(f->module));
                        (void) (f->function && strlen(f->function));
                        (void) (f->file && strlen(f->file));
                }
        }
        for (size_t i = 0; i < b->n_modules; i++)
                (void) (b->modules[i].path && strlen(b->modules[i].path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct backtrace b, again;
        int result, result2;
        if (backtrace_deserialize(data, size, &result, &b) < 0)
                return 0;
        check(&b, result);
        char *buf;
        size_t n;
        FUZZ_ASSERT(backtrace_serialize(&b, result, &buf, &n) == 0);
        FUZZ_ASSERT(backtrace_deserialize(buf, n, &result2, &again) == 0 && result2 == result);
        FUZZ_ASSERT(again.n_threads == b.n_threads && again.n_modules == b.n_modules);
        free(buf);
        backtrace_done(&b);
        backtrace_done(&again);
        return 0;
}
