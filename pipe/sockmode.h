/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The host's coredump socket (kernel.core_pattern = @@PATH): the kernel connects to it for every
 * crash, and core_pipe handles each connection through the same path as a piped crash (crash.c).
 *
 *   core_pipe --socket [--config PATH]
 *       one connection the service manager accepted (Accept=yes: LISTEN_FDS=1, fd 3).
 *   core_pipe --serve [--config PATH] [--listen PATH]
 *       resident: the listening socket from the service manager (Accept=no, LISTEN_FDS=1) or bound
 *       at PATH by itself; a forked worker per connection, at most MaxConcurrentDumps= at once
 *       (a crash over that is REJECTed and logged); SIGTERM stops accepting, gives the workers
 *       SERVE_STOP_SEC to finish, then ends them, and exits 0. With --listen (no service manager:
 *       nobody else restores it) the pipe pattern is put back first when the pattern is its own
 *       "@@PATH", as --pattern pipe does; with systemd's socket core_pipe-pattern.service does it.
 *   core_pipe --pattern socket|pipe [--listen PATH]
 *       switches kernel.core_pattern (pattern.c).
 */

#define CORE_PIPE_KERNEL_SOCKET "/run/core_pipe/kernel.socket"
#define SERVE_STOP_SEC 30

/* Runs one of the modes above from the command line; returns the exit status. */
int service_main(int argc, char *argv[]);

/* Handles one accepted connection of the kernel's (the connection is closed on return). Returns
 * a negative errno when it could not be handled (logged). */
int socket_handle_connection(int conn, const char *config_path);

/* core_pipe --pattern: writes "@@" + path while a socket listens there, or restores the pipe
 * pattern when the current one is ours. Returns the exit status. */
int pattern_main(const char *which, const char *path);

/* core_pipe --pattern pipe: puts the pipe pattern back when the current one is "@@" + path and the
 * pipe pattern's helper is there (said on stdout/stderr). Returns the exit status (0, or 1 when
 * ours stays for want of a helper or the write failed). */
int pattern_restore_pipe(const char *path);
