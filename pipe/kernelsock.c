/* SPDX-License-Identifier: MIT */
#include "kernelsock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "fdio.h"
#include "macro.h"
#include "parse.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* include/uapi/linux/pidfd.h of 6.18: 80 bytes, so PIDFD_GET_INFO is 0xc050ff0b. */
struct kcore_pidfd_info {
        uint64_t mask;
        uint64_t cgroupid;
        uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        int32_t exit_code;
        uint32_t coredump_mask;
        uint32_t spare1;
        uint64_t spare2;
};
_Static_assert(sizeof(struct kcore_pidfd_info) == 80, "struct pidfd_info of Linux 6.18 is 80 bytes");
#define KCORE_PIDFD_GET_INFO _IOWR(0xFF, 11, struct kcore_pidfd_info)
#define KCORE_PIDFD_INFO_CREDS (UINT64_C(1) << 1)
#define KCORE_PIDFD_INFO_COREDUMP (UINT64_C(1) << 4)
#define KCORE_PIDFD_COREDUMPED (1U << 0)
#define KCORE_PIDFD_COREDUMP_USER (1U << 2)
#define KCORE_PIDFD_COREDUMP_ROOT (1U << 3)

static uint32_t get_u32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof(v)); /* the kernel's own byte order: it is the same machine */
        return v;
}

int kcore_request_parse(const uint8_t *buf, size_t len, struct kcore_request *ret) {
        struct kcore_request r;
        if (len < KCORE_REQ_SIZE_VER0 || len > KCORE_REQ_SIZE_MAX)
                return -EBADMSG;
        r.size = get_u32(buf);
        r.size_ack = get_u32(buf + 4);
        memcpy(&r.mask, buf + 8, sizeof(r.mask));
        if (r.size != len || r.size_ack < KCORE_ACK_SIZE_VER0)
                return -EBADMSG;
        if ((r.mask & (KCORE_KERNEL | KCORE_REJECT)) != (KCORE_KERNEL | KCORE_REJECT))
                return -EBADMSG;
        *ret = r;
        return 0;
}

void kcore_ack_encode(uint64_t mask, uint8_t out[KCORE_ACK_SIZE_VER0]) {
        uint32_t size = KCORE_ACK_SIZE_VER0, spare = 0;
        memcpy(out, &size, 4);
        memcpy(out + 4, &spare, 4);
        memcpy(out + 8, &mask, 8);
}

int kcore_mark_parse(const uint8_t *buf, size_t len, uint32_t *ret) {
        if (len != 4)
                return -EBADMSG;
        *ret = get_u32(buf);
        return 0;
}

const char *kcore_mark_to_string(uint32_t mark) {
        switch (mark) {
        case KCORE_MARK_REQACK:
                return "accepted";
        case KCORE_MARK_MINSIZE:
                return "ack too small";
        case KCORE_MARK_MAXSIZE:
                return "ack too large";
        case KCORE_MARK_UNSUPPORTED:
                return "unsupported ack";
        case KCORE_MARK_CONFLICTING:
                return "conflicting ack";
        default:
                return "unknown mark";
        }
}

/* Receives exactly size bytes (flags MSG_PEEK or 0) until the deadline, without touching the
 * file's O_NONBLOCK (shared with whoever gets the connection later). */
static int recv_exact(int conn, void *buf, size_t size, int flags, uint64_t deadline_usec) {
        size_t got = 0;
        while (got < size) {
                int r = fd_wait_until(conn, POLLIN, deadline_usec);
                if (r < 0)
                        return r;
                ssize_t n = recv(conn, (uint8_t *) buf + (flags & MSG_PEEK ? 0 : got),
                                 flags & MSG_PEEK ? size : size - got, flags | MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return -ECONNRESET; /* the kernel closed: it gave up on the crash */
                if (flags & MSG_PEEK) {
                        if ((size_t) n == size)
                                return 0;
                        /* A partial peek: poll() says readable at once, so wait a little. */
                        nanosleep(&(struct timespec){.tv_nsec = USEC_PER_MSEC * 1000}, NULL);
                        continue;
                }
                got += (size_t) n;
        }
        return 0;
}

int kcore_request_read(int conn, uint64_t deadline_usec, struct kcore_request *ret) {
        uint8_t buf[KCORE_REQ_SIZE_MAX];
        int r = recv_exact(conn, buf, 4, MSG_PEEK, deadline_usec);
        if (r < 0)
                return r;
        uint32_t size = get_u32(buf);
        if (size < KCORE_REQ_SIZE_VER0 || size > KCORE_REQ_SIZE_MAX)
                return -EBADMSG;
        r = recv_exact(conn, buf, size, 0, deadline_usec);
        if (r < 0)
                return r;
        return kcore_request_parse(buf, size, ret);
}

static int send_ack(struct kcore_conn *k, int conn, uint64_t mask, uint64_t deadline_usec) {
        uint8_t ack[KCORE_ACK_SIZE_VER0];
        size_t sent = 0;
        kcore_ack_encode(mask, ack);
        k->answered = true;
        k->acked_mask = mask;
        while (sent < sizeof(ack)) {
                int r = fd_wait_until(conn, POLLOUT, deadline_usec);
                if (r < 0)
                        return r;
                ssize_t n = send(conn, ack + sent, sizeof(ack) - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n < 0)
                        return negative_errno();
                sent += (size_t) n;
        }
        return 0;
}

static int lose(struct kcore_conn *k, int err, const char *what) {
        k->lost = true;
        snprintf(k->why, sizeof(k->why), "%s: %s", what, strerror(-err));
        return err;
}

int kcore_conn_accept(struct kcore_conn *k, int conn, uint64_t deadline_usec) {
        uint8_t buf[4];
        if (k->accepted)
                return 0;
        if (k->lost || k->answered)
                return -EPIPE;
        uint64_t mask = KCORE_KERNEL | (k->req.mask & KCORE_WAIT);
        int r = send_ack(k, conn, mask, deadline_usec);
        if (r < 0)
                return lose(k, r, "the kernel's coredump socket: sending the ack");
        r = recv_exact(conn, buf, sizeof(buf), 0, deadline_usec);
        if (r < 0)
                return lose(k, r, "the kernel's coredump socket: reading its mark");
        (void) kcore_mark_parse(buf, sizeof(buf), &k->mark);
        if (k->mark != KCORE_MARK_REQACK) {
                k->lost = true;
                snprintf(k->why, sizeof(k->why), "the kernel did not accept the ack: mark %u (%s)", k->mark,
                         kcore_mark_to_string(k->mark));
                return -EPROTO;
        }
        k->accepted = true;
        return 0;
}

int kcore_conn_reject(struct kcore_conn *k, int conn, uint64_t deadline_usec) {
        if (k->answered || k->lost || conn < 0)
                return 0;
        int r = send_ack(k, conn, KCORE_REJECT, deadline_usec);
        return r < 0 ? lose(k, r, "the kernel's coredump socket: sending REJECT") : 0;
}

int parse_limits_core(const char *text, uint64_t *ret) {
        const char *line = strstr(text, "Max core file size");
        char value[32];
        if (!line || (line != text && line[-1] != '\n'))
                return -EBADMSG;
        const char *p = line + strlen("Max core file size");
        p += strspn(p, " ");
        size_t n = strcspn(p, " \n");
        if (n == 0 || n >= sizeof(value))
                return -EBADMSG;
        memcpy(value, p, n);
        value[n] = '\0';
        if (strcmp(value, "unlimited") == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        return parse_uint64(value, ret);
}

int kcore_peer_info(int pidfd, struct kcore_peer *ret) {
        struct kcore_pidfd_info info = {.mask = KCORE_PIDFD_INFO_CREDS | KCORE_PIDFD_INFO_COREDUMP};
        if (ioctl(pidfd, KCORE_PIDFD_GET_INFO, &info) < 0)
                return errno == EINVAL || errno == ENOTTY ? -ENOTTY : negative_errno();
        if (!(info.mask & KCORE_PIDFD_INFO_COREDUMP) || !(info.mask & KCORE_PIDFD_INFO_CREDS))
                return -ENOTTY;
        if (!(info.coredump_mask & KCORE_PIDFD_COREDUMPED))
                return -EPERM;
        if (info.pid == 0 || info.pid > INT32_MAX || info.ruid == UINT32_MAX || info.rgid == UINT32_MAX)
                return -EBADMSG;
        *ret = (struct kcore_peer){
                .pid = (pid_t) info.pid,
                .uid = info.ruid,
                .gid = info.rgid,
                /* ROOT: suid_dumpable=2 ("root only"); anything else is dumped as the user. */
                .dump_mode = info.coredump_mask & KCORE_PIDFD_COREDUMP_ROOT ? 2 : 1,
        };
        return 0;
}

int kcore_peer_pidfd(int conn, int *ret_pidfd, pid_t *ret_pid) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int pidfd;
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return negative_errno();
        len = sizeof(pidfd);
        if (getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
                return negative_errno();
        *ret_pidfd = pidfd;
        *ret_pid = cred.pid;
        return 0;
}
