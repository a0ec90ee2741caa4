/* SPDX-License-Identifier: MIT */
/* What the host helper reads on the kernel's coredump socket and around it: the kernel's request
 * and mark (from a connection anyone root could also make), the crashed process's
 * /proc/<pid>/limits, and /proc/net/unix, whose paths any local user chooses (a bound path may
 * hold spaces and newlines). */
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
        (void) unix_listening_at(text, "/run/core_pipe/kernel.socket");
        /* The path as the text's own first line: what a hostile bind could make it. */
        size_t n = strcspn(text, "\n");
        if (n < size) {
                text[n] = '\0';
                (void) unix_listening_at(text + n + 1, text);
        }
        free(text);
        return 0;
}
