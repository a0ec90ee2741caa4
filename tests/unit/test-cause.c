/* SPDX-License-Identifier: MIT */
/*
 * A short core is never called complete: the judgment after the stream (receiver/cause.c) and
 * what it rests on (common/fate.c): the memory cgroup's oom_kill counter, v1 and v2, the memory
 * cgroup's path from /proc/<pid>/cgroup, a zombie's exit status, a real process's end through
 * its pidfd.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cause.h"
#include "fate.h"
#include "fdio.h"
#include "tap.h"

#define MIB (UINT64_C(1) << 20)

static void test_short_stream(void) {
        struct stream_facts f = {.expected = 122 * MIB, .read = 122 * MIB, .crash_signal = SIGSEGV};
        CHECK(!stream_ended_short(&f), "a stream of exactly the expected length is whole");
        f.read = 8 * MIB;
        CHECK(stream_ended_short(&f), "a stream that ended before the expected length is short");
        f.receiver_cut = true;
        CHECK(!stream_ended_short(&f), "a core the receiver cut itself keeps its own reason");
        f = (struct stream_facts){.expected = 0, .read = 4096};
        CHECK(!stream_ended_short(&f), "no expected length (not an ELF core we read): not judged");
        f.headers_missing = true;
        CHECK(stream_ended_short(&f), "a stream that ended inside the program headers is short");
        f = (struct stream_facts){.expected = 100, .read = 101};
        CHECK(!stream_ended_short(&f), "more than expected is not short");
}

static void test_causes(void) {
        char out[TRUNCATED_CAUSE_MAX];
        struct stream_facts f = {.expected = 122 * MIB, .read = 8 * MIB, .crash_signal = SIGSEGV};
        short_stream_cause(&f, out, sizeof(out));
        CHECK(strcmp(out, "the kernel ended the dump early (cause unknown)") == 0,
              "nothing known: the kernel ended it");

        f.have_exit = true;
        f.exit_status = SIGKILL;
        short_stream_cause(&f, out, sizeof(out));
        CHECK(strcmp(out, "the process was killed by SIGKILL during its dump") == 0, "SIGKILL during the dump: %s",
              out);

        f.have_oom = true;
        f.oom_before = 3;
        f.oom_after = 4;
        short_stream_cause(&f, out, sizeof(out));
        CHECK(strcmp(out, "the process was OOM-killed by its memory cgroup (oom_kill 3 -> 4)") == 0,
              "the counter moved: OOM kill, before SIGKILL: %s", out);

        f.oom_after = 3;
        short_stream_cause(&f, out, sizeof(out));
        CHECK(strstr(out, "SIGKILL") != NULL, "the counter did not move: not called an OOM kill");

        f.have_oom = false;
        f.exit_status = SIGSEGV | 0x80;
        short_stream_cause(&f, out, sizeof(out));
        CHECK(strstr(out, "cause unknown") != NULL, "dying of its own crash signal: nobody killed it: %s", out);

        size_limit_cause(1 << 20, UINT64_MAX, out, sizeof(out));
        CHECK(strcmp(out, "RLIMIT_CORE of 1048576 bytes") == 0, "size limit: RLIMIT_CORE named with its bytes");
        size_limit_cause(UINT64_MAX, 4096, out, sizeof(out));
        CHECK(strcmp(out, "ProcessSizeMax= of 4096 bytes") == 0, "size limit: ProcessSizeMax= when smaller");
}

static void test_oom_counter_text(void) {
        uint64_t v = 0;
        CHECK(memcg_oom_kills_from_text("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n", &v) == 0 && v == 7,
              "v1 memory.oom_control: oom_kill, not oom_kill_disable");
        CHECK(memcg_oom_kills_from_text("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n", &v) == 0 &&
                      v == 2,
              "v2 memory.events: oom_kill, not oom_group_kill");
        CHECK(memcg_oom_kills_from_text("oom_kill_disable 0\nunder_oom 0\n", &v) == -ENODATA,
              "an old kernel's oom_control without the counter: no data");
        CHECK(memcg_oom_kills_from_text("oom_kill x\n", &v) < 0, "a counter that is not a number is refused");
}

static void test_memcg_path(void) {
        char path[256];
        bool v2 = true;
        const char *hybrid = "12:pids:/a\n11:cpu,cpuacct:/b\n4:memory:/cpt-matrix-1\n1:name=systemd:/c\n0::/d\n";
        CHECK(memcg_path_from_proc_cgroup(hybrid, path, sizeof(path), &v2) == 0 && !v2 &&
                      strcmp(path, "/cpt-matrix-1") == 0,
              "hybrid: the v1 memory hierarchy's path");
        CHECK(memcg_path_from_proc_cgroup("0::/system.slice/x.service\n", path, sizeof(path), &v2) == 0 && v2 &&
                      strcmp(path, "/system.slice/x.service") == 0,
              "unified: the v2 path");
        CHECK(memcg_path_from_proc_cgroup("5:memoryx:/no\n3:cpu:/n\n", path, sizeof(path), &v2) == -ENOENT,
              "no memory controller named exactly: none");
        CHECK(memcg_path_from_proc_cgroup("7:blkio,memory:/m\n", path, sizeof(path), &v2) == 0 && !v2 &&
                      strcmp(path, "/m") == 0,
              "memory co-mounted with another controller");
        CHECK(memcg_path_from_proc_cgroup("4:memory:/long\n", path, 4, &v2) == -ENAMETOOLONG, "a path too long");
}

static void test_stat_exit(void) {
        int status = -1;
        const char *pre = "42 (a) b) c) Z 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0 "
                          "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 ";
        char text[512];
        snprintf(text, sizeof(text), "%s9\n", pre);
        CHECK(exit_status_from_stat(text, &status) == 0 && status == 9, "a zombie's exit_code (field 52)");
        char running[512];
        snprintf(running, sizeof(running), "%s", text);
        *strstr(running, ") Z ") = '\0';
        strcat(running, ") S 1\n");
        CHECK(exit_status_from_stat(running, &status) == -EAGAIN, "a running process has no exit status yet");
        CHECK(exit_status_from_stat("42 (x) Z 1 2 3\n", &status) == -EBADMSG, "a stat cut short is refused");
}

/* A real child killed by SIGKILL: the pidfd says so once it is reaped (PIDFD_INFO_EXIT), and a
 * wait that never ends is bounded. */
static void test_pidfd_exit(void) {
        pid_t pid = fork();
        if (pid == 0) {
                pause();
                _exit(0);
        }
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        int status = -1;
        uint64_t t0 = now_monotonic_usec();
        int r = process_exit_status(pidfd, -EBADF, t0 + 100 * 1000, &status);
        CHECK(r == -ETIMEDOUT && now_monotonic_usec() - t0 < 1000 * 1000, "a running process: the wait is bounded");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        r = process_exit_status(pidfd, -EBADF, now_monotonic_usec() + 1000 * 1000, &status);
        CHECK(r == 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "killed by SIGKILL, as the pidfd tells (%d)", r);
        char how[96];
        describe_exit_status(status, how, sizeof(how));
        CHECK(strcmp(how, "killed by SIGKILL") == 0, "described: %s", how);
        describe_exit_status(SIGSEGV | 0x80, how, sizeof(how));
        CHECK(strcmp(how, "killed by SIGSEGV (core dumped)") == 0, "a dumped crash described: %s", how);
        close(pidfd);
}

int main(void) {
        test_short_stream();
        test_causes();
        test_oom_counter_text();
        test_memcg_path();
        test_stat_exit();
        test_pidfd_exit();
        return tap_done();
}
