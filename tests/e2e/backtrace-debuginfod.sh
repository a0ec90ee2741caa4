#!/bin/bash
# Symbols through debuginfod: a local server (Debian's debuginfod, scanning a directory that holds
# the crasher's unstripped build) and a receiver started with DEBUGINFOD_URLS pointing at it name
# crash_here, its file and line for a stripped binary that has no debug file in the container. The
# same crash under a receiver without DEBUGINFOD_URLS does not. The test runs in a network
# namespace of its own: the server listens on its loopback only, and is stopped at the end.
. "$(dirname "$0")/../lib/lib.sh"
if [ -z "${CPT_NET_NS:-}" ]; then
        if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
                tap_init
                skip_all "needs root and unshare"
        fi
        exec unshare --net env CPT_NET_NS=1 "$0" "$@"
fi
. "$(dirname "$0")/../lib/backtrace.sh"
tap_init
require_root_kernel
[ -x "$CRASHER_BT" ] || skip_all "crasher-bt not built"
for tool in debuginfod debuginfod-find objcopy readelf ip; do
        command -v "$tool" >/dev/null || skip_all "needs $tool"
done
ip link set lo up

# The server: the unstripped build in a directory of its own, its database in $T, bounded in time.
mkdir -p "$T/debuginfod/files"
cp "$CRASHER_BT" "$T/debuginfod/files/crasher-bt"
timeout 600 debuginfod -v -F -p 8002 -d "$T/debuginfod/db.sqlite" -t 0 -g 0 -c 1 "$T/debuginfod/files" \
        >"$T/debuginfod.log" 2>&1 &
DEBUGINFOD_PID=$!
stop_debuginfod() {
        local rc=$?
        kill "$DEBUGINFOD_PID" 2>/dev/null
        wait "$DEBUGINFOD_PID" 2>/dev/null
        return $rc
}
trap 'stop_debuginfod; tap_cleanup' EXIT
URL=http://127.0.0.1:8002
BUILD_ID=$(readelf -n "$CRASHER_BT" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p' | head -n1)
served() {
        local i
        for ((i = 0; i < 300; i++)); do
                # A fresh cache each time: the client remembers a miss (before the first scan) for 10 min.
                DEBUGINFOD_URLS=$URL DEBUGINFOD_CACHE_PATH=$T/client-cache.$i debuginfod-find debuginfo "$BUILD_ID" \
                        >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        tail -n 20 "$T/debuginfod.log" >&2
        return 1
}
check "the server serves the crasher's debug info (build-id $BUILD_ID)" served
check "it listens on this test's own network namespace" sh -c "[ \"\$(readlink /proc/$DEBUGINFOD_PID/ns/net)\" != \"\$(readlink /proc/1/ns/net)\" ]"

SHARE=$(bt_share)
objcopy --strip-all "$CRASHER_BT" "$SHARE/tests/crasher-bt-stripped"
chmod a+rx "$SHARE/tests/crasher-bt-stripped"
install_pattern
CT_SHARE=$SHARE container_start c1
ROOT=$(ct_root c1)
STORE=$ROOT/var/lib/core_pipe
# No debug file in the container (its own, empty /usr/lib/debug).
nsenter -t "$(ct_pid c1)" -m -- mount -t tmpfs -o mode=0755 ct-debug /usr/lib/debug

# Without DEBUGINFOD_URLS: not named.
start_receiver c1 --max-cores-per-interval=0 --max-cores-per-signature=0
read -r PID _ < <(BT_PROGRAM=/build/tests/crasher-bt-stripped bt_crash c1 threads | tr '\n' ' ')
JSON=$(bt_wait_record "$STORE" "$PID")
check "without DEBUGINFOD_URLS: crash_here not named" bt_rec "$JSON" 'len(t) == 8 and "crash_here" not in names(c)'
stop_receiver c1

# With it (and a cache the container can write): fetched, named.
export DEBUGINFOD_URLS=$URL DEBUGINFOD_CACHE_PATH=/tmp/debuginfod-cache
start_receiver c1 --max-cores-per-interval=0 --max-cores-per-signature=0
read -r PID2 _ < <(BT_PROGRAM=/build/tests/crasher-bt-stripped bt_crash c1 threads | tr '\n' ' ')
JSON2=$(bt_wait_record "$STORE" "$PID2" 60)
check "with DEBUGINFOD_URLS: frame #0 is crash_here" bt_rec "$JSON2" 'f0["function"] == "crash_here"'
check "with DEBUGINFOD_URLS: crasher-bt.c:$CRASH_LINE" bt_rec "$JSON2" "base(f0['file']) == 'crasher-bt.c' and f0['line'] == $CRASH_LINE"
check "with DEBUGINFOD_URLS: level3, level2, level1 follow" \
        bt_rec "$JSON2" 'names(c)[:4] == ["crash_here", "level3", "level2", "level1"]'
check "the server was asked for it" grep -q "$BUILD_ID" "$T/debuginfod.log"
check "the debug file is in the container's own cache" \
        sh -c "ls '$ROOT/tmp/debuginfod-cache/$BUILD_ID/debuginfo'"
