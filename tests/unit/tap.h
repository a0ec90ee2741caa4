/* SPDX-License-Identifier: MIT */
#pragma once

/* Minimal TAP output for the unit tests: CHECK(expr, "what it pins down"). */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

#define CHECK(expr, ...)                                                                                               \
        do {                                                                                                           \
                tap_n++;                                                                                               \
                bool tap_ok_ = (expr); /* once: expr may have effects (a read, a call) */                              \
                if (tap_ok_) {                                                                                         \
                        printf("ok %d - ", tap_n);                                                                     \
                } else {                                                                                               \
                        tap_failed++;                                                                                  \
                        printf("not ok %d - ", tap_n);                                                                 \
                }                                                                                                      \
                printf(__VA_ARGS__);                                                                                   \
                printf("\n");                                                                                          \
                if (!tap_ok_)                                                                                          \
                        printf("# %s:%d: %s\n", __FILE__, __LINE__, #expr);                                            \
                fflush(stdout); /* a child forked later must not print it again */                                     \
        } while (0)

static inline int tap_done(void) {
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}
