/* SPDX-License-Identifier: MIT */
/* The receiver's memory cgroup (receiver/memcg.c): the input is cut at its first NUL byte (or in
 * the middle) into a /proc/self/mountinfo text and a /proc/self/cgroup text; each is also read
 * as a memory.stat text (v1 and v2) and as a limit file. */
#include <string.h>

#include "fuzz.h"
#include "memcg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *nul = memchr(data, '\0', size);
        size_t cut = nul ? (size_t) (nul - data) : size / 2;
        char *mountinfo = fuzz_strndup(data, cut);
        char *cgroup = fuzz_strndup(data + cut + (nul != NULL), size - cut - (nul != NULL));
        char dir[MEMCG_PATH_MAX];
        struct memcg_mount m;
        uint64_t v, tree;

        if (memcg_locate(mountinfo, cgroup, dir, sizeof(dir), &m) == 0)
                FUZZ_ASSERT(dir[0] == '/' && strlen(dir) < sizeof(dir) &&
                            strncmp(dir, m.mountpoint, strlen(m.mountpoint)) == 0 &&
                            (m.version == MEMCG_V1 || m.version == MEMCG_V2));
        if (memcg_mount_from_mountinfo_line(mountinfo, &m))
                FUZZ_ASSERT(m.root[0] == '/' && m.mountpoint[0] == '/');
        for (int i = MEMCG_V1; i <= MEMCG_V2; i++)
                if (memcg_parse_stat(cgroup, (enum memcg_version) i, &v, &tree) == 0)
                        FUZZ_ASSERT(i == MEMCG_V1 || tree == MEMCG_UNLIMITED);
        if (memcg_parse_limit(mountinfo, &v) == 0) {
                struct memcg_counters c = {
                        .limit = v, .usage = size, .reclaimable = cut, .tree_limit = MEMCG_UNLIMITED};
                FUZZ_ASSERT(memcg_counters_headroom(&c) <= v);
        }
        free(mountinfo);
        free(cgroup);
        return 0;
}
