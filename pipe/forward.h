/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cgroup.h"
#include "config.h"
#include "kernelsock.h"
#include "protocol.h"

/*
 * Opens run/core_pipe.socket strictly inside the directory rootfd (the crashed process's root):
 * openat2() with RESOLVE_IN_ROOT treats rootfd as "/" for every component, so ".." and absolute
 * symlinks cannot leave it, RESOLVE_NO_MAGICLINKS refuses /proc/<pid>/root-style jumps, and the
 * last component is never followed. The result must be a socket; its owner goes to *ret_owner.
 * Returns an O_PATH descriptor or a negative errno: -ENOENT (no socket), -ENOTSOCK,
 * -ELOOP/-EXDEV (escape refused).
 */
int resolve_socket_in_root(int rootfd, uid_t *ret_owner);

/* Connects a SOCK_SEQPACKET socket to the socket behind an O_PATH descriptor, retrying while
 * the receiver's backlog is full, until deadline_usec. Returns the connected socket. */
int connect_resolved_socket(int pathfd, uint64_t deadline_usec);

struct crashed_process;

/* Where a receiver may be: the process's own root, then its container init's. */
#define RECEIVER_CANDIDATES 2
struct receiver_candidate {
        int pathfd;        /* O_PATH descriptor of the socket, or -EBADF */
        uid_t owner;       /* the socket file's owner */
        const char *where; /* "its root", "its container's root" */
        char why[512];     /* why this candidate did not take the core */
};

/*
 * Finds the places of the crashed process's receiver, sending nothing: the socket in its own
 * root, and (for a nested mount namespace or a chroot inside a container) the one in its
 * container init's root. A socket must be owned by root of the host, of the process's user
 * namespace or of its container's. Closes p->rootfd and p->ct_rootfd; what is left open are
 * the sockets' O_PATH descriptors. A candidate without a socket has pathfd -EBADF and says why.
 */
void resolve_receivers(struct crashed_process *p, struct receiver_candidate ret[RECEIVER_CANDIDATES]);

/*
 * Connects to a candidate (once: its pathfd is used up) and checks its listening process with
 * check_receiver_listener(). Returns the connected socket, or a negative errno with c->why
 * saying what failed.
 */
int connect_candidate(const struct crashed_process *p, struct receiver_candidate *c, uint64_t deadline);
void receiver_candidates_done(struct receiver_candidate c[RECEIVER_CANDIDATES]);

enum conversation_state {
        CONVERSATION_FAILED,  /* no usable answer: the core may go to the fallback */
        CONVERSATION_REFUSED, /* the receiver refused: fallback */
        CONVERSATION_SKIPPED, /* the receiver accounted for it and stores nothing: done */
        CONVERSATION_HANDED_OVER,
};

struct conversation {
        enum conversation_state state;
        char reason[CP_TEXT_MAX + 1]; /* receiver's reason, or our description of the failure */
        bool have_outcome;
        struct cp_outcome outcome;
        bool interrupted;       /* the dump broke a bound in the receiver's hands and was ended */
        uint64_t stalled_at;    /* bytes the process had written when it was ended */
        char interruption[256]; /* which bound ended it, for the log's interrupted="..." */
        /* The receiver's OUTCOME_DETAIL, if it came (a receiver of before sends none). */
        bool have_detail;
        struct cp_outcome_detail detail;
        /* The receiver's OUTCOME_TRACE (the crash's signature), if it made one in time. */
        bool have_trace;
        struct cp_outcome_trace trace;
        /* What the helper saw itself of the crashed process, after a hand-over without a report. */
        bool have_exit;
        int exit_status; /* waitpid(2)'s form */
        bool have_oom;
        uint64_t oom_before, oom_after; /* its memory cgroup's oom_kill around the hand-over */
};

struct conversation_limits {
        uint64_t verdict_deadline;     /* CLOCK_MONOTONIC: connect, request, verdict, hand-over */
        uint64_t outcome_timeout_usec; /* how long to wait for the report once the process is released */
        uint64_t stall_usec;           /* a dump that makes no progress this long is ended; 0 = never */
        uint64_t min_rate;             /* bytes/s a dump must average over each stall window; 0 = none */
        uint64_t dump_timeout_usec;    /* a dump still running this long after the hand-over is ended */
        int iofd;                      /* the process's /proc/<pid>/io, to see progress; -1 = none */
        int slot_fd;                   /* a slot claim (slots.h) given up once the process is released */
        /* The crashed process's memory cgroup's OOM kill counter (fate.h); NULL or "" = none. */
        const char *oom_path;
        /* The kernel's coredump socket (core_fd is its connection), else NULL: after SEND and
         * before the hand-over the kernel is acked KERNEL(|WAIT) and its mark read; a mark other
         * than 0 ends the conversation with no hand-over (kernel->lost). */
        struct kcore_conn *kernel;
};

/*
 * Runs the protocol on a connected socket: sends the request with credentials, waits for the
 * verdict until the verdict deadline, and on SEND hands over the core pipe and pidfd (for the
 * kernel's coredump socket, once the kernel has accepted our ack: lim->kernel). The
 * helper's copy of the pipe is closed right after the hand-over (so the receiver alone holds
 * the crash). Then it watches: while the process is still dumping, the count of bytes it has
 * written must move; if it does not for stall_usec, the receiver is holding the core without
 * reading it and the process is killed, which ends the dump (and releases the kernel's
 * core_pipe_limit slot). The same happens to a dump that moves fewer than min_rate bytes a second
 * over a stall window (a receiver that trickles), and to one still running dump_timeout_usec
 * after the hand-over (a receiver that reads a huge core forever). Once the process is released
 * the slot claim lim->slot_fd is given up and the receiver's report is awaited for
 * outcome_timeout_usec. Never reads the pipe. *core_fd and *pidfd are set to -EBADF once they
 * have been handed over.
 */
void converse(int sock, const struct cp_request *req, const struct ucred *cred, int *core_fd, int *pidfd,
              const struct conversation_limits *lim, struct conversation *ret);

/*
 * Starts the fallback receiver on the host: a child that enters the cgroups in cgroups (see
 * cgroup.h: the host does not pay for a container's crash), then execs cfg->receiver with one
 * end of a socketpair as its socket-activated connection (fd 3, LISTEN_FDS=1) and the store
 * directory store_dir. Waits until the child has exec'd. Returns our end of the socketpair, or a
 * negative errno with *ret_failed_step naming the step that failed ("entering its cgroup", ...):
 * a receiver that could not enter its cgroups never runs. claims (each -1 or a claim in the slot
 * table) are passed down as fds 4 and 5, so that they last as long as the receiver.
 */
int spawn_fallback_receiver(const struct pipe_config *cfg, const char *store_dir,
                            const struct fallback_cgroups *cgroups, const int claims[2], pid_t *ret_pid,
                            const char **ret_failed_step);
