/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Why a stored core is shorter than the process: the judgment after the stream ended. The
 * core's program headers say how long it must be (core_head_expected_size()); a stream that ended
 * before that while the receiver was still reading is a "short stream": the kernel stopped
 * writing. What the receiver saw around the stream says why, when it can be known: the memory
 * cgroup's OOM kill counter moved (the OOM killer picks the largest task, often the one being
 * dumped), the process was killed during its dump (a SIGKILL ends a dump at its next write), else
 * the kernel ended the dump early for a reason it does not tell. A core the receiver cut itself
 * (a size limit, the store's room) keeps that reason; a size limit names its source.
 *
 * Pure functions: no I/O, no logging.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TRUNCATED_SHORT_STREAM "short stream"
#define TRUNCATED_CAUSE_MAX 256

struct stream_facts {
        uint64_t expected;     /* core_expected_size; 0 when unknown */
        bool headers_missing;  /* the stream ended before the ELF and program headers were whole */
        uint64_t read;         /* bytes read from the pipe before its end */
        bool receiver_cut;     /* the receiver stopped reading itself (a size limit, the store's room) */
        bool have_exit;        /* exit_status is known */
        int exit_status;       /* the process's, in waitpid(2)'s form */
        bool have_oom;         /* oom_before/oom_after were both read */
        uint64_t oom_before;   /* its memory cgroup's oom_kill before the stream */
        uint64_t oom_after;    /* and after it */
        uint32_t crash_signal; /* the signal that made it dump (%s) */
};

/* Whether the stream ended before the core's expected end while the receiver still read it. */
bool stream_ended_short(const struct stream_facts *f);

/* The cause of a short stream, one sentence into out (size bytes): always something, "the kernel
 * ended the dump early (cause unknown)" at worst. */
void short_stream_cause(const struct stream_facts *f, char *out, size_t size);

/* The cause of a core cut at a size limit: "RLIMIT_CORE of N bytes" when the process's own limit
 * is the smaller, else "ProcessSizeMax= of N bytes". */
void size_limit_cause(uint64_t core_limit, uint64_t process_size_max, char *out, size_t size);
