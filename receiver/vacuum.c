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
        int dir;       /* index into the directories being vacuumed */
        char stem[256];
        uint64_t usec; /* from the name: the order of the crashes */
        uint64_t bytes;
};

struct entries {
        struct entry *list;
        size_t n, cap;
        uint64_t used;
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

/* Adds the cores of one directory to e. */
static int collect(int dirfd, int dir_index, struct entries *e) {
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
                e->used += bytes;
                size_t i;
                for (i = 0; i < e->n; i++)
                        if (e->list[i].dir == dir_index && strcmp(e->list[i].stem, stem) == 0)
                                break;
                if (i == e->n) {
                        if (e->n == e->cap) {
                                size_t cap = e->cap ? e->cap * 2 : 64;
                                struct entry *nl = realloc(e->list, cap * sizeof(*nl));
                                if (!nl) {
                                        closedir(d);
                                        return -ENOMEM;
                                }
                                e->list = nl;
                                e->cap = cap;
                        }
                        e->list[e->n] = (struct entry) { .dir = dir_index, .usec = usec };
                        snprintf(e->list[e->n].stem, sizeof(e->list[e->n].stem), "%s", stem);
                        e->n++;
                }
                e->list[i].bytes += bytes;
        }
        closedir(d);
        return 0;
}

/* Oldest first, until both limits hold; never keep_stem in directory keep_dir. */
static int trim(const int *dirfds, struct entries *e, const struct receiver_settings *s, int keep_dir,
                const char *keep_stem, struct vacuum_result *ret) {
        struct vacuum_result res = { .used = e->used };
        struct statvfs sv;
        if (fstatvfs(dirfds[0], &sv) < 0)
                return negative_errno();
        uint64_t total = (uint64_t) sv.f_blocks * sv.f_frsize;
        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        res.max_use = size_limit_bytes(&s->max_use, total);
        res.keep_free = size_limit_bytes(&s->keep_free, total);
        if (e->n > 0)
                qsort(e->list, e->n, sizeof(*e->list), cmp_entry);
        for (size_t i = 0; i < e->n && (res.used > res.max_use || avail < res.keep_free); i++) {
                const struct entry *x = &e->list[i];
                if (keep_stem && x->dir == keep_dir && strcmp(x->stem, keep_stem) == 0)
                        continue;
                int r = remove_stem(dirfds[x->dir], x->stem);
                if (r < 0)
                        return r;
                res.removed++;
                res.freed += x->bytes;
                res.used -= MIN(res.used, x->bytes);
                avail += x->bytes;
        }
        if (ret)
                *ret = res;
        return 0;
}

int vacuum_store(int dirfd, const struct receiver_settings *s, const char *keep_stem, struct vacuum_result *ret) {
        struct entries e = { 0 };
        int r = collect(dirfd, 0, &e);
        if (r >= 0)
                r = trim(&dirfd, &e, s, 0, keep_stem, ret);
        free(e.list);
        return r;
}

#define TREE_DIRS_MAX 4096

int vacuum_tree(int rootfd, const struct receiver_settings *s, int keep_dirfd, const char *keep_stem,
                struct vacuum_result *ret) {
        struct entries e = { 0 };
        _cleanup_free_ int *fds = calloc(TREE_DIRS_MAX, sizeof(int));
        size_t n_fds = 0;
        int keep_dir = -1, r = 0;
        struct stat keep_st, st;

        if (!fds)
                return -ENOMEM;
        if (fstat(keep_dirfd, &keep_st) < 0)
                return negative_errno();
        /* root itself first (statvfs), then host/ and every containers/<name>/. */
        fds[n_fds++] = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int hostfd = openat(rootfd, "host", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (hostfd >= 0)
                fds[n_fds++] = hostfd;
        int cfd = openat(rootfd, "containers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d = cfd >= 0 ? fdopendir(cfd) : NULL;
        if (cfd >= 0 && !d)
                close(cfd);
        struct dirent *de;
        while (d && (de = readdir(d)) && n_fds < TREE_DIRS_MAX) {
                if (de->d_name[0] == '.')
                        continue;
                int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0)
                        fds[n_fds++] = fd;
        }
        if (d)
                closedir(d);
        if (fds[0] < 0) {
                r = -errno;
                goto done;
        }
        for (size_t i = 1; i < n_fds; i++) {
                if (fstat(fds[i], &st) >= 0 && st.st_dev == keep_st.st_dev && st.st_ino == keep_st.st_ino)
                        keep_dir = (int) i;
                r = collect(fds[i], (int) i, &e);
                if (r < 0)
                        goto done;
        }
        r = trim(fds, &e, s, keep_dir, keep_stem, ret);
done:
        for (size_t i = 0; i < n_fds; i++)
                safe_close(fds[i]);
        free(e.list);
        return r;
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
