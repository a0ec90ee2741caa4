/* SPDX-License-Identifier: MIT */
/*
 * The upload engine from the command line, for tests and bench/ (not installed):
 *   upload-tool [--endpoint=URL] [--region=R] [--part-size=BYTES] [--stall-ms=MS] [--timeout-ms=MS]
 *               [--credentials=FILE] [--stream[=CHUNK]] [--abort-after=BYTES] FILE NAME URL...
 * uploads FILE as object NAME to every URL (upload_file(), or the streaming writer fed CHUNK bytes
 * at a time, 64 KiB by default) and prints one line per target:
 *   ok URL BYTES SHA256   or   error URL: REASON
 * Exit status 0 when every target confirmed, 1 otherwise, 2 for a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "upload.h"

struct options {
        struct upload_config c;
        size_t stream_chunk;
        long long abort_after;
};

static int parse_option(struct options *o, const char *a) {
        if (strncmp(a, "--endpoint=", 11) == 0)
                snprintf(o->c.s3_endpoint, sizeof(o->c.s3_endpoint), "%s", a + 11);
        else if (strncmp(a, "--region=", 9) == 0)
                snprintf(o->c.s3_region, sizeof(o->c.s3_region), "%s", a + 9);
        else if (strncmp(a, "--credentials=", 14) == 0)
                snprintf(o->c.credentials, sizeof(o->c.credentials), "%s", a + 14);
        else if (strncmp(a, "--part-size=", 12) == 0)
                o->c.part_size = strtoull(a + 12, NULL, 10);
        else if (strncmp(a, "--stall-ms=", 11) == 0)
                o->c.stall_usec = strtoull(a + 11, NULL, 10) * 1000;
        else if (strncmp(a, "--timeout-ms=", 13) == 0)
                o->c.timeout_usec = strtoull(a + 13, NULL, 10) * 1000;
        else if (strcmp(a, "--stream") == 0)
                o->stream_chunk = 64 << 10;
        else if (strncmp(a, "--stream=", 9) == 0)
                o->stream_chunk = strtoull(a + 9, NULL, 10);
        else if (strncmp(a, "--abort-after=", 14) == 0)
                o->abort_after = strtoll(a + 14, NULL, 10);
        else
                return -EINVAL;
        return 0;
}

static int stream_file(struct options *o, int fd, const char *name, struct upload_result *res) {
        struct upload_stream *s;
        int r = upload_stream_open(&o->c, name, "application/octet-stream", &s);
        if (r < 0) {
                fprintf(stderr, "upload-tool: upload_stream_open: %s\n", strerror(-r));
                return r;
        }
        char *buf = malloc(o->stream_chunk);
        long long total = 0;
        ssize_t n;
        while (buf && (n = read(fd, buf, o->stream_chunk)) > 0) {
                if (o->abort_after >= 0 && total + n > o->abort_after) {
                        upload_stream_abort(s);
                        free(buf);
                        printf("aborted after %lld bytes\n", total);
                        return -ECANCELED;
                }
                if ((r = upload_stream_write(s, buf, (size_t) n)) < 0)
                        fprintf(stderr, "upload-tool: upload_stream_write: %s\n", strerror(-r));
                total += n;
        }
        free(buf);
        return upload_stream_finish(s, res);
}

int main(int argc, char **argv) {
        struct options o = {.abort_after = -1};
        int i = 1;
        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++)
                if (parse_option(&o, argv[i]) < 0) {
                        fprintf(stderr, "upload-tool: unknown option %s\n", argv[i]);
                        return 2;
                }
        if (argc - i < 3) {
                fprintf(stderr, "usage: upload-tool [OPTIONS] FILE NAME URL...\n");
                return 2;
        }
        const char *file = argv[i], *name = argv[i + 1];
        o.c.urls = argv + i + 2;
        o.c.n_urls = (size_t) (argc - i - 2);
        for (size_t k = 0; k < o.c.n_urls; k++) {
                const char *expect;
                if (upload_url_check(o.c.urls[k], &expect) < 0) {
                        fprintf(stderr, "upload-tool: %s: expected %s\n", o.c.urls[k], expect);
                        return 2;
                }
        }
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "upload-tool: %s: %s\n", file, strerror(errno));
                return 2;
        }
        struct upload_result *res = calloc(o.c.n_urls, sizeof(*res));
        int r = o.stream_chunk ? stream_file(&o, fd, name, res)
                               : upload_file(&o.c, fd, (uint64_t) st.st_size, name, "application/octet-stream", res);
        for (size_t k = 0; r != -ECANCELED && k < o.c.n_urls; k++)
                if (res[k].confirmed)
                        printf("ok %s %llu %s\n", res[k].url, (unsigned long long) res[k].bytes, res[k].sha256);
                else
                        printf("error %s\n", res[k].error);
        free(res);
        close(fd);
        return r < 0 ? 1 : 0;
}
