#!/bin/bash
# A host process crashes and no receiver listens on the host: the helper stores the core in the
# host's fallback store, root-only, and says so in the host log.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
if [ -e /run/core_pipe.socket ]; then
        skip_all "a receiver listens on this host's /run/core_pipe.socket"
fi
NAME=cpt-host-$RANDOM
pid=$(sh -c 'ulimit -c unlimited; exec "$1" --name "$2"' sh "$CRASHER" "$NAME")
diag "host crasher pid $pid"

STORE=$T/hoststore/host
check "core lands in the host fallback store" wait_for_file "$STORE/core.$NAME.*.json"
JSON=$(ls "$STORE"/core."$NAME".*.json 2>/dev/null | head -n1)
check "record: host pid" test "$(json_field "$JSON" pid)" = "$pid"
check "record: handled by the host fallback" test "$(json_field "$JSON" handled_by)" = host-fallback
check "gdb finds crash_here" shows_crash_here "${JSON%.json}.zst"
check "fallback store is root-only (0700)" test "$(stat -c %a "$STORE")" = 700
check "host log: origin host, stored by the fallback" \
        wait_for_log "pid=$pid comm=\"$NAME\" .*origin=host .*outcome=stored receiver=fallback .*why=\"no receiver at /run/core_pipe.socket"

# Fallback=drop: the operator chose not to keep cores without a receiver.
install_pattern "Fallback=drop"
NAME2=cpt-drop-$RANDOM
pid2=$(sh -c 'ulimit -c unlimited; exec "$1" --name "$2"' sh "$CRASHER" "$NAME2")
check "Fallback=drop: log line says dropped and why" \
        wait_for_log "pid=$pid2 comm=\"$NAME2\" .*outcome=dropped reason=\"no receiver at"
check "Fallback=drop: nothing stored" sh -c "! ls '$STORE' | grep -q '$NAME2'"
