/* SPDX-License-Identifier: MIT */
/* Who drains the upload queue outside the resident receiver (uploader.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "connection.h"
#include "fdio.h"
#include "log.h"
#include "macro.h"
#include "recover.h"
#include "uploader.h"

static const struct receiver_settings *recover_settings;

static void queue_finalised(int dirfd, const char *store_path, const char *stem, const char *core_name) {
        (void) uploader_queue_core(dirfd, store_path, stem, core_name, recover_settings);
}

void uploader_queue_finalised(const struct receiver_settings *s) {
        recover_settings = s;
        recover_finalised_hook = upload_wanted(s) && s->storage == STORAGE_EXTERNAL ? queue_finalised : NULL;
}

void uploader_check_setup(const struct receiver_settings *s) {
        struct upload_targets t;
        char err[512] = "";
        if (!upload_wanted(s))
                return;
        upload_targets_init(&t, &s->upload);
        for (size_t i = 0; i < s->upload.n_urls; i++)
                t.urls[t.config.n_urls++] = (char *) s->upload.urls[i];
        if (upload_credentials_check(&t.config, err, sizeof(err)) < 0)
                log_error("Upload credentials unusable: %s; cores are stored and queued until that is fixed", err);
        if (s->storage == STORAGE_NONE && s->upload.n_urls > 0)
                log_info("Storage=none with Upload=: cores are streamed to %zu target(s), nothing is kept here",
                         s->upload.n_urls);
}

/* A directory of the fallback store, as uploader_drain() wants it: ours, not a link. */
static int open_own_dir(int parentfd, const char *name) {
        _cleanup_close_ int fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (st.st_uid != geteuid() || (st.st_mode & 0022))
                return -EPERM;
        return TAKE_FD(fd);
}

static int drain_dir(int parentfd, const char *parent, const char *name, const struct receiver_settings *s,
                     struct uploader_stats *st) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", parent, name);
        _cleanup_close_ int fd = open_own_dir(parentfd, name);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return log_warning_errno(fd, "Skipping %s", path);
        /* Nothing queued there: no queue made. */
        if (faccessat(fd, ".upload", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return 0;
        return uploader_drain(fd, path, s, true, false, st);
}

/* host/ and every directory of containers/ in the host's fallback store. */
static int drain_fallback_tree(const char *root, const struct receiver_settings *s, struct uploader_stats *st) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return log_error_errno(negative_errno(), "Cannot open the fallback store %s", root);
        int r = drain_dir(rootfd, root, "host", s, st);
        char containers[4096];
        snprintf(containers, sizeof(containers), "%s/containers", root);
        int cfd = open_own_dir(rootfd, "containers");
        if (cfd == -ENOENT)
                return r;
        DIR *d = cfd >= 0 ? fdopendir(cfd) : NULL;
        if (!d) {
                safe_close(cfd);
                return log_error_errno(cfd < 0 ? cfd : negative_errno(), "Cannot read %s", containers);
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && drain_dir(dirfd(d), containers, de->d_name, s, st) < 0)
                        r = -EIO;
        closedir(d);
        return r;
}

static bool is_fallback_tree(int dirfd) {
        struct stat st;
        return (fstatat(dirfd, "host", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) ||
               (fstatat(dirfd, "containers", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode));
}

int uploader_run_pending(const struct receiver_settings *s, const char *fallback_root) {
        struct uploader_stats st = {0};
        char note[512];
        int r;
        if (!upload_wanted(s)) {
                log_info("No Upload= target is set: nothing to upload");
                return 0;
        }
        if (s->storage != STORAGE_EXTERNAL && !fallback_root) {
                log_info("Storage=none: cores are streamed, nothing is queued");
                return 0;
        }
        uploader_check_setup(s);
        if (fallback_root)
                r = drain_fallback_tree(fallback_root, s, &st);
        else {
                _cleanup_close_ int dirfd = open_store_dir(s->store, note, sizeof(note));
                if (dirfd < 0)
                        return log_error_errno(dirfd, "Cannot open the store %s%s%s", s->store, note[0] ? ": " : "",
                                               note),
                               2;
                r = uploader_drain(dirfd, s->store, s, true, false, &st);
                /* The host's store is the fallback's tree (host/, containers/): its queues too,
                 * so that one unit serves a container's store and the host's. */
                if (r >= 0 && is_fallback_tree(dirfd))
                        r = drain_fallback_tree(s->store, s, &st);
        }
        unsigned left = st.waiting + (r < 0 ? 1 : 0);
        log_info("Uploads: %u core(s) uploaded, %u attempt(s) failed, %u core(s) waiting for a retry, %u given up, "
                 "%u entr(ies) dropped",
                 st.uploaded, st.failed, st.waiting, st.given_up, st.dropped);
        return left > 0 ? 1 : 0;
}

/* The host's fallback: one uploader over the whole store at a time (-EWOULDBLOCK: another runs). */
static int lock_fallback_uploads(const char *root) {
        _cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return negative_errno();
        _cleanup_close_ int fd = openat(rootfd, ".upload.lock", O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

/* A sandbox without IP (the units' RestrictAddressFamilies=AF_UNIX): an attempt would only fail
 * and push the core's first try back by a backoff; core_pipe-upload.service sends it instead. */
static bool network_usable(void) {
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        safe_close(fd);
        return true;
}

void uploader_after_connection(const struct receiver_options *o, int conn_fd) {
        const struct receiver_settings *s = o->settings;
        char note[512];
        struct uploader_stats st = {0};
        if (!upload_wanted(s) || s->storage != STORAGE_EXTERNAL)
                return;
        safe_close(conn_fd);
        if (!network_usable()) {
                log_info("No network in this sandbox: the cores queued in %s go with core_pipe-upload.service "
                         "(core_pipe-receiver --upload-pending)",
                         s->store);
                return;
        }
        _cleanup_close_ int tree_lock = -EBADF;
        if (o->fallback) {
                /* The crash's slots go to the next crash: an upload holds none. */
                (void) close(4);
                (void) close(5);
                tree_lock = o->fallback_root ? lock_fallback_uploads(o->fallback_root) : -EBADF;
                if (o->fallback_root && tree_lock < 0)
                        return;
        }
        _cleanup_close_ int dirfd = open_store_dir(s->store, note, sizeof(note));
        if (dirfd < 0) {
                log_warning_errno(dirfd, "Cannot open the store %s to upload its cores", s->store);
                return;
        }
        (void) uploader_drain_now(dirfd, s->store, s, o->fallback, &st);
}
