/* SPDX-License-Identifier: MIT */
#pragma once

/* JSON text this receiver wrote and reads back from a store the container may write: parsed as
 * untrusted input (json-c), one object and nothing after it but white space. */

#include <stddef.h>

struct json_object;

/* For _cleanup_(json_putp). */
void json_putp(struct json_object **o);

/* Parses len bytes of text (not necessarily terminated) nested at most max_depth deep: 0 and
 * *ret (put it with json_object_put()), -EBADMSG for anything but one object, -ENOMEM. */
int json_object_from_text(const char *text, size_t len, int max_depth, struct json_object **ret);
