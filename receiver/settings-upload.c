/* SPDX-License-Identifier: MIT */
/*
 * The upload keys of receiver.conf (and of the command line, and of the host fallback's
 * configuration, which is a receiver.conf too). Each value is checked here, when the settings
 * are read, by the engine's own validators (upload.h): a receiver never starts with a target it
 * could not use.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "parse.h"
#include "settings.h"
#include "upload.h"

#define RETRY_FOR_DEFAULT_USEC (7 * 86400 * USEC_PER_SEC)
#define RETRY_DELAY_DEFAULT_USEC (60 * USEC_PER_SEC)
#define RETRY_DELAY_MAX_DEFAULT_USEC (3600 * USEC_PER_SEC)

void upload_settings_defaults(struct upload_settings *u) {
        *u = (struct upload_settings){
                .keep_after_upload = true,
                .retry_for_usec = RETRY_FOR_DEFAULT_USEC,
                .retry_delay_usec = RETRY_DELAY_DEFAULT_USEC,
                .retry_delay_max_usec = RETRY_DELAY_MAX_DEFAULT_USEC,
        };
}

static int copy_text(char *out, size_t size, const char *value) {
        if (strlen(value) >= size)
                return -EINVAL;
        snprintf(out, size, "%s", value);
        return 0;
}

/* Upload=: one more target, or "" to forget those set before (a file's, for the command line). */
static int add_url(struct upload_settings *u, const char *value, const char **ret_expect) {
        if (!value[0]) {
                u->n_urls = 0;
                return 0;
        }
        if (upload_url_check(value, ret_expect) < 0)
                return -EINVAL;
        *ret_expect = "at most 8 Upload= targets, each shorter than 512 bytes";
        if (u->n_urls >= UPLOAD_URLS_MAX || strlen(value) >= UPLOAD_URL_MAX)
                return -EINVAL;
        snprintf(u->urls[u->n_urls++], UPLOAD_URL_MAX, "%s", value);
        return 0;
}

/* An S3 region: lower-case letters, digits and dashes ("us-east-1", "eu-central-1", "auto"). */
static int set_region(struct upload_settings *u, const char *value) {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof(u->s3_region))
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!((value[i] >= 'a' && value[i] <= 'z') || (value[i] >= '0' && value[i] <= '9') || value[i] == '-'))
                        return -EINVAL;
        return copy_text(u->s3_region, sizeof(u->s3_region), value);
}

/* Where and under which name the cores go. Returns -ENOKEY for any other key. */
static int set_target_key(struct upload_settings *u, const char *key, const char *value, const char **ret_expect) {
        if (strcmp(key, "Upload") == 0)
                return add_url(u, value, ret_expect);
        if (strcmp(key, "S3Endpoint") == 0) {
                if (upload_endpoint_check(value, ret_expect) < 0)
                        return -EINVAL;
                return copy_text(u->s3_endpoint, sizeof(u->s3_endpoint), value);
        }
        if (strcmp(key, "S3Region") == 0) {
                *ret_expect = "an S3 region name (lower-case letters, digits and dashes, as us-east-1)";
                return set_region(u, value);
        }
        if (strcmp(key, "UploadName") == 0) {
                if (value[0] && upload_name_check(value, ret_expect) < 0)
                        return -EINVAL;
                *ret_expect = "a template shorter than 256 bytes";
                return copy_text(u->name_template, sizeof(u->name_template), value);
        }
        if (strcmp(key, "UploadCredentials") == 0) {
                *ret_expect = "an absolute path shorter than 256 bytes, or empty";
                if (value[0] && value[0] != '/')
                        return -EINVAL;
                return copy_text(u->credentials, sizeof(u->credentials), value);
        }
        return -ENOKEY;
}

/* A time span (parse_timespan_usec(), and hours "h" or days "d" for the retry keys), or
 * "infinity" (USEC_INFINITY) where that is allowed. */
static int parse_span(const char *value, bool infinity_ok, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v, unit = 0;
        size_t n = strlen(value);
        char num[32];
        if (infinity_ok && strcmp(value, "infinity") == 0) {
                *ret = USEC_INFINITY;
                return 0;
        }
        if (n > 1 && n < sizeof(num) && (value[n - 1] == 'h' || value[n - 1] == 'd')) {
                unit = (value[n - 1] == 'h' ? 3600 : 86400) * USEC_PER_SEC;
                memcpy(num, value, n - 1);
                num[n - 1] = '\0';
                if (parse_uint64(num, &v) < 0 || v > max / unit)
                        return -EINVAL;
                v *= unit;
        } else if (parse_timespan_usec(value, &v) < 0)
                return -EINVAL;
        if (v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* How the transfers are made. Returns -ENOKEY for any other key. */
static int set_transfer_key(struct upload_settings *u, const char *key, const char *value, const char **ret_expect) {
        uint64_t v;
        int b;
        if (strcmp(key, "UploadPartSize") == 0) {
                *ret_expect = "a size from 5M to 1G (K, M, G suffixes)";
                if (parse_size(value, &v) < 0 || v < UPLOAD_PART_SIZE_MIN || v > UPLOAD_PART_SIZE_MAX)
                        return -EINVAL;
                u->part_size = v;
                return 0;
        }
        if (strcmp(key, "UploadTimeout") == 0) {
                *ret_expect = "a time span from 1s to 7d, or \"infinity\" (only the stall rule)";
                if (parse_span(value, true, USEC_PER_SEC, 7 * 86400 * USEC_PER_SEC, &v) < 0)
                        return -EINVAL;
                u->timeout_usec = v == USEC_INFINITY ? 0 : v;
                return 0;
        }
        if (strcmp(key, "KeepAfterUpload") == 0) {
                *ret_expect = "a boolean (yes or no)";
                if ((b = parse_boolean(value)) < 0)
                        return -EINVAL;
                u->keep_after_upload = b;
                return 0;
        }
        return -ENOKEY;
}

/* How failed uploads are retried. Returns -ENOKEY for any other key. */
static int set_retry_key(struct upload_settings *u, const char *key, const char *value, const char **ret_expect) {
        uint32_t n;
        if (strcmp(key, "UploadRetryFor") == 0) {
                *ret_expect = "a time span from 1min to 365d, or \"infinity\"";
                return parse_span(value, true, 60 * USEC_PER_SEC, 365 * 86400 * USEC_PER_SEC, &u->retry_for_usec);
        }
        if (strcmp(key, "UploadRetryAttempts") == 0) {
                *ret_expect = "a number of attempts from 0 (no bound) to 1000000";
                if (parse_uint32(value, &n) < 0 || n > 1000000)
                        return -EINVAL;
                u->retry_attempts = n;
                return 0;
        }
        if (strcmp(key, "UploadRetryDelay") == 0) {
                *ret_expect = "a time span from 1s to 1d";
                return parse_span(value, false, USEC_PER_SEC, 86400 * USEC_PER_SEC, &u->retry_delay_usec);
        }
        if (strcmp(key, "UploadRetryDelayMax") == 0) {
                *ret_expect = "a time span from 1s to 7d";
                return parse_span(value, false, USEC_PER_SEC, 7 * 86400 * USEC_PER_SEC, &u->retry_delay_max_usec);
        }
        return -ENOKEY;
}

int upload_settings_set(struct upload_settings *u, const char *key, const char *value, const char **ret_expect) {
        int r = set_target_key(u, key, value, ret_expect);
        if (r != -ENOKEY)
                return r;
        r = set_transfer_key(u, key, value, ret_expect);
        if (r != -ENOKEY)
                return r;
        return set_retry_key(u, key, value, ret_expect);
}

const char *settings_value_for_log(const char *key, const char *value, char *buf, size_t size) {
        const char *scheme = strstr(value, "://");
        if ((strcmp(key, "Upload") != 0 && strcmp(key, "S3Endpoint") != 0) || !scheme)
                return value;
        const char *host = scheme + 3;
        size_t authority = strcspn(host, "/?#");
        const char *at = memrchr(host, '@', authority);
        const char *colon = at ? memchr(host, ':', (size_t) (at - host)) : NULL;
        if (!colon)
                return value;
        /* user:PASSWORD@host: the user stays, the password never appears. */
        snprintf(buf, size, "%.*s:***%s", (int) (colon - value), value, at);
        return buf;
}
