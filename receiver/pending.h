/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The queue of uploads still to make: one small JSON file per stored core,
 * STORE/.upload/<stem>.pending, written after the core and its record are durable and removed
 * once every Upload= target confirmed them. Entries are files, so they survive a restart of the
 * receiver (and of the container, where the store is a volume); whoever drains the queue (the
 * resident receiver's uploader, `core_pipe-receiver --upload-pending`, the timer unit) holds
 * the queue's lock (STORE/.upload/lock), so one core is never sent twice at once.
 *
 *   {"format":1,"core":"core.sleep.0.<boot>.42.<usec>.zst","stem":"core.sleep.0.<boot>.42.<usec>",
 *    "created_usec":...,"attempts":2,"next_usec":...,"last_error":"...","done":["s3://bucket/x"]}
 *
 * "done" lists the Upload= targets (as configured) that confirmed both files: a retry goes only
 * to the others. An entry is read back from a store that whoever is root in the container may
 * write: pending_entry_parse() takes any bytes and keeps only what it validated (the core's
 * name is a plain file name of the store, never a path).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "settings.h"
#include "store.h"

#define PENDING_DIR ".upload"
#define PENDING_SUFFIX ".pending"
#define PENDING_ENTRY_MAX 16384 /* bytes of an entry file */
#define PENDING_ERROR_MAX 256
#define PENDING_LIST_MAX 4096 /* entries taken per pass over the queue */

struct pending_entry {
        char core[CORE_STEM_MAX + 8]; /* the core's file in the store */
        char stem[CORE_STEM_MAX];     /* the record is <stem>.json */
        uint64_t created_usec;        /* CLOCK_REALTIME when queued */
        uint32_t attempts;            /* attempts made so far */
        uint64_t next_usec;           /* CLOCK_REALTIME of the next attempt */
        char last_error[PENDING_ERROR_MAX];
        char done[UPLOAD_URLS_MAX][UPLOAD_URL_MAX]; /* targets that confirmed */
        size_t n_done;
};

/* A new entry for a core just stored (due at once). -EINVAL for names that are not a core's. */
int pending_entry_init(struct pending_entry *e, const char *core, const char *stem, uint64_t now_usec);

/* Whether target url is in e's done list. */
bool pending_entry_done(const struct pending_entry *e, const char *url);
/* Adds url to the done list (no-op if there, -E2BIG when full). */
int pending_entry_mark_done(struct pending_entry *e, const char *url);

/* The entry as its file holds it: a newly allocated text, or NULL (out of memory). */
char *pending_entry_to_json(const struct pending_entry *e);

/*
 * Reads an entry's text (len bytes, not NUL-terminated). Returns 0 and *ret, or -EBADMSG for
 * anything that is not a valid entry: not one JSON object of the format above, a field of the
 * wrong type or out of range, a core name that is not "core.*" without "/", or that is not
 * stem or stem + ".zst", more than UPLOAD_URLS_MAX done targets.
 */
int pending_entry_parse(const char *text, size_t len, struct pending_entry *ret);

/* What to do with an entry now. */
enum pending_action {
        PENDING_DUE,     /* try it */
        PENDING_WAIT,    /* its next attempt is later */
        PENDING_GIVE_UP, /* past UploadRetryFor= or UploadRetryAttempts=: keep the core, stop trying */
};
enum pending_action pending_entry_action(const struct pending_entry *e, const struct upload_settings *u,
                                         uint64_t now_usec);

/* The wait after the attempts-th failed attempt: UploadRetryDelay= doubled each time, at most
 * UploadRetryDelayMax=. */
uint64_t pending_backoff_usec(const struct upload_settings *u, uint32_t attempts);

/* Records a failed attempt at now: attempts + 1, the error (one line, cut to fit), the next time. */
void pending_entry_failed(struct pending_entry *e, const struct upload_settings *u, const char *error,
                          uint64_t now_usec);

/*
 * Opens (creating it mode 0700) the queue's directory in the store: a directory of ours, not a
 * link, that nobody else may write (else -EPERM). Returns its descriptor.
 */
int pending_open_dir(int store_dirfd);

/* Takes the queue's lock: wait, or -EWOULDBLOCK at once when another holds it. Returns its fd. */
int pending_lock(int qfd, bool wait);

/* Writes a new entry durably (-EEXIST if the core has one already). */
int pending_add(int qfd, const struct pending_entry *e);
/* Replaces an entry durably (written aside, then renamed over it). */
int pending_save(int qfd, const struct pending_entry *e);
/* Reads the entry file name (an own regular file, at most PENDING_ENTRY_MAX bytes). */
int pending_load(int qfd, const char *name, struct pending_entry *ret);
/* Removes the entry of stem (ENOENT is fine). */
int pending_remove(int qfd, const char *stem);

/*
 * The names of the entries in the queue ("*.pending", at most PENDING_LIST_MAX, in the order the
 * directory gives), each of at most CORE_STEM_MAX + 16 bytes. *ret (free()) holds *ret_n names.
 */
typedef char pending_name[CORE_STEM_MAX + 16];
int pending_list(int qfd, pending_name **ret, size_t *ret_n);
