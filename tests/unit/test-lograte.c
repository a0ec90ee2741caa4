/* SPDX-License-Identifier: MIT */
/* The host log's limit per container: the decision on an in-memory table, and the table file. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "lograte.h"
#include "macro.h"
#include "tap.h"

#define SEC USEC_PER_SEC
/* CHECK() evaluates its expression twice: the calls with effects run once, before it. */
#define CHECK_ONCE(expr, ...)                                                                                          \
        do {                                                                                                           \
                bool ok_ = (expr);                                                                                     \
                CHECK(ok_, __VA_ARGS__);                                                                               \
        } while (0)

static struct lograte_entry table[LOGRATE_ENTRIES];
static const struct lograte_limits limits = {.burst = 3, .interval_usec = 10 * SEC};

static unsigned emitted(const char *key, uint64_t now, unsigned lines, struct lograte_decision *last) {
        unsigned n = 0;
        for (unsigned i = 0; i < lines; i++) {
                lograte_account(table, LOGRATE_ENTRIES, key, now, &limits, last);
                n += last->emit;
        }
        return n;
}

static void test_burst_and_count(void) {
        struct lograte_decision d;
        memset(table, 0, sizeof(table));
        CHECK_ONCE(emitted("a", 1 * SEC, 100, &d) == 3, "a key writes its burst, no more, within its window");
        CHECK(!d.emit && d.own.n == 0 && d.n_others == 0, "a suppressed line reports nothing yet");
        CHECK_ONCE(emitted("b", 2 * SEC, 2, &d) == 2, "another key's lines are not pushed out by the flood");
        CHECK_ONCE(emitted("a", 11 * SEC, 1, &d) == 1 && d.own.n == 97 && d.own.span_usec == 10 * SEC,
                   "the first line of the next window carries the 97 suppressed and the span");
        CHECK_ONCE(emitted("a", 12 * SEC, 2, &d) == 2 && d.own.n == 0, "the new window has its own burst");
}

static void test_summary_by_others(void) {
        struct lograte_decision d;
        memset(table, 0, sizeof(table));
        emitted("flood", 1 * SEC, 50, &d);
        CHECK_ONCE(emitted("quiet", 5 * SEC, 1, &d) == 1 && d.n_others == 0, "no summary while the window runs");
        CHECK_ONCE(emitted("quiet", 12 * SEC, 1, &d) == 1 && d.n_others == 1 && strcmp(d.others[0].key, "flood") == 0 &&
                           d.others[0].n == 47,
                   "the next helper of any key reports an ended window's 47 suppressed lines");
        CHECK_ONCE(emitted("quiet", 13 * SEC, 1, &d) == 1 && d.n_others == 0, "and only once");
        CHECK_ONCE(emitted("flood", 14 * SEC, 1, &d) == 1 && d.own.n == 0, "the flood's count is not reported twice");
}

static void test_reuse(void) {
        struct lograte_decision d;
        char key[32];
        memset(table, 0, sizeof(table));
        emitted("old", 1 * SEC, 5, &d);
        for (unsigned i = 0; i < LOGRATE_ENTRIES - 1; i++) {
                snprintf(key, sizeof(key), "k%u", i);
                emitted(key, 2 * SEC, 1, &d);
        }
        CHECK_ONCE(emitted("new", 3 * SEC, 1, &d) == 1 && d.n_others == 1 && strcmp(d.others[0].key, "old") == 0 &&
                           d.others[0].n == 2,
                   "a full table reuses the least recently used entry, reporting its count first");
        memset(table[7].key, 'x', sizeof(table[7].key));
        table[8].window_start = 1000 * SEC;
        strcpy(table[8].key, "future");
        CHECK_ONCE(emitted("fresh", 4 * SEC, 1, &d) == 1, "damaged entries are cleared, not trusted");
        CHECK(table[8].key[0] == '\0' || strcmp(table[8].key, "fresh") == 0, "an entry from the future is cleared");
}

static bool read_first(const char *path, struct lograte_entry *ret) {
        int fd = open(path, O_RDONLY);
        if (fd < 0)
                return false;
        bool ok = pread(fd, ret, sizeof(*ret), 0) == (ssize_t) sizeof(*ret);
        close(fd);
        return ok;
}

/* The table file: root's directory only; a line is never silenced because the table is unusable. */
static void test_file(void) {
        char dir[] = "/tmp/test-lograte.XXXXXX";
        const struct lograte_limits l = {.burst = 2, .interval_usec = 3600 * SEC};
        if (geteuid() != 0 || !mkdtemp(dir)) {
                printf("ok %d - # SKIP the table file needs root\n", ++tap_n);
                return;
        }
        char state[64];
        snprintf(state, sizeof(state), "%s/state", dir);
        for (int i = 0; i < 5; i++)
                (void) lograte_send(state, &l, "unit-test", LOG_DEBUG, "test-lograte", "a line");
        struct stat st;
        CHECK(stat(state, &st) == 0 && (st.st_mode & 07777) == 0700, "the state directory is made 0700");
        char path[96];
        snprintf(path, sizeof(path), "%s/lograte", state);
        CHECK(stat(path, &st) == 0 && st.st_size == LOGRATE_ENTRIES * (off_t) sizeof(struct lograte_entry),
              "the table has its fixed size");
        struct lograte_entry e = {0};
        CHECK_ONCE(read_first(path, &e) && strcmp(e.key, "unit-test") == 0 && e.emitted == 2 && e.suppressed == 3,
                   "five lines: two written, three counted, across five calls");
        chmod(state, 0777);
        (void) lograte_send(state, &l, "unit-test", LOG_DEBUG, "test-lograte", "a line");
        CHECK_ONCE(read_first(path, &e) && e.suppressed == 3,
                   "a directory others may write to is not used (the line goes out unlimited)");
        unlink(path);
        rmdir(state);
        rmdir(dir);
}

int main(void) {
        test_burst_and_count();
        test_summary_by_others();
        test_reuse();
        test_file();
        return tap_done();
}
