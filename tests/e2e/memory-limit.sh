#!/bin/bash
# The container's own limits hold: its receiver runs in a memory cgroup of 64 MiB, as a
# container's service would, and stores the whole core of a 1 GiB process of the same container
# (its page cache charged to that cgroup too) without being OOM-killed.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
MEMCG_ROOT=/sys/fs/cgroup/memory
[ -f "$MEMCG_ROOT/memory.limit_in_bytes" ] || skip_all "needs the v1 memory controller at $MEMCG_ROOT"

install_pattern
mkdir -p "$T/ctvar"
MEMCG=$MEMCG_ROOT/cpt-receiver-$$
mkdir "$MEMCG"
trap 'containers_stop_all; sleep 0.2; rmdir "$MEMCG" 2>/dev/null; tap_cleanup' EXIT
echo $((64 << 20)) >"$MEMCG/memory.limit_in_bytes"
# No swap to fall back on: the limit is the limit.
echo $((64 << 20)) >"$MEMCG/memory.memsw.limit_in_bytes" 2>/dev/null || true

CT_VAR=$T/ctvar container_start mem
start_receiver mem
listener=$(ct_receivers mem | head -n1)
echo "$listener" >"$MEMCG/cgroup.procs"
check "the receiver runs in the 64 MiB cgroup" grep -qx "$listener" "$MEMCG/cgroup.procs"

NAME=cpt-mem-$$
ct_exec mem /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size 1024' sh "$NAME" >/dev/null 2>&1
check "the 1 GiB core is stored" wait_for_file "$T/ctvar/lib/core_pipe/core.$NAME.*.json" 60
JSON=$(ls "$T"/ctvar/lib/core_pipe/core."$NAME".*.json 2>/dev/null | head -n1)
core_size=$(json_field "$JSON" core_size)
diag "core_size $core_size, stored $(json_field "$JSON" stored_size), cgroup peak $(cat "$MEMCG/memory.max_usage_in_bytes")"
check "the whole core: over 1 GiB and not truncated" \
        test "$core_size" -gt $((1 << 30)) -a "$(json_field "$JSON" truncated)" = false
check "the core decompresses with its checksum" zstd -q -t "${JSON%.json}.zst"
check "no OOM kill in the receiver's cgroup" sh -c "! grep -q '^oom_kill [1-9]' '$MEMCG/memory.oom_control'"
check "the cgroup's usage never passed 64 MiB" test "$(cat "$MEMCG/memory.max_usage_in_bytes")" -le $((64 << 20))
check "the resident receiver is still running" test -d "/proc/$listener"
check "host log: stored by the container's receiver" wait_for_log "comm=\"$NAME\" .*outcome=stored receiver=container"
