#!/bin/bash
# A receiver killed in the middle of a core leaves a marked partial core, never nothing. The
# per-crash receiver (the resident daemon's child for the connection) is SIGKILLed early and in
# the middle of a ~200 MiB core, and during the last frame of a smaller one; the daemon, which sees its child die,
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
# On a tenth of a CPU the receiver takes seconds over a core of 200 MiB: time to find it and to
# kill it in the middle, however fast the machine (the runs at level 19 below are slow as they are).
ct_slow_receivers rk
STORE=$T/ctvar/lib/core_pipe
DAEMON=$(ct_receivers rk | head -n1)
diag "resident daemon: host pid $DAEMON"

# crash_bg CT NAME [MIB]: a crasher of MIB (default $SIZE) MiB crashes in the container, in the
# background.
crash_bg() {
        BEFORE_CRASH=$(ct_receivers "$1" | tr '\n' ' ')
        # shellcheck disable=SC2016 # expanded by the container's shell
        (CT_TIMEOUT=120 ct_exec "$1" /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size "$2"' \
                sh "$2" "${3:-$SIZE}" >/dev/null 2>&1 &)
}

# handler CT: the host pid of the receiver process reading the core of the crash crash_bg last
# started in the container (one that has a pipe open; over the kernel's socket,
# CORE_PIPE_TRANSPORT=socket, a socket), one of those that came after that crash_bg: not the
# daemon, nor a receiver of an earlier crash still finishing (its record written, its journal
# entry or its backtrace not yet); waits for it (bounded).
handler() {
        local p i core='pipe:*'
        [ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ] && core='socket:*'
        for ((i = 0; i < 600; i++)); do
                for p in $(ct_receivers "$1"); do
                        case " $BEFORE_CRASH " in *" $p "*) continue ;; esac
                        if find "/proc/$p/fd" -lname "$core" 2>/dev/null | grep -q .; then
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

# kill_early PID STORE NAME: SIGKILL to PID early in its core, once its file in progress holds a
# whole frame: 1 MiB of it (a frame is a 2 MiB chunk of the core, far smaller compressed; the
# first bytes alone may be a frame's start, which nothing can keep, and a receiver killed before
# them has no core at all), given 50 ms more. One that writes no such file is killed after 20 s
# (a core at level 19 takes some 3 s, more under the sanitizers).
kill_early() {
        local i
        for ((i = 0; i < 4000; i++)); do
                [ -e "/proc/$1" ] || return 1
                [ -n "$(find "$2" -maxdepth 1 -name ".#partial.core.$3.*.core" -size +1024k -print -quit)" ] && break
                sleep 0.005
        done
        sleep 0.05
        kill -KILL "$1" && diag "killed $1 after $(rchar "$1") bytes read"
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

# field JSON KEY: a field of a record ("" when absent).
field() {
        python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2], ""); print(str(v).lower() if isinstance(v,bool) else v)' "$1" "$2" 2>/dev/null
}

# check_partial LABEL STORE NAME CAUSE_REGEX: the checks every killed receiver's core must pass:
# cut short, marked truncated ("receiver died") with the cause.
check_partial() {
        local label=$1 store=$2 name=$3 cause=$4 json core exp size
        check "$label: a record is written for the killed receiver's core" wait_for_file "$store/core.$name.*.json" 30
        json=$(first "$store/core.$name.*.json")
        core=${json%.json}.zst
        [ -n "$json" ] && grep -E 'truncated|core_size|core_expected_size|stored_size|core_file|receiver_died' "$json" | sed 's/^/# /'
        check "$label: the partial core exists" test -s "$core"
        check "$label: it decompresses (zstd -t)" zstd -q -t "$core"
        size=$(field "$json" core_size)
        check "$label: core_size is what the file holds" test "$(zstd -q -d -c "$core" 2>/dev/null | wc -c)" = "$size"
        exp=$(expected_size "$core")
        diag "$label: core_size $size of $exp (program headers)"
        check "$label: core_expected_size is what the program headers say" test "$(field "$json" core_expected_size)" = "$exp"
        check "$label: core_size <= what the program headers expect" test "${size:-x}" -le "${exp:-0}"
        check "$label: cut short" test "${size:-x}" -lt "${exp:-0}"
        check "$label: truncated" test "$(field "$json" truncated)" = true
        check "$label: truncated_reason \"receiver died\"" test "$(field "$json" truncated_reason)" = "receiver died"
        diag "$label: cause: $(field "$json" truncated_cause)"
        check "$label: truncated_cause says how" sh -c "echo '$(field "$json" truncated_cause)' | grep -Eq '$cause'"
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

# In the middle (at ~1 GB/s, some 0.2 s into the dump).
NAME=cpt-k2-$$
crash_bg rk "$NAME"
h=$(handler rk)
check "middle: found the per-crash receiver" test -n "$h"
check "middle: SIGKILLed it mid-core" kill_when "$h" $((FULL / 2))
check_partial "resident, middle" "$STORE" "$NAME" 'killed by signal 9 \(SIGKILL\)'
check "middle: the daemon's log says so" grep -Eq "\($NAME\) .*its receiver died while storing the core, the receiver was killed by signal 9 \(SIGKILL\); kept what was whole as .*truncated: receiver died" "$(ct_root rk)/run/receiver.log"

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
h=$(handler rk)
while [ -n "$h" ] && [ "$(rchar "$h" || echo 0)" -lt $((FULL / 2)) ] && [ -e "/proc/$h" ]; do sleep 0.002; done
kill -KILL "$DAEMON" "$h"
for _ in $(seq 100); do [ -z "$(ct_receivers rk)" ] && break; sleep 0.05; done
check "daemon and child killed: the leftover stays in progress" first "$STORE/.#partial.core.$NAME.*.json"
check "  and no core is linked yet" sh -c "! ls '$STORE'/core.$NAME.* 2>/dev/null"
start_receiver rk
check_partial "found by the next daemon" "$STORE" "$NAME" 'how is not known'

# Early and during the last frame: with zstd level 19 a core of 24 MiB takes seconds, so that
# both can be hit (its length from a control crash first). Early: as soon as a whole frame is in
# the file in progress. During the last frame: once
# the last byte is read, the last frames still compressing.
stop_receiver rk
start_receiver rk --compress-level=19
DAEMON=$(ct_receivers rk | head -n1)
NAME=cpt-kc19-$$
crash_bg rk "$NAME" 24
check "control at level 19: the core is stored" wait_for_file "$STORE/core.$NAME.*.json" 120
FULL19=$(field "$(first "$STORE/core.$NAME.*.json")" core_size)
diag "control core at level 19: $FULL19 bytes"
NAME=cpt-k1-$$
crash_bg rk "$NAME" 24
h=$(handler rk)
check "early: found the per-crash receiver" test -n "$h"
check "early: SIGKILLed it with its first bytes written" kill_early "$h" "$STORE" "$NAME"
check_partial "resident, early" "$STORE" "$NAME" 'killed by signal 9 \(SIGKILL\)'
NAME=cpt-k3-$$
crash_bg rk "$NAME" 24
h=$(handler rk)
check "last: found the per-crash receiver" test -n "$h"
check "last: SIGKILLed it once the last byte was read, its last frames compressing" kill_when "$h" "${FULL19:-0}"
check_partial "resident, last" "$STORE" "$NAME" 'killed by signal 9 \(SIGKILL\)'

# The receiver as the container's init: the same, it finalises its dead child's core.
mkdir -p "$T/ivar"
CT_VAR=$T/ivar CT_INIT="/build/receiver/core_pipe-receiver --init -- sleep infinity" container_start ri
ISTORE=$T/ivar/lib/core_pipe
check "init: the receiver listens as the container's init" wait_for_file "$(ct_root ri)/run/core_pipe.socket" 10
ct_slow_receivers ri
NAME=cpt-ki-$$
crash_bg ri "$NAME"
h=$(handler ri)
check "init: found the per-crash receiver" test -n "$h"
check "init: SIGKILLed it in the middle" kill_when "$h" $((FULL / 2))
check_partial "init" "$ISTORE" "$NAME" 'killed by signal 9 \(SIGKILL\)'
NAME=cpt-kin-$$
crash_bg ri "$NAME"
check "init: the next crash is stored" wait_for_file "$ISTORE/core.$NAME.*.json" 60
