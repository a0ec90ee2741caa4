#!/bin/bash
# Storing a core must not kill the process being dumped. A container's resident receiver and its
# app share one memory cgroup (v1, seen in the container as docker shows it); the app fills
# 256 MiB, then the cgroup's limit is set just above what is in use and the app crashes:
#   - 8 MiB of headroom: the receiver sizes its store to it and stores the whole core, and the
#     cgroup's OOM killer never runs (a receiver that takes the memory it takes with plenty,
#     13-14 MiB, pushes the cgroup over its limit: the dumping app is killed, its core cut);
#   - 2 MiB of headroom (the pipe takes about 1 MiB of it): the receiver refuses before the first
#     byte with a reason starting "memory:", and the host's fallback, run in a cgroup without
#     limit (FallbackCgroup=/), stores the whole core.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
MEMCG_ROOT=/sys/fs/cgroup/memory
[ -f "$MEMCG_ROOT/memory.limit_in_bytes" ] || skip_all "needs the v1 memory controller at $MEMCG_ROOT"
SIZE=256

install_pattern "FallbackCgroup=/"
mkdir -p "$T/ctvar"
MEMCG=$MEMCG_ROOT/cpt-headroom-$$
mkdir "$MEMCG"
trap 'containers_stop_all; for _ in $(seq 50); do rmdir "$MEMCG" 2>/dev/null && break; sleep 0.1; done; tap_cleanup' EXIT

CT_VAR=$T/ctvar container_start hr
start_receiver hr
listener=$(ct_receivers hr | head -n1)
echo "$listener" >"$MEMCG/cgroup.procs"
# docker on cgroup v1: the container's own cgroup of the memory hierarchy at /sys/fs/cgroup/memory.
ct_mount_memcg hr "$MEMCG"
check "the receiver runs in the memory cgroup, which the container sees" \
        sh -c "grep -qx '$listener' '$MEMCG/cgroup.procs' && test -f '$(ct_root hr)/sys/fs/cgroup/memory/memory.usage_in_bytes'"

oom_kills() {
        sed -n 's/^oom_kill //p' "$MEMCG/memory.oom_control"
}

# crash_with_headroom NAME MIB: the app (in the cgroup) fills SIZE MiB, the limit is set to what
# the cgroup uses plus MIB, the app crashes; waits until the host's log has its line.
crash_with_headroom() {
        local name=$1 mib=$2 base limit
        rm -f "$(ct_root hr)/run/go" "$T/crasher.out"
        echo -1 >"$MEMCG/memory.memsw.limit_in_bytes" 2>/dev/null || true
        echo -1 >"$MEMCG/memory.limit_in_bytes"
        (
                echo "$BASHPID" >"$MEMCG/cgroup.procs"
                CT_TIMEOUT=120 ct_exec hr /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size "$2" --wait-for /run/go' \
                        sh "$name" "$SIZE" >"$T/crasher.out" 2>&1
        ) &
        for _ in $(seq 600); do [ -s "$T/crasher.out" ] && break; sleep 0.1; done
        sync
        echo 1 >/proc/sys/vm/drop_caches
        base=$(cat "$MEMCG/memory.usage_in_bytes")
        limit=$((base + (mib << 20)))
        echo "$limit" >"$MEMCG/memory.limit_in_bytes"
        echo "$limit" >"$MEMCG/memory.memsw.limit_in_bytes" 2>/dev/null || true
        echo 0 >"$MEMCG/memory.max_usage_in_bytes"
        KILLS_BEFORE=$(oom_kills)
        touch "$(ct_root hr)/run/go"
        wait
        wait_for_log "comm=\"$name\" .*outcome=" 60
        PEAK=$(($(cat "$MEMCG/memory.max_usage_in_bytes") - base))
        echo -1 >"$MEMCG/memory.memsw.limit_in_bytes" 2>/dev/null || true
        echo -1 >"$MEMCG/memory.limit_in_bytes"
}

# --- 8 MiB of headroom: stored in the container, whole, nobody killed.
NAME=cpt-hr8-$$
crash_with_headroom "$NAME" 8
diag "8 MiB of headroom: the cgroup's peak rose $((PEAK >> 10)) KiB; $(host_log | grep "comm=\"$NAME\"" | tail -n1)"
check "8 MiB: no OOM kill in the cgroup" test "$(oom_kills)" = "$KILLS_BEFORE"
check "8 MiB: stored by the container's receiver" wait_for_file "$T/ctvar/lib/core_pipe/core.$NAME.*.json" 10
JSON=$(ls "$T"/ctvar/lib/core_pipe/core."$NAME".*.json 2>/dev/null | head -n1)
check "8 MiB: the whole core (over $SIZE MiB), not truncated" \
        test "${JSON:+$(json_field "$JSON" core_size)}" -gt $((SIZE << 20)) -a "${JSON:+$(json_field "$JSON" truncated)}" = false
check "8 MiB: gdb finds the crashing function in the core" shows_crash_here "${JSON%.json}.zst"
check "8 MiB: the receiver said it stored with smaller buffers" \
        grep -q "MiB of headroom in our memory cgroup: storing the core" "$(ct_root hr)/run/receiver.log"

# --- Little headroom: refused for memory, stored whole by the host's fallback. The receiver's
# handler takes about 1.5 MiB of it before its verdict (2 MiB built with AddressSanitizer) and the
# core's first pipe buffers up to 1 MiB more; with 2 MiB the two together OOM-killed the crasher
# now and then. 3 MiB (4 with the sanitizer) leaves room for both, and the handler still sees
# less than the 3 MiB the smallest store needs.
# Over the kernel's socket no pipe buffer is charged to the cgroup before the verdict (the
# kernel's socket buffers are not the container's): 3 MiB with the sanitizer too, else the
# receiver sees room enough and stores the core whole itself.
SMALL=3
[ "${CORE_PIPE_SANITIZE:-none}" = none ] || [ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ] || SMALL=4
NAME=cpt-hr2-$$
crash_with_headroom "$NAME" "$SMALL"
line=$(host_log | grep "comm=\"$NAME\"" | tail -n1)
diag "$SMALL MiB of headroom: $line"
check "$SMALL MiB: no OOM kill in the cgroup" test "$(oom_kills)" = "$KILLS_BEFORE"
check "$SMALL MiB: the container's receiver refused before the first byte, for memory" \
        grep -q 'Refusing the core of pid [0-9]* (cpt-hr2-[0-9]*): memory: .* MiB of headroom in the cgroup, .* MiB needed' \
        "$(ct_root hr)/run/receiver.log"
check "$SMALL MiB: nothing stored in the container" sh -c "! ls '$T'/ctvar/lib/core_pipe/core.$NAME.* 2>/dev/null"
check "$SMALL MiB: the host log names the refusal and the fallback stored the whole core" \
        grep -Eq 'outcome=stored receiver=fallback .*truncated=no .*why="[^"]*memory: ' <<<"$line"
FB=$(ls "$T"/hoststore/containers/*/core."$NAME".*.json 2>/dev/null | head -n1)
check "$SMALL MiB: the fallback's core is whole" \
        test "${FB:+$(json_field "$FB" core_size)}" -gt $((SIZE << 20)) -a "${FB:+$(json_field "$FB" truncated)}" = false
check "the resident receiver is still running" test -d "/proc/$listener"
