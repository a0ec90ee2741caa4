#!/bin/bash
# The host's fallback store gives each container a share of its own (class 4 of issue 11): a
# container's crash loop removes its own oldest cores, never the host's nor another container's;
# empty container directories are removed and their number is bounded (MaxContainers=); a
# vacuum that cannot see the whole store says which directory and why, and the core is refused
# rather than stored past the limits.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

EXT=$T/ext
unmount_ext() {
        local rc=$?
        mountpoint -q "$EXT" 2>/dev/null && umount -l "$EXT"
        return $rc
}
trap 'unmount_ext; tap_cleanup' EXIT

# crash CONTAINER NAME: one 2 MiB crash (about 0.5 MiB stored).
crash() {
        ct_exec "$1" /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size 2' sh "$2" >/dev/null 2>&1
}
STORE=$T/hoststore
kept() {
        ls "$STORE"/"$1"/core."$2".*.zst >/dev/null 2>&1
}

# 1. MaxUse=3M over the tree; each container's share is a quarter (768 KiB). The host's core
#    and a quiet container's core come first, then a container crashes 12 times (6 MiB).
printf '[Receiver]\nMaxUse=3M\nKeepFree=0\nMaxCoresPerInterval=0\n' >"$T/receiver.conf"
install_pattern "ReceiverConfig=$T/receiver.conf" "LogRateLimitBurst=0"
sh -c 'ulimit -c unlimited; exec "$1" --name "$2" --size 2' sh "$CRASHER" "hs-$$" >/dev/null 2>&1
wait_for_file "$STORE/host/core.hs-$$.*.json" 20
container_start quiet
container_start flood
crash quiet "qu-$$"
wait_for_log "comm=\"qu-$$\" .*outcome=stored receiver=fallback" 20
QUIET=$(dirname "$(ls "$STORE"/containers/*/core.qu-$$.*.zst)")
for i in $(seq 12); do
        crash flood "fl$i-$$"
done
wait_for_log "comm=\"fl12-$$\" .*outcome=stored receiver=fallback" 20
FLOOD=$(dirname "$(ls "$STORE"/containers/*/core.fl12-$$.*.zst)")
total=$(find "$STORE" -type f -name 'core.*' -printf '%b\n' | awk '{s += $1 * 512} END {print s + 0}')
flood=$(find "$FLOOD" -type f -name 'core.*' -printf '%b\n' | awk '{s += $1 * 512} END {print s + 0}')
diag "after the flood: $total bytes in the store, $flood in the flooding container's directory"
check "flood: the host's core is kept" kept host "hs-$$"
check "flood: the quiet container's core is kept" kept "containers/$(basename "$QUIET")" "qu-$$"
check "flood: the flooding container's newest core is kept" kept "containers/$(basename "$FLOOD")" "fl12-$$"
check "flood: its oldest core is gone" sh -c "! ls '$FLOOD' | grep -q '^core\\.fl1-$$\\.'"
check "flood: its directory within its share, 768 KiB ($flood bytes)" test "$flood" -le $((768 << 10))
check "flood: the store within MaxUse=3M ($total bytes)" test "$total" -le $((3 << 20))

# 2. 5000 empty container directories (departed containers): removed by the next vacuum, and the
#    next core is stored.
mkdir "$STORE"/containers/gone-{1..5000}
crash quiet "q2-$$"
wait_for_log "comm=\"q2-$$\" .*receiver=fallback" 30
left=$(find "$STORE/containers" -mindepth 1 -maxdepth 1 | wc -l)
diag "5000 empty directories: $left directories left in containers/"
check "5000 empty directories: the next core is stored" kept "containers/$(basename "$QUIET")" "q2-$$"
check "5000 empty directories: they are removed ($left left)" test "$left" -le 2
check "5000 empty directories: the flooding container's newest core is still kept" \
        kept "containers/$(basename "$FLOOD")" "fl12-$$"

# 3. MaxContainers=2: quiet and flood have their directories; a third container's core is refused
#    with a line that says why; quiet's next core is still stored.
printf '[Receiver]\nMaxUse=3M\nKeepFree=0\nMaxCoresPerInterval=0\nMaxContainers=2\n' >"$T/receiver2.conf"
install_pattern "ReceiverConfig=$T/receiver2.conf" "LogRateLimitBurst=0"
container_start third
crash third "th-$$"
check "MaxContainers=2: a third container's core is refused, saying why" \
        wait_for_log "comm=\"th-$$\" .*receiver=fallback.*MaxContainers=2" 20
check "MaxContainers=2: no directory was made for it" \
        test "$(find "$STORE/containers" -mindepth 1 -maxdepth 1 | wc -l)" -le 2
crash quiet "q3-$$"
check "MaxContainers=2: a known container's core is still stored" \
        wait_for_log "comm=\"q3-$$\" .*outcome=stored receiver=fallback" 20

# 4. A directory the vacuum cannot read (its block is corrupt on an ext4 of our own): the core is
#    refused before its first byte, and the line names the directory and the reason.
mkdir -p "$EXT"
truncate -s 16M "$T/ext.img"
mkfs.ext4 -q -F "$T/ext.img"
mount -o loop,errors=continue "$T/ext.img" "$EXT"
mkdir -p "$EXT/store/containers/bad"
head -c 4096 /dev/urandom >"$EXT/store/containers/bad/core.x.0.b.1.5.zst"
umount "$EXT"
debugfs -w -R "zap_block -f /store/containers/bad -p 0x41 0" "$T/ext.img" >/dev/null 2>&1
mount -o loop,errors=continue "$T/ext.img" "$EXT"
check "unreadable: the directory cannot be read" sh -c "! ls '$EXT/store/containers/bad' >/dev/null 2>&1"
install_pattern "ReceiverConfig=$T/receiver.conf" "FallbackStore=$EXT/store" "LogRateLimitBurst=0"
crash quiet "ur-$$"
check "unreadable: the core is refused, the line names the directory and the reason" \
        wait_for_log "comm=\"ur-$$\" .*receiver=fallback.*containers/bad: Bad message" 20
check "unreadable: nothing of it was stored" sh -c "! find '$EXT/store' -name 'core.ur-*' | grep -q ."
