/* SPDX-License-Identifier: MIT */
#include "metadata.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "parse.h"

#define PROC_TEXT_MAX (4 * 1024 * 1024)

void core_metadata_done(struct core_metadata *m) {
        free(m->exe);
        free(m->cmdline);
        free(m->cwd);
        free(m->cgroup);
        free(m->maps);
        m->exe = m->cmdline = m->cwd = m->cgroup = m->maps = NULL;
}

const char *signal_name(uint32_t sig) {
        if (sig < 1 || sig > 64)
                return NULL;
        return sigabbrev_np((int) sig);
}

/* Reads a /proc file of unknown size (up to max bytes) into a new buffer. */
static int read_proc_file(int procfd, const char *name, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = openat(procfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        size_t size = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == size) {
                        if (size >= max)
                                break; /* keep what fits */
                        size = MIN(size * 2, max);
                        char *n = realloc(buf, size + 1);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                }
                ssize_t k = read(fd, buf + len, size - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

static char *read_link_at(int dirfd, const char *name) {
        char buf[4096];
        ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return strdup(buf);
}

/* One id or count from /proc/<pid>/status; 0 when missing or out of range. */
static uint32_t status_value(const char *status, const char *key, unsigned index) {
        int64_t v;
        if (proc_field_int64(status, key, index, &v) < 0 || v < 0 || v > UINT32_MAX)
                return 0;
        return (uint32_t) v;
}

static void read_id_file(const char *path, char *out, size_t size) {
        char buf[128];
        size_t o = 0;
        out[0] = '\0';
        if (read_small_file_at(AT_FDCWD, path, buf, sizeof(buf), NULL) < 0)
                return;
        for (const char *p = buf; *p && o + 1 < size; p++)
                if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
                        out[o++] = *p;
        out[o] = '\0';
}

int collect_metadata(int procfd, struct core_metadata *m) {
        char text[8192];
        size_t len;
        int r;

        r = read_small_file_at(procfd, "comm", text, sizeof(text), &len);
        if (r == -ESRCH)
                return r;
        if (r >= 0) {
                if (len > 0 && text[len - 1] == '\n')
                        text[--len] = '\0';
                snprintf(m->comm, sizeof(m->comm), "%s", text);
        }
        m->exe = read_link_at(procfd, "exe");
        m->cwd = read_link_at(procfd, "cwd");
        (void) read_proc_file(procfd, "cmdline", 256 * 1024, &m->cmdline, &m->cmdline_len);
        (void) read_proc_file(procfd, "cgroup", 64 * 1024, &m->cgroup, NULL);
        (void) read_proc_file(procfd, "maps", PROC_TEXT_MAX, &m->maps, &m->maps_len);

        if (read_small_file_at(procfd, "status", text, sizeof(text), NULL) >= 0) {
                m->euid = status_value(text, "Uid:", 1);
                m->egid = status_value(text, "Gid:", 1);
                m->ppid = (pid_t) status_value(text, "PPid:", 0);
                m->threads = status_value(text, "Threads:", 0);
        }

        struct utsname u;
        if (uname(&u) >= 0) {
                snprintf(m->hostname, sizeof(m->hostname), "%s", u.nodename);
                snprintf(m->kernel_release, sizeof(m->kernel_release), "%s", u.release);
        }
        read_id_file("/proc/sys/kernel/random/boot_id", m->boot_id, sizeof(m->boot_id));
        read_id_file("/etc/machine-id", m->machine_id, sizeof(m->machine_id));
        return 0;
}
