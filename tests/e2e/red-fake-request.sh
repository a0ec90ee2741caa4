#!/bin/bash
# Red team, property 3: only the kernel's own connections are treated as crashes. The server
# checks a connection's peer with PIDFD_INFO_COREDUMP ("is it dumping core?"), but the peer is
# whoever called connect(): a process that connects, writes a well-formed coredump request and a
# "core" of its own making, and then crashes itself has a peer that IS dumping core by the time
# the worker asks. The defence: only root can reach the socket, so
#   - core_pipe refuses at start to serve a socket others can reach (a directory others can
#     write, a socket file with group/other access): an unprivileged forger's connection gets
#     nothing at all;
#   - with the socket as it must be (root's, 0600), a forger is root; still, the kernel makes
#     exactly one connection per crash, so a second connection from a process whose crash is
#     being handled is REJECTed ("not the kernel's") and gets nothing.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
command -v python3 >/dev/null || skip_all "needs python3"
command -v systemd-socket-activate >/dev/null || skip_all "needs systemd-socket-activate"
export CORE_PIPE_TRANSPORT=socket CORE_PIPE_SOCKET_SERVICE=resident

install_pattern
SOCK=$SHORT/kernel.socket

# 1. Refused at start. --serve --listen in a directory others can write to:
OPEN=$SHORT/open-$$
mkdir -p "$OPEN"
chmod 0777 "$OPEN"
out=$(timeout 10 "$HELPER" --serve --listen "$OPEN/kernel.socket" --config "$SHORT/pipe.conf" 2>&1)
rc=$?
diag "--serve --listen $OPEN/kernel.socket: rc=$rc: $out"
check "--serve refuses a socket in a directory others can write to" \
        sh -c "[ $rc = 1 ] && printf '%s' \"\$1\" | grep -q 'not serving $OPEN: a directory others can write to'" sh "$out"
rm -rf "$OPEN"

# ... and --socket (systemd's Accept=yes) behind a socket anyone may connect to (0666): an
# unprivileged forger's request gets no answer at all.
OPENSOCK=$SHORT/open-$$.socket
systemd-socket-activate --accept -l "$OPENSOCK" -- "$HELPER" --socket --config "$SHORT/pipe.conf" \
        >"$T/activate.log" 2>&1 &
ACTIVATE=$!
for ((i = 0; i < 100; i++)); do
        unix_listening "$OPENSOCK" && break
        sleep 0.05
done
chmod 0666 "$OPENSOCK"
got=$(setpriv --reuid=65534 --regid=65534 --clear-groups -- /usr/bin/python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.send(struct.pack("<IIQI", 16, 16, 1 | 2 | 4 | 8, 0) + b"\x7fELF" + b"FORGED-CORE" * 100)
s.settimeout(10)
try:
    print(len(s.recv(4096)))
except ConnectionResetError:  # closed with the forged bytes unread: nothing came back either
    print(0)' "$OPENSOCK" 2>&1)
for ((i = 0; i < 100; i++)); do
        grep -q "not serving" "$T/activate.log" && break
        sleep 0.05
done
diag "forger on a 0666 socket read: $got; $(grep core_pipe "$T/activate.log" | cut -c1-200)"
check "--socket refuses a socket others can reach (said)" grep -q "not serving $OPENSOCK: a socket that group or other can reach" "$T/activate.log"
check "the unprivileged forger's connection got no byte (no ack)" test "$got" = 0
kill "$ACTIVATE" 2>/dev/null
wait "$ACTIVATE" 2>/dev/null
rm -f "$OPENSOCK"

# 2. The socket as it must be: the forger is root. Its two connections, queued while the server
# is stopped, come before the kernel's; the first is handled as its crash (the forger could make
# the core whatever it likes anyway), the second must get nothing: REJECTed as not the kernel's.
ATT=$T/attacker
mkdir -p "$ATT"
# The server itself (the library's keeper runs it): stopped, it accepts nothing meanwhile.
SERVER=$(pgrep -P "$SOCKET_SERVER_PID" | head -n1)
kill -STOP "$SERVER"
/usr/bin/python3 -c '
import os, resource, signal, socket, struct, sys, time
resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
out = sys.argv[2]
conns = []
for i in range(2):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.send(struct.pack("<IIQI", 16, 16, 1 | 2 | 4 | 8, 0) + b"\x7fELF" + b"FORGED-CORE" * 1000)
    conns.append(s)
open(out + "/pid", "w").write(str(os.getpid()))
if os.fork() == 0:
    # Holds both connections and writes down the ack the second one gets (its mask; "" for none).
    os.setsid()
    conns[1].settimeout(20)
    try:
        ack = conns[1].recv(16)
        mask = str(struct.unpack("<IIQ", ack)[2]) if len(ack) == 16 else ""
    except OSError:
        mask = ""
    open(out + "/second.tmp", "w").write(mask)
    os.rename(out + "/second.tmp", out + "/second")
    time.sleep(5)
    os._exit(0)
os.kill(os.getpid(), signal.SIGSEGV)' "$SOCK" "$ATT" >/dev/null 2>&1 &
FORGER=$!
for ((i = 0; i < 100; i++)); do
        [ -s "$ATT/pid" ] && grep -q "^State:.*[DRS]" /proc/"$(cat "$ATT/pid")"/status 2>/dev/null &&
                grep -q "CoreDumping:.*1" /proc/"$(cat "$ATT/pid")"/status 2>/dev/null && break
        sleep 0.05
done
kill -CONT "$SERVER"
wait "$FORGER" 2>/dev/null
APID=$(cat "$ATT/pid")
diag "forger pid $APID"
check "the forger's second connection is REJECTed as not the kernel's" \
        wait_for_log "pid=$APID .*a second connection from a crash in progress: not the kernel's" 20
for ((i = 0; i < 200; i++)); do
        [ -e "$ATT/second" ] && break
        sleep 0.1
done
diag "$(host_log | grep "pid=$APID " | cut -c1-250)"
check "the second connection got a REJECT ack (mask 4), never KERNEL" test "$(cat "$ATT/second" 2>/dev/null)" = 4
# The first connection is the crash's worker: its line says what became of the crash, or, when the
# kernel's own connection was REJECTed first and the process is gone before the worker asked for
# it, that the connection was closed without a core. Either way one line, never none.
FIRST="pid=${APID}[ :].*(transport=socket|a connection on the coredump socket: .*closed without a core)"
wait_for_log "$FIRST" 20 >/dev/null
stored=$(find "$T/hoststore" -type f -name '*.zst' 2>/dev/null | wc -l)
diag "cores in the host store: $stored"
check "at most one core stored for the forger's crash" test "$stored" -le 1
diag "$(host_log | grep -E "$FIRST" | cut -c1-250)"
check "one line for the forger's first connection (its crash, or closed without a core)" \
        test "$(host_log | grep -cE "$FIRST")" = 1
check "three connections, three lines: nothing handled silently" \
        test "$(host_log | grep -c "pid=${APID}[ :]")" = 3
