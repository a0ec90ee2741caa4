#!/bin/bash
# A crashed process gone before anyone looks at it (issue 16): the container's receiver holds
# its verdict while the process is SIGKILLed in the middle of its dump and reaped, then refuses.
# The helper read the process's cgroups while it was pinned, so its fallback still starts in
# them, and the fallback receiver stores what the pipe still holds, with the metadata of the
# core's own notes, marked truncated "short stream" with the cause. Before: the core was
# dropped ("cannot read the cgroups of pid N").
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

# wait_text FILE TEXT: waits (10 s at most) until FILE holds TEXT.
wait_text() {
        for _ in $(seq 100); do
                grep -q -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.1
        done
        return 1
}
# wait_gone PID: waits (10 s at most) until PID is reaped.
wait_gone() {
        for _ in $(seq 100); do
                [ -d "/proc/$1" ] || return 0
                sleep 0.1
        done
        return 1
}

SHARE=$(ct_share)
install -m 0755 "$BUILD/tests/slow-receiver" "$SHARE/tests/slow-receiver"
install_pattern "LogRateLimitBurst=0"
container_start gb
ct_exec gb /bin/sh -c 'exec /build/tests/slow-receiver hold /run/core_pipe.socket /run/slow.log </dev/null >/dev/null 2>&1 &'
wait_for_file "$(ct_root gb)/run/core_pipe.socket"

name=gb-$$
# shellcheck disable=SC2016 # expanded by the container's shell
ct_exec gb /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --map 64' sh "$name" \
        </dev/null >/dev/null 2>&1 &
crash_shell=$!
check "the container's receiver holds the verdict" wait_text "$(ct_root gb)/run/slow.log" request
pid=$(pgrep -x "$name" | head -n1)
check "the crashed process is found on the host" test -n "$pid"
kill -KILL "$pid"
# Reaped by its parent (the shell of ct_exec, which then exits).
check "the crashed process is reaped" wait_gone "$pid"
wait "$crash_shell" 2>/dev/null
touch "$(ct_root gb)/run/slow.log.go"
check "the fallback stores what the pipe held" wait_for_log "comm=\"$name\" .*outcome=stored receiver=fallback"
line=$(host_log | grep "comm=\"$name\" " | tail -n1)
diag "$line"
check "it is marked truncated" grep -q 'truncated=yes' <<<"$line"
check "with reason short stream" grep -q 'truncated_reason="short stream"' <<<"$line"
check "and the cause SIGKILL" grep -q 'SIGKILL' <<<"$line"
check "no line says the core was dropped" bash -c "! grep -q 'comm=\"$name\" .*cannot read the cgroups' <<<\"\$1\"" sh "$(host_log)"
# Its name, record and log line: the process's, from the core's notes (its comm and its pid in its
# own namespace), not "core.unknown.0...." (stored under a name made before the notes were read).
file=$(sed -n 's/.* file="\([^"]*\)".*/\1/p' <<<"$line")
diag "stored as $file"
check "the core is named after the crashed process" grep -qE "^core\\.$name\\.[0-9]+\\.[0-9a-f]+\\.[1-9][0-9]*\\." <<<"$file"
json=$(ls "$T"/hoststore/containers/*/"${file%.zst}.json" 2>/dev/null | head -n1)
check "its record is beside it" test -n "$json"
check "its record names the process" test "$(json_field "$json" comm)" = "$name"
check "its record has the pid of the core's notes" test "$(json_field "$json" pid)" -gt 0
