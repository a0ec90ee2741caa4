/* SPDX-License-Identifier: MIT */
/*
 * core_pipe-receiver: takes cores handed over by the host helper and stores them in the store
 * of the system it runs in (normally a container), under that system's limits.
 *
 * Modes: a socket-activated connection (Accept=yes), a socket-activated listening socket
 * (Accept=no), a resident daemon (--listen), or the host helper's fallback (--fallback, a
 * connection passed the same way as by socket activation).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "connection.h"
#include "listen.h"
#include "log.h"
#include "logsink.h"
#include "macro.h"
#include "parse.h"
#include "protocol.h"
#include "settings.h"

#ifndef CORE_PIPE_RECEIVER_CONFIG_PATH
#error "CORE_PIPE_RECEIVER_CONFIG_PATH must be set by the build"
#endif
#define DEFAULT_MAX_CONNECTIONS 64
#define MAX_OVERRIDES 16

static void help(void) {
        printf("Usage: core_pipe-receiver [OPTIONS]\n"
               "Stores core dumps handed over by the core_pipe host helper.\n\n"
               "  --listen [PATH]          run as a resident daemon on PATH (default %s)\n"
               "  --config=FILE            settings file (default %s)\n"
               "  --max-connections=N      crashes handled at once (default %d)\n"
               "  --fallback               started by the host helper as its fallback\n"
               "  --fallback-root=DIR      with --fallback: the whole fallback store, bounded in total\n"
               "Each setting of the file can be given on the command line instead:\n"
               "  --store=DIR  --storage=external|none  --compress=BOOL  --compress-level=N\n"
               "  --process-size-max=SIZE  --max-use=SIZE|N%%  --keep-free=SIZE|N%%\n"
               "  --max-cores-per-interval=N  --interval=TIMESPAN\n"
               "  -h, --help               show this help\n"
               "  --version                show the version\n\n"
               "Without --listen, the socket comes from the service manager (LISTEN_FDS).\n"
               "See core_pipe-receiver(8).\n",
               CP_SOCKET_PATH, CORE_PIPE_RECEIVER_CONFIG_PATH, DEFAULT_MAX_CONNECTIONS);
}

int main(int argc, char *argv[]) {
        enum { ARG_LISTEN = 0x100, ARG_CONFIG, ARG_FALLBACK, ARG_FALLBACK_ROOT, ARG_MAX_CONN, ARG_VERSION, ARG_SETTING };
        /* Options that set a key of the settings file carry its name in flag's place. */
        static const struct {
                const char *option, *key;
        } setting_options[] = {
                { "store", "Store" },
                { "storage", "Storage" },
                { "compress", "Compress" },
                { "compress-level", "CompressLevel" },
                { "process-size-max", "ProcessSizeMax" },
                { "max-use", "MaxUse" },
                { "keep-free", "KeepFree" },
                { "max-cores-per-interval", "MaxCoresPerInterval" },
                { "interval", "Interval" },
        };
        struct option options[32] = {
                { "listen", optional_argument, NULL, ARG_LISTEN },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "fallback", no_argument, NULL, ARG_FALLBACK },
                { "fallback-root", required_argument, NULL, ARG_FALLBACK_ROOT },
                { "max-connections", required_argument, NULL, ARG_MAX_CONN },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
        };
        size_t n_options = 7;
        for (size_t i = 0; i < ELEMENTSOF(setting_options); i++)
                options[n_options++] = (struct option) { setting_options[i].option, required_argument, NULL,
                                                         ARG_SETTING + (int) i };
        struct {
                const char *key, *value, *option;
        } overrides[MAX_OVERRIDES];
        size_t n_overrides = 0;
        const char *listen_path = NULL, *config_path = CORE_PIPE_RECEIVER_CONFIG_PATH;
        unsigned max_connections = DEFAULT_MAX_CONNECTIONS;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        struct receiver_settings settings;
        struct receiver_options o = {
                .store_opts = {
                        .workers = (int) MAX(1, MIN(cpus, 4)),
                        .chunk_size = 2 * 1024 * 1024,
                },
                .request_timeout_usec = 10 * USEC_PER_SEC,
        };
        char err[768];
        uint32_t v;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_LISTEN:
                        /* Both "--listen=PATH" and "--listen PATH"; a bare "--listen" takes the
                         * default. Only an absolute path is taken as the separate argument. */
                        if (optarg)
                                listen_path = optarg;
                        else if (optind < argc && argv[optind][0] == '/')
                                listen_path = argv[optind++];
                        else
                                listen_path = CP_SOCKET_PATH;
                        if (listen_path[0] != '/') {
                                fprintf(stderr, "core_pipe-receiver: --listen=%s: must be an absolute path\n", listen_path);
                                return 2;
                        }
                        break;
                case ARG_CONFIG:
                        config_path = optarg;
                        break;
                case ARG_FALLBACK:
                        o.fallback = true;
                        break;
                case ARG_FALLBACK_ROOT:
                        if (optarg[0] != '/') {
                                fprintf(stderr, "core_pipe-receiver: --fallback-root=%s: must be an absolute path\n", optarg);
                                return 2;
                        }
                        o.fallback_root = optarg;
                        break;
                case ARG_MAX_CONN:
                        if (parse_uint32(optarg, &v) < 0 || v < 1 || v > 4096) {
                                fprintf(stderr, "core_pipe-receiver: --max-connections=%s: expected 1..4096\n", optarg);
                                return 2;
                        }
                        max_connections = v;
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("core_pipe-receiver %s\n", CORE_PIPE_VERSION);
                        return 0;
                default:
                        if (c >= ARG_SETTING && c < ARG_SETTING + (int) ELEMENTSOF(setting_options) &&
                            n_overrides < MAX_OVERRIDES) {
                                overrides[n_overrides].key = setting_options[c - ARG_SETTING].key;
                                overrides[n_overrides].option = setting_options[c - ARG_SETTING].option;
                                overrides[n_overrides++].value = optarg;
                                break;
                        }
                        return 2;
                }
        if (optind < argc) {
                fprintf(stderr, "core_pipe-receiver: unexpected argument \"%s\"\n", argv[optind]);
                return 2;
        }

        /* A resident daemon keeps nothing of whoever started it beyond stdio: an inherited pipe
         * would hold that shell's or container runtime's reader open for as long as we run. */
        if (listen_path)
                (void) close_range(3, ~0U, 0);

        /* The file first, then the command line over it; either way a bad value stops us. */
        settings_defaults(&settings);
        r = settings_load(config_path, &settings, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "core_pipe-receiver: %s; not starting\n", err);
                if (o.fallback)
                        hostlog_sendf(LOG_ERR, "core_pipe-receiver", "%s; not starting", err);
                return 1;
        }
        for (size_t i = 0; i < n_overrides; i++) {
                const char *expect = NULL;
                if (settings_set(&settings, overrides[i].key, overrides[i].value, &expect) < 0) {
                        fprintf(stderr, "core_pipe-receiver: --%s=%s is invalid: expected %s\n", overrides[i].option,
                                overrides[i].value, expect);
                        return 2;
                }
        }
        o.store_opts.compress = settings.compress;
        o.store_opts.compress_level = settings.compress_level;
        o.settings = &settings;

        /* A crash of the receiver must not come back to it through core_pattern, and nothing
         * should attach to a process that holds other processes' memory. */
        (void) prctl(PR_SET_DUMPABLE, 0);
        (void) setrlimit(RLIMIT_CORE, &(struct rlimit) { 0, 0 });
        signal(SIGPIPE, SIG_IGN);

        log_set_target(log_default_target());
        if (o.fallback) {
                /* The helper writes the crash's log line; we add only what goes wrong. */
                log_set_target(LOG_TARGET_HOST);
                log_set_max_level(LOG_WARNING);
        }

        if (listen_path) {
                _cleanup_close_ int fd = listen_socket_create(listen_path);
                if (fd < 0) {
                        log_error_errno(fd, "Cannot listen on %s%s", listen_path,
                                        fd == -EEXIST ? " (exists and is not a socket)" : "");
                        return 1;
                }
                log_info("Listening on %s, storing cores in %s", listen_path, settings.store);
                (void) sd_notify(0, "READY=1\nSTATUS=Waiting for crashes");
                r = listen_loop(fd, max_connections, &o);
                (void) unlink(listen_path);
                if (r < 0) {
                        log_error_errno(r, "Listening on %s failed", listen_path);
                        return 1;
                }
                return 0;
        }

        r = sd_listen_fds(1);
        if (r < 0) {
                log_error_errno(r, "Invalid socket activation (LISTEN_FDS)");
                return 1;
        }
        if (r == 0) {
                log_error("No socket passed by the service manager; use --listen to run as a daemon");
                return 2;
        }
        if (r > 1) {
                log_error("Expected one socket from the service manager, got %d", r);
                return 1;
        }
        int fd = SD_LISTEN_FDS_START;
        if (sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 1) > 0) {
                (void) sd_notify(0, "READY=1");
                r = listen_loop(fd, max_connections, &o);
                if (r < 0) {
                        log_error_errno(r, "Serving the passed socket failed");
                        return 1;
                }
                return 0;
        }
        if (sd_is_socket(fd, AF_UNIX, SOCK_SEQPACKET, 0) <= 0) {
                log_error("The passed descriptor is not an AF_UNIX SOCK_SEQPACKET socket");
                return 1;
        }
        return handle_connection(fd, &o) < 0 ? 1 : 0;
}
