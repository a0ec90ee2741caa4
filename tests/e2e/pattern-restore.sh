#!/bin/bash
# The test library restores kernel.core_pattern (and core_pipe_limit) when a test ends, also when
# it fails or is interrupted: a test run must never leave the machine's crash handling changed.
# With CORE_PIPE_TRANSPORT=socket it also stops the host side it started (core_pipe --serve, or
# systemd-socket-activate), after the pattern, and a server never outlives its test, even one
# killed by SIGKILL.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

# The lock for the whole test (the tests it runs inherit it): nobody else changes the pattern
# between the reading of "before" and the checks.
save_kernel_settings
before=$OLD_PATTERN
limit_before=$OLD_PIPE_LIMIT
lib=$(dirname "$0")/../lib/lib.sh

# A test that installs the pattern and then fails.
bash -c ". '$lib'; tap_init; install_pattern; check 'deliberate failure' false" >"$T/failing.tap" 2>&1
rc=$?
check "the failing test did fail" test "$rc" -ne 0
check "its TAP says not ok" grep -q "^not ok 1 - deliberate failure" "$T/failing.tap"
check "pattern restored after a failing test" test "$(cat /proc/sys/kernel/core_pattern)" = "$before"
check "core_pipe_limit restored too" test "$(cat /proc/sys/kernel/core_pipe_limit)" = "$limit_before"

# A test killed by SIGTERM in the middle.
bash -c ". '$lib'; tap_init; install_pattern; touch '$T/installed'; sleep 60 & wait \$!" >/dev/null 2>&1 &
victim=$!
for _ in $(seq 100); do [ -e "$T/installed" ] && break; sleep 0.05; done
check "the interrupted test had installed its pattern" grep -q "^[|@]*/run/cpt/" /proc/sys/kernel/core_pattern
kill -TERM "$victim"
wait "$victim"
check "pattern restored after SIGTERM" test "$(cat /proc/sys/kernel/core_pattern)" = "$before"

# servers: the processes of a host side on the test socket (core_pipe --serve --listen PATH, or
# systemd-socket-activate -l PATH and its core_pipe --socket children).
servers() {
        pgrep -f -- "$SHORT/kernel.socket|core_pipe --socket" || true
}
if [ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ]; then
        check "socket mode: no server left after the failing test" test -z "$(servers)"
        check "socket mode: nothing listens on the test socket any more" sh -c "! grep -q ' $SHORT/kernel.socket\$' /proc/net/unix"
fi

# A test killed by SIGKILL: no trap runs. This test holds the lock (the victim inherits it, as a
# script run by a test does) and restores the pattern itself; a server of the victim's must go
# by itself.
bash -c ". '$lib'; tap_init; install_pattern; touch '$T/installed2'; sleep 60 & wait \$!" >/dev/null 2>&1 &
victim=$!
for _ in $(seq 100); do [ -e "$T/installed2" ] && break; sleep 0.05; done
check "the test killed by SIGKILL had installed its pattern" grep -q "^[|@]*/run/cpt/" /proc/sys/kernel/core_pattern
if [ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ]; then
        check "socket mode: its server ran" test -n "$(servers)"
fi
kill -KILL "$victim"
wait "$victim" 2>/dev/null
gone() {
        for _ in $(seq 200); do
                [ -z "$(servers)" ] && return 0
                sleep 0.05
        done
        servers
        return 1
}
check "no server outlives a test killed by SIGKILL (10 s)" gone
restore_kernel_settings
check "pattern restored by the test that held the lock" test "$(cat /proc/sys/kernel/core_pattern)" = "$before"
