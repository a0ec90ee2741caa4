#!/bin/bash
# The ledger balances (issue 16): a few hundred crashes over several containers, with faults
# injected at random, and for every crash the kernel hands to the helper exactly one of: stored
# complete in its container, stored there truncated with a reason, stored by the host fallback,
# or not stored with the reason in the host log line. The test keeps its own ground truth per
# crash (a unique name, whether it really crashed, the heap it filled) and checks every core
# against its own program headers.
#
# The containers (tests/lib/container.sh, tini as init so orphans are reaped):
#   sk1 sk2 sk3  resident receivers, SIGKILLed at random and restarted;
#   sk4          the same, with a receiver rate limit of 5 cores per 30 s (refusals go to the
#                host fallback, or are dropped by its caps; either way with a log line);
#   sks          a resident receiver never killed: its RSS and fd count must stay flat;
#   skm          in a memory cgroup of 128 MiB (memory.limit_in_bytes, v1; mounted in it at
#                /sys/fs/cgroup/memory as docker does), heaps of 64 to 126 MiB: the receiver competes with the crashed process for the same memory;
#                now and then two crash at once, and one may be OOM-killed before it faults
#                (no crash: it must be nowhere in the ledger);
#   skn          no receiver: every crash goes to the host fallback (MaxConcurrentFallback=4,
#                MaxFallbackPerContainer=2: the rest are dropped, with a log line).
# Faults: every 5 to 15 s a listening daemon (not sks's) is SIGKILLed and restarted 0-3 s later;
# a third of the per-crash receivers (the daemon's forked handlers) seen running are SIGKILLed
# 0-300 ms later, mid-core for all but the smallest cores. Bursts of 3 to 10 crashes into one or
# two containers (over MaxDumpsPerContainer=8: dropped, logged).
#
# Limits that would hide a crash are set so that each one leaves a trace: LogRateLimitBurst=0 (a
# line for every crash: a line the log's rate limit dropped would leave a refusal without its
# reason), receiver stores with MaxUse=infinity KeepFree=1G (a vacuum would remove a stored core
# before the audit), a host fallback store with the same and no rate limit. MaxDumpsPerContainer=,
# MaxConcurrentFallback= and MaxFallbackPerContainer= keep their defaults: their drops are
# logged, and count as "logged".
#
# The soak runs in rounds of 60 s: crashes and faults for 45 s, then the round settles (the
# faults stop, killed daemons are restarted, every crash of the round has its host log line,
# no receiver, fallback receiver or helper is left running) and its crashes are audited by
# tests/lib/soak-ledger.py, then their cores deleted (the disk stays small however long it
# runs). A record that appears after its crash was audited fails the next audit.
#
# CORE_PIPE_SOAK_SECONDS (default 180, the CI run; 600 for the long run, see tests/README.md),
# CORE_PIPE_SOAK_SEED (the random choices; printed, so a run can be replayed as far as timing
# allows).
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
MEMCG_ROOT=/sys/fs/cgroup/memory
[ -f "$MEMCG_ROOT/memory.limit_in_bytes" ] || skip_all "needs the v1 memory controller at $MEMCG_ROOT"
command -v tini >/dev/null || skip_all "needs tini (the containers' init)"
if ! command -v python3 >/dev/null || ! command -v zstd >/dev/null; then skip_all "needs python3 and zstd"; fi

LEDGER=$(dirname "$0")/../lib/soak-ledger.py
DURATION=${CORE_PIPE_SOAK_SECONDS:-180}
ROUND=60
INJECT=45
SEED=${CORE_PIPE_SOAK_SEED:-$(($(od -An -N2 -tu2 /dev/urandom)))}
RANDOM=$SEED
# A tag of the run in every crash's name: names are unique on the machine and in its log.
RUN=$(printf '%04x' $((RANDOM * 2 + $$ % 2)))
MAX_RUNNING=16

KILLABLE=(sk1 sk2 sk3 sk4 skm)
RECV_CTS=(sk1 sk2 sk3 sk4 sks skm)
ALL_CTS=(sk1 sk2 sk3 sk4 sks skm skn)
MEM_CT=skm
MEMCG=$MEMCG_ROOT/cpt-soak-$$
STOP=$T/stop
LOGF=$T/host.log
KMSG_PID=
KILLER_PIDS=()
CRASH_PIDS=()

mkdir -p "$T/truth"
: >"$T/kept"
free_kib=$(df -k --output=avail "$T" | tail -n1)
if [ "$free_kib" -lt $((12 << 20)) ]; then
        echo "Bail out! $T has $((free_kib >> 20)) GiB free; the soak needs 12 GiB"
        exit 1
fi

soak_cleanup() {
        local rc=$? p
        touch "$STOP"
        for p in "${KILLER_PIDS[@]}" "${CRASH_PIDS[@]}"; do
                kill -KILL "$p" 2>/dev/null
        done
        containers_stop_all
        [ -n "$KMSG_PID" ] && kill "$KMSG_PID" 2>/dev/null
        if [ -d "$MEMCG" ]; then
                for _ in $(seq 100); do
                        rmdir "$MEMCG" 2>/dev/null && break
                        sleep 0.1
                done
                [ -d "$MEMCG" ] && echo "# cannot remove $MEMCG: $(tr '\n' ' ' <"$MEMCG/cgroup.procs")"
        fi
        return $rc
}
trap 'soak_cleanup; tap_cleanup' EXIT

# ---- the host log ---------------------------------------------------------------------------
# The kernel's ring is small (a few hundred of these lines overflow it): with no syslog socket
# its lines are captured from the start, as they come.
if [ -S /dev/log ] && command -v journalctl >/dev/null; then
        refresh_log() { journalctl -q -o short -t core_pipe --since "@$TEST_START" >"$LOGF" 2>/dev/null; }
else
        dmesg -w >"$T/kmsg.log" 2>/dev/null &
        KMSG_PID=$!
        refresh_log() { cp "$T/kmsg.log" "$LOGF"; }
fi

# ---- containers and their receivers ---------------------------------------------------------
mkdir "$MEMCG"
echo $((128 << 20)) >"$MEMCG/memory.limit_in_bytes"
echo $((128 << 20)) >"$MEMCG/memory.memsw.limit_in_bytes" 2>/dev/null || true

printf '[Receiver]\nMaxUse=infinity\nKeepFree=1G\nMaxUsePerContainer=infinity\nMaxCoresPerInterval=0\n' >"$T/fallback.conf"
install_pattern "ReceiverConfig=$T/fallback.conf"

receiver_args() {
        if [ "$1" = sk4 ]; then
                echo "--max-use=infinity --keep-free=1G --max-cores-per-interval=5 --interval=30s"
        else
                echo "--max-use=infinity --keep-free=1G --max-cores-per-interval=0"
        fi
}

# in_memcg_if CT: moves this (sub)shell into the memory cgroup when CT is the limited container,
# so that what it starts there is charged to it (nsenter does not change cgroups).
in_memcg_if() {
        [ "$1" = "$MEM_CT" ] || return 0
        echo "$BASHPID" >"$MEMCG/cgroup.procs"
}

# shellcheck disable=SC2046 # the receiver's options are words
start_listener() {
        (in_memcg_if "$1" && start_receiver "$1" $(receiver_args "$1"))
}

# ct_listener CT: the container's listening daemon (its parent is the shell ct_exec started;
# the handlers' parent is the listener, or the container's init once the listener is gone).
ct_listener() {
        local p pp
        for p in $(ct_receivers "$1"); do
                pp=$(awk '/^PPid:/ {print $2}' "/proc/$p/status" 2>/dev/null)
                [ "$(cat "/proc/$pp/comm" 2>/dev/null)" = sh ] && echo "$p"
        done
        return 0
}

# restart_listener CT: waits until the killed listener is gone, then starts a new one.
restart_listener() {
        local ct=$1 i
        for ((i = 0; i < 100; i++)); do
                [ -z "$(ct_listener "$ct")" ] && break
                sleep 0.05
        done
        rm -f "$(ct_root "$ct")/run/core_pipe.socket"
        start_listener "$ct"
}

for ct in "${ALL_CTS[@]}"; do
        mkdir -p "$T/var-$ct"
        if [ "$ct" = "$MEM_CT" ]; then
                # Its init in the memory cgroup first: the whole container is charged there.
                (in_memcg_if "$ct" && CT_VAR=$T/var-$ct CT_INIT='/usr/bin/tini -s -- sleep infinity' container_start "$ct" &&
                        ct_pid "$ct" >"$T/pid-$ct") || break
                eval "CT_PID_$ct=$(cat "$T/pid-$ct")"
                CONTAINERS+=("$ct")
        else
                CT_VAR=$T/var-$ct CT_INIT='/usr/bin/tini -s -- sleep infinity' container_start "$ct" || break
        fi
done
check "the ${#ALL_CTS[@]} containers run" test "${#CONTAINERS[@]}" = "${#ALL_CTS[@]}" || exit 1
# It sees its own memory cgroup at /sys/fs/cgroup/memory, as a docker container on cgroup v1
# does: the receiver can read its headroom and the OOM kill counter.
ct_mount_memcg "$MEM_CT" "$MEMCG"
check "$MEM_CT runs in the 128 MiB memory cgroup, which it sees" \
        sh -c "grep -qx '$(ct_pid "$MEM_CT")' '$MEMCG/cgroup.procs' && test -f '$(ct_root "$MEM_CT")/sys/fs/cgroup/memory/memory.usage_in_bytes'"
for ct in "${RECV_CTS[@]}"; do
        start_listener "$ct" || break
done
check "the resident receivers listen" test "$(for ct in "${RECV_CTS[@]}"; do ct_listener "$ct"; done | wc -l)" = "${#RECV_CTS[@]}"

# The idle baseline of every listening daemon: fds (VmRSS in KiB for sks, never killed).
fds_of() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_of() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
STEADY=$(ct_listener sks)
FDS0=$(fds_of "$STEADY")
RSS0=$(rss_of "$STEADY")
diag "seed $SEED, run tag $RUN, $DURATION s in rounds of $ROUND s (crashes for $INJECT s of each)"

# ---- crashes -------------------------------------------------------------------------------
N=0
# crash_job CT NAME SIZE: one crash; its truth file says, when it is done, how the crasher's
# shell exited (139: SIGSEGV; 137: SIGKILL, by the OOM killer before it faulted or during its
# dump; 3: no memory) and whether it faulted: the crasher prints its pid once its heap is filled,
# just before it faults, so a crasher killed while it filled its heap printed nothing and was
# never a crash.
crash_job() {
        local ct=$1 name=$2 size=$3 out rc faulted=0
        echo "$name $ct $size" >"$T/truth/$name"
        in_memcg_if "$ct" || return
        # shellcheck disable=SC2016 # expanded by the container's shell
        out=$(CT_TIMEOUT=300 ct_exec "$ct" /bin/sh -c 'ulimit -c unlimited
                /build/tests/crasher --name "$1" --size "$2" 2>/dev/null; echo "rc=$?"' sh "$name" "$size" 2>/dev/null)
        rc=$(printf '%s\n' "$out" | sed -n 's/^rc=//p')
        printf '%s\n' "$out" | grep -qE '^[0-9]+$' && faulted=1
        echo "$name $ct $size ${rc:-none} $faulted" >"$T/truth/$name"
}

# A heap of 1 to 256 MiB, about as many in each power of two; near the limit in skm.
pick_size() {
        local k lo
        if [ "$1" = "$MEM_CT" ]; then
                echo $((64 + RANDOM % 63))
                return
        fi
        k=$((RANDOM % 9))
        lo=$((1 << k))
        k=$((lo + RANDOM % lo))
        echo $((k > 256 ? 256 : k))
}

running() {
        local p n=0
        for p in "${CRASH_PIDS[@]}"; do
                kill -0 "$p" 2>/dev/null && n=$((n + 1))
        done
        echo "$n"
}

MEM_JOB=
launch() {
        local ct=$1 name
        N=$((N + 1))
        name=$(printf 'k%s%05d' "$RUN" "$N")
        echo "$name" >>"$T/round-$R.names"
        crash_job "$ct" "$name" "$(pick_size "$ct")" &
        CRASH_PIDS+=($!)
        [ "$ct" = "$MEM_CT" ] && MEM_JOB=$!
}

# One crash into a random container (skm only when its last crash is done), or now and then a
# burst into one or two.
inject_crashes() {
        local until=$1 ct c n i
        while [ "$(date +%s)" -lt "$until" ]; do
                while [ "$(running)" -ge "$MAX_RUNNING" ]; do sleep 0.1; done
                if ((RANDOM % 6 == 0)); then
                        for ((c = RANDOM % 2; c < 2; c++)); do
                                ct=${ALL_CTS[RANDOM % ${#ALL_CTS[@]}]}
                                n=$((3 + RANDOM % 8))
                                [ "$ct" = "$MEM_CT" ] && n=2
                                for ((i = 0; i < n; i++)); do launch "$ct"; done
                        done
                else
                        ct=${ALL_CTS[RANDOM % ${#ALL_CTS[@]}]}
                        if [ "$ct" = "$MEM_CT" ] && [ -n "$MEM_JOB" ] && kill -0 "$MEM_JOB" 2>/dev/null; then
                                continue
                        fi
                        launch "$ct"
                fi
                sleep "0.$((RANDOM % 10))"
        done
}

# ---- faults --------------------------------------------------------------------------------
# nap MS: sleeps, waking early once the round stops.
nap() {
        local i
        for ((i = 0; i < $1; i += 100)); do
                [ -e "$STOP" ] && return 1
                sleep 0.1
        done
}

daemon_killer() {
        local ct l
        while nap $((5000 + RANDOM % 10000)); do
                ct=${KILLABLE[RANDOM % ${#KILLABLE[@]}]}
                l=$(ct_listener "$ct")
                [ -n "$l" ] || continue
                kill -KILL "$l" 2>/dev/null && echo "$(date +%s.%N) $ct $l" >>"$T/daemon-kills"
                nap $((RANDOM % 3000))
                restart_listener "$ct" >/dev/null 2>&1
        done
}

# start_time PID: field 22 of /proc/PID/stat, to tell a reused pid.
start_time() {
        sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $20}'
}

kill_handler_later() {
        local h=$1 ms=$2 st
        st=$(start_time "$h")
        [ -n "$st" ] || return 0
        sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
        [ "$(start_time "$h")" = "$st" ] && [ "$(cat "/proc/$h/comm" 2>/dev/null)" = core_pipe-recei ] || return 0
        kill -KILL "$h" 2>/dev/null && echo "$(date +%s.%N) $h $ms" >>"$T/handler-kills"
        return 0
}

CORE_FD_KIND='pipe:*'
[ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ] && CORE_FD_KIND='socket:*'
# handler_killer: a third of the handlers seen (receivers whose parent is a receiver, holding a
# pipe) are SIGKILLed 0 to 300 ms later.
handler_killer() {
        local seen=" " h pp
        while [ ! -e "$STOP" ]; do
                for h in $(pgrep -x core_pipe-recei); do
                        case "$seen" in *" $h "*) continue ;; esac
                        pp=$(awk '/^PPid:/ {print $2}' "/proc/$h/status" 2>/dev/null)
                        [ "$(cat "/proc/$pp/comm" 2>/dev/null)" = core_pipe-recei ] || continue
                        # One that holds a core's pipe (not a child the daemon forks for
                        # anything else); over the kernel's socket, the core is a socket.
                        find "/proc/$h/fd" -mindepth 1 -maxdepth 1 -lname "$CORE_FD_KIND" 2>/dev/null | grep -q . || continue
                        seen="$seen$h "
                        ((RANDOM % 3 == 0)) && kill_handler_later "$h" $((RANDOM % 300)) &
                done
                sleep 0.05
        done
        wait
}

# ---- settling and the audit ----------------------------------------------------------------
# in_flight: what is still running: handlers (or orphans) in the containers, fallback receivers,
# helpers.
in_flight() {
        local ct l p
        for ct in "${RECV_CTS[@]}"; do
                l=" $(ct_listener "$ct" | tr '\n' ' ') "
                for p in $(ct_receivers "$ct"); do
                        case "$l" in *" $p "*) ;; *) echo "handler $p in $ct" ;; esac
                done
        done
        pgrep -f -- "--fallback-root=$T/hoststore" | sed 's/^/fallback receiver /'
        # Over the kernel's socket (CORE_PIPE_TRANSPORT=socket) the resident server is no crash's:
        # its workers are.
        pgrep -x core_pipe | grep -vx "$(pgrep -P "${SOCKET_SERVER_PID:-0}" || echo none)" | sed 's/^/helper /'
}

# crashed_unlogged NAMES_FILE: the names that crashed and have no host log line yet.
crashed_unlogged() {
        refresh_log
        sed "s|^|$T/truth/|" "$1" | xargs -r cat | awk '$5 == 1 {print $1}' | sort >"$T/crashed"
        grep -oE "core_pipe\\[[0-9]+\\]: .*comm=\"k${RUN}[0-9]+\" .*outcome=" "$LOGF" |
                grep -oE "comm=\"k${RUN}[0-9]+\"" | sed 's/comm="//; s/"//' | sort -u >"$T/logged"
        comm -23 "$T/crashed" "$T/logged"
}

settle() {
        local p ct i
        touch "$STOP"
        for p in "${KILLER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
        KILLER_PIDS=()
        for p in "${CRASH_PIDS[@]}"; do wait "$p" 2>/dev/null; done
        CRASH_PIDS=()
        for ct in "${RECV_CTS[@]}"; do
                [ -n "$(ct_listener "$ct")" ] || restart_listener "$ct" >/dev/null 2>&1
        done
        for ((i = 0; i < 1200; i++)); do
                [ -z "$(crashed_unlogged "$T/round-$R.names")" ] && break
                sleep 0.1
        done
        for ((i = 0; i < 600; i++)); do
                [ -z "$(in_flight)" ] && break
                sleep 0.1
        done
        in_flight | sed 's/^/still running after the round: /' >>"$T/settle.log"
        # Every listener runs again: nothing may be left in progress (a core whose writer died is
        # finalised by whoever outlives it).
        find "$T"/var-*/lib/core_pipe "$T/hoststore" -name '.#*' 2>/dev/null | sed 's/^/left in progress after the round: /' >>"$T/settle.log"
        crashed_unlogged "$T/round-$R.names" | sed 's/^/no host log line after 120 s: /' >>"$T/settle.log"
}

stores() {
        local ct
        for ct in "${ALL_CTS[@]}"; do echo "$ct=$T/var-$ct/lib/core_pipe"; done
}

# audit: the round's ledger; then its cores go (those of crashes that balance), and any record
# of an earlier round's crash (not kept because it failed) is a late one.
audit() {
        local name f
        refresh_log
        # shellcheck disable=SC2046
        python3 "$LEDGER" "$T/truth" "$LOGF" "$T/hoststore" $(stores) --names "$T/round-$R.names" >"$T/round-$R.ledger" 2>&1
        find "$T"/var-*/lib/core_pipe "$T/hoststore" -name "core.k$RUN*.json" 2>/dev/null | while read -r f; do
                name=${f##*/core.}
                name=${name%%.*}
                grep -qx "$name" "$T/round-$R.names" "$T/kept" && continue
                echo "FAIL $name (late, 0 MiB, late): [twice] a record after its crash was audited (in an earlier round): $f" >>"$T/round-$R.ledger"
        done
        grep '^FAIL' "$T/round-$R.ledger" | awk '{print $2}' | sort -u >"$T/round-$R.failed"
        # The cores of the crashes that failed stay, for a look; they are no late records.
        cat "$T/round-$R.failed" >>"$T/kept"
        while read -r name; do
                grep -qx "$name" "$T/round-$R.failed" && continue
                find "$T"/var-*/lib/core_pipe "$T/hoststore" -name "core.$name.*" -delete 2>/dev/null
        done <"$T/round-$R.names"
}

# ---- the soak ----------------------------------------------------------------------------
T0=$(date +%s)
R=0
# No round of less than 10 s (it would have no time for crashes).
while [ $(($(date +%s) - T0)) -lt $((DURATION - 10)) ] && [ "$R" -lt 100 ]; do
        R=$((R + 1))
        : >"$T/round-$R.names"
        rm -f "$STOP"
        daemon_killer &
        KILLER_PIDS+=($!)
        handler_killer &
        KILLER_PIDS+=($!)
        left=$((DURATION - ($(date +%s) - T0)))
        span=$((left < ROUND ? left : ROUND))
        inject_crashes $(($(date +%s) + span * INJECT / ROUND))
        settle
        audit
        if [ "$R" = 1 ]; then
                FDS1=$(fds_of "$STEADY")
                RSS1=$(rss_of "$STEADY")
        fi
        diag "round $R: $(wc -l <"$T/round-$R.names") crashes, $(grep -c '^FAIL' "$T/round-$R.ledger") problems, $(($(date +%s) - T0)) s"
done
SOAK_SECONDS=$(($(date +%s) - T0))

# ---- the verdict -----------------------------------------------------------------------------
cat "$T"/round-*.ledger >"$T/ledger"
total=$(grep -c '^LEDGER' "$T/ledger")
crashed=$(grep '^LEDGER' "$T/ledger" | grep -vc ' not-a-crash ')
dkills=$(wc -l <"$T/daemon-kills" 2>/dev/null || echo 0)
hkills=$(wc -l <"$T/handler-kills" 2>/dev/null || echo 0)
diag "ledger of $total crashes in $SOAK_SECONDS s ($crashed handed to the helper; $dkills daemons and $hkills per-crash receivers SIGKILLed):"
grep '^LEDGER' "$T/ledger" | awk '{print $4}' | sort | uniq -c | sort -rn | awk '{printf "  %-40s %d\n", $2, $1}' | while read -r l; do diag "$l"; done
diag "why (the cause of a cut, the fallback's reason, the logged reason):"
grep '^LEDGER' "$T/ledger" | awk '$6 != "-" {print $4, $6}' | sort | uniq -c | sort -rn |
        awk '{printf "  %-34s %-60s %d\n", $2, $3, $1}' | while read -r l; do diag "$l"; done
diag "by container:"
grep '^LEDGER' "$T/ledger" | awk '{print $3, $4}' | sort | uniq -c | awk '{printf "  %-4s %-36s %d\n", $2, $3, $1}' | while read -r l; do diag "$l"; done
[ -s "$T/settle.log" ] && diag "$(sort -u "$T/settle.log" | head -n 20)"

# fails KIND DESCRIPTION: no crash has a problem of KIND (the first ones are shown).
fails() {
        local kind=$1 n
        # Only this check's lines in what check shows of its log.
        : >"$T/check.log"
        n=$(grep -c "^FAIL [^ ]* ([^)]*): \\[$kind\\]" "$T/ledger")
        if [ "$n" -gt 0 ]; then
                echo "$n crashes:" >&2
                grep "^FAIL [^ ]* ([^)]*): \\[$kind\\]" "$T/ledger" | head -n 12 >&2
                return 1
        fi
}
check "a few hundred crashes over $SOAK_SECONDS s ($total)" test "$total" -ge $((DURATION * 2 / 3))
check "faults were injected: listening daemons ($dkills) and per-crash receivers ($hkills) SIGKILLed" \
        test "$dkills" -ge 1 -a "$hkills" -ge 1
check "no crash missing from the ledger (no core, no reason)" fails missing
check "no crash in two places" fails twice
check "no core whose size disagrees with its program headers without the mark" fails size
check "every stored core decompresses whole and has its record" fails corrupt
check "every truncated core names its reason" fails reason
check "one host log line per crash, agreeing with where the core is" fails log
check "processes that did not crash are nowhere in the ledger" fails notacrash
check "every record carries core_expected_size" fails expected
check "nothing of a crash still running after its round" test ! -s "$T/settle.log"

FDS2=$(fds_of "$STEADY")
RSS2=$(rss_of "$STEADY")
diag "sks's listener: fds $FDS0 idle at start, $FDS1 after round 1, $FDS2 at the end; VmRSS $RSS0, $RSS1, $RSS2 KiB"
check "sks's listener is the one that started" test -d "/proc/$STEADY"
check "sks's listener: fd count flat ($FDS0 -> $FDS2)" test "$FDS2" = "$FDS0"
check "sks's listener: RSS flat (within 1 MiB of round 1: $RSS1 -> $RSS2 KiB)" test "$RSS2" -le $((RSS1 + 1024))
listeners_fds() {
        local ct l
        for ct in "${RECV_CTS[@]}"; do
                l=$(ct_listener "$ct")
                [ -n "$l" ] && [ "$(fds_of "$l")" -le "$FDS0" ] && continue
                echo "$ct: listener ${l:-missing} has $(fds_of "$l") fds, $FDS0 idle at start" >&2
                return 1
        done
}
check "every listening daemon, restarted or not, holds its idle fds only" listeners_fds
check "$MEM_CT's listener, restarted or not, runs in the memory cgroup" grep -qx "$(ct_listener "$MEM_CT")" "$MEMCG/cgroup.procs"
