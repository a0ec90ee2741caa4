/* SPDX-License-Identifier: MIT */
#include "lograte.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "logsink.h"
#include "macro.h"

#define TABLE_NAME "lograte"
#define TABLE_SIZE (LOGRATE_ENTRIES * sizeof(struct lograte_entry))
/* Another helper holds the table only while it updates it: a lock not had in this time is
 * someone else's bug, and the line goes out without a limit. */
#define LOCK_WAIT_USEC (500 * USEC_PER_MSEC)

_Static_assert(sizeof(struct lograte_entry) == 128, "the table file's layout is fixed");

static bool entry_valid(const struct lograte_entry *e, uint64_t now) {
        return memchr(e->key, '\0', sizeof(e->key)) && e->window_start <= now && e->last_used <= now;
}

static bool window_ended(const struct lograte_entry *e, uint64_t now, const struct lograte_limits *l) {
        return now - e->window_start >= l->interval_usec;
}

static void take_report(struct lograte_entry *e, uint64_t now, struct lograte_report *ret) {
        snprintf(ret->key, sizeof(ret->key), "%s", e->key);
        ret->n = e->suppressed;
        ret->span_usec = now - e->window_start;
}

/* The entry of key, or a free one, or the least recently used one (its count reported first). */
static struct lograte_entry *find_entry(struct lograte_entry *table, size_t n, const char *key, uint64_t now,
                                        struct lograte_decision *d) {
        struct lograte_entry *lru = NULL;
        for (size_t i = 0; i < n; i++) {
                struct lograte_entry *e = &table[i];
                if (!entry_valid(e, now))
                        memset(e, 0, sizeof(*e));
                if (strcmp(e->key, key) == 0)
                        return e;
                if (!lru || (lru->key[0] && (!e->key[0] || e->last_used < lru->last_used)))
                        lru = e;
        }
        if (lru->key[0] && lru->suppressed > 0)
                take_report(lru, now, &d->others[d->n_others++]);
        memset(lru, 0, sizeof(*lru));
        snprintf(lru->key, sizeof(lru->key), "%s", key);
        lru->window_start = now;
        return lru;
}

/* Summaries for other keys whose window ended with lines suppressed: written now, by whoever
 * comes next, so that a container that stopped crashing still gets its count reported. */
static void collect_ended(struct lograte_entry *table, size_t n, const struct lograte_entry *own, uint64_t now,
                          const struct lograte_limits *l, struct lograte_decision *d) {
        for (size_t i = 0; i < n && d->n_others < LOGRATE_SUMMARIES_MAX; i++) {
                struct lograte_entry *e = &table[i];
                if (e == own || !e->key[0] || e->suppressed == 0 || !window_ended(e, now, l))
                        continue;
                take_report(e, now, &d->others[d->n_others++]);
                /* A fresh window with nothing written yet. */
                e->window_start = now;
                e->emitted = 0;
                e->suppressed = 0;
        }
}

void lograte_account(struct lograte_entry *table, size_t n, const char *key, uint64_t now,
                     const struct lograte_limits *l, struct lograte_decision *ret) {
        struct lograte_decision d = {0};
        char k[LOGRATE_KEY_MAX];

        /* A key longer than an entry holds is cut: still one key per container. */
        snprintf(k, sizeof(k), "%s", key);
        struct lograte_entry *e = find_entry(table, n, k, now, &d);
        if (window_ended(e, now, l)) {
                if (e->suppressed > 0)
                        take_report(e, now, &d.own);
                e->window_start = now;
                e->emitted = 0;
                e->suppressed = 0;
        }
        e->last_used = now;
        if (e->emitted < l->burst) {
                e->emitted++;
                d.emit = true;
        } else
                e->suppressed++;
        collect_ended(table, n, e, now, l, &d);
        *ret = d;
}

static uint64_t now_boottime_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* The table file, locked; its contents in table (all free when it was new or damaged). */
static int open_table(const char *dir, struct lograte_entry *table) {
        /* The table decides which lines the host sees: a directory or file anybody but root
         * could write is refused. */
        _cleanup_close_ int fd = open_private_file(dir, TABLE_NAME);
        if (fd < 0)
                return fd;
        int r = flock_bounded(fd, LOCK_WAIT_USEC);
        if (r < 0)
                return r;
        ssize_t n = pread(fd, table, TABLE_SIZE, 0);
        if (n != (ssize_t) TABLE_SIZE)
                memset(table, 0, TABLE_SIZE);
        return TAKE_FD(fd);
}

static void send_summary(const struct lograte_report *r, const char *ident) {
        unsigned long long sec = (unsigned long long) (r->span_usec / USEC_PER_SEC);
        hostlog_sendf(LOG_NOTICE, ident,
                      "ratelimit_key=\"%s\" suppressed=%u suppressed_sec=%llu: %u log lines for this container "
                      "suppressed in the last %llu s",
                      r->key, r->n, sec, r->n, sec);
}

int lograte_send(const char *dir, const struct lograte_limits *l, const char *key, int priority, const char *ident,
                 const char *message) {
        static struct lograte_entry table[LOGRATE_ENTRIES];
        struct lograte_decision d;

        if (l->burst == 0 || l->interval_usec == 0)
                return hostlog_send(priority, ident, message);
        _cleanup_close_ int fd = open_table(dir, table);
        if (fd < 0)
                /* Never silence a line because the table is unusable. */
                return hostlog_sendf(priority, ident, "%s ratelimit=\"%s/%s: %s\"", message, dir, TABLE_NAME,
                                     strerror(-fd));
        lograte_account(table, LOGRATE_ENTRIES, key, now_boottime_usec(), l, &d);
        /* A failed write only forgets counts; the lines below still go out. */
        (void) (pwrite(fd, table, TABLE_SIZE, 0) == (ssize_t) TABLE_SIZE);
        fd = safe_close(fd); /* unlocks */

        for (size_t i = 0; i < d.n_others; i++)
                send_summary(&d.others[i], ident);
        if (!d.emit)
                return 0;
        if (d.own.n == 0)
                return hostlog_send(priority, ident, message);
        /* In front: a long line is cut at its end. */
        return hostlog_sendf(priority, ident, "ratelimit_key=\"%s\" suppressed=%u suppressed_sec=%llu %s", d.own.key,
                             d.own.n, (unsigned long long) (d.own.span_usec / USEC_PER_SEC), message);
}
