/* SPDX-License-Identifier: MIT */
#include "uploader-record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "jsontext.h"
#include "macro.h"
#include "store.h"

int upload_record_load(int dirfd, const char *stem, struct json_object **ret) {
        char name[CORE_STEM_MAX + 8];
        snprintf(name, sizeof(name), "%s.json", stem);
        _cleanup_close_ int fd = store_open_own_file(dirfd, name);
        if (fd < 0)
                return fd;
        _cleanup_free_ char *buf = malloc(UPLOAD_RECORD_MAX + 1);
        if (!buf)
                return -ENOMEM;
        ssize_t n = read_full(fd, buf, UPLOAD_RECORD_MAX + 1);
        if (n < 0)
                return (int) n;
        if (n == 0 || n > UPLOAD_RECORD_MAX)
                return -EBADMSG;
        return json_object_from_text(buf, (size_t) n, 16, ret);
}

/* A string member, NULL if absent or of another type. */
static const char *member_string(struct json_object *o, const char *key) {
        struct json_object *f;
        if (!o || !json_object_object_get_ex(o, key, &f) || !json_object_is_type(f, json_type_string))
                return NULL;
        return json_object_get_string(f);
}

static uint64_t member_uint(struct json_object *o, const char *key) {
        struct json_object *f;
        if (!o || !json_object_object_get_ex(o, key, &f) || !json_object_is_type(f, json_type_int))
                return 0;
        int64_t v = json_object_get_int64(f);
        return v < 0 ? 0 : (uint64_t) v;
}

void upload_record_name_fields(struct json_object *rec, const char *file, struct upload_name_fields *ret) {
        struct json_object *container = NULL;
        if (rec)
                (void) json_object_object_get_ex(rec, "container", &container);
        *ret = (struct upload_name_fields){
                .container = member_string(container, "id"),
                .hostname = member_string(rec, "hostname"),
                .file = file,
                .comm = member_string(rec, "comm"),
                .boot_id = member_string(rec, "boot_id"),
                .machine_id = member_string(rec, "machine_id"),
                .pid = member_uint(rec, "pid"),
                .signal = (uint32_t) MIN(member_uint(rec, "signal"), UINT32_MAX),
                .time_usec = member_uint(rec, "received_usec"),
        };
}

static struct json_object *target_object(const struct upload_record_target *t, uint64_t now_usec) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "url", json_object_new_string(t->core->url));
        if (t->record_url)
                json_object_object_add(o, "record_url", json_object_new_string(t->record_url));
        json_object_object_add(o, "time", json_object_new_uint64(now_usec));
        json_object_object_add(o, "sha256", json_object_new_string(t->core->sha256));
        json_object_object_add(o, "bytes", json_object_new_uint64(t->core->bytes));
        return o;
}

/* "uploaded_to" as an array (made, or replaced when the record held something else there). */
static struct json_object *uploaded_to(struct json_object *rec) {
        struct json_object *a;
        if (json_object_object_get_ex(rec, "uploaded_to", &a) && json_object_is_type(a, json_type_array))
                return a;
        a = json_object_new_array();
        if (a)
                json_object_object_add(rec, "uploaded_to", a);
        return a;
}

/* Adds t, replacing an earlier upload to the same url. */
static int add_target(struct json_object *a, const struct upload_record_target *t, uint64_t now_usec) {
        struct json_object *o = target_object(t, now_usec);
        if (!o)
                return -ENOMEM;
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                const char *url = member_string(json_object_array_get_idx(a, i), "url");
                if (url && strcmp(url, t->core->url) == 0)
                        return json_object_array_put_idx(a, i, o) < 0 ? -ENOMEM : 0;
        }
        return json_object_array_add(a, o) < 0 ? -ENOMEM : 0;
}

int upload_record_update(struct json_object *rec, const struct upload_record_target *targets, size_t n,
                         uint64_t now_usec, const char *error, char **ret_text) {
        if (n > 0) {
                struct json_object *a = uploaded_to(rec);
                if (!a)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++)
                        if (add_target(a, &targets[i], now_usec) < 0)
                                return -ENOMEM;
        }
        if (error)
                json_object_object_add(rec, "upload_error", json_object_new_string(error));
        else
                json_object_object_del(rec, "upload_error");
        /* As record.c writes a record: pretty, slashes as they are. */
        const char *text =
                json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *copy = text ? strdup(text) : NULL;
        if (!copy)
                return -ENOMEM;
        *ret_text = copy;
        return 0;
}

int upload_record_replace(int dirfd, const char *stem, const char *text) {
        char name[CORE_STEM_MAX + 8], tmp[CORE_STEM_MAX + 24];
        snprintf(name, sizeof(name), "%s.json", stem);
        snprintf(tmp, sizeof(tmp), ".#%s.upload", name);
        (void) unlinkat(dirfd, tmp, 0);
        int r = store_file_atomic(dirfd, tmp, text, strlen(text));
        if (r >= 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = negative_errno();
        if (r >= 0 && fsync(dirfd) < 0)
                r = negative_errno();
        if (r < 0)
                (void) unlinkat(dirfd, tmp, 0);
        return r;
}
