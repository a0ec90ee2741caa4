/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "args.h"
#include "ns.h"
#include "parse.h"

/*
 * The crashed process, pinned. Everything the helper learns about it goes through procfd, a
 * /proc/<pid> directory that was checked against the pidfd: if the pid is reused, lookups
 * below procfd fail instead of reaching the new process. procfd is closed before pin_process()
 * returns: a receiver may take descriptors from the helper while they talk (SO_PEERPIDFD and
 * pidfd_getfd(), given CAP_SYS_PTRACE), and a directory of the host's /proc must not be one.
 */
struct crashed_process {
        pid_t pid;
        int pidfd;
        bool pidfd_from_kernel; /* %F: the kernel's own pidfd, no reuse window at all */
        int procfd;             /* only inside pin_process() */
        int rootfd;             /* the process's root directory (O_PATH); close once resolved */
        int iofd;               /* its /proc/<pid>/io: the dump's progress (wchar) */
        bool root_is_ours;      /* same root as the helper: a host process */
        uint64_t mntns;         /* inode of its mount namespace */
        bool mntns_is_ours;
        bool have_root_uid;
        uid_t root_uid;      /* host uid of uid 0 in the process's user namespace */
        char root_path[256]; /* readlink of /proc/<pid>/root, for the log only */
        char cgroup[256];    /* its cgroup (unified or name=systemd), for the log only */
        /* Its whole /proc/<pid>/cgroup (every hierarchy), read while pinned and alive: the
         * fallback enters these cgroups later, when the process may be gone (an OOM kill at the
         * start of its dump, a SIGKILL from elsewhere). NULL when it could not be read. */
        char *cgroups;
        struct container_identity container; /* what the cgroup says of its container */
        /* The host's key of its container (crash_container_key()): CONTAINER_KEY_HOST for a
         * process of the host's pid namespace, whatever its root; else "pidns-..." of the
         * outermost pid namespace below the host's, which nothing inside can multiply, or
         * CONTAINER_KEY_UNKNOWN. Per-container state on the host is keyed on it. */
        char container_key[CONTAINER_KEY_MAX];
        /* Its container init's root when that is not the process's own (a nested mount
         * namespace, chroot): the second place to look for the container's receiver. */
        int ct_rootfd;
        bool have_ct_root_uid;
        uid_t ct_root_uid; /* host uid of uid 0 in the container init's user namespace */
};

#define CRASHED_PROCESS_NULL                                                                                           \
        { .pidfd = -EBADF, .procfd = -EBADF, .rootfd = -EBADF, .iofd = -EBADF, .ct_rootfd = -EBADF }

/*
 * Pins the process named by the kernel's arguments:
 *  - with %F, checks that the pidfd is one and names pid %P;
 *  - without, opens a pidfd for %P and checks that the process still is the one that crashed:
 *    real uid/gid equal %u/%g and it started no later than the crash time %t.
 * -ESRCH when the process is gone or is not the one that crashed; *why gets a short reason.
 */
int pin_process(const struct kernel_args *a, struct crashed_process *ret, const char **why);
void crashed_process_done(struct crashed_process *p);

/* Bytes the process has written so far (wchar of /proc/<pid>/io, read through iofd): the
 * kernel's dump writes count, so this moves while the core flows. */
int read_write_count(int iofd, uint64_t *ret);

/* Parses a uid_map/gid_map text and maps id (inside) to the outside id. -ENOENT if unmapped. */
int map_id_from_inside(const char *map_text, uint32_t inside, uint32_t *ret_outside);

/* Reads field 22 (starttime) of a /proc/<pid>/stat text; comm may contain anything. */
int parse_stat_starttime(const char *stat_text, uint64_t *ret_ticks);
