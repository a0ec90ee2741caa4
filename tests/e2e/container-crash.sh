#!/bin/bash
# A crash inside a container is stored inside that container, by its resident receiver, and the
# core is good: it decompresses and gdb shows the crashing function. The record carries the
# container's view of pid, uid and signal; the host logs one line.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
container_start c1
start_receiver c1
ROOT=$(ct_root c1)
NAME=cpt-c1-$RANDOM

# As uid 4242 in the container, so that the uid in the record is not just root's.
out=$(ct_exec c1 /bin/sh -c 'ulimit -c unlimited; exec setpriv --reuid 4242 --regid 4242 --clear-groups /build/tests/crasher --name "$1"' sh "$NAME")
CT_CRASH_PID=$out
diag "crasher pid inside the container: $CT_CRASH_PID"

check "record appears in the container's store" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME.*.json"
JSON=$(ls "$ROOT"/var/lib/core_pipe/core."$NAME".*.json 2>/dev/null | head -n1)
CORE=${JSON%.json}.zst
check "core file is beside the record" test -s "$CORE"
check "core file name has six fields: core.comm.uid.boot_id.pid.usec" \
        sh -c "basename '$CORE' | grep -Eq '^core\\.$NAME\\.4242\\.[0-9a-f]{32}\\.$CT_CRASH_PID\\.[0-9]+\\.zst\$'"
check "nothing reached the host's fallback store" test ! -e "$T/hoststore"
check "core decompresses with its checksum" zstd -q -t "$CORE"
check "gdb backtrace shows crash_here" shows_crash_here "$CORE"
check "record: pid is the container's view ($CT_CRASH_PID)" test "$(json_field "$JSON" pid)" = "$CT_CRASH_PID"
check "record: uid 4242" test "$(json_field "$JSON" uid)" = 4242
check "record: signal 11 (SIGSEGV)" test "$(json_field "$JSON" signal)/$(json_field "$JSON" signal_name)" = 11/SIGSEGV
check "record: container hostname" test "$(json_field "$JSON" hostname)" = c1
check "record: exe inside the container" test "$(json_field "$JSON" exe)" = /build/tests/crasher
check "record: not truncated" test "$(json_field "$JSON" truncated)" = false
check "record: core_size matches the decompressed core" \
        test "$(json_field "$JSON" core_size)" = "$(zstd -q -d -c "$CORE" | wc -c)"
check "core and record are 0600" test "$(stat -c %a "$CORE" "$JSON" | sort -u)" = 600
check "host log line: stored by the container's receiver" \
        wait_for_log "comm=\"$NAME\" uid=4242 .*origin=container .*outcome=stored receiver=container file=\"core\\.$NAME\\."
host_pid=$(host_log | grep "comm=\"$NAME\"" | sed -n 's/.* pid=\([0-9]*\) .*/\1/p' | head -n1)
check "host log names the host pid, not the container's" test -n "$host_pid" -a "$host_pid" != "$CT_CRASH_PID"
check "receiver logged the crash in the container" grep -q "Process $CT_CRASH_PID ($NAME) of user 4242 crashed with signal 11" "$ROOT/run/receiver.log"

# The same without %F (kernels before 6.16): the helper opens the pidfd from %P and proves it is
# the crashed process (real uid/gid, start time) before forwarding.
NO_PIDFD=1 install_pattern
check "pattern without F=%F installed" sh -c "! grep -q 'F=%F' /proc/sys/kernel/core_pattern"
NAME2=cpt-nof-$RANDOM
pid2=$(ct_exec c1 /bin/sh -c 'ulimit -c unlimited; exec setpriv --reuid 4242 --regid 4243 --clear-groups /build/tests/crasher --name "$1"' sh "$NAME2")
check "without %F: record appears in the container's store" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME2.*.json"
JSON2=$(ls "$ROOT"/var/lib/core_pipe/core."$NAME2".*.json 2>/dev/null | head -n1)
check "without %F: pid, uid and gid as the container sees them" \
        test "$(json_field "$JSON2" pid)/$(json_field "$JSON2" uid)/$(json_field "$JSON2" gid)" = "$pid2/4242/4243"
check "without %F: gdb finds crash_here" shows_crash_here "${JSON2%.json}.zst"
check "without %F: host log says stored" wait_for_log "comm=\"$NAME2\" uid=4242 gid=4243 .*outcome=stored receiver=container"

# Container identity: the same crash from a cgroup named as docker names its containers. The
# host log line and the record carry the runtime and id (nothing about the image).
CG_ROOT=/sys/fs/cgroup/systemd
[ -d "$CG_ROOT" ] || CG_ROOT=/sys/fs/cgroup
CID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
CG=$CG_ROOT/cpt-test.slice/docker-$CID.scope
mkdir -p "$CG"
NAME3=cpt-cid-$$
(
        echo "$BASHPID" >"$CG/cgroup.procs"
        ct_exec c1 /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME3" >/dev/null 2>&1
)
check "docker cgroup: host log names the container" \
        wait_for_log "comm=\"$NAME3\" .*cgroup=\"/cpt-test.slice/docker-$CID.scope\" container=\"docker:$CID\" .*outcome=stored"
check "docker cgroup: stored in the container" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME3.*.json"
JSON3=$(ls "$ROOT"/var/lib/core_pipe/core."$NAME3".*.json 2>/dev/null | head -n1)
check "docker cgroup: record has runtime and id" \
        python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["container"]; sys.exit(not (c["runtime"]=="docker" and c["id"]==sys.argv[2]))' "$JSON3" "$CID"
rmdir "$CG" 2>/dev/null
# A name the protocol cannot carry (a space: a container with a delegated cgroup subtree names
# its own sub-cgroups) is left out of the request; the crash still goes to the container.
CG="$CG_ROOT/cpt-test.slice/machine-odd name.scope"
mkdir -p "$CG"
NAME4=cpt-odd-$$
(
        echo "$BASHPID" >"$CG/cgroup.procs"
        ct_exec c1 /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME4" >/dev/null 2>&1
)
check "an identity with a space: still stored by the container's receiver" \
        wait_for_log "comm=\"$NAME4\" .*container=\"nspawn:odd name\" .*outcome=stored receiver=container"
rmdir "$CG" "$CG_ROOT/cpt-test.slice" 2>/dev/null
check "a crash outside any container cgroup has no container field" \
        python3 -c 'import json,sys; sys.exit("container" in json.load(open(sys.argv[1])))' "$JSON"
