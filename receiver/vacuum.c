/* SPDX-License-Identifier: MIT */
#include "vacuum.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "ledger.h"
#include "macro.h"
#include "store.h"

#define RATE_FILE ".rate"
#define RATE_MAX 100000

int store_lock(int dirfd) {
        _cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        /* Holders keep the lock for a vacuum or a rate-limit update only. One that holds it
         * much longer is stuck (a fallback receiver in a cgroup its container froze): give up
         * instead of waiting with it. */
        int r = flock_bounded(fd, STORE_LOCK_TIMEOUT_USEC);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

/* A core and its record share a stem: "core.<comm>.<uid>.<boot>.<pid>.<usec>". */
struct entry {
        int dir; /* index into the directories being vacuumed */
        char stem[256];
        uint64_t usec; /* from the name: the order of the crashes */
        uint64_t bytes;
        bool removed;
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

/* One file of a core (its .zst, its .json or the core without compression): merged with the
 * other files of the same core by entries_merge(). */
static int entries_add(struct entries *e, int dir_index, const char *stem, uint64_t usec, uint64_t bytes) {
        e->used += bytes;
        if (e->n == e->cap) {
                size_t cap = e->cap ? e->cap * 2 : 64;
                struct entry *nl = realloc(e->list, cap * sizeof(*nl));
                if (!nl)
                        return -ENOMEM;
                e->list = nl;
                e->cap = cap;
        }
        e->list[e->n] = (struct entry){.dir = dir_index, .usec = usec, .bytes = bytes};
        snprintf(e->list[e->n].stem, sizeof(e->list[e->n].stem), "%s", stem);
        e->n++;
        return 0;
}

static int cmp_dir_stem(const void *a, const void *b) {
        const struct entry *x = a, *y = b;
        return x->dir != y->dir ? (x->dir < y->dir ? -1 : 1) : strcmp(x->stem, y->stem);
}

/* The files of each core as one entry (sorting, not searching: a directory may hold many). */
static void entries_merge(struct entries *e) {
        size_t k = 0;
        if (e->n == 0)
                return;
        qsort(e->list, e->n, sizeof(*e->list), cmp_dir_stem);
        for (size_t i = 1; i < e->n; i++) {
                if (e->list[i].dir == e->list[k].dir && strcmp(e->list[i].stem, e->list[k].stem) == 0)
                        e->list[k].bytes += e->list[i].bytes;
                else
                        e->list[++k] = e->list[i];
        }
        e->n = k + 1;
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
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                char stem[256];
                uint64_t usec;
                struct stat st;
                if (!stem_of(de->d_name, stem, sizeof(stem), &usec))
                        continue;
                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !own_entry(&st))
                        continue;
                r = entries_add(e, dir_index, stem, usec, (uint64_t) st.st_blocks * 512);
                if (r >= 0 && e->n > VACUUM_TREE_FILES_MAX)
                        r = -E2BIG;
        }
        if (r >= 0 && errno != 0)
                r = negative_errno(); /* readdir() failed: the directory was not seen whole */
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
        uint64_t *ino;      /* tree: their inodes (0: host/ does not exist) */
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
        if (r >= 0) {
                entries_merge(&e);
                r = trim(&dirs, &e, s, 0, keep_stem, extra, ret);
        }
        free(e.list);
        return r;
}

static void tree_why(struct tree_result *tr, const char *fmt, ...) _printf_(2, 3);
static void tree_why(struct tree_result *tr, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tr->why, sizeof(tr->why), fmt, ap);
        va_end(ap);
}

static bool in_flight(const struct ledger_state *ls, uint64_t ino) {
        for (unsigned i = 0; i < ls->live; i++)
                if (ls->dirs[i] == ino)
                        return true;
        return false;
}

/*
 * Removes containers/name if it holds nothing but a rate limit state older than Interval= (which
 * rate_limit_admit() would ignore anyway). rmdir() never removes a directory that is not empty;
 * a receiver about to write into it holds a slot of the ledger (checked by the caller), and every
 * other one waits for the tree's flock(), held by our caller.
 */
static bool remove_if_empty(int containersfd, const char *name, uint64_t interval_usec) {
        _cleanup_close_ int fd = openat(containersfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                return false;
        if (fstatat(fd, RATE_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                uint64_t mtime = (uint64_t) st.st_mtim.tv_sec * USEC_PER_SEC + (uint64_t) st.st_mtim.tv_nsec / 1000;
                if (!S_ISREG(st.st_mode) || mtime + interval_usec > now_realtime_usec())
                        return false;
                (void) unlinkat(fd, RATE_FILE, 0);
        }
        return unlinkat(containersfd, name, AT_REMOVEDIR) == 0;
}

static int dirs_add(struct dirs *d, const char *name, uint64_t ino) {
        if (d->n == d->cap) {
                size_t cap = d->cap ? d->cap * 2 : 16;
                void *nn = realloc(d->names, cap * sizeof(*d->names));
                if (nn)
                        d->names = nn;
                void *ni = realloc(d->ino, cap * sizeof(*d->ino));
                if (ni)
                        d->ino = ni;
                if (!nn || !ni)
                        return -ENOMEM;
                d->cap = cap;
        }
        snprintf(d->names[d->n], sizeof(d->names[0]), "%s", name);
        d->ino[d->n++] = ino;
        return 0;
}

/* One entry of containers/: a directory is listed, or removed when empty; anything else is
 * not part of the tree (the receiver never writes through it). */
static int tree_list_one(struct dirs *d, const char *name, const struct ledger_state *ls,
                         const struct receiver_settings *s, struct tree_result *tr) {
        struct stat st;
        if (name[0] == '.' || strlen(name) >= sizeof(d->names[0]))
                return 0;
        if (fstatat(d->containersfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                return 0;
        if (!in_flight(ls, (uint64_t) st.st_ino) && remove_if_empty(d->containersfd, name, s->interval_usec)) {
                tr->removed_dirs++;
                return 0;
        }
        if (d->n > VACUUM_TREE_DIRS_MAX) {
                tree_why(tr, "containers/ holds more than %u directories", VACUUM_TREE_DIRS_MAX);
                return -E2BIG;
        }
        return dirs_add(d, name, (uint64_t) st.st_ino);
}

/* host/ and every directory in containers/ (names only: nothing held open). */
static int tree_list(struct dirs *d, const struct ledger_state *ls, const struct receiver_settings *s,
                     struct tree_result *tr) {
        struct stat st;
        int r = dirs_add(d, "host", fstatat(d->rootfd, "host", &st, AT_SYMLINK_NOFOLLOW) < 0 ? 0 : st.st_ino);
        if (r < 0)
                return r;
        d->containersfd = openat(d->rootfd, "containers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (d->containersfd < 0) {
                r = negative_errno();
                if (r == -ENOENT)
                        return 0;
                tree_why(tr, "cannot open containers/: %s", strerror(-r));
                return r;
        }
        int fd = fcntl(d->containersfd, F_DUPFD_CLOEXEC, 3);
        DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
        if (!dir) {
                r = negative_errno();
                safe_close(fd);
                tree_why(tr, "cannot read containers/: %s", strerror(-r));
                return r;
        }
        struct dirent *de;
        while (r >= 0 && (errno = 0, de = readdir(dir)))
                r = tree_list_one(d, de->d_name, ls, s, tr);
        if (r >= 0 && errno != 0) {
                r = negative_errno();
                tree_why(tr, "cannot read containers/: %s", strerror(-r));
        }
        closedir(dir);
        return r;
}

/* Collects every directory of the tree; one that cannot be read is an error that names it. */
static int tree_collect(const struct dirs *d, struct entries *e, struct tree_result *tr) {
        for (size_t i = 0; i < d->n; i++) {
                _cleanup_close_ int fd = dirs_open(d, i);
                if (fd == -ENOENT && i == 0)
                        continue; /* no host/ yet */
                if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
                        continue; /* replaced meanwhile by what the receiver never writes through */
                int r = fd < 0 ? fd : collect(fd, (int) i, e);
                if (r < 0) {
                        tree_why(tr, "cannot read %s%s: %s", i == 0 ? "" : "containers/", d->names[i],
                                 r == -E2BIG ? "more files than the vacuum counts" : strerror(-r));
                        return r;
                }
        }
        entries_merge(e);
        return 0;
}

/* The room to be made, all in bytes as resolved on the tree's file system. */
struct tree_goal {
        uint64_t max_use, keep_free, share;
        uint64_t avail;
        uint64_t in_flight, outstanding; /* every core in flight: reserved, not yet written */
        const struct tree_request *req;
        const struct ledger_state *ls;
};

static bool tree_over(const struct tree_goal *g, uint64_t used) {
        return used + g->in_flight + g->req->extra > g->max_use ||
               g->avail < g->keep_free + g->outstanding + g->req->extra;
}

static int tree_remove(const struct dirs *d, struct entry *x, uint64_t *used, uint64_t *dir_used, struct tree_goal *g,
                       struct vacuum_result *res) {
        _cleanup_close_ int fd = dirs_open(d, (size_t) x->dir);
        int r = fd < 0 ? fd : remove_stem(fd, x->stem);
        if (r < 0)
                return r;
        x->removed = true;
        res->removed++;
        res->freed += x->bytes;
        *used -= MIN(*used, x->bytes);
        dir_used[x->dir] -= MIN(dir_used[x->dir], x->bytes);
        g->avail += x->bytes;
        return 0;
}

/* What a container directory may keep now: its share, less its cores in flight. */
static uint64_t dir_limit(const struct dirs *d, size_t i, const struct tree_goal *g) {
        uint64_t limit = g->share;
        for (unsigned k = 0; k < g->ls->live; k++)
                if (g->ls->dirs[k] == d->ino[i])
                        limit -= MIN(limit, g->ls->dir_bytes[k]);
        if (d->ino[i] == g->req->dir)
                limit -= MIN(limit, g->req->extra);
        return limit;
}
/* The core just written, or one whose receiver is still at work (its record may not be written
 * yet): never removed. */
static bool is_keep(const struct dirs *d, const struct entry *x, const struct tree_goal *g) {
        for (unsigned k = 0; k < g->ls->live; k++)
                if (g->ls->dirs[k] == d->ino[x->dir] && g->ls->usecs[k] == x->usec)
                        return true;
        return g->req->keep_stem && d->ino[x->dir] == g->req->dir && strcmp(x->stem, g->req->keep_stem) == 0;
}

/* Oldest first: containers over their share, then (while the tree is over its limits) any
 * container's, and the host's only for the host. */
static int trim_tree(const struct dirs *d, struct entries *e, struct tree_goal *g, struct vacuum_result *res,
                     uint64_t *ret_host_used) {
        _cleanup_free_ uint64_t *dir_used = calloc(d->n, sizeof(uint64_t));
        uint64_t used = e->used;
        int r = 0;
        if (!dir_used)
                return -ENOMEM;
        for (size_t i = 0; i < e->n; i++)
                dir_used[e->list[i].dir] += e->list[i].bytes;
        if (e->n > 0)
                qsort(e->list, e->n, sizeof(*e->list), cmp_entry);
        for (size_t i = 0; i < e->n; i++) {
                struct entry *x = &e->list[i];
                if (x->dir == 0 || is_keep(d, x, g) || dir_used[x->dir] <= dir_limit(d, (size_t) x->dir, g))
                        continue;
                int k = tree_remove(d, x, &used, dir_used, g, res);
                r = r < 0 ? r : k; /* go on: one stuck core must not block the rest */
        }
        for (size_t i = 0; i < e->n && tree_over(g, used); i++) {
                struct entry *x = &e->list[i];
                if (x->removed || is_keep(d, x, g) || (x->dir == 0 && !g->req->host))
                        continue;
                int k = tree_remove(d, x, &used, dir_used, g, res);
                r = r < 0 ? r : k;
        }
        res->used = used;
        *ret_host_used = dir_used[0];
        return r;
}

static int tree_goal_resolve(int rootfd, const struct receiver_settings *s, const struct ledger_state *ls,
                             struct tree_goal *g, struct vacuum_result *res) {
        struct statvfs sv;
        if (fstatvfs(rootfd, &sv) < 0)
                return negative_errno();
        uint64_t total = (uint64_t) sv.f_blocks * sv.f_frsize;
        g->avail = (uint64_t) sv.f_bavail * sv.f_frsize;
        g->max_use = res->max_use = size_limit_bytes(&s->max_use, total);
        g->keep_free = res->keep_free = size_limit_bytes(&s->keep_free, total);
        g->share = settings_container_share(s, total);
        g->in_flight = ls->reserved;
        g->outstanding = ls->outstanding;
        g->ls = ls;
        return 0;
}

/* The scan and the trim, with the ledger's mutex held (if there is a ledger). */
static int vacuum_tree_locked(struct dirs *d, const struct receiver_settings *s, const struct tree_request *req,
                              struct tree_result *res) {
        struct entries e = {0};
        struct ledger_state ls = {0};
        struct tree_goal g = {.req = req};
        uint64_t host_used = 0;
        int r = req->ledger ? ledger_read(req->ledger, &ls) : 0;
        if (r < 0)
                tree_why(res, "cannot read the ledger %s: %s", LEDGER_FILE, strerror(-r));
        if (r >= 0)
                r = tree_list(d, &ls, s, res);
        if (r >= 0)
                r = tree_collect(d, &e, res);
        if (r >= 0)
                r = tree_goal_resolve(d->rootfd, s, &ls, &g, &res->v);
        if (r >= 0) {
                r = trim_tree(d, &e, &g, &res->v, &host_used);
                if (r < 0)
                        tree_why(res, "cannot remove an old core: %s", strerror(-r));
        }
        if (r >= 0 && req->ledger)
                r = ledger_set_used(req->ledger, res->v.used, host_used);
        free(e.list);
        return r;
}

int vacuum_tree(int rootfd, const struct receiver_settings *s, const struct tree_request *req,
                struct tree_result *result) {
        struct dirs d = {.rootfd = rootfd, .tree = true, .containersfd = -EBADF};
        struct tree_result res = {0};
        int r = req->ledger ? ledger_lock(req->ledger) : 0;
        if (r < 0)
                tree_why(&res, "cannot lock the ledger %s: %s", LEDGER_FILE, strerror(-r));
        else {
                r = vacuum_tree_locked(&d, s, req, &res);
                if (req->ledger)
                        ledger_unlock(req->ledger);
        }
        res.containers = d.n > 0 ? (unsigned) d.n - 1 : 0;
        safe_close(d.containersfd);
        free(d.names);
        free(d.ino);
        *result = res; /* on error too: its why says what could not be seen */
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
