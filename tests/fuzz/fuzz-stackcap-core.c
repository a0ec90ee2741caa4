/* SPDX-License-Identifier: MIT */
/*
 * The synthetic core that common/stackcap.c builds from an untrusted core (its notes copied,
 * its PT_LOADs made from what was kept) is read by libdwfl, and by common/elfcore.c: it must be
 * a well-formed core whose notes say what the original's said. The first 4 bytes of an input
 * choose the limits; the rest is the core. The image is read back by elfcore (the same
 * threads, mappings and executable when the notes were whole) and captured again: the second
 * capture plans the same threads, and keeps of each stack no more than the first kept.
 */
#include <string.h>

#include "elfcore.h"
#include "fuzz.h"
#include "stackcap.h"

static struct stack_capture *capture(const void *data, size_t size, const struct stack_capture_limits *l) {
        struct stack_capture *c;
        if (stack_capture_new(l, NULL, &c) < 0)
                abort();
        stack_capture_observe(c, 0, data, size);
        return c;
}

static int parse(const void *data, size_t size, struct core_notes *ret) {
        struct core_head *h;
        if (core_head_new(&h) < 0)
                abort();
        core_head_observe(h, 0, data, size);
        int r = core_head_parse(h, ret);
        core_head_free(h);
        return r;
}

static void same_notes(const void *orig, size_t orig_size, const void *img, size_t img_size) {
        struct core_notes a, b;
        int r = parse(orig, orig_size, &a);
        FUZZ_ASSERT(r == 0); /* the capture planned: the original's headers were readable */
        FUZZ_ASSERT(parse(img, img_size, &b) == 0);
        if (a.notes_complete) {
                FUZZ_ASSERT(b.threads == a.threads && b.n_files == a.n_files && b.have_auxv == a.have_auxv);
                FUZZ_ASSERT(b.at_entry == a.at_entry && strcmp(b.fname, a.fname) == 0);
                for (size_t i = 0; i < a.n_files; i++)
                        FUZZ_ASSERT(strcmp(a.files[i].path, b.files[i].path) == 0 &&
                                    a.files[i].start == b.files[i].start);
        }
        core_notes_done(&a);
        core_notes_done(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint32_t seed = 0;
        if (size < sizeof(seed))
                return 0;
        memcpy(&seed, data, sizeof(seed));
        data += sizeof(seed);
        size -= sizeof(seed);
        struct stack_capture_limits l = {0};
        if (seed & 1)
                l = (struct stack_capture_limits){.per_thread = 4096, .total = 4096 * (1 + (seed >> 1) % 16)};

        struct stack_capture *c = capture(data, size, &l);
        const void *img;
        size_t img_size;
        if (stack_capture_core(c, &img, &img_size) < 0) {
                stack_capture_free(c);
                return 0;
        }
        same_notes(data, size, img, img_size);

        struct stack_capture *again = capture(img, img_size, &l);
        struct stack_capture_thread t, u;
        size_t n = stack_capture_n_threads(c);
        FUZZ_ASSERT(stack_capture_n_threads(again) == n);
        for (size_t i = 0; i < n; i++) {
                FUZZ_ASSERT(stack_capture_thread(c, i, &t) == 0 && stack_capture_thread(again, i, &u) == 0);
                FUZZ_ASSERT(t.tid == u.tid && t.sp == u.sp && t.pc == u.pc && u.captured <= t.captured);
        }
        stack_capture_free(again);
        stack_capture_free(c);
        return 0;
}
