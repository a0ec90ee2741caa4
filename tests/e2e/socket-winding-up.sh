#!/bin/bash
# MaxConcurrentDumps= counts crashes in progress, not workers winding up. Over the kernel's
# coredump socket a worker stays after its crash's process has ended, for the receiver's last
# word (its outcome, then its backtrace: at most 15 s). With MaxConcurrentDumps=2 and a receiver
# that takes each core and then holds its connection without a word (slow-receiver drain), four
# crashes one after another must each be handled: before, the third and fourth were REJECTed
# ("MaxConcurrentDumps=2 crashes in progress") with no core at all, while the first two workers
# only waited for their receiver.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket CORE_PIPE_SOCKET_SERVICE=resident

SHARE=$(ct_share)
install -m 0755 "$BUILD/tests/slow-receiver" "$SHARE/tests/slow-receiver"
install_pattern "MaxConcurrentDumps=2"
container_start wu
ct_exec wu /bin/sh -c 'exec /build/tests/slow-receiver drain /run/core_pipe.socket /run/slow.log </dev/null >/dev/null 2>&1 &'
wait_for_file "$(ct_root wu)/run/core_pipe.socket"

# ended NAME: the crasher NAME has ended (zombies too: its dump is over).
ended() {
        local p state
        for p in $(pgrep -x "$1"); do
                state=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)
                [ -n "$state" ] && [ "$state" != Z ] && return 1
        done
        return 0
}
for i in 1 2 3 4; do
        name=wu$i-$$
        # shellcheck disable=SC2016 # expanded by the container's shell
        ct_exec wu /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size 1' sh "$name" \
                </dev/null >/dev/null 2>&1
        for _ in $(seq 100); do ended "$name" && break; sleep 0.1; done
        check "crash $i: its process ended" ended "$name"
done
LOG=$(ct_root wu)/run/slow.log
for _ in $(seq 100); do
        [ "$(grep -c "^drain: core ended after" "$LOG")" -ge 4 ] && break
        sleep 0.1
done
diag "cores the receiver took: $(grep -c "^drain: took a core" "$LOG"), read to their end: $(grep -c "^drain: core ended after" "$LOG")"
check "four cores handed over and read to their end" test "$(grep -c "^drain: core ended after" "$LOG")" = 4
check "no crash was REJECTed for workers winding up" \
        bash -c "! grep -q 'MaxConcurrentDumps=2 crashes in progress' <<<\"\$1\"" sh "$(host_log)"
for i in 1 2 3 4; do
        check "crash $i: one line" wait_for_log "comm=\"wu$i-$$\" .*transport=socket" 30
done
