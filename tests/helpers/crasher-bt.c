/* SPDX-License-Identifier: MIT */
/*
 * A crasher for the backtraces (receiver/backtrace.h), built with -g:
 *   crasher-bt threads [--unlink-self] [--wait-for FILE]
 *       8 threads in all (main and 7 workers); worker 3 faults three calls deep,
 *       crasher_worker -> level1 -> level2 -> level3, in crash_here(), a function inlined into
 *       level3. The others wait on a condition variable (in the C library, in a futex).
 *   crasher-bt deep DEPTH [--unlink-self] [--wait-for FILE]
 *       the main thread recurses DEPTH times (about 1 KiB of stack a call) in recurse(), then
 *       faults in crash_here(): a stack deeper than a capture's cap.
 * --unlink-self removes its own executable first (a binary deleted after start);
 * --wait-for FILE waits until FILE exists before faulting.
 * Prints its pid, then the crashing thread's tid, on stdout. The line of the fault is marked
 * CRASH_LINE below: the tests read its number from this file.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKERS 7
#define CRASHING_WORKER 3

static int *volatile null_ptr;
static const char *wait_for;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int started;

static void wait_for_file(void) {
        struct stat st;
        while (wait_for && stat(wait_for, &st) < 0)
                usleep(10 * 1000);
}

static inline __attribute__((always_inline)) void crash_here(int v) {
        wait_for_file();
        *null_ptr = v; /* CRASH_LINE */
}

static __attribute__((noinline)) int level3(int v) {
        crash_here(v + 1);
        __asm__ volatile("" ::: "memory");
        return v;
}

static __attribute__((noinline)) int level2(int v) {
        int r = level3(v + 1);
        __asm__ volatile("" ::: "memory");
        return r;
}

static __attribute__((noinline)) int level1(int v) {
        int r = level2(v + 1);
        __asm__ volatile("" ::: "memory");
        return r;
}

static void *crasher_worker(void *arg) {
        long n = (long) arg;
        pthread_mutex_lock(&lock);
        started++;
        if (n != CRASHING_WORKER) {
                for (;;)
                        pthread_cond_wait(&never, &lock);
        }
        /* All the others first: every thread is in the core, each waiting. */
        while (started < WORKERS) {
                pthread_mutex_unlock(&lock);
                usleep(1000);
                pthread_mutex_lock(&lock);
        }
        pthread_mutex_unlock(&lock);
        printf("%ld\n", (long) syscall(SYS_gettid));
        fflush(stdout);
        level1((int) n);
        return NULL;
}

static __attribute__((noinline)) int recurse(int depth) {
        volatile char pad[1000];
        pad[0] = (char) depth;
        if (depth <= 1)
                crash_here(depth);
        else
                pad[1] = (char) recurse(depth - 1);
        __asm__ volatile("" ::: "memory");
        return pad[0] + pad[1];
}

static void unlink_self(void) {
        char path[4096];
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n <= 0)
                exit(3);
        path[n] = '\0';
        if (unlink(path) < 0)
                exit(3);
}

int main(int argc, char **argv) {
        if (argc < 2)
                return 2;
        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--unlink-self") == 0)
                        unlink_self();
                else if (strcmp(argv[i], "--wait-for") == 0 && i + 1 < argc)
                        wait_for = argv[++i];
        }
        printf("%ld\n", (long) getpid());
        fflush(stdout);
        if (strcmp(argv[1], "deep") == 0 && argc >= 3) {
                printf("%ld\n", (long) getpid());
                fflush(stdout);
                return recurse(atoi(argv[2]));
        }
        if (strcmp(argv[1], "threads") != 0)
                return 2;
        pthread_t t[WORKERS];
        for (long i = 0; i < WORKERS; i++)
                if (pthread_create(&t[i], NULL, crasher_worker, (void *) i) != 0)
                        return 3;
        for (int i = 0; i < WORKERS; i++)
                pthread_join(t[i], NULL);
        return 0;
}
