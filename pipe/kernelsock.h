/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The kernel's coredump socket (kernel.core_pattern = @@PATH, Linux >= 6.17), as the host helper
 * speaks it on one connection the crashing task made (include/uapi/linux/coredump.h, checked
 * against fs/coredump.c of 6.18):
 *
 *   kernel                                  helper
 *   coredump_req {u32 size, u32 size_ack, u64 mask}  ──►
 *                ◄── coredump_ack {u32 size, u32 spare, u64 mask}: KERNEL|REJECT (+WAIT)
 *   u32 mark (0 = accepted, 1/2 ack too small/large, 3 unsupported, 4 conflicting)  ──►
 *   the core (KERNEL only), then shutdown(SHUT_WR); with WAIT the task then waits until every
 *   copy of the connection is closed (or it is SIGKILLed).
 *
 * The kernel blocks without a timeout for the ack: every crash on this connection waits for us,
 * so every wait of ours here is bounded and every way out of the helper answers (REJECT when
 * nothing took the core). The kernel's connect() looks the path up from the host's root with the
 * kernel's own credentials (no permission check on the socket file, no symlinks): the socket's
 * mode only keeps other local users out. Debian 12's headers predate all of it: defined here.
 *
 * Helpers here never log; they return a negative errno and fill a reason where one helps.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define KCORE_KERNEL (UINT64_C(1) << 0)    /* the kernel writes the core to the socket */
#define KCORE_USERSPACE (UINT64_C(1) << 1) /* userspace takes it itself (not used here) */
#define KCORE_REJECT (UINT64_C(1) << 2)    /* no core at all */
#define KCORE_WAIT (UINT64_C(1) << 3)      /* the task waits until the connection is closed */
#define KCORE_REQ_SIZE_VER0 16U
#define KCORE_ACK_SIZE_VER0 16U
/* A request larger than this is not one the kernel sends (it sends 16 bytes on 6.18; later
 * kernels may grow it and we read, then drop, what we do not know). */
#define KCORE_REQ_SIZE_MAX 4096U

enum kcore_mark {
        KCORE_MARK_REQACK = 0,
        KCORE_MARK_MINSIZE = 1,
        KCORE_MARK_MAXSIZE = 2,
        KCORE_MARK_UNSUPPORTED = 3,
        KCORE_MARK_CONFLICTING = 4,
};

struct kcore_request {
        uint32_t size;     /* bytes of the request the kernel sent */
        uint32_t size_ack; /* largest ack it reads */
        uint64_t mask;     /* what it offers */
};

/* Parses the kernel's request (len bytes, the first 16 of which hold the fixed part). -EBADMSG
 * for a request shorter than 16 bytes, a size that is not len, a size_ack below 16, or one that
 * does not offer both KERNEL and REJECT (then we could not answer every crash). */
int kcore_request_parse(const uint8_t *buf, size_t len, struct kcore_request *ret);

/* Writes the 16-byte ack for mask into out. */
void kcore_ack_encode(uint64_t mask, uint8_t out[KCORE_ACK_SIZE_VER0]);

/* Parses the kernel's 4-byte mark; any value is returned (the caller decides), -EBADMSG for a
 * length other than 4. */
int kcore_mark_parse(const uint8_t *buf, size_t len, uint32_t *ret);
const char *kcore_mark_to_string(uint32_t mark);

/* One connection from the kernel: what it asked, and how far the answer got. */
struct kcore_conn {
        struct kcore_request req;
        bool answered; /* an ack went out (KERNEL or REJECT) */
        bool accepted; /* KERNEL acked and mark 0: the core's bytes follow on the connection */
        bool lost;     /* the kernel gave up on it (a mark other than 0, or the connection broke) */
        uint64_t acked_mask;
        uint32_t mark;
        char why[160]; /* for lost: what happened, for the log */
};

/* Reads the kernel's request from conn until the deadline (CLOCK_MONOTONIC usec): peeks its
 * size, reads that many bytes (at most KCORE_REQ_SIZE_MAX), never a byte more. conn's file
 * flags are left alone (a receiver gets the same open file later). */
int kcore_request_read(int conn, uint64_t deadline_usec, struct kcore_request *ret);

/* Acks KERNEL (with WAIT when the request offers it) and reads the mark. Returns 0 when the
 * kernel accepted (k->accepted: the socket is positioned at the core's first byte); idempotent.
 * A mark other than 0 or a broken connection: a negative errno, k->lost with k->why set. */
int kcore_conn_accept(struct kcore_conn *k, int conn, uint64_t deadline_usec);

/* Acks REJECT (no core at all) unless an ack went out already. The kernel sends a mark and
 * closes; it is not waited for. */
int kcore_conn_reject(struct kcore_conn *k, int conn, uint64_t deadline_usec);

/* The soft RLIMIT_CORE from the text of /proc/<pid>/limits ("Max core file size ... soft hard
 * bytes"): UINT64_MAX for "unlimited". -EBADMSG when the line is missing or malformed. */
int parse_limits_core(const char *text, uint64_t *ret);

/* What PIDFD_GET_INFO says of a connecting task. */
struct kcore_peer {
        pid_t pid; /* in the helper's pid namespace (the host's) */
        uid_t uid; /* real ids, in the host's user namespace */
        gid_t gid;
        uint32_t dump_mode; /* 1 (PIDFD_COREDUMP_USER) or 2 (PIDFD_COREDUMP_ROOT) */
};

/* Asks the pidfd of a connecting task (SO_PEERPIDFD) whether it is dumping core, and its ids
 * and dump mode. -ENOTTY: the kernel has no PIDFD_GET_INFO; -EPERM: the task is not dumping a
 * core (a connection that is not the kernel's). */
int kcore_peer_info(int pidfd, struct kcore_peer *ret);

/* The pidfd and pid of the peer of a connected AF_UNIX socket (SO_PEERPIDFD, SO_PEERCRED). */
int kcore_peer_pidfd(int conn, int *ret_pidfd, pid_t *ret_pid);
