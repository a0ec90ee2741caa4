/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The receiver's log. Only the program's top layer (main, the connection handler) logs; helpers
 * return negative errno values. Targets:
 *   LOG_TARGET_STDERR  resident daemon or a terminal: "<level>: message" on stderr;
 *   LOG_TARGET_HOST    started by the host helper as its fallback: /dev/log, else /dev/kmsg;
 *   LOG_TARGET_JOURNAL where journald runs (its socket exists): structured, via libsystemd.
 */

#include <syslog.h>

#include "macro.h"

enum log_target {
        LOG_TARGET_STDERR,
        LOG_TARGET_HOST,
        LOG_TARGET_JOURNAL,
};

void log_set_target(enum log_target t);
enum log_target log_get_target(void);
/* Journal when journald's socket is there, else stderr. */
enum log_target log_default_target(void);
void log_set_max_level(int level);
/* The program name every line carries ("core_pipe-receiver" unless set; a static string). */
void log_set_ident(const char *name);

void log_msg(int level, const char *fmt, ...) _printf_(2, 3);
/* Logs the message followed by ": <strerror(error)>" and returns error (a negative errno). */
int log_errno(int level, int error, const char *fmt, ...) _printf_(3, 4);

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_error_errno(e, ...) log_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_errno(LOG_WARNING, (e), __VA_ARGS__)
