/* SPDX-License-Identifier: MIT */
/*
 * The host's fallback tree (vacuum_tree()) and its in-flight ledger, on a scratch directory:
 *   - a container over its share loses its own oldest cores, never the host's nor another's;
 *   - the host's cores go only to make room for the host;
 *   - empty container directories are removed, but not one a core in flight goes to, nor one
 *     whose rate limit state is recent;
 *   - the ledger: slots of other descriptions count while they live, and no longer after.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "ledger.h"
#include "macro.h"
#include "settings.h"
#include "tap.h"
#include "vacuum.h"

#define CORE (64U << 10)

static int rootfd;

/* A core of 64 KiB at dir/core.x.0.b.1.usec.zst. */
static void put_core(const char *dir, unsigned usec) {
        char path[512], block[CORE];
        memset(block, 'c', sizeof(block));
        (void) mkdirat(rootfd, dir, 0700);
        snprintf(path, sizeof(path), "%s/core.x.0.b.1.%u.zst", dir, usec);
        int fd = openat(rootfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        (void) write_full(fd, block, sizeof(block));
        fsync(fd);
        close(fd);
}

static bool has_core(const char *dir, unsigned usec) {
        char path[512];
        snprintf(path, sizeof(path), "%s/core.x.0.b.1.%u.zst", dir, usec);
        return faccessat(rootfd, path, F_OK, 0) == 0;
}

static uint64_t ino_of(const char *dir) {
        struct stat st;
        return fstatat(rootfd, dir, &st, 0) < 0 ? 0 : (uint64_t) st.st_ino;
}

static void test_shares(struct receiver_settings *s) {
        struct tree_result tr;
        put_core("host", 1);
        put_core("containers/a", 2);
        for (unsigned i = 0; i < 10; i++)
                put_core("containers/b", 10 + i);
        /* MaxUse= 8 cores, so a share of 2. */
        s->max_use = (struct size_limit){.value = 8 * CORE};
        struct tree_request req = {.dir = ino_of("containers/b"), .keep_stem = "core.x.0.b.1.19"};
        int r = vacuum_tree(rootfd, s, &req, &tr);
        CHECK(r == 0, "vacuum_tree() over host/, a and b (%d %s)", r, tr.why);
        CHECK(has_core("host", 1), "the host's core is kept although it is the oldest");
        CHECK(has_core("containers/a", 2), "another container's core is kept");
        CHECK(has_core("containers/b", 19) && has_core("containers/b", 18) && !has_core("containers/b", 17),
              "the container over its share keeps its newest two");
        CHECK(tr.v.removed == 8 && tr.containers == 2, "8 removed, 2 container directories (%u, %u)", tr.v.removed,
              tr.containers);

        /* A tree over MaxUse= with every container within its share: containers' cores go, the
         * host's only for the host. */
        s->max_use = (struct size_limit){.value = 2 * CORE};
        req = (struct tree_request){.dir = ino_of("containers/a")};
        r = vacuum_tree(rootfd, s, &req, &tr);
        CHECK(r == 0 && has_core("host", 1) && !has_core("containers/a", 2) && !has_core("containers/b", 18),
              "over MaxUse= for a container: containers' oldest go, never the host's");
        req = (struct tree_request){.host = true, .dir = ino_of("host")};
        s->max_use = (struct size_limit){.value = 0};
        r = vacuum_tree(rootfd, s, &req, &tr);
        CHECK(r == 0 && !has_core("host", 1), "for the host, the host's cores may go too");
}

static void test_empty_dirs(const struct receiver_settings *s) {
        struct tree_result tr;
        char name[64];
        for (int i = 0; i < 100; i++) {
                snprintf(name, sizeof(name), "containers/empty-%d", i);
                (void) mkdirat(rootfd, name, 0700);
        }
        (void) mkdirat(rootfd, "containers/fresh-rate", 0700);
        int fd = openat(rootfd, "containers/fresh-rate/.rate", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        close(fd);
        (void) mkdirat(rootfd, "containers/in-flight", 0700);
        int fd2 = openat(rootfd, "containers/plain-file", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        close(fd2);

        struct ledger writer = LEDGER_INIT, me = LEDGER_INIT;
        CHECK(ledger_open(rootfd, &writer) == 0 && ledger_open(rootfd, &me) == 0, "two ledger descriptions");
        ledger_lock(&writer);
        int r = ledger_claim(&writer, ino_of("containers/in-flight"), false);
        ledger_update(&writer, 5 * CORE, CORE);
        ledger_unlock(&writer);
        CHECK(r == 0, "a writer claims a slot");

        struct tree_request req = {.ledger = &me};
        r = vacuum_tree(rootfd, s, &req, &tr);
        CHECK(r == 0 && tr.removed_dirs >= 100, "the empty directories are removed (%d, %u)", r, tr.removed_dirs);
        CHECK(ino_of("containers/fresh-rate") != 0, "not one with a recent rate limit state");
        CHECK(ino_of("containers/in-flight") != 0, "not one a core in flight goes to");
        CHECK(ino_of("containers/plain-file") != 0, "a file in containers/ is left alone");

        struct ledger_state ls;
        ledger_lock(&me);
        r = ledger_read(&me, &ls);
        ledger_unlock(&me);
        CHECK(r == 0 && ls.live == 1 && ls.reserved == 5 * CORE && ls.outstanding == 4 * CORE,
              "another description's slot counts: reserved and outstanding");
        ledger_close(&writer);
        ledger_lock(&me);
        r = ledger_read(&me, &ls);
        ledger_unlock(&me);
        CHECK(r == 0 && ls.live == 0 && ls.reserved == 0, "a closed description's slot no longer counts");

        r = vacuum_tree(rootfd, s, &req, &tr);
        CHECK(r == 0 && ino_of("containers/in-flight") == 0, "its directory, empty, is removed once it is gone");
        ledger_close(&me);
}

/* A core whose receiver is still at work (linked, its record not yet written) stays, whatever
 * the limits say; it may go once that receiver is gone. */
static void test_in_flight_core(struct receiver_settings *s) {
        struct tree_result tr;
        struct ledger writer = LEDGER_INIT, me = LEDGER_INIT;
        put_core("containers/w", 3);
        put_core("containers/w", 4);
        CHECK(ledger_open(rootfd, &writer) == 0 && ledger_open(rootfd, &me) == 0, "two ledger descriptions");
        writer.usec = 3;
        ledger_lock(&writer);
        int r = ledger_claim(&writer, ino_of("containers/w"), false);
        ledger_unlock(&writer);
        s->max_use = (struct size_limit){.value = 0};
        struct tree_request req = {.ledger = &me};
        r = r < 0 ? r : vacuum_tree(rootfd, s, &req, &tr);
        CHECK(r == 0 && has_core("containers/w", 3) && !has_core("containers/w", 4),
              "the oldest core, still being recorded by its receiver, stays; the other goes");
        ledger_close(&writer);
        r = vacuum_tree(rootfd, s, &req, &tr);
        CHECK(r == 0 && !has_core("containers/w", 3), "once its receiver is gone it may go");
        ledger_close(&me);
}

int main(void) {
        char base[] = "/var/tmp/core_pipe-unit-tree.XXXXXX", cmd[128];
        if (!mkdtemp(base))
                return 1;
        rootfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        (void) mkdirat(rootfd, "containers", 0700);
        struct receiver_settings s;
        settings_defaults(&s);
        s.keep_free = (struct size_limit){.value = 0};
        test_shares(&s);
        s.max_use = (struct size_limit){.percent = true, .value = 100};
        test_empty_dirs(&s);
        test_in_flight_core(&s);
        close(rootfd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        (void) system(cmd);
        return tap_done();
}
