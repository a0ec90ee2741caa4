/* SPDX-License-Identifier: MIT */
#include "metadata.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
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
        free(m->core_files);
        m->exe = m->cmdline = m->cwd = m->cgroup = m->maps = m->core_files = NULL;
}

const char *signal_name(uint32_t sig) {
        if (sig < 1 || sig > 64)
                return NULL;
        return sigabbrev_np((int) sig);
}

const char *signal_source_name(enum signal_source s, uint32_t signal) {
        if (signal == 0)
                return "unknown";
        switch (s) {
        case SIGNAL_FROM_KERNEL:
                return "kernel";
        case SIGNAL_FROM_CORE:
                return "core";
        case SIGNAL_FROM_EXIT:
                return "exit";
        default:
                return "unknown";
        }
}

uint32_t signal_resolve(uint32_t notes_signal, bool have_exit, int exit_status, enum signal_source *ret_source) {
        if (notes_signal >= 1 && notes_signal <= 64) {
                *ret_source = SIGNAL_FROM_CORE;
                return notes_signal;
        }
        /* Killed by a signal: the crash's own, as the kernel keeps the first fatal signal as the
         * group's exit code even when a SIGKILL ends the dump. */
        if (have_exit && WIFSIGNALED(exit_status) && WTERMSIG(exit_status) >= 1 && WTERMSIG(exit_status) <= 64) {
                *ret_source = SIGNAL_FROM_EXIT;
                return (uint32_t) WTERMSIG(exit_status);
        }
        *ret_source = SIGNAL_UNKNOWN;
        return 0;
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

/* What /proc gave. An empty cmdline is a kernel thread's or a process that cleared it: no
 * source, so that the core's pr_psargs may stand in. */
static void mark_proc_sources(struct core_metadata *m) {
        if (m->comm[0])
                m->comm_source = SOURCE_PROC;
        if (m->exe)
                m->exe_source = SOURCE_PROC;
        if (m->cmdline && m->cmdline_len > 0)
                m->cmdline_source = SOURCE_PROC;
        if (m->maps)
                m->files_source = SOURCE_PROC;
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
        mark_proc_sources(m);

        if (read_small_file_at(procfd, "status", text, sizeof(text), NULL) >= 0) {
                m->euid = status_value(text, "Uid:", 1);
                m->egid = status_value(text, "Gid:", 1);
                m->ppid = (pid_t) status_value(text, "PPid:", 0);
                m->threads = status_value(text, "Threads:", 0);
                m->threads_source = m->threads > 0 ? SOURCE_PROC : SOURCE_NONE;
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

const char *metadata_source_name(enum metadata_source s) {
        return s == SOURCE_PROC ? "proc" : s == SOURCE_CORE ? "core" : NULL;
}

/* NT_FILE's paths, each run of mappings of one file once, NUL-separated. */
static int core_file_list(const struct core_notes *n, char **ret, size_t *ret_len) {
        size_t size = 0, len = 0;
        for (size_t i = 0; i < n->n_files; i++)
                size += strlen(n->files[i].path) + 1;
        _cleanup_free_ char *buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        for (size_t i = 0; i < n->n_files; i++) {
                const char *p = n->files[i].path;
                if (i > 0 && strcmp(p, n->files[i - 1].path) == 0)
                        continue;
                size_t l = strlen(p) + 1;
                memcpy(buf + len, p, l);
                len += l;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int fill_cmdline_from_psargs(struct core_metadata *m, const char *psargs) {
        char *c = strdup(psargs);
        if (!c)
                return -ENOMEM;
        free(m->cmdline);
        m->cmdline = c;
        m->cmdline_len = strlen(c) + 1;
        m->cmdline_source = SOURCE_CORE;
        return 0;
}

int metadata_fill_from_core(struct core_metadata *m, const struct core_notes *n) {
        int r;
        m->core_expected_size = n->expected_size;
        if (m->comm_source == SOURCE_NONE && n->have_prpsinfo && n->fname[0]) {
                snprintf(m->comm, sizeof(m->comm), "%s", n->fname);
                m->comm_source = SOURCE_CORE;
        }
        if (m->exe_source == SOURCE_NONE && n->exe) {
                m->exe = strdup(n->exe);
                if (!m->exe)
                        return -ENOMEM;
                m->exe_source = SOURCE_CORE;
        }
        if (m->cmdline_source == SOURCE_NONE && n->have_prpsinfo && n->psargs[0]) {
                r = fill_cmdline_from_psargs(m, n->psargs);
                if (r < 0)
                        return r;
        }
        if (m->files_source == SOURCE_NONE && n->n_files > 0) {
                r = core_file_list(n, &m->core_files, &m->core_files_len);
                if (r < 0)
                        return r;
                m->files_source = SOURCE_CORE;
        }
        if (m->threads_source == SOURCE_NONE && n->threads > 0) {
                m->threads = n->threads;
                m->threads_source = SOURCE_CORE;
        }
        if (m->ppid == 0 && n->have_prpsinfo && n->ppid > 0)
                m->ppid = n->ppid;
        return 0;
}

static void append_name(char *buf, size_t size, unsigned *count, const char *name) {
        size_t len = strlen(buf);
        if (len < size)
                snprintf(buf + len, size - len, "%s%s", *count > 0 ? ", " : "", name);
        (*count)++;
}

unsigned metadata_missing_fields(const struct core_metadata *m, char *buf, size_t size) {
        unsigned count = 0;
        if (size == 0)
                return 0;
        buf[0] = '\0';
        if (m->comm_source == SOURCE_NONE)
                append_name(buf, size, &count, "comm");
        if (m->exe_source == SOURCE_NONE)
                append_name(buf, size, &count, "exe");
        if (m->cmdline_source == SOURCE_NONE)
                append_name(buf, size, &count, "cmdline");
        if (!m->cwd)
                append_name(buf, size, &count, "cwd");
        if (m->files_source == SOURCE_NONE)
                append_name(buf, size, &count, "mapped files");
        if (!m->cgroup)
                append_name(buf, size, &count, "cgroup");
        if (m->threads_source == SOURCE_NONE)
                append_name(buf, size, &count, "threads");
        return count;
}
