#!/bin/bash
# The host pays for a container's crash: a container capped at half a CPU, with no receiver,
# crashes a process with a large mapping it never touched (4 GiB: the kernel writes 4 GiB of
# zeros into the pipe, and the fallback receiver reads and compresses every byte). The fallback
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
        cgroup2) [ -n "$(cat "$mp/cgroup.controllers" 2>/dev/null)" ] && HIERARCHIES+=("$mp") ;;
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

# user_ns CGROUP: CPU time spent in user mode by the cgroup (its descendants included), in ns.
user_ns() {
        if [ -n "$V2" ]; then
                echo $(($(awk '$1 == "user_usec" {print $2}' "$V2$1/cpu.stat") * 1000))
        else
                cat "$CPU_ACCT$1/cpuacct.usage_user"
        fi
}

# crash_in_ct NAME: the crasher with its big untouched mapping crashes in the container, the
# process (and so the crash) in the container's cgroups. Meanwhile FB_CGROUPS gets the cgroups of
# the fallback receiver that takes the core, seen while it runs.
crash_in_ct() {
        local name=$1 p h
        (
                for h in "${HIERARCHIES[@]}"; do echo "$BASHPID" >"$h/$CT/cgroup.procs"; done
                CT_TIMEOUT=120 ct_exec cost /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --reserve "$2"' \
                        sh "$name" "$RESERVE" >/dev/null 2>&1
        ) &
        local crash=$!
        FB_CGROUPS=
        while kill -0 "$crash" 2>/dev/null; do
                for p in $(pgrep -x core_pipe-recei); do
                        grep -q -- --fallback "/proc/$p/cmdline" 2>/dev/null || continue
                        FB_CGROUPS=$(cat "/proc/$p/cgroup" 2>/dev/null) && [ -n "$FB_CGROUPS" ] && break 2
                done
                sleep 0.05
        done
        wait "$crash"
}

install_pattern "StallTimeoutSec=60"
container_start cost

# 1. Default: the crashed process's own cgroups.
NAME=cpt-cost-$RANDOM
ct0=$(user_ns "/$CT") root0=$(user_ns "")
crash_in_ct "$NAME"
check "own cgroups: the core is stored by the fallback" \
        wait_for_log "comm=\"$NAME\" .*outcome=stored receiver=fallback" 60
ct_s=$((($(user_ns "/$CT") - ct0) / 1000000)) root_s=$((($(user_ns "") - root0) / 1000000))
diag "CPU in user mode: container cgroup $ct_s ms, the whole host $root_s ms (the rest of the host: $((root_s - ct_s)) ms)"
diag "fallback receiver's cgroups: $(echo "$FB_CGROUPS" | tr '\n' ' ')"
check "own cgroups: the fallback receiver ran in the container's cgroups" \
        sh -c "echo '$FB_CGROUPS' | grep -E '(^|,|:)(cpuacct|cpu|memory|pids|blkio)(,[a-z]*)*:/$CT\$|^0::/$CT\$' | grep -q ."
check "own cgroups: the fallback receiver is in none of the host's root cgroups of a resource controller" \
        sh -c "! echo '$FB_CGROUPS' | grep -E '(cpuacct|cpu|memory|pids|blkio)(,[a-z]*)*:/\$|^0::/\$' | grep -q ."
check "own cgroups: its CPU time is the container's (at least 200 ms in user mode there)" test "$ct_s" -ge 200

# 2. FallbackCgroup=: one cgroup the operator limits, for every fallback receiver.
install_pattern "StallTimeoutSec=60" "FallbackCgroup=/$FB"
NAME2=cpt-slice-$RANDOM
fb0=$(user_ns "/$FB")
crash_in_ct "$NAME2"
check "FallbackCgroup=: the core is stored by the fallback" \
        wait_for_log "comm=\"$NAME2\" .*outcome=stored receiver=fallback" 60
fb_s=$((($(user_ns "/$FB") - fb0) / 1000000))
diag "CPU in user mode in FallbackCgroup=/$FB: $fb_s ms"
check "FallbackCgroup=: the fallback receiver ran there" sh -c "echo '$FB_CGROUPS' | grep -q ':/$FB\$'"
check "FallbackCgroup=: its CPU time is counted there (at least 200 ms in user mode)" test "$fb_s" -ge 200

# 3. A cgroup the fallback receiver cannot enter: the core is dropped and the log says why.
install_pattern "FallbackCgroup=/cpt-missing-$$"
NAME3=cpt-nocg-$RANDOM
ct_exec cost /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1"' sh "$NAME3" >/dev/null 2>&1
check "missing FallbackCgroup=: dropped, the log names the cgroup" \
        wait_for_log "comm=\"$NAME3\" .*outcome=dropped .*fallback=\"not charged to FallbackCgroup=: cannot open the cgroup [^\"]*/cpt-missing-$$: No such file"
check "missing FallbackCgroup=: nothing stored" sh -c "! find '$T/hoststore' -name 'core.$NAME3.*' | grep -q ."
