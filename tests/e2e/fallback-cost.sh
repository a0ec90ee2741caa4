#!/bin/bash
# The host pays for a container's crash: a container capped at half a CPU, with no receiver,
# crashes a process with a large mapping of which it touched one page (4 GiB: the kernel writes
# 4 GiB of zeros into the pipe, and the fallback receiver reads and compresses every byte), and
# 64 MiB of heap. The fallback
# receiver must run in the container's cgroups (its CPU time counted in the container's cpuacct,
# under its quota), or in the cgroup FallbackCgroup= names; a cgroup it cannot enter drops the
# core, logged, rather than letting it run unlimited in the host's root cgroup.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

RESERVE=${CPT_RESERVE_MIB:-4096}
CT=cpt-ct-$$
FB=cpt-fb-$$
# The hierarchies with a resource controller: v1 (this host may be hybrid) or a v2 root.
HIERARCHIES=()
while read -r _ mp type opts _; do
        case "$type" in
        cgroup) case ",$opts," in *,cpu,* | *,cpuacct,* | *,memory,* | *,blkio,* | *,pids,*) HIERARCHIES+=("$mp") ;; esac ;;
        cgroup2) grep -qwE 'cpu|memory|io|pids' "$mp/cgroup.controllers" 2>/dev/null && HIERARCHIES+=("$mp") ;;
        esac
done </proc/self/mounts
[ "${#HIERARCHIES[@]}" -gt 0 ] || skip_all "no cgroup hierarchy with a resource controller is mounted"

cgroups_remove() {
        local h d
        for h in "${HIERARCHIES[@]}"; do
                for d in "$h/$CT" "$h/$FB"; do
                        [ -d "$d" ] || continue
                        # Whatever is left in it goes back to the root first.
                        while read -r p; do echo "$p" >"$h/cgroup.procs"; done <"$d/cgroup.procs" 2>/dev/null
                        rmdir "$d" 2>/dev/null
                done
        done
        return 0
}
cleanup() {
        local rc=$?
        containers_stop_all
        cgroups_remove
        (exit "$rc")
        tap_cleanup
}
trap cleanup EXIT

# The cpuacct (v1) or cpu (v2) hierarchy, for the CPU time of a cgroup; the cpu one for its quota.
CPU_ACCT='' CPU_CTL='' V2=''
for h in "${HIERARCHIES[@]}"; do
        if [ -e "$h/cpu.stat" ] && [ -e "$h/cgroup.controllers" ]; then V2=$h; fi
        [ -e "$h/cpuacct.usage_user" ] && CPU_ACCT=$h
        [ -e "$h/cpu.cfs_quota_us" ] && CPU_CTL=$h
done
for h in "${HIERARCHIES[@]}"; do mkdir -p "$h/$CT" "$h/$FB"; done
if [ -n "$V2" ]; then
        echo "50000 100000" >"$V2/$CT/cpu.max"
else
        echo 50000 >"$CPU_CTL/$CT/cpu.cfs_quota_us"
fi

# cpu_ns user|total CGROUP: CPU time of the cgroup (its descendants included), in ns.
cpu_ns() {
        if [ -n "$V2" ]; then
                echo $(($(awk -v k="$([ "$1" = user ] && echo user_usec || echo usage_usec)" '$1 == k {print $2}' "$V2$2/cpu.stat") * 1000))
        elif [ "$1" = user ]; then
                cat "$CPU_ACCT$2/cpuacct.usage_user"
        else
                cat "$CPU_ACCT$2/cpuacct.usage"
        fi
}

# crash_in_ct NAME CGROUP: the crasher, in the container's cgroups, fills its heap and maps its big
# mapping, then waits; CPU times are taken (in ms, into U0/T0/R0 for the container, all of it and
# CGROUP) once it is ready, so that they count the crash and its core only; then it crashes.
# Meanwhile FB_CGROUPS gets the cgroups of the fallback receiver that takes the core, seen while
# it runs.
crash_in_ct() {
        local name=$1 cg=$2 p h
        rm -f "$(ct_root cost)/tmp/go" "$T/crash.out"
        (
                for h in "${HIERARCHIES[@]}"; do echo "$BASHPID" >"$h/$CT/cgroup.procs"; done
                CT_TIMEOUT=120 ct_exec cost /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size 64 --reserve "$2" --wait-for /tmp/go' \
                        sh "$name" "$RESERVE" >"$T/crash.out" 2>/dev/null
        ) &
        local crash=$!
        for _ in $(seq 600); do
                [ -s "$T/crash.out" ] && break
                sleep 0.05
        done
        U0=$(cpu_ns user "/$CT") T0=$(cpu_ns total "/$CT") R0=$(cpu_ns total "") G0=$(cpu_ns total "$cg")
        touch "$(ct_root cost)/tmp/go"
        FB_CGROUPS=
        while kill -0 "$crash" 2>/dev/null; do
                for p in $(pgrep -x core_pipe-recei); do
                        grep -q -- --fallback "/proc/$p/cmdline" 2>/dev/null || continue
                        FB_CGROUPS=$(cat "/proc/$p/cgroup" 2>/dev/null) && [ -n "$FB_CGROUPS" ] && break 2
                done
                sleep 0.02
        done
        wait "$crash"
}

# settle NAME: waits for the crash's log line (the fallback receiver has reported by then), then
# sets the CPU spent since the crash, in ms: CT_USER and CT_TOTAL in the container, ALL (the whole
# host, the container included), CG (the cgroup crash_in_ct was given).
settle() {
        wait_for_log "comm=\"$1\" .*outcome=" 60 || return 1
        CT_USER=$((($(cpu_ns user "/$CT") - U0) / 1000000)) CT_TOTAL=$((($(cpu_ns total "/$CT") - T0) / 1000000))
        ALL=$((($(cpu_ns total "") - R0) / 1000000)) CG=$((($(cpu_ns total "$2") - G0) / 1000000))
}

install_pattern "StallTimeoutSec=60"
container_start cost

# The resource hierarchies' lines of the receiver's /proc/self/cgroup whose path is $1.
lines_at() {
        local re='^[0-9]+:([^:]*,)?(cpu|cpuacct|memory|pids|blkio)(,[^:]*)?:'
        [ -n "$V2" ] && re='^0::|'$re
        echo "$FB_CGROUPS" | grep -cE "($re)$1\$"
}
N_RES=$(if [ -n "$V2" ]; then echo 1; else echo "${#HIERARCHIES[@]}"; fi)

# 1. Default: the crashed process's own cgroups.
NAME=cpt-cost-$RANDOM
crash_in_ct "$NAME" "/$FB"
settle "$NAME" "/$FB"
diag "own cgroups: CPU since the crash: container $CT_TOTAL ms ($CT_USER ms in user mode), all of the host $ALL ms, outside the container $((ALL - CT_TOTAL)) ms"
diag "fallback receiver's cgroups: $(echo "$FB_CGROUPS" | tr '\n' ' ')"
check "own cgroups: the core is stored by the fallback, whole" \
        wait_for_log "comm=\"$NAME\" .*outcome=stored receiver=fallback .*core_bytes=[0-9]{10,} .*truncated=no" 5
check "own cgroups: the fallback receiver ran in the container's cgroup of each resource hierarchy ($N_RES)" \
        test "$(lines_at "/$CT")" = "$N_RES"
check "own cgroups: the fallback receiver ran in no root cgroup of a resource hierarchy" test "$(lines_at /)" = 0
# The crashed process does no work in user mode after its crash: that is the receiver's zstd.
check "own cgroups: the receiver's compression is counted in the container (at least 100 ms in user mode)" \
        test "$CT_USER" -ge 100

# 2. FallbackCgroup=: one cgroup the operator limits, for every fallback receiver.
install_pattern "StallTimeoutSec=60" "FallbackCgroup=/$FB"
NAME2=cpt-slice-$RANDOM
crash_in_ct "$NAME2" "/$FB"
settle "$NAME2" "/$FB"
diag "FallbackCgroup=: CPU since the crash: FallbackCgroup=/$FB $CG ms, container $CT_TOTAL ms ($CT_USER ms in user mode), all of the host $ALL ms"
check "FallbackCgroup=: the core is stored by the fallback, whole" \
        wait_for_log "comm=\"$NAME2\" .*outcome=stored receiver=fallback .*core_bytes=[0-9]{10,} .*truncated=no" 5
check "FallbackCgroup=: the fallback receiver ran there in each resource hierarchy ($N_RES)" \
        test "$(lines_at "/$FB")" = "$N_RES"
check "FallbackCgroup=: its CPU time is counted there (at least 200 ms)" test "$CG" -ge 200
check "FallbackCgroup=: and not in the container (under 100 ms in user mode)" test "$CT_USER" -lt 100

# 3. A cgroup the fallback receiver cannot enter: the core is dropped and the log says why.
install_pattern "FallbackCgroup=/cpt-missing-$$"
NAME3=cpt-nocg-$RANDOM
ct_exec cost /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME3" >/dev/null 2>&1
check "missing FallbackCgroup=: dropped, the log names the cgroup" \
        wait_for_log "comm=\"$NAME3\" .*outcome=dropped .*fallback=\"not charged to FallbackCgroup=: cannot open the cgroup [^\"]*/cpt-missing-$$: No such file"
check "missing FallbackCgroup=: nothing stored" sh -c "! find '$T/hoststore' -name 'core.$NAME3.*' | grep -q ."
