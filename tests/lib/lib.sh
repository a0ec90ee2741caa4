# shellcheck shell=bash
# Shared by the end-to-end tests: TAP output, root checks, the kernel's core_pattern (saved and
# restored on every exit), throwaway containers, and the host's log.
#
# Each test sources this file, calls tap_init, and uses `check DESCRIPTION COMMAND...`.

set -u
BUILD=${CORE_PIPE_BUILD:?CORE_PIPE_BUILD must point to the build directory}
. "$(dirname "${BASH_SOURCE[0]}")/container.sh"
. "$(dirname "${BASH_SOURCE[0]}")/rootfs.sh"
# shellcheck disable=SC2034 # HELPER, RECEIVER and SHORT are read by container.sh and the tests
HELPER=$BUILD/pipe/core_pipe
# shellcheck disable=SC2034
RECEIVER=$BUILD/receiver/core_pipe-receiver
CRASHER=$BUILD/tests/crasher
# The kernel limits core_pattern to 127 bytes: the tests use a short directory for the
# helper's link and config. Only one test owns the pattern at a time (is_parallel: false).
# shellcheck disable=SC2034
SHORT=/run/cpt

TAP_N=0
TAP_FAILED=0

tap_init() {
        T=$(mktemp -d /var/tmp/core_pipe-test.XXXXXX)
        trap tap_cleanup EXIT
        trap 'exit 130' INT TERM
}

check() {
        local desc=$1
        shift
        TAP_N=$((TAP_N + 1))
        if "$@" >>"$T/check.log" 2>&1; then
                echo "ok $TAP_N - $desc"
        else
                echo "not ok $TAP_N - $desc"
                printf '%s\n' "failed: $*" | sed 's/^/# /'
                tail -n 20 "$T/check.log" | sed 's/^/#   /'
                TAP_FAILED=$((TAP_FAILED + 1))
                return 1
        fi
}

# diag TEXT: a TAP comment; every line of a text of several lines is one.
diag() {
        printf '%s\n' "$*" | sed 's/^/# /'
}

# Root-only tests skip on a developer's laptop but must run in CI.
must_run() {
        [ "${CORE_PIPE_TESTS_MUST_RUN:-0}" = 1 ]
}

skip_all() {
        if must_run; then
                echo "Bail out! would skip ($*) but CORE_PIPE_TESTS_MUST_RUN=1"
                exit 1
        fi
        echo "1..0 # SKIP $*"
        exit 77
}

require_root_kernel() {
        [ "$(id -u)" = 0 ] || skip_all "needs root"
        [ -w /proc/sys/kernel/core_pattern ] || skip_all "kernel.core_pattern is not writable"
        command -v unshare >/dev/null && command -v nsenter >/dev/null || skip_all "needs unshare and nsenter"
}

tap_cleanup() {
        local rc=$?
        restore_kernel_settings
        containers_stop_all
        slow_cgroups_remove
        if [ -n "${KEEP_TEST_DIR:-}" ]; then
                diag "kept $T"
        else
                rm -rf "$T"
        fi
        echo "1..$TAP_N"
        if [ "$TAP_FAILED" -gt 0 ]; then
                exit 1
        fi
        exit "$rc"
}

# ---- the host's log ---------------------------------------------------------------------------

# host_log: the helper's lines since the test started (journal where /dev/log is journald's,
# else the kernel log, which is where core_pipe writes when nothing listens on /dev/log).
host_log() {
        if [ -S /dev/log ] && command -v journalctl >/dev/null; then
                journalctl -q -o cat -t core_pipe -t core_pipe-receiver --since "@$TEST_START" 2>/dev/null
        else
                # Only lines since the test started (the kernel log holds every earlier test's).
                dmesg 2>/dev/null | awk -v start="$TEST_START_UPTIME" '{
                        if (match($0, /^\[ *[0-9.]+\] /)) {
                                ts = substr($0, 2, RLENGTH - 3) + 0
                                if (ts >= start) print substr($0, RLENGTH + 1)
                        }
                }' | grep -E '^core_pipe(-receiver)?\['
        fi
}
TEST_START=$(date +%s)
TEST_START_UPTIME=$(cut -d' ' -f1 /proc/uptime)

# wait_for_log REGEX [SECONDS]
wait_for_log() {
        local i
        for ((i = 0; i < ${2:-10} * 10; i++)); do
                host_log | grep -Eq -- "$1" && return 0
                sleep 0.1
        done
        echo "no host log line matches: $1" >&2
        return 1
}

# wait_for_text FILE TEXT [SECONDS]: waits until FILE holds a line matching TEXT (grep -E). Over
# the kernel's socket a receiver logs a crash it skipped once the process has ended (that is where
# the signal comes from), after the host's line.
wait_for_text() {
        local i
        for ((i = 0; i < ${3:-10} * 10; i++)); do
                grep -Eq -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.1
        done
        echo "$1: no line matches: $2" >&2
        return 1
}

# wait_for_file GLOB [SECONDS [TEST]]: waits until a file matching GLOB exists (or passes the
# test(1) operator TEST, -e by default: -s for one with bytes in it).
wait_for_file() {
        local i f
        for ((i = 0; i < ${2:-10} * 10; i++)); do
                for f in $1; do
                        test "${3:--e}" "$f" && return 0
                done
                sleep 0.1
        done
        echo "no file matches $1" >&2
        return 1
}

# backtrace_of CORE.zst: decompresses into $T and prints gdb's backtrace of the crasher.
backtrace_of() {
        local core=$T/core.$$.$RANDOM
        zstd -q -d -f "$1" -o "$core" || return 1
        gdb -nx -batch -ex bt "$CRASHER" "$core" 2>&1
        rm -f "$core"
}

# shows_crash_here CORE.zst: true when gdb's backtrace of the core names crash_here.
shows_crash_here() {
        backtrace_of "$1" | grep -q crash_here
}

json_field() {
        python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(str(v).lower() if isinstance(v,bool) else v)' "$1" "$2"
}
