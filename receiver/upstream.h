/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Storage=none with Upload=: the core goes from the pipe through zstd straight to every target
 * (upload.h's stream), and nothing is written here, as users of an upload-only FTP server
 * asked. The crashed process is held while the network takes the frames (a slow server is a
 * slow dump, which the host helper's stall bounds end); the pipe is closed as soon as the last
 * byte is read or the upload failed everywhere. A core no target confirmed is lost, and the
 * crash's log line and journal entry say so ("core lost: upload to URL failed: REASON"). Its
 * record goes, after it, to the targets that confirmed the core.
 */

#include <stdbool.h>
#include <stdint.h>

#include "metadata.h"
#include "store.h"
#include "uploader.h"

struct upstream {
        struct upload_targets t;
        char name[1024], record_name[1024]; /* the objects */
        struct upload_result res[UPLOAD_URLS_MAX], rec_res[UPLOAD_URLS_MAX];
        char error[512]; /* "URL: reason" of the first target that failed, "" if none */
        bool confirmed;  /* at least one target confirmed the core */
        bool all_confirmed;
};

/*
 * Streams *core_fd (closed on return, at the latest) to the targets of s as object file (the
 * core's name), reading at most limit bytes (more is cut, STORE_CUT_SIZE_LIMIT), compressed as
 * so says and shown to so->observe. f names the object (f->file is the core's name); ret tells
 * what was read and sent. Returns 0 when at least one target confirmed the core, else a
 * negative errno with u->error saying why (the core is lost).
 */
int upstream_core(struct upstream *u, const struct receiver_settings *s, const struct upload_name_fields *f,
                  const char *record_file, int *core_fd, uint64_t limit, const struct store_options *so,
                  struct store_result *ret);

/* The record (a JSON text of record.c) with "uploaded_to", to the targets that took the core. */
void upstream_record(struct upstream *u, const char *json);

/* The crash's journal entry (journal.h) with COREDUMP_UPLOADED_TO= per confirmed target, or
 * CORE_PIPE_UPLOAD_ERROR=. */
int upstream_journal(int priority, const struct core_metadata *m, const struct upstream *u, const char *message);
