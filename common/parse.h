/* SPDX-License-Identifier: MIT */
#pragma once

/* Strict number and text parsing for values that come from the kernel, files or the wire.
 * No leading spaces, no signs where none are allowed, no trailing garbage, no overflow. */

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

int parse_uint64(const char *s, uint64_t *ret);
int parse_uint32(const char *s, uint32_t *ret);
int parse_int64(const char *s, int64_t *ret);
/* "5", "5s", "250ms", "2min" → microseconds. */
int parse_timespan_usec(const char *s, uint64_t *ret);
/* A boolean in the usual spellings (yes/no, true/false, on/off, 1/0). */
int parse_boolean(const char *s);

/*
 * Copies s into out (size bytes) with everything that is not printable ASCII, plus '"' and '\\',
 * written as \xNN, so attacker text is safe in a log line. Truncates with "..." when it does
 * not fit. Returns out.
 */
char *escape_for_log(const char *s, size_t len, char *out, size_t size);

/* The cgroup path of a /proc/<pid>/cgroup text: systemd's named hierarchy where there is one
 * (hybrid and legacy hosts: systemd's units are there), else the unified hierarchy's. Returns its
 * length (0 = none), not NUL-terminated, and where it starts. */
size_t cgroup_path_from_text(const char *text, const char **ret_path);

/*
 * In a /proc text of "Key:<tab>value..." or "key value..." lines (status, stat, fdinfo), finds the
 * line that starts with key and parses the index-th blank-separated number after it (negative
 * numbers allowed). -ENOENT if there is no such line, -EBADMSG if the field is not a number.
 */
int proc_field_int64(const char *text, const char *key, unsigned index, int64_t *ret);
/* The hexadecimal value of the line that starts with key (a capability set of
 * /proc/<pid>/status: "CapPrm:\t000001ffffffffff"). -ENOENT if absent, -EBADMSG if malformed. */
int proc_field_hex64(const char *text, const char *key, uint64_t *ret);

/*
 * What a cgroup path says about the container a process runs in, independent of its image:
 * the runtime's container id (docker, containerd, CRI-O, podman/libpod: 64 hex digits), a
 * systemd-nspawn machine name, an LXC container name, containerd's "<namespace>/<id>" for
 * containers started without Kubernetes ("ctr run"), and a Kubernetes pod uid where the path
 * has one. Matches the systemd driver's names ("docker-<id>.scope", "libpod-<id>.scope", also
 * below a user's user@<uid>.service for rootless podman, "kubepods-burstable-pod<uid>.slice",
 * ...), the cgroupfs driver's ("/docker/<id>", "/kubepods/burstable/pod<uid>/<id>",
 * "/default/<id>"), and LXC's ("/lxc.payload.<name>", "/lxc/<name>" before LXC 4.0; never the
 * monitor's "lxc.monitor.<name>"). The OUTERMOST component that names a container wins: a
 * container with a delegated cgroup subtree can create any name below its own cgroup, never
 * above it; Kubernetes' tree counts only at the top of the hierarchy, where the kubelet makes
 * it, and no field is written before all of it is valid. Empty
 * fields when nothing is known (rootless podman on cgroup v1 creates no cgroup: its containers
 * stay in their starter's); returns true if anything was found.
 */
struct container_identity {
        char runtime[16]; /* "docker", "containerd", "cri-o", "podman", "nspawn", "lxc", "kubernetes" */
        char id[129];     /* container id; the machine name (nspawn), container name (lxc), or
                           * "<namespace>/<id>" (containerd without Kubernetes) */
        char pod_uid[37]; /* Kubernetes pod uid, with dashes */
};
bool container_identity_from_cgroup(const char *path, size_t len, struct container_identity *ret);

/*
 * The container a conmon process (podman's monitor, the parent of a container's init) runs, from
 * its NUL-separated command line: "-c ID", "--cid ID" or "--cid=ID" with a 64-hex id gives
 * podman:ID. For containers with no cgroup of their own (rootless podman on cgroup v1), whose
 * identity the cgroup path cannot tell. False for anything else.
 */
bool container_identity_from_conmon(const char *cmdline, size_t len, struct container_identity *ret);

/*
 * The systemd units a cgroup path names, as coredumpctl matches them (COREDUMP_UNIT,
 * COREDUMP_SLICE, COREDUMP_USER_UNIT, COREDUMP_OWNER_UID). Slices are skipped; the first
 * component that is a unit name (.service, .scope, ...) is the unit, the last slice before it
 * its slice ("-.slice" when there is none). Below user@UID.service the next unit is the user
 * manager's. Components that are not unit names (a runtime's "/docker/<id>", "payload") are
 * passed over. A container that runs systemd below its engine's scope makes a second tree
 * under a unit ("/machine.slice/libpod-<id>.scope/system.slice/foo.service"): the innermost
 * tree wins, because that is the one the container's own coredumpctl knows. Names are kept as
 * escaped ("web\x2d1.service"); systemd's "_" escape of a cgroup name is undone. Returns 0, or
 * -ENXIO when no unit is named.
 */
struct cgroup_unit {
        char unit[256];
        char slice[256];
        char user_unit[256]; /* "" unless below user@UID.service */
        char user_slice[256];
        bool have_owner;
        uint32_t owner_uid; /* the UID of user@UID.service */
};
int cgroup_unit_from_path(const char *path, size_t len, struct cgroup_unit *ret);
