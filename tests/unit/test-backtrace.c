/* SPDX-License-Identifier: MIT */
/*
 * receiver/backtrace.c on real kernel cores of tests/helpers/crasher-bt.c (made by
 * backtrace-cores.sh, which sets CORES), each streamed through common/stackcap.c in chunks of
 * varying size as the store reads them: every thread present, the crashing one first with
 * crash_here (inlined into level3) and its file and line, the callers in order; a stripped
 * binary named through its separate debug file; a deleted binary still giving module, build-id
 * and offsets; a stack deeper than the cap cut and marked.
 *   test-backtrace SOURCE   (SOURCE: crasher-bt.c, for the line marked CRASH_LINE)
 */
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backtrace.h"
#include "macro.h"
#include "stackcap.h"
#include "tap.h"

static const char *cores;

static uint64_t now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

static char *core_path(const char *name, const char *ext) {
        static char path[4][4096];
        static int i;
        i = (i + 1) % 4;
        snprintf(path[i], sizeof(path[i]), "%s/%s.%s", cores, name, ext);
        return path[i];
}

/* The first line of a small file, without its newline. */
static char *read_line(const char *path) {
        static char buf[4096];
        FILE *f = fopen(path, "re");
        buf[0] = '\0';
        if (f) {
                if (!fgets(buf, sizeof(buf), f))
                        buf[0] = '\0';
                fclose(f);
        }
        buf[strcspn(buf, "\n")] = '\0';
        return buf;
}

/* Streams the core file through a new capture, in chunks of 1 byte to 192 KiB. */
static struct stack_capture *capture_file(const char *path, const struct stack_capture_limits *l, unsigned seed) {
        struct stack_capture *c;
        if (stack_capture_new(l, NULL, &c) < 0)
                return NULL;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return stack_capture_free(c);
        static char buf[192 * 1024];
        uint64_t off = 0;
        for (;;) {
                seed = seed * 1103515245u + 12345u;
                size_t want = seed % 5 == 0 ? 1 + seed % 97 : 1 + (seed >> 8) % sizeof(buf);
                ssize_t n = read(fd, buf, want);
                if (n <= 0)
                        break;
                stack_capture_observe(c, off, buf, (size_t) n);
                off += (uint64_t) n;
        }
        close(fd);
        return c;
}

static int crash_line(const char *source) {
        FILE *f = fopen(source, "re");
        char line[512];
        int n = 0, found = 0;
        while (f && fgets(line, sizeof(line), f)) {
                n++;
                if (strstr(line, "/* CRASH_LINE */"))
                        found = n;
        }
        if (f)
                fclose(f);
        return found;
}

/* The build-id of an ELF file, in hex, through libdwelf. */
static void file_build_id(const char *path, char out[41]) {
        out[0] = '\0';
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        elf_version(EV_CURRENT);
        Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
        const void *id;
        ssize_t n = elf ? dwelf_elf_gnu_build_id(elf, &id) : -1;
        for (ssize_t i = 0; i < n && i < 20; i++)
                snprintf(out + 2 * i, 3, "%02x", ((const unsigned char *) id)[i]);
        if (elf)
                elf_end(elf);
        if (fd >= 0)
                close(fd);
}

static bool ends_with(const char *s, const char *suffix) {
        size_t a = s ? strlen(s) : 0, b = strlen(suffix);
        return s && a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool same(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

static void show(const struct backtrace *b) {
        char *text;
        if (backtrace_format(b, 0, &text) < 0)
                return;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
                printf("# %s\n", line);
        free(text);
        if (b->error[0])
                printf("# error: %s\n", b->error);
}

/* Index of the first frame of t named fn at or after from, or -1. */
static ssize_t find_frame(const struct bt_thread *t, const char *fn, size_t from) {
        for (size_t i = from; i < t->n_frames; i++)
                if (same(t->frames[i].function, fn))
                        return (ssize_t) i;
        return -1;
}

static bool callers_in_order(const struct bt_thread *t) {
        static const char *const chain[] = {"crash_here", "level3", "level2", "level1", "crasher_worker"};
        for (size_t i = 0; i < ELEMENTSOF(chain); i++)
                if (i >= t->n_frames || !same(t->frames[i].function, chain[i]))
                        return false;
        return true;
}

static void test_threads(const char *source) {
        struct stack_capture *c = capture_file(core_path("threads", "core"), NULL, 1);
        struct backtrace b;
        int r = backtrace_from_capture(c, NULL, &b);
        show(&b);
        CHECK(r == 8, "8 threads unwound, each with frames (%d)", r);
        CHECK(b.n_threads == 8, "8 threads listed (%zu)", b.n_threads);
        const struct bt_thread *t = b.n_threads ? &b.threads[0] : NULL;
        pid_t tid = (pid_t) atoi(read_line(core_path("threads", "tid")));
        CHECK(t && t->crashed && t->tid == tid, "the crashing thread (%d) comes first", (int) tid);
        bool others = b.n_threads > 1;
        for (size_t i = 1; i < b.n_threads; i++)
                others = others && !b.threads[i].crashed &&
                         (find_frame(&b.threads[i], "crasher_worker", 0) >= 0 ||
                          find_frame(&b.threads[i], "main", 0) >= 0);
        CHECK(others, "every other thread is a waiting worker or main, unwound to its function");
        CHECK(t && callers_in_order(t),
              "crash_here, level3, level2, level1, crasher_worker: the crash's frames in order");
        const struct bt_frame *f0 = t && t->n_frames ? &t->frames[0] : NULL;
        int line = crash_line(source);
        CHECK(f0 && f0->inlined && ends_with(f0->file, "crasher-bt.c") && f0->line == line,
              "frame #0 crash_here is inlined, at crasher-bt.c:%d (%s:%d)", line, f0 ? f0->file : "-",
              f0 ? f0->line : 0);
        CHECK(t && t->n_frames > 1 && !t->frames[1].inlined && t->frames[1].pc == f0->pc && t->frames[1].line > 0,
              "frame #1 level3 is the real frame at the same pc, with the call's line");
        char id[41];
        const char *exe = read_line(core_path("threads", "exe"));
        char exe_copy[4096];
        snprintf(exe_copy, sizeof(exe_copy), "%s", exe);
        file_build_id(exe_copy, id);
        CHECK(f0 && same(f0->module, exe_copy) && id[0] && same(f0->build_id, id),
              "frame #0's module is the crasher (%s), with its build-id (%s)", f0 ? f0->module : "-", id);
        CHECK(t && !t->cut, "the crashing thread's stack is whole: not cut");
        bool libc = false;
        for (size_t i = 0; i < b.n_modules; i++)
                libc = libc ||
                       (strstr(b.modules[i].path, "libc.so") && b.modules[i].have_elf && b.modules[i].build_id[0]);
        CHECK(libc, "the modules list libc, its file found and its build-id known");
        const char *pkg = NULL;
        for (size_t i = 0; i < b.n_modules; i++)
                if (same(b.modules[i].path, exe_copy))
                        pkg = b.modules[i].package_json;
        CHECK(pkg && strstr(pkg, "\"name\":\"core-pipe-tests\""), "the crasher's module carries its .note.package (%s)",
              pkg ? pkg : "none");

        char *text = NULL;
        CHECK(backtrace_format(&b, 0, &text) == 0 && strstr(text, "Stack trace of thread ") && strstr(text, "#0  0x") &&
                      strstr(text, " crash_here ") && strstr(text, "(crasher-bt + 0x"),
              "backtrace_format: coredumpctl's layout");
        free(text);
        backtrace_done(&b);
        stack_capture_free(c);
}

/* The same backtrace, whatever the chunking of the stream. */
static bool same_backtrace(const struct backtrace *a, const struct backtrace *b) {
        if (a->n_threads != b->n_threads || a->n_modules != b->n_modules)
                return false;
        for (size_t i = 0; i < a->n_threads; i++) {
                const struct bt_thread *x = &a->threads[i], *y = &b->threads[i];
                if (x->tid != y->tid || x->n_frames != y->n_frames || x->cut != y->cut)
                        return false;
                for (size_t j = 0; j < x->n_frames; j++)
                        if (x->frames[j].pc != y->frames[j].pc || x->frames[j].line != y->frames[j].line ||
                            (x->frames[j].function && !same(x->frames[j].function, y->frames[j].function)))
                                return false;
        }
        return true;
}

static void test_chunking(void) {
        struct stack_capture *c1 = capture_file(core_path("threads", "core"), NULL, 7);
        struct stack_capture *c2 = capture_file(core_path("threads", "core"), NULL, 12345);
        struct backtrace a, b;
        int r1 = backtrace_from_capture(c1, NULL, &a), r2 = backtrace_from_capture(c2, NULL, &b);
        CHECK(r1 == 8 && r2 == 8 && same_backtrace(&a, &b), "two chunkings of the stream, one backtrace");
        backtrace_done(&a);
        backtrace_done(&b);
        stack_capture_free(c1);
        stack_capture_free(c2);
}

static void test_stripped(void) {
        struct stack_capture *c = capture_file(core_path("stripped", "core"), NULL, 3);
        struct backtrace_options none = {.debuginfo_path = "/nonexistent"};
        struct backtrace b;
        (void) backtrace_from_capture(c, &none, &b);
        const struct bt_thread *t = b.n_threads ? &b.threads[0] : NULL;
        CHECK(t && t->n_frames > 0 && !t->frames[0].function && !t->frames[0].file,
              "stripped, no debug file: the crash's frame has no function nor line (the test's control)");
        backtrace_done(&b);

        char path[4096];
        snprintf(path, sizeof(path), "%s/debug", cores);
        struct backtrace_options o = {.debuginfo_path = path};
        int r = backtrace_from_capture(c, &o, &b);
        show(&b);
        t = b.n_threads ? &b.threads[0] : NULL;
        CHECK(r == 8 && t && callers_in_order(t),
              "stripped, debug file under .build-id: crash_here and its callers named");
        CHECK(t && t->n_frames > 0 && ends_with(t->frames[0].file, "crasher-bt.c") && t->frames[0].line > 0,
              "stripped, debug file under .build-id: file and line of the fault");
        bool debug = false;
        for (size_t i = 0; i < b.n_modules; i++)
                debug = debug || (ends_with(b.modules[i].path, "crasher-bt-stripped") && b.modules[i].have_debug);
        CHECK(debug, "the stripped module says its debug information was found");
        backtrace_done(&b);
        stack_capture_free(c);
}

static void test_deleted(void) {
        struct stack_capture *c = capture_file(core_path("deleted", "core"), NULL, 5);
        struct backtrace b;
        int r = backtrace_from_capture(c, NULL, &b);
        show(&b);
        const struct bt_thread *t = b.n_threads ? &b.threads[0] : NULL;
        char id[41];
        /* The deleted copy was a copy of this file: the same build-id. */
        char exe[4096];
        snprintf(exe, sizeof(exe), "%s", read_line(core_path("threads", "exe")));
        file_build_id(exe, id);
        bool ok = r > 0 && t && t->n_frames >= 4;
        for (size_t i = 0; ok && i < 4; i++) {
                const struct bt_frame *f = &t->frames[i];
                ok = ends_with(f->module, "crasher-bt-copy (deleted)") && same(f->build_id, id) &&
                     f->module_offset > 0 && f->module_offset < 0x100000;
        }
        CHECK(ok, "deleted binary: its 4 frames carry the module, the build-id (%s) and offsets", id);
        CHECK(t && t->n_frames >= 5 && find_frame(t, "start_thread", 4) >= 0,
              "deleted binary: unwound on through it to libc's start_thread (frame pointers)");
        backtrace_done(&b);
        stack_capture_free(c);
}

static void test_deep(void) {
        /* 2000 calls of about 1 KiB: over the default 256 KiB a thread. */
        struct stack_capture *c = capture_file(core_path("deep", "core"), NULL, 9);
        struct stack_capture_stats st;
        stack_capture_stats(c, &st);
        struct backtrace_options o = {.max_frames = 10000};
        struct backtrace b;
        int r = backtrace_from_capture(c, &o, &b);
        const struct bt_thread *t = b.n_threads ? &b.threads[0] : NULL;
        ssize_t n = 0;
        for (ssize_t i = 0; t && (i = find_frame(t, "recurse", (size_t) i)) >= 0; i++)
                n++;
        printf("# deep: %zd recurse frames, stack kept %" PRIu64 " bytes, image %" PRIu64 " bytes\n", n, st.stack_bytes,
               st.memory);
        CHECK(r == 1 && t && t->cut && same(t->frames[0].function, "crash_here"),
              "deep stack: unwound from crash_here, marked cut");
        CHECK(n > 100 && n < 300 && st.stack_bytes <= STACK_CAPTURE_PER_THREAD_DEFAULT,
              "deep stack: only the recursions the 256 KiB kept (%zd)", n);
        CHECK(st.memory <= STACK_CAPTURE_PER_THREAD_DEFAULT + 256 * 1024,
              "deep stack: the capture holds %" PRIu64 " bytes", st.memory);
        backtrace_done(&b);
        stack_capture_free(c);

        struct stack_capture_limits big = {.per_thread = 8u << 20};
        c = capture_file(core_path("deep", "core"), &big, 11);
        r = backtrace_from_capture(c, &o, &b);
        t = b.n_threads ? &b.threads[0] : NULL;
        n = 0;
        for (ssize_t i = 0; t && (i = find_frame(t, "recurse", (size_t) i)) >= 0; i++)
                n++;
        CHECK(r == 1 && t && !t->cut && n == 2000 && find_frame(t, "main", 0) > 0,
              "deep stack, per-thread cap of 8 MiB: all 2000 recursions and main, not cut (%zd)", n);
        backtrace_done(&b);
        stack_capture_free(c);
}

static void test_limits(void) {
        struct stack_capture *c = capture_file(core_path("threads", "core"), NULL, 13);
        struct backtrace_options o = {.max_frames = 3};
        struct backtrace b;
        (void) backtrace_from_capture(c, &o, &b);
        CHECK(b.n_threads == 8 && b.threads[0].n_frames == 3 && b.threads[0].cut,
              "a frame cap of 3: 3 frames, marked cut");
        backtrace_done(&b);
        o = (struct backtrace_options){.max_threads = 2};
        (void) backtrace_from_capture(c, &o, &b);
        CHECK(b.n_threads == 2 && b.threads[0].crashed && strstr(b.error, "6 threads of 8 left out"),
              "a thread cap of 2: the crashing thread and one more, and the rest counted (%s)", b.error);
        backtrace_done(&b);
        o = (struct backtrace_options){.timeout_usec = 1};
        int r = backtrace_from_capture(c, &o, &b);
        CHECK(r == -ETIME && b.error[0], "a deadline already past: -ETIME, and the reason (%s)", b.error);
        backtrace_done(&b);
        stack_capture_free(c);

        /* Room for the notes, the module pages and the crashing thread's stack only, taken from the
         * uncapped capture (a fixed 128 KiB held every stack on one machine). */
        c = capture_file(core_path("threads", "core"), NULL, 17);
        struct stack_capture_stats st;
        struct stack_capture_thread ct;
        stack_capture_stats(c, &st);
        uint64_t room = stack_capture_thread(c, 0, &ct) == 0 ? st.notes_bytes + st.module_bytes + ct.captured : 0;
        stack_capture_free(c);
        struct stack_capture_limits tiny = {.total = room};
        c = capture_file(core_path("threads", "core"), &tiny, 17);
        r = backtrace_from_capture(c, NULL, &b);
        show(&b);
        CHECK(b.n_threads == 8 && b.threads[0].crashed && callers_in_order(&b.threads[0]) && !b.threads[0].cut,
              "StackCaptureMax of the notes, the pages and one stack (%" PRIu64
              " B): the crashing thread is still whole",
              room);
        size_t cut = 0;
        for (size_t i = 1; i < b.n_threads; i++)
                cut += b.threads[i].cut;
        CHECK(cut > 0, "StackCaptureMax of the notes, the pages and one stack: other threads are cut (%zu)", cut);
        backtrace_done(&b);
        stack_capture_free(c);
}

static void test_no_core(void) {
        struct stack_capture *c;
        struct backtrace b;
        CHECK(stack_capture_new(NULL, NULL, &c) == 0, "a capture that saw nothing");
        stack_capture_observe(c, 0, "not an ELF core, only text", 26);
        int r = backtrace_from_capture(c, NULL, &b);
        CHECK(r < 0 && b.n_threads == 0 && b.error[0], "no core: no threads, and why (%d: %s)", r, b.error);
        backtrace_done(&b);
        stack_capture_free(c);
}

static void test_isolation(void) {
        struct stack_capture *c = capture_file(core_path("threads", "core"), NULL, 21);
        struct backtrace a, b;
        struct backtrace_options in = {.in_process = true};
        int r1 = backtrace_from_capture(c, &in, &a), r2 = backtrace_from_capture(c, NULL, &b);
        CHECK(r1 == 8 && r2 == 8 && same_backtrace(&a, &b) && b.n_modules == a.n_modules && b.n_modules > 0 &&
                      same(a.modules[0].build_id, b.modules[0].build_id),
              "in a child process (the default) and in this one: the same backtrace");
        backtrace_done(&a);
        backtrace_done(&b);

        char *buf;
        size_t size;
        int result;
        (void) backtrace_from_capture(c, &in, &a);
        CHECK(backtrace_serialize(&a, 8, &buf, &size) == 0 && backtrace_deserialize(buf, size, &result, &b) == 0 &&
                      result == 8 && same_backtrace(&a, &b),
              "the child's message reads back the same");
        bool refused = true;
        for (size_t cut = 0; cut < size; cut += 1 + cut / 8) {
                struct backtrace x;
                refused = refused && backtrace_deserialize(buf, cut, &result, &x) == -EBADMSG;
        }
        CHECK(refused, "the child's message cut anywhere: refused");
        char *longer = malloc(size + 1);
        struct backtrace x;
        if (!longer)
                abort();
        memcpy(longer, buf, size);
        longer[size] = 0;
        CHECK(backtrace_deserialize(longer, size + 1, &result, &x) == -EBADMSG,
              "the child's message with a byte more: refused");
        free(longer);
        free(buf);
        backtrace_done(&a);
        backtrace_done(&b);
        stack_capture_free(c);
}

/* Runs this program again with DEBUGINFOD_URLS=url (libdwfl reads it when it is loaded) and
 * MODE; returns its exit status, and its run time in *usec. */
static int run_with_debuginfod(const char *self, const char *url, const char *mode, uint64_t *usec) {
        char cache[4096];
        snprintf(cache, sizeof(cache), "%s/debuginfod-cache-%s", cores, mode);
        uint64_t start = now();
        pid_t pid = fork();
        if (pid == 0) {
                setenv("DEBUGINFOD_URLS", url, 1);
                setenv("DEBUGINFOD_CACHE_PATH", cache, 1);
                execl(self, self, "-", mode, (char *) NULL);
                _exit(127);
        }
        int status = 0;
        while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        *usec = now() - start;
        return pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* In the program run again: the stripped core, no local debug file, a 6 s bound. */
static int debuginfod_mode(const char *mode) {
        struct stack_capture *c = capture_file(core_path("stripped", "core"), NULL, 1);
        struct backtrace_options o = {.debuginfo_path = "/nonexistent", .timeout_usec = 6 * 1000 * 1000};
        struct backtrace b;
        int r = backtrace_from_capture(c, &o, &b);
        show(&b);
        bool named = r > 0 && callers_in_order(&b.threads[0]) && b.threads[0].frames[0].line > 0;
        /* Given up at half the time: every thread unwound all the same, within the bound. */
        bool bounded = r == 8 && b.usec < 4500 * 1000 && b.threads[0].n_frames >= 4 && b.threads[0].frames[0].module;
        backtrace_done(&b);
        stack_capture_free(c);
        if (strcmp(mode, "fetch") == 0)
                return named ? 0 : 1;
        return bounded ? 0 : 1;
}

/* A server that takes connections and never answers: the kernel accepts them for it. */
static int silent_server(char *url, size_t size) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                return -1;
        snprintf(url, size, "http://127.0.0.1:%u", ntohs(a.sin_port));
        return fd;
}

static void test_debuginfod(const char *self) {
        uint64_t usec;
        const char *url = getenv("DEBUGINFOD_TEST_URL");
        if (url && url[0]) {
                int st = run_with_debuginfod(self, url, "fetch", &usec);
                CHECK(st == 0,
                      "debuginfod serving crasher-bt: the stripped binary's frames named, no local debug file");
        } else
                printf("ok %d - # SKIP no debuginfod server (DEBUGINFOD_TEST_URL)\n", ++tap_n);
        char silent[64];
        int fd = silent_server(silent, sizeof(silent));
        int st = run_with_debuginfod(self, silent, "silent", &usec);
        CHECK(fd >= 0 && st == 0 && usec < 8 * 1000 * 1000,
              "debuginfod that never answers, BacktraceTimeout of 6 s: given up at 3 s, every thread unwound in "
              "%" PRIu64 " ms",
              usec / 1000);
        if (fd >= 0)
                close(fd);
}

int main(int argc, char **argv) {
        cores = getenv("CORES");
        if (cores && argc == 3 && strcmp(argv[1], "-") == 0)
                return debuginfod_mode(argv[2]);
        if (!cores || argc < 2) {
                printf("Bail out! run through backtrace-cores.sh, with crasher-bt.c's path\n");
                return 1;
        }
        test_threads(argv[1]);
        test_chunking();
        test_stripped();
        test_deleted();
        test_deep();
        test_limits();
        test_no_core();
        test_isolation();
        test_debuginfod(argv[0]);
        return tap_done();
}
