/* SPDX-License-Identifier: MIT */
/*
 * The parallel compressor and store_core(): what goes in comes out of zstd -d byte for byte,
 * in order, whatever the workers, chunk sizes and short chunks; a failing write stops the
 * reader and is reported; abandoning midway neither hangs nor leaks; the stored file (direct
 * I/O on a disk, the page cache on tmpfs) holds exactly the core, and the limit truncates.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "compress.h"
#include "fdio.h"
#include "macro.h"
#include "store.h"
#include "tap.h"

/* Pages of random bytes, text and zeros, as a core has them. */
static uint8_t *make_input(size_t size) {
        uint8_t *p = malloc(size);
        uint64_t x = 0x2545f4914f6cdd1dULL;
        static const char text[] = "the quick brown core jumps over the lazy pipe; ";
        for (size_t i = 0; i < size; i++) {
                switch ((i / 4096) % 3) {
                case 0:
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        p[i] = (uint8_t) x;
                        break;
                case 1:
                        p[i] = (uint8_t) text[i % (sizeof(text) - 1)];
                        break;
                default:
                        p[i] = 0;
                }
        }
        return p;
}

/* Decompresses all frames of in; the number of bytes, or -1. */
static ssize_t unzstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap, size_t *frames) {
        ZSTD_DCtx *d = ZSTD_createDCtx();
        ZSTD_inBuffer ib = {in, in_len, 0};
        ZSTD_outBuffer ob = {out, out_cap, 0};
        size_t last = 1;
        *frames = 0;
        while (ib.pos < ib.size) {
                last = ZSTD_decompressStream(d, &ob, &ib);
                if (ZSTD_isError(last) || ob.pos == ob.size) {
                        ZSTD_freeDCtx(d);
                        return -1;
                }
                if (last == 0)
                        (*frames)++;
        }
        ZSTD_freeDCtx(d);
        return last == 0 ? (ssize_t) ob.pos : -1;
}

struct sink {
        uint8_t *buf;
        size_t len, cap;
        int frames;
        int fail_at; /* the frame (1-based) whose write fails; 0: never */
};

static int sink_write(void *userdata, const void *frame, size_t len, size_t in_len) {
        struct sink *s = userdata;
        if (++s->frames == s->fail_at)
                return -ENOSPC;
        if (s->len + len > s->cap)
                return -EFBIG;
        memcpy(s->buf + s->len, frame, len);
        s->len += len;
        return 0;
}

static void roundtrip(const uint8_t *in, size_t size, int workers, size_t chunk) {
        struct sink s = {.cap = size + size / 8 + 65536};
        s.buf = malloc(s.cap);
        struct compressor *c = NULL;
        struct compressor_params p = {
                .level = 1, .workers = workers, .chunk_size = chunk, .write = sink_write, .userdata = &s};
        CHECK(compressor_new(&p, &c) == 0, "compressor with %d workers, %zu-byte chunks", workers, chunk);
        size_t off = 0, submitted = 0;
        for (unsigned i = 0; off < size; i++) {
                uint8_t *b = compressor_buffer(c);
                if (!b)
                        break;
                /* Full chunks, and now and then a short one, as short reads give. */
                size_t n = MIN(size - off, (i % 5 == 3) ? chunk / 3 + 1 : chunk);
                memcpy(b, in + off, n);
                compressor_submit(c, n);
                off += n;
                submitted++;
        }
        CHECK(compressor_finish(c) == 0, "...finishes without error");
        compressor_free(c);
        uint8_t *back = malloc(size + 1);
        size_t frames = 0;
        ssize_t k = unzstd(s.buf, s.len, back, size + 1, &frames);
        CHECK(k == (ssize_t) size && memcmp(back, in, size) == 0,
              "...decompresses to the input, in order (%zd of %zu bytes)", k, size);
        CHECK(frames == submitted && s.frames == (int) submitted, "...one frame per chunk (%zu frames, %zu chunks)",
              frames, submitted);
        free(back);
        free(s.buf);
}

static void failing_write(const uint8_t *in, size_t size) {
        struct sink s = {.cap = size + 65536, .fail_at = 3};
        s.buf = malloc(s.cap);
        struct compressor *c = NULL;
        struct compressor_params p = {
                .level = 1, .workers = 2, .chunk_size = 65536, .write = sink_write, .userdata = &s};
        CHECK(compressor_new(&p, &c) == 0, "compressor whose third write fails");
        size_t off = 0, chunks = 0;
        bool stopped = false;
        while (off < size) {
                uint8_t *b = compressor_buffer(c);
                if (!b) {
                        stopped = true;
                        break;
                }
                size_t n = MIN(size - off, (size_t) 65536);
                memcpy(b, in + off, n);
                compressor_submit(c, n);
                off += n;
                chunks++;
        }
        CHECK(stopped && chunks < size / 65536, "...the reader is stopped soon after (%zu of %zu chunks taken)", chunks,
              size / 65536);
        CHECK(compressor_finish(c) == -ENOSPC, "...and the error is the write's (ENOSPC)");
        CHECK(s.frames == 3, "...no frame is written after the failure (%d writes tried)", s.frames);
        compressor_free(c);
        free(s.buf);
}

static void abandoned(const uint8_t *in) {
        struct sink s = {.cap = 1 << 20};
        s.buf = malloc(s.cap);
        struct compressor *c = NULL;
        struct compressor_params p = {
                .level = 1, .workers = 3, .chunk_size = 65536, .write = sink_write, .userdata = &s};
        CHECK(compressor_new(&p, &c) == 0, "compressor abandoned midway");
        for (int i = 0; i < 4; i++) {
                memcpy(compressor_buffer(c), in + (size_t) i * 65536, 65536);
                compressor_submit(c, 65536);
        }
        compressor_free(c); /* no finish: threads stop, buffers go (ASan would report a leak) */
        uint8_t *back = malloc(4 * 65536 + 1);
        size_t frames = 0;
        ssize_t k = s.len ? unzstd(s.buf, s.len, back, 4 * 65536 + 1, &frames) : 0;
        CHECK(k == (ssize_t) (frames * 65536) && (int) frames == s.frames && memcmp(back, in, (size_t) k) == 0,
              "...what was written by then is whole frames (%zu of 4)", frames);
        free(back);
        free(s.buf);
}

struct feeder {
        int fd;
        const uint8_t *data;
        size_t len;
};

/* Writes the core into the pipe; stops at EPIPE when the reader is done early (the limit). */
static void *feed(void *arg) {
        struct feeder *f = arg;
        (void) write_full(f->fd, f->data, f->len);
        close(f->fd);
        return NULL;
}

/* Stores in through a pipe with store_core(); returns the stored file's contents. */
static uint8_t *store_via_pipe(const char *dir, const uint8_t *in, size_t size, uint64_t limit, bool compress,
                               struct store_result *res, size_t *file_len, int *ret) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return NULL;
        struct feeder f = {p[1], in, size};
        pthread_t t;
        pthread_create(&t, NULL, feed, &f);
        int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct store_options o = {.compress = compress, .compress_level = 1, .workers = 2, .chunk_size = 1 << 20};
        int core = p[0];
        *ret = store_core(dirfd, "core.test", &core, limit, UINT64_MAX, &o, res);
        pthread_join(t, NULL);
        uint8_t *buf = NULL;
        int fd = openat(dirfd, "core.test", O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) {
                buf = malloc((size_t) st.st_size + 1);
                *file_len = (size_t) read_full(fd, buf, (size_t) st.st_size);
                close(fd);
        }
        (void) unlinkat(dirfd, "core.test", 0);
        close(dirfd);
        return buf;
}

static void store(const char *where, const uint8_t *in, size_t size) {
        char dir[] = "/var/tmp/core_pipe-unit.XXXXXX", shm[] = "/dev/shm/core_pipe-unit.XXXXXX";
        char *d = strcmp(where, "tmpfs") == 0 ? mkdtemp(shm) : mkdtemp(dir);
        if (!d) {
                CHECK(false, "temporary directory for %s", where);
                return;
        }
        struct store_result res;
        size_t len = 0, frames;
        int r;
        uint8_t *back = malloc(size + 1);

        uint8_t *file = store_via_pipe(d, in, size, UINT64_MAX, true, &res, &len, &r);
        ssize_t k = file ? unzstd(file, len, back, size + 1, &frames) : -1;
        CHECK(r == 0 && k == (ssize_t) size && memcmp(back, in, size) == 0,
              "%s: the stored core decompresses to what went into the pipe", where);
        CHECK(res.core_size == size && res.stored_size == len && !res.truncated,
              "%s: core %llu bytes, stored %llu = the file's %zu", where, (unsigned long long) res.core_size,
              (unsigned long long) res.stored_size, len);
        free(file);

        file = store_via_pipe(d, in, size, 3u << 20, true, &res, &len, &r);
        k = file ? unzstd(file, len, back, size + 1, &frames) : -1;
        CHECK(r == 0 && res.truncated && res.core_size == 3u << 20 && k == 3 << 20 && memcmp(back, in, 3u << 20) == 0,
              "%s: at the limit the core is cut there and marked truncated", where);
        free(file);

        file = store_via_pipe(d, in, size, UINT64_MAX, false, &res, &len, &r);
        CHECK(r == 0 && file && len == size && memcmp(file, in, size) == 0 && res.stored_size == size,
              "%s: without compression the file is the core, byte for byte", where);
        free(file);
        free(back);
        rmdir(d);
}

int main(void) {
        size_t size = (9u << 20) + 12345; /* not a multiple of anything */
        signal(SIGPIPE, SIG_IGN);
        uint8_t *in = make_input(size);

        roundtrip(in, size, 1, 1 << 20);
        roundtrip(in, size, 2, 65536);
        roundtrip(in, size, 4, 4096);
        roundtrip(in, 1, 2, 65536);
        failing_write(in, size);
        abandoned(in);
        store("disk", in, size);
        store("tmpfs", in, size);
        free(in);
        return tap_done();
}
