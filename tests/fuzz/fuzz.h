/* SPDX-License-Identifier: MIT */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The libFuzzer entry point: built with -fsanitize=fuzzer for fuzzing, or with replay.c as a
 * plain program that runs a committed corpus (a normal test in every build). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Untrusted bytes as a C string: a NUL-terminated heap copy, so that reads past the input
 * are caught by the address sanitizer. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

/* A failed invariant is a crash, so that the fuzzer stops there and keeps the input. */
#define FUZZ_ASSERT(x)                                                                                                 \
        do {                                                                                                           \
                if (!(x))                                                                                              \
                        abort();                                                                                       \
        } while (0)
