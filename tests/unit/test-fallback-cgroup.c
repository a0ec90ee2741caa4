/* SPDX-License-Identifier: MIT */
/* Where the fallback receiver is charged: the parsers of mountinfo and /proc/<pid>/cgroup. */
#include <stdio.h>
#include <string.h>

#include "cgroup.h"
#include "config.h"
#include "tap.h"

static void test_mountinfo(void) {
        struct cgroup_hierarchy h;
        CHECK(cgroup_hierarchy_from_mountinfo(
                      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory", &h) &&
                      !h.v2 && strcmp(h.mountpoint, "/sys/fs/cgroup/memory") == 0 &&
                      strcmp(h.options, "rw,memory") == 0,
              "a v1 hierarchy: mount point and super options");
        CHECK(cgroup_hierarchy_from_mountinfo("41 31 0:38 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw",
                                              &h) &&
                      h.v2 && strcmp(h.mountpoint, "/sys/fs/cgroup/unified") == 0,
              "a v2 hierarchy, with optional fields");
        CHECK(cgroup_hierarchy_from_mountinfo("50 31 0:40 / /mnt/a\\040b rw - cgroup2 none rw", &h) &&
                      strcmp(h.mountpoint, "/mnt/a b") == 0,
              "an escaped mount point is unescaped");
        CHECK(!cgroup_hierarchy_from_mountinfo("51 31 0:32 /docker /x rw - cgroup cgroup rw,memory", &h),
              "a bind of a sub-cgroup is not a whole hierarchy");
        CHECK(!cgroup_hierarchy_from_mountinfo("52 31 0:20 / /run rw - tmpfs tmpfs rw", &h), "not a cgroup fs");
        CHECK(!cgroup_hierarchy_from_mountinfo("53 31 0:20 / /x rw", &h), "a line without its separator");
}

static void test_controllers(void) {
        CHECK(cgroup_options_cover("rw,cpu,cpuacct", "cpu,cpuacct") && cgroup_options_cover("rw,cpu,cpuacct", "cpu"),
              "a co-mounted hierarchy covers its controllers");
        CHECK(!cgroup_options_cover("rw,cpuacct", "cpu") && !cgroup_options_cover("rw,cpu", "cpu,cpuacct"),
              "cpu is not cpuacct, and a list must be covered whole");
        CHECK(!cgroup_options_cover("rw,memory", ""), "an empty list (v2's line) covers no v1 hierarchy");
        CHECK(cgroup_list_has_resource("rw,pids") && cgroup_list_has_resource("cpuset cpu io memory pids\n"),
              "resource controllers are found in v1 options and v2 lists");
        CHECK(!cgroup_list_has_resource("rw,name=systemd") && !cgroup_list_has_resource("rw,freezer") &&
                      !cgroup_list_has_resource("rw,devices") && !cgroup_list_has_resource(""),
              "devices, freezer and named hierarchies are left alone");
}

static void test_paths(void) {
        static const char text[] = "9:name=systemd:/x\n4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc/\n"
                                   "1:pids:/docker/abc\n0::/system.slice/docker-abc.scope\n";
        struct cgroup_hierarchy mem = {.mountpoint = "/m", .options = "rw,memory"};
        struct cgroup_hierarchy cpu = {.mountpoint = "/c", .options = "rw,cpu,cpuacct"};
        struct cgroup_hierarchy blk = {.mountpoint = "/b", .options = "rw,blkio"};
        struct cgroup_hierarchy v2 = {.mountpoint = "/u", .v2 = true};
        char p[64];
        CHECK(cgroup_path_for_hierarchy(text, &mem, p, sizeof(p)) && strcmp(p, "/docker/abc") == 0, "memory's line");
        CHECK(cgroup_path_for_hierarchy(text, &cpu, p, sizeof(p)) && strcmp(p, "/docker/abc/") == 0,
              "the co-mounted cpu,cpuacct line");
        CHECK(cgroup_path_for_hierarchy(text, &v2, p, sizeof(p)) && strcmp(p, "/system.slice/docker-abc.scope") == 0,
              "v2's 0:: line");
        CHECK(!cgroup_path_for_hierarchy(text, &blk, p, sizeof(p)), "no line for a hierarchy: none found");
        CHECK(!cgroup_path_for_hierarchy("4:memory:relative\n", &mem, p, sizeof(p)), "a relative path is refused");
        CHECK(!cgroup_path_for_hierarchy("4:memory:/a-long-path-longer-than-eight\n", &mem, p, 8),
              "a path longer than the buffer is refused, not cut");
}

static void count_problem(const char *path, unsigned line, const char *message) {
        (void) path, (void) line, (void) message;
}

static void test_config(void) {
        struct pipe_config c;
        pipe_config_defaults(&c);
        CHECK(c.log_rate_burst == 10 && c.log_rate_interval_usec == 60000000 && c.fallback_cgroup[0] == '\0',
              "defaults: 10 lines per 60 s, the crashed process's own cgroups");
        CHECK(pipe_config_parse("t", "[Pipe]\nFallbackCgroup=/core_pipe.slice\nLogRateLimitBurst=0\n", &c,
                                count_problem) == 0 &&
                      strcmp(c.fallback_cgroup, "/core_pipe.slice") == 0 && c.log_rate_burst == 0,
              "FallbackCgroup= and LogRateLimitBurst= parse");
}

static void test_config_refused(void) {
        static const char *bad[] = {"FallbackCgroup=relative", "FallbackCgroup=/a/../b", "FallbackCgroup=/a/.",
                                    "LogRateLimitBurst=-1", "LogRateLimitIntervalSec=2h"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct pipe_config c;
                char text[128];
                pipe_config_defaults(&c);
                snprintf(text, sizeof(text), "[Pipe]\n%s\n", bad[i]);
                CHECK(pipe_config_parse("t", text, &c, count_problem) == 1 && c.fallback_cgroup[0] == '\0' &&
                              c.log_rate_burst == 10 && c.log_rate_interval_usec == 60000000,
                      "%s is refused, the default stays", bad[i]);
        }
}

int main(void) {
        test_mountinfo();
        test_controllers();
        test_paths();
        test_config();
        test_config_refused();
        return tap_done();
}
