#!/bin/bash
# Red team, property 5 (the pattern switch never leaves a pattern that loses every core) and 2
# (the service keeps serving). `core_pipe --pattern socket` and `core_pipe --serve --listen` ask
# /proc/net/unix whether "a socket listens at PATH". That file lists every socket of the network
# namespace by the path string it was bound to, whatever mount namespace it was bound in. An
# unprivileged host user (its own user and mount namespace, the host's network namespace: no
# privilege at all on the host), or any container that shares the host's network, mounts a tmpfs
# over the directory and listens at the same path name. Then, while no host server listens:
#   - `core_pipe --pattern socket` must not write @@PATH (the kernel would find nobody on the
#     host's PATH and skip every crash on the machine);
#   - `core_pipe --serve --listen PATH` must still start (else the host service cannot come up).
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
command -v python3 >/dev/null || skip_all "needs python3"

install_pattern
SOCK=$SHORT/kernel.socket
rm -f "$SOCK"
check "pipe mode to start with" test "$(cat /proc/sys/kernel/core_pattern)" = "$PIPE_PATTERN"
check "no host server listens at $SOCK" sh -c "! grep -q ' $SOCK\$' /proc/net/unix"

# The impostor: nobody (uid 65534), in a user and mount namespace of its own.
# shellcheck disable=SC2016 # expanded by the inner shell
setpriv --reuid=65534 --regid=65534 --clear-groups --pdeathsig KILL -- \
        unshare -Urm -- sh -c 'mount -t tmpfs impostor "$1" && exec /usr/bin/python3 -c "
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(1); time.sleep(120)" "$1/kernel.socket"' sh "$SHORT" \
        >>"$T/impostor.log" 2>&1 &
IMPOSTOR=$!
for ((i = 0; i < 100; i++)); do
        unix_listening "$SOCK" && break
        sleep 0.1
done
check "the unprivileged impostor listens at the same path name, in its own mount namespace" unix_listening "$SOCK"
check "the host's $SOCK is not a socket (nobody listens there on the host)" test ! -S "$SOCK"

out=$("$HELPER" --pattern socket --listen "$SOCK" 2>&1)
now=$(cat /proc/sys/kernel/core_pattern)
diag "core_pipe --pattern socket: $out"
diag "kernel.core_pattern now: $now"
# Evidence that the pattern loses cores: a host crash finds nobody on the host's path.
if [ "$now" = "@@$SOCK" ]; then
        ( ulimit -c unlimited; exec "$CRASHER" --name cpt-spoof-lost ) >/dev/null 2>&1
        sleep 0.5
        diag "kernel log: $(dmesg | grep -i 'coredump' | tail -n 2)"
fi
write_pattern "$PIPE_PATTERN" >/dev/null
check "core_pipe --pattern socket did not write @@PATH while no host server listens" test "$now" != "@@$SOCK"

# The host service must still be able to start there.
"$HELPER" --serve --listen "$SOCK" --config "$SHORT/pipe.conf" >"$T/serve.log" 2>&1 &
SERVE=$!
for ((i = 0; i < 50; i++)); do
        [ -S "$SOCK" ] && break
        proc_alive "$SERVE" || break
        sleep 0.1
done
diag "core_pipe --serve --listen: $(cat "$T/serve.log")"
check "core_pipe --serve --listen starts although an impostor elsewhere uses the path name" test -S "$SOCK"
kill "$SERVE" 2>/dev/null
wait "$SERVE" 2>/dev/null
kill "$IMPOSTOR" 2>/dev/null
wait "$IMPOSTOR" 2>/dev/null
rm -f "$SOCK"
