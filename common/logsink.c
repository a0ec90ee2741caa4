/* SPDX-License-Identifier: MIT */
#include "logsink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"

static int send_to_syslog_socket(const char *line, size_t len) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return negative_errno();
        if (send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
                return negative_errno();
        return 0;
}

/* Opened once per process and kept: the kernel's rate limit on /dev/kmsg writers
 * (kernel.printk_devkmsg=ratelimit, its default) counts per open file, so a process that opened
 * it once per line was never limited. Separate processes (one helper per crash) still are not:
 * that limit is the helper's own, per container (pipe/lograte.c). */
static int send_to_kmsg(const char *line, size_t len) {
        static int kmsg_fd = -EBADF;
        int fd = __atomic_load_n(&kmsg_fd, __ATOMIC_ACQUIRE);
        if (fd < 0) {
                fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0)
                        return negative_errno();
                /* Threads of the receiver may race here: one descriptor wins, the others go. */
                int expected = -EBADF;
                if (!__atomic_compare_exchange_n(&kmsg_fd, &expected, fd, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                        safe_close(fd);
                        fd = expected;
                }
        }
        return write_full(fd, line, len);
}

int hostlog_send(int priority, const char *ident, const char *message) {
        char line[2048];
        int pri = (priority & LOG_PRIMASK) | LOG_DAEMON;
        struct tm tm;
        time_t t = time(NULL);
        char stamp[32];

        /* The classic BSD syslog form, which journald and every syslog daemon parse. */
        localtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
        int n = snprintf(line, sizeof(line), "<%d>%s %s[%d]: %s", pri, stamp, ident, (int) getpid(), message);
        if (n < 0)
                return -EINVAL;
        size_t len = MIN((size_t) n, sizeof(line) - 1);
        if (send_to_syslog_socket(line, len) >= 0)
                return 0;

        /* The kernel log takes one record per write and no timestamp of ours. */
        n = snprintf(line, sizeof(line), "<%d>%s[%d]: %s\n", pri, ident, (int) getpid(), message);
        if (n < 0)
                return -EINVAL;
        len = MIN((size_t) n, sizeof(line) - 1);
        if (line[len - 1] != '\n')
                line[len - 1] = '\n';
        return send_to_kmsg(line, len);
}

int hostlog_sendf(int priority, const char *ident, const char *fmt, ...) {
        char msg[1536];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return hostlog_send(priority, ident, msg);
}
