/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The crash's entry in the journal, where journald runs: one structured entry per crash with
 * the MESSAGE_ID and COREDUMP_* fields that coredumpctl(1) reads, so that `coredumpctl list`,
 * `info`, `dump` and `debug` work on cores stored by core_pipe. COREDUMP_FILENAME points at
 * the stored file (zstd, which coredumpctl decompresses by its suffix).
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "metadata.h"
#include "store.h"

/* Message id of systemd's coredump entries, which coredumpctl matches on. */
#define COREDUMP_MESSAGE_ID "fc2e22bc6ee647b6b90729ab34a250b1"

#define JOURNAL_FIELDS_MAX 40

/* An entry's fields, each "NAME=value" (the value may hold any byte), heap-allocated. */
struct journal_fields {
        struct iovec iov[JOURNAL_FIELDS_MAX];
        size_t n;
        bool oom;
};

/*
 * The fields of a crash's entry: what coredumpctl needs (COREDUMP_PID, _UID, _GID, _SIGNAL,
 * _COMM always; _EXE when /proc or the core's NT_FILE named it; _UNIT, _SLICE, _USER_UNIT and
 * _OWNER_UID from the cgroup path). Returns 0 and *ret (free with journal_fields_done()), or
 * -ENOMEM.
 */
int journal_crash_fields(int priority, const struct core_metadata *m, const char *core_path,
                         const struct store_result *res, const char *message, struct journal_fields *ret);
void journal_fields_done(struct journal_fields *f);
/* Sends the entry: 0 or a negative errno (-EOPNOTSUPP in a build without the journal). */
int journal_fields_send(const struct journal_fields *f);

/* core_path and res are NULL when no core was stored (the message says why). */
int journal_record_crash(int priority, const struct core_metadata *m, const char *core_path,
                         const struct store_result *res, const char *message);

/* journal_record_crash() with extra fields, each "NAME=value" (COREDUMP_PACKAGE_JSON=...). */
int journal_record_crash_extra(int priority, const struct core_metadata *m, const char *core_path,
                               const struct store_result *res, const char *message, const char *const *extra,
                               size_t n_extra);
