/* SPDX-License-Identifier: MIT */
/*
 * The upload engine's parsers of untrusted text (receiver/upload-parse.c). The first byte picks
 * one, the rest is its input:
 *   0: an Upload= URL (and the object URL made from it)   1: S3Endpoint=
 *   2: an UploadName= template, rendered with attacker-shaped fields
 *   3: the credentials file's text                         4: an S3 XML reply
 */
#include <string.h>

#include "fuzz.h"
#include "upload-internal.h"

static void fuzz_url(const char *text) {
        struct upload_target t;
        const char *expect = NULL;
        char url[1200];
        if (upload_target_parse(text, &t, &expect) < 0) {
                FUZZ_ASSERT(expect && expect[0]);
                return;
        }
        FUZZ_ASSERT(strlen(t.host) > 0 && t.path[0] != '/' && !strstr(t.path, "//"));
        for (const char *p = t.path; *p;) {
                size_t seg = strcspn(p, "/");
                FUZZ_ASSERT(seg > 0 && !(seg == 1 && p[0] == '.') && !(seg == 2 && p[0] == '.' && p[1] == '.'));
                p += seg + (p[seg] == '/');
        }
        FUZZ_ASSERT(!strchr(t.user, ':') && !strchr(t.user, '@'));
        if (upload_target_object_url(&t, "n", url, sizeof(url)) == 0)
                FUZZ_ASSERT(!strchr(url, '@')); /* no user in what the record shows */
}

static void fuzz_name(const char *text) {
        struct upload_name_fields f = {.container = text,
                                       .hostname = "..",
                                       .file = text,
                                       .comm = "/x/../y",
                                       .pid = 1,
                                       .time_usec = UINT64_MAX};
        char out[512];
        int checked = upload_name_check(text, NULL);
        int r = upload_object_name(text, &f, out, sizeof(out));
        if (r < 0)
                return;
        FUZZ_ASSERT(out[0] != '/' && out[0] != '\0' && !strstr(out, "//"));
        for (const char *p = out; *p;) {
                size_t seg = strcspn(p, "/");
                FUZZ_ASSERT(!(seg == 1 && p[0] == '.') && !(seg == 2 && p[0] == '.' && p[1] == '.'));
                for (size_t i = 0; i < seg; i++)
                        FUZZ_ASSERT(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", p[i]));
                p += seg + (p[seg] == '/');
        }
        FUZZ_ASSERT(checked == 0 || text[0] == '\0');
}

static void fuzz_credentials(const uint8_t *data, size_t size) {
        struct upload_credentials c = {0};
        char err[128] = "";
        if (upload_credentials_parse((const char *) data, size, &c, err, sizeof(err)) < 0)
                FUZZ_ASSERT(strncmp(err, "line ", 5) == 0);
        FUZZ_ASSERT(strlen(c.secret_key) < sizeof(c.secret_key) && strlen(c.session_token) < sizeof(c.session_token));
}

static void fuzz_xml(const uint8_t *data, size_t size) {
        char out[256];
        if (upload_xml_value((const char *) data, size, "UploadId", out, sizeof(out)) == 0)
                for (const char *p = out; *p; p++) /* one line: no control characters */
                        FUZZ_ASSERT((unsigned char) *p >= 0x20 && *p != 0x7f);
        (void) upload_xml_value((const char *) data, size, "Code", out, 8);
        (void) upload_xml_is_error((const char *) data, size);
        (void) upload_xml_root_is((const char *) data, size, "CompleteMultipartUploadResult");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0)
                return 0;
        char *text = fuzz_strndup(data + 1, size - 1);
        switch (data[0] % 5) {
        case 0:
                fuzz_url(text);
                break;
        case 1:
                (void) upload_endpoint_check(text, NULL);
                break;
        case 2:
                fuzz_name(text);
                break;
        case 3:
                fuzz_credentials(data + 1, size - 1);
                break;
        default:
                fuzz_xml(data + 1, size - 1);
        }
        free(text);
        return 0;
}
