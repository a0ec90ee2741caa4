/* SPDX-License-Identifier: MIT */
/* The upload keys of receiver.conf (receiver/settings-upload.c): every key, its validation by the
 * engine's own checks, and errors that name file, line and key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "settings.h"
#include "tap.h"

static char dir[] = "/tmp/core_pipe-settings-upload.XXXXXX";
static struct receiver_settings s;
static char err[768];

static int load_text(const char *text) {
        char path[128];
        snprintf(path, sizeof(path), "%s/receiver.conf", dir);
        FILE *f = fopen(path, "we");
        if (!f)
                abort();
        fputs(text, f);
        fclose(f);
        settings_defaults(&s);
        err[0] = '\0';
        return settings_load(path, &s, err, sizeof(err));
}

/* A file of one key that must be refused, with its line and what is valid. */
static void refused(const char *line, const char *expect) {
        char text[1024], where[512];
        snprintf(text, sizeof(text), "[Receiver]\n%s\n", line);
        snprintf(where, sizeof(where), ":2: %s is invalid: expected ", line);
        CHECK(load_text(text) < 0 && strstr(err, where) && strstr(err, expect), "%s refused (%s)", line, err);
}

static void test_defaults(void) {
        settings_defaults(&s);
        const struct upload_settings *u = &s.upload;
        CHECK(u->n_urls == 0 && u->keep_after_upload, "defaults: no upload, KeepAfterUpload=yes");
        CHECK(u->retry_for_usec == 7 * 86400 * USEC_PER_SEC && u->retry_attempts == 0,
              "defaults: retried for 7 days, no bound on attempts");
        CHECK(u->retry_delay_usec == 60 * USEC_PER_SEC && u->retry_delay_max_usec == 3600 * USEC_PER_SEC,
              "defaults: backoff from 1 min to 1 h");
        CHECK(u->part_size == 0 && u->timeout_usec == 0 && !u->s3_endpoint[0] && !u->name_template[0],
              "defaults: the engine's part size, no timeout but the stall rule, AWS, default names");
}

static void test_every_key(void) {
        CHECK(load_text("[Receiver]\nUpload=s3://cores/prod\nUpload=ftp://ftp.example.net/incoming\n"
                        "S3Endpoint=http://127.0.0.1:9000\nS3Region=eu-central-1\nUploadName={hostname}/{file}\n"
                        "UploadCredentials=/etc/core_pipe/upload.cred\nUploadPartSize=64M\nUploadTimeout=10min\n"
                        "KeepAfterUpload=no\nUploadRetryFor=2d\nUploadRetryAttempts=50\nUploadRetryDelay=30s\n"
                        "UploadRetryDelayMax=2h\n") == 0,
              "a file with every upload key loads (%s)", err);
        const struct upload_settings *u = &s.upload;
        CHECK(u->n_urls == 2 && strcmp(u->urls[0], "s3://cores/prod") == 0 &&
                      strcmp(u->urls[1], "ftp://ftp.example.net/incoming") == 0,
              "Upload= is repeatable, in order");
        CHECK(strcmp(u->s3_endpoint, "http://127.0.0.1:9000") == 0 && strcmp(u->s3_region, "eu-central-1") == 0,
              "S3Endpoint=, S3Region=");
        CHECK(strcmp(u->name_template, "{hostname}/{file}") == 0 &&
                      strcmp(u->credentials, "/etc/core_pipe/upload.cred") == 0,
              "UploadName=, UploadCredentials=");
        CHECK(u->part_size == (UINT64_C(64) << 20) && u->timeout_usec == 600 * USEC_PER_SEC && !u->keep_after_upload,
              "UploadPartSize=64M, UploadTimeout=10min, KeepAfterUpload=no");
        CHECK(u->retry_for_usec == 2 * 86400 * USEC_PER_SEC && u->retry_attempts == 50 &&
                      u->retry_delay_usec == 30 * USEC_PER_SEC && u->retry_delay_max_usec == 7200 * USEC_PER_SEC,
              "UploadRetryFor=2d, UploadRetryAttempts=50, UploadRetryDelay=30s, UploadRetryDelayMax=2h");
        CHECK(load_text("[Receiver]\nUpload=s3://bucket\nUpload=\nUpload=sftp://h/in\n") == 0 && s.upload.n_urls == 1 &&
                      strcmp(s.upload.urls[0], "sftp://h/in") == 0,
              "an empty Upload= forgets the targets set before it");
        CHECK(load_text("[Receiver]\nUploadRetryFor=infinity\nUploadTimeout=infinity\n") == 0 &&
                      s.upload.retry_for_usec == USEC_INFINITY && s.upload.timeout_usec == 0,
              "UploadRetryFor=infinity, UploadTimeout=infinity");
        CHECK(load_text("[Receiver]\nUpload=https://put.example.net/cores\nUpload=http://127.0.0.1:8080/x\n"
                        "Upload=ftps://h/in\n") == 0 &&
                      s.upload.n_urls == 3,
              "https, http and ftps targets");
}

static void test_refused(void) {
        refused("Upload=gopher://h/x", "");
        CHECK(load_text("[Receiver]\nUpload=ftp://user:secret@h/in\n") < 0, "a password in the URL is refused");
        refused("Upload=s3://", "");
        refused("S3Endpoint=ftp://127.0.0.1:9000", "");
        refused("S3Region=EU_West", "an S3 region name");
        refused("UploadName=../{file}", "");
        refused("UploadCredentials=relative/file", "an absolute path");
        refused("UploadPartSize=1M", "from 5M to 1G");
        refused("UploadPartSize=2G", "from 5M to 1G");
        refused("UploadTimeout=0", "from 1s to 7d");
        refused("KeepAfterUpload=sometimes", "a boolean");
        refused("UploadRetryFor=30s", "from 1min to 365d");
        refused("UploadRetryFor=400d", "from 1min to 365d");
        refused("UploadRetryAttempts=-1", "0 (no bound)");
        refused("UploadRetryDelay=0", "from 1s to 1d");
        refused("UploadRetryDelayMax=8d", "from 1s to 7d");
        refused("UploadRetryDelay=99999999999999999d", "from 1s to 1d");
        /* Days that would wrap to 8192 s in 64 bits. */
        refused("UploadRetryDelay=273551977366208d", "from 1s to 1d");
        char text[8192] = "[Receiver]\n";
        for (int i = 0; i < 9; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "Upload=ftp://h/%d\n", i);
        CHECK(load_text(text) < 0 && strstr(err, ":10: Upload=ftp://h/8 is invalid: expected at most 8"),
              "a ninth target is refused (%s)", err);
}

static void test_no_password_shown(void) {
        char buf[SETTINGS_VALUE_LOG_MAX];
        CHECK(load_text("[Receiver]\nUpload=ftp://crash:Hunter2pw@ftp.example.net/in\n") < 0 &&
                      !strstr(err, "Hunter2pw") &&
                      strstr(err, ":2: Upload=ftp://crash:***@ftp.example.net/in is invalid"),
              "a password in an Upload= URL is refused without being repeated (%s)", err);
        CHECK(strcmp(settings_value_for_log("Upload", "s3://b/p:q@r", buf, sizeof(buf)), "s3://b/p:q@r") == 0,
              "a \"@\" in the path is no password");
        CHECK(strcmp(settings_value_for_log("S3Endpoint", "https://k:s@h:9", buf, sizeof(buf)), "https://k:***@h:9") ==
                      0,
              "S3Endpoint= is masked the same way");
        CHECK(strcmp(settings_value_for_log("Upload", "sftp://a:b:c@d@h/x", buf, sizeof(buf)), "sftp://a:***@h/x") == 0,
              "everything between the user and the last \"@\" of the host part is hidden");
        CHECK(strcmp(settings_value_for_log("Store", "/a:b@c", buf, sizeof(buf)), "/a:b@c") == 0,
              "other keys are shown as they are");
}

static void test_setter(void) {
        const char *expect = NULL;
        settings_defaults(&s);
        CHECK(settings_set(&s, "Upload", "s3://bucket", &expect) == 0 && s.upload.n_urls == 1,
              "the command line's --upload= sets the same key");
        CHECK(settings_set(&s, "KeepAfterUpload", "maybe", &expect) < 0 && expect && strstr(expect, "boolean"),
              "the setter says what it expects");
        CHECK(settings_set(&s, "UploadTo", "x", &expect) == -ENOKEY, "an unknown key stays unknown");
}

int main(void) {
        if (!mkdtemp(dir))
                return 1;
        test_defaults();
        test_every_key();
        test_refused();
        test_no_password_shown();
        test_setter();
        char path[128];
        snprintf(path, sizeof(path), "%s/receiver.conf", dir);
        unlink(path);
        rmdir(dir);
        return tap_done();
}
