/* SPDX-License-Identifier: MIT */
/*
 * The upload engine's API in a build without it (core_pipe-init: static, no libcurl). Every
 * Upload= is refused when the settings are read, so nothing is ever queued or streamed; the
 * rest only keeps the receiver's code linkable.
 */
#include <errno.h>

#include "macro.h"
#include "upload.h"

int upload_url_check(const char *url, const char **ret_expect) {
        *ret_expect = "nothing: this build (core_pipe-init) has no uploads; use core_pipe-receiver";
        return -EINVAL;
}

int upload_endpoint_check(const char *endpoint, const char **ret_expect) {
        return upload_url_check(endpoint, ret_expect);
}

int upload_name_check(const char *template, const char **ret_expect) {
        return upload_url_check(template, ret_expect);
}

int upload_credentials_check(const struct upload_config *c, char *err, size_t size) {
        return -EOPNOTSUPP;
}

int upload_object_name(const char *template, const struct upload_name_fields *f, char *out, size_t size) {
        return -EOPNOTSUPP;
}

int upload_file(const struct upload_config *c, int fd, uint64_t size, const char *name, const char *content_type,
                struct upload_result *ret) {
        return -EOPNOTSUPP;
}

int upload_stream_open(const struct upload_config *c, const char *name, const char *content_type,
                       struct upload_stream **ret) {
        return -EOPNOTSUPP;
}

int upload_stream_write(struct upload_stream *s, const void *data, size_t len) {
        return -EOPNOTSUPP;
}

int upload_stream_finish(struct upload_stream *s, struct upload_result *ret) {
        return -EOPNOTSUPP;
}

void upload_stream_abort(struct upload_stream *s) {
}
