/* SPDX-License-Identifier: MIT */
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "parse.h"

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

uint64_t now_monotonic_usec(void) {
        return now_usec(CLOCK_MONOTONIC);
}

uint64_t now_realtime_usec(void) {
        return now_usec(CLOCK_REALTIME);
}

int fd_wait_until(int fd, short events, uint64_t deadline_usec) {
        for (;;) {
                int timeout_ms = -1;
                if (deadline_usec != USEC_INFINITY) {
                        uint64_t now = now_monotonic_usec();
                        if (now >= deadline_usec)
                                return -ETIMEDOUT;
                        timeout_ms = (int) MIN((deadline_usec - now + 999) / 1000, (uint64_t) 60000);
                }
                struct pollfd p = {.fd = fd, .events = events};
                int r = poll(&p, 1, timeout_ms);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (r == 0)
                        continue; /* re-check the deadline */
                if (p.revents & POLLNVAL)
                        return -EBADF;
                /* POLLHUP/POLLERR: let the following I/O call report what happened. */
                return 0;
        }
}

int send_message(int sock, const void *buf, size_t len, const int *fds, size_t n_fds, const struct ucred *cred,
                 uint64_t deadline_usec) {
        union {
                struct cmsghdr align;
                uint8_t buf[CMSG_SPACE(sizeof(int) * CP_MAX_FDS) + CMSG_SPACE(sizeof(struct ucred))];
        } control;
        struct iovec iov = {.iov_base = (void *) buf, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        size_t clen = 0;

        if (n_fds > CP_MAX_FDS)
                return -EINVAL;
        memset(&control, 0, sizeof(control));
        if (n_fds > 0 || cred) {
                mh.msg_control = control.buf;
                mh.msg_controllen = sizeof(control.buf);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                if (n_fds > 0) {
                        c->cmsg_level = SOL_SOCKET;
                        c->cmsg_type = SCM_RIGHTS;
                        c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                        memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
                        clen += CMSG_SPACE(sizeof(int) * n_fds);
                        c = CMSG_NXTHDR(&mh, c);
                }
                if (cred) {
                        c->cmsg_level = SOL_SOCKET;
                        c->cmsg_type = SCM_CREDENTIALS;
                        c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
                        memcpy(CMSG_DATA(c), cred, sizeof(*cred));
                        clen += CMSG_SPACE(sizeof(struct ucred));
                }
                mh.msg_controllen = clen;
        }

        for (;;) {
                ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                int r = fd_wait_until(sock, POLLOUT, deadline_usec);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return negative_errno();
                }
                return (size_t) n == len ? 0 : -EMSGSIZE;
        }
}

static void close_many(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                fds[i] = safe_close(fds[i]);
}

int recv_message(int sock, void *buf, size_t size, uint64_t deadline_usec, size_t *ret_len, int *ret_fds,
                 size_t max_fds, size_t *ret_n_fds, struct ucred *ret_cred, bool *ret_have_cred) {
        union {
                struct cmsghdr align;
                /* Room for more descriptors than we accept, so that extra ones arrive (and
                 * are closed) instead of silently truncating the control message. */
                uint8_t buf[CMSG_SPACE(sizeof(int) * 16) + CMSG_SPACE(sizeof(struct ucred))];
        } control;
        struct iovec iov = {.iov_base = buf, .iov_len = size};
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        int got[16];
        size_t n_got = 0;
        struct ucred cred = {0};
        bool have_cred = false;
        ssize_t n;
        int r;

        for (;;) {
                r = fd_wait_until(sock, POLLIN, deadline_usec);
                if (r < 0)
                        return r;
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
                if (n >= 0)
                        break;
                if (errno == EINTR || errno == EAGAIN)
                        continue;
                return negative_errno();
        }

        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        for (size_t i = 0; i < k; i++) {
                                int fd;
                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                                if (n_got < ELEMENTSOF(got))
                                        got[n_got++] = fd;
                                else
                                        safe_close(fd);
                        }
                } else if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                        memcpy(&cred, CMSG_DATA(c), sizeof(cred));
                        have_cred = true;
                }
        }

        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
                close_many(got, n_got);
                return -EMSGSIZE;
        }
        if (n == 0 && n_got == 0) {
                /* SOCK_SEQPACKET reports a closed peer as a zero-length read. */
                return -ECONNRESET;
        }
        if (n_got > max_fds) {
                close_many(got, n_got);
                return -ETOOMANYREFS;
        }
        if (ret_fds)
                memcpy(ret_fds, got, sizeof(int) * n_got);
        else
                close_many(got, n_got);
        if (ret_n_fds)
                *ret_n_fds = n_got;
        if (ret_cred)
                *ret_cred = cred;
        if (ret_have_cred)
                *ret_have_cred = have_cred;
        *ret_len = (size_t) n;
        return 0;
}

ssize_t read_full(int fd, void *buf, size_t size) {
        size_t done = 0;
        while (done < size) {
                ssize_t n = read(fd, (uint8_t *) buf + done, size - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}

int pread_full(int fd, void *buf, size_t size, uint64_t offset, size_t *ret_len) {
        size_t done = 0;
        while (done < size) {
                ssize_t n = pread(fd, (uint8_t *) buf + done, size - done, (off_t) (offset + done));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        if (ret_len)
                *ret_len = done;
        return 0;
}

int write_full(int fd, const void *buf, size_t size) {
        const uint8_t *p = buf;
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EIO;
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

int read_small_file_at(int dirfd, const char *path, char *buf, size_t size, size_t *ret_len) {
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        if (size == 0)
                return -ENOBUFS;
        ssize_t n = read_full(fd, buf, size - 1);
        if (n < 0)
                return (int) n;
        buf[n] = '\0';
        if (ret_len)
                *ret_len = (size_t) n;
        return 0;
}

int pidfd_get_pid(int pidfd, int *ret_pid) {
        char path[64], text[2048];
        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
        int r = read_small_file_at(AT_FDCWD, path, text, sizeof(text), NULL);
        if (r < 0)
                return r;
        int64_t v;
        r = proc_field_int64(text, "Pid:", 0, &v);
        if (r == -ENOENT)
                return -ENOTTY; /* an fd, but not a pidfd */
        if (r < 0)
                return r;
        if (v < -1 || v > INT32_MAX)
                return -ERANGE;
        *ret_pid = (int) v;
        return 0;
}

int pidfd_check_alive(int pidfd) {
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
                return negative_errno();
        return 0;
}

int pidfd_open_pid(pid_t pid) {
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
                return negative_errno();
        /* pidfd_open() descriptors are always close-on-exec. */
        return fd;
}

int flock_bounded(int fd, uint64_t timeout_usec) {
        uint64_t deadline = now_monotonic_usec() + timeout_usec;
        for (unsigned wait_ms = 1;; wait_ms = MIN(wait_ms * 2, 50U)) {
                if (flock(fd, LOCK_EX | LOCK_NB) >= 0)
                        return 0;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return negative_errno();
                if (now_monotonic_usec() >= deadline)
                        return -ETIMEDOUT;
                struct timespec ts = {.tv_nsec = (long) wait_ms * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

/* Ours: owned by the effective uid, writable by nobody else; a file with a single link. */
static int check_ours(int fd, mode_t type) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if ((st.st_mode & S_IFMT) != type)
                return type == S_IFDIR ? -ENOTDIR : -EINVAL;
        if (st.st_uid != geteuid() || (st.st_mode & 0022))
                return -EPERM;
        if (type == S_IFREG && st.st_nlink != 1)
                return -EPERM;
        return 0;
}

int open_private_file(const char *dir, const char *name) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        /* O_NOFOLLOW: a symbolic link in place of the directory or the file is refused, not
         * followed somewhere else. */
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        int r = check_ours(dfd, S_IFDIR);
        if (r < 0)
                return r;
        _cleanup_close_ int fd =
                openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        r = check_ours(fd, S_IFREG);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}
