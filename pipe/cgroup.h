/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Who pays for the host fallback. The helper runs in the host's root cgroups (the kernel starts
 * it there), and so would the fallback receiver it forks: a container's crash would cost the
 * host CPU, memory and I/O outside every limit. The fallback receiver is moved instead, between
 * fork and exec, into the crashed process's own cgroup in every hierarchy with a resource
 * controller (cgroup v2, and on v1 or hybrid hosts the cpu, cpuacct, memory, blkio and pids
 * hierarchies), or into one configured cgroup (FallbackCgroup=) in each of them. Other v1
 * hierarchies are left alone: devices would deny the receiver its own files, and a frozen
 * container (freezer) would freeze it with the crash in its hands.
 *
 * The crashed process's cgroup paths come from the kernel, but they name directories that a
 * container with a delegated subtree creates: each is opened beneath its hierarchy's mount with
 * openat2() and RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV, never following
 * anything, and the hierarchy's mount must be a cgroup file system.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* More than any host mounts: one per v1 controller, and v2. */
#define FALLBACK_CGROUPS_MAX 16
#define CGROUP_MOUNTPOINT_MAX 256
#define CGROUP_OPTIONS_MAX 256

/* cgroup.procs of each cgroup to enter, open for writing; n of them. */
struct fallback_cgroups {
        int procs[FALLBACK_CGROUPS_MAX];
        size_t n;
};

/* The most of a /proc/<pid>/cgroup file read. */
#define CGROUP_TEXT_MAX 16384

/*
 * Reads /proc/<pid>/cgroup of a pinned process through its /proc directory procfd, checked
 * against pidfd after the read (the pid was not reused). Returns a malloc'd string in ret.
 */
int read_pinned_cgroups(int procfd, int pidfd, char **ret);

/*
 * Opens the cgroups the fallback receiver must enter: those in cgroups (the crashed process's
 * /proc/<pid>/cgroup, read while it was pinned and alive, so the process may be gone by now) when
 * configured is "", or the cgroup path configured in every resource hierarchy. On failure returns
 * a negative errno and says which hierarchy and path in why. A host with no resource hierarchy
 * mounted gives n = 0.
 */
int fallback_cgroups_open(const char *configured, const char *cgroups, struct fallback_cgroups *ret, char *why,
                          size_t why_size);

/* In the child between fork and exec (async-signal-safe): moves the calling process into each
 * cgroup. Returns 0 or the first negative errno. */
int fallback_cgroups_enter(const struct fallback_cgroups *c);

void fallback_cgroups_close(struct fallback_cgroups *c);

/* A cgroup hierarchy mounted whole (root "/") in our mount namespace. */
struct cgroup_hierarchy {
        char mountpoint[CGROUP_MOUNTPOINT_MAX];
        char options[CGROUP_OPTIONS_MAX]; /* v1: super options ("rw,cpu,cpuacct"); v2: "" */
        bool v2;
};

/* The parsers, for tests and fuzzing. A line of /proc/self/mountinfo that mounts a whole cgroup
 * hierarchy (v1 or v2) fills ret; any other line is false. */
bool cgroup_hierarchy_from_mountinfo(const char *line, struct cgroup_hierarchy *ret);
/* The path of hierarchy h (v2: the "0::" line; v1: the line whose controllers the mount's
 * options cover) in a /proc/<pid>/cgroup text, absolute; false when there is none. */
bool cgroup_path_for_hierarchy(const char *text, const struct cgroup_hierarchy *h, char *ret, size_t size);
/* Whether a v1 mount's super options (e.g. "rw,cpu,cpuacct")
 * name every controller of a /proc/<pid>/cgroup line's list (e.g. "cpu,cpuacct"). */
bool cgroup_options_cover(const char *options, const char *controllers);
/* Whether a list of controllers (v1 options or v2 cgroup.controllers, comma or space separated)
 * names one that accounts resources: cpu, cpuacct, memory, blkio, io, pids. */
bool cgroup_list_has_resource(const char *list);
