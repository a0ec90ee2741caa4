#!/bin/bash
# RLIMIT_CORE 0 over the kernel's coredump socket: the kernel does not enforce the limit there (it
# connects whatever the limit), so the host side must answer REJECT, and then no dump happens at
# all: the process ends without the kernel's core flag, at once whatever its size, nothing is
# stored anywhere, and the host log says why. A limit above zero still dumps (the core flag set,
# the core stored cut at the limit and marked: ulimit-zero-socket covers the cut).
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket

install_pattern
container_start rz
start_receiver rz
ROOT=$(ct_root rz)

# The same 256 MiB process with RLIMIT_CORE unlimited first: the flag is set when a core is dumped.
NAME=cpt-rl-$RANDOM
out=$(ct_crash_status rz unlimited --name "$NAME" --size 256)
diag "RLIMIT_CORE unlimited: $out"
check "unlimited: killed by SIGSEGV, with the core flag" test "${out% ms=*}" = "signal=11 core=1"
check "unlimited: stored in the container" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME.*.json"
check "unlimited: the host log names the socket transport" wait_for_log "comm=\"$NAME\" .*transport=socket .*outcome=stored"
full_ms=${out##*ms=}

NAME0=cpt-rl0-$RANDOM
out=$(ct_crash_status rz 0 --name "$NAME0" --size 256)
diag "RLIMIT_CORE 0: $out (unlimited: $full_ms ms)"
check "RLIMIT_CORE 0: killed by SIGSEGV, without the core flag (no dump at all)" test "${out% ms=*}" = "signal=11 core=0"
check "RLIMIT_CORE 0: the host log says RLIMIT_CORE is 0 and no core was dumped" \
        wait_for_log "comm=\"$NAME0\" .*transport=socket .*outcome=skipped .*RLIMIT_CORE is 0"
check "RLIMIT_CORE 0: nothing stored in the container" sh -c "! ls '$ROOT/var/lib/core_pipe' 2>/dev/null | grep -q '$NAME0'"
check "RLIMIT_CORE 0: nothing stored on the host" sh -c "! ls -R '$T/hoststore' 2>/dev/null | grep -q '$NAME0'"
check "RLIMIT_CORE 0: one host log line" test "$(host_log | grep -c "comm=\"$NAME0\"")" = 1
