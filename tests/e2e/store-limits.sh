#!/bin/bash
# The store stays within MaxUse= and KeepFree= on a small file system of the container's and
# keeps the newest cores; a crash-looping container is held to MaxCoresPerInterval=, each crash
# over it refused before a byte is read and logged, so that stored + refused is every crash.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern

# stored_names DIR PREFIX: the crash numbers whose cores are in DIR, sorted.
stored_numbers() {
        ls "$1" 2>/dev/null | sed -n "s/^core\\.$2\\([0-9]*\\)\\..*\\.zst\$/\\1/p" | sort -n | tr '\n' ' '
}
# newest_suffix NUMBERS LAST: true if NUMBERS are exactly the last k of 1..LAST, k >= 1.
newest_suffix() {
        local kept last=$2 k
        read -ra kept <<<"$1"
        k=${#kept[@]}
        [ "$k" -ge 1 ] || return 1
        [ "$1" = "$(seq $((last - k + 1)) "$last" | tr '\n' ' ')" ]
}

# crash_series CONTAINER PREFIX COUNT: crashes one after another, 2 MiB each (~0.5 MiB stored).
# crash_series CT PREFIX N: N crashes one after another, each once the one before is handled (its
# host line is in): with the sanitizers a receiver is slow enough for released crashes to overlap,
# finish out of order and be trimmed out of order.
crash_series() {
        local i
        for i in $(seq "$3"); do
                ct_exec "$1" /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size 2' sh "$2$i" >/dev/null 2>&1
                wait_for_log "comm=\"$2$i\" .*outcome=" 30 >/dev/null
        done
}

for limit in MaxUse KeepFree; do
        ct=lim$limit
        container_start "$ct"
        ct_exec "$ct" /bin/sh -ec 'mkdir -p /var/lib/core_pipe; mount -t tmpfs -o size=8m,mode=0700 cores /var/lib/core_pipe'
        if [ $limit = MaxUse ]; then
                start_receiver "$ct" --max-use=3M --keep-free=0 --max-cores-per-interval=0
        else
                start_receiver "$ct" --max-use=100% --keep-free=5M --max-cores-per-interval=0
        fi
        STORE=$(ct_root "$ct")/var/lib/core_pipe
        p=v${limit:0:1}-
        crash_series "$ct" "$p" 20
        wait_for_file "$STORE/core.${p}20.*.json"
        # Each crash's host line comes once its receiver is done with it (its record made again
        # with the backtrace): the store is audited only then, not while a record is renamed.
        for _ in $(seq 600); do
                [ "$(host_log | grep -cE "comm=\"${p}[0-9]+\" .*outcome=")" -ge 20 ] && break
                sleep 0.1
        done
        nums=$(stored_numbers "$STORE" "$p")
        diag "$limit: cores left after 20 crashes: $nums"
        used=$(du -sb --apparent-size "$STORE" | cut -f1)
        # statfs of the container's file system (df would look it up in the host's mount table).
        avail=$(stat -f -c '%a * %S' "$STORE")
        avail=$((avail))
        if [ $limit = MaxUse ]; then
                check "MaxUse=3M: the store holds at most 3 MiB ($used bytes)" test "$used" -le $((3 << 20))
        else
                check "KeepFree=5M: at least 5 MiB of the 8 MiB stay free ($avail bytes)" test "$avail" -ge $((5 << 20))
        fi
        check "$limit: more than one core kept" test "$(echo $nums | wc -w)" -ge 2
        check "$limit: the cores kept are the newest ($nums)" newest_suffix "$nums" 20
        check "$limit: every core kept has its record" \
                sh -c "for n in $nums; do ls '$STORE'/core.$p\$n.*.json >/dev/null || exit 1; done" ||
                diag "$(ls -la "$STORE"; grep -v '^$' "$(ct_root "$ct")/run/receiver.log" | tail -n 40)"
        check "$limit: no record without its core" \
                test "$(find "$STORE" -mindepth 1 -maxdepth 1 ! -name '.*' -name '*.json' | wc -l)" = "$(find "$STORE" -mindepth 1 -maxdepth 1 ! -name '.*' -name '*.zst' | wc -l)"
        check "$limit: the receiver logged the removals" grep -q "Removed [0-9]* old core(s)" "$(ct_root "$ct")/run/receiver.log"
done

# A storm: 32 processes of one container crash at once. The default rate limit (20 per minute)
# lets 20 through; the other 12 are refused before a byte is read, each with a log line.
# The helper's share of concurrent hand-overs per container (MaxDumpsPerContainer=, see
# hostile-share) would drop some of the 32 before the receiver counts them: not this test's subject.
install_pattern "MaxDumpsPerContainer=0"
container_start storm
start_receiver storm
R=$(ct_root storm)
ct_exec storm /bin/sh -c 'ulimit -c unlimited; for i in $(seq 32); do /build/tests/crasher --name "st-$i" --size 1 >/dev/null 2>&1 & done; wait' >/dev/null 2>&1
for _ in $(seq 100); do
        n=$(( $(find "$R/var/lib/core_pipe" -mindepth 1 -maxdepth 1 -name 'core.st-*.json' 2>/dev/null | wc -l) + $(grep -c 'core not stored: rate limit' "$R/run/receiver.log") ))
        [ "$n" -ge 32 ] && break
        sleep 0.1
done
stored=$(find "$R/var/lib/core_pipe" -mindepth 1 -maxdepth 1 -name 'core.st-*.json' | wc -l)
refused=$(grep -c 'core not stored: rate limit' "$R/run/receiver.log")
diag "storm: $stored stored, $refused refused"
check "storm: stored + refused is exactly 32 ($stored + $refused)" test $((stored + refused)) = 32
check "storm: 20 stored (MaxCoresPerInterval=20 per minute)" test "$stored" = 20
check "storm: each refusal names the crash (pid and comm)" \
        test "$(grep -Ec 'Process [0-9]+ \(st-[0-9]+\) of user 0 crashed with signal 11; core not stored: rate limit' "$R/run/receiver.log")" = "$refused"
# The helper's line for a stored core comes once the receiver has made its backtrace (after the
# process was released): waited for, bounded.
# This container's lines only (its pid namespace is in the line's ct=): a storm of an earlier run
# has the same names.
STORM_NS=$(stat -L -c %i "/proc/$(ct_pid storm)/ns/pid")
storm_lines() {
        host_log | grep -E 'comm="st-[0-9]+" .*origin=container ct=pidns-'"$STORM_NS"'-.*(outcome=stored receiver=container|outcome=skipped receiver=container reason="rate limit)' |
                grep -oE ' pid=[0-9]+ ' | sort -u | wc -l
}
for _ in $(seq 600); do
        [ "$(storm_lines)" -ge 32 ] && break
        sleep 0.1
done
check "storm: the host log has a line for each of the 32 crashes, stored or skipped by the rate limit" \
        test "$(storm_lines)" = 32
check "storm: one line per crash" test "$(host_log | grep -cE 'comm="st-[0-9]+" .*ct=pidns-'"$STORM_NS"'-')" = 32
check "storm: nothing went to the host's fallback" test ! -e "$T/hoststore"
