/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The host's log for programs that run outside any service manager (the kernel's pipe helper,
 * the fallback receiver it starts): one datagram to the syslog socket /dev/log when something
 * listens there (journald or a syslog daemon), else the kernel log (/dev/kmsg), so that a line
 * is never silently dropped on a host without a syslog daemon. Each message is one line.
 */

#include <syslog.h>

#include "macro.h"

/* Returns 0 when the line was accepted by /dev/log or /dev/kmsg, else a negative errno. */
int hostlog_send(int priority, const char *ident, const char *message);
int hostlog_sendf(int priority, const char *ident, const char *fmt, ...) _printf_(3, 4);
