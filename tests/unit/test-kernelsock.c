/* SPDX-License-Identifier: MIT */
/*
 * The helper's side of the kernel's coredump socket, against a fake kernel on a socketpair: the
 * request it reads (and no byte more), the ack it writes (size, spare, mask), the mark, REJECT;
 * and the texts it parses (/proc/<pid>/limits, /proc/net/unix), and MaxConcurrentDumps=.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "fdio.h"
#include "kernelsock.h"
#include "macro.h"
#include "tap.h"

static void put_request(uint8_t *buf, uint32_t size, uint32_t size_ack, uint64_t mask) {
        memset(buf, 0, size);
        memcpy(buf, &size, 4);
        memcpy(buf + 4, &size_ack, 4);
        memcpy(buf + 8, &mask, 8);
}

static void test_request_parse(void) {
        uint8_t buf[64];
        struct kcore_request r;

        put_request(buf, 16, 16, 0xf);
        CHECK(kcore_request_parse(buf, 16, &r) == 0 && r.size == 16 && r.size_ack == 16 && r.mask == 0xf,
              "the 6.18 request parses");
        put_request(buf, 24, 24, 0xff);
        CHECK(kcore_request_parse(buf, 24, &r) == 0 && r.size == 24, "a longer request of a later kernel parses");
        put_request(buf, 16, 16, 0xf);
        CHECK(kcore_request_parse(buf, 15, &r) == -EBADMSG, "a request shorter than 16 bytes is refused");
        CHECK(kcore_request_parse(buf, 20, &r) == -EBADMSG, "a size that is not the bytes read is refused");
        put_request(buf, 16, 8, 0xf);
        CHECK(kcore_request_parse(buf, 16, &r) == -EBADMSG, "an ack size below 16 is refused");
        put_request(buf, 16, 16, KCORE_KERNEL | KCORE_WAIT);
        CHECK(kcore_request_parse(buf, 16, &r) == -EBADMSG, "a request that does not offer REJECT is refused");
        put_request(buf, 16, 16, KCORE_REJECT);
        CHECK(kcore_request_parse(buf, 16, &r) == -EBADMSG, "a request that does not offer KERNEL is refused");
}

/* sv[0]: the helper's end, sv[1]: the fake kernel's. */
static int fake_kernel(int sv[2]) {
        return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
}

static uint64_t soon(void) {
        return now_monotonic_usec() + 500 * USEC_PER_MSEC;
}

static void test_request_read(void) {
        int sv[2];
        uint8_t buf[32];
        struct kcore_request r;

        CHECK(fake_kernel(sv) == 0, "socketpair");
        put_request(buf, 16, 16, 0xf);
        memcpy(buf + 16, "ELF!", 4);
        CHECK(write(sv[1], buf, 20) == 20, "the fake kernel sends a request and 4 more bytes");
        CHECK(kcore_request_read(sv[0], soon(), &r) == 0 && r.mask == 0xf, "the request is read");
        CHECK(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT) == 4 && memcmp(buf, "ELF!", 4) == 0,
              "and not one byte after it");

        uint64_t start = now_monotonic_usec();
        CHECK(kcore_request_read(sv[0], now_monotonic_usec() + 100 * USEC_PER_MSEC, &r) == -ETIMEDOUT,
              "a silent peer: the read ends at its deadline");
        CHECK(now_monotonic_usec() - start < 2 * USEC_PER_SEC, "within the bound");

        /* An "@PATH" pattern (no request): the core's ELF header comes first. */
        CHECK(write(sv[1], "\177ELF\2\1\1\0\0\0\0\0\0\0\0\0", 16) == 16, "the fake kernel sends a core at once");
        CHECK(kcore_request_read(sv[0], soon(), &r) == -EBADMSG, "a core where the request belongs is refused");
        (void) recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT);
        safe_close(sv[1]);
        CHECK(kcore_request_read(sv[0], soon(), &r) == -ECONNRESET, "a closed connection is said");
        safe_close(sv[0]);
}

/* Reads the helper's ack on the fake kernel's end. */
static bool read_ack(int fd, uint32_t *ret_size, uint32_t *ret_spare, uint64_t *ret_mask) {
        uint8_t ack[64];
        if (fd_wait_until(fd, POLLIN, soon()) < 0)
                return false;
        ssize_t n = recv(fd, ack, sizeof(ack), MSG_DONTWAIT);
        if (n != KCORE_ACK_SIZE_VER0)
                return false;
        memcpy(ret_size, ack, 4);
        memcpy(ret_spare, ack + 4, 4);
        memcpy(ret_mask, ack + 8, 8);
        return true;
}

static void accept_with(uint64_t offered, uint64_t expected_mask, const char *what) {
        int sv[2];
        uint32_t size, spare, mark = 0;
        uint64_t mask;
        uint8_t core[8];
        struct kcore_conn k = {.req = {.size = 16, .size_ack = 16, .mask = offered}};

        CHECK(fake_kernel(sv) == 0, "socketpair");
        /* The mark and the core's first bytes wait in the buffer, as they would after the ack. */
        CHECK(write(sv[1], &mark, 4) == 4 && write(sv[1], "CORE", 4) == 4, "the fake kernel's mark and core");
        CHECK(kcore_conn_accept(&k, sv[0], soon()) == 0 && k.accepted && !k.lost, "%s: accepted", what);
        CHECK(read_ack(sv[1], &size, &spare, &mask), "%s: one 16-byte ack", what);
        CHECK(size == 16 && spare == 0 && mask == expected_mask, "%s: size 16, spare 0, mask %#llx", what,
              (unsigned long long) expected_mask);
        CHECK(recv(sv[0], core, sizeof(core), MSG_DONTWAIT) == 4 && memcmp(core, "CORE", 4) == 0,
              "%s: the connection is left at the core's first byte", what);
        CHECK(kcore_conn_accept(&k, sv[0], soon()) == 0 && kcore_conn_reject(&k, sv[0], soon()) == 0,
              "%s: a second accept or a reject after it", what);
        CHECK(recv(sv[1], core, sizeof(core), MSG_DONTWAIT) < 0 && errno == EAGAIN, "%s: send nothing more", what);
        safe_close(sv[0]);
        safe_close(sv[1]);
}

static void test_mark(uint32_t mark, const char *words) {
        int sv[2];
        struct kcore_conn k = {.req = {.size = 16, .size_ack = 16, .mask = 0xf}};
        CHECK(fake_kernel(sv) == 0 && write(sv[1], &mark, 4) == 4, "the fake kernel answers mark %u", mark);
        CHECK(kcore_conn_accept(&k, sv[0], soon()) == -EPROTO && k.lost && !k.accepted, "mark %u: not accepted", mark);
        CHECK(strstr(k.why, words) != NULL, "mark %u: the reason says \"%s\" (%s)", mark, words, k.why);
        CHECK(kcore_conn_accept(&k, sv[0], soon()) < 0, "mark %u: the connection is not tried again", mark);
        safe_close(sv[0]);
        safe_close(sv[1]);
}

static void test_kernel_gone(void) {
        int sv[2];
        struct kcore_conn k = {.req = {.size = 16, .size_ack = 16, .mask = 0xf}};
        CHECK(fake_kernel(sv) == 0, "socketpair");
        safe_close(sv[1]);
        CHECK(kcore_conn_accept(&k, sv[0], soon()) < 0 && k.lost && strstr(k.why, "kernel") != NULL,
              "the kernel closed before its mark: lost, and said (%s)", k.why);
        safe_close(sv[0]);
}

static void test_reject(void) {
        int sv[2];
        uint32_t size, spare;
        uint64_t mask;
        struct kcore_conn k = {.req = {.size = 16, .size_ack = 16, .mask = 0xf}};
        CHECK(fake_kernel(sv) == 0, "socketpair");
        CHECK(kcore_conn_reject(&k, sv[0], soon()) == 0 && k.answered && !k.accepted, "REJECT goes out");
        CHECK(read_ack(sv[1], &size, &spare, &mask) && size == 16 && spare == 0 && mask == KCORE_REJECT,
              "REJECT: size 16, spare 0, mask REJECT alone (no WAIT: nothing to wait for)");
        CHECK(kcore_conn_accept(&k, sv[0], soon()) == -EPIPE, "no KERNEL after a REJECT");
        safe_close(sv[0]);
        safe_close(sv[1]);
}

static void test_limits(void) {
        static const char limits[] = "Limit                     Soft Limit           Hard Limit           Units     \n"
                                     "Max file size             unlimited            unlimited            bytes     \n"
                                     "Max core file size        %s                    unlimited            bytes     \n"
                                     "Max resident set          unlimited            unlimited            bytes     \n";
        char text[512];
        uint64_t v;
        snprintf(text, sizeof(text), limits, "0");
        CHECK(parse_limits_core(text, &v) == 0 && v == 0, "RLIMIT_CORE 0");
        snprintf(text, sizeof(text), limits, "unlimited");
        CHECK(parse_limits_core(text, &v) == 0 && v == UINT64_MAX, "RLIMIT_CORE unlimited");
        snprintf(text, sizeof(text), limits, "1048576");
        CHECK(parse_limits_core(text, &v) == 0 && v == 1048576, "RLIMIT_CORE in bytes (the soft limit)");
        CHECK(parse_limits_core("Max file size unlimited unlimited bytes\n", &v) == -EBADMSG, "no core line");
        CHECK(parse_limits_core("Max core file size        \n", &v) == -EBADMSG, "no value");
        CHECK(parse_limits_core("xMax core file size 5 5 bytes\n", &v) == -EBADMSG, "only at a line's start");
}

static void ignore_problem(const char *path, unsigned line, const char *message) {
        (void) path, (void) line, (void) message;
}

static void test_config(void) {
        struct pipe_config c;
        pipe_config_defaults(&c);
        CHECK(c.max_concurrent_dumps == 64, "MaxConcurrentDumps= defaults to 64 (the shipped core_pipe_limit)");
        pipe_config_parse("t", "[Pipe]\nMaxConcurrentDumps=8\n", &c, ignore_problem);
        CHECK(c.max_concurrent_dumps == 8, "MaxConcurrentDumps=8");
}

static void test_config_bad(void) {
        struct pipe_config c;
        pipe_config_defaults(&c);
        CHECK(pipe_config_parse("t", "[Pipe]\nMaxConcurrentDumps=0\nMaxConcurrentDumps=2000\n", &c, ignore_problem) ==
                              2 &&
                      c.max_concurrent_dumps == 64,
              "MaxConcurrentDumps= 0 or over 1024 is refused and keeps the default");
}

int main(void) {
        test_request_parse();
        test_request_read();
        accept_with(0xf, KCORE_KERNEL | KCORE_WAIT, "WAIT offered");
        accept_with(KCORE_KERNEL | KCORE_REJECT, KCORE_KERNEL, "WAIT not offered");
        test_mark(KCORE_MARK_MINSIZE, "ack too small");
        test_mark(KCORE_MARK_UNSUPPORTED, "mark 3");
        test_mark(KCORE_MARK_CONFLICTING, "conflicting");
        test_kernel_gone();
        test_reject();
        test_limits();
        test_config();
        test_config_bad();
        return tap_done();
}
