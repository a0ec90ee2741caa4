/* SPDX-License-Identifier: MIT */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "macro.h"

#define LEDGER_MAGIC "cpledg2"

struct ledger_head {
        char magic[8];
        uint64_t tree_used;
        uint64_t host_used;
        uint64_t spare;
};

struct ledger_slot {
        uint64_t pid;
        uint64_t dir;
        uint64_t reserved;
        uint64_t written;
        uint64_t host;
        uint64_t usec;
};

#define SLOT_OFFSET(i) ((off_t) (sizeof(struct ledger_head) + (size_t) (i) * sizeof(struct ledger_slot)))
#define LEDGER_SIZE SLOT_OFFSET(LEDGER_SLOTS)

static int ofd_lock(int fd, short type, off_t start, off_t len, bool wait) {
        struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
        while (fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0)
                if (errno != EINTR)
                        return negative_errno();
        return 0;
}

/* Whether another open file description holds slot i. */
static bool slot_live(int fd, int i) {
        struct flock fl = {.l_type = F_WRLCK,
                           .l_whence = SEEK_SET,
                           .l_start = SLOT_OFFSET(i),
                           .l_len = (off_t) sizeof(struct ledger_slot)};
        if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
                return true; /* cannot tell: count it, never too little */
        return fl.l_type != F_UNLCK;
}

int ledger_open(int rootfd, struct ledger *l) {
        _cleanup_close_ int fd =
                openat(rootfd, LEDGER_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
        struct stat st;
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1 || (st.st_mode & 077))
                return -EBADFD;
        if (st.st_size < LEDGER_SIZE && ftruncate(fd, LEDGER_SIZE) < 0)
                return negative_errno();
        *l = (struct ledger) LEDGER_INIT;
        l->fd = TAKE_FD(fd);
        return 0;
}

void ledger_close(struct ledger *l) {
        /* Closing the only descriptor of the description releases every lock it holds. */
        l->fd = safe_close(l->fd);
        l->slot = -1;
        l->locked = false;
}

int ledger_lock(struct ledger *l) {
        int r = ofd_lock(l->fd, F_WRLCK, 0, (off_t) sizeof(struct ledger_head), true);
        if (r >= 0)
                l->locked = true;
        return r;
}

void ledger_unlock(struct ledger *l) {
        if (l->locked)
                (void) ofd_lock(l->fd, F_UNLCK, 0, (off_t) sizeof(struct ledger_head), false);
        l->locked = false;
}

static int read_head(const struct ledger *l, struct ledger_head *h) {
        ssize_t n = pread(l->fd, h, sizeof(*h), 0);
        if (n < 0)
                return negative_errno();
        if ((size_t) n != sizeof(*h) || memcmp(h->magic, LEDGER_MAGIC, sizeof(h->magic)) != 0)
                *h = (struct ledger_head){.magic = LEDGER_MAGIC}; /* new: a vacuum counts the tree first */
        return 0;
}

int ledger_read(struct ledger *l, struct ledger_state *ret) {
        struct ledger_head h;
        struct ledger_slot slots[LEDGER_SLOTS];
        int r = read_head(l, &h);
        if (r < 0)
                return r;
        ssize_t n = pread(l->fd, slots, sizeof(slots), SLOT_OFFSET(0));
        if (n != (ssize_t) sizeof(slots))
                return n < 0 ? negative_errno() : -EIO;
        *ret = (struct ledger_state){.tree_used = h.tree_used, .host_used = h.host_used};
        for (int i = 0; i < LEDGER_SLOTS; i++) {
                const struct ledger_slot *s = &slots[i];
                if (i != l->slot && !slot_live(l->fd, i))
                        continue;
                ret->reserved += s->reserved;
                ret->outstanding += s->reserved - MIN(s->reserved, s->written);
                if (l->dir != 0 && s->dir == l->dir)
                        ret->dir_reserved += s->reserved;
                ret->dirs[ret->live] = s->dir;
                ret->dir_bytes[ret->live] = s->reserved;
                ret->usecs[ret->live] = s->usec;
                ret->live++;
        }
        return 0;
}

int ledger_set_used(struct ledger *l, uint64_t tree_used, uint64_t host_used) {
        struct ledger_head h = {.magic = LEDGER_MAGIC, .tree_used = tree_used, .host_used = host_used};
        return pwrite(l->fd, &h, sizeof(h), 0) == (ssize_t) sizeof(h) ? 0 : -EIO;
}

static int write_slot(struct ledger *l, uint64_t reserved, uint64_t written) {
        struct ledger_slot s = {(uint64_t) getpid(), l->dir, reserved, written, l->host, l->usec};
        if (pwrite(l->fd, &s, sizeof(s), SLOT_OFFSET(l->slot)) != (ssize_t) sizeof(s))
                return -EIO;
        l->reserved = reserved;
        return 0;
}

int ledger_claim(struct ledger *l, uint64_t dir, bool host) {
        for (int i = 0; i < LEDGER_SLOTS; i++) {
                if (ofd_lock(l->fd, F_WRLCK, SLOT_OFFSET(i), (off_t) sizeof(struct ledger_slot), false) < 0)
                        continue;
                l->slot = i;
                l->dir = dir;
                l->host = host;
                return write_slot(l, 0, 0);
        }
        return -EBUSY;
}

int ledger_update(struct ledger *l, uint64_t reserved, uint64_t written) {
        return l->slot < 0 ? -EINVAL : write_slot(l, reserved, written);
}

int ledger_commit(struct ledger *l, uint64_t stored) {
        struct ledger_head h;
        if (l->slot < 0)
                return -EINVAL;
        int r = ledger_lock(l);
        if (r < 0)
                return r;
        r = read_head(l, &h);
        if (r >= 0) {
                h.tree_used += stored;
                h.host_used += l->host ? stored : 0;
                r = ledger_set_used(l, h.tree_used, h.host_used);
        }
        if (r >= 0)
                r = write_slot(l, 0, 0);
        (void) ofd_lock(l->fd, F_UNLCK, SLOT_OFFSET(l->slot), (off_t) sizeof(struct ledger_slot), false);
        l->slot = -1;
        ledger_unlock(l);
        return r;
}
