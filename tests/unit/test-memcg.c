/* SPDX-License-Identifier: MIT */
/* The receiver's memory cgroup and its headroom (receiver/memcg.c): the mounts and paths of a
 * host, of docker on cgroup v1 (the mount's root is the container's own cgroup), of a cgroup
 * namespace, the limit and stat files of v1 and v2, and a whole walk over a tree of files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memcg.h"
#include "memplan.h"
#include "tap.h"

#define MIB (UINT64_C(1) << 20)

static const char hybrid_mountinfo[] =
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:7 - cgroup cgroup rw,memory\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char hybrid_cgroup[] = "9:name=systemd:/\n4:memory:/app/worker\n1:cpu:/\n0::/\n";

static bool located(const char *mountinfo, const char *cgroup, const char *dir, enum memcg_version v) {
        char got[MEMCG_PATH_MAX];
        struct memcg_mount m;
        if (memcg_locate(mountinfo, cgroup, got, sizeof(got), &m) < 0)
                return false;
        if (strcmp(got, dir) != 0 || m.version != v) {
                printf("# got %s (v%d)\n", got, (int) m.version);
                return false;
        }
        return true;
}

static void test_mounts(void) {
        struct memcg_mount m;
        CHECK(memcg_mount_from_mountinfo_line("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory", &m) &&
                      m.version == MEMCG_V1 && strcmp(m.mountpoint, "/sys/fs/cgroup/memory") == 0 &&
                      strcmp(m.root, "/") == 0,
              "a v1 memory mount");
        CHECK(memcg_mount_from_mountinfo_line("41 31 0:38 / /sys/fs/cgroup rw master:1 - cgroup2 cgroup2 rw,nsdelegate",
                                              &m) &&
                      m.version == MEMCG_V2,
              "a cgroup2 mount, with optional fields");
        CHECK(!memcg_mount_from_mountinfo_line("36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices", &m),
              "another v1 hierarchy is not the memory one");
        CHECK(!memcg_mount_from_mountinfo_line("36 31 0:33 / /mnt rw - cgroup cgroup rw,memoryx", &m),
              "\"memoryx\" is not \"memory\"");
        CHECK(!memcg_mount_from_mountinfo_line("36 31 0:33 / /mnt rw - tmpfs memory rw,memory", &m),
              "a tmpfs named memory is no cgroup");
        CHECK(memcg_mount_from_mountinfo_line("36 31 0:33 /a\\040b /mnt/x\\134y rw - cgroup cgroup rw,memory", &m) &&
                      strcmp(m.root, "/a b") == 0 && strcmp(m.mountpoint, "/mnt/x\\y") == 0,
              "octal escapes are undone");
        CHECK(!memcg_mount_from_mountinfo_line("36 31 0:33 / /mnt rw", &m), "a line cut short is refused");
        CHECK(!memcg_mount_from_mountinfo_line("36 31 0:33 / /mnt rw - cgroup", &m), "no super options: refused");
        CHECK(!memcg_mount_from_mountinfo_line("36 31 0:33 /\\000 /mnt rw - cgroup cgroup memory", &m),
              "an escaped NUL is refused");
}

static void test_locate(void) {
        char dir[MEMCG_PATH_MAX];
        struct memcg_mount m;
        CHECK(located(hybrid_mountinfo, hybrid_cgroup, "/sys/fs/cgroup/memory/app/worker", MEMCG_V1),
              "hybrid host: the v1 memory hierarchy, not the unified one");
        CHECK(located("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/system.slice/x.service\n",
                      "/sys/fs/cgroup/system.slice/x.service", MEMCG_V2),
              "cgroup v2 host");
        CHECK(located("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "1:name=systemd:/\n0::/\n",
                      "/sys/fs/cgroup", MEMCG_V2),
              "a cgroup namespace: our cgroup is its root, the mount point");
        CHECK(located("900 800 0:32 /docker/0123abcd /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n",
                      "12:memory:/docker/0123abcd\n0::/\n", "/sys/fs/cgroup/memory", MEMCG_V1),
              "docker on v1: the mount's root is the container's own cgroup");
        CHECK(located("900 800 0:32 /docker/0123abcd /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
                      "12:memory:/docker/0123abcd/sub\n", "/sys/fs/cgroup/memory/sub", MEMCG_V1),
              "docker on v1, a cgroup below the container's");
        CHECK(memcg_locate("900 800 0:32 /docker/0123abcd /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
                           "12:memory:/docker/0123abcdef\n", dir, sizeof(dir), &m) == -ENOENT,
              "a root that is only a prefix of the name does not hold the path");
        CHECK(located("1 0 0:32 /other /m1 rw - cgroup cgroup rw,memory\n2 0 0:32 / /m2 rw - cgroup cgroup rw,memory\n",
                      "4:memory:/x\n", "/m2/x", MEMCG_V1),
              "of two mounts, the one whose root holds our path");
        CHECK(located("1 0 0:32 / /m rw - cgroup cgroup rw,cpu,memory\n", "4:cpu,memory:/x\n", "/m/x", MEMCG_V1),
              "memory co-mounted with another controller");
        CHECK(located("1 0 0:32 / / rw - cgroup2 cgroup2 rw\n", "0::/a/b\n", "/a/b", MEMCG_V2),
              "a mount point of / joins without a double slash");
        CHECK(memcg_locate("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "4:memory:/x\n", dir, sizeof(dir),
                           &m) == -ENOENT,
              "no line for the mounted hierarchy: not found");
        CHECK(memcg_locate("", hybrid_cgroup, dir, sizeof(dir), &m) == -ENOENT, "nothing mounted: not found");
        CHECK(memcg_locate(hybrid_mountinfo, hybrid_cgroup, dir, 20, &m) == -ENAMETOOLONG,
              "a path too long is an error");
        CHECK(memcg_locate(hybrid_mountinfo, "4:memory:relative\n0::/\n", dir, sizeof(dir), &m) == 0 &&
                      m.version == MEMCG_V2,
              "a v1 path that is not absolute is not taken");
}

static void test_values(void) {
        uint64_t v = 0, tree = 0;
        CHECK(memcg_parse_limit("max\n", &v) == 0 && v == MEMCG_UNLIMITED, "v2 \"max\"");
        CHECK(memcg_parse_limit("9223372036854771712\n", &v) == 0 && v == MEMCG_UNLIMITED, "v1's unlimited");
        CHECK(memcg_parse_limit("134217728\n", &v) == 0 && v == 128 * MIB, "a number of bytes");
        CHECK(memcg_parse_limit("", &v) == -EBADMSG && memcg_parse_limit("12 ", &v) == -EBADMSG &&
                      memcg_parse_limit("-1\n", &v) == -EBADMSG && memcg_parse_limit("1\n2\n", &v) == -EBADMSG,
              "malformed limits are refused");
        CHECK(memcg_parse_stat("cache 1\ntotal_active_file 8388608\ntotal_inactive_file 8388608\ntotal_dirty "
                               "1048576\ntotal_writeback 1048576\ntotal_mapped_file 2097152\n"
                               "hierarchical_memory_limit 67108864\nactive_file 99\n",
                               MEMCG_V1, &v, &tree) == 0 &&
                      v == 12 * MIB && tree == 64 * MIB,
              "v1: total file pages less dirty, writeback and mapped; the hierarchical limit");
        CHECK(memcg_parse_stat("anon 5\nfile_mapped 1048576\nactive_file 2097152\ninactive_file 2097152\n"
                               "file_dirty 0\nfile_writeback 0\n",
                               MEMCG_V2, &v, &tree) == 0 &&
                      v == 3 * MIB && tree == MEMCG_UNLIMITED,
              "v2: file pages less mapped ones");
        CHECK(memcg_parse_stat("total_active_file 1\ntotal_mapped_file 99\nhierarchical_memory_limit "
                               "9223372036854771712\n",
                               MEMCG_V1, &v, &tree) == 0 &&
                      v == 0 && tree == MEMCG_UNLIMITED,
              "more pinned than cached counts nothing; v1's unlimited hierarchy");
        CHECK(memcg_parse_stat("total_active_file x\n", MEMCG_V1, &v, &tree) == -EBADMSG &&
                      memcg_parse_stat("active_file \n", MEMCG_V2, &v, &tree) == -EBADMSG,
              "a malformed counter is refused");
        CHECK(memcg_parse_stat("total_active_file 18446744073709551615\ntotal_inactive_file 18446744073709551615\n",
                               MEMCG_V1, &v, &tree) == 0 &&
                      v == UINT64_MAX,
              "counters that would overflow saturate");

        struct memcg_counters c = {
                .limit = 64 * MIB, .usage = 60 * MIB, .reclaimable = 2 * MIB, .tree_limit = MEMCG_UNLIMITED};
        CHECK(memcg_counters_headroom(&c) == 6 * MIB, "limit - usage + reclaimable");
        c.usage = 70 * MIB;
        CHECK(memcg_counters_headroom(&c) == 2 * MIB, "over the limit: only what reclaim gives back");
        c.tree_limit = 32 * MIB;
        CHECK(memcg_counters_headroom(&c) == 2 * MIB, "a smaller ancestor's limit counts");
        c = (struct memcg_counters){.limit = MEMCG_UNLIMITED, .usage = 1, .tree_limit = MEMCG_UNLIMITED};
        CHECK(memcg_counters_headroom(&c) == MEMCG_UNLIMITED, "no limit: unlimited");
        c = (struct memcg_counters){
                .limit = 4 * MIB, .usage = 1 * MIB, .reclaimable = 8 * MIB, .tree_limit = MEMCG_UNLIMITED};
        CHECK(memcg_counters_headroom(&c) == 4 * MIB, "reclaimable counts no more than the usage");
}

static void put(const char *dir, const char *name, const char *text) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        if (!f)
                abort();
        fputs(text, f);
        fclose(f);
}

/* A fake v1 tree: the mount (no limit), a container at 64 MiB (60 used), below it our cgroup at
 * 1 GiB (50 used), with 1 MiB of clean cache; then v2. */
static void test_walk(void) {
        char top[] = "/tmp/test-memcg.XXXXXX", a[256], b[256], mi[1024], stat[256];
        uint64_t h = 0;
        if (!mkdtemp(top))
                abort();
        snprintf(a, sizeof(a), "%s/ct", top);
        snprintf(b, sizeof(b), "%s/ct/recv", top);
        mkdir(a, 0700);
        mkdir(b, 0700);
        snprintf(stat, sizeof(stat), "total_inactive_file %llu\n", (unsigned long long) MIB);
        put(top, "memory.limit_in_bytes", "9223372036854771712\n");
        put(top, "memory.usage_in_bytes", "999999999\n");
        put(top, "memory.stat", "");
        put(a, "memory.limit_in_bytes", "67108864\n");
        put(a, "memory.usage_in_bytes", "62914560\n");
        put(a, "memory.stat", stat);
        put(b, "memory.limit_in_bytes", "1073741824\n");
        put(b, "memory.usage_in_bytes", "52428800\n");
        put(b, "memory.stat", stat);
        snprintf(mi, sizeof(mi), "7 1 0:32 / %s rw - cgroup cgroup rw,memory\n", top);
        CHECK(memcg_headroom_from(mi, "3:memory:/ct/recv\n", &h) == 0 && h == 5 * MIB,
              "v1 walk: the container's 64 MiB limit over our cgroup's 1 GiB (%llu)", (unsigned long long) h);
        put(b, "memory.memsw.limit_in_bytes", "54525952\n");
        put(b, "memory.memsw.usage_in_bytes", "52428800\n");
        CHECK(memcg_headroom_from(mi, "3:memory:/ct/recv\n", &h) == 0 && h == 3 * MIB,
              "v1 walk: memory+swap has its own limit (%llu)", (unsigned long long) h);
        snprintf(mi, sizeof(mi), "7 1 0:32 /ct %s rw - cgroup cgroup rw,memory\n", a);
        CHECK(memcg_headroom_from(mi, "3:memory:/ct\n", &h) == 0 && h == 5 * MIB,
              "docker on v1: the container's cgroup is the mount point (%llu)", (unsigned long long) h);

        put(b, "memory.max", "max\n");
        put(b, "memory.current", "52428800\n");
        put(a, "memory.max", "67108864\n");
        put(a, "memory.current", "66060288\n");
        snprintf(stat, sizeof(stat), "inactive_file %llu\nfile_mapped 0\n", (unsigned long long) (2 * MIB));
        put(a, "memory.stat", stat);
        put(b, "memory.stat", stat);
        snprintf(mi, sizeof(mi), "7 1 0:32 / %s rw - cgroup2 cgroup2 rw\n", top);
        CHECK(memcg_headroom_from(mi, "0::/ct/recv\n", &h) == 0 && h == 3 * MIB,
              "v2 walk: the parent's memory.max, the root without files (%llu)", (unsigned long long) h);
        CHECK(memcg_headroom_from("", "0::/ct/recv\n", &h) == 0 && h == MEMCG_UNLIMITED,
              "no memory hierarchy mounted: unlimited");
        put(a, "memory.current", "lots\n");
        CHECK(memcg_headroom_from(mi, "0::/ct/recv\n", &h) == -EBADMSG, "an unreadable counter is an error");
        snprintf(mi, sizeof(mi), "7 1 0:32 / %s/gone rw - cgroup2 cgroup2 rw\n", top);
        CHECK(memcg_headroom_from(mi, "0::/x\n", &h) == -ENOENT, "a cgroup that is not there is an error");

        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
        if (system(cmd) != 0)
                abort();
}

/* The store's plans (receiver/memplan.c): each step needs less, the choice is the largest that
 * fits, and below the smallest there is none. */
static void test_plans(void) {
        struct mem_plan p, q;
        bool smaller = true;
        for (unsigned s = 1; s < MEM_PLAN_STEPS; s++) {
                p = mem_plan_step(s - 1, 4, 2 * MIB, 1);
                q = mem_plan_step(s, 4, 2 * MIB, 1);
                smaller = smaller && q.need < p.need && q.workers <= p.workers && q.chunk_size <= p.chunk_size;
        }
        CHECK(smaller, "each step needs less, with no more workers and no larger chunks");
        p = mem_plan_step(0, 4, 2 * MIB, 1);
        CHECK(p.workers == 4 && p.chunk_size == 2 * MIB && p.need > 4 * 4 * MIB, "step 0 is as configured (%llu)",
              (unsigned long long) p.need);
        CHECK(mem_plan_choose(MEMCG_UNLIMITED, 4, 2 * MIB, 1, &q) == 0 && q.step == 0, "no limit: as configured");
        CHECK(mem_plan_choose(8 * MIB, 4, 2 * MIB, 1, &q) == 0 && q.step > 0 && q.need <= 8 * MIB && q.workers == 1,
              "8 MiB of headroom: one worker, within it (%llu, %zu KiB frames)", (unsigned long long) q.need,
              q.chunk_size >> 10);
        CHECK(q.window_log >= 10 && ((size_t) 1 << q.window_log) >= q.chunk_size &&
                      ((size_t) 1 << (q.window_log - 1)) < q.chunk_size,
              "the zstd window is the frame's size");
        p = mem_plan_step(MEM_PLAN_STEPS - 1, 4, 2 * MIB, 1);
        CHECK(mem_plan_choose(p.need, 4, 2 * MIB, 1, &q) == 0 && q.step == MEM_PLAN_STEPS - 1,
              "exactly the smallest need fits");
        CHECK(mem_plan_choose(p.need - 1, 4, 2 * MIB, 1, &q) == -ENOBUFS && q.need == p.need && q.need < 4 * MIB,
              "below it: none, and the need is the smallest plan's (%llu)", (unsigned long long) q.need);
        CHECK(mem_plan_choose(MEMCG_UNLIMITED, 1, 32 * 1024, 1, &q) == 0 &&
                      mem_plan_step(3, 1, 32 * 1024, 1).chunk_size == 32 * 1024,
              "a smaller configured chunk is never made larger");
        CHECK(mem_plan_step(0, 2, 2 * MIB, 19).need > mem_plan_step(0, 2, 2 * MIB, 1).need,
              "a higher zstd level needs more");
}

int main(void) {
        test_mounts();
        test_plans();
        test_locate();
        test_values();
        test_walk();
        uint64_t h;
        int r = memcg_headroom(&h);
        CHECK(r == 0, "this process's own headroom can be read (%d: %llu)", r, (unsigned long long) h);
        return tap_done();
}
