#!/bin/bash
# The container's pid 1 crashes. When it is released it exits and the kernel kills every process
# of its pid namespace, the receiver too: the receiver must finish the core and its record
# before it lets the process go. The store is on a host directory (a volume), as it would have
# to be for the core to outlive the container.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
mkdir -p "$T/ctvar"
NAME=cpt-init-$$
CT_VAR=$T/ctvar CT_INIT="/build/tests/crasher --name $NAME --size 32 --wait-for /run/go" container_start init
start_receiver init
check "the crasher is the container's pid 1" test "$(ct_exec init cat /proc/1/comm)" = "$NAME"
touch "$(ct_root init)/run/go"

check "core stored in the container's volume" wait_for_file "$T/ctvar/lib/core_pipe/core.$NAME.*.json" 20
JSON=$(ls "$T"/ctvar/lib/core_pipe/core."$NAME".*.json 2>/dev/null | head -n1)
check "record: pid 1" test "$(json_field "$JSON" pid)" = 1
check "record: the whole core (not truncated)" test "$(json_field "$JSON" truncated)" = false
check "core decompresses to core_size bytes" test "$(zstd -q -d -c "${JSON%.json}.zst" | wc -c)" = "$(json_field "$JSON" core_size)"
check "gdb finds crash_here" shows_crash_here "${JSON%.json}.zst"
check "host log: stored by the container's receiver" wait_for_log "comm=\"$NAME\" .*origin=container .*outcome=stored receiver=container"
pid=$(ct_pid init)
for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
check "the container is gone afterwards" test ! -e "/proc/$pid"
