/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The head of an ELF core, read as the core streams past: its ELF header, program headers and
 * notes. The core itself says who crashed (NT_PRPSINFO), which files were mapped where, the
 * executable included (NT_FILE), the auxiliary vector (NT_AUXV) and one NT_PRSTATUS per
 * thread. Unlike /proc/<pid>/exe, cwd and maps, which need ptrace rights over the crashed
 * process, these are there for every reader of the core pipe.
 *
 * How to use it:
 *
 *     struct core_head *h;
 *     r = core_head_new(&h);                     // once per core
 *     core_head_observe(h, offset, data, len);   // for every chunk, in order, from offset 0
 *     r = core_head_parse(h, &notes);            // when the stream has ended (or at any time)
 *     ...
 *     core_notes_done(&notes);
 *     core_head_free(h);
 *
 * Everything in the core is untrusted: each length and count is checked against the bytes
 * actually captured before it is used. Memory stays bounded whatever the core holds: at most
 * CORE_HEAD_PHNUM_MAX program headers (3.5 MiB, and 2 MiB to index them) and
 * CORE_HEAD_NOTES_MAX bytes of notes are kept, under 14 MiB in all for the most hostile core;
 * a kernel core of a small process takes about 20 KiB. Once the notes are captured, observing
 * a chunk only counts its bytes.
 *
 * Supported: 64-bit little-endian x86_64 cores (ELFCLASS64, ELFDATA2LSB, EM_X86_64, ET_CORE),
 * as the kernel and gdb's gcore write them. Anything else is refused (-EPROTONOSUPPORT), never
 * guessed at. A core with PN_XNUM program headers (65535 and more mappings) keeps its real
 * count in a section header that the kernel writes after all the memory, at the very end of
 * the stream; it is refused (-E2BIG): vm.max_map_count (65530 by default) keeps real processes
 * below it.
 *
 * Functions here never log; they return 0 (or a count) or a negative errno.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CORE_HEAD_NOTES_MAX (8u * 1024 * 1024) /* bytes of PT_NOTE segments kept, in total */
#define CORE_HEAD_PHNUM_MAX 65534u             /* program headers accepted (PN_XNUM - 1) */
#define CORE_NOTES_FILES_MAX 65536u            /* NT_FILE mappings kept */
/* The longest core a program header may claim: x86_64 user space is at most 2^56 bytes (five
 * page-table levels), and a core holds that and its headers. A header that claims more is not a
 * kernel's: the core is refused (-EBADMSG), its expected size unknown, never absurd. */
#define CORE_HEAD_EXPECTED_MAX (UINT64_C(1) << 57)

struct core_head;

/* A new, empty streaming state. -ENOMEM. */
int core_head_new(struct core_head **ret);
/* Frees h (NULL is fine). Returns NULL. */
struct core_head *core_head_free(struct core_head *h);
static inline void core_head_freep(struct core_head **h) {
        *h = core_head_free(*h);
}
#define _cleanup_core_head_ __attribute__((cleanup(core_head_freep)))

/*
 * The store's hook: userdata is a struct core_head. Chunks must come in order; a chunk that
 * repeats bytes already seen is trimmed, a gap stops the capture. Never fails, never blocks,
 * never allocates more than the caps above; once the notes are in, it only counts bytes.
 */
void core_head_observe(void *userdata, uint64_t offset, const void *data, size_t len);

/* Bytes observed so far (the end of the last chunk). */
uint64_t core_head_observed(const struct core_head *h);

/*
 * The length the whole core must have: the largest p_offset + p_filesz of its program headers
 * (at least the end of the headers). 0 until the program headers have been seen, or when they
 * are unusable; never more than CORE_HEAD_EXPECTED_MAX, and once known it never changes, however
 * the stream is chunked. Also in struct core_notes. A stored core shorter than this was cut
 * (RLIMIT_CORE, an OOM kill mid-dump: receiver/cause.h).
 */
uint64_t core_head_expected_size(const struct core_head *h);

/*
 * Raw views of what h captured, for a second observer of the same stream (common/stackcap.h),
 * so that the headers and notes are kept once. All point into h and stay valid until it is freed.
 *
 * core_head_done(): nothing more will be captured (every note segment is in, or capturing
 * stopped); from then on the views below no longer change.
 * core_head_phdrs(): the program headers (raw little-endian Elf64_Phdr), NULL until all came.
 * core_head_note_segment(): the captured prefix of the i-th note segment kept (in file order),
 * NULL past the last; its bytes are as untrusted as the core.
 */
bool core_head_done(const struct core_head *h);
const uint8_t *core_head_phdrs(const struct core_head *h, uint32_t *ret_phnum);
const uint8_t *core_head_note_segment(const struct core_head *h, size_t i, size_t *ret_len);

/* One NT_FILE entry: a file mapped at [start, end) from byte offset file_offset. */
struct core_mapping {
        uint64_t start;
        uint64_t end;
        uint64_t file_offset; /* in bytes (NT_FILE counts pages; multiplied here, checked) */
        const char *path;     /* NUL-terminated, points into the notes' own copy */
};

struct core_notes {
        uint64_t expected_size; /* as core_head_expected_size() */
        bool notes_complete;    /* every PT_NOTE byte was captured and parsed */

        bool have_prpsinfo;
        char fname[17];  /* pr_fname: comm, at most 15 bytes + NUL, any bytes */
        char psargs[81]; /* pr_psargs: the first 80 bytes of the arguments, space-separated */
        uint32_t uid, gid;
        int32_t pid, ppid;

        uint32_t threads; /* NT_PRSTATUS notes */
        uint32_t signal;  /* pr_cursig of the first */

        bool have_siginfo;     /* an NT_SIGINFO note: the siginfo of the signal that made it dump */
        int32_t siginfo_signo; /* its si_signo, as the core says (any value) */
        int32_t siginfo_code;  /* its si_code */

        bool have_auxv;
        uint64_t at_entry, at_phdr, at_pagesz, at_execfn; /* 0 when absent */

        bool have_files;
        uint64_t page_size; /* NT_FILE's */
        size_t n_files;
        struct core_mapping *files;
        const char *exe; /* the executable's path (one of files[]), or NULL */

        char *strings; /* owns the paths */
};

/*
 * Parses what h captured into ret (zeroed first when successful). Notes that do not fit their
 * segment, or whose content contradicts their own lengths, are skipped; the rest are used.
 * Returns 0; -ENODATA if the stream ended before the program headers; -EPROTONOSUPPORT for a
 * core of another class, byte order or machine; -EBADMSG for a file that is not an ELF core or
 * whose headers are inconsistent; -E2BIG for PN_XNUM or more headers than the cap; -EILSEQ if
 * the chunks left a gap before the end of the program headers (a gap later only cuts the
 * notes: notes_complete is false); -ENOMEM. A PT_NOTE that begins before the end of the
 * program headers, or that would pass CORE_HEAD_NOTES_MAX, is not read (notes_complete is
 * false): the kernel and gdb write notes after the headers, and no chunking may change the
 * parse.
 */
int core_head_parse(const struct core_head *h, struct core_notes *ret);

void core_notes_done(struct core_notes *n);

/* One note of a PT_NOTE segment's bytes. */
struct core_note {
        uint32_t type;
        const uint8_t *name; /* namesz bytes */
        uint32_t namesz;
        const uint8_t *desc; /* descsz bytes */
        size_t descsz;
};

/*
 * The note at *pos in buf (len bytes), *pos then past it (name and descriptor each padded to 4
 * bytes; the last descriptor's padding may be missing). 1 and *ret; 0 when fewer than a note
 * header's 12 bytes are left (*pos == len: the segment ended cleanly); -EBADMSG for a note whose
 * name or descriptor would pass the end.
 */
int core_note_next(const uint8_t *buf, size_t len, size_t *pos, struct core_note *ret);

/* The signal that made the process dump, as its notes say: NT_SIGINFO's si_signo, else the
 * first NT_PRSTATUS's pr_cursig; 0 when neither names a signal (1..64). */
uint32_t core_notes_crash_signal(const struct core_notes *n);

/* The executable among the mappings: the one holding AT_ENTRY, else the first mapping of file
 * offset 0 whose base name starts with pr_fname, else the first mapping. NULL if none. */
const char *core_notes_find_exe(const struct core_notes *n);
