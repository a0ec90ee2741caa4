#!/bin/bash
# The receiver's command line and socket: --listen PATH and --listen=PATH, a 0600 socket owned
# by root, no inherited descriptors kept, a clear refusal to replace a file that is not a
# socket, and usage errors exit 2.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
[ "$(id -u)" = 0 ] || skip_all "needs root"

R=$RECEIVER
# The daemon is started with a stray descriptor (7, a pipe's write end) it must not keep.
mkfifo "$T/stray"
exec 8<>"$T/stray"
"$R" --listen "$T/a.sock" --store "$T/store" 2>"$T/a.log" 7>"$T/stray" &
pa=$!
exec 8>&-
"$R" --listen="$T/b.sock" --store "$T/store" 2>"$T/b.log" &
pb=$!
check "--listen PATH creates the socket" wait_for_file "$T/a.sock" 5
check "--listen=PATH creates the socket" wait_for_file "$T/b.sock" 5
check "socket is mode 0600, owned by root" test "$(stat -c '%a %U %F' "$T/a.sock")" = "600 root socket"
check "the daemon closed the descriptors it inherited beyond stdio" test ! -e "/proc/$pa/fd/7"
kill -TERM $pa $pb
wait $pa
check "SIGTERM stops the daemon with status 0" test $? = 0
wait $pb
check "the socket is removed on exit" test ! -e "$T/a.sock"

touch "$T/file"
"$R" --listen "$T/file" 2>"$T/c.log"
check "a regular file in the way: exit 1" test $? = 1
check "...with a message naming it" grep -q "Cannot listen on $T/file.*not a socket" "$T/c.log"
check "...and the file is left alone" test -f "$T/file"
"$R" --store relative 2>/dev/null
check "relative --store is a usage error (2)" test $? = 2
"$R" 2>"$T/d.log"
check "no socket and no --listen: usage error (2)" test $? = 2
check "...with a hint to use --listen" grep -q "use --listen" "$T/d.log"
"$R" --compress-level 99 2>/dev/null
check "--compress-level out of range is a usage error" test $? = 2
check "--help names --listen" sh -c "'$R' --help | grep -q -- '--listen'"

# A listening socket from the service manager (Accept=no): the receiver serves it like --listen.
if command -v systemd-socket-activate >/dev/null; then
        systemd-socket-activate --seqpacket -l "$T/act.sock" "$R" --store "$T/store" 2>"$T/act.log" &
        pact=$!
        wait_for_file "$T/act.sock" 5
        python3 - "$T/act.sock" >"$T/act.out" 2>&1 <<'PY'
import socket, sys
for i in range(2):   # two connections: the same listening receiver serves both
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(sys.argv[1])
    s.send(b"not a request")
    print(s.recv(4096))
    s.close()
PY
        check "Accept=no: a passed listening socket is served, connection after connection" \
                test "$(grep -c 'malformed request' "$T/act.out")" = 2
        kill -TERM $pact
        wait $pact
        check "Accept=no: SIGTERM stops it with status 0" test $? = 0
else
        check "systemd-socket-activate is available (systemd package)" false
fi
