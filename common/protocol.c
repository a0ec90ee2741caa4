/* SPDX-License-Identifier: MIT */
#include "protocol.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void put_u16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}
static uint16_t get_u16(const uint8_t *p) {
        return (uint16_t) (p[0] | (p[1] << 8));
}
static uint32_t get_u32(const uint8_t *p) {
        uint32_t v = 0;
        for (int i = 3; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}
static uint64_t get_u64(const uint8_t *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

bool cp_text_valid(const char *s, size_t len) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7f)
                        return false;
        }
        return true;
}

static int encode_header_version(uint16_t version, uint16_t type, size_t body_len, uint8_t *buf, size_t size) {
        if (size < CP_HEADER_SIZE + body_len || CP_HEADER_SIZE + body_len > CP_MSG_MAX)
                return -ENOBUFS;
        put_u32(buf, CP_MAGIC);
        put_u16(buf + 4, version);
        put_u16(buf + 6, type);
        put_u32(buf + 8, (uint32_t) body_len);
        return 0;
}

static int encode_header(uint16_t type, size_t body_len, uint8_t *buf, size_t size) {
        return encode_header_version(CP_PROTOCOL_VERSION, type, body_len, buf, size);
}

/* "RUNTIME ID [POD_UID]" into text (CP_TEXT_MAX + 1 bytes), "" without a runtime. */
static int container_to_text(const struct container_identity *c, char *text) {
        const char *pod = c->pod_uid;
        text[0] = '\0';
        if (!c->runtime[0])
                return 0;
        if (!c->id[0] || strchr(c->runtime, ' ') || strchr(c->id, ' ') || strchr(pod, ' '))
                return -EINVAL;
        snprintf(text, CP_TEXT_MAX + 1, "%s %s%s%s", c->runtime, c->id, pod[0] ? " " : "", pod);
        return cp_text_valid(text, strlen(text)) ? 0 : -EINVAL;
}

bool cp_container_encodable(const struct container_identity *c) {
        char text[CP_TEXT_MAX + 1];
        return container_to_text(c, text) >= 0;
}

/* Whether the request's signal, transport and flags go together: what the decoder accepts. */
static bool request_fields_valid(uint32_t signal, uint32_t transport, uint32_t flags) {
        if (transport != CP_TRANSPORT_PIPE && transport != CP_TRANSPORT_SOCKET)
                return false;
        if (flags & ~CP_REQUEST_FLAGS_ALL)
                return false;
        /* Signal numbers fit in 1..64 on Linux; anything else did not come from the kernel. */
        if (flags & CP_REQUEST_SIGNAL_UNKNOWN)
                return signal == 0;
        return signal >= 1 && signal <= 64;
}

int cp_encode_request(const struct cp_request *req, uint8_t *buf, size_t size) {
        char text[CP_TEXT_MAX + 1];
        uint32_t transport = req->transport ? req->transport : CP_TRANSPORT_PIPE;
        if (!request_fields_valid(req->signal, transport, req->flags))
                return -EINVAL;
        int r = container_to_text(&req->container, text);
        if (r < 0)
                return r;
        /* A plain pipe request stays version 1, which every receiver reads. */
        bool v2 = transport != CP_TRANSPORT_PIPE || req->flags != 0;
        size_t fixed = v2 ? CP_REQUEST_V2_BODY_SIZE : CP_REQUEST_BODY_SIZE, n = strlen(text);
        r = encode_header_version(v2 ? CP_PROTOCOL_VERSION_TRANSPORT : CP_PROTOCOL_VERSION, CP_MSG_REQUEST, fixed + n,
                                  buf, size);
        if (r < 0)
                return r;
        uint8_t *b = buf + CP_HEADER_SIZE;
        put_u32(b, req->signal);
        put_u32(b + 4, req->dump_mode);
        put_u64(b + 8, req->dump_time);
        put_u64(b + 16, req->core_limit);
        if (v2) {
                put_u32(b + 24, transport);
                put_u32(b + 28, req->flags);
        }
        memcpy(b + fixed, text, n);
        return (int) (CP_HEADER_SIZE + fixed + n);
}

int cp_encode_verdict(uint32_t verdict, const char *reason, uint8_t *buf, size_t size) {
        size_t n = reason ? strlen(reason) : 0;
        if (verdict < CP_VERDICT_SEND || verdict > CP_VERDICT_REFUSE)
                return -EINVAL;
        if (n > CP_TEXT_MAX || !cp_text_valid(reason, n))
                return -EINVAL;
        int r = encode_header(CP_MSG_VERDICT, 4 + n, buf, size);
        if (r < 0)
                return r;
        put_u32(buf + CP_HEADER_SIZE, verdict);
        if (n > 0)
                memcpy(buf + CP_HEADER_SIZE + 4, reason, n);
        return (int) (CP_HEADER_SIZE + 4 + n);
}

int cp_encode_handover(uint8_t *buf, size_t size) {
        int r = encode_header(CP_MSG_HANDOVER, 0, buf, size);
        return r < 0 ? r : CP_HEADER_SIZE;
}

int cp_encode_outcome(const struct cp_outcome *out, uint8_t *buf, size_t size) {
        size_t n = strnlen(out->text, sizeof(out->text));
        if (n > CP_TEXT_MAX || !cp_text_valid(out->text, n) || out->error < 0 || (out->flags & ~CP_OUTCOME_FLAGS_ALL))
                return -EINVAL;
        int r = encode_header(CP_MSG_OUTCOME, CP_OUTCOME_FIXED_SIZE + n, buf, size);
        if (r < 0)
                return r;
        uint8_t *b = buf + CP_HEADER_SIZE;
        put_u32(b, (uint32_t) out->error);
        put_u32(b + 4, out->flags);
        put_u64(b + 8, out->core_size);
        put_u64(b + 16, out->stored_size);
        memcpy(b + CP_OUTCOME_FIXED_SIZE, out->text, n);
        return (int) (CP_HEADER_SIZE + CP_OUTCOME_FIXED_SIZE + n);
}

int cp_encode_outcome_detail(const struct cp_outcome_detail *d, uint8_t *buf, size_t size) {
        size_t nr = strnlen(d->reason, sizeof(d->reason)), nc = strnlen(d->cause, sizeof(d->cause));
        if (nr > CP_DETAIL_REASON_MAX || nc > CP_DETAIL_CAUSE_MAX || !cp_text_valid(d->reason, nr) ||
            !cp_text_valid(d->cause, nc))
                return -EINVAL;
        int r = encode_header(CP_MSG_OUTCOME_DETAIL, CP_DETAIL_FIXED_SIZE + nr + nc, buf, size);
        if (r < 0)
                return r;
        uint8_t *b = buf + CP_HEADER_SIZE;
        put_u64(b, d->expected_size);
        put_u16(b + 8, (uint16_t) nr);
        put_u16(b + 10, (uint16_t) nc);
        memcpy(b + CP_DETAIL_FIXED_SIZE, d->reason, nr);
        memcpy(b + CP_DETAIL_FIXED_SIZE + nr, d->cause, nc);
        return (int) (CP_HEADER_SIZE + CP_DETAIL_FIXED_SIZE + nr + nc);
}

int cp_encode_outcome_trace(const struct cp_outcome_trace *t, uint8_t *buf, size_t size) {
        size_t ns = strnlen(t->signature, sizeof(t->signature));
        if (ns == 0 || ns > CP_TRACE_SIGNATURE_MAX || !cp_text_valid(t->signature, ns) ||
            (t->flags & ~CP_TRACE_FLAGS_ALL))
                return -EINVAL;
        int r = encode_header(CP_MSG_OUTCOME_TRACE, CP_TRACE_FIXED_SIZE + ns, buf, size);
        if (r < 0)
                return r;
        uint8_t *b = buf + CP_HEADER_SIZE;
        put_u32(b, t->flags);
        put_u32(b + 4, t->nth);
        put_u32(b + 8, t->kept);
        put_u16(b + 12, (uint16_t) ns);
        memcpy(b + CP_TRACE_FIXED_SIZE, t->signature, ns);
        return (int) (CP_HEADER_SIZE + CP_TRACE_FIXED_SIZE + ns);
}

int cp_decode_header(const uint8_t *buf, size_t len, uint16_t *ret_version) {
        if (len < CP_HEADER_SIZE || len > CP_MSG_MAX)
                return -EBADMSG;
        if (get_u32(buf) != CP_MAGIC)
                return -EBADMSG;
        if (get_u32(buf + 8) != len - CP_HEADER_SIZE)
                return -EBADMSG;
        uint16_t version = get_u16(buf + 4), type = get_u16(buf + 6);
        if (type < CP_MSG_REQUEST || type > CP_MSG_OUTCOME_TRACE)
                return -EBADMSG;
        *ret_version = version;
        if (version != CP_PROTOCOL_VERSION && !(version == CP_PROTOCOL_VERSION_TRANSPORT && type == CP_MSG_REQUEST))
                return -EPROTONOSUPPORT;
        return type;
}

/* Header check for one expected type; returns the body length, and the version if asked. */
static int expect_version(const uint8_t *buf, size_t len, int type, uint16_t *ret_version) {
        uint16_t version;
        int r = cp_decode_header(buf, len, &version);
        if (r < 0)
                return r;
        if (r != type)
                return -EBADMSG;
        if (ret_version)
                *ret_version = version;
        return (int) (len - CP_HEADER_SIZE);
}

static int expect(const uint8_t *buf, size_t len, int type) {
        return expect_version(buf, len, type, NULL);
}

static int decode_text(const uint8_t *p, size_t n, char *out) {
        if (n > CP_TEXT_MAX || !cp_text_valid((const char *) p, n))
                return -EBADMSG;
        memcpy(out, p, n);
        out[n] = '\0';
        return 0;
}

/* One space-separated field of text into out (size bytes): -EBADMSG if it does not fit. */
static int take_field(const char **p, char *out, size_t size) {
        size_t n = strcspn(*p, " ");
        if (n >= size)
                return -EBADMSG;
        memcpy(out, *p, n);
        out[n] = '\0';
        *p += n + ((*p)[n] == ' ');
        return 0;
}

static int container_from_text(const uint8_t *p, size_t n, struct container_identity *ret) {
        char text[CP_TEXT_MAX + 1];
        struct container_identity c;
        memset(&c, 0, sizeof(c));
        if (decode_text(p, n, text) < 0)
                return -EBADMSG;
        const char *t = text;
        if (n > 0 && (text[n - 1] == ' ' || take_field(&t, c.runtime, sizeof(c.runtime)) < 0 ||
                      take_field(&t, c.id, sizeof(c.id)) < 0 || take_field(&t, c.pod_uid, sizeof(c.pod_uid)) < 0 ||
                      *t || !c.runtime[0] || !c.id[0]))
                return -EBADMSG;
        *ret = c;
        return 0;
}

int cp_decode_request(const uint8_t *buf, size_t len, struct cp_request *ret) {
        uint16_t version;
        int n = expect_version(buf, len, CP_MSG_REQUEST, &version);
        if (n < 0)
                return n;
        size_t fixed = version == CP_PROTOCOL_VERSION_TRANSPORT ? CP_REQUEST_V2_BODY_SIZE : CP_REQUEST_BODY_SIZE;
        if ((size_t) n < fixed)
                return -EBADMSG;
        const uint8_t *b = buf + CP_HEADER_SIZE;
        struct cp_request req = {
                .signal = get_u32(b),
                .dump_mode = get_u32(b + 4),
                .dump_time = get_u64(b + 8),
                .core_limit = get_u64(b + 16),
                .transport = CP_TRANSPORT_PIPE,
        };
        if (version == CP_PROTOCOL_VERSION_TRANSPORT) {
                req.transport = get_u32(b + 24);
                req.flags = get_u32(b + 28);
        }
        if (!request_fields_valid(req.signal, req.transport, req.flags))
                return -EBADMSG;
        if (container_from_text(b + fixed, (size_t) n - fixed, &req.container) < 0)
                return -EBADMSG;
        *ret = req;
        return 0;
}

int cp_decode_verdict(const uint8_t *buf, size_t len, struct cp_verdict_msg *ret) {
        int n = expect(buf, len, CP_MSG_VERDICT);
        if (n < 0)
                return n;
        if (n < 4)
                return -EBADMSG;
        struct cp_verdict_msg v = {.verdict = get_u32(buf + CP_HEADER_SIZE)};
        if (v.verdict < CP_VERDICT_SEND || v.verdict > CP_VERDICT_REFUSE)
                return -EBADMSG;
        if (decode_text(buf + CP_HEADER_SIZE + 4, (size_t) n - 4, v.reason) < 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int cp_decode_handover(const uint8_t *buf, size_t len) {
        int n = expect(buf, len, CP_MSG_HANDOVER);
        if (n < 0)
                return n;
        return n == 0 ? 0 : -EBADMSG;
}

int cp_decode_outcome(const uint8_t *buf, size_t len, struct cp_outcome *ret) {
        int n = expect(buf, len, CP_MSG_OUTCOME);
        if (n < 0)
                return n;
        if (n < CP_OUTCOME_FIXED_SIZE)
                return -EBADMSG;
        const uint8_t *b = buf + CP_HEADER_SIZE;
        struct cp_outcome o = {
                .error = (int32_t) get_u32(b),
                .flags = get_u32(b + 4),
                .core_size = get_u64(b + 8),
                .stored_size = get_u64(b + 16),
        };
        if (o.error < 0 || o.error > 4095 || (o.flags & ~CP_OUTCOME_FLAGS_ALL))
                return -EBADMSG;
        if (decode_text(b + CP_OUTCOME_FIXED_SIZE, (size_t) n - CP_OUTCOME_FIXED_SIZE, o.text) < 0)
                return -EBADMSG;
        *ret = o;
        return 0;
}

int cp_decode_outcome_detail(const uint8_t *buf, size_t len, struct cp_outcome_detail *ret) {
        int n = expect(buf, len, CP_MSG_OUTCOME_DETAIL);
        if (n < 0)
                return n;
        if (n < CP_DETAIL_FIXED_SIZE)
                return -EBADMSG;
        const uint8_t *b = buf + CP_HEADER_SIZE;
        struct cp_outcome_detail d = {.expected_size = get_u64(b)};
        size_t nr = get_u16(b + 8), nc = get_u16(b + 10);
        /* Each length is checked against its cap and the whole against the body before use. */
        if (nr > CP_DETAIL_REASON_MAX || nc > CP_DETAIL_CAUSE_MAX || (size_t) n != CP_DETAIL_FIXED_SIZE + nr + nc)
                return -EBADMSG;
        if (!cp_text_valid((const char *) b + CP_DETAIL_FIXED_SIZE, nr) ||
            !cp_text_valid((const char *) b + CP_DETAIL_FIXED_SIZE + nr, nc))
                return -EBADMSG;
        memcpy(d.reason, b + CP_DETAIL_FIXED_SIZE, nr);
        memcpy(d.cause, b + CP_DETAIL_FIXED_SIZE + nr, nc);
        *ret = d;
        return 0;
}

int cp_decode_outcome_trace(const uint8_t *buf, size_t len, struct cp_outcome_trace *ret) {
        int n = expect(buf, len, CP_MSG_OUTCOME_TRACE);
        if (n < 0)
                return n;
        if (n < CP_TRACE_FIXED_SIZE)
                return -EBADMSG;
        const uint8_t *b = buf + CP_HEADER_SIZE;
        struct cp_outcome_trace t = {.flags = get_u32(b), .nth = get_u32(b + 4), .kept = get_u32(b + 8)};
        size_t ns = get_u16(b + 12);
        /* The length is checked against its cap and the body before use. */
        if (ns == 0 || ns > CP_TRACE_SIGNATURE_MAX || (size_t) n != CP_TRACE_FIXED_SIZE + ns ||
            (t.flags & ~CP_TRACE_FLAGS_ALL) || !cp_text_valid((const char *) b + CP_TRACE_FIXED_SIZE, ns))
                return -EBADMSG;
        memcpy(t.signature, b + CP_TRACE_FIXED_SIZE, ns);
        *ret = t;
        return 0;
}

const char *cp_transport_to_string(uint32_t transport) {
        switch (transport) {
        case CP_TRANSPORT_PIPE:
                return "pipe";
        case CP_TRANSPORT_SOCKET:
                return "socket";
        default:
                return "invalid";
        }
}

const char *cp_verdict_to_string(uint32_t verdict) {
        switch (verdict) {
        case CP_VERDICT_SEND:
                return "send";
        case CP_VERDICT_SKIP:
                return "skip";
        case CP_VERDICT_REFUSE:
                return "refuse";
        default:
                return "invalid";
        }
}
