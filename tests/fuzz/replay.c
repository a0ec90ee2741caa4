/* SPDX-License-Identifier: MIT */
/*
 * Runs a fuzz target over the files given, or over every file of the directories given: the
 * committed corpus becomes a regression test in builds without libFuzzer. Prints TAP.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static int run_file(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        uint8_t *buf = malloc((size_t) st.st_size + 1);
        size_t got = 0;
        while (buf && got < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t) st.st_size - got);
                if (n <= 0)
                        break;
                got += (size_t) n;
        }
        close(fd);
        if (!buf || got != (size_t) st.st_size) {
                fprintf(stderr, "%s: short read\n", path);
                free(buf);
                return -1;
        }
        LLVMFuzzerTestOneInput(buf, got);
        free(buf);
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned files = 0, failed = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        failed++;
                        continue;
                }
                if (!S_ISDIR(st.st_mode)) {
                        files++;
                        failed += run_file(argv[i]) < 0;
                        continue;
                }
                struct dirent **list;
                int n = scandir(argv[i], &list, NULL, alphasort);
                if (n < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        failed++;
                        continue;
                }
                for (int j = 0; j < n; j++) {
                        char path[4096];
                        if (list[j]->d_name[0] != '.') {
                                snprintf(path, sizeof(path), "%s/%s", argv[i], list[j]->d_name);
                                files++;
                                failed += run_file(path) < 0;
                        }
                        free(list[j]);
                }
                free(list);
        }
        /* A target that crashes never gets here: the test fails on the signal. */
        printf("1..2\n");
        printf("%s 1 - corpus has inputs (%u files)\n", files > 0 ? "ok" : "not ok", files);
        printf("%s 2 - every input ran without a crash or failed invariant\n", failed == 0 ? "ok" : "not ok");
        return 0;
}
