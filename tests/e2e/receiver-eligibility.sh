#!/bin/bash
# Issue 11, class 1: a core goes only to a receiver whose listening process could already read
# the crashed process (in its pid namespace or an ancestor, root of its user namespace or of an
# ancestor, owner of the socket). A socket owned by uid 0 in the crashed process's root proves
# nothing: a host process that entered a container's mount namespace or chroot'ed into its root,
# a container whose /run is shared with another's, a socket whose listener has exited, all go to
# the host fallback and the listener behind the socket (hostile: it keeps every core it gets) is
# handed nothing. A host daemon that places its socket into a container still serves it, and so
# does a receiver started with --background. On the helper before this rule, the listeners got
# the cores of cases 1 to 4.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern "TimeoutSec=3s" || exit 1

# hand_overs CONTAINER: how many cores the container's listener (evil-receiver hold, which says
# "send" and keeps whatever it is handed) was handed so far.
hand_overs() {
        grep -c "holding the core" "$(ct_root "$1")/run/evil.log" 2>/dev/null || true
}

# The container's root is the attacker: its listener, root in the container with Docker's default
# capabilities (no CAP_SYS_PTRACE), accepts every core it is offered and keeps it.
container_start elig
ct_exec elig setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace /bin/sh -c \
        'exec /build/tests/evil-receiver hold /run/core_pipe.socket /run/evil.log </dev/null >/dev/null 2>&1 &'
wait_for_file "$(ct_root elig)/run/core_pipe.socket"

# CAPPED: the container's capabilities, for its listener and for its own processes (an engine
# gives every process of a container the same bounding set).
CAPPED=(setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace)

# 0. The container's own crash goes to its listener: the control for what follows.
NAME=cpt-own-$$
ct_exec elig "${CAPPED[@]}" /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" \
        >/dev/null 2>&1
check "control: the container's own crash is handed to its listener" \
        wait_for_log "comm=\"$NAME\" .*outcome=receiver-died receiver=container"
check "control: its listener logged the hand-over" test "$(hand_overs elig)" = 1

# 1. An administrator's "nsenter -t PID -m": a host process in the container's mount namespace.
NAME=cpt-nsm-$$
nsenter -t "$(ct_pid elig)" -m -- /bin/sh -c 'ulimit -c unlimited; /build/tests/crasher --name "$1"; exit 0' sh \
        "$NAME" >/dev/null 2>&1
check "nsenter -m: the host process goes to the host fallback (host/), the listener is not eligible" \
        wait_for_log "comm=\"$NAME\" .*ct=host .*outcome=stored receiver=fallback .*dir=\"$T/hoststore/host\" why=\".*not eligible: its listener is outside the crashed process's pid namespace"
check "nsenter -m: core in the host's fallback directory" wait_for_file "$T/hoststore/host/core.$NAME.*.zst"
check "nsenter -m: the container's listener was handed nothing" test "$(hand_overs elig)" = 1

# 2. A copy tool's "chroot /proc/PID/root": a host process whose root is the container's.
NAME=cpt-chr-$$
chroot "$(ct_root elig)" /bin/sh -c 'ulimit -c unlimited; /build/tests/crasher --name "$1"; exit 0' sh "$NAME" \
        >/dev/null 2>&1
check "chroot: the host process goes to the host fallback, the listener is not eligible" \
        wait_for_log "comm=\"$NAME\" .*ct=host .*outcome=stored receiver=fallback .*dir=\"$T/hoststore/host\" why=\".*not eligible: its listener is outside the crashed process's pid namespace"
check "chroot: core in the host's fallback directory" wait_for_file "$T/hoststore/host/core.$NAME.*.zst"
check "chroot: the container's listener was handed nothing" test "$(hand_overs elig)" = 1

# 2b. "nsenter -t PID -m -p": the host process is in the container's pid namespace as well, and
#     root of its user namespace, but holds every capability; a listener without CAP_SYS_PTRACE
#     could not read it (ptrace(2) wants the target's permitted set within the reader's).
NAME=cpt-nmp-$$
nsenter -t "$(ct_pid elig)" -m -p -- /bin/sh -c 'ulimit -c unlimited; /build/tests/crasher --name "$1"; exit 0' sh \
        "$NAME" >/dev/null 2>&1
check "nsenter -m -p: the host process with every capability goes to the fallback" \
        wait_for_log "comm=\"$NAME\" .*outcome=stored receiver=fallback .*why=\".*not eligible: its listener lacks capabilities the crashed process has"
check "nsenter -m -p: the container's listener was handed nothing" test "$(hand_overs elig)" = 1

# 2c. "nsenter -t PID -p" only: the host's root, the container's pid namespace; the helper
#     looks in the root of the container's init, and its listener is not eligible either.
NAME=cpt-np-$$
nsenter -t "$(ct_pid elig)" -p -- /bin/sh -c 'ulimit -c unlimited; "$1" --name "$2"; exit 0' sh "$CRASHER" \
        "$NAME" >/dev/null 2>&1
check "nsenter -p: the host process with every capability goes to the fallback" \
        wait_for_log "comm=\"$NAME\" .*outcome=stored receiver=fallback .*why=\".*lacks capabilities the crashed process has"
check "nsenter -p: the container's listener was handed nothing" test "$(hand_overs elig)" = 1

# 3. Two containers share a volume and point /run into it (a symlink inside their roots, which
#    the helper follows): the socket in one's root is the other's listener, owned by uid 0.
mkdir -p "$T/shared-var"
CT_VAR=$T/shared-var container_start sha
CT_VAR=$T/shared-var container_start shb
for ct in sha shb; do
        ct_exec $ct /bin/sh -ec 'mkdir -p /var/run-shared; umount -l /run; rmdir /run; ln -s /var/run-shared /run'
done
ct_exec shb /bin/sh -c 'exec /build/tests/evil-receiver hold /run/core_pipe.socket /var/evil-shb.log </dev/null >/dev/null 2>&1 &'
wait_for_file "$T/shared-var/run-shared/core_pipe.socket"
NAME=cpt-sib-$$
ct_exec sha /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null 2>&1
check "shared /run: a container's crash never goes to its neighbour's listener" \
        wait_for_log "comm=\"$NAME\" .*ct=$(ct_key sha) .*outcome=stored receiver=fallback .*dir=\"$T/hoststore/containers/$(ct_key sha)\" why=\".*not eligible: its listener is outside the crashed process's pid namespace"
check "shared /run: the neighbour was handed nothing" sh -c "! grep -q \"holding the core\" '$T/shared-var/evil-shb.log'"
NAME=cpt-sibo-$$
timed_crash shb "$NAME"
check "shared /run: control: the neighbour's own crash is handed to it" \
        wait_for_log "comm=\"$NAME\" .*outcome=receiver-died receiver=container"

# 4. The process that called listen() has exited; its child serves the socket (and would hold
#    the core without reading it).
container_start orph
ct_exec orph /build/tests/evil-receiver orphan-hold /run/core_pipe.socket /run/evil.log </dev/null >/dev/null 2>&1
wait_for_file "$(ct_root orph)/run/core_pipe.socket"
NAME=cpt-orph-$$
timed_crash orph "$NAME"
check "listener exited: handled by the host fallback" \
        wait_for_log "comm=\"$NAME\" .*outcome=stored receiver=fallback .*why=\".*not eligible: its listener (has exited|is unknown or gone)"
check "listener exited: nothing was sent to the socket's server" sh -c "! grep -Eq \"request [1-9]|holding the core\" '$(ct_root orph)/run/evil.log'"
check "listener exited: process released within the timeout (${ELAPSED_MS} ms < 3000)" test "$ELAPSED_MS" -lt 3000

# 5. --background: the listener is the process that stays in the background.
container_start bg
ct_exec bg /bin/sh -c 'exec /build/receiver/core_pipe-receiver --listen --background >>/run/receiver.log 2>&1'
check "--background returns once its socket is there" test -S "$(ct_root bg)/run/core_pipe.socket"
NAME=cpt-bg-$$
ct_exec bg /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null 2>&1
check "--background: the container's crash is stored by its receiver" \
        wait_for_log "comm=\"$NAME\" .*ct=$(ct_key bg) .*outcome=stored receiver=container"
check "--background: a socket it cannot create fails it, with the child's status" \
        sh -c "! '$RECEIVER' --listen=/nonexistent/core_pipe.socket --background 2>/dev/null"

# 6. A host daemon may serve a container through a socket it places in it: it could read the
#    container's processes anyway (host pid and user namespace, root).
mkdir -p "$T/daemon-var/hd" "$T/daemon-store"
printf '[Receiver]\nMaxCoresPerInterval=0\n' >"$T/daemon.conf"
"$RECEIVER" --config="$T/daemon.conf" --store="$T/daemon-store" --listen="$T/daemon-var/hd/core_pipe.socket" \
        --background >>"$T/daemon.log" 2>&1
DAEMON_PID=$(pgrep -f -- "--listen=$T/daemon-var/hd/core_pipe.socket" | head -n1)
trap 'kill $DAEMON_PID 2>/dev/null; tap_cleanup' EXIT
CT_VAR=$T/daemon-var container_start hostd
ct_exec hostd /bin/sh -ec 'umount -l /run; rmdir /run; ln -s /var/hd /run'
NAME=cpt-hostd-$$
ct_exec hostd /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null 2>&1
check "host daemon's socket in a container: it receives the container's core" \
        wait_for_log "comm=\"$NAME\" .*ct=$(ct_key hostd) .*outcome=stored receiver=container"
check "host daemon's socket in a container: the core is in its store" \
        wait_for_file "$T/daemon-store/core.$NAME.*.zst"
