/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The receiver as a container's init (--init): the command it runs, as whom, and what it gets
 * back of the receiver's own settings (signals, RLIMIT_CORE) so that it starts as if the engine
 * had started it.
 */

#include <stdbool.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#define INIT_USER_NAME_MAX 256

struct init_command {
        char **argv;      /* NULL-terminated; argv[0] is looked up in PATH */
        bool switch_user; /* run as uid/gid instead of the receiver's own */
        uid_t uid;
        gid_t gid;
        char user[INIT_USER_NAME_MAX]; /* the user's name, for its supplementary groups ("" if none) */
        struct rlimit core_limit;      /* RLIMIT_CORE as the receiver was started with */
        bool signal_group;             /* forward signals to the command's process group, not to it alone */
        bool drop_upload_env;          /* the upload credentials of the environment are not the command's */
};

/*
 * Resolves --user=USER and --group=GROUP (names in the container's /etc/passwd and /etc/group, or
 * numbers) into cmd. Without --group the user's primary group applies (for a number without a
 * passwd entry: the group of the same number). On failure, err says which and why.
 */
int init_command_resolve_user(struct init_command *cmd, const char *user, const char *group, char *err,
                              size_t err_size);

/*
 * Starts cmd as a child in a process group of its own (the terminal's foreground group where
 * there is one), with the signal mask restored to old_mask, every signal's default action, the
 * original RLIMIT_CORE and, with switch_user, the user's ids and supplementary groups. Returns
 * once the command was executed (or fails with the reason exec gave: -ENOENT, -EACCES, ...).
 */
int init_command_spawn(const struct init_command *cmd, const sigset_t *old_mask, pid_t *ret_pid);

/* The exit status an init reports for a wait status: the command's, or 128 + the signal. */
int init_exit_status(int wait_status);
