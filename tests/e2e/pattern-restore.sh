#!/bin/bash
# The test library restores kernel.core_pattern (and core_pipe_limit) when a test ends, also when
# it fails or is interrupted: a test run must never leave the machine's crash handling changed.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

before=$(cat /proc/sys/kernel/core_pattern)
limit_before=$(cat /proc/sys/kernel/core_pipe_limit)
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
check "the interrupted test had installed its pattern" grep -q "/run/cpt/core_pipe" /proc/sys/kernel/core_pattern
kill -TERM "$victim"
wait "$victim"
check "pattern restored after SIGTERM" test "$(cat /proc/sys/kernel/core_pattern)" = "$before"
