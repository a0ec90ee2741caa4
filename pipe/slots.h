/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The machine-wide table of hand-overs in progress, shared by every running core_pipe helper.
 *
 * The kernel runs at most kernel.core_pipe_limit helpers at once (64 with the shipped sysctl
 * drop-in) and drops any crash over that without a word. A container whose receiver holds its
 * cores could take every slot and deny all other containers theirs, so each container (a key)
 * may hold only a share of them (MaxDumpsPerContainer=), and the host's fallback receivers are
 * capped as a whole (MaxConcurrentFallback=, the key "fallback").
 *
 * The table is one file, SLOTS_DIR/slots, of SLOTS_MAX fixed-size entries. A helper claims an
 * entry by taking an open file description lock (F_OFD_SETLK) on its bytes and writing its key
 * there; the kernel drops the lock when the last descriptor of that open file goes, so a helper
 * killed at any point leaks nothing. An entry whose bytes nobody locks is free, whatever it
 * holds. Counting and claiming happen under a flock() of the whole file, held for microseconds.
 * Only root helpers write the file, but its content is read as untrusted anyway: an entry that
 * is not well-formed counts as held by nobody in particular.
 */

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "process.h"

#ifndef SLOTS_DIR
#define SLOTS_DIR "/run/core_pipe"
#endif
#define SLOTS_FILE "slots"
#define SLOTS_MAX 1024       /* entries: far above any kernel.core_pipe_limit in use */
#define SLOTS_KEY_MAX 112    /* bytes of a key, its NUL included */
#define SLOTS_ENTRY_SIZE 128 /* magic, pid, key */
#define SLOTS_FALLBACK_KEY "fallback"

/*
 * Opens the table in dir (created 0700 when missing, as is the file), refusing a directory or
 * file that is not ours: not owned by the effective uid, writable by group or others, a
 * symbolic link, a file with other links. Returns an O_RDWR descriptor of a new open file (so a
 * claim made through it is its own), or a negative errno (-EPERM for a foreign owner or mode).
 */
int slots_open(const char *dir);

/*
 * Claims an entry for key in the table in dir, unless key already holds max entries (max 0: no
 * limit). Returns 0 with *ret_fd the claim (close it, or slots_release() it, to give the entry
 * back) and *ret_in_use the entries key now holds; 1 when key is at its share, with *ret_fd =
 * -EBADF and *ret_in_use the entries it holds; a negative errno when the table cannot be used
 * (-ENOSPC: every entry is held; -ENAMETOOLONG: a key of SLOTS_KEY_MAX bytes or more).
 */
int slots_claim(const char *dir, const char *key, unsigned max, int *ret_fd, unsigned *ret_in_use);

/* How many entries key holds now. */
int slots_count(const char *dir, const char *key, unsigned *ret_count);

/* Gives a claim back while its descriptor stays open (the descriptor may be shared with a child
 * that must not hold it). fd < 0 is a no-op. */
void slots_release(int fd);

/* The claims one crash holds: its container's share, and a fallback receiver's place. */
struct crash_slots {
        int container_fd;
        int fallback_fd;    /* machine-wide: MaxConcurrentFallback= */
        int fallback_ct_fd; /* its container's part: MaxFallbackPerContainer= */
};

#define CRASH_SLOTS_NULL                                                                                               \
        { .container_fd = -EBADF, .fallback_fd = -EBADF, .fallback_ct_fd = -EBADF }

/*
 * Admits the crash of p under its container's share (cfg->max_dumps_per_container). Returns true
 * with s->container_fd held, or true with a note in why when the table cannot be used (the crash
 * is not refused for a broken table: only root can break it); false when the container is over
 * its share, with why = "container over its share: N of M hand-overs in progress".
 */
bool crash_slots_admit(const struct pipe_config *cfg, const struct crashed_process *p, struct crash_slots *s, char *why,
                       size_t why_size);

/* The same for a fallback receiver of p's crash: against its container's part,
 * cfg->max_fallback_per_container (s->fallback_ct_fd), then the machine-wide
 * cfg->max_concurrent_fallback (s->fallback_fd). */
bool crash_slots_admit_fallback(const struct pipe_config *cfg, const struct crashed_process *p, struct crash_slots *s,
                                char *why, size_t why_size);

/* Gives back every claim of s. */
void crash_slots_done(struct crash_slots *s);
