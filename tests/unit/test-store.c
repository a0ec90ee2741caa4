/* SPDX-License-Identifier: MIT */
/*
 * store_core() under faults: a core pipe that fails mid-core.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"
#include "store.h"
#include "tap.h"

static uint8_t *random_bytes(size_t size) {
        uint8_t *p = malloc(size);
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < size; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                p[i] = (uint8_t) x;
        }
        return p;
}

struct resetter {
        int fd;
        const uint8_t *data;
        size_t len;
};

/* Sends len bytes, then closes its end with unread data queued: the reader gets the bytes,
 * then ECONNRESET, a read() that fails mid-core. */
static void *send_then_reset(void *arg) {
        struct resetter *f = arg;
        (void) write_full(f->fd, f->data, f->len);
        close(f->fd);
        return NULL;
}

static void read_error(const char *dir, const uint8_t *in, size_t fail_at) {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return;
        (void) write(sp[0], "x", 1); /* unread on the sender's side: its close resets */
        struct resetter f = { sp[1], in, fail_at };
        pthread_t t;
        pthread_create(&t, NULL, send_then_reset, &f);
        int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct store_options o = { .compress = true, .compress_level = 1, .workers = 2, .chunk_size = 1 << 20 };
        struct store_result res;
        int core = sp[0];
        int r = store_core(dirfd, "core.readerr", &core, UINT64_MAX, UINT64_MAX, &o, &res);
        pthread_join(t, NULL);
        CHECK(r == -ECONNRESET, "read error after %zu bytes: store_core fails with it (%d)", fail_at, r);
        CHECK(faccessat(dirfd, "core.readerr", F_OK, AT_SYMLINK_NOFOLLOW) < 0, "...and links nothing");
        close(dirfd);
}

int main(void) {
        size_t size = 24u << 20;
        signal(SIGPIPE, SIG_IGN);
        uint8_t *in = random_bytes(size);
        char dir[] = "/var/tmp/core_pipe-unit.XXXXXX";
        if (!mkdtemp(dir))
                return 1;
        for (int i = 0; i < 20; i++)
                read_error(dir, in, (size_t) (12 + i % 7) << 20);
        rmdir(dir);
        free(in);
        return tap_done();
}
