/* SPDX-License-Identifier: MIT */
/*
 * S3 and S3-compatible stores, signed by libcurl (CURLOPT_AWS_SIGV4). Every request carries the
 * SHA-256 of its payload as x-amz-content-sha256, which the signature covers (libcurl 7.88 signs
 * that header's value as the payload hash and every header we add: the server verifies the payload
 * against it), and a part also as x-amz-checksum-sha256, which S3 keeps with the object. No
 * Content-MD5: it would say nothing more and cost a second pass over every byte (MD5 runs at
 * half SHA-256's speed here).
 *
 * An object of at most one part is one PUT. A larger one is a multipart upload: the parts are
 * read one at a time into one buffer (memory: one part), and the object exists on the server
 * only once CompleteMultipartUpload succeeded; a failure before that aborts the upload, so no
 * reader ever sees a partial object (parts of an upload that could not even be aborted, the
 * server being gone, stay invisible and are reclaimed by the bucket's lifecycle rules).
 * With S3Endpoint= the URLs are path-style (ENDPOINT/BUCKET/KEY), as S3-compatible servers
 * expect; without, AWS's virtual-hosted style for the region.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "upload-internal.h"

#define S3_MAX_PARTS 10000
#define S3_PART_ATTEMPTS 3

struct s3_part {
        char etag[128];
        char sha256_b64[48];
};

struct membuf {
        const uint8_t *data;
        size_t len, pos;
};

static int64_t membuf_read(void *userdata, void *buf, size_t len) {
        struct membuf *m = userdata;
        size_t n = MIN(len, m->len - m->pos);
        memcpy(buf, m->data + m->pos, n);
        m->pos += n;
        return (int64_t) n;
}

static int membuf_rewind(void *userdata) {
        ((struct membuf *) userdata)->pos = 0;
        return 0;
}

/* The request URL for key (and a query), and the URL errors name. */
static int s3_urls(const struct upload_ctx *ctx, const char *key, const char *query, char *url, size_t size,
                   char *shown, size_t shown_size) {
        const struct upload_config *c = ctx->cfg;
        const char *bucket = ctx->target->host;
        const char *region = c->s3_region[0] ? c->s3_region : UPLOAD_REGION_DEFAULT;
        const char *q = query ? "?" : "", *qs = query ? query : "";
        int n;
        if (c->s3_endpoint[0] != '\0') {
                size_t elen = strlen(c->s3_endpoint);
                if (c->s3_endpoint[elen - 1] == '/')
                        elen--;
                n = snprintf(url, size, "%.*s/%s/%s%s%s", (int) elen, c->s3_endpoint, bucket, key, q, qs);
        } else if (strchr(bucket, '.')) {
                n = snprintf(url, size, "https://s3.%s.amazonaws.com/%s/%s%s%s", region, bucket, key, q, qs);
        } else {
                n = snprintf(url, size, "https://%s.s3.%s.amazonaws.com/%s%s%s", bucket, region, key, q, qs);
        }
        if (n < 0 || (size_t) n >= size)
                return -ENAMETOOLONG;
        n = snprintf(shown, shown_size, "s3://%s/%s", bucket, key);
        return n < 0 || (size_t) n >= shown_size ? -ENAMETOOLONG : 0;
}

static struct curl_slist *add_header(struct curl_slist *l, bool *failed, const char *name, const char *value) {
        char line[4352];
        if (*failed)
                return l;
        snprintf(line, sizeof(line), "%s: %s", name, value);
        struct curl_slist *n = curl_slist_append(l, line);
        if (!n)
                *failed = true;
        return n ? n : l;
}

enum s3_checksum {
        S3_CHECKSUM_NONE,
        S3_CHECKSUM_PAYLOAD, /* x-amz-checksum-sha256 of this request's payload (a part, a single PUT) */
        S3_CHECKSUM_DECLARE, /* CreateMultipartUpload: the parts will carry SHA-256 checksums */
};

/* The SHA-256 of data in memory. */
static int sha_of(const void *data, size_t len, uint8_t ret_sha[32]) {
        struct upload_hash h;
        int r = upload_hash_init(&h, false);
        if (r < 0)
                return r;
        upload_hash_update(&h, data, len);
        r = upload_hash_final(&h, NULL, ret_sha);
        upload_hash_done(&h);
        return r;
}

/* The headers of a request whose payload's SHA-256 is sha; a part's checksum is written to part. */
static struct curl_slist *s3_headers(const struct upload_ctx *ctx, const char *content_type, const uint8_t sha[32],
                                     enum s3_checksum checksum, struct s3_part *part) {
        char hex[65], b64_sha[48];
        upload_hex(sha, 32, hex);
        upload_base64(sha, 32, b64_sha);
        bool failed = false;
        struct curl_slist *l = add_header(NULL, &failed, "x-amz-content-sha256", hex);
        if (checksum == S3_CHECKSUM_PAYLOAD)
                l = add_header(l, &failed, "x-amz-checksum-sha256", b64_sha);
        if (checksum == S3_CHECKSUM_DECLARE)
                l = add_header(l, &failed, "x-amz-checksum-algorithm", "SHA256");
        if (content_type)
                l = add_header(l, &failed, "content-type", content_type);
        if (ctx->creds->session_token[0] != '\0')
                l = add_header(l, &failed, "x-amz-security-token", ctx->creds->session_token);
        if (part)
                snprintf(part->sha256_b64, sizeof(part->sha256_b64), "%s", b64_sha);
        if (failed) {
                curl_slist_free_all(l);
                return NULL;
        }
        return l;
}

/* A request's payload: a PUT's body (read as it is sent) or a POST's bytes in memory, with the
 * payload's SHA-256 (sha NULL: computed here from data). */
struct s3_payload {
        const struct upload_source *body;
        const void *data;
        size_t len;
        const uint8_t *sha;
};

/* One signed request: PUT (the payload's body), POST (its data) or another method (no payload). */
static int s3_request(const struct upload_ctx *ctx, const char *method, const char *key, const char *query,
                      const char *content_type, const struct s3_payload *pl, enum s3_checksum checksum,
                      struct s3_part *part, volatile bool *cancel, struct upload_response *resp, char *err,
                      size_t size) {
        char url[2048], shown[1100];
        uint8_t sha[32];
        int r = s3_urls(ctx, key, query, url, sizeof(url), shown, sizeof(shown));
        if (r < 0) {
                snprintf(err, size, "s3://%s/%s: URL too long", ctx->target->host, key);
                return r;
        }
        if (pl->sha)
                memcpy(sha, pl->sha, 32);
        else if (sha_of(pl->data, pl->len, sha) < 0)
                return -ENOMEM;
        struct curl_slist *headers = s3_headers(ctx, content_type, sha, checksum, part);
        if (!headers)
                return -ENOMEM;
        bool put = strcmp(method, "PUT") == 0;
        if (put && pl->body->rewind(pl->body->userdata) < 0) { /* a part sent again starts at its first byte */
                curl_slist_free_all(headers);
                return -EIO;
        }
        struct upload_request rq = {
                .url = url,
                .shown = shown,
                .method = put ? NULL : method,
                .body = put ? pl->body : NULL,
                .body_size = (int64_t) pl->len,
                .post = strcmp(method, "POST") == 0 ? (pl->data ? pl->data : "") : NULL,
                .post_len = pl->len,
                .headers = headers,
                .s3 = true,
                .cancel = cancel,
        };
        r = upload_perform(ctx, &rq, resp, err, size);
        curl_slist_free_all(headers);
        return r;
}

static int s3_create(const struct upload_ctx *ctx, const char *key, const char *content_type, char *upload_id,
                     size_t id_size, volatile bool *cancel, char *err, size_t size) {
        struct upload_response *resp = malloc(sizeof(*resp));
        if (!resp)
                return -ENOMEM;
        int r = s3_request(ctx, "POST", key, "uploads=", content_type, &(struct s3_payload){0}, S3_CHECKSUM_DECLARE,
                           NULL, cancel, resp, err, size);
        if (r >= 0 && upload_xml_value(resp->body, resp->body_len, "UploadId", upload_id, id_size) < 0) {
                snprintf(err, size, "s3://%s/%s: no UploadId in the reply to CreateMultipartUpload", ctx->target->host,
                         key);
                r = -EBADMSG;
        }
        free(resp);
        return r;
}

/* An upload id in a query: percent-encoded but for unreserved characters. */
static void query_escape(const char *s, char *out, size_t size) {
        size_t n = 0;
        for (; *s && n + 4 < size; s++) {
                unsigned char c = (unsigned char) *s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_' || c == '~')
                        out[n++] = (char) c;
                else
                        n += (size_t) snprintf(out + n, size - n, "%%%02X", c);
        }
        out[n] = '\0';
}

static int s3_put_part(const struct upload_ctx *ctx, const char *key, const char *upload_id, unsigned number,
                       const struct s3_payload *pl, struct s3_part *part, volatile bool *cancel, char *err,
                       size_t size) {
        char query[1200], id[1024];
        query_escape(upload_id, id, sizeof(id));
        snprintf(query, sizeof(query), "partNumber=%u&uploadId=%s", number, id);
        struct upload_response *resp = malloc(sizeof(*resp));
        if (!resp)
                return -ENOMEM;
        int r = -EIO;
        for (unsigned attempt = 1; attempt <= S3_PART_ATTEMPTS; attempt++) {
                r = s3_request(ctx, "PUT", key, query, NULL, pl, S3_CHECKSUM_PAYLOAD, part, cancel, resp, err, size);
                if (r >= 0 || r == -EACCES || r == -ECANCELED || (cancel && *cancel))
                        break;
                if (attempt < S3_PART_ATTEMPTS)
                        sleep(attempt); /* a server restarting: give it a moment */
        }
        if (r >= 0 && resp->etag[0] == '\0') {
                snprintf(err, size, "s3://%s/%s: no ETag in the reply to part %u", ctx->target->host, key, number);
                r = -EBADMSG;
        }
        if (r >= 0)
                snprintf(part->etag, sizeof(part->etag), "%s", resp->etag);
        free(resp);
        return r;
}

/* A value of the server's (an ETag) as XML text: & < > escaped, control characters dropped. */
static void xml_text(FILE *f, const char *s) {
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '&')
                        fputs("&amp;", f);
                else if (c == '<')
                        fputs("&lt;", f);
                else if (c == '>')
                        fputs("&gt;", f);
                else if (c >= 0x20 && c != 0x7f)
                        fputc(c, f);
        }
}

static char *complete_xml(const struct s3_part *parts, unsigned n, size_t *ret_len) {
        char *xml = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&xml, &len);
        if (!f)
                return NULL;
        fputs("<CompleteMultipartUpload>", f);
        for (unsigned i = 0; i < n; i++) {
                fprintf(f, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
                xml_text(f, parts[i].etag);
                fprintf(f, "</ETag><ChecksumSHA256>%s</ChecksumSHA256></Part>", parts[i].sha256_b64);
        }
        fputs("</CompleteMultipartUpload>", f);
        if (ferror(f) | fclose(f)) {
                free(xml);
                return NULL;
        }
        *ret_len = len;
        return xml;
}

static int s3_complete(const struct upload_ctx *ctx, const char *key, const char *upload_id,
                       const struct s3_part *parts, unsigned n, volatile bool *cancel, char *err, size_t size) {
        char query[1100], id[1024];
        size_t len;
        query_escape(upload_id, id, sizeof(id));
        snprintf(query, sizeof(query), "uploadId=%s", id);
        _cleanup_free_ char *xml = complete_xml(parts, n, &len);
        _cleanup_free_ struct upload_response *resp = malloc(sizeof(*resp));
        if (!xml || !resp)
                return -ENOMEM;
        /* No x-amz-checksum-sha256 here: on this request it would name the whole object's checksum. */
        struct s3_payload pl = {.data = xml, .len = len};
        int r = s3_request(ctx, "POST", key, query, "application/xml", &pl, S3_CHECKSUM_NONE, NULL, cancel, resp, err,
                           size);
        /* S3 may answer 200 and then report a failure in the body: only a result is a success. */
        if (r >= 0 && !upload_xml_root_is(resp->body, resp->body_len, "CompleteMultipartUploadResult")) {
                char code[96] = "";
                (void) upload_xml_value(resp->body, resp->body_len, "Code", code, sizeof(code));
                snprintf(err, size, "s3://%s/%s: CompleteMultipartUpload failed: %s", ctx->target->host, key,
                         code[0] ? code : "no CompleteMultipartUploadResult in the reply");
                r = -EIO;
        }
        return r;
}

static void s3_abort(const struct upload_ctx *ctx, const char *key, const char *upload_id) {
        char query[1100], id[1024], err[256];
        query_escape(upload_id, id, sizeof(id));
        snprintf(query, sizeof(query), "uploadId=%s", id);
        struct upload_response *resp = malloc(sizeof(*resp));
        if (resp)
                (void) s3_request(ctx, "DELETE", key, query, NULL, &(struct s3_payload){0}, S3_CHECKSUM_NONE, NULL,
                                  NULL, resp, err, sizeof(err));
        free(resp);
}

struct s3_job {
        const struct upload_ctx *ctx;
        char key[1024];
        const char *content_type;
        const struct upload_s3_input *in;
        volatile bool *cancel;
        uint64_t part_size;
        uint8_t *buf;             /* a stream's part */
        struct upload_hash whole; /* a stream's sum (a file's comes from in->sum) */
        uint64_t total;
        unsigned next;          /* the index of the part job_next() gives next */
        struct membuf mb;       /* the current part's body: a stream's buffer ... */
        struct upload_range rg; /* ... or a range of the file */
        struct upload_source body;
        struct s3_payload pl;
        uint8_t part_sha[32];
        char upload_id[1024];
        struct s3_part *parts;
        unsigned n_parts;
};

/* A stream's next part: read into the buffer (whole unless the end comes first) and hashed. */
static int64_t job_next_stream(struct s3_job *j) {
        int64_t n = j->in->fill(j->in->userdata, j->buf, (size_t) j->part_size);
        if (n < 0)
                return n;
        upload_hash_update(&j->whole, j->buf, (size_t) n);
        int r = sha_of(j->buf, (size_t) n, j->part_sha);
        if (r < 0)
                return r;
        j->mb = (struct membuf){.data = j->buf, .len = (size_t) n};
        j->body = (struct upload_source){.read = membuf_read, .rewind = membuf_rewind, .userdata = &j->mb};
        return n;
}

/* A file's next part: a range of it, its sum from the sum thread. */
static int64_t job_next_file(struct s3_job *j) {
        uint64_t off = (uint64_t) j->next * j->part_size;
        if (j->next >= upload_filesum_parts(j->in->sum))
                return 0;
        uint64_t n = MIN(j->part_size, j->in->size - off);
        int r = upload_filesum_part(j->in->sum, j->next, j->part_sha);
        if (r < 0)
                return r;
        j->rg = (struct upload_range){.fd = j->in->fd, .start = off, .len = n};
        j->body = (struct upload_source){.read = upload_range_read, .rewind = upload_range_rewind, .userdata = &j->rg};
        return (int64_t) n;
}

/* The next part, set up as j->pl: its length (less than a part only at the end; 0: none left). */
static int64_t job_next(struct s3_job *j) {
        int64_t n = j->in->fill ? job_next_stream(j) : job_next_file(j);
        if (n < 0)
                return n;
        j->next++;
        j->total += (uint64_t) n;
        j->pl = (struct s3_payload){.body = &j->body, .len = (size_t) n, .sha = j->part_sha};
        return n;
}

static int job_multipart(struct s3_job *j, int64_t n, char *err, size_t size) {
        int r = s3_create(j->ctx, j->key, j->content_type, j->upload_id, sizeof(j->upload_id), j->cancel, err, size);
        if (r < 0)
                return r;
        for (;;) {
                if (j->n_parts == S3_MAX_PARTS) {
                        snprintf(err, size,
                                 "s3://%s/%s: more than %u parts: raise UploadPartSize=", j->ctx->target->host, j->key,
                                 S3_MAX_PARTS);
                        r = -EFBIG;
                        break;
                }
                if (j->n_parts % 64 == 0) {
                        struct s3_part *p = realloc(j->parts, (j->n_parts + 64) * sizeof(*p));
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        j->parts = p;
                }
                r = s3_put_part(j->ctx, j->key, j->upload_id, j->n_parts + 1, &j->pl, &j->parts[j->n_parts], j->cancel,
                                err, size);
                if (r < 0)
                        break;
                j->n_parts++;
                if ((uint64_t) n < j->part_size || (n = job_next(j)) <= 0)
                        break;
        }
        if (r >= 0 && n < 0) {
                snprintf(err, size, "s3://%s/%s: reading the data: %s", j->ctx->target->host, j->key,
                         strerror((int) -n));
                r = (int) n;
        }
        if (r >= 0)
                r = s3_complete(j->ctx, j->key, j->upload_id, j->parts, j->n_parts, j->cancel, err, size);
        if (r < 0)
                s3_abort(j->ctx, j->key, j->upload_id);
        return r;
}

static int job_run(struct s3_job *j, char *err, size_t size) {
        int64_t n = job_next(j);
        if (n < 0) {
                snprintf(err, size, "s3://%s/%s: reading the data: %s", j->ctx->target->host, j->key,
                         strerror((int) -n));
                return (int) n;
        }
        /* A file of at most one part is one PUT; a stream's part that came full may have more after it. */
        if (j->in->fill ? (uint64_t) n < j->part_size : j->in->size <= j->part_size) {
                struct upload_response *resp = malloc(sizeof(*resp));
                if (!resp)
                        return -ENOMEM;
                int r = s3_request(j->ctx, "PUT", j->key, NULL, j->content_type, &j->pl, S3_CHECKSUM_PAYLOAD, NULL,
                                   j->cancel, resp, err, size);
                free(resp);
                return r;
        }
        return job_multipart(j, n, err, size);
}

/* The object's sum once it is on the server: a stream's from what was read, a file's from its thread. */
static int job_sum(struct s3_job *j, uint8_t ret_sha[32]) {
        if (!j->in->fill)
                return upload_filesum_whole(j->in->sum, ret_sha);
        return upload_hash_final(&j->whole, NULL, ret_sha);
}

int upload_s3(const struct upload_ctx *ctx, const char *name, uint64_t part_size, const char *content_type,
              const struct upload_s3_input *in, volatile bool *cancel, struct upload_result *ret) {
        struct s3_job j = {
                .ctx = ctx, .content_type = content_type, .in = in, .cancel = cancel, .part_size = part_size};
        int r = upload_target_object_path(ctx->target, name, j.key, sizeof(j.key));
        if (r < 0) {
                snprintf(ret->error, sizeof(ret->error), "s3://%s: object name too long", ctx->target->host);
                return r;
        }
        j.buf = in->fill ? malloc((size_t) part_size) : NULL;
        if ((in->fill && !j.buf) || upload_hash_init(&j.whole, false) < 0) {
                free(j.buf);
                snprintf(ret->error, sizeof(ret->error), "s3://%s/%s: out of memory", ctx->target->host, j.key);
                return -ENOMEM;
        }
        r = job_run(&j, ret->error, sizeof(ret->error));
        uint8_t sha[32];
        if (r >= 0 && job_sum(&j, sha) >= 0) {
                upload_hex(sha, 32, ret->sha256);
                ret->bytes = j.total;
                ret->confirmed = true;
                ret->error[0] = '\0';
        }
        upload_hash_done(&j.whole);
        free(j.parts);
        free(j.buf);
        return r;
}
