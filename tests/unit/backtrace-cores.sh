#!/bin/bash
# Real kernel cores for test-stackcap and test-backtrace: makes them, then runs the test named
# (TEST [ARGS...]) with CORES set to their directory. The kernel writes each core to a file
# (core_pattern is a path, under the tests' lock, restored at once): the same stream the
# receiver reads. Cores made here:
#   threads.core     crasher-bt threads (8 threads, worker 3 faults in crash_here, inlined)
#   deep.core        crasher-bt deep 2000 (about 2 MiB of stack)
#   deleted.core     a copy of crasher-bt that unlinks itself before faulting (threads mode)
#   stripped.core    crasher-bt-stripped (its debug file only under $CORES/debug/.build-id)
# and for each, NAME.tid (the crashing thread's tid) and NAME.exe (the binary's path).
. "$(dirname "$0")/../lib/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -w /proc/sys/kernel/core_pattern ]; then
        if must_run; then
                echo "Bail out! needs root and a writable kernel.core_pattern, CORE_PIPE_TESTS_MUST_RUN=1"
                exit 1
        fi
        echo "1..0 # SKIP needs root and a writable kernel.core_pattern"
        exit 77
fi
CORES=$(mktemp -d /var/tmp/core_pipe-bt.XXXXXX)
DEBUGINFOD_PID=
stop_all() {
        restore_kernel_settings
        [ -z "$DEBUGINFOD_PID" ] || { kill "$DEBUGINFOD_PID" 2>/dev/null; wait "$DEBUGINFOD_PID" 2>/dev/null; }
        rm -rf "$CORES"
}
trap stop_all EXIT
BT_CRASHER=$BUILD/tests/crasher-bt

# crash NAME EXE ARGS...: runs EXE until it dumps $CORES/NAME.core.
crash() {
        local name=$1 exe=$2 pid
        shift 2
        # The shell's own "Segmentation fault" line would land in the TAP stream: to the log.
        { (ulimit -c unlimited && exec "$exe" "$@") >"$CORES/$name.out"; } 2>>"$CORES/crash.log"
        pid=$(sed -n 1p "$CORES/$name.out")
        sed -n 2p "$CORES/$name.out" >"$CORES/$name.tid"
        echo "$exe" >"$CORES/$name.exe"
        if [ -z "$pid" ] || [ ! -s "$CORES/core.$pid" ]; then
                echo "# $name: no core from $exe (pid ${pid:-none}; core_pattern: $(cat /proc/sys/kernel/core_pattern))"
                sed 's/^/#   /' "$CORES/crash.log"
                return 1
        fi
        mv "$CORES/core.$pid" "$CORES/$name.core"
}

make_cores() {
        save_kernel_settings || return 1
        write_pattern "$CORES/core.%p" || return 1
        crash threads "$BT_CRASHER" threads || return 1
        crash deep "$BT_CRASHER" deep 2000 || return 1
        mkdir -p "$CORES/gone"
        cp "$BT_CRASHER" "$CORES/gone/crasher-bt-copy"
        crash deleted "$CORES/gone/crasher-bt-copy" threads --unlink-self || return 1
        crash stripped "$BUILD/tests/crasher-bt-stripped" threads || return 1
        restore_kernel_settings
        cp -r "$BUILD/tests/crasher-bt-debug" "$CORES/debug"
}
if [ "$(ulimit -H -c)" != unlimited ]; then
        echo "Bail out! the hard RLIMIT_CORE is $(ulimit -H -c) blocks: the crashers cannot dump whole cores"
        exit 1
fi
if ! make_cores; then
        echo "Bail out! could not make the test cores"
        exit 1
fi

# A local debuginfod (Debian's server) serving the unstripped crasher-bt: the stripped copy's
# debug information is fetched by build-id. DEBUGINFOD_TEST_URL tells test-backtrace where.
start_debuginfod() {
        local port id i
        command -v debuginfod >/dev/null || return 1
        mkdir -p "$CORES/served"
        cp "$BT_CRASHER" "$CORES/served/"
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        debuginfod -F "$CORES/served" -p "$port" -d "$CORES/debuginfod.sqlite" >"$CORES/debuginfod.log" 2>&1 &
        DEBUGINFOD_PID=$!
        id=$(readelf -n "$BT_CRASHER" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')
        for ((i = 0; i < 300; i++)); do
                if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
                        "http://127.0.0.1:$port/buildid/$id/debuginfo" 2>/dev/null; then
                        export DEBUGINFOD_TEST_URL="http://127.0.0.1:$port"
                        return 0
                fi
                sleep 0.1
        done
        return 1
}
if ! start_debuginfod && must_run; then
        echo "Bail out! debuginfod did not start (see tools/deps.sh)"
        exit 1
fi
export CORES
"$@"
