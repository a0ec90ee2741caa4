/* SPDX-License-Identifier: MIT */
/*
 * The stack capture (common/stackcap.c) fed an untrusted core in untrusted chunks: the crashed
 * process shapes its registers (rsp pointing anywhere), its mappings and its notes, and a hostile
 * core can say anything in its headers. The first 4 bytes of an input seed the chunking (1 to
 * 300 bytes a chunk, sometimes repeating bytes already sent) and the limits; the rest is the
 * core. Whatever the chunking, the image kept is the same; it stays within the limits; each
 * thread's stack holds its red zone when it is not cut; no two ranges of the image overlap.
 */
#include <elf.h>
#include <string.h>

#include "fuzz.h"
#include "stackcap.h"

static struct stack_capture *run(const uint8_t *data, size_t size, uint32_t seed,
                                 const struct stack_capture_limits *l) {
        struct stack_capture *c;
        if (stack_capture_new(l, NULL, &c) < 0)
                abort();
        for (size_t off = 0; off < size;) {
                size_t chunk = seed ? 1 + seed % 300 : size;
                chunk = chunk < size - off ? chunk : size - off;
                size_t back = seed && seed % 7 == 0 && off >= 3 ? 3 : 0;
                stack_capture_observe(c, off - back, data + off - back, chunk + back);
                off += chunk;
                seed = seed * 1103515245u + 12345u;
        }
        return c;
}

/* The image's PT_LOADs lie inside it and never map one address twice. */
static void check_image(const uint8_t *img, size_t size) {
        Elf64_Ehdr e;
        FUZZ_ASSERT(size >= sizeof(e));
        memcpy(&e, img, sizeof(e));
        FUZZ_ASSERT(memcmp(e.e_ident, ELFMAG, SELFMAG) == 0 && e.e_type == ET_CORE && e.e_phoff == sizeof(e));
        FUZZ_ASSERT(e.e_phoff + (uint64_t) e.e_phnum * sizeof(Elf64_Phdr) <= size);
        for (unsigned i = 0; i < e.e_phnum; i++) {
                Elf64_Phdr p;
                memcpy(&p, img + e.e_phoff + i * sizeof(p), sizeof(p));
                FUZZ_ASSERT(p.p_offset + p.p_filesz <= size && p.p_filesz <= p.p_memsz);
                if (p.p_type != PT_LOAD)
                        continue;
                for (unsigned j = 0; j < i; j++) {
                        Elf64_Phdr q;
                        memcpy(&q, img + e.e_phoff + j * sizeof(q), sizeof(q));
                        FUZZ_ASSERT(q.p_type != PT_LOAD || q.p_vaddr + q.p_memsz <= p.p_vaddr ||
                                    p.p_vaddr + p.p_memsz <= q.p_vaddr);
                }
        }
}

static void check(const struct stack_capture *c, const struct stack_capture_limits *l) {
        struct stack_capture_stats st;
        stack_capture_stats(c, &st);
        FUZZ_ASSERT(st.notes_bytes + st.stack_bytes + st.module_bytes <= l->total);
        FUZZ_ASSERT(st.threads <= STACK_CAPTURE_THREADS_MAX && st.modules <= STACK_CAPTURE_MODULES_MAX);
        struct stack_capture_thread t;
        for (size_t i = 0; stack_capture_thread(c, i, &t) == 0; i++) {
                FUZZ_ASSERT(t.captured <= l->per_thread && t.crashed == (i == 0));
                /* Not cut: kept from below the red zone to the end of its mapping (which a hostile
                 * core may end below rsp itself). */
                if (!t.cut)
                        FUZZ_ASSERT(t.stack_lo <= t.sp - STACK_CAPTURE_RED_ZONE &&
                                    t.sp - STACK_CAPTURE_RED_ZONE - t.stack_lo < t.captured);
        }
        const void *img;
        size_t size;
        if (stack_capture_core(c, &img, &size) == 0)
                check_image(img, size);
        else
                FUZZ_ASSERT(!st.planned);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint32_t seed = 0;
        if (size < sizeof(seed))
                return 0;
        memcpy(&seed, data, sizeof(seed));
        data += sizeof(seed);
        size -= sizeof(seed);
        /* Small limits now and then, so that the caps are reached by small inputs. */
        struct stack_capture_limits l = {.per_thread = STACK_CAPTURE_PER_THREAD_DEFAULT,
                                         .total = STACK_CAPTURE_MAX_DEFAULT};
        if (seed & 0x100) {
                l.per_thread = 4096;
                l.total = 4096 * (1 + (seed >> 9) % 8);
        }
        struct stack_capture *whole = run(data, size, 0, &l), *chunked = run(data, size, seed | 1, &l);
        check(whole, &l);
        check(chunked, &l);
        const void *a, *b;
        size_t as, bs;
        int r = stack_capture_core(whole, &a, &as), q = stack_capture_core(chunked, &b, &bs);
        FUZZ_ASSERT(r == q);
        if (r == 0)
                FUZZ_ASSERT(as == bs && memcmp(a, b, as) == 0);
        stack_capture_free(whole);
        stack_capture_free(chunked);
        return 0;
}
