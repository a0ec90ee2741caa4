/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The host's fallback store as a whole: ROOT/host for the host's processes and ROOT/containers/
 * <name> for each container without a receiver (the helper chooses the name; it is opaque
 * here). A fallback receiver writes one core into one of these directories; this module holds
 * the tree to its limits while it does, together with every other fallback receiver writing at
 * the same time (ledger.h):
 *
 *   - admission (fallback_admit(), before the first byte of the core, under the tree's
 *     flock()): the tree is vacuumed (vacuum_tree()); a tree it could not see whole refuses the
 *     core; a new container directory beyond MaxContainers= refuses it; then a slot of the
 *     ledger and a first reservation (a small core and its record) are taken, or the core is
 *     refused;
 *   - while the core is written (fallback_reserve(), the store's reserve hook): each further
 *     reservation must keep KeepFree= free on the file system, MaxUse= over the tree and
 *     MaxUsePerContainer= over the container's cores in flight, counting what every other
 *     fallback receiver has reserved; when it would not, older cores make way (vacuum_tree())
 *     and if that is not enough the core is cut at its last whole frame, its record naming the
 *     limit;
 *   - after (fallback_finish()): its bytes move from the ledger to the tree's count and the tree
 *     is vacuumed again, never removing it.
 *
 * A core reserves before it writes, so the file system's free space never falls below KeepFree=
 * and the tree never passes MaxUse= by more than the rounding of each file being written to
 * whole blocks (FALLBACK_SLACK per core in flight, documented in core_pipe.conf(5)).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "settings.h"

/* Rounding of a file to whole blocks and its first extent blocks, per core in flight. */
#define FALLBACK_SLACK (64U << 10)
/* Reservations are taken this much ahead of the bytes written (fewer turns of the ledger). */
#define FALLBACK_GRANT_STEP (1U << 20)

struct fallback {
        const struct receiver_settings *s;
        const char *root;
        int rootfd;
        struct ledger ledger;
        bool host;       /* the core goes to host/ */
        char why[640];   /* a refusal, a cut or a vacuum that failed, for the log */
        const char *cut; /* the limit that cut the core (a truncated_reason), or NULL */
};

#define FALLBACK_INIT                                                                                                  \
        { .rootfd = -EBADF, .ledger = LEDGER_INIT }

/*
 * Admits one core into store (a directory of the tree rooted at root), core_usec being the stamp
 * in its name (no vacuum removes it until fallback_finish() or fallback_done()): returns the store's
 * descriptor (created if needed, checked as open_store_dir() does; note says what it had to say)
 * or a negative errno with f->why saying why the core is refused, before its first byte.
 */
int fallback_admit(struct fallback *f, const char *root, const char *store, uint64_t core_usec,
                   const struct receiver_settings *s, char *note, size_t note_size);

/* The store's reserve hook (store_options.reserve): userdata is the struct fallback. */
int fallback_reserve(void *userdata, uint64_t need, uint64_t written, uint64_t *ret_granted, const char **reason);

/*
 * The core (and its record) is linked in dirfd, taking stored bytes: counted in the tree, then
 * the tree vacuumed, never removing keep_stem. Logs what it removed and what went wrong.
 */
int fallback_finish(struct fallback *f, int dirfd, const char *keep_stem, uint64_t stored);

void fallback_done(struct fallback *f);
