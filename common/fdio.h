/* SPDX-License-Identifier: MIT */
#pragma once

/* Descriptor and message helpers shared by the helper and the receiver. They never log. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define CP_MAX_FDS 2

uint64_t now_monotonic_usec(void);
uint64_t now_realtime_usec(void);

/* Waits until fd is ready for events or the CLOCK_MONOTONIC deadline (usec) passes:
 * 0 = ready, -ETIMEDOUT, or another negative errno. */
int fd_wait_until(int fd, short events, uint64_t deadline_usec);

/*
 * Sends one datagram with optional descriptors (SCM_RIGHTS) and credentials (SCM_CREDENTIALS).
 * MSG_NOSIGNAL is always set; a full socket is waited on until deadline_usec (CLOCK_MONOTONIC).
 * Returns 0 or a negative errno (-EMSGSIZE on a short send, -ETIMEDOUT).
 */
int send_message(int sock, const void *buf, size_t len, const int *fds, size_t n_fds, const struct ucred *cred,
                 uint64_t deadline_usec);

/*
 * Receives one datagram, waiting until deadline_usec (CLOCK_MONOTONIC). Descriptors are
 * received close-on-exec; up to max_fds are returned in ret_fds (the rest, and all of them on
 * any error, are closed). A truncated datagram or control message is -EMSGSIZE; a closed peer
 * is -ECONNRESET. ret_cred may be NULL; *ret_have_cred tells whether credentials came.
 */
int recv_message(int sock, void *buf, size_t size, uint64_t deadline_usec, size_t *ret_len, int *ret_fds,
                 size_t max_fds, size_t *ret_n_fds, struct ucred *ret_cred, bool *ret_have_cred);

/* Reads from fd until EOF or size bytes; returns the count or a negative errno. */
ssize_t read_full(int fd, void *buf, size_t size);
/* Reads from byte offset of fd with pread() (the file offset is left alone) until EOF or size
 * bytes: 0 and the count in *ret_len (NULL: not wanted), or a negative errno. */
int pread_full(int fd, void *buf, size_t size, uint64_t offset, size_t *ret_len);
/* Writes all of buf; returns 0 or a negative errno. */
int write_full(int fd, const void *buf, size_t size);

/* Reads a small file below dirfd (at most size-1 bytes) as a NUL-terminated string. */
int read_small_file_at(int dirfd, const char *path, char *buf, size_t size, size_t *ret_len);

/* The pid a pidfd refers to, as /proc/self/fdinfo shows it in our pid namespace
 * (0 = not visible, -1 = exited). -ENOTTY if fd is not a pidfd. */
int pidfd_get_pid(int pidfd, int *ret_pid);
/* 0 if the process is still alive, -ESRCH if it has exited, other negative errno on error. */
int pidfd_check_alive(int pidfd);
int pidfd_open_pid(pid_t pid);

/* Takes an exclusive flock() on fd, waiting at most timeout_usec for another holder (flock()
 * has no timeout of its own: it polls, backing off to 50 ms). 0, -ETIMEDOUT or a negative errno. */
int flock_bounded(int fd, uint64_t timeout_usec);

/* Opens (creating) the state file dir/name that the helpers share, making dir 0700 if missing.
 * Both must be ours (owned by the effective uid, writable by nobody else) and the file a
 * regular file of one link: -ENOTDIR, -EINVAL or -EPERM otherwise; a link in place of either is
 * refused, never followed. Returns a read-write descriptor. */
int open_private_file(const char *dir, const char *name);
