/* SPDX-License-Identifier: MIT */
/* Text from /proc that a container shapes: stat and status carry comm (any bytes but NUL),
 * cgroup carries names a delegated container chooses, uid_map comes from whoever set up the
 * user namespace, and the container identity and systemd units parsed out of a cgroup path,
 * and the container key built from a boot id.
 * Also the log escaper that every such string goes through. */
#include <string.h>

#include "fuzz.h"
#include "parse.h"
#include "process.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_strndup(data, size);
        uint64_t u64;
        int64_t i64;
        uint32_t u32;

        (void) parse_stat_starttime(text, &u64);
        for (unsigned i = 0; i < 4; i++) {
                (void) proc_field_int64(text, "Uid:", i, &i64);
                (void) proc_field_int64(text, "Pid:", i, &i64);
        }
        (void) proc_field_int64(text, "btime ", 0, &i64);
        uint64_t caps;
        (void) proc_field_hex64(text, "CapPrm:", &caps);
        (void) map_id_from_inside(text, 0, &u32);
        if (size >= 4) {
                uint32_t inside;
                memcpy(&inside, data, sizeof(inside));
                if (map_id_from_inside(text + 4, inside, &u32) >= 0)
                        FUZZ_ASSERT(u32 != UINT32_MAX);
        }

        const char *path;
        size_t n = cgroup_path_from_text(text, &path);
        if (n > 0)
                FUZZ_ASSERT(path >= text && path + n <= text + size);

        struct container_identity c;
        if (container_identity_from_cgroup(text, size, &c))
                FUZZ_ASSERT(c.runtime[0] && strlen(c.id) < sizeof(c.id) && strlen(c.pod_uid) < sizeof(c.pod_uid));
        /* A pod uid is whole or absent, never spliced from two components. */
        FUZZ_ASSERT(c.pod_uid[0] == '\0' || strlen(c.pod_uid) == 36);

        /* The host's key of a container, with the text as the boot id. */
        char key[CONTAINER_KEY_MAX];
        if (format_container_key((uint64_t) size, 42, text, key, sizeof(key)) >= 0)
                FUZZ_ASSERT(strncmp(key, "pidns-", 6) == 0 && strlen(key) < sizeof(key) &&
                            strspn(key + 6, "0123456789-abcdef") == strlen(key) - 6);

        /* A command line, NUL-separated and not terminated: the raw input, not the copy. */
        if (container_identity_from_conmon((const char *) data, size, &c))
                FUZZ_ASSERT(strcmp(c.runtime, "podman") == 0 && strlen(c.id) == 64);

        struct cgroup_unit u;
        if (n > 0 && cgroup_unit_from_path(path, n, &u) >= 0)
                FUZZ_ASSERT(u.unit[0] && u.slice[0]);
        if (cgroup_unit_from_path(text, size, &u) >= 0)
                FUZZ_ASSERT(u.unit[0] && u.slice[0] && strlen(u.unit) < sizeof(u.unit) &&
                            strlen(u.slice) < sizeof(u.slice) && strlen(u.user_unit) < sizeof(u.user_unit) &&
                            strlen(u.user_slice) < sizeof(u.user_slice));

        char out[256];
        escape_for_log(text, size, out, sizeof(out));
        FUZZ_ASSERT(strlen(out) < sizeof(out));
        for (const char *p = out; *p; p++)
                FUZZ_ASSERT(*p >= 0x20 && *p < 0x7f && *p != '"');

        (void) parse_uint64(text, &u64);
        (void) parse_int64(text, &i64);
        (void) parse_timespan_usec(text, &u64);
        (void) parse_boolean(text);
        free(text);
        return 0;
}
