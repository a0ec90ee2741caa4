/* SPDX-License-Identifier: MIT */
/*
 * Sends the journal entry the receiver sends for a crash, with what a receiver without ptrace
 * rights over the crashed process knows: the cgroup text (world-readable) and the core's notes,
 * nothing from /proc/<pid>/exe, cwd or maps.
 *   journal-from-core CORE CGROUP_TEXT
 * The core is streamed through the same hook the store calls, in 64 KiB chunks. Prints the
 * fields that stayed unknown.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "elfcore.h"
#include "journal.h"
#include "macro.h"
#include "metadata.h"

static int stream_core(const char *path, struct core_head *h, uint64_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        static char buf[64 * 1024];
        uint64_t off = 0;
        ssize_t n;
        if (fd < 0)
                return negative_errno();
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
                core_head_observe(h, off, buf, (size_t) n);
                off += (uint64_t) n;
        }
        if (n < 0)
                return negative_errno();
        *ret_size = off;
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_core_head_ struct core_head *h = NULL;
        struct core_notes notes;
        uint64_t size = 0;
        char missing[256];

        if (argc != 3) {
                fprintf(stderr, "usage: %s CORE CGROUP_TEXT\n", argv[0]);
                return 2;
        }
        int r = core_head_new(&h);
        if (r >= 0)
                r = stream_core(argv[1], h, &size);
        if (r >= 0)
                r = core_head_parse(h, &notes);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        struct core_metadata m = {
                .pid = notes.pid,
                .uid = notes.uid,
                .gid = notes.gid,
                .signal = notes.signal,
                .dump_time = (uint64_t) time(NULL),
                .core_limit = UINT64_MAX,
                .cgroup = strdup(argv[2]),
        };
        r = metadata_fill_from_core(&m, &notes);
        core_notes_done(&notes);
        if (r < 0 || !m.cgroup)
                return 1;
        metadata_missing_fields(&m, missing, sizeof(missing));
        printf("missing: %s\n", missing);
        struct store_result res = {.core_size = size, .stored_size = size};
        r = journal_record_crash(LOG_CRIT, &m, argv[1], &res, "Crash recorded from the core's notes");
        core_metadata_done(&m);
        if (r < 0) {
                fprintf(stderr, "sd_journal_sendv: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}
