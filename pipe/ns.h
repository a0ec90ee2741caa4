/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Namespaces of the crashed process and of a receiver's listener: which container a process
 * belongs to (for the host's accounting and the container's receiver) and whether a listener
 * could already read the crashed process (the rule for handing it a core). All of it goes
 * through pidfds and nsfs descriptors, never through pids that could be reused.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* "pidns-" + 20 digits + "-" + 20 digits + "-" + 8 hex digits, or "host"/"unknown". */
#define CONTAINER_KEY_MAX 64
#define CONTAINER_KEY_HOST "host"
/* A process outside the host's pid namespace whose container could not be found: all such
 * crashes share one key, never the host's. */
#define CONTAINER_KEY_UNKNOWN "unknown"

/*
 * Whether the namespace behind ancestor_fd is the one behind nsfd or one of its ancestors
 * (both pid or both user namespaces): nsfd is walked up with NS_GET_PARENT, at most 64 steps.
 * Returns 1 (yes), 0 (no: the walk reached the top, or a parent we may not see), or a negative
 * errno when it cannot be told.
 */
int ns_is_same_or_ancestor(int ancestor_fd, int nsfd);

/*
 * The container of pidfd's process: the outermost pid namespace below ours that contains it
 * (a process can make new pid namespaces only below its own, so this one it cannot change).
 * Returns 1 with *ret_nsfd an nsfs descriptor of it, 0 when the process is in our own pid
 * namespace (a host process, whatever its root), or a negative errno.
 */
int container_pidns_open(int pidfd, int *ret_nsfd);

/* The init (pid 1) of a container's pid namespace, as found by container_init_open(). */
struct container_init {
        pid_t pid;          /* in our pid namespace */
        uint64_t pidns_ino; /* inode of the container's pid namespace */
        uint64_t starttime; /* the init's start, in clock ticks after boot */
        uint64_t mntns_ino; /* inode of the init's mount namespace; 0 = unknown */
        int rootfd;         /* the init's root directory (O_PATH) */
        bool have_root_uid;
        uid_t root_uid; /* host uid of uid 0 in the init's user namespace */
};

/*
 * Finds pid 1 of the pid namespace behind pidns_fd (NS_GET_PID_FROM_PIDNS), pins it with a
 * pidfd, proves that the pidfd's process is in that namespace (PIDFD_GET_PID_NAMESPACE) and
 * still alive after its /proc directory was opened, and reads its root, start time and the host
 * uid of its user namespace's root. -ESRCH when the init is gone; *why gets a short reason.
 */
int container_init_open(int pidns_fd, struct container_init *ret, const char **why);

/*
 * The host's key of a container: "pidns-<pidns inode>-<init start ticks>-<first 8 hex digits of
 * the boot id>". Inode numbers are reused once a namespace is gone; with the start time of its
 * init and the boot, the key names one container only. -EBADMSG when boot_id does not start
 * with 8 hex digits, -ENOBUFS when size is too small.
 */
int format_container_key(uint64_t pidns_ino, uint64_t init_starttime, const char *boot_id, char *ret, size_t size);

/*
 * The key of the container pidfd's process belongs to: CONTAINER_KEY_HOST for a process of our
 * own pid namespace; "user-UID" when the container's pid namespace belongs to a user namespace
 * that an unprivileged host user UID made (rootless containers, a user's own unshare: a user
 * can make any number of them, all count as one); else the container's
 * (format_container_key(), the boot id read from /proc/sys/kernel/random/boot_id). When ret_init is not NULL and the
 * process is in a container, the container's init is returned there (its rootfd to be closed by the caller); for a host
 * process ret_init->rootfd is -EBADF. On failure nothing is written but *why.
 */
int crash_container_key(int pidfd, char *ret, size_t size, struct container_init *ret_init, const char **why);

/*
 * Whether the process listening on the other end of sock (connected, nothing sent yet) may
 * receive the core of crashed_pidfd's process: the process that called listen() (SO_PEERPIDFD,
 * SO_PEERCRED) must be alive, in the crashed process's pid namespace or an ancestor, in its user
 * namespace or an ancestor, root of its own user namespace (its euid is the host uid of uid 0 in
 * its uid_map), and the owner of the socket file (socket_owner). So only a process that could
 * already read the crashed process gets its core. 0 when eligible; otherwise a negative errno
 * and *why names the check that failed (or could not be made).
 */
int check_receiver_listener(int sock, int crashed_pidfd, uid_t socket_owner, const char **why);
