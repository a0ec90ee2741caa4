#!/bin/bash
# A container with its own user namespace (container ids 0-65535 are host ids 100000-165535, as
# with a rootless or userns-remapped engine). Its receiver runs as its root, host uid 100000:
# the helper accepts the socket because uid_map says that is the container's root, and the
# kernel translates the crashed process's ids into the container's view.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
CT_USERNS=1 container_start uns || exit 1
R=$(ct_root uns)
check "the container has a 65536-id map" sh -c "grep -Eq '^ +0 +100000 +65536\$' /proc/$(ct_pid uns)/uid_map"
start_receiver uns
check "its socket is owned by host uid 100000 (its root)" test "$(stat -c %u "$R/run/core_pipe.socket")" = 100000

NAME=cpt-uns-$$
pid=$(ct_exec uns /bin/sh -c 'ulimit -c unlimited; exec setpriv --reuid 4242 --regid 4243 --clear-groups /build/tests/crasher --name "$1"' sh "$NAME" 2>/dev/null)
check "core stored in the container" wait_for_file "$R/var/lib/core_pipe/core.$NAME.*.json"
JSON=$(ls "$R"/var/lib/core_pipe/core."$NAME".*.json 2>/dev/null | head -n1)
check "record: uid/gid as the container knows them (4242/4243)" \
        test "$(json_field "$JSON" uid)/$(json_field "$JSON" gid)" = 4242/4243
check "record: pid as the container knows it ($pid)" test "$(json_field "$JSON" pid)" = "$pid"
check "gdb finds crash_here" shows_crash_here "${JSON%.json}.zst"
check "core file belongs to the container's root (host uid 100000)" \
        test "$(stat -c %u "${JSON%.json}.zst")" = 100000
check "host log: host ids 104242/104243, stored by the container's receiver" \
        wait_for_log "comm=\"$NAME\" uid=104242 gid=104243 .*origin=container .*outcome=stored receiver=container"

# A socket owned by another user of the container (uid 1000, host 101000) is not its receiver.
stop_receiver uns
ct_exec uns /bin/sh -c 'rm -f /run/core_pipe.socket; exec /build/tests/evil-receiver silent /run/core_pipe.socket /run/evil.log 1000 </dev/null >/dev/null 2>&1 &'
wait_for_file "$R/run/core_pipe.socket"
check "that socket is owned by host uid 101000" test "$(stat -c %u "$R/run/core_pipe.socket")" = 101000
NAME2=cpt-unso-$$
ct_exec uns /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME2" >/dev/null 2>&1
check "owner 1000: fallback, socket not owned by the container's root" \
        wait_for_log "comm=\"$NAME2\" .*outcome=stored receiver=fallback .*socket not owned by the root of its user namespace"
check "owner 1000: its listener got no connection" sh -c "! grep -q connection '$R/run/evil.log'"
