/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * How much more memory the receiver may take before its memory cgroup's OOM killer runs: the
 * headroom. A receiver in a container is charged to the container's memory cgroup, the same
 * one as the process whose core it stores, which keeps all its memory until the dump ends; when
 * the receiver's buffers pass the limit, the kernel kills the largest task there (the one being
 * dumped) and the core is cut. The store sizes itself to the headroom, and refuses a core it
 * cannot store within it before the first byte (see store_plan_for_headroom() in store.h).
 *
 * Headroom of one cgroup: its limit less its usage, plus the page cache it could reclaim
 * without writing or unmapping anything (clean, unmapped file pages: active and inactive file
 * pages less dirty, under writeback and mapped ones). Swap is not counted. cgroup v2:
 * memory.max, memory.current, memory.stat; v1: memory.limit_in_bytes, memory.usage_in_bytes
 * (and memory.memsw.* where swap is accounted), memory.stat's total_* counters, and its
 * hierarchical_memory_limit, which also covers the ancestors we cannot see. The headroom is
 * the smallest over the receiver's own cgroup and each ancestor up to the hierarchy's mount.
 *
 * The receiver's cgroup comes from /proc/self/cgroup, the mount from /proc/self/mountinfo (the
 * v1 memory hierarchy where it is mounted: on a hybrid host it holds the controller; else
 * cgroup2). Both name paths relative to our cgroup namespace; a container's mount may have its
 * own cgroup as root (docker on v1 without a cgroup namespace: root /docker/<id>), so the
 * directory is the mount point plus what of our path lies below the mount's root.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEMCG_UNLIMITED UINT64_MAX
#define MEMCG_PATH_MAX 512

enum memcg_version { MEMCG_NONE, MEMCG_V1, MEMCG_V2 };

struct memcg_mount {
        enum memcg_version version;
        char mountpoint[MEMCG_PATH_MAX];
        char root[MEMCG_PATH_MAX]; /* the mount's root in the hierarchy, as our namespace sees it */
};

/* The counters of one cgroup, as read from its files. */
struct memcg_counters {
        uint64_t limit; /* MEMCG_UNLIMITED when there is none */
        uint64_t usage;
        uint64_t reclaimable; /* clean, unmapped page cache */
        uint64_t tree_limit;  /* v1: hierarchical_memory_limit (ancestors included), else MEMCG_UNLIMITED */
};

/*
 * One line of /proc/self/mountinfo: true when it mounts a memory hierarchy (a cgroup file
 * system whose super options name "memory", or cgroup2), with ret filled (octal escapes of the
 * paths undone). Paths that do not fit are not taken.
 */
bool memcg_mount_from_mountinfo_line(const char *line, struct memcg_mount *ret);

/*
 * Where our memory cgroup is: from a whole mountinfo text and a /proc/self/cgroup text, the
 * directory of our cgroup (absolute, below the chosen mount point) and the mount. The v1
 * memory hierarchy wins over cgroup2; among several mounts of it, the first whose root holds
 * our path. -ENOENT when there is no memory hierarchy, or none that reaches our cgroup;
 * -ENAMETOOLONG when the path does not fit dir_size.
 */
int memcg_locate(const char *mountinfo, const char *proc_cgroup, char *ret_dir, size_t dir_size,
                 struct memcg_mount *ret_mount);

/* A limit file: a number of bytes, or "max" (v2), or v1's "unlimited" (2^63 less a page, and any
 * value from 2^62 up) as MEMCG_UNLIMITED. -EBADMSG if malformed. */
int memcg_parse_limit(const char *text, uint64_t *ret);

/* Clean, unmapped page cache from a memory.stat text (v1: its total_* lines; v2: file counters),
 * and v1's hierarchical_memory_limit (MEMCG_UNLIMITED for v2 or when missing). Lines it does not
 * know are ignored; a counter it needs that is malformed is -EBADMSG; missing ones count 0. */
int memcg_parse_stat(const char *text, enum memcg_version v, uint64_t *ret_reclaimable, uint64_t *ret_tree_limit);

/* The headroom counters give (MEMCG_UNLIMITED when nothing limits). */
uint64_t memcg_counters_headroom(const struct memcg_counters *c);

/*
 * Our headroom, now: the smallest over our memory cgroup and its ancestors up to the mount.
 * MEMCG_UNLIMITED when no memory hierarchy is mounted or no limit applies. A negative errno
 * when the files cannot be read (the caller then treats memory as not limited, and says so).
 */
int memcg_headroom(uint64_t *ret);

/* The same from given mountinfo and /proc/self/cgroup texts (the files below the mount are
 * read): for tests, with a mount point of their own. */
int memcg_headroom_from(const char *mountinfo, const char *proc_cgroup, uint64_t *ret);
