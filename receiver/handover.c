/* SPDX-License-Identifier: MIT */
#include "handover.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "protocol.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; Debian 12's headers predate it */
#endif

int handover_check_pidfd(int pidfd, pid_t pid, bool may_be_gone, const char **ret_why) {
        int pidfd_pid;
        int r = pidfd_get_pid(pidfd, &pidfd_pid);
        if (r < 0)
                return *ret_why = "second descriptor is not a pidfd", r;
        /* -1: reaped since the request. The request proved whose it was: the kernel gave its pid
         * in our pid namespace and our /proc showed it (the fallback: its helper pinned it). */
        if (pidfd_pid != pid && !(may_be_gone && pidfd_pid == -1))
                return *ret_why = "pidfd names another process", -ESRCH;
        return 0;
}

static int check_pipe(int fd, const char **ret_why) {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
                return *ret_why = "core descriptor is not a pipe", -EBADF;
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) != O_RDONLY)
                return *ret_why = "core descriptor is not read-only", -EBADF;
        return 0;
}

static int sockopt_int(int sock, int option, int *ret) {
        int v = 0;
        socklen_t len = sizeof(v);
        if (getsockopt(sock, SOL_SOCKET, option, &v, &len) < 0)
                return negative_errno();
        if (len != sizeof(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

/* The same process: the same pidfs inode (one per process since Linux 6.9). */
static bool same_process(int pidfd_a, int pidfd_b) {
        struct stat a, b;
        if (fstat(pidfd_a, &a) < 0 || fstat(pidfd_b, &b) < 0)
                return false;
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The peer against the pidfd: SO_PEERPIDFD, else SO_PEERCRED's pid. 1 = the same process. */
static int peer_is_process(int sock, int pidfd) {
        int peer = -EBADF;
        socklen_t len = sizeof(peer);
        if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &peer, &len) >= 0 && len == sizeof(peer) && peer >= 0) {
                _cleanup_close_ int peer_fd = peer;
                return same_process(peer_fd, pidfd);
        }
        if (errno != ENOPROTOOPT && errno != EINVAL && errno != EPERM && errno != EACCES)
                return negative_errno(); /* ESRCH: a peer gone that nobody can name any more */
        struct ucred cred;
        len = sizeof(cred);
        if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return negative_errno();
        int pidfd_pid;
        int r = pidfd_get_pid(pidfd, &pidfd_pid);
        if (r < 0)
                return r;
        /* 0: not in our pid namespace; -1: reaped, its number free for another. Neither proves. */
        return len == sizeof(cred) && cred.pid > 0 && pidfd_pid > 0 && cred.pid == pidfd_pid;
}

int handover_check_socket(int sock, int pidfd, const char **ret_why) {
        struct stat st;
        if (fstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
                return *ret_why = "core descriptor is not a socket", -EBADF;
        int domain, type, listening;
        if (sockopt_int(sock, SO_DOMAIN, &domain) < 0 || domain != AF_UNIX)
                return *ret_why = "core descriptor is not an AF_UNIX socket", -EBADF;
        if (sockopt_int(sock, SO_TYPE, &type) < 0 || type != SOCK_STREAM)
                return *ret_why = "core descriptor is not a stream socket", -EBADF;
        if (sockopt_int(sock, SO_ACCEPTCONN, &listening) < 0 || listening)
                return *ret_why = "core descriptor is a listening socket", -EBADF;
        struct sockaddr_un peer_addr;
        socklen_t alen = sizeof(peer_addr);
        if (getpeername(sock, (struct sockaddr *) &peer_addr, &alen) < 0)
                return *ret_why = "core socket is not connected", -ENOTCONN;
        int r = peer_is_process(sock, pidfd);
        if (r < 0)
                return *ret_why = "core socket's peer cannot be identified", r;
        if (r == 0)
                return *ret_why = "core socket's peer is not the crashed process", -EPERM;
        return 0;
}

int handover_check_core_fd(uint32_t transport, int core_fd, int pidfd, const char **ret_why) {
        switch (transport) {
        case 0:
        case CP_TRANSPORT_PIPE:
                return check_pipe(core_fd, ret_why);
        case CP_TRANSPORT_SOCKET:
                return handover_check_socket(core_fd, pidfd, ret_why);
        default:
                return *ret_why = "unknown transport", -EPROTONOSUPPORT;
        }
}
