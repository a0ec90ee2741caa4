# shellcheck shell=bash
# Real container engines for the engine-* tests: docker (Debian's docker.io, /usr/bin/docker) and
# podman (rootful and rootless), with images imported from the cached Debian roots of rootfs.sh
# (no registry is reachable). Sourced after lib.sh; engines_init after tap_init.
#
# What containers need from the build (the receiver, the crasher, the entrypoint script) is
# staged in $T/stage, a world-readable copy: the checkout itself may be a directory other users
# cannot enter (root's 0700 home, a mktemp -d), which a rootless engine's ids cannot reach.
#
# Every engine command runs with the core_pattern lock closed (without_pattern_lock): the
# daemons and shims an engine starts outlive the test and must never keep the lock.

DOCKER=/usr/bin/docker
# The test's own dockerd, if none listens there: its own socket, data and exec roots, no bridge
# and no iptables rules (the tests need no network; the host's firewall stays as it was).
ENGINE_DOCKER_SOCK=${CORE_PIPE_DOCKER_SOCK:-/run/core_pipe-tests-docker.sock}
ENGINE_DOCKER_ROOT=/var/lib/core_pipe-tests-docker
# The unprivileged user that runs rootless podman (created on first use, with subordinate ids).
ENGINE_ROOTLESS_USER=cpt-rootless
# The paths the engines bind the staged files at, inside every test container.
CT_RECEIVER_PATH=/usr/libexec/core_pipe-receiver
CT_CRASHER_PATH=/usr/local/bin/crasher

# without_pattern_lock COMMAND...: runs COMMAND without the descriptor of the core_pattern lock.
without_pattern_lock() {
        if [ -n "${PATTERN_LOCK_FD:-}" ]; then
                "$@" {PATTERN_LOCK_FD}>&-
        else
                "$@"
        fi
}

# engines_init: stages the files containers need, and removes the test's containers, volumes
# and the rootless user's containers on exit (before tap_cleanup restores the kernel settings).
engines_init() {
        ENGINE_TAG=cpt$$
        STAGE=$T/stage
        mkdir -p "$STAGE"
        chmod 0755 "$STAGE"
        # mktemp -d made $T 0700: others may pass through it (not list it) to reach the stage.
        chmod o+x "$T"
        install -m 0755 "$RECEIVER" "$STAGE/core_pipe-receiver"
        install -m 0755 "$CRASHER" "$STAGE/crasher"
        # The entrypoint of an image without systemd, as README.md gives it.
        printf '%s\n' '#!/bin/sh' \
                '# The resident receiver forks once its socket listens: the app may crash at once.' \
                '/usr/libexec/core_pipe-receiver --listen --background || exit' \
                'exec "$@"' >"$STAGE/entrypoint.sh"
        chmod 0755 "$STAGE/entrypoint.sh"
        # podman: runc (crun rejects this VM's hybrid cgroups), cgroupfs (no systemd as pid 1),
        # events in a file (no journald needed).
        printf '%s\n' '[engine]' 'runtime = "runc"' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"' \
                >"$STAGE/containers.conf"
        chmod 0644 "$STAGE/containers.conf"
        # shellcheck disable=SC2154 # rc is assigned by the trap itself
        trap 'rc=$?; engines_cleanup; (exit $rc); tap_cleanup' EXIT
}

engines_cleanup() {
        local e ids
        for e in ${ENGINES_USED:-}; do
                ids=$(ENGINE=$e eng ps -aq --filter "label=core_pipe.test=$ENGINE_TAG" 2>/dev/null)
                # shellcheck disable=SC2086 # one id a word
                [ -z "$ids" ] || ENGINE=$e eng_rm $ids
                ids=$(ENGINE=$e eng volume ls -q --filter "label=core_pipe.test=$ENGINE_TAG" 2>/dev/null)
                # shellcheck disable=SC2086
                [ -z "$ids" ] || ENGINE=$e eng volume rm -f $ids >/dev/null 2>&1
        done
        return 0
}

# eng ARGS...: the engine's command line ($ENGINE: docker, podman, podman-rootless).
eng() {
        case "$ENGINE" in
        docker) DOCKER_HOST=unix://$ENGINE_DOCKER_SOCK without_pattern_lock "$DOCKER" "$@" ;;
        # core_pipe-init as every container's init (tests/lib/initslot.sh).
        docker-init) DOCKER_HOST=unix://$ENGINE_DOCKER_INIT_SOCK without_pattern_lock "$DOCKER" "$@" ;;
        podman-init) CONTAINERS_CONF=$STAGE/containers-init.conf without_pattern_lock podman "$@" ;;
        podman) CONTAINERS_CONF=$STAGE/containers.conf without_pattern_lock podman "$@" ;;
        podman-rootless)
                # From a directory the user may enter; a login-like environment of its own.
                (cd / && without_pattern_lock runuser -u "$ENGINE_ROOTLESS_USER" -- env -i \
                        PATH=/usr/local/bin:/usr/bin:/bin HOME="$ROOTLESS_HOME" USER="$ENGINE_ROOTLESS_USER" \
                        XDG_RUNTIME_DIR="$ROOTLESS_RUNTIME_DIR" CONTAINERS_CONF="$STAGE/containers.conf" \
                        podman "$@")
                ;;
        *)
                echo "eng: unknown engine '$ENGINE'" >&2
                return 2
                ;;
        esac
}

# engine_setup ENGINE: makes the engine usable (starts dockerd, creates the rootless user) and
# sets ENGINE. Returns non-zero, saying why, when it cannot.
engine_setup() {
        ENGINE=$1
        ENGINES_USED="${ENGINES_USED:-} $1"
        case "$1" in
        docker) docker_ensure ;;
        podman) command -v podman >/dev/null || { echo "podman is not installed" >&2; return 1; } ;;
        podman-rootless) rootless_ensure ;;
        docker-init) docker_init_ensure ;;
        podman-init) podman_init_ensure ;;
        esac
}

# dockerd_up SOCK: whether a dockerd answers on SOCK.
dockerd_up() {
        DOCKER_HOST=unix://$1 "$DOCKER" version >/dev/null 2>&1
}

# dockerd_start LOCKFD ROOT SOCK [OPTION...]: a dockerd with its state under ROOT, answering on
# SOCK, in its own session (setsid -f forks it off: no shell of ours waits for it) and with no
# descriptor of ours but its log (the caller's lock LOCKFD closed too): it outlives the test.
# Waits up to 30 s for it to answer, else says so with the end of its log.
dockerd_start() {
        local lockfd=$1 root=$2 sock=$3 i
        shift 3
        mkdir -p "$root"
        without_pattern_lock setsid -f dockerd "$@" --host "unix://$sock" --data-root "$root/data" \
                --exec-root "$root/exec" --pidfile "$root/dockerd.pid" --bridge=none --iptables=false \
                --ip6tables=false </dev/null >>"$root/dockerd.log" 2>&1 {lockfd}>&-
        for ((i = 0; i < 300; i++)); do
                dockerd_up "$sock" && return 0
                sleep 0.1
        done
        echo "dockerd did not answer on $sock within 30 s; $root/dockerd.log:" >&2
        tail -n 10 "$root/dockerd.log" >&2
        return 1
}

# docker_ensure: a dockerd on $ENGINE_DOCKER_SOCK, started if none answers; it stays up for the
# next test of the run (and the next run). Concurrent callers start one.
docker_ensure() {
        local lock rc
        if [ ! -x "$DOCKER" ] || ! command -v dockerd >/dev/null; then
                echo "needs docker.io (dockerd, $DOCKER)" >&2
                return 1
        fi
        DOCKER_HOST=unix://$ENGINE_DOCKER_SOCK "$DOCKER" version >/dev/null 2>&1 && return 0
        exec {lock}>>/run/core_pipe-tests-docker.lock
        flock -w 120 "$lock" || { exec {lock}>&-; echo "/run/core_pipe-tests-docker.lock: held for 2 minutes" >&2; return 1; }
        dockerd_up "$ENGINE_DOCKER_SOCK" || dockerd_start "$lock" "$ENGINE_DOCKER_ROOT" "$ENGINE_DOCKER_SOCK"
        rc=$?
        exec {lock}>&-
        return "$rc"
}

# rootless_ensure: the unprivileged user of rootless podman, with 65536 subordinate uids and
# gids, and its runtime directory. Idempotent.
rootless_ensure() {
        local u=$ENGINE_ROOTLESS_USER uid
        if ! command -v podman >/dev/null || ! command -v newuidmap >/dev/null; then
                echo "needs podman and uidmap (newuidmap)" >&2
                return 1
        fi
        id "$u" >/dev/null 2>&1 || useradd --system --create-home --home-dir "/var/lib/$u" --shell /usr/sbin/nologin "$u" || return 1
        grep -q "^$u:" /etc/subuid || echo "$u:300000:65536" >>/etc/subuid
        grep -q "^$u:" /etc/subgid || echo "$u:300000:65536" >>/etc/subgid
        uid=$(id -u "$u")
        # shellcheck disable=SC2034 # read by the tests
        ROOTLESS_UID=$uid
        ROOTLESS_HOME=$(getent passwd "$u" | cut -d: -f6)
        ROOTLESS_RUNTIME_DIR=/run/user/$uid
        mkdir -p "$ROOTLESS_RUNTIME_DIR"
        chown "$u:" "$ROOTLESS_RUNTIME_DIR"
        chmod 0700 "$ROOTLESS_RUNTIME_DIR"
}

# engine_image NAME [PACKAGE...]: prints the tag of an image made from rootfs_get NAME PACKAGE...,
# importing it into $ENGINE first unless an image of the same root (same key) is there.
engine_image() {
        local name=$1 root key tag lock
        shift
        root=$(rootfs_get "$name" "$@") || return 1
        key=${root##*-}
        tag=localhost/core_pipe-test-$name:$key
        eng image inspect "$tag" >/dev/null 2>&1 && { echo "$tag"; return 0; }
        exec {lock}>>/run/core_pipe-tests-images.lock
        flock -w 300 "$lock" || { exec {lock}>&-; return 1; }
        if ! eng image inspect "$tag" >/dev/null 2>&1; then
                # The rootless user cannot read the root (0700 directories in it): root streams it.
                if ! tar -C "$root" -c . | eng import - "$tag" >"$T/import-$name.log" 2>&1; then
                        cat "$T/import-$name.log" >&2
                        exec {lock}>&-
                        return 1
                fi
        fi
        exec {lock}>&-
        echo "$tag"
}

# eng_rm CONTAINER...: removes containers at once (podman would first wait 10 s for SIGTERM).
eng_rm() {
        case "$ENGINE" in
        docker | docker-init) eng rm -f "$@" >/dev/null 2>&1 ;;
        *) eng rm -f -t 0 "$@" >/dev/null 2>&1 ;;
        esac
        return 0
}

# eng_run_opts: the options every test container gets: its label (for the clean-up), no network,
# cores allowed (engines started from a shell pass on a soft RLIMIT_CORE of 0; $CT_ULIMIT_CORE
# overrides), and the staged receiver and crasher, read-only.
eng_run_opts() {
        RUN_OPTS=(--label "core_pipe.test=$ENGINE_TAG" --network none --ulimit "core=${CT_ULIMIT_CORE:--1}"
                -v "$STAGE/core_pipe-receiver:$CT_RECEIVER_PATH:ro" -v "$STAGE/crasher:$CT_CRASHER_PATH:ro"
                -v "$STAGE/entrypoint.sh:/entrypoint.sh:ro")
        # podman: any --ulimit makes it raise nofile/nproc to values this VM's limits refuse.
        case "$ENGINE" in
        podman*) RUN_OPTS+=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096) ;;
        esac
        return 0
}

# eng_run ARGS...: `run` with eng_run_opts before ARGS.
eng_run() {
        eng_run_opts
        eng run "${RUN_OPTS[@]}" "$@"
}

# wait_in_ct CONTAINER PATH [SECONDS]: waits until PATH exists in the running container.
wait_in_ct() {
        local end=$((SECONDS + ${3:-10}))
        # Bounded by the clock: each try is an `exec`, which takes a while itself.
        while [ "$SECONDS" -le "$end" ]; do
                eng exec "$1" test -e "$2" 2>/dev/null && return 0
                sleep 0.1
        done
        echo "$2 did not appear in container $1" >&2
        return 1
}

# store_dir NAME: a host directory for a container's store (bind-mounted at /var/lib/core_pipe).
store_dir() {
        local d=$T/store-$1
        mkdir -p "$d"
        [ "$ENGINE" != podman-rootless ] || chown "$ENGINE_ROOTLESS_USER:" "$d"
        echo "$d"
}

# copy_out CONTAINER COMM DIR: waits (bounded) for the record of COMM in the running container's
# /var/lib/core_pipe, then copies COMM's files from there into DIR with `exec cat`.
copy_out() {
        local ct=$1 comm=$2 dir=$3 f end=$((SECONDS + 10))
        mkdir -p "$dir"
        while [ "$SECONDS" -le "$end" ]; do
                eng exec "$ct" sh -c "ls /var/lib/core_pipe/core.$comm.*.json" >/dev/null 2>&1 && break
                sleep 0.1
        done
        for f in $(eng exec "$ct" ls /var/lib/core_pipe/ 2>/dev/null | grep -F "core.$comm."); do
                eng exec "$ct" cat "/var/lib/core_pipe/$f" >"$dir/$f"
        done
}

# wait_systemd CONTAINER: waits (bounded) until the container's systemd has booted.
wait_systemd() {
        local state=
        for _ in $(seq 300); do
                state=$(eng exec "$1" systemctl is-system-running 2>/dev/null) || true
                case "$state" in running | degraded) return 0 ;; esac
                sleep 0.2
        done
        echo "systemd did not boot in $1 (state: ${state:-none})" >&2
        eng logs "$1" 2>&1 | tail -n 20 >&2
        return 1
}

# one_record DIR COMM: the path of the first JSON record of COMM in DIR (empty if none).
one_record() {
        find "$1" -maxdepth 1 -name "core.$2.*.json" 2>/dev/null | sort | head -n1
}

# record_has_file JSON PATH: the record's mapped files include PATH.
record_has_file() {
        python3 -c 'import json,sys; sys.exit(0 if sys.argv[2] in json.load(open(sys.argv[1])).get("mapped_files", []) else 1)' "$1" "$2"
}

# container_field JSON FIELD: a field of the record's "container" object (empty if none).
container_field() {
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("container", {}).get(sys.argv[2], ""))' "$1" "$2"
}

# check_stored DIR COMM WHAT: the checks every stored crash passes: the record and core are in
# DIR (waiting for them), gdb shows crash_here, the record has the executable and the mapped
# files (from /proc or the core's notes), and the host's log says the container's receiver
# stored it. Sets JSON to the record. $CT_APP_PATH: the program's path in the container, if it
# is not the crasher's.
check_stored() {
        local dir=$1 comm=$2 what=$3
        # The helper logs each crash once, after the receiver's report (or its failure): the
        # line is the event to wait for; the files are there by then if they ever will be.
        wait_for_log "comm=\"$comm\" " 10 2>/dev/null
        check "$what: core stored in the container" wait_for_file "$dir/core.$comm.*.json" 5
        JSON=$(one_record "$dir" "$comm")
        if [ -z "$JSON" ]; then
                JSON=$dir/missing.json
                host_log | grep -F "comm=\"$comm\"" | sed "s/^/# $what: host log: /"
        fi
        check "$what: the whole core (not truncated)" test "$(json_field "$JSON" truncated 2>/dev/null)" = false
        check "$what: gdb finds crash_here" shows_crash_here "${JSON%.json}.zst"
        check "$what: record names the executable" test "$(json_field "$JSON" exe 2>/dev/null)" = "${CT_APP_PATH:-$CT_CRASHER_PATH}"
        check "$what: record lists the mapped files" record_has_file "$JSON" "${CT_APP_PATH:-$CT_CRASHER_PATH}"
        check "$what: host log: stored by the container's receiver" \
                wait_for_log "comm=\"$comm\" .*outcome=stored receiver=container" 1
}

# host_log_from_now: host_log shows only the lines logged from now on (for crashes of programs
# with the same name in one test).
# shellcheck disable=SC2034 # read by host_log (lib.sh)
host_log_from_now() {
        TEST_START=$(date +%s)
        TEST_START_UPTIME=$(cut -d' ' -f1 /proc/uptime)
}

# no_host_cores: the host's fallback store holds no core.
no_host_cores() {
        local n
        n=$(find "$T/hoststore" -type f -name 'core.*' 2>/dev/null | wc -l)
        [ "$n" = 0 ] || { echo "$n cores in the host store:" >&2; find "$T/hoststore" -type f >&2; return 1; }
}

# ---- the deployments every engine must cover ------------------------------------------------
# Each takes the image; names of crashed programs are short (the kernel keeps 15 bytes of comm)
# and unique to the test. Stores are host directories bind-mounted at the receiver's default
# /var/lib/core_pipe (a named volume for --rm, tmpfs for the read-only root).

# A resident receiver started by the entrypoint script; a program the container runs later
# (`exec`) crashes while the container goes on.
scenario_resident() {
        local img=$1 comm=res-$$ st ct=cpt-res-$$
        st=$(store_dir res)
        check "resident: container up" eng_run -d --name "$ct" -v "$st:/var/lib/core_pipe" \
                --entrypoint /entrypoint.sh "$img" sleep infinity
        check "resident: receiver listening" wait_in_ct "$ct" /run/core_pipe.socket
        eng exec "$ct" "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1
        check_stored "$st" "$comm" resident
        check "resident: identity: runtime ${ENGINE%-rootless}" test "$(container_field "$JSON" runtime)" = "${ENGINE%-rootless}"
        check "resident: identity: the container's id" \
                test "$(container_field "$JSON" id)" = "$(eng inspect -f '{{.Id}}' "$ct" 2>/dev/null)"
        diag "resident: cgroup of the crashed process: $(json_field "$JSON" cgroup 2>/dev/null | tr "\n" " ")"
        eng_rm "$ct"
}

# The app is pid 1 (the entrypoint script execs it) and crashes at once: its exit ends the
# container and the kernel kills the receiver.
scenario_pid1() {
        local img=$1 comm=pid1-$$ st rc=0
        st=$(store_dir pid1)
        eng_run --rm -v "$st:/var/lib/core_pipe" --entrypoint /entrypoint.sh "$img" \
                "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1 || rc=$?
        check "pid 1: exit status 139 (SIGSEGV)" test "$rc" = 139
        check_stored "$st" "$comm" "pid 1"
        check "pid 1: record: pid 1" test "$(json_field "$JSON" pid 2>/dev/null)" = 1
}

# Init mode: the receiver is pid 1 and runs the app as its child.
scenario_init_mode() {
        local img=$1 comm=init-$$ st rc=0
        st=$(store_dir init)
        eng_run --rm -v "$st:/var/lib/core_pipe" --entrypoint "$CT_RECEIVER_PATH" "$img" \
                --init -- "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1 || rc=$?
        check "init mode: exits with the app's status, 139" test "$rc" = 139
        check_stored "$st" "$comm" "init mode"
        check "init mode: record: the app is the receiver's child" test "$(json_field "$JSON" ppid 2>/dev/null)" = 1
}

# The engine's own init (--init: tini for docker, catatonit for podman) is pid 1; the resident
# receiver and the app are its children.
scenario_engine_init() {
        local img=$1 comm=tini-$$ st rc=0
        st=$(store_dir tini)
        eng_run --rm --init -v "$st:/var/lib/core_pipe" --entrypoint /entrypoint.sh "$img" \
                "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1 || rc=$?
        check "engine --init: exit status 139" test "$rc" = 139
        check_stored "$st" "$comm" "engine --init"
        check "engine --init: record: the app is a child of pid 1" test "$(json_field "$JSON" ppid 2>/dev/null)" = 1
}

# A shell is pid 1 and runs the app as a child (no exec), then exits with it.
scenario_shell() {
        local img=$1 comm=sh-$$ st rc=0
        st=$(store_dir sh)
        eng_run --rm -v "$st:/var/lib/core_pipe" --entrypoint /bin/sh "$img" -c \
                "$CT_RECEIVER_PATH --listen --background; sleep 1; $CT_CRASHER_PATH --name $comm; exit \$?" \
                >/dev/null 2>&1 || rc=$?
        check "shell wrapper: exit status 139" test "$rc" = 139
        check_stored "$st" "$comm" "shell wrapper"
        check "shell wrapper: record: the app is the shell's child" test "$(json_field "$JSON" ppid 2>/dev/null)" = 1
}

# --rm with a named volume as the store: the core outlives the container.
scenario_rm_volume() {
        local img=$1 comm=vol-$$ vol=cpt-vol-$$ mp rc=0
        check "--rm: volume created" eng volume create --label "core_pipe.test=$ENGINE_TAG" "$vol"
        eng_run --rm --name "cpt-vol-$$" -v "$vol:/var/lib/core_pipe" --entrypoint "$CT_RECEIVER_PATH" "$img" \
                --init -- "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1 || rc=$?
        check "--rm: exit status 139" test "$rc" = 139
        check "--rm: the container is gone" test -z "$(eng ps -aq --filter "name=cpt-vol-$$")"
        mp=$(eng volume inspect -f '{{.Mountpoint}}' "$vol" 2>/dev/null)
        diag "--rm: volume at $mp"
        check_stored "${mp:-$T/no-volume}" "$comm" "--rm with a volume"
}

# The documented recipe for a non-root app: the container starts as root, the receiver stays
# root (it owns the socket and the store) and runs the app as the user.
scenario_non_root() {
        local img=$1 comm=user-$$ st rc=0
        st=$(store_dir user)
        eng_run --rm -v "$st:/var/lib/core_pipe" --entrypoint "$CT_RECEIVER_PATH" "$img" \
                --init --user=nobody -- "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1 || rc=$?
        check "non-root app: exit status 139" test "$rc" = 139
        check_stored "$st" "$comm" "non-root app"
        check "non-root app: record: uid/gid 65534 (nobody)" \
                test "$(json_field "$JSON" uid 2>/dev/null)/$(json_field "$JSON" gid 2>/dev/null)" = 65534/65534
}

# A read-only root with tmpfs for /run and the store; the core is read back with `exec cat`.
scenario_read_only() {
        local img=$1 comm=ro-$$ ct=cpt-ro-$$ out=$T/store-ro
        mkdir -p "$out"
        check "read-only root: container up" eng_run -d --name "$ct" --read-only --tmpfs /run \
                --tmpfs /var/lib/core_pipe --entrypoint /entrypoint.sh "$img" sleep infinity
        check "read-only root: receiver listening" wait_in_ct "$ct" /run/core_pipe.socket
        check "read-only root: the root is read-only" fails eng exec "$ct" touch /x
        eng exec "$ct" "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1
        copy_out "$ct" "$comm" "$out"
        check_stored "$out" "$comm" "read-only root"
        eng_rm "$ct"
}

# --ulimit core=0: nothing is stored, and the host's log says so.
scenario_ulimit_zero() {
        local img=$1 comm=ul0-$$ st rc=0
        st=$(store_dir ul0)
        CT_ULIMIT_CORE=0 eng_run --rm -v "$st:/var/lib/core_pipe" --entrypoint "$CT_RECEIVER_PATH" "$img" \
                --init -- "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1 || rc=$?
        check "core=0: exit status 139" test "$rc" = 139
        check "core=0: host log: skipped" wait_for_log "comm=\"$comm\" .*outcome=skipped"
        check "core=0: nothing stored in the container" test -z "$(one_record "$st" "$comm")"
        check "core=0: nothing stored on the host" no_host_cores
}

# Twenty containers in a row whose app crashes as soon as it starts (half in init mode, half
# behind the resident receiver of the entrypoint script): every core in its container. Each
# crash's host log line is looked for at once (the kernel's log is a ring that other tests share).
scenario_storm() {
        local img=$1 st i n ok=0 logged=0 comm
        st=$(store_dir storm)
        for i in $(seq 20); do
                comm=st$i-$$
                if [ $((i % 2)) = 0 ]; then
                        eng_run --rm -v "$st:/var/lib/core_pipe" --entrypoint "$CT_RECEIVER_PATH" "$img" \
                                --init -- "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1
                else
                        eng_run --rm -v "$st:/var/lib/core_pipe" --entrypoint /entrypoint.sh "$img" \
                                "$CT_CRASHER_PATH" --name "$comm" >/dev/null 2>&1
                fi
                [ $? = 139 ] && ok=$((ok + 1))
                # Once two crashes went unlogged, the rest are not waited for as long.
                wait_for_log "comm=\"$comm\" .*outcome=stored receiver=container" \
                        "$([ $((i - logged)) -gt 2 ] && echo 1 || echo 5)" 2>/dev/null && logged=$((logged + 1))
        done
        check "storm: twenty exit statuses 139 ($ok)" test "$ok" = 20
        check "storm: twenty host log lines, stored in the container ($logged)" test "$logged" = 20
        n=$(find "$st" -maxdepth 1 -name "core.st*-$$.*.json" | wc -l)
        check "storm: twenty records in the containers' store ($n)" test "$n" = 20
        check "storm: every core shows crash_here" every_core_shows_crash_here "$st"
        check "storm: none in the host store" no_host_cores
}

fails() {
        ! "$@"
}

every_core_shows_crash_here() {
        local z bad=0
        for z in "$1"/core.*.zst; do
                shows_crash_here "$z" || { echo "no crash_here in $z" >&2; bad=1; }
        done
        return "$bad"
}

# engine_scenarios IMAGE: all of the above, each timed.
engine_scenarios() {
        local s t0
        for s in resident pid1 init_mode engine_init shell rm_volume non_root read_only ulimit_zero storm; do
                t0=$(date +%s%N)
                "scenario_$s" "$1"
                diag "$s: $((($(date +%s%N) - t0) / 1000000)) ms"
        done
}
