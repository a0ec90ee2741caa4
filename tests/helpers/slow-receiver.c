/* SPDX-License-Identifier: MIT */
/*
 * A receiver that takes cores and holds the kernel's core_pipe_limit slots as long as it can,
 * for the tests that play a container denying other containers their cores. It listens on a
 * SOCK_SEQPACKET socket, serves every connection in a child of its own, appends one line per
 * event to LOG, and behaves as MODE says:
 *   trickle  says "send", takes the core and reads 4 KiB every 500 ms (the dump always moves,
 *            so a stall watchdog alone never fires), never reports
 *   drain    says "send", takes the core and reads it as fast as it can, never reports
 *   refuse   refuses every crash at once (each goes to the host's fallback)
 *   hold     logs "request", holds the verdict until the file LOG.go exists (at most 60 s), then
 *            refuses: a test may end the crashed process meanwhile
 *   slow-receiver MODE SOCKET LOG
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "protocol.h"

static FILE *logf_;
static const char *log_path;

static void logline(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(logf_, fmt, ap);
        va_end(ap);
        fputc('\n', logf_);
        fflush(logf_);
}

/* Says "send" and returns the core pipe handed over, or -1. */
static int take_core(int c) {
        uint8_t buf[CP_MSG_MAX];
        int k = cp_encode_verdict(CP_VERDICT_SEND, NULL, buf, sizeof(buf));
        if (k < 0 || send(c, buf, (size_t) k, MSG_NOSIGNAL) < 0)
                return -1;
        char cbuf[CMSG_SPACE(4 * sizeof(int))];
        struct iovec iov = {buf, sizeof(buf)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        if (recvmsg(c, &mh, MSG_CMSG_CLOEXEC) < 0)
                return -1;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        if (!cm || cm->cmsg_type != SCM_RIGHTS)
                return -1;
        int fds[2];
        memcpy(fds, CMSG_DATA(cm), sizeof(fds));
        return fds[0];
}

static void serve(int c, const char *mode) {
        uint8_t buf[CP_MSG_MAX];
        if (recv(c, buf, sizeof(buf), 0) <= 0)
                return;
        if (strcmp(mode, "hold") == 0) {
                logline("request");
                size_t n = strlen(log_path);
                char *go = malloc(n + 4);
                if (go) {
                        memcpy(go, log_path, n);
                        memcpy(go + n, ".go", 4);
                        struct timespec ts = {.tv_nsec = 10 * 1000 * 1000};
                        for (int i = 0; i < 6000 && access(go, F_OK) != 0; i++)
                                nanosleep(&ts, NULL);
                        free(go);
                }
                mode = "refuse";
        }
        if (strcmp(mode, "refuse") == 0) {
                int k = cp_encode_verdict(CP_VERDICT_REFUSE, "slow-receiver refuses", buf, sizeof(buf));
                send(c, buf, (size_t) k, MSG_NOSIGNAL);
                return;
        }
        int core = take_core(c);
        if (core < 0) {
                logline("no core handed over");
                return;
        }
        bool trickle = strcmp(mode, "trickle") == 0;
        size_t chunk = trickle ? 4096 : 1 << 20;
        char *data = malloc(chunk);
        unsigned long long total = 0;
        logline("%s: took a core", mode);
        for (;;) {
                ssize_t n = read(core, data, chunk);
                if (n <= 0)
                        break;
                total += (unsigned long long) n;
                if (trickle) {
                        struct timespec ts = {.tv_nsec = 500 * 1000 * 1000};
                        nanosleep(&ts, NULL);
                }
        }
        /* The pipe is closed (the process is released); the connection is held a while more,
         * with no report, as a hostile receiver would. */
        close(core);
        logline("%s: core ended after %llu bytes", mode, total);
        sleep(5);
}

int main(int argc, char *argv[]) {
        if (argc < 4) {
                fprintf(stderr, "usage: slow-receiver MODE SOCKET LOG\n");
                return 2;
        }
        log_path = argv[3];
        logf_ = fopen(argv[3], "a");
        if (!logf_)
                return 1;
        signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[2]);
        unlink(argv[2]);
        if (s < 0 || bind(s, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(s, 128) < 0) {
                fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
                return 1;
        }
        logline("listening %s", argv[1]);
        for (;;) {
                int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                pid_t pid = fork();
                if (pid == 0) {
                        close(s);
                        serve(c, argv[1]);
                        _exit(0);
                }
                close(c);
        }
}
