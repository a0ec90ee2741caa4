#!/bin/bash
# `ulimit -c 0` inside the container: the receiver declines before reading a byte, nothing is
# stored anywhere, and both the container's receiver and the host log say why.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
container_start cz
start_receiver cz
ROOT=$(ct_root cz)
NAME=cpt-zero-$RANDOM
pid=$(ct_exec cz /bin/sh -c 'ulimit -c 0; exec /build/tests/crasher --name "$1"' sh "$NAME")

check "host log: skipped by the container's receiver, RLIMIT_CORE 0" \
        wait_for_log "comm=\"$NAME\" .*outcome=skipped receiver=container reason=\"RLIMIT_CORE is 0"
check "receiver log in the container says why" \
        grep -q "Process $pid ($NAME) of user 0 crashed with signal 11; RLIMIT_CORE is 0 (ulimit -c 0), so no core was stored" "$ROOT/run/receiver.log"
check "nothing stored in the container" sh -c "! ls '$ROOT'/var/lib/core_pipe 2>/dev/null | grep -q '$NAME'"
check "nothing stored on the host" test ! -e "$T/hoststore"

# A limit above zero but below the core's size truncates there, and says so.
NAME2=cpt-small-$RANDOM
ct_exec cz /bin/sh -c 'ulimit -c 64; exec /build/tests/crasher --name "$1"' sh "$NAME2" >/dev/null
check "small RLIMIT_CORE: core stored" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME2.*.json"
JSON=$(ls "$ROOT"/var/lib/core_pipe/core."$NAME2".*.json 2>/dev/null | head -n1)
check "small RLIMIT_CORE: marked truncated" test "$(json_field "$JSON" truncated)" = true
# dash counts ulimit -c in 512-byte blocks: 64 blocks are 32768 bytes.
check "small RLIMIT_CORE: the record has the limit (32768)" test "$(json_field "$JSON" rlimit_core)" = 32768
check "small RLIMIT_CORE: exactly the limit kept" test "$(zstd -q -d -c "${JSON%.json}.zst" | wc -c)" = 32768
check "host log: truncated=yes" wait_for_log "comm=\"$NAME2\" .*outcome=stored .*core_bytes=32768 .*truncated=yes"
