/* SPDX-License-Identifier: MIT */
/*
 * A hostile receiver, for the tests that play the attacker. It listens on a SOCK_SEQPACKET
 * socket, appends one line per event to LOG and misbehaves as MODE says:
 *   noaccept   never accepts (the backlog fills)
 *   close      accepts and closes at once
 *   silent     reads the request, never answers
 *   garbage    answers the request with random bytes
 *   oversized  answers with a 64 KiB message
 *   hold       says "send", takes the core pipe and pidfd, never reads or answers
 *   steal      takes every descriptor the connecting helper has (SO_PEERPIDFD and
 *              pidfd_getfd(), as a container root with CAP_SYS_PTRACE can), logs what each is,
 *              then refuses the crash
 *   evil-receiver MODE SOCKET LOG [OWNER_UID]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "protocol.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

static FILE *logf_;

static void logline(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(logf_, fmt, ap);
        va_end(ap);
        fputc('\n', logf_);
        fflush(logf_);
}

static const char *kind(mode_t m) {
        return S_ISDIR(m)    ? "dir"
               : S_ISREG(m)  ? "file"
               : S_ISFIFO(m) ? "fifo"
               : S_ISSOCK(m) ? "socket"
               : S_ISCHR(m)  ? "chr"
                             : "other";
}

static void steal(int conn) {
        int pidfd;
        socklen_t len = sizeof(pidfd);
        if (getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0) {
                logline("steal: no SO_PEERPIDFD: %s", strerror(errno));
                return;
        }
        unsigned got = 0;
        for (int fd = 0; fd < 1024; fd++) {
                int f = (int) syscall(SYS_pidfd_getfd, pidfd, fd, 0);
                if (f < 0) {
                        if (errno != EBADF)
                                logline("steal: fd %d: %s", fd, strerror(errno));
                        continue;
                }
                struct stat st;
                char link[64], target[512] = "?";
                snprintf(link, sizeof(link), "/proc/self/fd/%d", f);
                ssize_t n = readlink(link, target, sizeof(target) - 1);
                if (n >= 0)
                        target[n] = '\0';
                int fl = fcntl(f, F_GETFL);
                fstat(f, &st);
                logline("stolen fd %d: %s%s %s", fd, kind(st.st_mode), fl >= 0 && (fl & O_PATH) ? " (O_PATH)" : "",
                        target);
                got++;
                close(f);
        }
        logline("steal: %u descriptors", got);
        close(pidfd);
}

/* Takes the core, reads it to the end, then reports a failure whose text reads like success. */
static void forge_report(int c) {
        uint8_t buf[CP_MSG_MAX];
        int k = cp_encode_verdict(CP_VERDICT_SEND, NULL, buf, sizeof(buf));
        send(c, buf, (size_t) k, MSG_NOSIGNAL);
        char cbuf[CMSG_SPACE(4 * sizeof(int))];
        struct iovec iov = {buf, sizeof(buf)};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        if (n < 0 || !cm || cm->cmsg_type != SCM_RIGHTS) {
                close(c);
                return;
        }
        int fds[2];
        memcpy(fds, CMSG_DATA(cm), sizeof(fds));
        static char sink[65536];
        while (read(fds[0], sink, sizeof(sink)) > 0)
                ;
        close(fds[0]);
        close(fds[1]);
        struct cp_outcome out = {.error = ENOSPC};
        snprintf(out.text, sizeof(out.text), "outcome=stored receiver=container file=forged");
        k = cp_encode_outcome(&out, buf, sizeof(buf));
        send(c, buf, (size_t) k, MSG_NOSIGNAL);
        logline("forged report sent");
        close(c);
}

int main(int argc, char *argv[]) {
        if (argc < 4) {
                fprintf(stderr, "usage: evil-receiver MODE SOCKET LOG [OWNER_UID]\n");
                return 2;
        }
        const char *mode = argv[1];
        logf_ = fopen(argv[3], "a");
        if (!logf_)
                return 1;
        int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[2]);
        unlink(argv[2]);
        if (s < 0 || bind(s, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            listen(s, strcmp(mode, "noaccept") == 0 ? 0 : 16) < 0) {
                fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
                return 1;
        }
        if (argc > 4 && chown(argv[2], (uid_t) atoi(argv[4]), (gid_t) -1) < 0)
                return 1;
        logline("listening %s", mode);
        if (strcmp(mode, "noaccept") == 0)
                for (;;)
                        pause();

        for (;;) {
                int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                logline("connection");
                if (strcmp(mode, "close") == 0) {
                        close(c);
                        continue;
                }
                uint8_t buf[CP_MSG_MAX];
                ssize_t n = recv(c, buf, sizeof(buf), 0);
                logline("request %zd bytes", n);
                if (strcmp(mode, "silent") == 0)
                        continue; /* leaks c: stays silent forever */
                if (strcmp(mode, "garbage") == 0) {
                        for (size_t i = 0; i < sizeof(buf); i++)
                                buf[i] = (uint8_t) rand();
                        send(c, buf, 200, MSG_NOSIGNAL);
                        continue;
                }
                if (strcmp(mode, "oversized") == 0) {
                        static uint8_t big[65536];
                        int k = cp_encode_verdict(CP_VERDICT_SEND, NULL, big, sizeof(big));
                        (void) k;
                        send(c, big, sizeof(big), MSG_NOSIGNAL);
                        continue;
                }
                if (strcmp(mode, "steal") == 0) {
                        steal(c);
                        int k = cp_encode_verdict(CP_VERDICT_REFUSE, "stolen", buf, sizeof(buf));
                        send(c, buf, (size_t) k, MSG_NOSIGNAL);
                        close(c);
                        continue;
                }
                if (strcmp(mode, "forge-refuse") == 0) {
                        /* A refusal whose reason reads like the helper's own success words. */
                        int k = cp_encode_verdict(CP_VERDICT_REFUSE, "outcome=stored receiver=container", buf,
                                                  sizeof(buf));
                        send(c, buf, (size_t) k, MSG_NOSIGNAL);
                        close(c);
                        continue;
                }
                if (strcmp(mode, "forge-report") == 0) {
                        forge_report(c);
                        continue;
                }
                if (strcmp(mode, "hold") == 0) {
                        int k = cp_encode_verdict(CP_VERDICT_SEND, NULL, buf, sizeof(buf));
                        send(c, buf, (size_t) k, MSG_NOSIGNAL);
                        char cbuf[CMSG_SPACE(4 * sizeof(int))];
                        struct iovec iov = {buf, sizeof(buf)};
                        struct msghdr mh = {
                                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
                        n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
                        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
                        logline("hand-over %zd bytes, %s", n,
                                cm && cm->cmsg_type == SCM_RIGHTS ? "holding the core" : "no fds");
                        continue; /* holds c and the fds, reads nothing */
                }
                logline("unknown mode");
                return 2;
        }
}
