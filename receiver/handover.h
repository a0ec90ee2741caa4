/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the helper hands over after SEND (protocol.h, HANDOVER): the core's descriptor, whose kind
 * the request's transport names, and the crashed process's pidfd. Nothing is read from either
 * here: each is only looked at, and whatever does not match is refused with a reason.
 *
 *   CP_TRANSPORT_PIPE    the read end of the kernel's pipe (a FIFO opened read-only);
 *   CP_TRANSPORT_SOCKET  the connection the kernel made to the host's coredump socket
 *                        (kernel.core_pattern = @@PATH), accepted by the helper: a connected
 *                        AF_UNIX SOCK_STREAM socket whose peer is the crashed process itself.
 *
 * The peer of the kernel's connection is the crashing task (the kernel connects in its context
 * and registers its pid before connecting): the socket's SO_PEERPIDFD names the same process as
 * the handed pidfd (one pidfs inode per process), which also holds once the process is reaped.
 * Where SO_PEERPIDFD is not there (a kernel before 6.5, which has no coredump socket either, or
 * a seccomp filter), SO_PEERCRED's pid, translated into our pid namespace, must be the pidfd's.
 *
 * Never logs; returns 0 or a negative errno with *ret_why (a static sentence) saying what is
 * wrong.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The pidfd must name pid as our pid namespace sees it; with may_be_gone, a process already
 * reaped (the pidfd says -1) is taken too: the request proved whose it was.
 */
int handover_check_pidfd(int pidfd, pid_t pid, bool may_be_gone, const char **ret_why);

/* The core's descriptor for transport (enum cp_transport), against the pidfd already checked. */
int handover_check_core_fd(uint32_t transport, int core_fd, int pidfd, const char **ret_why);

/* Whether sock is a connected AF_UNIX SOCK_STREAM socket whose peer is the process of pidfd. */
int handover_check_socket(int sock, int pidfd, const char **ret_why);
