/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Where the core is written. A core is streamed from the pipe through zstd (compress.h) into
 * an unnamed O_TMPFILE in the store directory, synced, and only then linked under its final
 * name: a reader never sees a partial core, and a receiver killed midway leaves nothing behind.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CORE_STEM_MAX 256

struct store_options {
        bool compress;      /* zstd, or the core as it comes */
        int compress_level; /* zstd level */
        int workers;        /* compressing threads, at least 1 */
        size_t chunk_size;  /* bytes read from the pipe per chunk; with compress, per zstd frame */
};

struct store_result {
        uint64_t core_size;   /* bytes read from the pipe (the uncompressed core) */
        uint64_t stored_size; /* bytes in the stored file */
        bool truncated;       /* the core was longer than the limit */
        uint64_t released_usec; /* CLOCK_MONOTONIC when the pipe was closed */
};

/*
 * "core.<comm>.<uid>.<boot_id>.<pid>.<usec>" into out. comm is reduced to [A-Za-z0-9_+-]
 * (every other byte, '.' included, becomes '_'; empty becomes "unknown") so that the name has
 * exactly six dot-separated fields and is safe in any shell. -ENAMETOOLONG if it does not fit.
 */
int core_file_stem(const char *comm, uid_t uid, const char *boot_id, pid_t pid, uint64_t usec, char *out,
                   size_t size);

/* Opens (creating it and its parents, mode 0700) the store directory. */
int open_store_dir(const char *path);

/*
 * Streams *core_fd into a new compressed file in dirfd, reading at most limit bytes (the rest
 * is not read and the core is marked truncated). *core_fd is closed as soon as the last byte
 * is read, before compression finishes and before syncing, so the crashed process is released
 * as early as possible; it is set to -EBADF. On success the file is durable and linked as
 * name; on failure nothing is linked.
 */
int store_core(int dirfd, const char *name, int *core_fd, uint64_t limit, const struct store_options *o,
               struct store_result *ret);

/* Writes data durably as dirfd/name (O_TMPFILE, fsync, link), mode 0600. */
int store_file_atomic(int dirfd, const char *name, const void *data, size_t len);
