/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Scope-based resource handling and small helpers shared by every part of core_pipe.
 *
 * Conventions (used everywhere in the tree):
 *   - functions return 0 (or a positive count) on success and a negative errno on failure;
 *   - output parameters are named ret_* and written only on success;
 *   - file descriptors that hold nothing are -EBADF; TAKE_FD()/TAKE_PTR() hand ownership on.
 */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* close() is never retried: on Linux the descriptor is gone even when it returns EINTR. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

#define TAKE_FD(fd)                                                                                                    \
        __extension__({                                                                                                \
                int *_pfd_ = &(fd);                                                                                    \
                int _fd_ = *_pfd_;                                                                                     \
                *_pfd_ = -EBADF;                                                                                       \
                _fd_;                                                                                                  \
        })

#define TAKE_PTR(p)                                                                                                    \
        __extension__({                                                                                                \
                __typeof__(p) *_pp_ = &(p);                                                                            \
                __typeof__(p) _p_ = *_pp_;                                                                             \
                *_pp_ = NULL;                                                                                          \
                _p_;                                                                                                   \
        })

/* Returns -errno for the libc convention "returns -1 and sets errno". Never returns 0. */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL
#define USEC_INFINITY ((uint64_t) -1)
