/* SPDX-License-Identifier: MIT */
#include "stackcap.h"

#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "le.h"
#include "macro.h"

/* x86_64 struct elf_prstatus (include/uapi/linux/elfcore.h, asm/user_64.h), by offset. */
#define PRSTATUS_SIZE 336
#define PRSTATUS_PID 32
#define PRSTATUS_REGS 112
#define REG_RIP 16
#define REG_RSP 19
#define PAGE 4096u
#define VDSO_BYTES (16u * 1024) /* the vDSO's image: elfutils reads it from memory, it has no file */
#define AUXV_SYSINFO_EHDR 33    /* AT_SYSINFO_EHDR */

/* A PT_LOAD of the real core. */
struct seg {
        uint64_t vaddr, memsz, offset, filesz;
        uint32_t flags;
};

/* A range of the core kept: file bytes [offset, offset + size) hold memory at vaddr. */
struct range {
        uint64_t vaddr, offset, size;
        uint64_t filled;  /* bytes captured, a prefix */
        bool stopped;     /* a gap in the stream: no more bytes */
        uint32_t flags;   /* the PT_LOAD's */
        uint64_t img_off; /* where its bytes go in the image */
        size_t phdr;      /* its program header in the image */
        ssize_t thread;   /* the thread whose stack it is, -1 for a module */
};

struct thread {
        pid_t tid;
        uint64_t sp, pc;
        ssize_t range; /* -1: nothing kept */
        bool cut;
};

struct stack_capture {
        struct stack_capture_limits lim;
        struct core_head *head;
        bool own_head;
        uint64_t pos;
        bool planned;
        int error;

        struct thread *threads;
        size_t n_threads;
        struct range *ranges; /* sorted by offset once planned */
        size_t n_ranges, first_live;

        uint8_t *image; /* mmap'd: pages never written are never touched */
        size_t image_size;
        uint64_t budget;    /* bytes left of lim.total */
        uint64_t notes_end; /* the end of the last PT_NOTE in the core (checked by core_head: no wrap) */

        uint32_t modules, modules_left;
        uint64_t notes_bytes;
};

int stack_capture_new(const struct stack_capture_limits *l, struct core_head *head, struct stack_capture **ret) {
        struct stack_capture_limits lim = l ? *l : (struct stack_capture_limits){0};
        if (lim.per_thread == 0)
                lim.per_thread = STACK_CAPTURE_PER_THREAD_DEFAULT;
        if (lim.total == 0)
                lim.total = STACK_CAPTURE_MAX_DEFAULT;
        if (lim.per_thread < PAGE || lim.total < PAGE || lim.total > SIZE_MAX / 2)
                return -EINVAL;
        struct stack_capture *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->lim = lim;
        c->head = head;
        if (!head) {
                int r = core_head_new(&c->head);
                if (r < 0) {
                        free(c);
                        return r;
                }
                c->own_head = true;
        }
        *ret = c;
        return 0;
}

struct stack_capture *stack_capture_free(struct stack_capture *c) {
        if (!c)
                return NULL;
        if (c->own_head)
                core_head_free(c->head);
        if (c->image)
                munmap(c->image, c->image_size);
        free(c->threads);
        free(c->ranges);
        free(c);
        return NULL;
}

struct core_head *stack_capture_head(const struct stack_capture *c) {
        return c->head;
}

/* ---- Planning: which ranges to keep, decided once the notes are in. ---- */

struct plan {
        struct seg *segs; /* PT_LOADs, sorted by vaddr */
        size_t n_segs;
        uint64_t sysinfo_ehdr;
        size_t n_notes;
        uint64_t notes_size;
        size_t max_ranges;
};

static int compare_segs(const void *a, const void *b) {
        const struct seg *x = a, *y = b;
        if (x->vaddr != y->vaddr)
                return x->vaddr < y->vaddr ? -1 : 1;
        return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The PT_LOAD holding addr, or NULL. Segments may overlap in a hostile core: any match will do. */
static const struct seg *find_seg(const struct plan *p, uint64_t addr) {
        size_t lo = 0, hi = p->n_segs;
        while (lo < hi) { /* the last segment starting at or below addr */
                size_t mid = lo + (hi - lo) / 2;
                if (p->segs[mid].vaddr <= addr)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (lo == 0)
                return NULL;
        const struct seg *s = &p->segs[lo - 1];
        return addr - s->vaddr < s->memsz ? s : NULL;
}

static int collect_segs(struct stack_capture *c, struct plan *p) {
        uint32_t phnum;
        const uint8_t *ph = core_head_phdrs(c->head, &phnum);
        if (!ph)
                return -ENODATA;
        p->segs = calloc(phnum, sizeof(*p->segs));
        if (!p->segs)
                return -ENOMEM;
        for (uint32_t i = 0; i < phnum; i++, ph += sizeof(Elf64_Phdr)) {
                uint32_t type = le_get32(ph + offsetof(Elf64_Phdr, p_type));
                if (type == PT_NOTE)
                        c->notes_end = MAX(c->notes_end, le_get64(ph + offsetof(Elf64_Phdr, p_offset)) +
                                                                 le_get64(ph + offsetof(Elf64_Phdr, p_filesz)));
                if (type != PT_LOAD)
                        continue;
                struct seg s = {
                        .vaddr = le_get64(ph + offsetof(Elf64_Phdr, p_vaddr)),
                        .memsz = le_get64(ph + offsetof(Elf64_Phdr, p_memsz)),
                        .offset = le_get64(ph + offsetof(Elf64_Phdr, p_offset)),
                        .filesz = le_get64(ph + offsetof(Elf64_Phdr, p_filesz)),
                        .flags = le_get32(ph + offsetof(Elf64_Phdr, p_flags)),
                };
                /* Offsets were checked by the core_head (no wrap, under its cap); addresses were not. */
                if (s.vaddr > UINT64_MAX - s.memsz || s.filesz > s.memsz || s.memsz == 0)
                        continue;
                p->segs[p->n_segs++] = s;
        }
        qsort(p->segs, p->n_segs, sizeof(*p->segs), compare_segs);
        return 0;
}

static void take_auxv(struct plan *p, const uint8_t *d, size_t len) {
        for (size_t i = 0; i + 16 <= len; i += 16)
                if (le_get64(d + i) == AUXV_SYSINFO_EHDR)
                        p->sysinfo_ehdr = le_get64(d + i + 8);
}

static int take_prstatus(struct stack_capture *c, const uint8_t *d, size_t len) {
        if (len < PRSTATUS_SIZE || c->n_threads >= STACK_CAPTURE_THREADS_MAX)
                return 0;
        if (c->n_threads % 64 == 0) {
                struct thread *t = realloc(c->threads, (c->n_threads + 64) * sizeof(*t));
                if (!t)
                        return -ENOMEM;
                c->threads = t;
        }
        c->threads[c->n_threads++] = (struct thread){
                .tid = (pid_t) le_get32(d + PRSTATUS_PID),
                .sp = le_get64(d + PRSTATUS_REGS + 8 * REG_RSP),
                .pc = le_get64(d + PRSTATUS_REGS + 8 * REG_RIP),
                .range = -1,
        };
        return 0;
}

/* Walks one note segment's captured bytes for the threads and the vDSO. */
static int walk_notes(struct stack_capture *c, struct plan *p, const uint8_t *buf, size_t len) {
        size_t pos = 0;
        struct core_note n;
        while (core_note_next(buf, len, &pos, &n) > 0) {
                if (n.namesz != 5 || memcmp(n.name, "CORE", 5) != 0)
                        continue;
                if (n.type == NT_PRSTATUS) {
                        int r = take_prstatus(c, n.desc, n.descsz);
                        if (r < 0)
                                return r;
                } else if (n.type == NT_AUXV)
                        take_auxv(p, n.desc, n.descsz);
        }
        return 0;
}

static int collect_notes(struct stack_capture *c, struct plan *p) {
        const uint8_t *seg;
        size_t len;
        for (size_t i = 0; i < STACK_CAPTURE_NOTE_SEGMENTS_MAX && (seg = core_head_note_segment(c->head, i, &len));
             i++) {
                int r = walk_notes(c, p, seg, len);
                if (r < 0)
                        return r;
                p->notes_size += (len + 3) & ~(size_t) 3;
                p->n_notes++;
        }
        if (c->n_threads == 0)
                return -ENODATA;
        if (p->notes_size > c->lim.total)
                return -E2BIG;
        c->budget = c->lim.total - p->notes_size;
        c->notes_bytes = p->notes_size;
        return 0;
}

/* Plans [vaddr, vaddr + want) of the segment s, within what the core holds and the budget.
 * Returns the bytes planned (0: nothing). */
static uint64_t add_range(struct stack_capture *c, const struct seg *s, uint64_t vaddr, uint64_t want, ssize_t thread) {
        uint64_t in_file = s->filesz > vaddr - s->vaddr ? s->filesz - (vaddr - s->vaddr) : 0;
        uint64_t size = MIN(MIN(want, in_file), c->budget);
        uint64_t offset = s->offset + (vaddr - s->vaddr);
        /* Only what follows every note: what comes earlier streamed past before the plan, or did
         * so for some chunkings and not others (a core whose notes come late). Kernel cores
         * write their notes before any memory. */
        if (size == 0 || offset < c->notes_end || offset < c->pos)
                return 0;
        c->ranges[c->n_ranges++] = (struct range){
                .vaddr = vaddr,
                .offset = offset,
                .size = size,
                .flags = s->flags,
                .thread = thread,
        };
        c->budget -= size;
        return size;
}

static void plan_stack(struct stack_capture *c, const struct plan *p, size_t i) {
        struct thread *t = &c->threads[i];
        t->cut = true;
        if (t->sp < STACK_CAPTURE_RED_ZONE)
                return;
        /* The red zone may lie below the stack's mapping: at the deepest the stack ever went, sp
         * is anywhere in its lowest page (1 crash in 32 has it within the red zone of that page's
         * start). Then the stack is kept from the mapping's start. */
        const struct seg *s = find_seg(p, t->sp - STACK_CAPTURE_RED_ZONE);
        if (!s)
                s = find_seg(p, t->sp);
        if (!s)
                return;
        uint64_t lo = MAX((t->sp - STACK_CAPTURE_RED_ZONE) & ~(uint64_t) (PAGE - 1), s->vaddr);
        uint64_t end = s->vaddr + s->memsz;
        uint64_t got = add_range(c, s, lo, MIN(end - lo, c->lim.per_thread), (ssize_t) i);
        t->cut = lo + got < end;
}

static void plan_module(struct stack_capture *c, const struct plan *p, uint64_t start, uint64_t bytes) {
        const struct seg *s = find_seg(p, start);
        if (c->modules < STACK_CAPTURE_MODULES_MAX && s && s->vaddr == start && add_range(c, s, start, bytes, -1) > 0)
                c->modules++;
        else
                c->modules_left++;
}

static int plan_modules(struct stack_capture *c, const struct plan *p) {
        struct core_notes n;
        int r = core_head_parse(c->head, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n.n_files; i++)
                if (n.files[i].file_offset == 0)
                        plan_module(c, p, n.files[i].start, STACK_CAPTURE_MODULE_BYTES);
        core_notes_done(&n);
        if (p->sysinfo_ehdr != 0)
                plan_module(c, p, p->sysinfo_ehdr, VDSO_BYTES);
        return 0;
}

static int compare_vaddr(const void *a, const void *b) {
        const struct range *x = a, *y = b;
        if (x->vaddr != y->vaddr)
                return x->vaddr < y->vaddr ? -1 : 1;
        return x->thread < y->thread ? -1 : x->thread > y->thread;
}

static int compare_offset(const void *a, const void *b) {
        const struct range *x = a, *y = b;
        if (x->offset != y->offset)
                return x->offset < y->offset ? -1 : 1;
        return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* A hostile core can give two threads one stack, or a module page inside a stack: the image must
 * not map one address twice. Ranges overlapping an earlier one are dropped (their budget is not
 * given back: the plan stays simple and bounded). Then in stream order, and the threads told. */
static void settle_ranges(struct stack_capture *c) {
        size_t kept = 0;
        qsort(c->ranges, c->n_ranges, sizeof(*c->ranges), compare_vaddr);
        for (size_t i = 0; i < c->n_ranges; i++) {
                const struct range *prev = kept ? &c->ranges[kept - 1] : NULL;
                if (prev && c->ranges[i].vaddr - prev->vaddr < prev->size)
                        continue;
                c->ranges[kept++] = c->ranges[i];
        }
        c->n_ranges = kept;
        qsort(c->ranges, c->n_ranges, sizeof(*c->ranges), compare_offset);
        for (size_t i = 0; i < c->n_ranges; i++)
                if (c->ranges[i].thread >= 0)
                        c->threads[c->ranges[i].thread].range = (ssize_t) i;
        for (size_t i = 0; i < c->n_threads; i++)
                if (c->threads[i].range < 0)
                        c->threads[i].cut = true;
}

static uint64_t align_up(uint64_t v, uint64_t a) {
        return (v + a - 1) & ~(a - 1);
}

static void put_phdr(uint8_t *ph, uint32_t type, uint32_t flags, uint64_t offset, uint64_t vaddr, uint64_t size,
                     uint64_t align) {
        le_put32(ph + offsetof(Elf64_Phdr, p_type), type);
        le_put32(ph + offsetof(Elf64_Phdr, p_flags), flags);
        le_put64(ph + offsetof(Elf64_Phdr, p_offset), offset);
        le_put64(ph + offsetof(Elf64_Phdr, p_vaddr), vaddr);
        le_put64(ph + offsetof(Elf64_Phdr, p_paddr), 0);
        le_put64(ph + offsetof(Elf64_Phdr, p_filesz), size);
        le_put64(ph + offsetof(Elf64_Phdr, p_memsz), size);
        le_put64(ph + offsetof(Elf64_Phdr, p_align), align);
}

static void put_ehdr(uint8_t *e, uint16_t phnum) {
        memcpy(e, ELFMAG, SELFMAG);
        e[EI_CLASS] = ELFCLASS64;
        e[EI_DATA] = ELFDATA2LSB;
        e[EI_VERSION] = EV_CURRENT;
        le_put16(e + offsetof(Elf64_Ehdr, e_type), ET_CORE);
        le_put16(e + offsetof(Elf64_Ehdr, e_machine), EM_X86_64);
        le_put32(e + offsetof(Elf64_Ehdr, e_version), EV_CURRENT);
        le_put64(e + offsetof(Elf64_Ehdr, e_phoff), sizeof(Elf64_Ehdr));
        le_put16(e + offsetof(Elf64_Ehdr, e_ehsize), sizeof(Elf64_Ehdr));
        le_put16(e + offsetof(Elf64_Ehdr, e_phentsize), sizeof(Elf64_Phdr));
        le_put16(e + offsetof(Elf64_Ehdr, e_phnum), phnum);
}

/* Lays the image out: header, program headers, the notes (copied from head), then each range
 * at a page-aligned offset, as the kernel aligns them. PT_LOADs stay PT_NULL until bytes come. */
static int build_image(struct stack_capture *c, const struct plan *p) {
        size_t n_notes = MIN(p->n_notes, STACK_CAPTURE_NOTE_SEGMENTS_MAX);
        uint64_t headers = sizeof(Elf64_Ehdr) + (uint64_t) (n_notes + c->n_ranges) * sizeof(Elf64_Phdr);
        uint64_t pos = align_up(headers + p->notes_size, PAGE);
        for (size_t i = 0; i < c->n_ranges; i++) {
                c->ranges[i].img_off = pos;
                c->ranges[i].phdr = n_notes + i;
                pos += align_up(c->ranges[i].size, PAGE);
        }
        void *m = mmap(NULL, (size_t) pos, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
                return negative_errno();
        c->image = m;
        c->image_size = (size_t) pos;
        put_ehdr(c->image, (uint16_t) (n_notes + c->n_ranges));

        uint64_t at = headers;
        for (size_t i = 0; i < n_notes; i++) {
                size_t len;
                const uint8_t *seg = core_head_note_segment(c->head, i, &len);
                memcpy(c->image + at, seg, len);
                put_phdr(c->image + sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), PT_NOTE, 0, at, 0, len, 4);
                at += align_up(len, 4);
        }
        return 0;
}

static int plan(struct stack_capture *c) {
        struct plan p = {0};
        int r = collect_segs(c, &p);
        if (r >= 0)
                r = collect_notes(c, &p);
        if (r >= 0) {
                c->ranges = calloc(c->n_threads + STACK_CAPTURE_MODULES_MAX, sizeof(*c->ranges));
                r = c->ranges ? 0 : -ENOMEM;
        }
        if (r >= 0) {
                /* The crashing thread first, then what names the modules, then the others. */
                plan_stack(c, &p, 0);
                r = plan_modules(c, &p);
        }
        if (r >= 0) {
                for (size_t i = 1; i < c->n_threads; i++)
                        plan_stack(c, &p, i);
                settle_ranges(c);
                r = build_image(c, &p);
        }
        free(p.segs);
        if (r < 0)
                return r;
        c->planned = true;
        return 0;
}

/* ---- Capturing ---- */

static void capture_chunk(struct stack_capture *c, uint64_t off, const uint8_t *data, size_t len) {
        uint64_t end = off + len;
        for (size_t i = c->first_live; i < c->n_ranges && c->ranges[i].offset < end; i++) {
                struct range *r = &c->ranges[i];
                uint64_t want = r->offset + r->filled;
                if (r->stopped || r->filled == r->size || want >= end)
                        continue;
                if (want < off) { /* a gap in the stream: what follows would not be contiguous */
                        r->stopped = true;
                        continue;
                }
                uint64_t n = MIN(r->size - r->filled, end - want);
                memcpy(c->image + r->img_off + r->filled, data + (want - off), (size_t) n);
                r->filled += n;
                put_phdr(c->image + sizeof(Elf64_Ehdr) + r->phdr * sizeof(Elf64_Phdr), PT_LOAD, r->flags, r->img_off,
                         r->vaddr, r->filled, PAGE);
        }
        while (c->first_live < c->n_ranges && (c->ranges[c->first_live].offset + c->ranges[c->first_live].size <= end ||
                                               c->ranges[c->first_live].stopped))
                c->first_live++;
}

void stack_capture_observe(void *userdata, uint64_t offset, const void *data, size_t len) {
        struct stack_capture *c = userdata;
        const uint8_t *p = data;
        if (!c || len == 0)
                return;
        core_head_observe(c->head, offset, data, len);
        if (offset < c->pos) { /* repeated bytes: the new ones only */
                uint64_t seen = c->pos - offset;
                if (seen >= len)
                        return;
                p += seen;
                len -= (size_t) seen;
                offset = c->pos;
        }
        len = (size_t) MIN((uint64_t) len, UINT64_MAX - offset);
        if (!c->planned && c->error == 0 && core_head_done(c->head)) {
                int r = plan(c);
                if (r < 0)
                        c->error = r;
        }
        c->pos = offset + len;
        if (c->planned)
                capture_chunk(c, offset, p, len);
}

/* ---- Results ---- */

void stack_capture_stats(const struct stack_capture *c, struct stack_capture_stats *ret) {
        struct stack_capture_stats s = {
                .planned = c->planned,
                .error = c->error,
                .threads = (uint32_t) c->n_threads,
                .modules = c->modules,
                .modules_left = c->modules_left,
                .notes_bytes = c->notes_bytes,
                .memory = c->image_size,
        };
        for (size_t i = 0; i < c->n_ranges; i++) {
                if (c->ranges[i].thread >= 0)
                        s.stack_bytes += c->ranges[i].filled;
                else
                        s.module_bytes += c->ranges[i].filled;
        }
        for (size_t i = 0; i < c->n_threads; i++) {
                struct stack_capture_thread t;
                if (stack_capture_thread(c, i, &t) == 0 && t.cut)
                        s.threads_cut++;
        }
        if (!c->planned && s.error == 0)
                s.error = -ENODATA;
        *ret = s;
}

size_t stack_capture_n_threads(const struct stack_capture *c) {
        return c->planned ? c->n_threads : 0;
}

int stack_capture_thread(const struct stack_capture *c, size_t i, struct stack_capture_thread *ret) {
        if (!c->planned || i >= c->n_threads)
                return -ERANGE;
        const struct thread *t = &c->threads[i];
        const struct range *r = t->range >= 0 ? &c->ranges[t->range] : NULL;
        *ret = (struct stack_capture_thread){
                .tid = t->tid,
                .crashed = i == 0,
                .sp = t->sp,
                .pc = t->pc,
                .stack_lo = r ? r->vaddr : 0,
                .captured = r ? r->filled : 0,
                /* Planned whole but the stream ended early: cut as well. */
                .cut = t->cut || !r || r->filled < r->size,
        };
        return 0;
}

int stack_capture_core(const struct stack_capture *c, const void **ret_image, size_t *ret_size) {
        if (!c->planned)
                return c->error < 0 ? c->error : -ENODATA;
        *ret_image = c->image;
        *ret_size = c->image_size;
        return 0;
}
