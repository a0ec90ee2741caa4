#!/bin/bash
# Where the symbols come from. A binary deleted after it started: its frames still carry the
# module, its build-id (from the first page the capture kept) and the offset. A stripped binary:
# without debug files no crash_here; with its debug file installed under /usr/lib/debug/.build-id
# inside the container's root (not the host's), crash_here, its file and line are named again.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/backtrace.sh"
tap_init
require_root_kernel
[ -x "$CRASHER_BT" ] || skip_all "crasher-bt not built"
command -v objcopy >/dev/null && command -v readelf >/dev/null || skip_all "needs objcopy and readelf (binutils)"

SHARE=$(bt_share)
objcopy --only-keep-debug "$CRASHER_BT" "$T/crasher-bt.debug"
objcopy --strip-all "$CRASHER_BT" "$SHARE/tests/crasher-bt-stripped"
chmod a+rx "$SHARE/tests/crasher-bt-stripped"
BUILD_ID=$(readelf -n "$CRASHER_BT" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p' | head -n1)
diag "crasher-bt build-id $BUILD_ID"
check "the stripped copy has no symbol table, and the build-id" \
        sh -c "! readelf -S '$SHARE/tests/crasher-bt-stripped' | grep -q '\\.symtab' && readelf -n '$SHARE/tests/crasher-bt-stripped' | grep -q $BUILD_ID"

install_pattern
CT_SHARE=$SHARE container_start c1
start_receiver c1 --max-cores-per-interval=0 --max-cores-per-signature=0
ROOT=$(ct_root c1)
STORE=$ROOT/var/lib/core_pipe
# The container's own /usr/lib/debug (its /usr is the host's, read-only): empty for now.
nsenter -t "$(ct_pid c1)" -m -- mount -t tmpfs -o mode=0755 ct-debug /usr/lib/debug

# Deleted after start: a copy in the container's /tmp that removes itself.
ct_exec c1 cp /build/tests/crasher-bt /tmp/crasher-bt
read -r PID _ < <(BT_PROGRAM=/tmp/crasher-bt bt_crash c1 threads --unlink-self | tr '\n' ' ')
check "deleted binary: it is gone" test ! -e "$ROOT/tmp/crasher-bt"
JSON=$(bt_wait_record "$STORE" "$PID")
check "deleted binary: record with 8 threads" bt_rec "$JSON" 'len(t) == 8 and c["crashed"]'
check "deleted binary: frame #0 names the module, as NT_FILE says it" \
        bt_rec "$JSON" 'f0["module"].startswith("/tmp/crasher-bt")'
check "deleted binary: frame #0 carries the build-id $BUILD_ID" bt_rec "$JSON" "f0['build_id'] == '$BUILD_ID'"
check "deleted binary: frame #0 carries its offset in the module" \
        bt_rec "$JSON" 'f0["offset"].startswith("0x") and int(f0["offset"], 16) > 0'
check "deleted binary: a signature all the same (by module and offset)" bt_rec "$JSON" 'len(r["signature"]) == 16'

# Stripped, no debug file anywhere: the function is not named.
read -r PID2 _ < <(BT_PROGRAM=/build/tests/crasher-bt-stripped bt_crash c1 threads | tr '\n' ' ')
JSON2=$(bt_wait_record "$STORE" "$PID2")
check "stripped, no debug file: crash_here not named" bt_rec "$JSON2" 'len(t) == 8 and "crash_here" not in names(c)'
check "stripped, no debug file: the module's build-id" bt_rec "$JSON2" "f0['build_id'] == '$BUILD_ID'"

# Its debug file under the container's /usr/lib/debug/.build-id/xx/yyyy.debug.
DBG=$ROOT/usr/lib/debug/.build-id/${BUILD_ID:0:2}
mkdir -p "$DBG"
cp "$T/crasher-bt.debug" "$DBG/${BUILD_ID:2}.debug"
read -r PID3 _ < <(BT_PROGRAM=/build/tests/crasher-bt-stripped bt_crash c1 threads | tr '\n' ' ')
JSON3=$(bt_wait_record "$STORE" "$PID3")
check "stripped + debug file: frame #0 is crash_here" bt_rec "$JSON3" 'f0["function"] == "crash_here" and f0["inlined"]'
check "stripped + debug file: crasher-bt.c:$CRASH_LINE" \
        bt_rec "$JSON3" "base(f0['file']) == 'crasher-bt.c' and f0['line'] == $CRASH_LINE"
check "stripped + debug file: level3, level2, level1 follow" \
        bt_rec "$JSON3" 'names(c)[:4] == ["crash_here", "level3", "level2", "level1"]'
check "stripped + debug file: the module listed with its build-id" \
        bt_rec "$JSON3" "any(base(m['path']) == 'crasher-bt-stripped' and m['build_id'] == '$BUILD_ID' for m in b['modules'])"
check "the host's /usr/lib/debug was not touched" test ! -e "/usr/lib/debug/.build-id/${BUILD_ID:0:2}/${BUILD_ID:2}.debug"
