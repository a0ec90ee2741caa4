/* SPDX-License-Identifier: MIT */
/* Text of a crashed process (comm, hostname, command line, paths) made valid UTF-8 for the
 * record: whatever the bytes, the result is valid and valid input comes back unchanged. */
#include "fuzz.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t n;
        char *out = utf8_make_valid((const char *) data, size, &n);
        FUZZ_ASSERT(out != NULL);
        FUZZ_ASSERT(n <= size * 3 && out[n] == '\0');
        FUZZ_ASSERT(utf8_is_valid(out, n));
        if (utf8_is_valid((const char *) data, size))
                FUZZ_ASSERT(n == size && memcmp(out, data, size) == 0);
        else
                FUZZ_ASSERT(n > size || memcmp(out, data, n) != 0);
        free(out);
        return 0;
}
