/* SPDX-License-Identifier: MIT */
/*
 * The head of an ELF core as it streams into the receiver (common/elfcore.c): the crashed
 * process shapes its memory, file names and arguments, and a corrupt or hostile core can say
 * anything in its headers. The first 4 bytes of an input seed the chunking (1 to 300 bytes a
 * chunk, sometimes repeating bytes already sent); the rest is the core. Whatever the chunking,
 * the parse must equal the parse of the whole input at once, and every path must lie within
 * the parse's own strings.
 */
#include <string.h>

#include "elfcore.h"
#include "fuzz.h"

static int parse(const uint8_t *data, size_t size, uint32_t seed, struct core_notes *ret) {
        struct core_head *h;
        if (core_head_new(&h) < 0)
                abort();
        for (size_t off = 0; off < size;) {
                size_t chunk = seed ? 1 + seed % 300 : size;
                chunk = chunk < size - off ? chunk : size - off;
                /* Now and then re-send a few bytes already seen, as a retried write would. */
                size_t back = seed && seed % 7 == 0 && off >= 3 ? 3 : 0;
                core_head_observe(h, off - back, data + off - back, chunk + back);
                off += chunk;
                seed = seed * 1103515245u + 12345u;
        }
        FUZZ_ASSERT(core_head_observed(h) == size);
        uint64_t expected = core_head_expected_size(h);
        int r = core_head_parse(h, ret);
        if (r == 0)
                FUZZ_ASSERT(ret->expected_size == expected);
        core_head_free(h);
        return r;
}

static void check_notes(const struct core_notes *n) {
        FUZZ_ASSERT(strlen(n->fname) < sizeof(n->fname) && strlen(n->psargs) < sizeof(n->psargs));
        FUZZ_ASSERT(n->n_files <= CORE_NOTES_FILES_MAX);
        bool exe_found = n->exe == NULL;
        for (size_t i = 0; i < n->n_files; i++) {
                FUZZ_ASSERT(n->files[i].path >= n->strings);
                (void) strlen(n->files[i].path); /* terminated within the copy (ASan) */
                exe_found = exe_found || n->exe == n->files[i].path;
        }
        FUZZ_ASSERT(exe_found);
        /* The crash's signal, when the kernel did not say it: a signal or none, from one of the two notes. */
        uint32_t sig = core_notes_crash_signal(n);
        FUZZ_ASSERT(sig <= 64);
        FUZZ_ASSERT(sig == 0 || (n->have_siginfo && sig == (uint32_t) n->siginfo_signo) || sig == n->signal);
}

static bool same(const struct core_notes *a, const struct core_notes *b) {
        if (a->expected_size != b->expected_size || a->notes_complete != b->notes_complete ||
            a->threads != b->threads || a->signal != b->signal || a->n_files != b->n_files ||
            a->have_siginfo != b->have_siginfo || a->siginfo_signo != b->siginfo_signo || a->at_entry != b->at_entry ||
            strcmp(a->fname, b->fname) != 0 || strcmp(a->psargs, b->psargs) != 0 || (!a->exe) != (!b->exe) ||
            (a->exe && strcmp(a->exe, b->exe) != 0))
                return false;
        for (size_t i = 0; i < a->n_files; i++)
                if (strcmp(a->files[i].path, b->files[i].path) != 0 || a->files[i].start != b->files[i].start)
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint32_t seed = 0;
        if (size < sizeof(seed))
                return 0;
        memcpy(&seed, data, sizeof(seed));
        data += sizeof(seed);
        size -= sizeof(seed);

        struct core_notes whole, chunked;
        int r = parse(data, size, 0, &whole);
        int q = parse(data, size, seed | 1, &chunked);
        FUZZ_ASSERT(r == q);
        if (r < 0)
                return 0;
        check_notes(&whole);
        check_notes(&chunked);
        FUZZ_ASSERT(same(&whole, &chunked));
        core_notes_done(&whole);
        core_notes_done(&chunked);
        return 0;
}
