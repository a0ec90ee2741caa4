#!/bin/bash
# Issue 11, class 4 (the key): the host keys everything it keeps per container (the fallback's
# directory, its rate limit) on the container's outermost pid namespace below the host's, with
# its init's start time and the boot: pidns-INODE-TICKS-BOOT. A container cannot multiply it
# (new mount, user or pid namespaces inside it do not change it) and a new container does not
# inherit a departed one's (inode numbers are reused, start times are not). Before, the key was
# the mount namespace's inode: every "unshare -m" was a new container with a fresh rate limit.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

LIMIT=5
printf '[Receiver]\nMaxCoresPerInterval=%s\nInterval=3600s\n' "$LIMIT" >"$T/receiver.conf"
install_pattern "ReceiverConfig=$T/receiver.conf" || exit 1
STORE=$T/hoststore

# 1. Thirty crashes of one container without a receiver, each from namespaces made for it: ten
#    "unshare -m" by its root, ten "unshare -Urm" and ten "unshare -Urmpf" by its uid 1000.
container_start many
KEY=$(ct_key many)
i=0
for opts in -m -Urm "-Urmpf --mount-proc"; do
        for _ in $(seq 10); do
                i=$((i + 1))
                CT_TIMEOUT=60 ct_exec many /bin/sh -c '
                        ulimit -c unlimited
                        user=
                        [ "$2" = -m ] || user="setpriv --reuid 1000 --regid 1000 --clear-groups --"
                        exec $user unshare $2 -- /bin/sh -c "/build/tests/crasher --name $1"' sh "cpt-k4-$i" "$opts" \
                        >/dev/null 2>&1
        done
done
check "all 30 crashes are logged" wait_for_log "comm=\"cpt-k4-30\" .*outcome=" 30
for i in $(seq 30); do
        wait_for_log "comm=\"cpt-k4-$i\" .*outcome=" 5 >/dev/null 2>&1 || diag "no log line for cpt-k4-$i"
done
dirs=$(find "$STORE/containers" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
stored=$(find "$STORE" -name 'core.cpt-k4-*.zst' 2>/dev/null | wc -l)
diag "30 crashes from fresh namespaces of one container: $dirs fallback directories, $stored cores stored (limit $LIMIT)"
check "one directory for the container, named by its key ($KEY)" test "$dirs" = 1 -a -d "$STORE/containers/$KEY"
check "at most $LIMIT cores stored ($stored)" test "$stored" -le "$LIMIT"
check "every crash carries the container's key in the host log" \
        test "$(host_log | grep -E "comm=\"cpt-k4-[0-9]+\" .*ct=$KEY " | wc -l)" -ge 30
check "the others were skipped by the rate limit" \
        wait_for_log "comm=\"cpt-k4-30\" .*ct=$KEY .*outcome=skipped receiver=fallback .*rate limit"

# 2. A container goes, another comes: it gets its own key and directory, whatever inode numbers
#    its namespaces get.
container_start old
OLDKEY=$(ct_key old)
timed_crash old cpt-k4-old
check "the old container's core is in its directory" wait_for_file "$STORE/containers/$OLDKEY/core.cpt-k4-old.*.zst"
oldpid=$(ct_pid old)
container_stop old
for _ in $(seq 100); do
        [ -e "/proc/$oldpid" ] || break
        sleep 0.05
done
container_start new
NEWKEY=$(ct_key new)
diag "old key $OLDKEY, new key $NEWKEY"
check "the new container has a key of its own" test "$NEWKEY" != "$OLDKEY"
timed_crash new cpt-k4-new
check "the new container's core is in its own directory" \
        wait_for_file "$STORE/containers/$NEWKEY/core.cpt-k4-new.*.zst"
# dir_of NAME: the fallback directory that holds the core of the crash NAME.
dir_of() {
        local f
        for f in "$STORE"/containers/*/core."$1".*.zst; do
                [ -e "$f" ] && dirname "$f"
        done
        return 0
}
diag "the old container's core is in $(dir_of cpt-k4-old), the new one's in $(dir_of cpt-k4-new)"
check "the new container does not share the old one's directory" \
        test -n "$(dir_of cpt-k4-new)" -a "$(dir_of cpt-k4-new)" != "$(dir_of cpt-k4-old)"

# 3. A host process in namespaces of its own is still the host's.
unshare -m --propagation private -- /bin/sh -c 'ulimit -c unlimited; "$1" --name cpt-k4-host; exit 0' sh "$CRASHER" \
        >/dev/null 2>&1
check "a host process with its own mount namespace: key host, directory host/" \
        wait_for_log "comm=\"cpt-k4-host\" .*ct=host .*dir=\"$STORE/host\""
