/* SPDX-License-Identifier: MIT */
/*
 * A program that crashes on purpose, for the tests and the quick start.
 *   crasher [--name COMM] [--size MIB] [--map MIB | --reserve MIB] [--signal segv|abort] [--wait-for FILE]
 * Prints its pid (as it sees it) on stdout, optionally fills MIB of memory so the core has
 * weight, or maps MIB it touches once (a huge core of zeros that costs no memory), waits until
 * FILE exists (when the crasher is a container's init and the receiver
 * starts after it), then dies in crash_here(), a function the tests look for in gdb's
 * backtrace. A segmentation fault is a real fault: it kills even a pid namespace's init.
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

static void map_untouched(size_t mib) {
        /* One page written gives the mapping its anonymous memory: the kernel then dumps all of
         * it, every page never touched as zeros down the pipe. */
        char *p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
                exit(3);
        p[0] = 1;
}

int main(int argc, char *argv[]) {
        int how = SIGSEGV;
        const char *wait_for = NULL;
        for (int i = 1; i + 1 < argc; i += 2) {
                if (strcmp(argv[i], "--name") == 0)
                        prctl(PR_SET_NAME, argv[i + 1]);
                else if (strcmp(argv[i], "--size") == 0)
                        fill((size_t) strtoul(argv[i + 1], NULL, 10));
                else if (strcmp(argv[i], "--map") == 0 || strcmp(argv[i], "--reserve") == 0)
                        map_untouched((size_t) strtoul(argv[i + 1], NULL, 10));
                else if (strcmp(argv[i], "--signal") == 0)
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
