/* SPDX-License-Identifier: MIT */
/*
 * The SHA-256 of a stored file, and of each part of it that S3 will get, computed once per
 * upload_file() by a thread of its own while the transfers run: a transfer that needs a sum in its
 * headers (S3's signed payload hash, HTTP's Digest) waits only for that sum, an FTP transfer
 * does not wait at all, and every target of one upload shares the one pass over the file. The
 * thread reads through a buffer of its own; nothing of the file is held in memory.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "upload-internal.h"

#define FILESUM_CHUNK (1U << 20)

struct upload_filesum {
        int fd;
        uint64_t size, part_size; /* part_size 0: the whole file only */
        unsigned n_parts;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        /* Under lock: */
        unsigned parts_done;
        bool whole_done, cancel;
        int error;
        uint8_t whole[32];
        uint8_t (*parts)[32];
};

/* pread() of exactly len bytes at off; -ENODATA when the file ends first. */
static int read_exact(int fd, uint8_t *buf, size_t len, uint64_t off) {
        size_t got = 0;
        while (got < len) {
                ssize_t n = pread(fd, buf + got, len - got, (off_t) (off + got));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return negative_errno();
                if (n == 0)
                        return -ENODATA;
                got += (size_t) n;
        }
        return 0;
}

static bool filesum_cancelled(struct upload_filesum *s) {
        pthread_mutex_lock(&s->lock);
        bool c = s->cancel;
        pthread_mutex_unlock(&s->lock);
        return c;
}

/* Hashes [off, off + len) into whole and, when part is not NULL, into part too. */
static int hash_range(struct upload_filesum *s, uint8_t *buf, uint64_t off, uint64_t len, struct upload_hash *whole,
                      struct upload_hash *part) {
        for (uint64_t done = 0; done < len;) {
                size_t n = (size_t) MIN((uint64_t) FILESUM_CHUNK, len - done);
                if (filesum_cancelled(s))
                        return -ECANCELED;
                int r = read_exact(s->fd, buf, n, off + done);
                if (r < 0)
                        return r;
                upload_hash_update(whole, buf, n);
                if (part)
                        upload_hash_update(part, buf, n);
                done += n;
        }
        return 0;
}

/* One part: hashed, its sum published. With a single part, the part's sum is the file's. */
static int sum_part(struct upload_filesum *s, uint8_t *buf, unsigned i, struct upload_hash *whole) {
        uint64_t off = (uint64_t) i * s->part_size;
        uint64_t len = MIN(s->part_size, s->size - off);
        struct upload_hash part = {0};
        int r = s->n_parts > 1 ? upload_hash_init(&part, false) : 0;
        if (r >= 0)
                r = hash_range(s, buf, off, len, whole, s->n_parts > 1 ? &part : NULL);
        uint8_t sha[32];
        if (r >= 0 && s->n_parts > 1)
                r = upload_hash_final(&part, NULL, sha);
        upload_hash_done(&part);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        if (s->n_parts > 1)
                memcpy(s->parts[i], sha, 32);
        s->parts_done = s->n_parts > 1 ? i + 1 : s->parts_done;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return 0;
}

static int sum_all(struct upload_filesum *s, struct upload_hash *whole) {
        _cleanup_free_ uint8_t *buf = malloc(FILESUM_CHUNK);
        if (!buf)
                return -ENOMEM;
        if (s->part_size == 0)
                return hash_range(s, buf, 0, s->size, whole, NULL);
        for (unsigned i = 0; i < s->n_parts; i++) {
                int r = sum_part(s, buf, i, whole);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void *filesum_thread(void *userdata) {
        struct upload_filesum *s = userdata;
        struct upload_hash whole;
        uint8_t sha[32];
        int r = upload_hash_init(&whole, false);
        if (r >= 0)
                r = sum_all(s, &whole);
        if (r >= 0)
                r = upload_hash_final(&whole, NULL, sha);
        upload_hash_done(&whole);
        pthread_mutex_lock(&s->lock);
        if (r >= 0) {
                memcpy(s->whole, sha, 32);
                s->whole_done = true;
                if (s->n_parts == 1)
                        s->parts_done = 1;
        }
        s->error = r < 0 ? r : 0;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

int upload_filesum_start(int fd, uint64_t size, uint64_t part_size, struct upload_filesum **ret) {
        struct upload_filesum *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = fd;
        s->size = size;
        s->part_size = part_size;
        s->n_parts = part_size == 0 ? 0 : size <= part_size ? 1 : (unsigned) ((size + part_size - 1) / part_size);
        s->parts = s->n_parts > 1 ? calloc(s->n_parts, 32) : NULL;
        if (s->n_parts > 1 && !s->parts) {
                free(s);
                return -ENOMEM;
        }
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        int r = -pthread_create(&s->thread, NULL, filesum_thread, s);
        if (r < 0) {
                pthread_mutex_destroy(&s->lock);
                pthread_cond_destroy(&s->cond);
                free(s->parts);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

unsigned upload_filesum_parts(const struct upload_filesum *s) {
        return s->n_parts;
}

/* Waits until done() holds or the thread failed. */
static int filesum_wait(struct upload_filesum *s, unsigned part, bool whole) {
        pthread_mutex_lock(&s->lock);
        while (s->error == 0 && !s->whole_done && !(!whole && s->parts_done > part))
                pthread_cond_wait(&s->cond, &s->lock);
        int r = s->error;
        pthread_mutex_unlock(&s->lock);
        return r;
}

int upload_filesum_part(struct upload_filesum *s, unsigned index, uint8_t ret_sha[32]) {
        if (index >= s->n_parts)
                return -EINVAL;
        int r = filesum_wait(s, index, s->n_parts == 1);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        memcpy(ret_sha, s->n_parts == 1 ? s->whole : s->parts[index], 32);
        pthread_mutex_unlock(&s->lock);
        return 0;
}

int upload_filesum_whole(struct upload_filesum *s, uint8_t ret_sha[32]) {
        int r = filesum_wait(s, 0, true);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        memcpy(ret_sha, s->whole, 32);
        pthread_mutex_unlock(&s->lock);
        return 0;
}

void upload_filesum_free(struct upload_filesum *s) {
        if (!s)
                return;
        pthread_mutex_lock(&s->lock);
        s->cancel = true;
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s->parts);
        free(s);
}

/* ---- a range of a file, as a transfer's body ---- */

int64_t upload_range_read(void *userdata, void *buf, size_t len) {
        struct upload_range *g = userdata;
        size_t n = (size_t) MIN((uint64_t) len, g->len - g->pos);
        int r = read_exact(g->fd, buf, n, g->start + g->pos);
        if (r < 0)
                return r;
        g->pos += n;
        return (int64_t) n;
}

int upload_range_rewind(void *userdata) {
        ((struct upload_range *) userdata)->pos = 0;
        return 0;
}
