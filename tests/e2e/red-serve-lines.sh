#!/bin/bash
# Red team, property 2: no crash is handled without one host log line. The resident server
# REJECTs a crash over MaxConcurrentDumps= at once, and says so with log_helper_problem(): the
# "helper" key, limited to 10 lines a minute whatever LogRateLimitBurst= says (0 here: no limit).
# A container whose receiver holds its cores (within its share) keeps the server at its cap; every
# crash of another container meanwhile is REJECTed and must still get its line.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket

install_pattern "MaxConcurrentDumps=2" "StallTimeoutSec=20" "TimeoutSec=20"
container_start hog
container_start victim
ct_exec hog /bin/sh -c 'exec /build/tests/evil-receiver hold /run/core_pipe.socket /run/evil.log </dev/null >/dev/null 2>&1 &'
wait_receiver_socket hog
start_receiver victim

for i in 1 2; do
        (ct_exec hog /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name hog-hold' >/dev/null 2>&1 &)
done
for ((i = 0; i < 100; i++)); do
        [ "$(grep -c "holding the core" "$(ct_root hog)/run/evil.log" 2>/dev/null)" = 2 ] && break
        sleep 0.1
done
check "the hog's receiver holds two cores (the server at MaxConcurrentDumps=2)" \
        test "$(grep -c "holding the core" "$(ct_root hog)/run/evil.log")" = 2

N=15
for ((i = 0; i < N; i++)); do
        # shellcheck disable=SC2016 # expanded by the inner shell
        ct_exec victim /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "victim-$i" >/dev/null 2>&1
done
wait_for_log "REJECTed" 10 >/dev/null
sleep 2 # the REJECTs are immediate; the count below polls no further
rejected=$(host_log | grep -c "MaxConcurrentDumps=2 crashes in progress")
# The REJECT lines name the crashed process (pid, comm): each victim crash named at least once.
named=$(host_log | grep -o 'comm="victim-[0-9]*"' | sort -u | wc -l)
diag "REJECT lines: $rejected, victim crashes named in a line: $named, victim crashes: $N"
diag "$(host_log | grep -v hog-hold | tail -n 3 | cut -c1-250)"
check "every victim crash has its host log line naming it ($N)" test "$named" = "$N"
