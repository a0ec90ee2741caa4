/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The core_pipe wire protocol, spoken over an AF_UNIX SOCK_SEQPACKET connection between the host
 * helper (core_pipe) and a receiver (core_pipe-receiver). One datagram carries one message.
 *
 *   helper                                   receiver
 *   REQUEST  + SCM_CREDENTIALS{pid,uid,gid}  ──►        validate, apply policy, read nothing yet
 *            ◄── VERDICT {SEND | SKIP | REFUSE, reason}
 *   HANDOVER + SCM_RIGHTS{core pipe, pidfd}  ──►        (only after SEND)
 *            ◄── OUTCOME {result, sizes, file name or error}
 *            ◄── OUTCOME_DETAIL {expected size, truncation reason and cause}   (stored cores)
 *            ◄── OUTCOME_TRACE {the crash's signature, a crash loop's repeat}  (when one is made)
 *
 * SEND: the receiver takes the core. SKIP: the crash is accounted for and no core is stored
 * anywhere (e.g. RLIMIT_CORE is 0 in the container). REFUSE: this receiver will not handle the
 * crash; the helper falls back to its host policy. The helper never reads the core pipe, and
 * after HANDOVER it never touches it again.
 *
 * OUTCOME_DETAIL came later, in the same version: a receiver sends it right after the OUTCOME
 * of a stored core, and a helper reads it only after an OUTCOME, within a short wait. A helper of
 * before stops reading at the OUTCOME (whose file name text stays the file name alone, and whose
 * flags stay the ones it knows), and a receiver of before never sends it: each side works with
 * the other's older self.
 *
 * OUTCOME_TRACE came later still, in the same version: the receiver makes a crash's backtrace
 * once the crashed process is released, possibly seconds after its OUTCOME, and sends what the
 * host's log line says of it when it has it; a receiver that makes none closes the connection
 * after the OUTCOME_DETAIL. A helper reads it after the OUTCOME_DETAIL within a bounded wait
 * (EOF ends the wait at once); a helper of before has stopped reading (the receiver's send then
 * fails, which it ignores), and a receiver of before never sends it.
 *
 * Every message starts with a 12-byte header, all integers little endian:
 *   u32 magic "CPIP", u16 version, u16 type, u32 body length (must equal the bytes that follow).
 * Bodies are fixed layouts followed, for VERDICT and OUTCOME, by bounded text that contains no
 * NUL and no control characters. Decoders check every length before use and reject anything
 * else; encoders never produce what the decoders reject.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

#define CP_PROTOCOL_VERSION 1
/* A REQUEST that names its transport (the kernel's coredump socket) or says that the signal is
 * unknown is version 2; every other message, and a pipe request with a known signal, stays
 * version 1. A receiver of before refuses a version 2 request ("protocol version 2 not
 * supported"): it cannot read a core from a socket, and the helper falls back. */
#define CP_PROTOCOL_VERSION_TRANSPORT 2
#define CP_MAGIC 0x50495043U /* "CPIP" read as little endian */

#define CP_HEADER_SIZE 12
#define CP_TEXT_MAX 512
/* Largest datagram either side sends or accepts. Anything larger is malformed. */
#define CP_MSG_MAX 1024

/* The socket every receiver listens on, relative to the crashing process's root. */
#define CP_SOCKET_PATH "/run/core_pipe.socket"

enum cp_msg_type {
        CP_MSG_REQUEST = 1,
        CP_MSG_VERDICT = 2,
        CP_MSG_HANDOVER = 3,
        CP_MSG_OUTCOME = 4,
        CP_MSG_OUTCOME_DETAIL = 5,
        CP_MSG_OUTCOME_TRACE = 6,
};

/* How the core reaches the receiver: the kernel's pipe, or the connection the kernel made to the
 * host's coredump socket (kernel.core_pattern = @@PATH), already acknowledged, positioned at the
 * core's first byte. The receiver reads it and never writes to it. */
enum cp_transport {
        CP_TRANSPORT_PIPE = 1,
        CP_TRANSPORT_SOCKET = 2,
};

/* Request flags (version 2). */
#define CP_REQUEST_SIGNAL_UNKNOWN (UINT32_C(1) << 0) /* the kernel did not say (coredump socket, < 6.19) */
#define CP_REQUEST_FLAGS_ALL CP_REQUEST_SIGNAL_UNKNOWN

enum cp_verdict {
        CP_VERDICT_SEND = 1,
        CP_VERDICT_SKIP = 2,
        CP_VERDICT_REFUSE = 3,
};

/* Kernel values the receiver needs and cannot read itself. pid/uid/gid travel as credentials,
 * which the kernel translates into the receiver's namespaces. */
struct cp_request {
        uint32_t signal;     /* %s; 0 with CP_REQUEST_SIGNAL_UNKNOWN */
        uint32_t dump_mode;  /* %d: 1 = normal (only those are forwarded) */
        uint64_t dump_time;  /* %t, seconds since the epoch */
        uint64_t core_limit; /* %c, RLIMIT_CORE of the crashed process; UINT64_MAX = unlimited */
        /* The container as the host's cgroup path names it (runtime "" when none): a receiver
         * in a cgroup namespace of its own (LXC, docker on cgroup v2) cannot see it. */
        struct container_identity container;
        uint32_t transport; /* enum cp_transport; 0 is taken as CP_TRANSPORT_PIPE */
        uint32_t flags;     /* CP_REQUEST_* */
};
/* The fixed part; then, optionally, text "RUNTIME ID [POD_UID]" (a helper of before it sends
 * none, and every receiver takes both). Version 2 adds u32 transport and u32 flags to the fixed
 * part, before the text. */
#define CP_REQUEST_BODY_SIZE 24
#define CP_REQUEST_V2_BODY_SIZE 32

struct cp_verdict_msg {
        uint32_t verdict; /* enum cp_verdict */
        char reason[CP_TEXT_MAX + 1];
};

#define CP_OUTCOME_TRUNCATED (UINT32_C(1) << 0)
#define CP_OUTCOME_FLAGS_ALL CP_OUTCOME_TRUNCATED

struct cp_outcome {
        int32_t error;              /* 0 = stored, else a positive errno value */
        uint32_t flags;             /* CP_OUTCOME_* */
        uint64_t core_size;         /* bytes of core read from the pipe */
        uint64_t stored_size;       /* bytes written to the store (compressed) */
        char text[CP_TEXT_MAX + 1]; /* stored file name, or what went wrong */
};
#define CP_OUTCOME_FIXED_SIZE 24

/* What the OUTCOME of a stored core cannot say. Body: u64 expected_size, u16 reason length, u16
 * cause length, then the reason's bytes and the cause's, each protocol text (cp_text_valid). */
#define CP_DETAIL_REASON_MAX 64
#define CP_DETAIL_CAUSE_MAX 384
struct cp_outcome_detail {
        uint64_t expected_size;                /* the core's length by its program headers; 0 unknown */
        char reason[CP_DETAIL_REASON_MAX + 1]; /* truncated_reason keyword, "" when whole */
        char cause[CP_DETAIL_CAUSE_MAX + 1];   /* truncated_cause sentence, "" when unknown */
};
#define CP_DETAIL_FIXED_SIZE 12

/* A crash's signature (16 hex digits today) and, for a repeat of a crash loop, its number in its
 * signature's window and the cores kept there. Body: u32 flags, u32 nth, u32 kept, u16 signature
 * length, then the signature (protocol text). */
#define CP_TRACE_REPEAT (UINT32_C(1) << 0)       /* a repeat: no core kept */
#define CP_TRACE_CORE_REMOVED (UINT32_C(1) << 1) /* its core was removed from the store */
#define CP_TRACE_FLAGS_ALL (CP_TRACE_REPEAT | CP_TRACE_CORE_REMOVED)
#define CP_TRACE_SIGNATURE_MAX 64
struct cp_outcome_trace {
        uint32_t flags; /* CP_TRACE_* */
        uint32_t nth;   /* with CP_TRACE_REPEAT: the crash's number in its signature's window */
        uint32_t kept;  /* with CP_TRACE_REPEAT: cores of that window kept */
        char signature[CP_TRACE_SIGNATURE_MAX + 1];
};
#define CP_TRACE_FIXED_SIZE 14

/*
 * Encoders: write one complete message into buf (at most size bytes) and return its length, or
 * -ENOBUFS if it does not fit, -EINVAL if a field is out of range (unknown verdict, text too long
 * or containing a control character).
 */
int cp_encode_request(const struct cp_request *req, uint8_t *buf, size_t size);
/* Whether a request may carry this identity (no space or control character in it): one that may
 * not is left out of the request, never a reason to fail it. */
bool cp_container_encodable(const struct container_identity *c);
int cp_encode_verdict(uint32_t verdict, const char *reason, uint8_t *buf, size_t size);
int cp_encode_handover(uint8_t *buf, size_t size);
int cp_encode_outcome(const struct cp_outcome *out, uint8_t *buf, size_t size);
int cp_encode_outcome_detail(const struct cp_outcome_detail *d, uint8_t *buf, size_t size);
int cp_encode_outcome_trace(const struct cp_outcome_trace *t, uint8_t *buf, size_t size);

/*
 * Header check: on success returns the message type and stores the protocol version in
 * *ret_version. -EBADMSG for a wrong magic, a length that does not match, or an unknown type;
 * -EPROTONOSUPPORT when only the version is not one this side speaks for that type (1 for
 * every type, 2 for REQUEST too; *ret_version is set so the caller can say so).
 */
int cp_decode_header(const uint8_t *buf, size_t len, uint16_t *ret_version);

/* Decoders: validate the whole message (header included) and fill *ret. -EBADMSG on any defect.
 * cp_decode_request() takes version 1 (transport pipe, flags 0) and version 2. */
int cp_decode_request(const uint8_t *buf, size_t len, struct cp_request *ret);
int cp_decode_verdict(const uint8_t *buf, size_t len, struct cp_verdict_msg *ret);
int cp_decode_handover(const uint8_t *buf, size_t len);
int cp_decode_outcome(const uint8_t *buf, size_t len, struct cp_outcome *ret);
int cp_decode_outcome_detail(const uint8_t *buf, size_t len, struct cp_outcome_detail *ret);
int cp_decode_outcome_trace(const uint8_t *buf, size_t len, struct cp_outcome_trace *ret);

const char *cp_verdict_to_string(uint32_t verdict);
const char *cp_transport_to_string(uint32_t transport); /* "pipe", "socket", "invalid" */

/* True for text the protocol carries: printable bytes and UTF-8, no control characters. */
bool cp_text_valid(const char *s, size_t len);
