#!/bin/bash
# kernel.core_pattern switched back and forth between the pipe helper and the coredump socket
# every 50 ms while three streams of crashes run in a container: every crash is stored exactly
# once, whole, whichever way it went (each dump takes the pattern it started with: a switch does
# not disturb a dump in flight), both ways took some, and nothing waits.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
SECONDS_OF_CRASHES=8

# Three streams of crashes, each one's core compressed and its backtrace made, are more than two
# CPUs keep up with: the helper's share of concurrent hand-overs per container
# (MaxDumpsPerContainer=, see hostile-share) would drop some, which is not this test's subject.
CORE_PIPE_TRANSPORT=pipe install_pattern "MaxDumpsPerContainer=0"
socket_pattern
check "both patterns known" test -n "$PIPE_PATTERN" -a "$SOCKET_PATTERN" = "@@$SHORT/kernel.socket"
mkdir -p "$T/ctvar"
CT_VAR=$T/ctvar container_start sw
start_receiver sw --max-cores-per-interval=0
STORE=$T/ctvar/lib/core_pipe
NAME=cpt-sw-$$

# Three loops of crashes of 4 MiB each, for SECONDS_OF_CRASHES; each crasher's pid (the
# container's view) goes to /run/pids.N.
for i in 1 2 3; do
        # shellcheck disable=SC2016 # expanded by the container's shell
        ct_exec sw /bin/sh -c 'ulimit -c unlimited; end=$(($(date +%s) + $1))
                while [ "$(date +%s)" -lt "$end" ]; do
                        /build/tests/crasher --name "$2" --size 4 >>"/run/pids.$3" 2>/dev/null
                        sleep 0.05
                done' sh "$SECONDS_OF_CRASHES" "$NAME" "$i" >/dev/null 2>&1 &
done
switches=0
end=$(($(date +%s) + SECONDS_OF_CRASHES))
while [ "$(date +%s)" -lt "$end" ]; do
        write_pattern "$PIPE_PATTERN" || break
        sleep 0.05
        write_pattern "$SOCKET_PATTERN" || break
        sleep 0.05
        switches=$((switches + 2))
done
check "the pattern was switched $switches times" test "$switches" -ge 20
loops_end() {
        for _ in $(seq 600); do
                pgrep -f "crasher --name $NAME" >/dev/null || return 0
                sleep 0.1
        done
        return 1
}
check "the crash loops end (bounded: 60 s)" loops_end
wait
cat "$(ct_root sw)"/run/pids.* | sort -n >"$T/pids"
crashes=$(wc -l <"$T/pids")
diag "$crashes crashes while the pattern switched $switches times"
check "a good number of crashes ($crashes)" test "$crashes" -ge 30

all_stored() {
        local n
        for _ in $(seq 300); do
                n=$(ls "$STORE"/core."$NAME".*.json 2>/dev/null | wc -l)
                [ "$n" -ge "$crashes" ] && return 0
                sleep 0.1
        done
        echo "$n of $crashes stored" >&2
        return 1
}
check "every crash is stored (30 s)" all_stored
python3 - "$STORE" "$NAME" "$T/pids" >"$T/audit" 2>&1 <<'PY'
import glob, json, sys
store, name, pids = sys.argv[1:]
want = [int(l) for l in open(pids) if l.strip()]
recs = [json.load(open(f)) for f in glob.glob(f"{store}/core.{name}.*.json")]
got = sorted(r["pid"] for r in recs)
bad = 0
if sorted(want) != got:
    print(f"crashes {len(want)}, records {len(got)}; missing {sorted(set(want) - set(got))[:10]}, "
          f"twice {sorted(p for p in set(got) if got.count(p) > 1)[:10]}")
    bad = 1
for r in recs:
    if r.get("truncated"):
        print(f"pid {r['pid']}: truncated ({r.get('truncated_reason', '?')})")
        bad = 1
sys.exit(bad)
PY
check "exactly one record per crash, none truncated" test $? = 0
sed 's/^/# /' "$T/audit"
# A crash's host line comes once its receiver has made its backtrace: waited for, bounded.
for _ in $(seq 300); do
        [ "$(host_log | grep -c "comm=\"$NAME\"")" -ge "$crashes" ] && break
        sleep 0.1
done
pipe_n=$(host_log | grep "comm=\"$NAME\"" | grep -vc "transport=socket")
socket_n=$(host_log | grep -c "comm=\"$NAME\" .*transport=socket")
diag "host log: $pipe_n crashes through the pipe, $socket_n through the socket"
check "both ways took crashes" test "$pipe_n" -ge 1 -a "$socket_n" -ge 1
check "one host log line per crash, all stored" \
        test "$(host_log | grep -c "comm=\"$NAME\" .*outcome=stored receiver=container")" -eq "$crashes"
