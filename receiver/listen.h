/* SPDX-License-Identifier: MIT */
#pragma once

#include "connection.h"
#include "init.h"

/* Creates the listening socket at path (mode 0600; a stale socket there is replaced, anything
 * else is an error). Returns the socket. */
int listen_socket_create(const char *path);

/*
 * Accept loop of the resident daemon (and of an Accept=no socket unit). Every connection is
 * served in a child process of its own, so that a bad request or a crash while storing cannot
 * take the daemon down; at most max_children are served at once, the others wait in the
 * backlog. Runs until SIGTERM or SIGINT, then waits for the children in flight.
 */
int listen_loop(int listen_fd, unsigned max_children, const struct receiver_options *o);

/*
 * The same loop as the container's init: with the socket already listening, runs cmd as a child,
 * forwards every signal it can to it, reaps every process that ends (orphans included), and
 * returns once cmd has ended and every crash in flight (also one still waiting in the backlog) is
 * stored and reported. *ret_status is cmd's wait status.
 */
int init_loop(int listen_fd, unsigned max_children, const struct receiver_options *o, const struct init_command *cmd,
              int *ret_status);
