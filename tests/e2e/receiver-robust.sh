#!/bin/bash
# One bad client cannot stop the resident receiver: garbage, an oversized datagram, a client that
# connects and says nothing, one that sends a request without credentials, every input of the
# protocol fuzz corpus, and hand-overs with the wrong descriptors are each turned away; the next
# real crash is still stored, and the receiver itself never dumps core.
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

# As a root client can: credentials naming a real process of the container, then hand-overs with
# descriptors that are not what the protocol says, and every protocol fuzz input as a request.
victim_ct=$(ct_exec rb /bin/sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo $!')
victim=
for p in $(ps -eo pid=,comm= | awk '$2=="sleep"{print $1}'); do
        [ "$(awk '/^NSpid/{print $3}' "/proc/$p/status")" = "$victim_ct" ] && victim=$p
done
diag "victim: container pid $victim_ct, host pid $victim"
python3 - "$SOCK" "$victim" "$(dirname "$0")/../fuzz/corpus/protocol" >"$T/fds.log" 2>&1 <<'PY'
import os, socket, struct, sys, time
path, victim, corpus = sys.argv[1], int(sys.argv[2]), sys.argv[3]
creds = [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack("iII", victim, 0, 0))]
body = struct.pack("<IIQQ", 11, 1, int(time.time()), 2**64 - 1)
request = struct.pack("<IHHI", 0x50495043, 1, 1, len(body)) + body
handover = struct.pack("<IHHI", 0x50495043, 1, 3, 0)
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(15)
    s.connect(path)
    return s
def attempt(label, fds):
    s = conn()
    s.sendmsg([request], creds)
    verdict = s.recv(4096)
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("%di" % len(fds), *fds))]
    s.sendmsg([handover], anc)
    try:
        print(label, "->", s.recv(4096))
    except Exception as e:
        print(label, "->", repr(e))
    s.close()
f = os.open("/etc/hostname", os.O_RDONLY)
r, w = os.pipe()
me = os.pidfd_open(os.getpid())
them = os.pidfd_open(victim)
attempt("regular file", [f, them])
attempt("write end", [w, them])
attempt("three fds", [r, them, f])
attempt("wrong pidfd", [r, me])
n = 0
for name in sorted(os.listdir(corpus)):
    s = conn()
    s.sendmsg([open(os.path.join(corpus, name), "rb").read()], creds)
    try:
        s.recv(4096)
    except Exception:
        pass
    s.close()
    n += 1
print("corpus inputs sent:", n)
PY
RLOG=$ROOT/run/receiver.log
grep -i "hand-over" "$RLOG" | sed "s/^/# /"
check "hand-over of a regular file is refused" grep -q "core descriptor is not a pipe" "$RLOG"
check "hand-over of a pipe's write end is refused" grep -q "core descriptor is not read-only" "$RLOG"
check "hand-over with three descriptors is refused" grep -q "Malformed hand-over" "$RLOG"
check "hand-over with another process's pidfd is refused" grep -q "pidfd names another process" "$RLOG"
check "every protocol fuzz input was sent" grep -Eq "corpus inputs sent: [1-9][0-9]+" "$T/fds.log"
check "the daemon is still listening after all of it" test -S "$SOCK"
check "nothing was stored for the fake crashes" sh -c "! ls '$ROOT/var/lib/core_pipe' 2>/dev/null | grep -q '\.sleep\.'"

NAME=cpt-rob-$RANDOM
ct_exec rb /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null
check "the next crash is stored in the container" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME.*.json"

# The receiver does not dump core itself (it is not dumpable): killed by SIGSEGV, it leaves no
# crash for the helper.
rpid=$(ct_receivers rb | head -n1)
check "found the container's receiver" test -n "$rpid"
kill -SEGV "$rpid"
sleep 1
check "the killed receiver is gone" test ! -e "/proc/$rpid"
no_helper_line() {
        ! host_log | grep -q "pid=$1 "
}
check "no crash of the receiver reached the helper" no_helper_line "$rpid"
