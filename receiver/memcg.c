/* SPDX-License-Identifier: MIT */
#include "memcg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "parse.h"

/* v1 writes "no limit" as PAGE_COUNTER_MAX pages: 2^63 less a page on 4 KiB pages, other values
 * on other page sizes. Nothing real is that large. */
#define MEMCG_V1_UNLIMITED_FROM (UINT64_C(1) << 62)
/* A host with thousands of mounts has a longer mountinfo: the memory hierarchy is mounted early
 * (systemd, container runtimes), so its line comes within the first part read. */
#define MEMCG_MOUNTINFO_MAX (256U << 10)

/* The next blank-separated field of a mountinfo line, with its octal escapes (\040) undone,
 * into out; false when it is missing or does not fit. */
static bool next_field(const char **p, char *out, size_t size) {
        const char *s = *p + strspn(*p, " ");
        size_t n = 0;
        if (*s == '\0' || *s == '\n')
                return false;
        for (; *s && *s != ' ' && *s != '\n'; s++) {
                char c = *s;
                if (c == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
                    s[3] <= '7') {
                        c = (char) ((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
                        s += 3;
                }
                if (n + 1 >= size || c == '\0')
                        return false;
                out[n++] = c;
        }
        out[n] = '\0';
        *p = s;
        return true;
}

/* Whether a comma-separated list names item exactly. */
static bool list_has(const char *list, const char *item) {
        size_t len = strlen(item);
        for (const char *p = list; *p;) {
                size_t n = strcspn(p, ",");
                if (n == len && strncmp(p, item, len) == 0)
                        return true;
                p += n;
                p += *p == ',';
        }
        return false;
}

bool memcg_mount_from_mountinfo_line(const char *line, struct memcg_mount *ret) {
        struct memcg_mount m = {MEMCG_NONE, "", ""};
        char field[MEMCG_PATH_MAX], fstype[32], options[256];
        const char *p = line;
        /* mount id, parent id, major:minor, root, mount point, options, optional fields, "-". */
        for (int i = 0; i < 6; i++) {
                char *out = i == 3 ? m.root : i == 4 ? m.mountpoint : field;
                if (!next_field(&p, out, sizeof(field)))
                        return false;
        }
        do {
                if (!next_field(&p, field, sizeof(field)))
                        return false;
        } while (strcmp(field, "-") != 0);
        if (!next_field(&p, fstype, sizeof(fstype)) || !next_field(&p, field, sizeof(field)) ||
            !next_field(&p, options, sizeof(options)))
                return false;
        if (m.root[0] != '/' || m.mountpoint[0] != '/')
                return false;
        if (strcmp(fstype, "cgroup2") == 0)
                m.version = MEMCG_V2;
        else if (strcmp(fstype, "cgroup") == 0 && list_has(options, "memory"))
                m.version = MEMCG_V1;
        else
                return false;
        *ret = m;
        return true;
}

/* Our path in the hierarchy of version v from a /proc/self/cgroup text (v1: the line whose
 * controllers include memory; v2: the "0::" line), into out. */
static bool own_path(const char *text, enum memcg_version v, char *out, size_t size) {
        for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                size_t len = strcspn(line, "\n");
                const char *c1 = memchr(line, ':', len);
                const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - line)) : NULL;
                if (!c2)
                        continue;
                char ctl[256];
                size_t clen = (size_t) (c2 - c1 - 1);
                if (clen >= sizeof(ctl))
                        continue;
                memcpy(ctl, c1 + 1, clen);
                ctl[clen] = '\0';
                bool match = v == MEMCG_V2 ? (clen == 0 && c1 - line == 1 && line[0] == '0') : list_has(ctl, "memory");
                size_t plen = len - (size_t) (c2 + 1 - line);
                if (!match || plen == 0 || plen >= size || c2[1] != '/')
                        continue;
                memcpy(out, c2 + 1, plen);
                out[plen] = '\0';
                return true;
        }
        return false;
}

/* The part of path below root ("" when they are the same), or NULL when path is not below it. */
static const char *below_root(const char *path, const char *root) {
        size_t n = strlen(root);
        while (n > 0 && root[n - 1] == '/')
                n--;
        if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
                return NULL;
        return strcmp(path + n, "/") == 0 ? "" : path + n;
}

/* The first mount of version v in mountinfo whose root holds path: its directory for path. */
static int locate_in(const char *mountinfo, enum memcg_version v, const char *path, char *ret_dir, size_t dir_size,
                     struct memcg_mount *ret_mount) {
        for (const char *line = mountinfo; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                struct memcg_mount m;
                if (!memcg_mount_from_mountinfo_line(line, &m) || m.version != v)
                        continue;
                const char *rest = below_root(path, m.root);
                if (!rest)
                        continue;
                int k = snprintf(ret_dir, dir_size, "%s%s", m.mountpoint,
                                 strcmp(m.mountpoint, "/") == 0 ? rest + (*rest == '/') : rest);
                if (k < 0 || (size_t) k >= dir_size)
                        return -ENAMETOOLONG;
                *ret_mount = m;
                return 0;
        }
        return -ENOENT;
}

int memcg_locate(const char *mountinfo, const char *proc_cgroup, char *ret_dir, size_t dir_size,
                 struct memcg_mount *ret_mount) {
        char path[MEMCG_PATH_MAX];
        if (own_path(proc_cgroup, MEMCG_V1, path, sizeof(path))) {
                int r = locate_in(mountinfo, MEMCG_V1, path, ret_dir, dir_size, ret_mount);
                if (r != -ENOENT)
                        return r;
        }
        if (own_path(proc_cgroup, MEMCG_V2, path, sizeof(path)))
                return locate_in(mountinfo, MEMCG_V2, path, ret_dir, dir_size, ret_mount);
        return -ENOENT;
}

int memcg_parse_limit(const char *text, uint64_t *ret) {
        char buf[32];
        size_t n = strcspn(text, "\n");
        if (n == 0 || n >= sizeof(buf) || text[n + (text[n] == '\n')] != '\0')
                return -EBADMSG;
        memcpy(buf, text, n);
        buf[n] = '\0';
        if (strcmp(buf, "max") == 0) {
                *ret = MEMCG_UNLIMITED;
                return 0;
        }
        uint64_t v;
        if (parse_uint64(buf, &v) < 0)
                return -EBADMSG;
        *ret = v >= MEMCG_V1_UNLIMITED_FROM ? MEMCG_UNLIMITED : v;
        return 0;
}

enum { STAT_ACTIVE, STAT_INACTIVE, STAT_DIRTY, STAT_WRITEBACK, STAT_MAPPED, STAT_TREE_LIMIT, STAT_N };

/* The counters' names in memory.stat, by version (v2 has no hierarchical limit line). */
static const char *const stat_keys[2][STAT_N] = {
        {"total_active_file", "total_inactive_file", "total_dirty", "total_writeback", "total_mapped_file",
         "hierarchical_memory_limit"},
        {"active_file", "inactive_file", "file_dirty", "file_writeback", "file_mapped", NULL},
};

/* One "name value" line: which counter it is (-1 for none), its value into *ret. */
static int stat_line(const char *line, size_t len, enum memcg_version v, uint64_t *ret) {
        const char *sp = memchr(line, ' ', len);
        if (!sp)
                return -1;
        size_t nlen = (size_t) (sp - line);
        for (int k = 0; k < STAT_N; k++) {
                const char *key = stat_keys[v == MEMCG_V2][k];
                if (!key || strlen(key) != nlen || strncmp(line, key, nlen) != 0)
                        continue;
                char num[32];
                size_t vlen = len - nlen - 1;
                if (vlen == 0 || vlen >= sizeof(num))
                        return -EBADMSG;
                memcpy(num, sp + 1, vlen);
                num[vlen] = '\0';
                return parse_uint64(num, ret) < 0 ? -EBADMSG : k;
        }
        return -1;
}

int memcg_parse_stat(const char *text, enum memcg_version v, uint64_t *ret_reclaimable, uint64_t *ret_tree_limit) {
        uint64_t c[STAT_N] = {0, 0, 0, 0, 0, MEMCG_UNLIMITED};
        if (v != MEMCG_V1 && v != MEMCG_V2)
                return -EINVAL;
        for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                uint64_t val;
                int k = stat_line(line, strcspn(line, "\n"), v, &val);
                if (k == -EBADMSG)
                        return k;
                if (k >= 0)
                        c[k] = val;
        }
        /* Clean, unmapped page cache: what reclaim takes without writing or unmapping. */
        uint64_t file = c[STAT_ACTIVE] > UINT64_MAX - c[STAT_INACTIVE] ? UINT64_MAX : c[STAT_ACTIVE] + c[STAT_INACTIVE];
        uint64_t pinned = c[STAT_DIRTY] + c[STAT_WRITEBACK];
        pinned = pinned < c[STAT_DIRTY] || pinned > UINT64_MAX - c[STAT_MAPPED] ? UINT64_MAX : pinned + c[STAT_MAPPED];
        *ret_reclaimable = file - MIN(file, pinned);
        *ret_tree_limit = c[STAT_TREE_LIMIT] >= MEMCG_V1_UNLIMITED_FROM ? MEMCG_UNLIMITED : c[STAT_TREE_LIMIT];
        return 0;
}

uint64_t memcg_counters_headroom(const struct memcg_counters *c) {
        uint64_t limit = MIN(c->limit, c->tree_limit);
        if (limit == MEMCG_UNLIMITED)
                return MEMCG_UNLIMITED;
        uint64_t free = limit - MIN(limit, c->usage);
        /* What reclaim can give back is part of the usage (never more than it), and the headroom
         * never more than the limit. */
        uint64_t back = MIN(c->reclaimable, c->usage);
        return back > limit - free ? limit : free + back;
}

/* A limit and a usage file of dirfd; -ENOENT when the limit file is not there (a root cgroup). */
static int read_pair(int dirfd, const char *limit_name, const char *usage_name, uint64_t *ret_limit,
                     uint64_t *ret_usage) {
        char text[64];
        int r = read_small_file_at(dirfd, limit_name, text, sizeof(text), NULL);
        if (r < 0)
                return r;
        if (memcg_parse_limit(text, ret_limit) < 0)
                return -EBADMSG;
        r = read_small_file_at(dirfd, usage_name, text, sizeof(text), NULL);
        if (r < 0)
                return r;
        return memcg_parse_limit(text, ret_usage) < 0 ? -EBADMSG : 0;
}

/* The headroom of one cgroup directory; MEMCG_UNLIMITED for a level without limit files. */
static int level_headroom(const char *dir, enum memcg_version v, uint64_t *ret) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct memcg_counters c = {.tree_limit = MEMCG_UNLIMITED};
        char stat[8192];
        if (fd < 0)
                return negative_errno();
        int r = v == MEMCG_V2 ? read_pair(fd, "memory.max", "memory.current", &c.limit, &c.usage)
                              : read_pair(fd, "memory.limit_in_bytes", "memory.usage_in_bytes", &c.limit, &c.usage);
        if (r == -ENOENT) {
                *ret = MEMCG_UNLIMITED;
                return 0;
        }
        if (r < 0)
                return r;
        r = read_small_file_at(fd, "memory.stat", stat, sizeof(stat), NULL);
        if (r >= 0)
                r = memcg_parse_stat(stat, v, &c.reclaimable, &c.tree_limit);
        if (r < 0)
                return r;
        *ret = memcg_counters_headroom(&c);
        /* v1 with swap accounted: memory and swap together have a limit of their own. */
        struct memcg_counters sw = c;
        if (v == MEMCG_V1 &&
            read_pair(fd, "memory.memsw.limit_in_bytes", "memory.memsw.usage_in_bytes", &sw.limit, &sw.usage) >= 0)
                *ret = MIN(*ret, memcg_counters_headroom(&sw));
        return 0;
}

int memcg_headroom_from(const char *mountinfo, const char *proc_cgroup, uint64_t *ret) {
        char dir[MEMCG_PATH_MAX];
        struct memcg_mount m;
        int r = memcg_locate(mountinfo, proc_cgroup, dir, sizeof(dir), &m);
        if (r == -ENOENT) {
                *ret = MEMCG_UNLIMITED; /* no memory controller: nothing to fear from it */
                return 0;
        }
        if (r < 0)
                return r;
        /* Up from our cgroup to the mount point, which is the top we can see. */
        uint64_t least = MEMCG_UNLIMITED;
        size_t top = strlen(m.mountpoint);
        for (;;) {
                uint64_t h;
                r = level_headroom(dir, m.version, &h);
                if (r < 0)
                        return r;
                least = MIN(least, h);
                if (strlen(dir) <= top)
                        break;
                char *slash = strrchr(dir, '/');
                if (slash == dir)
                        slash[1] = '\0';
                else
                        *slash = '\0';
        }
        *ret = least;
        return 0;
}

int memcg_headroom(uint64_t *ret) {
        _cleanup_free_ char *mountinfo = malloc(MEMCG_MOUNTINFO_MAX);
        char cgroup[4096];
        if (!mountinfo)
                return -ENOMEM;
        int r = read_small_file_at(AT_FDCWD, "/proc/self/mountinfo", mountinfo, MEMCG_MOUNTINFO_MAX, NULL);
        if (r >= 0)
                r = read_small_file_at(AT_FDCWD, "/proc/self/cgroup", cgroup, sizeof(cgroup), NULL);
        if (r < 0)
                return r;
        return memcg_headroom_from(mountinfo, cgroup, ret);
}
