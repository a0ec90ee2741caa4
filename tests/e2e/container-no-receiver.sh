#!/bin/bash
# A container without a receiver: the core goes to the host's fallback store, in that container's
# own sub-directory, and nothing at all is written into the container.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
container_start bare
ROOT=$(ct_root bare)
NAME=cpt-bare-$RANDOM
before=$(cd "$ROOT" && find run tmp var -xdev 2>/dev/null | sort | md5sum)
ct_exec bare /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null

check "host log: fallback for the container" \
        wait_for_log "comm=\"$NAME\" .*origin=container .*outcome=stored receiver=fallback .*containers/pidns-"
DIR=$T/hoststore/containers/$(ct_key bare)
check "core in the container's own fallback directory" wait_for_file "$DIR/core.$NAME.*.json"
check "not in the host processes' directory" test ! -e "$T/hoststore/host"
check "gdb finds crash_here" shows_crash_here $DIR/core.$NAME.*.zst
after=$(cd "$ROOT" && find run tmp var -xdev 2>/dev/null | sort | md5sum)
check "nothing written into the container" test "$before" = "$after"
check "container has no core store" test ! -e "$ROOT/var/lib/core_pipe"
