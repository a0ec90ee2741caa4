#!/bin/bash
# The service is stopped (SIGTERM) while a crash is in flight on the kernel's coredump socket. The
# server stops taking crashes at once (a crash after that is skipped by the kernel, without a
# core, and does not wait), lets the dump in flight finish (stored whole), and exits 0. A worker
# that cannot finish (a receiver sitting on its verdict) is ended after the server's bound, and
# its crashed process is released: nothing hangs.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket CORE_PIPE_SOCKET_SERVICE=resident

# dumping NAME: true while a process named NAME is in the middle of its core dump.
dumping() {
        local p
        for p in $(pgrep -x "$1"); do
                grep -q '^CoreDumping:[[:space:]]*1' "/proc/$p/status" 2>/dev/null && return 0
        done
        return 1
}
wait_dumping() {
        for _ in $(seq 200); do
                dumping "$1" && return 0
                sleep 0.05
        done
        return 1
}
# server_stopped_within SECONDS: polls until the server exited; STOP_RC is its status.
server_stopped_within() {
        local i
        for ((i = 0; i < $1 * 20; i++)); do
                proc_alive "$SOCKET_SERVER_PID" || break
                sleep 0.05
        done
        proc_alive "$SOCKET_SERVER_PID" && return 1
        STOP_RC=$(cat "$T/socket-server.status" 2>/dev/null)
        SOCKET_SERVER_PID=
}

install_pattern
container_start st
start_receiver st
ROOT=$(ct_root st)

# ---- 1. A dump of 8 GiB (zeros: quick to store) in flight when SIGTERM comes. ----------------
NAME=cpt-stop-$$
ct_crash_status st unlimited --name "$NAME" --map 8192 >"$T/a.status" &
check "the big crash is dumping" wait_dumping "$NAME"
t0=$(date +%s%N)
kill -TERM "$SOCKET_SERVER_PID"
# The listening socket goes first: a crash now finds nobody.
stopped_listening() {
        for _ in $(seq 100); do
                unix_listening "$SHORT/kernel.socket" || return 0
                sleep 0.05
        done
        return 1
}
check "the server no longer listens once told to stop" stopped_listening
NAME2=cpt-late-$$
out=$(ct_crash_status st unlimited --name "$NAME2")
diag "a crash after SIGTERM: $out"
check "a crash after SIGTERM: no core, and it did not wait (${out##*ms=} ms)" \
        sh -c "[ '${out% ms=*}' = 'signal=11 core=0' ] && [ '${out##*ms=}' -lt 5000 ]"
check "the server exits once the dump in flight is done" server_stopped_within 40
diag "the server exited $((($(date +%s%N) - t0) / 1000000)) ms after SIGTERM, status $STOP_RC"
check "the server exited 0" test "$STOP_RC" = 0
wait
out=$(cat "$T/a.status")
diag "the crash in flight: $out"
check "the crash in flight was dumped whole (core flag) and reaped" test "${out% ms=*}" = "signal=11 core=1"
check "the crash in flight is stored in the container" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME.*.json"
JSON=$(ls "$ROOT"/var/lib/core_pipe/core."$NAME".*.json 2>/dev/null | head -n1)
check "the crash in flight: not truncated" test "$(json_field "$JSON" truncated)" = false
check "the crash in flight: one host log line, stored" wait_for_log "comm=\"$NAME\" .*transport=socket .*outcome=stored receiver=container"

# ---- 2. A receiver that never gives its verdict: the server's bound ends the worker. ----------
install_pattern "TimeoutSec=60s"
container_start hold
SHARE=$(ct_share)
install -m 0755 "$BUILD/tests/slow-receiver" "$SHARE/tests/slow-receiver"
ct_exec hold /bin/sh -c 'exec /build/tests/slow-receiver hold /run/core_pipe.socket /run/slow.log </dev/null >/dev/null 2>&1 &'
wait_for_file "$(ct_root hold)/run/core_pipe.socket"
NAME3=cpt-held-$$
ct_crash_status hold unlimited --name "$NAME3" >"$T/b.status" &
check "the held crash reached the receiver" sh -c "for i in \$(seq 100); do grep -q request '$(ct_root hold)/run/slow.log' && exit 0; sleep 0.1; done; exit 1"
t0=$(date +%s%N)
kill -TERM "$SOCKET_SERVER_PID"
check "the server exits within its bound of 30 s and a few more" server_stopped_within 40
STOP_MS=$((($(date +%s%N) - t0) / 1000000))
diag "the server exited $STOP_MS ms after SIGTERM, status $STOP_RC"
check "the server exited 0" test "$STOP_RC" = 0
check "not before its bound: the worker had 30 s ($STOP_MS ms)" test "$STOP_MS" -ge 29000
wait
out=$(cat "$T/b.status")
diag "the held crash: $out"
check "the held crash's process was released" test "${out%% *}" = "signal=11"
check "the held crash: nothing stored by the receiver that held it" sh -c "! ls '$(ct_root hold)/var/lib/core_pipe' 2>/dev/null | grep -q '$NAME3'"
check "the held crash: one host log line says the stop ended it" wait_for_log "comm=\"$NAME3\" "
