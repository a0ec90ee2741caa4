/* SPDX-License-Identifier: MIT */
#include "settings.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse.h"

#define DEFAULT_STORE "/var/lib/core_pipe"

void settings_defaults(struct receiver_settings *s) {
        *s = (struct receiver_settings){
                .storage = STORAGE_EXTERNAL,
                .compress = true,
                .compress_level = 1,
                .process_size_max = UINT64_C(32) << 30,
                .max_use = {.percent = true, .value = 10},
                .keep_free = {.percent = true, .value = 15},
                .max_containers = 1024,
                .max_cores_per_interval = 20,
                .interval_usec = 60 * USEC_PER_SEC,
        };
        snprintf(s->store, sizeof(s->store), "%s", DEFAULT_STORE);
        upload_settings_defaults(&s->upload);
        trace_settings_defaults(&s->trace);
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = {{'K', 10}, {'M', 20}, {'G', 30}, {'T', 40}};
        char num[32];
        size_t n = strlen(s);

        if (strcmp(s, "infinity") == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (n == 0 || n >= sizeof(num))
                return -EINVAL;
        unsigned shift = 0;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (s[n - 1] == units[i].suffix) {
                        shift = units[i].shift;
                        n--;
                        break;
                }
        memcpy(num, s, n);
        num[n] = '\0';
        uint64_t v;
        if (parse_uint64(num, &v) < 0)
                return -EINVAL;
        if (shift > 0 && v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = v << shift;
        return 0;
}

static int parse_size_limit(const char *s, struct size_limit *ret) {
        size_t n = strlen(s);
        if (n > 1 && s[n - 1] == '%') {
                char num[8];
                uint32_t v;
                if (n - 1 >= sizeof(num))
                        return -EINVAL;
                memcpy(num, s, n - 1);
                num[n - 1] = '\0';
                if (parse_uint32(num, &v) < 0 || v > 100)
                        return -EINVAL;
                *ret = (struct size_limit){.percent = true, .value = v};
                return 0;
        }
        uint64_t v;
        int r = parse_size(s, &v);
        if (r < 0)
                return r;
        *ret = (struct size_limit){.percent = false, .value = v};
        return 0;
}

uint64_t size_limit_bytes(const struct size_limit *l, uint64_t total) {
        if (!l->percent)
                return l->value;
        return total / 100 * l->value + total % 100 * l->value / 100;
}

uint64_t settings_container_share(const struct receiver_settings *s, uint64_t total) {
        uint64_t max_use = size_limit_bytes(&s->max_use, total);
        uint64_t share =
                s->max_use_per_container_set ? size_limit_bytes(&s->max_use_per_container, total) : max_use / 4;
        return MIN(share, max_use);
}

/* The keys that bound the host's fallback tree. Returns -ENOKEY for any other key. */
static int set_tree_key(struct receiver_settings *s, const char *key, const char *value, const char **ret_expect) {
        uint32_t u32;

        if (strcmp(key, "MaxUsePerContainer") == 0) {
                *ret_expect = "a size in bytes (K, M, G, T suffixes) or a percentage of the file system";
                if (parse_size_limit(value, &s->max_use_per_container) < 0)
                        return -EINVAL;
                s->max_use_per_container_set = true;
                return 0;
        }
        if (strcmp(key, "MaxContainers") == 0) {
                *ret_expect = "a number of container directories from 1 to 1000000";
                if (parse_uint32(value, &u32) < 0 || u32 < 1 || u32 > 1000000)
                        return -EINVAL;
                s->max_containers = u32;
                return 0;
        }
        return -ENOKEY;
}

/* The keys that say where and how cores are stored. Returns -ENOKEY for any other key. */
static int set_storage_key(struct receiver_settings *s, const char *key, const char *value, const char **ret_expect) {
        uint32_t u32;
        int b;

        if (strcmp(key, "Storage") == 0) {
                *ret_expect = "\"external\" or \"none\"";
                if (strcmp(value, "external") == 0)
                        s->storage = STORAGE_EXTERNAL;
                else if (strcmp(value, "none") == 0)
                        s->storage = STORAGE_NONE;
                else
                        return -EINVAL;
                return 0;
        }
        if (strcmp(key, "Compress") == 0) {
                *ret_expect = "a boolean (yes or no)";
                b = parse_boolean(value);
                if (b < 0)
                        return -EINVAL;
                s->compress = b;
                return 0;
        }
        if (strcmp(key, "CompressLevel") == 0) {
                *ret_expect = "a zstd level from 1 to 19";
                if (parse_uint32(value, &u32) < 0 || u32 < 1 || u32 > 19)
                        return -EINVAL;
                s->compress_level = (int) u32;
                return 0;
        }
        if (strcmp(key, "Store") == 0) {
                *ret_expect = "an absolute path";
                if (value[0] != '/' || strlen(value) >= sizeof(s->store))
                        return -EINVAL;
                snprintf(s->store, sizeof(s->store), "%s", value);
                return 0;
        }
        return -ENOKEY;
}

/* The keys that bound what is stored: sizes, space and rate. Returns -ENOKEY for any other key. */
static int set_limit_key(struct receiver_settings *s, const char *key, const char *value, const char **ret_expect) {
        uint32_t u32;
        uint64_t u64;

        if (strcmp(key, "ProcessSizeMax") == 0) {
                *ret_expect = "a size in bytes (K, M, G, T suffixes) or \"infinity\"";
                if (parse_size(value, &u64) < 0)
                        return -EINVAL;
                s->process_size_max = u64;
                return 0;
        }
        if (strcmp(key, "MaxUse") == 0 || strcmp(key, "KeepFree") == 0) {
                *ret_expect = "a size in bytes (K, M, G, T suffixes) or a percentage of the file system";
                return parse_size_limit(value, key[0] == 'M' ? &s->max_use : &s->keep_free) < 0 ? -EINVAL : 0;
        }
        if (strcmp(key, "MaxCoresPerInterval") == 0) {
                *ret_expect = "a number of cores (0 = no limit)";
                if (parse_uint32(value, &u32) < 0 || u32 > 1000000)
                        return -EINVAL;
                s->max_cores_per_interval = u32;
                return 0;
        }
        if (strcmp(key, "Interval") == 0) {
                *ret_expect = "a time span from 1s to 1d";
                if (parse_timespan_usec(value, &u64) < 0 || u64 < USEC_PER_SEC || u64 > 86400 * USEC_PER_SEC)
                        return -EINVAL;
                s->interval_usec = u64;
                return 0;
        }
        return -ENOKEY;
}

int settings_set(struct receiver_settings *s, const char *key, const char *value, const char **ret_expect) {
        int r;

        r = set_storage_key(s, key, value, ret_expect);
        if (r != -ENOKEY)
                return r;
        r = set_limit_key(s, key, value, ret_expect);
        if (r != -ENOKEY)
                return r;
        r = set_tree_key(s, key, value, ret_expect);
        if (r != -ENOKEY)
                return r;
        r = upload_settings_set(&s->upload, key, value, ret_expect);
        if (r != -ENOKEY)
                return r;
        r = trace_settings_set(&s->trace, key, value, ret_expect);
        if (r != -ENOKEY)
                return r;
        *ret_expect = NULL;
        return -ENOKEY;
}

/* libinih reads line by line through this, so that errors can name their line. */
struct load_ctx {
        FILE *f;
        unsigned line;     /* the line being parsed */
        unsigned newlines; /* lines read so far */
        struct receiver_settings *s;
        char *err;
        size_t errsize;
        const char *path;
        bool failed;
};

static char *reader(char *str, int num, void *stream) {
        struct load_ctx *ctx = stream;
        char *r = fgets(str, num, ctx->f);
        if (!r)
                return NULL;
        ctx->line = ctx->newlines + 1;
        if (strchr(str, '\n'))
                ctx->newlines++;
        return r;
}

static int handler(void *user, const char *section, const char *name, const char *value) {
        struct load_ctx *ctx = user;
        const char *expect = NULL;
        if (ctx->failed)
                return 0;
        if (strcmp(section, "Receiver") != 0) {
                snprintf(ctx->err, ctx->errsize, "%s:%u: unknown section [%s] (expected [Receiver])", ctx->path,
                         ctx->line, section);
                ctx->failed = true;
                return 0;
        }
        int r = settings_set(ctx->s, name, value, &expect);
        if (r == -ENOKEY) {
                snprintf(ctx->err, ctx->errsize, "%s:%u: unknown key %s", ctx->path, ctx->line, name);
                ctx->failed = true;
                return 0;
        }
        if (r < 0) {
                char masked[SETTINGS_VALUE_LOG_MAX];
                snprintf(ctx->err, ctx->errsize, "%s:%u: %s=%s is invalid: expected %s", ctx->path, ctx->line, name,
                         settings_value_for_log(name, value, masked, sizeof(masked)), expect);
                ctx->failed = true;
                return 0;
        }
        return 1;
}

int settings_load(const char *path, struct receiver_settings *s, char *err, size_t errsize) {
        struct load_ctx ctx = {.s = s, .err = err, .errsize = errsize, .path = path};
        ctx.f = fopen(path, "re");
        if (!ctx.f) {
                if (errno == ENOENT)
                        return 0;
                int r = negative_errno();
                snprintf(err, errsize, "%s: cannot read: %s", path, strerror(-r));
                return r;
        }
        int r = ini_parse_stream(reader, &ctx, handler, &ctx);
        fclose(ctx.f);
        if (ctx.failed)
                return -EINVAL;
        if (r != 0) {
                /* A line libinih could not parse (no "=", an unclosed section, ...). */
                snprintf(err, errsize, "%s:%d: syntax error (expected [Section] or KEY=VALUE)", path, r);
                return -EINVAL;
        }
        return 0;
}
