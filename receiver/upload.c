/* SPDX-License-Identifier: MIT */
/*
 * upload_file() and the streaming writer (upload.h). Each target is one transfer of its own
 * (upload-curl.c), S3 through upload-s3.c. A stream runs one thread per target that reads from a
 * bounded ring the writer fills: memory per target is the ring plus, for S3, one part.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "upload-internal.h"

#define STREAM_RING_SIZE (1U << 20)

static uint64_t part_size_of(const struct upload_config *c) {
        uint64_t p = c->part_size ? c->part_size : UPLOAD_PART_SIZE_DEFAULT;
        return MIN(MAX(p, UPLOAD_PART_SIZE_MIN), UPLOAD_PART_SIZE_MAX);
}

static void ctx_init(struct upload_ctx *ctx, const struct upload_config *c, const struct upload_credentials *creds,
                     const struct upload_target *t) {
        *ctx = (struct upload_ctx){.cfg = c, .creds = creds, .target = t};
        snprintf(ctx->s3_sigv4, sizeof(ctx->s3_sigv4), "aws:amz:%s:s3",
                 c->s3_region[0] ? c->s3_region : UPLOAD_REGION_DEFAULT);
}

/* The URL libcurl opens for a non-S3 target: no user in it (given as an option). */
static int plain_url(const struct upload_target *t, const char *name, char *out, size_t size) {
        return upload_target_object_url(t, name, out, size);
}

static struct curl_slist *http_headers(const char *content_type, const uint8_t sha[32]) {
        char line[512], b64[48];
        struct curl_slist *l = curl_slist_append(NULL, "Expect:"), *n = l;
        if (sha && n) {
                upload_base64(sha, 32, b64);
                snprintf(line, sizeof(line), "Digest: sha-256=%s", b64);
                n = curl_slist_append(l, line);
        }
        if (content_type && n) {
                snprintf(line, sizeof(line), "Content-Type: %s", content_type);
                n = curl_slist_append(l, line);
        }
        if (!n) {
                curl_slist_free_all(l);
                return NULL;
        }
        return l;
}

/* After a failed FTP/SFTP transfer: remove what the server kept, where it lets us. */
static void remote_delete(const struct upload_ctx *ctx, const char *name) {
        char path[1200], quote[1300], url[1400], err[256];
        if (upload_target_object_path(ctx->target, name, path, sizeof(path)) < 0)
                return;
        if (ctx->target->scheme == UPLOAD_SFTP)
                snprintf(quote, sizeof(quote), "rm /%s", path);
        else
                snprintf(quote, sizeof(quote), "DELE %s", path);
        snprintf(url, sizeof(url), "%s%s/", upload_scheme_name(ctx->target->scheme), ctx->target->host);
        struct upload_request rq = {.url = url, .shown = url, .nobody = true, .ftp_quote = quote};
        struct upload_response *resp = malloc(sizeof(*resp));
        if (resp)
                (void) upload_perform(ctx, &rq, resp, err, sizeof(err));
        free(resp);
}

static bool is_http(enum upload_scheme s) {
        return s == UPLOAD_HTTP || s == UPLOAD_HTTPS;
}

/* HTTP(S), FTP(S), SFTP: one transfer of the file. HTTP waits for the file's sum (its Digest
 * header comes before the body); FTP and SFTP have no place for it and send at once. */
static int file_plain(const struct upload_ctx *ctx, int fd, uint64_t size, struct upload_filesum *sum, const char *name,
                      const char *content_type, struct upload_result *ret) {
        char url[1400];
        uint8_t sha[32];
        bool http = is_http(ctx->target->scheme);
        int r = plain_url(ctx->target, name, url, sizeof(url));
        if (r >= 0 && http)
                r = upload_filesum_whole(sum, sha);
        if (r < 0) {
                snprintf(ret->error, sizeof(ret->error), "%s: %s", ret->url, strerror(-r));
                return r;
        }
        struct upload_range range = {.fd = fd, .len = size};
        struct upload_source body = {.read = upload_range_read, .rewind = upload_range_rewind, .userdata = &range};
        struct curl_slist *headers = http ? http_headers(content_type, sha) : NULL;
        struct upload_request rq = {
                .url = url, .shown = ret->url, .body = &body, .body_size = (int64_t) size, .headers = headers};
        struct upload_response *resp = malloc(sizeof(*resp));
        r = resp && (headers || !http) ? upload_perform(ctx, &rq, resp, ret->error, sizeof(ret->error)) : -ENOMEM;
        bool sent_some = resp && resp->sent > 0;
        curl_slist_free_all(headers);
        free(resp);
        if (r >= 0 && !http)
                r = upload_filesum_whole(sum, sha);
        if (r < 0) {
                if (!http && sent_some)
                        remote_delete(ctx, name);
                return r;
        }
        upload_hex(sha, 32, ret->sha256);
        ret->bytes = size;
        ret->confirmed = true;
        return 0;
}

static uint64_t file_part_size(const struct upload_config *c, uint64_t size) {
        uint64_t p = part_size_of(c);
        /* S3 takes at most 10000 parts: a larger file gets larger parts (whole MiB). */
        uint64_t need = (size / 10000 + (1ULL << 20)) & ~((1ULL << 20) - 1);
        return MIN(MAX(p, need), UPLOAD_PART_SIZE_MAX);
}

static int upload_one_file(const struct upload_config *c, const struct upload_credentials *creds, size_t i, int fd,
                           uint64_t size, struct upload_filesum *sum, const char *name, const char *content_type,
                           struct upload_result *ret) {
        struct upload_target t;
        struct upload_ctx ctx;
        const char *expect;
        if (upload_target_parse(c->urls[i], &t, &expect) < 0) {
                snprintf(ret->error, sizeof(ret->error), "Upload= URL %zu is not valid: expected %s", i + 1, expect);
                return -EINVAL;
        }
        if (upload_target_object_url(&t, name, ret->url, sizeof(ret->url)) < 0) {
                snprintf(ret->error, sizeof(ret->error), "%s%s: object name too long", upload_scheme_name(t.scheme),
                         t.host);
                return -ENAMETOOLONG;
        }
        ctx_init(&ctx, c, creds, &t);
        if (t.scheme != UPLOAD_S3)
                return file_plain(&ctx, fd, size, sum, name, content_type, ret);
        struct upload_s3_input in = {.fd = fd, .size = size, .sum = sum};
        int r = upload_s3(&ctx, name, file_part_size(c, size), content_type, &in, NULL, ret);
        if (r >= 0 && ret->bytes != size) {
                snprintf(ret->error, sizeof(ret->error), "%s: sent %llu of %llu bytes", ret->url,
                         (unsigned long long) ret->bytes, (unsigned long long) size);
                ret->confirmed = false;
                r = -EIO;
        }
        return r;
}

/* Whether a target is S3: the file's sums are then cut in its parts too. */
static bool any_s3(const struct upload_config *c) {
        for (size_t i = 0; i < c->n_urls; i++) {
                struct upload_target t;
                if (upload_target_parse(c->urls[i], &t, NULL) >= 0 && t.scheme == UPLOAD_S3)
                        return true;
        }
        return false;
}

static void results_fail(const struct upload_config *c, struct upload_result *ret, const char *why) {
        for (size_t i = 0; i < c->n_urls; i++) {
                ret[i] = (struct upload_result){0};
                struct upload_target t;
                if (upload_target_parse(c->urls[i], &t, NULL) >= 0)
                        (void) upload_target_object_url(&t, "", ret[i].url, sizeof(ret[i].url));
                snprintf(ret[i].error, sizeof(ret[i].error), "%s", why);
        }
}

int upload_file(const struct upload_config *c, int fd, uint64_t size, const char *name, const char *content_type,
                struct upload_result *ret) {
        if (c->n_urls == 0)
                return -EINVAL;
        char err[256] = "";
        _cleanup_free_ struct upload_credentials *creds = malloc(sizeof(*creds));
        struct upload_filesum *sum = NULL;
        int r = creds ? upload_credentials_load(c, creds, err, sizeof(err)) : -ENOMEM;
        if (r >= 0) {
                r = upload_filesum_start(fd, size, any_s3(c) ? file_part_size(c, size) : 0, &sum);
                if (r < 0)
                        snprintf(err, sizeof(err), "computing the file's checksum: %s", strerror(-r));
        }
        if (r < 0) {
                results_fail(c, ret, err[0] ? err : "out of memory");
                if (creds)
                        upload_credentials_wipe(creds);
                return r;
        }
        int first = 0;
        for (size_t i = 0; i < c->n_urls; i++) {
                ret[i] = (struct upload_result){0};
                r = upload_one_file(c, creds, i, fd, size, sum, name, content_type, &ret[i]);
                if (r < 0 && first == 0)
                        first = r;
        }
        upload_filesum_free(sum);
        upload_credentials_wipe(creds);
        return first;
}

/* ---- the streaming writer ---- */

struct stream_target {
        struct upload_stream *stream;
        struct upload_target target;
        struct upload_ctx ctx;
        struct upload_result result;
        pthread_t thread;
        bool started;
        volatile bool cancel;
        /* The ring, under the stream's lock. */
        uint8_t *ring;
        size_t head, len;
        bool eof, done; /* eof: no more data; done: the transfer ended (reads nothing more) */
        int error;
        uint64_t fed;          /* bytes handed to the transfer */
        char stall_error[256]; /* set by the writer when it gave up on this target */
        struct upload_hash hash;
};

struct upload_stream {
        const struct upload_config *cfg;
        struct upload_credentials creds;
        char name[1024];
        char content_type[128];
        pthread_mutex_t lock;
        pthread_cond_t cond;
        size_t n;
        struct stream_target *targets;
};

/* The transfer's side: blocks until some bytes, the end, or a cancel. */
static int64_t ring_read(void *userdata, void *buf, size_t len) {
        struct stream_target *t = userdata;
        struct upload_stream *s = t->stream;
        pthread_mutex_lock(&s->lock);
        while (t->len == 0 && !t->eof && !t->cancel)
                pthread_cond_wait(&s->cond, &s->lock);
        int64_t r;
        if (t->cancel) {
                r = -ECANCELED;
        } else {
                size_t n = MIN(len, t->len);
                size_t first = MIN(n, STREAM_RING_SIZE - t->head);
                memcpy(buf, t->ring + t->head, first);
                memcpy((uint8_t *) buf + first, t->ring, n - first);
                t->head = (t->head + n) % STREAM_RING_SIZE;
                t->len -= n;
                r = (int64_t) n;
        }
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        if (r > 0) {
                upload_hash_update(&t->hash, buf, (size_t) r);
                t->fed += (uint64_t) r;
        }
        return r;
}

/* S3's fill: a whole part unless the end comes first. */
static int64_t ring_fill(void *userdata, void *buf, size_t len) {
        size_t got = 0;
        while (got < len) {
                int64_t n = ring_read(userdata, (uint8_t *) buf + got, len - got);
                if (n < 0)
                        return n;
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        return (int64_t) got;
}

static int stream_plain(struct stream_target *t) {
        char url[1400];
        int r = plain_url(&t->target, t->stream->name, url, sizeof(url));
        if (r < 0) {
                snprintf(t->result.error, sizeof(t->result.error), "%s: URL too long", t->result.url);
                return r;
        }
        bool http = is_http(t->target.scheme);
        struct upload_source body = {.read = ring_read, .userdata = t};
        const char *ct = t->stream->content_type[0] ? t->stream->content_type : NULL;
        struct curl_slist *headers = http ? http_headers(ct, NULL) : NULL;
        struct upload_request rq = {.url = url,
                                    .shown = t->result.url,
                                    .body = &body,
                                    .body_size = -1,
                                    .headers = headers,
                                    .cancel = &t->cancel};
        struct upload_response *resp = malloc(sizeof(*resp));
        r = resp && (headers || !http) ? upload_perform(&t->ctx, &rq, resp, t->result.error, sizeof(t->result.error))
                                       : -ENOMEM;
        if (r >= 0)
                t->result.bytes = t->fed; /* resp->sent counts HTTP's chunk framing too */
        bool sent_some = resp && resp->sent > 0;
        free(resp);
        curl_slist_free_all(headers);
        if (r < 0 && !http && sent_some)
                remote_delete(&t->ctx, t->stream->name);
        return r;
}

static void *stream_thread(void *userdata) {
        struct stream_target *t = userdata;
        struct upload_stream *s = t->stream;
        int r;
        struct upload_s3_input in = {.fill = ring_fill, .userdata = t};
        if (t->target.scheme == UPLOAD_S3)
                r = upload_s3(&t->ctx, s->name, part_size_of(s->cfg), s->content_type[0] ? s->content_type : NULL, &in,
                              &t->cancel, &t->result);
        else
                r = stream_plain(t);
        uint8_t sha[32];
        if (r >= 0 && t->target.scheme != UPLOAD_S3 && upload_hash_final(&t->hash, NULL, sha) >= 0) {
                upload_hex(sha, 32, t->result.sha256);
                t->result.confirmed = true;
        }
        pthread_mutex_lock(&s->lock);
        t->done = true;
        t->error = r < 0 ? r : 0;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

static int target_start(struct upload_stream *s, size_t i) {
        struct stream_target *t = &s->targets[i];
        const char *expect;
        t->stream = s;
        if (upload_target_parse(s->cfg->urls[i], &t->target, &expect) < 0 ||
            upload_target_object_url(&t->target, s->name, t->result.url, sizeof(t->result.url)) < 0) {
                snprintf(t->result.error, sizeof(t->result.error), "Upload= URL %zu is not valid", i + 1);
                return -EINVAL;
        }
        ctx_init(&t->ctx, s->cfg, &s->creds, &t->target);
        t->ring = malloc(STREAM_RING_SIZE);
        if (!t->ring || upload_hash_init(&t->hash, false) < 0)
                return -ENOMEM;
        int r = -pthread_create(&t->thread, NULL, stream_thread, t);
        if (r < 0)
                return r;
        t->started = true;
        return 0;
}

static void stream_free(struct upload_stream *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->targets[i].ring);
                upload_hash_done(&s->targets[i].hash);
        }
        free(s->targets);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        upload_credentials_wipe(&s->creds);
        free(s);
}

static void stream_end(struct upload_stream *s, bool cancel) {
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n; i++) {
                s->targets[i].eof = true;
                if (cancel)
                        __atomic_store_n(&s->targets[i].cancel, true, __ATOMIC_RELEASE);
        }
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        for (size_t i = 0; i < s->n; i++)
                if (s->targets[i].started)
                        pthread_join(s->targets[i].thread, NULL);
}

int upload_stream_open(const struct upload_config *c, const char *name, const char *content_type,
                       struct upload_stream **ret) {
        if (c->n_urls == 0 || strlen(name) >= 1024)
                return -EINVAL;
        struct upload_stream *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->cfg = c;
        snprintf(s->name, sizeof(s->name), "%s", name);
        snprintf(s->content_type, sizeof(s->content_type), "%s", content_type ? content_type : "");
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        s->targets = calloc(c->n_urls, sizeof(*s->targets));
        char err[256];
        int r = s->targets ? upload_credentials_load(c, &s->creds, err, sizeof(err)) : -ENOMEM;
        if (r >= 0)
                s->n = c->n_urls;
        for (size_t i = 0; r >= 0 && i < s->n; i++)
                r = target_start(s, i);
        if (r < 0) {
                stream_end(s, true);
                stream_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int abs_deadline(uint64_t usec, struct timespec *ret) {
        clock_gettime(CLOCK_REALTIME, ret);
        uint64_t ns = (uint64_t) ret->tv_nsec + (usec % USEC_PER_SEC) * 1000;
        ret->tv_sec += (time_t) (usec / USEC_PER_SEC + ns / 1000000000ULL);
        ret->tv_nsec = (long) (ns % 1000000000ULL);
        return 0;
}

/* Copies into one target's ring, waiting (bounded by the stall rule) while it is full. */
static int target_push(struct upload_stream *s, struct stream_target *t, const uint8_t *data, size_t len) {
        uint64_t stall = s->cfg->stall_usec ? s->cfg->stall_usec : UPLOAD_STALL_USEC_DEFAULT;
        while (len > 0) {
                struct timespec deadline;
                abs_deadline(stall, &deadline);
                while (t->len == STREAM_RING_SIZE && !t->done)
                        if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) == ETIMEDOUT)
                                return -ETIMEDOUT;
                if (t->done)
                        return t->error < 0 ? t->error : -EPIPE;
                size_t tail = (t->head + t->len) % STREAM_RING_SIZE;
                size_t n = MIN(len, STREAM_RING_SIZE - t->len);
                n = MIN(n, STREAM_RING_SIZE - tail);
                memcpy(t->ring + tail, data, n);
                t->len += n;
                data += n;
                len -= n;
                pthread_cond_broadcast(&s->cond);
        }
        return 0;
}

int upload_stream_write(struct upload_stream *s, const void *data, size_t len) {
        int first = 0;
        size_t alive = 0;
        pthread_mutex_lock(&s->lock);
        for (size_t i = 0; i < s->n; i++) {
                struct stream_target *t = &s->targets[i];
                if (t->cancel || t->done) {
                        first = first ? first : (t->error < 0 ? t->error : -EPIPE);
                        continue;
                }
                int r = target_push(s, t, data, len);
                if (r == -ETIMEDOUT) {
                        snprintf(t->stall_error, sizeof(t->stall_error), "%s: stalled: no progress for %llu s",
                                 t->result.url,
                                 (unsigned long long) ((s->cfg->stall_usec ? s->cfg->stall_usec
                                                                           : UPLOAD_STALL_USEC_DEFAULT) /
                                                       USEC_PER_SEC));
                        __atomic_store_n(&t->cancel, true, __ATOMIC_RELEASE);
                        pthread_cond_broadcast(&s->cond);
                }
                if (r < 0)
                        first = first ? first : r;
                else
                        alive++;
        }
        pthread_mutex_unlock(&s->lock);
        return alive > 0 ? 0 : first;
}

int upload_stream_finish(struct upload_stream *s, struct upload_result *ret) {
        stream_end(s, false);
        int first = 0;
        for (size_t i = 0; i < s->n; i++) {
                struct stream_target *t = &s->targets[i];
                int r = t->error;
                if (t->stall_error[0] != '\0') {
                        r = -ETIMEDOUT; /* the writer gave up on it */
                        snprintf(t->result.error, sizeof(t->result.error), "%s", t->stall_error);
                }
                if (r < 0) {
                        t->result.confirmed = false;
                        if (t->result.error[0] == '\0')
                                snprintf(t->result.error, sizeof(t->result.error), "%s: %s", t->result.url,
                                         strerror(-r));
                }
                ret[i] = t->result;
                if (r < 0 && first == 0)
                        first = r;
        }
        stream_free(s);
        return first;
}

void upload_stream_abort(struct upload_stream *s) {
        if (!s)
                return;
        stream_end(s, true);
        stream_free(s);
}
