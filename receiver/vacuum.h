/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Keeping the store within bounds, and the rate limit. Both work under an exclusive flock() of
 * the store directory, so that concurrent receivers (one per connection) agree.
 */

#include <stdbool.h>
#include <stdint.h>

#include "settings.h"

/* Takes the store's lock (blocking). Returns a descriptor to close to release it. */
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
 * The same over a whole host fallback store: rootfd/host and every rootfd/containers/<name>
 * together, so that MaxUse= bounds their total and the oldest cores go first whichever
 * container they came from. keep_dirfd/keep_stem name the core just written. The directories
 * are opened one at a time (by name, again, to remove a core), so that their number never
 * meets the descriptor limit; a directory that cannot be opened for another reason than being
 * gone is an error, never skipped. Call with rootfd's lock held.
 */
int vacuum_tree(int rootfd, const struct receiver_settings *s, int keep_dirfd, const char *keep_stem,
                struct vacuum_result *ret);

/*
 * One more crash at now_usec: true if it is within MaxCoresPerInterval= per Interval=, and then
 * counted (in the store's hidden state file, .rate, read only if it is a regular file of ours
 * and replaced by rename from a name created O_EXCL|O_NOFOLLOW). Call with the lock held.
 */
int rate_limit_admit(int dirfd, const struct receiver_settings *s, uint64_t now_usec, unsigned *ret_recent);
