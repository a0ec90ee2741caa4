/* SPDX-License-Identifier: MIT */
#include "record.h"

#include "parse.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "traceout.h"
#include "utf8.h"

/*
 * Every string of a record goes through here. Most come from the crashed process or its
 * container (comm, hostname, command line, paths, cgroup names) and may hold any byte; json-c
 * escapes control characters but copies bytes >= 0x80 as they are, which would make the record
 * invalid UTF-8. Each byte that does not begin a valid UTF-8 sequence becomes U+FFFD
 * (core_pipe-receiver(8), THE RECORD). NULL on allocation failure (the key then holds null).
 */
static struct json_object *json_text(const char *s, size_t len) {
        size_t n;
        _cleanup_free_ char *valid = utf8_make_valid(s, len, &n);
        if (!valid || n > INT32_MAX)
                return NULL;
        return json_object_new_string_len(valid, (int) n);
}

static void add_string(struct json_object *o, const char *key, const char *value) {
        if (value && value[0])
                json_object_object_add(o, key, json_text(value, strlen(value)));
}

static void add_string_or_null(struct json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, value && value[0] ? json_text(value, strlen(value)) : NULL);
}

static void add_uint(struct json_object *o, const char *key, uint64_t value) {
        json_object_object_add(o, key, json_object_new_uint64(value));
}

/* Splits NUL-separated text (cmdline) into a JSON array. */
static struct json_object *split_nul(const char *buf, size_t len) {
        struct json_object *a = json_object_new_array();
        for (size_t i = 0; i < len;) {
                size_t n = strnlen(buf + i, len - i);
                json_object_array_add(a, json_text(buf + i, n));
                i += n + 1;
        }
        return a;
}

/* The distinct files mapped into the process (libraries, the executable): what a debugger
 * needs to find matching symbols. */
static struct json_object *mapped_files(const char *maps, size_t len) {
        struct json_object *a = json_object_new_array();
        const char *last = NULL;
        size_t last_len = 0;
        for (size_t i = 0; i < len;) {
                const char *line = maps + i;
                const char *nl = memchr(line, '\n', len - i);
                size_t n = nl ? (size_t) (nl - line) : len - i;
                const char *path = memchr(line, '/', n);
                if (path) {
                        size_t plen = n - (size_t) (path - line);
                        if (!last || plen != last_len || memcmp(path, last, plen) != 0) {
                                json_object_array_add(a, json_text(path, plen));
                                last = path;
                                last_len = plen;
                        }
                }
                i += n + 1;
        }
        return a;
}

/* The mapped files from NT_FILE: already one per run, NUL-separated. */
static struct json_object *core_mapped_files(const struct core_metadata *m) {
        return split_nul(m->core_files, m->core_files_len);
}

static void add_container(struct json_object *o, const struct container_identity *c, const char *seen_by) {
        json_object *co = json_object_new_object();
        add_string(co, "runtime", c->runtime);
        add_string(co, "id", c->id);
        add_string(co, "pod_uid", c->pod_uid);
        add_string(co, "seen_by", seen_by);
        json_object_object_add(o, "container", co);
}

/* The cgroup, the container and the systemd unit it names. The container as the host helper saw
 * it (the whole cgroup path) comes first; else as this receiver sees it: inside a cgroup
 * namespace (LXC, docker on cgroup v2) the path may say nothing. */
static void add_cgroup(struct json_object *o, const struct core_metadata *m) {
        const char *path = NULL;
        struct container_identity c;
        struct cgroup_unit u;
        size_t n = m->cgroup ? cgroup_path_from_text(m->cgroup, &path) : 0;
        if (m->host_container.runtime[0])
                add_container(o, &m->host_container, "host");
        else if (n > 0 && container_identity_from_cgroup(path, n, &c))
                add_container(o, &c, "receiver");
        if (!m->cgroup)
                return;
        add_string(o, "cgroup", m->cgroup);
        if (n > 0 && cgroup_unit_from_path(path, n, &u) >= 0) {
                add_string(o, "unit", u.unit);
                add_string(o, "slice", u.slice);
                add_string(o, "user_unit", u.user_unit);
        }
}

/* Which source each piece came from, where /proc and the core's notes can both give it. */
static void add_sources(struct json_object *o, const struct core_metadata *m) {
        struct json_object *s = json_object_new_object();
        add_string(s, "comm", metadata_source_name(m->comm_source));
        add_string(s, "exe", metadata_source_name(m->exe_source));
        add_string(s, "cmdline", metadata_source_name(m->cmdline_source));
        add_string(s, "mapped_files", metadata_source_name(m->files_source));
        add_string(s, "threads", metadata_source_name(m->threads_source));
        json_object_object_add(o, "sources", s);
        add_string(o, "exe_source", metadata_source_name(m->exe_source));
}

/* The command line: from /proc its arguments, from the core pr_psargs (one string: the first 80
 * bytes of the arguments joined by spaces; never split again, a space may be inside one). */
static void add_cmdline(struct json_object *o, const struct core_metadata *m) {
        if (!m->cmdline)
                return;
        if (m->cmdline_source == SOURCE_CORE)
                add_string(o, "psargs", m->cmdline);
        else
                json_object_object_add(o, "cmdline", split_nul(m->cmdline, m->cmdline_len));
}

/* Who crashed and how: the ids as the receiver's namespaces see them, and the signal. */
static void add_process(struct json_object *o, const struct core_metadata *m) {
        add_uint(o, "pid", (uint64_t) m->pid);
        add_uint(o, "uid", m->uid);
        add_uint(o, "gid", m->gid);
        add_uint(o, "euid", m->euid);
        add_uint(o, "egid", m->egid);
        add_uint(o, "ppid", (uint64_t) m->ppid);
        add_uint(o, "signal", m->signal);
        add_string(o, "signal_source", signal_source_name(m->signal_source, m->signal));
        const char *sig = signal_name(m->signal);
        if (sig) {
                char name[32];
                snprintf(name, sizeof(name), "SIG%s", sig);
                add_string(o, "signal_name", name);
        }
}

/* Where the core went and what storing it cost. */
static void add_store_result(struct json_object *o, const struct record_info *info) {
        add_string(o, "handled_by", info->handled_by);
        add_string(o, "core_file", info->core_file);
        if (!info->result)
                return;
        add_string(o, "compression", info->compressed ? "zstd" : "none");
        add_uint(o, "core_size", info->result->core_size);
        add_uint(o, "stored_size", info->result->stored_size);
        json_object_object_add(o, "truncated", json_object_new_boolean(info->result->truncated));
        /* Always present, null when the core is whole or no cause is known: a reader tells "not
         * cut" from "written by a receiver that did not say". */
        add_string_or_null(o, "truncated_reason", info->result->truncated ? info->result->truncated_reason : NULL);
        add_string_or_null(o, "truncated_cause", info->result->truncated ? info->result->truncated_cause : NULL);
        add_uint(o, "read_size", info->result->read_size);
        if (info->max_rss_kib > 0)
                add_uint(o, "receiver_max_rss_kib", (uint64_t) info->max_rss_kib);
        if (info->cpu_usec > 0)
                add_uint(o, "receiver_cpu_usec", info->cpu_usec);
}

char *record_to_json(const struct core_metadata *m, const struct record_info *info) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;

        add_uint(o, "format", 1);
        add_process(o, m);
        add_uint(o, "dump_time", m->dump_time);
        add_uint(o, "received_usec", m->received_usec);
        if (m->core_limit == UINT64_MAX)
                add_string(o, "rlimit_core", "infinity");
        else
                add_uint(o, "rlimit_core", m->core_limit);
        add_string(o, "comm", m->comm);
        add_string(o, "exe", m->exe);
        add_cmdline(o, m);
        add_string(o, "cwd", m->cwd);
        add_cgroup(o, m);
        add_uint(o, "threads", m->threads);
        add_string(o, "hostname", m->hostname);
        add_string(o, "boot_id", m->boot_id);
        add_string(o, "machine_id", m->machine_id);
        add_string(o, "kernel_release", m->kernel_release);
        if (m->maps)
                json_object_object_add(o, "mapped_files", mapped_files(m->maps, m->maps_len));
        else if (m->core_files)
                json_object_object_add(o, "mapped_files", core_mapped_files(m));
        add_sources(o, m);
        if (m->core_expected_size > 0)
                add_uint(o, "core_expected_size", m->core_expected_size);

        add_store_result(o, info);
        if (info->trace)
                trace_record_add(o, info->trace);

        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *copy = text ? strdup(text) : NULL;
        json_object_put(o);
        return copy;
}
