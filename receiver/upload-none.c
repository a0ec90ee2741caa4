/* SPDX-License-Identifier: MIT */
/*
 * The upload engine's transfers in a build without libcurl (core_pipe-init, linked statically:
 * libcurl has no static library worth the name). The settings still parse (upload-parse.c and
 * upload-creds.c are linked as they are); every transfer fails with -EOPNOTSUPP and says why.
 */
#include <errno.h>
#include <stdio.h>

#include "upload-internal.h"

#define NO_UPLOADS "this build of core_pipe has no upload support (no libcurl)"

int upload_file(const struct upload_config *c, int fd, uint64_t size, const char *name, const char *content_type,
                struct upload_result *ret) {
        for (size_t i = 0; i < c->n_urls; i++) {
                ret[i] = (struct upload_result){0};
                snprintf(ret[i].error, sizeof(ret[i].error), "%s", NO_UPLOADS);
        }
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
