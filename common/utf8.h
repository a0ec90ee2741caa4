/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Text from a crashed process or its container (comm, hostname, command line, paths) may hold
 * any byte. A JSON record must be valid UTF-8 (RFC 8259), and json-c copies bytes >= 0x80 as
 * they come: what goes into a record is made valid first.
 */

#include <stdbool.h>
#include <stddef.h>

/* U+FFFD REPLACEMENT CHARACTER, as UTF-8: stands for each byte that is not part of a valid
 * sequence. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd"

/*
 * Length of the valid UTF-8 sequence at s (at most len bytes), or 0 if the byte at s does not
 * start one: a truncated sequence, a stray continuation byte, an overlong encoding, a surrogate
 * (U+D800..U+DFFF), a code point above U+10FFFF, or 0xC0, 0xC1, 0xF5..0xFF. NUL is a valid
 * sequence of length 1. len must be at least 1.
 */
size_t utf8_sequence_length(const unsigned char *s, size_t len);

/* Whether s[0..len) is valid UTF-8 throughout. */
bool utf8_is_valid(const char *s, size_t len);

/*
 * A newly allocated copy of s[0..len), NUL-terminated, in which every byte that does not begin
 * a valid sequence is replaced by U+FFFD (three bytes): valid text is copied unchanged, and the
 * result is always valid UTF-8. NUL bytes inside s are copied (the caller knows *ret_len).
 * Returns NULL on allocation failure; *ret_len (if not NULL) is the result's length.
 */
char *utf8_make_valid(const char *s, size_t len, size_t *ret_len);
