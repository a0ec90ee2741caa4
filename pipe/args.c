/* SPDX-License-Identifier: MIT */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "parse.h"

#define REQUIRED "Pugstcd"

static int parse_id(const char *v, uint32_t *ret) {
        uint32_t x;
        int r = parse_uint32(v, &x);
        if (r < 0)
                return r;
        if (x == UINT32_MAX) /* (uid_t) -1 is never a real id */
                return -ERANGE;
        *ret = x;
        return 0;
}

static int copy_text(const char *v, char *out, size_t size) {
        size_t n = strlen(v);
        if (n >= size)
                return -ENAMETOOLONG;
        memcpy(out, v, n + 1);
        return 0;
}

/* F=: the pidfd the kernel passed (Linux >= 6.16); empty on a kernel without %F support. */
static int parse_pidfd_value(const char *v, struct kernel_args *a) {
        uint32_t u32;
        int r;

        if (*v == '\0') /* kernel without %F support */
                return 0;
        r = parse_uint32(v, &u32);
        if (r >= 0 && u32 < 3)
                r = -EBADF; /* 0..2 are the pipe and our output, never a pidfd */
        if (r >= 0 && u32 > 1024)
                r = -EBADF;
        if (r >= 0) {
                a->have_pidfd = true;
                a->pidfd = (int) u32;
        }
        return r;
}

static int parse_pid_value(const char *v, struct kernel_args *a) {
        uint32_t u32;
        int r = parse_uint32(v, &u32);
        if (r >= 0 && (u32 < 1 || u32 > 4194304)) /* PID_MAX_LIMIT */
                r = -ERANGE;
        if (r >= 0)
                a->pid = (pid_t) u32;
        return r;
}

/* Stores the value of one KEY=VALUE argument in *a. Returns -ENOKEY for a key the helper does
 * not know, another negative errno for a value it does not accept. */
static int parse_value(char key, const char *v, struct kernel_args *a) {
        uint32_t u32;
        int r;

        switch (key) {
        case 'F':
                return parse_pidfd_value(v, a);
        case 'P':
                return parse_pid_value(v, a);
        case 'u':
                r = parse_id(v, &u32);
                if (r >= 0)
                        a->uid = u32;
                return r;
        case 'g':
                r = parse_id(v, &u32);
                if (r >= 0)
                        a->gid = u32;
                return r;
        case 's':
                r = parse_uint32(v, &a->signal);
                if (r >= 0 && (a->signal < 1 || a->signal > 64))
                        r = -ERANGE;
                return r;
        case 't':
                return parse_uint64(v, &a->time);
        case 'c':
                return parse_uint64(v, &a->core_limit);
        case 'd':
                r = parse_uint32(v, &a->dump_mode);
                if (r >= 0 && a->dump_mode > 2)
                        r = -ERANGE;
                return r;
        case 'h':
                return copy_text(v, a->hostname, sizeof(a->hostname));
        case 'e':
                return copy_text(v, a->comm, sizeof(a->comm));
        case 'C':
                if (v[0] != '/')
                        return -EINVAL;
                return copy_text(v, a->config_path, sizeof(a->config_path));
        default:
                return -ENOKEY;
        }
}

int parse_kernel_args(int argc, char *const *argv, struct kernel_args *ret, char *err, size_t errsize) {
        struct kernel_args a = {.pidfd = -EBADF};
        char seen[128] = {0};
        int r;

        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];
                char key = arg[0];
                const char *v = arg + 2;
                char shown[48];

                if (key == '\0' || arg[1] != '=' || (unsigned char) key >= sizeof(seen)) {
                        snprintf(err, errsize, "argument %d \"%s\" is not KEY=VALUE", i,
                                 escape_for_log(arg, strlen(arg), shown, sizeof(shown)));
                        return -EINVAL;
                }
                if (seen[(int) key]) {
                        snprintf(err, errsize, "argument %d repeats key %c", i, key);
                        return -EINVAL;
                }
                seen[(int) key] = 1;

                r = parse_value(key, v, &a);
                if (r == -ENOKEY) {
                        snprintf(err, errsize, "argument %d has unknown key %c", i, key);
                        return -EINVAL;
                }
                if (r < 0) {
                        snprintf(err, errsize, "argument %d: invalid value for %c= \"%s\": %s", i, key,
                                 escape_for_log(v, strlen(v), shown, sizeof(shown)), strerror(-r));
                        return r;
                }
        }

        for (const char *k = REQUIRED; *k; k++)
                if (!seen[(int) *k]) {
                        snprintf(err, errsize, "missing %c=, check kernel.core_pattern", *k);
                        return -EINVAL;
                }

        *ret = a;
        return 0;
}
