#!/bin/bash
# core_pipe --serve --listen PATH (no service manager: it bound the socket itself) puts the pipe
# pattern back on SIGTERM when the pattern is its own @@PATH, with --pattern pipe's checks: the
# build's pipe pattern when its helper is there, else the pattern stays and the server says why.
# A pattern that is not its own is left alone.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket CORE_PIPE_SOCKET_SERVICE=resident

install_pattern
SOCK=$SHORT/kernel.socket
build_pattern=$(strings "$HELPER" | grep -m1 "^|/.*core_pipe F=%F ")
hpath=${build_pattern#|}
hpath=${hpath%% *}
diag "the build's pipe pattern: $build_pattern"

# Its own @@PATH at SIGTERM.
check "the pattern is the server's @@PATH" test "$(cat /proc/sys/kernel/core_pattern)" = "@@$SOCK"
kill -TERM "$SOCKET_SERVER_PID"
for ((i = 0; i < 100; i++)); do
        proc_alive "$SOCKET_SERVER_PID" || break
        sleep 0.1
done
now=$(cat /proc/sys/kernel/core_pattern)
diag "after SIGTERM: $now; server: $(tail -n 2 "$T/socket-server.log")"
if [ -x "$hpath" ] && [ "$(stat -c %u "$hpath")" = 0 ]; then
        check "the server put the build's pipe pattern back" test "$now" = "$build_pattern"
else
        check "the helper missing: the pattern stays" test "$now" = "@@$SOCK"
        check "and the server said why" grep -q "not writing .*$hpath" "$T/socket-server.log"
fi

# Another pattern at SIGTERM: left as it is.
install_pattern
write_pattern "core.%p.by-hand"
kill -TERM "$SOCKET_SERVER_PID"
for ((i = 0; i < 100; i++)); do
        proc_alive "$SOCKET_SERVER_PID" || break
        sleep 0.1
done
check "a pattern not its own is left as it is" test "$(cat /proc/sys/kernel/core_pattern)" = "core.%p.by-hand"
