/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Keeping the store within bounds, and the rate limit. Both work under an exclusive flock() of
 * the store directory, so that concurrent receivers (one per connection) agree.
 */

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "settings.h"

/* How long store_lock() waits for another holder before it gives up. */
#define STORE_LOCK_TIMEOUT_USEC (10 * USEC_PER_SEC)

/* Takes the store's lock, waiting at most STORE_LOCK_TIMEOUT_USEC (-ETIMEDOUT then). Returns a
 * descriptor to close to release it. */
int store_lock(int dirfd);

struct vacuum_result {
        unsigned removed; /* cores removed (with their records) */
        uint64_t freed;   /* bytes */
        uint64_t used;    /* bytes of cores and records left */
        uint64_t max_use; /* the limits as resolved on this file system */
        uint64_t keep_free;
};

/*
 * Removes the oldest cores (each with its record) until the store uses at most MaxUse= and its
 * file system keeps KeepFree= free. keep_stem, if set, names a core that is never removed (the
 * one just written). Without keep_stem (the pass before a core), the file system must also
 * have room for a small core and its record beyond KeepFree= (STORE_MIN_BUDGET and
 * STORE_RECORD_RESERVE), so that older cores make way for a new one before store_room()
 * would refuse it. Only regular files with one link are counted and removed: a hard link to
 * a file elsewhere is not the receiver's. Call with the lock held.
 */
int vacuum_store(int dirfd, const struct receiver_settings *s, const char *keep_stem, struct vacuum_result *ret);

/*
 * The host's fallback tree: ROOT/host and every ROOT/containers/<name> (names are opaque), with
 * MaxUse= and KeepFree= over the whole tree and MaxUsePerContainer= for each container.
 *
 * What makes way, oldest core first within each step:
 *   1. cores of a container directory over its share (its share less what its cores in flight
 *      have reserved, and less req->extra for the directory that asks);
 *   2. only while the tree is still over MaxUse= or KeepFree= (counting the reservations of the
 *      cores in flight, and req->extra): cores of any container; the host's cores only when
 *      req->host (a container's core never removes one of the host's).
 * The core req->keep_stem in directory req->dir is never removed. Empty container directories
 * (nothing but a rate limit state older than Interval=) that no core in flight is going to are
 * removed (rmdir: never a directory that is not empty). With req->ledger, the ledger's mutex is
 * held from the scan to its end, and the ledger's head is set to what the scan counted.
 *
 * A tree the vacuum cannot see whole (a directory it cannot open or read, more than
 * VACUUM_TREE_DIRS_MAX directories, more than VACUUM_TREE_FILES_MAX files) is an error: ret->why
 * names the directory and the reason, and nothing is removed. Call with rootfd's flock() held.
 */
#define VACUUM_TREE_DIRS_MAX 16384U
#define VACUUM_TREE_FILES_MAX 200000U

struct ledger;

struct tree_request {
        struct ledger *ledger; /* the in-flight ledger, or NULL */
        bool host;             /* room is made for a core of the host (host/) */
        uint64_t dir;          /* inode of the directory asking (0: none yet) */
        const char *keep_stem; /* the core just written there, never removed, or NULL */
        uint64_t extra;        /* bytes to make room for beyond the ledger's reservations */
};

struct tree_result {
        struct vacuum_result v;
        unsigned removed_dirs; /* empty container directories removed */
        unsigned containers;   /* container directories left */
        char why[512];         /* on error: what could not be seen, and why */
};

int vacuum_tree(int rootfd, const struct receiver_settings *s, const struct tree_request *req,
                struct tree_result *result);

/*
 * One more crash at now_usec: true if it is within MaxCoresPerInterval= per Interval=, and then
 * counted (in the store's hidden state file, .rate, read only if it is a regular file of ours
 * and replaced by rename from a name created O_EXCL|O_NOFOLLOW). Call with the lock held.
 */
int rate_limit_admit(int dirfd, const struct receiver_settings *s, uint64_t now_usec, unsigned *ret_recent);
