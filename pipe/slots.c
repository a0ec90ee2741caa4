/* SPDX-License-Identifier: MIT */
#include "slots.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"

#define SLOTS_MAGIC UINT32_C(0x63707331) /* "cps1" */
#define SLOTS_TABLE_SIZE ((size_t) SLOTS_MAX * SLOTS_ENTRY_SIZE)
/* The flock is held for microseconds by each helper; a helper that cannot get it in this long
 * goes on without a slot rather than wait with a crashed process behind it. */
#define SLOTS_LOCK_TIMEOUT_USEC (2 * USEC_PER_SEC)

struct slot_entry {
        uint32_t magic;
        uint32_t pid;     /* the helper that claimed it, for whoever inspects the file */
        uint64_t claimed; /* CLOCK_REALTIME microseconds, likewise */
        char key[SLOTS_KEY_MAX];
};

_Static_assert(sizeof(struct slot_entry) == SLOTS_ENTRY_SIZE, "slot entry size");

int slots_open(const char *dir) {
        return open_private_file(dir, SLOTS_FILE);
}

/* Whether another open file holds a lock on entry i: then it is in use, whatever it says. */
static int entry_in_use(int fd, unsigned i) {
        struct flock fl = {
                .l_type = F_WRLCK,
                .l_whence = SEEK_SET,
                .l_start = (off_t) i * SLOTS_ENTRY_SIZE,
                .l_len = SLOTS_ENTRY_SIZE,
        };
        if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
                return negative_errno();
        return fl.l_type != F_UNLCK;
}

/* The key an entry names, or NULL when it is not a well-formed entry. */
static const char *entry_key(const struct slot_entry *e) {
        if (e->magic != SLOTS_MAGIC || e->key[0] == '\0' || !memchr(e->key, '\0', sizeof(e->key)))
                return NULL;
        return e->key;
}

struct table_scan {
        unsigned held_by_key;
        int first_free; /* -1: none */
};

/* Counts the entries in use under key and finds a free one. The caller holds the flock. */
static int scan_table(int fd, const char *key, struct table_scan *ret) {
        _cleanup_free_ struct slot_entry *t = calloc(SLOTS_MAX, sizeof(struct slot_entry));
        struct table_scan scan = {.first_free = -1};
        if (!t)
                return -ENOMEM;
        /* A short file reads as zeros: entries past its end are free unless locked. */
        int r = pread_full(fd, t, SLOTS_TABLE_SIZE, 0, NULL);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < SLOTS_MAX; i++) {
                int used = entry_in_use(fd, i);
                if (used < 0)
                        return used;
                if (!used) {
                        if (scan.first_free < 0)
                                scan.first_free = (int) i;
                        continue;
                }
                const char *k = entry_key(&t[i]);
                if (k && strcmp(k, key) == 0)
                        scan.held_by_key++;
        }
        *ret = scan;
        return 0;
}

/* Locks entry i for this open file and writes key into it. */
static int take_entry(int fd, unsigned i, const char *key) {
        struct flock fl = {
                .l_type = F_WRLCK,
                .l_whence = SEEK_SET,
                .l_start = (off_t) i * SLOTS_ENTRY_SIZE,
                .l_len = SLOTS_ENTRY_SIZE,
        };
        struct slot_entry e = {.magic = SLOTS_MAGIC, .pid = (uint32_t) getpid(), .claimed = now_realtime_usec()};
        if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
                return negative_errno();
        memcpy(e.key, key, strlen(key) + 1);
        ssize_t n = pwrite(fd, &e, sizeof(e), (off_t) i * SLOTS_ENTRY_SIZE);
        if (n != (ssize_t) sizeof(e)) {
                int r = n < 0 ? negative_errno() : -EIO;
                slots_release(fd);
                return r;
        }
        return 0;
}

/* Counts key's entries and, when it is under max (and claim is set), claims one. Returns 0
 * (claimed, or counted), 1 (at its share), or a negative errno. */
static int count_and_claim(const char *dir, const char *key, unsigned max, bool claim, int *ret_fd,
                           unsigned *ret_in_use) {
        struct table_scan scan;
        int r;

        if (strlen(key) >= SLOTS_KEY_MAX)
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = slots_open(dir);
        if (fd < 0)
                return fd;
        r = flock_bounded(fd, SLOTS_LOCK_TIMEOUT_USEC);
        if (r < 0)
                return r;
        r = scan_table(fd, key, &scan);
        if (r >= 0 && claim) {
                if (max > 0 && scan.held_by_key >= max)
                        r = 1;
                else if (scan.first_free < 0)
                        r = -ENOSPC;
                else if ((r = take_entry(fd, (unsigned) scan.first_free, key)) >= 0)
                        scan.held_by_key++;
        }
        (void) flock(fd, LOCK_UN);
        if (r < 0)
                return r;
        *ret_in_use = scan.held_by_key;
        *ret_fd = r == 0 && claim ? TAKE_FD(fd) : -EBADF;
        return r;
}

int slots_claim(const char *dir, const char *key, unsigned max, int *ret_fd, unsigned *ret_in_use) {
        return count_and_claim(dir, key, max, true, ret_fd, ret_in_use);
}

int slots_count(const char *dir, const char *key, unsigned *ret_count) {
        int fd;
        return count_and_claim(dir, key, 0, false, &fd, ret_count);
}

void slots_release(int fd) {
        struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
        if (fd >= 0)
                (void) fcntl(fd, F_OFD_SETLK, &fl);
}

/* The container's key (crash_container_key()): nothing inside a container can multiply it. */
static const char *crash_key(const struct crashed_process *p) {
        return p->container_key;
}

/* Claims a slot for key; false only when key is at max (why says so). */
static bool admit(const char *key, unsigned max, const char *what, const char *unit, int *ret_fd, char *why,
                  size_t why_size) {
        unsigned in_use = 0;
        int fd = -EBADF;
        int r = slots_claim(SLOTS_DIR, key, max, &fd, &in_use);
        if (r < 0) {
                /* Fail open: a table only root can break must not cost every crash its core. */
                snprintf(why, why_size, "%s/%s unusable (%s): %s not counted", SLOTS_DIR, SLOTS_FILE, strerror(-r),
                         what);
                return true;
        }
        if (r > 0) {
                snprintf(why, why_size, "%s: %u of %u %s", what, in_use, max, unit);
                return false;
        }
        *ret_fd = fd;
        return true;
}

bool crash_slots_admit(const struct pipe_config *cfg, const struct crashed_process *p, struct crash_slots *s, char *why,
                       size_t why_size) {
        why[0] = '\0';
        if (cfg->max_dumps_per_container == 0)
                return true;
        return admit(crash_key(p), cfg->max_dumps_per_container, "container over its share", "hand-overs in progress",
                     &s->container_fd, why, why_size);
}

bool crash_slots_admit_fallback(const struct pipe_config *cfg, const struct crashed_process *p, struct crash_slots *s,
                                char *why, size_t why_size) {
        char key[SLOTS_KEY_MAX];
        why[0] = '\0';
        /* Its container's part first: one container must not hold every fallback receiver (one
         * it slows down in its own cgroups would keep them from everybody else). */
        snprintf(key, sizeof(key), "%s/%s", SLOTS_FALLBACK_KEY, crash_key(p));
        if (cfg->max_fallback_per_container > 0 &&
            !admit(key, cfg->max_fallback_per_container, "container over MaxFallbackPerContainer",
                   "fallback receivers running", &s->fallback_ct_fd, why, why_size))
                return false;
        if (cfg->max_concurrent_fallback == 0)
                return true;
        return admit(SLOTS_FALLBACK_KEY, cfg->max_concurrent_fallback, "over MaxConcurrentFallback",
                     "fallback receivers running", &s->fallback_fd, why, why_size);
}

void crash_slots_done(struct crash_slots *s) {
        s->container_fd = safe_close(s->container_fd);
        s->fallback_fd = safe_close(s->fallback_fd);
        s->fallback_ct_fd = safe_close(s->fallback_ct_fd);
}
