#!/bin/bash
# A receiver from before the socket transport (the real one: core_pipe-receiver of commit 2cbef31,
# the main branch before issue 12, built from git in this test's scratch directory) in a
# container. Over the pipe it still gets its cores (the request stays version 1). Over the
# kernel's coredump socket the helper asks in version 2; the old receiver refuses that version
# cleanly, and the helper gives the core to the host fallback instead: stored whole, the host log
# and the old receiver's log say why.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
OLD=2cbef31
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v git >/dev/null || skip_all "needs git"
git -C "$SRC" cat-file -e "$OLD^{commit}" 2>/dev/null || skip_all "commit $OLD is not in $SRC (a shallow clone?)"

mkdir -p "$T/old"
check "the receiver of $OLD builds" sh -c "git -C '$SRC' archive '$OLD' | tar -x -C '$T/old' &&
        meson setup '$T/old/build' '$T/old' >/dev/null && meson compile -C '$T/old/build' receiver/core_pipe-receiver >/dev/null"
SHARE=$(ct_share)
install -D -m 0755 "$T/old/build/receiver/core_pipe-receiver" "$SHARE/old/core_pipe-receiver" ||
        { echo "Bail out! no receiver of $OLD"; exit 1; }

container_start old
CT_RECEIVER=/build/old/core_pipe-receiver start_receiver old
ROOT=$(ct_root old)
check "the container runs the old receiver" sh -c "
        cmp -s '$SHARE/old/core_pipe-receiver' '/proc/$(ct_receivers old | head -n1)/exe'"

# Over the pipe: version 1, which it speaks.
CORE_PIPE_TRANSPORT=pipe install_pattern
NAME=cpt-oldp-$$
ct_exec old /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME" >/dev/null 2>&1
check "pipe: the old receiver stores the core in the container" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME.*.json"
check "pipe: gdb finds crash_here" shows_crash_here "$(ls "$ROOT"/var/lib/core_pipe/core."$NAME".*.zst | head -n1)"

# Over the socket: version 2, which it refuses; the host fallback (the new receiver) stores it.
CORE_PIPE_TRANSPORT=socket install_pattern
check "socket: core_pattern is the socket's" grep -q '^@@' /proc/sys/kernel/core_pattern
NAME2=cpt-olds-$$
out=$(ct_crash_status old unlimited --name "$NAME2" --size 8)
diag "socket: $out"
check "socket: the process dumped (core flag) and was reaped" test "${out% ms=*}" = "signal=11 core=1"
check "socket: the host log says stored by the fallback, because the receiver refused version 2" \
        wait_for_log "comm=\"$NAME2\" .*transport=socket .*outcome=stored receiver=fallback .*protocol version 2 not supported"
CORE=$(ls "$T"/hoststore/containers/pidns-*/core."$NAME2".*.zst 2>/dev/null | head -n1)
check "socket: the core is in the host's fallback store" test -s "$CORE"
check "socket: complete (not truncated)" test "$(json_field "${CORE%.zst}.json" truncated)" = false
check "socket: gdb finds crash_here" shows_crash_here "$CORE"
check "socket: nothing in the container's store" sh -c "! ls '$ROOT/var/lib/core_pipe' | grep -q '$NAME2'"
check "socket: the old receiver said why it refused" grep -q "protocol version 2 not supported" "$ROOT/run/receiver.log"
