#!/bin/bash
# A crash that ends its container: the crashed process is the container's pid 1, or a child of a
# pid 1 that exits with it (tini, catatonit, a shell wrapper). Once the process is released, its
# end ends the pid namespace and the kernel kills every process in it, the receiver too. No core
# may be lost that way, and the host log must say where it went: the receiver holds the crashed
# process until the core and its record are durable and the outcome is sent (resident receiver),
# or is itself the container's init (--init) and outlives the crash. Each set-up runs several
# times, since a lost core is a race.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern
# CONTAINER_END_RUNS, CONTAINER_END_SETUPS and END_RECEIVER_ARGS (e.g. --release=read, to see the
# cores lost without the hold) narrow or vary the test by hand.
RUNS=${CONTAINER_END_RUNS:-4}
CATATONIT=$(command -v catatonit || echo /usr/libexec/podman/catatonit)

# one_run SETUP N INIT...: a container whose init is INIT (NAME in it: the crasher's name, which the
# kernel cuts to 15 bytes), its store on a host directory; a resident receiver unless the set-up
# is --init. Checks the core, its record and the host log line.
one_run() {
        case " ${CONTAINER_END_SETUPS:-pid1 shell tini catatonit init-mode} " in *" $1 "*) ;; *) return 0 ;; esac
        local setup=$1 n=$2 name=ce-${1:0:6}-$2 var=$T/var-$1-$2 pid
        shift 2
        mkdir -p "$var"
        local init=${*//NAME/$name}
        CT_VAR=$var CT_INIT="$init" container_start "end$n" || return 1
        if [ "$setup" != init-mode ]; then
                local extra
                read -ra extra <<<"${END_RECEIVER_ARGS:-}"
                start_receiver "end$n" "${extra[@]}" || return 1
                touch "$(ct_root "end$n")/run/go"
        fi
        pid=$(ct_pid "end$n")
        check "$setup #$n: core and record stored in the container" \
                wait_for_file "$var/lib/core_pipe/core.$name.*.json" 30
        local json
        json=$(ls "$var"/lib/core_pipe/core."$name".*.json 2>/dev/null | head -n1)
        check "$setup #$n: the core is whole" \
                sh -c "[ \"\$(zstd -q -d -c '${json%.json}.zst' | wc -c)\" = '$(json_field "$json" core_size 2>/dev/null)' ]" &&
                check "$setup #$n: gdb shows crash_here" shows_crash_here "${json%.json}.zst"
        check "$setup #$n: host log says stored by the container" \
                wait_for_log "comm=\"$name\" .*origin=container .*outcome=stored receiver=container file=\"core\\.$name\\." 30
        for _ in $(seq 100); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
        check "$setup #$n: the container ended with the crash" test ! -e "/proc/$pid"
        container_stop "end$n"
}

CRASH="/build/tests/crasher --name NAME --size 16 --wait-for /run/go"
# AddressSanitizer lowers a program's RLIMIT_CORE to 0 at start, which --init would pass on.
INIT_ENV="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}disable_coredump=0"
for n in $(seq "$RUNS"); do
        one_run pid1 "$n" "$CRASH"
        one_run shell "$n" "/bin/sh -c '$CRASH; exit \$?'"
        one_run tini "$n" "/usr/bin/tini -s -- $CRASH"
        one_run catatonit "$n" "$CATATONIT -- $CRASH"
        # The receiver is the init: it listens before it runs the app, which crashes at once.
        one_run init-mode "$n" "$INIT_ENV /build/receiver/core_pipe-receiver --init -- /build/tests/crasher --name NAME --size 16"
done
check "nothing went to the host's fallback store" test -z "$(find "$T/hoststore" -name 'core.*' 2>/dev/null)"
