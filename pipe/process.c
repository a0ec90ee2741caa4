/* SPDX-License-Identifier: MIT */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "fdio.h"
#include "macro.h"
#include "parse.h"

int map_id_from_inside(const char *map_text, uint32_t inside, uint32_t *ret_outside) {
        const char *p = map_text;
        while (*p) {
                unsigned long long in, out, count;
                int used = 0;
                if (sscanf(p, " %llu %llu %llu%n", &in, &out, &count, &used) != 3)
                        return -EBADMSG;
                p += used;
                while (*p == ' ' || *p == '\n')
                        p++;
                if (in > UINT32_MAX || out > UINT32_MAX || count > UINT32_MAX)
                        return -EBADMSG;
                if (inside >= in && inside - in < count) {
                        uint64_t o = out + (inside - in);
                        if (o >= UINT32_MAX)
                                return -ERANGE;
                        *ret_outside = (uint32_t) o;
                        return 0;
                }
        }
        return -ENOENT;
}

int parse_stat_starttime(const char *stat_text, uint64_t *ret_ticks) {
        /* "pid (comm) state ppid ..." — comm may contain ")" and spaces, so start after the
         * last ')'. starttime is field 22, the 20th after comm. */
        const char *p = strrchr(stat_text, ')');
        if (!p)
                return -EBADMSG;
        p++;
        /* p is at the space before field 3; step over fields 3..21. */
        for (int field = 3; field < 22; field++) {
                if (*p != ' ')
                        return -EBADMSG;
                p += 1 + strcspn(p + 1, " ");
        }
        if (*p != ' ')
                return -EBADMSG;
        char num[32];
        size_t n = strcspn(p + 1, " \n");
        if (n == 0 || n >= sizeof(num))
                return -EBADMSG;
        memcpy(num, p + 1, n);
        num[n] = '\0';
        return parse_uint64(num, ret_ticks);
}

static int read_boot_time(uint64_t *ret) {
        _cleanup_free_ char *text = malloc(65536);
        int64_t v;
        if (!text)
                return -ENOMEM;
        int r = read_small_file_at(AT_FDCWD, "/proc/stat", text, 65536, NULL);
        if (r < 0)
                return r;
        r = proc_field_int64(text, "btime ", 0, &v);
        if (r < 0)
                return r;
        if (v < 0)
                return -EBADMSG;
        *ret = (uint64_t) v;
        return 0;
}

/* Without %F there is a window between the crash and pidfd_open(%P) in which the process may
 * have been killed and its pid given to another process (CVE-2025-4598 in a peer). Prove
 * that the pidfd names the crashed process: same real ids, started no later than the crash. */
static int verify_identity(const struct kernel_args *a, int procfd, const char **why) {
        char text[4096];
        int64_t uid, gid;
        uint64_t ticks, btime;
        int r;

        r = read_small_file_at(procfd, "status", text, sizeof(text), NULL);
        if (r < 0)
                return *why = "cannot read status", r;
        /* The first of the four ids is the real one, which is what %u and %g are. */
        if (proc_field_int64(text, "Uid:", 0, &uid) < 0 || proc_field_int64(text, "Gid:", 0, &gid) < 0)
                return *why = "unparsable status", -EBADMSG;
        if (uid != (int64_t) a->uid || gid != (int64_t) a->gid)
                return *why = "uid/gid differ from the crash (pid reused)", -ESRCH;

        r = read_small_file_at(procfd, "stat", text, sizeof(text), NULL);
        if (r < 0)
                return *why = "cannot read stat", r;
        if (parse_stat_starttime(text, &ticks) < 0)
                return *why = "unparsable stat", -EBADMSG;
        r = read_boot_time(&btime);
        if (r < 0)
                return *why = "cannot read boot time", r;
        long hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0)
                hz = 100;
        /* btime is rounded down to a second; allow one second of slack. */
        if (btime + ticks / (uint64_t) hz > a->time + 1)
                return *why = "started after the crash (pid reused)", -ESRCH;
        return 0;
}

static void read_cgroup_for_log(int procfd, char *out, size_t size, struct container_identity *id) {
        char text[4096];
        const char *path;
        size_t n;

        out[0] = '\0';
        if (read_small_file_at(procfd, "cgroup", text, sizeof(text), NULL) < 0)
                return;
        n = cgroup_path_from_text(text, &path);
        if (n > 0) {
                escape_for_log(path, n, out, size);
                (void) container_identity_from_cgroup(path, n, id);
        }
}

/* Takes the kernel's pidfd (F=), or opens one for P= when the kernel has no %F. On success
 * p->pidfd names the process; the kernel's pidfd is marked as not ours to close. */
static int pin_pidfd(const struct kernel_args *a, struct crashed_process *p, const char **why) {
        int r;

        if (a->have_pidfd) {
                int pid;
                r = pidfd_get_pid(a->pidfd, &pid);
                if (r < 0)
                        return *why = "F= is not a pidfd", r;
                if (pid != a->pid)
                        return *why = "pidfd does not name P=", -ESRCH;
                p->pidfd = a->pidfd;
                p->pidfd_from_kernel = true;
        } else {
                r = pidfd_open_pid(a->pid);
                if (r < 0)
                        return *why = "process is gone", r == -EINVAL ? -ESRCH : r;
                p->pidfd = r;
        }
        return 0;
}

/* Opens /proc/<pid> into p->procfd and proves that it is the pinned process's directory. */
static int open_proc_dir(const struct kernel_args *a, struct crashed_process *p, const char **why) {
        char path[64];
        int r;

        snprintf(path, sizeof(path), "/proc/%d", (int) a->pid);
        p->procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->procfd < 0) {
                r = negative_errno();
                *why = "cannot open /proc/<pid>";
                return r;
        }
        /* The pidfd's process is alive after procfd was opened, so pid P was not reused in
         * between: procfd is that process's directory. */
        r = pidfd_check_alive(p->pidfd);
        if (r < 0) {
                *why = "process is gone";
                return r;
        }
        if (!p->pidfd_from_kernel) {
                r = verify_identity(a, p->procfd, why);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Opens the process's root into p->rootfd and notes whether it is the host's. */
static int open_process_root(struct crashed_process *p, const char **why) {
        struct stat st, ours;
        int r;

        /* The one magic link the helper follows: the kernel's own record of the root. */
        p->rootfd = openat(p->procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (p->rootfd < 0) {
                r = negative_errno();
                *why = "cannot open its root";
                return r;
        }
        if (fstat(p->rootfd, &st) < 0 || stat("/", &ours) < 0) {
                r = negative_errno();
                *why = "cannot stat roots";
                return r;
        }
        p->root_is_ours = st.st_dev == ours.st_dev && st.st_ino == ours.st_ino;
        return 0;
}

/* The process's parent (PPid of its status), or 0. */
static pid_t parent_of(int procfd) {
        char status[4096];
        int64_t ppid;
        if (read_small_file_at(procfd, "status", status, sizeof(status), NULL) < 0 ||
            proc_field_int64(status, "PPid:", 0, &ppid) < 0 || ppid <= 0 || ppid > INT32_MAX)
                return 0;
        return (pid_t) ppid;
}

/*
 * A container with no cgroup of its own (rootless podman on cgroup v1) is named by its monitor:
 * the first ancestor of the container's init outside its pid namespace is the process that
 * started it (podman's conmon). Only a label for the log and the record: nothing is
 * decided by it. Bounded: at most 32 ancestors, each read once.
 */
static void identity_from_monitor(int procfd, struct container_identity *id) {
        struct stat own, st;
        if (fstatat(procfd, "ns/pid", &own, 0) < 0)
                return;
        pid_t pid = parent_of(procfd);
        for (int depth = 0; depth < 32 && pid > 1; depth++) {
                char path[32], cmdline[4096];
                size_t len;
                snprintf(path, sizeof(path), "/proc/%d", (int) pid);
                _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || fstatat(fd, "ns/pid", &st, 0) < 0)
                        return;
                if (st.st_ino != own.st_ino || st.st_dev != own.st_dev) {
                        if (read_small_file_at(fd, "cmdline", cmdline, sizeof(cmdline), &len) >= 0)
                                (void) container_identity_from_conmon(cmdline, len, id);
                        return;
                }
                pid = parent_of(fd);
        }
}

/* What the log line and the request say about the process, each piece best effort: its mount
 * namespace, the host uid of its user namespace's root, its root path and its cgroup. */
static void read_process_facts(struct crashed_process *p) {
        struct stat st, ours;

        if (fstatat(p->procfd, "ns/mnt", &st, 0) >= 0 && stat("/proc/self/ns/mnt", &ours) >= 0) {
                p->mntns = st.st_ino;
                p->mntns_is_ours = st.st_ino == ours.st_ino && st.st_dev == ours.st_dev;
        }

        char map[4096];
        uint32_t root_uid;
        if (read_small_file_at(p->procfd, "uid_map", map, sizeof(map), NULL) >= 0 &&
            map_id_from_inside(map, 0, &root_uid) >= 0) {
                p->have_root_uid = true;
                p->root_uid = root_uid;
        }

        char target[256];
        ssize_t n = readlinkat(p->procfd, "root", target, sizeof(target));
        if (n < 0)
                snprintf(p->root_path, sizeof(p->root_path), "?");
        else
                escape_for_log(target, (size_t) n, p->root_path, sizeof(p->root_path));
        read_cgroup_for_log(p->procfd, p->cgroup, sizeof(p->cgroup), &p->container);
        /* For the fallback, which may look after the process is gone; NULL says why not later. */
        (void) read_pinned_cgroups(p->procfd, p->pidfd, &p->cgroups);
}

/* A container with no label from its cgroup is named by the parent of its init (the engine's
 * monitor), never by an ancestor of the crashed process, which may be a process the container
 * started itself (with a command line like conmon's) in a pid namespace of its own. */
static void identity_of_init(const struct container_init *init, struct container_identity *id) {
        char path[32];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%d", (int) init->pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* Only a label: a pid reused since the init was pinned is caught by its namespace. */
        if (fd >= 0 && fstatat(fd, "ns/pid", &st, 0) >= 0 && st.st_ino == init->pidns_ino)
                identity_from_monitor(fd, id);
}

/* The container the process belongs to: its key for the host's accounting, and its init's root
 * as a second place for the container's receiver. A process outside the host's pid namespace
 * whose container cannot be found is keyed CONTAINER_KEY_UNKNOWN, never as the host. */
static void find_container(struct crashed_process *p) {
        struct container_init init;
        struct stat own, other;
        const char *why = "";

        if (crash_container_key(p->pidfd, p->container_key, sizeof(p->container_key), &init, &why) < 0) {
                snprintf(p->container_key, sizeof(p->container_key), "%s", CONTAINER_KEY_UNKNOWN);
                return;
        }
        if (init.rootfd < 0)
                return;
        if (!p->container.runtime[0])
                identity_of_init(&init, &p->container);
        p->have_ct_root_uid = init.have_root_uid;
        p->ct_root_uid = init.root_uid;
        /* The same root in the same mount namespace resolves every path alike: one candidate. */
        if (p->mntns != 0 && init.mntns_ino == p->mntns && fstat(p->rootfd, &own) >= 0 &&
            fstat(init.rootfd, &other) >= 0 && own.st_dev == other.st_dev && own.st_ino == other.st_ino)
                init.rootfd = safe_close(init.rootfd);
        p->ct_rootfd = init.rootfd;
}

int pin_process(const struct kernel_args *a, struct crashed_process *ret, const char **why) {
        struct crashed_process p = CRASHED_PROCESS_NULL;
        int r;

        p.pid = a->pid;
        r = pin_pidfd(a, &p, why);
        if (r < 0)
                return r;
        r = open_proc_dir(a, &p, why);
        if (r < 0)
                goto fail;
        r = open_process_root(&p, why);
        if (r < 0)
                goto fail;
        read_process_facts(&p);
        find_container(&p);
        /* A plain file, harmless in a receiver's hands, and the one thing still read later. */
        p.iofd = openat(p.procfd, "io", O_RDONLY | O_CLOEXEC);

        /* All reads done: the process must still be the one we pinned. */
        r = pidfd_check_alive(p.pidfd);
        if (r < 0) {
                *why = "process is gone";
                goto fail;
        }
        p.procfd = safe_close(p.procfd);
        *ret = p;
        return 0;
fail:
        if (p.pidfd_from_kernel)
                p.pidfd = -EBADF; /* not ours to close here; main owns fd 3 */
        crashed_process_done(&p);
        return r;
}

void crashed_process_done(struct crashed_process *p) {
        p->pidfd = safe_close(p->pidfd);
        p->procfd = safe_close(p->procfd);
        p->rootfd = safe_close(p->rootfd);
        p->ct_rootfd = safe_close(p->ct_rootfd);
        p->iofd = safe_close(p->iofd);
        free(p->cgroups);
        p->cgroups = NULL;
}

int read_write_count(int iofd, uint64_t *ret) {
        char text[1024];
        ssize_t n = pread(iofd, text, sizeof(text) - 1, 0);
        if (n < 0)
                return negative_errno();
        text[n] = '\0';
        int64_t v;
        int r = proc_field_int64(text, "wchar:", 0, &v);
        if (r < 0)
                return r;
        if (v < 0)
                return -EBADMSG;
        *ret = (uint64_t) v;
        return 0;
}
