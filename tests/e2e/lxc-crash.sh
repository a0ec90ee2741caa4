#!/bin/bash
# Real LXC (lxc-start, lxc-attach): a crash in a privileged container and in an unprivileged one
# (lxc.idmap: its ids 0-65535 are host ids 100000-165535) is stored by the resident receiver that
# the container's init started, on the container's own root file system; gdb shows the crashing
# function; nothing reaches the host's store; the host's log line names the container as LXC
# names it (container="lxc:NAME"), from the cgroup LXC made for it (lxc.payload.NAME).
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/lxc.sh"
tap_init
# The containers stop before the kernel's settings are restored; the test's status is kept.
on_exit() {
        local rc=$?
        lxc_cleanup
        (exit "$rc")
        tap_cleanup
}
trap on_exit EXIT
require_root_kernel
lxc_available || skip_all "needs LXC (lxc-start, lxc-attach)"
command -v debootstrap >/dev/null || skip_all "needs debootstrap"

ROOTFS=$(rootfs_get receiver "${ROOTFS_RECEIVER_PACKAGES[@]}") || exit 1

# crash_in_lxc NAME KIND COMM: one crash of the test crasher, named COMM, in the LXC container
# NAME, then every check of where it went. KIND names the container in the descriptions. Sets
# JSON to the record.
crash_in_lxc() {
        local ct=$1 kind=$2 comm=$3 store json core pid t0
        store=$T/lxc/$ct/rootfs/var/lib/core_pipe
        t0=$(date +%s%N)
        pid=$(lxc_exec "$ct" /bin/sh -c 'ulimit -c unlimited; /build/tests/crasher --name "$1"' sh "$comm" 2>/dev/null)
        diag "$kind: crasher pid $pid in the container, reaped after $((($(date +%s%N) - t0) / 1000000)) ms"
        check "$kind: the record is in the container's /var/lib/core_pipe" wait_for_file "$store/core.$comm.*.json"
        json=$(ls "$store"/core."$comm".*.json 2>/dev/null | head -n1)
        core=${json%.json}.zst
        check "$kind: the core is beside it" test -s "$core"
        check "$kind: gdb shows crash_here" shows_crash_here "$core"
        check "$kind: record: pid as the container sees it ($pid)" test "$(json_field "$json" pid)" = "${pid:-none}"
        check "$kind: record: hostname $ct" test "$(json_field "$json" hostname)" = "$ct"
        # LXC gives the container a cgroup namespace: only the host's view can name it.
        check "$kind: record: container lxc:$ct, as the host saw it" \
                python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["container"]; sys.exit(not (c["runtime"], c["id"], c["seen_by"]) == ("lxc", sys.argv[2], "host"))' \
                "$json" "$ct"
        check "$kind: host log: stored by the container's receiver, container=\"lxc:$ct\"" \
                wait_for_log "comm=\"$comm\" .*container=\"lxc:$ct\" .*outcome=stored receiver=container file=\"core\\.$comm\\."
        check "$kind: nothing reached the host's fallback store" test ! -e "$T/hoststore"
        JSON=$json
}

# Both roots are made before the test takes kernel.core_pattern (and the machine-wide lock).
CT=cpt-lxc-$$
UCT=cpt-lxcu-$$
lxc_create "$CT" "$ROOTFS" privileged || exit 1
lxc_create "$UCT" "$ROOTFS" unprivileged || exit 1
install_pattern

T0=$(date +%s%N)
check "privileged: the container runs with its receiver" lxc_start "$CT"
check "privileged: no user namespace of its own" \
        test "$(readlink "/proc/$(lxc_pid "$CT")/ns/user")" = "$(readlink /proc/self/ns/user)"
check "privileged: its cgroup is lxc.payload.$CT" grep -q "/lxc.payload.$CT\$" "/proc/$(lxc_pid "$CT")/cgroup"
crash_in_lxc "$CT" privileged "lxcp-$$"
lxc_cleanup

check "unprivileged: the container runs with its receiver" lxc_start "$UCT"
check "unprivileged: its root is host uid $LXC_ID_BASE (lxc.idmap)" \
        grep -Eq "^ +0 +$LXC_ID_BASE +$LXC_ID_COUNT\$" "/proc/$(lxc_pid "$UCT")/uid_map"
check "unprivileged: the socket is owned by host uid $LXC_ID_BASE" \
        test "$(stat -c %u "$T/lxc/$UCT/rootfs/run/core_pipe.socket")" = "$LXC_ID_BASE"
crash_in_lxc "$UCT" unprivileged "lxcu-$$"
check "unprivileged: the core belongs to the container's root (host uid $LXC_ID_BASE)" \
        test "$(stat -c %u "${JSON%.json}.zst")" = "$LXC_ID_BASE"
check "unprivileged: record: uid 0 as the container sees it" test "$(json_field "$JSON" uid)" = 0
check "unprivileged: host log: host uid $LXC_ID_BASE" wait_for_log "comm=\"lxcu-$$\" uid=$LXC_ID_BASE "
lxc_cleanup
diag "both containers started, crashed and stopped in $((($(date +%s%N) - T0) / 1000000)) ms"
