/* SPDX-License-Identifier: MIT */
/*
 * core_pipe-init: the receiver's init mode in the engines' init slot (docker's --init-path,
 * podman's init_path), so that every container on a host stores its own cores with no image
 * changed. The engine starts it as the container's pid 1, `INIT -- COMMAND ARGUMENTS...`; like
 * tini or catatonit it runs COMMAND, forwards signals to it, reaps every orphan and exits with
 * COMMAND's status (128 + the signal after a crash).
 *
 * Where it can (root in the container, a writable /run and store) it first listens for the host
 * helper, exactly as `core_pipe-receiver --init`. Where it cannot, it is a plain init and says
 * why, once, on stderr (the container's log): the host helper then finds no socket and falls back
 * as for any container without a receiver. A container never fails to start for want of a store.
 *
 * Built statically (no shared libraries, nothing read from the image but an optional settings
 * file) and without the journal: images that carry no libraries and run no journald.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connection.h"
#include "init.h"
#include "listen.h"
#include "log.h"
#include "macro.h"
#include "protocol.h"
#include "settings.h"

#ifndef CORE_PIPE_RECEIVER_CONFIG_PATH
#error "CORE_PIPE_RECEIVER_CONFIG_PATH must be set by the build"
#endif
#define INIT_MAX_CONNECTIONS 64

static void help(void) {
        printf("Usage: core_pipe-init [-g] [--] COMMAND [ARGUMENTS...]\n"
               "The container's init (pid 1) that also stores the container's core dumps in it.\n\n"
               "  -g          send forwarded signals to COMMAND's process group, not to COMMAND alone\n"
               "  -s          accepted for tini's sake: a subreaper is always registered when not pid 1\n"
               "  -h, --help  show this help\n"
               "  --version   show the version\n\n"
               "Stores cores in %s (see %s) when it runs as the container's root with a\n"
               "writable /run and store; otherwise a plain init. See core_pipe-init(8).\n",
               "/var/lib/core_pipe", CORE_PIPE_RECEIVER_CONFIG_PATH);
}

/* 0 and *ret_command, -1 to exit 0 (--help, --version), or an exit status. */
static int parse_args(int argc, char *argv[], bool *ret_group, char ***ret_command) {
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, 'V'},
                {NULL, 0, NULL, 0},
        };
        bool group = false;
        int c;
        /* "+": options end at the command; getopt takes the engines' "--" itself. */
        while ((c = getopt_long(argc, argv, "+ghs", options, NULL)) >= 0)
                switch (c) {
                case 'g':
                        group = true;
                        break;
                case 's':
                        break;
                case 'h':
                        help();
                        return -1;
                case 'V':
                        printf("core_pipe-init %s\n", CORE_PIPE_VERSION);
                        return -1;
                default:
                        return 2;
                }
        if (optind >= argc) {
                fprintf(stderr, "core_pipe-init: no command: core_pipe-init [-g] [--] COMMAND [ARGUMENTS...]\n");
                return 2;
        }
        *ret_group = group;
        *ret_command = argv + optind;
        return 0;
}

/* mkdir -p: the missing parents 0755 (/var, /var/lib of an image that has none), the last 0700. */
static int make_directory_path(const char *path, mode_t mode) {
        char buf[SETTINGS_PATH_MAX];
        if (path[0] != '/' || strlen(path) >= sizeof(buf))
                return -EINVAL;
        strcpy(buf, path);
        for (char *p = buf + 1;; p++) {
                bool last = *p == '\0';
                if (*p != '/' && !last)
                        continue;
                *p = '\0';
                if (buf[0] && mkdir(buf, last ? mode : 0755) < 0 && errno != EEXIST)
                        return negative_errno();
                if (last)
                        return 0;
                *p = '/';
        }
}

/*
 * Everything the receiver needs, made where the image lacks it: the container's root, /run for
 * the socket and a writable store. Returns the listening socket, or a negative errno with the
 * reason in why. Only the container's root may listen: the host helper hands a core only to a
 * socket of the container's root whose listener could read the crashed process, and a receiver
 * that could not store what it accepted would only delay the host's fallback.
 */
static int prepare_receiver(const struct receiver_settings *settings, char *why, size_t size) {
        int r;
        if (geteuid() != 0) {
                snprintf(why, size, "runs as uid %u, not as the container's root", (unsigned) geteuid());
                return -EPERM;
        }
        if (settings->storage == STORAGE_NONE) {
                snprintf(why, size, "Storage=none in %s", CORE_PIPE_RECEIVER_CONFIG_PATH);
                return -ECANCELED;
        }
        if (mkdir("/run", 0755) < 0 && errno != EEXIST) {
                r = negative_errno();
                snprintf(why, size, "cannot create /run: %s", strerror(-r));
                return r;
        }
        if ((r = make_directory_path(settings->store, 0700)) < 0 ||
            (access(settings->store, W_OK) < 0 && (r = negative_errno()) < 0)) {
                snprintf(why, size, "store %s is not writable: %s", settings->store, strerror(-r));
                return r;
        }
        int fd = listen_socket_create(CP_SOCKET_PATH);
        if (fd < 0)
                snprintf(why, size, "cannot listen on %s: %s", CP_SOCKET_PATH,
                         fd == -EEXIST ? "exists and is not a socket" : strerror(-fd));
        return fd;
}

/* The socket to listen on, or -EBADF for a plain init (said once, with the reason). */
static int open_receiver(const struct receiver_settings *settings, bool settings_ok, const char *settings_err) {
        char why[768];
        int fd;
        if (!settings_ok) {
                snprintf(why, sizeof(why), "%s", settings_err);
                fd = -EINVAL;
        } else
                fd = prepare_receiver(settings, why, sizeof(why));
        if (fd >= 0)
                return fd;
        fprintf(stderr, "core_pipe-init: %s; no cores are stored in this container (the host's fallback applies)\n",
                why);
        return -EBADF;
}

int main(int argc, char *argv[]) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        struct receiver_settings settings;
        struct receiver_options o = {
                .store_opts = {.workers = (int) MAX(1, MIN(cpus, 4)), .chunk_size = 2 * 1024 * 1024},
                .request_timeout_usec = 10 * USEC_PER_SEC,
                .settings = &settings,
                .release = RELEASE_AFTER_STORE_IF_PID1,
        };
        struct init_command cmd = {.argv = NULL};
        char err[768];

        int r = parse_args(argc, argv, &cmd.signal_group, &cmd.argv);
        if (r != 0)
                return r < 0 ? 0 : r;
        settings_defaults(&settings);
        bool settings_ok = settings_load(CORE_PIPE_RECEIVER_CONFIG_PATH, &settings, err, sizeof(err)) >= 0;
        o.store_opts.compress = settings.compress;
        o.store_opts.compress_level = settings.compress_level;

        /* As the receiver: no core of our own, nothing attaches to us; the command gets the limit
         * the engine gave. */
        (void) getrlimit(RLIMIT_CORE, &cmd.core_limit);
        (void) prctl(PR_SET_DUMPABLE, 0);
        (void) setrlimit(RLIMIT_CORE, &(struct rlimit){0, cmd.core_limit.rlim_max});
        signal(SIGPIPE, SIG_IGN);
        log_set_target(LOG_TARGET_STDERR);
        log_set_ident("core_pipe-init");

        _cleanup_close_ int fd = open_receiver(&settings, settings_ok, err);
        /* Not pid 1 (a nested init, a test): orphans of the command are still ours to reap. */
        if (getpid() != 1)
                (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
        int status = 0;
        r = init_loop(fd, INIT_MAX_CONNECTIONS, &o, &cmd, &status);
        if (fd >= 0)
                (void) unlink(CP_SOCKET_PATH);
        if (r < 0) {
                fprintf(stderr, "core_pipe-init: cannot run %s: %s\n", cmd.argv[0], strerror(-r));
                return r == -ENOENT ? 127 : 126;
        }
        return init_exit_status(status);
}
