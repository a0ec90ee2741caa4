# shellcheck shell=bash
# Shared by the end-to-end tests: TAP output, root checks, the kernel's core_pattern (saved and
# restored on every exit), throwaway containers, and the host's log.
#
# Each test sources this file, calls tap_init, and uses `check DESCRIPTION COMMAND...`.

set -u
BUILD=${CORE_PIPE_BUILD:?CORE_PIPE_BUILD must point to the build directory}
HELPER=$BUILD/pipe/core_pipe
RECEIVER=$BUILD/receiver/core_pipe-receiver
CRASHER=$BUILD/tests/crasher
# The kernel limits core_pattern to 127 bytes: the tests use a short directory for the
# helper's link and config. Only one test owns the pattern at a time (is_parallel: false).
SHORT=/run/cpt

TAP_N=0
TAP_FAILED=0
CONTAINERS=()

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
        fi
}

diag() {
        echo "# $*"
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
        local c
        for c in "${CONTAINERS[@]}"; do
                container_stop "$c"
        done
        restore_kernel_settings
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

# ---- kernel settings ------------------------------------------------------------------------

OLD_PATTERN=
OLD_PIPE_LIMIT=
OLD_DEVKMSG=

save_kernel_settings() {
        OLD_PATTERN=$(cat /proc/sys/kernel/core_pattern)
        OLD_PIPE_LIMIT=$(cat /proc/sys/kernel/core_pipe_limit)
        OLD_DEVKMSG=$(cat /proc/sys/kernel/printk_devkmsg)
}

restore_kernel_settings() {
        [ -n "$OLD_PATTERN" ] || return 0
        printf '%s\n' "$OLD_PATTERN" >/proc/sys/kernel/core_pattern
        echo "$OLD_PIPE_LIMIT" >/proc/sys/kernel/core_pipe_limit
        echo "$OLD_DEVKMSG" >/proc/sys/kernel/printk_devkmsg
        OLD_PATTERN=
}

# install_pattern [EXTRA CONFIG LINES...]: points core_pattern at the built helper, with a config
# whose fallback store is $T/hoststore and whose receiver is the built one.
install_pattern() {
        local line
        [ -n "$OLD_PATTERN" ] || save_kernel_settings
        mkdir -p "$SHORT"
        ln -sfn "$HELPER" "$SHORT/core_pipe"
        {
                echo "[Pipe]"
                echo "FallbackStore=$T/hoststore"
                echo "Receiver=$RECEIVER"
                for line in "$@"; do echo "$line"; done
        } >"$SHORT/pipe.conf"
        PATTERN="|$SHORT/core_pipe C=$SHORT/pipe.conf F=%F P=%P u=%u g=%g s=%s t=%t c=%c d=%d h=%h e=%e"
        if [ "${#PATTERN}" -gt 127 ]; then
                echo "core_pattern too long (${#PATTERN} bytes)" >&2
                return 1
        fi
        printf '%s\n' "$PATTERN" >/proc/sys/kernel/core_pattern
        echo 16 >/proc/sys/kernel/core_pipe_limit
        # Userspace writes to /dev/kmsg are rate limited by default; the host log must keep
        # every line the tests look for.
        echo on >/proc/sys/kernel/printk_devkmsg
}

# ---- the host's log ---------------------------------------------------------------------------

# host_log: the helper's lines since the test started (journal where /dev/log is journald's,
# else the kernel log, which is where core_pipe writes when nothing listens on /dev/log).
host_log() {
        if [ -S /dev/log ] && command -v journalctl >/dev/null; then
                journalctl -q -o cat -t core_pipe -t core_pipe-receiver --since "@$TEST_START" 2>/dev/null
        else
                dmesg 2>/dev/null | sed -n 's/^\[[^]]*\] //p' | grep -E '^core_pipe(-receiver)?\['
        fi
}
TEST_START=$(date +%s)

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

# ---- containers ---------------------------------------------------------------------------------

# container_start NAME: a container with its own mount, pid and UTS namespaces, a private root
# (read-only /usr and /etc of the host, fresh tmpfs /run, /tmp and /var, its own /proc), the build
# tree read-only at /build. Sets CT_PID_<NAME> to the pid (host view) of its init.
container_start() {
        local name=$1 root="$T/ct-$1" pid i
        mkdir -p "$root"
        unshare --mount --pid --uts --fork --propagation private -- /bin/sh -ec '
                R=$1; NAME=$2; B=$3
                mount -t tmpfs -o mode=0755 ct-root "$R"
                mkdir -p "$R/usr" "$R/etc" "$R/proc" "$R/dev" "$R/run" "$R/tmp" "$R/var" "$R/build" "$R/sys"
                for d in usr etc; do
                        mount --rbind "/$d" "$R/$d"
                        mount -o remount,bind,ro "$R/$d"
                done
                for l in bin sbin lib lib64 lib32 libx32; do
                        if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$R/$l"; fi
                done
                mount --rbind "$B" "$R/build"
                mount -o remount,bind,ro "$R/build"
                mount -t tmpfs -o mode=0755 ct-run "$R/run"
                mount -t tmpfs -o mode=1777 ct-tmp "$R/tmp"
                mount -t tmpfs -o mode=0755 ct-var "$R/var"
                mount -t proc proc "$R/proc"
                mount -t tmpfs -o mode=0755 ct-dev "$R/dev"
                for n in null zero full random urandom; do
                        touch "$R/dev/$n"
                        mount --bind "/dev/$n" "$R/dev/$n"
                done
                hostname "$NAME"
                cd "$R"
                mkdir .oldroot
                pivot_root . .oldroot
                cd /
                umount -l /.oldroot
                rmdir /.oldroot
                : > /run/.ready
                exec sleep infinity
        ' sh "$root" "$name" "$BUILD" </dev/null >"$T/ct-$name.log" 2>&1 &
        local unshare_pid=$!
        disown "$unshare_pid"
        # The container's init is the child of unshare.
        for ((i = 0; i < 100; i++)); do
                pid=$(cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null | awk '{print $1}')
                if [ -n "$pid" ] && [ -e "/proc/$pid/root/run/.ready" ]; then
                        break
                fi
                sleep 0.05
        done
        if [ -z "$pid" ] || [ ! -e "/proc/$pid/root/run/.ready" ]; then
                echo "container $name did not start" >&2
                cat "$T/ct-$name.log" >&2
                return 1
        fi
        eval "CT_PID_$name=$pid"
        CONTAINERS+=("$name")
}

ct_pid() {
        eval "echo \${CT_PID_$1:-}"
}

# ct_root NAME: the container's root as the host reaches it.
ct_root() {
        echo "/proc/$(ct_pid "$1")/root"
}

# ct_exec NAME COMMAND...: runs a command inside the container (its namespaces and root).
ct_exec() {
        local name=$1
        shift
        nsenter -t "$(ct_pid "$name")" -m -p -u -r -w -- "$@"
}

container_stop() {
        local pid
        pid=$(ct_pid "$1")
        [ -n "$pid" ] || return 0
        kill -KILL "$pid" 2>/dev/null
        eval "CT_PID_$1="
}

# start_receiver NAME [ARGS...]: the resident receiver inside the container, logging to
# /run/receiver.log there; waits for its socket.
start_receiver() {
        local name=$1 i
        shift
        ct_exec "$name" /bin/sh -c 'exec /build/receiver/core_pipe-receiver --listen "$@" >>/run/receiver.log 2>&1' sh "$@" &
        disown $!
        for ((i = 0; i < 100; i++)); do
                [ -S "$(ct_root "$name")/run/core_pipe.socket" ] && return 0
                sleep 0.05
        done
        echo "receiver in $name did not start" >&2
        return 1
}

# wait_for_file GLOB [SECONDS]: waits until a file matching GLOB exists.
wait_for_file() {
        local i f
        for ((i = 0; i < ${2:-10} * 10; i++)); do
                for f in $1; do
                        [ -e "$f" ] && return 0
                done
                sleep 0.1
        done
        echo "no file matches $1" >&2
        return 1
}

# decompress_and_backtrace CORE.zst: decompresses next to $T and prints gdb's backtrace.
backtrace_of() {
        local core=$T/core.$$.$RANDOM
        zstd -q -d -f "$1" -o "$core" || return 1
        gdb -nx -batch -ex bt "$CRASHER" "$core" 2>&1
        rm -f "$core"
}

json_field() {
        python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(str(v).lower() if isinstance(v,bool) else v)' "$1" "$2"
}
