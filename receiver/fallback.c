/* SPDX-License-Identifier: MIT */
#include "fallback.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "store.h"
#include "vacuum.h"

static void fb_why(struct fallback *f, const char *fmt, ...) _printf_(2, 3);
static void fb_why(struct fallback *f, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->why, sizeof(f->why), fmt, ap);
        va_end(ap);
}

/*
 * How many more bytes may be reserved now, and (through ret_limit) the limit that allows the
 * fewest. With the ledger's mutex held.
 */
static uint64_t headroom(const struct fallback *f, const struct ledger_state *ls, const char **ret_limit) {
        struct statvfs sv;
        *ret_limit = STORE_CUT_KEEP_FREE;
        if (fstatvfs(f->rootfd, &sv) < 0)
                return 0; /* the file system cannot tell: never more */
        uint64_t total = (uint64_t) sv.f_blocks * sv.f_frsize, avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        uint64_t keep_free = size_limit_bytes(&f->s->keep_free, total);
        uint64_t max_use = size_limit_bytes(&f->s->max_use, total);
        uint64_t room = avail - MIN(avail, keep_free + ls->outstanding);
        uint64_t used = ls->tree_used + ls->reserved;
        if (max_use - MIN(max_use, used) < room) {
                room = max_use - MIN(max_use, used);
                *ret_limit = STORE_CUT_MAX_USE;
        }
        uint64_t share = settings_container_share(f->s, total);
        if (!f->host && share - MIN(share, ls->dir_reserved) < room) {
                room = share - MIN(share, ls->dir_reserved);
                *ret_limit = STORE_CUT_MAX_USE_PER_CONTAINER;
        }
        return room;
}

/*
 * Our slot reserves at least want bytes (core and record) if that passes no limit; else the
 * limit. A little more is taken ahead (fewer turns of the ledger), at most FALLBACK_GRANT_STEP
 * and a fair part of what is left, so that near a limit the room is shared among the writers.
 */
static const char *try_reserve(struct fallback *f, uint64_t want, uint64_t written) {
        struct ledger_state ls;
        const char *limit = NULL;
        int r = ledger_lock(&f->ledger);
        if (r < 0)
                return STORE_CUT_LEDGER;
        r = ledger_read(&f->ledger, &ls);
        uint64_t extra = want - MIN(want, f->ledger.reserved);
        uint64_t room = r < 0 ? 0 : headroom(f, &ls, &limit);
        if (r < 0)
                limit = STORE_CUT_LEDGER;
        else if (extra <= room) {
                uint64_t ahead = MIN((uint64_t) FALLBACK_GRANT_STEP, (room - extra) / (4 * (uint64_t) ls.live + 4));
                limit = ledger_update(&f->ledger, MAX(want + ahead, f->ledger.reserved), written) < 0 ? STORE_CUT_LEDGER
                                                                                                      : NULL;
        }
        ledger_unlock(&f->ledger);
        return limit;
}

static void log_tree(struct fallback *f, const struct tree_result *tr) {
        if (tr->v.removed > 0)
                log_warning("Removed %u old core(s) from %s (%llu bytes): the fallback store is held to MaxUse=, "
                            "KeepFree= and MaxUsePerContainer=",
                            tr->v.removed, f->root, (unsigned long long) tr->v.freed);
        if (tr->removed_dirs > 0)
                log_info("Removed %u empty container directories from %s/containers", tr->removed_dirs, f->root);
}

/* Older cores make way for extra more bytes of ours (or of a new core). Takes the tree's flock
 * unless locked (flock() locks of two descriptions conflict, even in one process). */
static int make_room(struct fallback *f, uint64_t extra, const char *keep_stem, bool locked,
                     struct tree_result *result) {
        struct tree_request req = {
                .ledger = &f->ledger,
                .host = f->host,
                .dir = f->ledger.dir,
                .keep_stem = keep_stem,
                .extra = extra,
        };
        _cleanup_close_ int lock = locked ? -EBADF : store_lock(f->rootfd);
        if (!locked && lock < 0) {
                fb_why(f, "cannot lock %s: %s", f->root, strerror(-lock));
                return lock;
        }
        int r = vacuum_tree(f->rootfd, f->s, &req, result);
        if (r < 0)
                fb_why(f, "fallback store %s not seen whole: %s", f->root, result->why);
        else
                log_tree(f, result);
        return r;
}

int fallback_reserve(void *userdata, uint64_t need, uint64_t written, uint64_t *ret_granted, const char **reason) {
        struct fallback *f = userdata;
        struct tree_result tr;
        uint64_t want = need + STORE_RECORD_RESERVE;
        const char *limit = try_reserve(f, want, written);
        if (limit && strcmp(limit, STORE_CUT_LEDGER) != 0) {
                /* Older cores make way, then once more. */
                if (make_room(f, want - MIN(want, f->ledger.reserved), NULL, false, &tr) < 0)
                        log_warning("Cutting the core: %s", f->why);
                else
                        limit = try_reserve(f, want, written);
        }
        if (limit) {
                f->cut = limit;
                *reason = limit;
                return -ENOSPC;
        }
        *ret_granted = f->ledger.reserved - STORE_RECORD_RESERVE;
        return 0;
}

/* "containers/NAME" or "host": store relative to root, or NULL if it is not a directory in it. */
static const char *tree_relative(const char *root, const char *store) {
        size_t n = strlen(root);
        while (n > 1 && root[n - 1] == '/')
                n--;
        if (strncmp(store, root, n) != 0 || store[n] != '/' || store[n + 1] == '\0')
                return NULL;
        return store + n + 1;
}

/* Under the tree's flock: room for a small core, and a directory for a new container. */
static int admit_tree(struct fallback *f, const char *rel, bool counted) {
        struct tree_result tr;
        struct stat st;
        bool exists = fstatat(f->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        f->ledger.dir = exists ? (uint64_t) st.st_ino : 0;
        f->ledger.host = f->host;
        int r = make_room(f, STORE_RECORD_RESERVE + STORE_MIN_BUDGET, NULL, true, &tr);
        if (r < 0)
                return r;
        if (counted && !exists && tr.containers >= f->s->max_containers) {
                fb_why(f,
                       "%s/containers holds %u container directories (MaxContainers=%u): a new container's core "
                       "is refused",
                       f->root, tr.containers, f->s->max_containers);
                return -EDQUOT;
        }
        return 0;
}

/* Under the tree's flock, the store open: a slot of the ledger and the first reservation. */
static int admit_reservation(struct fallback *f, int dirfd) {
        struct stat st;
        if (fstat(dirfd, &st) < 0)
                return negative_errno();
        f->ledger.dir = (uint64_t) st.st_ino;
        int r = ledger_lock(&f->ledger);
        if (r < 0)
                return r;
        r = ledger_claim(&f->ledger, f->ledger.dir, f->host);
        ledger_unlock(&f->ledger);
        if (r == -EBUSY) {
                fb_why(f, "%u cores are being written into %s already", LEDGER_SLOTS, f->root);
                return r;
        }
        const char *limit = r < 0 ? STORE_CUT_LEDGER : try_reserve(f, STORE_RECORD_RESERVE + STORE_MIN_BUDGET, 0);
        if (limit) {
                fb_why(f, "fallback store %s full: no room for a core within %s", f->root, limit);
                return -ENOSPC;
        }
        return 0;
}

int fallback_admit(struct fallback *f, const char *root, const char *store, uint64_t core_usec,
                   const struct receiver_settings *s, char *note, size_t note_size) {
        f->s = s;
        f->root = root;
        const char *rel = tree_relative(root, store);
        if (!rel) {
                fb_why(f, "store %s is not a directory of the fallback store %s", store, root);
                return -EINVAL;
        }
        f->host = strcmp(rel, "host") == 0;
        bool counted = strncmp(rel, "containers/", 11) == 0 && rel[11] != '\0' && !strchr(rel + 11, '/');
        f->rootfd = open_store_dir(root, note, note_size);
        if (f->rootfd < 0) {
                fb_why(f, "fallback store %s: %s", root, note[0] ? note : strerror(-f->rootfd));
                return f->rootfd;
        }
        _cleanup_close_ int lock = store_lock(f->rootfd);
        int r = lock < 0 ? lock : ledger_open(f->rootfd, &f->ledger);
        if (r < 0) {
                fb_why(f, "cannot use %s/%s: %s", root, LEDGER_FILE,
                       r == -EBADFD ? "not a regular file of root's, mode 0600" : strerror(-r));
                return r;
        }
        /* After ledger_open(), which starts the ledger afresh: the stamp in our core's name, by
         * which every other receiver's vacuum knows the core is still being written and leaves
         * it (and its record to come) alone. It was lost here, and a cut core could go while
         * its record was being written. */
        f->ledger.usec = core_usec;
        r = admit_tree(f, rel, counted);
        if (r < 0)
                return r;
        _cleanup_close_ int dirfd = open_store_dir(store, note, note_size);
        if (dirfd < 0) {
                fb_why(f, "%s", note[0] ? note : strerror(-dirfd));
                return dirfd;
        }
        r = admit_reservation(f, dirfd);
        return r < 0 ? r : TAKE_FD(dirfd);
}

int fallback_finish(struct fallback *f, int dirfd, const char *keep_stem, uint64_t stored) {
        struct tree_result tr;
        struct stat st;
        if (fstat(dirfd, &st) >= 0)
                f->ledger.dir = (uint64_t) st.st_ino;
        int r = ledger_commit(&f->ledger, stored);
        if (r < 0)
                log_warning("Cannot count the core in %s/%s: %s", f->root, LEDGER_FILE, strerror(-r));
        r = make_room(f, 0, keep_stem, false, &tr);
        if (r < 0)
                log_warning("Cannot vacuum: %s", f->why);
        return r;
}

void fallback_done(struct fallback *f) {
        ledger_close(&f->ledger);
        f->rootfd = safe_close(f->rootfd);
}
