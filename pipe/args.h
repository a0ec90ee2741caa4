/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The helper's command line is written by the kernel from kernel.core_pattern. Every argument is
 * KEY=VALUE with a one-letter key, so that the line documents itself and a missing specifier
 * (an older kernel without %F) shows up as an empty value instead of shifting the rest:
 *
 *   |/usr/libexec/core_pipe F=%F P=%P u=%u g=%g s=%s t=%t c=%c d=%d h=%h e=%e
 *
 * Since Linux 5.3 the kernel splits the pattern into arguments before expanding specifiers, so
 * %h and %e (attacker-chosen text) stay one argument each whatever bytes they contain; the
 * parser never re-splits a value. Unknown or repeated keys are rejected: core_pattern is written
 * by root, so a mismatch is a configuration error to report, not something to guess around.
 * An optional C=PATH names the helper's config file (default /etc/core_pipe/pipe.conf).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define KERNEL_COMM_MAX 64
#define KERNEL_HOSTNAME_MAX 64
#define KERNEL_PATH_MAX 256

struct kernel_args {
        bool have_pidfd;                        /* F= carried a descriptor (Linux >= 6.16) */
        int pidfd;                              /* %F */
        pid_t pid;                              /* %P, in the initial pid namespace */
        uid_t uid;                              /* %u, real uid in the initial user namespace */
        gid_t gid;                              /* %g */
        uint32_t signal;                        /* %s */
        uint64_t time;                          /* %t */
        uint64_t core_limit;                    /* %c (UINT64_MAX for unlimited) */
        uint32_t dump_mode;                     /* %d */
        char hostname[KERNEL_HOSTNAME_MAX + 1]; /* %h, attacker text */
        char comm[KERNEL_COMM_MAX + 1];         /* %e, attacker text */
        char config_path[KERNEL_PATH_MAX + 1];  /* C=, empty for the default */
};

/*
 * Parses argv[1..argc-1]. On failure returns a negative errno and writes a description of the
 * first problem (naming the argument) into err (errsize bytes).
 */
int parse_kernel_args(int argc, char *const *argv, struct kernel_args *ret, char *err, size_t errsize);
