/* SPDX-License-Identifier: MIT */
#include "fate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "parse.h"

/* Debian 12's headers predate PIDFD_GET_INFO (6.13) and PIDFD_INFO_EXIT (6.15). The first 64
 * bytes of struct pidfd_info (PIDFD_INFO_SIZE_VER0, exit_code in what was its spare field): the
 * kernel copies as much as the size in the ioctl number asks for. */
struct pidfd_info_v0 {
        uint64_t mask;
        uint64_t cgroupid;
        uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        int32_t exit_code;
};
#define CP_PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_info_v0)
#define CP_PIDFD_INFO_EXIT (UINT64_C(1) << 3)

int memcg_oom_kills_from_text(const char *text, uint64_t *ret) {
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                if (strncmp(p, "oom_kill ", 9) != 0)
                        continue;
                char num[32];
                size_t n = strcspn(p + 9, "\n");
                if (n == 0 || n >= sizeof(num))
                        return -EBADMSG;
                memcpy(num, p + 9, n);
                num[n] = '\0';
                return parse_uint64(num, ret);
        }
        return -ENODATA;
}

/* Whether a v1 controller list ("cpu,cpuacct", "memory") names the memory controller. */
static bool names_memory(const char *list, size_t len) {
        for (size_t i = 0; i < len;) {
                size_t n = 0;
                while (i + n < len && list[i + n] != ',')
                        n++;
                if (n == 6 && memcmp(list + i, "memory", 6) == 0)
                        return true;
                i += n + 1;
        }
        return false;
}

int memcg_path_from_proc_cgroup(const char *text, char *ret, size_t size, bool *ret_v2) {
        const char *v2 = NULL;
        size_t v2_len = 0;
        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                const char *c1 = memchr(line, ':', len);
                const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - line)) : NULL;
                if (c2) {
                        const char *path = c2 + 1;
                        size_t plen = len - (size_t) (path - line);
                        if (names_memory(c1 + 1, (size_t) (c2 - c1 - 1))) {
                                if (plen >= size)
                                        return -ENAMETOOLONG;
                                memcpy(ret, path, plen);
                                ret[plen] = '\0';
                                *ret_v2 = false;
                                return 0;
                        }
                        if (c1 - line == 1 && line[0] == '0' && c2 == c1 + 1) {
                                v2 = path;
                                v2_len = plen;
                        }
                }
                line += len + (line[len] == '\n');
        }
        if (!v2)
                return -ENOENT;
        if (v2_len >= size)
                return -ENAMETOOLONG;
        memcpy(ret, v2, v2_len);
        ret[v2_len] = '\0';
        *ret_v2 = true;
        return 0;
}

int memcg_oom_counter_find(int procfd, const char *cgroup_root, char *ret, size_t size) {
        char text[4096], path[1024], file[1400];
        bool v2;
        int r = read_small_file_at(procfd, "cgroup", text, sizeof(text), NULL);
        if (r < 0)
                return r;
        r = memcg_path_from_proc_cgroup(text, path, sizeof(path), &v2);
        if (r < 0)
                return r;
        /* The cgroup path is the kernel's, as our cgroup namespace sees it; the mount may show
         * only a subtree of it (a container's own cgroup bind-mounted at the mount point). */
        for (const char *p = path;;) {
                while (*p == '/')
                        p++;
                snprintf(file, sizeof(file), "%s%s/%s%s%s", cgroup_root, v2 ? "" : "/memory", p, *p ? "/" : "",
                         v2 ? "memory.events" : "memory.oom_control");
                if (faccessat(AT_FDCWD, file, R_OK, AT_SYMLINK_NOFOLLOW) >= 0) {
                        if (strlen(file) >= size)
                                return -ENAMETOOLONG;
                        memcpy(ret, file, strlen(file) + 1);
                        return 0;
                }
                if (!*p)
                        return -ENOENT;
                p += strcspn(p, "/");
        }
}

int memcg_oom_counter_open(int procfd, const char *cgroup_root) {
        char file[1400];
        int r = memcg_oom_counter_find(procfd, cgroup_root, file, sizeof(file));
        if (r < 0)
                return r;
        int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        return fd < 0 ? negative_errno() : fd;
}

int memcg_oom_kills_at(const char *file, uint64_t *ret) {
        _cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        return memcg_oom_kills_read(fd, ret);
}

int memcg_oom_kills_read(int fd, uint64_t *ret) {
        char text[1024];
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        ssize_t n = read_full(fd, text, sizeof(text) - 1);
        if (n < 0)
                return (int) n;
        text[n] = '\0';
        return memcg_oom_kills_from_text(text, ret);
}

int exit_status_from_stat(const char *stat_text, int *ret_status) {
        /* The command name may hold ")" and spaces: the fields start after the last ")". */
        const char *p = strrchr(stat_text, ')');
        if (!p || p[1] != ' ' || !p[2])
                return -EBADMSG;
        p += 2;
        if (*p != 'Z')
                return -EAGAIN;
        /* exit_code is field 52: the 50th after the state (field 3). */
        for (int i = 0; i < 49; i++) {
                p = strchr(p, ' ');
                if (!p)
                        return -EBADMSG;
                p++;
        }
        char num[16];
        size_t n = strcspn(p, " \n");
        if (n == 0 || n >= sizeof(num))
                return -EBADMSG;
        memcpy(num, p, n);
        num[n] = '\0';
        uint32_t v;
        if (parse_uint32(num, &v) < 0 || v > 0xffff)
                return -EBADMSG;
        *ret_status = (int) v;
        return 0;
}

/* One look: 0 with the status, -EAGAIN while it is not known yet, else why it cannot be. */
static int exit_status_now(int pidfd, int procfd, int *ret_status) {
        struct pidfd_info_v0 info = {.mask = CP_PIDFD_INFO_EXIT};
        int r = -EOPNOTSUPP;
        if (ioctl(pidfd, CP_PIDFD_GET_INFO, &info) >= 0) {
                if (info.mask & CP_PIDFD_INFO_EXIT) {
                        *ret_status = info.exit_code;
                        return 0;
                }
                r = -EAGAIN; /* running, or exited and not reaped yet */
        } else if (errno == ESRCH)
                r = -EAGAIN; /* gone, and the kernel kept no exit information yet */
        char text[2048];
        if (procfd >= 0 && read_small_file_at(procfd, "stat", text, sizeof(text), NULL) >= 0) {
                int s = exit_status_from_stat(text, ret_status);
                if (s != -EBADMSG)
                        return s;
        }
        return r;
}

int process_exit_status(int pidfd, int procfd, uint64_t deadline_usec, int *ret_status) {
        for (;;) {
                int status;
                int r = exit_status_now(pidfd, procfd, &status);
                if (r == 0) {
                        *ret_status = status;
                        return 0;
                }
                if (r != -EAGAIN)
                        return r;
                uint64_t now = now_monotonic_usec();
                if (now >= deadline_usec)
                        return -ETIMEDOUT;
                /* Readable once the process has exited; then only its reaping is waited for. */
                if (fd_wait_until(pidfd, POLLIN, deadline_usec) < 0)
                        return -ETIMEDOUT;
                struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

void describe_exit_status(int status, char *out, size_t size) {
        if (WIFSIGNALED(status)) {
                const char *abbrev = sigabbrev_np(WTERMSIG(status));
                if (abbrev)
                        snprintf(out, size, "killed by SIG%s%s", abbrev, WCOREDUMP(status) ? " (core dumped)" : "");
                else
                        snprintf(out, size, "killed by signal %d%s", WTERMSIG(status),
                                 WCOREDUMP(status) ? " (core dumped)" : "");
        } else
                snprintf(out, size, "exited with status %d", WEXITSTATUS(status));
}
