/* SPDX-License-Identifier: MIT */
/*
 * The store under faults and attacks:
 *   - a core pipe whose read() fails mid-core: an error, nothing linked, and no thread of the
 *     compressor left touching freed buffers (ASan saw a use-after-free here);
 *   - every allocation and thread start of compressor_new() and store_core() failing in turn
 *     (the link wraps malloc, calloc, posix_memalign and pthread_create: see meson.build);
 *   - out of space: a full file system (a small tmpfs mounted by the test in its own mount
 *     namespace) and a budget: the core is kept cut at its last whole zstd frame (or last
 *     byte), a valid stream holding a prefix of the core, with room left for its record;
 *   - the observer sees every byte once, in order;
 *   - a store that strangers could write to: links, FIFOs, hard links and directories planted
 *     where the receiver reads, writes or removes, a store that is a link, a parent that is a
 *     link, the wrong owner or mode: nothing outside the store is touched, nothing hangs;
 *   - vacuum_tree() over more container directories than the descriptor limit.
 * The attacks need root (chown, mount); they fail instead of skipping when
 * CORE_PIPE_TESTS_MUST_RUN=1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zstd.h>

#include "compress.h"
#include "fdio.h"
#include "macro.h"
#include "settings.h"
#include "store.h"
#include "tap.h"
#include "vacuum.h"

/* ---- allocation and thread faults --------------------------------------------------------- */

/* The call (1-based, counted over the wrapped functions) that fails; 0: none. */
static int fault_at, fault_calls;

static bool fault_now(void) {
        int n = __atomic_add_fetch(&fault_calls, 1, __ATOMIC_SEQ_CST);
        return n == __atomic_load_n(&fault_at, __ATOMIC_SEQ_CST);
}

static void fault_arm(int at) {
        __atomic_store_n(&fault_calls, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&fault_at, at, __ATOMIC_SEQ_CST);
}

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
int __real_posix_memalign(void **p, size_t align, size_t size);
int __real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
int __wrap_posix_memalign(void **p, size_t align, size_t size);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);

void *__wrap_malloc(size_t size) {
        return fault_now() ? (errno = ENOMEM, NULL) : __real_malloc(size);
}
void *__wrap_calloc(size_t n, size_t size) {
        return fault_now() ? (errno = ENOMEM, NULL) : __real_calloc(n, size);
}
int __wrap_posix_memalign(void **p, size_t align, size_t size) {
        return fault_now() ? ENOMEM : __real_posix_memalign(p, align, size);
}
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
        return fault_now() ? EAGAIN : __real_pthread_create(t, a, fn, arg);
}

/* ---- helpers ---------------------------------------------------------------------------------- */

static bool is_root;

static bool need_root(const char *what) {
        if (is_root)
                return true;
        const char *must = getenv("CORE_PIPE_TESTS_MUST_RUN");
        if (must && strcmp(must, "1") == 0)
                CHECK(false, "%s: needs root, and CORE_PIPE_TESTS_MUST_RUN=1", what);
        else
                printf("ok %d - # SKIP %s: needs root\n", ++tap_n, what);
        return false;
}

static uint8_t *random_bytes(size_t size) {
        uint8_t *p = malloc(size);
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < size; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                p[i] = (uint8_t) x;
        }
        return p;
}

/* Decompresses a whole zstd stream: its length, or -1 if it is not one (a cut frame). */
static ssize_t unzstd(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_cap) {
        ZSTD_DCtx *d = ZSTD_createDCtx();
        ZSTD_inBuffer ib = {in, in_len, 0};
        ZSTD_outBuffer ob = {out, out_cap, 0};
        size_t last = 1;
        while (ib.pos < ib.size) {
                last = ZSTD_decompressStream(d, &ob, &ib);
                if (ZSTD_isError(last) || ob.pos == ob.size)
                        break;
        }
        ZSTD_freeDCtx(d);
        return last == 0 && ib.pos == ib.size ? (ssize_t) ob.pos : -1;
}

static uint8_t *read_file(int dirfd, const char *name, size_t *len) {
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        uint8_t *buf = NULL;
        *len = 0;
        if (fd >= 0 && fstat(fd, &st) == 0) {
                buf = malloc((size_t) st.st_size + 1);
                ssize_t n = read_full(fd, buf, (size_t) st.st_size);
                *len = n > 0 ? (size_t) n : 0;
        }
        if (fd >= 0)
                close(fd);
        return buf;
}

/* Entries of dirfd other than "." and "..". */
static int count_entries(int dirfd) {
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d)))
                n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        if (d)
                closedir(d);
        return n;
}

static void empty_dir(int dirfd) {
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        if (unlinkat(dirfd, de->d_name, 0) < 0)
                                (void) unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
        if (d)
                closedir(d);
}

struct feeder {
        int fd;
        const uint8_t *data;
        size_t len;
        bool reset; /* close with unread data queued: the reader gets ECONNRESET after len bytes */
};

static void *feed(void *arg) {
        struct feeder *f = arg;
        (void) write_full(f->fd, f->data, f->len);
        close(f->fd);
        return NULL;
}

struct observed {
        uint8_t *buf;
        size_t cap;
        uint64_t next; /* the offset the next call must have */
        unsigned calls;
        bool in_order;
};

static void observe(void *userdata, uint64_t offset, const void *data, size_t len) {
        struct observed *ob = userdata;
        ob->calls++;
        if (offset != ob->next || offset + len > ob->cap || len == 0) {
                ob->in_order = false;
                return;
        }
        memcpy(ob->buf + offset, data, len);
        ob->next = offset + len;
}

/* For store_fed(): the call of store_core() that fails; 0: none. */
static int store_fault_at;

struct run {
        int r;
        bool faulted;
        struct store_result res;
        uint8_t *file;
        size_t file_len;
};

/*
 * Feeds in[0..len) to store_core() through a pipe (or, with reset, a socket that fails after
 * len bytes) and reads the stored file back as name in dirfd (then removes it).
 */
static struct run store_fed(int dirfd, const uint8_t *in, size_t len, bool reset, uint64_t limit, uint64_t budget,
                            struct store_options o) {
        struct run run = {0};
        int p[2];
        if (reset ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0 : pipe2(p, O_CLOEXEC) < 0) {
                run.r = -errno;
                return run;
        }
        if (reset)
                (void) write(p[0], "x", 1); /* unread on the feeder's side: its close resets */
        struct feeder f = {p[1], in, len, reset};
        pthread_t t;
        pthread_create(&t, NULL, feed, &f);
        int core = p[0];
        fault_arm(store_fault_at); /* only store_core()'s own calls fail */
        run.r = store_core(dirfd, "core.t.zst", &core, limit, budget, &o, &run.res);
        run.faulted = store_fault_at > 0 && __atomic_load_n(&fault_calls, __ATOMIC_SEQ_CST) >= store_fault_at;
        fault_arm(0);
        if (core >= 0) {
                close(core);
                run.r = -EBADFD; /* the core descriptor must always be closed */
        }
        pthread_join(t, NULL);
        run.file = read_file(dirfd, "core.t.zst", &run.file_len);
        (void) unlinkat(dirfd, "core.t.zst", 0);
        return run;
}

static const struct store_options zstd_opts = {
        .compress = true, .compress_level = 1, .workers = 2, .chunk_size = 1 << 20};
static const struct store_options raw_opts = {.compress = false, .chunk_size = 1 << 20};

/* ---- 1. lifetimes ------------------------------------------------------------------------------- */

static void read_error(int dirfd, const uint8_t *in) {
        /* Incompressible data keeps the writer busy: when the read fails, frames are still being
         * written, which is when the old code freed the writer's buffer under it. */
        int bad = 0;
        for (int i = 0; i < 12; i++) {
                size_t at = ((size_t) (4 + i % 5) << 20) + (size_t) i * 4099;
                struct run run = store_fed(dirfd, in, at, true, UINT64_MAX, UINT64_MAX, zstd_opts);
                bad += run.r != -ECONNRESET || run.file != NULL || count_entries(dirfd) != 0;
                free(run.file);
        }
        CHECK(bad == 0, "read error mid-core (12 runs, compressed): ECONNRESET, nothing linked, nothing left (%d bad)",
              bad);
        struct run run = store_fed(dirfd, in, 3u << 20, true, UINT64_MAX, UINT64_MAX, raw_opts);
        CHECK(run.r == -ECONNRESET && !run.file && count_entries(dirfd) == 0,
              "read error mid-core, uncompressed: ECONNRESET, nothing linked (%d)", run.r);
        free(run.file);
}

static int failing_write(void *userdata, const void *frame, size_t len, size_t in_len) {
        int *n = userdata;
        return ++*n == 3 ? -EIO : 0;
}

/* Every allocation and thread start of compressor_new(), failing in turn. */
static void compressor_faults(void) {
        int failures = 0, bad = 0, at;
        for (at = 1; at < 200; at++) {
                int writes = 0;
                struct compressor *c = NULL;
                struct compressor_params p = {
                        .level = 1, .workers = 3, .chunk_size = 65536, .write = failing_write, .userdata = &writes};
                fault_arm(at);
                int r = compressor_new(&p, &c);
                fault_arm(0);
                if (r >= 0) {
                        compressor_free(c);
                        break;
                }
                failures++;
                bad += r != -ENOMEM && r != -EAGAIN;
        }
        CHECK(failures > 10 && bad == 0,
              "compressor_new(): each of its %d allocations and thread starts failing in turn is an error, no crash",
              at - 1);
}

/* Every allocation of store_core() (and of its compressor), failing in turn. */
static void store_faults(int dirfd, const uint8_t *in) {
        int bad = 0, at;
        for (int compress = 0; compress <= 1; compress++)
                for (at = 1; at < 100; at++) {
                        store_fault_at = at;
                        struct run run = store_fed(dirfd, in, 3u << 20, false, UINT64_MAX, UINT64_MAX,
                                                   compress ? zstd_opts : raw_opts);
                        store_fault_at = 0;
                        free(run.file);
                        if (!run.faulted)
                                break;
                        /* posix_memalign failing only costs O_DIRECT: the core is stored whole; any
                         * other failure is an error with nothing linked. */
                        bad += run.r < 0 ? run.file != NULL : run.file_len == 0;
                        bad += count_entries(dirfd) != 0;
                }
        CHECK(bad == 0, "store_core(): each allocation failing in turn is an error with nothing linked, or no harm");
}

static void failing_frame(int dirfd, const uint8_t *in) {
        /* A frame write that fails for another reason than space is an error, never a cut. */
        struct rlimit old;
        getrlimit(RLIMIT_FSIZE, &old);
        struct rlimit small = {1 << 20, old.rlim_max};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &small);
        struct run run = store_fed(dirfd, in, 8u << 20, false, UINT64_MAX, UINT64_MAX, zstd_opts);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(run.r == -EFBIG && !run.file && count_entries(dirfd) == 0,
              "a write failing mid-core with EFBIG (not space): the error, nothing linked (%d)", run.r);
        free(run.file);
}

/* ---- 3. out of space ------------------------------------------------------------------------- */

/* The kept file is a valid stream whose content is the start of the core. */
static void check_cut(const char *what, struct run *run, const uint8_t *in, size_t len, bool compressed,
                      uint64_t max_stored) {
        uint8_t *back = malloc(len + 1);
        ssize_t k = -1;
        if (run->file)
                k = compressed ? unzstd(run->file, run->file_len, back, len + 1) : (ssize_t) run->file_len;
        const uint8_t *plain = compressed ? back : run->file;
        CHECK(run->r == 0 && run->file && k > 0 && (size_t) k < len && memcmp(plain, in, (size_t) k) == 0,
              "%s: kept, %s holding the first %zd bytes of the core (%d)", what,
              compressed ? "a valid zstd stream" : "a file", k, run->r);
        CHECK(run->res.truncated && run->res.truncated_reason && strcmp(run->res.truncated_reason, "out of space") == 0,
              "%s: marked truncated, \"out of space\"", what);
        CHECK(run->res.core_size == (uint64_t) k && run->res.stored_size == run->file_len &&
                      run->res.stored_size <= max_stored,
              "%s: core_size %llu = kept bytes, stored_size %llu = the file, at most %llu", what,
              (unsigned long long) run->res.core_size, (unsigned long long) run->res.stored_size,
              (unsigned long long) max_stored);
        CHECK(run->res.read_size < len, "%s: the rest of the core was not read (%llu of %zu)", what,
              (unsigned long long) run->res.read_size, len);
        free(back);
}

static void write_named(int dirfd, const char *name, size_t size) {
        _cleanup_free_ char *buf = calloc(1, size);
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        (void) write_full(fd, buf, size);
        close(fd);
}

/* A store filled by older cores makes room for a new one; filled by something else, it is
 * full, and store_room() says how full. */
static void full_fs_room(int dirfd) {
        struct receiver_settings s;
        struct store_space sp;
        struct vacuum_result vr;
        settings_defaults(&s);
        s.max_use = (struct size_limit){.percent = true, .value = 100};
        s.keep_free = (struct size_limit){.value = 100 << 10};
        for (int i = 0; i < 3; i++) {
                char name[64];
                snprintf(name, sizeof(name), "core.x.0.b.1.%d.zst", 100 + i);
                write_named(dirfd, name, 300 << 10);
        }
        int r0 = store_room(dirfd, &s, &sp);
        int r = vacuum_store(dirfd, &s, NULL, &vr);
        int r1 = store_room(dirfd, &s, &sp);
        CHECK(r0 == 0 && r == 0 && vr.removed == 1 && r1 == 1 && faccessat(dirfd, "core.x.0.b.1.100.zst", F_OK, 0) < 0,
              "full of older cores: vacuuming before a core removes the oldest to make room (%d %d %u %d)", r0, r,
              vr.removed, r1);
        empty_dir(dirfd);
        write_named(dirfd, "filler", 900 << 10);
        r = vacuum_store(dirfd, &s, NULL, &vr);
        r1 = store_room(dirfd, &s, &sp);
        CHECK(r == 0 && r1 == 0 && sp.keep_free == 100 << 10 && sp.free < (200 << 10) && sp.budget < STORE_MIN_BUDGET,
              "full of something else: no room (%llu bytes free, KeepFree=%llu, budget %llu)",
              (unsigned long long) sp.free, (unsigned long long) sp.keep_free, (unsigned long long) sp.budget);
        empty_dir(dirfd);
}

/* Many small frames staged at once (more than the output keeps ends of) on a file system that
 * fills up, and the same with room: the cut still ends on a whole frame, the whole still reads
 * back byte for byte. */
static void small_frames(int dirfd) {
        size_t len = 8u << 20;
        uint8_t *in = calloc(1, len), *noise = random_bytes(len / 8);
        for (size_t page = 0; page < len / 4096; page++)
                memcpy(in + page * 4096, noise + page * 512, 512);
        struct store_options o = zstd_opts;
        o.chunk_size = 4096;
        write_named(dirfd, "filler", 800 << 10);
        struct run run = store_fed(dirfd, in, len, false, UINT64_MAX, UINT64_MAX, o);
        check_cut("small frames on a full tmpfs", &run, in, len, true, 1u << 20);
        free(run.file);
        empty_dir(dirfd);
        run = store_fed(dirfd, in, 1u << 20, false, UINT64_MAX, UINT64_MAX, o);
        uint8_t *back = malloc((1u << 20) + 1);
        ssize_t k = run.file ? unzstd(run.file, run.file_len, back, (1u << 20) + 1) : -1;
        CHECK(run.r == 0 && k == 1 << 20 && memcmp(back, in, 1u << 20) == 0 && !run.res.truncated,
              "256 small frames with room: the whole core, byte for byte (%zd)", k);
        free(back);
        free(run.file);
        empty_dir(dirfd);
        free(noise);
        free(in);
}

static void full_fs(const uint8_t *in, size_t len) {
        if (!need_root("a full file system (tmpfs mounted in a private mount namespace)"))
                return;
        char dir[] = "/var/tmp/core_pipe-unit-full.XXXXXX";
        if (!mkdtemp(dir) || mount("full", dir, "tmpfs", 0, "size=1m,mode=0700") < 0) {
                CHECK(false, "mount a 1 MiB tmpfs on %s: %s", dir, strerror(errno));
                return;
        }
        int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (int compress = 1; compress >= 0; compress--) {
                const char *what = compress ? "full tmpfs, zstd" : "full tmpfs, uncompressed";
                struct observed ob = {.buf = malloc(len), .cap = len, .in_order = true};
                struct store_options o = compress ? zstd_opts : raw_opts;
                o.observe = observe;
                o.observe_userdata = &ob;
                o.chunk_size = 128 << 10; /* no budget here: the file system itself fills up */
                struct run run = store_fed(dirfd, in, len, false, UINT64_MAX, UINT64_MAX, o);
                check_cut(what, &run, in, len, compress, 1u << 20);
                CHECK(ob.in_order && ob.next == run.res.read_size && memcmp(ob.buf, in, ob.next) == 0,
                      "%s: the observer saw every byte read, once, in order (%llu)", what,
                      (unsigned long long) ob.next);
                /* Put the core back, as the receiver would have it, then its record. */
                int fd = openat(dirfd, "core.t.zst", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                (void) write_full(fd, run.file, run.file_len);
                close(fd);
                char record[32 << 10];
                memset(record, ' ', sizeof(record));
                int r = store_file_atomic(dirfd, "core.t.json", record, sizeof(record));
                CHECK(r == 0, "%s: a 32 KiB record still fits beside the cut core (%d)", what, r);
                empty_dir(dirfd);
                free(run.file);
                free(ob.buf);
        }
        full_fs_room(dirfd);
        small_frames(dirfd);
        close(dirfd);
        umount2(dir, MNT_DETACH);
        rmdir(dir);
}

static void budget(int dirfd, const uint8_t *in, size_t len) {
        uint64_t b = 700u << 10;
        struct run run = store_fed(dirfd, in, len, false, UINT64_MAX, b, zstd_opts);
        check_cut("budget 700 KiB, zstd", &run, in, len, true, b);
        CHECK(run.res.stored_size > b / 2, "budget 700 KiB, zstd: small frames, little of the budget lost (%llu kept)",
              (unsigned long long) run.res.stored_size);
        free(run.file);
        run = store_fed(dirfd, in, len, false, UINT64_MAX, b, raw_opts);
        check_cut("budget 700 KiB, uncompressed", &run, in, len, false, b);
        CHECK(run.file_len == b, "budget 700 KiB, uncompressed: cut at exactly the budget (%zu)", run.file_len);
        free(run.file);
        run = store_fed(dirfd, in, len, false, UINT64_MAX, 1000, zstd_opts);
        CHECK(run.r == -ENOSPC && !run.file && count_entries(dirfd) == 0,
              "budget below one frame: ENOSPC and nothing linked (%d)", run.r);
        free(run.file);
        /* The size limit inside the budget: cut by the limit, not for space. */
        run = store_fed(dirfd, in, len, false, 100000, b, raw_opts);
        CHECK(run.r == 0 && run.file_len == 100000 && run.res.truncated &&
                      strcmp(run.res.truncated_reason, "size limit") == 0 && run.res.read_size == 100000,
              "a limit within the budget: truncated for the size limit, exactly the limit read");
        free(run.file);
}

static void observer(int dirfd, const uint8_t *in, size_t len) {
        for (int compress = 1; compress >= 0; compress--) {
                struct observed ob = {.buf = malloc(len), .cap = len, .in_order = true};
                struct store_options o = compress ? zstd_opts : raw_opts;
                o.observe = observe;
                o.observe_userdata = &ob;
                o.chunk_size = 65536 + 4095; /* odd chunks: offsets must still line up */
                struct run run = store_fed(dirfd, in, len, false, UINT64_MAX, UINT64_MAX, o);
                CHECK(run.r == 0 && ob.in_order && ob.next == len && memcmp(ob.buf, in, len) == 0 &&
                              ob.calls >= len / o.chunk_size,
                      "observer (%s): every byte exactly once, in order (%llu bytes in %u calls)",
                      compress ? "zstd" : "uncompressed", (unsigned long long) ob.next, ob.calls);
                free(run.file);
                memset(ob.buf, 0, len);
                ob.next = 0;
                ob.calls = 0;
                ob.in_order = true;
                run = store_fed(dirfd, in, len, false, 1234567, UINT64_MAX, o);
                CHECK(run.r == 0 && ob.in_order && ob.next == 1234567 && memcmp(ob.buf, in, ob.next) == 0,
                      "observer (%s) with a limit: exactly the bytes up to the limit",
                      compress ? "zstd" : "uncompressed");
                free(run.file);
                free(ob.buf);
        }
}

/* ---- 2. a store that strangers could write to ----------------------------------------------- */

#define STRANGER 1000

/* A root-only file outside the store, and what it held. */
struct victim {
        char path[128];
        struct stat st;
};

static void victim_make(struct victim *v, const char *base) {
        snprintf(v->path, sizeof(v->path), "%s/victim", base);
        int fd = open(v->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        (void) write_full(fd, "secret\n", 7);
        close(fd);
        stat(v->path, &v->st);
}

static bool victim_intact(const struct victim *v) {
        struct stat st;
        char buf[16] = "";
        size_t n = 0;
        return stat(v->path, &st) == 0 && st.st_size == 7 && st.st_mtim.tv_sec == v->st.st_mtim.tv_sec &&
               st.st_mtim.tv_nsec == v->st.st_mtim.tv_nsec && st.st_ctim.tv_nsec == v->st.st_ctim.tv_nsec &&
               st.st_nlink == v->st.st_nlink && read_small_file_at(AT_FDCWD, v->path, buf, sizeof(buf), &n) == 0 &&
               strcmp(buf, "secret\n") == 0;
}

static int plant_link(int dirfd, const char *name, const char *target) {
        (void) unlinkat(dirfd, name, 0);
        if (symlinkat(target, dirfd, name) < 0)
                return -errno;
        return fchownat(dirfd, name, STRANGER, STRANGER, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static void alarm_handler(int sig) {
        (void) sig;
        static const char msg[] = "Bail out! hung (a FIFO opened for reading?)\n";
        (void) write(STDOUT_FILENO, msg, sizeof(msg) - 1);
        _exit(1);
}

static void planted_state(int dirfd, const struct victim *v) {
        struct receiver_settings s;
        unsigned recent;
        char tmp[64];
        settings_defaults(&s);
        snprintf(tmp, sizeof(tmp), ".rate.%d", (int) getpid());
        plant_link(dirfd, tmp, v->path);
        plant_link(dirfd, ".rate", v->path);
        int r = rate_limit_admit(dirfd, &s, now_realtime_usec(), &recent);
        struct stat st;
        CHECK(r == 1 && victim_intact(v), "planted .rate.<pid> and .rate links: admitted, the file outside untouched");
        CHECK(fstatat(dirfd, ".rate", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0,
              "...and .rate is now the receiver's own regular file");
        empty_dir(dirfd);
        mkfifoat(dirfd, ".rate", 0666);
        alarm(20);
        r = rate_limit_admit(dirfd, &s, now_realtime_usec(), &recent);
        alarm(0);
        CHECK(r == 1 && recent == 0, "a FIFO planted as .rate: no hang, counted as empty and replaced");
        empty_dir(dirfd);
        mkdirat(dirfd, ".rate", 0777);
        r = rate_limit_admit(dirfd, &s, now_realtime_usec(), &recent);
        CHECK(r < 0, "a directory planted as .rate: an error (the caller warns and admits), no harm (%d)", r);
        empty_dir(dirfd);
}

static void planted_names(int dirfd, const struct victim *v, const uint8_t *in) {
        plant_link(dirfd, "core.t.zst", v->path);
        int p[2];
        pipe2(p, O_CLOEXEC);
        (void) write(p[1], in, 4096);
        close(p[1]);
        struct store_result res;
        int r = store_core(dirfd, "core.t.zst", &p[0], UINT64_MAX, UINT64_MAX, &zstd_opts, &res);
        CHECK(r == -EEXIST && p[0] < 0 && victim_intact(v),
              "a link planted as the core's name: EEXIST, the file outside untouched");
        plant_link(dirfd, "core.t.json", v->path);
        r = store_file_atomic(dirfd, "core.t.json", "{}", 2);
        CHECK(r == -EEXIST && victim_intact(v),
              "a link planted as the record's name: EEXIST, the file outside untouched");
        empty_dir(dirfd);
        mkfifoat(dirfd, "core.t.json", 0666);
        alarm(20);
        r = store_file_atomic(dirfd, "core.t.json", "{}", 2);
        alarm(0);
        CHECK(r == -EEXIST, "a FIFO planted as the record's name: EEXIST, no hang");
        empty_dir(dirfd);
}

static void planted_for_vacuum(int dirfd, const struct victim *v) {
        struct receiver_settings s;
        struct vacuum_result vr;
        settings_defaults(&s);
        s.max_use = (struct size_limit){.value = 0}; /* remove everything removable */
        s.keep_free = (struct size_limit){.value = 0};
        struct victim linked = *v;
        linkat(AT_FDCWD, v->path, dirfd, "core.a.0.b.1.100.zst", 0);
        stat(linked.path, &linked.st); /* one more link now: that is the state to keep */
        v = &linked;
        plant_link(dirfd, "core.a.0.b.1.200.zst", v->path);
        mkdirat(dirfd, "core.a.0.b.1.300.json", 0777);
        int fd = openat(dirfd, "core.a.0.b.1.400.zst", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        (void) write_full(fd, "core", 4);
        close(fd);
        struct stat st;
        int r = vacuum_store(dirfd, &s, NULL, &vr);
        CHECK(r == 0 && vr.removed == 1 && victim_intact(v) && faccessat(dirfd, "core.a.0.b.1.400.zst", F_OK, 0) < 0,
              "vacuum: the receiver's own core removed (%u), the file outside untouched (%d)", vr.removed, r);
        CHECK(fstatat(dirfd, "core.a.0.b.1.100.zst", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink == 2 &&
                      vr.freed <= 4096,
              "vacuum: a hard link to a file outside is neither counted nor removed (freed %llu)",
              (unsigned long long) vr.freed);
        empty_dir(dirfd);
}

static void store_dir_checks(const char *base) {
        char path[256], note[512];
        struct stat st;
        snprintf(path, sizeof(path), "%s/a/b/store", base);
        int fd = open_store_dir(path, note, sizeof(note));
        CHECK(fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0700 && st.st_uid == geteuid() && !note[0],
              "open_store_dir() creates the store and its parents, mode 0700, ours");
        safe_close(fd);
        chmod(path, 01777);
        fd = open_store_dir(path, note, sizeof(note));
        CHECK(fd >= 0 && stat(path, &st) == 0 && (st.st_mode & 07777) == 0700 && strstr(note, "had mode 1777"),
              "a store of ours with mode 1777 is made 0700, and the note says so (%s)", note);
        safe_close(fd);
        chown(path, STRANGER, STRANGER);
        fd = open_store_dir(path, note, sizeof(note));
        CHECK(fd == -EPERM && strstr(note, path) && strstr(note, "owned by uid 1000") && strstr(note, "mode 0700"),
              "a store owned by another user is refused, naming path, owner and mode (%s)", note);
        chown(path, 0, 0);
        snprintf(path, sizeof(path), "%s/linked", base);
        char target[256];
        snprintf(target, sizeof(target), "%s/a/b/store", base);
        symlink(target, path);
        fd = open_store_dir(path, note, sizeof(note));
        CHECK(fd == -ELOOP && strstr(note, "symbolic link"), "a store that is a link is refused (%s)", note);
        /* A parent that is a link made by a stranger, pointing to a directory of theirs. */
        snprintf(path, sizeof(path), "%s/evil", base);
        mkdir(path, 0700);
        chown(path, STRANGER, STRANGER);
        snprintf(path, sizeof(path), "%s/a/x", base);
        symlink("../evil", path);
        lchown(path, STRANGER, STRANGER);
        snprintf(path, sizeof(path), "%s/a/x/store", base);
        fd = open_store_dir(path, note, sizeof(note));
        snprintf(target, sizeof(target), "%s/evil/store", base);
        CHECK(fd == -ELOOP && access(target, F_OK) < 0 && strstr(note, "owned by uid 1000"),
              "a parent that is a stranger's link: refused, nothing created through it (%s)", note);
        snprintf(path, sizeof(path), "%s/a/x", base);
        lchown(path, 0, 0);
        snprintf(path, sizeof(path), "%s/a/x/store", base);
        fd = open_store_dir(path, note, sizeof(note));
        CHECK(fd == -EPERM && strstr(note, "/a/x is owned by uid 1000"),
              "a parent that is root's link to a stranger's directory: refused (%s)", note);
        snprintf(path, sizeof(path), "%s/evil", base);
        chown(path, 0, 0);
        snprintf(path, sizeof(path), "%s/a/x/store", base);
        fd = open_store_dir(path, note, sizeof(note));
        CHECK(fd >= 0, "a parent that is root's link to root's directory: followed (%s)", note);
        safe_close(fd);
        snprintf(path, sizeof(path), "%s/a", base);
        chmod(path, 0777);
        snprintf(path, sizeof(path), "%s/a/b/store", base);
        fd = open_store_dir(path, note, sizeof(note));
        CHECK(fd == -EPERM && strstr(note, "mode 0777"), "a parent writable by others (not sticky): refused (%s)",
              note);
        snprintf(path, sizeof(path), "%s/a", base);
        chmod(path, 01777);
        snprintf(path, sizeof(path), "%s/a/b/store", base);
        fd = open_store_dir(path, note, sizeof(note));
        CHECK(fd >= 0, "a sticky parent writable by others (as /tmp): accepted (%s)", note);
        safe_close(fd);
        snprintf(path, sizeof(path), "%s/a/file", base);
        close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
        fd = open_store_dir(path, note, sizeof(note));
        CHECK(fd == -ENOTDIR && strstr(note, "not a directory"), "a store that is a file: refused (%s)", note);
}

static void hostile_store(const uint8_t *in) {
        if (!need_root("a store strangers could write to (chown)"))
                return;
        char base[] = "/var/tmp/core_pipe-unit-hostile.XXXXXX", store[128];
        if (!mkdtemp(base))
                return;
        struct victim v;
        victim_make(&v, base);
        snprintf(store, sizeof(store), "%s/store", base);
        mkdir(store, 01777);
        chmod(store, 01777);
        int dirfd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        signal(SIGALRM, alarm_handler);
        planted_state(dirfd, &v);
        planted_names(dirfd, &v, in);
        planted_for_vacuum(dirfd, &v);
        close(dirfd);
        store_dir_checks(base);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
        (void) system(cmd);
}

/* ---- vacuum_tree() and the descriptor limit ------------------------------------------------- */

static void many_containers(void) {
        char base[] = "/var/tmp/core_pipe-unit-tree.XXXXXX", path[256];
        if (!mkdtemp(base))
                return;
        int rootfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        mkdirat(rootfd, "containers", 0700);
        mkdirat(rootfd, "host", 0700);
        int cfd = openat(rootfd, "containers", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char block[4096];
        memset(block, 'c', sizeof(block));
        /* 100 containers, one 4 KiB core each; the oldest in container 99. */
        for (int i = 0; i < 100; i++) {
                snprintf(path, sizeof(path), "mntns-%d", i);
                mkdirat(cfd, path, 0700);
                snprintf(path, sizeof(path), "mntns-%d/core.x.0.b.1.%d.zst", i, 1000 + (99 - i));
                int fd = openat(cfd, path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                (void) write_full(fd, block, sizeof(block));
                fsync(fd);
                close(fd);
        }
        struct receiver_settings s;
        settings_defaults(&s);
        s.max_use = (struct size_limit){.value = 50 * 4096};
        s.keep_free = (struct size_limit){.value = 0};
        struct tree_result tr = {0};
        struct tree_request req = {.host = true};
        struct rlimit old, few = {24, 24};
        getrlimit(RLIMIT_NOFILE, &old);
        setrlimit(RLIMIT_NOFILE, &few);
        int r = vacuum_tree(rootfd, &s, &req, &tr);
        setrlimit(RLIMIT_NOFILE, &old);
        struct vacuum_result vr = tr.v;
        snprintf(path, sizeof(path), "mntns-99/core.x.0.b.1.1000.zst");
        CHECK(r == 0 && vr.removed == 50 && vr.used <= 50 * 4096 && faccessat(cfd, path, F_OK, 0) < 0,
              "vacuum_tree() with 100 containers and 24 descriptors: the 50 oldest removed, the oldest first (%d, %u "
              "removed)",
              r, vr.removed);
        close(cfd);
        close(rootfd);
        snprintf(path, sizeof(path), "rm -rf '%s'", base);
        (void) system(path);
}

/* A stream that ends before its first byte (a process killed as its dump began) is no core:
 * -ENODATA and nothing linked, compressed or not (an empty .zst file does not decompress). */
static void empty_stream(int dirfd, const uint8_t *in) {
        const struct store_options *opts[] = {&zstd_opts, &raw_opts};
        for (size_t i = 0; i < 2; i++) {
                struct run run = store_fed(dirfd, in, 0, false, UINT64_MAX, UINT64_MAX, *opts[i]);
                CHECK(run.r == -ENODATA && !run.file && count_entries(dirfd) == 0,
                      "empty stream (%s): ENODATA, nothing linked (%d, %s)", i == 0 ? "compressed" : "uncompressed",
                      run.r, run.file ? "a file was linked" : "no file");
                free(run.file);
        }
}

int main(void) {
        size_t size = 12u << 20;
        setvbuf(stdout, NULL, _IOLBF, 0); /* every line out, even if a hang ends the test */
        signal(SIGPIPE, SIG_IGN);
        is_root = geteuid() == 0;
        /* Mounts made here stay in this process's own mount namespace. */
        if (is_root && (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0))
                is_root = false;
        uint8_t *in = random_bytes(size);
        char dir[] = "/var/tmp/core_pipe-unit.XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        read_error(dirfd, in);
        empty_stream(dirfd, in);
        compressor_faults();
        store_faults(dirfd, in);
        failing_frame(dirfd, in);
        observer(dirfd, in, size);
        budget(dirfd, in, 8u << 20);
        full_fs(in, 8u << 20);
        hostile_store(in);
        many_containers();

        close(dirfd);
        rmdir(dir);
        free(in);
        return tap_done();
}
