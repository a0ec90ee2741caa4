/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What a crash's backtrace adds to the record, the log line and the journal entry
 * (core_pipe-receiver(8), THE RECORD and THE JOURNAL).
 *
 * The record: "signature" (null when none), "backtrace_error" (null when the backtrace is
 * whole), "backtrace" {threads: [{tid, crashed, cut, frames: [{pc, module, build_id, offset,
 * function, function_offset, file, line, inlined}]}], modules: [{path, build_id, start, end,
 * elf, debug, package}], capture: {...}, usec}, the crashing thread first; and for a repeat of a
 * crash loop "repeat" {nth, kept, window_start_usec, interval_usec}, with core_file null. The
 * record's "threads" stays the number of threads (format 1).
 */

#include <stddef.h>

#include "trace.h"

struct json_object;

/* Adds the keys above to a record (nothing when the trace is off: Backtrace=no says so). */
void trace_record_add(struct json_object *o, const struct crash_trace *t);

/* The log line's words: ", signature S", ", repeat N of signature S within Interval=: ...",
 * ", no backtrace: WHY", or "" when the trace is off. */
void trace_describe(const struct crash_trace *t, char *out, size_t size);

/*
 * The journal's MESSAGE: line, then as `coredumpctl info` shows systemd's own entries, a blank
 * line, a "Module NAME with build-id ID" (or "Module NAME from TYPE NAME-VERSION, build-id=ID"
 * where the module's package note says it) line per module, and each thread's stack trace.
 * NULL when there is nothing to add (the line alone is the message) or on allocation failure.
 */
char *trace_journal_message(const struct crash_trace *t, const char *line);

/* COREDUMP_PACKAGE_JSON's value: {"PATH": {"buildId": ..., and the package note's keys}} for
 * every module with a build-id; NULL when none. */
char *trace_package_json(const struct crash_trace *t);
