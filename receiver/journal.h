/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The crash's entry in the journal, where journald runs: one structured entry per crash with
 * the MESSAGE_ID and COREDUMP_* fields that coredumpctl(1) reads, so that `coredumpctl list`,
 * `info`, `dump` and `debug` work on cores stored by core_pipe. COREDUMP_FILENAME points at
 * the stored file (zstd, which coredumpctl decompresses by its suffix).
 */

#include <stdbool.h>

#include "metadata.h"
#include "store.h"

/* Message id of systemd's coredump entries, which coredumpctl matches on. */
#define COREDUMP_MESSAGE_ID "fc2e22bc6ee647b6b90729ab34a250b1"

/* core_path and res are NULL when no core was stored (the message says why). */
int journal_record_crash(int priority, const struct core_metadata *m, const char *core_path,
                         const struct store_result *res, const char *message);
