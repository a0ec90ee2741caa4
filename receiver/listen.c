/* SPDX-License-Identifier: MIT */
#include "listen.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "macro.h"
#include "recover.h"
#include "store.h"
#include "uploader.h"

int listen_socket_create(const char *path) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct stat st;
        int one = 1;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);

        if (lstat(path, &st) >= 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                if (unlink(path) < 0)
                        return negative_errno();
        }
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                return negative_errno();
        /* Bind under a tight umask: the socket is never reachable with looser permissions. */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return negative_errno();
        if (chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
                r = negative_errno();
                (void) unlink(path);
                return r;
        }
        return TAKE_FD(fd);
}

/*
 * The accept loop's state. Every connection is served by a child process of its own (a handler);
 * in init mode the loop also runs the command, reaps every orphan of the pid namespace and
 * forwards signals to the command.
 */
struct server {
        int listen_fd, sfd;
        const struct receiver_options *o;
        unsigned max_handlers, n_handlers;
        pid_t *handlers;
        pid_t app;      /* init mode: the command, 0 once reaped (or without one) */
        bool init_mode; /* the command ran: stop once it is reaped and every core is in */
        int app_status; /* its wait status */
        bool stopping;  /* no new connections; done when the last handler is */
        sigset_t old_mask;
        /* Cores of handlers that died while storing them are finalised by a child of ours (the
         * finaliser, one at a time), with how each died; at start, what earlier runs left. */
        pid_t finaliser;
        bool sweep_wanted;
        struct recover_death deaths[8];
        size_t n_deaths;
        /* Init mode: signals go to the command's process group (-g), not to the command alone. */
        bool signal_group;
        /* Upload=: one uploader child at a time drains the store's queue (uploader.h), never in a
         * handler's place; started after each crash and every uploader_period_usec(). */
        pid_t uploader;
        bool upload_wanted;
        uint64_t upload_next; /* CLOCK_MONOTONIC */
};

/* A handler that did not end well may have left a core in progress: finalise it. */
static void handler_ended(struct server *s, pid_t pid, int status) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return;
        if (WIFSIGNALED(status))
                log_error("Connection handler %d was killed by signal %d", (int) pid, WTERMSIG(status));
        s->sweep_wanted = true;
        if (s->n_deaths == ELEMENTSOF(s->deaths))
                return; /* its core is still finalised, its cause unknown */
        s->deaths[s->n_deaths].pid = pid;
        recover_cause_from_status(status, s->deaths[s->n_deaths].cause, sizeof(s->deaths[0].cause));
        s->n_deaths++;
}

/* Upload=, with a store of its own: its cores are uploaded from here (not the host's fallback). */
static bool uploads_here(const struct server *s) {
        const struct receiver_settings *set = s->o->settings;
        return upload_wanted(set) && set->storage == STORAGE_EXTERNAL && !s->o->fallback;
}

static void forget_handler(struct server *s, pid_t pid, int status) {
        if (s->finaliser > 0 && pid == s->finaliser) {
                s->finaliser = 0;
                return;
        }
        if (s->uploader > 0 && pid == s->uploader) {
                s->uploader = 0;
                return;
        }
        for (unsigned i = 0; i < s->n_handlers; i++)
                if (s->handlers[i] == pid) {
                        s->handlers[i] = s->handlers[--s->n_handlers];
                        s->upload_wanted = uploads_here(s); /* its core, queued once stored */
                        handler_ended(s, pid, status);
                        return;
                }
        /* Neither a handler nor the command: an orphan the init mode adopted. Reaped, no more. */
}

static void reap(struct server *s) {
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (s->app > 0 && pid == s->app) {
                        s->app = 0;
                        s->app_status = status;
                } else
                        forget_handler(s, pid, status);
        }
}

static void on_signal(struct server *s, int signo) {
        if (signo == SIGCHLD)
                return;
        /* In init mode every signal is the command's (docker stop, a terminal's ^C); the
         * receiver ends when the command does. */
        if (s->app > 0) {
                /* The command leads its own process group (init_command_spawn()). */
                (void) kill(s->signal_group ? -s->app : s->app, signo);
                return;
        }
        if ((signo == SIGTERM || signo == SIGINT) && s->uploader > 0) {
                /* Its cores stay queued for the next run. */
                (void) kill(s->uploader, SIGTERM);
                s->upload_wanted = false;
        }
        if ((signo == SIGTERM || signo == SIGINT) && !s->stopping) {
                log_info("Stopping; waiting for %u crash(es) in flight", s->n_handlers);
                s->stopping = true;
        }
}

static void read_signals(struct server *s) {
        struct signalfd_siginfo si;
        while (read(s->sfd, &si, sizeof(si)) == sizeof(si))
                on_signal(s, (int) si.ssi_signo);
        reap(s);
}

static void accept_one(struct server *s) {
        int conn = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                        log_warning_errno(negative_errno(), "accept() failed");
                return;
        }
        pid_t pid = fork();
        if (pid < 0) {
                /* Closing the connection makes the helper fall back: the core is not lost. */
                log_error_errno(negative_errno(), "Cannot fork a connection handler");
                safe_close(conn);
                return;
        }
        if (pid == 0) {
                safe_close(s->sfd);
                safe_close(s->listen_fd);
                sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
                _exit(handle_connection(conn, s->o) < 0 ? 1 : 0);
        }
        s->handlers[s->n_handlers++] = pid;
        safe_close(conn);
}

/* In the finaliser child: every leftover of the store not locked by a live handler. */
static _Noreturn void finalise_leftovers(struct server *s) {
        char note[512];
        struct recover_stats st;
        safe_close(s->sfd);
        safe_close(s->listen_fd);
        sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
        int dirfd = open_store_dir(s->o->settings->store, note, sizeof(note));
        if (note[0]) /* what the store had to be made, or why it is refused (logged once per crash too) */
                log_warning("%s", note);
        if (dirfd < 0)
                _exit(1);
        /* Each core finalised logs its own line; those of live handlers are left alone. */
        int r = recover_store(dirfd, s->o->settings->store, s->deaths, s->n_deaths, &st);
        _exit(r < 0 ? 1 : 0);
}

/* Starts the finaliser when one is wanted and none runs (a death meanwhile starts another). */
static void maybe_finalise(struct server *s) {
        if (!s->sweep_wanted || s->finaliser > 0)
                return;
        if (s->o->fallback || s->o->settings->storage != STORAGE_EXTERNAL) {
                s->sweep_wanted = false;
                return;
        }
        pid_t pid = fork();
        if (pid < 0) {
                log_error_errno(negative_errno(), "Cannot fork to finalise partial cores; trying again later");
                return;
        }
        if (pid == 0)
                finalise_leftovers(s);
        s->finaliser = pid;
        s->sweep_wanted = false;
        s->n_deaths = 0;
}

/* Is a connection waiting? In init mode, once the command is gone, a crash still being handed
 * over is served before the receiver (the namespace's init) exits and takes it down. */
static bool connection_pending(int listen_fd) {
        struct pollfd p = {.fd = listen_fd, .events = POLLIN};
        return poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

/* Starts the uploader when cores may be waiting and none runs. Stopping, only the init's last
 * look (the container's store may not outlive it): a resident receiver's queue waits for its
 * next run. */
static void maybe_upload(struct server *s) {
        const struct receiver_settings *set = s->o->settings;
        if (!uploads_here(s) || s->uploader > 0 || s->n_handlers > 0 || (s->stopping && !s->init_mode))
                return;
        uint64_t now = now_monotonic_usec();
        if (!s->upload_wanted && now < s->upload_next)
                return;
        int fds[] = {s->sfd, s->listen_fd};
        if (uploader_fork(set, fds, ELEMENTSOF(fds), &s->old_mask, &s->uploader) >= 0)
                s->upload_wanted = false;
        s->upload_next = now + uploader_period_usec(set);
}

/* Milliseconds poll() may sleep: until the uploader's next look, else for ever (an uploader or
 * a handler that ends wakes us with SIGCHLD). */
static int server_timeout_ms(const struct server *s) {
        if (!uploads_here(s) || s->uploader > 0 || s->n_handlers > 0 || s->stopping)
                return -1;
        uint64_t now = now_monotonic_usec();
        return s->upload_next <= now ? 0 : (int) MIN((s->upload_next - now + 999) / 1000, 60000);
}

static bool server_done(struct server *s) {
        if (s->init_mode && s->app == 0 && !s->stopping && s->n_handlers == 0 && !connection_pending(s->listen_fd))
                s->stopping = true;
        return s->stopping && s->n_handlers == 0 && s->finaliser == 0 && !s->sweep_wanted && s->uploader == 0 &&
               !(s->init_mode && s->upload_wanted);
}

static int server_run(struct server *s) {
        while (!server_done(s)) {
                maybe_finalise(s);
                maybe_upload(s);
                bool may_accept = !s->stopping && s->n_handlers < s->max_handlers;
                struct pollfd p[2] = {
                        {.fd = s->sfd, .events = POLLIN},
                        {.fd = s->listen_fd, .events = may_accept ? POLLIN : 0},
                };
                if (poll(p, 2, server_timeout_ms(s)) < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (p[0].revents & POLLIN)
                        read_signals(s);
                if (may_accept && (p[1].revents & POLLIN))
                        accept_one(s);
        }
        return 0;
}

/* Resident mode stops on SIGTERM/SIGINT; init mode takes every signal that can be forwarded
 * (all but the ones the kernel sends for a fault of our own, and those that cannot be caught). */
static void server_signals(bool init_mode, sigset_t *ret) {
        sigemptyset(ret);
        if (!init_mode) {
                sigaddset(ret, SIGCHLD);
                sigaddset(ret, SIGTERM);
                sigaddset(ret, SIGINT);
                return;
        }
        sigfillset(ret);
        int keep[] = {SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT, SIGTTIN, SIGTTOU};
        for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                sigdelset(ret, keep[i]);
}

static int server_serve(int listen_fd, unsigned max_children, const struct receiver_options *o,
                        const struct init_command *cmd, int *ret_status) {
        _cleanup_free_ pid_t *handlers = calloc(max_children, sizeof(pid_t));
        struct server s = {.listen_fd = listen_fd,
                           .o = o,
                           .max_handlers = max_children,
                           .handlers = handlers,
                           /* A plain init (nothing to listen on) stores nothing: no store to sweep. */
                           .sweep_wanted = listen_fd >= 0};
        sigset_t mask;
        if (!handlers)
                return -ENOMEM;
        server_signals(cmd != NULL, &mask);
        if (sigprocmask(SIG_BLOCK, &mask, &s.old_mask) < 0)
                return negative_errno();
        _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0)
                return negative_errno();
        s.sfd = sfd;
        if (cmd) {
                int r = init_command_spawn(cmd, &s.old_mask, &s.app);
                if (r < 0)
                        return r;
                s.init_mode = true;
                s.signal_group = cmd->signal_group;
        }
        int r = server_run(&s);
        if (r >= 0 && ret_status)
                *ret_status = s.app_status;
        return r;
}

int listen_loop(int listen_fd, unsigned max_children, const struct receiver_options *o) {
        return server_serve(listen_fd, max_children, o, NULL, NULL);
}

int init_loop(int listen_fd, unsigned max_children, const struct receiver_options *o, const struct init_command *cmd,
              int *ret_status) {
        return server_serve(listen_fd, max_children, o, cmd, ret_status);
}
