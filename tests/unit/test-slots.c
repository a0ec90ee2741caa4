/* SPDX-License-Identifier: MIT */
/*
 * The machine-wide slot table (pipe/slots.c), on a table in a scratch directory: no root
 * needed. Claims up to a share, refusal over it, release on close and on a holder's death, keys
 * independent, racing claimers, refusal of a table that is not ours, and a table full of
 * garbage. Also the settings that bound a hand-over (MinDumpRate=, DumpTimeoutSec=, ...).
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "macro.h"
#include "slots.h"
#include "tap.h"

/* tap.h's CHECK evaluates its expression twice: these checks claim and count, so once only. */
#define CHECK1(expr, ...)                                                                                              \
        do {                                                                                                           \
                bool ok_ = (expr);                                                                                     \
                CHECK(ok_, __VA_ARGS__);                                                                               \
                if (!ok_)                                                                                              \
                        printf("# %s\n", #expr);                                                                       \
        } while (0)

static char dir[256];

static unsigned count(const char *key) {
        unsigned n = 9999;
        if (slots_count(dir, key, &n) < 0)
                return 9999;
        return n;
}

static void test_share(void) {
        int fd[4], other = -EBADF;
        unsigned in_use = 0;

        for (int i = 0; i < 3; i++)
                CHECK1(slots_claim(dir, "pidns-1", 3, &fd[i], &in_use) == 0 && fd[i] >= 0 && in_use == (unsigned) i + 1,
                       "claim %d of a share of 3 is granted (%u in use)", i + 1, in_use);
        fd[3] = 12345;
        CHECK1(slots_claim(dir, "pidns-1", 3, &fd[3], &in_use) == 1 && fd[3] == -EBADF && in_use == 3,
               "the 4th claim is refused, and says 3 are in use");
        CHECK1(slots_claim(dir, "pidns-2", 3, &other, &in_use) == 0 && in_use == 1,
               "another key is independent of the first one's share");
        CHECK1(count("pidns-1") == 3 && count("pidns-2") == 1, "counts per key");

        safe_close(fd[0]);
        CHECK1(count("pidns-1") == 2, "closing a claim gives its entry back");
        CHECK1(slots_claim(dir, "pidns-1", 3, &fd[0], &in_use) == 0 && in_use == 3, "and a new claim fits again");

        slots_release(fd[1]);
        CHECK1(count("pidns-1") == 2, "slots_release() gives it back while the descriptor stays open");
        slots_release(-EBADF);
        CHECK1(slots_claim(dir, "pidns-1", 0, &fd[3], &in_use) == 0 && in_use == 3, "max 0 means no share");

        for (int i = 0; i < 4; i++)
                safe_close(fd[i]);
        safe_close(other);
        CHECK1(count("pidns-1") == 0 && count("pidns-2") == 0, "everything closed: nothing held");

        char longkey[SLOTS_KEY_MAX + 1];
        memset(longkey, 'k', sizeof(longkey) - 1);
        longkey[sizeof(longkey) - 1] = '\0';
        CHECK1(slots_claim(dir, longkey, 3, &fd[0], &in_use) == -ENAMETOOLONG,
               "a key too long for an entry is refused");
}

/* A holder killed at any point leaks nothing: the kernel drops its lock. */
static void test_killed_holder(void) {
        int p[2];
        char c;
        if (pipe(p) < 0)
                return;
        pid_t pid = fork();
        if (pid == 0) {
                int fd;
                unsigned n;
                if (slots_claim(dir, "pidns-k", 1, &fd, &n) != 0)
                        _exit(1);
                (void) write(p[1], "x", 1);
                pause();
                _exit(0);
        }
        close(p[1]);
        CHECK1(read(p[0], &c, 1) == 1 && count("pidns-k") == 1, "a child holds a claim");
        int fd = -EBADF;
        unsigned n;
        CHECK1(slots_claim(dir, "pidns-k", 1, &fd, &n) == 1, "the share of 1 is full while it lives");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(p[0]);
        CHECK1(count("pidns-k") == 0, "SIGKILLed, its claim is gone");
        CHECK1(slots_claim(dir, "pidns-k", 1, &fd, &n) == 0, "and the share can be claimed again");
        safe_close(fd);
}

/* Claimers racing for a share of 3: exactly 3 win. */
static void test_race(void) {
        enum { N = 12 };
        pid_t pids[N];
        int won = 0, go[2];
        if (pipe(go) < 0)
                return;
        for (int i = 0; i < N; i++) {
                pids[i] = fork();
                if (pids[i] == 0) {
                        int fd;
                        unsigned n;
                        char c;
                        close(go[1]);
                        (void) read(go[0], &c, 1); /* EOF when the parent lets them all go */
                        int r = slots_claim(dir, "pidns-r", 3, &fd, &n);
                        if (r == 0)
                                sleep(2); /* hold it while the others try */
                        _exit(r == 0 ? 0 : r == 1 ? 1 : 2);
                }
        }
        close(go[0]);
        close(go[1]);
        int errors = 0;
        for (int i = 0; i < N; i++) {
                int st;
                waitpid(pids[i], &st, 0);
                won += WIFEXITED(st) && WEXITSTATUS(st) == 0;
                errors += !WIFEXITED(st) || WEXITSTATUS(st) > 1;
        }
        CHECK1(won == 3 && errors == 0, "%d racing claimers on a share of 3: %d won, %d errors", N, won, errors);
}

/* Entries are read as untrusted: garbage in the file is no entry, and never a crash. */
static void test_garbage(void) {
        char path[300], junk[SLOTS_ENTRY_SIZE * 8];
        snprintf(path, sizeof(path), "%s/%s", dir, SLOTS_FILE);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        memset(junk, 0xff, sizeof(junk));
        CHECK1(fd >= 0 && write(fd, junk, sizeof(junk)) == (ssize_t) sizeof(junk),
               "the table is overwritten with 0xff");
        safe_close(fd);
        int a = -EBADF;
        unsigned n = 0;
        CHECK1(slots_claim(dir, "pidns-g", 2, &a, &n) == 0 && n == 1, "a claim over garbage works");
        CHECK1(count("pidns-g") == 1, "and is counted");
        safe_close(a);
        CHECK1(truncate(path, 3) == 0 && count("pidns-g") == 0, "a table cut mid-entry reads as free entries");
}

static void test_full(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max < SLOTS_MAX + 64) {
                printf("# not enough descriptors to fill the table (RLIMIT_NOFILE %llu)\n",
                       (unsigned long long) rl.rlim_max);
                return;
        }
        rl.rlim_cur = SLOTS_MAX + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
        static int fds[SLOTS_MAX];
        unsigned n, granted = 0;
        for (unsigned i = 0; i < SLOTS_MAX; i++)
                granted += slots_claim(dir, "pidns-f", 0, &fds[i], &n) == 0;
        int fd = -EBADF;
        CHECK1(granted == SLOTS_MAX && slots_claim(dir, "pidns-x", 5, &fd, &n) == -ENOSPC,
               "the table is bounded: %u claims fill it, the next is -ENOSPC", granted);
        for (unsigned i = 0; i < SLOTS_MAX; i++)
                safe_close(fds[i]);
        CHECK1(count("pidns-f") == 0, "all given back");
}

static void test_not_ours(const char *base) {
        char d[300], f[300], lnk[300];
        int fd;
        unsigned n;

        snprintf(d, sizeof(d), "%s/open", base);
        CHECK1(mkdir(d, 0777) == 0 && chmod(d, 0777) == 0, "a directory others may write");
        CHECK1(slots_claim(d, "k", 1, &fd, &n) == -EPERM, "is refused");
        chmod(d, 0700);
        snprintf(lnk, sizeof(lnk), "%s/link", base);
        CHECK1(symlink(d, lnk) == 0 && slots_claim(lnk, "k", 1, &fd, &n) < 0,
               "a symlink in place of the directory is refused");
        snprintf(f, sizeof(f), "%s/%s", d, SLOTS_FILE);
        CHECK1(symlink("/etc/passwd", f) == 0 && slots_claim(d, "k", 1, &fd, &n) == -ELOOP,
               "a symlink in place of the table is refused");
        unlink(f);
        CHECK1(mkdir(f, 0700) == 0 && slots_claim(d, "k", 1, &fd, &n) == -EISDIR,
               "a directory in place of the table is refused");
        rmdir(f);
        char other[300];
        snprintf(other, sizeof(other), "%s/other", base);
        fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        safe_close(fd);
        CHECK1(link(other, f) == 0 && slots_claim(d, "k", 1, &fd, &n) == -EPERM,
               "a table with a second link is refused");
}

static int problems;
static void count_problem(const char *path, unsigned line, const char *message) {
        (void) path;
        (void) line;
        (void) message;
        problems++;
}

static void test_config(void) {
        struct pipe_config c;
        pipe_config_defaults(&c);
        CHECK1(c.min_dump_rate == 1024 * 1024 && c.dump_timeout_usec == 1800ULL * 1000000 &&
                       c.max_dumps_per_container == 8 && c.max_concurrent_fallback == 4 &&
                       c.max_fallback_per_container == 2,
               "defaults: 1M/s, 30 min, 8 per container, 4 fallback receivers, 2 of them per container");
        problems = 0;
        int r = pipe_config_parse("t.conf",
                                  "[Pipe]\nMinDumpRate=64K\nDumpTimeoutSec=5s\nMaxDumpsPerContainer=2\n"
                                  "MaxConcurrentFallback=0\n",
                                  &c, count_problem);
        CHECK1(r == 0 && c.min_dump_rate == 65536 && c.dump_timeout_usec == 5000000 && c.max_dumps_per_container == 2 &&
                       c.max_concurrent_fallback == 0,
               "the bounds parse");
        CHECK1(pipe_config_parse("t.conf", "[Pipe]\nMinDumpRate=0\nDumpTimeoutSec=0\nMinDumpRate=3G\n", &c,
                                 count_problem) == 0 &&
                       c.min_dump_rate == 3ULL << 30 && c.dump_timeout_usec == 0,
               "0 disables; G is 2^30");
        pipe_config_defaults(&c);
        r = pipe_config_parse("t.conf",
                              "[Pipe]\nMinDumpRate=1X\nMinDumpRate=2T\nMinDumpRate=99999999999G\nMinDumpRate=K\n"
                              "MinDumpRate=-1\nDumpTimeoutSec=8d\nDumpTimeoutSec=20000min\nMaxDumpsPerContainer=1025\n"
                              "MaxConcurrentFallback=x\nMaxDumpsPerContainer=-3\nMinDumpRate=1MM\n",
                              &c, count_problem);
        CHECK1(r == 11, "each bad bound is reported (%d)", r);
        CHECK1(c.min_dump_rate == 1024 * 1024 && c.dump_timeout_usec == 1800ULL * 1000000 &&
                       c.max_dumps_per_container == 8 && c.max_concurrent_fallback == 4,
               "bad values keep their defaults");
}

int main(void) {
        char base[] = "/tmp/test-slots-XXXXXX";
        if (!mkdtemp(base)) {
                perror("mkdtemp");
                return 1;
        }
        snprintf(dir, sizeof(dir), "%s/run", base);
        test_share();
        struct stat st;
        CHECK1(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700, "the table's directory was made 0700");
        test_killed_holder();
        test_race();
        test_garbage();
        test_full();
        test_not_ours(base);
        test_config();
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        if (system(cmd) != 0)
                printf("# could not remove %s\n", base);
        return tap_done();
}
