/* SPDX-License-Identifier: MIT */
/* The helper's command line: the kernel expands %e (comm) and %h (hostname), which the crashed
 * process chose. The input is split at NUL bytes into argv. */
#include <string.h>

#include "args.h"
#include "fuzz.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *copy = fuzz_strndup(data, size);
        char *argv[MAX_ARGS + 2];
        int argc = 0;
        argv[argc++] = "core_pipe";
        for (size_t i = 0; i <= size && argc <= MAX_ARGS;) {
                argv[argc++] = copy + i;
                i += strlen(copy + i) + 1;
        }
        argv[argc] = NULL;

        struct kernel_args a;
        char err[256];
        if (parse_kernel_args(argc, argv, &a, err, sizeof(err)) >= 0) {
                FUZZ_ASSERT(strlen(a.comm) <= KERNEL_COMM_MAX);
                FUZZ_ASSERT(strlen(a.hostname) <= KERNEL_HOSTNAME_MAX);
                FUZZ_ASSERT(strlen(a.config_path) <= KERNEL_PATH_MAX);
        } else
                FUZZ_ASSERT(strlen(err) < sizeof(err) && err[0] != '\0');
        free(copy);
        return 0;
}
