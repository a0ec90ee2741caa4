/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Sending stored cores to the Upload= targets (the engine is upload.h; the queue pending.h).
 *
 * A crash's handler only queues its core (uploader_queue_core(), after the core and its record
 * are durable and the crashed process is released): the network never holds a crashed process
 * nor a crash's connection slot. The queue is drained by uploader_drain(): by the resident
 * receiver's single uploader child (listen.c), by `core_pipe-receiver --upload-pending` (and
 * the timer unit that runs it), and right after its crash by a receiver that serves one
 * connection and exits (socket activation with Accept=yes, the host's fallback).
 *
 * For each core, to every target that has not confirmed it yet: the core, then its record as it
 * will be kept (with "uploaded_to" for that target), under names rendered from UploadName=.
 * Once every target confirmed both, the record is kept with "uploaded_to" (byte for byte what
 * was sent), the entry is removed and, with KeepAfterUpload=no, the local core too. A failure
 * writes "upload_error" into the local record and leaves the entry for a retry with backoff
 * (UploadRetryDelay=, UploadRetryDelayMax=) until UploadRetryFor= / UploadRetryAttempts= give up
 * (the core stays). Each outcome is one log line or journal entry (MESSAGE_ID below,
 * COREDUMP_UPLOADED_TO= per target, CORE_PIPE_UPLOAD_ERROR=); the host's fallback writes its own
 * host log line with uploaded=URL or upload_error="...". No credential is ever in any of them.
 */

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "settings.h"
#include "upload.h"

/* The journal entries of uploads (not coredumpctl's: a core is listed once). */
#define UPLOAD_MESSAGE_ID "8d3c1f0be3a84f6a9e1b52c47a0d6e15"

/* The engine's configuration for the settings' targets (all, or those not in skip). */
struct upload_targets {
        char *urls[UPLOAD_URLS_MAX];
        struct upload_config config;
};
void upload_targets_init(struct upload_targets *t, const struct upload_settings *u);

/* "URL failed: REASON" for a target that did not confirm (target: the Upload= URL, when the
 * engine did not say the object's). */
void upload_failure_text(const struct upload_result *r, const char *target, char *out, size_t size);

static inline bool upload_wanted(const struct receiver_settings *s) {
        return s->upload.n_urls > 0;
}

/* Queues a core just stored in dirfd (its record <stem>.json beside it). Logs a failure. */
int uploader_queue_core(int dirfd, const char *store, const char *stem, const char *core_name,
                        const struct receiver_settings *s);

struct uploader_stats {
        unsigned uploaded;  /* cores every target confirmed */
        unsigned failed;    /* attempts that failed (entries kept for a retry) */
        unsigned waiting;   /* entries whose next attempt is later */
        unsigned given_up;  /* entries dropped by UploadRetryFor=/UploadRetryAttempts= (cores kept) */
        unsigned dropped;   /* entries of cores no longer there, or unreadable entries */
        uint64_t next_usec; /* CLOCK_REALTIME of the earliest waiting entry (0: none) */
        bool busy;          /* another holds the queue's lock (nothing done) */
};

/*
 * One pass over the queue of the store open at dirfd (named store, for the log), under its
 * lock (waited for when wait, else busy is set and 0 returned at once). host_log: the outcome
 * lines go to the host's log (the fallback). Returns 0 with the counts added into *stats, or a
 * negative errno (logged) when the queue cannot be used at all.
 */
int uploader_drain(int dirfd, const char *store, const struct receiver_settings *s, bool wait, bool host_log,
                   struct uploader_stats *stats);

/*
 * Drains as a receiver that is about to exit does: without waiting for the lock, and again after
 * releasing it when a core was queued meanwhile (its writer found the lock taken and left the
 * core to us). Returns as uploader_drain().
 */
int uploader_drain_now(int dirfd, const char *store, const struct receiver_settings *s, bool host_log,
                       struct uploader_stats *stats);

/* Whether the queue of dirfd holds an entry due now (a cheap look, no lock). */
bool uploader_has_due(int dirfd, const struct receiver_settings *s);

/*
 * Starts the resident receiver's uploader: a child that closes close_fds, restores mask, drains
 * the store's queue once (waiting for its lock) and exits 0 when nothing is left waiting, 1
 * otherwise. Returns 0 with *ret_pid, or a negative errno (logged).
 */
int uploader_fork(const struct receiver_settings *s, const int *close_fds, size_t n_close, const sigset_t *mask,
                  pid_t *ret_pid);

/* How often a resident receiver looks at its queue without a new core: UploadRetryDelay=, at
 * most a minute. */
uint64_t uploader_period_usec(const struct receiver_settings *s);

struct receiver_options;

/*
 * `core_pipe-receiver --upload-pending`: one pass over the store's queue (with fallback_root,
 * over every directory of the host's fallback store), a line per core. Returns the exit status:
 * 0 when nothing is left to upload, 1 when some cores wait for a retry, 2 on a setup error.
 */
int uploader_run_pending(const struct receiver_settings *s, const char *fallback_root);

/*
 * A receiver that served its one connection (socket activation with Accept=yes, the host's
 * fallback) and is about to exit: the connection is closed (the helper stops waiting) and, for
 * the fallback, its slot claims (fds 4 and 5) are let go, then the queue is drained
 * (uploader_drain_now()). The host's fallback runs at most one such uploader at a time over its
 * whole store (FALLBACK_ROOT/.upload.lock); a core it leaves waits for the next run.
 */
void uploader_after_connection(const struct receiver_options *o, int conn_fd);

/* At start: the credentials the targets would use, checked (an error is logged, never fatal:
 * cores are kept and queued all the same). */
void uploader_check_setup(const struct receiver_settings *s);

/* Cores finalised for receivers that died (recover.h, --recover and the resident finaliser) are
 * queued like any other: call once at start, s staying valid. */
void uploader_queue_finalised(const struct receiver_settings *s);
