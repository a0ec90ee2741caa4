#!/bin/bash
# A -g crasher with 8 threads, one faulting three calls deep through an inlined function: the
# record has every thread, the crashing one first with crash_here (inlined into level3), its file
# and line, and a signature that the receiver's log line names too. The same with the crashed
# process released at its last byte (--release=read: the backtrace is made before the record)
# and with Backtrace=no (no backtrace, the record says why, the core stored all the same).
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/backtrace.sh"
tap_init
require_root_kernel
[ -x "$CRASHER_BT" ] || skip_all "crasher-bt not built"

install_pattern
CT_SHARE=$(bt_share) container_start c1
start_receiver c1 --max-cores-per-interval=0
ROOT=$(ct_root c1)
STORE=$ROOT/var/lib/core_pipe

read -r PID TID < <(bt_crash c1 threads | tr '\n' ' ')
diag "crasher-bt: pid $PID, crashing thread $TID, fault at crasher-bt.c:$CRASH_LINE"
check "the crasher said its pid and crashing thread" test -n "$PID" -a -n "$TID"
JSON=$(bt_wait_record "$STORE" "$PID")
check "record with its backtrace" test -n "$JSON"
check "the core is stored beside it" test -s "${JSON%.json}.zst"
check "record: 8 threads" bt_rec "$JSON" 'len(t) == 8 and r["threads"] == 8'
check "record: every thread has frames" bt_rec "$JSON" 'all(len(th["frames"]) > 0 for th in t)'
check "record: the crashing thread first, its tid" bt_rec "$JSON" "c['crashed'] and c['tid'] == $TID and not any(th['crashed'] for th in t[1:])"
check "record: frame #0 is crash_here, inlined" bt_rec "$JSON" 'f0["function"] == "crash_here" and f0["inlined"]'
check "record: frame #0 at crasher-bt.c:$CRASH_LINE" bt_rec "$JSON" "base(f0['file']) == 'crasher-bt.c' and f0['line'] == $CRASH_LINE"
check "record: crash_here inlined into level3, called by level2 and level1" \
        bt_rec "$JSON" 'names(c)[:4] == ["crash_here", "level3", "level2", "level1"]'
check "record: frames name their module, build-id and offset" \
        bt_rec "$JSON" 'base(f0["module"]) == "crasher-bt" and len(f0["build_id"]) == 40 and f0["offset"].startswith("0x") and f0["pc"].startswith("0x")'
check "record: the waiting threads are in the C library" \
        bt_rec "$JSON" 'all(any((f.get("module") or "").find("libc") >= 0 for f in th["frames"]) for th in t[1:])'
check "record: modules listed with their build-ids" \
        bt_rec "$JSON" 'any(base(m["path"]) == "crasher-bt" and m["build_id"] == f0["build_id"] for m in b["modules"]) and any(base(m["path"]) == "libc.so.6" and len(m["build_id"]) == 40 for m in b["modules"])'
check "record: a signature of 16 hex digits, no backtrace error" \
        bt_rec "$JSON" 'len(r["signature"]) == 16 and int(r["signature"], 16) >= 0 and r["backtrace_error"] is None'
SIG=$(json_field "$JSON" signature)
check "host's log line: the signature (OUTCOME_TRACE)" \
        wait_for_log "comm=\"crasher-bt\" .*outcome=stored receiver=container .* signature=$SIG"
check "receiver's log line: the signature" \
        wait_for_text "$ROOT/run/receiver.log" "Process $PID \\(crasher-bt\\).* signature $SIG"

# Another run of the same program: other addresses (ASLR), the same signature.
read -r PID2 _ < <(bt_crash c1 threads | tr '\n' ' ')
JSON2=$(bt_wait_record "$STORE" "$PID2")
check "a second run: the same signature" test -n "$JSON2" -a "$(json_field "$JSON2" signature 2>/dev/null)" = "$SIG"
check "a second run: other addresses (the signature holds none)" \
        test "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["backtrace"]["threads"][0]["frames"][0]["pc"])' "$JSON")" != \
        "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["backtrace"]["threads"][0]["frames"][0]["pc"])' "$JSON2")"

# Released at the last byte: the backtrace is made before the record and the log line.
stop_receiver c1
start_receiver c1 --max-cores-per-interval=0 --release=read
read -r PID3 _ < <(bt_crash c1 threads | tr '\n' ' ')
JSON3=$(bt_wait_record "$STORE" "$PID3")
check "--release=read: crash_here first, 8 threads" bt_rec "$JSON3" 'len(t) == 8 and f0["function"] == "crash_here"'
check "--release=read: the crash's own log line has the signature" \
        wait_for_text "$ROOT/run/receiver.log" "Process $PID3 \\(crasher-bt\\) of user 0 crashed with signal 11.*core stored as .*, signature $SIG"

# Backtrace=no: the core as before, the record says why there is no backtrace.
stop_receiver c1
start_receiver c1 --max-cores-per-interval=0 --backtrace=no
read -r PID4 _ < <(bt_crash c1 threads | tr '\n' ' ')
check "Backtrace=no: record appears" wait_for_file "$STORE/core.crasher-bt.*.$PID4.*.json"
JSON4=$(bt_record "$STORE" "$PID4")
check "Backtrace=no: no backtrace, no signature, the reason" \
        bt_rec "$JSON4" '"backtrace" not in r and r["signature"] is None and r["backtrace_error"] == "Backtrace=no"'
check "Backtrace=no: the core is stored" test -s "${JSON4%.json}.zst"
check "host log: stored by the container's receiver" \
        wait_for_log "comm=\"crasher-bt\" .*outcome=stored receiver=container"
