#!/bin/bash
# A container without a receiver floods the host log through the host fallback: 1000 crashes
# with RLIMIT_CORE 0, each taken and skipped by a fallback receiver the helper starts. The kernel's
# own limit on /dev/kmsg writers is on (kernel.printk_devkmsg=ratelimit, the default of a host):
# it counts per open file, and a helper that opened /dev/kmsg for every line was never held by
# it. The flooding container's lines are held to the burst per interval; a host process that
# crashes during the flood still has its line, and the flood's count is reported.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

FLOOD=${CPT_FLOOD:-1000}
BURST=5
INTERVAL=3600
install_pattern "LogRateLimitBurst=$BURST" "LogRateLimitIntervalSec=$INTERVAL"
echo ratelimit >/proc/sys/kernel/printk_devkmsg
rm -f /run/core_pipe/lograte
if [ -e /run/core_pipe.socket ]; then
        skip_all "a receiver listens on this host's /run/core_pipe.socket"
fi

container_start noisy
NAME=cpt-nf-$RANDOM
HOSTNAME_=cpt-hq-$RANDOM
kmsg_before=$(dmesg | wc -c)
ct_exec noisy /bin/sh -c 'ulimit -c 0; i=0; while [ $i -lt "$1" ]; do /build/tests/crasher --name "$2"; i=$((i + 1)); done' \
        sh "$FLOOD" "$NAME" >/dev/null 2>&1 &
flood_pid=$!
for _ in $(seq 600); do
        [ "$(host_log | grep -c "comm=\"$NAME\"")" -ge "$BURST" ] && break
        sleep 0.05
done
# A host process crashes in the middle of the flood.
hpid=$(sh -c 'ulimit -c 0; exec "$1" --name "$2"' sh "$CRASHER" "$HOSTNAME_" 2>/dev/null)
wait "$flood_pid"
lines=$(host_log | grep -c "comm=\"$NAME\"")
diag "host log lines of the flooding container: $lines for $FLOOD crashes; kernel log grew by $(($(dmesg | wc -c) - kmsg_before)) bytes"
check "fallback flood: at most the burst ($BURST) of lines" test "$lines" -le "$BURST"
check "fallback flood: the lines say the fallback skipped the core" \
        wait_for_log "comm=\"$NAME\" .*outcome=skipped receiver=fallback" 2
check "fallback flood: the host process's crash during the flood is in the log" \
        wait_for_log "pid=$hpid comm=\"$HOSTNAME_\" .*origin=host" 2
check "fallback flood: nothing stored on the host" sh -c "! find '$T/hoststore' -name 'core.$NAME.*' | grep -q ."

# A new window (a shorter interval now): the next line of the container carries the count.
install_pattern "LogRateLimitBurst=$BURST" "LogRateLimitIntervalSec=1"
echo ratelimit >/proc/sys/kernel/printk_devkmsg
sleep 1.1
ct_exec noisy /bin/sh -c 'ulimit -c 0; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null 2>&1
check "fallback flood: the next line reports the $((FLOOD - lines)) lines suppressed" \
        wait_for_log "ratelimit_key=\"[^\"]+\" suppressed=$((FLOOD - lines)) suppressed_sec=[0-9]+ pid=[0-9]+ comm=\"$NAME\"" 5
