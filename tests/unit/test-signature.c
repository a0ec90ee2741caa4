/* SPDX-License-Identifier: MIT */
/* The crash signature (stable, addresses never in it) and the crash-loop state (bounded, kept in
 * the store, read as untrusted text). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "signature.h"
#include "tap.h"

#define SEC USEC_PER_SEC

static void test_signature(void) {
        char a[SIGNATURE_HEX_LEN + 1], b[SIGNATURE_HEX_LEN + 1];
        struct signature_frame f1[] = {
                {"crash_here", "/build/tests/bt-crasher", 0x1234},
                {"level2", "/build/tests/bt-crasher", 0x1300},
                {"level1", "/build/tests/bt-crasher", 0x1400},
                {"start_thread", "/usr/lib/x86_64-linux-gnu/libc.so.6", 0x8000},
                {"clone3", "/usr/lib/x86_64-linux-gnu/libc.so.6", 0x9000},
                {"deeper", "/usr/lib/x86_64-linux-gnu/libc.so.6", 0xa000},
        };
        CHECK(signature_compute(f1, ELEMENTSOF(f1), a) == SIGNATURE_FRAMES, "signature: the top %d frames",
              SIGNATURE_FRAMES);
        CHECK(strlen(a) == SIGNATURE_HEX_LEN && strspn(a, "0123456789abcdef") == SIGNATURE_HEX_LEN,
              "signature: 16 hex digits (%s)", a);

        /* Another run of the same build: other addresses (ASLR), another install path. */
        struct signature_frame f2[ELEMENTSOF(f1)];
        memcpy(f2, f1, sizeof(f1));
        f2[0].module = "/opt/other/bt-crasher (deleted)";
        f2[1].module = f2[2].module = "/opt/other/bt-crasher";
        f2[5].function = "something else below the top five";
        CHECK(signature_compute(f2, ELEMENTSOF(f2), b) > 0 && strcmp(a, b) == 0,
              "signature: same functions and module names, same signature (path, deleted mark, 6th frame ignored)");

        f2[1].function = "level2_renamed";
        CHECK(signature_compute(f2, ELEMENTSOF(f2), b) > 0 && strcmp(a, b) != 0, "signature: another function differs");
        memcpy(f2, f1, sizeof(f1));
        f2[0].module = "/build/tests/other-program";
        CHECK(signature_compute(f2, ELEMENTSOF(f2), b) > 0 && strcmp(a, b) != 0, "signature: another module differs");

        /* Frames without a function: by module offset, which ASLR does not move. */
        struct signature_frame s1[] = {{NULL, "/bin/stripped", 0x10}, {"", "/bin/stripped", 0x20}};
        struct signature_frame s2[] = {{NULL, "/bin/stripped", 0x10}, {"", "/bin/stripped", 0x24}};
        CHECK(signature_compute(s1, 2, a) == 2 && signature_compute(s2, 2, b) == 2 && strcmp(a, b) != 0,
              "signature: unnamed frames count by their module offset");

        /* The abort path at the top is skipped. */
        struct signature_frame ab1[] = {
                {"__pthread_kill_implementation", "libc.so.6", 1},
                {"raise", "libc.so.6", 2},
                {"abort", "libc.so.6", 3},
                {"check_config", "/bin/app", 4},
                {"main", "/bin/app", 5},
        };
        struct signature_frame ab2[] = {{"check_config", "/bin/app", 4}, {"main", "/bin/app", 5}};
        CHECK(signature_compute(ab1, ELEMENTSOF(ab1), a) == 2 && signature_compute(ab2, 2, b) == 2 && strcmp(a, b) == 0,
              "signature: abort()'s own frames above the caller are skipped");
        CHECK(signature_compute(ab1, 3, a) == 3, "signature: a stack of nothing but the abort path still has one");

        struct signature_frame none[] = {{NULL, NULL, 0x10}, {"", "", 0}};
        CHECK(signature_compute(none, 2, a) == -ENODATA, "signature: no function and no module: none");
        CHECK(signature_compute(none, 0, a) == -ENODATA, "signature: no frames: none");

        char name[32];
        signature_module_name("/usr/lib/libfoo.so.1 (deleted)", name, sizeof(name));
        CHECK(strcmp(name, "libfoo.so.1") == 0, "module name: file name without the deleted mark");
}

static void test_state_text(void) {
        struct loop_state s;
        uint64_t now = 1000 * SEC, iv = 60 * SEC;
        const char text[] = "0123456789abcdef 990000000 3\n"
                            "0123456789abcdef 995000000 9\n"           /* a second entry of one signature */
                            "fedcba9876543210 900000000 2\n"           /* ended */
                            "aaaaaaaaaaaaaaaa 2000000000 1\n"          /* in the future */
                            "bbbbbbbbbbbbbbbb 999000000 0\n"           /* count 0 */
                            "cccccccccccccccc 999000000 99999999999\n" /* count too large */
                            "DDDDDDDDDDDDDDDD 999000000 1\n"           /* not lowercase hex */
                            "dddddddddddddddd  999000000 1\n"          /* two spaces */
                            "eeeeeeeeeeeeeeee 999000000 1 x\n"         /* trailing junk */
                            "ffffffffffffffff 999000000 4";            /* no final newline */
        CHECK(loop_state_parse(text, sizeof(text) - 1, now, iv, &s) == 0 && s.n == 2, "state: 2 valid entries of 10");
        CHECK(s.n == 2 && strcmp(s.entries[0].signature, "0123456789abcdef") == 0 && s.entries[0].count == 3 &&
                      strcmp(s.entries[1].signature, "ffffffffffffffff") == 0 && s.entries[1].count == 4,
              "state: the first entry of a signature, the last line without newline");
        _cleanup_free_ char *out = loop_state_format(&s);
        CHECK(out && strcmp(out, "0123456789abcdef 990000000 3\nffffffffffffffff 999000000 4\n") == 0,
              "state: formatted as read");
        loop_state_done(&s);

        char nul[] = "0123456789abcdef 990000000 3\0\n";
        CHECK(loop_state_parse(nul, sizeof(nul) - 1, now, iv, &s) == 0 && s.n == 0, "state: a NUL in a line drops it");
        loop_state_done(&s);
}

static void test_state_count(void) {
        struct loop_state s = {0};
        uint64_t t = 5000 * SEC, iv = 60 * SEC;
        const char *A = "aaaaaaaaaaaaaaaa", *B = "bbbbbbbbbbbbbbbb";
        int n = 0;
        for (int i = 0; i < 50; i++)
                n = loop_state_count(&s, A, t + (uint64_t) i * SEC / 10, iv);
        CHECK(n == 50, "count: 50 crashes of one signature in the window");
        CHECK(loop_state_count(&s, B, t + 6 * SEC, iv) == 1, "count: another signature starts at 1");
        CHECK(loop_state_count(&s, A, t + iv, iv) == 1, "count: a new window after Interval=");
        CHECK(loop_state_count(&s, "not-a-signature", t, iv) == -EINVAL, "count: not a signature: refused");
        loop_state_done(&s);

        /* Bounded: the entry whose window opened first makes way. */
        char sig[SIGNATURE_HEX_LEN + 1];
        for (unsigned i = 0; i < LOOP_STATE_ENTRIES + 10; i++) {
                snprintf(sig, sizeof(sig), "%016x", i);
                (void) loop_state_count(&s, sig, t + i, iv);
        }
        CHECK(s.n == LOOP_STATE_ENTRIES, "count: at most %u signatures", LOOP_STATE_ENTRIES);
        bool first_gone = true, last_in = false;
        for (size_t i = 0; i < s.n; i++) {
                if (strcmp(s.entries[i].signature, "0000000000000000") == 0)
                        first_gone = false;
                snprintf(sig, sizeof(sig), "%016x", LOOP_STATE_ENTRIES + 9);
                if (strcmp(s.entries[i].signature, sig) == 0)
                        last_in = true;
        }
        CHECK(first_gone && last_in, "count: the oldest window went, the newest is in");
        _cleanup_free_ char *text = loop_state_format(&s);
        CHECK(text && strlen(text) <= LOOP_STATE_TEXT_MAX, "count: the full state fits what is read back (%zu bytes)",
              text ? strlen(text) : 0);
        loop_state_done(&s);
}

static void test_admit(void) {
        char dir[] = "/tmp/core_pipe-signature.XXXXXX";
        if (!mkdtemp(dir))
                abort();
        int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint64_t t = 7000 * SEC, iv = 60 * SEC;
        const char *A = "aaaaaaaaaaaaaaaa", *B = "bbbbbbbbbbbbbbbb";
        struct loop_verdict v;
        unsigned kept = 0, repeats = 0;
        for (int i = 0; i < 50; i++) {
                if (crash_loop_admit(dirfd, A, 3, iv, t + (uint64_t) i * SEC / 2, &v) < 0)
                        break;
                if (v.repeat)
                        repeats++;
                else
                        kept++;
        }
        CHECK(kept == 3 && repeats == 47, "admit: 50 crashes, MaxCoresPerSignature=3: 3 kept, 47 repeats (%u, %u)",
              kept, repeats);
        CHECK(v.nth == 50 && v.kept == 3 && v.window_start == t, "admit: the last is the 50th of its window");
        CHECK(crash_loop_admit(dirfd, B, 3, iv, t + 30 * SEC, &v) == 0 && !v.repeat && v.nth == 1,
              "admit: a new signature in the same interval keeps its core");
        CHECK(crash_loop_admit(dirfd, A, 3, iv, t + iv + SEC, &v) == 0 && !v.repeat && v.nth == 1,
              "admit: after Interval= the signature keeps a core again");
        CHECK(crash_loop_admit(dirfd, A, 0, iv, t + iv + 2 * SEC, &v) == 0 && !v.repeat,
              "admit: MaxCoresPerSignature=0: never a repeat");

        /* A planted symbolic link is not followed, neither to read nor to write. */
        char target[256], path[256];
        snprintf(target, sizeof(target), "%s/elsewhere", dir);
        int tfd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        CHECK(tfd >= 0 && write(tfd, "x", 1) == 1, "admit: a file elsewhere");
        close(tfd);
        unlinkat(dirfd, LOOP_STATE_FILE, 0);
        CHECK(symlinkat("elsewhere", dirfd, LOOP_STATE_FILE) == 0, "admit: the state planted as a link");
        CHECK(crash_loop_admit(dirfd, A, 3, iv, t + 3 * iv, &v) == 0 && v.nth == 1,
              "admit: through a link: empty state");
        struct stat st;
        CHECK(fstatat(dirfd, LOOP_STATE_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                      stat(target, &st) == 0 && st.st_size == 1,
              "admit: the link replaced by a file of ours, its target untouched");
        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        close(dirfd);
        (void) system(path);
}

int main(void) {
        test_signature();
        test_state_text();
        test_state_count();
        test_admit();
        return tap_done();
}
