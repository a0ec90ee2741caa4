/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What unwinding a crashed process needs, kept as its core streams past: the notes (every
 * thread's registers, NT_FILE, NT_AUXV), each thread's stack from its stack pointer up, and the
 * first page of each file-backed mapping (ELF header, program headers, build-id note: what names
 * a module even when its file was deleted). The rest of the core is only counted.
 *
 * How to use it (receiver/backtrace.h reads the result):
 *
 *     struct core_head *head;                        // common/elfcore.h, shared
 *     struct stack_capture *cap;
 *     r = stack_capture_new(&limits, head, &cap);    // NULL limits: the defaults
 *     store_options.observe = stack_capture_observe; // it feeds head too: one observer
 *     store_options.observe_userdata = cap;
 *     ... store_core() ...
 *     r = stack_capture_core(cap, &image, &size);    // a small ELF core, in memory
 *     stack_capture_free(cap);
 *
 * The ranges to keep are planned once the notes are in: the kernel writes PT_NOTE before the
 * memory, so every stack streams past afterwards. Each stack is kept from its page holding
 * rsp - 128 (the red zone) to the end of the PT_LOAD holding it, at most per_thread bytes; a
 * stack longer than that is cut (its deeper, older frames are lost) and the thread says so.
 * The crashing thread (the first NT_PRSTATUS) is planned first, then the module pages, then
 * the other threads, all within total; what does not fit is left out and counted.
 *
 * Memory, whatever the core's size: at most total bytes for the synthetic core (the notes,
 * copied once from head when planning, and the captured ranges, written in place as they
 * stream past; pages of a range that never arrives are never touched), plus a few dozen bytes
 * per thread and module.
 *
 * The core is untrusted: every count, offset and address is checked against what was captured.
 * The capture never fails the store: stack_capture_observe() never blocks and never allocates
 * after planning; an error only leaves less to unwind (stack_capture_stats().error says why).
 * Functions here never log; they return 0 (or a count) or a negative errno.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "elfcore.h"

#define STACK_CAPTURE_PER_THREAD_DEFAULT (256u * 1024) /* StackCapturePerThread= */
#define STACK_CAPTURE_MAX_DEFAULT (16u * 1024 * 1024)  /* StackCaptureMax=, notes included */
#define STACK_CAPTURE_MODULE_BYTES 4096u               /* of each file mapping at offset 0 */
#define STACK_CAPTURE_MODULES_MAX 1024u                /* mappings whose first page is kept */
#define STACK_CAPTURE_THREADS_MAX 16384u               /* threads whose stacks are planned */
#define STACK_CAPTURE_RED_ZONE 128u                    /* x86_64 ABI: below rsp, still live */
#define STACK_CAPTURE_NOTE_SEGMENTS_MAX 16u            /* PT_NOTEs copied (the kernel writes one) */

struct stack_capture_limits {
        uint64_t per_thread; /* bytes of one thread's stack; 0: the default */
        uint64_t total;      /* bytes of notes + stacks + module pages; 0: the default */
};

struct stack_capture;

/*
 * A new capture. head is the stream's core_head (borrowed: it must outlive the capture), fed by
 * stack_capture_observe() itself; NULL makes one of its own. -ENOMEM; -EINVAL for a limit under
 * one page.
 */
int stack_capture_new(const struct stack_capture_limits *l, struct core_head *head, struct stack_capture **ret);
struct stack_capture *stack_capture_free(struct stack_capture *c);
static inline void stack_capture_freep(struct stack_capture **c) {
        *c = stack_capture_free(*c);
}
#define _cleanup_stack_capture_ __attribute__((cleanup(stack_capture_freep)))

/* The store's hook (receiver/store.h): userdata is the struct stack_capture. Passes every chunk
 * to the core_head first. Chunks in order, each byte once, split anywhere; repeats are trimmed,
 * a gap ends the capture of the ranges it crosses. */
void stack_capture_observe(void *userdata, uint64_t offset, const void *data, size_t len);

/* The core_head it feeds (the one given, or its own). */
struct core_head *stack_capture_head(const struct stack_capture *c);

struct stack_capture_thread {
        pid_t tid;         /* NT_PRSTATUS pr_pid */
        bool crashed;      /* the first NT_PRSTATUS: the thread that dumped */
        uint64_t sp, pc;   /* rsp, rip */
        uint64_t stack_lo; /* the captured stack: [stack_lo, stack_lo + captured) */
        uint64_t captured; /* bytes that arrived (less than planned when the stream ended early) */
        bool cut;          /* its stack went on past what was kept: older frames are missing */
};

struct stack_capture_stats {
        bool planned;          /* the notes came, and the ranges were chosen */
        int error;             /* 0, or why nothing (more) could be kept: -ENODATA no notes, ... */
        uint32_t threads;      /* NT_PRSTATUS notes */
        uint32_t threads_cut;  /* stacks cut by per_thread or total, or left out */
        uint32_t modules;      /* module first pages kept */
        uint32_t modules_left; /* left out (over the count or total) */
        uint64_t notes_bytes;  /* kept notes */
        uint64_t stack_bytes;  /* captured stack bytes */
        uint64_t module_bytes; /* captured module bytes */
        uint64_t memory;       /* bytes held for the synthetic core (its size) */
};
void stack_capture_stats(const struct stack_capture *c, struct stack_capture_stats *ret);

/* Threads, in note order (the crashing thread first). 0 before planning. */
size_t stack_capture_n_threads(const struct stack_capture *c);
/* The i-th thread. -ERANGE past the last. */
int stack_capture_thread(const struct stack_capture *c, size_t i, struct stack_capture_thread *ret);

/*
 * The synthetic core: an ELF64 ET_CORE image (header, one PT_NOTE with the real notes, one
 * PT_LOAD per captured range, each as long as what arrived) that libelf's elf_memory() and
 * libdwfl's dwfl_core_file_report() / dwfl_core_file_attach() read like the kernel's core.
 * Points into c (valid until it is freed); elf_memory() takes a non-const pointer but does not
 * write to a native-endian image. -ENODATA if no notes came.
 */
int stack_capture_core(const struct stack_capture *c, const void **ret_image, size_t *ret_size);
