#!/bin/bash
# The uploader takes only the CPU and the disk that nothing else wants: while it uploads (here to a
# server that accepts and never reads, so that the upload stays in progress), the receiver's
# uploader process and every thread of it run under SCHED_IDLE, at idle I/O priority, and the
# crash it uploads was released and recorded without waiting for it.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

cat >"$T/hold.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
held = []
while True:
    held.append(s.accept()[0])  # kept open, never read
PY
PORT=$(free_port)
server_spawn hold "$T/hold.log" python3 "$T/hold.py" "$PORT"
check "a server that accepts and never reads listens on 127.0.0.1" server_wait hold "$PORT" "$T/hold.log"

install_pattern
container_start u
upload_conf u "Upload=http://127.0.0.1:$PORT/x" "UploadRetryDelay=1s"
start_receiver u --config=/run/receiver.conf
NAME=cpt-upi-$RANDOM # the comm (15 characters at most) names the record
upload_crash u "$NAME" --size 32
wait_record_of() {
        for _ in $(seq 1200); do
                JSON=$(store_record u "$NAME")
                [ -n "$JSON" ] && [ -s "${JSON%.json}.zst" ] && return 0
                sleep 0.05
        done
        return 1
}
check "the core is stored and recorded while its upload hangs" wait_record_of

# uploader_pid: the receiver process of the container connected to the holding server.
uploader_pid() {
        local p
        for p in $(ct_receivers u); do
                ss -tnpH "dport = :$PORT" 2>/dev/null | grep -q "pid=$p," && echo "$p" && return 0
        done
        return 1
}
wait_uploader() {
        for _ in $(seq 200); do uploader_pid >/dev/null && return 0; sleep 0.05; done
        return 1
}
check "the uploader is connected to the server (the upload is in progress)" wait_uploader
UP=$(uploader_pid)
diag "uploader pid $UP, listener $(ct_receivers u | head -n1)"
# policy: 0 SCHED_OTHER, 5 SCHED_IDLE (/proc/PID/task/TID/sched)
policies() { sed -n 's/^policy *: *//p' /proc/"$UP"/task/*/sched | sort -u | tr '\n' ' '; }
check "every thread of the uploader runs under SCHED_IDLE (policy 5): $(policies)" test "$(policies)" = "5 "
check "the uploader's I/O priority is idle: $(ionice -p "$UP")" sh -c "ionice -p '$UP' | grep -q '^idle'"
LISTENER=$(ct_receivers u | head -n1)
check "the listening receiver itself keeps the normal policy" \
        test "$(sed -n 's/^policy *: *//p' /proc/"$LISTENER"/sched)" = 0
