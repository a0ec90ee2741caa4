/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A symbolized backtrace of every thread of a crashed process, made by elfutils' libdwfl from
 * what common/stackcap.h kept of its core: the synthetic core is opened with elf_memory() and
 * read with dwfl_core_file_report() (the modules, named from NT_FILE and their build-ids from
 * the pages captured) and dwfl_core_file_attach() (the threads, from NT_PRSTATUS); libdwfl
 * unwinds (CFI, else frame pointers) and names (symbol tables, DWARF: inlined functions, file
 * and line). The modules are opened from this process's root (the receiver runs inside the
 * container that crashed) and checked against their build-ids; debug files are found under
 * /usr/lib/debug (.build-id, .gnu_debuglink), and through debuginfod when DEBUGINFOD_URLS is
 * set in the environment the receiver started with (libdwfl decides that when it is loaded).
 *
 * Call it after the crashed process is released: it may read many files, and ask debuginfod.
 * It runs in a child process forked for the purpose (unless options.in_process): the files of
 * a hostile container are as untrusted as the core, and libdw reads them; a crash of the child
 * (it dumps no core) or its memory (libdw's symbol tables and DWARF, the files it maps) never
 * reaches the receiver, which reads its answer through a checked format (backtrace-wire.c).
 * Its time is bounded by options.timeout_usec: debuginfod queries are given up at half of it
 * (through the client's progress function; DEBUGINFOD_TIMEOUT and DEBUGINFOD_MAXTIME are
 * lowered too), unwinding stops at the deadline (the threads not finished are marked cut),
 * and a child still running a second later is killed (then error says so, and no thread is
 * returned). The child is waited for by its pid: a caller reaping every child (waitpid(-1))
 * must not run meanwhile.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stackcap.h"

#define BACKTRACE_TIMEOUT_DEFAULT_USEC (10u * 1000 * 1000) /* BacktraceTimeout= */
#define BACKTRACE_FRAMES_MAX 64                            /* per thread, inlined frames included */
#define BACKTRACE_THREADS_MAX 256                          /* threads unwound; error says if more were left out */

struct backtrace_options {
        uint64_t timeout_usec; /* the whole unwinding, debuginfod included; 0: the default */
        size_t max_frames;     /* 0: BACKTRACE_FRAMES_MAX */
        size_t max_threads;    /* 0: BACKTRACE_THREADS_MAX */
        /* Where separate debug files are looked for, as libdwfl's debuginfo_path (NULL: its
         * default, ":.debug:/usr/lib/debug"); tests point it at a tree of their own. */
        const char *debuginfo_path;
        /* Unwind in this process (tests, tools). Otherwise in a child process, forked for the
         * purpose: libdw's reading of the container's files can neither crash the receiver, nor
         * keep it past timeout_usec (the child is killed), nor leave memory behind in it. */
        bool in_process;
};

struct bt_frame {
        uint64_t pc;            /* the frame's address (for a caller: its return address) */
        char *module;           /* path of the module holding pc, or NULL (no module: a bad pc) */
        char build_id[41];      /* its build-id in hex, "" when unknown */
        uint64_t module_offset; /* pc - the module's start, as coredumpctl shows it (for a PIE or a
                                 * shared library: the address in the ELF file) */
        char *function;         /* as the symbol table or DWARF names it (not demangled), or NULL */
        uint64_t function_offset;
        char *file;   /* source file, or NULL */
        int line;     /* 0 when unknown */
        bool inlined; /* a function inlined into the next frame's (same pc) */
};

struct bt_thread {
        pid_t tid;
        bool crashed; /* the thread that dumped: always threads[0] when present */
        bool cut;     /* frames are missing: its stack was cut by the capture, or the frame cap or
                       * the deadline stopped it */
        struct bt_frame *frames;
        size_t n_frames;
};

struct bt_module {
        uint64_t start, end; /* where it was mapped */
        char *path;          /* as NT_FILE names it (" (deleted)" kept when the kernel said so) */
        char build_id[41];   /* "" when unknown */
        bool have_elf;       /* its file was found (build-id checked) */
        bool have_debug;     /* DWARF was found (in it, or a separate debug file) */
        char *package_json;  /* its .note.package (the FDO packaging metadata), or NULL */
};

struct backtrace {
        struct bt_thread *threads; /* the crashing thread first */
        size_t n_threads;
        struct bt_module *modules;
        size_t n_modules;
        uint64_t usec;   /* time taken */
        char error[256]; /* why threads are missing or empty, "" when nothing is */
};

/*
 * Unwinds the threads of cap. Writes *ret on every path (free it with backtrace_done()): on
 * failure it holds no threads and error says why. Returns the number of threads with at least
 * one frame; -ENODATA when the capture kept no notes, -EBADMSG when libdwfl refuses the core
 * (error says why), -ETIME when the deadline passed before any frame, -ENOMEM.
 */
int backtrace_from_capture(const struct stack_capture *cap, const struct backtrace_options *o, struct backtrace *ret);
void backtrace_done(struct backtrace *b);

/*
 * The stack trace in the layout of `coredumpctl info` (for the journal's MESSAGE and logs):
 *
 *     Stack trace of thread 1234:
 *     #0  0x00005581c0a0113d crash_here (crasher-bt + 0x113d)
 *     #1  0x00005581c0a01180 level3 (crasher-bt + 0x1180)
 *
 * a blank line between threads; module names are base names. At most max_bytes (0: no cap),
 * cut at a line's end. Returns 0 and a string to free; -ENOMEM.
 */
int backtrace_format(const struct backtrace *b, size_t max_bytes, char **ret_text);

/*
 * The unwinding child's message to the receiver, exposed for the fuzz target: b and the
 * result of the unwinding (a count of threads or a negative errno) as bytes, and back. The
 * reader trusts nothing: counts and lengths are checked against the bytes and the caps below,
 * -EBADMSG otherwise; on success *ret is to be freed with backtrace_done().
 */
#define BACKTRACE_WIRE_MAX (8u * 1024 * 1024) /* bytes read from the child */
#define BACKTRACE_WIRE_THREADS_MAX 65536u
#define BACKTRACE_WIRE_FRAMES_MAX 65536u
#define BACKTRACE_WIRE_MODULES_MAX 65536u
int backtrace_serialize(const struct backtrace *b, int result, char **ret_buf, size_t *ret_size);
int backtrace_deserialize(const void *buf, size_t size, int *ret_result, struct backtrace *ret);
