/* SPDX-License-Identifier: MIT */
/* Container identity from cgroup paths, as the common runtimes and drivers name them. */
#include <string.h>

#include "parse.h"
#include "tap.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define N128 H64 "abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"

static int is(const char *path, const char *runtime, const char *id, const char *pod) {
        struct container_identity c;
        bool found = container_identity_from_cgroup(path, strlen(path), &c);
        if (!runtime)
                return !found && c.runtime[0] == '\0';
        return found && strcmp(c.runtime, runtime) == 0 && strcmp(c.id, id) == 0 && strcmp(c.pod_uid, pod) == 0;
}

int main(void) {
        CHECK(is("/system.slice/docker-" H64 ".scope", "docker", H64, ""), "docker, systemd driver");
        CHECK(is("/docker/" H64, "docker", H64, ""), "docker, cgroupfs driver");
        CHECK(is("/system.slice/docker-" H64 ".scope/init.scope", "docker", H64, ""), "docker with a nested systemd");
        CHECK(is("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_0000_1111_2222_333344445555.slice/cri-containerd-" H64 ".scope",
                 "containerd", H64, "1a2b3c4d-0000-1111-2222-333344445555"),
              "Kubernetes with containerd, systemd driver: id and pod uid");
        CHECK(is("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b3c4d_0000_1111_2222_333344445555.slice/crio-" H64 ".scope",
                 "cri-o", H64, "1a2b3c4d-0000-1111-2222-333344445555"),
              "Kubernetes with CRI-O");
        CHECK(is("/kubepods/burstable/pod1a2b3c4d-0000-1111-2222-333344445555/" H64, "kubernetes", H64,
                 "1a2b3c4d-0000-1111-2222-333344445555"),
              "Kubernetes, cgroupfs driver");
        CHECK(is("/machine.slice/libpod-" H64 ".scope/container", "podman", H64, ""), "podman (rootful)");
        CHECK(is("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" H64 ".scope", "podman", H64, ""),
              "podman (rootless)");
        CHECK(is("/machine.slice/machine-web\\x2d1.scope/payload", "nspawn", "web-1", ""), "systemd-nspawn machine, unescaped");
        CHECK(is("/", NULL, NULL, NULL), "the root: nothing");
        CHECK(is("/user.slice/user-1000.slice/session-3.scope", NULL, NULL, NULL), "a login session: nothing");
        CHECK(is("/system.slice/docker-" H64 "0.scope", NULL, NULL, NULL), "65 hex digits: not an id");
        CHECK(is("/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.scope", NULL, NULL, NULL),
              "upper case: not an id");
        CHECK(is("/docker-compose/" H64, NULL, NULL, NULL), "a lookalike parent: nothing");

        /* LXC 5.0 on this project's test machine (hybrid cgroups): the container's init, and a
         * process lxc-attach started (a ".lxc" child on the unified hierarchy only). */
        CHECK(is("/lxc.payload.cpt-lxc-26335", "lxc", "cpt-lxc-26335", ""), "LXC, privileged: lxc.payload.<name>");
        CHECK(is("/lxc.payload.cpt-lxcu-26335/.lxc", "lxc", "cpt-lxcu-26335", ""), "LXC, lxc-attach: the .lxc child");
        CHECK(is("/lxc.monitor.cpt-lxc-26335", NULL, NULL, NULL), "LXC's monitor is a host process: nothing");
        CHECK(is("/lxc.monitor.u1-1", NULL, NULL, NULL), "LXC's monitor, renamed: nothing");
        CHECK(is("/lxc.pivot", NULL, NULL, NULL), "LXC's pivot cgroup: nothing");
        CHECK(is("/lxc.payload.u1-1", "lxc", "u1-1", ""), "LXC's retry suffix stays in the name");
        CHECK(is("/lxc.payload.", NULL, NULL, NULL), "lxc.payload. without a name: nothing");
        CHECK(is("/lxc/web", "lxc", "web", ""), "LXC before 4.0: lxc/<name>");
        CHECK(is("/lxc/web/init.scope", "lxc", "web", ""), "LXC before 4.0, systemd inside");
        CHECK(is("/lxc", NULL, NULL, NULL), "a cgroup named lxc: nothing");
        CHECK(is("/user.slice/user-1000.slice/user@1000.service/app.slice/lxc.payload.u1", "lxc", "u1", ""),
              "LXC started by an unprivileged user");
        CHECK(is("/lxc.payload.c1/docker/" H64, "docker", H64, ""), "docker inside LXC: the innermost wins");
        CHECK(is("/lxc.payload." N128, "lxc", N128, ""), "LXC name of 128 characters");
        CHECK(is("/lxc.payload." N128 "x", NULL, NULL, NULL), "LXC name too long to keep whole: nothing");
        CHECK(is("/lxc.payload.a\\x2db", "lxc", "a\\x2db", ""), "a backslash stays as the path has it");
        CHECK(is("/lxc.payload.a\001b", NULL, NULL, NULL), "a control character: nothing");
        CHECK(is("/lxc.payload.a b", NULL, NULL, NULL), "a space: nothing");

        /* containerd 1.6 "ctr run" (cgroupfs driver): /<namespace>/<id>, seen for the default
         * namespace and for "ctr -n other". Only "default" counts: any two-level cgroup looks
         * like the rest (this machine's own memory cgroup is /process_api/<hex>). */
        CHECK(is("/default/ctrtest1", "containerd", "default/ctrtest1", ""), "containerd, ctr run: default/<id>");
        CHECK(is("/default/my.box-2/init.scope", "containerd", "default/my.box-2", ""),
              "containerd, ctr, nested cgroup");
        CHECK(is("/other/my.box-2", NULL, NULL, NULL), "containerd, another namespace: nothing");
        CHECK(is("/process_api/60c941e444de5b3b47ed2fa6655fefc3", NULL, NULL, NULL),
              "an ordinary two-level cgroup: nothing");
        CHECK(is("/system.slice/default/x", NULL, NULL, NULL), "default below the top: nothing");
        CHECK(is("/default", NULL, NULL, NULL), "default alone: nothing");
        CHECK(is("/default/", NULL, NULL, NULL), "default with an empty id: nothing");
        CHECK(is("/default/a..b", NULL, NULL, NULL), "an id containerd would refuse: nothing");
        CHECK(is("/default/-a", NULL, NULL, NULL), "an id starting with a separator: nothing");
        CHECK(is("/default/" H64 "0123456789abc", NULL, NULL, NULL), "an id of 77 characters: nothing");

        /* Rootless podman: on cgroup v2 with systemd, a scope below the user's manager; with the
         * cgroupfs manager, libpod_parent. On cgroup v1 (this machine) it creates no cgroup and
         * the container stays in its starter's: "/" here. */
        CHECK(is("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" H64 ".scope/container", "podman",
                 H64, ""),
              "podman (rootless), its container child");
        CHECK(is("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod_parent/libpod-" H64, "podman", H64,
                 ""),
              "podman (rootless, cgroupfs manager)");
        CHECK(is("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" H64 ".scope", NULL, NULL,
                 NULL),
              "podman's conmon: nothing");
        return tap_done();
}
