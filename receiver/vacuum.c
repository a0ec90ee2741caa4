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
#include "store.h"

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
        int dir; /* index into the directories being vacuumed */
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

/*
 * Whether the receiver may count and remove dirfd/name as part of a core: a regular file with
 * one link. A hard link to a file elsewhere (whoever could write into the store once may have
 * made one) is not ours: removing it would free nothing, and counting it would make us remove
 * real cores for space it does not take in the store.
 */
static bool own_entry(const struct stat *st) {
        return S_ISREG(st->st_mode) && st->st_nlink == 1;
}

/* Removes the core's files; names that are not ours (see own_entry()) are left alone, links
 * and other strays of the core's name are removed (unlinkat never follows a link). */
static int remove_stem(int dirfd, const char *stem) {
        static const char *const suffixes[] = {".zst", "", ".json"};
        char name[300];
        int r = 0;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                struct stat st;
                snprintf(name, sizeof(name), "%s%s", stem, suffixes[i]);
                if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode) ||
                    (S_ISREG(st.st_mode) && !own_entry(&st)))
                        continue;
                if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
                        r = negative_errno();
        }
        return r;
}

static int entries_add(struct entries *e, int dir_index, const char *stem, uint64_t usec, uint64_t bytes) {
        size_t i;
        e->used += bytes;
        for (i = 0; i < e->n; i++)
                if (e->list[i].dir == dir_index && strcmp(e->list[i].stem, stem) == 0)
                        break;
        if (i == e->n) {
                if (e->n == e->cap) {
                        size_t cap = e->cap ? e->cap * 2 : 64;
                        struct entry *nl = realloc(e->list, cap * sizeof(*nl));
                        if (!nl)
                                return -ENOMEM;
                        e->list = nl;
                        e->cap = cap;
                }
                e->list[e->n] = (struct entry){.dir = dir_index, .usec = usec};
                snprintf(e->list[e->n].stem, sizeof(e->list[e->n].stem), "%s", stem);
                e->n++;
        }
        e->list[i].bytes += bytes;
        return 0;
}

/* Adds the cores of one directory to e. */
static int collect(int dirfd, int dir_index, struct entries *e) {
        int dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        DIR *d = fdopendir(dfd);
        if (!d) {
                int r = negative_errno();
                close(dfd);
                return r;
        }
        struct dirent *de;
        int r = 0;
        while (r >= 0 && (de = readdir(d))) {
                char stem[256];
                uint64_t usec;
                struct stat st;
                if (!stem_of(de->d_name, stem, sizeof(stem), &usec))
                        continue;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !own_entry(&st))
                        continue;
                r = entries_add(e, dir_index, stem, usec, (uint64_t) st.st_blocks * 512);
        }
        closedir(d);
        return r;
}

/*
 * The directories being vacuumed, opened one at a time: a store holds one; a fallback tree
 * holds host/ and every containers/<name>/, however many, so that the number of containers
 * never meets the limit of open descriptors (each is opened again, by name, to remove a core).
 */
struct dirs {
        int rootfd; /* the store, or the tree's root */
        bool tree;
        int containersfd;   /* tree: containers/, or -EBADF */
        char (*names)[256]; /* tree: [0] = "host", then the containers' names */
        size_t n, cap;
};

/* A new descriptor of directory i, or a negative errno (-ENOENT: it is gone). */
static int dirs_open(const struct dirs *d, size_t i) {
        int fd;
        if (!d->tree)
                fd = openat(d->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        else if (i == 0)
                fd = openat(d->rootfd, "host", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        else
                fd = openat(d->containersfd, d->names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

/* Oldest first, until both limits hold; never keep_stem in directory keep_dir. */
static int trim(const struct dirs *dirs, struct entries *e, const struct receiver_settings *s, int keep_dir,
                const char *keep_stem, uint64_t extra_free, struct vacuum_result *ret) {
        struct vacuum_result res = {.used = e->used};
        struct statvfs sv;
        int r = 0;
        if (fstatvfs(dirs->rootfd, &sv) < 0)
                return negative_errno();
        uint64_t total = (uint64_t) sv.f_blocks * sv.f_frsize;
        uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        res.max_use = size_limit_bytes(&s->max_use, total);
        res.keep_free = size_limit_bytes(&s->keep_free, total);
        if (e->n > 0)
                qsort(e->list, e->n, sizeof(*e->list), cmp_entry);
        for (size_t i = 0; i < e->n && (res.used > res.max_use || avail < res.keep_free + extra_free); i++) {
                const struct entry *x = &e->list[i];
                if (keep_stem && x->dir == keep_dir && strcmp(x->stem, keep_stem) == 0)
                        continue;
                _cleanup_close_ int fd = dirs_open(dirs, (size_t) x->dir);
                int k = fd < 0 ? fd : remove_stem(fd, x->stem);
                if (k < 0) {
                        r = r < 0 ? r : k; /* go on with the next: one stuck core must not block the rest */
                        continue;
                }
                res.removed++;
                res.freed += x->bytes;
                res.used -= MIN(res.used, x->bytes);
                avail += x->bytes;
        }
        if (r < 0)
                return r;
        if (ret)
                *ret = res;
        return 0;
}

int vacuum_store(int dirfd, const struct receiver_settings *s, const char *keep_stem, struct vacuum_result *ret) {
        struct entries e = {0};
        struct dirs dirs = {.rootfd = dirfd, .containersfd = -EBADF, .n = 1};
        /* Before a core (no keep_stem), room for a small one too: older cores go to make it,
         * rather than the new core being refused (store_room()). */
        uint64_t extra = keep_stem ? 0 : (uint64_t) STORE_RECORD_RESERVE + STORE_MIN_BUDGET;
        int r = collect(dirfd, 0, &e);
        if (r >= 0)
                r = trim(&dirs, &e, s, 0, keep_stem, extra, ret);
        free(e.list);
        return r;
}

/* The names of host/ and of every directory in containers/ (names only: nothing held open). */
static int tree_list(struct dirs *d) {
        d->cap = 16;
        d->names = calloc(d->cap, sizeof(*d->names));
        if (!d->names)
                return -ENOMEM;
        snprintf(d->names[d->n++], sizeof(d->names[0]), "host");
        d->containersfd = openat(d->rootfd, "containers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d->containersfd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        int fd = fcntl(d->containersfd, F_DUPFD_CLOEXEC, 3);
        DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
        if (!dir) {
                int r = negative_errno();
                safe_close(fd);
                return r;
        }
        struct dirent *de;
        int r = 0;
        while (r >= 0 && (de = readdir(dir))) {
                if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof(d->names[0]))
                        continue;
                if (d->n == d->cap) {
                        void *nl = realloc(d->names, d->cap * 2 * sizeof(*d->names));
                        if (!nl) {
                                r = -ENOMEM;
                                break;
                        }
                        d->names = nl;
                        d->cap *= 2;
                }
                snprintf(d->names[d->n++], sizeof(d->names[0]), "%s", de->d_name);
        }
        closedir(dir);
        return r;
}

/* Collects every directory of the tree; keep_st names the directory of the core just written. */
static int tree_collect(const struct dirs *d, const struct stat *keep_st, struct entries *e, int *ret_keep_dir) {
        int keep_dir = -1;
        for (size_t i = 0; i < d->n; i++) {
                struct stat st;
                _cleanup_close_ int fd = dirs_open(d, i);
                if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
                        continue; /* gone meanwhile, or not a directory of ours */
                if (fd < 0)
                        return fd; /* out of descriptors or worse: say so, never skip it silently */
                if (fstat(fd, &st) >= 0 && st.st_dev == keep_st->st_dev && st.st_ino == keep_st->st_ino)
                        keep_dir = (int) i;
                int r = collect(fd, (int) i, e);
                if (r < 0)
                        return r;
        }
        *ret_keep_dir = keep_dir;
        return 0;
}

int vacuum_tree(int rootfd, const struct receiver_settings *s, int keep_dirfd, const char *keep_stem,
                struct vacuum_result *ret) {
        struct entries e = {0};
        struct dirs d = {.rootfd = rootfd, .tree = true, .containersfd = -EBADF};
        struct stat keep_st;
        int keep_dir = -1;
        int r = fstat(keep_dirfd, &keep_st) < 0 ? negative_errno() : tree_list(&d);
        if (r >= 0)
                r = tree_collect(&d, &keep_st, &e, &keep_dir);
        if (r >= 0)
                r = trim(&d, &e, s, keep_dir, keep_stem, 0, ret);
        safe_close(d.containersfd);
        free(d.names);
        free(e.list);
        return r;
}

/* The stamps still within the interval, oldest first, from the state file. A state file that
 * is not a regular file of ours (a link, a FIFO, a directory someone planted) counts as empty:
 * it is replaced by the rename below (unless it is a directory). */
static size_t rate_load(int dirfd, const struct receiver_settings *s, uint64_t now_usec, uint64_t *stamps, size_t max,
                        char *text, size_t text_size) {
        size_t n = 0;
        _cleanup_close_ int fd = store_open_own_file(dirfd, RATE_FILE);
        ssize_t len = fd < 0 ? -1 : read_full(fd, text, text_size - 1);
        if (len < 0)
                return 0;
        text[len] = '\0';
        for (char *p = text, *line; (line = strsep(&p, "\n"));) {
                char *end;
                unsigned long long v = strtoull(line, &end, 10);
                if (end == line || *end != '\0')
                        continue;
                if (v + s->interval_usec > now_usec && v <= now_usec && n < max)
                        stamps[n++] = v;
        }
        return n;
}

/* Writes the state under a fresh name and renames it over the old one. The name is created,
 * never reused (O_EXCL, O_NOFOLLOW): whatever stood there is removed first, as a name. */
static int rate_save(int dirfd, const uint64_t *stamps, size_t n) {
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%s.%d", RATE_FILE, (int) getpid());
        (void) unlinkat(dirfd, tmp, 0);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        FILE *f = fdopen(fd, "w");
        if (!f) {
                int r = negative_errno();
                close(fd);
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%llu\n", (unsigned long long) stamps[i]);
        if (fclose(f) != 0 || renameat(dirfd, tmp, dirfd, RATE_FILE) < 0) {
                int r = negative_errno();
                (void) unlinkat(dirfd, tmp, 0);
                return r;
        }
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
        if (!stamps || !text)
                return -ENOMEM;
        size_t n = rate_load(dirfd, s, now_usec, stamps, max, text, max * 24 + 1);
        *ret_recent = (unsigned) n;
        if (n >= max)
                return 0;
        stamps[n++] = now_usec;
        int r = rate_save(dirfd, stamps, n);
        return r < 0 ? r : 1;
}
