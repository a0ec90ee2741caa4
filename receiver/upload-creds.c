/* SPDX-License-Identifier: MIT */
/*
 * Where the upload credentials come from (upload.h): systemd's credential, a file only root can
 * read, or the environment. They are read for each transfer, kept in memory only as long as it
 * lasts (then wiped), and never written anywhere: an error names the file and the reason, never
 * a line's text.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "upload-internal.h"

#define CREDENTIALS_MAX (64U << 10)
#define PATH_MAX_CREDS 4096

void upload_credentials_wipe(struct upload_credentials *c) {
        explicit_bzero(c, sizeof(*c));
}

static int check_credentials_file(int fd, const char *path, char *err, size_t size) {
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int r = negative_errno();
                snprintf(err, size, "credentials file %s: %s", path, strerror(-r));
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(err, size, "credentials file %s: not a regular file", path);
                return -EPERM;
        }
        if (st.st_uid != 0 && st.st_uid != geteuid()) {
                snprintf(err, size, "credentials file %s: owned by uid %u, not root", path, (unsigned) st.st_uid);
                return -EPERM;
        }
        if (st.st_mode & 077) {
                snprintf(err, size, "credentials file %s: mode %04o lets group or others read it (chmod 0600)", path,
                         (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        if (st.st_size > CREDENTIALS_MAX) {
                snprintf(err, size, "credentials file %s: larger than %u KiB", path, CREDENTIALS_MAX >> 10);
                return -EFBIG;
        }
        return 0;
}

static int read_credentials_file(const char *path, struct upload_credentials *c, char *err, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0) {
                int r = negative_errno();
                snprintf(err, size, "credentials file %s: %s", path, strerror(-r));
                return r;
        }
        int r = check_credentials_file(fd, path, err, size);
        if (r < 0)
                return r;
        char *buf = malloc(CREDENTIALS_MAX + 1);
        if (!buf)
                return -ENOMEM;
        size_t got = 0;
        ssize_t n;
        while (got <= CREDENTIALS_MAX && (n = read(fd, buf + got, CREDENTIALS_MAX + 1 - got)) > 0)
                got += (size_t) n;
        char why[128] = "";
        if (got > CREDENTIALS_MAX)
                r = -EFBIG, snprintf(why, sizeof(why), "larger than %u KiB", CREDENTIALS_MAX >> 10);
        else
                r = upload_credentials_parse(buf, got, c, why, sizeof(why));
        explicit_bzero(buf, CREDENTIALS_MAX + 1);
        free(buf);
        if (r < 0)
                snprintf(err, size, "credentials file %s: %s", path, why);
        else
                snprintf(c->source, sizeof(c->source), "%s", path);
        return r;
}

static int read_credentials_env(struct upload_credentials *c, char *err, size_t size) {
        static const char *const names[] = {UPLOAD_CREDENTIAL_ENV_NAMES};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const char *v = getenv(names[i]);
                if (!v)
                        continue;
                /* The same checks as a file's line: one "NAME=value" line. */
                size_t len = strlen(names[i]) + 1 + strlen(v);
                _cleanup_free_ char *line = malloc(len + 1);
                if (!line)
                        return -ENOMEM;
                snprintf(line, len + 1, "%s=%s", names[i], v);
                char why[128];
                int r = upload_credentials_parse(line, len, c, why, sizeof(why));
                explicit_bzero(line, len);
                if (r < 0) {
                        snprintf(err, size, "environment variable %s: %s", names[i],
                                 why + (strncmp(why, "line 1: ", 8) == 0 ? 8 : 0));
                        return r;
                }
        }
        snprintf(c->source, sizeof(c->source), "the environment");
        return 0;
}

int upload_credentials_load(const struct upload_config *cfg, struct upload_credentials *ret, char *err, size_t size) {
        struct upload_credentials c = {0};
        int r;
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        char path[PATH_MAX_CREDS];
        if (dir && dir[0] == '/' &&
            snprintf(path, sizeof(path), "%s/%s", dir, UPLOAD_CREDENTIALS_NAME) < (int) sizeof(path) &&
            access(path, F_OK) == 0)
                r = read_credentials_file(path, &c, err, size);
        else if (cfg->credentials[0] != '\0')
                r = read_credentials_file(cfg->credentials, &c, err, size);
        else
                r = read_credentials_env(&c, err, size);
        if (r < 0) {
                upload_credentials_wipe(&c);
                return r;
        }
        *ret = c;
        upload_credentials_wipe(&c);
        return 0;
}

int upload_credentials_check(const struct upload_config *c, char *err, size_t size) {
        struct upload_credentials *creds = malloc(sizeof(*creds));
        if (!creds)
                return -ENOMEM;
        int r = upload_credentials_load(c, creds, err, size);
        upload_credentials_wipe(creds);
        free(creds);
        return r;
}
