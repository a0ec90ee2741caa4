/* SPDX-License-Identifier: MIT */
#include "vacuum.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"

#define RATE_FILE ".rate"
#define RATE_MAX 100000

int store_lock(int dirfd) {
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        while (flock(fd, LOCK_EX) < 0)
                if (errno != EINTR) {
                        int r = negative_errno();
                        close(fd);
                        return r;
                }
        return fd;
}

/* A core and its record share a stem: "core.<comm>.<uid>.<boot>.<pid>.<usec>". */
struct entry {
        char stem[256];
        uint64_t usec; /* from the name: the order of the crashes */
        uint64_t bytes;
};

static bool stem_of(const char *name, char *stem, size_t size, uint64_t *usec) {
        if (strncmp(name, "core.", 5) != 0)
                return false;
        size_t n = strlen(name);
        if (n > 5 && strcmp(name + n - 5, ".json") == 0)
                n -= 5;
        else if (n > 4 && strcmp(name + n - 4, ".zst") == 0)
                n -= 4;
        if (n >= size)
                return false;
        memcpy(stem, name, n);
        stem[n] = '\0';
        const char *dot = strrchr(stem, '.');
        char *end;
        if (!dot || dot[1] == '\0')
                return false;
        unsigned long long v = strtoull(dot + 1, &end, 10);
        if (*end != '\0')
                return false;
        *usec = v;
        return true;
}

static int cmp_entry(const void *a, const void *b) {
        const struct entry *x = a, *y = b;
        return x->usec < y->usec ? -1 : x->usec > y->usec ? 1 : strcmp(x->stem, y->stem);
}

static int remove_stem(int dirfd, const char *stem) {
        static const char *const suffixes[] = { ".zst", "", ".json" };
        char name[300];
        int r = 0;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                snprintf(name, sizeof(name), "%s%s", stem, suffixes[i]);
                if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                        r = negative_errno();
        }
        return r;
}

int vacuum_store(int dirfd, const struct receiver_settings *s, const char *keep_stem, struct vacuum_result *ret) {
        struct vacuum_result res = { 0 };
        struct statvfs sv;
        _cleanup_free_ struct entry *list = NULL;
        size_t n = 0, cap = 0;

        if (fstatvfs(dirfd, &sv) < 0)
                return negative_errno();
        uint64_t total = (uint64_t) sv.f_blocks * sv.f_frsize;
        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        res.max_use = size_limit_bytes(&s->max_use, total);
        res.keep_free = size_limit_bytes(&s->keep_free, total);

        int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return -ENOMEM;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                char stem[256];
                uint64_t usec;
                struct stat st;
                if (!stem_of(de->d_name, stem, sizeof(stem), &usec))
                        continue;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                        continue;
                uint64_t bytes = (uint64_t) st.st_blocks * 512;
                res.used += bytes;
                size_t i;
                for (i = 0; i < n; i++)
                        if (strcmp(list[i].stem, stem) == 0)
                                break;
                if (i == n) {
                        if (n == cap) {
                                cap = cap ? cap * 2 : 64;
                                struct entry *nl = realloc(list, cap * sizeof(*list));
                                if (!nl) {
                                        closedir(d);
                                        return -ENOMEM;
                                }
                                list = nl;
                        }
                        list[n] = (struct entry) { .usec = usec };
                        snprintf(list[n].stem, sizeof(list[n].stem), "%s", stem);
                        n++;
                }
                list[i].bytes += bytes;
        }
        closedir(d);
        if (n > 0)
                qsort(list, n, sizeof(*list), cmp_entry);

        /* Oldest first, until both limits hold. */
        for (size_t i = 0; i < n && (res.used > res.max_use || avail < res.keep_free); i++) {
                if (keep_stem && strcmp(list[i].stem, keep_stem) == 0)
                        continue;
                int r = remove_stem(dirfd, list[i].stem);
                if (r < 0)
                        return r;
                res.removed++;
                res.freed += list[i].bytes;
                res.used -= MIN(res.used, list[i].bytes);
                avail += list[i].bytes;
        }
        if (ret)
                *ret = res;
        return 0;
}

int rate_limit_admit(int dirfd, const struct receiver_settings *s, uint64_t now_usec, unsigned *ret_recent) {
        if (s->max_cores_per_interval == 0) {
                *ret_recent = 0;
                return 1;
        }
        /* The state: one realtime stamp (decimal microseconds) per line, newest last. */
        size_t max = MIN(s->max_cores_per_interval, (unsigned) RATE_MAX);
        _cleanup_free_ uint64_t *stamps = calloc(max + 1, sizeof(uint64_t));
        _cleanup_free_ char *text = malloc(max * 24 + 1);
        size_t n = 0, len = 0;
        if (!stamps || !text)
                return -ENOMEM;
        int r = read_small_file_at(dirfd, RATE_FILE, text, max * 24 + 1, &len);
        if (r >= 0)
                for (char *p = text, *line; (line = strsep(&p, "\n"));) {
                        char *end;
                        unsigned long long v = strtoull(line, &end, 10);
                        if (end == line || *end != '\0')
                                continue;
                        if (v + s->interval_usec > now_usec && v <= now_usec && n < max)
                                stamps[n++] = v;
                }
        *ret_recent = (unsigned) n;
        if (n >= max)
                return 0;
        stamps[n++] = now_usec;

        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%s.%d", RATE_FILE, (int) getpid());
        FILE *f = NULL;
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0)
                f = fdopen(fd, "w");
        if (!f) {
                if (fd >= 0)
                        close(fd);
                return -errno;
        }
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%llu\n", (unsigned long long) stamps[i]);
        if (fclose(f) != 0 || renameat(dirfd, tmp, dirfd, RATE_FILE) < 0) {
                r = negative_errno();
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        return 1;
}
