/* SPDX-License-Identifier: MIT */
/*
 * core_pipe-receiver: takes cores handed over by the host helper and stores them in the store
 * of the system it runs in (normally a container), under that system's limits.
 *
 * Modes: a socket-activated connection (Accept=yes), a socket-activated listening socket
 * (Accept=no), a resident daemon (--listen), the container's init (--init -- CMD), or the host
 * helper's fallback (--fallback, a connection passed the same way as by socket activation).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "connection.h"
#include "fdio.h"
#include "init.h"
#include "listen.h"
#include "log.h"
#include "logsink.h"
#include "macro.h"
#include "parse.h"
#include "protocol.h"
#include "recover.h"
#include "settings.h"
#include "uploader.h"

#ifndef CORE_PIPE_RECEIVER_CONFIG_PATH
#error "CORE_PIPE_RECEIVER_CONFIG_PATH must be set by the build"
#endif
#define DEFAULT_MAX_CONNECTIONS 64
#define MAX_OVERRIDES 48

/* Options that set a key of the settings file carry its name. */
static const struct {
        const char *option, *key;
} setting_options[] = {
        {"store", "Store"},
        {"storage", "Storage"},
        {"compress", "Compress"},
        {"compress-level", "CompressLevel"},
        {"process-size-max", "ProcessSizeMax"},
        {"max-use", "MaxUse"},
        {"keep-free", "KeepFree"},
        {"max-cores-per-interval", "MaxCoresPerInterval"},
        {"interval", "Interval"},
        {"max-use-per-container", "MaxUsePerContainer"},
        {"max-containers", "MaxContainers"},
        {"upload", "Upload"},
        {"s3-endpoint", "S3Endpoint"},
        {"s3-region", "S3Region"},
        {"upload-name", "UploadName"},
        {"upload-credentials", "UploadCredentials"},
        {"upload-part-size", "UploadPartSize"},
        {"upload-timeout", "UploadTimeout"},
        {"keep-after-upload", "KeepAfterUpload"},
        {"upload-retry-for", "UploadRetryFor"},
        {"upload-retry-attempts", "UploadRetryAttempts"},
        {"upload-retry-delay", "UploadRetryDelay"},
        {"upload-retry-delay-max", "UploadRetryDelayMax"},
        {"backtrace", "Backtrace"},
        {"stack-capture-per-thread", "StackCapturePerThread"},
        {"stack-capture-max", "StackCaptureMax"},
        {"backtrace-timeout", "BacktraceTimeout"},
        {"max-cores-per-signature", "MaxCoresPerSignature"},
};

enum mode { MODE_ACTIVATED, MODE_LISTEN, MODE_INIT, MODE_RECOVER, MODE_UPLOAD };

struct args {
        enum mode mode;
        const char *listen_path, *config_path, *user, *group, *release;
        bool background;
        unsigned max_connections;
        struct {
                const char *key, *value, *option;
        } overrides[MAX_OVERRIDES];
        size_t n_overrides;
        char **command; /* --init: the command after "--" */
};

static void help(void) {
        printf("Usage: core_pipe-receiver [OPTIONS]\n"
               "       core_pipe-receiver --init [OPTIONS] -- COMMAND [ARGUMENTS...]\n"
               "Stores core dumps handed over by the core_pipe host helper.\n\n"
               "  --listen [PATH]          run as a resident daemon on PATH (default %s)\n"
               "  --background             with --listen: go to the background once listening\n"
               "  --init                   be the container's init: listen, then run COMMAND\n"
               "  --user=USER --group=GROUP  with --init: run COMMAND as USER (and its groups)\n"
               "  --release=auto|read|store  when a crashed process may go (default auto)\n"
               "  --recover                finalise the partial cores of receivers that died, then exit\n"
               "  --upload-pending         upload the queued cores of the store (Upload=), then exit\n"
               "  --config=FILE            settings file (default %s)\n"
               "  --max-connections=N      crashes handled at once (default %d)\n"
               "  --fallback               started by the host helper as its fallback\n"
               "  --fallback-root=DIR      with --fallback: the whole fallback store, bounded in total\n"
               "Each setting of the file can be given on the command line instead:\n"
               "  --store=DIR  --storage=external|none  --compress=BOOL  --compress-level=N\n"
               "  --process-size-max=SIZE  --max-use=SIZE|N%%  --keep-free=SIZE|N%%\n"
               "  --max-cores-per-interval=N  --interval=TIMESPAN\n"
               "  --max-use-per-container=SIZE|N%%  --max-containers=N  (host fallback)\n"
               "  --upload=URL  --s3-endpoint=URL  --s3-region=REGION  --upload-name=TEMPLATE\n"
               "  --upload-credentials=FILE  --upload-part-size=SIZE  --upload-timeout=TIMESPAN\n"
               "  --keep-after-upload=BOOL  --upload-retry-for=TIMESPAN  --upload-retry-attempts=N\n"
               "  --upload-retry-delay=TIMESPAN  --upload-retry-delay-max=TIMESPAN\n"
               "  --backtrace=BOOL  --stack-capture-per-thread=SIZE  --stack-capture-max=SIZE\n"
               "  --backtrace-timeout=TIMESPAN  --max-cores-per-signature=N\n"
               "  -h, --help               show this help\n"
               "  --version                show the version\n\n"
               "Without --listen or --init, the socket comes from the service manager (LISTEN_FDS).\n"
               "See core_pipe-receiver(8).\n",
               CP_SOCKET_PATH, CORE_PIPE_RECEIVER_CONFIG_PATH, DEFAULT_MAX_CONNECTIONS);
}

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "core_pipe-receiver: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 2;
}

enum {
        ARG_LISTEN = 0x100,
        ARG_BACKGROUND,
        ARG_INIT,
        ARG_USER,
        ARG_GROUP,
        ARG_RELEASE,
        ARG_CONFIG,
        ARG_FALLBACK,
        ARG_FALLBACK_ROOT,
        ARG_MAX_CONN,
        ARG_VERSION,
        ARG_RECOVER,
        ARG_UPLOAD_PENDING,
        ARG_SETTING,
};

/* Both "--listen=PATH" and "--listen PATH"; a bare "--listen" takes the default. Only an
 * absolute path is taken as the separate argument. */
static int take_listen_path(int argc, char *argv[], struct args *a) {
        if (optarg)
                a->listen_path = optarg;
        else if (optind < argc && argv[optind][0] == '/')
                a->listen_path = argv[optind++];
        else
                a->listen_path = CP_SOCKET_PATH;
        if (a->listen_path[0] != '/')
                return usage_error("--listen=%s: must be an absolute path", a->listen_path);
        return 0;
}

/* One option (getopt's c); 0 to go on, else the exit status (-1: exit 0 after --help). */
static int take_option(int c, int argc, char *argv[], struct args *a, struct receiver_options *o) {
        uint32_t v;
        switch (c) {
        case ARG_LISTEN:
                if (a->mode != MODE_INIT && a->mode != MODE_RECOVER)
                        a->mode = MODE_LISTEN;
                return take_listen_path(argc, argv, a);
        case ARG_BACKGROUND:
                a->background = true;
                return 0;
        case ARG_INIT:
                a->mode = MODE_INIT;
                return 0;
        case ARG_USER:
                a->user = optarg;
                return 0;
        case ARG_GROUP:
                a->group = optarg;
                return 0;
        case ARG_RELEASE:
                a->release = optarg;
                return 0;
        case ARG_CONFIG:
                a->config_path = optarg;
                return 0;
        case ARG_FALLBACK:
                o->fallback = true;
                return 0;
        case ARG_RECOVER:
                if (a->mode != MODE_ACTIVATED)
                        return usage_error("--recover goes alone (with the store's settings)");
                a->mode = MODE_RECOVER;
                return 0;
        case ARG_UPLOAD_PENDING:
                if (a->mode != MODE_ACTIVATED)
                        return usage_error("--upload-pending goes alone (with the store's settings)");
                a->mode = MODE_UPLOAD;
                return 0;
        case ARG_FALLBACK_ROOT:
                if (optarg[0] != '/')
                        return usage_error("--fallback-root=%s: must be an absolute path", optarg);
                o->fallback_root = optarg;
                return 0;
        case ARG_MAX_CONN:
                if (parse_uint32(optarg, &v) < 0 || v < 1 || v > 4096)
                        return usage_error("--max-connections=%s: expected 1..4096", optarg);
                a->max_connections = v;
                return 0;
        case 'h':
                help();
                return -1;
        case ARG_VERSION:
                printf("core_pipe-receiver %s\n", CORE_PIPE_VERSION);
                return -1;
        }
        if (c < ARG_SETTING || c >= ARG_SETTING + (int) ELEMENTSOF(setting_options) || a->n_overrides >= MAX_OVERRIDES)
                return 2;
        a->overrides[a->n_overrides].key = setting_options[c - ARG_SETTING].key;
        a->overrides[a->n_overrides].option = setting_options[c - ARG_SETTING].option;
        a->overrides[a->n_overrides++].value = optarg;
        return 0;
}

/* What the options say together; 0, or the exit status. */
static int check_args(int argc, char *argv[], struct args *a) {
        if (a->mode == MODE_INIT) {
                if (optind >= argc)
                        return usage_error("--init needs a command: --init [OPTIONS] -- COMMAND [ARGUMENTS...]");
                a->command = argv + optind;
                if (!a->listen_path)
                        a->listen_path = CP_SOCKET_PATH;
                return 0;
        }
        if (optind < argc)
                return usage_error("unexpected argument \"%s\"", argv[optind]);
        if (a->user || a->group)
                return usage_error("--user= and --group= go with --init");
        if (a->background && a->mode != MODE_LISTEN)
                return usage_error("--background goes with --listen");
        return 0;
}

static int parse_args(int argc, char *argv[], struct args *a, struct receiver_options *o) {
        /* The fixed options, one per setting, and the zeroed end. */
        struct option options[14 + ELEMENTSOF(setting_options) + 1] = {
                {"listen", optional_argument, NULL, ARG_LISTEN},
                {"background", no_argument, NULL, ARG_BACKGROUND},
                {"init", no_argument, NULL, ARG_INIT},
                {"user", required_argument, NULL, ARG_USER},
                {"group", required_argument, NULL, ARG_GROUP},
                {"release", required_argument, NULL, ARG_RELEASE},
                {"config", required_argument, NULL, ARG_CONFIG},
                {"fallback", no_argument, NULL, ARG_FALLBACK},
                {"fallback-root", required_argument, NULL, ARG_FALLBACK_ROOT},
                {"max-connections", required_argument, NULL, ARG_MAX_CONN},
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"recover", no_argument, NULL, ARG_RECOVER},
                {"upload-pending", no_argument, NULL, ARG_UPLOAD_PENDING},
        };
        size_t n = 14;
        int c, r;
        for (size_t i = 0; i < ELEMENTSOF(setting_options); i++)
                options[n++] =
                        (struct option){setting_options[i].option, required_argument, NULL, ARG_SETTING + (int) i};
        /* "+": options end at the first argument that is not one (the command of --init). */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                if ((r = take_option(c, argc, argv, a, o)) != 0)
                        return r;
        return check_args(argc, argv, a);
}

/* The file first, then the command line over it; either way a bad value stops us. */
static int load_settings(const struct args *a, const struct receiver_options *o, struct receiver_settings *ret) {
        char err[768];
        settings_defaults(ret);
        if (settings_load(a->config_path, ret, err, sizeof(err)) < 0) {
                fprintf(stderr, "core_pipe-receiver: %s; not starting\n", err);
                if (o->fallback)
                        hostlog_sendf(LOG_ERR, "core_pipe-receiver", "%s; not starting", err);
                return 1;
        }
        for (size_t i = 0; i < a->n_overrides; i++) {
                const char *expect = NULL;
                char masked[SETTINGS_VALUE_LOG_MAX];
                if (settings_set(ret, a->overrides[i].key, a->overrides[i].value, &expect) < 0)
                        return usage_error("--%s=%s is invalid: expected %s", a->overrides[i].option,
                                           settings_value_for_log(a->overrides[i].key, a->overrides[i].value, masked,
                                                                  sizeof(masked)),
                                           expect);
        }
        return 0;
}

/* --release=: "auto" chooses by mode. The host's fallback is never in the crashed process's pid
 * namespace; a resident daemon cannot know what the namespace's init does when a process ends;
 * the receiver as the init, or a service manager's, outlives everything but pid 1. */
static int resolve_release(const struct args *a, struct receiver_options *o) {
        const char *r = a->release ? a->release : "auto";
        if (strcmp(r, "read") == 0)
                o->release = RELEASE_AFTER_READ;
        else if (strcmp(r, "store") == 0)
                o->release = RELEASE_AFTER_STORE;
        else if (strcmp(r, "auto") != 0)
                return usage_error("--release=%s: expected auto, read or store", r);
        else if (o->fallback)
                o->release = RELEASE_AFTER_READ;
        else if (a->mode == MODE_LISTEN)
                o->release = RELEASE_AFTER_STORE;
        else
                o->release = RELEASE_AFTER_STORE_IF_PID1;
        return 0;
}

static int open_listener(const char *path) {
        int fd = listen_socket_create(path);
        if (fd < 0)
                return log_error_errno(fd, "Cannot listen on %s%s", path,
                                       fd == -EEXIST ? " (exists and is not a socket)" : "");
        return fd;
}

/*
 * --background: the process that calls listen() is the one that stays. The host helper hands a
 * core only to a receiver whose listening process (SO_PEERPIDFD) is alive and could read the
 * crashed process, so a listener that forked away and exited would never get one. The child
 * listens and writes one byte (0, or the exit status it failed with) to the parent, which exits
 * only then: whoever started us sees the socket ready, or our error.
 */
static int go_to_background(int *ret_ready_fd) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(negative_errno(), "Cannot go to the background"), 1;
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(negative_errno(), "Cannot go to the background"), 1;
        if (pid == 0) {
                safe_close(p[0]);
                *ret_ready_fd = p[1];
                return 0;
        }
        safe_close(p[1]);
        uint8_t status = 1;
        /* EOF without a byte: the child died before it could say. */
        if (read_full(p[0], &status, 1) != 1)
                status = 1;
        _exit(status);
}

static void tell_parent(int *ready_fd, uint8_t status) {
        if (*ready_fd < 0)
                return;
        (void) write_full(*ready_fd, &status, 1);
        *ready_fd = safe_close(*ready_fd);
}

static int run_listen(const struct args *a, const struct receiver_options *o) {
        _cleanup_close_ int ready_fd = -EBADF;
        if (a->background && go_to_background(&ready_fd) != 0)
                return 1;
        _cleanup_close_ int fd = open_listener(a->listen_path);
        if (fd < 0) {
                tell_parent(&ready_fd, 1);
                return 1;
        }
        /* Listening already: whoever started us may go on (an entrypoint then execs its app). */
        tell_parent(&ready_fd, 0);
        log_info("Listening on %s, storing cores in %s", a->listen_path, o->settings->store);
        (void) sd_notify(0, "READY=1\nSTATUS=Waiting for crashes");
        int r = listen_loop(fd, a->max_connections, o);
        (void) unlink(a->listen_path);
        if (r < 0)
                return log_error_errno(r, "Listening on %s failed", a->listen_path), 1;
        return 0;
}

static int run_init(const struct args *a, const struct receiver_options *o, const struct rlimit *core_limit) {
        struct init_command cmd = {
                .argv = a->command, .core_limit = *core_limit, .drop_upload_env = o->settings->upload.n_urls > 0};
        char err[512];
        if (init_command_resolve_user(&cmd, a->user, a->group, err, sizeof(err)) < 0)
                return usage_error("%s", err);
        _cleanup_close_ int fd = open_listener(a->listen_path);
        if (fd < 0)
                return 1;
        /* Not the namespace's pid 1 (under another init, e.g. docker run --init): orphans of the
         * command are still ours to reap. */
        if (getpid() != 1)
                (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
        int status = 0;
        int r = init_loop(fd, a->max_connections, o, &cmd, &status);
        (void) unlink(a->listen_path);
        if (r < 0)
                return log_error_errno(r, "Cannot run %s", a->command[0]), r == -ENOENT ? 127 : 126;
        return init_exit_status(status);
}

static int run_activated(const struct args *a, const struct receiver_options *o) {
        int r = sd_listen_fds(1);
        if (r < 0)
                return log_error_errno(r, "Invalid socket activation (LISTEN_FDS)"), 1;
        if (r == 0) {
                log_error("No socket passed by the service manager; use --listen or --init to run without one");
                return 2;
        }
        if (r > 1)
                return log_error("Expected one socket from the service manager, got %d", r), 1;
        int fd = SD_LISTEN_FDS_START;
        if (sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 1) > 0) {
                (void) sd_notify(0, "READY=1");
                r = listen_loop(fd, a->max_connections, o);
                if (r < 0)
                        return log_error_errno(r, "Serving the passed socket failed"), 1;
                return 0;
        }
        if (sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 0) <= 0)
                return log_error("The passed descriptor is not an AF_UNIX SOCK_SEQPACKET socket"), 1;
        r = handle_connection(fd, o) < 0 ? 1 : 0;
        /* Upload=: this process ends with its crash, so it sends the core itself, after the
         * connection (and the fallback's slots) are let go. */
        uploader_after_connection(o, fd);
        return r;
}

/*
 * --recover: finalises what receivers that died left in the store (recover.h) and exits; run by
 * the socket unit's service as ExecStopPost=, where systemd says how the receiver ended
 * ($EXIT_CODE, $EXIT_STATUS). A core still being written (its writer alive) is left alone.
 */
static int run_recover(const struct args *a, const struct receiver_options *o) {
        const char *store = o->settings->store;
        struct recover_death death = {.pid = 0};
        struct recover_stats st;
        char note[512];
        if (a->listen_path || o->fallback)
                return usage_error("--recover goes alone (with the store's settings)");
        if (o->settings->storage != STORAGE_EXTERNAL)
                return 0;
        _cleanup_close_ int dirfd = open_store_dir(store, note, sizeof(note));
        if (dirfd < 0)
                return log_error_errno(dirfd, "Cannot open the store %s%s%s", store, note[0] ? ": " : "", note), 1;
        bool known = recover_cause_from_systemd(getenv("EXIT_CODE"), getenv("EXIT_STATUS"), death.cause,
                                                sizeof(death.cause));
        int r = recover_store(dirfd, store, &death, known ? 1 : 0, &st);
        if (r < 0)
                return 1;
        if (st.busy > 0)
                log_info("%u core(s) in %s still being written by a live receiver", st.busy, store);
        return 0;
}

int main(int argc, char *argv[]) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        struct args a = {.config_path = CORE_PIPE_RECEIVER_CONFIG_PATH, .max_connections = DEFAULT_MAX_CONNECTIONS};
        struct receiver_settings settings;
        struct receiver_options o = {
                .store_opts = {.workers = (int) MAX(1, MIN(cpus, 4)), .chunk_size = 2 * 1024 * 1024},
                .request_timeout_usec = 10 * USEC_PER_SEC,
                .settings = &settings,
        };
        struct rlimit core_limit = {0, 0};

        int r = parse_args(argc, argv, &a, &o);
        if (r != 0)
                return r < 0 ? 0 : r;
        /* A resident daemon keeps nothing of whoever started it beyond stdio: an inherited pipe
         * would hold that shell's or container runtime's reader open for as long as we run. */
        if (a.mode == MODE_LISTEN)
                (void) close_range(3, ~0U, 0);
        if ((r = load_settings(&a, &o, &settings)) != 0 || (r = resolve_release(&a, &o)) != 0)
                return r;
        o.store_opts.compress = settings.compress;
        o.store_opts.compress_level = settings.compress_level;

        /* A crash of the receiver must not come back to it through core_pattern, and nothing
         * should attach to a process that holds other processes' memory. The hard limit stays:
         * the command of --init gets the limit we were started with. */
        (void) getrlimit(RLIMIT_CORE, &core_limit);
        (void) prctl(PR_SET_DUMPABLE, 0);
        (void) setrlimit(RLIMIT_CORE, &(struct rlimit){0, core_limit.rlim_max});
        signal(SIGPIPE, SIG_IGN);

        log_set_target(log_default_target());
        if (o.fallback) {
                /* The helper writes the crash's log line; we add only what goes wrong. */
                log_set_target(LOG_TARGET_HOST);
                log_set_max_level(LOG_WARNING);
        }
        if (a.mode == MODE_LISTEN || a.mode == MODE_INIT)
                uploader_check_setup(&settings);
        uploader_queue_finalised(&settings);
        switch (a.mode) {
        case MODE_LISTEN:
                return run_listen(&a, &o);
        case MODE_INIT:
                return run_init(&a, &o, &core_limit);
        case MODE_RECOVER:
                return run_recover(&a, &o);
        case MODE_UPLOAD:
                if (a.listen_path || o.fallback)
                        return usage_error("--upload-pending goes alone (with --fallback-root=DIR for the host's "
                                           "fallback store)");
                return uploader_run_pending(&settings, o.fallback_root);
        default:
                return run_activated(&a, &o);
        }
}
