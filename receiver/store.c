/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compress.h"
#include "fdio.h"
#include "macro.h"

int core_file_stem(const char *comm, uid_t uid, const char *boot_id, pid_t pid, uint64_t usec, char *out,
                   size_t size) {
        char safe[64];
        size_t n = 0;
        for (const char *p = comm; *p && n + 1 < sizeof(safe); p++) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '+' || c == '-';
                safe[n++] = ok ? c : '_';
        }
        safe[n] = '\0';
        int k = snprintf(out, size, "core.%s.%u.%s.%d.%llu", n > 0 ? safe : "unknown", (unsigned) uid,
                         boot_id[0] ? boot_id : "noboot", (int) pid, (unsigned long long) usec);
        if (k < 0 || (size_t) k >= size)
                return -ENAMETOOLONG;
        return 0;
}

int open_store_dir(const char *path) {
        char buf[4096];
        if (path[0] != '/' || strlen(path) >= sizeof(buf))
                return -EINVAL;
        strcpy(buf, path);
        /* mkdir -p, each component 0700: cores are root's business until policy says more. */
        for (char *p = buf + 1;; p++) {
                if (*p == '/' || *p == '\0') {
                        char saved = *p;
                        *p = '\0';
                        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                                return negative_errno();
                        *p = saved;
                        if (saved == '\0')
                                break;
                }
        }
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

/* An unnamed file in dirfd. Falls back to a hidden named file on file systems without
 * O_TMPFILE; *ret_tmpname is then set and must be renamed or unlinked. */
static int open_unnamed(int dirfd, char *tmpname, size_t size, bool *ret_named) {
        int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0) {
                *ret_named = false;
                return fd;
        }
        if (errno != EOPNOTSUPP && errno != EISDIR)
                return negative_errno();
        snprintf(tmpname, size, ".#core-%d-%llu.tmp", (int) getpid(), (unsigned long long) now_monotonic_usec());
        fd = openat(dirfd, tmpname, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        *ret_named = true;
        return fd;
}

/* Gives the unnamed file its name, after the data is durable. */
static int link_into_place(int dirfd, int fd, bool named, const char *tmpname, const char *name) {
        if (fsync(fd) < 0)
                return negative_errno();
        if (named) {
                if (renameat(dirfd, tmpname, dirfd, name) < 0)
                        return negative_errno();
        } else if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) < 0) {
                /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels; the /proc path
                 * does the same without it. */
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                if (linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW) < 0)
                        return negative_errno();
        }
        if (fsync(dirfd) < 0)
                return negative_errno();
        return 0;
}

int store_file_atomic(int dirfd, const char *name, const void *data, size_t len) {
        char tmpname[128];
        bool named;
        int fd = open_unnamed(dirfd, tmpname, sizeof(tmpname), &named);
        if (fd < 0)
                return fd;
        int r = write_full(fd, data, len);
        if (r >= 0)
                r = link_into_place(dirfd, fd, named, tmpname, name);
        if (r < 0 && named)
                (void) unlinkat(dirfd, tmpname, 0);
        safe_close(fd);
        return r;
}

/*
 * Where the stored bytes go. The core is written with O_DIRECT where the file system allows
 * it: straight from an aligned staging buffer to the disk, so the core never fills the page
 * cache (which a container's memory limit counts) and costs no copy into it. Only the
 * unaligned tail is written through the cache, at the end.
 *
 * Without O_DIRECT, the cache is kept small instead: every WRITEBACK_WINDOW bytes, writeback
 * of the newest window is started, and the window before it (whose writeback was started one
 * step earlier) is waited for and dropped from the cache.
 */
#define DIRECT_ALIGN 4096U
#define DIRECT_BUFFER (1U << 20)
#define WRITEBACK_WINDOW (8U << 20)

struct output {
        int fd;
        bool direct;
        uint8_t *stage; /* with direct: DIRECT_BUFFER bytes, aligned */
        size_t staged;
        uint64_t total;   /* bytes accepted */
        uint64_t started; /* without direct: writeback started up to here */
        uint64_t dropped; /* without direct: written back and dropped up to here */
};

static void pacer_update(struct output *o) {
        if (o->total - o->started < WRITEBACK_WINDOW)
                return;
        (void) sync_file_range(o->fd, (off_t) o->started, (off_t) (o->total - o->started), SYNC_FILE_RANGE_WRITE);
        if (o->started > o->dropped) {
                off_t off = (off_t) o->dropped, len = (off_t) (o->started - o->dropped);
                (void) sync_file_range(o->fd, off, len,
                                       SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
                (void) posix_fadvise(o->fd, off, len, POSIX_FADV_DONTNEED);
                o->dropped = o->started;
        }
        o->started = o->total;
}

/* Leaves O_DIRECT for the rest of the file (the tail, or after the file system refused). */
static int output_leave_direct(struct output *o) {
        int flags = fcntl(o->fd, F_GETFL);
        if (flags < 0 || fcntl(o->fd, F_SETFL, flags & ~O_DIRECT) < 0)
                return negative_errno();
        o->direct = false;
        return 0;
}

/* Writes the staging buffer; falls back to the page cache if the file system refuses. */
static int output_flush_stage(struct output *o) {
        size_t done = 0;
        while (o->direct && done < o->staged) {
                ssize_t n = write(o->fd, o->stage + done, o->staged - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno != EINVAL)
                        return negative_errno();
                if (n > 0)
                        done += (size_t) n;
                /* EINVAL (alignment not accepted) or a short write (the disk filling up):
                 * the rest goes through the cache, which also reports the real error. */
                if (n <= 0 || done % DIRECT_ALIGN != 0) {
                        int r = output_leave_direct(o);
                        if (r < 0)
                                return r;
                }
        }
        int r = write_full(o->fd, o->stage + done, o->staged - done);
        o->staged = 0;
        return r;
}

static int output_write(struct output *o, const void *data, size_t len) {
        const uint8_t *p = data;
        o->total += len;
        while (len > 0 && o->direct) {
                size_t k = MIN(len, DIRECT_BUFFER - o->staged);
                memcpy(o->stage + o->staged, p, k);
                o->staged += k;
                p += k;
                len -= k;
                if (o->staged == DIRECT_BUFFER) {
                        int r = output_flush_stage(o);
                        if (r < 0)
                                return r;
                }
        }
        if (len == 0)
                return 0;
        int r = write_full(o->fd, p, len);
        if (r < 0)
                return r;
        pacer_update(o);
        return 0;
}

/* Writes what is staged (the tail, through the cache). */
static int output_finish(struct output *o) {
        if (o->direct && o->staged > 0) {
                int r = output_leave_direct(o);
                if (r < 0)
                        return r;
        }
        return o->staged > 0 ? output_flush_stage(o) : 0;
}

static int output_write_frame(void *userdata, const void *frame, size_t len) {
        return output_write(userdata, frame, len);
}

static void compressor_freep(struct compressor **c) {
        compressor_free(*c);
}

/*
 * Reads up to want bytes (at most up to the limit) into buf, looping over short reads: a pipe
 * gives at most what it holds. *at_end is set at the end of the core, or at the limit.
 */
static ssize_t read_chunk(int fd, void *buf, size_t want, uint64_t limit, struct store_result *res, bool *at_end) {
        size_t got = 0;
        while (got < want) {
                if (res->core_size >= limit) {
                        /* At the limit: one probe tells whether the core goes on. */
                        char probe;
                        ssize_t k = read(fd, &probe, 1);
                        if (k < 0 && errno == EINTR)
                                continue;
                        res->truncated = k > 0;
                        *at_end = true;
                        break;
                }
                size_t n_want = want - got;
                if (limit - res->core_size < n_want)
                        n_want = (size_t) (limit - res->core_size);
                ssize_t n = read(fd, (char *) buf + got, n_want);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0) {
                        *at_end = true;
                        break;
                }
                got += (size_t) n;
                res->core_size += (uint64_t) n;
        }
        return (ssize_t) got;
}

int store_core(int dirfd, const char *name, int *core_fd, uint64_t limit, const struct store_options *o,
               struct store_result *ret) {
        struct store_result res = { 0 };
        char tmpname[128];
        bool named = false, at_end = false;
        _cleanup_(compressor_freep) struct compressor *comp = NULL;
        _cleanup_free_ void *buf = NULL, *stage = NULL;
        struct output out = { .fd = -EBADF };
        ssize_t n;
        int r;

        _cleanup_close_ int fd = open_unnamed(dirfd, tmpname, sizeof(tmpname), &named);
        if (fd < 0) {
                r = fd;
                goto fail;
        }
        out.fd = fd;
        if (posix_memalign(&stage, DIRECT_ALIGN, DIRECT_BUFFER) == 0) {
                int flags = fcntl(fd, F_GETFL);
                out.stage = stage;
                out.direct = flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) >= 0;
        }

        if (o->compress) {
                /* Each chunk is read straight into a buffer that a worker then compresses. */
                struct compressor_params cp = {
                        .level = o->compress_level,
                        .workers = o->workers,
                        .chunk_size = o->chunk_size,
                        .write = output_write_frame,
                        .userdata = &out,
                };
                r = compressor_new(&cp, &comp);
                if (r < 0)
                        goto fail;
                while (!at_end) {
                        void *chunk = compressor_buffer(comp);
                        if (!chunk)
                                break; /* writing failed; compressor_finish() says how */
                        n = read_chunk(*core_fd, chunk, o->chunk_size, limit, &res, &at_end);
                        if (n < 0) {
                                r = (int) n;
                                goto fail;
                        }
                        if (n > 0)
                                compressor_submit(comp, (size_t) n);
                }
        } else {
                buf = malloc(o->chunk_size);
                if (!buf) {
                        r = -ENOMEM;
                        goto fail;
                }
                while (!at_end) {
                        n = read_chunk(*core_fd, buf, o->chunk_size, limit, &res, &at_end);
                        if (n < 0) {
                                r = (int) n;
                                goto fail;
                        }
                        r = output_write(&out, buf, (size_t) n);
                        if (r < 0)
                                goto fail;
                }
        }

        /* The last byte is read (or writing failed): let the crashed process go before the
         * slow tail. */
        *core_fd = safe_close(*core_fd);
        res.released_usec = now_monotonic_usec();

        if (comp) {
                r = compressor_finish(comp);
                if (r < 0)
                        goto fail;
        }
        r = output_finish(&out);
        if (r < 0)
                goto fail;
        res.stored_size = out.total;
        r = link_into_place(dirfd, fd, named, tmpname, name);
        if (r < 0)
                goto fail;
        *ret = res;
        return 0;

fail:
        *core_fd = safe_close(*core_fd);
        if (named)
                (void) unlinkat(dirfd, tmpname, 0);
        return r;
}
