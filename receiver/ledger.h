/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The in-flight ledger of the host's fallback store: what the cores being written right now
 * will take, shared by every fallback receiver, so that however many crashes arrive at once
 * their sum stays within MaxUse= and KeepFree= (a core in an O_TMPFILE is invisible to a
 * directory scan, and free space alone does not say what others are about to write).
 *
 * The ledger is one file, ROOT/.inflight (a regular file of root's, 0600, one link, never
 * followed through a link): a head (the tree's bytes as the last vacuum counted them, plus
 * what was linked since) and LEDGER_SLOTS slots. A writer owns a slot by an open file
 * description lock (F_OFD_SETLK) on the slot's bytes, so that a receiver that dies frees its
 * slot with its last descriptor; a slot counts only while so locked. Every read and change of
 * the ledger is made under an OFD lock of the head (the ledger's mutex). The lock order is the
 * root directory's flock() first, then the ledger's mutex.
 *
 * Accounting: every byte of the tree is counted at least once in head.tree_used + the slots'
 * reservations. A writer reserves before it writes; once its core and record are linked it
 * moves its bytes from its slot to tree_used (ledger_commit); a vacuum, holding the mutex from
 * its scan to its end, sets tree_used to what it counted. Files removed by other means make the
 * count too high until the next vacuum, never too low.
 */

#include <stdbool.h>
#include <stdint.h>

#define LEDGER_FILE ".inflight"
#define LEDGER_SLOTS 128

struct ledger {
        int fd;            /* -EBADF when not open */
        int slot;          /* the slot we own, or -1 */
        bool locked;       /* we hold the mutex */
        uint64_t dir;      /* inode of the directory our core goes to */
        bool host;         /* it is host/ */
        uint64_t reserved; /* bytes reserved in our slot */
        uint64_t usec;     /* the stamp in our core's name: no vacuum removes it while we live */
};

/* What the other live slots hold, and the head. */
struct ledger_state {
        uint64_t tree_used;          /* bytes linked in the tree (last vacuum + commits since) */
        uint64_t host_used;          /* of which in host/ */
        uint64_t reserved;           /* reserved by every live slot (ours included) */
        uint64_t outstanding;        /* reserved but not yet written, every live slot */
        uint64_t dir_reserved;       /* reserved by the live slots of our directory (ours included) */
        unsigned live;               /* live slots, ours included */
        uint64_t dirs[LEDGER_SLOTS]; /* the directory of each live slot (inode), live entries */
        uint64_t dir_bytes[LEDGER_SLOTS];
        uint64_t usecs[LEDGER_SLOTS]; /* the stamp in the name of each live slot's core */
};

#define LEDGER_INIT                                                                                                    \
        { .fd = -EBADF, .slot = -1 }

/* Opens (creating) rootfd/.inflight; -EBADFD if a stranger's file or a link stands there. */
int ledger_open(int rootfd, struct ledger *l);
/* Releases the slot and the mutex and closes the ledger. */
void ledger_close(struct ledger *l);

int ledger_lock(struct ledger *l);
void ledger_unlock(struct ledger *l);

/* With the mutex held: the head and the live slots. */
int ledger_read(struct ledger *l, struct ledger_state *ret);
/* With the mutex held: sets the head after a vacuum counted the tree. */
int ledger_set_used(struct ledger *l, uint64_t tree_used, uint64_t host_used);
/* With the mutex held: takes a free slot for a core going to directory dir. -EBUSY: none free. */
int ledger_claim(struct ledger *l, uint64_t dir, bool host);
/* With the mutex held: our slot now reserves reserved bytes, of which written are in the file. */
int ledger_update(struct ledger *l, uint64_t reserved, uint64_t written);
/* Our core and record are linked (stored bytes): they move from our slot to the head. Takes and
 * releases the mutex, and the slot. */
int ledger_commit(struct ledger *l, uint64_t stored);
