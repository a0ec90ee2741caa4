/* SPDX-License-Identifier: MIT */
/* The kernel's sock_diag answer as the host helper parses it (sockdiag.c): lengths of messages
 * and attributes are the parser's to check. */
#include "fuzz.h"
#include "sockdiag.h"

#include <sys/sysmacros.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        bool done = false;
        int r = unix_diag_parse(data, size, makedev(0, 300), 42, &done);
        FUZZ_ASSERT(r == 0 || r == 1 || (r < 0 && r > -4096));
        return 0;
}
