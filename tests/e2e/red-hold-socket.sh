#!/bin/bash
# Red team, property 2: a receiver that takes the kernel's connection and never reads it nor
# closes it (evil-receiver hold) must not keep the host service's place: once StallTimeoutSec=
# passes, the server's worker is gone (with MaxConcurrentDumps=1, another container's crash is
# served again) and the hog's crash has its host line; and the crashed process itself is not
# left dumping for ever (the host shuts the connection it shares with the receiver).
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket

install_pattern "MaxConcurrentDumps=1" "StallTimeoutSec=2" "TimeoutSec=2" "OutcomeTimeoutSec=4"
container_start hog
container_start victim
ct_exec hog /bin/sh -c 'exec /build/tests/evil-receiver hold /run/core_pipe.socket /run/evil.log </dev/null >/dev/null 2>&1 &'
wait_receiver_socket hog
start_receiver victim

(ct_exec hog /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name hog-hold --size 64' >/dev/null 2>&1 &)
for ((i = 0; i < 100; i++)); do
        grep -q "holding the core" "$(ct_root hog)/run/evil.log" 2>/dev/null && break
        sleep 0.1
done
check "the hog's receiver holds the kernel's connection" grep -q "holding the core" "$(ct_root hog)/run/evil.log"
check "the hog's crash gets its host line within the bounds" wait_for_log 'comm="hog-hold"' 20
diag "$(host_log | grep 'comm="hog-hold"' | cut -c1-300)"
show_victim() { diag "$(host_log | grep -E "comm=\"victim|MaxConcurrent" | cut -c1-300)"; }
NAME=vic-$RANDOM
# shellcheck disable=SC2016 # expanded by the inner shell
ct_exec victim /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null 2>&1
check "another container's crash is stored after the hog's stall" wait_for_log "comm=\"$NAME\" .*outcome=stored" 20
show_victim
hogpid=$(pgrep -f 'crasher --name hog-hold' | head -n 1)
for ((i = 0; i < 100; i++)); do
        [ -z "$hogpid" ] || ! proc_alive "$hogpid" && break
        sleep 0.1
done
diag "hog crasher: ${hogpid:-gone} $( [ -n "$hogpid" ] && grep -E 'State|CoreDumping' "/proc/$hogpid/status" 2>/dev/null | tr '\n' ' ')"
check "the hog's crashed process is not left dumping for ever" sh -c "[ -z '$hogpid' ] || ! kill -0 '$hogpid' 2>/dev/null || ! grep -q 'CoreDumping:.1' /proc/$hogpid/status"
