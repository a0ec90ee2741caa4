/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "protocol.h"
#include "tap.h"

/* A request with this text after the fixed body; the decoder's answer. */
static int decode_with_text(const char *text, struct cp_request *out) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_request in = {.signal = 11, .dump_mode = 1, .dump_time = 1, .core_limit = 2};
        int n = cp_encode_request(&in, buf, sizeof(buf));
        size_t k = strlen(text);
        memcpy(buf + n, text, k);
        uint32_t body = (uint32_t) (CP_REQUEST_BODY_SIZE + k);
        memcpy(buf + 8, &body, 4); /* little endian on x86 */
        return cp_decode_request(buf, (size_t) n + k, out);
}

static void test_request_container(void) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_request in = {.signal = 6, .dump_mode = 1, .container = {"lxc", "web-1", ""}}, out;
        int n = cp_encode_request(&in, buf, sizeof(buf));
        CHECK(n == CP_HEADER_SIZE + CP_REQUEST_BODY_SIZE + 9 && memcmp(buf + n - 9, "lxc web-1", 9) == 0,
              "the host's container identity follows the fixed body as \"RUNTIME ID\"");
        CHECK(cp_decode_request(buf, (size_t) n, &out) == 0 && strcmp(out.container.runtime, "lxc") == 0 &&
                      strcmp(out.container.id, "web-1") == 0 && out.container.pod_uid[0] == '\0',
              "the identity round-trips");
        in.container = (struct container_identity){"kubernetes", "abc", "0b9b6a3e-1f7e-4c2a-9d0e-5a3b2c1d0e9f"};
        n = cp_encode_request(&in, buf, sizeof(buf));
        CHECK(n > 0 && cp_decode_request(buf, (size_t) n, &out) == 0 &&
                      strcmp(out.container.pod_uid, "0b9b6a3e-1f7e-4c2a-9d0e-5a3b2c1d0e9f") == 0,
              "a pod uid round-trips");
        in.container = (struct container_identity){"docker", "a b", ""};
        CHECK(cp_encode_request(&in, buf, sizeof(buf)) == -EINVAL, "an id with a space is never encoded");
        CHECK(!cp_container_encodable(&in.container), "  and the helper is told so, to leave it out");
        in.container = (struct container_identity){"nspawn", "web\x01", ""};
        CHECK(!cp_container_encodable(&in.container), "an id with a control character cannot be carried");
        in.container = (struct container_identity){"lxc", "web-1", ""};
        CHECK(cp_container_encodable(&in.container), "an ordinary identity can");
        CHECK(decode_with_text("", &out) == 0 && out.container.runtime[0] == '\0',
              "a request without one (an older helper) is taken");
        const char *bad[] = {"docker",
                             "docker ",
                             " docker x",
                             "docker  x",
                             "docker x ",
                             "a b c d",
                             "averyveryverylongruntime x",
                             "docker x\ty",
                             "docker \x01"};
        bool all = true;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (decode_with_text(bad[i], &out) != -EBADMSG) {
                        CHECK(0, "malformed identity \"%s\" is rejected", bad[i]);
                        all = false;
                }
        CHECK(all, "every malformed identity text is rejected");
}

static void test_request(void) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_request in = {.signal = 11, .dump_mode = 1, .dump_time = 1795395118, .core_limit = UINT64_MAX}, out;
        int n = cp_encode_request(&in, buf, sizeof(buf));
        CHECK(n == CP_HEADER_SIZE + CP_REQUEST_BODY_SIZE, "request encodes to header + 24 bytes");
        CHECK(memcmp(buf, "CPIP", 4) == 0, "magic is CPIP on the wire");
        CHECK(cp_decode_request(buf, (size_t) n, &out) == 0, "request round-trips");
        CHECK(out.signal == 11 && out.dump_mode == 1 && out.dump_time == in.dump_time && out.core_limit == UINT64_MAX,
              "request fields survive the round trip");
        CHECK(buf[12] == 11 && buf[13] == 0, "integers are little endian");

        for (size_t len = 0; len < (size_t) n; len++)
                if (cp_decode_request(buf, len, &out) != -EBADMSG) {
                        CHECK(0, "truncated request of %zu bytes is rejected", len);
                        return;
                }
        CHECK(1, "every truncation of a request is rejected");

        uint8_t big[CP_MSG_MAX + 8];
        memcpy(big, buf, (size_t) n);
        CHECK(cp_decode_request(big, (size_t) n + 1, &out) == -EBADMSG, "trailing byte is rejected");
        CHECK(cp_decode_request(big, sizeof(big), &out) == -EBADMSG, "oversized message is rejected");

        buf[4] = 3;
        uint16_t version = 0;
        CHECK(cp_decode_header(buf, (size_t) n, &version) == -EPROTONOSUPPORT && version == 3,
              "another protocol version is reported as such");
        CHECK(cp_decode_request(buf, (size_t) n, &out) == -EPROTONOSUPPORT, "request of another version is refused");
        buf[4] = 1;

        buf[0] ^= 1;
        CHECK(cp_decode_request(buf, (size_t) n, &out) == -EBADMSG, "wrong magic is rejected");
        buf[0] ^= 1;

        in.signal = 0;
        CHECK(cp_encode_request(&in, buf, sizeof(buf)) == -EINVAL, "signal 0 is not encoded without the flag");
        n = cp_encode_request(&(struct cp_request){.signal = 11, .dump_mode = 1}, buf, sizeof(buf));
        buf[CP_HEADER_SIZE] = 0;
        CHECK(cp_decode_request(buf, (size_t) n, &out) == -EBADMSG, "signal 0 is rejected");
        buf[CP_HEADER_SIZE] = 65;
        CHECK(cp_decode_request(buf, (size_t) n, &out) == -EBADMSG, "signal 65 is rejected");
        in.signal = 11;

        CHECK(cp_encode_request(&in, buf, 20) == -ENOBUFS, "encoder refuses a short buffer");
}

/* Version 2: the transport and the flags; a plain pipe request stays version 1. */
static void test_request_transport(void) {
        uint8_t buf[CP_MSG_MAX];
        uint16_t version = 0;
        struct cp_request out;
        struct cp_request in = {.signal = 0,
                                .dump_mode = 1,
                                .dump_time = 7,
                                .core_limit = 9,
                                .container = {"docker", "abc", ""},
                                .transport = CP_TRANSPORT_SOCKET,
                                .flags = CP_REQUEST_SIGNAL_UNKNOWN};
        int n = cp_encode_request(&in, buf, sizeof(buf));
        CHECK(n == CP_HEADER_SIZE + CP_REQUEST_V2_BODY_SIZE + 10, "a socket request has the longer fixed part");
        CHECK(cp_decode_header(buf, (size_t) n, &version) == CP_MSG_REQUEST && version == 2,
              "a socket request is version 2");
        CHECK(cp_decode_request(buf, (size_t) n, &out) == 0 && out.transport == CP_TRANSPORT_SOCKET &&
                      out.flags == CP_REQUEST_SIGNAL_UNKNOWN && out.signal == 0 && out.core_limit == 9 &&
                      strcmp(out.container.id, "abc") == 0,
              "a socket request round-trips");
        for (size_t len = 0; len < (size_t) n; len++)
                if (cp_decode_request(buf, len, &out) != -EBADMSG) {
                        CHECK(0, "truncated version 2 request of %zu bytes is rejected", len);
                        return;
                }
        buf[CP_HEADER_SIZE] = 6;
        CHECK(cp_decode_request(buf, (size_t) n, &out) == -EBADMSG, "a signal with the unknown flag is rejected");
        buf[CP_HEADER_SIZE] = 0;
        buf[CP_HEADER_SIZE + 24] = 3;
        CHECK(cp_decode_request(buf, (size_t) n, &out) == -EBADMSG, "an unknown transport is rejected");
        buf[CP_HEADER_SIZE + 24] = CP_TRANSPORT_SOCKET;
        buf[CP_HEADER_SIZE + 28] |= 2;
        CHECK(cp_decode_request(buf, (size_t) n, &out) == -EBADMSG, "an unknown flag is rejected");

        in.transport = 7;
        CHECK(cp_encode_request(&in, buf, sizeof(buf)) == -EINVAL, "an unknown transport is not encoded");
        in = (struct cp_request){.signal = 11, .dump_mode = 1, .transport = CP_TRANSPORT_PIPE};
        n = cp_encode_request(&in, buf, sizeof(buf));
        CHECK(cp_decode_header(buf, (size_t) n, &version) == CP_MSG_REQUEST && version == 1,
              "a pipe request with its signal stays version 1, for receivers of before");
        CHECK(cp_decode_request(buf, (size_t) n, &out) == 0 && out.transport == CP_TRANSPORT_PIPE && out.flags == 0,
              "a version 1 request is a pipe request");

        n = cp_encode_verdict(CP_VERDICT_SEND, "", buf, sizeof(buf));
        buf[4] = 2;
        CHECK(cp_decode_header(buf, (size_t) n, &version) == -EPROTONOSUPPORT,
              "version 2 is a request's only: a verdict of version 2 is refused");
        CHECK(strcmp(cp_transport_to_string(CP_TRANSPORT_SOCKET), "socket") == 0 &&
                      strcmp(cp_transport_to_string(0), "invalid") == 0,
              "transports have names");
}

static void test_verdict(void) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_verdict_msg v;
        int n = cp_encode_verdict(CP_VERDICT_REFUSE, "store full", buf, sizeof(buf));
        CHECK(n > 0 && cp_decode_verdict(buf, (size_t) n, &v) == 0, "verdict round-trips");
        CHECK(v.verdict == CP_VERDICT_REFUSE && strcmp(v.reason, "store full") == 0, "verdict keeps its reason");
        n = cp_encode_verdict(CP_VERDICT_SEND, NULL, buf, sizeof(buf));
        CHECK(n == CP_HEADER_SIZE + 4 && cp_decode_verdict(buf, (size_t) n, &v) == 0 && v.reason[0] == '\0',
              "SEND without a reason");
        CHECK(cp_encode_verdict(7, "x", buf, sizeof(buf)) == -EINVAL, "unknown verdict is not encoded");
        CHECK(cp_encode_verdict(CP_VERDICT_SKIP, "a\nb", buf, sizeof(buf)) == -EINVAL,
              "control characters are not encoded");

        char longtext[CP_TEXT_MAX + 2];
        memset(longtext, 'x', sizeof(longtext) - 1);
        longtext[sizeof(longtext) - 1] = '\0';
        CHECK(cp_encode_verdict(CP_VERDICT_SKIP, longtext, buf, sizeof(buf)) == -EINVAL,
              "text over 512 bytes is refused");

        n = cp_encode_verdict(CP_VERDICT_SKIP, "ok", buf, sizeof(buf));
        buf[CP_HEADER_SIZE] = 9;
        CHECK(cp_decode_verdict(buf, (size_t) n, &v) == -EBADMSG, "unknown verdict value is rejected");
        n = cp_encode_verdict(CP_VERDICT_SKIP, "ok", buf, sizeof(buf));
        buf[n - 1] = '\033';
        CHECK(cp_decode_verdict(buf, (size_t) n, &v) == -EBADMSG, "escape character in a reason is rejected");
        n = cp_encode_verdict(CP_VERDICT_SKIP, "ok", buf, sizeof(buf));
        buf[n - 1] = '\0';
        CHECK(cp_decode_verdict(buf, (size_t) n, &v) == -EBADMSG, "NUL in a reason is rejected");
        uint8_t req[CP_MSG_MAX];
        struct cp_request r = {.signal = 6, .dump_mode = 1};
        n = cp_encode_request(&r, req, sizeof(req));
        CHECK(cp_decode_verdict(req, (size_t) n, &v) == -EBADMSG, "a request is not a verdict");
}

static void test_outcome_and_handover(void) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_outcome in = {.error = 0, .flags = CP_OUTCOME_TRUNCATED, .core_size = 1ULL << 40, .stored_size = 77},
                          out;
        strcpy(in.text, "core.x.0.ab.1.2.zst");
        int n = cp_encode_outcome(&in, buf, sizeof(buf));
        CHECK(n > 0 && cp_decode_outcome(buf, (size_t) n, &out) == 0, "outcome round-trips");
        CHECK(out.core_size == 1ULL << 40 && out.stored_size == 77 && out.flags == CP_OUTCOME_TRUNCATED &&
                      strcmp(out.text, in.text) == 0,
              "outcome fields survive");
        buf[CP_HEADER_SIZE + 4] = 0x80;
        CHECK(cp_decode_outcome(buf, (size_t) n, &out) == -EBADMSG, "unknown outcome flag is rejected");
        in.error = -5;
        CHECK(cp_encode_outcome(&in, buf, sizeof(buf)) == -EINVAL, "negative error is not encoded");

        n = cp_encode_handover(buf, sizeof(buf));
        CHECK(n == CP_HEADER_SIZE && cp_decode_handover(buf, (size_t) n) == 0, "hand-over is a bare header");
        CHECK(cp_decode_handover(buf, (size_t) n - 1) == -EBADMSG, "short hand-over is rejected");
}

/* The details of a stored core travel in a message of their own after the OUTCOME, so that a
 * helper of before (which reads the OUTCOME alone, and rejects unknown flags) still works. */
static void test_outcome_detail(void) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_outcome_detail in = {.expected_size = 128389120}, out;
        strcpy(in.reason, "short stream");
        strcpy(in.cause, "the process was OOM-killed by its memory cgroup (oom_kill 3 -> 4)");
        int n = cp_encode_outcome_detail(&in, buf, sizeof(buf));
        CHECK(n > 0 && cp_decode_outcome_detail(buf, (size_t) n, &out) == 0, "outcome detail round-trips");
        CHECK(out.expected_size == in.expected_size && strcmp(out.reason, in.reason) == 0 &&
                      strcmp(out.cause, in.cause) == 0,
              "expected size, reason and cause survive");
        struct cp_outcome o;
        CHECK(cp_decode_outcome(buf, (size_t) n, &o) == -EBADMSG, "a detail is never taken for an outcome");
        uint16_t version;
        CHECK(cp_decode_header(buf, (size_t) n, &version) == CP_MSG_OUTCOME_DETAIL && version == CP_PROTOCOL_VERSION,
              "same protocol version: the message is optional, not a new dialect");

        /* The reason's length must match the body: one byte more claimed is a defect. */
        buf[CP_HEADER_SIZE + 8]++;
        CHECK(cp_decode_outcome_detail(buf, (size_t) n, &out) == -EBADMSG, "lengths that do not add up are rejected");
        buf[CP_HEADER_SIZE + 8]--;
        buf[CP_HEADER_SIZE + CP_DETAIL_FIXED_SIZE] = '\n';
        CHECK(cp_decode_outcome_detail(buf, (size_t) n, &out) == -EBADMSG, "a control character is rejected");
        buf[CP_HEADER_SIZE + 8] = 0xff;
        buf[CP_HEADER_SIZE + 9] = 0xff;
        CHECK(cp_decode_outcome_detail(buf, (size_t) n, &out) == -EBADMSG, "a length past its cap is rejected");

        struct cp_outcome_detail empty = {0};
        n = cp_encode_outcome_detail(&empty, buf, sizeof(buf));
        CHECK(n == CP_HEADER_SIZE + CP_DETAIL_FIXED_SIZE && cp_decode_outcome_detail(buf, (size_t) n, &out) == 0 &&
                      !out.reason[0] && !out.cause[0],
              "a whole core's detail: no reason, no cause");
        strcpy(in.cause, "bad\tcause");
        CHECK(cp_encode_outcome_detail(&in, buf, sizeof(buf)) == -EINVAL, "the encoder refuses what decoders reject");
}

/* A crash's signature, sent once the receiver's backtrace is made (after the crashed process is
 * released), with a crash loop's repeat count. */
static void test_outcome_trace(void) {
        uint8_t buf[CP_MSG_MAX];
        struct cp_outcome_trace in = {.flags = CP_TRACE_REPEAT | CP_TRACE_CORE_REMOVED, .nth = 7, .kept = 3}, out;
        strcpy(in.signature, "0123456789abcdef");
        int n = cp_encode_outcome_trace(&in, buf, sizeof(buf));
        CHECK(n == CP_HEADER_SIZE + CP_TRACE_FIXED_SIZE + 16 && cp_decode_outcome_trace(buf, (size_t) n, &out) == 0,
              "outcome trace round-trips");
        CHECK(out.flags == in.flags && out.nth == 7 && out.kept == 3 && strcmp(out.signature, in.signature) == 0,
              "flags, count and signature survive");
        struct cp_outcome_detail d;
        uint16_t version;
        CHECK(cp_decode_outcome_detail(buf, (size_t) n, &d) == -EBADMSG &&
                      cp_decode_header(buf, (size_t) n, &version) == CP_MSG_OUTCOME_TRACE &&
                      version == CP_PROTOCOL_VERSION,
              "its own type, same protocol version");
        buf[CP_HEADER_SIZE + 12]++;
        CHECK(cp_decode_outcome_trace(buf, (size_t) n, &out) == -EBADMSG, "a length that does not add up is rejected");
        buf[CP_HEADER_SIZE + 12]--;
        buf[CP_HEADER_SIZE] |= 0x80;
        CHECK(cp_decode_outcome_trace(buf, (size_t) n, &out) == -EBADMSG, "an unknown flag is rejected");
        buf[CP_HEADER_SIZE] &= 0x7f;
        buf[CP_HEADER_SIZE + CP_TRACE_FIXED_SIZE] = '\n';
        CHECK(cp_decode_outcome_trace(buf, (size_t) n, &out) == -EBADMSG, "a control character is rejected");
        struct cp_outcome_trace empty = {0};
        CHECK(cp_encode_outcome_trace(&empty, buf, sizeof(buf)) == -EINVAL, "no signature: nothing to send");
}

int main(void) {
        test_outcome_trace();
        test_outcome_detail();
        test_request();
        test_request_container();
        test_request_transport();
        test_verdict();
        test_outcome_and_handover();
        return tap_done();
}
