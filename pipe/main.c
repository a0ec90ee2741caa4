/* SPDX-License-Identifier: MIT */
/*
 * core_pipe: the host's crash handler. It runs as root in the host's namespaces for every crash
 * on the machine, pins the crashed process, finds the receiver inside that process's own root
 * and hands the core over, or falls back to the host policy; it never reads the core itself and
 * leaves one log line per crash (crash.c). The kernel reaches it one of two ways:
 *
 *   core_pipe KEY=VALUE...            the helper named in kernel.core_pattern ("|..."), the core
 *                                     on stdin (this file);
 *   core_pipe --socket | --serve      the host's coredump socket ("@@PATH", sockmode.c);
 *   core_pipe --pattern socket|pipe   switches kernel.core_pattern between the two (pattern.c).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "crash.h"
#include "macro.h"
#include "sockmode.h"

/* The kernel starts us with only stdin open. Anything that prints by accident must not land
 * in the core pipe or in a descriptor we open later, so 1 and 2 point to /dev/null first. */
static void ensure_standard_fds(void) {
        for (int fd = 1; fd <= 2; fd++)
                if (fcntl(fd, F_GETFD) < 0) {
                        int null = open("/dev/null", O_WRONLY | O_NOCTTY);
                        if (null >= 0 && null != fd) {
                                dup2(null, fd);
                                close(null);
                        }
                }
}

/* The helper itself: nothing it prints may land in a descriptor it opens later, nothing may
 * ptrace it or read its core, and a receiver that hangs up must not kill it. */
static void setup_helper(void) {
        ensure_standard_fds();
        /* Root in the host's namespaces, talking to a receiver that may be hostile: no ptrace
         * or /proc access to us from any user namespace but the host's, and no core of ours
         * (a resident server that crashed would otherwise connect to itself). */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        signal(SIGPIPE, SIG_IGN);
        umask(0077);
}

/* The helper named in kernel.core_pattern: the kernel's arguments, the core on stdin. */
static int pipe_main(int argc, char *argv[]) {
        struct crash c = CRASH_NULL;
        char err[512];

        int r = parse_kernel_args(argc, argv, &c.args, err, sizeof(err));
        if (r < 0) {
                log_helper_problem(LOG_ERR, "cannot handle a crash: %s; core dropped", err);
                return 1;
        }
        crash_load_config(c.args.config_path, &c.cfg);
        return crash_handle(&c) < 0 ? 1 : 0;
}

int main(int argc, char *argv[]) {
        setup_helper();
        /* The kernel's arguments are KEY=VALUE, never "--...": the two cannot be confused. */
        if (argc > 1 && strncmp(argv[1], "--", 2) == 0)
                return service_main(argc, argv);
        return pipe_main(argc, argv);
}
