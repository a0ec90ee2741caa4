#!/bin/bash
# Red team, property 5: switching between pipe and socket mode never clobbers a pattern an
# operator set by hand. core_pipe-pattern.service runs `core_pipe --pattern socket` on start and
# `core_pipe --pattern pipe` on stop. An operator who set kernel.core_pattern by hand (here a
# plain file pattern, "core.%p") and then starts (or restarts, or a package upgrade restarts) the
# socket units must find their pattern again once the units stop; and `--pattern socket` must not
# replace a pattern that is not core_pipe's own pipe pattern without saying so.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket

install_pattern # a server listening at $SHORT/kernel.socket, the pattern pointed at it
SOCK=$SHORT/kernel.socket
HAND="core.%p.by-hand"
check "the operator sets a pattern by hand" write_pattern "$HAND"

start_out=$("$HELPER" --pattern socket --listen "$SOCK" 2>&1)
after_start=$(cat /proc/sys/kernel/core_pattern)
stop_out=$("$HELPER" --pattern pipe --listen "$SOCK" 2>&1)
after_stop=$(cat /proc/sys/kernel/core_pattern)
diag "--pattern socket: $start_out -> $after_start"
diag "--pattern pipe:   $stop_out -> $after_stop"
write_pattern "$SOCKET_PATTERN" >/dev/null
check "--pattern socket leaves a hand-set pattern alone, or --pattern pipe puts it back" \
        sh -c "[ '$after_start' = '$HAND' ] || [ '$after_stop' = '$HAND' ]"
check "the round trip socket -> pipe ends on the operator's pattern" test "$after_stop" = "$HAND"
