/* SPDX-License-Identifier: MIT */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "parse.h"
#include "upload.h"

#ifndef CORE_PIPE_NO_USER_SWITCH
static int parse_id(const char *s, uint32_t *ret) {
        uint32_t v;
        if (parse_uint32(s, &v) < 0 || v == (uint32_t) -1)
                return -EINVAL;
        *ret = v;
        return 0;
}

int init_command_resolve_user(struct init_command *cmd, const char *user, const char *group, char *err,
                              size_t err_size) {
        uint32_t id;
        if (user) {
                bool numeric = parse_id(user, &id) >= 0;
                struct passwd *pw = numeric ? getpwuid(id) : getpwnam(user);
                if (!pw && !numeric) {
                        snprintf(err, err_size, "--user=%s: no such user in /etc/passwd", user);
                        return -ESRCH;
                }
                cmd->uid = pw ? pw->pw_uid : id;
                cmd->gid = pw ? pw->pw_gid : id;
                snprintf(cmd->user, sizeof(cmd->user), "%s", pw ? pw->pw_name : "");
                cmd->switch_user = true;
        }
        if (group) {
                bool numeric = parse_id(group, &id) >= 0;
                struct group *gr = numeric ? getgrgid(id) : getgrnam(group);
                if (!gr && !numeric) {
                        snprintf(err, err_size, "--group=%s: no such group in /etc/group", group);
                        return -ESRCH;
                }
                cmd->gid = gr ? gr->gr_gid : id;
                if (!user)
                        cmd->uid = getuid();
                cmd->switch_user = true;
        }
        return 0;
}

/* In the child: the user's supplementary groups (from /etc/group, by name), then gid, then uid,
 * in that order, since each step needs the privilege the next one drops. */
static int drop_to_user(const struct init_command *cmd) {
        if (cmd->user[0] ? initgroups(cmd->user, cmd->gid) < 0 : setgroups(0, NULL) < 0)
                return negative_errno();
        if (setresgid(cmd->gid, cmd->gid, cmd->gid) < 0 || setresuid(cmd->uid, cmd->uid, cmd->uid) < 0)
                return negative_errno();
        return 0;
}
#else
/* core_pipe-init: the engine starts it as the container's user, and it never switches: no user
 * database (NSS) is linked into the static program. */
int init_command_resolve_user(struct init_command *cmd, const char *user, const char *group, char *err,
                              size_t err_size) {
        if (!user && !group)
                return 0;
        snprintf(err, err_size, "--user= and --group= are not supported by this build");
        return -EOPNOTSUPP;
}

static int drop_to_user(const struct init_command *cmd) {
        return -EOPNOTSUPP;
}
#endif

/* In the child, up to exec: on failure the errno goes to the parent through errpipe. */
static _Noreturn void exec_command(const struct init_command *cmd, const sigset_t *old_mask, int errpipe) {
        int r = 0;
        for (int sig = 1; sig < NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        (void) sigprocmask(SIG_SETMASK, old_mask, NULL);
        /* Its own process group, in the terminal's foreground where there is one: a ^C reaches
         * it once (from the terminal), not twice (terminal and forwarded). */
        (void) setpgid(0, 0);
        if (isatty(STDIN_FILENO)) {
                (void) signal(SIGTTOU, SIG_IGN);
                (void) tcsetpgrp(STDIN_FILENO, getpid());
                (void) signal(SIGTTOU, SIG_DFL);
        }
        if (setrlimit(RLIMIT_CORE, &cmd->core_limit) < 0 || (cmd->switch_user && (r = drop_to_user(cmd)) < 0)) {
                r = r < 0 ? r : negative_errno();
                (void) !write(errpipe, &r, sizeof(r));
                _exit(127);
        }
        /* The credentials the receiver uploads with are its own: the application, maybe running as
         * another user, would otherwise find them in its environment. */
        static const char *const upload_env[] = {UPLOAD_CREDENTIAL_ENV_NAMES};
        for (size_t i = 0; cmd->drop_upload_env && i < ELEMENTSOF(upload_env); i++)
                (void) unsetenv(upload_env[i]);
        execvp(cmd->argv[0], cmd->argv);
        r = negative_errno();
        (void) !write(errpipe, &r, sizeof(r));
        _exit(r == -ENOENT ? 127 : 126);
}

int init_command_spawn(const struct init_command *cmd, const sigset_t *old_mask, pid_t *ret_pid) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        pid_t pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                safe_close(p[0]);
                safe_close(p[1]);
                return r;
        }
        if (pid == 0) {
                safe_close(p[0]);
                exec_command(cmd, old_mask, p[1]);
        }
        safe_close(p[1]);
        /* Closed by exec (close-on-exec): nothing to read means the command runs. */
        int err = 0;
        ssize_t n;
        do
                n = read(p[0], &err, sizeof(err));
        while (n < 0 && errno == EINTR);
        safe_close(p[0]);
        if (n == sizeof(err) && err < 0) {
                (void) waitpid(pid, NULL, 0);
                return err;
        }
        *ret_pid = pid;
        return 0;
}

int init_exit_status(int wait_status) {
        if (WIFEXITED(wait_status))
                return WEXITSTATUS(wait_status);
        if (WIFSIGNALED(wait_status))
                return 128 + WTERMSIG(wait_status);
        return 255;
}
