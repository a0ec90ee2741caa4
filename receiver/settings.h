/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The receiver's settings: /etc/core_pipe/receiver.conf (an INI file, section [Receiver], read
 * with libinih), then the command line, key by key. Every value is validated the same way from
 * both; an invalid one is an error that names where it came from, and the receiver does not
 * start: a bad setting must not silently lose cores.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace-settings.h"

#define SETTINGS_PATH_MAX 256

#define SETTINGS_VALUE_LOG_MAX 1024 /* a value as settings_value_for_log() shows it */
#define UPLOAD_URLS_MAX 8
#define UPLOAD_URL_MAX 512

/*
 * Where cores go after they are stored (or instead, with Storage=none): the Upload= targets
 * and how the uploads are made and retried. Read by settings-upload.c; the engine's
 * configuration (upload.h) is made from it by upload_settings_config().
 */
struct upload_settings {
        char urls[UPLOAD_URLS_MAX][UPLOAD_URL_MAX]; /* Upload= (repeatable; "" clears the list) */
        size_t n_urls;
        char s3_endpoint[256];         /* S3Endpoint= ("" = AWS by region) */
        char s3_region[64];            /* S3Region= ("" = us-east-1) */
        char name_template[256];       /* UploadName= ("" = the engine's default) */
        char credentials[256];         /* UploadCredentials= (a file readable only by root, "" = none) */
        uint64_t part_size;            /* UploadPartSize= (0 = the engine's default, 16M) */
        uint64_t timeout_usec;         /* UploadTimeout= per transfer (0 = only the stall rule) */
        bool keep_after_upload;        /* KeepAfterUpload= (default yes) */
        uint64_t retry_for_usec;       /* UploadRetryFor= (default 7 days; USEC_INFINITY = forever) */
        uint32_t retry_attempts;       /* UploadRetryAttempts= (0 = no bound but UploadRetryFor=) */
        uint64_t retry_delay_usec;     /* UploadRetryDelay= (the first retry's wait, default 1 min) */
        uint64_t retry_delay_max_usec; /* UploadRetryDelayMax= (the backoff's bound, default 1 h) */
};

enum storage_mode {
        STORAGE_EXTERNAL, /* cores and records in the store directory */
        STORAGE_NONE,     /* nothing stored; every crash still logged */
};

/* An absolute size, or a share of the store's file system. */
struct size_limit {
        bool percent;
        uint64_t value; /* bytes, or percent (0..100) */
};

struct receiver_settings {
        enum storage_mode storage;
        bool compress;
        int compress_level;
        uint64_t process_size_max; /* bytes of core kept; UINT64_MAX = no cap */
        struct size_limit max_use;
        struct size_limit keep_free;
        /* Host fallback only: each directory under containers/ (see settings_container_share()). */
        struct size_limit max_use_per_container;
        bool max_use_per_container_set;  /* else a quarter of MaxUse= */
        unsigned max_containers;         /* directories under containers/ */
        unsigned max_cores_per_interval; /* 0 = no rate limit */
        uint64_t interval_usec;
        char store[SETTINGS_PATH_MAX];
        struct upload_settings upload; /* Upload= and its keys (settings-upload.c) */
        struct trace_settings trace;   /* Backtrace=, StackCapture*=, MaxCoresPerSignature= (trace-settings.h) */
};

void settings_defaults(struct receiver_settings *s);

/* Sets one key (as spelled in the file) from text. On error, *ret_expect says what is valid. */
int settings_set(struct receiver_settings *s, const char *key, const char *value, const char **ret_expect);

/*
 * Reads path into s. A missing file leaves the defaults (returns 0). Any problem (syntax,
 * unknown section or key, invalid value) is described in err as "PATH:LINE: ..." and gives a
 * negative errno.
 */
int settings_load(const char *path, struct receiver_settings *s, char *err, size_t errsize);

/* The upload keys' defaults (called by settings_defaults()). */
void upload_settings_defaults(struct upload_settings *u);
/* Sets one upload key; -ENOKEY for a key that is not one (settings_set()'s convention). */
int upload_settings_set(struct upload_settings *u, const char *key, const char *value, const char **ret_expect);

/* value as an error message may show it: for Upload= and S3Endpoint=, a password written into
 * the URL (refused, it belongs in the credentials) is masked, "user:***@host". Returns value or
 * buf. */
const char *settings_value_for_log(const char *key, const char *value, char *buf, size_t size);

/* Resolves a limit against a file system of total bytes. */
uint64_t size_limit_bytes(const struct size_limit *l, uint64_t total);

/* MaxUsePerContainer= resolved on a file system of total bytes: as set, else a quarter of MaxUse=;
 * never more than MaxUse=. */
uint64_t settings_container_share(const struct receiver_settings *s, uint64_t total);

/* "1G", "512M", "4096", "infinity"; K/M/G/T are powers of 1024. */
int parse_size(const char *s, uint64_t *ret);
