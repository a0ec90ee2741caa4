/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

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
 * Keeps the written core out of the page cache: every WRITEBACK_WINDOW bytes, writeback of the
 * newest window is started, and the window before it (whose writeback was started one step
 * earlier) is waited for and dropped from the cache. A container's memory limit then holds the
 * receiver's buffers, not gigabytes of its own output, and the final fsync has little left.
 */
#define WRITEBACK_WINDOW (8U << 20)

struct pacer {
        int fd;
        uint64_t started; /* writeback started up to here */
        uint64_t dropped; /* written back and dropped up to here */
};

static void pacer_update(struct pacer *p, uint64_t written) {
        if (written - p->started < WRITEBACK_WINDOW)
                return;
        (void) sync_file_range(p->fd, (off_t) p->started, (off_t) (written - p->started), SYNC_FILE_RANGE_WRITE);
        if (p->started > p->dropped) {
                off_t off = (off_t) p->dropped, len = (off_t) (p->started - p->dropped);
                (void) sync_file_range(p->fd, off, len,
                                       SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
                (void) posix_fadvise(p->fd, off, len, POSIX_FADV_DONTNEED);
                p->dropped = p->started;
        }
        p->started = written;
}

static void zstd_freep(ZSTD_CCtx **c) {
        ZSTD_freeCCtx(*c);
}

/* Compresses in (possibly empty) with the given directive and writes everything produced. */
static int compress_and_write(ZSTD_CCtx *cctx, int out_fd, const void *in, size_t in_len, ZSTD_EndDirective mode,
                              void *outbuf, size_t outsize, uint64_t *stored) {
        ZSTD_inBuffer input = { in, in_len, 0 };
        for (;;) {
                ZSTD_outBuffer output = { outbuf, outsize, 0 };
                size_t remaining = ZSTD_compressStream2(cctx, &output, &input, mode);
                if (ZSTD_isError(remaining))
                        return -EIO;
                if (output.pos > 0) {
                        int r = write_full(out_fd, outbuf, output.pos);
                        if (r < 0)
                                return r;
                        *stored += output.pos;
                }
                bool finished = mode == ZSTD_e_end ? remaining == 0 : input.pos == input.size;
                if (finished)
                        return 0;
        }
}

int store_core(int dirfd, const char *name, int *core_fd, uint64_t limit, const struct store_options *o,
               struct store_result *ret) {
        struct store_result res = { 0 };
        char tmpname[128];
        bool named = false;
        _cleanup_(zstd_freep) ZSTD_CCtx *cctx = NULL;
        _cleanup_free_ void *inbuf = NULL, *outbuf = NULL;
        size_t outsize = ZSTD_CStreamOutSize();
        int r;

        _cleanup_close_ int fd = open_unnamed(dirfd, tmpname, sizeof(tmpname), &named);
        if (fd < 0) {
                r = fd;
                goto fail;
        }
        cctx = ZSTD_createCCtx();
        inbuf = malloc(o->read_size);
        outbuf = malloc(outsize);
        if (!cctx || !inbuf || !outbuf) {
                r = -ENOMEM;
                goto fail;
        }
        if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, o->compress_level)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1))) {
                r = -EINVAL;
                goto fail;
        }
        /* Worker threads are optional: a libzstd built without them reports an error here,
         * and the single-threaded path still works. */
        if (o->workers > 0)
                (void) ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, o->workers);

        struct pacer pacer = { .fd = fd };
        for (;;) {
                size_t want = o->read_size;
                if (res.core_size >= limit) {
                        /* At the limit: one probe tells whether the core goes on. */
                        char probe;
                        ssize_t k = read(*core_fd, &probe, 1);
                        if (k < 0 && errno == EINTR)
                                continue;
                        res.truncated = k > 0;
                        break;
                }
                if (limit - res.core_size < want)
                        want = (size_t) (limit - res.core_size);
                ssize_t n = read(*core_fd, inbuf, want);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = negative_errno();
                        goto fail;
                }
                if (n == 0)
                        break;
                res.core_size += (uint64_t) n;
                if (!o->compress) {
                        r = write_full(fd, inbuf, (size_t) n);
                        res.stored_size += (uint64_t) n;
                } else
                        r = compress_and_write(cctx, fd, inbuf, (size_t) n, ZSTD_e_continue, outbuf, outsize,
                                               &res.stored_size);
                if (r < 0)
                        goto fail;
                pacer_update(&pacer, res.stored_size);
        }

        /* The last byte is read: let the crashed process go before the slow tail. */
        *core_fd = safe_close(*core_fd);
        res.released_usec = now_monotonic_usec();

        if (o->compress) {
                r = compress_and_write(cctx, fd, NULL, 0, ZSTD_e_end, outbuf, outsize, &res.stored_size);
                if (r < 0)
                        goto fail;
        }
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
