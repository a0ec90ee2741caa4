#!/bin/bash
# Dump mode 2 over the kernel's coredump socket (fs.suid_dumpable=2, a setuid program): the socket
# carries no %d, the host side learns the mode from the pidfd (PIDFD_INFO_COREDUMP: ROOT). Such a
# core is never forwarded: the host fallback stores it, root-only, and the container's receiver
# never hears of it; with Fallback=drop the kernel is told REJECT and no dump happens at all.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket

install_pattern
echo 2 >/proc/sys/fs/suid_dumpable
container_start dm
start_receiver dm
R=$(ct_root dm)
cp "$CRASHER" "$R/tmp/crasher-suid"
chown 0:0 "$R/tmp/crasher-suid"
chmod 4755 "$R/tmp/crasher-suid"
# ct_crash_status runs /build/tests/crasher: the setuid copy is run by a shell of uid 4242.
suid_crash() {
        ct_exec dm /bin/sh -c 'ulimit -c unlimited; exec setpriv --reuid 4242 --regid 4242 --clear-groups /tmp/crasher-suid --name "$1"' \
                sh "$1" >/dev/null 2>&1
}

NAME=cpt-dm2-$$
suid_crash "$NAME"
check "mode 2: the host log says never forwarded, stored by the host fallback" \
        wait_for_log "comm=\"$NAME\" uid=4242 .*transport=socket .*outcome=stored receiver=fallback .*why=\"dump mode 2 \\(privileged process\\): never forwarded\""
CORE=$(ls "$T"/hoststore/containers/pidns-*/core."$NAME".*.zst 2>/dev/null | head -n1)
check "mode 2: core in the host's fallback store" test -s "$CORE"
check "mode 2: the core is root's and 0600" test "$(stat -c %u:%a "$CORE")" = 0:600
check "mode 2: gdb finds crash_here" shows_crash_here "$CORE"
check "mode 2: nothing in the container's store" sh -c "! ls '$R/var/lib/core_pipe' 2>/dev/null | grep -q '$NAME'"
check "mode 2: the container's receiver never heard of it" sh -c "! grep -q '$NAME' '$R/run/receiver.log'"

# Fallback=drop: nowhere to put it, so the kernel must not dump it at all.
install_pattern "Fallback=drop"
NAME2=cpt-dm2d-$$
out=$(ct_exec dm python3 -c '
import os, resource, sys
resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
pid = os.fork()
if pid == 0:
    os.setgroups([]); os.setgid(4242); os.setuid(4242)
    fd = os.open("/dev/null", os.O_WRONLY); os.dup2(fd, 1)
    os.execv("/tmp/crasher-suid", ["crasher-suid", "--name", sys.argv[1]])
_, st = os.waitpid(pid, 0)
print(f"signal={os.WTERMSIG(st) if os.WIFSIGNALED(st) else 0} core={int(os.WCOREDUMP(st))}")' "$NAME2")
diag "mode 2, Fallback=drop: $out"
check "mode 2, Fallback=drop: killed by SIGSEGV without the core flag (REJECT: no dump)" test "$out" = "signal=11 core=0"
check "mode 2, Fallback=drop: the host log says dropped and why" \
        wait_for_log "comm=\"$NAME2\" .*transport=socket .*outcome=dropped .*dump mode 2"
check "mode 2, Fallback=drop: nothing stored anywhere" \
        sh -c "! ls -R '$T/hoststore' '$R/var/lib/core_pipe' 2>/dev/null | grep -q '$NAME2'"
check "mode 2, Fallback=drop: the container's receiver never heard of it" sh -c "! grep -q '$NAME2' '$R/run/receiver.log'"

# The same program without its setuid bit (mode 1) goes to the container as usual.
chmod 0755 "$R/tmp/crasher-suid"
NAME3=cpt-dm1-$$
suid_crash "$NAME3"
check "mode 1: stored in the container" wait_for_file "$R/var/lib/core_pipe/core.$NAME3.*.zst"
