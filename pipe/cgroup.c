/* SPDX-License-Identifier: MIT */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "parse.h"

#define OPTIONS_MAX CGROUP_OPTIONS_MAX
#define PATH_MAX_CGROUP 4096
/* /proc/<pid>/cgroup: a dozen lines, each path up to what a container nests. */

static bool list_has(const char *list, const char *word, const char *seps) {
        size_t n = strlen(word);
        for (const char *c = list; *c;) {
                size_t len = strcspn(c, seps);
                if (len == n && strncmp(c, word, n) == 0)
                        return true;
                c += len;
                c += strspn(c, seps);
        }
        return false;
}

bool cgroup_list_has_resource(const char *list) {
        static const char *const resource[] = {"cpu", "cpuacct", "memory", "blkio", "io", "pids"};
        for (size_t i = 0; i < ELEMENTSOF(resource); i++)
                if (list_has(list, resource[i], ", \n"))
                        return true;
        return false;
}

bool cgroup_options_cover(const char *options, const char *controllers) {
        if (!controllers[0])
                return false;
        for (const char *c = controllers; *c;) {
                char word[64];
                size_t len = strcspn(c, ",");
                if (len == 0 || len >= sizeof(word))
                        return false;
                memcpy(word, c, len);
                word[len] = '\0';
                if (!list_has(options, word, ","))
                        return false;
                c += len;
                c += strspn(c, ",");
        }
        return true;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static bool unescape_mountpoint(const char *s, size_t len, char *out, size_t size) {
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (c == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        c = (char) ((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        i += 3;
                }
                if (o + 1 >= size)
                        return false;
                out[o++] = c;
        }
        out[o] = '\0';
        return true;
}

/* The n-th field (from 0) of a line of space-separated fields: its start, its length in *ret_len. */
static const char *field(const char *line, unsigned n, size_t *ret_len) {
        const char *c = line;
        for (unsigned i = 0; i < n; i++) {
                c += strcspn(c, " \n");
                if (*c != ' ')
                        return NULL;
                c++;
        }
        *ret_len = strcspn(c, " \n");
        return c;
}

/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS": a cgroup file
 * system mounted whole. */
bool cgroup_hierarchy_from_mountinfo(const char *line, struct cgroup_hierarchy *ret) {
        size_t root_len, mp_len, type_len, opts_len;
        const char *root = field(line, 3, &root_len), *mp = field(line, 4, &mp_len);
        const char *tail = strstr(line, " - ");
        if (!root || !mp || !tail || root_len != 1 || root[0] != '/')
                return false;
        const char *type = field(tail + 3, 0, &type_len), *opts = field(tail + 3, 2, &opts_len);
        if (!type || !opts || opts_len >= sizeof(ret->options))
                return false;
        bool v2 = type_len == 7 && strncmp(type, "cgroup2", 7) == 0;
        if (!v2 && !(type_len == 6 && strncmp(type, "cgroup", 6) == 0))
                return false;
        if (!unescape_mountpoint(mp, mp_len, ret->mountpoint, sizeof(ret->mountpoint)))
                return false;
        ret->v2 = v2;
        if (v2)
                ret->options[0] = '\0';
        else {
                memcpy(ret->options, opts, opts_len);
                ret->options[opts_len] = '\0';
        }
        return true;
}

/* Whether a hierarchy accounts resources: a v1 one by its controllers, v2 when its root has
 * any of them (a hybrid host's unified hierarchy has none). */
static bool hierarchy_accounts(const struct cgroup_hierarchy *h) {
        char controllers[512];
        if (!h->v2)
                return cgroup_list_has_resource(h->options);
        _cleanup_close_ int fd = open(h->mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || read_small_file_at(fd, "cgroup.controllers", controllers, sizeof(controllers), NULL) < 0)
                return false;
        return cgroup_list_has_resource(controllers);
}

/* The hierarchies with a resource controller; returns their number. */
static int resource_hierarchies(struct cgroup_hierarchy *ret, size_t max) {
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return negative_errno();
        _cleanup_free_ char *line = NULL;
        size_t size = 0, n = 0;
        while (getline(&line, &size, f) > 0 && n < max)
                if (cgroup_hierarchy_from_mountinfo(line, &ret[n]) && hierarchy_accounts(&ret[n]))
                        n++;
        fclose(f);
        return (int) n;
}

/* The path of hierarchy h in a /proc/<pid>/cgroup text ("ID:CONTROLLERS:PATH" lines). */
bool cgroup_path_for_hierarchy(const char *text, const struct cgroup_hierarchy *h, char *ret, size_t size) {
        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                const char *c1 = memchr(line, ':', len);
                const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - line)) : NULL;
                if (c2) {
                        char controllers[OPTIONS_MAX];
                        size_t clen = (size_t) (c2 - c1 - 1), plen = len - (size_t) (c2 + 1 - line);
                        bool v2_line = c1 - line == 1 && line[0] == '0' && clen == 0;
                        if (clen < sizeof(controllers) && plen < size && plen > 0 && c2[1] == '/') {
                                memcpy(controllers, c1 + 1, clen);
                                controllers[clen] = '\0';
                                if (h->v2 ? v2_line : !v2_line && cgroup_options_cover(h->options, controllers)) {
                                        memcpy(ret, c2 + 1, plen);
                                        ret[plen] = '\0';
                                        return true;
                                }
                        }
                }
                line += len;
                line += *line == '\n';
        }
        return false;
}

static void describe_failure(const struct cgroup_hierarchy *h, const char *path, const char *what, int err, char *why,
                             size_t why_size) {
        char escaped[4 * PATH_MAX_CGROUP + 8];
        escape_for_log(path, strlen(path), escaped, sizeof(escaped));
        snprintf(why, why_size, "%s %s%s: %s", what, h->mountpoint, escaped, strerror(-err));
}

/* cgroup.procs of path in hierarchy h, opened beneath its mount without following anything. */
static int open_procs(const struct cgroup_hierarchy *h, const char *path, char *why, size_t why_size) {
        struct statfs sfs;
        struct open_how how = {
                .flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        _cleanup_close_ int mfd = open(h->mountpoint, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int r = mfd < 0 ? negative_errno() : fstatfs(mfd, &sfs) < 0 ? negative_errno() : 0;
        if (r == 0 && sfs.f_type != (h->v2 ? CGROUP2_SUPER_MAGIC : CGROUP_SUPER_MAGIC))
                r = -EXDEV;
        if (r < 0) {
                describe_failure(h, "", "cannot open the cgroup mount", r, why, why_size);
                return r;
        }
        const char *rel = path + strspn(path, "/");
        _cleanup_close_ int dfd = (int) syscall(SYS_openat2, mfd, rel[0] ? rel : ".", &how, sizeof(how));
        int fd = dfd < 0 ? -1 : openat(dfd, "cgroup.procs", O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                r = negative_errno();
                describe_failure(h, path, "cannot open the cgroup", r, why, why_size);
                return r;
        }
        return fd;
}

int read_pinned_cgroups(int procfd, int pidfd, char **ret) {
        _cleanup_free_ char *buf = malloc(CGROUP_TEXT_MAX);
        size_t len;
        if (!buf)
                return -ENOMEM;
        if (procfd < 0 || pidfd < 0)
                return -EBADF;
        int r = read_small_file_at(procfd, "cgroup", buf, CGROUP_TEXT_MAX, &len);
        if (r < 0)
                return r;
        if (len + 1 >= CGROUP_TEXT_MAX)
                return -EFBIG;
        /* Alive after the read: procfd was, and still is, the pinned process's. */
        r = pidfd_check_alive(pidfd);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        return 0;
}

int fallback_cgroups_open(const char *configured, const char *cgroups, struct fallback_cgroups *ret, char *why,
                          size_t why_size) {
        struct cgroup_hierarchy h[FALLBACK_CGROUPS_MAX];
        struct fallback_cgroups c = {.n = 0};
        char path[PATH_MAX_CGROUP];

        int n = resource_hierarchies(h, ELEMENTSOF(h));
        if (n < 0) {
                snprintf(why, why_size, "cannot read /proc/self/mountinfo: %s", strerror(-n));
                return n;
        }
        if (!configured[0] && !cgroups) {
                snprintf(why, why_size, "its cgroups could not be read while it was pinned");
                return -ENODATA;
        }
        for (int i = 0; i < n && c.n < FALLBACK_CGROUPS_MAX; i++) {
                if (configured[0])
                        snprintf(path, sizeof(path), "%s", configured);
                else if (!cgroup_path_for_hierarchy(cgroups, &h[i], path, sizeof(path))) {
                        describe_failure(&h[i], "", "the crashed process has no cgroup in", -ENOENT, why, why_size);
                        fallback_cgroups_close(&c);
                        return -ENOENT;
                }
                int fd = open_procs(&h[i], path, why, why_size);
                if (fd < 0) {
                        fallback_cgroups_close(&c);
                        return fd;
                }
                c.procs[c.n++] = fd;
        }
        *ret = c;
        return 0;
}

int fallback_cgroups_enter(const struct fallback_cgroups *c) {
        for (size_t i = 0; i < c->n; i++)
                /* "0" is the writer itself. */
                if (write(c->procs[i], "0", 1) != 1)
                        return negative_errno();
        return 0;
}

void fallback_cgroups_close(struct fallback_cgroups *c) {
        for (size_t i = 0; i < c->n; i++)
                c->procs[i] = safe_close(c->procs[i]);
        c->n = 0;
}
