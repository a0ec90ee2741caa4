/* SPDX-License-Identifier: MIT */
/* The wire protocol, as a receiver (request, hand-over) and the helper (verdict, outcome) read
 * it from a peer that may be hostile (the outcome's details too). Whatever decodes must encode back to a message that
 * decodes to the same values. */
#include <string.h>

#include "fuzz.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t buf[CP_MSG_MAX];
        uint16_t version;
        int r;

        (void) cp_decode_header(data, size, &version);

        struct cp_request req, req2;
        if (cp_decode_request(data, size, &req) >= 0) {
                r = cp_encode_request(&req, buf, sizeof(buf));
                FUZZ_ASSERT(r > 0);
                FUZZ_ASSERT(cp_decode_request(buf, (size_t) r, &req2) >= 0);
                FUZZ_ASSERT(memcmp(&req, &req2, sizeof(req)) == 0);
        }

        struct cp_verdict_msg v, v2;
        if (cp_decode_verdict(data, size, &v) >= 0) {
                FUZZ_ASSERT(strlen(v.reason) <= CP_TEXT_MAX);
                FUZZ_ASSERT(cp_text_valid(v.reason, strlen(v.reason)));
                FUZZ_ASSERT(cp_verdict_to_string(v.verdict) != NULL);
                r = cp_encode_verdict(v.verdict, v.reason, buf, sizeof(buf));
                FUZZ_ASSERT(r > 0);
                FUZZ_ASSERT(cp_decode_verdict(buf, (size_t) r, &v2) >= 0);
                FUZZ_ASSERT(v.verdict == v2.verdict && strcmp(v.reason, v2.reason) == 0);
        }

        (void) cp_decode_handover(data, size);

        struct cp_outcome o, o2;
        if (cp_decode_outcome(data, size, &o) >= 0) {
                FUZZ_ASSERT(strlen(o.text) <= CP_TEXT_MAX);
                FUZZ_ASSERT((o.flags & ~CP_OUTCOME_FLAGS_ALL) == 0);
                r = cp_encode_outcome(&o, buf, sizeof(buf));
                FUZZ_ASSERT(r > 0);
                FUZZ_ASSERT(cp_decode_outcome(buf, (size_t) r, &o2) >= 0);
                FUZZ_ASSERT(o.error == o2.error && o.flags == o2.flags && o.core_size == o2.core_size &&
                            o.stored_size == o2.stored_size && strcmp(o.text, o2.text) == 0);
        }

        struct cp_outcome_detail d, d2;
        if (cp_decode_outcome_detail(data, size, &d) >= 0) {
                FUZZ_ASSERT(strlen(d.reason) <= CP_DETAIL_REASON_MAX && strlen(d.cause) <= CP_DETAIL_CAUSE_MAX);
                FUZZ_ASSERT(cp_text_valid(d.reason, strlen(d.reason)) && cp_text_valid(d.cause, strlen(d.cause)));
                r = cp_encode_outcome_detail(&d, buf, sizeof(buf));
                FUZZ_ASSERT(r > 0);
                FUZZ_ASSERT(cp_decode_outcome_detail(buf, (size_t) r, &d2) >= 0);
                FUZZ_ASSERT(d.expected_size == d2.expected_size && strcmp(d.reason, d2.reason) == 0 &&
                            strcmp(d.cause, d2.cause) == 0);
        }

        struct cp_outcome_trace t, t2;
        if (cp_decode_outcome_trace(data, size, &t) >= 0) {
                FUZZ_ASSERT(strlen(t.signature) > 0 && strlen(t.signature) <= CP_TRACE_SIGNATURE_MAX);
                FUZZ_ASSERT((t.flags & ~CP_TRACE_FLAGS_ALL) == 0);
                r = cp_encode_outcome_trace(&t, buf, sizeof(buf));
                FUZZ_ASSERT(r > 0);
                FUZZ_ASSERT(cp_decode_outcome_trace(buf, (size_t) r, &t2) >= 0);
                FUZZ_ASSERT(t.flags == t2.flags && t.nth == t2.nth && t.kept == t2.kept &&
                            strcmp(t.signature, t2.signature) == 0);
        }
        return 0;
}
