/* SPDX-License-Identifier: MIT */
/*
 * One transfer through libcurl: the protocol is the URL's alone (no redirect, no other
 * protocol), connecting and moving bytes are bounded by the stall rule (no byte moved for
 * stall_usec: ended, "stalled"), the whole by UploadTimeout=. Credentials are handed to libcurl
 * as options, never in the URL; every error text is made one line and scrubbed of them.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "macro.h"
#include "upload-internal.h"

/* A reply is kept to its start (upload_response.body); one longer than this is not a reply to an
 * upload, and ends the transfer. */
#define REPLY_MAX (1U << 20)
/* Once the request is sent, its reply must end within this many stall periods (10 min by default:
 * S3 may take minutes to complete a large multipart upload, sending spaces meanwhile). A reply
 * trickled a byte at a time moves, so the stall rule alone would let it run for days. */
#define REPLY_STALLS 20

struct transfer {
        const struct upload_request *rq;
        struct upload_response *resp;
        uint64_t stall_usec;
        uint64_t last_progress;
        uint64_t sent_at; /* when the request's body was all sent (0: not yet) */
        curl_off_t last_ul, last_dl;
        uint64_t reply_bytes;
        bool stalled, cancelled, reply_late, reply_long;
        bool past_prolog; /* an S3 reply: its root element has started */
        int source_error;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static bool cancelled(const struct transfer *t) {
        return t->rq->cancel && __atomic_load_n(t->rq->cancel, __ATOMIC_ACQUIRE);
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *userdata) {
        struct transfer *t = userdata;
        if (cancelled(t)) {
                t->cancelled = true;
                return CURL_READFUNC_ABORT;
        }
        int64_t n = t->rq->body->read(t->rq->body->userdata, buf, size * nitems);
        if (n < 0) {
                t->source_error = (int) n;
                return CURL_READFUNC_ABORT;
        }
        /* Bytes from the source are progress too: a slow producer is not a stalled server. */
        t->last_progress = now_usec();
        if (n == 0 && t->sent_at == 0)
                t->sent_at = t->last_progress; /* the end of a body of unknown size */
        return (size_t) n;
}

static int seek_cb(void *userdata, curl_off_t offset, int origin) {
        struct transfer *t = userdata;
        if (origin != SEEK_SET || offset != 0 || !t->rq->body->rewind)
                return CURL_SEEKFUNC_CANTSEEK;
        return t->rq->body->rewind(t->rq->body->userdata) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

static bool is_space(char c) {
        return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* S3 may send spaces while it completes a multipart upload, before or after the XML declaration:
 * they are dropped until the root element starts, so that the reply's start kept is its XML. */
static void keep_s3_reply(struct transfer *t, const char *data, size_t n) {
        struct upload_response *resp = t->resp;
        for (size_t i = 0; i < n && resp->body_len + 1 < sizeof(resp->body); i++) {
                if (!t->past_prolog && is_space(data[i]))
                        continue;
                if (!t->past_prolog && resp->body_len > 0 && resp->body[resp->body_len - 1] == '<' && data[i] != '?')
                        t->past_prolog = true;
                resp->body[resp->body_len++] = data[i];
        }
        resp->body[resp->body_len] = '\0';
}

static size_t write_cb(char *data, size_t size, size_t nitems, void *userdata) {
        struct transfer *t = userdata;
        struct upload_response *resp = t->resp;
        size_t n = size * nitems;
        t->reply_bytes += n;
        if (t->reply_bytes > REPLY_MAX) {
                t->reply_long = true;
                return 0; /* libcurl ends the transfer */
        }
        if (t->rq->s3) {
                keep_s3_reply(t, data, n);
                return n;
        }
        size_t room = sizeof(resp->body) - 1 - resp->body_len;
        memcpy(resp->body + resp->body_len, data, MIN(n, room));
        resp->body_len += MIN(n, room);
        resp->body[resp->body_len] = '\0';
        return n;
}

static size_t header_cb(char *data, size_t size, size_t nitems, void *userdata) {
        struct upload_response *resp = userdata;
        size_t n = size * nitems;
        if (n > 5 && strncasecmp(data, "ETag:", 5) == 0) {
                size_t i = 5, end = n;
                while (i < n && (data[i] == ' ' || data[i] == '\t'))
                        i++;
                while (end > i && (data[end - 1] == '\r' || data[end - 1] == '\n' || data[end - 1] == ' '))
                        end--;
                if (end - i < sizeof(resp->etag)) {
                        memcpy(resp->etag, data + i, end - i);
                        resp->etag[end - i] = '\0';
                }
        }
        return n;
}

static int xferinfo_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        struct transfer *t = userdata;
        uint64_t now = now_usec();
        if (cancelled(t)) {
                t->cancelled = true;
                return 1;
        }
        if (t->sent_at == 0 && (!t->rq->body || (ultotal > 0 && ulnow >= ultotal)))
                t->sent_at = now;
        if (t->sent_at && now - t->sent_at > REPLY_STALLS * t->stall_usec) {
                t->reply_late = true;
                return 1;
        }
        if (ulnow != t->last_ul || dlnow != t->last_dl) {
                t->last_ul = ulnow;
                t->last_dl = dlnow;
                t->last_progress = now;
        } else if (now - t->last_progress > t->stall_usec) {
                t->stalled = true;
                return 1;
        }
        return 0;
}

static const char *protocols_of(enum upload_scheme s) {
        switch (s) {
        case UPLOAD_FTP:
        case UPLOAD_FTPS:
                return s == UPLOAD_FTP ? "ftp" : "ftps";
        case UPLOAD_SFTP:
                return "sftp";
        default:
                return "http,https";
        }
}

static void set_login(CURL *h, const struct upload_ctx *ctx) {
        const struct upload_credentials *c = ctx->creds;
        const struct upload_target *tg = ctx->target;
        if (tg->scheme == UPLOAD_S3) {
                curl_easy_setopt(h, CURLOPT_AWS_SIGV4, ctx->s3_sigv4);
                curl_easy_setopt(h, CURLOPT_USERNAME, c->access_key);
                curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret_key);
                return;
        }
        const char *user = tg->user[0] ? tg->user : c->user;
        if (user[0] != '\0') {
                curl_easy_setopt(h, CURLOPT_USERNAME, user);
                curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
        }
        if (tg->scheme == UPLOAD_HTTP || tg->scheme == UPLOAD_HTTPS)
                curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        if (tg->scheme == UPLOAD_SFTP && c->ssh_key[0] != '\0') {
                curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES, (long) CURLSSH_AUTH_PUBLICKEY);
                curl_easy_setopt(h, CURLOPT_SSH_PRIVATE_KEYFILE, c->ssh_key);
                curl_easy_setopt(h, CURLOPT_KEYPASSWD, c->password);
        } else if (tg->scheme == UPLOAD_SFTP) {
                curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES, (long) (CURLSSH_AUTH_PASSWORD | CURLSSH_AUTH_KEYBOARD));
        }
        if (tg->scheme == UPLOAD_SFTP && c->known_hosts[0] != '\0')
                curl_easy_setopt(h, CURLOPT_SSH_KNOWNHOSTS, c->known_hosts);
}

static void set_body(CURL *h, const struct upload_request *rq, struct transfer *t) {
        if (rq->body) {
                curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
                curl_easy_setopt(h, CURLOPT_READDATA, t);
                curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
                curl_easy_setopt(h, CURLOPT_SEEKDATA, t);
                if (rq->body_size >= 0)
                        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t) rq->body_size);
        } else if (rq->post) {
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) rq->post_len);
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->post);
        } else if (rq->nobody) {
                curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        }
        if (rq->method)
                curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
}

static void set_options(CURL *h, const struct upload_ctx *ctx, const struct upload_request *rq, struct transfer *t,
                        char *errbuf) {
        curl_easy_setopt(h, CURLOPT_URL, rq->url);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protocols_of(ctx->target->scheme));
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, t);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long) MAX(t->stall_usec / USEC_PER_MSEC, 1));
        if (ctx->cfg->timeout_usec > 0)
                curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long) MAX(ctx->cfg->timeout_usec / USEC_PER_MSEC, 1));
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, t->resp);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
        curl_easy_setopt(h, CURLOPT_FTP_CREATE_MISSING_DIRS, (long) CURLFTP_CREATE_DIR_RETRY);
        curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
        /* FTP servers on OpenSSL (vsftpd 3.0, ProFTPD before 1.3.7) lose the end of an upload over
         * TLS 1.3: they send session tickets on the data connection, which the client never reads,
         * and its close then resets the connection before the server has read every byte (426). */
        if (ctx->target->scheme == UPLOAD_FTPS)
                curl_easy_setopt(h, CURLOPT_SSLVERSION, (long) (CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
        if (ctx->creds->ca_file[0] != '\0')
                curl_easy_setopt(h, CURLOPT_CAINFO, ctx->creds->ca_file);
        set_login(h, ctx);
        set_body(h, rq, t);
}

static int errno_of(CURLcode code, long status) {
        switch (code) {
        case CURLE_OK:
                return status == 401 || status == 403 ? -EACCES : status == 404 ? -ENOENT : -EIO;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
                return -EHOSTUNREACH;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_LOGIN_DENIED:
        case CURLE_REMOTE_ACCESS_DENIED:
                return -EACCES;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

/* "HTTP 403 InvalidAccessKeyId: The AWS Access Key Id ..." from S3's XML, else "HTTP 403". */
static void http_reason(const struct upload_response *resp, char *out, size_t size) {
        char code[96], msg[160];
        if (upload_xml_value(resp->body, resp->body_len, "Code", code, sizeof(code)) < 0)
                code[0] = '\0';
        if (upload_xml_value(resp->body, resp->body_len, "Message", msg, sizeof(msg)) < 0)
                msg[0] = '\0';
        snprintf(out, size, "HTTP %ld%s%s%s%s", resp->status, code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
}

static void one_line(char *s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
                s[--n] = '\0';
        for (char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = ' ';
}

/* Every form a secret of ours may take in a server's reply or in libcurl's error: as given, and
 * base64 as HTTP's basic authentication sends it (user:password), which a server may echo. */
static void scrub(const struct upload_ctx *ctx, char *text) {
        const struct upload_credentials *c = ctx->creds;
        upload_credentials_scrub(c, text);
        if (c->password[0] == '\0')
                return;
        const char *user = ctx->target->user[0] ? ctx->target->user : c->user;
        char login[sizeof(c->user) + sizeof(c->password) + 1], b64[4 * sizeof(login) / 3 + 8];
        snprintf(login, sizeof(login), "%s:%s", user, c->password);
        upload_base64((const uint8_t *) login, strlen(login), b64);
        upload_text_mask(text, b64);
        upload_base64((const uint8_t *) c->password, strlen(c->password), b64);
        upload_text_mask(text, b64);
}

static int finish_error(const struct upload_ctx *ctx, const struct upload_request *rq, const struct transfer *t,
                        CURLcode code, const char *errbuf, char *err, size_t size) {
        char reason[CURL_ERROR_SIZE + 512], full[sizeof(reason) + 1200];
        int r = errno_of(code, t->resp->status);
        if (t->stalled) {
                snprintf(reason, sizeof(reason), "stalled: no progress for %llu s",
                         (unsigned long long) (t->stall_usec / USEC_PER_SEC));
                r = -ETIMEDOUT;
        } else if (t->reply_late || t->reply_long) {
                snprintf(reason, sizeof(reason),
                         t->reply_late ? "the reply did not end within %llu s of the request"
                                       : "a reply of more than %llu bytes",
                         t->reply_late ? (unsigned long long) (REPLY_STALLS * t->stall_usec / USEC_PER_SEC)
                                       : (unsigned long long) REPLY_MAX);
                r = -ETIMEDOUT;
        } else if (t->cancelled) {
                snprintf(reason, sizeof(reason), "cancelled");
                r = -ECANCELED;
        } else if (t->source_error < 0) {
                snprintf(reason, sizeof(reason), "reading the data: %s", strerror(-t->source_error));
                r = t->source_error;
        } else if (code != CURLE_OK) {
                snprintf(reason, sizeof(reason), "%s", errbuf[0] ? errbuf : curl_easy_strerror(code));
        } else {
                http_reason(t->resp, reason, sizeof(reason));
        }
        /* Scrubbed whole, then cut to size, then the cut's end again. */
        snprintf(full, sizeof(full), "%s: %s", rq->shown, reason);
        one_line(full);
        scrub(ctx, full);
        snprintf(err, size, "%s", full);
        scrub(ctx, err);
        return r;
}

static bool status_ok(enum upload_scheme s, long status) {
        if (s == UPLOAD_FTP || s == UPLOAD_FTPS || s == UPLOAD_SFTP)
                return true; /* libcurl ends an FTP/SFTP transfer with an error unless it was confirmed */
        return status >= 200 && status <= 299;
}

int upload_perform(const struct upload_ctx *ctx, const struct upload_request *rq, struct upload_response *resp,
                   char *err, size_t size) {
        pthread_once(&curl_once, curl_init_once);
        if (curl_init_result != CURLE_OK) {
                snprintf(err, size, "%s: libcurl failed to initialize", rq->shown);
                return -EIO;
        }
        if (ctx->target->scheme == UPLOAD_SFTP && ctx->creds->known_hosts[0] == '\0') {
                /* libcurl would take any host key: the login and the core would go to whoever answers. */
                snprintf(err, size,
                         "%s: no UPLOAD_SSH_KNOWN_HOSTS in the credentials: the server's host key cannot be checked",
                         rq->shown);
                return -EPERM;
        }
        CURL *h = curl_easy_init();
        if (!h)
                return -ENOMEM;
        char errbuf[CURL_ERROR_SIZE] = "";
        *resp = (struct upload_response){0};
        uint64_t stall = ctx->cfg->stall_usec ? ctx->cfg->stall_usec : UPLOAD_STALL_USEC_DEFAULT;
        struct transfer t = {.rq = rq, .resp = resp, .stall_usec = stall, .last_progress = now_usec()};
        struct curl_slist *quote = rq->ftp_quote ? curl_slist_append(NULL, rq->ftp_quote) : NULL;
        set_options(h, ctx, rq, &t, errbuf);
        if (quote)
                curl_easy_setopt(h, rq->nobody ? CURLOPT_QUOTE : CURLOPT_POSTQUOTE, quote);
        CURLcode code = curl_easy_perform(h);
        curl_off_t sent = 0;
        /* Whatever the server said may be logged: none of our secrets in it, from here on. */
        scrub(ctx, resp->body);
        (void) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
        (void) curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &sent);
        resp->sent = (uint64_t) sent;
        curl_easy_cleanup(h);
        curl_slist_free_all(quote);
        if (code == CURLE_OK && status_ok(ctx->target->scheme, resp->status) &&
            (!rq->body || rq->body_size < 0 || resp->sent == (uint64_t) rq->body_size))
                return 0;
        if (code == CURLE_OK && status_ok(ctx->target->scheme, resp->status)) {
                snprintf(err, size, "%s: sent %llu of %lld bytes", rq->shown, (unsigned long long) resp->sent,
                         (long long) rq->body_size);
                return -EIO;
        }
        return finish_error(ctx, rq, &t, code, errbuf, err, size);
}
