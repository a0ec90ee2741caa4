/* SPDX-License-Identifier: MIT */
/* The upload queue (receiver/pending.c): entries that survive restarts, read back as untrusted
 * input, with backoff and an end to the retries. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "pending.h"
#include "recover.h"
#include "tap.h"
#include "uploader.h"

#define STEM "core.sleep.0.0123456789abcdef0123456789abcdef.42.1700000000000000"
#define MIN_USEC (60 * USEC_PER_SEC)

static char dir[] = "/tmp/core_pipe-pending.XXXXXX";
static struct pending_entry e, back;

static int parse_text(const char *text) {
        return pending_entry_parse(text, strlen(text), &back);
}

/* An entry's text with one field's text replaced (field "core" etc.). */
static int parse_with(const char *core, const char *stem, const char *rest) {
        char text[2048];
        snprintf(text, sizeof(text),
                 "{\"format\":1,\"core\":\"%s\",\"stem\":\"%s\",\"created_usec\":1,\"attempts\":0,\"next_usec\":0,"
                 "\"last_error\":\"\",\"done\":[]%s}",
                 core, stem, rest);
        return parse_text(text);
}

static void test_names(void) {
        CHECK(pending_entry_init(&e, STEM ".zst", STEM, 5) == 0 && e.created_usec == 5 && e.next_usec == 5 &&
                      e.attempts == 0,
              "a new entry for a compressed core is due at once");
        CHECK(pending_entry_init(&e, STEM, STEM, 5) == 0, "a core without compression is its stem");
        CHECK(pending_entry_init(&e, "../" STEM ".zst", STEM, 5) == -EINVAL, "a path is not a core's name");
        CHECK(pending_entry_init(&e, STEM ".json", STEM, 5) == -EINVAL, "the record is not a core");
        CHECK(pending_entry_init(&e, "passwd", "passwd", 5) == -EINVAL, "a name that is not core.* is refused");
        CHECK(pending_entry_init(&e, "core../x", "core../x", 5) == -EINVAL, "no \"..\" nor \"/\" in a stem");
}

static void test_round_trip(void) {
        (void) pending_entry_init(&e, STEM ".zst", STEM, 1000);
        pending_entry_failed(
                &e,
                &(struct upload_settings){.retry_delay_usec = MIN_USEC, .retry_delay_max_usec = 3600 * USEC_PER_SEC},
                "s3://b/x failed:\nHTTP 403\r", 2000);
        CHECK(pending_entry_mark_done(&e, "ftp://h/in") == 0 && pending_entry_mark_done(&e, "ftp://h/in") == 0 &&
                      e.n_done == 1,
              "a target is marked done once");
        CHECK(strchr(e.last_error, '\n') == NULL && strchr(e.last_error, '\r') == NULL, "the error is one line");
        char *text = pending_entry_to_json(&e);
        CHECK(text && parse_text(text) == 0, "an entry reads back (%s)", text ? text : "NULL");
        CHECK(strcmp(back.core, e.core) == 0 && strcmp(back.stem, e.stem) == 0 && back.attempts == 1 &&
                      back.created_usec == 1000 && back.next_usec == 2000 + MIN_USEC &&
                      strcmp(back.last_error, e.last_error) == 0 && back.n_done == 1 &&
                      pending_entry_done(&back, "ftp://h/in") && !pending_entry_done(&back, "ftp://h/other"),
              "every field survives the round trip");
        free(text);
}

static void test_hostile_entries(void) {
        CHECK(parse_with(STEM ".zst", STEM, "") == 0, "the template entry is valid");
        CHECK(parse_with("/etc/shadow", STEM, "") == -EBADMSG, "an absolute path as the core is refused");
        CHECK(parse_with("../../etc/shadow", "../../etc/shadow", "") == -EBADMSG, "a relative path is refused");
        CHECK(parse_with("core.x/../../../etc/shadow", "core.x/../../../etc/shadow", "") == -EBADMSG,
              "a path below a core-like name is refused");
        CHECK(parse_with("core.a.zst", "core.b", "") == -EBADMSG, "a core not of its stem is refused");
        CHECK(parse_with(STEM ".zst", STEM, ",\"done\":[1]") == -EBADMSG, "a done target must be a string");
        CHECK(parse_with(STEM ".zst", STEM, ",\"done\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]") ==
                      -EBADMSG,
              "more done targets than Upload= can hold are refused");
        CHECK(parse_text("{\"format\":1}") == -EBADMSG, "missing fields are refused");
        CHECK(parse_text("[]") == -EBADMSG && parse_text("") == -EBADMSG && parse_text("nul") == -EBADMSG,
              "not an object is refused");
        CHECK(parse_text("{\"format\":2,\"core\":\"" STEM "\",\"stem\":\"" STEM "\",\"created_usec\":1,"
                         "\"attempts\":0,\"next_usec\":0,\"last_error\":\"\",\"done\":[]}") == -EBADMSG,
              "another format is refused");
        CHECK(parse_text("{\"format\":1,\"core\":\"" STEM "\",\"stem\":\"" STEM "\",\"created_usec\":-1,"
                         "\"attempts\":0,\"next_usec\":0,\"last_error\":\"\",\"done\":[]}") == -EBADMSG,
              "a negative time is refused");
        CHECK(parse_text("{\"format\":1,\"core\":\"" STEM "\",\"stem\":\"" STEM "\",\"created_usec\":1,"
                         "\"attempts\":4294967296,\"next_usec\":0,\"last_error\":\"\",\"done\":[]}") == -EBADMSG,
              "attempts past 32 bits are refused");
        CHECK(parse_text("{\"format\":1,\"core\":\"core.a\\u0000b\",\"stem\":\"core.a\",\"created_usec\":1,"
                         "\"attempts\":0,\"next_usec\":0,\"last_error\":\"\",\"done\":[]}") == -EBADMSG,
              "a NUL inside a name is refused");
        CHECK(parse_with(STEM ".zst", STEM, "} trailing") == -EBADMSG, "text after the object is refused");
        char big[PENDING_ENTRY_MAX + 2];
        memset(big, ' ', sizeof(big));
        big[0] = '{';
        big[sizeof(big) - 2] = '}';
        big[sizeof(big) - 1] = '\0';
        CHECK(parse_text(big) == -EBADMSG, "an entry over %d bytes is refused", PENDING_ENTRY_MAX);
        CHECK(parse_with(STEM ".zst", STEM, ",\"x\":[[1]]") == 0 &&
                      parse_with(STEM ".zst", STEM, ",\"x\":[[[[[[[[[[1]]]]]]]]]]") == -EBADMSG,
              "unknown fields are ignored, but not nested deeper than an entry ever is");
}

static void test_backoff(void) {
        struct upload_settings u = {.retry_delay_usec = MIN_USEC,
                                    .retry_delay_max_usec = 3600 * USEC_PER_SEC,
                                    .retry_for_usec = 7 * 86400 * USEC_PER_SEC};
        CHECK(pending_backoff_usec(&u, 1) == MIN_USEC && pending_backoff_usec(&u, 2) == 2 * MIN_USEC &&
                      pending_backoff_usec(&u, 3) == 4 * MIN_USEC,
              "the wait doubles from UploadRetryDelay=");
        CHECK(pending_backoff_usec(&u, 7) == 3600 * USEC_PER_SEC &&
                      pending_backoff_usec(&u, UINT32_MAX) == 3600 * USEC_PER_SEC,
              "and stops at UploadRetryDelayMax= (no overflow)");
        (void) pending_entry_init(&e, STEM ".zst", STEM, 1000 * USEC_PER_SEC);
        CHECK(pending_entry_action(&e, &u, 1000 * USEC_PER_SEC) == PENDING_DUE, "a new entry is due");
        pending_entry_failed(&e, &u, "x", 1000 * USEC_PER_SEC);
        CHECK(pending_entry_action(&e, &u, 1000 * USEC_PER_SEC + 1) == PENDING_WAIT, "a failed one waits");
        CHECK(pending_entry_action(&e, &u, 1000 * USEC_PER_SEC + MIN_USEC) == PENDING_DUE, "then is due again");
        CHECK(pending_entry_action(&e, &u, 1000 * USEC_PER_SEC + 8 * 86400 * USEC_PER_SEC) == PENDING_GIVE_UP,
              "past UploadRetryFor= it is given up");
        u.retry_for_usec = USEC_INFINITY;
        CHECK(pending_entry_action(&e, &u, 1000 * USEC_PER_SEC + 800 * 86400 * USEC_PER_SEC) == PENDING_DUE,
              "UploadRetryFor=infinity never gives up");
        u.retry_attempts = 1;
        CHECK(pending_entry_action(&e, &u, 1000 * USEC_PER_SEC + MIN_USEC) == PENDING_GIVE_UP,
              "UploadRetryAttempts=1 gives up after one attempt");
        u.retry_attempts = 0;
        e.next_usec = UINT64_C(1) << 62;
        CHECK(pending_entry_action(&e, &u, 1000 * USEC_PER_SEC) == PENDING_DUE,
              "a next time beyond the longest backoff (a planted entry, a clock set back) does not wait");
}

static void test_files(void) {
        int store = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int q = pending_open_dir(store);
        struct stat st;
        CHECK(q >= 0 && fstat(q, &st) == 0 && (st.st_mode & 07777) == 0700, "the queue is made mode 0700");
        (void) pending_entry_init(&e, STEM ".zst", STEM, 77);
        CHECK(pending_add(q, &e) == 0 && pending_add(q, &e) == -EEXIST, "an entry is added once");
        e.attempts = 3;
        CHECK(pending_save(q, &e) == 0 && pending_load(q, STEM PENDING_SUFFIX, &back) == 0 && back.attempts == 3,
              "a saved entry replaces the old one");
        (void) symlinkat("/etc/passwd", q, "core.evil.pending");
        (void) close(openat(q, ".half.pending.tmp", O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        pending_name *names = NULL;
        size_t n = 0;
        CHECK(pending_list(q, &names, &n) == 0 && n == 2, "entries are listed, hidden files and the lock not");
        free(names);
        CHECK(pending_load(q, "core.evil.pending", &back) == -ELOOP, "a link in the queue is not followed");
        (void) linkat(q, STEM PENDING_SUFFIX, q, "core.hard.pending", 0);
        CHECK(pending_load(q, STEM PENDING_SUFFIX, &back) == -EBADFD, "a file with two links is refused");
        (void) unlinkat(q, "core.hard.pending", 0);
        int l1 = pending_lock(q, false), l2 = pending_lock(q, false);
        CHECK(l1 >= 0 && l2 == -EWOULDBLOCK, "one drainer at a time");
        close(l1);
        l2 = pending_lock(q, false);
        CHECK(l2 >= 0, "the lock is free once let go");
        close(l2);
        CHECK(pending_remove(q, STEM) == 0 && pending_remove(q, STEM) == 0 &&
                      faccessat(q, STEM PENDING_SUFFIX, F_OK, 0) < 0,
              "an entry is removed (twice is fine)");
        (void) unlinkat(q, "core.evil.pending", 0);
        (void) unlinkat(q, ".half.pending.tmp", 0);
        (void) unlinkat(q, "lock", 0);
        close(q);
        (void) fchmodat(store, PENDING_DIR, 0777, 0);
        CHECK(pending_open_dir(store) == -EPERM, "a queue others may write is refused");
        (void) unlinkat(store, PENDING_DIR, AT_REMOVEDIR);
        (void) symlinkat("/tmp", store, PENDING_DIR);
        CHECK(pending_open_dir(store) < 0, "a link as the queue is refused");
        (void) unlinkat(store, PENDING_DIR, 0);
        close(store);
}

/* A core finalised for a receiver that died is queued, as its receiver would have queued it. */
static void test_finalised_queued(void) {
        const char *stem = "core.raw.0.b00t.7.9";
        struct core_metadata md = {.pid = 7, .signal = 11, .core_limit = UINT64_MAX};
        struct store_result none = {0};
        struct record_info info = {.core_file = "x", .handled_by = "container", .result = &none};
        struct receiver_settings set;
        struct recover_writer w = RECOVER_WRITER_INIT;
        struct recover_stats st;
        const char *expect;
        settings_defaults(&set);
        (void) settings_set(&set, "Upload", "http://127.0.0.1:1/cores", &expect);
        uploader_queue_finalised(&set);
        int store = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char *marker = recover_marker_new(&md, &info);
        int r = marker ? recover_begin(store, stem, marker, &w) : -ENOMEM;
        if (r == 0)
                r = write_full(w.core_fd, "\177ELF and some", 13);
        safe_close(w.core_fd);
        safe_close(w.marker_fd);
        free(marker);
        r = r < 0 ? r : recover_store(store, dir, NULL, 0, &st);
        int q = pending_open_dir(store);
        CHECK(r == 0 && st.finalised == 1 && q >= 0 && pending_load(q, "core.raw.0.b00t.7.9.pending", &back) == 0 &&
                      strcmp(back.core, stem) == 0,
              "a core finalised for a dead receiver is queued for upload");
        (void) pending_remove(q, stem);
        (void) unlinkat(q, "lock", 0);
        close(q);
        (void) unlinkat(store, PENDING_DIR, AT_REMOVEDIR);
        (void) unlinkat(store, stem, 0);
        (void) unlinkat(store, "core.raw.0.b00t.7.9.json", 0);
        (void) unlinkat(store, ".lock", 0);
        close(store);
        uploader_queue_finalised(&(struct receiver_settings){.storage = STORAGE_EXTERNAL});
}

int main(void) {
        if (!mkdtemp(dir))
                return 1;
        test_names();
        test_round_trip();
        test_hostile_entries();
        test_backoff();
        test_files();
        test_finalised_queued();
        if (rmdir(dir) < 0)
                printf("# %s left behind\n", dir);
        return tap_done();
}
