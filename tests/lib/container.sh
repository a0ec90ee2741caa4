# shellcheck shell=bash
# Throwaway containers and the kernel's crash settings, for the tests and the quick start.
# Containers are built from namespaces (unshare) and a private root (pivot_root): no image, no
# engine. Kernel settings are saved before the first change and restored by
# restore_kernel_settings, which callers run from an EXIT trap.

CONTAINERS=()

# Cleanup code must never stop half way (set -e in a caller's trap): every stop and restore
# function here returns 0.

# ---- kernel settings ------------------------------------------------------------------------

OLD_PATTERN=
OLD_PIPE_LIMIT=
OLD_DEVKMSG=
OLD_SUID_DUMPABLE=

# The pattern is one per machine: test runs from several checkouts (or a benchmark beside a test)
# take turns. The lock is held from the first change until the settings are restored; every
# copy of the descriptor (containers, daemons started meanwhile) is released by the unlock. A
# script run by the holder (bench-smoke runs bench/run) inherits the lock and takes no other.
PATTERN_LOCK_FD=
pattern_lock() {
        [ -z "$PATTERN_LOCK_FD" ] || return 0
        [ -z "${CORE_PIPE_PATTERN_LOCK_HELD:-}" ] || return 0
        exec {PATTERN_LOCK_FD}>>/run/core_pipe-tests.lock
        if ! flock -w 1800 "$PATTERN_LOCK_FD"; then
                echo "/run/core_pipe-tests.lock: another run kept kernel.core_pattern for 30 minutes" >&2
                return 1
        fi
        export CORE_PIPE_PATTERN_LOCK_HELD=$$
}

pattern_unlock() {
        [ -n "$PATTERN_LOCK_FD" ] || return 0
        flock -u "$PATTERN_LOCK_FD"
        exec {PATTERN_LOCK_FD}>&-
        PATTERN_LOCK_FD=
        unset CORE_PIPE_PATTERN_LOCK_HELD
        return 0
}

save_kernel_settings() {
        pattern_lock || return 1
        OLD_PATTERN=$(cat /proc/sys/kernel/core_pattern)
        OLD_PIPE_LIMIT=$(cat /proc/sys/kernel/core_pipe_limit)
        OLD_DEVKMSG=$(cat /proc/sys/kernel/printk_devkmsg)
        OLD_SUID_DUMPABLE=$(cat /proc/sys/fs/suid_dumpable)
}

restore_kernel_settings() {
        [ -n "$OLD_PATTERN" ] || return 0
        # The pattern first: from then on the kernel no longer connects, and the server (socket
        # mode) can stop without a crash meeting a socket that nobody accepts on.
        printf '%s\n' "$OLD_PATTERN" >/proc/sys/kernel/core_pattern
        socket_server_stop
        echo "$OLD_PIPE_LIMIT" >/proc/sys/kernel/core_pipe_limit
        echo "$OLD_DEVKMSG" >/proc/sys/kernel/printk_devkmsg
        echo "$OLD_SUID_DUMPABLE" >/proc/sys/fs/suid_dumpable
        OLD_PATTERN=
        pattern_unlock
        return 0
}

# install_pattern [EXTRA CONFIG LINES...]: points core_pattern at the built helper, with a config
# whose fallback store is $T/hoststore and whose receiver is the built one.
# CORE_PIPE_TRANSPORT=socket: the kernel's coredump socket instead of the pipe (socket_pattern).
install_pattern() {
        local line
        [ -n "$OLD_PATTERN" ] || save_kernel_settings || return 1
        mkdir -p "$SHORT"
        ln -sfn "$HELPER" "$SHORT/core_pipe"
        {
                echo "[Pipe]"
                echo "FallbackStore=$T/hoststore"
                echo "Receiver=$RECEIVER"
                # Tests look for every crash's line: no host log limit unless a test sets one.
                echo "LogRateLimitBurst=0"
                for line in "$@"; do echo "$line"; done
        } >"$SHORT/pipe.conf"
        if [ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ]; then
                socket_pattern
                return
        fi
        # NO_PIDFD=1 leaves %F out, as on kernels before 6.16: the helper opens the pidfd itself.
        local pidfd="F=%F "
        [ "${NO_PIDFD:-0}" = 1 ] && pidfd=
        PATTERN="|$SHORT/core_pipe C=$SHORT/pipe.conf ${pidfd}P=%P u=%u g=%g s=%s t=%t c=%c d=%d h=%h e=%e"
        if [ "${#PATTERN}" -gt 127 ]; then
                echo "core_pattern too long (${#PATTERN} bytes)" >&2
                return 1
        fi
        # shellcheck disable=SC2034 # read by the tests that switch between the transports
        PIPE_PATTERN=$PATTERN
        printf '%s\n' "$PATTERN" >/proc/sys/kernel/core_pattern
        # As the shipped sysctl.d drop-in sets it: enough for a storm of crashes.
        echo 64 >/proc/sys/kernel/core_pipe_limit
        # Userspace writes to /dev/kmsg are rate limited by default; the host log must keep
        # every line the tests look for.
        echo on >/proc/sys/kernel/printk_devkmsg
}

# write_pattern PATTERN: for a test that switches core_pattern itself after install_pattern (which
# took the lock and saved the settings): writes PATTERN and reads it back.
write_pattern() {
        if [ -z "$OLD_PATTERN" ]; then
                echo "write_pattern: install_pattern first (it saves the settings under the lock)" >&2
                return 1
        fi
        printf '%s\n' "$1" >/proc/sys/kernel/core_pattern
        [ "$(cat /proc/sys/kernel/core_pattern)" = "$1" ]
}

# ---- the host side on the kernel's coredump socket (CORE_PIPE_TRANSPORT=socket) ----------------

# The pid of the server's keeper (a session of its own: the server and its workers are in its
# process group; the keeper passes SIGTERM on and leaves the server's exit status in
# $T/socket-server.status), and the socket the kernel connects to ($SHORT/kernel.socket: the
# pattern's path must stay under 108 bytes).
SOCKET_SERVER_PID=

# unix_listening PATH [PID]: true while a stream socket bound at PATH listens, in the network
# namespace of PID (default: ours). Read from /proc/PID/net/unix (flags 00010000: accepting
# connections), never by connecting: to the server every connection is a crash.
unix_listening() {
        awk -v path="$1" '$NF == path && $4 == "00010000" && $5 == "0001" { found = 1 }
                END { exit !found }' "/proc/${2:-self}/net/unix" 2>/dev/null
}

# proc_alive PID: the process exists and is not a zombie.
proc_alive() {
        local state
        state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
        [ -n "$state" ] && [ "$state" != Z ]
}

# socket_server_start: the host side in socket mode, with $SHORT/pipe.conf, listening at
# $SHORT/kernel.socket; returns once it listens (bounded: 10 s). CORE_PIPE_SOCKET_SERVICE picks
# how: "resident" (default: core_pipe --serve binds the socket and forks a worker per crash, as
# with Accept=no) or "activated" (systemd-socket-activate --accept execs core_pipe --socket per
# connection, as systemd's Accept=yes does). A server of an earlier install_pattern is stopped
# first. The server gets SIGTERM when the test's shell dies, even by SIGKILL (setpriv
# --pdeathsig), and never holds the pattern lock (a server left behind would keep it).
socket_server_start() {
        local sock=$SHORT/kernel.socket cmd i env=()
        socket_server_stop
        rm -f "$sock"
        case ${CORE_PIPE_SOCKET_SERVICE:-resident} in
        resident) cmd=("$HELPER" --serve --listen "$sock" --config "$SHORT/pipe.conf") ;;
        activated)
                # systemd-socket-activate gives its child only the LISTEN_* variables and those
                # named with -E: the sanitizers' settings must reach the helper.
                for i in ASAN_OPTIONS UBSAN_OPTIONS MSAN_OPTIONS LSAN_OPTIONS; do
                        [ -z "${!i:-}" ] || env+=(-E "$i")
                done
                cmd=(systemd-socket-activate --accept "${env[@]}" -l "$sock" -- "$HELPER" --socket --config "$SHORT/pipe.conf") ;;
        *)
                echo "CORE_PIPE_SOCKET_SERVICE=$CORE_PIPE_SOCKET_SERVICE: expected resident or activated" >&2
                return 1 ;;
        esac
        # SOCKET_SERVER_SOMAXCONN=N: the server in a network namespace of its own whose
        # net.core.somaxconn caps its listen backlog at N (socket-backlog). The kernel finds a
        # socket bound to a path whatever network namespace it lives in.
        if [ -n "${SOCKET_SERVER_SOMAXCONN:-}" ]; then
                # shellcheck disable=SC2016 # expanded by the inner shell
                cmd=(unshare --net -- /bin/sh -c 'echo "$0" >/proc/sys/net/core/somaxconn && exec "$@"' \
                        "$SOCKET_SERVER_SOMAXCONN" "${cmd[@]}")
        fi
        # A keeper process runs the server: it passes SIGTERM on, leaves the server's exit status
        # in $T/socket-server.status, and is disowned, so that a test's bare `wait` (for its own
        # background jobs) does not wait for the server.
        rm -f "$T/socket-server.status"
        {
                [ -z "$PATTERN_LOCK_FD" ] || exec {PATTERN_LOCK_FD}>&-
                umask 0177 # the socket 0600: core_pipe serves no socket others can reach
                # shellcheck disable=SC2016 # expanded by the keeper's shell
                exec setpriv --pdeathsig TERM -- setsid -- /bin/bash -c '
                        status=$1
                        shift
                        setpriv --pdeathsig TERM -- "$@" &
                        server=$!
                        trap "kill -TERM \$server" TERM
                        while :; do
                                wait "$server"
                                rc=$?
                                kill -0 "$server" 2>/dev/null || break
                        done
                        echo "$rc" >"$status"
                        exit "$rc"' keeper "$T/socket-server.status" "${cmd[@]}"
        } </dev/null >>"$T/socket-server.log" 2>&1 &
        SOCKET_SERVER_PID=$!
        disown "$SOCKET_SERVER_PID"
        for ((i = 0; i < 200; i++)); do
                # systemd-socket-activate binds it 0666 whatever the umask: made root's alone
                # before any crash goes there (core_pipe serves no socket others can reach).
                socket_server_listening && chmod 0600 "$sock" && return 0
                proc_alive "$SOCKET_SERVER_PID" || break
                sleep 0.05
        done
        echo "socket server (${cmd[*]}) did not listen at $sock" >&2
        tail -n 20 "$T/socket-server.log" >&2
        socket_server_stop
        return 1
}

# socket_server_workers: the pids of what the socket server runs for crashes (its workers, or the
# per-crash `core_pipe --socket` of systemd-socket-activate, and what they start): its process
# group but the keeper and the server itself.
socket_server_workers() {
        local server
        [ -n "$SOCKET_SERVER_PID" ] || return 0
        server=$(pgrep -P "$SOCKET_SERVER_PID" | head -n1)
        pgrep -g "$SOCKET_SERVER_PID" | grep -vx -e "$SOCKET_SERVER_PID" -e "${server:-0}"
}

# socket_server_listening: our server (a process of its group: it may run in a network namespace
# of its own) holds a socket listening at $SHORT/kernel.socket; a server left behind by another
# run, listening there, does not count.
socket_server_listening() {
        local p ino
        [ -n "$SOCKET_SERVER_PID" ] || return 1
        for p in $(pgrep -g "$SOCKET_SERVER_PID"); do
                for ino in $(awk -v path="$SHORT/kernel.socket" '$NF == path && $4 == "00010000" && $5 == "0001" { print $7 }' \
                        "/proc/$p/net/unix" 2>/dev/null); do
                        find "/proc/$p/fd" -lname "socket:\[$ino\]" 2>/dev/null | grep -q . && return 0
                done
        done
        return 1
}

# socket_server_stop: SIGTERM to the server; it finishes the crashes in flight within its
# bounds. Whatever is left of its process group after 30 s (a worker the activated mode's
# systemd-socket-activate left running, a server that did not stop) is killed. Returns 0.
socket_server_stop() {
        local pid=$SOCKET_SERVER_PID i
        [ -n "$pid" ] || return 0
        SOCKET_SERVER_PID=
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 300; i++)); do
                proc_alive "$pid" || pgrep -g "$pid" >/dev/null || break
                sleep 0.1
        done
        if proc_alive "$pid" || pgrep -g "$pid" >/dev/null; then
                echo "socket server $pid: still running 30 s after SIGTERM, killed" >&2
                kill -KILL -- "-$pid" 2>/dev/null
        fi
        rm -f "$SHORT/kernel.socket"
        return 0
}

# socket_pattern: starts the server (socket_server_start), then points core_pattern at its
# socket ("@@": the kernel asks first, 6.17 and later) and reads it back: a kernel that does not
# take the pattern may still accept the write.
socket_pattern() {
        socket_server_start || return 1
        PATTERN="@@$SHORT/kernel.socket"
        # shellcheck disable=SC2034 # read by the tests that switch between the transports
        SOCKET_PATTERN=$PATTERN
        printf '%s\n' "$PATTERN" >/proc/sys/kernel/core_pattern
        if [ "$(cat /proc/sys/kernel/core_pattern)" != "$PATTERN" ]; then
                echo "the kernel did not take core_pattern $PATTERN (before 6.17?)" >&2
                return 1
        fi
        # Not used by the kernel in this mode; set as in pipe mode, restored alike.
        echo 64 >/proc/sys/kernel/core_pipe_limit
        echo on >/proc/sys/kernel/printk_devkmsg
}

# ---- containers ---------------------------------------------------------------------------------

# ct_crash_status NAME RLIMIT_CORE CRASHER_ARGS...: the test crasher crashes in the container with
# RLIMIT_CORE (bytes, or "unlimited"), under a parent that prints how it ended, as wait(2) says:
# "signal=N core=0|1 ms=M" (core=1: the kernel wrote a core; M: fork to reaped). Bounded: 60 s.
ct_crash_status() {
        local name=$1 limit=$2
        shift 2
        CT_TIMEOUT=60 ct_exec "$name" python3 -c '
import os, resource, sys, time
lim = resource.RLIM_INFINITY if sys.argv[1] == "unlimited" else int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_CORE, (lim, lim))
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    fd = os.open("/dev/null", os.O_WRONLY)
    os.dup2(fd, 1)
    os.execv("/build/tests/crasher", ["crasher"] + sys.argv[2:])
_, st = os.waitpid(pid, 0)
ms = int((time.monotonic() - t0) * 1000)
sig = os.WTERMSIG(st) if os.WIFSIGNALED(st) else 0
print(f"signal={sig} core={int(os.WCOREDUMP(st))} ms={ms}")' "$limit" "$@"
}

# ct_share: prints $T/share, a world-readable copy of the build's files that containers run
# (made on first use), in the build tree's layout. The build tree itself may sit in a directory
# that a container's mapped ids cannot enter (root's 0700 home, a mktemp -d checkout).
ct_share() {
        local f
        if [ ! -d "$T/share" ]; then
                for f in receiver/core_pipe-receiver tests/crasher tests/evil-receiver bench/stall; do
                        [ -e "$BUILD/$f" ] || continue
                        mkdir -p "$T/share/$(dirname "$f")"
                        install -m 0755 "$BUILD/$f" "$T/share/$f"
                done
                chmod -R a+rX "$T/share"
                chmod o+x "$T"
        fi
        echo "$T/share"
}

# container_start NAME: a container with its own mount, pid and UTS namespaces, a private root
# (read-only /usr and /etc of the host, fresh tmpfs /run, /tmp and /var, its own /proc), the
# directory $CT_SHARE (default: ct_share, a copy of the build's programs) read-only at /build.
# Sets CT_PID_<NAME> to the pid (host view) of its init. $CT_VAR, if set, is a host directory
# mounted as its /var (to store on disk rather than in memory). $CT_INIT, if set, is a command
# the container's init execs (with ulimit -c unlimited) instead of sleeping. CT_USERNS=1 gives the
# container its own user namespace: container ids 0-65535 are host ids 100000-165535, as with a
# rootless or userns-remapped engine. Needs $T, a scratch directory.
container_start() {
        local name=$1 root="$T/ct-$1" pid i userns=()
        mkdir -p "$root"
        local holder=
        if [ "${CT_USERNS:-0}" = 1 ]; then
                # A user namespace first, held by a sleeping process, with the maps the host
                # writes; then the container's other namespaces are made from inside it by its
                # root (nsenter -U becomes uid 0 there, host uid 100000), so that it owns them.
                unshare --user -- sleep infinity </dev/null >/dev/null 2>&1 &
                holder=$!
                for ((i = 0; i < 100; i++)); do
                        [ "$(readlink "/proc/$holder/ns/user")" != "$(readlink /proc/self/ns/user)" ] && break
                        sleep 0.02
                done
                echo "0 100000 65536" >"/proc/$holder/uid_map"
                echo "0 100000 65536" >"/proc/$holder/gid_map"
                userns=(nsenter -t "$holder" -U --)
                # Its root is host uid 100000, which must be able to reach the mount points.
                chmod o+x "$T"
        fi
        # Without the pattern lock's descriptor: a container left behind by a test that was
        # killed would hold the lock for every other run on the machine. The subshell becomes
        # unshare (exec), so $! is unshare's pid.
        {
                [ -z "$PATTERN_LOCK_FD" ] || exec {PATTERN_LOCK_FD}>&-
                exec "${userns[@]}" unshare --mount --pid --uts --fork --propagation private -- /bin/sh -ec '
                R=$1; NAME=$2; B=$3; V=$4; INIT=$5
                mount -t tmpfs -o mode=0755 ct-root "$R"
                mkdir -p "$R/usr" "$R/etc" "$R/proc" "$R/dev" "$R/run" "$R/tmp" "$R/var" "$R/build" "$R/sys"
                for d in usr etc; do
                        mount --rbind "/$d" "$R/$d"
                        mount -o remount,bind,ro "$R/$d"
                done
                for l in bin sbin lib lib64 lib32 libx32; do
                        if [ -L "/$l" ]; then ln -s "$(readlink "/$l")" "$R/$l"; fi
                done
                mount --rbind "$B" "$R/build"
                mount -o remount,bind,ro "$R/build"
                mount -t tmpfs -o mode=0755 ct-run "$R/run"
                mount -t tmpfs -o mode=1777 ct-tmp "$R/tmp"
                if [ -n "$V" ]; then mount --bind "$V" "$R/var"; else mount -t tmpfs -o mode=0755 ct-var "$R/var"; fi
                mount -t proc proc "$R/proc"
                mount -t tmpfs -o mode=0755 ct-dev "$R/dev"
                for n in null zero full random urandom; do
                        touch "$R/dev/$n"
                        mount --bind "/dev/$n" "$R/dev/$n"
                done
                hostname "$NAME"
                cd "$R"
                mkdir .oldroot
                pivot_root . .oldroot
                cd /
                umount -l /.oldroot
                rmdir /.oldroot
                : > /run/.ready
                if [ -n "$INIT" ]; then
                        ulimit -c unlimited
                        eval "exec $INIT"
                fi
                exec sleep infinity
        ' sh "$root" "$name" "${CT_SHARE:-$(ct_share)}" "${CT_VAR:-}" "${CT_INIT:-}"
        } </dev/null >"$T/ct-$name.log" 2>&1 &
        local unshare_pid=$!
        disown "$unshare_pid"
        # The container's init is the child of unshare.
        for ((i = 0; i < 100; i++)); do
                pid=$(cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null | awk '{print $1}') || true
                if [ -n "$pid" ] && [ -e "/proc/$pid/root/run/.ready" ]; then
                        break
                fi
                sleep 0.05
        done
        if [ -n "$holder" ]; then
                kill "$holder" 2>/dev/null
                wait "$holder" 2>/dev/null
        fi
        if [ -z "$pid" ] || [ ! -e "/proc/$pid/root/run/.ready" ]; then
                echo "container $name did not start" >&2
                cat "$T/ct-$name.log" >&2
                return 1
        fi
        eval "CT_PID_$name=$pid"
        CONTAINERS+=("$name")
}

ct_pid() {
        eval "echo \${CT_PID_$1:-}"
}

# ct_root NAME: the container's root as the host reaches it.
ct_root() {
        echo "/proc/$(ct_pid "$1")/root"
}

# ct_mount_memcg NAME CGROUP: shows the container the v1 memory cgroup CGROUP (a directory
# directly under the hierarchy's root) as docker does on cgroup v1: that directory alone, bound
# read-only at /sys/fs/cgroup/memory, on a /sys of its own.
ct_mount_memcg() {
        nsenter -t "$(ct_pid "$1")" -m -- /bin/sh -ec '
                mount -t tmpfs -o mode=0755 sys /sys
                mkdir -p /sys/fs/cgroup/memory /run/memcg-all
                mount -t cgroup -o memory cgroup /run/memcg-all
                mount --bind "/run/memcg-all/$1" /sys/fs/cgroup/memory
                mount -o remount,bind,ro /sys/fs/cgroup/memory
                umount /run/memcg-all' sh "$(basename "$2")"
}

# ct_exec NAME COMMAND...: runs a command inside the container (its namespaces and root).
# $CT_TIMEOUT (seconds), if set, bounds it.
# nsenter re-raises a signal that killed its child on itself, and would then dump core as a host
# process: a shell inside the container waits for the command and exits normally instead.
ct_exec() {
        local name=$1 pid userns=()
        shift
        pid=$(ct_pid "$name")
        # Enter its user namespace too when it has one of its own.
        [ "$(readlink "/proc/$pid/ns/user")" = "$(readlink /proc/self/ns/user)" ] || userns=(-U)
        # $CT_TIMEOUT (seconds), if set, bounds the command.
        ${CT_TIMEOUT:+timeout "$CT_TIMEOUT"} nsenter -t "$pid" "${userns[@]}" -m -p -u -r -w -- \
                /bin/sh -c '"$@"; rc=$?; exit $rc' sh "$@"
}

# ct_key NAME: the host's key of the container (its directory in the fallback store, ct= in the
# host log): pidns-<inode of its pid namespace>-<its init's start time in ticks>-<first 8 hex
# digits of the boot id>, as the helper computes it.
ct_key() {
        local pid ino ticks boot
        pid=$(ct_pid "$1")
        ino=$(stat -L -c %i "/proc/$pid/ns/pid") || return 1
        # Field 22 of stat: the 20th after the command name, which may hold spaces and ")".
        ticks=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $20}')
        boot=$(cut -c1-8 /proc/sys/kernel/random/boot_id)
        echo "pidns-$ino-$ticks-$boot"
}

containers_stop_all() {
        local c
        for c in "${CONTAINERS[@]}"; do
                container_stop "$c"
        done
        CONTAINERS=()
}

container_stop() {
        local pid
        pid=$(ct_pid "$1")
        [ -n "$pid" ] || return 0
        kill -KILL "$pid" 2>/dev/null
        eval "CT_PID_$1="
        return 0
}

# start_receiver NAME [ARGS...]: the resident receiver inside the container, logging to
# /run/receiver.log there; waits for its socket. $CT_RECEIVER is its path in the container.
start_receiver() {
        local name=$1
        shift
        # In a subshell, so that it is nobody's job: no "Killed" when the container stops.
        (ct_exec "$name" /bin/sh -c 'exec "$0" --listen "$@" >>/run/receiver.log 2>&1' \
                "${CT_RECEIVER:-/build/receiver/core_pipe-receiver}" "$@" &) 2>/dev/null
        wait_receiver_socket "$name"
}

# wait_receiver_socket NAME: waits (5 s at most) until a receiver's socket is in container NAME.
wait_receiver_socket() {
        local i
        for ((i = 0; i < 100; i++)); do
                [ -S "$(ct_root "$1")/run/core_pipe.socket" ] && return 0
                sleep 0.05
        done
        echo "receiver in $1 did not start" >&2
        return 1
}

# stop_receiver NAME: stops the container's receivers and waits until they are gone.
stop_receiver() {
        ct_exec "$1" pkill -x core_pipe-recei
        for _ in $(seq 100); do
                [ -z "$(ct_receivers "$1")" ] && return 0
                sleep 0.05
        done
        echo "receiver in $1 did not stop" >&2
        return 1
}

# ct_receivers NAME: the pids (host view) of the receiver processes in the container, oldest first:
# by start time, not by pid (pid_max is 32768 on a machine of few CPUs, and a child that came
# after the wrap has a smaller pid than its parent).
ct_receivers() {
        local p ct stat
        ct=$(ct_pid "$1")
        # Builtins only in the loop: the callers poll it to catch a core in flight.
        for p in $(pgrep -x core_pipe-recei); do
                [ "/proc/$p/ns/mnt" -ef "/proc/$ct/ns/mnt" ] || continue
                # field 22 of stat: the start time (the name, field 2, has no space: core_pipe-recei)
                read -r -a stat 2>/dev/null <"/proc/$p/stat" || continue
                echo "${stat[21]} $p"
        done | sort -n -k1,1 -k2,2 | cut -d' ' -f2
        return 0
}

# ct_slow_receivers NAME [PERCENT]: the container's receivers, and so the per-crash receivers
# they fork, run on at most PERCENT (default 10) of one CPU, in a cpu cgroup of their own (removed
# at the end of the test). For the tests that must catch a receiver in the middle of a core: a
# core of a few hundred MiB then takes seconds to store, however fast the machine. Returns 1 (and
# says why) where no cpu controller can be had; the test then runs at full speed.
ct_slow_receivers() {
        local cg p pct=${2:-10}
        if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
                cg=/sys/fs/cgroup/cpu/cpt-slow-$$-$1
                mkdir -p "$cg" && echo 100000 >"$cg/cpu.cfs_period_us" &&
                        echo $((pct * 1000)) >"$cg/cpu.cfs_quota_us" || cg=
        elif echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
                cg=/sys/fs/cgroup/cpt-slow-$$-$1
                mkdir -p "$cg" && echo "$((pct * 1000)) 100000" >"$cg/cpu.max" || cg=
        else
                cg=
        fi
        if [ -z "$cg" ]; then
                diag "no cpu cgroup to slow the receivers of $1 down: the test runs at full speed"
                return 1
        fi
        SLOW_CGROUPS+=("$cg")
        for p in $(ct_receivers "$1"); do echo "$p" >"$cg/cgroup.procs"; done
}
SLOW_CGROUPS=()

# rmdir_retry DIR TRIES SECONDS: removes DIR, trying TRIES times SECONDS apart (a cgroup goes once
# its last process has; its cgroup.procs always has size 0, so rmdir is the test).
rmdir_retry() {
        local i
        for ((i = 0; i < $2; i++)); do
                rmdir "$1" 2>/dev/null || [ ! -d "$1" ] && return 0
                sleep "$3"
        done
        return 1
}

# slow_cgroups_remove: the cgroups of ct_slow_receivers go, once the processes in them have
# (5 s each; one that still holds a process then, a container's init not yet reaped, is removed
# in the background once it is empty, within a minute).
slow_cgroups_remove() {
        local cg
        for cg in "${SLOW_CGROUPS[@]}"; do
                rmdir_retry "$cg" 100 0.05 || { rmdir_retry "$cg" 600 0.1 </dev/null >/dev/null 2>&1 & }
        done
        SLOW_CGROUPS=()
}

# ct_storm_ready CONTAINER COUNT NAME [CRASHER ARGS...]: starts COUNT crashers named NAME in the
# container, each waiting for /run/go; returns once they all run (bounded: 10 s).
ct_storm_ready() {
        local ct=$1 n=$2 name=$3 i
        shift 3
        rm -f "$(ct_root "$ct")/run/go"
        # shellcheck disable=SC2016 # expanded by the container's shell
        ct_exec "$ct" /bin/sh -c 'ulimit -c unlimited; n=$1; name=$2; shift 2
                for i in $(seq "$n"); do
                        /build/tests/crasher --name "$name" "$@" --wait-for /run/go </dev/null >/dev/null 2>&1 &
                done' sh "$n" "$name" "$@"
        for ((i = 0; i < 200; i++)); do
                [ "$(pgrep -cx "$name")" -ge "$n" ] && break
                sleep 0.05
        done
}

# ct_storm_go CONTAINER...: the crashers ct_storm_ready started in each container crash at once.
ct_storm_go() {
        local ct
        for ct in "$@"; do touch "$(ct_root "$ct")/run/go"; done
}

# timed_crash CONTAINER NAME [CRASHER ARGS...]: the test crasher, named NAME, crashes in the
# container (bounded by 60 s); ELAPSED_MS is the time until it was reaped, its dump and the
# hand-over included.
timed_crash() {
        local ct=$1 name=$2 t0
        shift 2
        t0=$(date +%s%N)
        CT_TIMEOUT=60 ct_exec "$ct" /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$@"' sh "$name" "$@" \
                >/dev/null 2>&1
        # shellcheck disable=SC2034 # read by the tests that call timed_crash
        ELAPSED_MS=$((($(date +%s%N) - t0) / 1000000))
}

# ---- containers that boot systemd -----------------------------------------------------------

# nspawn_start NAME STAGED_PREFIX_DIR PREFIX SHARE: boots systemd in a throwaway container
# (systemd-nspawn, the host's /usr, a volatile root), with STAGED_PREFIX_DIR bound read-only at
# PREFIX (so systemd finds the staged units in PREFIX/lib/systemd/system) and SHARE at /build.
# Sets NSPAWN_PID and NSPAWN_LEADER (the container's systemd, host view); waits for the boot.
nspawn_start() {
        local name=$1 staged=$2 prefix=$3 share=$4 state=
        systemd-nspawn --keep-unit --register=no -D / --volatile=yes -M "$name" --bind-ro="$staged:$prefix" \
                --bind-ro="$share:/build" -b systemd.firstboot=off </dev/null >"$T/nspawn-$name.log" 2>&1 &
        NSPAWN_PID=$!
        NSPAWN_LEADER=
        for _ in $(seq 300); do
                # Both commands fail while the container is coming up: never fatal under set -e.
                NSPAWN_LEADER=$(awk '{print $1}' "/proc/$NSPAWN_PID/task/$NSPAWN_PID/children" 2>/dev/null) || true
                if [ -n "$NSPAWN_LEADER" ]; then
                        state=$(nsenter -t "$NSPAWN_LEADER" -a systemctl is-system-running 2>/dev/null) || true
                        case "$state" in running | degraded) return 0 ;; esac
                fi
                sleep 0.2
        done
        echo "systemd container $name did not boot (state: ${state:-none})" >&2
        tail -n 20 "$T/nspawn-$name.log" >&2
        return 1
}

# in_nspawn COMMAND...: runs a command in the booted container, waiting in a shell so that
# nsenter never re-raises a crash.
in_nspawn() {
        nsenter -t "$NSPAWN_LEADER" -a -- /bin/sh -c '"$@"; rc=$?; exit $rc' sh "$@"
}

nspawn_stop() {
        [ -n "${NSPAWN_PID:-}" ] || return 0
        [ -n "${NSPAWN_LEADER:-}" ] && kill -RTMIN+4 "$NSPAWN_LEADER" 2>/dev/null
        for _ in $(seq 100); do
                kill -0 "$NSPAWN_PID" 2>/dev/null || break
                sleep 0.2
        done
        kill -KILL "$NSPAWN_PID" 2>/dev/null
        NSPAWN_PID=
        return 0
}
