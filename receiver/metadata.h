/* SPDX-License-Identifier: MIT */
#pragma once

/* What the receiver records about a crash, read from its own /proc view before the core. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "protocol.h"

struct core_metadata {
        /* From the kernel via the helper; pid/uid/gid translated by the kernel. */
        pid_t pid;
        uid_t uid;
        gid_t gid;
        uint32_t signal;
        uint64_t dump_time;
        uint64_t core_limit;
        uint64_t received_usec; /* CLOCK_REALTIME when the request arrived */

        /* From /proc/<pid>; empty when unreadable. */
        char comm[64];
        char *exe;
        char *cmdline;          /* raw, NUL-separated arguments */
        size_t cmdline_len;
        char *cwd;
        char *cgroup;           /* the whole /proc/<pid>/cgroup text */
        uid_t euid;
        gid_t egid;
        pid_t ppid;
        uint32_t threads;
        char *maps;             /* /proc/<pid>/maps: which files were mapped where */
        size_t maps_len;

        /* From the receiver's own view of the system (the container's). */
        char hostname[65];
        char boot_id[33];       /* 32 hex digits */
        char machine_id[33];
        char kernel_release[65];
};

void core_metadata_done(struct core_metadata *m);

/* Reads everything in /proc/<pid> (procfd) that a debugger wants. Missing pieces stay empty;
 * only a process that vanished (-ESRCH) is an error. */
int collect_metadata(int procfd, struct core_metadata *m);

/* The name of a signal without "SIG" ("SEGV"), or NULL. */
const char *signal_name(uint32_t sig);
