#!/bin/bash
# Two containers crash at the same moment: each core lands in its own container, and neither
# container sees the other's core.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
container_start ca
container_start cb
start_receiver ca
start_receiver cb
A=cpt-a-$RANDOM
B=cpt-b-$RANDOM

# Both crash together, with 64 MiB each so the dumps overlap in time.
ct_exec ca /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --size 64 --name "$1"' sh "$A" >"$T/a.pid" &
pa=$!
ct_exec cb /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --size 64 --name "$1"' sh "$B" >"$T/b.pid" &
pb=$!
wait $pa $pb

RA=$(ct_root ca)
RB=$(ct_root cb)
check "container a stores its own core" wait_for_file "$RA/var/lib/core_pipe/core.$A.*.json" 20
check "container b stores its own core" wait_for_file "$RB/var/lib/core_pipe/core.$B.*.json" 20
check "container a holds nothing of b" sh -c "! ls '$RA'/var/lib/core_pipe/ | grep -q '$B'"
check "container b holds nothing of a" sh -c "! ls '$RB'/var/lib/core_pipe/ | grep -q '$A'"
check "exactly one core in each store" test "$(ls "$RA"/var/lib/core_pipe/*.zst | wc -l)/$(ls "$RB"/var/lib/core_pipe/*.zst | wc -l)" = 1/1
check "record a: pid seen in container a" test "$(json_field "$RA"/var/lib/core_pipe/core."$A".*.json pid)" = "$(cat "$T/a.pid")"
check "record b: hostname cb" test "$(json_field "$RB"/var/lib/core_pipe/core."$B".*.json hostname)" = cb
check "core a is whole (64 MiB filled)" test "$(json_field "$RA"/var/lib/core_pipe/core."$A".*.json core_size)" -gt 67108864
check "core b decompresses" zstd -q -t "$RB"/var/lib/core_pipe/core."$B".*.zst
check "gdb finds crash_here in core a" shows_crash_here $RA/var/lib/core_pipe/core.$A.*.zst
check "nothing reached the host's fallback store" test ! -e "$T/hoststore"
check "host log: a stored by its receiver" wait_for_log "comm=\"$A\".*outcome=stored receiver=container"
check "host log: b stored by its receiver" wait_for_log "comm=\"$B\".*outcome=stored receiver=container"
