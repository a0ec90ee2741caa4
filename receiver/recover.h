/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Cores whose receiver died while storing them. store_core() with a marker (store.h) writes the
 * core under an in-progress name beside a marker, both in the store:
 *
 *   .#partial.<stem>.json   the marker: the crash's record as far as it is known before the
 *                           first byte (format 1, plus "receiver_pid"), written and locked
 *                           (an OFD write lock, held for as long as the writer lives) before
 *                           the core file is created;
 *   .#partial.<stem>.core   the core as written so far (zstd frames, or raw bytes).
 *
 * No name starts with "core.", so neither the vacuum nor a reader takes them for a core. On
 * success the core is renamed to its final name and the marker removed. A writer that dies
 * leaves both, and its lock goes with it: recover_store() then finalises them. The core is cut
 * at its last whole zstd frame (each frame decoded and its checksum verified; without
 * compression every byte is kept), renamed to its final name, and its record written with
 * "truncated": true, "truncated_reason": "receiver died" and the cause when known; a journal
 * entry (or log line) says the same. A core that reached the length its program headers give
 * is whole: it is linked without "truncated" (the record says "receiver_died" instead). A
 * marker still locked belongs to a live writer and is
 * left alone.
 *
 * Everything in-progress is read as untrusted input: opened O_NOFOLLOW relative to the store's
 * verified descriptor, a regular file of our euid with one link, the marker at most
 * RECOVER_MARKER_MAX bytes, the decoder's window at most 1 << RECOVER_WINDOW_LOG_MAX.
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "elfcore.h"
#include "metadata.h"
#include "record.h"
#include "store.h"

#define RECOVER_PREFIX ".#partial."
/* A record made again after its core (connection.c): written under this prefix and renamed over
 * the first while the store's lock is held, so that one seen under the lock is a dead writer's:
 * recover_store() removes those. */
#define RECOVER_RECORD_PREFIX ".#record."
#define RECOVER_MARKER_SUFFIX ".json"
#define RECOVER_CORE_SUFFIX ".core"
#define RECOVER_MARKER_MAX (1U << 20)
#define RECOVER_WINDOW_LOG_MAX 23
#define RECOVER_REASON "receiver died"
#define RECOVER_CAUSE_MAX 160

/*
 * The marker for a core about to be stored: the record record_to_json() makes from m and info
 * (its store result not yet known), with "receiver_pid" (ours). NULL when out of memory.
 */
char *recover_marker_new(const struct core_metadata *m, const struct record_info *info);

/* A marker, parsed: what a finaliser needs without the writer. */
struct recover_marker {
        struct json_object *record; /* the record to complete (owned) */
        pid_t receiver_pid;         /* 0 when not said */
        bool compressed;            /* "compression": "zstd" (else "none") */
        struct core_metadata md;    /* pid, uid, gid, signal, times, comm, exe, hostname, cgroup */
};

/*
 * Parses a marker's text (len bytes, not necessarily terminated; at most RECOVER_MARKER_MAX):
 * a JSON object of format 1 with "compression" "zstd" or "none", every field it takes of the
 * right type and bounded. 0 and *ret (free with recover_marker_done()), -EBADMSG for anything
 * else, -ENOMEM.
 */
int recover_marker_parse(const char *text, size_t len, struct recover_marker *ret);
void recover_marker_done(struct recover_marker *m);

/*
 * Where fd's zstd stream (size bytes from offset 0) may be cut: the end of its last whole
 * frame whose content decodes and whose checksum matches, counting from the start; decoding
 * stops at the first frame that does not. *ret_keep is that offset (0: not one whole frame),
 * *ret_core_size the bytes of content before it. The content is shown to head (core_head_observe(),
 * NULL: to nobody) as it is decoded. Memory: the decoder with a window of at most
 * 1 << RECOVER_WINDOW_LOG_MAX and two buffers of about 128 KiB. A negative errno if reading fails.
 */
int recover_zstd_cut(int fd, uint64_t size, struct core_head *head, uint64_t *ret_keep, uint64_t *ret_core_size);

/*
 * The writer's side, used by store_core(). recover_begin() writes the marker (text) as
 * RECOVER_PREFIX<stem>.json, locked, then creates RECOVER_PREFIX<stem>.core (O_EXCL, O_NOFOLLOW,
 * 0600) and returns its descriptor in ret->core_fd (the caller owns it). recover_end() removes
 * the marker once the core has its final name; recover_abort() removes the core file and then
 * the marker (in that order: a core file without a marker is never a live writer's).
 */
struct recover_writer {
        int marker_fd; /* holds the lock */
        int core_fd;
        char core_name[CORE_STEM_MAX + 32];
        char marker_name[CORE_STEM_MAX + 32];
};
#define RECOVER_WRITER_INIT                                                                                            \
        { .marker_fd = -EBADF, .core_fd = -EBADF }
int recover_begin(int dirfd, const char *stem, const char *marker, struct recover_writer *ret);
void recover_end(int dirfd, struct recover_writer *w);
void recover_abort(int dirfd, struct recover_writer *w);

/* An OFD write lock on fd, without waiting: -EBUSY when another open file holds one. */
int recover_lock(int fd);

/* How a receiver died, for the marker it wrote (pid 0: for every marker found). */
struct recover_death {
        pid_t pid;
        char cause[RECOVER_CAUSE_MAX];
};

/* "the receiver was killed by signal 9 (SIGKILL)", or its exit status, from a wait status. */
void recover_cause_from_status(int wait_status, char *buf, size_t size);
/* The same from systemd's $EXIT_CODE and $EXIT_STATUS (ExecStopPost=); false if they tell nothing. */
bool recover_cause_from_systemd(const char *exit_code, const char *exit_status, char *buf, size_t size);

struct recover_stats {
        unsigned finalised; /* cores linked (or records written) for a dead writer */
        unsigned busy;      /* markers whose writer is alive */
        unsigned removed;   /* strays removed: in-progress files not ours, or without a marker */
};

/*
 * Finalises every leftover in the store dirfd (store_path names it in messages): each marker
 * not locked by a live writer, with the cause of the death in deaths whose pid is the marker's
 * receiver_pid (or pid 0), else "cause unknown". Logs one line (or journal entry) per core.
 * At most a few thousand entries per call. Returns 0 or a negative errno (the store unreadable).
 */
int recover_store(int dirfd, const char *store_path, const struct recover_death *deaths, size_t n_deaths,
                  struct recover_stats *ret);

/* Called for each core finalised into place (its record beside it), when set: Upload= queues it
 * (uploader.h), as the receiver that died would have. */
extern void (*recover_finalised_hook)(int dirfd, const char *store_path, const char *stem, const char *core_name);
