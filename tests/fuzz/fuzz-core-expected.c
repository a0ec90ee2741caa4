/* SPDX-License-Identifier: MIT */
/*
 * The length a core must have, as its program headers say (core_head_expected_size()): the
 * receiver calls a stream that ends before it a short core, so a wrong value either hides a cut
 * core or blames a whole one. The first 4 bytes of an input seed the chunking (1 to 4096 bytes
 * a chunk, sometimes repeating bytes already sent, sometimes leaving a gap); the rest is the
 * core. The properties:
 *   - any chunking without a gap gives the expected size of the whole input at once;
 *   - the value, once known, never changes as more chunks come, and is never known before the
 *     program headers are whole (e_phoff + e_phnum * 56 bytes observed);
 *   - it is 0 or between the end of the program headers and CORE_HEAD_EXPECTED_MAX;
 *   - a prefix of the input gives the same value as soon as it holds the program headers.
 */
#include <string.h>

#include "elfcore.h"
#include "fuzz.h"

/* The end of the program headers as the ELF header says, 0 if the input has no ELF header. */
static uint64_t headers_end(const uint8_t *data, size_t size) {
        uint64_t phoff = 0;
        uint16_t phnum = 0;
        if (size < 64)
                return 0;
        for (int i = 7; i >= 0; i--)
                phoff = (phoff << 8) | data[32 + i];
        phnum = (uint16_t) (data[56] | (data[57] << 8));
        if (phoff > UINT64_MAX - (uint64_t) phnum * 56)
                return UINT64_MAX;
        return phoff + (uint64_t) phnum * 56;
}

/* Observes data[0, size) chunked as seed says; with gaps, every chunk's length may skip ahead.
 * Checks the value after every chunk and returns the last. */
static uint64_t observe(const uint8_t *data, size_t size, uint32_t seed, bool gaps, uint64_t hdr_end) {
        struct core_head *h;
        if (core_head_new(&h) < 0)
                abort();
        uint64_t seen = 0;
        for (size_t off = 0; off < size;) {
                size_t chunk = seed ? 1 + seed % 4096 : size;
                chunk = chunk < size - off ? chunk : size - off;
                size_t back = seed && seed % 5 == 0 && off >= 7 ? 7 : 0;
                size_t skip = gaps && seed % 11 == 0 ? 1 + seed % 64 : 0;
                core_head_observe(h, off - back + skip, data + off - back + skip,
                                  chunk + back > skip ? chunk + back - skip : 0);
                off += chunk;
                seed = seed * 1103515245u + 12345u;
                uint64_t e = core_head_expected_size(h);
                FUZZ_ASSERT(seen == 0 || e == seen); /* never changes once known */
                FUZZ_ASSERT(e == 0 || (e <= CORE_HEAD_EXPECTED_MAX && e >= hdr_end));
                FUZZ_ASSERT(e == 0 || core_head_observed(h) >= hdr_end);
                seen = e;
        }
        core_head_free(h);
        return seen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint32_t seed = 0;
        if (size < sizeof(seed))
                return 0;
        memcpy(&seed, data, sizeof(seed));
        data += sizeof(seed);
        size -= sizeof(seed);

        uint64_t hdr_end = headers_end(data, size);
        uint64_t whole = observe(data, size, 0, false, hdr_end);
        FUZZ_ASSERT(observe(data, size, seed | 1, false, hdr_end) == whole);
        /* A gap may lose the headers (0), never change them into another value. */
        uint64_t gapped = observe(data, size, seed | 1, true, hdr_end);
        FUZZ_ASSERT(gapped == 0 || gapped == whole);
        /* A prefix that holds the headers already knows the whole core's length. */
        size_t cut = size ? (size_t) (seed % (size + 1)) : 0;
        uint64_t prefix = observe(data, cut, seed | 1, false, hdr_end);
        FUZZ_ASSERT(prefix == 0 || prefix == whole);
        if (whole != 0 && hdr_end <= cut)
                FUZZ_ASSERT(prefix == whole);
        return 0;
}
