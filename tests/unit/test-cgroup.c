/* SPDX-License-Identifier: MIT */
/* Container identity from cgroup paths, as the common runtimes and drivers name them. */
#include <errno.h>
#include <stdint.h>
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

/* unit/slice/user unit/user slice/owner ("" and -1 for none); unit NULL: no unit at all. */
static int units(const char *path, const char *unit, const char *slice, const char *user_unit, const char *user_slice,
                 long owner) {
        struct cgroup_unit u;
        memset(&u, 0x55, sizeof(u));
        int r = cgroup_unit_from_path(path, strlen(path), &u);
        if (!unit)
                return r == -ENXIO;
        if (r < 0 || strcmp(u.unit, unit) != 0 || strcmp(u.slice, slice) != 0 || strcmp(u.user_unit, user_unit) != 0 ||
            strcmp(u.user_slice, user_slice) != 0 || u.have_owner != (owner >= 0) ||
            (owner >= 0 && u.owner_uid != (uint32_t) owner)) {
                printf("# %s: r=%d unit=%s slice=%s user_unit=%s user_slice=%s owner=%d/%u\n", path, r, u.unit, u.slice,
                       u.user_unit, u.user_slice, u.have_owner, u.owner_uid);
                return 0;
        }
        return 1;
}

/* The path cgroup_path_from_text() picks from a whole /proc/<pid>/cgroup text. */
static int picks(const char *text, const char *want) {
        const char *path = NULL;
        size_t n = cgroup_path_from_text(text, &path);
        return want ? n == strlen(want) && strncmp(path, want, n) == 0 : n == 0;
}

static void test_path_from_text(void) {
        CHECK(picks("0::/system.slice/foo.service\n", "/system.slice/foo.service"), "unified host: the 0:: line");
        CHECK(picks("12:memory:/x\n1:name=systemd:/system.slice/a.service\n0::/\n", "/system.slice/a.service"),
              "hybrid host, unified line \"/\": systemd's named hierarchy");
        /* podman on a hybrid host, systemd inside: the unified line stops at the container. */
        CHECK(picks("1:name=systemd:/libpod_parent/libpod-" H64
                    "/system.slice/cpt.service\n0::/libpod_parent/libpod-" H64 "\n",
                    "/libpod_parent/libpod-" H64 "/system.slice/cpt.service"),
              "hybrid host, both lines set: systemd's named hierarchy, which has the unit");
        CHECK(picks("5:cpu:/a\n", NULL), "neither line: none");
}

static int conmon(const char *args, size_t len, const char *id) {
        struct container_identity c;
        memset(&c, 0, sizeof(c));
        bool found = container_identity_from_conmon(args, len, &c);
        return id ? found && strcmp(c.runtime, "podman") == 0 && strcmp(c.id, id) == 0 : !found && !c.runtime[0];
}
#define CONMON(lit, id) conmon(lit, sizeof(lit) - 1, id)

static void test_conmon(void) {
        CHECK(CONMON("/usr/bin/conmon\0--api-version\0"
                     "1\0-c\0" H64 "\0-u\0" H64 "\0-n\0web\0",
                     H64),
              "conmon -c ID (podman 4.3, rootful and rootless)");
        CHECK(CONMON("conmon\0--cid\0" H64, H64), "conmon --cid ID, the last argument without its NUL");
        CHECK(CONMON("/x/conmon\0--cid=" H64 "\0", H64), "conmon --cid=ID");
        CHECK(CONMON("/usr/bin/conmonx\0-c\0" H64 "\0", NULL), "another program named like it: none");
        CHECK(CONMON("/usr/bin/sh\0-c\0" H64 "\0", NULL), "sh -c ID: none");
        CHECK(CONMON("conmon\0-c\0"
                     "abc\0",
                     NULL),
              "an id that is not 64 hex digits: none");
        CHECK(CONMON("conmon\0-c", NULL), "-c as the last argument: none");
        CHECK(CONMON("conmon\0-u\0" H64 "\0", NULL), "no -c: none");
        CHECK(conmon("", 0, NULL), "an empty command line: none");
}

static void test_units(void) {
        CHECK(units("/system.slice/foo.service", "foo.service", "system.slice", "", "", -1), "a system service");
        CHECK(units("/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope", "user@1000.service",
                    "user-1000.slice", "x.scope", "app.slice", 1000),
              "a user unit: the user manager, its slice, the user's unit and slice, the owner");
        CHECK(units("/", NULL, NULL, NULL, NULL, -1), "the root names no unit");
        CHECK(units("", NULL, NULL, NULL, NULL, -1), "an empty path names no unit");
        CHECK(units("/init.scope", "init.scope", "-.slice", "", "", -1), "init.scope, in the root slice");
        CHECK(units("/system.slice", NULL, NULL, NULL, NULL, -1), "a slice alone names no unit");
        CHECK(units("/system.slice/foo.service/worker", "foo.service", "system.slice", "", "", -1),
              "a delegated service's own sub-cgroup");
        CHECK(units("/machine.slice/machine-web\\x2d1.scope/payload", "machine-web\\x2d1.scope", "machine.slice", "",
                    "", -1),
              "escaped names stay escaped");
        CHECK(units("/system.slice/system-getty.slice/getty@tty1.service", "getty@tty1.service", "system-getty.slice",
                    "", "", -1),
              "an instance in a nested slice");
        CHECK(units("/docker/" H64 "/system.slice/foo.service", "foo.service", "system.slice", "", "", -1),
              "systemd in a docker container (cgroupfs driver): the container's unit");
        CHECK(units("/machine.slice/libpod-" H64 ".scope/system.slice/foo.service", "foo.service", "system.slice", "",
                    "", -1),
              "systemd in a podman container: the innermost unit, not the engine's scope");
        CHECK(units("/machine.slice/libpod-" H64 ".scope/init.scope", "init.scope", "-.slice", "", "", -1),
              "the container's own init.scope");
        CHECK(units("/machine.slice/libpod-" H64 ".scope/container", "libpod-" H64 ".scope", "machine.slice", "", "",
                    -1),
              "a container without systemd: the engine's scope");
        CHECK(units("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" H64
                    ".scope/system.slice/a.service",
                    "a.service", "system.slice", "", "", -1),
              "systemd in rootless podman: the container's unit, not the host user's");
        CHECK(units("/system.slice/_foo.service", "foo.service", "system.slice", "", "", -1),
              "systemd's _ escape undone");
        CHECK(units("/system.slice/foo.bar", NULL, NULL, NULL, NULL, -1), "unknown unit type");
        CHECK(units("/system.slice/foo bar.service", NULL, NULL, NULL, NULL, -1), "a space is not in unit names");
        CHECK(units("/../.service/@x.scope/x.", NULL, NULL, NULL, NULL, -1), "garbage names no unit");
        struct cgroup_unit u;
        CHECK(cgroup_unit_from_path("/a\0b.service", 12, &u) == -ENXIO,
              "a NUL is not in unit names (found by fuzz-proc)");
        CHECK(units("/user.slice/user-1000.slice/user@1000.service", "user@1000.service", "user-1000.slice", "", "",
                    1000),
              "the user manager itself");
        CHECK(units("/system.slice/user@99999999999.service/x.scope", "x.scope", "-.slice", "", "", -1),
              "a uid out of range: not a user manager, so a unit below it is a nested tree's");
}

#define H64B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define PODA "1a2b3c4d-0000-1111-2222-333344445555"
#define PODB "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"

/* Issue 11, class 7: a container that can create cgroups below its own (a delegated subtree,
 * or root writing to its cgroupfs) names them like another container's. */
static void test_forged(void) {
        CHECK(is("/system.slice/docker-" H64 ".scope/docker-" H64B ".scope", "docker", H64, ""),
              "forged: a child named like another docker scope: its own id");
        CHECK(is("/system.slice/docker-" H64 ".scope/lxc.payload.other", "docker", H64, ""),
              "forged: a child named like an LXC container: its own id");
        CHECK(is("/machine.slice/libpod-" H64 ".scope/container/system.slice/docker-" H64B ".scope", "podman", H64, ""),
              "forged: docker scope below a podman container: podman's id");
        CHECK(is("/docker/" H64 "/docker/" H64B, "docker", H64, ""), "forged: /docker/<id> below /docker/<id>");
        CHECK(is("/machine.slice/machine-web.scope/payload/machine-other.scope", "nspawn", "web", ""),
              "forged: a machine scope below a machine");
        CHECK(is("/kubepods/burstable/pod" PODA "/" H64 "/pod" PODB "/" H64B, "kubernetes", H64, PODA),
              "forged: a pod and a container below a pod's container: the outer ones");
        CHECK(is("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" PODA ".slice/cri-containerd-" H64
                 ".scope/kubepods-burstable-pod" PODB ".slice",
                 "containerd", H64, PODA),
              "forged: a pod slice below the container's scope: its own pod");
        CHECK(is("/system.slice/app.service/kubepods/burstable/pod" PODA "/" H64, NULL, NULL, NULL),
              "forged: a kubepods tree below the top: nothing");
        /* Before, each character of a pod uid was written as it was checked: one valid to the
         * 35th character was spliced over the one before. */
        CHECK(is("/kubepods/burstable/pod" PODA "/podbbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbZ", "kubernetes", "", PODA),
              "spliced: a half-valid pod uid below a pod: the pod's uid, whole");
        CHECK(is("/kubepods/besteffort/podbbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbZ", NULL, NULL, NULL),
              "a half-valid pod uid alone: nothing");
        struct container_identity c;
        memset(&c, 0, sizeof(c));
        memcpy(c.pod_uid, PODA, sizeof(PODA));
        const char *half = "/kubepods/besteffort/podbbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbZ";
        (void) container_identity_from_cgroup(half, strlen(half), &c);
        CHECK(c.pod_uid[0] == '\0', "a half-valid pod uid leaves no field written");
}

int main(void) {
        test_units();
        test_path_from_text();
        test_conmon();
        CHECK(is("/system.slice/docker-" H64 ".scope", "docker", H64, ""), "docker, systemd driver");
        CHECK(is("/docker/" H64, "docker", H64, ""), "docker, cgroupfs driver");
        CHECK(is("/system.slice/docker-" H64 ".scope/init.scope", "docker", H64, ""), "docker with a nested systemd");
        CHECK(is("/kubepods.slice/kubepods-burstable.slice/"
                 "kubepods-burstable-pod1a2b3c4d_0000_1111_2222_333344445555.slice/cri-containerd-" H64 ".scope",
                 "containerd", H64, "1a2b3c4d-0000-1111-2222-333344445555"),
              "Kubernetes with containerd, systemd driver: id and pod uid");
        CHECK(is("/kubepods.slice/kubepods-besteffort.slice/"
                 "kubepods-besteffort-pod1a2b3c4d_0000_1111_2222_333344445555.slice/crio-" H64 ".scope",
                 "cri-o", H64, "1a2b3c4d-0000-1111-2222-333344445555"),
              "Kubernetes with CRI-O");
        CHECK(is("/kubepods/burstable/pod1a2b3c4d-0000-1111-2222-333344445555/" H64, "kubernetes", H64,
                 "1a2b3c4d-0000-1111-2222-333344445555"),
              "Kubernetes, cgroupfs driver");
        CHECK(is("/machine.slice/libpod-" H64 ".scope/container", "podman", H64, ""), "podman (rootful)");
        CHECK(is("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" H64 ".scope", "podman", H64, ""),
              "podman (rootless)");
        CHECK(is("/machine.slice/machine-web\\x2d1.scope/payload", "nspawn", "web-1", ""),
              "systemd-nspawn machine, unescaped");
        CHECK(is("/", NULL, NULL, NULL), "the root: nothing");
        CHECK(is("/user.slice/user-1000.slice/session-3.scope", NULL, NULL, NULL), "a login session: nothing");
        CHECK(is("/system.slice/docker-" H64 "0.scope", NULL, NULL, NULL), "65 hex digits: not an id");
        CHECK(is("/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.scope", NULL,
                 NULL, NULL),
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
        CHECK(is("/lxc.payload.c1/docker/" H64, "lxc", "c1", ""),
              "docker inside LXC: the outermost wins (the host's view of the container)");
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
        test_forged();
        return tap_done();
}
