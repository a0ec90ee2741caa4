/* SPDX-License-Identifier: MIT */
/* The crash-loop state (receiver/signature.c), which whoever is root in the container can write:
 * any bytes are taken or dropped line by line, never more than LOOP_STATE_ENTRIES entries, each
 * within its window; counting and writing it back again stays within the bounds. */
#include "fuzz.h"
#include "macro.h"
#include "signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint64_t now = UINT64_C(1700000000) * USEC_PER_SEC, interval = 60 * USEC_PER_SEC;
        struct loop_state s;
        if (size > LOOP_STATE_TEXT_MAX + 64)
                return 0;
        /* Not terminated: the parser must stay within size. */
        char *copy = malloc(size ? size : 1);
        if (!copy)
                abort();
        memcpy(copy, data, size);
        int r = loop_state_parse(copy, size, now, interval, &s);
        FUZZ_ASSERT(r == 0 || r == -ENOMEM);
        if (r == 0) {
                FUZZ_ASSERT(s.n <= LOOP_STATE_ENTRIES);
                for (size_t i = 0; i < s.n; i++) {
                        FUZZ_ASSERT(strlen(s.entries[i].signature) == SIGNATURE_HEX_LEN);
                        FUZZ_ASSERT(s.entries[i].count > 0);
                        FUZZ_ASSERT(s.entries[i].window_start <= now && now - s.entries[i].window_start < interval);
                }
                int n = loop_state_count(&s, "0123456789abcdef", now, interval);
                FUZZ_ASSERT(n >= 1 || n == -ENOMEM);
                FUZZ_ASSERT(s.n <= LOOP_STATE_ENTRIES);
                char *text = loop_state_format(&s);
                if (text) {
                        struct loop_state again;
                        FUZZ_ASSERT(strlen(text) <= LOOP_STATE_TEXT_MAX);
                        /* What is written is read back whole. */
                        if (loop_state_parse(text, strlen(text), now, interval, &again) == 0) {
                                FUZZ_ASSERT(again.n == s.n);
                                loop_state_done(&again);
                        }
                        free(text);
                }
                loop_state_done(&s);
        }
        free(copy);
        return 0;
}
