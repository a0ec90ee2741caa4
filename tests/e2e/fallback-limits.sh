#!/bin/bash
# The host's fallback store is held to the receiver settings (ReceiverConfig= in pipe.conf):
# each container's directory, and all of them together, so that containers without a receiver
# cannot fill the host whichever way their cores are spread. The oldest cores go first.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

printf '[Receiver]\nMaxUse=3M\nKeepFree=0\nMaxCoresPerInterval=0\n' >"$T/receiver.conf"
install_pattern "ReceiverConfig=$T/receiver.conf"
container_start fa
container_start fb

for i in $(seq 8); do
        for ct in fa fb; do
                ct_exec $ct /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size 2' sh "$ct-$i" >/dev/null 2>&1
        done
done
wait_for_log "comm=\"fb-8\" .*outcome=stored receiver=fallback" 20
STORE=$T/hoststore
total=$(find "$STORE" -type f -name 'core.*' -printf '%b\n' | awk '{s += $1 * 512} END {print s + 0}')
diag "fallback store: $total bytes in $(find "$STORE" -type f -name 'core.*.zst' | wc -l) cores"
check "total of the fallback store within MaxUse=3M ($total bytes)" test "$total" -le $((3 << 20))
for ct in fa fb; do
        d=$(ls -d "$STORE/containers/$(ct_key "$ct")")
        check "$ct: its directory within MaxUse" test "$(du -sb "$d" | cut -f1)" -le $((3 << 20))
        check "$ct: its newest core is kept" wait_for_file "$d/core.$ct-8.*.zst"
        check "$ct: its oldest core is gone" sh -c "! ls '$d' | grep -q '^core\\.$ct-1\\.'"
done
check "cores of both containers are kept" \
        sh -c "ls -R '$STORE' | grep -q '^core\\.fa-' && ls -R '$STORE' | grep -q '^core\\.fb-'"
check "the removals are in the host log" wait_for_log "core_pipe-receiver\\[[0-9]+\\]: .*Removed [0-9]+ old core\\(s\\) from $STORE"
