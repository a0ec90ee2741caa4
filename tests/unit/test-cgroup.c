/* SPDX-License-Identifier: MIT */
/* Container identity from cgroup paths, as the common runtimes and drivers name them. */
#include <string.h>

#include "parse.h"
#include "tap.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

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
        return tap_done();
}
