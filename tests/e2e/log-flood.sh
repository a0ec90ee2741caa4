#!/bin/bash
# A container floods the host log: 1000 crashes with RLIMIT_CORE 0, each skipped by its receiver.
# Its lines are held to the burst per interval, a crash in another container during the flood is
# still in the log when the flood is over, and every crash of the flood is accounted for: the
# lines written plus the counts of the lines suppressed (on its next line, or in a summary line
# another crash's helper writes) add up to the number of crashes. This host may have no syslog
# daemon: then the lines go to the kernel's ring buffer, which a flood would cycle.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

FLOOD=${CPT_FLOOD:-1000}
BURST=10
INTERVAL=4
install_pattern "LogRateLimitBurst=$BURST" "LogRateLimitIntervalSec=$INTERVAL"
# A fresh table: a key of an earlier test (namespace inodes are reused) must not lend its count.
rm -f /run/core_pipe/lograte

container_start flood
start_receiver flood
container_start quiet
start_receiver quiet
NAME=cpt-fl-$RANDOM
QUIET=cpt-qt-$RANDOM

t0=$(date +%s)
ct_exec flood /bin/sh -c 'ulimit -c 0; i=0; while [ $i -lt "$1" ]; do /build/tests/crasher --name "$2"; i=$((i + 1)); done' \
        sh "$FLOOD" "$NAME" >/dev/null 2>&1 &
flood_pid=$!
# The quiet container crashes early in the flood: on a host without syslog the rest of the flood
# would push its line out of the kernel's ring buffer.
for _ in $(seq 600); do
        [ "$(host_log | grep -c "comm=\"$NAME\"")" -ge 5 ] && break
        sleep 0.05
done
ct_exec quiet /bin/sh -c 'ulimit -c 0; exec /build/tests/crasher --name "$1"' sh "$QUIET" >/dev/null 2>&1
wait "$flood_pid"
elapsed=$(($(date +%s) - t0))
diag "$FLOOD crashes in $elapsed s"

lines=$(host_log | grep -c "comm=\"$NAME\"")
bytes=$(host_log | grep "comm=\"$NAME\"" | wc -c)
diag "host log lines of the flooding container: $lines ($bytes bytes)"
# Each window of INTERVAL seconds lets BURST lines through; the flood may start and end in
# partial windows.
max=$((BURST * (elapsed / INTERVAL + 2)))
check "flood: at most $max lines for $FLOOD crashes in $elapsed s" test "$lines" -le "$max"
check "flood: the other container's crash during the flood is still in the log" \
        wait_for_log "comm=\"$QUIET\" .*outcome=skipped" 2

# One more crash once the window is over: its line reports what was suppressed before it.
sleep_until=$(($(date +%s) + INTERVAL + 1))
while [ "$(date +%s)" -lt "$sleep_until" ]; do sleep 0.2; done
ct_exec flood /bin/sh -c 'ulimit -c 0; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null 2>&1
check "flood: a line after the window reports the suppressed count" \
        wait_for_log "ratelimit_key=\"[^\"]+\" suppressed=[0-9]+ suppressed_sec=[0-9]+ pid=[0-9]+ comm=\"$NAME\"" 5

# Every crash has an account: lines written, plus the counts on its own lines, plus summaries for
# its key written by other helpers.
KEY=$(host_log | grep "comm=\"$NAME\"" | sed -n 's/.*ratelimit_key="\([^"]*\)" suppressed=.*/\1/p' | tail -n1)
written=$(host_log | grep -c "comm=\"$NAME\"")
counted=$(host_log | grep -E "comm=\"$NAME\"|ratelimit_key=\"$KEY\" suppressed=[0-9]+ suppressed_sec=[0-9]+: " |
        sed -n 's/.*ratelimit_key="[^"]*" suppressed=\([0-9]*\) .*/\1/p' | awk '{s += $1} END {print s + 0}')
diag "key $KEY: $written lines written, $counted counted as suppressed"
check "flood: every crash is accounted for ($((FLOOD + 1)) = written + suppressed)" \
        test "$((written + counted))" = "$((FLOOD + 1))"
