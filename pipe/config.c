/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "fdio.h"
#include "macro.h"
#include "parse.h"

#ifndef CORE_PIPE_RECEIVER_PATH
#error "CORE_PIPE_RECEIVER_PATH must be set by the build"
#endif
#ifndef CORE_PIPE_RECEIVER_CONFIG_PATH
#error "CORE_PIPE_RECEIVER_CONFIG_PATH must be set by the build"
#endif

#define TIMEOUT_MIN_USEC (10 * USEC_PER_MSEC)
#define TIMEOUT_MAX_USEC (60 * USEC_PER_SEC)
#define OUTCOME_TIMEOUT_MAX_USEC (3600 * USEC_PER_SEC)
#define CONFIG_SIZE_MAX 65536
/* Far above any sensible setting, low enough that no product below overflows. */
#define DUMP_TIMEOUT_MAX_USEC (7 * 24 * 3600 * USEC_PER_SEC)
#define DUMP_RATE_MAX (UINT64_C(1) << 40)
/* The slot table's size (slots.h): a share or cap above it could never be reached. */
#define SLOTS_SETTING_MAX 1024

void pipe_config_defaults(struct pipe_config *c) {
        *c = (struct pipe_config){
                .fallback = FALLBACK_STORE,
                .timeout_usec = 3 * USEC_PER_SEC,
                .outcome_timeout_usec = 60 * USEC_PER_SEC,
                .stall_timeout_usec = 10 * USEC_PER_SEC,
                .log_rate_burst = 10,
                .log_rate_interval_usec = 60 * USEC_PER_SEC,
                .min_dump_rate = 1024 * 1024,
                .dump_timeout_usec = 1800 * USEC_PER_SEC,
                .max_dumps_per_container = 8,
                .max_concurrent_fallback = 4,
                .max_fallback_per_container = 2,
                .max_concurrent_dumps = 64,
        };
        snprintf(c->fallback_store, sizeof(c->fallback_store), "%s", "/var/lib/core_pipe");
        snprintf(c->receiver, sizeof(c->receiver), "%s", CORE_PIPE_RECEIVER_PATH);
        snprintf(c->receiver_config, sizeof(c->receiver_config), "%s", CORE_PIPE_RECEIVER_CONFIG_PATH);
}

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = '\0';
        return s;
}

static int set_path(char *out, size_t size, const char *v) {
        if (v[0] != '/' || strlen(v) >= size)
                return -EINVAL;
        strcpy(out, v);
        return 0;
}

static int set_timeout(uint64_t *out, const char *v, uint64_t min, uint64_t max) {
        uint64_t usec;
        int r = parse_timespan_usec(v, &usec);
        if (r < 0)
                return r;
        if (usec < min || usec > max)
                return -ERANGE;
        *out = usec;
        return 0;
}

/* A cgroup path as /proc/<pid>/cgroup shows it: absolute, no "." or ".." component (empty
 * means the crashed process's own cgroups). */
static int set_cgroup(char *out, size_t size, const char *v) {
        if (v[0] != '\0' && (v[0] != '/' || strlen(v) >= size))
                return -EINVAL;
        for (const char *c = v; *c;) {
                c += strspn(c, "/");
                size_t n = strcspn(c, "/");
                if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return -EINVAL;
                c += n;
        }
        strcpy(out, v);
        return 0;
}

/* The keys of the host's costs: log lines and the fallback receiver's cgroup. */
static int apply_costs(struct pipe_config *c, const char *key, const char *v, const char **ret_expect) {
        if (strcmp(key, "LogRateLimitBurst") == 0) {
                uint32_t n;
                *ret_expect = "a number of lines up to 100000 (0 = no limit)";
                int r = parse_uint32(v, &n);
                if (r < 0)
                        return r;
                if (n > 100000)
                        return -ERANGE;
                c->log_rate_burst = n;
                return 0;
        }
        if (strcmp(key, "LogRateLimitIntervalSec") == 0) {
                *ret_expect = "a time span up to 1h (0 = no limit)";
                return set_timeout(&c->log_rate_interval_usec, v, 0, OUTCOME_TIMEOUT_MAX_USEC);
        }
        if (strcmp(key, "FallbackCgroup") == 0) {
                *ret_expect = "empty or an absolute cgroup path without . or .. components";
                return set_cgroup(c->fallback_cgroup, sizeof(c->fallback_cgroup), v);
        }
        *ret_expect = NULL;
        return -ENOKEY;
}

/* A byte count with an optional K, M or G (powers of 1024), as the receiver's sizes. */
static int set_size(uint64_t *out, const char *v, uint64_t max) {
        static const char suffixes[] = "KMG";
        char num[32];
        size_t n = strspn(v, "0123456789");
        uint64_t x, mult = 1;

        if (n == 0 || n >= sizeof(num))
                return -EINVAL;
        if (v[n] != '\0') {
                const char *s = strchr(suffixes, v[n]);
                if (!s || v[n + 1] != '\0')
                        return -EINVAL;
                mult = UINT64_C(1) << (10 * (1 + (s - suffixes)));
        }
        memcpy(num, v, n);
        num[n] = '\0';
        int r = parse_uint64(num, &x);
        if (r < 0)
                return r;
        if (x > max / mult)
                return -ERANGE;
        *out = x * mult;
        return 0;
}

static int set_count(unsigned *out, const char *v, unsigned max) {
        uint64_t x;
        int r = parse_uint64(v, &x);
        if (r < 0)
                return r;
        if (x > max)
                return -ERANGE;
        *out = (unsigned) x;
        return 0;
}

/* The bounds on a hand-over and on the slots it takes (core_pipe.conf(5), SECURITY of core_pipe(8)). */
static int apply_bounds(struct pipe_config *c, const char *key, const char *v, const char **ret_expect) {
        if (strcmp(key, "StallTimeoutSec") == 0) {
                *ret_expect = "a time span up to 1h (0 = never end a stalled dump)";
                return set_timeout(&c->stall_timeout_usec, v, 0, OUTCOME_TIMEOUT_MAX_USEC);
        }
        if (strcmp(key, "MinDumpRate") == 0) {
                *ret_expect = "bytes per second with an optional K, M or G, up to 1T (0 = no minimum)";
                return set_size(&c->min_dump_rate, v, DUMP_RATE_MAX);
        }
        if (strcmp(key, "DumpTimeoutSec") == 0) {
                *ret_expect = "a time span up to 7 days (0 = no deadline)";
                return set_timeout(&c->dump_timeout_usec, v, 0, DUMP_TIMEOUT_MAX_USEC);
        }
        if (strcmp(key, "MaxDumpsPerContainer") == 0) {
                *ret_expect = "a count from 0 (no share) to 1024";
                return set_count(&c->max_dumps_per_container, v, SLOTS_SETTING_MAX);
        }
        if (strcmp(key, "MaxFallbackPerContainer") == 0) {
                *ret_expect = "a count from 0 (no cap) to 1024";
                return set_count(&c->max_fallback_per_container, v, SLOTS_SETTING_MAX);
        }
        if (strcmp(key, "MaxConcurrentDumps") == 0) {
                *ret_expect = "a count from 1 to 1024";
                unsigned n;
                int r = set_count(&n, v, SLOTS_SETTING_MAX);
                if (r >= 0 && n == 0)
                        r = -ERANGE;
                if (r >= 0)
                        c->max_concurrent_dumps = n;
                return r;
        }
        if (strcmp(key, "MaxConcurrentFallback") == 0) {
                *ret_expect = "a count from 0 (no cap) to 1024";
                return set_count(&c->max_concurrent_fallback, v, SLOTS_SETTING_MAX);
        }
        *ret_expect = NULL;
        return -ENOKEY;
}

static int apply(struct pipe_config *c, const char *key, const char *v, const char **ret_expect) {
        if (strcmp(key, "Fallback") == 0) {
                *ret_expect = "\"store\" or \"drop\"";
                if (strcmp(v, "store") == 0)
                        c->fallback = FALLBACK_STORE;
                else if (strcmp(v, "drop") == 0)
                        c->fallback = FALLBACK_DROP;
                else
                        return -EINVAL;
                return 0;
        }
        if (strcmp(key, "TimeoutSec") == 0) {
                *ret_expect = "a time span from 10ms to 60s";
                return set_timeout(&c->timeout_usec, v, TIMEOUT_MIN_USEC, TIMEOUT_MAX_USEC);
        }
        if (strcmp(key, "OutcomeTimeoutSec") == 0) {
                *ret_expect = "a time span up to 1h (0 = do not wait)";
                return set_timeout(&c->outcome_timeout_usec, v, 0, OUTCOME_TIMEOUT_MAX_USEC);
        }
        if (strcmp(key, "FallbackStore") == 0) {
                *ret_expect = "an absolute path";
                return set_path(c->fallback_store, sizeof(c->fallback_store), v);
        }
        if (strcmp(key, "ReceiverConfig") == 0) {
                *ret_expect = "an absolute path";
                return set_path(c->receiver_config, sizeof(c->receiver_config), v);
        }
        if (strcmp(key, "Receiver") == 0) {
                *ret_expect = "an absolute path";
                return set_path(c->receiver, sizeof(c->receiver), v);
        }
        int r = apply_bounds(c, key, v, ret_expect);
        if (r != -ENOKEY)
                return r;
        return apply_costs(c, key, v, ret_expect);
}

int pipe_config_parse(const char *path, const char *text, struct pipe_config *c, config_problem_fn report) {
        char line[1024], msg[1400];
        unsigned lineno = 0;
        int problems = 0;
        bool in_section = false;

        for (const char *p = text; *p;) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) : strlen(p);
                lineno++;
                if (n >= sizeof(line)) {
                        report(path, lineno, "line too long, ignored");
                        problems++;
                        p += n + (nl ? 1 : 0);
                        continue;
                }
                memcpy(line, p, n);
                line[n] = '\0';
                p += n + (nl ? 1 : 0);

                char *s = strip(line);
                if (*s == '\0' || *s == '#' || *s == ';')
                        continue;
                if (*s == '[') {
                        in_section = strcmp(s, "[Pipe]") == 0;
                        if (!in_section) {
                                snprintf(msg, sizeof(msg), "unknown section %.64s, its settings are ignored", s);
                                report(path, lineno, msg);
                                problems++;
                        }
                        continue;
                }
                if (!in_section)
                        continue; /* already reported with its section header */
                char *eq = strchr(s, '=');
                if (!eq) {
                        report(path, lineno, "expected KEY=VALUE, line ignored");
                        problems++;
                        continue;
                }
                *eq = '\0';
                char *key = strip(s), *value = strip(eq + 1);
                const char *expect = NULL;
                int r = apply(c, key, value, &expect);
                if (r == -ENOKEY) {
                        snprintf(msg, sizeof(msg), "unknown key %.64s, ignored", key);
                        report(path, lineno, msg);
                        problems++;
                } else if (r < 0) {
                        snprintf(msg, sizeof(msg), "%.64s=%.200s is invalid (expected %s), using the default", key,
                                 value, expect);
                        report(path, lineno, msg);
                        problems++;
                }
        }
        return problems;
}

int pipe_config_load(const char *path, struct pipe_config *c, config_problem_fn report) {
        _cleanup_free_ char *text = malloc(CONFIG_SIZE_MAX + 1);
        size_t len;
        if (!text)
                return -ENOMEM;
        int r = read_small_file_at(AT_FDCWD, path, text, CONFIG_SIZE_MAX + 1, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (len >= CONFIG_SIZE_MAX)
                return -EFBIG;
        return pipe_config_parse(path, text, c, report);
}
