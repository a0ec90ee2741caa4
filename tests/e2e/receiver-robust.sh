#!/bin/bash
# One bad client cannot stop the resident receiver: garbage, an oversized datagram, a client that
# connects and says nothing, and one that sends a request without credentials are each turned
# away, and the next real crash is still stored.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
container_start rb
start_receiver rb
ROOT=$(ct_root rb)
SOCK=$ROOT/run/core_pipe.socket

python3 - "$SOCK" >"$T/clients.log" 2>&1 <<'PY'
import socket, struct, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(15)
    s.connect(path)
    return s
def answer(s):
    try:
        return s.recv(4096)
    except Exception as e:
        return repr(e).encode()
s = conn(); s.send(b"\xff" * 40); print("garbage ->", answer(s)); s.close()
s = conn(); s.send(b"A" * 60000); print("oversized ->", answer(s)); s.close()
s = conn(); s.close(); print("silent close")
# A well-formed request, but sent without SCM_CREDENTIALS.
body = struct.pack("<IIQQ", 11, 1, int(time.time()), 2**64 - 1)
s = conn(); s.send(struct.pack("<IHHI", 0x50495043, 1, 1, len(body)) + body); print("no creds ->", answer(s)); s.close()
# Protocol version 9.
s = conn(); s.send(struct.pack("<IHHI", 0x50495043, 9, 1, len(body)) + body); print("version 9 ->", answer(s)); s.close()
PY
cat "$T/clients.log" | sed 's/^/# /'
check "garbage is refused" grep -q "garbage -> b'CPIP.*malformed request" "$T/clients.log"
check "oversized datagram gets no verdict" grep -q "oversized -> b''" "$T/clients.log"
# Without explicit SCM_CREDENTIALS the kernel attaches the client's own (SO_PASSCRED): a host
# process, invisible in the container's pid namespace, so there is no crash to take.
check "request carrying only a host client's own credentials is refused" \
        grep -q "no creds -> b.CPIP.*crashed process not visible in the receiver's pid namespace" "$T/clients.log"
check "other protocol version is refused, naming both" grep -q "version 9 -> .*protocol version 9 not supported (this receiver speaks 1)" "$T/clients.log"
check "the receiver logged each bad client" test "$(grep -c 'warning' "$ROOT/run/receiver.log")" -ge 4
check "the daemon is still listening" test -S "$SOCK"

NAME=cpt-rob-$RANDOM
ct_exec rb /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null
check "the next crash is stored in the container" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME.*.json"
