/* SPDX-License-Identifier: MIT */
/* The marker beside a core in progress (recover.h), read by a finaliser as untrusted input:
 * any bytes are taken or refused, never more; what is taken is bounded. */
#include "fuzz.h"
#include "recover.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct recover_marker m;
        if (size > RECOVER_MARKER_MAX)
                return 0;
        /* Not terminated: the parser must stay within size. */
        char *copy = malloc(size ? size : 1);
        if (!copy)
                abort();
        memcpy(copy, data, size);
        int r = recover_marker_parse(copy, size, &m);
        FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0) {
                FUZZ_ASSERT(m.record != NULL && m.md.pid >= 0 && m.receiver_pid >= 0);
                FUZZ_ASSERT(strlen(m.md.comm) < sizeof(m.md.comm) && strlen(m.md.hostname) < sizeof(m.md.hostname));
                FUZZ_ASSERT(!m.md.exe || strlen(m.md.exe) <= 65536);
                recover_marker_done(&m);
        }
        free(copy);
        return 0;
}
