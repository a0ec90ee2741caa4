#!/bin/bash
# A full backlog on the kernel's coredump socket: the server does not accept (stopped), its
# listen backlog is small (2: the server runs in a network namespace whose net.core.somaxconn is
# 2), and 12 processes crash at once. The kernel connects without waiting: the crashes the backlog
# cannot take are skipped at once, without a core, with the kernel's log line; the ones queued wait
# for the server and, once it goes on, are stored, each with its host log line. Nothing hangs.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket CORE_PIPE_SOCKET_SERVICE=resident
N=12

# kernel_log: the kernel's lines since the test started.
kernel_log() {
        dmesg 2>/dev/null | awk -v start="$TEST_START_UPTIME" '{
                if (match($0, /^\[ *[0-9.]+\] /)) {
                        ts = substr($0, 2, RLENGTH - 3) + 0
                        if (ts >= start) print substr($0, RLENGTH + 1)
                }
        }'
}
# alive NAME: how many processes named NAME have not ended (zombies have: the container's init
# does not reap them).
alive() {
        local p n=0 state
        for p in $(pgrep -x "$1"); do
                state=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)
                [ -n "$state" ] && [ "$state" != Z ] && n=$((n + 1))
        done
        echo "$n"
}
# alive_at_most NAME N SECONDS
alive_at_most() {
        local i
        for ((i = 0; i < $3 * 20; i++)); do
                [ "$(alive "$1")" -le "$2" ] && return 0
                sleep 0.05
        done
        return 1
}

SOCKET_SERVER_SOMAXCONN=2 install_pattern
container_start bl
start_receiver bl
ROOT=$(ct_root bl)
NAME=cpt-bl-$$

kill -STOP -- "-$SOCKET_SERVER_PID"
ct_storm_ready bl "$N" "$NAME"
check "$N crashers wait" test "$(alive "$NAME")" -eq "$N"
ct_storm_go bl
check "the crashes over the backlog are released at once (at most 4 still wait after 5 s)" alive_at_most "$NAME" 4 5
# The skipped ones end within milliseconds of each other: the count is taken once it held still
# for half a second (bounded: 10 s).
settled() {
        local last=-1 same=0 n
        for _ in $(seq 100); do
                n=$(alive "$1")
                if [ "$n" = "$last" ]; then same=$((same + 1)); else same=0; fi
                [ "$same" -ge 5 ] && { echo "$n"; return 0; }
                last=$n
                sleep 0.1
        done
        echo "$n"
}
queued=$(settled "$NAME")
diag "$queued of $N crashes wait in the backlog of the stopped server"
check "some crashes wait in the backlog ($queued)" test "$queued" -ge 1
skipped=$(kernel_log | grep -c "Coredump socket $SHORT/kernel.socket receive queue full")
diag "the kernel logged $skipped of the $((N - queued)) skipped crashes (its log is rate limited)"
check "the kernel says why it skipped them" test "$skipped" -ge 1

kill -CONT -- "-$SOCKET_SERVER_PID"
check "once the server goes on, every crash ends (30 s)" alive_at_most "$NAME" 0 30
stored() {
        ls "$ROOT"/var/lib/core_pipe/core."$NAME".*.json 2>/dev/null | wc -l
}
wait_stored() {
        for _ in $(seq 100); do
                [ "$(stored)" -ge "$1" ] && return 0
                sleep 0.1
        done
        return 1
}
check "each queued crash is stored in the container ($queued)" wait_stored "$queued"
check "and no other ($(stored))" test "$(stored)" -eq "$queued"
# The helper's line for a stored core comes once the receiver has made its backtrace.
lines() {
        host_log | grep -c "comm=\"$NAME\" .*transport=socket .*outcome=stored"
}
for _ in $(seq 300); do
        [ "$(lines)" -ge "$queued" ] && break
        sleep 0.1
done
check "one host log line for each crash the server took" test "$(lines)" -eq "$queued"
ct_exec bl /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "after-$$" >/dev/null 2>&1
check "the server still serves: a crash now is stored" wait_for_file "$ROOT/var/lib/core_pipe/core.after-$$.*.json"
