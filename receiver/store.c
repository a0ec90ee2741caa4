/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "compress.h"
#include "fdio.h"
#include "macro.h"
#include "recover.h"

int core_file_stem(const char *comm, uid_t uid, const char *boot_id, pid_t pid, uint64_t usec, char *out, size_t size) {
        char safe[64];
        size_t n = 0;
        for (const char *p = comm; *p && n + 1 < sizeof(safe); p++) {
                char c = *p;
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                          c == '+' || c == '-';
                safe[n++] = ok ? c : '_';
        }
        safe[n] = '\0';
        int k = snprintf(out, size, "core.%s.%u.%s.%d.%llu", n > 0 ? safe : "unknown", (unsigned) uid,
                         boot_id[0] ? boot_id : "noboot", (int) pid, (unsigned long long) usec);
        if (k < 0 || (size_t) k >= size)
                return -ENAMETOOLONG;
        return 0;
}

/* Who may own what the store's path goes through: root, or the receiver itself. */
static bool trusted_owner(uid_t uid) {
        return uid == 0 || uid == geteuid();
}

static void describe(char *note, size_t size, const char *fmt, ...) _printf_(3, 4);
static void describe(char *note, size_t size, const char *fmt, ...) {
        va_list ap;
        if (!note || size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(note, size, fmt, ap);
        va_end(ap);
}

/*
 * A parent directory of the store (already open): owned by root or us, and if group or others
 * may write to it, sticky, so that they cannot rename or remove what we own in it (/tmp).
 * What a stranger may have put there first is found by the checks of the next component.
 */
static int check_parent(int fd, const char *path, char *note, size_t size) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!trusted_owner(st.st_uid) || ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
                describe(note, size, "%s is owned by uid %u, mode %04o: a parent of the store must belong to root",
                         path, (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        return 0;
}

/*
 * Opens component name of path below parentfd as a directory, creating it (0700) if missing.
 * Never follows a link, except, for a parent of the store (not last), a link owned by root or
 * us: the same rule as the kernel's fs.protected_symlinks, whose target is then checked.
 */
static int open_component(int parentfd, const char *name, const char *path, bool last, char *note, size_t size) {
        for (unsigned attempt = 0; attempt < 8; attempt++) {
                int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd >= 0)
                        return fd;
                if (errno == ENOENT) {
                        if (mkdirat(parentfd, name, 0700) < 0 && errno != EEXIST) {
                                int r = negative_errno();
                                describe(note, size, "cannot create %s: %s", path, strerror(-r));
                                return r;
                        }
                        continue; /* open what is there now, made by us or not */
                }
                if (errno != ELOOP && errno != ENOTDIR) {
                        int r = negative_errno();
                        describe(note, size, "cannot open %s: %s", path, strerror(-r));
                        return r;
                }
                struct stat st;
                if (fstatat(parentfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue; /* changed meanwhile: look again */
                if (!S_ISLNK(st.st_mode)) {
                        describe(note, size, "%s is not a directory (owned by uid %u, mode %06o)", path,
                                 (unsigned) st.st_uid, (unsigned) st.st_mode);
                        return -ENOTDIR;
                }
                if (last || !trusted_owner(st.st_uid)) {
                        describe(note, size, "%s is a symbolic link owned by uid %u (mode %04o)%s", path,
                                 (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777),
                                 last ? ": the store must be a directory" : "");
                        return -ELOOP;
                }
                fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                        int r = negative_errno();
                        describe(note, size, "cannot open %s (a link): %s", path, strerror(-r));
                        return r;
                }
                return fd;
        }
        describe(note, size, "%s keeps changing", path);
        return -EAGAIN;
}

/*
 * The store itself: a directory of our euid. Writable by group or others (a tmpfs mounted with
 * its default mode 1777, a volume prepared by an image) it is made 0700 through the descriptor
 * just checked, so no path is involved; what strangers left in it cannot harm us, as every
 * file of the store is opened O_NOFOLLOW and created O_EXCL. Owned by another user, it is
 * refused: that user could change it again whatever we do.
 */
static int check_store(int fd, const char *path, char *note, size_t size) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_uid != geteuid()) {
                describe(note, size, "store %s is owned by uid %u (mode %04o), not by the receiver's uid %u", path,
                         (unsigned) st.st_uid, (unsigned) (st.st_mode & 07777), (unsigned) geteuid());
                return -EPERM;
        }
        if (!(st.st_mode & (S_IWGRP | S_IWOTH)))
                return 0;
        if (fchmod(fd, 0700) < 0) {
                int r = negative_errno();
                describe(note, size, "store %s has mode %04o and cannot be made 0700: %s", path,
                         (unsigned) (st.st_mode & 07777), strerror(-r));
                return r;
        }
        describe(note, size, "store %s had mode %04o (writable by others); made it 0700", path,
                 (unsigned) (st.st_mode & 07777));
        return 0;
}

int open_store_dir(const char *path, char *note, size_t note_size) {
        char buf[4096];
        describe(note, note_size, "%s", "");
        if (path[0] != '/' || path[strspn(path, "/")] == '\0' || strlen(path) >= sizeof(buf)) {
                describe(note, note_size, "store %s: not an absolute path below /", path);
                return -EINVAL;
        }
        _cleanup_close_ int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        int r = check_parent(fd, "/", note, note_size);
        if (r < 0)
                return r;
        strcpy(buf, path);
        char *p = buf + 1;
        while (*p) {
                char *slash = strchrnul(p, '/');
                bool last = slash[strspn(slash, "/")] == '\0';
                char saved = *slash;
                *slash = '\0';
                if (strcmp(p, "..") == 0 || strcmp(p, ".") == 0) {
                        describe(note, note_size, "store %s: \".\" and \"..\" are not allowed", path);
                        return -EINVAL;
                }
                if (*p) {
                        /* buf now ends at this component: the path as far as we are. */
                        int next = open_component(fd, p, buf, last, note, note_size);
                        if (next < 0)
                                return next;
                        safe_close(fd);
                        fd = next;
                        r = last ? check_store(fd, buf, note, note_size) : check_parent(fd, buf, note, note_size);
                        if (r < 0)
                                return r;
                }
                *slash = saved;
                p = slash + (saved ? 1 : 0);
        }
        return TAKE_FD(fd);
}

int store_open_own_file(int dirfd, const char *name) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1)
                return -EBADFD;
        return TAKE_FD(fd);
}

int store_room(int dirfd, const struct receiver_settings *s, struct store_space *ret) {
        struct statvfs sv;
        if (fstatvfs(dirfd, &sv) < 0)
                return negative_errno();
        uint64_t total = (uint64_t) sv.f_blocks * sv.f_frsize;
        struct store_space sp = {
                .free = (uint64_t) sv.f_bavail * sv.f_frsize,
                .keep_free = size_limit_bytes(&s->keep_free, total),
        };
        uint64_t floor = sp.keep_free + STORE_RECORD_RESERVE;
        sp.budget = sp.free > floor ? sp.free - floor : 0;
        *ret = sp;
        return sp.budget >= STORE_MIN_BUDGET;
}

/* An unnamed file in dirfd. Falls back to a hidden named file on file systems without
 * O_TMPFILE; *ret_tmpname is then set and must be renamed or unlinked. */
static int open_unnamed(int dirfd, char *tmpname, size_t size, bool *ret_named) {
        int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
        if (fd >= 0) {
                *ret_named = false;
                return fd;
        }
        if (errno != EOPNOTSUPP && errno != EISDIR)
                return negative_errno();
        snprintf(tmpname, size, ".#core-%d-%llu.tmp", (int) getpid(), (unsigned long long) now_monotonic_usec());
        fd = openat(dirfd, tmpname, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        *ret_named = true;
        return fd;
}

/* Gives the unnamed file its name, after the data is durable. */
static int link_into_place(int dirfd, int fd, bool named, const char *tmpname, const char *name) {
        if (fsync(fd) < 0)
                return negative_errno();
        /* Clean now: what went through the page cache (a tail, a record) is not left charged to
         * the container's memory cgroup, where it would only wait for reclaim. */
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        if (named) {
                if (renameat(dirfd, tmpname, dirfd, name) < 0)
                        return negative_errno();
        } else if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) < 0) {
                /* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels; the /proc path
                 * does the same without it. */
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                if (linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW) < 0)
                        return negative_errno();
        }
        if (fsync(dirfd) < 0)
                return negative_errno();
        return 0;
}

int store_file_atomic(int dirfd, const char *name, const void *data, size_t len) {
        char tmpname[128];
        bool named;
        int fd = open_unnamed(dirfd, tmpname, sizeof(tmpname), &named);
        if (fd < 0)
                return fd;
        int r = write_full(fd, data, len);
        if (r >= 0)
                r = link_into_place(dirfd, fd, named, tmpname, name);
        if (r < 0 && named)
                (void) unlinkat(dirfd, tmpname, 0);
        safe_close(fd);
        return r;
}

/*
 * Where the stored bytes go. The core is written with O_DIRECT where the file system allows
 * it: straight from an aligned staging buffer to the disk, so the core never fills the page
 * cache (which a container's memory limit counts) and costs no copy into it. Only the
 * unaligned tail is written through the cache, at the end.
 *
 * Without O_DIRECT (and with it, for a file system that takes the flag but writes through the
 * cache all the same), the cache is kept small: every WRITEBACK_WINDOW bytes, writeback
 * of the newest window is started, and the window before it (whose writeback was started one
 * step earlier) is waited for and dropped from the cache.
 *
 * Running out of space is not an error but a cut. The output knows where each whole frame
 * ends: "safe" is the end of the last whole frame among the bytes known to be in the file,
 * "pending" the ends of frames still staged. Whatever write fails, and wherever, the file can
 * be cut back to safe and is still a valid zstd stream.
 */
#define DIRECT_ALIGN 4096U
#define DIRECT_BUFFER (1U << 20)
#define WRITEBACK_WINDOW (8U << 20)
#define CUT_CHUNK_MIN (64U << 10)
#define PENDING_MAX 64

struct frame_end {
        uint64_t end;    /* offset in the file */
        uint64_t end_in; /* offset in the core */
};

struct output {
        int fd;
        bool direct;
        bool raw;       /* not compressed: every byte is a whole "frame" */
        uint8_t *stage; /* with direct: stage_size bytes, aligned */
        size_t stage_size;
        size_t staged;
        uint64_t window;  /* without direct: the writeback window */
        uint64_t budget;  /* bytes the file may take */
        uint64_t total;   /* bytes accepted (staged or written) */
        uint64_t written; /* bytes in the file */
        uint64_t started; /* without direct: writeback started up to here */
        uint64_t dropped; /* without direct: written back and dropped up to here */
        uint64_t end_in;  /* bytes of the core in the whole frames accepted */
        struct frame_end safe;
        struct frame_end pending[PENDING_MAX]; /* oldest first, all past written */
        size_t n_pending;
        struct frame_end earlier[8]; /* safe before its last advances, newest first */
        bool cut;                    /* out of space (budget or file system): no more bytes, keep what is whole */
        const char *cut_reason;      /* a reserve's limit, or NULL (STORE_CUT_NO_SPACE) */
        const struct store_options *opts;
        uint64_t granted; /* with opts->reserve: bytes the file may grow to */
};

static bool is_out_of_space(int r) {
        return r == -ENOSPC || r == -EDQUOT;
}

static void pacer_update(struct output *o) {
        if (o->total - o->started < o->window)
                return;
        (void) sync_file_range(o->fd, (off_t) o->started, (off_t) (o->total - o->started), SYNC_FILE_RANGE_WRITE);
        if (o->started > o->dropped) {
                off_t off = (off_t) o->dropped, len = (off_t) (o->started - o->dropped);
                (void) sync_file_range(o->fd, off, len,
                                       SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                                               SYNC_FILE_RANGE_WAIT_AFTER);
                (void) posix_fadvise(o->fd, off, len, POSIX_FADV_DONTNEED);
                o->dropped = o->started;
        }
        o->started = o->total;
}

/* Leaves O_DIRECT for the rest of the file (the tail, or after the file system refused). */
static int output_leave_direct(struct output *o) {
        int flags = fcntl(o->fd, F_GETFL);
        if (flags < 0 || fcntl(o->fd, F_SETFL, flags & ~O_DIRECT) < 0)
                return negative_errno();
        o->direct = false;
        return 0;
}

static void output_set_safe(struct output *o, struct frame_end fe) {
        memmove(o->earlier + 1, o->earlier, sizeof(o->earlier) - sizeof(o->earlier[0]));
        o->earlier[0] = o->safe;
        o->safe = fe;
}

/* n more bytes are in the file: the frames that end there now are safe. */
static void output_advance(struct output *o, size_t n) {
        size_t k = 0;
        o->written += n;
        if (o->raw) {
                o->safe = (struct frame_end){o->written, o->written};
                return;
        }
        while (k < o->n_pending && o->pending[k].end <= o->written)
                k++;
        if (k == 0)
                return;
        output_set_safe(o, o->pending[k - 1]);
        memmove(o->pending, o->pending + k, (o->n_pending - k) * sizeof(o->pending[0]));
        o->n_pending -= k;
}

/* write() until done, counting what reached the file even when a later write fails. An out of
 * space error marks the output cut. */
static int output_write_counted(struct output *o, const uint8_t *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(o->fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int r = n < 0 ? negative_errno() : -EIO;
                        o->cut = o->cut || is_out_of_space(r);
                        return r;
                }
                p += n;
                len -= (size_t) n;
                output_advance(o, (size_t) n);
        }
        return 0;
}

/* Writes stage[0..upto) (O_DIRECT while the file system takes it, else through the cache) and
 * moves what follows to the start of the stage. */
static int output_flush_stage(struct output *o, size_t upto) {
        size_t done = 0;
        int r = 0;
        while (o->direct && done < upto) {
                ssize_t n = write(o->fd, o->stage + done, upto - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno != EINVAL) {
                        r = negative_errno();
                        o->cut = o->cut || is_out_of_space(r);
                        break;
                }
                if (n > 0) {
                        done += (size_t) n;
                        output_advance(o, (size_t) n);
                }
                /* EINVAL (alignment not accepted) or a short write (the disk filling up):
                 * the rest goes through the cache, which also reports the real error. */
                if (n <= 0 || done % DIRECT_ALIGN != 0) {
                        r = output_leave_direct(o);
                        if (r < 0)
                                break;
                }
        }
        if (r >= 0 && !o->direct)
                upto = o->staged; /* out of O_DIRECT for good: nothing may stay staged behind */
        if (r >= 0)
                r = output_write_counted(o, o->stage + done, upto - done);
        if (r < 0) {
                o->staged = 0; /* lost: the file ends at safe or before */
                return r;
        }
        memmove(o->stage, o->stage + upto, o->staged - upto);
        o->staged -= upto;
        return 0;
}

static int output_write(struct output *o, const void *data, size_t len) {
        const uint8_t *p = data;
        o->total += len;
        while (len > 0 && o->direct) {
                size_t k = MIN(len, o->stage_size - o->staged);
                memcpy(o->stage + o->staged, p, k);
                o->staged += k;
                p += k;
                len -= k;
                if (o->staged == o->stage_size) {
                        int r = output_flush_stage(o, o->staged);
                        if (r < 0)
                                return r;
                }
        }
        int r = len > 0 ? output_write_counted(o, p, len) : 0;
        if (r < 0)
                return r;
        /* Also with O_DIRECT: a file system may accept the flag and write through the page cache
         * all the same (ext4 with data=journal); with none cached, each step costs next to nothing. */
        pacer_update(o);
        return 0;
}

/* A whole frame ends at total. While it is staged, its end waits in pending; with many small
 * frames staged, the aligned part of the stage is written early to make room. */
static int output_frame_end(struct output *o) {
        if (o->raw)
                return 0; /* output_advance() keeps up */
        if (o->written == o->total) {
                output_set_safe(o, (struct frame_end){o->total, o->end_in});
                return 0;
        }
        /* The aligned part of the stage goes to the file at every frame's end, not only when the
         * stage is full: a receiver killed now leaves every frame but this one whole in the file
         * (recover.h), and staged frame ends never pile up. */
        if (o->direct && o->staged >= DIRECT_ALIGN) {
                int r = output_flush_stage(o, o->staged & ~((size_t) DIRECT_ALIGN - 1));
                if (r < 0)
                        return r;
                if (o->written == o->total) { /* the file system refused O_DIRECT: all written */
                        output_set_safe(o, (struct frame_end){o->total, o->end_in});
                        return 0;
                }
        }
        if (o->n_pending == PENDING_MAX) { /* all in the last unaligned bytes: forget the oldest */
                memmove(o->pending, o->pending + 1, (PENDING_MAX - 1) * sizeof(o->pending[0]));
                o->n_pending--;
        }
        o->pending[o->n_pending++] = (struct frame_end){o->total, o->end_in};
        return 0;
}

/* How many of len more bytes may go into the file: the budget, and what the reserve hook grants
 * (asked only when the file would grow past its grant). */
static uint64_t output_room(struct output *o, size_t len) {
        uint64_t room = o->budget - o->total;
        if (len > room && o->opts)
                o->cut_reason = o->opts->budget_reason;
        if (!o->opts || !o->opts->reserve)
                return room;
        if (o->total + len > o->granted) {
                uint64_t granted;
                const char *reason = NULL;
                if (o->opts->reserve(o->opts->reserve_userdata, o->total + len, o->written, &granted, &reason) >= 0)
                        o->granted = MAX(granted, o->granted);
                else if (room >= len)
                        o->cut_reason = reason;
        }
        return MIN(room, o->granted - MIN(o->granted, o->total));
}

/* A whole frame (or with raw, a run of bytes) holding in_len bytes of the core. Past the
 * budget or the grant a frame is not written at all (raw bytes up to there are). */
static int output_put(struct output *o, const void *data, size_t len, size_t in_len) {
        if (o->cut)
                return -ENOSPC;
        uint64_t room = output_room(o, len);
        if (len > room) {
                o->cut = true;
                if (!o->raw)
                        return -ENOSPC;
                len = in_len = (size_t) room;
        }
        int r = output_write(o, data, len);
        if (r < 0)
                return r;
        o->end_in += in_len;
        r = output_frame_end(o);
        if (r < 0)
                return r;
        return o->cut ? -ENOSPC : 0;
}

static int output_frame(void *userdata, const void *frame, size_t len, size_t in_len) {
        return output_put(userdata, frame, len, in_len);
}

/* Writes what is staged (the tail, through the cache). */
static int output_finish(struct output *o) {
        if (o->staged == 0)
                return 0;
        if (o->direct) {
                int r = output_leave_direct(o);
                if (r < 0)
                        return r;
        }
        return output_flush_stage(o, o->staged);
}

/*
 * After a cut: the file ends at the last whole frame known to be in it (without compression,
 * at its last written byte), whatever partial frame or staged bytes came after. If it was the
 * file system that ran out (the budget keeps room otherwise), whole frames are given back,
 * newest first, until the record fits too. The caller has joined the compressor's threads:
 * nothing else writes any more.
 */
static int output_keep_whole(struct output *o) {
        struct statvfs sv;
        if (o->written != o->safe.end && ftruncate(o->fd, (off_t) o->safe.end) < 0)
                return negative_errno();
        o->written = o->safe.end;
        for (size_t i = 0; i <= ELEMENTSOF(o->earlier) && fstatvfs(o->fd, &sv) >= 0; i++) {
                uint64_t avail = (uint64_t) sv.f_bavail * sv.f_frsize;
                if (avail >= STORE_RECORD_RESERVE)
                        break;
                struct frame_end back = {0, 0};
                if (o->raw)
                        back.end = back.end_in = o->written - MIN(o->written, STORE_RECORD_RESERVE - avail);
                else if (i < ELEMENTSOF(o->earlier))
                        back = o->earlier[i];
                if (back.end == 0 || back.end >= o->written)
                        break;
                if (ftruncate(o->fd, (off_t) back.end) < 0)
                        return negative_errno();
                o->written = back.end;
                o->safe = back;
        }
        return 0;
}

static void compressor_freep(struct compressor **c) {
        compressor_free(*c);
}

ssize_t core_reader_next(struct core_reader *rd, void *buf, size_t want) {
        size_t got = 0;
        while (got < want && !rd->at_end) {
                if (rd->offset + got >= rd->limit) {
                        /* At the limit: one probe tells whether the core goes on. */
                        char probe;
                        ssize_t k = read(*rd->fd, &probe, 1);
                        if (k < 0 && errno == EINTR)
                                continue;
                        rd->truncated = k > 0;
                        rd->at_end = true;
                        break;
                }
                size_t n_want = (size_t) MIN((uint64_t) (want - got), rd->limit - rd->offset - got);
                ssize_t n = read(*rd->fd, (char *) buf + got, n_want);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0) {
                        rd->at_end = true;
                        break;
                }
                got += (size_t) n;
        }
        if (got > 0 && rd->o->observe)
                rd->o->observe(rd->o->observe_userdata, rd->offset, buf, got);
        rd->offset += got;
        return (ssize_t) got;
}

void core_reader_release(struct core_reader *rd) {
        if (*rd->fd < 0)
                return;
        *rd->fd = safe_close(*rd->fd);
        rd->released_usec = now_monotonic_usec();
}

int core_reader_compress(struct core_reader *rd, const struct store_options *o, size_t chunk, compressor_write_fn write,
                         void *userdata) {
        _cleanup_(compressor_freep) struct compressor *comp = NULL;
        struct compressor_params cp = {
                .level = o->compress_level,
                .workers = o->workers,
                .chunk_size = chunk,
                .window_log = o->window_log,
                .write = write,
                .userdata = userdata,
        };
        int r = compressor_new(&cp, &comp);
        if (r < 0)
                return r;
        while (!rd->at_end) {
                void *buf = compressor_buffer(comp);
                if (!buf)
                        break; /* writing failed (or the space ran out): compressor_finish() says */
                ssize_t n = core_reader_next(rd, buf, chunk);
                if (n < 0)
                        return (int) n;
                if (n > 0)
                        compressor_submit(comp, (size_t) n);
        }
        /* The last byte is read (or writing stopped): let the crashed process go before the
         * slow tail. */
        core_reader_release(rd);
        return compressor_finish(comp);
}

static int pump_raw(struct core_reader *rd, struct output *out, size_t chunk) {
        _cleanup_free_ void *buf = malloc(chunk);
        if (!buf)
                return -ENOMEM;
        while (!rd->at_end) {
                ssize_t n = core_reader_next(rd, buf, chunk);
                if (n < 0)
                        return (int) n;
                int r = output_put(out, buf, (size_t) n, (size_t) n);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Frames small enough that a cut for space loses at most an eighth of the budget. */
static size_t chunk_for_budget(size_t chunk, uint64_t budget) {
        if (budget / 8 >= chunk)
                return chunk;
        size_t c = (size_t) MAX(budget / 8, (uint64_t) CUT_CHUNK_MIN) & ~((size_t) DIRECT_ALIGN - 1);
        return MIN(c, chunk);
}

/* Streams the core into out; a cut for space is not an error here (out->cut says it). */
static int store_stream(struct core_reader *rd, struct output *out, const struct store_options *o) {
        int r = o->compress
                        ? core_reader_compress(rd, o, chunk_for_budget(o->chunk_size, out->budget), output_frame, out)
                        : pump_raw(rd, out, o->chunk_size);
        core_reader_release(rd);
        if (r < 0 && !out->cut)
                return r;
        if (rd->offset == 0)
                return -ENODATA; /* the stream ended before its first byte: no core to keep */
        r = output_finish(out);
        if (r < 0 && !out->cut)
                return r;
        if (out->cut) {
                r = output_keep_whole(out);
                if (r < 0)
                        return r;
                if (out->safe.end_in == 0)
                        return -ENOSPC; /* not one frame fit: nothing worth keeping */
        }
        return 0;
}

/*
 * The file the core is written to: with a marker, named in progress beside it (recover.h), so
 * that what was written survives the writer; else unnamed (open_unnamed()).
 */
static int open_core_file(int dirfd, const char *name, const struct store_options *o, struct recover_writer *pw,
                          char *tmpname, size_t size, bool *ret_named) {
        if (!o->partial_marker)
                return open_unnamed(dirfd, tmpname, size, ret_named);
        char stem[CORE_STEM_MAX];
        size_t n = strlen(name);
        if (n > 4 && strcmp(name + n - 4, ".zst") == 0)
                n -= 4;
        if (n >= sizeof(stem))
                return -ENAMETOOLONG;
        memcpy(stem, name, n);
        stem[n] = '\0';
        int r = recover_begin(dirfd, stem, o->partial_marker, pw);
        if (r < 0)
                return r;
        snprintf(tmpname, size, "%s", pw->core_name);
        *ret_named = true;
        return TAKE_FD(pw->core_fd);
}

int store_core(int dirfd, const char *name, int *core_fd, uint64_t limit, uint64_t budget,
               const struct store_options *o, struct store_result *ret) {
        /* Declared before anything that uses them: freed last, after every thread is gone. */
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ void *stage = NULL;
        struct output out = {
                .fd = -EBADF,
                .raw = !o->compress,
                .budget = budget,
                .opts = o,
                .stage_size = o->stage_size ? (o->stage_size + DIRECT_ALIGN - 1) & ~((size_t) DIRECT_ALIGN - 1)
                                            : DIRECT_BUFFER,
                .window = o->writeback_window ? o->writeback_window : WRITEBACK_WINDOW,
        };
        struct core_reader rd = {.fd = core_fd, .limit = limit, .o = o};
        struct recover_writer pw = RECOVER_WRITER_INIT;
        char tmpname[sizeof(pw.core_name)];
        bool named = false;
        int r;

        fd = open_core_file(dirfd, name, o, &pw, tmpname, sizeof(tmpname), &named);
        if (fd < 0) {
                r = fd;
                goto fail;
        }
        out.fd = fd;
        if (posix_memalign(&stage, DIRECT_ALIGN, out.stage_size) == 0) {
                int flags = fcntl(fd, F_GETFL);
                out.stage = stage;
                out.direct = flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) >= 0;
        }
        r = store_stream(&rd, &out, o);
        if (r >= 0)
                r = link_into_place(dirfd, fd, named, tmpname, name);
        if (r < 0)
                goto fail;
        if (o->partial_out) {
                *o->partial_out = pw; /* the lock and the name; the core's descriptor is ours */
                o->partial_out->core_fd = -EBADF;
        } else
                recover_end(dirfd, &pw);
        *ret = (struct store_result){
                .core_size = out.cut ? out.safe.end_in : rd.offset,
                .read_size = rd.offset,
                .stored_size = out.written,
                .truncated = out.cut || rd.truncated,
                .truncated_reason = out.cut        ? (out.cut_reason ? out.cut_reason : STORE_CUT_NO_SPACE)
                                    : rd.truncated ? STORE_CUT_SIZE_LIMIT
                                                   : NULL,
                .released_usec = rd.released_usec,
        };
        return 0;

fail:
        core_reader_release(&rd);
        if (named)
                (void) unlinkat(dirfd, tmpname, 0);
        recover_abort(dirfd, &pw);
        return r;
}
