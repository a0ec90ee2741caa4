/* SPDX-License-Identifier: MIT */
#include "sockdiag.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"

#define DIAG_TCP_LISTEN 10 /* include/net/tcp_states.h: a listening unix socket's state */

static int refuse(char *why, size_t why_size, const char *path, const char *what) {
        snprintf(why, why_size, "%s: %s", path, what);
        return -EPERM;
}

/* One component: a directory (or, last, the socket) owned by root, with what others must not have. */
static int check_component(const char *path, bool last, struct stat *st, char *why, size_t why_size) {
        if (lstat(path, st) < 0) {
                int r = -errno;
                snprintf(why, why_size, "%s: %s", path, strerror(errno));
                return r;
        }
        if (S_ISLNK(st->st_mode))
                return refuse(why, why_size, path, "a symbolic link (the kernel follows none)");
        if (st->st_uid != 0)
                return refuse(why, why_size, path, "not owned by root");
        if (!last && !S_ISDIR(st->st_mode))
                return refuse(why, why_size, path, "not a directory");
        if (!last && (st->st_mode & (S_IWGRP | S_IWOTH)))
                return refuse(why, why_size, path, "a directory others can write to");
        if (last && !S_ISSOCK(st->st_mode))
                return refuse(why, why_size, path, "not a socket");
        if (last && (st->st_mode & 077))
                return refuse(why, why_size, path, "a socket that group or other can reach (it must be 0600)");
        return 0;
}

int socket_file_check(const char *path, dev_t *ret_dev, ino_t *ret_ino, char *why, size_t why_size) {
        char part[sizeof(((struct sockaddr_un *) 0)->sun_path)];
        struct stat st;
        size_t len = strlen(path);
        if (path[0] != '/' || len >= sizeof(part) || strstr(path, "/./") || strstr(path, "/../") ||
            strstr(path, "//") || path[len - 1] == '/')
                return refuse(why, why_size, path,
                              "not an absolute path without \".\", \"..\" or \"//\" under 108 bytes");
        int r = check_component("/", false, &st, why, why_size);
        for (size_t i = 1; r >= 0 && i <= len; i++) {
                if (path[i] != '/' && path[i] != '\0')
                        continue;
                memcpy(part, path, i);
                part[i] = '\0';
                r = check_component(part, path[i] == '\0', &st, why, why_size);
        }
        if (r < 0)
                return r;
        *ret_dev = st.st_dev;
        *ret_ino = st.st_ino;
        return 0;
}

/* One SOCK_DIAG_BY_FAMILY message (len bytes from its header on): 1 when it is a listening stream
 * socket bound to (dev, ino). Read with memcpy: a fuzzer's buffer has no alignment. */
static int diag_message_matches(const uint8_t *msg, size_t len, dev_t dev, ino_t ino) {
        struct unix_diag_msg m;
        if (len < NLMSG_LENGTH(sizeof(m)))
                return -EBADMSG;
        memcpy(&m, msg + NLMSG_HDRLEN, sizeof(m));
        size_t at = NLMSG_LENGTH(sizeof(m));
        while (len - at >= sizeof(struct nlattr)) {
                struct nlattr a;
                memcpy(&a, msg + at, sizeof(a));
                if (a.nla_len < sizeof(a) || a.nla_len > len - at)
                        return -EBADMSG;
                if ((a.nla_type & NLA_TYPE_MASK) == UNIX_DIAG_VFS &&
                    a.nla_len >= NLA_HDRLEN + sizeof(struct unix_diag_vfs)) {
                        struct unix_diag_vfs v;
                        memcpy(&v, msg + at + NLA_HDRLEN, sizeof(v));
                        /* The kernel's own dev_t (20 bits of minor), not stat()'s encoding. */
                        dev_t vdev = makedev(v.udiag_vfs_dev >> 20, v.udiag_vfs_dev & 0xfffff);
                        return m.udiag_type == SOCK_STREAM && m.udiag_state == DIAG_TCP_LISTEN && vdev == dev &&
                               v.udiag_vfs_ino == ino;
                }
                at += NLA_ALIGN(a.nla_len);
                if (at > len)
                        break;
        }
        return 0;
}

int unix_diag_parse(const uint8_t *buf, size_t len, dev_t dev, ino_t ino, bool *ret_done) {
        bool done = false;
        size_t at = 0;
        while (at < len && !done) {
                struct nlmsghdr h;
                if (len - at < sizeof(h))
                        return -EBADMSG;
                memcpy(&h, buf + at, sizeof(h));
                if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - at)
                        return -EBADMSG;
                if (h.nlmsg_type == NLMSG_ERROR) {
                        struct nlmsgerr e;
                        if (h.nlmsg_len < NLMSG_LENGTH(sizeof(e)))
                                return -EBADMSG;
                        memcpy(&e, buf + at + NLMSG_HDRLEN, sizeof(e));
                        return e.error < 0 && e.error > -4096 ? e.error : -EBADMSG;
                }
                done = h.nlmsg_type == NLMSG_DONE;
                int r = h.nlmsg_type == SOCK_DIAG_BY_FAMILY ? diag_message_matches(buf + at, h.nlmsg_len, dev, ino) : 0;
                if (r != 0)
                        return r;
                at += NLMSG_ALIGN(h.nlmsg_len);
        }
        *ret_done = done;
        return 0;
}

/* Asks for every listening unix socket of our network namespace with its VFS inode. */
static int diag_request(int fd) {
        struct {
                struct nlmsghdr h;
                struct unix_diag_req r;
        } req = {
                .h = {.nlmsg_len = sizeof(req),
                      .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                      .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                      .nlmsg_seq = 1},
                .r = {.sdiag_family = AF_UNIX,
                      .udiag_states = 1U << DIAG_TCP_LISTEN,
                      .udiag_show = UDIAG_SHOW_VFS | UDIAG_SHOW_NAME},
        };
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *) &kernel, sizeof(kernel)) < 0)
                return -errno;
        return 0;
}

/* Dumps the listening unix sockets: 1 when one is bound to (dev, ino), else 0. */
static int diag_listens(dev_t dev, ino_t ino) {
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        struct timeval tv = {.tv_sec = 5};
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        int r = diag_request(fd);
        static uint8_t buf[32768] __attribute__((aligned(8)));
        for (bool done = false; r >= 0 && !done;) {
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n <= 0)
                        return n < 0 ? -errno : -EPIPE;
                r = unix_diag_parse(buf, (size_t) n, dev, ino, &done);
                if (r > 0)
                        return 1;
        }
        return r;
}

int unix_socket_listens(const char *path, char *why, size_t why_size) {
        dev_t dev;
        ino_t ino;
        int r = socket_file_check(path, &dev, &ino, why, why_size);
        if (r == -ENOENT) {
                snprintf(why, why_size, "%s: no socket listens there (no socket file)", path);
                return 0;
        }
        if (r < 0)
                return r;
        r = diag_listens(dev, ino);
        if (r < 0)
                snprintf(why, why_size, "asking the kernel which unix sockets listen (sock_diag): %s", strerror(-r));
        else if (r == 0)
                snprintf(why, why_size, "%s: no socket listens on it (a stale socket file)", path);
        return r;
}

int served_socket_check(int fd, char *why, size_t why_size) {
        struct sockaddr_un sa = {0};
        socklen_t len = sizeof(sa);
        dev_t dev;
        ino_t ino;
        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0) {
                snprintf(why, why_size, "getsockname(): %s", strerror(errno));
                return -errno;
        }
        if (sa.sun_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] != '/') {
                snprintf(why, why_size, "not a unix socket bound to a path in the file system");
                return -EPERM;
        }
        sa.sun_path[MIN((size_t) len - offsetof(struct sockaddr_un, sun_path), sizeof(sa.sun_path) - 1)] = '\0';
        return socket_file_check(sa.sun_path, &dev, &ino, why, why_size);
}
