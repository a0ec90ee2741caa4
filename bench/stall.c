/* SPDX-License-Identifier: MIT */
/*
 * stall --size MIB: forks a child that fills MIB of memory with a realistic mix (a quarter
 * random, a quarter text-like, half zero pages) and then faults; prints how long the crashed
 * child stayed stuck, from the fault to being reaped by its parent, in seconds:
 *   stall_s=0.5120 size_mib=1024 dumped=yes fault_real=1795400000.123456 dump_cpu_s=0.431
 * (fault_real: the wall-clock time of the fault, to measure when the core became durable;
 * dump_cpu_s: the CPU time the crashed process spent after the fault, i.e. the kernel writing
 * its core into the pipe or file)
 * Run it where the crash should be handled (inside a container for core_pipe).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double clock_s(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double now(void) {
        return clock_s(CLOCK_MONOTONIC);
}

static double cpu_s(const struct rusage *ru) {
        return (double) (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) +
               (double) (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
}

static void fill(unsigned char *p, size_t size) {
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        static const char text[] = "core_pipe stores cores inside the container that crashed. ";
        for (size_t off = 0; off < size; off += 4096) {
                unsigned kind = (unsigned) ((off / 4096) % 4);
                if (kind == 0) {
                        for (size_t i = 0; i < 4096; i += 8) {
                                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                                memcpy(p + off + i, &x, 8);
                        }
                } else if (kind == 1) {
                        for (size_t i = 0; i < 4096; i++)
                                p[off + i] = (unsigned char) text[(off + i) % (sizeof(text) - 1)];
                } else {
                        memset(p + off, 0, 4096); /* touched, so it is in the core */
                }
        }
}

int main(int argc, char *argv[]) {
        size_t mib = 4;
        const char *name = "stall-crasher";
        for (int i = 1; i + 1 < argc; i += 2) {
                if (strcmp(argv[i], "--size") == 0)
                        mib = strtoul(argv[i + 1], NULL, 10);
                else if (strcmp(argv[i], "--name") == 0)
                        name = argv[i + 1];
        }
        int p[2];
        if (pipe(p) < 0)
                return 1;
        pid_t pid = fork();
        if (pid == 0) {
                unsigned char *mem = malloc(mib << 20);
                if (!mem)
                        _exit(3);
                fill(mem, mib << 20);
                prctl(PR_SET_NAME, name);
                setrlimit(RLIMIT_CORE, &(struct rlimit){RLIM_INFINITY, RLIM_INFINITY});
                struct rusage ru;
                getrusage(RUSAGE_SELF, &ru);
                double t[3] = {now(), clock_s(CLOCK_REALTIME), cpu_s(&ru)};
                if (write(p[1], t, sizeof(t)) != sizeof(t))
                        _exit(4);
                *(volatile int *) 0 = 1;
                _exit(5);
        }
        close(p[1]);
        double crashed[3];
        if (read(p[0], crashed, sizeof(crashed)) != sizeof(crashed))
                return 1;
        int status;
        struct rusage ru;
        wait4(pid, &status, 0, &ru);
        double reaped = now();
        printf("stall_s=%.4f size_mib=%zu dumped=%s fault_real=%.6f dump_cpu_s=%.3f\n", reaped - crashed[0], mib,
               WIFSIGNALED(status) && WCOREDUMP(status) ? "yes" : "no", crashed[1], cpu_s(&ru) - crashed[2]);
        return 0;
}
