/* SPDX-License-Identifier: MIT */
/* What the host helper reads on the kernel's coredump socket and around it: the kernel's request
 * and mark (from a connection anyone root could also make), the crashed process's
 * /proc/<pid>/limits. */
#include <string.h>

#include "fuzz.h"
#include "kernelsock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct kcore_request req;
        if (kcore_request_parse(data, size, &req) >= 0)
                FUZZ_ASSERT(req.size == size && req.size >= KCORE_REQ_SIZE_VER0 &&
                            req.size_ack >= KCORE_ACK_SIZE_VER0 && (req.mask & KCORE_KERNEL) &&
                            (req.mask & KCORE_REJECT));
        uint32_t mark;
        if (kcore_mark_parse(data, size, &mark) >= 0)
                FUZZ_ASSERT(size == 4 && kcore_mark_to_string(mark) != NULL);

        char *text = fuzz_strndup(data, size);
        uint64_t limit;
        (void) parse_limits_core(text, &limit);
        free(text);
        return 0;
}
