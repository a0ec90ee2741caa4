/* SPDX-License-Identifier: MIT */
/*
 * The streaming reader of a core's head (common/elfcore.c): a real kernel-written core head
 * gives the same parse in any chunking, and malformed heads are refused or cut short without a
 * crash or a read out of bounds (run under the address sanitizer in CI).
 *   test-elfcore KERNEL_CORE_HEAD [MORE_CORES...]
 * The first file is the committed fixture (its content is checked); further cores (a gcore, a
 * whole kernel core) are checked for chunking invariance only.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfcore.h"
#include "macro.h"
#include "tap.h"

#define SIGSEGV_NUM 11

static uint8_t *read_whole(const char *path, size_t *ret_len) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return NULL;
        uint8_t *buf = malloc((size_t) st.st_size + 1);
        size_t got = 0;
        while (buf && got < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        close(fd);
        *ret_len = got;
        return buf;
}

/* Feeds data in chunks of size chunk (0: all at once) and parses. */
static int parse_chunked(const uint8_t *data, size_t len, size_t chunk, struct core_notes *ret) {
        _cleanup_core_head_ struct core_head *h = NULL;
        int r = core_head_new(&h);
        if (r < 0)
                return r;
        if (chunk == 0)
                chunk = len ? len : 1;
        for (size_t off = 0; off < len; off += chunk)
                core_head_observe(h, off, data + off, MIN(chunk, len - off));
        return core_head_parse(h, ret);
}

static bool same_notes(const struct core_notes *a, const struct core_notes *b) {
        if (a->expected_size != b->expected_size || a->notes_complete != b->notes_complete ||
            a->have_prpsinfo != b->have_prpsinfo || strcmp(a->fname, b->fname) != 0 ||
            strcmp(a->psargs, b->psargs) != 0 || a->uid != b->uid || a->gid != b->gid || a->pid != b->pid ||
            a->ppid != b->ppid || a->threads != b->threads || a->signal != b->signal || a->at_entry != b->at_entry ||
            a->have_siginfo != b->have_siginfo || a->siginfo_signo != b->siginfo_signo || a->at_phdr != b->at_phdr ||
            a->at_pagesz != b->at_pagesz || a->at_execfn != b->at_execfn || a->page_size != b->page_size ||
            a->n_files != b->n_files || (!a->exe) != (!b->exe) || (a->exe && strcmp(a->exe, b->exe) != 0))
                return false;
        for (size_t i = 0; i < a->n_files; i++)
                if (a->files[i].start != b->files[i].start || a->files[i].end != b->files[i].end ||
                    a->files[i].file_offset != b->files[i].file_offset ||
                    strcmp(a->files[i].path, b->files[i].path) != 0)
                        return false;
        return true;
}

static void check_chunkings(const char *path, const uint8_t *data, size_t len, struct core_notes *whole) {
        static const size_t sizes[] = {1, 7, 4096, 65536 + 3};
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                struct core_notes n;
                int r = parse_chunked(data, len, sizes[i], &n);
                CHECK(r == 0 && same_notes(&n, whole), "%s: chunks of %zu bytes parse as the whole file", path,
                      sizes[i]);
                if (r == 0)
                        core_notes_done(&n);
        }
}

static bool ends_with(const char *s, const char *suffix) {
        size_t a = s ? strlen(s) : 0, b = strlen(suffix);
        return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The committed fixture: the first 16 KiB (headers and notes, no memory) of a core the kernel wrote for
 * `crasher --name cpt-notes-* --size 1 --signal abort` run as root. */
static void test_kernel_fixture(const char *path) {
        size_t len;
        _cleanup_free_ uint8_t *data = read_whole(path, &len);
        CHECK(data && len > 0, "fixture %s readable", path);
        if (!data)
                return;
        struct core_notes n;
        int r = parse_chunked(data, len, 0, &n);
        CHECK(r == 0, "kernel core head parses (%d)", r);
        if (r < 0)
                return;
        CHECK(n.notes_complete, "every note of the kernel core is in its head");
        CHECK(n.expected_size > len, "expected size %llu is past the kept head (%zu): the fixture is cut",
              (unsigned long long) n.expected_size, len);
        CHECK(n.have_prpsinfo && strncmp(n.fname, "cpt-notes", 9) == 0, "NT_PRPSINFO: pr_fname %s", n.fname);
        CHECK(strstr(n.psargs, "crasher --name cpt-notes") != NULL, "NT_PRPSINFO: pr_psargs \"%s\"", n.psargs);
        CHECK(n.uid == 0 && n.gid == 0 && n.pid > 0, "NT_PRPSINFO: uid %u gid %u pid %d", n.uid, n.gid, n.pid);
        CHECK(n.threads == 1 && n.signal == 6, "one NT_PRSTATUS, pr_cursig SIGABRT (%u threads, signal %u)", n.threads,
              n.signal);
        CHECK(n.have_siginfo && n.siginfo_signo == 6 && core_notes_crash_signal(&n) == 6,
              "NT_SIGINFO: si_signo SIGABRT, the crash's signal (%d)", n.siginfo_signo);
        CHECK(n.have_auxv && n.at_entry != 0 && n.at_pagesz == 4096, "NT_AUXV: AT_ENTRY %#llx, AT_PAGESZ %llu",
              (unsigned long long) n.at_entry, (unsigned long long) n.at_pagesz);
        CHECK(n.have_files && n.n_files >= 4 && n.page_size == 4096, "NT_FILE: %zu mappings, page size %llu", n.n_files,
              (unsigned long long) n.page_size);
        CHECK(ends_with(n.exe, "/tests/crasher"), "executable from the mapping holding AT_ENTRY: %s",
              n.exe ? n.exe : "(none)");
        bool libc = false;
        for (size_t i = 0; i < n.n_files; i++)
                libc = libc || strstr(n.files[i].path, "libc.so") != NULL;
        CHECK(libc, "NT_FILE lists libc");
        check_chunkings(path, data, len, &n);
        core_notes_done(&n);
}

static void test_other_core(const char *path) {
        size_t len;
        _cleanup_free_ uint8_t *data = read_whole(path, &len);
        struct core_notes n;
        int r = data ? parse_chunked(data, len, 0, &n) : -errno;
        CHECK(r == 0 && n.have_prpsinfo && n.threads > 0 && n.exe, "%s parses: exe %s, %u threads", path,
              r == 0 && n.exe ? n.exe : "?", r == 0 ? n.threads : 0);
        if (r < 0)
                return;
        check_chunkings(path, data, len, &n);
        core_notes_done(&n);
}

/* ---- synthetic cores ------------------------------------------------------------------------ */

#define ALIGN4(x) (((x) + 3u) & ~3u)
#define NOTES_AT (sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr))

static size_t put_note(uint8_t *p, uint32_t type, const char *name, const void *desc, uint32_t descsz) {
        uint32_t namesz = (uint32_t) strlen(name) + 1;
        memcpy(p, &namesz, 4);
        memcpy(p + 4, &descsz, 4);
        memcpy(p + 8, &type, 4);
        memset(p + 12, 0, ALIGN4(namesz) + ALIGN4(descsz));
        memcpy(p + 12, name, namesz);
        memcpy(p + 12 + ALIGN4(namesz), desc, descsz);
        return 12 + ALIGN4(namesz) + ALIGN4(descsz);
}

struct syn_opts {
        bool no_auxv, no_prpsinfo;
        uint64_t files_count; /* 0: the real count, 2 */
        bool path_without_nul;
        uint64_t pgoff;
        int32_t siginfo_signo;   /* an NT_SIGINFO with this si_signo (0: none) */
        uint32_t siginfo_descsz; /* its length (0: the kernel's, 128) */
};

/* PRPSINFO, PRSTATUS (SIGSEGV), AUXV (AT_ENTRY in /usr/bin/syn), NT_FILE (libc, then syn). */
static size_t make_notes(uint8_t *p, const struct syn_opts *o) {
        uint8_t d[512];
        size_t len = 0;
        if (!o->no_prpsinfo) {
                memset(d, 0, 136);
                uint32_t ids[4] = {1000, 1001, 42, 1};
                memcpy(d + 16, ids, sizeof(ids));
                memcpy(d + 40, "syn", 3);
                memcpy(d + 56, "syn -x", 6);
                len += put_note(p + len, NT_PRPSINFO, "CORE", d, 136);
        }
        memset(d, 0, 336);
        d[12] = SIGSEGV_NUM;
        len += put_note(p + len, NT_PRSTATUS, "CORE", d, 336);
        if (o->siginfo_signo) {
                memset(d, 0, 128);
                memcpy(d, &o->siginfo_signo, 4);
                d[8] = 1; /* si_code SEGV_MAPERR */
                len += put_note(p + len, NT_SIGINFO, "CORE", d, o->siginfo_descsz ? o->siginfo_descsz : 128);
        }
        if (!o->no_auxv) {
                uint64_t auxv[] = {AT_PAGESZ, 4096, AT_ENTRY, 0x401000, AT_NULL, 0};
                len += put_note(p + len, NT_AUXV, "CORE", auxv, sizeof(auxv));
        }
        uint64_t files[2 + 6] = {o->files_count ? o->files_count : 2,
                                 4096,
                                 0x7f0000000000,
                                 0x7f0000100000,
                                 0,
                                 0x400000,
                                 0x402000,
                                 o->pgoff};
        memcpy(d, files, sizeof(files));
        const char paths[] = "/usr/lib/libc.so.6\0/usr/bin/syn";
        size_t plen = sizeof(paths) - (o->path_without_nul ? 1 : 0);
        memcpy(d + sizeof(files), paths, plen);
        len += put_note(p + len, NT_FILE, "CORE", d, (uint32_t) (sizeof(files) + plen));
        len += put_note(p + len, NT_X86_XSTATE, "LINUX", d, 64);
        return len;
}

/* ELF header, PT_NOTE at NOTES_AT, a PT_LOAD of 1 MiB at 8192 (not included: a cut core). */
static size_t make_core(uint8_t *out, const uint8_t *notes, size_t notes_len) {
        Elf64_Ehdr e = {
                .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT},
                .e_type = ET_CORE,
                .e_machine = EM_X86_64,
                .e_version = EV_CURRENT,
                .e_phoff = sizeof(Elf64_Ehdr),
                .e_ehsize = sizeof(Elf64_Ehdr),
                .e_phentsize = sizeof(Elf64_Phdr),
                .e_phnum = 2,
        };
        Elf64_Phdr ph[2] = {
                {.p_type = PT_NOTE, .p_offset = NOTES_AT, .p_filesz = notes_len},
                {.p_type = PT_LOAD, .p_offset = 8192, .p_filesz = 1 << 20, .p_memsz = 1 << 20},
        };
        memcpy(out, &e, sizeof(e));
        memcpy(out + sizeof(e), ph, sizeof(ph));
        memcpy(out + NOTES_AT, notes, notes_len);
        return NOTES_AT + notes_len;
}

static uint8_t core_buf[8192], note_buf[4096];

static size_t build(const struct syn_opts *o) {
        memset(core_buf, 0, sizeof(core_buf));
        return make_core(core_buf, note_buf, make_notes(note_buf, o));
}

static Elf64_Ehdr *ehdr(void) {
        return (Elf64_Ehdr *) core_buf;
}

static Elf64_Phdr *phdr(unsigned i) {
        return (Elf64_Phdr *) (core_buf + sizeof(Elf64_Ehdr)) + i;
}

static int parse_syn(size_t len, size_t chunk, struct core_notes *ret) {
        int r = parse_chunked(core_buf, len, chunk, ret);
        return r;
}

/* Parses and frees; returns the parse's result, and whether the notes were complete. */
static int parse_result(size_t len, bool *ret_complete) {
        struct core_notes n;
        int r = parse_syn(len, 5, &n);
        if (r == 0) {
                *ret_complete = n.notes_complete;
                core_notes_done(&n);
        }
        return r;
}

/* The signal of a crash the kernel did not name (its coredump socket): NT_SIGINFO's si_signo,
 * else pr_cursig; never a value that is no signal. */
static void test_crash_signal(void) {
        struct core_notes n;
        struct syn_opts o = {.siginfo_signo = 6};
        int r = parse_syn(build(&o), 7, &n);
        CHECK(r == 0 && n.have_siginfo && n.siginfo_signo == 6 && n.siginfo_code == 1 &&
                      core_notes_crash_signal(&n) == 6,
              "NT_SIGINFO's si_signo over pr_cursig (%u)", r == 0 ? core_notes_crash_signal(&n) : 0);
        if (r == 0)
                core_notes_done(&n);
        o = (struct syn_opts){0};
        r = parse_syn(build(&o), 0, &n);
        CHECK(r == 0 && !n.have_siginfo && core_notes_crash_signal(&n) == SIGSEGV_NUM, "no NT_SIGINFO: pr_cursig");
        if (r == 0)
                core_notes_done(&n);
        o = (struct syn_opts){.siginfo_signo = 6, .siginfo_descsz = 8};
        r = parse_syn(build(&o), 0, &n);
        CHECK(r == 0 && !n.have_siginfo && core_notes_crash_signal(&n) == SIGSEGV_NUM,
              "an NT_SIGINFO too short for si_code is not taken");
        if (r == 0)
                core_notes_done(&n);
        o = (struct syn_opts){.siginfo_signo = 200};
        r = parse_syn(build(&o), 0, &n);
        CHECK(r == 0 && n.have_siginfo && core_notes_crash_signal(&n) == SIGSEGV_NUM,
              "an si_signo that is no signal: pr_cursig");
        if (r == 0)
                core_notes_done(&n);
        o = (struct syn_opts){.siginfo_signo = -1};
        r = parse_syn(build(&o), 0, &n);
        CHECK(r == 0 && core_notes_crash_signal(&n) == SIGSEGV_NUM, "a negative si_signo: pr_cursig");
        if (r == 0)
                core_notes_done(&n);
        struct core_notes none = {.signal = 11};
        CHECK(core_notes_crash_signal(&none) == 0, "no NT_PRSTATUS seen: no signal, whatever the field holds");
}

static void test_good_synthetic(void) {
        struct syn_opts o = {0};
        size_t len = build(&o);
        struct core_notes n;
        int r = parse_syn(len, 0, &n);
        CHECK(r == 0 && n.notes_complete && n.expected_size == 8192 + (1 << 20), "synthetic core: expected size %llu",
              r == 0 ? (unsigned long long) n.expected_size : 0);
        CHECK(r == 0 && strcmp(n.fname, "syn") == 0 && strcmp(n.psargs, "syn -x") == 0 && n.uid == 1000 &&
                      n.gid == 1001 && n.pid == 42 && n.ppid == 1,
              "synthetic NT_PRPSINFO fields");
        CHECK(r == 0 && n.threads == 1 && n.signal == SIGSEGV_NUM, "synthetic NT_PRSTATUS");
        CHECK(r == 0 && n.n_files == 2 && n.files[1].start == 0x400000 && n.exe && strcmp(n.exe, "/usr/bin/syn") == 0,
              "exe is the mapping holding AT_ENTRY, not the first one");
        if (r == 0) {
                check_chunkings("synthetic", core_buf, len, &n);
                core_notes_done(&n);
        }

        o.no_auxv = true;
        len = build(&o);
        r = parse_syn(len, 3, &n);
        CHECK(r == 0 && n.exe && strcmp(n.exe, "/usr/bin/syn") == 0, "without NT_AUXV: exe by pr_fname's basename");
        if (r == 0)
                core_notes_done(&n);
        o.no_prpsinfo = true;
        len = build(&o);
        r = parse_syn(len, 3, &n);
        CHECK(r == 0 && n.exe && strcmp(n.exe, "/usr/lib/libc.so.6") == 0, "without auxv and prpsinfo: first mapping");
        if (r == 0)
                core_notes_done(&n);
}

static void test_bad_headers(void) {
        struct syn_opts o = {0};
        struct core_notes n;
        bool complete = true;
        size_t len = build(&o);

        ehdr()->e_ident[EI_CLASS] = ELFCLASS32;
        CHECK(parse_syn(len, 1, &n) == -EPROTONOSUPPORT, "32-bit core refused");
        len = build(&o);
        ehdr()->e_ident[EI_DATA] = ELFDATA2MSB;
        CHECK(parse_syn(len, 1, &n) == -EPROTONOSUPPORT, "big-endian core refused");
        len = build(&o);
        ehdr()->e_machine = EM_AARCH64;
        CHECK(parse_syn(len, 1, &n) == -EPROTONOSUPPORT, "another machine refused");
        len = build(&o);
        ehdr()->e_type = ET_EXEC;
        CHECK(parse_syn(len, 1, &n) == -EBADMSG, "an executable is not a core");
        len = build(&o);
        core_buf[0] = 'X';
        CHECK(parse_syn(len, 1, &n) == -EBADMSG, "no ELF magic");
        CHECK(parse_syn(0, 1, &n) == -ENODATA, "empty stream");
        len = build(&o);
        CHECK(parse_syn(40, 1, &n) == -ENODATA, "stream ends inside the ELF header");
        CHECK(parse_syn(100, 7, &n) == -ENODATA, "stream ends inside the program headers");
        ehdr()->e_phoff = 1ull << 62;
        CHECK(parse_syn(len, 4096, &n) == -ENODATA, "program headers beyond the stream: no data, no allocation");
        ehdr()->e_phoff = UINT64_MAX - 10;
        CHECK(parse_syn(len, 4096, &n) == -EBADMSG, "program header table wrapping around");
        ehdr()->e_phoff = 8;
        CHECK(parse_syn(len, 4096, &n) == -EBADMSG, "program headers inside the ELF header");
        len = build(&o);
        ehdr()->e_phnum = PN_XNUM;
        CHECK(parse_syn(len, 4096, &n) == -E2BIG, "PN_XNUM refused");
        len = build(&o);
        ehdr()->e_phentsize = 32;
        CHECK(parse_syn(len, 4096, &n) == -EBADMSG, "odd program header size");
        len = build(&o);
        phdr(1)->p_offset = UINT64_MAX - 5;
        CHECK(parse_syn(len, 4096, &n) == -EBADMSG, "p_offset + p_filesz wrapping around");
        len = build(&o);
        phdr(0)->p_filesz = CORE_HEAD_NOTES_MAX + 1;
        CHECK(parse_result(len, &complete) == 0 && !complete, "a PT_NOTE over the cap is skipped, not captured");
        len = build(&o);
        phdr(0)->p_offset = 0;
        CHECK(parse_result(len, &complete) == 0 && !complete, "a PT_NOTE that began before the headers ended");
        len = build(&o);
        phdr(1)->p_type = PT_NOTE;
        phdr(1)->p_offset = phdr(0)->p_offset;
        phdr(1)->p_filesz = phdr(0)->p_filesz;
        int r = parse_syn(len, 9, &n);
        CHECK(r == 0 && n.threads == 2 && n.n_files == 2, "two PT_NOTEs over the same bytes: both read, no crash");
        if (r == 0)
                core_notes_done(&n);
}

/* Finds the first note of type in note_buf (as laid out by make_notes) and returns its header. */
static uint8_t *find_note(size_t notes_len, uint32_t type) {
        for (size_t pos = 0; pos + 12 <= notes_len;) {
                uint32_t h[3];
                memcpy(h, note_buf + pos, sizeof(h));
                if (h[2] == type)
                        return core_buf + NOTES_AT + pos;
                pos += 12 + ALIGN4(h[0]) + ALIGN4(h[1]);
        }
        abort();
}

static void test_bad_notes(void) {
        struct syn_opts o = {0};
        struct core_notes n;
        bool complete = true;
        size_t len = build(&o), notes_len = len - NOTES_AT;
        uint32_t v = UINT32_MAX;

        memcpy(find_note(notes_len, NT_AUXV), &v, 4);
        CHECK(parse_result(len, &complete) == 0 && !complete, "namesz 0xffffffff: the rest of the segment is dropped");
        len = build(&o);
        memcpy(find_note(notes_len, NT_AUXV) + 4, &v, 4);
        CHECK(parse_result(len, &complete) == 0 && !complete, "descsz 0xffffffff: dropped");
        len = build(&o);
        v = 137;
        memcpy(find_note(notes_len, NT_PRSTATUS) + 4, &v, 4);
        CHECK(parse_result(len, &complete) == 0 && !complete, "descsz pointing into the next note: no over-read");

        o.files_count = 1000;
        len = build(&o);
        int r = parse_syn(len, 11, &n);
        CHECK(r == 0 && !n.have_files && n.n_files == 0 && !n.exe && !n.notes_complete,
              "NT_FILE count larger than the note: no mappings");
        if (r == 0)
                core_notes_done(&n);
        o.files_count = UINT64_MAX / 8;
        len = build(&o);
        CHECK(parse_result(len, &complete) == 0 && !complete, "NT_FILE count overflowing a multiplication");
        o.files_count = 0;
        o.path_without_nul = true;
        len = build(&o);
        r = parse_syn(len, 11, &n);
        CHECK(r == 0 && n.n_files == 1 && !n.notes_complete && strcmp(n.files[0].path, "/usr/lib/libc.so.6") == 0,
              "NT_FILE path without NUL: the mappings before it kept");
        if (r == 0)
                core_notes_done(&n);
        o.path_without_nul = false;
        o.pgoff = UINT64_MAX / 2;
        len = build(&o);
        r = parse_syn(len, 11, &n);
        CHECK(r == 0 && n.n_files == 2 && n.files[1].file_offset == UINT64_MAX, "page offset overflow saturates");
        if (r == 0)
                core_notes_done(&n);

        o.pgoff = 0;
        len = build(&o);
        memset(find_note(notes_len, NT_PRPSINFO) + 20 + 40, 'A', 16 + 80);
        r = parse_syn(len, 11, &n);
        CHECK(r == 0 && strlen(n.fname) == 16 && strlen(n.psargs) == 80, "pr_fname and pr_psargs without NUL: bounded");
        if (r == 0)
                core_notes_done(&n);
}

static void test_stream_order(void) {
        struct syn_opts o = {0};
        struct core_notes n, whole;
        size_t len = build(&o);
        _cleanup_core_head_ struct core_head *h = NULL;

        int r = parse_syn(len, 0, &whole);
        CHECK(r == 0, "reference parse");
        r = core_head_new(&h); /* not inside CHECK(), which evaluates twice */
        CHECK(r == 0, "new head");
        core_head_observe(h, 0, core_buf, 100);
        core_head_observe(h, 50, core_buf + 50, 200); /* repeats 50 bytes */
        core_head_observe(h, 250, core_buf + 250, len - 250);
        r = core_head_parse(h, &n);
        CHECK(r == 0 && same_notes(&n, &whole), "repeated bytes are trimmed");
        if (r == 0)
                core_notes_done(&n);
        h = core_head_free(h);

        /* The program headers end at 176: counted twice, [150, 176) would look captured. */
        r = core_head_new(&h);
        CHECK(r == 0, "new head");
        core_head_observe(h, 0, core_buf, 100);
        core_head_observe(h, 64, core_buf + 64, 56);
        core_head_observe(h, 64, core_buf + 64, 86);
        core_head_observe(h, 150, core_buf + 150, len - 150);
        r = core_head_parse(h, &n);
        CHECK(r == 0 && same_notes(&n, &whole), "bytes sent three times are counted once");
        CHECK(core_head_observed(h) == len && core_head_expected_size(h) == 8192 + (1 << 20), "observed and expected");
        if (r == 0)
                core_notes_done(&n);
        h = core_head_free(h);

        r = core_head_new(&h); /* not inside CHECK(), which evaluates twice */
        CHECK(r == 0, "new head");
        core_head_observe(h, 0, core_buf, 100);
        core_head_observe(h, 120, core_buf + 120, len - 120);
        CHECK(core_head_parse(h, &n) == -EILSEQ, "a gap before the program headers end: -EILSEQ");
        h = core_head_free(h);

        r = core_head_new(&h); /* not inside CHECK(), which evaluates twice */
        CHECK(r == 0, "new head");
        core_head_observe(h, 0, core_buf, NOTES_AT + 20);
        core_head_observe(h, NOTES_AT + 40, core_buf + NOTES_AT + 40, len - NOTES_AT - 40);
        r = core_head_parse(h, &n);
        CHECK(r == 0 && !n.notes_complete && n.expected_size == whole.expected_size,
              "a gap in the notes: cut, not wrong");
        if (r == 0)
                core_notes_done(&n);
        core_notes_done(&whole);
}

static void test_synthetic(void) {
        test_good_synthetic();
        test_crash_signal();
        test_bad_headers();
        test_bad_notes();
        test_stream_order();
}

int main(int argc, char *argv[]) {
        if (argc < 2) {
                fprintf(stderr, "usage: %s KERNEL_CORE_HEAD [CORES...]\n", argv[0]);
                return 2;
        }
        test_kernel_fixture(argv[1]);
        for (int i = 2; i < argc; i++)
                test_other_core(argv[i]);
        test_synthetic();
        return tap_done();
}
