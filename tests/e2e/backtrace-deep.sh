#!/bin/bash
# A stack deeper than the capture's cap: the crashing thread's innermost frames are there, the
# thread is marked cut, the capture says how much it kept, and the receiver's peak memory (in
# the record) stays bounded: with the default cap (256 KiB per thread) for a 7 MiB stack, and
# with a small one (StackCapturePerThread=16K), which cuts after fewer frames.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/backtrace.sh"
tap_init
require_root_kernel
[ -x "$CRASHER_BT" ] || skip_all "crasher-bt not built"

install_pattern
CT_SHARE=$(bt_share) container_start c1
start_receiver c1 --max-cores-per-interval=0 --max-cores-per-signature=0
ROOT=$(ct_root c1)
STORE=$ROOT/var/lib/core_pipe

# About 1 KiB of stack per call: 7000 calls take 7 MiB of the default 8 MiB stack.
read -r PID _ < <(bt_crash c1 deep 7000 | tr '\n' ' ')
JSON=$(bt_wait_record "$STORE" "$PID")
check "deep: record with its backtrace" test -n "$JSON"
check "deep: frame #0 is crash_here, then recurse" bt_rec "$JSON" 'names(c)[0] == "crash_here" and names(c)[1:4] == ["recurse"] * 3'
check "deep: the crashing thread is marked cut" bt_rec "$JSON" 'c["cut"] is True'
check "deep: the capture kept at most 256 KiB (and a page) of its stack, and says it cut one" \
        bt_rec "$JSON" '0 < b["capture"]["stack_bytes"] <= 260 * 1024 and b["capture"]["threads_cut"] >= 1'
check "deep: the core itself is whole (the cut is the backtrace's only)" bt_rec "$JSON" 'r["truncated"] is False'
check "deep: the receiver's peak RSS is in the record, under 48 MiB" \
        bt_rec "$JSON" '0 < r["receiver_max_rss_kib"] <= 48 * 1024'
diag "deep: receiver peak RSS $(json_field "$JSON" receiver_max_rss_kib) KiB, backtrace in $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["backtrace"]["usec"])' "$JSON") us"

stop_receiver c1
start_receiver c1 --max-cores-per-interval=0 --max-cores-per-signature=0 --stack-capture-per-thread=16K
read -r PID2 _ < <(bt_crash c1 deep 7000 | tr '\n' ' ')
JSON2=$(bt_wait_record "$STORE" "$PID2")
check "16K cap: cut, fewer frames, crash_here still first" \
        bt_rec "$JSON2" 'c["cut"] and names(c)[0] == "crash_here" and 2 <= len(c["frames"]) <= 40'
check "16K cap: at most 16 KiB (and a page) of its stack kept" bt_rec "$JSON2" '0 < b["capture"]["stack_bytes"] <= 20 * 1024'
check "16K cap: the same signature (the top frames are the same)" \
        test "$(json_field "$JSON2" signature)" = "$(json_field "$JSON" signature)"
