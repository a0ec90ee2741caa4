/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef CORE_PIPE_NO_JOURNAL
#include <systemd/sd-journal.h>
#endif
#include <unistd.h>

#include "logsink.h"

static enum log_target target = LOG_TARGET_STDERR;
static int max_level = LOG_INFO;
static const char *ident = "core_pipe-receiver";

void log_set_ident(const char *name) {
        ident = name;
}

void log_set_target(enum log_target t) {
        target = t;
}

enum log_target log_get_target(void) {
        return target;
}

enum log_target log_default_target(void) {
#ifndef CORE_PIPE_NO_JOURNAL
        return access("/run/systemd/journal/socket", W_OK) >= 0 ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
#else
        return LOG_TARGET_STDERR;
#endif
}

void log_set_max_level(int level) {
        max_level = level;
}

static void log_write(int level, const char *msg) {
        static const char *names[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
        if (level > max_level)
                return;
        if (target == LOG_TARGET_HOST) {
                hostlog_send(level, ident, msg);
                return;
        }
#ifndef CORE_PIPE_NO_JOURNAL
        if (target == LOG_TARGET_JOURNAL &&
            sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level, "SYSLOG_IDENTIFIER=%s", ident, NULL) >= 0)
                return;
#endif
        fprintf(stderr, "%s: %s: %s\n", ident, names[level & 7], msg);
}

void log_msg(int level, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_write(level, msg);
}

int log_errno(int level, int error, const char *fmt, ...) {
        char msg[2048];
        va_list ap;
        int e = error < 0 ? -error : error;
        va_start(ap, fmt);
        int n = vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < sizeof(msg))
                snprintf(msg + n, sizeof(msg) - (size_t) n, ": %s", strerror(e));
        log_write(level, msg);
        return error < 0 ? error : -error;
}
