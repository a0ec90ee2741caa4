/* SPDX-License-Identifier: MIT */
#include "elfcore.h"

#include <elf.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "le.h"
#include "macro.h"

/* x86_64 layouts of the kernel's note descriptors (include/uapi/linux/elfcore.h), by offset. */
#define PRPSINFO_SIZE 136
#define PRPSINFO_UID 16
#define PRPSINFO_GID 20
#define PRPSINFO_PID 24
#define PRPSINFO_PPID 28
#define PRPSINFO_FNAME 40
#define PRPSINFO_PSARGS 56
#define PRSTATUS_CURSIG 12
#define SIGINFO_HEAD 12   /* si_signo, si_errno, si_code: the fields every siginfo starts with */
#define SIGNAL_MAX 64     /* _NSIG on x86_64 */
#define NT_FILE_HEADER 16 /* count, page size */
#define NT_FILE_ENTRY 24  /* start, end, file offset in pages */

struct note_range {
        uint64_t offset; /* in the core */
        uint64_t size;
        uint64_t filled; /* bytes captured, a prefix of the range */
        size_t buf_off;  /* where in note_buf */
};

struct core_head {
        uint64_t pos; /* the end of the last chunk */
        int error;    /* sticky: why capturing stopped */
        bool done;    /* nothing more to capture */

        uint8_t ehdr[sizeof(Elf64_Ehdr)];
        uint64_t ehdr_filled;

        bool have_ehdr;
        uint64_t phoff, ph_size, ph_filled;
        uint32_t phnum;
        uint8_t *phdrs;

        bool have_phdrs;
        uint64_t expected;
        bool notes_skipped; /* a PT_NOTE over the cap, or begun before we knew of it */
        struct note_range *ranges;
        size_t n_ranges, first_live;
        uint8_t *note_buf;
};

int core_head_new(struct core_head **ret) {
        struct core_head *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        *ret = h;
        return 0;
}

struct core_head *core_head_free(struct core_head *h) {
        if (h) {
                free(h->phdrs);
                free(h->ranges);
                free(h->note_buf);
                free(h);
        }
        return NULL;
}

uint64_t core_head_observed(const struct core_head *h) {
        return h->pos;
}

uint64_t core_head_expected_size(const struct core_head *h) {
        return h->have_phdrs ? h->expected : 0;
}

bool core_head_done(const struct core_head *h) {
        return h->done;
}

const uint8_t *core_head_phdrs(const struct core_head *h, uint32_t *ret_phnum) {
        if (!h->have_phdrs)
                return NULL;
        *ret_phnum = h->phnum;
        return h->phdrs;
}

const uint8_t *core_head_note_segment(const struct core_head *h, size_t i, size_t *ret_len) {
        if (!h->have_phdrs || i >= h->n_ranges)
                return NULL;
        *ret_len = (size_t) h->ranges[i].filled;
        return h->note_buf + h->ranges[i].buf_off;
}

/* Copies the part of the chunk [off, off + len) that lies in [start, start + size) to the same
 * place in dst. Neither range wraps (checked by the callers). Returns the bytes copied. */
static uint64_t copy_overlap(uint64_t start, uint64_t size, uint8_t *dst, uint64_t off, const uint8_t *data,
                             size_t len) {
        uint64_t lo = MAX(start, off), hi = MIN(start + size, off + len);
        if (lo >= hi)
                return 0;
        memcpy(dst + (lo - start), data + (lo - off), hi - lo);
        return hi - lo;
}

/* The ELF header is complete: is it a core we read, and where are its program headers? */
static int start_phdrs(struct core_head *h) {
        const uint8_t *e = h->ehdr;
        if (memcmp(e, ELFMAG, SELFMAG) != 0)
                return -EBADMSG;
        if (e[EI_CLASS] != ELFCLASS64 || e[EI_DATA] != ELFDATA2LSB)
                return -EPROTONOSUPPORT;
        if (e[EI_VERSION] != EV_CURRENT || le_get16(e + offsetof(Elf64_Ehdr, e_type)) != ET_CORE)
                return -EBADMSG;
        if (le_get16(e + offsetof(Elf64_Ehdr, e_machine)) != EM_X86_64)
                return -EPROTONOSUPPORT;
        uint16_t phentsize = le_get16(e + offsetof(Elf64_Ehdr, e_phentsize));
        uint16_t phnum = le_get16(e + offsetof(Elf64_Ehdr, e_phnum));
        uint64_t phoff = le_get64(e + offsetof(Elf64_Ehdr, e_phoff));
        if (phnum == PN_XNUM || phnum > CORE_HEAD_PHNUM_MAX)
                return -E2BIG;
        /* The table must follow the header: bytes before it have streamed past already. */
        if (phentsize != sizeof(Elf64_Phdr) || phnum == 0 || phoff < sizeof(Elf64_Ehdr))
                return -EBADMSG;
        uint64_t size = (uint64_t) phnum * sizeof(Elf64_Phdr);
        if (phoff > UINT64_MAX - size)
                return -EBADMSG;
        h->phdrs = malloc(size);
        if (!h->phdrs)
                return -ENOMEM;
        h->phoff = phoff;
        h->phnum = phnum;
        h->ph_size = size;
        h->have_ehdr = true;
        return 0;
}

static int compare_ranges(const void *a, const void *b) {
        const struct note_range *x = a, *y = b;
        /* Ties in program header order, which buf_off follows: the same order every time. */
        if (x->offset != y->offset)
                return x->offset < y->offset ? -1 : 1;
        return x->buf_off < y->buf_off ? -1 : x->buf_off > y->buf_off;
}

/* Takes one PT_NOTE segment into ranges when it fits the budget and begins after the program
 * headers (as the kernel and gdb write them): bytes before their end may have streamed past
 * already, and which did depends on the chunking; the parse must not. */
static void add_note_range(struct core_head *h, uint64_t offset, uint64_t size, size_t *budget) {
        if (size == 0)
                return;
        if (size > *budget || offset < h->phoff + h->ph_size) {
                h->notes_skipped = true;
                return;
        }
        h->ranges[h->n_ranges++] = (struct note_range){
                .offset = offset,
                .size = size,
                .buf_off = CORE_HEAD_NOTES_MAX - *budget,
        };
        *budget -= size;
}

/* The program headers are complete: the expected core length and the note segments. */
static int start_notes(struct core_head *h) {
        uint64_t expected = h->phoff + h->ph_size;
        size_t budget = CORE_HEAD_NOTES_MAX;

        h->ranges = calloc(h->phnum, sizeof(*h->ranges));
        if (!h->ranges)
                return -ENOMEM;
        for (uint32_t i = 0; i < h->phnum; i++) {
                const uint8_t *ph = h->phdrs + (size_t) i * sizeof(Elf64_Phdr);
                uint32_t type = le_get32(ph + offsetof(Elf64_Phdr, p_type));
                uint64_t offset = le_get64(ph + offsetof(Elf64_Phdr, p_offset));
                uint64_t filesz = le_get64(ph + offsetof(Elf64_Phdr, p_filesz));
                if (offset > UINT64_MAX - filesz || offset + filesz > CORE_HEAD_EXPECTED_MAX)
                        return -EBADMSG;
                expected = MAX(expected, offset + filesz);
                if (type == PT_NOTE)
                        add_note_range(h, offset, filesz, &budget);
        }
        qsort(h->ranges, h->n_ranges, sizeof(*h->ranges), compare_ranges);
        /* calloc: pages of a note that never arrives are never touched. */
        if (budget < CORE_HEAD_NOTES_MAX) {
                h->note_buf = calloc(1, CORE_HEAD_NOTES_MAX - budget);
                if (!h->note_buf)
                        return -ENOMEM;
        }
        h->expected = expected;
        h->have_phdrs = true;
        return 0;
}

static void capture_notes(struct core_head *h, uint64_t off, const uint8_t *data, size_t len) {
        uint64_t end = off + len;
        for (size_t i = h->first_live; i < h->n_ranges && h->ranges[i].offset < end; i++) {
                struct note_range *n = &h->ranges[i];
                n->filled += copy_overlap(n->offset, n->size, h->note_buf + n->buf_off, off, data, len);
        }
        /* Ranges are sorted by start; one that ends before the stream position is finished. */
        while (h->first_live < h->n_ranges && h->ranges[h->first_live].offset + h->ranges[h->first_live].size <= end)
                h->first_live++;
        if (h->first_live == h->n_ranges)
                h->done = true;
}

static int capture_chunk(struct core_head *h, uint64_t off, const uint8_t *data, size_t len) {
        int r;
        if (!h->have_ehdr) {
                h->ehdr_filled += copy_overlap(0, sizeof(h->ehdr), h->ehdr, off, data, len);
                if (h->ehdr_filled < sizeof(h->ehdr))
                        return 0;
                r = start_phdrs(h);
                if (r < 0)
                        return r;
        }
        if (!h->have_phdrs) {
                h->ph_filled += copy_overlap(h->phoff, h->ph_size, h->phdrs, off, data, len);
                if (h->ph_filled < h->ph_size)
                        return 0;
                r = start_notes(h);
                if (r < 0)
                        return r;
        }
        capture_notes(h, off, data, len);
        return 0;
}

void core_head_observe(void *userdata, uint64_t offset, const void *data, size_t len) {
        struct core_head *h = userdata;
        const uint8_t *p = data;

        if (!h || len == 0)
                return;
        if (offset < h->pos) { /* repeated bytes: keep the new ones only */
                uint64_t seen = h->pos - offset;
                if (seen >= len)
                        return;
                p += seen;
                len -= (size_t) seen;
                offset = h->pos;
        }
        if (offset > h->pos && !h->done) {
                h->error = -EILSEQ;
                h->done = true;
        }
        len = (size_t) MIN((uint64_t) len, UINT64_MAX - offset);
        h->pos = offset + len;
        if (h->done)
                return;
        int r = capture_chunk(h, offset, p, len);
        if (r < 0) {
                h->error = r;
                h->done = true;
        }
}

/* Copies at most max bytes of a fixed-size text field, up to its first NUL, and terminates. */
static void copy_text(char *out, const uint8_t *field, size_t max) {
        size_t n = strnlen((const char *) field, max);
        memcpy(out, field, n);
        out[n] = '\0';
}

static void take_prpsinfo(struct core_notes *n, const uint8_t *d, size_t len) {
        if (n->have_prpsinfo || len < PRPSINFO_SIZE)
                return;
        n->uid = le_get32(d + PRPSINFO_UID);
        n->gid = le_get32(d + PRPSINFO_GID);
        n->pid = (int32_t) le_get32(d + PRPSINFO_PID);
        n->ppid = (int32_t) le_get32(d + PRPSINFO_PPID);
        copy_text(n->fname, d + PRPSINFO_FNAME, sizeof(n->fname) - 1);
        copy_text(n->psargs, d + PRPSINFO_PSARGS, sizeof(n->psargs) - 1);
        n->have_prpsinfo = true;
}

static void take_auxv(struct core_notes *n, const uint8_t *d, size_t len) {
        if (n->have_auxv)
                return;
        for (size_t i = 0; i + 16 <= len; i += 16) {
                uint64_t type = le_get64(d + i), value = le_get64(d + i + 8);
                if (type == AT_NULL)
                        break;
                if (type == AT_ENTRY)
                        n->at_entry = value;
                else if (type == AT_PHDR)
                        n->at_phdr = value;
                else if (type == AT_PAGESZ)
                        n->at_pagesz = value;
                else if (type == AT_EXECFN)
                        n->at_execfn = value;
        }
        n->have_auxv = true;
}

/* The paths of an NT_FILE note: count NUL-terminated strings in [d, d + len). Fills the
 * mappings' paths; returns how many were found (fewer when a path runs off the end). */
static size_t take_file_paths(struct core_notes *n, size_t count, const uint8_t *d, size_t len) {
        size_t i = 0, pos = 0;
        n->strings = malloc(len + 1);
        if (!n->strings)
                return 0;
        memcpy(n->strings, d, len);
        n->strings[len] = '\0';
        for (; i < count && pos < len; i++) {
                size_t l = strnlen(n->strings + pos, len - pos);
                if (l == len - pos)
                        break; /* no NUL: the rest is cut */
                n->files[i].path = n->strings + pos;
                pos += l + 1;
        }
        return i;
}

/* NT_FILE: count, page size, count × {start, end, page offset}, then count paths. */
static bool take_files(struct core_notes *n, const uint8_t *d, size_t len) {
        if (n->have_files || len < NT_FILE_HEADER)
                return true;
        uint64_t count = le_get64(d), page = le_get64(d + 8);
        if (count > (len - NT_FILE_HEADER) / NT_FILE_ENTRY || count > CORE_NOTES_FILES_MAX || page == 0 ||
            (page & (page - 1)) != 0)
                return false;
        n->files = calloc(count ? count : 1, sizeof(*n->files));
        if (!n->files)
                return false;
        for (size_t i = 0; i < count; i++) {
                const uint8_t *e = d + NT_FILE_HEADER + i * NT_FILE_ENTRY;
                uint64_t pgoff = le_get64(e + 16);
                n->files[i].start = le_get64(e);
                n->files[i].end = le_get64(e + 8);
                n->files[i].file_offset = pgoff > UINT64_MAX / page ? UINT64_MAX : pgoff * page;
        }
        size_t table = NT_FILE_HEADER + (size_t) count * NT_FILE_ENTRY;
        n->n_files = take_file_paths(n, (size_t) count, d + table, len - table);
        n->page_size = page;
        n->have_files = true;
        return n->n_files == count;
}

uint32_t core_notes_crash_signal(const struct core_notes *n) {
        if (n->have_siginfo && n->siginfo_signo >= 1 && n->siginfo_signo <= SIGNAL_MAX)
                return (uint32_t) n->siginfo_signo;
        if (n->threads > 0 && n->signal >= 1 && n->signal <= SIGNAL_MAX)
                return n->signal;
        return 0;
}

/* One note. Returns false when its content contradicts its own length. */
static bool take_note(struct core_notes *n, uint32_t type, const uint8_t *name, uint32_t namesz, const uint8_t *desc,
                      size_t descsz) {
        /* The kernel's and gdb's process notes are all named "CORE". */
        if (namesz != 5 || memcmp(name, "CORE", 5) != 0)
                return true;
        switch (type) {
        case NT_PRSTATUS:
                if (n->threads == 0 && descsz >= PRSTATUS_CURSIG + 2)
                        n->signal = le_get16(desc + PRSTATUS_CURSIG);
                if (n->threads < UINT32_MAX)
                        n->threads++;
                return true;
        case NT_PRPSINFO:
                take_prpsinfo(n, desc, descsz);
                return true;
        case NT_SIGINFO:
                /* The kernel writes one, for the dumping thread: the first is taken. */
                if (!n->have_siginfo && descsz >= SIGINFO_HEAD) {
                        n->siginfo_signo = (int32_t) le_get32(desc);
                        n->siginfo_code = (int32_t) le_get32(desc + 8);
                        n->have_siginfo = true;
                }
                return true;
        case NT_AUXV:
                take_auxv(n, desc, descsz);
                return true;
        case NT_FILE:
                return take_files(n, desc, descsz);
        default:
                return true;
        }
}

int core_note_next(const uint8_t *buf, size_t len, size_t *pos, struct core_note *ret) {
        if (len - *pos < 12)
                return 0;
        const uint8_t *h = buf + *pos;
        uint32_t namesz = le_get32(h), descsz = le_get32(h + 4);
        size_t rest = len - *pos - 12;
        /* Name and descriptor are each padded to 4 bytes; 64-bit sums cannot wrap. */
        uint64_t name_pad = ((uint64_t) namesz + 3) & ~(uint64_t) 3;
        uint64_t desc_pad = ((uint64_t) descsz + 3) & ~(uint64_t) 3;
        if (name_pad > rest || descsz > rest - name_pad)
                return -EBADMSG;
        *ret = (struct core_note){
                .type = le_get32(h + 8),
                .name = h + 12,
                .namesz = namesz,
                .desc = h + 12 + name_pad,
                .descsz = descsz,
        };
        *pos += 12 + (size_t) name_pad + (size_t) MIN(desc_pad, (uint64_t) (rest - name_pad));
        return 1;
}

/* Walks the notes of one segment's captured bytes. Returns false if any was malformed or cut. */
static bool parse_note_segment(struct core_notes *n, const uint8_t *buf, size_t len) {
        bool ok = true;
        size_t pos = 0;
        struct core_note note;
        int r;
        while ((r = core_note_next(buf, len, &pos, &note)) > 0)
                ok = take_note(n, note.type, note.name, note.namesz, note.desc, note.descsz) && ok;
        return ok && r == 0 && pos == len;
}

int core_head_parse(const struct core_head *h, struct core_notes *ret) {
        /* A gap after the program headers only cuts the notes: what was captured is used. */
        if (!h->have_phdrs)
                return h->error < 0 ? h->error : -ENODATA;

        struct core_notes n = {.expected_size = h->expected};
        bool complete = !h->notes_skipped && h->error == 0;
        for (size_t i = 0; i < h->n_ranges; i++) {
                const struct note_range *r = &h->ranges[i];
                complete = complete && r->filled == r->size;
                complete = parse_note_segment(&n, h->note_buf + r->buf_off, (size_t) r->filled) && complete;
        }
        n.notes_complete = complete;
        n.exe = core_notes_find_exe(&n);
        *ret = n;
        return 0;
}

void core_notes_done(struct core_notes *n) {
        free(n->files);
        free(n->strings);
        n->files = NULL;
        n->strings = NULL;
        n->n_files = 0;
        n->exe = NULL;
}

static bool basename_matches(const char *path, const char *fname) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        return fname[0] && strncmp(base, fname, strlen(fname)) == 0;
}

const char *core_notes_find_exe(const struct core_notes *n) {
        if (n->n_files == 0)
                return NULL;
        if (n->at_entry != 0)
                for (size_t i = 0; i < n->n_files; i++)
                        if (n->files[i].start <= n->at_entry && n->at_entry < n->files[i].end)
                                return n->files[i].path;
        for (size_t i = 0; i < n->n_files; i++)
                if (n->files[i].file_offset == 0 && basename_matches(n->files[i].path, n->fname))
                        return n->files[i].path;
        return n->files[0].path;
}
