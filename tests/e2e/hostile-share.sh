#!/bin/bash
# One container tries to deny every other container its cores (issue 11, class 3): it crashes
# 64 processes at once (the kernel's core_pipe_limit) and its receiver holds each core as long as
# it can: reading 4 KiB every 500 ms (the dump always moves, so the stall watchdog alone never
# fires), sitting on the verdict, or reading a huge core at full speed forever. The helper lets
# one container hold at most MaxDumpsPerContainer= hand-overs at once (the rest are dropped,
# logged), ends a dump under MinDumpRate= or past DumpTimeoutSec=, and another container's crash
# is stored meanwhile. Before the defence, all 64 slots stayed held and the other container's
# crash was dropped by the kernel ("over core_pipe_limit") without a core_pipe log line.
# Measured on this VM, main at 1f3f4ef with these tests (12 of 15 checks failed) / with the defence:
#   trickle  slots held by the hostile container: 64 / 8 (56 dropped at once); the other
#            container's core: never stored / stored in 21-34 ms; hostile dumps ended: still
#            running after 49 s / all ended 2.5-2.7 s after the storm
#   silent   slots held: 64 / 8; the other container's core: never stored / stored in 18-41 ms
#   drain    a 64 GiB core read at full speed: released after 26.5-27.4 s / 3.04 s
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

SHARE=$(ct_share)
install -m 0755 "$BUILD/tests/slow-receiver" "$SHARE/tests/slow-receiver"

# dumping NAME: processes named NAME in the middle of their core dump; each holds one of the
# kernel's core_pipe_limit slots.
dumping() {
        local p n=0
        for p in $(pgrep -x "$1"); do
                grep -q '^CoreDumping:[[:space:]]*1' "/proc/$p/status" 2>/dev/null && n=$((n + 1))
        done
        echo "$n"
}

# wait_dumping_at_most NAME N SECONDS: polls until at most N processes named NAME are dumping.
wait_dumping_at_most() {
        local end=$(($(date +%s%N) + $3 * 1000000000))
        while [ "$(date +%s%N)" -lt "$end" ]; do
                [ "$(dumping "$1")" -le "$2" ] && return 0
                sleep 0.05
        done
        return 1
}

# store_time CONTAINER NAME: crashes NAME in the container (its own receiver) and sets
# STORED_MS to the time until its record is in the container's store (-1: not within 20 s).
store_time() {
        local t0 i
        t0=$(date +%s%N)
        timed_crash "$1" "$2"
        STORED_MS=-1
        for ((i = 0; i < 400; i++)); do
                if ls "$(ct_root "$1")"/var/lib/core_pipe/core."$2".*.json >/dev/null 2>&1; then
                        STORED_MS=$((($(date +%s%N) - t0) / 1000000))
                        return 0
                fi
                sleep 0.05
        done
}

log_count() {
        host_log | grep -Ec -- "$1"
}

container_start good
start_receiver good

# ---- 1. A receiver that trickles: 4 KiB every 500 ms, from 64 cores of 4 MiB at once. -------
install_pattern "StallTimeoutSec=2s"
container_start hog
ct_exec hog /bin/sh -c 'exec /build/tests/slow-receiver trickle /run/core_pipe.socket /run/slow.log </dev/null >/dev/null 2>&1 &'
wait_for_file "$(ct_root hog)/run/core_pipe.socket"
t0=$(date +%s%N)
ct_storm_ready hog 64 tr-$$ --size 4
ct_storm_go hog
wait_dumping_at_most tr-$$ 8 5
held=$(dumping tr-$$)
diag "trickle: $held of the hostile container's 64 crashes hold a slot $((($(date +%s%N) - t0) / 1000000)) ms after the storm"
check "trickle: the hostile container holds at most 8 slots ($held)" test "$held" -le 8
store_time good go-$$
diag "trickle: the other container's core was stored in $STORED_MS ms while the hostile one held its share"
check "trickle: another container's crash is stored meanwhile ($STORED_MS ms)" test "$STORED_MS" -ge 0
check "trickle: crashes over the share are dropped with the reason" \
        wait_for_log "comm=\"tr-$$\" .*outcome=dropped reason=\"container over its share: 8 of 8 hand-overs in progress\""
dropped=$(log_count "comm=\"tr-$$\" .*outcome=dropped reason=\"container over its share")
check "trickle: 56 or more of 64 dropped over the share ($dropped)" test "$dropped" -ge 56
check "trickle: the trickling dumps are ended within a few windows" wait_dumping_at_most tr-$$ 0 10
ended_ms=$((($(date +%s%N) - t0) / 1000000))
diag "trickle: every hostile dump ended $ended_ms ms after the storm"
# Over the kernel's socket the dump's write count moves only when the kernel's send buffer has
# drained by three quarters (about 130 KiB): a trickle of 8 KiB/s shows no progress at all within
# the 2 s window, and is ended as stalled rather than as slow.
under_rate="the dump moved [0-9]+ bytes in [0-9]+ ms in the receiver's hands, under MinDumpRate=1048576 bytes/s"
[ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ] && under_rate="($under_rate|the dump stalled in the receiver's hands)"
check "trickle: the log says they ran under MinDumpRate (or, over the socket, stalled)" \
        wait_for_log "comm=\"tr-$$\" .*outcome=receiver-died receiver=container .*interrupted=\"$under_rate"
check "trickle: the receiver took cores at the share only" \
        test "$(grep -c 'took a core' "$(ct_root hog)/run/slow.log")" -le 8
container_stop hog

# ---- 2. A receiver that never gives its verdict, on 64 crashes at once. ----------------------
# TimeoutSec= long enough that the verdicts are still held when the other container crashes.
install_pattern "TimeoutSec=10s"
container_start mute
ct_exec mute /bin/sh -c 'exec /build/tests/evil-receiver silent /run/core_pipe.socket /run/evil.log </dev/null >/dev/null 2>&1 &'
wait_for_file "$(ct_root mute)/run/core_pipe.socket"
t0=$(date +%s%N)
ct_storm_ready mute 64 mu-$$ --size 2
ct_storm_go mute
wait_dumping_at_most mu-$$ 8 2
held=$(dumping mu-$$)
diag "silent: $held of the hostile container's 64 crashes hold a slot $((($(date +%s%N) - t0) / 1000000)) ms after the storm"
check "silent: the hostile container holds at most 8 slots ($held)" test "$held" -le 8
store_time good gp-$$
diag "silent: the other container's core was stored in $STORED_MS ms"
check "silent: another container's crash is stored while the verdicts are held ($STORED_MS ms)" \
        test "$STORED_MS" -ge 0 -a "$STORED_MS" -lt 5000
check "silent: crashes over the share are dropped with the reason" \
        wait_for_log "comm=\"mu-$$\" .*outcome=dropped reason=\"container over its share: 8 of 8 hand-overs in progress\""
check "silent: the held ones go on after TimeoutSec" wait_dumping_at_most mu-$$ 0 30
container_stop mute

# ---- 3. A receiver that reads a 64 GiB core (zeros) at full speed, forever. -------------------
install_pattern "DumpTimeoutSec=3s"
container_start drain
ct_exec drain /bin/sh -c 'exec /build/tests/slow-receiver drain /run/core_pipe.socket /run/slow.log </dev/null >/dev/null 2>&1 &'
wait_for_file "$(ct_root drain)/run/core_pipe.socket"
timed_crash drain dr-$$ --map 65536
diag "drain: the process was released after $ELAPSED_MS ms"
check "drain: the receiver read the core at full speed" grep -q "drain: took a core" "$(ct_root drain)/run/slow.log"
check "drain: the deadline ended the dump ($ELAPSED_MS ms < 8000)" test "$ELAPSED_MS" -lt 8000
check "drain: not before the deadline ($ELAPSED_MS ms >= 3000)" test "$ELAPSED_MS" -ge 3000
check "drain: the log says DumpTimeoutSec ended it" \
        wait_for_log "comm=\"dr-$$\" .*outcome=receiver-died receiver=container .*interrupted=\"the dump ran past DumpTimeoutSec=3s in the receiver's hands after [0-9]+ bytes"
wait_for_file "$(ct_root drain)/run/slow.log"
grep "core ended" "$(ct_root drain)/run/slow.log" | sed 's/^/# /'
