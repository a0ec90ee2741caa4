/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A crash's signature, and crash loops told apart by it.
 *
 * The signature names where a program crashed, the same for every run of one build whatever
 * ASLR did: a hash of the crashing thread's top SIGNATURE_FRAMES frames, each by its function
 * and its module's file name (never an address). A frame whose function is unknown (no symbol)
 * counts by its module and its offset within that module, which ASLR does not move either. The
 * frames of the C library's abort and raise path at the top (abort(), raise(), assert's report)
 * are skipped first: every failed assertion would otherwise have one signature.
 *
 * The hash is 64-bit FNV-1a over "module\n function\n" per frame ("module\n +0xOFFSET\n" for a
 * frame without a function), written as 16 lowercase hex digits. It is not a secret and resists
 * no forgery: a container can only make its own crashes alike.
 *
 * Crash loops (MaxCoresPerSignature= within Interval=): per signature, a window that opens at its
 * first crash and lasts Interval=; the first MaxCoresPerSignature= crashes of a window keep their
 * core, the later ones are repeats (their record and log line, no core). The state is a small
 * text file in the store (LOOP_STATE_FILE), read and replaced under the store's lock, so that it
 * survives restarts and every receiver of the store agrees. It is bounded (LOOP_STATE_ENTRIES
 * signatures; the oldest window makes way) and read as untrusted input: whoever runs as root in
 * the container can write it, and can only make its own crashes repeats or not.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGNATURE_FRAMES 5
#define SIGNATURE_HEX_LEN 16

struct signature_frame {
        const char *function; /* NULL or "" when unknown */
        const char *module;   /* its file's path (NT_FILE), NULL or "" when unknown */
        uint64_t module_offset;
};

/*
 * The signature of frames (the crashing thread's, innermost first) into ret (17 bytes). Returns
 * the number of frames hashed (> 0), or -ENODATA when not one frame has a function or a module.
 */
int signature_compute(const struct signature_frame *frames, size_t n, char ret[SIGNATURE_HEX_LEN + 1]);

/* The file name of a module path, without " (deleted)" (NT_FILE's mark of a deleted file). Into
 * out, at most size bytes with the NUL; "" for NULL. */
void signature_module_name(const char *path, char *out, size_t size);

#define LOOP_STATE_FILE ".signatures"
#define LOOP_STATE_ENTRIES 1024U
/* Bytes of the state file read at most (an entry takes 16 + 1 + 20 + 1 + 10 + 1 bytes). */
#define LOOP_STATE_TEXT_MAX (LOOP_STATE_ENTRIES * 64U)

struct loop_entry {
        char signature[SIGNATURE_HEX_LEN + 1];
        uint64_t window_start; /* realtime usec of the window's first crash */
        uint32_t count;        /* crashes of the signature in that window */
};

struct loop_state {
        struct loop_entry *entries;
        size_t n;
};

/*
 * Parses the state's text (len bytes, not necessarily NUL-terminated): one entry a line,
 * "SIGNATURE WINDOW_START COUNT". Lines that are not exactly that, entries whose window has ended
 * (window_start + interval <= now) or starts after now, and a second entry of one signature are
 * dropped; at most LOOP_STATE_ENTRIES are kept. Returns 0 (*ret: free with loop_state_done()), or
 * -ENOMEM.
 */
int loop_state_parse(const char *text, size_t len, uint64_t now_usec, uint64_t interval_usec, struct loop_state *ret);

/* The state as text, in the format loop_state_parse() reads; NULL on allocation failure. */
char *loop_state_format(const struct loop_state *s);

/*
 * Counts one crash of signature at now: its window's count goes up by one (a new window opens
 * when there is none or it has ended; when the state is full, the entry whose window opened first
 * makes way). Returns this crash's number in its window (1 for the first), or -ENOMEM.
 */
int loop_state_count(struct loop_state *s, const char *signature, uint64_t now_usec, uint64_t interval_usec);

void loop_state_done(struct loop_state *s);

struct loop_verdict {
        bool repeat;           /* beyond MaxCoresPerSignature= in its window: keep no core */
        unsigned nth;          /* this crash's number in its window (1 for the first) */
        unsigned kept;         /* cores of the window kept (MaxCoresPerSignature= once it repeats) */
        uint64_t window_start; /* realtime usec */
};

/*
 * One crash of signature in the store dirfd, at now: counted in LOOP_STATE_FILE, and the verdict.
 * max 0: no crash-loop handling (never a repeat, nothing counted). Call with the store's lock held.
 * The state is read only if it is a regular file of ours (store_open_own_file()) and replaced by
 * rename from a name created O_EXCL|O_NOFOLLOW. Returns 0, or a negative errno (the crash should
 * then keep its core).
 */
int crash_loop_admit(int dirfd, const char *signature, unsigned max, uint64_t interval_usec, uint64_t now_usec,
                     struct loop_verdict *ret);
