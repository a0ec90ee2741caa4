#!/bin/bash
# The container's root is hostile: it shapes /run so that a careless helper (root, in the host's
# namespaces) would connect to a socket on the host, block on a FIFO, or talk to a receiver that
# is not the container root's. In each case nothing reaches the host's listener, and the crash is
# still handled, by the host fallback, within the helper's timeout.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

# A listener on the host, where a container must never reach. It logs every connection.
mkdir -p "$T/hostile"
HOSTLOG=$T/hostile.log
: >"$HOSTLOG"
"$BUILD/tests/evil-receiver" close "$T/hostile/core_pipe.socket" "$HOSTLOG" &
HOST_LISTENER=$!
trap 'kill $HOST_LISTENER 2>/dev/null; tap_cleanup' EXIT
wait_for_file "$T/hostile/core_pipe.socket" || exit 1

install_pattern "TimeoutSec=3s"

# case_checks LABEL NAME WHY-REGEX
case_checks() {
        local label=$1 name=$2 why=$3
        check "$label: handled by the host fallback, with the reason" \
                wait_for_log "comm=\"$name\" .*origin=container .*outcome=stored receiver=fallback .*why=\"$why"
        check "$label: core in the container's fallback directory" \
                wait_for_file "$T/hoststore/containers/pidns-*/core.$name.*.zst"
        check "$label: nothing connected to the host's listener" sh -c "! grep -q connection '$HOSTLOG'"
        check "$label: process released within the timeout (${ELAPSED_MS} ms < 3000)" test "$ELAPSED_MS" -lt 3000
}

# 1. The socket is a symlink to the host's socket (absolute: resolved from the host's root by
#    a naive open through /proc/<pid>/root).
container_start sym
ln -s "$T/hostile/core_pipe.socket" "$(ct_root sym)/run/core_pipe.socket"
timed_crash sym cpt-sym-$$
# O_PATH|O_NOFOLLOW opens the link itself, which is no socket.
case_checks "socket is a symlink to a host socket" cpt-sym-$$ "no receiver at /run/core_pipe.socket in its root: Socket operation on non-socket"

# 2. /run itself is a symlink to an absolute host path.
container_start runlink
ct_exec runlink /bin/sh -ec 'umount -l /run; rmdir /run; ln -s "$1" /run' sh "$T/hostile"
timed_crash runlink cpt-runl-$$
case_checks "/run is a symlink to a host path" cpt-runl-$$ "no receiver at /run/core_pipe.socket in its root: No such file or directory"

# 3. /run goes through a magic link: /proc/self/root, which for a helper walking from the
#    host's root is the host's root.
container_start magic
ct_exec magic /bin/sh -ec 'umount -l /run; rmdir /run; ln -s "/proc/self/root$1" /run' sh "$T/hostile"
timed_crash magic cpt-magic-$$
# Inside the container's root, its own /proc has no "self" for the helper, a process of
# another pid namespace.
case_checks "/run through /proc/self/root" cpt-magic-$$ "no receiver at /run/core_pipe.socket in its root: No such file or directory"

# 4. Another magic link: a container process holds a descriptor of a host directory (as leaked
#    descriptors have given containers before); /run points at it through its /proc/<pid>/fd.
container_start fdlink
(ct_exec fdlink /bin/sh -c 'echo $$ >/tmp/holder.pid; exec sleep 600' 7<"$T/hostile" &) 2>/dev/null
wait_for_file "$(ct_root fdlink)/tmp/holder.pid"
holder=$(cat "$(ct_root fdlink)/tmp/holder.pid")
ct_exec fdlink /bin/sh -ec 'umount -l /run; rmdir /run; ln -s "proc/$1/fd/7" /run' sh "$holder"
check "fd link: the link really reaches the host directory from inside" \
        test -S "$(ct_root fdlink)/proc/$holder/fd/7/core_pipe.socket"
timed_crash fdlink cpt-fdl-$$
case_checks "/run through /proc/<pid>/fd of a leaked host directory" cpt-fdl-$$ "no receiver at /run/core_pipe.socket in its root: Too many levels of symbolic links"

# 5. Not a socket: a FIFO (opening it for reading would block forever), a regular file, a
#    directory.
container_start notsock
for kind in fifo file dir; do
        R=$(ct_root notsock)
        rm -rf "$R/run/core_pipe.socket"
        case $kind in
        fifo) mkfifo "$R/run/core_pipe.socket" ;;
        file) echo hello >"$R/run/core_pipe.socket" ;;
        dir) mkdir "$R/run/core_pipe.socket" ;;
        esac
        timed_crash notsock cpt-$kind-$$
        case_checks "socket path is a $kind" cpt-$kind-$$ "no receiver at /run/core_pipe.socket in its root: Socket operation on non-socket"
done

# 6. A socket owned by an unprivileged user of the container: any user could have bound it.
container_start owner
EVIL=$(ct_root owner)/run/evil.log
ct_exec owner /bin/sh -c 'exec /build/tests/evil-receiver silent /run/core_pipe.socket /run/evil.log 1000 </dev/null >/dev/null 2>&1 &'
wait_for_file "$(ct_root owner)/run/core_pipe.socket"
timed_crash owner cpt-owner-$$
case_checks "socket owned by uid 1000 of the container" cpt-owner-$$ "no receiver at /run/core_pipe.socket in its root: socket not owned by the root of its user namespace"
check "socket owned by uid 1000: its listener got no connection" sh -c "! grep -q connection '$EVIL'"
