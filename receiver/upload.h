/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Sending a stored core (and its record) off the machine: S3 (and S3-compatible stores), FTP,
 * FTPS, SFTP and HTTP(S) PUT, all through libcurl. Checksums come from libcrypto (EVP).
 *
 * How to use it:
 *   1. check each Upload= URL with upload_url_check(), S3Endpoint= with upload_endpoint_check()
 *      and UploadName= with upload_name_check() when the settings are read;
 *   2. render the object name with upload_object_name();
 *   3. either upload_file() a complete file (local store), or upload_stream_open() /
 *      upload_stream_write() ... / upload_stream_finish() (or _abort()) for bytes whose size is
 *      not known in advance (Storage=none).
 * Every function returns 0 (or a positive value) on success and a negative errno on failure.
 * Credentials are read for each transfer (see upload_credentials_check()), never logged, never
 * put in a URL, a result or an error text. Nothing here logs: the caller logs the results.
 *
 * Stall rule: a transfer that moves no byte for stall_usec (default 30 s) fails with an error
 * naming the URL and "stalled"; timeout_usec bounds a whole transfer (0: no bound but the stall
 * rule). A connection attempt is bounded by the stall bound too.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPLOAD_PART_SIZE_DEFAULT (16ULL << 20)
#define UPLOAD_PART_SIZE_MIN (5ULL << 20) /* S3's smallest part but the last */
#define UPLOAD_PART_SIZE_MAX (1ULL << 30) /* a part is held in memory: bound it */
#define UPLOAD_STALL_USEC_DEFAULT (30ULL * 1000000ULL)
#define UPLOAD_NAME_TEMPLATE_DEFAULT "{container}/{hostname}/{file}"
#define UPLOAD_REGION_DEFAULT "us-east-1"
#define UPLOAD_CREDENTIALS_NAME "core_pipe-upload" /* in $CREDENTIALS_DIRECTORY */
/* The credentials the environment may give (the receiver's: the --init command does not inherit
 * them, see init.h), as an initializer of a const char * array. */
#define UPLOAD_CREDENTIAL_ENV_NAMES                                                                                    \
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "UPLOAD_USER", "UPLOAD_PASSWORD",           \
                "UPLOAD_SSH_KNOWN_HOSTS", "UPLOAD_SSH_KEY", "UPLOAD_CA_FILE"

struct upload_config { /* from the settings */
        char **urls;   /* Upload= (repeatable; "" clears) */
        size_t n_urls;
        char s3_endpoint[256];   /* S3Endpoint= http(s)://host[:port]; "" = AWS by region */
        char s3_region[64];      /* S3Region= ("" = us-east-1) */
        char name_template[256]; /* UploadName= ("" = UPLOAD_NAME_TEMPLATE_DEFAULT) */
        char credentials[256];   /* UploadCredentials= : file readable only by root, "" = none */
        uint64_t part_size;      /* UploadPartSize= (0 = default 16 MiB; MIN..MAX) */
        uint64_t timeout_usec;   /* UploadTimeout= per transfer, 0 = none */
        uint64_t stall_usec;     /* no byte moved for this long = stalled (0 = 30 s) */
};

/*
 * Parses and validates one Upload= URL: s3://BUCKET[/PREFIX], ftp://, ftps://, sftp://,
 * https:// and http:// (for tests and private networks), each with a host and an optional path.
 * A user name in the URL is allowed (ftp/sftp/https); a password is refused: it belongs in the
 * credentials. Returns 0, or -EINVAL with *ret_expect (static text) naming what is valid.
 */
int upload_url_check(const char *url, const char **ret_expect);

/* S3Endpoint=: "" or http(s)://HOST[:PORT] with no path, query or user. Same convention. */
int upload_endpoint_check(const char *endpoint, const char **ret_expect);

/* Fields an object name template may use: {container} {hostname} {file} {comm} {pid} {signal}
 * {time} (seconds since the epoch) {date} (YYYY-MM-DD, UTC) {boot_id} {machine_id}. A NULL or
 * empty text renders as "unknown". */
struct upload_name_fields {
        const char *container; /* the container's identity as the record names it */
        const char *hostname;
        const char *file; /* the stored file's name (core or record) */
        const char *comm;
        const char *boot_id;
        const char *machine_id;
        uint64_t pid;
        uint32_t signal;
        uint64_t time_usec; /* crash time, CLOCK_REALTIME */
};

/* UploadName=: the template's syntax ({field} names known, literal text of safe characters, no
 * "..", no leading "/"). Returns 0 or -EINVAL with *ret_expect. */
int upload_name_check(const char *template, const char **ret_expect);

/*
 * Renders the object name from the template ("" or NULL = the default) into out. Field values
 * are reduced to safe characters ([A-Za-z0-9._-]; anything else, "/" included, becomes "_";
 * a value of "." or ".." becomes "_"); "/" is only a separator written by the template itself;
 * empty path segments are dropped. Returns 0, -EINVAL for a bad template, -ENAMETOOLONG when
 * out is too small (it is then unchanged).
 */
int upload_object_name(const char *template, const struct upload_name_fields *f, char *out, size_t size);

/*
 * Where the credentials come from, first found wins:
 *   $CREDENTIALS_DIRECTORY/core_pipe-upload (systemd's LoadCredential=),
 *   else the UploadCredentials= file (owned by root, no group/other permission bits, a regular
 *   file: else refused naming the file and its mode/owner),
 *   else the environment.
 * The files hold KEY=VALUE lines ('#' comments, blank lines) with the environment's names:
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (S3), UPLOAD_USER,
 * UPLOAD_PASSWORD (ftp, ftps, sftp, http, https), UPLOAD_SSH_KEY (path of a private key for
 * sftp; UPLOAD_PASSWORD is then its passphrase), UPLOAD_SSH_KNOWN_HOSTS (sftp host keys file).
 * No user for ftp: anonymous. Checks the credentials the config would use now; on failure
 * writes a one-line reason to err (never a secret). For the settings check at start-up.
 */
int upload_credentials_check(const struct upload_config *c, char *err, size_t size);

struct upload_result {
        char url[1024];  /* where it went (no credentials), for the record */
        char error[256]; /* "" or the last error, one line, no credentials */
        uint64_t bytes;  /* bytes sent and confirmed */
        char sha256[65]; /* hex SHA-256 of what was sent */
        bool confirmed;  /* the server confirmed the whole object (2xx / 226 / close ok) */
};

/*
 * Uploads the file open at fd (from offset 0, size bytes; read with pread, the offset of fd is
 * not used) as object name (under each URL's path) to every target, one after the other.
 * The file's SHA-256 (and each S3 part's) is computed once for all targets, by a thread that
 * reads the file beside the transfers; nothing of the file is held in memory (parts are ranges
 * of it, read as they are sent). S3: a single PUT up to part_size, multipart above, each request
 * signed with its payload's SHA-256 (x-amz-content-sha256, which S3 verifies) and carrying
 * x-amz-checksum-sha256; a multipart that fails is aborted (nothing half-visible). HTTP(S): PUT
 * with Digest: sha-256=... (sent once the sum is known). FTP(S)/SFTP: STOR / write of NAME, sent
 * at once, the sum taken as it goes; after a failed transfer a delete of NAME is tried (an
 * upload-only server may refuse it).
 * ret is an array of c->n_urls results, each written (success or not). Returns 0 when every
 * target confirmed, -EINVAL when there is no target, else the first target's negative errno.
 */
int upload_file(const struct upload_config *c, int fd, uint64_t size, const char *name, const char *content_type,
                struct upload_result *ret);

/*
 * Streaming writer for bytes whose size is not known in advance (Storage=none + Upload=): to
 * every target at once. S3: multipart with one part buffer per target (the object appears only
 * at _finish()); FTP/SFTP/HTTP: one transfer per target fed from a bounded buffer (HTTP chunked).
 * upload_stream_write() copies data into each target's buffer and blocks while a buffer is full
 * (bounded by the stall rule); a target that failed is dropped and its error kept: write returns
 * an error only when every target failed. upload_stream_finish() ends every transfer, writes
 * c->n_urls results to ret, frees the stream, and returns 0 only when every target confirmed.
 * upload_stream_abort() ends every transfer without completing it (S3: AbortMultipartUpload;
 * FTP/SFTP: NAME is deleted when the server allows it), and frees the stream.
 * The config c must stay valid until the stream is freed.
 */
struct upload_stream;
int upload_stream_open(const struct upload_config *c, const char *name, const char *content_type,
                       struct upload_stream **ret);
int upload_stream_write(struct upload_stream *s, const void *data, size_t len);
int upload_stream_finish(struct upload_stream *s, struct upload_result *ret);
void upload_stream_abort(struct upload_stream *s);
