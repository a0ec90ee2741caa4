#!/bin/bash
# Faults while a core is being stored: the store fills up mid-core, the receiver is killed
# mid-core, the container goes away mid-core. Nothing partial becomes visible, the crashed
# process is released at once, the logs say what happened, and the next crash is stored.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern

# 1. Out of space: a 2 MiB store, a core that compresses to about 8 MiB. By the rule of
#    core_pipe.conf(5) (KeepFree=) it is kept cut at its last whole frame, marked truncated, and
#    the next crash still finds room (the cut core, the oldest, makes way).
container_start full
ct_exec full /bin/sh -ec 'mkdir -p /var/lib/core_pipe; mount -t tmpfs -o size=2m,mode=0700 cores /var/lib/core_pipe'
start_receiver full --keep-free=0 --max-use=100%
R=$(ct_root full)
timed_crash full cpt-full-$$ --size 32
check "ENOSPC: the crashed process was released at once (${ELAPSED_MS} ms < 3000)" test "$ELAPSED_MS" -lt 3000
check "ENOSPC: the receiver kept the core cut and says why" \
        grep -q "core stored as /var/lib/core_pipe/core\.cpt-full-$$\..*truncated: out of space)" "$R/run/receiver.log"
check "ENOSPC: the host log says stored, truncated" \
        wait_for_log "comm=\"cpt-full-$$\" .*outcome=stored receiver=container .*truncated=yes"
check "ENOSPC: the cut core is a valid zstd stream" sh -c "zstd -q -t '$R'/var/lib/core_pipe/core.cpt-full-$$.*.zst"
timed_crash full cpt-next-$$ --size 0
check "ENOSPC: the next (small) crash is stored" wait_for_file "$R/var/lib/core_pipe/core.cpt-next-$$.*.json"

# 2. The receiver's child is SIGKILLed halfway through a 512 MiB core: no core is visible while it
#    is written, and what it wrote is finalised by the daemon, marked truncated ("receiver died";
#    tests/e2e/receiver-killed.sh holds the rest).
container_start kill
start_receiver kill
# On a tenth of a CPU the receiver takes seconds over the core: time to catch it in the middle.
ct_slow_receivers kill
R=$(ct_root kill)
# holds_core_pipe PID: the process holds the read end of a pipe (the core's). Over the kernel's
# socket (CORE_PIPE_TRANSPORT=socket) the core is a socket: a receiver other than the container's
# daemon (the oldest) holding one.
holds_core_pipe() {
        if [ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ]; then
                [ "$1" != "$(ct_receivers "${HOLDER_CT:-kill}" | head -n1)" ] || return 1
                # shellcheck disable=SC2010 # the names are descriptor numbers
                ls -l "/proc/$1/fd" 2>/dev/null | grep -q ' socket:'
                return
        fi
        # shellcheck disable=SC2010 # the names are descriptor numbers; ls -l shows each one's access mode
        ls -l "/proc/$1/fd" 2>/dev/null | grep -q '^lr-x.* pipe:'
}
# core_holder CONTAINER: the pid (host view) of the receiver process holding a core pipe.
core_holder() {
        local p i
        for ((i = 0; i < 300; i++)); do
                for p in $(ct_receivers "$1"); do
                        if holds_core_pipe "$p"; then
                                echo "$p"
                                return 0
                        fi
                done
                sleep 0.02
        done
        return 1
}
helper_running() {
        if [ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ]; then
                # The server's workers (socket_server_workers).
                socket_server_workers | grep -q .
                return
        fi
        pgrep -a -x core_pipe | grep -q "e=$1"
}
# helper_gone NAME: the helper of that crash exits within 10 s.
helper_gone() {
        for _ in $(seq 100); do
                helper_running "$1" || return 0
                sleep 0.1
        done
        pgrep -a -x core_pipe
        return 1
}

(timed_crash kill cpt-kill-$$ --size 512 &)
child=$(core_holder kill)
check "SIGKILL: found the receiver holding the core" test -n "$child"
# Once its first bytes are in the file (a receiver killed before that has no core to keep: the
# host log says receiver-died), freeze it, so that the kill lands mid-core however fast this
# machine stores 512 MiB.
check "SIGKILL: the receiver started storing the core" wait_for_file "$R/var/lib/core_pipe/.#partial.core.*.core" 20 -s
kill -STOP "$child" 2>/dev/null
visible_cores() {
        find "$1" -mindepth 1 -maxdepth 1 -name 'core.*' 2>/dev/null | wc -l
}
stopped_mid_core() {
        holds_core_pipe "$child" && test "$(visible_cores "$R/var/lib/core_pipe")" = 0
}
check "SIGKILL: the receiver was stopped mid-core (pipe held, no core visible yet)" stopped_mid_core
sleep 0.3
kill -KILL "$child" 2>/dev/null
for _ in $(seq 100); do helper_running "cpt-kill-$$" || break; sleep 0.1; done
check "SIGKILL: the daemon finalised what it wrote: a record, truncated, \"receiver died\"" \
        sh -c "sleep 0.1; for i in \$(seq 100); do grep -qs '\"truncated_reason\":\"receiver died\"' '$R'/var/lib/core_pipe/core.cpt-kill-$$.*.json && exit 0; sleep 0.1; done; exit 1"
check "SIGKILL: nothing left in progress" \
        test -z "$(find "$R/var/lib/core_pipe" -mindepth 1 -maxdepth 1 -name '.#partial.*' -print -quit)" ||
        ls -la "$R/var/lib/core_pipe" | sed 's/^/# /'
check "SIGKILL: the host log accounts for the crash" wait_for_log "comm=\"cpt-kill-$$\" .*origin=container"
timed_crash kill cpt-after-$$ --size 0
check "SIGKILL: the next crash is stored" wait_for_file "$R/var/lib/core_pipe/core.cpt-after-$$.*.json"

# 3. The container goes away (all its processes killed) during a 512 MiB core.
container_start gone
start_receiver gone
ct_slow_receivers gone
container_start other
start_receiver other
(timed_crash gone cpt-gone-$$ --size 512 &)
HOLDER_CT=gone
check "container gone: the core is flowing" core_holder gone
sleep 0.3
container_stop gone
check "container gone: the helper still logs the crash" wait_for_log "comm=\"cpt-gone-$$\" .*origin=container" 20
check "container gone: nothing went to the host's fallback" test ! -e "$T/hoststore"
timed_crash other cpt-other-$$ --size 0
check "container gone: a crash in another container is stored" \
        wait_for_file "$(ct_root other)/var/lib/core_pipe/core.cpt-other-$$.*.json"
check "container gone: the helper exits" helper_gone "cpt-gone-$$"
