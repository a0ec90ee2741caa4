/* SPDX-License-Identifier: MIT */
#include "parse.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"

int parse_uint64(const char *s, uint64_t *ret) {
        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        /* No leading zeros except "0" itself: the kernel never prints them, and octal
         * ambiguity is not worth having. */
        if (s[0] == '0' && s[1] != '\0')
                return -EINVAL;
        uint64_t v = 0;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                unsigned d = (unsigned) (*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int parse_uint32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int parse_int64(const char *s, int64_t *ret) {
        bool neg = s && s[0] == '-';
        uint64_t v;
        int r = parse_uint64(neg ? s + 1 : s, &v);
        if (r < 0)
                return r;
        if (neg ? v > (uint64_t) INT64_MAX + 1 : v > (uint64_t) INT64_MAX)
                return -ERANGE;
        *ret = neg ? (int64_t) (0 - v) : (int64_t) v;
        return 0;
}

int parse_timespan_usec(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                {"", USEC_PER_SEC},      {"s", USEC_PER_SEC}, {"sec", USEC_PER_SEC},      {"ms", USEC_PER_MSEC},
                {"msec", USEC_PER_MSEC}, {"us", 1},           {"min", 60 * USEC_PER_SEC},
        };
        char num[32];
        size_t i = 0;

        if (!s)
                return -EINVAL;
        while (s[i] >= '0' && s[i] <= '9') {
                if (i + 1 >= sizeof(num))
                        return -ERANGE;
                num[i] = s[i];
                i++;
        }
        num[i] = '\0';
        uint64_t v;
        int r = parse_uint64(num, &v);
        if (r < 0)
                return r;
        for (size_t u = 0; u < ELEMENTSOF(units); u++)
                if (strcmp(s + i, units[u].suffix) == 0) {
                        if (v > UINT64_MAX / units[u].usec)
                                return -ERANGE;
                        *ret = v * units[u].usec;
                        return 0;
                }
        return -EINVAL;
}

int parse_boolean(const char *s) {
        static const char *yes[] = {"1", "yes", "true", "on", "y"}, *no[] = {"0", "no", "false", "off", "n"};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

char *escape_for_log(const char *s, size_t len, char *out, size_t size) {
        size_t o = 0;
        if (size < 8) {
                if (size > 0)
                        out[0] = '\0';
                return out;
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
                size_t need = plain ? 1 : 4;
                if (o + need + 4 > size) { /* keep room for "..." and NUL */
                        memcpy(out + o, "...", 4);
                        return out;
                }
                if (plain)
                        out[o++] = (char) c;
                else
                        o += (size_t) snprintf(out + o, size - o, "\\x%02x", c);
        }
        out[o] = '\0';
        return out;
}

/* Finds the line of /proc/<pid>/cgroup for one hierarchy: key "" is the unified one ("0::"),
 * otherwise the controller list or name between the first two colons. Returns the length of
 * its path (0 if there is none) and where it starts. */
static size_t find_cgroup_line(const char *text, const char *key, const char **ret_path) {
        size_t klen = strlen(key);
        for (const char *line = text; *line;) {
                size_t n = strcspn(line, "\n");
                const char *c1 = memchr(line, ':', n);
                const char *c2 = c1 ? memchr(c1 + 1, ':', n - (size_t) (c1 + 1 - line)) : NULL;
                if (c2) {
                        bool match = klen == 0 ? (c1 == line + 1 && line[0] == '0' && c2 == c1 + 1)
                                               : ((size_t) (c2 - c1 - 1) == klen && memcmp(c1 + 1, key, klen) == 0);
                        if (match) {
                                *ret_path = c2 + 1;
                                return n - (size_t) (c2 + 1 - line);
                        }
                }
                line += n;
                if (*line == '\n')
                        line++;
        }
        return 0;
}

size_t cgroup_path_from_text(const char *text, const char **ret_path) {
        const char *path = NULL;
        /* systemd's named hierarchy first: where it exists (hybrid and legacy hosts) it is the
         * one systemd keeps its units in, while the unified line may stop at the container's
         * own cgroup or be "/" for everything. On unified hosts there is only the "0::" line. */
        size_t n = find_cgroup_line(text, "name=systemd", &path);
        if (n == 0)
                n = find_cgroup_line(text, "", &path);
        if (n > 0)
                *ret_path = path;
        return n;
}

int proc_field_hex64(const char *text, const char *key, uint64_t *ret) {
        size_t klen = strlen(key);
        for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                if (strncmp(line, key, klen) != 0)
                        continue;
                const char *p = line + klen + strspn(line + klen, " \t");
                size_t n = strspn(p, "0123456789abcdefABCDEF");
                if (n == 0 || n > 16 || (p[n] != '\n' && p[n] != '\0'))
                        return -EBADMSG;
                uint64_t v = 0;
                for (size_t k = 0; k < n; k++) {
                        char c = p[k];
                        v = v << 4 | (uint64_t) (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
                }
                *ret = v;
                return 0;
        }
        return -ENOENT;
}

int proc_field_int64(const char *text, const char *key, unsigned index, int64_t *ret) {
        size_t klen = strlen(key);
        const char *p = NULL;
        for (const char *line = text; *line;) {
                if (strncmp(line, key, klen) == 0) {
                        p = line + klen;
                        break;
                }
                line = strchr(line, '\n');
                if (!line)
                        break;
                line++;
        }
        if (!p)
                return -ENOENT;
        for (unsigned i = 0;; i++) {
                while (*p == ' ' || *p == '\t')
                        p++;
                size_t n = strcspn(p, " \t\n");
                if (n == 0)
                        return -EBADMSG;
                if (i == index) {
                        char num[32];
                        if (n >= sizeof(num))
                                return -EBADMSG;
                        memcpy(num, p, n);
                        num[n] = '\0';
                        return parse_int64(num, ret) < 0 ? -EBADMSG : 0;
                }
                p += n;
        }
}

static bool is_hex64(const char *s, size_t n) {
        if (n != 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* A component "<prefix><64 hex><suffix>" (suffix may be ""). */
static bool hex_between(const char *c, size_t n, const char *prefix, const char *suffix, const char **ret) {
        size_t p = strlen(prefix), q = strlen(suffix);
        if (n != p + 64 + q || memcmp(c, prefix, p) != 0 || memcmp(c + p + 64, suffix, q) != 0 || !is_hex64(c + p, 64))
                return false;
        *ret = c + p;
        return true;
}

static void set_id(struct container_identity *r, const char *runtime, const char *id, size_t n) {
        snprintf(r->runtime, sizeof(r->runtime), "%s", runtime);
        n = n < sizeof(r->id) - 1 ? n : sizeof(r->id) - 1;
        memcpy(r->id, id, n);
        r->id[n] = '\0';
}

/* An LXC container name as it appears in a cgroup path: printable ASCII, no "/" (a path
 * component cannot hold one), and short enough to be kept whole. A name cut short would name
 * another container: a longer one is no identity at all. */
static bool is_lxc_name(const char *s, size_t n, size_t room) {
        if (n == 0 || n >= room)
                return false;
        for (size_t i = 0; i < n; i++)
                if (s[i] <= ' ' || s[i] > '~')
                        return false;
        return true;
}

/* A containerd identifier (namespace or container id): alphanumeric runs joined by single
 * ".", "_" or "-", as containerd itself validates them. */
static bool is_containerd_identifier(const char *s, size_t n) {
        if (n == 0 || n > 76)
                return false;
        for (size_t i = 0; i < n; i++) {
                bool alnum =
                        (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z');
                bool sep = s[i] == '.' || s[i] == '_' || s[i] == '-';
                /* A separator only between two alphanumerics. */
                if (!alnum && !(sep && i > 0 && i + 1 < n && !strchr("._-", s[i - 1])))
                        return false;
        }
        return true;
}

/*
 * LXC (4.0 and later) puts a container's processes in "lxc.payload.<name>" (lxc-attach adds a
 * ".lxc" child on the unified hierarchy) and its monitor, a host process, in
 * "lxc.monitor.<name>", which is not the container. LXC before 4.0 and LXD before 4.0 used
 * "lxc/<name>". When the cgroup already exists LXC appends "-1", "-2", ...: that suffix is part
 * of what the path says and stays in the name.
 */
static bool take_lxc(const char *c, size_t n, bool after_lxc, struct container_identity *r) {
        static const char payload[] = "lxc.payload.";
        const size_t p = sizeof(payload) - 1;
        if (n > p && memcmp(c, payload, p) == 0 && is_lxc_name(c + p, n - p, sizeof(r->id))) {
                set_id(r, "lxc", c + p, n - p);
                return true;
        }
        if (after_lxc && is_lxc_name(c, n, sizeof(r->id))) {
                set_id(r, "lxc", c, n);
                return true;
        }
        return false;
}

/*
 * containerd without an orchestrator ("ctr run", nerdctl with the cgroupfs driver) puts a
 * container in "/<namespace>/<id>". Any two-level cgroup looks like that, so only the namespace
 * ctr uses unless told otherwise, "default", at the top of the hierarchy counts; the id is kept
 * with its namespace ("default/<id>"), as ctr -n names it.
 */
static bool take_containerd_ctr(const char *path, const char *c, size_t n, const char *end,
                                struct container_identity *r) {
        static const char ns[] = "default";
        const size_t k = sizeof(ns) - 1;
        if (c != path + 1 || path[0] != '/' || n != k || memcmp(c, ns, k) != 0 || c + n >= end)
                return false;
        const char *id = c + n + 1;
        const char *slash = memchr(id, '/', (size_t) (end - id));
        size_t m = slash ? (size_t) (slash - id) : (size_t) (end - id);
        if (!is_containerd_identifier(id, m) || k + 1 + m >= sizeof(r->id))
                return false;
        snprintf(r->runtime, sizeof(r->runtime), "containerd");
        memcpy(r->id, c, k + 1 + m);
        r->id[k + 1 + m] = '\0';
        return true;
}

/* Pod uids: 36 characters of hex and "-" (cgroupfs) or "_" (systemd driver). Nothing is written
 * unless all of it is valid: a half-valid uid must not splice into one found before. */
static bool take_pod_uid(const char *s, size_t n, struct container_identity *r) {
        char uid[sizeof(r->pod_uid)];
        if (n != 36)
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                bool sep = i == 8 || i == 13 || i == 18 || i == 23;
                if (sep ? (ch != '-' && ch != '_') : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
                        return false;
                uid[i] = sep ? '-' : ch;
        }
        uid[n] = '\0';
        memcpy(r->pod_uid, uid, n + 1);
        return true;
}

/* systemd-nspawn's "machine-<name>.scope"; systemd escapes "-" in unit names as "\x2d". */
static bool take_nspawn(const char *c, size_t n, struct container_identity *r) {
        if (n <= 15 || memcmp(c, "machine-", 8) != 0 || memcmp(c + n - 6, ".scope", 6) != 0)
                return false;
        char name[sizeof(r->id)];
        size_t o = 0;
        for (size_t i = 8; i < n - 6 && o < sizeof(name) - 1; i++) {
                if (i + 3 < n - 6 && memcmp(c + i, "\\x2d", 4) == 0) {
                        name[o++] = '-';
                        i += 3;
                } else
                        name[o++] = c[i];
        }
        set_id(r, "nspawn", name, o);
        return true;
}

/* "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid>.slice" (systemd). */
static void take_kubepods_pod(const char *c, size_t n, struct container_identity *r) {
        const char *pod = NULL;
        for (size_t i = 0; i + 3 <= n; i++)
                if (memcmp(c + i, "pod", 3) == 0 && (i == 0 || c[i - 1] == '-'))
                        pod = c + i + 3;
        if (pod) {
                size_t m = (size_t) (c + n - pod);
                if (m > 6 && memcmp(pod + m - 6, ".slice", 6) == 0)
                        m -= 6;
                (void) take_pod_uid(pod, m, r);
        }
}

/* Whether one component names a container by the runtimes' own patterns; sets r's id if so. */
static bool take_runtime_id(const char *path, const char *c, size_t n, const char *end, bool after_docker,
                            bool after_lxc, bool in_kubepods, struct container_identity *r) {
        const char *id;
        if (hex_between(c, n, "docker-", ".scope", &id) || (after_docker && hex_between(c, n, "", "", &id)))
                set_id(r, "docker", id, 64);
        else if (hex_between(c, n, "cri-containerd-", ".scope", &id))
                set_id(r, "containerd", id, 64);
        else if (hex_between(c, n, "crio-", ".scope", &id) || hex_between(c, n, "crio-", "", &id))
                set_id(r, "cri-o", id, 64);
        else if (hex_between(c, n, "libpod-", ".scope", &id) || hex_between(c, n, "libpod-", "", &id))
                set_id(r, "podman", id, 64);
        else if (in_kubepods && hex_between(c, n, "", "", &id))
                set_id(r, "kubernetes", id, 64);
        else
                return take_nspawn(c, n, r) || take_lxc(c, n, after_lxc, r) || take_containerd_ctr(path, c, n, end, r);
        return true;
}

/*
 * The OUTERMOST component that names a container wins. A container with a delegated cgroup
 * subtree (or root in a container that can write to its cgroupfs) can create any name, but only
 * below its own cgroup: a name above it was made by the host's engine. Kubernetes' tree only
 * counts at the top of the hierarchy, where the kubelet makes it, and its pod uid only above the
 * container's id.
 */
bool container_identity_from_cgroup(const char *path, size_t len, struct container_identity *ret) {
        struct container_identity r;
        memset(&r, 0, sizeof(r));
        bool after_docker = false, after_lxc = false, in_kubepods = false;
        const char *end = path + len;

        for (const char *c = path; c < end && !r.runtime[0];) {
                const char *slash = memchr(c, '/', (size_t) (end - c));
                size_t n = slash ? (size_t) (slash - c) : (size_t) (end - c);

                if (c == path + 1 && path[0] == '/' && n >= 8 && memcmp(c, "kubepods", 8) == 0)
                        in_kubepods = true;
                if (!take_runtime_id(path, c, n, end, after_docker, after_lxc, in_kubepods, &r) && in_kubepods &&
                    !r.pod_uid[0])
                        take_kubepods_pod(c, n, &r);
                after_docker = n == 6 && memcmp(c, "docker", 6) == 0;
                after_lxc = n == 3 && memcmp(c, "lxc", 3) == 0;
                c += n + 1;
        }
        if (r.pod_uid[0] && !r.runtime[0])
                snprintf(r.runtime, sizeof(r.runtime), "kubernetes");
        *ret = r;
        return r.runtime[0] != '\0';
}

enum unit_kind { NOT_A_UNIT, UNIT_SLICE, UNIT_OTHER };

/* Whether a cgroup path component names a systemd unit, and which kind (unit_name_is_valid()'s
 * rules, without the template checks: a cgroup only exists for an instance). */
static enum unit_kind unit_kind(const char *c, size_t n) {
        static const char *const types[] = {"service", "socket", "target", "device", "mount", "automount",
                                            "swap",    "timer",  "path",   "slice",  "scope"};
        const char *dot = NULL;
        if (n == 0 || n >= 256 || c[0] == '.' || c[0] == '@')
                return NOT_A_UNIT;
        for (size_t i = 0; i < n; i++) {
                char ch = c[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      (ch != '\0' && strchr(":-_.\\@", ch))))
                        return NOT_A_UNIT;
                if (ch == '.')
                        dot = c + i;
        }
        if (!dot)
                return NOT_A_UNIT;
        size_t tlen = (size_t) (c + n - dot - 1);
        for (size_t t = 0; t < ELEMENTSOF(types); t++)
                if (strlen(types[t]) == tlen && memcmp(dot + 1, types[t], tlen) == 0)
                        return t == 9 ? UNIT_SLICE : UNIT_OTHER;
        return NOT_A_UNIT;
}

static void set_name(char out[256], const char *c, size_t n) {
        memcpy(out, c, n); /* n < 256: checked by unit_kind() */
        out[n] = '\0';
}

/* "user@UID.service": the unit of a user's service manager. */
static bool user_manager_uid(const char *name, uint32_t *ret) {
        char num[16];
        size_t n = strlen(name);
        if (n <= 13 || n - 13 >= sizeof(num) || strncmp(name, "user@", 5) != 0 || strcmp(name + n - 8, ".service") != 0)
                return false;
        memcpy(num, name + 5, n - 13);
        num[n - 13] = '\0';
        return parse_uint32(num, ret) >= 0;
}

struct unit_walk {
        struct cgroup_unit u;
        bool have_unit, in_user, have_user_unit;
};

/* A systemd tree nested below a unit starts afresh. */
static void restart_walk(struct unit_walk *w) {
        memset(w, 0, sizeof(*w));
        snprintf(w->u.slice, sizeof(w->u.slice), "-.slice");
}

static void walk_component(struct unit_walk *w, const char *c, size_t n) {
        enum unit_kind k = unit_kind(c, n);
        if (k == NOT_A_UNIT)
                return;
        bool user = w->in_user && !w->have_user_unit;
        if (w->have_unit && !user)
                restart_walk(w);
        if (k == UNIT_SLICE) {
                set_name(w->have_unit ? w->u.user_slice : w->u.slice, c, n);
                return;
        }
        if (w->have_unit) {
                set_name(w->u.user_unit, c, n);
                w->have_user_unit = true;
                return;
        }
        set_name(w->u.unit, c, n);
        w->have_unit = true;
        w->in_user = user_manager_uid(w->u.unit, &w->u.owner_uid);
        w->u.have_owner = w->in_user;
}

int cgroup_unit_from_path(const char *path, size_t len, struct cgroup_unit *ret) {
        struct unit_walk w;
        const char *end = path + len;
        restart_walk(&w);
        for (const char *c = path; c < end;) {
                const char *slash = memchr(c, '/', (size_t) (end - c));
                size_t n = slash ? (size_t) (slash - c) : (size_t) (end - c);
                /* systemd escapes names that could clash with cgroupfs's own with a "_". */
                if (n > 1 && c[0] == '_')
                        walk_component(&w, c + 1, n - 1);
                else
                        walk_component(&w, c, n);
                c += n + 1;
        }
        if (!w.have_unit)
                return -ENXIO;
        *ret = w.u;
        return 0;
}

bool container_identity_from_conmon(const char *cmdline, size_t len, struct container_identity *ret) {
        const char *end = cmdline + len, *arg = cmdline, *prev = NULL;
        size_t n = strnlen(arg, len);
        const char *base = memrchr(arg, '/', n);
        base = base ? base + 1 : arg;
        if ((size_t) (arg + n - base) != 6 || memcmp(base, "conmon", 6) != 0)
                return false;
        for (arg += n + 1; arg < end; prev = arg, arg += n + 1) {
                n = strnlen(arg, (size_t) (end - arg));
                const char *id = NULL;
                if (prev && (strcmp(prev, "-c") == 0 || strcmp(prev, "--cid") == 0))
                        id = arg;
                else if (n > 6 && memcmp(arg, "--cid=", 6) == 0)
                        id = arg + 6;
                if (!id)
                        continue;
                size_t k = n - (size_t) (id - arg);
                if (k != 64 || !is_hex64(id, 64))
                        return false;
                struct container_identity r;
                memset(&r, 0, sizeof(r));
                set_id(&r, "podman", id, 64);
                *ret = r;
                return true;
        }
        return false;
}
