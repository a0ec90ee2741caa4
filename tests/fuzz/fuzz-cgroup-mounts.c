/* SPDX-License-Identifier: MIT */
/* The helper's view of the cgroup mounts and of a crashed process's cgroups (pipe/cgroup.c): the
 * input's first line is taken as a line of /proc/self/mountinfo, the rest as a
 * /proc/<pid>/cgroup text, whose paths name directories a container may create. */
#include <string.h>

#include "cgroup.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = fuzz_strndup(data, size);
        char *nl = strchr(text, '\n');
        const char *rest = nl ? nl + 1 : "";
        struct cgroup_hierarchy h = {.mountpoint = "/m", .options = "rw,cpu,cpuacct"};
        char path[64];

        if (nl)
                *nl = '\0';
        if (cgroup_hierarchy_from_mountinfo(text, &h))
                FUZZ_ASSERT(strlen(h.mountpoint) < sizeof(h.mountpoint) && strlen(h.options) < sizeof(h.options));
        (void) cgroup_list_has_resource(text);
        (void) cgroup_options_cover(h.options, text);
        if (cgroup_path_for_hierarchy(rest, &h, path, sizeof(path)))
                FUZZ_ASSERT(path[0] == '/' && strlen(path) < sizeof(path) && !strchr(path, '\n'));
        h.v2 = !h.v2;
        if (cgroup_path_for_hierarchy(rest, &h, path, sizeof(path)))
                FUZZ_ASSERT(path[0] == '/' && !strchr(path, '\n'));
        free(text);
        return 0;
}
