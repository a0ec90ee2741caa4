/* SPDX-License-Identifier: MIT */
/* /etc/core_pipe/pipe.conf, read by the helper as root at every crash. */
#include <string.h>

#include "config.h"
#include "fuzz.h"

static void ignore(const char *path, unsigned line, const char *message) {
        FUZZ_ASSERT(message && message[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_strndup(data, size);
        struct pipe_config c;
        pipe_config_defaults(&c);
        (void) pipe_config_parse("fuzz.conf", text, &c, ignore);
        FUZZ_ASSERT(strlen(c.fallback_store) < sizeof(c.fallback_store));
        FUZZ_ASSERT(strlen(c.receiver) < sizeof(c.receiver));
        FUZZ_ASSERT(c.fallback_store[0] == '/' && c.receiver[0] == '/');
        /* The watchdog multiplies the rate by a window in milliseconds: it must stay bounded. */
        FUZZ_ASSERT(c.min_dump_rate <= (UINT64_C(1) << 40));
        FUZZ_ASSERT(c.max_dumps_per_container <= 1024 && c.max_concurrent_fallback <= 1024);
        free(text);
        return 0;
}
