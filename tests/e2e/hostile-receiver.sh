#!/bin/bash
# The receiver inside the container is hostile or broken: it never accepts, hangs up, never
# answers, answers garbage or too much, takes the core and never reads it, or tries to take the
# helper's descriptors. The helper gives each at most its timeout, then the host fallback keeps
# the core; a receiver that sits on a handed-over core gets the dump ended.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern "TimeoutSec=2s" "StallTimeoutSec=2s"

# evil_in CONTAINER MODE: a hostile receiver on the container's /run/core_pipe.socket.
evil_in() {
        container_start "$1"
        ct_exec "$1" /bin/sh -c 'exec /build/tests/evil-receiver "$1" /run/core_pipe.socket /run/evil.log </dev/null >/dev/null 2>&1 &' sh "$2"
        wait_for_file "$(ct_root "$1")/run/core_pipe.socket"
}

# Before the hand-over: each costs at most TimeoutSec (2 s), then the fallback stores the core.
for mode in noaccept close silent garbage oversized; do
        evil_in "e$mode" "$mode"
        name=cp-${mode:0:5}-$$ # comm holds 15 bytes
        timed_crash "e$mode" "$name"
        case $mode in
        noaccept | silent) why="waiting for the verdict: Connection timed out" ;;
        close) why="(waiting for the verdict|sending the request): (Connection reset by peer|Broken pipe)" ;;
        garbage) why="malformed verdict" ;;
        oversized) why="waiting for the verdict: Message too long" ;;
        esac
        check "$mode: fallback stored the core, with the reason" \
                wait_for_log "comm=\"$name\" .*origin=container .*outcome=stored receiver=fallback .*why=\"receiver in its root failed: $why"
        check "$mode: core in the container's fallback directory" \
                wait_for_file "$T/hoststore/containers/pidns-*/core.$name.*.zst"
        check "$mode: process released within TimeoutSec plus 1 s (${ELAPSED_MS} ms < 3000)" test "$ELAPSED_MS" -lt 3000
done
check "noaccept: the receiver never accepted" sh -c "! grep -q connection '$(ct_root enoaccept)/run/evil.log'"
# 36 bytes: a version 1 request (pipe); a version 2 one (the kernel's socket) is longer.
check "silent: the receiver got the request" grep -Eq "request (36|[4-9][0-9]) bytes" "$(ct_root esilent)/run/evil.log"

# After the hand-over: a receiver that takes the core and never reads it. The dump stalls; after
# StallTimeoutSec without progress the helper kills the crashed process, which ends the dump.
evil_in ehold hold
name=cpt-hold-$$
timed_crash ehold "$name" --size 64
check "hold: the receiver took the core" grep -q "holding the core" "$(ct_root ehold)/run/evil.log"
check "hold: the crashed process was released after the stall (${ELAPSED_MS} ms < 6000)" test "$ELAPSED_MS" -lt 6000
check "hold: it took the stall timeout to get there (${ELAPSED_MS} ms >= 2000)" test "$ELAPSED_MS" -ge 2000
check "hold: host log says the dump stalled and was ended" \
        wait_for_log "comm=\"$name\" .*outcome=receiver-died receiver=container .*interrupted=\"the dump stalled in the receiver's hands after [0-9]+ bytes; process killed\""

# A receiver that takes what it can from the helper while they talk: SO_PEERPIDFD gives it a
# pidfd of the helper, and as a container root with CAP_SYS_PTRACE it may pidfd_getfd() every
# descriptor. It must find nothing it was not going to get (no directory, no O_PATH).
evil_in esteal steal
name=cpt-steal-$$
timed_crash esteal "$name"
LOG=$(ct_root esteal)/run/evil.log
check "steal: the attack ran (it took the helper's descriptors)" grep -Eq "steal: [1-9][0-9]* descriptors" "$LOG"
grep "stolen" "$LOG" | sed 's/^/# /'
check "steal: no directory among them (no way into the host's /proc or root)" sh -c "! grep -q 'stolen fd .*: dir' '$LOG'"
check "steal: no O_PATH descriptor among them" sh -c "! grep -q 'O_PATH' '$LOG'"
check "steal: the refused crash went to the fallback" \
        wait_for_log "comm=\"$name\" .*outcome=stored receiver=fallback .*why=\"receiver in its root refused: stolen"
