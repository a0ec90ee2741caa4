/* SPDX-License-Identifier: MIT */
/*
 * A stand-in host helper for measuring how fast a core comes out of the kernel by each transport,
 * with the real receiver or without one. Not a test: bench/ and tests/e2e drive the real helper.
 *
 *   transport-bench serve PATH COUNT READER OUT        a @@PATH coredump socket server: takes COUNT
 *                                                     kernel connections, acks KERNEL|WAIT
 *   transport-bench pipe READER OUT %P                 a |pattern helper: the core on stdin (1 MiB pipe)
 *
 * READER: "receiver:PATH:STORE" hands the core to the receiver at PATH (--fallback, as the host
 * helper does: REQUEST, HANDOVER of the core's descriptor and the pidfd, OUTCOME) storing in
 * STORE; "read:N" drains it here with read() of N KiB; "waitall:N" with recv(MSG_WAITALL);
 * "splice" through a pipe into /dev/null. One line per crash is appended to OUT:
 *   "<transport> <reader> <bytes> <seconds from accept or exec to the core stored or drained>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "protocol.h"

#define COREDUMP_KERNEL 1ULL
#define COREDUMP_WAIT 8ULL

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static long long drain(int fd, const char *reader) {
        long long total = 0;
        if (strncmp(reader, "probe", 5) == 0) {
                /* How much the kernel queues while nobody reads: "probe", "probe-rcvbuf" (the
                 * accepted end's SO_RCVBUFFORCE at 8 MiB), "probe-sndbuf" (its SO_SNDBUFFORCE). */
                int big = 8 << 20;
                if (strcmp(reader, "probe-rcvbuf") == 0)
                        (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
                if (strcmp(reader, "probe-sndbuf") == 0)
                        (void) setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
                usleep(300 * 1000);
                int queued = -1;
                (void) ioctl(fd, FIONREAD, &queued);
                fprintf(stderr, "%s: %d bytes queued\n", reader, queued);
                return drain(fd, "read:2048");
        }
        if (strcmp(reader, "splice") == 0) {
                int p[2], null = open("/dev/null", O_WRONLY);
                if (pipe(p) < 0 || null < 0)
                        return -1;
                (void) fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
                for (;;) {
                        ssize_t n = splice(fd, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE);
                        if (n <= 0)
                                break;
                        total += n;
                        while (n > 0) {
                                ssize_t m = splice(p[0], NULL, null, NULL, (size_t) n, SPLICE_F_MOVE);
                                if (m <= 0)
                                        return -1;
                                n -= m;
                        }
                }
                return total;
        }
        size_t size = (size_t) atoi(strchr(reader, ':') + 1) << 10;
        int flags = strncmp(reader, "waitall", 7) == 0 ? MSG_WAITALL : 0;
        char *buf = malloc(size);
        for (;;) {
                ssize_t n = flags ? recv(fd, buf, size, flags) : read(fd, buf, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                total += n;
        }
        free(buf);
        return total;
}

/* The host helper's part with the receiver: one crash, start to OUTCOME. */
static long long to_receiver(int core_fd, pid_t pid, uint32_t transport, const char *spec) {
        char path[512], store[512];
        if (sscanf(spec, "receiver:%511[^:]:%511s", path, store) != 2)
                return -1;
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return -1;
        pid_t child = fork();
        if (child == 0) {
                char lp[32], st[600];
                dup2(sp[1], 3);
                snprintf(lp, sizeof(lp), "LISTEN_PID=%d", (int) getpid());
                snprintf(st, sizeof(st), "--store=%s", store);
                char *env[] = {"LISTEN_FDS=1", lp, "PATH=/usr/bin:/bin", NULL};
                char *argv[] = {path, "--fallback", "--config=/dev/null", st, NULL};
                execve(path, argv, env);
                _exit(127);
        }
        close(sp[1]);
        struct cp_request req = {.dump_mode = 1,
                                 .dump_time = (uint64_t) time(NULL),
                                 .core_limit = UINT64_MAX,
                                 .transport = transport,
                                 .flags = transport == CP_TRANSPORT_SOCKET ? CP_REQUEST_SIGNAL_UNKNOWN : 0,
                                 .signal = transport == CP_TRANSPORT_SOCKET ? 0 : 11};
        uint8_t buf[CP_MSG_MAX];
        size_t len;
        struct ucred cred = {.pid = pid, .uid = 0, .gid = 0};
        uint64_t deadline = now_monotonic_usec() + 600ULL * 1000000;
        int n = cp_encode_request(&req, buf, sizeof(buf));
        if (n < 0 || send_message(sp[0], buf, (size_t) n, NULL, 0, &cred, deadline) < 0)
                return -1;
        struct cp_verdict_msg v;
        if (recv_message(sp[0], buf, sizeof(buf), deadline, &len, NULL, 0, NULL, NULL, NULL) < 0 ||
            cp_decode_verdict(buf, len, &v) < 0 || v.verdict != CP_VERDICT_SEND) {
                fprintf(stderr, "no SEND: %s\n", v.reason);
                return -1;
        }
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        int fds[2] = {core_fd, pidfd};
        n = cp_encode_handover(buf, sizeof(buf));
        if (send_message(sp[0], buf, (size_t) n, fds, 2, NULL, deadline) < 0)
                return -1;
        close(core_fd); /* the helper's copy: the kernel's WAIT waits for every one */
        close(pidfd);
        struct cp_outcome out = {0};
        if (recv_message(sp[0], buf, sizeof(buf), deadline, &len, NULL, 0, NULL, NULL, NULL) < 0 ||
            cp_decode_outcome(buf, len, &out) < 0)
                return -1;
        close(sp[0]);
        waitpid(child, NULL, 0);
        return out.error ? -1 : (long long) out.core_size;
}

static void report(const char *out, const char *transport, const char *reader, long long bytes, double secs) {
        FILE *f = fopen(out, "a");
        if (f) {
                fprintf(f, "%s %s %lld %.3f\n", transport, reader, bytes, secs);
                fclose(f);
        }
}

static long long take(int fd, pid_t pid, uint32_t transport, const char *reader) {
        if (strncmp(reader, "receiver:", 9) == 0)
                return to_receiver(fd, pid, transport, reader);
        long long n = drain(fd, reader);
        close(fd);
        return n;
}

/* The kernel's request, the ack, the mark: the connection is then at the core's first byte. */
static int kernel_handshake(int c) {
        uint32_t sizes[2];
        uint8_t req[256];
        if (recv(c, sizes, 8, MSG_PEEK | MSG_WAITALL) != 8 || sizes[0] > sizeof(req) || sizes[0] < 16)
                return -1;
        if (recv(c, req, sizes[0], MSG_WAITALL) != (ssize_t) sizes[0])
                return -1;
        struct {
                uint32_t size, spare;
                uint64_t mask;
        } ack = {.size = 16, .mask = COREDUMP_KERNEL | COREDUMP_WAIT};
        uint64_t offered;
        memcpy(&offered, req + 8, 8);
        if (!(offered & COREDUMP_WAIT))
                ack.mask = COREDUMP_KERNEL;
        if (send(c, &ack, sizeof(ack), MSG_NOSIGNAL) != sizeof(ack))
                return -1;
        uint32_t mark;
        if (recv(c, &mark, 4, MSG_WAITALL) != 4 || mark != 0)
                return -1;
        return 0;
}

static int serve(const char *path, int count, const char *reader, const char *out) {
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
        unlink(path);
        if (bind(l, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(l, 16) < 0)
                return perror("listen"), 1;
        printf("listening\n");
        fflush(stdout);
        for (int i = 0; i < count; i++) {
                int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
                double t0 = now();
                struct ucred cred;
                socklen_t len = sizeof(cred);
                if (c < 0 || getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || kernel_handshake(c) < 0) {
                        fprintf(stderr, "bad kernel connection\n");
                        continue;
                }
                long long n = take(c, cred.pid, CP_TRANSPORT_SOCKET, reader);
                report(out, "socket", reader, n, now() - t0);
        }
        unlink(path);
        return 0;
}

int main(int argc, char *argv[]) {
        if (argc == 6 && strcmp(argv[1], "serve") == 0)
                return serve(argv[2], atoi(argv[3]), argv[4], argv[5]);
        if (argc == 5 && strcmp(argv[1], "pipe") == 0) {
                double t0 = now();
                char err[4096];
                snprintf(err, sizeof(err), "%s.err", argv[3]); /* the kernel gives a pipe helper no stderr */
                int efd = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
                if (efd >= 0)
                        dup2(efd, 2);
                (void) fcntl(0, F_SETPIPE_SZ, 1 << 20); /* as the host helper does */
                long long n = take(dup(0), (pid_t) atoi(argv[4]), CP_TRANSPORT_PIPE, argv[2]);
                close(0);
                report(argv[3], "pipe", argv[2], n, now() - t0);
                return 0;
        }
        fprintf(stderr, "usage: see the comment at the top\n");
        return 2;
}
