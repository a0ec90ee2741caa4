#!/bin/bash
# core_pipe-init as every container's init, configured as README.md's "Every container on a host"
# says: a dockerd with "init": true and "init-path" in daemon.json, podman with init = true and
# init_path in containers.conf. Images that were not built for core_pipe (scratch with a static
# app, busybox, musl, Debian) store their cores in the container that crashed; a crash that ends the
# container loses nothing; --read-only and --user 1000 run as under a plain init and the host's
# fallback takes the core; `stop` ends the container as fast as with tini (docker) and catatonit
# (podman); twenty containers crashing at once give twenty cores in twenty containers.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/engines.sh"
. "$(dirname "$0")/../lib/initslot.sh"
tap_init
require_root_kernel
engines_init
if [ ! -x "$INIT" ] || [ ! -x "$CRASHER_STATIC" ]; then
        skip_all "core_pipe-init is not built (-Dstatic_init)"
fi
[ -x "$CRASHER_MUSL" ] || skip_all "needs musl-tools (musl-gcc builds the musl image's app)"
[ -x /bin/busybox ] || skip_all "needs busybox-static"

install_pattern
initslot_stage

# eng_run with --init for podman: podman 4.3 (Debian 12) takes init_path from containers.conf but
# not init = true (seen here: its containers run without an init); docker's daemon.json does both.
eng_run_init() {
        case "$ENGINE" in
        podman-init) eng_run --init "$@" ;;
        *) eng_run "$@" ;;
        esac
}

# app_of KIND: the crashing program's path in that image.
app_of() {
        case "$1" in
        debian) echo "$CT_CRASHER_PATH" ;;
        *) echo /crasher ;;
        esac
}

# stored_in CT KIND COMM WHAT: the crash of COMM was stored in container CT (running or not).
stored_in() {
        local ct=$1 kind=$2 comm=$3 what=$4 out=$T/out-$ENGINE-$2-$3 crasher=$CRASHER
        wait_for_log "comm=\"$comm\" " 10 2>/dev/null
        store_out "$ct" "$out"
        case "$kind" in
        scratch | busybox) crasher=$CRASHER_STATIC ;;
        musl) crasher=$CRASHER_MUSL ;;
        esac
        CRASHER=$crasher CT_APP_PATH=$(app_of "$kind") check_stored "$out" "$comm" "$what"
}

# The app is the container's command and crashes at once: its exit ends the container.
crash_ends() {
        local img=$1 kind=$2 comm=e$2-$$ ct=cpt-ie-$2-$$ rc=0
        comm=${comm:0:15}
        eng_run_init --name "$ct" "$img" "$(app_of "$kind")" --name "$comm" >/dev/null 2>&1 || rc=$?
        check "$ENGINE $kind: a crash that ends the container: exit status 139" test "$rc" = 139
        stored_in "$ct" "$kind" "$comm" "$ENGINE $kind, crash ends the container"
        check "$ENGINE $kind: the app was pid 1's child" test "$(json_field "$JSON" ppid 2>/dev/null)" = 1
        check "$ENGINE $kind: the init said nothing but what it stored" test "$(init_lines "$ct")" = 0
        eng_rm "$ct"
}

# The container goes on; a program run in it crashes; then `stop` ends it.
crash_running() {
        local img=$1 kind=$2 comm=r$2-$$ ct=cpt-ir-$2-$$
        comm=${comm:0:15}
        check "$ENGINE $kind: container up" eng_run_init -d --name "$ct" "$img" sleep 1000
        check "$ENGINE $kind: the receiver listens" wait_in_ct "$ct" /run/core_pipe.socket
        check "$ENGINE $kind: pid 1 is core_pipe-init, started as INIT -- CMD ARGS" \
                test "$(eng exec "$ct" cat /proc/1/cmdline | tr '\0' ' ')" = "$INIT_PATH_IN_CT -- sleep 1000 "
        check "$ENGINE $kind: the engine mounted the build's core_pipe-init there" \
                test "$(eng exec "$ct" sha256sum "$INIT_PATH_IN_CT" | cut -d' ' -f1)" = "$(sha256sum <"$INIT" | cut -d' ' -f1)"
        eng exec "$ct" "$(app_of "$kind")" --name "$comm" >/dev/null 2>&1
        stored_in "$ct" "$kind" "$comm" "$ENGINE $kind, running container"
        eng stop "$ct" >/dev/null 2>&1
        check "$ENGINE $kind: stop: the command's status, 143 (SIGTERM)" \
                test "$(eng inspect -f '{{.State.ExitCode}}' "$ct")" = 143
        eng_rm "$ct"
}

# plain_init IMG WHAT REASON RUN-OPTIONS...: the container runs with its init as a plain init,
# which says REASON once; the crash goes to the host's fallback.
plain_init() {
        local img=$1 what=$2 reason=$3 comm=p$RANDOM-$$ ct=cpt-ip-$$ rc=0
        shift 3
        comm=${comm:0:15}
        eng_run_init --name "$ct" "$@" "$img" /crasher --name "$comm" >/dev/null 2>&1 || rc=$?
        check "$ENGINE $what: the container ran, exit status 139" test "$rc" = 139
        check "$ENGINE $what: host log: the host's fallback stored it" \
                wait_for_log "comm=\"$comm\" .*origin=container .*outcome=stored receiver=fallback"
        check "$ENGINE $what: one line from the init, the reason" init_said "$ct" "$reason"
        diag "$ENGINE $what: $(eng logs "$ct" 2>&1 | grep '^core_pipe-init:')"
        eng_rm "$ct"
}

# init_said CONTAINER TEXT: the init wrote one line to the container's log, and it has TEXT.
init_said() {
        local lines
        lines=$(eng logs "$1" 2>&1 | grep '^core_pipe-init:')
        echo "$lines"
        [ "$(printf '%s\n' "$lines" | wc -l)" = 1 ] && printf '%s\n' "$lines" | grep -qF -- "$2"
}

# stop_ms IMG RUN-OPTIONS...: the median of 3 `stop`s of a container running sleep (ms).
stop_ms() {
        local img=$1 i t0 ct ms=()
        shift
        for i in 1 2 3; do
                ct=cpt-is$i-$$
                eng_run_init -d --name "$ct" "$@" "$img" sleep 1000 >/dev/null 2>&1
                wait_in_ct "$ct" /bin/sleep >/dev/null 2>&1
                t0=$(date +%s%N)
                eng stop "$ct" >/dev/null 2>&1
                ms+=($((($(date +%s%N) - t0) / 1000000)))
                eng_rm "$ct"
        done
        printf '%s\n' "${ms[@]}" | sort -n | sed -n 2p
}

# Twenty containers started at once whose app crashes at once: twenty cores in twenty containers.
storm() {
        local img=$1 i n=0 good=0 out
        for i in $(seq 20); do
                eng_run_init --name "cpt-iw$i-$$" "$img" /crasher --name "w$i-$$" >/dev/null 2>&1 &
        done
        wait
        for i in $(seq 20); do
                wait_for_log "comm=\"w$i-$$\" .*outcome=stored receiver=container" 10 2>/dev/null
                out=$T/storm-$ENGINE-$i
                store_out "cpt-iw$i-$$" "$out"
                [ -n "$(one_record "$out" "w$i-$$")" ] && n=$((n + 1))
                CRASHER=$CRASHER_STATIC shows_crash_here "$(one_record "$out" "w$i-$$" | sed 's/\.json$/.zst/')" &&
                        good=$((good + 1))
                eng_rm "cpt-iw$i-$$"
        done
        check "$ENGINE storm: twenty records, each in its own container ($n)" test "$n" = 20
        check "$ENGINE storm: twenty cores show crash_here ($good)" test "$good" = 20
}

PLAIN=0
for e in docker-init podman-init; do
        engine_setup "$e" || { check "$e: engine usable" false; continue; }
        case "$e" in
        docker-init)
                INIT_PATH_IN_CT=/sbin/docker-init
                ;;
        podman-init)
                INIT_PATH_IN_CT=/run/podman-init
                ;;
        esac
        if ! SCRATCH=$(initslot_image scratch) || ! BUSYBOX=$(initslot_image busybox) || ! MUSL=$(initslot_image musl) ||
                ! DEBIAN=$(engine_image receiver "${ROOTFS_RECEIVER_PACKAGES[@]}"); then
                check "$e: images" false
                continue
        fi
        crash_ends "$SCRATCH" scratch
        crash_ends "$BUSYBOX" busybox
        crash_ends "$DEBIAN" debian
        crash_ends "$MUSL" musl
        crash_running "$BUSYBOX" busybox
        crash_running "$DEBIAN" debian
        plain_init "$BUSYBOX" "--read-only" "Read-only file system" --read-only
        plain_init "$BUSYBOX" "--user 1000" "runs as uid 1000, not as the container's root" --user 1000
        storm "$BUSYBOX"
        PLAIN=$((PLAIN + 2))
        check "$e: the host store holds the plain init's cores ($PLAIN) and no other" \
                test "$(find "$T/hoststore" -type f -name 'core.*.zst' | wc -l)" = "$PLAIN"
done

# `stop` against the engines' own inits (tini for docker, catatonit for podman), same image.
for pair in docker:docker-init podman:podman-init; do
        ref=${pair%%:*}
        ours=${pair##*:}
        engine_setup "$ref" || { check "$ref: engine usable" false; continue; }
        img=$(ENGINE=$ref initslot_image busybox) || { check "$ref: image" false; continue; }
        ref_ms=$(ENGINE=$ref stop_ms "$img" --init)
        ENGINE=$ours
        img=$(initslot_image busybox)
        our_ms=$(stop_ms "$img")
        diag "stop, median of 3: $ref --init $ref_ms ms, core_pipe-init $our_ms ms"
        check "$ours: stop as fast as $ref --init (within 200 ms: $our_ms vs $ref_ms ms)" \
                test "$our_ms" -le "$((ref_ms + 200))"
done
