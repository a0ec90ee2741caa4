/* SPDX-License-Identifier: MIT */
/*
 * "A socket listens at PATH", judged by the socket file (sockdiag.c): the parser of the kernel's
 * sock_diag answer on built messages (a match, the wrong inode, device, type or state, an error,
 * malformed lengths), and against the kernel itself with sockets of our own.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "macro.h"
#include "sockdiag.h"
#include "tap.h"

/* Appends one SOCK_DIAG_BY_FAMILY message (type, state, and a VFS attribute (kdev, ino)). */
static size_t put_diag(uint8_t *buf, uint8_t type, uint8_t state, uint32_t kdev, uint32_t ino) {
        struct unix_diag_msg m = {.udiag_family = AF_UNIX, .udiag_type = type, .udiag_state = state};
        struct unix_diag_vfs v = {.udiag_vfs_ino = ino, .udiag_vfs_dev = kdev};
        struct nlattr a = {.nla_len = NLA_HDRLEN + sizeof(v), .nla_type = UNIX_DIAG_VFS};
        struct nlmsghdr h = {.nlmsg_len = NLMSG_LENGTH(sizeof(m)) + NLA_ALIGN(a.nla_len),
                             .nlmsg_type = SOCK_DIAG_BY_FAMILY};
        memcpy(buf, &h, sizeof(h));
        memcpy(buf + NLMSG_HDRLEN, &m, sizeof(m));
        memcpy(buf + NLMSG_LENGTH(sizeof(m)), &a, sizeof(a));
        memcpy(buf + NLMSG_LENGTH(sizeof(m)) + NLA_HDRLEN, &v, sizeof(v));
        return NLMSG_ALIGN(h.nlmsg_len);
}

static size_t put_done(uint8_t *buf) {
        struct nlmsghdr h = {.nlmsg_len = NLMSG_LENGTH(sizeof(int)), .nlmsg_type = NLMSG_DONE};
        memset(buf, 0, h.nlmsg_len);
        memcpy(buf, &h, sizeof(h));
        return NLMSG_ALIGN(h.nlmsg_len);
}

static void test_parse(void) {
        uint8_t buf[1024];
        bool done = false;
        dev_t dev = makedev(0, 300); /* a minor over 255: the kernel's dev_t and stat()'s differ */
        uint32_t kdev = 300;
        size_t n = put_diag(buf, SOCK_STREAM, 10, kdev, 42);
        CHECK(unix_diag_parse(buf, n, dev, 42, &done) == 1, "a listening stream socket on the inode");
        CHECK(unix_diag_parse(buf, n, dev, 43, &done) == 0 && !done, "another inode: not it, dump goes on");
        CHECK(unix_diag_parse(buf, n, makedev(0, 44), 42, &done) == 0, "another device: not it");
        n = put_diag(buf, SOCK_SEQPACKET, 10, kdev, 42);
        CHECK(unix_diag_parse(buf, n, dev, 42, &done) == 0, "a SOCK_SEQPACKET listener is not a coredump socket");
        n = put_diag(buf, SOCK_STREAM, 7, kdev, 42);
        n += put_done(buf + n);
        done = false;
        CHECK(unix_diag_parse(buf, n, dev, 42, &done) == 0 && done, "not listening, then the dump's end");
        n = put_diag(buf, SOCK_STREAM, 10, kdev, 1);
        n += put_diag(buf + n, SOCK_STREAM, 10, kdev, 42);
        CHECK(unix_diag_parse(buf, n, dev, 42, &done) == 1, "found in the second message of an answer");
        CHECK(unix_diag_parse(buf, n - 1, dev, 42, &done) == -EBADMSG, "a message cut short");
        struct nlmsghdr h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct nlmsgerr)), .nlmsg_type = NLMSG_ERROR};
        struct nlmsgerr e = {.error = -EPERM};
        memcpy(buf, &h, sizeof(h));
        memcpy(buf + NLMSG_HDRLEN, &e, sizeof(e));
        CHECK(unix_diag_parse(buf, h.nlmsg_len, dev, 42, &done) == -EPERM, "the kernel's error");
        h = (struct nlmsghdr){.nlmsg_len = 4, .nlmsg_type = SOCK_DIAG_BY_FAMILY};
        memcpy(buf, &h, sizeof(h));
        CHECK(unix_diag_parse(buf, sizeof(h), dev, 42, &done) == -EBADMSG, "a length below the header");
}

/* A socket of ours at path with mode, listening or only bound. */
static int bind_at(const char *path, mode_t mode, bool listening) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        (void) unlink(path);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
            (listening && listen(fd, 1) < 0))
                return -1;
        return fd;
}

static void test_kernel(void) {
        char dir[] = "/run/test-sockdiag-XXXXXX", path[128], why[256];
        if (geteuid() != 0 || !mkdtemp(dir)) {
                CHECK(true, "# SKIP not root (the socket file must be root's)");
                return;
        }
        snprintf(path, sizeof(path), "%s/s", dir);
        int fd = bind_at(path, 0600, true);
        CHECK(unix_socket_listens(path, why, sizeof(why)) == 1, "our listening 0600 socket is found: %s", why);
        CHECK(served_socket_check(fd, why, sizeof(why)) == 0, "and may be served");
        safe_close(fd);
        CHECK(unix_socket_listens(path, why, sizeof(why)) == 0, "a stale socket file: nobody listens (%s)", why);
        fd = bind_at(path, 0600, false);
        CHECK(unix_socket_listens(path, why, sizeof(why)) == 0, "bound but not listening (%s)", why);
        safe_close(fd);
        fd = bind_at(path, 0666, true);
        CHECK(unix_socket_listens(path, why, sizeof(why)) == -EPERM, "a socket others can reach: %s", why);
        CHECK(served_socket_check(fd, why, sizeof(why)) == -EPERM, "is not served: %s", why);
        safe_close(fd);
        (void) chmod(dir, 0777);
        fd = bind_at(path, 0600, true);
        CHECK(unix_socket_listens(path, why, sizeof(why)) == -EPERM, "in a directory others can write: %s", why);
        safe_close(fd);
        (void) unlink(path);
        (void) chmod(dir, 0700);
        CHECK(unix_socket_listens(path, why, sizeof(why)) == 0, "no file at all: %s", why);
        (void) rmdir(dir);
}

int main(void) {
        test_parse();
        test_kernel();
        return tap_done();
}
