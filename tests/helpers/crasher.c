/* SPDX-License-Identifier: MIT */
/*
 * A program that crashes on purpose, for the tests and the quick start.
 *   crasher [--name COMM] [--size MIB] [--reserve MIB] [--signal segv|abort] [--wait-for FILE]
 * Prints its pid (as it sees it) on stdout, optionally fills MIB of memory so the core has
 * weight, or maps MIB and touches one page of it (a core mostly of zeros: cheap to make, costly
 * to take in, as the kernel writes the zeros into the pipe), waits until FILE exists (when the
 * crasher is a container's init and the receiver starts after it), then dies in crash_here(), a
 * function the tests look for in gdb's backtrace. A segmentation fault is a real fault: it kills
 * even a pid namespace's init.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static void __attribute__((noinline)) crash_here(int how) {
        if (how == SIGABRT)
                abort();
        *(volatile int *) 0 = 1;
}

static void fill(size_t mib) {
        size_t size = mib << 20;
        unsigned char *p = malloc(size);
        unsigned x = 12345;
        if (!p)
                exit(3);
        /* A quarter random, a quarter text-like, the rest zero: roughly what real heaps look like. */
        for (size_t i = 0; i < size; i++) {
                size_t q = (i / 4096) % 4;
                x = x * 1103515245 + 12345;
                p[i] = q == 0 ? (unsigned char) (x >> 16) : q == 1 ? (unsigned char) ("core_pipe "[i % 10]) : 0;
        }
        __asm__ volatile("" : : "r"(p) : "memory");
}

int main(int argc, char *argv[]) {
        int how = SIGSEGV;
        const char *wait_for = NULL;
        for (int i = 1; i + 1 < argc; i += 2) {
                if (strcmp(argv[i], "--name") == 0)
                        prctl(PR_SET_NAME, argv[i + 1]);
                else if (strcmp(argv[i], "--size") == 0)
                        fill((size_t) strtoul(argv[i + 1], NULL, 10));
                else if (strcmp(argv[i], "--reserve") == 0) {
                        size_t size = (size_t) strtoul(argv[i + 1], NULL, 10) << 20;
                        volatile char *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
                                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
                        if (m == MAP_FAILED)
                                exit(3);
                        /* One page touched: a mapping never touched is left out of the core,
                         * one touched once is dumped whole, the rest as zeros. */
                        m[0] = 1;
                } else if (strcmp(argv[i], "--signal") == 0)
                        how = strcmp(argv[i + 1], "abort") == 0 ? SIGABRT : SIGSEGV;
                else if (strcmp(argv[i], "--wait-for") == 0)
                        wait_for = argv[i + 1];
        }
        printf("%d\n", (int) getpid());
        fflush(stdout);
        while (wait_for && access(wait_for, F_OK) < 0)
                usleep(20 * 1000);
        crash_here(how);
        return 0;
}
