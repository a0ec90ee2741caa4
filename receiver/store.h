/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Where the core is written. A core is streamed from the pipe through zstd (compress.h) into
 * a file of the store directory that no reader takes for a core, synced, and only then linked
 * under its final name: a reader never sees a partial core as complete. With a marker
 * (store_options.partial_marker) that file is named in progress, and what a receiver killed
 * midway had written is finalised by whoever survives it (recover.h); without one it is an
 * unnamed O_TMPFILE, and nothing is left.
 *
 * The store is the receiver's own: open_store_dir() creates it mode 0700 or verifies it, and
 * every file in it is reached relative to that verified descriptor, never following a
 * symbolic link (O_NOFOLLOW) and never reusing a name it creates (O_EXCL), so that whoever
 * could write into the store before cannot make the receiver write or remove anything else.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "compress.h"
#include "settings.h"

struct recover_writer;

#define CORE_STEM_MAX 256

/* Room kept for the JSON record beside a core cut for want of space (records are a few KiB;
 * a long command line and many mapped files make them tens of KiB). */
#define STORE_RECORD_RESERVE (64U << 10)
/* Below this budget a core is refused rather than stored: the ELF headers and notes alone of a
 * small process take some KiB compressed, and an empty core helps nobody. */
#define STORE_MIN_BUDGET (64U << 10)

struct store_options {
        bool compress;      /* zstd, or the core as it comes */
        int compress_level; /* zstd level */
        int workers;        /* compressing threads, at least 1 */
        size_t chunk_size;  /* bytes read from the pipe per chunk; with compress, per zstd frame */
        int window_log;     /* zstd's window (log2 bytes), 0 for zstd's choice */
        /* Memory the writes may take (0: the defaults): the O_DIRECT staging buffer (a multiple of
         * 4096), and without O_DIRECT the bytes of page cache written back and dropped per step. */
        size_t stage_size;
        size_t writeback_window;
        /*
         * Optional: called in the reading thread with every chunk of the core as it is read, in
         * order and each byte exactly once (offset = bytes of the core before data), before the
         * chunk is compressed or written. data is valid only during the call. Bytes past the
         * size limit are never read, so never observed; a core cut for want of space may have
         * been observed further than it was kept (see store_result.core_size).
         */
        void (*observe)(void *userdata, uint64_t offset, const void *data, size_t len);
        void *observe_userdata;
        /*
         * Optional: asked, in the writing thread, before the stored file grows past what it has
         * been granted so far (nothing at first): need is the file's size with the next frame,
         * written what is in the file now. Returns 0 with *ret_granted >= need, or a negative
         * errno with *reason (a static string) naming the limit: the core is then cut at
         * its last whole frame, truncated for that reason.
         */
        int (*reserve)(void *userdata, uint64_t need, uint64_t written, uint64_t *ret_granted, const char **reason);
        void *reserve_userdata;
        /*
         * Optional: the marker of the core in progress (recover.h, recover_marker_new()). With it
         * the core is written under an in-progress name beside this marker, locked for as long
         * as we live, so that a finaliser can keep what was written if we die; without it, to an
         * unnamed file (nothing is left if we die).
         */
        const char *partial_marker;
        /*
         * Optional, with partial_marker: on success the marker's lock and name go here instead of
         * being removed, so that the caller removes it (recover_end()) only once the core's record
         * is written. A receiver killed in between leaves the marker beside the core in place, and
         * its finaliser writes the record.
         */
        struct recover_writer *partial_out;
        /* Why store_core()'s budget is what it is, the reason of a cut there (NULL: "out of space"). */
        const char *budget_reason;
};

struct store_result {
        uint64_t core_size;           /* bytes of the core in the stored file (uncompressed) */
        uint64_t read_size;           /* bytes read from the pipe (more than core_size when cut for space) */
        uint64_t stored_size;         /* bytes of the stored file */
        bool truncated;               /* the stored core is shorter than the process's */
        const char *truncated_reason; /* NULL, STORE_CUT_SIZE_LIMIT, STORE_CUT_NO_SPACE or a reserve's reason */
        uint64_t released_usec;       /* CLOCK_MONOTONIC when the pipe was closed */
        /* Why, in one sentence, when it can be told ("" otherwise): set by the caller, never by
         * store_core() (receiver/cause.h: a short stream's cause, a size limit's source). */
        char truncated_cause[256];
};

#define STORE_CUT_SIZE_LIMIT "size limit"
#define STORE_CUT_NO_SPACE "out of space"
/* The host's fallback store (fallback.h): the limit a reservation would have passed. */
#define STORE_CUT_KEEP_FREE "KeepFree"
#define STORE_CUT_MAX_USE "MaxUse"
#define STORE_CUT_MAX_USE_PER_CONTAINER "MaxUsePerContainer"
#define STORE_CUT_LEDGER "fallback ledger unusable"

/*
 * "core.<comm>.<uid>.<boot_id>.<pid>.<usec>" into out. comm is reduced to [A-Za-z0-9_+-]
 * (every other byte, '.' included, becomes '_'; empty becomes "unknown") so that the name has
 * exactly six dot-separated fields and is safe in any shell. -ENAMETOOLONG if it does not fit.
 */
int core_file_stem(const char *comm, uid_t uid, const char *boot_id, pid_t pid, uint64_t usec, char *out, size_t size);

/*
 * Opens the store directory (an absolute path) and returns its descriptor, creating it and
 * its missing parents mode 0700. Each component is opened from its parent's descriptor
 * without following links, so the directory returned is the one checked:
 *   - a parent must be a directory owned by root or by us, not writable by group or others
 *     unless sticky (/tmp); a parent that is a symbolic link is followed only if the link is
 *     owned by root or us (as fs.protected_symlinks would), and its target is checked the same;
 *   - the store itself must be a directory (not a link) owned by our euid. If group or others
 *     may write to it (a tmpfs mounted 1777, say) it is made 0700 through its descriptor
 *     (fchmod) and note says so; anything else is refused.
 * On failure note says why, naming the path, its owner and mode (-ELOOP for a link, -ENOTDIR,
 * -EPERM for a wrong owner or mode). note is "" when there is nothing to say.
 */
int open_store_dir(const char *path, char *note, size_t note_size);

/*
 * Opens name in dirfd for reading, only if it is a regular file owned by our euid with one
 * link: O_NOFOLLOW (-ELOOP for a link), O_NONBLOCK (a FIFO never blocks), then checked through
 * the descriptor (-EBADFD otherwise). For state files a stranger may have planted.
 */
int store_open_own_file(int dirfd, const char *name);

struct store_space {
        uint64_t free;      /* bytes available to us on the store's file system */
        uint64_t keep_free; /* KeepFree= resolved on it */
        uint64_t budget;    /* bytes the next core may take: free - keep_free - STORE_RECORD_RESERVE */
};

/*
 * Whether a core fits in the store now (call after vacuuming, with the store's lock held):
 * 1 with ret->budget >= STORE_MIN_BUDGET, 0 when there is no room within KeepFree= (ret is
 * filled all the same, to say why), or a negative errno if the file system cannot tell.
 */
int store_room(int dirfd, const struct receiver_settings *s, struct store_space *ret);

/* The core pipe, read in order up to a limit, each chunk shown to o->observe before it goes
 * anywhere (the store's, and the stream of Storage=none). */
struct core_reader {
        int *fd;
        uint64_t limit;
        uint64_t offset; /* bytes read */
        bool at_end;     /* end of the core, or the limit */
        bool truncated;  /* the core went on past the limit */
        uint64_t released_usec;
        const struct store_options *o;
};

/* Reads up to want bytes (at most up to the limit) into buf, looping over short reads: a pipe
 * gives at most what it holds. at_end is set at the end of the core, or at the limit, where one
 * probe of a byte tells whether the core went on (truncated). 0 once at the end. */
ssize_t core_reader_next(struct core_reader *rd, void *buf, size_t want);

/* Lets the crashed process go (closes *fd): nothing more will be read. */
void core_reader_release(struct core_reader *rd);

/* Streams the rest of the core from rd through o's compressor, in chunks of chunk bytes, each
 * frame to write(userdata, ...); releases the process at the last byte read. The compressor's
 * threads are joined on every return. 0, or the first error of reading or of write(). */
int core_reader_compress(struct core_reader *rd, const struct store_options *o, size_t chunk, compressor_write_fn write,
                         void *userdata);

/*
 * Streams *core_fd into a new file in dirfd, compressed as o says, reading at most limit
 * bytes of the core (the rest is not read and the core is marked truncated,
 * STORE_CUT_SIZE_LIMIT) and storing at most budget bytes (UINT64_MAX: no cap).
 *
 * Out of space: when the next zstd frame would pass the budget, or the file system fails a
 * write with ENOSPC or EDQUOT, nothing more is read and the file is cut back to its last
 * complete frame (without compression, to its last written byte), still a valid zstd stream
 * whose headers a debugger reads; it is kept, marked truncated (STORE_CUT_NO_SPACE). If not
 * even one frame fits, the result is -ENOSPC and nothing is linked. With a budget, frames are
 * made small enough (budget / 8, at least 64 KiB) that a cut loses little.
 *
 * A stream that ends before its first byte (a process killed as its dump began) gives -ENODATA:
 * an empty file is no core, and nothing is linked.
 *
 * *core_fd is closed as soon as the last byte is read (or reading stops), before compression
 * finishes and before syncing, so the crashed process is released as early as possible; it is
 * set to -EBADF. On success the file is durable and linked as name; on failure nothing is
 * linked. No thread of the compressor outlives the call, on any path.
 */
int store_core(int dirfd, const char *name, int *core_fd, uint64_t limit, uint64_t budget,
               const struct store_options *o, struct store_result *ret);

/* Writes data durably as dirfd/name (O_TMPFILE, fsync, link), mode 0600. */
int store_file_atomic(int dirfd, const char *name, const void *data, size_t len);
