/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What became of a crashed process while its core streamed: how it ended (its pidfd) and whether
 * its memory cgroup's OOM killer struck (the cgroup's oom_kill counter). The receiver and the
 * host helper both ask, each from its own view: the receiver to say why a core came short, the
 * helper to say what it can when a receiver took the core and never reported.
 *
 * Functions here never log; they return 0 or a negative errno, outputs written only on success.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The counter file of the memory cgroup of the process whose /proc/<pid> directory is procfd, as
 * this mount namespace's cgroup file systems (under cgroup_root, normally "/sys/fs/cgroup") show
 * it: cgroup v1 memory/<path>/memory.oom_control, else v2 <path>/memory.events. A container sees
 * its own cgroup at the root of its mount (a cgroup namespace, or the engine's bind mount): the
 * path is tried whole, then without its leading components, down to the mount's root. Returns an
 * open descriptor (read with memcg_oom_kills_read()), -ENOENT when no file is reachable.
 */
int memcg_oom_counter_open(int procfd, const char *cgroup_root);
/* The same file's path into ret (size bytes), for a caller that must not keep it open. */
int memcg_oom_counter_find(int procfd, const char *cgroup_root, char *ret, size_t size);
/* The oom_kill count in the counter file at path. */
int memcg_oom_kills_at(const char *path, uint64_t *ret);

/* The oom_kill count in the counter file fd (rewound first). -ENODATA if it has none. */
int memcg_oom_kills_read(int fd, uint64_t *ret);

/* The "oom_kill N" line of memory.oom_control (v1) or memory.events (v2) text. -ENODATA if none. */
int memcg_oom_kills_from_text(const char *text, uint64_t *ret);

/* From /proc/<pid>/cgroup text: the path of the v1 memory hierarchy (*ret_v2 = false), else of
 * the v2 one ("0::", *ret_v2 = true), into ret. -ENOENT if neither is there, -ENAMETOOLONG. */
int memcg_path_from_proc_cgroup(const char *text, char *ret, size_t size, bool *ret_v2);

/* The exit status of a stat text's process when it is a zombie ("Z": field 52, in waitpid(2)'s
 * form). -EAGAIN while it runs, -EBADMSG for a text that is not /proc/<pid>/stat. */
int exit_status_from_stat(const char *stat_text, int *ret_status);

/*
 * How the process of pidfd ended, in waitpid(2)'s form (WIFSIGNALED, WTERMSIG, WCOREDUMP): from
 * PIDFD_GET_INFO with PIDFD_INFO_EXIT (Linux 6.15; the kernel keeps it once the process is
 * reaped), else from its zombie's stat in procfd (-EBADF: none). Waits for the process to end
 * until deadline_usec (CLOCK_MONOTONIC), never longer: -ETIMEDOUT while it still runs or is not
 * reaped yet, -EOPNOTSUPP when neither source can tell.
 */
int process_exit_status(int pidfd, int procfd, uint64_t deadline_usec, int *ret_status);

/* "killed by SIGKILL", "killed by SIGSEGV (core dumped)", "exited with status 3" into out. */
void describe_exit_status(int status, char *out, size_t size);
