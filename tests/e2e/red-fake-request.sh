#!/bin/bash
# Red team, property 3: only the kernel's own connections are treated as crashes. The server
# checks a connection's peer with PIDFD_INFO_COREDUMP ("is it dumping core?"), but the peer is
# whoever called connect(): a process that connects, writes a well-formed coredump request and a
# "core" of its own making, and then crashes itself has a peer that IS dumping core by the time
# the worker asks. Its forged connection must still get nothing: not handled as a crash (no
# second host log line, no second core stored, no ack), only the kernel's own connection is.
# The socket is made reachable to an unprivileged host user (the property's premise: a process
# that reaches the socket).
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
command -v python3 >/dev/null || skip_all "needs python3"
export CORE_PIPE_TRANSPORT=socket

install_pattern
SOCK=$SHORT/kernel.socket
chmod 0777 "$SOCK"
chmod o+x "$SHORT"
ATT=$T/attacker
mkdir -p "$ATT"
chmod 0777 "$ATT"
chmod o+x "$T"

# The kernel's request (size, size_ack, mask KERNEL|USERSPACE|REJECT|WAIT), the mark "accepted" (0) the
# kernel would send after the ack, then a "core" of its own making.
setpriv --reuid=65534 --regid=65534 --clear-groups -- /usr/bin/python3 -c '
import os, resource, signal, socket, struct, sys, time
resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
out = sys.argv[2]
conns = []
for i in range(8):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.send(struct.pack("<IIQI", 16, 16, 1 | 2 | 4 | 8, 0) + b"\x7fELF" + b"FORGED-CORE" * 1000)
    conns.append(s)
open(out + "/pid", "w").write(str(os.getpid()))
if os.fork() == 0:
    # Keeps the forged connections open (and drains the acks) while the server reads "cores".
    os.setsid()
    end = time.monotonic() + 8
    while time.monotonic() < end:
        for s in conns:
            s.setblocking(False)
            try:
                s.recv(4096)
            except OSError:
                pass
        time.sleep(0.05)
    os._exit(0)
os.kill(os.getpid(), signal.SIGSEGV)' "$SOCK" "$ATT" >/dev/null 2>&1
APID=$(cat "$ATT/pid")
diag "attacker pid $APID"
check "the kernel's own crash of the attacker is logged" wait_for_log "pid=$APID .*transport=socket" 15
sleep 10 # let a second, forged, crash finish (the negative check below polls no further)
lines=$(host_log | grep -c "pid=$APID ")
diag "$(host_log | cut -c1-300)"
check "one host log line for the attacker's pid (the forged connection is not a crash)" test "$lines" = 1
stored=$(find "$T/hoststore" -type f -name '*.zst' 2>/dev/null | wc -l)
diag "cores in the host store: $stored ($(find "$T/hoststore" -type f 2>/dev/null | tr '\n' ' '))"
forged=0
while IFS= read -r f; do
        [ "$(zstdcat "$f" 2>/dev/null | head -c 15 | tr -d '\0')" = "$(printf '\177ELFFORGED-CORE')" ] && forged=$((forged + 1))
done < <(find "$T/hoststore" -type f -name '*.zst' 2>/dev/null)
check "no stored core is the forged stream" test "$forged" = 0
