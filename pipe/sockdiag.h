/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Whether the socket FILE at a path is served: the kernel's coredump socket (@@PATH) is looked up
 * by the kernel from the host's root, so a listener's path name (/proc/net/unix) proves nothing
 * (a listener in another mount namespace can bind the same name). Here the file itself decides:
 * it must be a socket owned by root with no access for group or other, in directories owned by
 * root that others cannot write (no symlink anywhere), and a listening stream socket must be
 * bound to that very inode (sock_diag: NETLINK_SOCK_DIAG, UDIAG_SHOW_VFS). Never connects.
 *
 * Helpers here never log: they return a negative errno and write the reason into why.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Checks path (absolute, no symlink, no "." or ".."): every parent directory owned by root and
 * not writable by group or other, the file a socket owned by root with no group/other access.
 * 0 and its device and inode in ret_dev/ret_ino; -EPERM (why says what is wrong) or the errno of
 * a failed lstat(). */
int socket_file_check(const char *path, dev_t *ret_dev, ino_t *ret_ino, char *why, size_t why_size);

/* Parses one answer (len bytes, possibly several messages) of a unix sock_diag dump. 1: a
 * listening stream socket bound to the inode (dev, ino) is in it; 0: not in it, *ret_done set
 * when the dump ended (NLMSG_DONE); the errno of an NLMSG_ERROR, or -EBADMSG for a malformed
 * message. */
int unix_diag_parse(const uint8_t *buf, size_t len, dev_t dev, ino_t ino, bool *ret_done);

/* 1 when a listening stream socket of the caller's network namespace is bound to the socket file
 * at path and the file passes socket_file_check(); 0 when nothing listens on it; a negative errno
 * when the file fails the check or the dump fails (why says which). */
int unix_socket_listens(const char *path, char *why, size_t why_size);

/* The path a listening or accepted socket fd is bound to (getsockname), checked as above: the
 * socket a server may serve. 0, or a negative errno with why set. */
int served_socket_check(int fd, char *why, size_t why_size);
