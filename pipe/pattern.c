/* SPDX-License-Identifier: MIT */
/*
 * core_pipe --pattern socket|pipe: the safe switch of kernel.core_pattern between the pipe helper
 * and the host's coredump socket. "@@PATH" is written only while a socket listens at PATH (the
 * kernel skips every crash on a socket nobody listens to), and read back: a kernel older than
 * 6.17 refuses it or, since 6.16.8, may take the write and keep another value; the pattern that
 * was there is then put back. Whether a socket listens is asked of the kernel for the socket file
 * at PATH itself (sockdiag.c), never by connecting: a connection to it is a crash to its server.
 * Only core_pipe's own patterns are replaced (this build's pipe pattern, its own "@@PATH"), and a
 * pipe pattern is written only while its helper is there (an executable regular file of root's).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "sockdiag.h"
#include "sockmode.h"

#ifndef CORE_PIPE_PATTERN
#error "CORE_PIPE_PATTERN must be set by the build"
#endif

#define CORE_PATTERN_FILE "/proc/sys/kernel/core_pattern"
#define PATTERN_MAX 256
static int read_pattern(char out[PATTERN_MAX]) {
        size_t len;
        int r = read_small_file_at(AT_FDCWD, CORE_PATTERN_FILE, out, PATTERN_MAX, &len);
        if (r < 0)
                return r;
        out[strcspn(out, "\n")] = '\0';
        return 0;
}

static int write_pattern(const char *pattern) {
        _cleanup_close_ int fd = open(CORE_PATTERN_FILE, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return write_full(fd, pattern, strlen(pattern));
}

/* The patterns --pattern socket may replace: this build's pipe pattern or its own "@@PATH". Any
 * other was set by someone else (an operator, another tool) and is theirs to change. */
static bool pattern_is_ours(const char *now, const char *want) {
        return strcmp(now, CORE_PIPE_PATTERN) == 0 || strcmp(now, want) == 0;
}

static int switch_to_socket(const char *path) {
        char want[PATTERN_MAX], before[PATTERN_MAX], now[PATTERN_MAX], why[256];
        int r = unix_socket_listens(path, why, sizeof(why));
        if (r <= 0) {
                fprintf(stderr, "core_pipe --pattern socket: %s; kernel.core_pattern left as it is\n", why);
                return 1;
        }
        if (snprintf(want, sizeof(want), "@@%s", path) >= (int) sizeof(want) || read_pattern(before) < 0)
                return 1;
        if (!pattern_is_ours(before, want)) {
                fprintf(stderr,
                        "core_pipe --pattern socket: kernel.core_pattern is \"%s\", not core_pipe's pipe pattern: "
                        "left as it is (set it to %s first to switch)\n",
                        before, CORE_PIPE_PATTERN);
                return 1;
        }
        r = write_pattern(want);
        if (r >= 0)
                r = read_pattern(now);
        if (r >= 0 && strcmp(now, want) == 0) {
                printf("kernel.core_pattern = %s\n", want);
                return 0;
        }
        (void) write_pattern(before);
        printf("the kernel did not take %s (a kernel before 6.17?): kernel.core_pattern stays %s\n", want, before);
        return 0;
}

/* The pipe pattern's helper (its first word after '|') must be there for the kernel to run: an
 * executable regular file owned by root. Else every crash would fail in the kernel. */
static int check_pipe_helper(const char *pattern, char *why, size_t why_size) {
        char helper[PATTERN_MAX];
        struct stat st;
        snprintf(helper, sizeof(helper), "%.*s", (int) strcspn(pattern + 1, " "), pattern + 1);
        if (pattern[0] != '|' || stat(helper, &st) < 0) {
                snprintf(why, why_size, "%s: %s", helper, pattern[0] != '|' ? "not a pipe pattern" : strerror(errno));
                return -ENOENT;
        }
        if (!S_ISREG(st.st_mode) || st.st_uid != 0 || !(st.st_mode & S_IXUSR)) {
                snprintf(why, why_size, "%s: not an executable regular file owned by root", helper);
                return -EPERM;
        }
        return 0;
}

/* Only a pattern of ours goes: another tool's pattern written since is left alone. */
int pattern_restore_pipe(const char *path) {
        char ours[PATTERN_MAX], now[PATTERN_MAX];
        if (read_pattern(now) < 0)
                return 1;
        snprintf(ours, sizeof(ours), "@@%s", path);
        if (strcmp(now, ours) != 0) {
                printf("kernel.core_pattern is %s, not %s: left as it is\n", now, ours);
                return 0;
        }
        char why[PATTERN_MAX + 64];
        int r = check_pipe_helper(CORE_PIPE_PATTERN, why, sizeof(why));
        if (r < 0) {
                fprintf(stderr, "core_pipe --pattern pipe: not writing %s: %s; kernel.core_pattern stays %s\n",
                        CORE_PIPE_PATTERN, why, now);
                return 1;
        }
        r = write_pattern(CORE_PIPE_PATTERN);
        if (r < 0) {
                fprintf(stderr, "core_pipe --pattern pipe: %s: %s\n", CORE_PATTERN_FILE, strerror(-r));
                return 1;
        }
        printf("kernel.core_pattern = %s\n", CORE_PIPE_PATTERN);
        return 0;
}

int pattern_main(const char *which, const char *path) {
        if (strcmp(which, "socket") == 0)
                return switch_to_socket(path);
        if (strcmp(which, "pipe") == 0)
                return pattern_restore_pipe(path);
        fprintf(stderr, "core_pipe --pattern: \"socket\" or \"pipe\", not \"%s\"\n", which);
        return 2;
}
