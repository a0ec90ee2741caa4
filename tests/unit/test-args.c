/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "args.h"
#include "config.h"
#include "macro.h"
#include "parse.h"
#include "process.h"
#include "tap.h"

#define BASE "P=1234", "u=1000", "g=100", "s=11", "t=1795395118", "c=18446744073709551615", "d=1"

static int parse(struct kernel_args *a, char *err, size_t n, char **argv) {
        int argc = 0;
        while (argv[argc])
                argc++;
        return parse_kernel_args(argc, argv, a, err, n);
}

static void test_kernel_args(void) {
        struct kernel_args a;
        char err[256];

        char *full[] = {"core_pipe", "F=3", BASE, "h=my host", "e=a b\tc)", NULL};
        CHECK(parse(&a, err, sizeof(err), full) == 0, "full pattern parses");
        CHECK(a.have_pidfd && a.pidfd == 3 && a.pid == 1234 && a.uid == 1000 && a.gid == 100 && a.signal == 11,
              "numbers land in their fields");
        CHECK(a.core_limit == UINT64_MAX && a.dump_mode == 1 && a.time == 1795395118, "limit, mode and time parse");
        CHECK(strcmp(a.hostname, "my host") == 0 && strcmp(a.comm, "a b\tc)") == 0,
              "hostname and comm keep spaces and odd bytes, never re-split");

        char *nof[] = {"core_pipe", "F=", BASE, "h=x", "e=y", NULL};
        CHECK(parse(&a, err, sizeof(err), nof) == 0 && !a.have_pidfd, "empty F= (kernel without %%F) means no pidfd");

        char *eq[] = {"core_pipe", BASE, "e=a=b", NULL};
        CHECK(parse(&a, err, sizeof(err), eq) == 0 && strcmp(a.comm, "a=b") == 0, "value may contain '='");

        char *spoof[] = {"core_pipe", BASE, "e=x P=1", NULL};
        CHECK(parse(&a, err, sizeof(err), spoof) == 0 && a.pid == 1234 && strcmp(a.comm, "x P=1") == 0,
              "a comm that looks like more arguments stays a comm");

        char *dup[] = {"core_pipe", BASE, "P=99", NULL};
        CHECK(parse(&a, err, sizeof(err), dup) == -EINVAL && strstr(err, "repeats key P"), "repeated key is rejected");

        char *unknown[] = {"core_pipe", BASE, "Z=1", NULL};
        CHECK(parse(&a, err, sizeof(err), unknown) == -EINVAL && strstr(err, "unknown key Z"),
              "unknown key is rejected");

        char *missing[] = {"core_pipe", "P=1", "u=0", "g=0", "s=11", "t=1", "c=0", NULL};
        CHECK(parse(&a, err, sizeof(err), missing) == -EINVAL && strstr(err, "missing d="), "missing d= is named");

        char *bare[] = {"core_pipe", BASE, "oops", NULL};
        CHECK(parse(&a, err, sizeof(err), bare) == -EINVAL && strstr(err, "not KEY=VALUE"), "bare word is rejected");

        char *badpid[] = {"core_pipe", "P=0", "u=0", "g=0", "s=11", "t=1", "c=0", "d=1", NULL};
        CHECK(parse(&a, err, sizeof(err), badpid) < 0, "pid 0 is rejected");
        char *negpid[] = {"core_pipe", "P=-1", "u=0", "g=0", "s=11", "t=1", "c=0", "d=1", NULL};
        CHECK(parse(&a, err, sizeof(err), negpid) < 0, "negative pid is rejected");
        char *sig[] = {"core_pipe", "P=1", "u=0", "g=0", "s=99", "t=1", "c=0", "d=1", NULL};
        CHECK(parse(&a, err, sizeof(err), sig) < 0, "signal 99 is rejected");
        char *lowfd[] = {"core_pipe", "F=0", BASE, NULL};
        CHECK(parse(&a, err, sizeof(err), lowfd) < 0, "F=0 (the core pipe itself) is rejected");
        char *mode[] = {"core_pipe", "P=1", "u=0", "g=0", "s=11", "t=1", "c=0", "d=3", NULL};
        CHECK(parse(&a, err, sizeof(err), mode) < 0, "dump mode 3 is rejected");
        char *uid[] = {"core_pipe", "P=1", "u=4294967295", "g=0", "s=11", "t=1", "c=0", "d=1", NULL};
        CHECK(parse(&a, err, sizeof(err), uid) < 0, "uid -1 is rejected");
        char *lead[] = {"core_pipe", "P=012", "u=0", "g=0", "s=11", "t=1", "c=0", "d=1", NULL};
        CHECK(parse(&a, err, sizeof(err), lead) < 0, "leading zero is rejected");
        char *cfg[] = {"core_pipe", "C=relative.conf", BASE, NULL};
        CHECK(parse(&a, err, sizeof(err), cfg) < 0, "relative config path is rejected");

        char longcomm[300] = "e=";
        memset(longcomm + 2, 'x', 280);
        longcomm[282] = '\0';
        char *toolong[] = {"core_pipe", BASE, longcomm, NULL};
        CHECK(parse(&a, err, sizeof(err), toolong) == -ENAMETOOLONG, "overlong comm is rejected");
}

static unsigned problems;
static void count_problem(const char *path, unsigned line, const char *message) {
        problems++;
        printf("# %s:%u: %s\n", path, line, message);
}

static void test_config(void) {
        struct pipe_config c;
        pipe_config_defaults(&c);
        CHECK(c.fallback == FALLBACK_STORE && c.timeout_usec == 3 * USEC_PER_SEC, "defaults: store, 3 s");

        problems = 0;
        int r = pipe_config_parse("t.conf",
                                  "# comment\n[Pipe]\nFallback = drop\nTimeoutSec=250ms\nFallbackStore=/srv/cores\n"
                                  "OutcomeTimeoutSec=0\n",
                                  &c, count_problem);
        CHECK(r == 0 && problems == 0, "valid config has no problems");
        CHECK(c.fallback == FALLBACK_DROP && c.timeout_usec == 250 * USEC_PER_MSEC && c.outcome_timeout_usec == 0 &&
                      strcmp(c.fallback_store, "/srv/cores") == 0,
              "valid config is applied");

        pipe_config_defaults(&c);
        r = pipe_config_parse("t.conf", "[Pipe]\nFallback=maybe\nTimeoutSec=1h\nNoSuchKey=1\nFallbackStore=rel\njunk\n",
                              &c, count_problem);
        CHECK(r == 5, "each bad line is reported (%d)", r);
        CHECK(c.fallback == FALLBACK_STORE && c.timeout_usec == 3 * USEC_PER_SEC &&
                      strcmp(c.fallback_store, "/var/lib/core_pipe") == 0,
              "bad values keep their defaults");
}

static void test_proc_parsers(void) {
        uint32_t out;
        CHECK(map_id_from_inside("         0     100000      65536\n", 0, &out) == 0 && out == 100000,
              "uid_map: root of a user namespace maps to its host uid");
        CHECK(map_id_from_inside("         0          0 4294967295\n", 0, &out) == 0 && out == 0,
              "initial user namespace");
        CHECK(map_id_from_inside("      1000       1000          1\n", 0, &out) == -ENOENT, "unmapped root is -ENOENT");
        CHECK(map_id_from_inside("0 x 1\n", 0, &out) == -EBADMSG, "garbage uid_map is rejected");

        uint64_t ticks;
        const char *stat = "42 (a) b (c) d) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 10000 100\n";
        CHECK(parse_stat_starttime(stat, &ticks) == 0 && ticks == 987654, "starttime parsed after a comm with ') '");
        CHECK(parse_stat_starttime("42 (x) S 1", &ticks) == -EBADMSG, "short stat is rejected");

        int64_t v;
        const char *status =
                "Name:\tx y\nUmask:\t0022\nPid:\t42\nPPid:\t1\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t6\t7\t8\n";
        CHECK(proc_field_int64(status, "Uid:", 0, &v) == 0 && v == 1000, "status: real uid is the first Uid field");
        CHECK(proc_field_int64(status, "Uid:", 1, &v) == 0 && v == 1001, "status: effective uid is the second");
        uint64_t caps;
        CHECK(proc_field_hex64("Name:\tx\nCapInh:\t0\nCapPrm:\t000001ffffffffff\nCapEff:\t00000000a80425fb\n",
                               "CapPrm:", &caps) == 0 &&
                      caps == 0x1ffffffffffULL,
              "status: the permitted capabilities, in hexadecimal");
        CHECK(proc_field_hex64("CapPrm:\t00000000a80425fb", "CapPrm:", &caps) == 0 && caps == 0xa80425fbULL,
              "status: a capability set on the last line");
        CHECK(proc_field_hex64("CapPrm:\t0x1\n", "CapPrm:", &caps) == -EBADMSG, "status: no 0x prefix");
        CHECK(proc_field_hex64("CapPrm:\t11111111111111111\n", "CapPrm:", &caps) == -EBADMSG,
              "status: more than 64 bits is malformed");
        CHECK(proc_field_hex64("CapEff:\t1\n", "CapPrm:", &caps) == -ENOENT, "status: a missing set");
        CHECK(proc_field_int64(status, "Pid:", 0, &v) == 0 && v == 42, "status: Pid does not match PPid");
        CHECK(proc_field_int64(status, "Uid:", 4, &v) == -EBADMSG, "status: a field past the end is an error");
        CHECK(proc_field_int64(status, "Name:", 0, &v) == -EBADMSG, "status: text is not a number");
        CHECK(proc_field_int64(status, "Threads:", 0, &v) == -ENOENT, "status: a missing key is -ENOENT");
        CHECK(proc_field_int64("pos:\t0\nPid:\t-1\n", "Pid:", 0, &v) == 0 && v == -1, "fdinfo: pid -1 (exited) parses");
        CHECK(proc_field_int64("cpu 1 2\nbtime 1795395118\nprocesses 9\n", "btime ", 0, &v) == 0 && v == 1795395118,
              "stat: btime");
        char out2[32];
        CHECK(strcmp(escape_for_log("a\"b\n", 4, out2, sizeof(out2)), "a\\x22b\\x0a") == 0, "log escaping");
        uint64_t usec;
        CHECK(parse_timespan_usec("2min", &usec) == 0 && usec == 120 * USEC_PER_SEC, "2min");
        CHECK(parse_timespan_usec("5", &usec) == 0 && usec == 5 * USEC_PER_SEC, "bare number is seconds");
        CHECK(parse_timespan_usec("5 s", &usec) == -EINVAL, "space before unit is rejected");
}

int main(void) {
        test_kernel_args();
        test_config();
        test_proc_parsers();
        return tap_done();
}
