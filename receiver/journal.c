/* SPDX-License-Identifier: MIT */
#include "journal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#ifndef CORE_PIPE_NO_JOURNAL
#include <systemd/sd-journal.h>
#endif

#include "macro.h"
#include "parse.h"

static void add(struct journal_fields *f, const char *fmt, ...) _printf_(2, 3);
static void add(struct journal_fields *f, const char *fmt, ...) {
        char *s;
        va_list ap;
        if (f->n >= JOURNAL_FIELDS_MAX)
                return;
        va_start(ap, fmt);
        int n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0) {
                f->oom = true;
                return;
        }
        f->iov[f->n++] = (struct iovec){.iov_base = s, .iov_len = (size_t) n};
}

/* A field whose value may hold any byte (a command line with spaces, newlines). */
static void add_bytes(struct journal_fields *f, const char *name, const char *value, size_t len) {
        size_t nlen = strlen(name);
        if (f->n >= JOURNAL_FIELDS_MAX)
                return;
        char *s = malloc(nlen + 1 + len);
        if (!s) {
                f->oom = true;
                return;
        }
        memcpy(s, name, nlen);
        s[nlen] = '=';
        memcpy(s + nlen + 1, value, len);
        f->iov[f->n++] = (struct iovec){.iov_base = s, .iov_len = nlen + 1 + len};
}

/* journald shows the command line with spaces between the arguments (from the core, pr_psargs
 * is already joined so). */
static void add_cmdline(struct journal_fields *f, const struct core_metadata *m) {
        if (!m->cmdline || m->cmdline_len == 0)
                return;
        _cleanup_free_ char *joined = malloc(m->cmdline_len);
        if (!joined) {
                f->oom = true;
                return;
        }
        size_t len = m->cmdline_len;
        memcpy(joined, m->cmdline, len);
        while (len > 0 && joined[len - 1] == '\0')
                len--;
        for (size_t i = 0; i < len; i++)
                if (joined[i] == '\0')
                        joined[i] = ' ';
        add_bytes(f, "COREDUMP_CMDLINE", joined, len);
}

/* The cgroup as the receiver sees it, and the units it names: `coredumpctl list foo.service`
 * matches COREDUMP_UNIT (or COREDUMP_USER_UNIT with --user). */
static void add_cgroup(struct journal_fields *f, const struct core_metadata *m) {
        const char *path;
        struct cgroup_unit u;
        size_t n = m->cgroup ? cgroup_path_from_text(m->cgroup, &path) : 0;
        if (n == 0)
                return;
        add_bytes(f, "COREDUMP_CGROUP", path, n);
        if (cgroup_unit_from_path(path, n, &u) < 0)
                return;
        add(f, "COREDUMP_UNIT=%s", u.unit);
        add(f, "COREDUMP_SLICE=%s", u.slice);
        if (u.user_unit[0])
                add(f, "COREDUMP_USER_UNIT=%s", u.user_unit);
        if (u.have_owner)
                add(f, "COREDUMP_OWNER_UID=%u", u.owner_uid);
}

void journal_fields_done(struct journal_fields *f) {
        for (size_t i = 0; i < f->n; i++)
                free(f->iov[i].iov_base);
        f->n = 0;
}

int journal_crash_fields(int priority, const struct core_metadata *m, const char *core_path,
                         const struct store_result *res, const char *message, struct journal_fields *ret) {
        struct journal_fields f = {.n = 0};
        const char *sig = signal_name(m->signal);

        add(&f, "MESSAGE_ID=%s", COREDUMP_MESSAGE_ID);
        add(&f, "PRIORITY=%d", priority);
        add(&f, "SYSLOG_IDENTIFIER=core_pipe-receiver");
        add(&f, "MESSAGE=%s", message);
        add(&f, "COREDUMP_PID=%d", (int) m->pid);
        add(&f, "COREDUMP_UID=%u", (unsigned) m->uid);
        add(&f, "COREDUMP_GID=%u", (unsigned) m->gid);
        add(&f, "COREDUMP_SIGNAL=%u", m->signal);
        if (sig)
                add(&f, "COREDUMP_SIGNAL_NAME=SIG%s", sig);
        /* Always there (coredumpctl lists no entry without it), 0 when nobody said: then, and
         * whenever the kernel did not say it, where it came from. */
        if (m->signal == 0 || m->signal_source != SIGNAL_FROM_KERNEL)
                add(&f, "CORE_PIPE_SIGNAL_SOURCE=%s", signal_source_name(m->signal_source, m->signal));
        add(&f, "COREDUMP_TIMESTAMP=%llu", (unsigned long long) m->dump_time * USEC_PER_SEC);
        add(&f, "COREDUMP_RLIMIT=%llu", (unsigned long long) m->core_limit);
        if (m->comm[0])
                add(&f, "COREDUMP_COMM=%s", m->comm);
        if (m->exe)
                add(&f, "COREDUMP_EXE=%s", m->exe);
        if (m->cwd)
                add(&f, "COREDUMP_CWD=%s", m->cwd);
        if (m->hostname[0])
                add(&f, "COREDUMP_HOSTNAME=%s", m->hostname);
        add_cmdline(&f, m);
        add_cgroup(&f, m);
        if (core_path && res) {
                add(&f, "COREDUMP_FILENAME=%s", core_path);
                add(&f, "COREDUMP_SIZE=%llu", (unsigned long long) res->core_size);
                if (res->truncated) {
                        add(&f, "COREDUMP_TRUNCATED=1");
                        if (res->truncated_reason)
                                add(&f, "COREDUMP_TRUNCATED_REASON=%s", res->truncated_reason);
                        if (res->truncated_cause[0])
                                add(&f, "COREDUMP_TRUNCATED_CAUSE=%s", res->truncated_cause);
                }
        }
        if (core_path && m->core_expected_size > 0)
                add(&f, "COREDUMP_EXPECTED_SIZE=%llu", (unsigned long long) m->core_expected_size);

        if (f.oom) {
                journal_fields_done(&f);
                return -ENOMEM;
        }
        *ret = f;
        return 0;
}

int journal_fields_send(const struct journal_fields *f) {
#ifndef CORE_PIPE_NO_JOURNAL
        return sd_journal_sendv(f->iov, (int) f->n);
#else
        /* Built without libsystemd (core_pipe-init): the record beside the core is all. */
        (void) f;
        return -EOPNOTSUPP;
#endif
}

int journal_record_crash(int priority, const struct core_metadata *m, const char *core_path,
                         const struct store_result *res, const char *message) {
        struct journal_fields f;
        int r = journal_crash_fields(priority, m, core_path, res, message, &f);
        if (r < 0)
                return r;
        r = journal_fields_send(&f);
        journal_fields_done(&f);
        return r;
}

int journal_record_crash_extra(int priority, const struct core_metadata *m, const char *core_path,
                               const struct store_result *res, const char *message, const char *const *extra,
                               size_t n_extra) {
        struct journal_fields f;
        int r = journal_crash_fields(priority, m, core_path, res, message, &f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_extra; i++)
                add(&f, "%s", extra[i]);
        r = f.oom ? -ENOMEM : journal_fields_send(&f);
        journal_fields_done(&f);
        return r;
}
