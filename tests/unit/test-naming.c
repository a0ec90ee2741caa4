/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "metadata.h"
#include "store.h"
#include "tap.h"

int main(void) {
        char out[CORE_STEM_MAX];
        const char *boot = "986aa752f04f4016ba3f80956ee6e8e9";

        CHECK(core_file_stem("crasher", 1000, boot, 42, 1795395556900041ULL, out, sizeof(out)) == 0 &&
                      strcmp(out, "core.crasher.1000.986aa752f04f4016ba3f80956ee6e8e9.42.1795395556900041") == 0,
              "stem is core.comm.uid.boot_id.pid.usec");
        CHECK(core_file_stem("python3.11", 0, boot, 1, 2, out, sizeof(out)) == 0 &&
                      strncmp(out, "core.python3_11.0.", 18) == 0,
              "a dot in comm becomes '_' so the name keeps six fields");
        CHECK(core_file_stem("../../etc/x", 0, boot, 1, 2, out, sizeof(out)) == 0 && strchr(out, '/') == NULL &&
                      strncmp(out, "core.______etc_x.", 17) == 0,
              "slashes cannot make a path");
        CHECK(core_file_stem("a b\n\xff", 0, boot, 1, 2, out, sizeof(out)) == 0 && strncmp(out, "core.a_b__.", 11) == 0,
              "spaces, control and non-ASCII bytes become '_'");
        CHECK(core_file_stem("", 0, boot, 1, 2, out, sizeof(out)) == 0 && strncmp(out, "core.unknown.", 13) == 0,
              "empty comm is 'unknown'");
        CHECK(core_file_stem("Ab-+_9", 0, "", 1, 2, out, sizeof(out)) == 0 &&
                      strcmp(out, "core.Ab-+_9.0.noboot.1.2") == 0,
              "allowed characters are kept");
        CHECK(core_file_stem("x", 0, boot, 1, 2, out, 10) == -ENAMETOOLONG, "too small a buffer is an error");

        CHECK(strcmp(signal_name(11), "SEGV") == 0 && strcmp(signal_name(6), "ABRT") == 0, "signal names");
        CHECK(signal_name(0) == NULL && signal_name(65) == NULL, "out-of-range signals have no name");
        return tap_done();
}
