/* SPDX-License-Identifier: MIT */
/* What an upload adds to a core's record (receiver/uploader-record.c): "uploaded_to" per target,
 * "upload_error" until every target confirmed, and the fields an object's name is made of, read
 * back from a record a container may have written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "tap.h"
#include "uploader-record.h"

static char dir[] = "/tmp/core_pipe-uprecord.XXXXXX";
#define STEM "core.app.0.b00t.42.1700000000000000"

static int write_record(int dirfd, const char *text) {
        (void) unlinkat(dirfd, STEM ".json", 0);
        int fd = openat(dirfd, STEM ".json", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        int r = fd < 0 ? -errno : write_full(fd, text, strlen(text));
        if (fd >= 0)
                close(fd);
        return r;
}

static const char *array_url(struct json_object *rec, size_t i) {
        struct json_object *a, *o, *u;
        if (!json_object_object_get_ex(rec, "uploaded_to", &a) || !json_object_is_type(a, json_type_array) ||
            i >= json_object_array_length(a))
                return NULL;
        o = json_object_array_get_idx(a, i);
        return json_object_object_get_ex(o, "url", &u) ? json_object_get_string(u) : NULL;
}

static void test_update(int dirfd) {
        struct json_object *rec = NULL;
        char *text = NULL;
        struct upload_result a = {.url = "s3://b/x/" STEM ".zst", .sha256 = "ab", .bytes = 7, .confirmed = true};
        struct upload_result b = {.url = "ftp://h/in/" STEM ".zst", .sha256 = "cd", .bytes = 7, .confirmed = true};
        CHECK(write_record(dirfd, "{\"pid\":42,\"comm\":\"app\",\"hostname\":\"h\",\"container\":{\"id\":\"c1\"},"
                                  "\"received_usec\":1700000000000000,\"uploaded_to\":\"junk\"}") == 0 &&
                      upload_record_load(dirfd, STEM, &rec) == 0,
              "a record is read back");
        struct upload_name_fields f;
        upload_record_name_fields(rec, STEM ".zst", &f);
        CHECK(f.pid == 42 && strcmp(f.comm, "app") == 0 && strcmp(f.container, "c1") == 0 &&
                      strcmp(f.hostname, "h") == 0 && f.time_usec == UINT64_C(1700000000000000),
              "the name's fields come from the record");
        struct upload_record_target t[2] = {{&a, "s3://b/x/" STEM ".json"}, {&b, NULL}};
        CHECK(upload_record_update(rec, t, 1, 5, "ftp://h/in failed: 550", &text) == 0 &&
                      strstr(text, "upload_error") && array_url(rec, 0) && strcmp(array_url(rec, 0), a.url) == 0,
              "a confirmed target is in uploaded_to (a non-array there replaced), the other's error beside it");
        free(text);
        a.bytes = 8;
        CHECK(upload_record_update(rec, t, 2, 6, NULL, &text) == 0 && !strstr(text, "upload_error") &&
                      strcmp(array_url(rec, 1), b.url) == 0 && !array_url(rec, 2) && strstr(text, "\"bytes\":8"),
              "a target uploaded again replaces its entry; once all confirmed the error is gone");
        CHECK(upload_record_replace(dirfd, STEM, text) == 0, "the record is replaced");
        json_object_put(rec);
        rec = NULL;
        CHECK(upload_record_load(dirfd, STEM, &rec) == 0 && strcmp(array_url(rec, 1), b.url) == 0,
              "and reads back as written");
        json_object_put(rec);
        free(text);
}

static void test_hostile(int dirfd) {
        struct json_object *rec = NULL;
        CHECK(write_record(dirfd, "[1,2]") == 0 && upload_record_load(dirfd, STEM, &rec) == -EBADMSG,
              "a record that is not an object is refused");
        CHECK(write_record(dirfd, "{\"pid\":\"x\",\"comm\":7,\"container\":[]}") == 0 &&
                      upload_record_load(dirfd, STEM, &rec) == 0,
              "a record with odd fields loads");
        struct upload_name_fields f;
        upload_record_name_fields(rec, STEM ".zst", &f);
        CHECK(f.pid == 0 && f.comm == NULL && f.container == NULL, "fields of the wrong type are unknown, not used");
        json_object_put(rec);
        (void) unlinkat(dirfd, STEM ".json", 0);
        CHECK(symlinkat("/etc/passwd", dirfd, STEM ".json") == 0 && upload_record_load(dirfd, STEM, &rec) == -ELOOP,
              "a record that is a link is not followed");
        (void) unlinkat(dirfd, STEM ".json", 0);
}

int main(void) {
        if (!mkdtemp(dir))
                return 1;
        int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        test_update(dirfd);
        test_hostile(dirfd);
        close(dirfd);
        if (rmdir(dir) < 0)
                printf("# %s left behind\n", dir);
        return tap_done();
}
