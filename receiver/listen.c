/* SPDX-License-Identifier: MIT */
#include "listen.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "macro.h"

int listen_socket_create(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        int one = 1;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        if (lstat(path, &st) >= 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                if (unlink(path) < 0)
                        return negative_errno();
        }
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return negative_errno();
        /* Bind under a tight umask: the socket is never reachable with looser permissions. */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return negative_errno();
        if (chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
                r = negative_errno();
                (void) unlink(path);
                return r;
        }
        return TAKE_FD(fd);
}

static void reap(unsigned *children) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (*children > 0)
                        (*children)--;
                if (WIFSIGNALED(status))
                        log_error("Connection handler %d was killed by signal %d", (int) pid, WTERMSIG(status));
        }
}

int listen_loop(int listen_fd, unsigned max_children, const struct receiver_options *o) {
        sigset_t mask, old;
        unsigned children = 0;
        bool stopping = false;

        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
                return negative_errno();
        _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return negative_errno();

        while (!stopping || children > 0) {
                struct pollfd p[2] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = listen_fd, .events = (!stopping && children < max_children) ? POLLIN : 0 },
                };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == sizeof(si))
                                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                                        if (!stopping)
                                                log_info("Stopping; waiting for %u crash(es) in flight", children);
                                        stopping = true;
                                }
                        reap(&children);
                }
                if (!(p[1].revents & POLLIN))
                        continue;

                int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (conn < 0) {
                        if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                                log_warning_errno(negative_errno(), "accept() failed");
                        continue;
                }
                pid_t pid = fork();
                if (pid < 0) {
                        /* Closing the connection makes the helper fall back: the core is not lost. */
                        log_error_errno(negative_errno(), "Cannot fork a connection handler");
                        safe_close(conn);
                        continue;
                }
                if (pid == 0) {
                        safe_close(sfd);
                        safe_close(listen_fd);
                        sigprocmask(SIG_SETMASK, &old, NULL);
                        int r = handle_connection(conn, o);
                        _exit(r < 0 ? 1 : 0);
                }
                children++;
                safe_close(conn);
        }
        return 0;
}
