#!/bin/bash
# A receiver killed in the middle of a core leaves a marked partial core, never nothing. The
# per-crash receiver (the resident daemon's child for the connection) is SIGKILLed early, in the
# middle and during the last frame of a ~200 MiB core; the daemon, which sees its child die,
# finalises what was written: cut at the last whole zstd frame, linked under the core's name,
# recorded as truncated ("receiver died", killed by signal 9). The same as the container's init
# (--init), and when the daemon dies with its child: the next daemon finalises at its start.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

SIZE=${KILLED_SIZE_MIB:-200}
install_pattern
mkdir -p "$T/ctvar"
CT_VAR=$T/ctvar container_start rk
start_receiver rk
STORE=$T/ctvar/lib/core_pipe
DAEMON=$(ct_receivers rk | head -n1)
diag "resident daemon: host pid $DAEMON"

# crash_bg CT NAME: a crasher of $SIZE MiB crashes in the container, in the background.
crash_bg() {
        # shellcheck disable=SC2016 # expanded by the container's shell
        (CT_TIMEOUT=120 ct_exec "$1" /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size "$2"' \
                sh "$2" "$SIZE" >/dev/null 2>&1 &)
}

# handler CT EXCLUDE: the host pid of the receiver process reading a core in the container (one
# that has a pipe open), other than EXCLUDE; waits for it (bounded).
handler() {
        local p i
        for ((i = 0; i < 600; i++)); do
                for p in $(ct_receivers "$1"); do
                        [ "$p" = "$2" ] && continue
                        if find "/proc/$p/fd" -lname 'pipe:*' 2>/dev/null | grep -q .; then
                                echo "$p"
                                return 0
                        fi
                done
                sleep 0.05
        done
        return 1
}

rchar() {
        awk '/^rchar:/ {print $2}' "/proc/$1/io" 2>/dev/null
}

# kill_when PID BYTES: SIGKILL to PID once it has read BYTES (from the core pipe, mostly).
# Fails if PID ends first.
kill_when() {
        local n
        while [ -e "/proc/$1" ]; do
                n=$(rchar "$1")
                if [ -n "$n" ] && [ "$n" -ge "$2" ]; then
                        kill -KILL "$1" && diag "killed $1 after $n bytes read" && return 0
                fi
                sleep 0.002
        done
        diag "$1 ended before it had read $2 bytes"
        return 1
}

# expected_size CORE.zst: what the core's program headers say its length is (largest
# p_offset + p_filesz), from the ELF header and program headers at its start.
expected_size() {
        zstd -q -d -c "$1" 2>/dev/null | head -c 1048576 | python3 -c '
import struct, sys
b = sys.stdin.buffer.read()
assert b[:4] == b"\x7fELF" and b[4] == 2
phoff, = struct.unpack_from("<Q", b, 0x20)
phentsize, phnum = struct.unpack_from("<HH", b, 0x36)
end = 0
for i in range(phnum):
    o = phoff + i * phentsize
    _, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", b, o)
    end = max(end, off + filesz)
print(end)'
}

# first GLOB: the first file matching GLOB.
first() {
        local f
        for f in $1; do
                [ -e "$f" ] && echo "$f" && return 0
        done
        return 1
}

no_partial_left() {
        [ -z "$(find "$1" -maxdepth 1 -name '.#partial.*' -print -quit)" ]
}

# check_partial LABEL STORE NAME CAUSE_REGEX: the checks every killed receiver's core must pass.
check_partial() {
        local label=$1 store=$2 name=$3 cause=$4 json core exp
        check "$label: a record is written for the killed receiver's core" wait_for_file "$store/core.$name.*.json" 30
        json=$(first "$store/core.$name.*.json")
        core=${json%.json}.zst
        [ -n "$json" ] && sed 's/^/# /' "$json" | grep -E 'truncated|core_size|stored_size|core_file'
        check "$label: the partial core exists" test -s "$core"
        check "$label: it decompresses (zstd -t)" zstd -q -t "$core"
        check "$label: truncated" test "$(json_field "$json" truncated 2>/dev/null)" = true
        check "$label: truncated_reason \"receiver died\"" test "$(json_field "$json" truncated_reason 2>/dev/null)" = "receiver died"
        check "$label: truncated_cause says how" sh -c "json_cause=\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(\"truncated_cause\",\"\"))' '$json'); echo \"# cause: \$json_cause\"; echo \"\$json_cause\" | grep -Eq '$cause'"
        check "$label: core_size is what the file holds" \
                test "$(zstd -q -d -c "$core" 2>/dev/null | wc -c)" = "$(json_field "$json" core_size 2>/dev/null)"
        exp=$(expected_size "$core")
        diag "$label: core_size $(json_field "$json" core_size 2>/dev/null) of $exp (program headers)"
        check "$label: core_size <= what the program headers expect" \
                test "$(json_field "$json" core_size 2>/dev/null || echo x)" -le "${exp:-0}"
        check "$label: nothing left in progress" no_partial_left "$store"
}

# A control crash, stored whole: how many bytes a core of this size has.
NAME=cpt-kc-$$
crash_bg rk "$NAME"
check "control: the core is stored" wait_for_file "$STORE/core.$NAME.*.json" 60
JSON=$(first "$STORE/core.$NAME.*.json")
FULL=$(json_field "$JSON" core_size)
diag "control core: $FULL bytes, $(json_field "$JSON" stored_size) stored"
check "control: not truncated" test "$(json_field "$JSON" truncated)" = false
check "control: nothing left in progress" no_partial_left "$STORE"

# Early (10 MiB read), in the middle, and during the last frame (its chunk of 2 MiB being read).
i=0
for point in early:$((10 << 20)) middle:$((FULL / 2)) last:$((FULL - (2 << 20))); do
        label=${point%%:*}
        i=$((i + 1))
        NAME=cpt-k$i-$$
        crash_bg rk "$NAME"
        h=$(handler rk "$DAEMON")
        check "$label: found the per-crash receiver" test -n "$h"
        check "$label: SIGKILLed it mid-core" kill_when "$h" "${point#*:}"
        check_partial "resident, $label" "$STORE" "$NAME" 'killed by signal 9 \(SIGKILL\)'
done
check "the resident daemon is still the same" test "$(ct_receivers rk | head -n1)" = "$DAEMON"
NAME=cpt-kn-$$
crash_bg rk "$NAME"
check "the daemon stores the next crash" wait_for_file "$STORE/core.$NAME.*.json" 60
JSON=$(first "$STORE/core.$NAME.*.json")
check "  whole" test "$(json_field "$JSON" truncated)" = false

# The daemon and its child both killed: nobody survives to finalise; the next daemon does at
# its start, the cause unknown.
NAME=cpt-kd-$$
crash_bg rk "$NAME"
h=$(handler rk "$DAEMON")
while [ -n "$h" ] && [ "$(rchar "$h" || echo 0)" -lt $((FULL / 2)) ] && [ -e "/proc/$h" ]; do sleep 0.002; done
kill -KILL "$DAEMON" "$h"
for _ in $(seq 100); do [ -z "$(ct_receivers rk)" ] && break; sleep 0.05; done
check "daemon and child killed: the leftover stays in progress" first "$STORE/.#partial.core.$NAME.*.json"
check "  and no core is linked yet" sh -c "! ls '$STORE'/core.$NAME.* 2>/dev/null"
start_receiver rk
check_partial "found by the next daemon" "$STORE" "$NAME" 'how is not known'
DAEMON=$(ct_receivers rk | head -n1)

# The receiver as the container's init: the same, it finalises its dead child's core.
mkdir -p "$T/ivar"
CT_VAR=$T/ivar CT_INIT="/build/receiver/core_pipe-receiver --init -- sleep infinity" container_start ri
ISTORE=$T/ivar/lib/core_pipe
check "init: the receiver listens as the container's init" wait_for_file "$(ct_root ri)/run/core_pipe.socket" 10
NAME=cpt-ki-$$
crash_bg ri "$NAME"
h=$(handler ri "$(ct_pid ri)")
check "init: found the per-crash receiver" test -n "$h"
check "init: SIGKILLed it in the middle" kill_when "$h" $((FULL / 2))
check_partial "init" "$ISTORE" "$NAME" 'killed by signal 9 \(SIGKILL\)'
NAME=cpt-kin-$$
crash_bg ri "$NAME"
check "init: the next crash is stored" wait_for_file "$ISTORE/core.$NAME.*.json" 60
