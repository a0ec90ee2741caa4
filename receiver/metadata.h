/* SPDX-License-Identifier: MIT */
#pragma once

/* What the receiver records about a crash, read from its own /proc view before the core. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "elfcore.h"
#include "protocol.h"

/* Where a piece of metadata came from: the crashed process's /proc entry, or the core's own
 * ELF notes (when /proc said no: the receiver may not ptrace the process). */
enum metadata_source {
        SOURCE_NONE = 0,
        SOURCE_PROC,
        SOURCE_CORE,
};

/* Where the crash's signal came from: the kernel (%s, through the helper); the core's own notes
 * (NT_SIGINFO, NT_PRSTATUS), when the kernel did not say (its coredump socket, before Linux 6.19);
 * the process's exit status, when the notes did not either (a core cut before them); or nowhere:
 * the signal is then 0. */
enum signal_source {
        SIGNAL_FROM_KERNEL = 0,
        SIGNAL_FROM_CORE,
        SIGNAL_FROM_EXIT,
        SIGNAL_UNKNOWN,
};

struct core_metadata {
        /* From the kernel via the helper; pid/uid/gid translated by the kernel. */
        pid_t pid;
        uid_t uid;
        gid_t gid;
        uint32_t signal;
        enum signal_source signal_source;
        uint64_t dump_time;
        uint64_t core_limit;
        uint64_t received_usec;                   /* CLOCK_REALTIME when the request arrived */
        struct container_identity host_container; /* as the helper read the host's cgroup path */

        /* From /proc/<pid>; empty when unreadable. */
        char comm[64];
        char *exe;
        char *cmdline; /* raw, NUL-separated arguments */
        size_t cmdline_len;
        char *cwd;
        char *cgroup; /* the whole /proc/<pid>/cgroup text */
        uid_t euid;
        gid_t egid;
        pid_t ppid;
        uint32_t threads;
        char *maps; /* /proc/<pid>/maps: which files were mapped where */
        size_t maps_len;

        /* Where comm, exe, cmdline, the mapped files and threads came from. From the core,
         * cmdline is pr_psargs: the first 80 bytes of the arguments joined by spaces, one string. */
        enum metadata_source comm_source, exe_source, cmdline_source, files_source, threads_source;
        char *core_files; /* NT_FILE's paths, NUL-separated, when maps was unreadable */
        size_t core_files_len;
        uint64_t core_expected_size; /* what the whole core's length must be (0: unknown) */

        /* From the receiver's own view of the system (the container's). */
        char hostname[65];
        char boot_id[33]; /* 32 hex digits */
        char machine_id[33];
        char kernel_release[65];
};

void core_metadata_done(struct core_metadata *m);

/* Reads everything in /proc/<pid> (procfd) that a debugger wants. Missing pieces stay empty;
 * only a process that vanished (-ESRCH) is an error. */
int collect_metadata(int procfd, struct core_metadata *m);

/*
 * Completes m from the core's notes (core_head_parse()) where /proc could not tell: comm from
 * pr_fname, exe from NT_FILE and AT_ENTRY, cmdline from pr_psargs, the mapped files from
 * NT_FILE, threads from the NT_PRSTATUS notes, ppid from pr_ppid; records the core's expected
 * length. Fields /proc gave are kept. Returns 0 or -ENOMEM.
 */
int metadata_fill_from_core(struct core_metadata *m, const struct core_notes *n);

/*
 * The fields still unknown after both sources, as "exe, cwd, ..." in buf (size bytes, always
 * terminated): comm, exe, cmdline, cwd (never in a core), mapped files, cgroup, threads.
 * Returns how many.
 */
unsigned metadata_missing_fields(const struct core_metadata *m, char *buf, size_t size);

/* "proc", "core", or NULL for SOURCE_NONE. */
const char *metadata_source_name(enum metadata_source s);

/* "kernel", "core", "exit" or "unknown" (always "unknown" for signal 0: nobody said it). */
const char *signal_source_name(enum signal_source s, uint32_t signal);

/*
 * The signal of a crash whose request did not say it: notes_signal (core_notes_crash_signal(),
 * 0 when the notes did not tell), else the one that ended the process when have_exit and its
 * exit_status (waitpid(2)'s form) says it was killed by a signal; else 0. *ret_source says
 * which.
 */
uint32_t signal_resolve(uint32_t notes_signal, bool have_exit, int exit_status, enum signal_source *ret_source);

/* The name of a signal without "SIG" ("SEGV"), or NULL. */
const char *signal_name(uint32_t sig);
