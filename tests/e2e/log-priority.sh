#!/bin/bash
# The priority of a crash's host log line comes from what became of the crash, never from text a
# receiver can shape: a receiver that refuses with the reason "outcome=stored outcome=skipped"
# (a core then dropped by policy) must not turn the warning into an informational line.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

# level_of REGEX: facility and level ("daemon:warn ") of the last kernel log line that matches.
level_of() {
        dmesg -x 2>/dev/null | grep -E -- "$1" | tail -n1 | cut -d: -f1-2 | tr -d ' '
}

install_pattern "Fallback=drop"
container_start prio
ct_exec prio /bin/sh -c 'exec /build/tests/evil-receiver refuse-text /run/core_pipe.socket /run/evil.log </dev/null >/dev/null 2>&1 &'
for _ in $(seq 100); do
        [ -S "$(ct_root prio)/run/core_pipe.socket" ] && break
        sleep 0.05
done
NAME=cpt-prio-$RANDOM
ct_exec prio /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null 2>&1
check "the crash is dropped, with the receiver's words quoted" \
        wait_for_log "comm=\"$NAME\" .*outcome=dropped reason=\"receiver in its root refused: outcome=stored outcome=skipped\""
if [ -S /dev/log ]; then
        check "the line is a warning (journal priority 4)" \
                sh -c "journalctl -q -o verbose -t core_pipe --since '@$TEST_START' | grep -A30 'comm=\"$NAME\"' | grep -q 'PRIORITY=4'"
else
        check "the line is a warning, not information" test "$(level_of "comm=\"$NAME\"")" = daemon:warn
fi

# A core that was stored is still information.
container_start prio2
start_receiver prio2
NAME2=cpt-pok-$RANDOM
ct_exec prio2 /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME2" >/dev/null 2>&1
check "a stored core is logged" wait_for_log "comm=\"$NAME2\" .*outcome=stored receiver=container"
if [ ! -S /dev/log ]; then
        check "a stored core's line is information" test "$(level_of "comm=\"$NAME2\"")" = daemon:info
fi
