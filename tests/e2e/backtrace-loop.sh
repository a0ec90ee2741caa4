#!/bin/bash
# A crash loop: 50 crashes of one signature and 1 of another within one Interval= (60min), with
# MaxCoresPerSignature=3. The first 3 of the loop keep their core; the 47 others are recorded as
# repeats (a record with the count, a log line, no core); the other signature's crash keeps its
# core. The count survives a restart of the receiver (the state is in the store).
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/backtrace.sh"
tap_init
require_root_kernel
[ -x "$CRASHER_BT" ] || skip_all "crasher-bt not built"

MAX=3
install_pattern
CT_SHARE=$(bt_share) container_start c1
ARGS=(--max-cores-per-interval=0 --interval=60min "--max-cores-per-signature=$MAX")
check "the receiver starts" start_receiver c1 "${ARGS[@]}"
ROOT=$(ct_root c1)
STORE=$ROOT/var/lib/core_pipe

PIDS=()
for i in $(seq 50); do
        PIDS+=("$(BT_PROGRAM=/build/tests/crasher bt_crash c1 --name loop)")
        # Each crash's record is complete (its backtrace and verdict) before the next one: the
        # order of the verdicts is the order of the crashes.
        bt_wait_record "$STORE" "${PIDS[-1]}" >/dev/null || break
        [ "$i" = 25 ] && read -r OTHER _ < <(bt_crash c1 threads | tr '\n' ' ')
done
check "50 crashes of the loop recorded" test "${#PIDS[@]}" = 50 -a "$(ls "$STORE"/core.loop.*.json | wc -l)" = 50
# counts: "kept repeats same-signature" over the loop's records.
counts() {
        python3 - "$STORE" <<'PY'
import glob, json, os, sys
kept = rep = 0
sigs = set()
nths = []
for f in glob.glob(os.path.join(sys.argv[1], "core.loop.*.json")):
    r = json.load(open(f))
    sigs.add(r.get("signature"))
    core = f[:-5] + ".zst"
    if "repeat" in r:
        rep += 1
        nths.append(r["repeat"]["nth"])
        assert r["core_file"] is None and not os.path.exists(core), f
        assert r["repeat"]["kept"] == 3, f
    else:
        kept += 1
        assert os.path.exists(core), f
print(kept, rep, len(sigs), sorted(nths) == list(range(4, 4 + rep)))
PY
}
read -r KEPT REPEATS NSIGS NTHS < <(counts)
diag "loop: $KEPT kept, $REPEATS repeats, $NSIGS signature(s)"
check "loop: one signature" test "$NSIGS" = 1
check "loop: the first $MAX cores kept" test "$KEPT" = $MAX
check "loop: $((50 - MAX)) repeats, recorded without a core" test "$REPEATS" = $((50 - MAX))
check "loop: repeats numbered 4 to 50 in their window" test "$NTHS" = True
check "loop: the store holds $MAX of its cores" test "$(ls "$STORE"/core.loop.*.zst | wc -l)" = $MAX
SIG=$(json_field "$(bt_record "$STORE" "${PIDS[0]}")" signature)
check "loop: each repeat has its log line with the count" \
        test "$(grep -c "repeat [0-9]* of signature $SIG within Interval= ($MAX cores kept): core removed" "$ROOT/run/receiver.log")" = $((50 - MAX))

check "loop: the host's log line of each repeat says so (OUTCOME_TRACE)" \
        test "$(host_log | grep -Ec "comm=\"loop\" .*outcome=stored .* signature=$SIG repeat=([4-9]|[1-4][0-9]|50) kept=$MAX core=removed")" = $((50 - MAX))
check "loop: the host's log lines of the kept ones have the signature, no repeat" \
        test "$(host_log | grep -E "comm=\"loop\" .* signature=$SIG" | grep -vc "repeat=")" = $MAX
JSON=$(bt_wait_record "$STORE" "$OTHER")
check "another signature in the same interval: its core is kept" \
        bt_rec "$JSON" "'repeat' not in r and r['signature'] != '$SIG' and r['core_file'] is not None"
check "another signature: its core is in the store" test -s "${JSON%.json}.zst"
check "the state is in the store, small" test "$(stat -c %s "$STORE/.signatures")" -lt 4096

# The receiver restarted: the loop's window goes on.
stop_receiver c1
check "the receiver restarts" start_receiver c1 "${ARGS[@]}"
P=$(BT_PROGRAM=/build/tests/crasher bt_crash c1 --name loop)
JSON=$(bt_wait_record "$STORE" "$P")
check "after a restart: the 51st is still a repeat" bt_rec "$JSON" 'r["repeat"]["nth"] == 51 and r["core_file"] is None'
