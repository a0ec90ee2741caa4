/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The record of an uploaded core: read back from the store (where whoever is root in the
 * container may have written it: bounded and validated as any untrusted JSON), its fields for
 * the object's name, and what an upload adds to it: "uploaded_to" (one object per target: url,
 * record_url, time, sha256, bytes) or "upload_error" (the last failure, one line).
 */

#include <json-c/json.h>
#include <stdint.h>

#include "upload.h"

#define UPLOAD_RECORD_MAX (4U << 20) /* bytes of a record read back */

/* Reads <stem>.json in dirfd (an own regular file): a JSON object, or -ENOENT, -EBADMSG. */
int upload_record_load(int dirfd, const char *stem, struct json_object **ret);

/* The name template's fields from the record (pointers into rec), file being the object's
 * file name (the core's, or the record's). rec may be NULL: then only file is known. */
void upload_record_name_fields(struct json_object *rec, const char *file, struct upload_name_fields *ret);

/* One confirmed target: where the core went and, when known, where its record goes. */
struct upload_record_target {
        const struct upload_result *core;
        const char *record_url; /* NULL if unknown */
};

/*
 * The record's text after an attempt at time now: every confirmed target added to (or replaced
 * in) "uploaded_to", and "upload_error" set to error, or removed when error is NULL. rec is
 * changed in place. Returns 0 and a newly allocated text in *ret_text, or -ENOMEM.
 */
int upload_record_update(struct json_object *rec, const struct upload_record_target *targets, size_t n,
                         uint64_t now_usec, const char *error, char **ret_text);

/* Replaces <stem>.json in dirfd durably with text (written aside, then renamed over it). */
int upload_record_replace(int dirfd, const char *stem, const char *text);
