/* SPDX-License-Identifier: MIT */
/*
 * common/stackcap.c on real kernel cores of tests/helpers/crasher-bt.c (backtrace-cores.sh makes
 * them and sets CORES): what it keeps is byte for byte what the core holds at those addresses;
 * its synthetic core reads back (through common/elfcore.c) with the same notes; the chunking of
 * the stream changes nothing; a gap or an early end cuts only what it crosses; the caps hold.
 */
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfcore.h"
#include "macro.h"
#include "stackcap.h"
#include "tap.h"

static const char *cores;

struct core_file {
        uint8_t *data; /* the whole core, read once (tens of MiB at most, mostly zeros) */
        size_t size;
};

static bool load(const char *name, struct core_file *ret) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.core", cores, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return false;
        ret->size = (size_t) st.st_size;
        ret->data = malloc(ret->size);
        size_t got = 0;
        while (ret->data && got < ret->size) {
                ssize_t n = read(fd, ret->data + got, ret->size - got);
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        close(fd);
        return ret->data && got == ret->size;
}

static pid_t read_tid(const char *name) {
        char path[4096], buf[32] = "";
        snprintf(path, sizeof(path), "%s/%s.tid", cores, name);
        FILE *f = fopen(path, "re");
        if (f) {
                if (!fgets(buf, sizeof(buf), f))
                        buf[0] = '\0';
                fclose(f);
        }
        return (pid_t) atoi(buf);
}

/*
 * Streams [0, end) of the core through c: chunks of 1 byte to 64 KiB from seed (seed 0: 1 MiB
 * chunks), now and then re-sending bytes already sent; the bytes [skip_lo, skip_hi) are never sent.
 */
static void feed(struct stack_capture *c, const struct core_file *f, unsigned seed, uint64_t end, uint64_t skip_lo,
                 uint64_t skip_hi) {
        end = MIN(end, (uint64_t) f->size);
        for (uint64_t off = 0; off < end;) {
                size_t n = seed ? 1 + (seed >> 4) % (64 * 1024) : 1u << 20;
                if (seed && seed % 11 == 0)
                        n = 1 + seed % 13;
                n = (size_t) MIN((uint64_t) n, end - off);
                uint64_t back = seed && seed % 7 == 0 && off >= 5 ? 5 : 0;
                uint64_t lo = off - back, hi = off + n;
                if (hi <= skip_lo || lo >= skip_hi)
                        stack_capture_observe(c, lo, f->data + lo, (size_t) (hi - lo));
                else { /* the parts of the chunk around the bytes never sent */
                        if (lo < skip_lo)
                                stack_capture_observe(c, lo, f->data + lo, (size_t) (skip_lo - lo));
                        if (hi > skip_hi)
                                stack_capture_observe(c, skip_hi, f->data + skip_hi, (size_t) (hi - skip_hi));
                }
                off += n;
                seed = seed ? seed * 1103515245u + 12345u : 0;
        }
}

static struct stack_capture *capture(const struct core_file *f, const struct stack_capture_limits *l, unsigned seed) {
        struct stack_capture *c;
        if (stack_capture_new(l, NULL, &c) < 0)
                abort();
        feed(c, f, seed, UINT64_MAX, 0, 0);
        return c;
}

/* The real core's bytes at vaddr, through its own program headers, or NULL. */
static const uint8_t *core_bytes(const struct core_file *f, uint64_t vaddr, uint64_t len) {
        const Elf64_Ehdr *e = (const Elf64_Ehdr *) f->data;
        for (unsigned i = 0; i < e->e_phnum; i++) {
                const Elf64_Phdr *p = (const Elf64_Phdr *) (f->data + e->e_phoff + i * sizeof(Elf64_Phdr));
                if (p->p_type == PT_LOAD && vaddr >= p->p_vaddr && vaddr + len <= p->p_vaddr + p->p_filesz)
                        return f->data + p->p_offset + (vaddr - p->p_vaddr);
        }
        return NULL;
}

/* The image's bytes at vaddr, through its program headers, or NULL. */
static const uint8_t *image_bytes(const uint8_t *img, uint64_t vaddr, uint64_t len) {
        const Elf64_Ehdr *e = (const Elf64_Ehdr *) img;
        for (unsigned i = 0; i < e->e_phnum; i++) {
                const Elf64_Phdr *p = (const Elf64_Phdr *) (img + e->e_phoff + i * sizeof(Elf64_Phdr));
                if (p->p_type == PT_LOAD && vaddr >= p->p_vaddr && vaddr + len <= p->p_vaddr + p->p_filesz)
                        return img + p->p_offset + (vaddr - p->p_vaddr);
        }
        return NULL;
}

static bool same_image(const struct stack_capture *a, const struct stack_capture *b) {
        const void *x, *y;
        size_t xs, ys;
        return stack_capture_core(a, &x, &xs) == 0 && stack_capture_core(b, &y, &ys) == 0 && xs == ys &&
               memcmp(x, y, xs) == 0;
}

/* Parses an image (or a core) with common/elfcore.c, in one chunk. */
static int parse_notes(const void *data, size_t size, struct core_notes *ret) {
        struct core_head *h;
        if (core_head_new(&h) < 0)
                abort();
        core_head_observe(h, 0, data, size);
        int r = core_head_parse(h, ret);
        core_head_free(h);
        return r;
}

static void test_threads(const struct core_file *f) {
        struct stack_capture *c = capture(f, NULL, 1);
        struct stack_capture_stats st;
        stack_capture_stats(c, &st);
        printf("# threads %u (cut %u), modules %u, notes %" PRIu64 " B, stacks %" PRIu64 " B, module pages %" PRIu64
               " B, image %" PRIu64 " B\n",
               st.threads, st.threads_cut, st.modules, st.notes_bytes, st.stack_bytes, st.module_bytes, st.memory);
        CHECK(st.planned && st.error == 0 && st.threads == 8 && stack_capture_n_threads(c) == 8, "8 threads planned");
        struct stack_capture_thread t;
        CHECK(stack_capture_thread(c, 0, &t) == 0 && t.crashed && t.tid == read_tid("threads"),
              "thread 0 is the crashing thread (%d)", (int) t.tid);
        const void *img;
        size_t size;
        CHECK(stack_capture_core(c, &img, &size) == 0 && size == st.memory, "a synthetic core of %zu bytes", size);

        bool all = true, equal = true;
        for (size_t i = 0; stack_capture_thread(c, i, &t) == 0; i++) {
                all = all && !t.cut && t.stack_lo <= t.sp - STACK_CAPTURE_RED_ZONE && t.sp < t.stack_lo + t.captured;
                const uint8_t *want = core_bytes(f, t.stack_lo, t.captured);
                const uint8_t *got = image_bytes(img, t.stack_lo, t.captured);
                equal = equal && want && got && memcmp(want, got, t.captured) == 0;
        }
        CHECK(all, "each thread's stack kept from below its red zone, whole");
        CHECK(equal, "each stack kept is the core's bytes at its addresses, mapped at the same addresses");

        struct core_notes real, back;
        CHECK(parse_notes(f->data, f->size, &real) == 0 && parse_notes(img, size, &back) == 0 && back.notes_complete &&
                      back.threads == real.threads && back.n_files == real.n_files && back.exe && real.exe &&
                      strcmp(back.exe, real.exe) == 0 && back.at_entry == real.at_entry &&
                      strcmp(back.fname, real.fname) == 0,
              "the synthetic core's notes read back the same: threads, NT_FILE, NT_AUXV, NT_PRPSINFO");
        size_t pages = 0, magic = 0;
        for (size_t i = 0; i < real.n_files; i++) {
                if (real.files[i].file_offset != 0)
                        continue;
                pages++;
                const uint8_t *p = image_bytes(img, real.files[i].start, SELFMAG);
                magic += p && memcmp(p, ELFMAG, SELFMAG) == 0;
        }
        CHECK(pages >= 3 && magic == pages && st.modules == pages + 1,
              "the first page of each module (%zu, and the vDSO) is kept: ELF headers at their addresses", pages);
        core_notes_done(&real);
        core_notes_done(&back);
        stack_capture_free(c);
}

static void test_chunking(const struct core_file *f) {
        struct stack_capture *a = capture(f, NULL, 0), *b = capture(f, NULL, 7), *c = capture(f, NULL, 77);
        CHECK(same_image(a, b) && same_image(a, c),
              "1 MiB chunks, small chunks, chunks with repeated bytes: one image");
        stack_capture_free(a);
        stack_capture_free(b);
        stack_capture_free(c);

        /* One observer for both: the core_head given is fed by the capture. */
        struct core_head *h;
        struct core_notes n, whole;
        if (core_head_new(&h) < 0 || stack_capture_new(NULL, h, &c) < 0)
                abort();
        feed(c, f, 3, UINT64_MAX, 0, 0);
        CHECK(stack_capture_head(c) == h && core_head_observed(h) == f->size && core_head_parse(h, &n) == 0 &&
                      parse_notes(f->data, f->size, &whole) == 0 && n.threads == whole.threads &&
                      n.n_files == whole.n_files,
              "a core_head given to the capture is fed by it: its parse is the whole core's");
        core_notes_done(&n);
        core_notes_done(&whole);
        stack_capture_free(c);
        core_head_free(h);
}

/* The file offset in the core of a thread's kept stack. */
static uint64_t stack_offset(const struct core_file *f, const struct stack_capture_thread *t) {
        const uint8_t *p = core_bytes(f, t->stack_lo, 1);
        return p ? (uint64_t) (p - f->data) : 0;
}

static void test_gap_and_end(const struct core_file *f) {
        struct stack_capture *ref = capture(f, NULL, 0);
        struct stack_capture_thread t;
        if (stack_capture_thread(ref, 0, &t) < 0 || t.captured < 8192)
                abort();
        uint64_t off = stack_offset(f, &t);

        struct stack_capture *c;
        if (stack_capture_new(NULL, NULL, &c) < 0)
                abort();
        feed(c, f, 5, UINT64_MAX, off + 4096, off + 4096 + 100);
        struct stack_capture_thread g;
        CHECK(stack_capture_thread(c, 0, &g) == 0 && g.cut && g.captured >= 4096 && g.captured < t.captured,
              "a gap in the crashing thread's stack: kept up to the gap (%" PRIu64 " of %" PRIu64 " bytes), cut",
              g.captured, t.captured);
        struct stack_capture_thread o, ro;
        bool others = true;
        for (size_t i = 1; stack_capture_thread(c, i, &o) == 0 && stack_capture_thread(ref, i, &ro) == 0; i++)
                others = others && !o.cut && o.captured == ro.captured;
        CHECK(others, "a gap in one stack: the other threads' stacks are whole");
        stack_capture_free(c);

        if (stack_capture_new(NULL, NULL, &c) < 0)
                abort();
        feed(c, f, 9, off + 1000, 0, 0);
        CHECK(stack_capture_thread(c, 0, &g) == 0 && g.cut && g.captured == 1000,
              "the stream ends in the crashing thread's stack: 1000 bytes kept, cut");
        stack_capture_free(c);
        stack_capture_free(ref);
}

static void test_caps(const struct core_file *threads, const struct core_file *deep) {
        struct stack_capture_limits small = {.per_thread = 64 * 1024};
        struct stack_capture *c = capture(deep, &small, 1);
        struct stack_capture_stats st;
        struct stack_capture_thread t;
        stack_capture_stats(c, &st);
        int tr = stack_capture_thread(c, 0, &t);
        printf("# deep, 64 KiB a thread: thread 0 %d, sp 0x%" PRIx64 ", kept from 0x%" PRIx64 ", %" PRIu64
               " bytes, cut %d; "
               "threads %u (cut %u), planned %d, error %d, stack bytes %" PRIu64 "\n",
               tr, t.sp, t.stack_lo, t.captured, t.cut, st.threads, st.threads_cut, st.planned, st.error,
               st.stack_bytes);
        CHECK(tr == 0 && t.cut && t.captured == small.per_thread &&
                      (t.stack_lo <= t.sp - STACK_CAPTURE_RED_ZONE || t.stack_lo == (t.sp & ~(uint64_t) 4095)) &&
                      st.threads_cut == 1,
              "deep stack, 64 KiB a thread: 64 KiB kept from rsp, cut");
        stack_capture_free(c);

        /* Room for the notes, the module pages, the crashing thread's stack and one page more, taken
         * from the uncapped capture: less than all of it whatever the machine's stacks and notes
         * weigh (a fixed 160 KiB held them all on one machine). */
        c = capture(threads, NULL, 1);
        stack_capture_stats(c, &st);
        uint64_t all = st.notes_bytes + st.stack_bytes + st.module_bytes;
        uint64_t room = stack_capture_thread(c, 0, &t) == 0 ? st.notes_bytes + st.module_bytes + t.captured + 4096 : 0;
        stack_capture_free(c);
        CHECK(room > 0 && room < all, "a cap of %" PRIu64 " B, under the %" PRIu64 " B of the uncapped capture", room,
              all);
        struct stack_capture_limits total = {.total = room};
        c = capture(threads, &total, 1);
        stack_capture_stats(c, &st);
        CHECK(st.notes_bytes + st.stack_bytes + st.module_bytes <= total.total && st.threads_cut > 0 &&
                      stack_capture_thread(c, 0, &t) == 0 && !t.cut,
              "StackCaptureMax under the whole: notes, stacks and pages within it (%" PRIu64
              " B), the crash's stack whole, %u others cut",
              st.notes_bytes + st.stack_bytes + st.module_bytes, st.threads_cut);
        CHECK(st.memory <= total.total + (st.threads + st.modules + 2) * 4096ull,
              "StackCaptureMax under the whole: the image is within it, but for page alignment (%" PRIu64 " B)",
              st.memory);
        stack_capture_free(c);

        struct stack_capture_limits none = {.total = 4096};
        c = capture(threads, &none, 1);
        stack_capture_stats(c, &st);
        const void *img;
        size_t size;
        CHECK(!st.planned && st.error == -E2BIG && stack_capture_core(c, &img, &size) == -E2BIG,
              "notes larger than StackCaptureMax: nothing kept, -E2BIG");
        stack_capture_free(c);

        CHECK(stack_capture_new(&(struct stack_capture_limits){.per_thread = 100}, NULL, &c) == -EINVAL,
              "a per-thread cap under a page is refused");
}

/* A stream of many GiB costs the capture nothing more: what it keeps is planned from the notes. */
static void test_big_stream(const struct core_file *f) {
        struct stack_capture *c = capture(f, NULL, 0);
        struct stack_capture_stats before, after;
        stack_capture_stats(c, &before);
        static uint8_t zeros[1 << 20];
        for (uint64_t off = f->size; off < f->size + (4ull << 30); off += sizeof(zeros))
                stack_capture_observe(c, off, zeros, sizeof(zeros));
        stack_capture_stats(c, &after);
        CHECK(after.memory == before.memory && after.stack_bytes == before.stack_bytes &&
                      core_head_observed(stack_capture_head(c)) == f->size + (4ull << 30),
              "4 GiB more of stream: counted, nothing more kept (%" PRIu64 " B)", after.memory);
        stack_capture_free(c);
}

/* The first NT_PRSTATUS's rsp in a core (x86-64: pr_reg at 112, rsp its 20th register), or NULL. */
static uint8_t *prstatus_rsp(const struct core_file *f) {
        const Elf64_Ehdr *e = (const Elf64_Ehdr *) f->data;
        for (unsigned i = 0; i < e->e_phnum; i++) {
                const Elf64_Phdr *p = (const Elf64_Phdr *) (f->data + e->e_phoff + i * sizeof(Elf64_Phdr));
                for (uint64_t o = p->p_offset; p->p_type == PT_NOTE && o + 12 <= p->p_offset + p->p_filesz;) {
                        const Elf64_Nhdr *n = (const Elf64_Nhdr *) (f->data + o);
                        uint64_t desc = o + 12 + ((n->n_namesz + 3) & ~3U);
                        if (n->n_type == NT_PRSTATUS && n->n_descsz >= 112 + 20 * 8)
                                return f->data + desc + 112 + 19 * 8;
                        o = desc + ((n->n_descsz + 3) & ~3U);
                }
        }
        return NULL;
}

/* At the deepest the stack ever went, sp may be within the red zone of its mapping's start (1
 * crash in 32): the deep core made so, its stack's PT_LOAD starting at the page of an sp moved
 * to 64 bytes into it. Its stack is kept from the mapping's start. */
static void test_red_zone_below(const struct core_file *deep) {
        struct core_file f = {malloc(deep->size), deep->size};
        uint8_t *rsp = f.data ? prstatus_rsp(deep) : NULL;
        if (!rsp)
                abort();
        memcpy(f.data, deep->data, deep->size);
        rsp = f.data + (rsp - deep->data);
        uint64_t sp;
        memcpy(&sp, rsp, sizeof(sp));
        const Elf64_Ehdr *e = (const Elf64_Ehdr *) f.data;
        bool moved = false;
        for (unsigned i = 0; i < e->e_phnum && !moved; i++) {
                Elf64_Phdr *p = (Elf64_Phdr *) (f.data + e->e_phoff + i * sizeof(Elf64_Phdr));
                uint64_t page = (sp & ~(uint64_t) 4095) + 4096; /* one page up: inside the stack */
                if (p->p_type != PT_LOAD || sp < p->p_vaddr || sp >= p->p_vaddr + p->p_filesz ||
                    page + 4096 > p->p_vaddr + p->p_filesz)
                        continue;
                uint64_t delta = page - p->p_vaddr;
                p->p_vaddr += delta;
                p->p_offset += delta;
                p->p_filesz -= delta;
                p->p_memsz -= delta;
                sp = page + 64;
                memcpy(rsp, &sp, sizeof(sp));
                moved = true;
        }
        CHECK(moved, "a deep core whose sp is 64 bytes above its stack mapping's start");
        struct stack_capture *c = capture(&f, NULL, 0);
        struct stack_capture_thread t;
        CHECK(stack_capture_thread(c, 0, &t) == 0 && t.sp == sp && t.stack_lo == sp - 64 && t.captured > 0,
              "its stack is kept from the mapping's start (%" PRIu64 " bytes from 0x%" PRIx64 ")", t.captured,
              t.stack_lo);
        stack_capture_free(c);
        free(f.data);
}

int main(void) {
        cores = getenv("CORES");
        if (!cores) {
                printf("Bail out! run through backtrace-cores.sh\n");
                return 1;
        }
        struct core_file threads, deep;
        if (!load("threads", &threads) || !load("deep", &deep)) {
                printf("Bail out! cannot read the cores in %s\n", cores);
                return 1;
        }
        test_threads(&threads);
        test_chunking(&threads);
        test_gap_and_end(&threads);
        test_caps(&threads, &deep);
        test_red_zone_below(&deep);
        test_big_stream(&threads);
        free(threads.data);
        free(deep.data);
        return tap_done();
}
