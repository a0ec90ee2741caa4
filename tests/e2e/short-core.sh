#!/bin/bash
# A short core is never called complete. The kernel stops writing a core when the process is
# killed during its dump (by hand, or by its memory cgroup's OOM killer); the receiver then sees
# the pipe end early, with no error. Its program headers say how long it must be: the record, the
# journal entry (where journald runs), the receiver's line and the host log line all say
# "truncated", the reason "short stream", the bytes expected and the cause. A core cut at
# RLIMIT_CORE names the limit; a receiver that took the core and died is "receiver-died" in the
# host log (never "handed-over"), with what the helper saw of the process.
#
# The dump is held still by stopping the container's receivers (SIGSTOP) once the process has
# written its first MiBs; the test then kills the process (or lets its cgroup's OOM killer do
# it), and lets the receivers go on.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
MEMCG_ROOT=/sys/fs/cgroup/memory

install_pattern
container_start sc
start_receiver sc
ROOT=$(ct_root sc)
STORE=$ROOT/var/lib/core_pipe

# crasher_pid NAME: the host pid of the crasher named NAME (bounded wait).
crasher_pid() {
        local i p
        for ((i = 0; i < 200; i++)); do
                p=$(pgrep -x "$1" | head -n1)
                [ -n "$p" ] && echo "$p" && return 0
                sleep 0.05
        done
        return 1
}

# wait_dumping PID MIB: until the process has written MIB MiB of its core (its wchar moves only
# by the dump once it crashed), bounded by 30 s.
wait_dumping() {
        local i w
        for ((i = 0; i < 600; i++)); do
                w=$(awk '$1 == "wchar:" {print $2}' "/proc/$1/io" 2>/dev/null) || return 1
                [ -n "$w" ] && [ "$w" -ge $(($2 << 20)) ] && return 0
                sleep 0.05
        done
        echo "process $1 did not write $2 MiB of its core" >&2
        return 1
}

receivers_signal() {
        local p
        for p in $(ct_receivers sc); do kill "-$1" "$p" 2>/dev/null; done
        return 0
}

# start_waiting_crasher NAME ARGS...: a crasher in the container that crashes when /run/go-NAME
# appears; prints its host pid. With $CRASH_MEMCG, it starts in that memory cgroup (pages are
# charged where they are first touched).
start_waiting_crasher() {
        local name=$1
        shift
        rm -f "$ROOT/run/go-$name"
        (
                [ -z "${CRASH_MEMCG:-}" ] || echo "$BASHPID" >"$CRASH_MEMCG/cgroup.procs"
                ct_exec sc /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$@"' sh "$name" "$@" \
                        --wait-for "/run/go-$name" >/dev/null 2>&1 &
        )
        crasher_pid "$name"
}

# check_short NAME CAUSE-REGEX: the record, the receiver's line and the host line of NAME's core
# agree that it is a short stream with that cause.
check_short() {
        local name=$1 cause=$2 json expected core
        check "$name: core stored" wait_for_file "$STORE/core.$name.*.json" 30
        json=$(ls "$STORE"/core."$name".*.json 2>/dev/null | head -n1)
        [ -n "$json" ] || json=/nonexistent
        expected=$(json_field "$json" core_expected_size 2>/dev/null || echo 0)
        core=$(json_field "$json" core_size 2>/dev/null || echo 0)
        diag "$name: expected $expected bytes, stored $core; cause: $(json_field "$json" truncated_cause 2>/dev/null)"
        check "$name: record: truncated" test "$(json_field "$json" truncated 2>/dev/null)" = true
        check "$name: record: reason short stream" test "$(json_field "$json" truncated_reason 2>/dev/null)" = "short stream"
        check "$name: record: cause" sh -c 'json_cause=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[\"truncated_cause\"])" "$1"); echo "$json_cause" | grep -Eq "$2"' sh "$json" "$cause"
        check "$name: record: fewer bytes than its program headers say" test "$core" -lt "$expected"
        check "$name: the stored file holds what the record says" \
                test "$(zstd -q -d -c "${json%.json}.zst" | wc -c)" = "$core"
        check "$name: receiver's line: short stream, bytes expected, cause" \
                grep -Eq "\($core bytes, [0-9]+ stored, truncated: short stream, $expected bytes expected: $cause" \
                "$ROOT/run/receiver.log"
        check "$name: host log: truncated=yes, expected bytes, reason and cause" \
                wait_for_log "comm=\"$name\" .*outcome=stored .*core_bytes=$core .*truncated=yes expected_bytes=$expected truncated_reason=\"short stream\" truncated_cause=\"$cause"
}

# Names stay within the kernel's 15 bytes of comm, whatever the pid.

# 1. Killed by SIGKILL during its dump: 512 MiB of mapping, zeros to the kernel, held still.
NAME=cpt-k-$$
pid=$(start_waiting_crasher "$NAME" --map 512)
touch "$ROOT/run/go-$NAME"
if wait_dumping "$pid" 8; then
        receivers_signal STOP
        kill -KILL "$pid"
        receivers_signal CONT
fi
check_short "$NAME" "the process was killed by SIGKILL during its dump"

# 2. OOM-killed by its memory cgroup during its dump: the crasher alone in a v1 memory cgroup of
# 96 MiB (swap included) with 64 MiB touched (and 512 MiB mapped, never touched: zeros in the
# core, charged to nobody, and time to catch the dump); once its dump runs and is held still, a
# second process of the cgroup takes 48 MiB and the OOM killer picks the largest task: the
# dumping one.
# The container sees the memory hierarchy (as an engine mounts it), so the receiver reads the
# counter itself; the helper reads it too.
if [ -f "$MEMCG_ROOT/memory.oom_control" ]; then
        MEMCG=$MEMCG_ROOT/cpt-short-$$
        mkdir "$MEMCG"
        trap 'pkill -KILL -x cpt-h-$$ 2>/dev/null; containers_stop_all; sleep 0.3; rmdir "$MEMCG" 2>/dev/null; tap_cleanup' EXIT
        echo $((96 << 20)) >"$MEMCG/memory.limit_in_bytes"
        echo $((96 << 20)) >"$MEMCG/memory.memsw.limit_in_bytes" 2>/dev/null || true
        ct_exec sc /bin/sh -c 'mkdir -p /sys/fs/cgroup/memory && mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory'
        NAME=cpt-o-$$
        pid=$(CRASH_MEMCG=$MEMCG start_waiting_crasher "$NAME" --map 512 --size 64)
        check "the crasher runs in the 96 MiB cgroup" grep -qx "$pid" "$MEMCG/cgroup.procs"
        for _ in $(seq 200); do
                [ "$(awk '$1 == "VmRSS:" {print $2}' "/proc/$pid/status")" -ge $((64 << 10)) ] && break
                sleep 0.05
        done
        before=$(awk '$1 == "oom_kill" {print $2}' "$MEMCG/memory.oom_control")
        touch "$ROOT/run/go-$NAME"
        if wait_dumping "$pid" 8; then
                receivers_signal STOP
                (echo "$BASHPID" >"$MEMCG/cgroup.procs" && exec "$CRASHER" --name "cpt-h-$$" --size 48 --wait-for /nonexistent) \
                        >/dev/null 2>&1 &
                for _ in $(seq 200); do
                        [ -d "/proc/$pid" ] || break
                        sleep 0.05
                done
                receivers_signal CONT
        fi
        after=$(awk '$1 == "oom_kill" {print $2}' "$MEMCG/memory.oom_control")
        diag "oom_kill in $MEMCG: $before -> $after"
        check "the cgroup's OOM killer struck" test "$after" -gt "$before"
        check_short "$NAME" "the process was OOM-killed by its memory cgroup \(oom_kill $before -> $after\)"
        check "host log: the helper's own count beside it" \
                wait_for_log "comm=\"$NAME\" .*truncated=yes .* oom_kill=\"$before -> $after\""
        pkill -KILL -x "cpt-h-$$" 2>/dev/null
else
        diag "no v1 memory controller at $MEMCG_ROOT: the OOM case is not run"
        must_run && check "the v1 memory controller is there" false
fi

# 3. Cut at RLIMIT_CORE by the receiver itself: the cause names the limit.
NAME=cpt-rl-$$
ct_exec sc /bin/sh -c 'ulimit -c 2048; exec /build/tests/crasher --name "$1" --size 8' sh "$NAME" >/dev/null 2>&1
wait_for_log "comm=\"$NAME\" " 30 2>/dev/null
diag "RLIMIT_CORE: host log: $(host_log | grep "comm=\"$NAME\" " | sed 's/.*outcome=/outcome=/')"
check "RLIMIT_CORE: core stored" wait_for_file "$STORE/core.$NAME.*.json"
json=$(ls "$STORE"/core."$NAME".*.json 2>/dev/null | head -n1)
[ -n "$json" ] || json=/nonexistent
check "RLIMIT_CORE: record: reason size limit, cause RLIMIT_CORE of 1048576 bytes" \
        test "$(json_field "$json" truncated_reason 2>/dev/null)/$(json_field "$json" truncated_cause 2>/dev/null)" = \
        "size limit/RLIMIT_CORE of 1048576 bytes"
check "RLIMIT_CORE: host log says the same" \
        wait_for_log "comm=\"$NAME\" .*truncated=yes expected_bytes=[0-9]+ truncated_reason=\"size limit\" truncated_cause=\"RLIMIT_CORE of 1048576 bytes\""

# 4. A whole core: not truncated, the expected size in the host log.
NAME=cpt-w-$$
ct_exec sc /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size 4' sh "$NAME" >/dev/null 2>&1
check "whole core: stored" wait_for_file "$STORE/core.$NAME.*.json"
json=$(ls "$STORE"/core."$NAME".*.json 2>/dev/null | head -n1)
[ -n "$json" ] || json=/nonexistent
check "whole core: not truncated, no reason, no cause, its expected size" \
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not (r["truncated"] is False and r["truncated_reason"] is None and r["truncated_cause"] is None and r["core_size"] == r["core_expected_size"]))' "$json"
check "whole core: host log truncated=no with expected_bytes" \
        wait_for_log "comm=\"$NAME\" .*outcome=stored .*truncated=no expected_bytes=$(json_field "$json" core_expected_size 2>/dev/null)"

# 5. The receiver that took the core dies (SIGKILL to the process serving the crash while it is
# held still): the host log says receiver-died, never handed-over, and how the process ended.
NAME=cpt-rd-$$
pid=$(start_waiting_crasher "$NAME" --map 512)
listener=$(ct_receivers sc | head -n1)
touch "$ROOT/run/go-$NAME"
if wait_dumping "$pid" 8; then
        receivers_signal STOP
        for p in $(ct_receivers sc); do [ "$p" = "$listener" ] || kill -KILL "$p"; done
        receivers_signal CONT
fi
check "receiver died: host log says receiver-died with the process's end" \
        wait_for_log "comm=\"$NAME\" .*outcome=receiver-died receiver=container note=\"[^\"]*\" process=\"(killed|exited)[^\"]*\"" 20
LINE=$(host_log | grep "comm=\"$NAME\" " | tail -n1)
diag "host log: ${LINE#*outcome=}"
check "receiver died: never called handed-over" \
        sh -c "! printf '%s' \"\$1\" | grep -q 'outcome=handed-over'" sh "$LINE"
