#!/bin/bash
# The receiver's throughput by transport, with the real kernel: each case crashes a process of
# SIZE and times it, interleaved, ROUNDS times. Not a test (bench/run measures the real helper);
# this is the stand-in helper's measurement behind core_pipe-receiver(8), TRANSPORTS.
#
#   tests/helpers/transport-bench.sh BUILD ROUNDS "CRASHER ARGS" CASE...
#   CASE = pipe:READER | socket:READER | socket@BYTES:READER   (transport-bench.c says READER)
#
# socket@BYTES sets net.core.wmem_default (the send buffer the kernel's own socket gets) for that
# case only. core_pattern is changed only under tests/lib's lock and restored on exit, with
# net.core.wmem_default. Prints one line per crash: TRANSPORT READER BYTES SECONDS, where
# "reaped-" lines are from the crash's signal until the crasher's parent reaped it, "cpu-" lines
# the CPU seconds the whole machine was busy meanwhile.
set -u
BUILD=$(realpath "$1")
ROUNDS=$2
SIZE=$3
shift 3
HERE=$(dirname "$(realpath "$0")")
# shellcheck source=tests/lib/container.sh
. "$HERE/../lib/container.sh"
W=$(mktemp -d /tmp/cp-transport-XXXXXX)
# A short path: the kernel cuts a pipe pattern at 127 bytes.
B=$W/b
ln -s "$BUILD/tests/transport-bench" "$B"
CR=$BUILD/tests/crasher
OUT=$W/results
: >"$OUT"
save_kernel_settings || exit 1
OLD_WMEM=$(sysctl -n net.core.wmem_default)
cleanup() {
        sysctl -qw net.core.wmem_default="$OLD_WMEM"
        restore_kernel_settings
        cat "$OUT"
        rm -rf "$W"
}
trap cleanup EXIT
ulimit -c unlimited

# CPU seconds every CPU spent busy (not idle nor iowait) since boot, from /proc/stat.
busy() {
        awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat
}

# Fills its memory first, then crashes on "go": "SECONDS CPU_SECONDS" from "go" until it is
# reaped, the CPU seconds busy on the whole machine meanwhile.
crash() {
        rm -f "$W/go" "$W/pid"
        # shellcheck disable=SC2086 # SIZE is the crasher's arguments
        "$CR" $SIZE --wait-for "$W/go" >"$W/pid" 2>/dev/null &
        local p=$! t0 c0
        while [ ! -s "$W/pid" ]; do sleep 0.05; done
        c0=$(busy)
        t0=$(date +%s.%N)
        touch "$W/go"
        wait "$p" 2>/dev/null
        echo "$(echo "$(date +%s.%N) - $t0" | bc) $(echo "$(busy) - $c0" | bc)"
}

run_case() {
        local tr=${1%%:*} rd=${1#*:} n t sp
        n=$(wc -l <"$OUT")
        [ "${tr#*@}" = "$tr" ] || sysctl -qw net.core.wmem_default="${tr#*@}"
        if [ "${tr%@*}" = pipe ]; then
                local pattern="|$B pipe $rd $OUT %P"
                # The kernel cuts a pattern at 127 bytes: keep READER's paths short (symlinks).
                [ "${#pattern}" -lt 128 ] || { echo "pipe pattern too long: $pattern" >&2; exit 1; }
                printf '%s\n' "$pattern" >/proc/sys/kernel/core_pattern
                t=$(crash)
        else
                : >"$W/serve.log"
                "$B" serve "$W/k.sock" 1 "$rd" "$OUT" >>"$W/serve.log" 2>&1 &
                sp=$!
                for _ in $(seq 100); do grep -q listening "$W/serve.log" && break; sleep 0.05; done
                printf '@@%s\n' "$W/k.sock" >/proc/sys/kernel/core_pattern
                [ "$(cat /proc/sys/kernel/core_pattern)" = "@@$W/k.sock" ] || echo "@@ did not take" >&2
                t=$(crash)
                wait "$sp"
        fi
        # The pipe helper reports after the crasher is gone: wait for its line (bounded).
        for _ in $(seq 100); do [ "$(wc -l <"$OUT")" -gt "$n" ] && break; sleep 0.1; done
        echo "reaped-$tr $rd 0 ${t% *}" >>"$OUT"
        echo "cpu-$tr $rd 0 ${t#* }" >>"$OUT"
        sysctl -qw net.core.wmem_default="$OLD_WMEM"
}

for ((r = 0; r < ROUNDS; r++)); do
        for c in "$@"; do
                run_case "$c"
        done
done
