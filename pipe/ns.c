/* SPDX-License-Identifier: MIT */
#include "ns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "nscompat.h"
#include "process.h"

/* User and pid namespaces nest at most 32 deep; a longer walk is a kernel we do not know. */
#define NS_DEPTH_MAX 64

/* capability(7) number of CAP_SYS_PTRACE: a bit of the sets in /proc/<pid>/status. */
#define CAP_SYS_PTRACE_BIT 19

static bool same_inode(const struct stat *a, const struct stat *b) {
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* An nsfs descriptor from an ioctl (PIDFD_GET_*_NAMESPACE, NS_GET_PARENT) or a negative errno. */
static int ns_ioctl(int fd, unsigned long request) {
        int r = ioctl(fd, request, 0);
        if (r < 0)
                return negative_errno();
        return r;
}

int ns_is_same_or_ancestor(int ancestor_fd, int nsfd) {
        struct stat want, st;

        if (fstat(ancestor_fd, &want) < 0)
                return negative_errno();
        _cleanup_close_ int cur = fcntl(nsfd, F_DUPFD_CLOEXEC, 3);
        if (cur < 0)
                return negative_errno();
        for (int depth = 0; depth < NS_DEPTH_MAX; depth++) {
                if (fstat(cur, &st) < 0)
                        return negative_errno();
                if (same_inode(&st, &want))
                        return 1;
                int parent = ns_ioctl(cur, NS_GET_PARENT);
                /* EPERM: the top (the initial namespace has no parent) or above what we see. */
                if (parent == -EPERM)
                        return 0;
                if (parent < 0)
                        return parent;
                safe_close(cur);
                cur = parent;
        }
        return -ELOOP;
}

/* Walks from the namespace nsfd (which this takes over) up to ours (ours_path, e.g.
 * "/proc/self/ns/pid"): 0 when nsfd is ours; 1 with *ret_nsfd the namespace just below ours on
 * the way, the outermost one that is not the host's; a negative errno otherwise (EPERM would
 * mean a namespace that is not below ours: not for the host's helper). */
static int ns_below_ours(int nsfd, const char *ours_path, int *ret_nsfd) {
        _cleanup_close_ int cur = nsfd;
        struct stat ours, st;

        if (cur < 0)
                return cur;
        if (stat(ours_path, &ours) < 0 || fstat(cur, &st) < 0)
                return negative_errno();
        if (same_inode(&st, &ours))
                return 0;
        for (int depth = 0; depth < NS_DEPTH_MAX; depth++) {
                _cleanup_close_ int parent = ns_ioctl(cur, NS_GET_PARENT);
                if (parent < 0)
                        return parent;
                if (fstat(parent, &st) < 0)
                        return negative_errno();
                if (same_inode(&st, &ours)) {
                        *ret_nsfd = TAKE_FD(cur);
                        return 1;
                }
                safe_close(cur);
                cur = TAKE_FD(parent);
        }
        return -ELOOP;
}

int container_pidns_open(int pidfd, int *ret_nsfd) {
        return ns_below_ours(ns_ioctl(pidfd, PIDFD_GET_PID_NAMESPACE), "/proc/self/ns/pid", ret_nsfd);
}

/* Opens /proc/<pid of pidfd> and proves it is that process's directory: the process is alive
 * after the open, so the pid was not reused in between. */
static int open_proc_of_pidfd(int pidfd, pid_t pid) {
        char path[32];
        int r;

        if (pid <= 0)
                return -ESRCH;
        snprintf(path, sizeof(path), "/proc/%d", (int) pid);
        _cleanup_close_ int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (procfd < 0)
                return negative_errno();
        r = pidfd_check_alive(pidfd);
        if (r < 0)
                return r;
        return TAKE_FD(procfd);
}

/* The host uid of uid 0 in the user namespace of the process whose /proc directory is procfd. */
static int read_root_uid(int procfd, uid_t *ret) {
        char map[4096];
        uint32_t uid;
        int r = read_small_file_at(procfd, "uid_map", map, sizeof(map), NULL);
        if (r < 0)
                return r;
        r = map_id_from_inside(map, 0, &uid);
        if (r < 0)
                return r;
        *ret = (uid_t) uid;
        return 0;
}

/* Pins pid 1 of the namespace behind pidns_fd; returns its pidfd, proven to be in it. */
static int pin_container_init(int pidns_fd, pid_t *ret_pid, const char **why) {
        struct stat want, st;

        if (fstat(pidns_fd, &want) < 0)
                return *why = "cannot stat its pid namespace", negative_errno();
        int pid = ioctl(pidns_fd, NS_GET_PID_FROM_PIDNS, 1);
        if (pid <= 0)
                return *why = "its container's init is gone", pid < 0 ? negative_errno() : -ESRCH;
        _cleanup_close_ int pidfd = pidfd_open_pid(pid);
        if (pidfd < 0)
                return *why = "its container's init is gone", pidfd;
        /* The pid may have been reused since the ioctl: the pidfd's process must be in the
         * namespace. Its init cannot be replaced (the namespace dies with it), so any process
         * of the namespace with that pid is the init. */
        _cleanup_close_ int nsfd = ns_ioctl(pidfd, PIDFD_GET_PID_NAMESPACE);
        if (nsfd < 0 || fstat(nsfd, &st) < 0 || !same_inode(&st, &want))
                return *why = "its container's init is gone", -ESRCH;
        *ret_pid = pid;
        return TAKE_FD(pidfd);
}

int container_init_open(int pidns_fd, struct container_init *ret, const char **why) {
        struct stat ns;
        char stat_text[4096];
        pid_t pid;
        uint64_t ticks;
        int r;

        if (fstat(pidns_fd, &ns) < 0)
                return *why = "cannot stat its pid namespace", negative_errno();
        _cleanup_close_ int pidfd = pin_container_init(pidns_fd, &pid, why);
        if (pidfd < 0)
                return pidfd;
        _cleanup_close_ int procfd = open_proc_of_pidfd(pidfd, pid);
        if (procfd < 0)
                return *why = "cannot open its container init's /proc directory", procfd;
        _cleanup_close_ int rootfd = openat(procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return *why = "cannot open its container init's root", negative_errno();
        r = read_small_file_at(procfd, "stat", stat_text, sizeof(stat_text), NULL);
        if (r < 0 || parse_stat_starttime(stat_text, &ticks) < 0)
                return *why = "cannot read its container init's start time", r < 0 ? r : -EBADMSG;
        struct container_init c = {.pid = pid, .pidns_ino = ns.st_ino, .starttime = ticks};
        c.have_root_uid = read_root_uid(procfd, &c.root_uid) >= 0;
        struct stat mnt;
        if (fstatat(procfd, "ns/mnt", &mnt, 0) >= 0)
                c.mntns_ino = mnt.st_ino;
        /* Everything read through procfd came from the init, alive after procfd was opened. */
        r = pidfd_check_alive(pidfd);
        if (r < 0)
                return *why = "its container's init is gone", r;
        c.rootfd = TAKE_FD(rootfd);
        *ret = c;
        return 0;
}

int format_container_key(uint64_t pidns_ino, uint64_t init_starttime, const char *boot_id, char *ret, size_t size) {
        char key[CONTAINER_KEY_MAX];

        for (int i = 0; i < 8; i++)
                if (!((boot_id[i] >= '0' && boot_id[i] <= '9') || (boot_id[i] >= 'a' && boot_id[i] <= 'f')))
                        return -EBADMSG;
        int n = snprintf(key, sizeof(key), "pidns-%llu-%llu-%.8s", (unsigned long long) pidns_ino,
                         (unsigned long long) init_starttime, boot_id);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        memcpy(ret, key, (size_t) n + 1);
        return 0;
}

/* The host user who owns the pid namespace nsfd, through the outermost user namespace below
 * ours that owns it: 1 with *ret_uid set when that is an unprivileged user (rootless
 * containers, a user's own unshare), 0 when root or the host's user namespace owns it. */
static int pidns_user_owner(int nsfd, uid_t *ret_uid) {
        _cleanup_close_ int outer = -EBADF;
        uid_t uid;
        int r = ns_below_ours(ns_ioctl(nsfd, NS_GET_USERNS), "/proc/self/ns/user", &outer);
        if (r <= 0)
                return r; /* 0: owned by the host's user namespace, a root-made container */
        if (ioctl(outer, NS_GET_OWNER_UID, &uid) < 0)
                return negative_errno();
        *ret_uid = uid;
        return uid != 0;
}

int crash_container_key(int pidfd, char *ret, size_t size, struct container_init *ret_init, const char **why) {
        struct container_init init = {.rootfd = -EBADF};
        char boot_id[64];
        _cleanup_close_ int nsfd = -EBADF;

        int r = container_pidns_open(pidfd, &nsfd);
        if (r < 0)
                return *why = "cannot find its pid namespace's ancestry", r;
        if (r == 0) {
                if (size <= strlen(CONTAINER_KEY_HOST))
                        return *why = "key buffer too small", -ENOBUFS;
                snprintf(ret, size, "%s", CONTAINER_KEY_HOST);
                if (ret_init)
                        *ret_init = init;
                return 0;
        }
        r = container_init_open(nsfd, &init, why);
        if (r < 0)
                return r;
        /* An unprivileged host user makes pid namespaces at will: all of them are that user's,
         * one key, or the user would get a fresh share of everything with each. */
        uid_t owner = 0;
        r = pidns_user_owner(nsfd, &owner);
        bool by_user = r > 0;
        if (by_user)
                r = snprintf(ret, size, "user-%u", (unsigned) owner) >= (int) size ? -ENOBUFS : 0;
        else if (r == 0)
                r = read_small_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", boot_id, sizeof(boot_id), NULL);
        if (r >= 0 && !by_user)
                r = format_container_key(init.pidns_ino, init.starttime, boot_id, ret, size);
        if (r < 0) {
                safe_close(init.rootfd);
                return *why = "cannot read the boot id or the owner of its namespaces", r;
        }
        if (ret_init)
                *ret_init = init;
        else
                safe_close(init.rootfd);
        return 0;
}

/* Whether the namespace (request: PIDFD_GET_PID_NAMESPACE or _USER_) of listener_pidfd's
 * process is that of crashed_pidfd's process or an ancestor of it. */
static int ns_of_is_same_or_ancestor(int listener_pidfd, int crashed_pidfd, unsigned long request) {
        _cleanup_close_ int l = ns_ioctl(listener_pidfd, request);
        if (l < 0)
                return l;
        _cleanup_close_ int c = ns_ioctl(crashed_pidfd, request);
        if (c < 0)
                return c;
        return ns_is_same_or_ancestor(l, c);
}

/* The listener's pidfd, alive; *why says otherwise. */
static int listener_pidfd(int sock, const char **why) {
        int fd = -EBADF;
        socklen_t len = sizeof(fd);
        if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &fd, &len) < 0)
                return *why = "its listener is unknown or gone (SO_PEERPIDFD)", negative_errno();
        if (len != sizeof(fd) || fd < 0)
                return *why = "its listener is unknown (SO_PEERPIDFD)", -EIO;
        if (pidfd_check_alive(fd) < 0) {
                safe_close(fd);
                return *why = "its listener has exited", -ESRCH;
        }
        return fd;
}

/* Whether the listener's euid is the host uid of uid 0 in the listener's user namespace. */
static int listener_is_root(int pidfd, uid_t euid, const char **why) {
        uid_t root;
        int pid;
        int r = pidfd_get_pid(pidfd, &pid);
        if (r < 0)
                return *why = "cannot find its listener's pid", r;
        _cleanup_close_ int procfd = open_proc_of_pidfd(pidfd, pid);
        if (procfd < 0)
                return *why = "cannot open its listener's /proc directory", procfd;
        r = read_root_uid(procfd, &root);
        if (r < 0)
                return *why = "cannot map root of its listener's user namespace", r;
        if (root != euid)
                return *why = "its listener is not root of its user namespace", -EPERM;
        return 0;
}

/* The permitted and effective capability sets of the process behind pidfd (ret_effective may
 * be NULL), from one read of its status. */
static int read_caps(int pidfd, uint64_t *ret_permitted, uint64_t *ret_effective) {
        char status[16384];
        uint64_t permitted, effective = 0;
        int pid;
        int r = pidfd_get_pid(pidfd, &pid);
        if (r < 0)
                return r;
        _cleanup_close_ int procfd = open_proc_of_pidfd(pidfd, pid);
        if (procfd < 0)
                return procfd;
        r = read_small_file_at(procfd, "status", status, sizeof(status), NULL);
        if (r >= 0)
                r = proc_field_hex64(status, "CapPrm:", &permitted);
        if (r >= 0 && ret_effective)
                r = proc_field_hex64(status, "CapEff:", &effective);
        if (r < 0)
                return r;
        *ret_permitted = permitted;
        if (ret_effective)
                *ret_effective = effective;
        return 0;
}

/* Within one user namespace, being root is not enough to read a process: ptrace(2) also wants
 * the reader to hold every capability the process holds, or CAP_SYS_PTRACE. A receiver with an
 * engine's default capabilities must not get the core of a process with all of them (a host
 * process that entered the container's namespaces with nsenter). */
static int listener_has_caps_over(int listener_pidfd, int crashed_pidfd, const char **why) {
        uint64_t permitted, effective, crashed;
        if (read_caps(listener_pidfd, &permitted, &effective) < 0)
                return *why = "cannot read its listener's capabilities", -EPERM;
        if (read_caps(crashed_pidfd, &crashed, NULL) < 0)
                return *why = "cannot read the crashed process's capabilities", -EPERM;
        if (effective & (UINT64_C(1) << CAP_SYS_PTRACE_BIT))
                return 0;
        if ((crashed & ~permitted) != 0)
                return *why = "its listener lacks capabilities the crashed process has", -EPERM;
        return 0;
}

/* Whether both processes are in the same namespace of the kind request names: 1, 0 or < 0. */
static int ns_of_is_same(int a_pidfd, int b_pidfd, unsigned long request) {
        struct stat a, b;
        _cleanup_close_ int fa = ns_ioctl(a_pidfd, request);
        if (fa < 0)
                return fa;
        _cleanup_close_ int fb = ns_ioctl(b_pidfd, request);
        if (fb < 0)
                return fb;
        if (fstat(fa, &a) < 0 || fstat(fb, &b) < 0)
                return negative_errno();
        return same_inode(&a, &b);
}

int check_receiver_listener(int sock, int crashed_pidfd, uid_t socket_owner, const char **why) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int r;

        if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred))
                return *why = "its listener is unknown (SO_PEERCRED)", negative_errno();
        _cleanup_close_ int pidfd = listener_pidfd(sock, why);
        if (pidfd < 0)
                return pidfd;
        r = ns_of_is_same_or_ancestor(pidfd, crashed_pidfd, PIDFD_GET_PID_NAMESPACE);
        if (r < 0)
                return *why = "cannot compare pid namespaces", r;
        if (r == 0)
                return *why = "its listener is outside the crashed process's pid namespace and its ancestors", -EPERM;
        r = ns_of_is_same_or_ancestor(pidfd, crashed_pidfd, PIDFD_GET_USER_NAMESPACE);
        if (r < 0)
                return *why = "cannot compare user namespaces", r;
        if (r == 0)
                return *why = "its listener is outside the crashed process's user namespace and its ancestors", -EPERM;
        r = listener_is_root(pidfd, cred.uid, why);
        if (r < 0)
                return r;
        r = ns_of_is_same(pidfd, crashed_pidfd, PIDFD_GET_USER_NAMESPACE);
        if (r < 0)
                return *why = "cannot compare user namespaces", r;
        if (r > 0 && (r = listener_has_caps_over(pidfd, crashed_pidfd, why)) < 0)
                return r;
        if (socket_owner != cred.uid)
                return *why = "the socket is not owned by its listener", -EPERM;
        /* Checked last: everything above described the process that is listening now. */
        if (pidfd_check_alive(pidfd) < 0)
                return *why = "its listener has exited", -ESRCH;
        return 0;
}
