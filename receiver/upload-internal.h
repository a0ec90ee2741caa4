/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The upload engine's parts (upload.h is its interface):
 *   upload-parse.c  URLs, object names, the credentials text, S3's XML replies: pure parsers of
 *                   untrusted text (each one fuzzed: tests/fuzz/fuzz-upload.c);
 *   upload-creds.c  where the credentials come from (files, the environment);
 *   upload-hash.c   MD5 / SHA-256 through libcrypto's EVP, hex and base64;
 *   upload-filesum.c a file's sums (whole, per S3 part), in a thread beside the transfers;
 *   upload-curl.c   one libcurl transfer: timeouts, the stall rule, errors without secrets;
 *   upload-s3.c     S3: single PUT, multipart (create, parts, complete, abort);
 *   upload.c        upload_file() and the streaming writer.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "upload.h"

enum upload_scheme {
        UPLOAD_S3,
        UPLOAD_FTP,
        UPLOAD_FTPS,
        UPLOAD_SFTP,
        UPLOAD_HTTP,
        UPLOAD_HTTPS,
};

struct upload_target {
        enum upload_scheme scheme;
        char user[128];  /* from the URL, "" = none */
        char host[256];  /* host[:port] as written ("[v6]:port" too); the bucket for s3 */
        char path[1024]; /* below the host, no leading or trailing "/"; s3: the key prefix */
};

const char *upload_scheme_name(enum upload_scheme s);
int upload_target_parse(const char *url, struct upload_target *ret, const char **ret_expect);
/* The object's URL for the record (no user, no secret): s3://BUCKET/KEY, ftp://HOST/PATH/NAME. */
int upload_target_object_url(const struct upload_target *t, const char *name, char *out, size_t size);
/* The object's path below the host (s3: the key): PATH/NAME, or NAME. */
int upload_target_object_path(const struct upload_target *t, const char *name, char *out, size_t size);

struct upload_credentials {
        char access_key[256];
        char secret_key[256];
        char session_token[4096];
        char user[256];
        char password[256];
        char ssh_key[256];
        char known_hosts[256];
        char ca_file[256];
        char source[300]; /* where they came from: a file's path or "the environment" (no secret) */
};

/* KEY=VALUE lines (see upload.h). Fills c (keys not present stay as they are). On a bad line:
 * -EINVAL and err says which line and why, never its text. */
int upload_credentials_parse(const char *text, size_t len, struct upload_credentials *c, char *err, size_t size);
int upload_credentials_load(const struct upload_config *cfg, struct upload_credentials *ret, char *err, size_t size);
void upload_credentials_wipe(struct upload_credentials *c);
/* Replaces every occurrence of needle in text (in place) by '*', and a start of it (4 bytes or
 * more) that ends text: a text cut in the middle of a secret keeps none of it. */
void upload_text_mask(char *text, const char *needle);
/* upload_text_mask() of every secret of c (see upload-curl.c for the forms a login takes on the
 * wire, base64 in HTTP's basic authentication). */
void upload_credentials_scrub(const struct upload_credentials *c, char *text);

/*
 * The text of the first <tag>...</tag> element of an S3 XML reply (no attributes on it), with
 * &amp; &lt; &gt; &quot; &apos; decoded; control characters become '?'. -ENOENT when absent,
 * -EBADMSG when malformed, -ENAMETOOLONG when out is too small.
 */
int upload_xml_value(const char *xml, size_t len, const char *tag, char *out, size_t size);
/* Whether an S3 reply's root element is <NAME> (after an optional XML declaration). */
bool upload_xml_root_is(const char *xml, size_t len, const char *name);
/* Whether it is <Error> (a 200 to CompleteMultipartUpload can be one). */
bool upload_xml_is_error(const char *xml, size_t len);

/* Hashes (upload-hash.c). */
struct upload_hash {
        void *md5;    /* EVP_MD_CTX *, NULL when not wanted */
        void *sha256; /* EVP_MD_CTX * */
};
int upload_hash_init(struct upload_hash *h, bool md5);
void upload_hash_update(struct upload_hash *h, const void *data, size_t len);
/* Writes the digests (md5 may be NULL) and resets nothing: call _done() after. */
int upload_hash_final(struct upload_hash *h, uint8_t md5[16], uint8_t sha256[32]);
void upload_hash_done(struct upload_hash *h);
void upload_hex(const uint8_t *data, size_t len, char *out);    /* out: 2 * len + 1 */
void upload_base64(const uint8_t *data, size_t len, char *out); /* out: 4 * ((len + 2) / 3) + 1 */

/*
 * A file's SHA-256 and its S3 parts' (upload-filesum.c), computed by a thread started here while
 * the caller transfers. part_size 0: the whole file's sum only; else the file is cut in parts of
 * part_size bytes (one part when it is not larger: its sum is the file's). _part() and _whole()
 * wait for their sum; they return the thread's negative errno when reading failed.
 */
struct upload_filesum;
int upload_filesum_start(int fd, uint64_t size, uint64_t part_size, struct upload_filesum **ret);
unsigned upload_filesum_parts(const struct upload_filesum *s);
int upload_filesum_part(struct upload_filesum *s, unsigned index, uint8_t ret_sha[32]);
int upload_filesum_whole(struct upload_filesum *s, uint8_t ret_sha[32]);
void upload_filesum_free(struct upload_filesum *s); /* stops the thread if it still runs */

/* One transfer (upload-curl.c). */
struct upload_source {
        /* Fills up to len bytes; 0 at the end; a negative errno on failure. May block. */
        int64_t (*read)(void *userdata, void *buf, size_t len);
        /* Back to the first byte (libcurl may rewind on a retried request); NULL: not possible. */
        int (*rewind)(void *userdata);
        void *userdata;
};

/* A range of a file as a body: read with pread (the fd's offset is not used); -ENODATA when the
 * file is shorter than the range. */
struct upload_range {
        int fd;
        uint64_t start, len, pos;
};
int64_t upload_range_read(void *userdata, void *buf, size_t len);
int upload_range_rewind(void *userdata);

struct upload_request {
        const char *url;                  /* what libcurl opens (no user, no secret) */
        const char *shown;                /* the URL named in errors */
        const char *method;               /* NULL: PUT with a body (upload), "POST", "DELETE", ... */
        const struct upload_source *body; /* NULL: none */
        int64_t body_size;                /* -1: unknown (HTTP chunked) */
        const char *post;                 /* a POST body in memory, or NULL */
        size_t post_len;
        struct curl_slist *headers;
        bool s3;                 /* sign with SigV4 */
        bool ftp_delete_on_fail; /* unused by the transfer itself; see upload.c */
        const char *ftp_quote;   /* a command sent after the transfer (NULL: none) */
        bool nobody;             /* no transfer at all (a quote command alone) */
        volatile bool *cancel;   /* set by another thread: the transfer ends as aborted */
};

struct upload_response {
        long status;      /* HTTP status, FTP/SFTP: the last reply code */
        char etag[128];   /* HTTP ETag header, quotes kept */
        char body[16384]; /* the start of the reply's body, NUL-terminated */
        size_t body_len;
        uint64_t sent; /* body bytes sent */
};

struct upload_ctx {
        const struct upload_config *cfg;
        const struct upload_credentials *creds;
        const struct upload_target *target;
        char s3_sigv4[128]; /* "aws:amz:REGION:s3" */
};

/* Runs the request. Returns 0 when the transfer ended and, for HTTP, the status is 2xx; else a
 * negative errno with a one-line reason in err ("URL: reason", no secret). */
int upload_perform(const struct upload_ctx *ctx, const struct upload_request *rq, struct upload_response *resp,
                   char *err, size_t size);

/*
 * S3 (upload-s3.c). The object's bytes come from a stream, fill(): up to len bytes, fewer only at
 * the end, a negative errno on failure, read into one part buffer and hashed as they come; or
 * from a file (fill NULL): fd and size, its sums from sum (started with the same part_size), each
 * part read from the file as it is sent. The SHA-256 of every byte is written to ret->sha256.
 */
typedef int64_t (*upload_fill_fn)(void *userdata, void *buf, size_t len);
struct upload_s3_input {
        upload_fill_fn fill;
        void *userdata;
        int fd;
        uint64_t size;
        struct upload_filesum *sum;
};
int upload_s3(const struct upload_ctx *ctx, const char *name, uint64_t part_size, const char *content_type,
              const struct upload_s3_input *in, volatile bool *cancel, struct upload_result *ret);
