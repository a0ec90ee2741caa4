/* SPDX-License-Identifier: MIT */
/*
 * Many fallback receivers at once (fallback.h) on a 32 MiB tmpfs of the test's own: 16 writers,
 * in 4 container directories, each streaming an 8 MiB core that does not compress, through
 * fallback_admit(), store_core() with fallback_reserve() and fallback_finish(), while the parent
 * samples the file system. Free space never falls below KeepFree= and the store never passes
 * MaxUse= by more than FALLBACK_SLACK per writer; cores are cut for the limit (never by the file
 * system's ENOSPC) and stay whole zstd streams. Root (a tmpfs in a mount namespace of its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fallback.h"
#include "ledger.h"
#include "fdio.h"
#include "macro.h"
#include "store.h"
#include "tap.h"

#define WRITERS 16
#define CORE_SIZE (8U << 20)

enum { WHOLE, CUT_BY_LIMIT, REFUSED, FAILED, CUT_BY_ENOSPC };

static uint8_t *core;
static char root[256];

static void feed(int fd) {
        signal(SIGPIPE, SIG_IGN);
        (void) write_full(fd, core, CORE_SIZE);
        _exit(0);
}

/* One fallback receiver: its exit status says what became of its core. */
static int writer(int i, const struct receiver_settings *s) {
        char store[512], note[256], name[64];
        struct fallback f = FALLBACK_INIT;
        snprintf(store, sizeof(store), "%s/containers/c%d", root, i % 4);
        int dirfd = fallback_admit(&f, root, store, 1000 + (uint64_t) i, s, note, sizeof(note));
        if (dirfd < 0)
                return REFUSED;
        int p[2];
        if (pipe(p) < 0)
                return FAILED;
        if (fork() == 0) {
                close(p[0]);
                feed(p[1]);
        }
        close(p[1]);
        struct store_options o = {.compress = true,
                                  .compress_level = 1,
                                  .workers = 1,
                                  .chunk_size = 1U << 20,
                                  .reserve = fallback_reserve,
                                  .reserve_userdata = &f};
        struct store_result res;
        snprintf(name, sizeof(name), "core.w%d.0.b.1.%d", i, 1000 + i);
        char file[80];
        snprintf(file, sizeof(file), "%s.zst", name);
        int r = store_core(dirfd, file, &p[0], UINT64_MAX, UINT64_MAX, &o, &res);
        if (r < 0)
                return r == -ENOSPC ? REFUSED : FAILED;
        struct stat st;
        (void) fstatat(dirfd, file, &st, 0);
        fallback_finish(&f, dirfd, name, (uint64_t) st.st_blocks * 512);
        fallback_done(&f);
        if (!res.truncated)
                return WHOLE;
        return strcmp(res.truncated_reason, STORE_CUT_NO_SPACE) == 0 ? CUT_BY_ENOSPC : CUT_BY_LIMIT;
}

/* Runs the writers; returns the lowest free space and the highest use seen, counts by outcome. */
static void storm(const struct receiver_settings *s, uint64_t *min_free, uint64_t *max_used, int counts[5]) {
        struct statvfs sv;
        int running = 0;
        *min_free = UINT64_MAX;
        *max_used = 0;
        memset(counts, 0, 5 * sizeof(int));
        for (int i = 0; i < WRITERS; i++)
                if (fork() == 0)
                        _exit(writer(i, s));
                else
                        running++;
        while (running > 0) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);
                if (pid > 0) {
                        int k = WIFEXITED(status) ? WEXITSTATUS(status) : FAILED;
                        counts[k < 5 ? k : FAILED]++;
                        running--;
                        continue;
                }
                if (statvfs(root, &sv) == 0) {
                        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
                        uint64_t used = (uint64_t) (sv.f_blocks - sv.f_bfree) * sv.f_frsize;
                        *min_free = MIN(*min_free, avail);
                        *max_used = MAX(*max_used, used);
                }
                usleep(500);
        }
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

/* MaxContainers=: a new container's core is refused before its first byte, a known one's is not. */
static void test_max_containers(const struct receiver_settings *base) {
        struct receiver_settings s = *base;
        char store[512], note[256], cmd[600];
        s.max_containers = 2;
        snprintf(cmd, sizeof(cmd),
                 "mkdir -p '%s/containers/a' '%s/containers/b' && echo x >'%s/containers/a/core.x.0.b.1.1.zst' && echo "
                 "x >'%s/containers/b/core.x.0.b.1.2.zst'",
                 root, root, root, root);
        CHECK(system(cmd) == 0, "two container directories with a core each");
        struct fallback f = FALLBACK_INIT;
        snprintf(store, sizeof(store), "%s/containers/c", root);
        int r = fallback_admit(&f, root, store, 5, &s, note, sizeof(note));
        CHECK(r == -EDQUOT && strstr(f.why, "MaxContainers=2"), "a third container is refused: %s", f.why);
        fallback_done(&f);
        CHECK(access(store, F_OK) < 0, "no directory was made for it");
        f = (struct fallback) FALLBACK_INIT;
        snprintf(store, sizeof(store), "%s/containers/a", root);
        r = fallback_admit(&f, root, store, 5, &s, note, sizeof(note));
        CHECK(r >= 0, "a known container is admitted (%s)", f.why);
        if (r >= 0)
                close(r);
        /* Another receiver's view: our core (stamp 5 in its name) is being written, in a. */
        struct ledger other = LEDGER_INIT;
        struct ledger_state ls;
        bool seen = false;
        if (ledger_open(f.rootfd, &other) >= 0 && ledger_read(&other, &ls) >= 0)
                for (unsigned k = 0; k < ls.live; k++)
                        seen = seen || ls.usecs[k] == 5;
        ledger_close(&other);
        CHECK(seen, "the ledger shows others the stamp of the core being written, so no vacuum takes it");
        fallback_done(&f);
        f = (struct fallback) FALLBACK_INIT;
        snprintf(store, sizeof(store), "%s/host", root);
        r = fallback_admit(&f, root, store, 5, &s, note, sizeof(note));
        CHECK(r >= 0, "the host is admitted (%s)", f.why);
        if (r >= 0)
                close(r);
        fallback_done(&f);
}

int main(void) {
        char dir[] = "/var/tmp/core_pipe-unit-fb.XXXXXX", cmd[128];
        uint64_t min_free, max_used, slack = (uint64_t) WRITERS * FALLBACK_SLACK;
        int counts[5];
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            !mkdtemp(dir) || mount("fb", dir, "tmpfs", 0, "size=32m,mode=0700") < 0) {
                printf("1..0 # SKIP needs root for a tmpfs of its own\n");
                return 0;
        }
        core = malloc(CORE_SIZE);
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < CORE_SIZE; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                core[i] = (uint8_t) x;
        }
        snprintf(root, sizeof(root), "%s/store", dir);
        struct receiver_settings s;
        settings_defaults(&s);
        s.max_cores_per_interval = 0;
        s.max_use = (struct size_limit){.percent = true, .value = 100};
        s.max_use_per_container_set = true;
        s.max_use_per_container = (struct size_limit){.percent = true, .value = 100};
        s.keep_free = (struct size_limit){.value = 12U << 20};
        storm(&s, &min_free, &max_used, counts);
        printf("# KeepFree=12M: free at least %llu, %d whole, %d cut, %d refused, %d failed, %d ENOSPC\n",
               (unsigned long long) min_free, counts[WHOLE], counts[CUT_BY_LIMIT], counts[REFUSED], counts[FAILED],
               counts[CUT_BY_ENOSPC]);
        CHECK(min_free + slack >= (12U << 20), "KeepFree=12M: free space never below it, minus the slack");
        CHECK(counts[WHOLE] + counts[CUT_BY_LIMIT] >= 2 && counts[FAILED] == 0 && counts[CUT_BY_ENOSPC] == 0,
              "KeepFree=12M: cores stored or cut at the limit, none by ENOSPC, none failed");

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        (void) system(cmd);
        s.keep_free = (struct size_limit){.value = 0};
        s.max_use = (struct size_limit){.value = 8U << 20};
        storm(&s, &min_free, &max_used, counts);
        printf("# MaxUse=8M: at most %llu used, %d whole, %d cut, %d refused, %d failed, %d ENOSPC\n",
               (unsigned long long) max_used, counts[WHOLE], counts[CUT_BY_LIMIT], counts[REFUSED], counts[FAILED],
               counts[CUT_BY_ENOSPC]);
        CHECK(max_used <= (8U << 20) + slack, "MaxUse=8M: the file system never held more, plus the slack");
        CHECK(counts[WHOLE] + counts[CUT_BY_LIMIT] >= 1 && counts[FAILED] == 0 && counts[CUT_BY_ENOSPC] == 0,
              "MaxUse=8M: cores stored or cut at the limit, none by ENOSPC, none failed");
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        (void) system(cmd);
        s.max_use = (struct size_limit){.percent = true, .value = 100};
        test_max_containers(&s);
        umount2(dir, MNT_DETACH);
        rmdir(dir);
        return tap_done();
}
