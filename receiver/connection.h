/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "settings.h"
#include "store.h"

/* When the crashed process may go: the kernel keeps it while any reader holds its core pipe. */
enum release_policy {
        RELEASE_AFTER_READ,          /* at the core's last byte, before compression ends and syncing */
        RELEASE_AFTER_STORE,         /* once core and record are durable and the outcome is sent */
        RELEASE_AFTER_STORE_IF_PID1, /* after the store for the pid namespace's init, else at read */
};

struct receiver_options {
        const struct receiver_settings *settings; /* store, Storage=, limits (required) */
        bool fallback;                            /* started by the host helper as its fallback */
        const char *fallback_root;                /* the whole host fallback store, bounded in total */
        struct store_options store_opts;
        uint64_t request_timeout_usec; /* how long a client may take for each message */
        enum release_policy release;
};

/*
 * Serves one connection from a host helper: request → verdict → hand-over → core stored →
 * outcome. Everything received is validated; a misbehaving client gets a refusal or a closed
 * socket, never more. Logs one line per crash. Returns 0 when the crash was handled (stored or
 * deliberately skipped), else a negative errno.
 */
int handle_connection(int sock, const struct receiver_options *o);
