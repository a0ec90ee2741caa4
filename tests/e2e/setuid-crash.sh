#!/bin/bash
# A setuid program crashes in a container with fs.suid_dumpable=2: the kernel dumps it in mode 2
# (%d=2), a core readable by host root only. It is never forwarded: the host fallback stores it,
# root-only, and the container's receiver never hears of it.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
echo 2 >/proc/sys/fs/suid_dumpable
container_start suid
start_receiver suid
R=$(ct_root suid)
cp "$CRASHER" "$R/tmp/crasher-suid"
chown 0:0 "$R/tmp/crasher-suid"
chmod 4755 "$R/tmp/crasher-suid"

NAME=cpt-suid-$$
ct_exec suid /bin/sh -c 'ulimit -c unlimited; exec setpriv --reuid 4242 --regid 4242 --clear-groups /tmp/crasher-suid --name "$1"' sh "$NAME" >/dev/null 2>&1
check "host log: dump mode 2 never forwarded, stored by the host fallback" \
        wait_for_log "comm=\"$NAME\" uid=4242 .*origin=container .*outcome=stored receiver=fallback .*why=\"dump mode 2 \\(privileged process\\): never forwarded\""
CORE=$(ls "$T"/hoststore/containers/pidns-*/core."$NAME".*.zst 2>/dev/null | head -n1)
check "core in the host's fallback store" test -s "$CORE"
check "core is root's and 0600" test "$(stat -c %u:%a "$CORE")" = 0:600
check "gdb finds crash_here" shows_crash_here "$CORE"
check "nothing in the container's store" sh -c "! ls '$R/var/lib/core_pipe' 2>/dev/null | grep -q '$NAME'"
check "the container's receiver never heard of it" sh -c "! grep -q '$NAME' '$R/run/receiver.log'"

# The same program without privileges (mode 1) goes to the container as usual.
chmod 0755 "$R/tmp/crasher-suid"
NAME2=cpt-plain-$$
ct_exec suid /bin/sh -c 'ulimit -c unlimited; exec setpriv --reuid 4242 --regid 4242 --clear-groups /tmp/crasher-suid --name "$1"' sh "$NAME2" >/dev/null 2>&1
check "without setuid: stored in the container" wait_for_file "$R/var/lib/core_pipe/core.$NAME2.*.zst"
