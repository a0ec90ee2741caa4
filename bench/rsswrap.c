/* SPDX-License-Identifier: MIT */
/*
 * rsswrap RESULT [--stdout FILE] [--fsync FILE] -- COMMAND [ARGS...]
 * Runs a core handler for the benchmark and appends one line to RESULT when it is done:
 *   rss_kib=N cpu_s=C status=S end_real=T
 * with the handler's peak RSS and CPU time (getrusage of the child) and the wall-clock time once its output
 * is durable: --stdout sends the child's stdout to FILE, --fsync syncs FILE after the child
 * exits (for handlers that do not sync themselves). In a socket-activated setting LISTEN_PID is
 * set to the child's pid, so that the handler finds its descriptors.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        const char *result, *out = NULL, *sync_path = NULL;
        int i = 2;
        if (argc < 4)
                return 2;
        result = argv[1];
        for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
                if (i + 1 >= argc)
                        return 2;
                if (strcmp(argv[i], "--stdout") == 0)
                        out = sync_path = argv[i + 1];
                else if (strcmp(argv[i], "--fsync") == 0)
                        sync_path = argv[i + 1];
                else
                        return 2;
        }
        if (i + 1 >= argc)
                return 2;
        char **cmd = argv + i + 1;

        pid_t pid = fork();
        if (pid < 0)
                return 1;
        if (pid == 0) {
                /* The kernel starts a core handler with only the pipe open: give the command a
                 * stdout and stderr, as a shell would. */
                int null = open("/dev/null", O_RDWR);
                if (null < 0 || (null != 1 && dup2(null, 1) < 0) || (null != 2 && dup2(null, 2) < 0))
                        _exit(127);
                if (null > 2)
                        close(null);
                if (out) {
                        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                        if (fd < 0 || dup2(fd, 1) < 0)
                                _exit(127);
                }
                if (getenv("LISTEN_FDS")) {
                        char buf[32];
                        snprintf(buf, sizeof(buf), "%d", (int) getpid());
                        setenv("LISTEN_PID", buf, 1);
                }
                execv(cmd[0], cmd);
                _exit(127);
        }
        int status;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0)
                return 1;
        if (sync_path) {
                int fd = open(sync_path, O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                        fsync(fd);
                        close(fd);
                }
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        FILE *f = fopen(result, "ae");
        if (!f)
                return 1;
        fprintf(f, "rss_kib=%ld cpu_s=%.3f status=%d end_real=%ld.%06ld\n", ru.ru_maxrss,
                (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                        (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
                status, (long) ts.tv_sec, ts.tv_nsec / 1000);
        fclose(f);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
