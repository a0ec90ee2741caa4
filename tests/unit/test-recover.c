/* SPDX-License-Identifier: MIT */
/*
 * The finaliser of cores whose receiver died (recover.h): the cut falls at the end of the last
 * whole zstd frame whose checksum matches, never inside one and never after a bad one; a dead
 * writer's core is linked under its final name with a record that says "receiver died" and how;
 * a live writer's (its marker locked) is left alone; links, strangers' files, bad markers and
 * cores without a marker are never followed nor finalised.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "fdio.h"
#include "macro.h"
#include "recover.h"
#include "store.h"
#include "tap.h"

#define FRAME_IN (300U << 10)

static uint8_t *make_input(size_t size) {
        uint8_t *p = malloc(size);
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < size; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                p[i] = (i / 4096) % 2 ? (uint8_t) x : (uint8_t) (i % 7);
        }
        return p;
}

/* One frame with its checksum, as the receiver's compressor makes them. */
static size_t frame(const void *in, size_t len, void *out, size_t cap) {
        ZSTD_CCtx *c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
        size_t n = ZSTD_compress2(c, out, cap, in, len);
        ZSTD_freeCCtx(c);
        return ZSTD_isError(n) ? 0 : n;
}

/* A file of n whole frames of FRAME_IN bytes each; ends[i] is where frame i ends. */
static int frames_file(int dirfd, const char *name, unsigned n, uint64_t *ends) {
        _cleanup_free_ uint8_t *in = make_input(FRAME_IN);
        size_t cap = ZSTD_compressBound(FRAME_IN);
        _cleanup_free_ uint8_t *out = malloc(cap);
        int fd = openat(dirfd, name, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
        uint64_t off = 0;
        for (unsigned i = 0; i < n; i++) {
                size_t k = frame(in, FRAME_IN, out, cap);
                if (write_full(fd, out, k) < 0)
                        return -EIO;
                off += k;
                ends[i] = off;
        }
        return fd;
}

static void test_cut(int dirfd) {
        uint64_t ends[5], keep = 1, core = 1;
        _cleanup_close_ int fd = frames_file(dirfd, "frames", 5, ends);
        int r = fd < 0 ? fd : recover_zstd_cut(fd, ends[4], NULL, &keep, &core);
        CHECK(r == 0 && keep == ends[4] && core == 5 * FRAME_IN,
              "five whole frames: all kept (%llu of %llu bytes), their content counted", (unsigned long long) keep,
              (unsigned long long) ends[4]);
        /* The last frame half written: cut at the end of the fourth. */
        r = recover_zstd_cut(fd, ends[3] + (ends[4] - ends[3]) / 2, NULL, &keep, &core);
        CHECK(r == 0 && keep == ends[3] && core == 4 * FRAME_IN,
              "a frame half written is cut off at the end of the one before");
        /* One byte short of the whole: the checksum is missing. */
        r = recover_zstd_cut(fd, ends[4] - 1, NULL, &keep, &core);
        CHECK(r == 0 && keep == ends[3], "a frame missing only its checksum's last byte is not whole");
        /* A wrong checksum in the third frame: nothing after it counts, even whole frames. */
        uint8_t b = 0;
        bool ok = pread(fd, &b, 1, (off_t) ends[2] - 1) == 1;
        b ^= 0x5a;
        ok = ok && pwrite(fd, &b, 1, (off_t) ends[2] - 1) == 1;
        CHECK(ok, "corrupted the third frame's checksum");
        r = recover_zstd_cut(fd, ends[4], NULL, &keep, &core);
        CHECK(r == 0 && keep == ends[1] && core == 2 * FRAME_IN,
              "a frame whose checksum does not match ends the core at the frame before, though others follow");
        r = recover_zstd_cut(fd, 0, NULL, &keep, &core);
        CHECK(r == 0 && keep == 0 && core == 0, "an empty file: nothing whole");
        _cleanup_close_ int g = openat(dirfd, "garbage", O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
        _cleanup_free_ uint8_t *junk = make_input(1 << 16);
        r = write_full(g, junk, 1 << 16);
        if (r == 0)
                r = recover_zstd_cut(g, 1 << 16, NULL, &keep, &core);
        CHECK(r == 0 && keep == 0, "no zstd frame at all (a raw core, garbage): nothing whole");
}

/* A frame whose window is larger than the finaliser's bound is not decoded. */
static void test_window_bound(int dirfd) {
        size_t len = (size_t) 1 << (RECOVER_WINDOW_LOG_MAX + 1);
        _cleanup_free_ uint8_t *in = make_input(len);
        _cleanup_free_ uint8_t *out = malloc(ZSTD_compressBound(len));
        ZSTD_CCtx *c = ZSTD_createCCtx();
        ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, RECOVER_WINDOW_LOG_MAX + 1);
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
        size_t n = ZSTD_compress2(c, out, ZSTD_compressBound(len), in, len);
        ZSTD_freeCCtx(c);
        _cleanup_close_ int fd = openat(dirfd, "wide", O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
        uint64_t keep = 1, core = 1;
        int r = ZSTD_isError(n) ? -EINVAL : write_full(fd, out, n);
        if (r == 0)
                r = recover_zstd_cut(fd, n, NULL, &keep, &core);
        CHECK(r == 0 && keep == 0, "a frame that needs a window over 2^%d is refused (bounded memory)",
              RECOVER_WINDOW_LOG_MAX);
}

static char *marker_text(bool compressed) {
        struct core_metadata md = {.pid = 42, .uid = 1000, .gid = 1000, .signal = 11, .core_limit = UINT64_MAX};
        struct store_result none = {0};
        snprintf(md.comm, sizeof(md.comm), "victim");
        struct record_info info = {
                .core_file = "x", .handled_by = "container", .compressed = compressed, .result = &none};
        return recover_marker_new(&md, &info);
}

static bool exists(int dirfd, const char *name) {
        struct stat st;
        return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static struct json_object *load_json(int dirfd, const char *name) {
        char buf[65536];
        size_t len = 0;
        if (read_small_file_at(dirfd, name, buf, sizeof(buf), &len) < 0)
                return NULL;
        return json_tokener_parse(buf);
}

static const char *jstr(struct json_object *o, const char *key) {
        struct json_object *f;
        return o && json_object_object_get_ex(o, key, &f) ? json_object_get_string(f) : "";
}

static void test_writer_and_finaliser(int dirfd) {
        const char *stem = "core.victim.1000.b00t.42.123";
        _cleanup_free_ char *marker = marker_text(true);
        struct recover_writer w = RECOVER_WRITER_INIT;
        struct recover_stats st;
        uint64_t ends[3];
        int r = marker ? recover_begin(dirfd, stem, marker, &w) : -ENOMEM;
        CHECK(r == 0, "the writer names its marker and its core");
        struct recover_writer w2 = RECOVER_WRITER_INIT;
        r = recover_begin(dirfd, stem, marker, &w2);
        CHECK(r == -EEXIST, "a second writer of the same stem is refused (nothing replaced)");
        /* Three whole frames and half a fourth, as a receiver killed while writing leaves them. */
        _cleanup_close_ int src = frames_file(dirfd, "src", 3, ends);
        _cleanup_free_ uint8_t *buf = malloc(ends[2]);
        bool ok = pread(src, buf, ends[2], 0) == (ssize_t) ends[2] && write_full(w.core_fd, buf, ends[2]) == 0 &&
                  write_full(w.core_fd, buf, 1000) == 0;
        CHECK(ok, "wrote 3 frames and a piece of a fourth");
        _cleanup_close_ int other = openat(dirfd, w.marker_name, O_RDWR | O_CLOEXEC);
        r = recover_lock(other);
        CHECK(r == -EBUSY, "the marker is locked while its writer lives");
        r = recover_store(dirfd, "/store", NULL, 0, &st);
        CHECK(r == 0 && st.busy == 1 && st.finalised == 0 && exists(dirfd, w.core_name) && exists(dirfd, w.marker_name),
              "a live writer's core is left alone");
        /* The writer dies: its descriptors close, its lock goes. */
        safe_close(w.core_fd);
        safe_close(w.marker_fd);
        struct recover_death d = {.pid = getpid()};
        snprintf(d.cause, sizeof(d.cause), "the receiver was killed by signal 9 (SIGKILL)");
        r = recover_store(dirfd, "/store", &d, 1, &st);
        CHECK(r == 0 && st.finalised == 1, "the dead writer's core is finalised");
        struct stat sb;
        char name[300];
        snprintf(name, sizeof(name), "%s.zst", stem);
        r = fstatat(dirfd, name, &sb, 0);
        CHECK(r == 0 && (uint64_t) sb.st_size == ends[2],
              "linked under its final name, cut at its last whole frame (%llu bytes)", (unsigned long long) ends[2]);
        snprintf(name, sizeof(name), "%s.json", stem);
        struct json_object *rec = load_json(dirfd, name);
        CHECK(strcmp(jstr(rec, "truncated"), "true") == 0 &&
                      strcmp(jstr(rec, "truncated_reason"), "receiver died") == 0,
              "its record says truncated, \"receiver died\"");
        CHECK(strcmp(jstr(rec, "truncated_cause"), d.cause) == 0, "and how it died (the death of its pid)");
        CHECK(strtoull(jstr(rec, "core_size"), NULL, 10) == 3 * FRAME_IN && strcmp(jstr(rec, "comm"), "victim") == 0 &&
                      strcmp(jstr(rec, "pid"), "42") == 0,
              "core_size is the content kept; the crash's metadata comes from the marker");
        json_object_put(rec);
        CHECK(!exists(dirfd, w.core_name) && !exists(dirfd, w.marker_name), "nothing is left in progress");
        r = recover_store(dirfd, "/store", &d, 1, &st);
        CHECK(r == 0 && st.finalised == 0, "a second sweep finds nothing");
}

static void test_raw(int dirfd) {
        const char *stem = "core.raw.0.b00t.7.9";
        _cleanup_free_ char *marker = marker_text(false);
        struct recover_writer w = RECOVER_WRITER_INIT;
        struct recover_stats st;
        int r = recover_begin(dirfd, stem, marker, &w);
        if (r == 0)
                r = write_full(w.core_fd, "\177ELF and some", 13);
        CHECK(r == 0, "a raw core in progress");
        safe_close(w.core_fd);
        safe_close(w.marker_fd);
        struct stat sb;
        r = recover_store(dirfd, "/store", NULL, 0, &st);
        CHECK(r == 0 && st.finalised == 1 && fstatat(dirfd, stem, &sb, 0) == 0 && sb.st_size == 13,
              "without compression every byte written is kept, under the name without .zst");
        char name[300];
        snprintf(name, sizeof(name), "%s.json", stem);
        struct json_object *rec = load_json(dirfd, name);
        CHECK(strstr(jstr(rec, "truncated_cause"), "not known") != NULL, "no death reported for it: cause unknown");
        json_object_put(rec);
}

/* A tiny ELF core: its one PT_LOAD says the core is 0x2000 bytes long. */
static void elf_core(uint8_t *buf) {
        memset(buf, 0, 0x2000);
        memcpy(buf, "\177ELF\2\1\1", 7);
        buf[16] = 4;             /* ET_CORE */
        buf[18] = 62;            /* EM_X86_64 */
        buf[20] = 1;             /* EV_CURRENT */
        buf[0x20] = 64;          /* e_phoff */
        buf[0x34] = 64;          /* e_ehsize */
        buf[0x36] = 56;          /* e_phentsize */
        buf[0x38] = 1;           /* e_phnum */
        buf[64] = 1;             /* PT_LOAD */
        buf[64 + 8 + 1] = 0x10;  /* p_offset 0x1000 */
        buf[64 + 32 + 1] = 0x10; /* p_filesz 0x1000 */
}

/* A receiver that died once every byte was written: the core is whole, not "truncated". */
static void test_whole(int dirfd) {
        static const struct {
                const char *stem;
                size_t len;
                bool whole;
        } cases[] = {{"core.w.0.b.1.1", 0x2000, true}, {"core.w.0.b.1.2", 0x1800, false}};
        _cleanup_free_ char *marker = marker_text(false);
        uint8_t buf[0x2000];
        elf_core(buf);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct recover_writer w = RECOVER_WRITER_INIT;
                struct recover_stats st;
                int r = recover_begin(dirfd, cases[i].stem, marker, &w);
                if (r == 0)
                        r = write_full(w.core_fd, buf, cases[i].len);
                safe_close(w.core_fd);
                safe_close(w.marker_fd);
                if (r == 0)
                        r = recover_store(dirfd, "/store", NULL, 0, &st);
                char name[300];
                snprintf(name, sizeof(name), "%s.json", cases[i].stem);
                struct json_object *rec = load_json(dirfd, name);
                CHECK(r == 0 && strcmp(jstr(rec, "truncated"), cases[i].whole ? "false" : "true") == 0 &&
                              strcmp(jstr(rec, "core_expected_size"), "8192") == 0,
                      "%zu of the 8192 bytes the program headers give: %s", cases[i].len,
                      cases[i].whole ? "whole, not truncated" : "truncated");
                json_object_put(rec);
        }
}

static void plant(int dirfd, const char *name, const char *text) {
        _cleanup_close_ int fd = openat(dirfd, name, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
        (void) write_full(fd, text, strlen(text));
}

static void test_hostile(int dirfd) {
        struct recover_stats st;
        struct stat sb;
        _cleanup_free_ char *marker = marker_text(true);
        plant(dirfd, "target", "precious");
        /* A marker that is a link to a file of ours: removed, never followed. */
        int r = symlinkat("target", dirfd, ".#partial.core.a.0.b.1.1.json");
        CHECK(r == 0, "planted a marker that is a link");
        /* A core in progress that is a link, beside a real marker: not followed, not linked. */
        plant(dirfd, ".#partial.core.b.0.b.1.2.json", marker);
        r = symlinkat("target", dirfd, ".#partial.core.b.0.b.1.2.core");
        CHECK(r == 0, "planted a core that is a link");
        plant(dirfd, ".#partial.core.c.0.b.1.3.json", "{\"format\": 1, \"compression\": \"lzma\"}");
        plant(dirfd, ".#partial.core.d.0.b.1.4.core", "no marker");
        plant(dirfd, ".#partial.core.e.0.b.1.5.json", "{\"format\": 1, \"compression\": \"zstd\", \"comm\": 7}");
        r = recover_store(dirfd, "/store", NULL, 0, &st);
        CHECK(r == 0, "swept the planted files");
        r = fstatat(dirfd, "target", &sb, 0);
        CHECK(r == 0 && sb.st_size == 8, "the link's target is untouched");
        CHECK(!exists(dirfd, ".#partial.core.a.0.b.1.1.json") && !exists(dirfd, ".#partial.core.b.0.b.1.2.core") &&
                      !exists(dirfd, "core.b.0.b.1.2.zst"),
              "links are removed, never followed nor linked as a core");
        CHECK(exists(dirfd, "core.b.0.b.1.2.json") && !exists(dirfd, ".#partial.core.b.0.b.1.2.json"),
              "a crash whose core is lost still gets its record (and no core_file)");
        CHECK(!exists(dirfd, ".#partial.core.c.0.b.1.3.json") && !exists(dirfd, ".#partial.core.e.0.b.1.5.json"),
              "invalid markers are removed");
        CHECK(!exists(dirfd, ".#partial.core.d.0.b.1.4.core"), "a core without a marker (no writer) is removed");
        CHECK(st.finalised == 1 && st.removed == 4, "1 finalised (record only), 4 strays removed (got %u, %u)",
              st.finalised, st.removed);
}

static void test_parse(void) {
        struct recover_marker m;
        static const struct {
                const char *text;
                int want;
        } cases[] = {
                {"{\"format\":1,\"compression\":\"zstd\",\"pid\":5,\"comm\":\"a\",\"receiver_pid\":9}", 0},
                {"{\"format\":1,\"compression\":\"none\",\"rlimit_core\":\"infinity\"}", 0},
                {"{\"format\":2,\"compression\":\"zstd\"}", -EBADMSG},
                {"{\"format\":1}", -EBADMSG},
                {"[1,2]", -EBADMSG},
                {"{\"format\":1,\"compression\":\"zstd\",\"pid\":-1}", -EBADMSG},
                {"{\"format\":1,\"compression\":\"zstd\",\"uid\":4294967295}", -EBADMSG},
                {"{\"format\":1,\"compression\":\"zstd\",\"comm\":\"a\\u0000b\"}", -EBADMSG},
                {"{\"format\":1,\"compression\":\"zstd\",\"comm\":\""
                 "0123456789012345678901234567890123456789"
                 "012345678901234567890123456789\"}",
                 -EBADMSG},
                {"{\"format\":1,\"compression\":\"zstd\"} trailing", -EBADMSG},
                {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
                 "]]]]]]]]]]]]",
                 -EBADMSG},
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = recover_marker_parse(cases[i].text, strlen(cases[i].text), &m);
                CHECK(r == cases[i].want, "marker %zu: %s -> %d", i, cases[i].want ? "refused" : "taken", r);
                if (r == 0) {
                        if (i == 0)
                                CHECK(m.compressed && m.md.pid == 5 && m.receiver_pid == 9 &&
                                              strcmp(m.md.comm, "a") == 0,
                                      "  its fields");
                        recover_marker_done(&m);
                }
        }
}

static void test_causes(void) {
        char buf[RECOVER_CAUSE_MAX];
        recover_cause_from_status(9, buf, sizeof(buf)); /* WTERMSIG 9 */
        CHECK(strcmp(buf, "the receiver was killed by signal 9 (SIGKILL)") == 0, "wait status: killed by SIGKILL");
        recover_cause_from_status(1 << 8, buf, sizeof(buf));
        CHECK(strstr(buf, "exited with status 1") != NULL, "wait status: exit 1");
        bool known = recover_cause_from_systemd("killed", "KILL", buf, sizeof(buf));
        CHECK(known && strcmp(buf, "the receiver was killed by signal 9 (SIGKILL)") == 0, "systemd: killed, KILL");
        known = recover_cause_from_systemd("exited", "3", buf, sizeof(buf));
        CHECK(known && strstr(buf, "status 3") != NULL, "systemd: exited 3");
        CHECK(!recover_cause_from_systemd("exited", "0", buf, sizeof(buf)) &&
                      !recover_cause_from_systemd(NULL, NULL, buf, 8) &&
                      !recover_cause_from_systemd("killed", "KILL; rm", buf, sizeof(buf)) &&
                      !recover_cause_from_systemd("killed", "NOSUCH", buf, sizeof(buf)),
              "systemd: a clean exit, nothing, or a status that is not a signal's name tell nothing");
}

/* A receiver that died after renaming its core into place: before its record (the finaliser
 * writes it, the core untouched), or after it (the marker only goes). */
static void test_in_place(int dirfd) {
        _cleanup_free_ char *marker = marker_text(false);
        uint8_t buf[0x2000];
        elf_core(buf);
        for (int written = 0; written < 2; written++) {
                char stem[64], name[80];
                snprintf(stem, sizeof(stem), "core.p.0.b.1.%d", written);
                struct recover_writer w = RECOVER_WRITER_INIT;
                struct recover_stats st;
                int r = recover_begin(dirfd, stem, marker, &w);
                if (r == 0)
                        r = write_full(w.core_fd, buf, sizeof(buf));
                if (r == 0 && renameat(dirfd, w.core_name, dirfd, stem) < 0)
                        r = -errno;
                snprintf(name, sizeof(name), "%s.json", stem);
                if (r == 0 && written)
                        plant(dirfd, name, "{\"truncated\": false, \"by\": \"receiver\"}");
                safe_close(w.core_fd);
                safe_close(w.marker_fd);
                if (r == 0)
                        r = recover_store(dirfd, "/store", NULL, 0, &st);
                struct json_object *rec = load_json(dirfd, name);
                struct stat sb;
                bool marker_gone = fstatat(dirfd, w.marker_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
                bool core_kept = fstatat(dirfd, stem, &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_size == sizeof(buf);
                if (written)
                        CHECK(r == 0 && marker_gone && core_kept && strcmp(jstr(rec, "by"), "receiver") == 0,
                              "core and record in place: the marker goes, the record stays the receiver's");
                else
                        CHECK(r == 0 && marker_gone && core_kept && strcmp(jstr(rec, "truncated"), "false") == 0 &&
                                      strcmp(jstr(rec, "core_file"), stem) == 0,
                              "core in place, no record: the finaliser writes it, whole, the core untouched");
                json_object_put(rec);
        }
}

/* A record made again whose writer died before renaming it over the first (connection.c): gone
 * after a sweep, the first record left as it was. */
static void test_record_leftover(int dirfd) {
        const char *stem = "core.again.0.b00t.8.9";
        char first[300], next[300];
        struct recover_stats st;
        struct stat sb;
        snprintf(first, sizeof(first), "%s.json", stem);
        snprintf(next, sizeof(next), RECOVER_RECORD_PREFIX "%s.json", stem);
        int r = store_file_atomic(dirfd, first, "{}\n", 3);
        if (r >= 0)
                r = store_file_atomic(dirfd, next, "{\"again\":1}\n", 12);
        CHECK(r >= 0, "a record and its second version, left by a dead writer");
        r = recover_store(dirfd, "/store", NULL, 0, &st);
        CHECK(r == 0 && st.removed >= 1 && fstatat(dirfd, next, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT,
              "the sweep removes the second version");
        CHECK(fstatat(dirfd, first, &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_size == 3,
              "and leaves the record in place");
}

int main(void) {
        char dir[] = "/tmp/test-recover.XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        test_cut(dirfd);
        test_window_bound(dirfd);
        test_writer_and_finaliser(dirfd);
        test_raw(dirfd);
        test_record_leftover(dirfd);
        test_whole(dirfd);
        test_in_place(dirfd);
        test_hostile(dirfd);
        test_parse();
        test_causes();
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
        return tap_done();
}
