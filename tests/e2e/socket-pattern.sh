#!/bin/bash
# core_pipe --pattern: the switch between the pipe helper and the kernel's coredump socket.
# "socket" writes @@PATH only while a socket listens at PATH (the kernel would skip every crash on
# one nobody listens to), never by connecting to it (to the server a connection is a crash), and
# reads the pattern back; it replaces only core_pipe's own patterns (this build's pipe pattern, or
# its @@PATH). "pipe" puts the pipe pattern back only over a pattern of its own, and only when the
# build's helper is there to run.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
CP=$BUILD/pipe/core_pipe
S=$SHORT/pattern-test.socket

CORE_PIPE_TRANSPORT=pipe install_pattern # takes the lock, saves the settings, restores them at the end
# The pipe pattern this build writes and replaces (its installed helper's path).
BUILD_PATTERN=$(strings -n 8 "$CP" | grep -m1 '^|/.*core_pipe F=%F ')
BUILD_HELPER=${BUILD_PATTERN#|}
BUILD_HELPER=${BUILD_HELPER%% *}
pattern() {
        cat /proc/sys/kernel/core_pattern
}
# entries PATH: the sockets at PATH in /proc/net/unix: the listener, and one more for each
# connection made to it (accepted or waiting in its backlog).
entries() {
        awk -v path="$1" '$NF == path' /proc/net/unix | wc -l
}

# ---- nothing there, or a socket that does not listen: the pattern stays --------------------
rm -f "$S"
"$CP" --pattern socket --listen "$S" >"$T/out" 2>&1
rc=$?
check "nothing at PATH: refused (status $rc)" test "$rc" -ne 0
check "nothing at PATH: says so" grep -q "no socket listens there" "$T/out"
check "nothing at PATH: the pattern stays" test "$(pattern)" = "$PIPE_PATTERN"

python3 -c 'import os, socket, sys, time
os.umask(0o177)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1])
open(sys.argv[1] + ".ready", "w").close(); time.sleep(60)' "$S" &
BOUND=$!
wait_for_file "$S.ready" >/dev/null
"$CP" --pattern socket --listen "$S" >"$T/out" 2>&1
rc=$?
check "a socket bound but not listening: refused (status $rc)" test "$rc" -ne 0
check "a socket bound but not listening: the pattern stays" test "$(pattern)" = "$PIPE_PATTERN"
kill "$BOUND"
wait "$BOUND" 2>/dev/null
rm -f "$S" "$S.ready"

# ---- a listener that never accepts: taken, and not connected to --------------------------------
python3 -c 'import os, socket, sys, time
os.umask(0o177)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(8)
open(sys.argv[1] + ".ready", "w").close(); time.sleep(60)' "$S" &
LISTENER=$!
wait_for_file "$S.ready" >/dev/null
"$CP" --pattern socket --listen "$S" >"$T/out" 2>&1
rc=$?
check "listening, over another pipe pattern (the test's): refused (status $rc)" test "$rc" -ne 0
check "  and the pattern stays" test "$(pattern)" = "$PIPE_PATTERN"
check "  and it names the pattern it leaves" grep -qF "$PIPE_PATTERN" "$T/out"
write_pattern "$BUILD_PATTERN"
"$CP" --pattern socket --listen "$S" >"$T/out" 2>&1
rc=$?
check "listening, over this build's pipe pattern: taken (status $rc)" test "$rc" = 0
check "listening: the pattern is @@PATH, read back" test "$(pattern)" = "@@$S"
check "listening: the output says the new pattern" grep -qF "kernel.core_pattern = @@$S" "$T/out"
check "listening: nobody connected to the socket (one entry in /proc/net/unix: the listener)" test "$(entries "$S")" = 1

# ---- back to the pipe: only over our own pattern --------------------------------------------
"$CP" --pattern pipe --listen "$S" >"$T/out" 2>&1
rc=$?
if [ -x "$BUILD_HELPER" ]; then
        check "pipe: done (status $rc)" test "$rc" = 0
        check "pipe: the pattern is the build's pipe pattern" test "$(pattern)" = "$BUILD_PATTERN"
else
        # Not installed here: a pipe pattern naming no helper would fail every crash.
        check "pipe, the build's helper $BUILD_HELPER not installed: refused (status $rc)" test "$rc" -ne 0
        check "  the socket pattern stays" test "$(pattern)" = "@@$S"
        check "  and it says why" grep -qF "not writing $BUILD_PATTERN" "$T/out"
fi
diag "pipe: $(cat "$T/out")"
write_pattern "@@$S"
"$CP" --pattern pipe --listen "$SHORT/other.socket" >"$T/out" 2>&1
check "pipe: a socket pattern of another path is left alone" test "$(pattern)" = "@@$S"
write_pattern "core.%p"
"$CP" --pattern pipe --listen "$S" >"$T/out" 2>&1
rc=$?
check "pipe: another tool's pattern is left alone (status $rc)" test "$(pattern)" = "core.%p"
check "pipe: and it says so" grep -q "left as it is" "$T/out"
kill "$LISTENER"
wait "$LISTENER" 2>/dev/null
rm -f "$S" "$S.ready"

# ---- a path the kernel cannot take ------------------------------------------------------------
write_pattern "$PIPE_PATTERN"
LONG=/run/$(printf 'x%.0s' $(seq 110))
"$CP" --pattern socket --listen "$LONG" >"$T/out" 2>&1
rc=$?
check "a path of 108 bytes or more: refused (status $rc)" test "$rc" -ne 0
check "a path of 108 bytes or more: the pattern stays" test "$(pattern)" = "$PIPE_PATTERN"
