/* SPDX-License-Identifier: MIT */
/*
 * The hand-over's descriptors (receiver/handover.c): a pipe request takes only a read-only pipe;
 * a socket request takes only a connected AF_UNIX stream socket whose peer is the process of the
 * handed pidfd, also once that process is reaped; the pidfd must name the request's process.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "handover.h"
#include "macro.h"
#include "protocol.h"
#include "tap.h"

static char dir[] = "/tmp/cp-handover-XXXXXX";

static bool said(const char *why, const char *what) {
        return why && strstr(why, what);
}

static void test_pidfd(void) {
        const char *why = NULL;
        _cleanup_close_ int self = pidfd_open_pid(getpid());
        CHECK(handover_check_pidfd(self, getpid(), false, &why) == 0, "a pidfd of the request's process is taken");
        CHECK(handover_check_pidfd(self, getpid() + 1, false, &why) == -ESRCH && said(why, "another process"),
              "a pidfd of another process is refused");
        int p[2];
        CHECK(pipe(p) == 0, "pipe");
        CHECK(handover_check_pidfd(p[0], getpid(), false, &why) < 0 && said(why, "not a pidfd"),
              "a descriptor that is no pidfd is refused");
        close(p[0]);
        close(p[1]);
}

static void test_pipe_transport(void) {
        const char *why = NULL;
        int p[2], s[2];
        _cleanup_close_ int self = pidfd_open_pid(getpid());
        CHECK(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "pipe and socketpair");
        CHECK(handover_check_core_fd(CP_TRANSPORT_PIPE, p[0], self, &why) == 0, "pipe request: a pipe's read end");
        CHECK(handover_check_core_fd(0, p[0], self, &why) == 0, "transport 0 is the pipe");
        CHECK(handover_check_core_fd(CP_TRANSPORT_PIPE, p[1], self, &why) < 0 && said(why, "read-only"),
              "pipe request: a write end is refused");
        CHECK(handover_check_core_fd(CP_TRANSPORT_PIPE, s[0], self, &why) < 0 && said(why, "not a pipe"),
              "pipe request: a socket is refused");
        CHECK(handover_check_core_fd(7, p[0], self, &why) == -EPROTONOSUPPORT && said(why, "unknown transport"),
              "an unknown transport is refused");
        close(p[0]);
        close(p[1]);
        close(s[0]);
        close(s[1]);
}

/* Socket kinds that are not the kernel's connection, with the socket request. */
static void test_wrong_sockets(int self) {
        const char *why = NULL;
        int p[2], s[2];
        CHECK(pipe(p) == 0, "pipe");
        CHECK(handover_check_core_fd(CP_TRANSPORT_SOCKET, p[0], self, &why) < 0 && said(why, "not a socket"),
              "socket request: a pipe is refused");
        close(p[0]);
        close(p[1]);
        CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s) == 0, "seqpacket pair");
        CHECK(handover_check_socket(s[0], self, &why) < 0 && said(why, "not a stream socket"),
              "a SOCK_SEQPACKET socket is refused");
        close(s[0]);
        close(s[1]);
        CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, s) == 0, "datagram pair");
        CHECK(handover_check_socket(s[0], self, &why) < 0 && said(why, "not a stream socket"),
              "a SOCK_DGRAM socket is refused");
        close(s[0]);
        close(s[1]);
        _cleanup_close_ int inet = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(inet >= 0 && handover_check_socket(inet, self, &why) < 0 && said(why, "not an AF_UNIX"),
              "an AF_INET socket is refused");
        _cleanup_close_ int lone = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK(handover_check_socket(lone, self, &why) == -ENOTCONN && said(why, "not connected"),
              "an unconnected stream socket is refused");
}

static int listen_at(const char *path) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
        int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l < 0 || bind(l, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(l, 4) < 0)
                return -1;
        return l;
}

/* A child connects and waits for a byte; the caller accepts: a connection whose peer is the child. */
static pid_t connect_child(const char *path, int *ret_go) {
        int go[2];
        if (pipe(go) < 0)
                return -1;
        pid_t pid = fork();
        if (pid == 0) {
                close(go[1]);
                struct sockaddr_un a = {.sun_family = AF_UNIX};
                snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
                int c = socket(AF_UNIX, SOCK_STREAM, 0);
                if (connect(c, (struct sockaddr *) &a, sizeof(a)) < 0)
                        _exit(1);
                char b;
                (void) read(go[0], &b, 1);
                _exit(0);
        }
        close(go[0]);
        *ret_go = go[1];
        return pid;
}

static void test_peer(int self) {
        const char *why = NULL;
        char path[128];
        snprintf(path, sizeof(path), "%s/kernel.socket", dir);
        _cleanup_close_ int l = listen_at(path);
        CHECK(l >= 0, "listening at %s", path);
        CHECK(handover_check_socket(l, self, &why) < 0 && said(why, "listening"), "a listening socket is refused");
        int go = -1;
        pid_t child = connect_child(path, &go);
        _cleanup_close_ int conn = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        _cleanup_close_ int child_fd = pidfd_open_pid(child);
        CHECK(conn >= 0 && child_fd >= 0, "accepted the child's connection");
        CHECK(handover_check_socket(conn, child_fd, &why) == 0, "the connection whose peer is the pidfd's process");
        CHECK(handover_check_socket(conn, self, &why) == -EPERM && said(why, "not the crashed process"),
              "the same connection with another process's pidfd is refused");
        close(go);
        int status;
        CHECK(waitpid(child, &status, 0) == child, "the peer exited and is reaped");
        CHECK(handover_check_socket(conn, child_fd, &why) == 0, "a reaped peer is still told apart (pidfs)");
        CHECK(handover_check_socket(conn, self, &why) == -EPERM, "and still not taken for another process");

        /* A socketpair's peer is the process that made it: this one, not a child. */
        int s[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "stream pair");
        CHECK(handover_check_socket(s[0], self, &why) == 0, "a pair made by the pidfd's process: its peer");
        CHECK(handover_check_core_fd(CP_TRANSPORT_SOCKET, s[0], child_fd, &why) == -EPERM,
              "a pair made by another process is refused");
        close(s[0]);
        close(s[1]);
        unlink(path);
}

int main(void) {
        if (!mkdtemp(dir))
                return 1;
        test_pidfd();
        test_pipe_transport();
        _cleanup_close_ int self = pidfd_open_pid(getpid());
        test_wrong_sockets(self);
        test_peer(self);
        rmdir(dir);
        return tap_done();
}
