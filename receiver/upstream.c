/* SPDX-License-Identifier: MIT */
#include "upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fdio.h"
#include "journal.h"
#include "macro.h"
#include "uploader-record.h"

struct sender {
        struct upload_stream *stream;
        uint64_t sent;
        bool failed; /* every target failed: the stream's results say why */
};

static int send_frame(void *userdata, const void *frame, size_t len, size_t in_len) {
        struct sender *snd = userdata;
        (void) in_len;
        int r = upload_stream_write(snd->stream, frame, len);
        if (r >= 0)
                snd->sent += len;
        else
                snd->failed = true;
        return r;
}

static int pump_raw(struct core_reader *rd, struct sender *snd, size_t chunk) {
        _cleanup_free_ void *buf = malloc(chunk);
        if (!buf)
                return -ENOMEM;
        while (!rd->at_end) {
                ssize_t n = core_reader_next(rd, buf, chunk);
                if (n < 0)
                        return (int) n;
                int r = n > 0 ? send_frame(snd, buf, (size_t) n, (size_t) n) : 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "URL: reason" of the first target that did not confirm. */
static void note_results(struct upstream *u) {
        u->error[0] = '\0';
        u->confirmed = false;
        u->all_confirmed = true;
        for (size_t i = 0; i < u->t.config.n_urls; i++) {
                if (u->res[i].confirmed) {
                        u->confirmed = true;
                        continue;
                }
                u->all_confirmed = false;
                if (!u->error[0])
                        upload_failure_text(&u->res[i], u->t.urls[i], u->error, sizeof(u->error));
        }
}

static int name_objects(struct upstream *u, const struct receiver_settings *s, const struct upload_name_fields *f,
                        const char *record_file) {
        struct upload_name_fields rf = *f;
        upload_targets_init(&u->t, &s->upload);
        for (size_t i = 0; i < s->upload.n_urls; i++)
                u->t.urls[u->t.config.n_urls++] = (char *) s->upload.urls[i];
        int r = upload_object_name(s->upload.name_template, f, u->name, sizeof(u->name));
        rf.file = record_file;
        return r < 0 ? r : upload_object_name(s->upload.name_template, &rf, u->record_name, sizeof(u->record_name));
}

/* Every target failed before a byte was sent: the reason of each, for the log. */
static int fail_all(struct upstream *u, int error, const char *what) {
        for (size_t i = 0; i < u->t.config.n_urls; i++)
                snprintf(u->res[i].error, sizeof(u->res[i].error), "%s: %s", what, strerror(-error));
        note_results(u);
        return error;
}

int upstream_core(struct upstream *u, const struct receiver_settings *s, const struct upload_name_fields *f,
                  const char *record_file, int *core_fd, uint64_t limit, const struct store_options *so,
                  struct store_result *ret) {
        struct core_reader rd = {.fd = core_fd, .limit = limit, .o = so};
        struct sender snd = {NULL, 0, false};
        int r = name_objects(u, s, f, record_file);
        if (r < 0) {
                *core_fd = safe_close(*core_fd);
                return fail_all(u, r, "cannot name the object (UploadName=)");
        }
        r = upload_stream_open(&u->t.config, u->name, so->compress ? "application/zstd" : "application/octet-stream",
                               &snd.stream);
        if (r < 0) {
                *core_fd = safe_close(*core_fd);
                return fail_all(u, r, "cannot start the upload");
        }
        r = so->compress ? core_reader_compress(&rd, so, so->chunk_size, send_frame, &snd)
                         : pump_raw(&rd, &snd, so->chunk_size);
        *core_fd = safe_close(*core_fd);
        if (r >= 0 && rd.offset == 0) {
                /* An empty stream is no core (the process was killed as its dump began): no empty
                 * object on the server. */
                upload_stream_abort(snd.stream);
                snprintf(u->error, sizeof(u->error), "no core: the stream ended before its first byte");
                *ret = (struct store_result){.released_usec = now_monotonic_usec()};
                return -ENODATA;
        }
        if (r < 0 && !snd.failed) {
                /* The core could not be read whole: nothing of it may look complete. */
                upload_stream_abort(snd.stream);
                (void) fail_all(u, r, "reading the core failed");
        } else {
                (void) upload_stream_finish(snd.stream, u->res);
                note_results(u);
        }
        *ret = (struct store_result){
                .core_size = rd.offset,
                .read_size = rd.offset,
                .stored_size = snd.sent,
                .truncated = rd.truncated,
                .truncated_reason = rd.truncated ? STORE_CUT_SIZE_LIMIT : NULL,
                .released_usec = now_monotonic_usec(),
        };
        return u->confirmed ? 0 : (r < 0 ? r : -EIO);
}

void upstream_record(struct upstream *u, const char *json) {
        struct upload_record_target t[UPLOAD_URLS_MAX];
        struct upload_targets ok = {.urls = {NULL}};
        size_t idx[UPLOAD_URLS_MAX], n = 0;
        struct upload_result res[UPLOAD_URLS_MAX];
        char record_urls[UPLOAD_URLS_MAX][1024];
        for (size_t i = 0; i < u->t.config.n_urls; i++) {
                if (!u->res[i].confirmed)
                        continue;
                size_t len = strlen(u->res[i].url), m = strlen(u->name);
                record_urls[n][0] = '\0';
                if (len >= m && strcmp(u->res[i].url + len - m, u->name) == 0)
                        snprintf(record_urls[n], sizeof(record_urls[n]), "%.*s%s", (int) (len - m), u->res[i].url,
                                 u->record_name);
                t[n] = (struct upload_record_target){&u->res[i], record_urls[n][0] ? record_urls[n] : NULL};
                ok.urls[n] = u->t.urls[i];
                idx[n++] = i;
        }
        ok.config = u->t.config;
        ok.config.urls = ok.urls;
        ok.config.n_urls = n;
        struct json_object *rec = n > 0 ? json_tokener_parse(json) : NULL;
        _cleanup_free_ char *text = NULL;
        if (!rec || upload_record_update(rec, t, n, now_realtime_usec(), u->all_confirmed ? NULL : u->error, &text) < 0)
                text = NULL;
        if (rec)
                json_object_put(rec);
        _cleanup_close_ int fd = text ? memfd_create("core_pipe-record", MFD_CLOEXEC) : -EBADF;
        if (fd < 0 || write_full(fd, text, strlen(text)) < 0)
                return;
        (void) upload_file(&ok.config, fd, strlen(text), u->record_name, "application/json", res);
        for (size_t j = 0; j < n; j++)
                u->rec_res[idx[j]] = res[j];
}

int upstream_journal(int priority, const struct core_metadata *m, const struct upstream *u, const char *message) {
        struct journal_fields f;
        int r = journal_crash_fields(priority, m, NULL, NULL, message, &f);
        if (r < 0)
                return r;
        for (size_t i = 0; i < u->t.config.n_urls && f.n < JOURNAL_FIELDS_MAX; i++) {
                char *field = NULL;
                int n = u->res[i].confirmed ? asprintf(&field, "COREDUMP_UPLOADED_TO=%s", u->res[i].url) : -1;
                if (n >= 0)
                        f.iov[f.n++] = (struct iovec){.iov_base = field, .iov_len = (size_t) n};
        }
        char *field = NULL;
        int n = u->error[0] && f.n < JOURNAL_FIELDS_MAX ? asprintf(&field, "CORE_PIPE_UPLOAD_ERROR=%s", u->error) : -1;
        if (n >= 0)
                f.iov[f.n++] = (struct iovec){.iov_base = field, .iov_len = (size_t) n};
        r = journal_fields_send(&f);
        journal_fields_done(&f);
        return r;
}
