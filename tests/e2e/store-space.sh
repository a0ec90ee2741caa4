#!/bin/bash
# Out of space, by the rule of core_pipe.conf(5) under KeepFree=: a store with some room keeps the
# core cut at its last whole zstd frame, marked truncated "out of space" (record, receiver log and
# host log say so; zstd and gdb still read it); a store with no room at all refuses the core before
# its first byte, so that the host's fallback stores it and the host log says why. Nothing is lost
# without a line saying so.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern

# store_files DIR: the names in a container's store, but the rate limit's state.
store_files() {
        find "$1" -mindepth 1 -maxdepth 1 ! -name .rate -printf '%f\n'
}

# 1. Some room: a 1 MiB store (KeepFree=15% leaves ~800 KiB to a core) and an 8 MiB core that
#    compresses to about 2 MiB.
container_start cut
ct_exec cut /bin/sh -ec 'mkdir -p /var/lib/core_pipe; mount -t tmpfs -o size=1m,mode=0700 cores /var/lib/core_pipe'
start_receiver cut
R=$(ct_root cut)
STORE=$R/var/lib/core_pipe
timed_crash cut sp-cut-$$ --size 8
check "some room: the core and its record are stored" wait_for_file "$STORE/core.sp-cut-$$.*.json"
JSON=$(printf '%s\n' "$STORE"/core.sp-cut-$$.*.json | head -n1)
CORE=${JSON%.json}.zst
check "some room: record says truncated" test "$(json_field "$JSON" truncated)" = true
check "some room: record says why: out of space" test "$(json_field "$JSON" truncated_reason)" = "out of space"
check "some room: the stored file is what the record says" \
        test -s "$CORE" -a "$(stat -c %s "$CORE")" = "$(json_field "$JSON" stored_size)"
check "some room: the stored file is a valid zstd stream" zstd -q -t "$CORE"
check "some room: it holds core_size bytes of the core" \
        test "$(zstd -q -d -c "$CORE" | wc -c)" = "$(json_field "$JSON" core_size)"
check "some room: less than the 8 MiB core was kept" test "$(json_field "$JSON" core_size)" -lt $((8 << 20))
check "some room: KeepFree= held (at least 15% of the store free)" \
        test "$(($(stat -f -c '%a * %S' "$STORE")))" -ge $(((1 << 20) * 15 / 100))
check "some room: the receiver's log says it was cut for space" \
        grep -Eq "core stored as /var/lib/core_pipe/core\.sp-cut-$$\..*\.zst \([0-9]+ bytes, [0-9]+ stored, truncated: out of space\)" \
        "$R/run/receiver.log"
check "some room: the host log says stored and truncated" \
        wait_for_log "comm=\"sp-cut-$$\" .*origin=container .*outcome=stored receiver=container .*truncated=yes"
BT=$(backtrace_of "$CORE")
diag "gdb on the cut core: $(echo "$BT" | grep -E '^#0|truncated|Cannot access' | head -n 3 | tr '\n' ' ')"
check "some room: gdb opens the cut core and names the crashing function (its registers are in the notes)" \
        grep -q "crash_here" <<<"$BT"
check "some room: nothing went to the host's fallback" test ! -e "$T/hoststore"

# 2. No room at all: the same store, nearly filled by something that is not a core (vacuuming
#    cannot free it), KeepFree=200K.
container_start full
ct_exec full /bin/sh -ec 'mkdir -p /var/lib/core_pipe; mount -t tmpfs -o size=1m,mode=0700 cores /var/lib/core_pipe
        head -c 900K /dev/zero >/var/lib/core_pipe/filler'
start_receiver full --keep-free=200K
R=$(ct_root full)
STORE=$R/var/lib/core_pipe
timed_crash full sp-full-$$ --size 8
check "no room: the receiver refused before the first byte, naming free space and KeepFree=" \
        grep -Eq "Refusing the core of pid [0-9]+ \(sp-full-$$\): store full: [0-9]+ bytes free, KeepFree=204800 in /var/lib/core_pipe" \
        "$R/run/receiver.log"
check "no room: nothing was written to the container's store" test "$(store_files "$STORE")" = filler
check "no room: the host log says the fallback stored it, and why" \
        wait_for_log "comm=\"sp-full-$$\" .*origin=container .*outcome=stored receiver=fallback .*why=\"receiver in its root refused: store full: [0-9]+ bytes free, KeepFree=204800\""
FB=$(printf '%s\n' "$T"/hoststore/containers/pidns-*/core.sp-full-$$.*.json | head -n1)
check "no room: the fallback's record is there" test -e "$FB"
check "no room: the fallback kept the whole core" test "$(json_field "$FB" truncated)" = false
check "no room: gdb finds crash_here in the fallback's core" shows_crash_here "${FB%.json}.zst"
