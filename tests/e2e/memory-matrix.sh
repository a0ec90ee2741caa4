#!/bin/bash
# A short core is never called complete, at a container's memory limit: a memory cgroup of
# 128 MiB (swap included) around a container whose resident receiver runs inside it, and an app
# of the same cgroup that touches from half the limit to within 2 MiB of it, then crashes. Each
# crash must end as one of: the whole core (its decompressed size is the size its program
# headers give), the core stored by the host's fallback, or a core marked truncated with its
# cause. A cut core called complete fails. The matrix is printed as diag lines:
#   limit heap -> outcome expected/stored
# An app the cgroup's OOM killer ends before it crashes made no core: it is reported, not counted.
#
# The container: by default one made here (tests/lib/container.sh) in a v1 memory cgroup made
# here, the memory hierarchy mounted inside as an engine would; MATRIX_ENGINE=docker: a docker
# container run with --memory and --memory-swap (tests/lib/engines.sh), its entrypoint starting
# the resident receiver.
. "$(dirname "$0")/../lib/lib.sh"
ENGINE_MODE=${MATRIX_ENGINE:-none}
[ "$ENGINE_MODE" = none ] || . "$(dirname "$0")/../lib/engines.sh"
tap_init
require_root_kernel
MEMCG_ROOT=/sys/fs/cgroup/memory
[ -f "$MEMCG_ROOT/memory.limit_in_bytes" ] || skip_all "needs the v1 memory controller at $MEMCG_ROOT"
command -v zstd >/dev/null || skip_all "needs zstd"

LIMIT_MIB=${MATRIX_LIMIT_MIB:-128}
HEAPS=${MATRIX_HEAPS:-64 96 108 116 122 126}

# The container's memory cgroup, its store as the host reaches it, and how the app is run.
setup_own_container() {
        install_pattern
        mkdir -p "$T/ctvar"
        STORE=$T/ctvar/lib/core_pipe
        MEMCG=$MEMCG_ROOT/cpt-matrix-$$
        mkdir "$MEMCG"
        trap 'containers_stop_all; for _ in $(seq 50); do [ -s "$MEMCG/cgroup.procs" ] || break; sleep 0.1; done;
                rmdir "$MEMCG" 2>/dev/null; tap_cleanup' EXIT
        echo $((LIMIT_MIB << 20)) >"$MEMCG/memory.limit_in_bytes"
        echo $((LIMIT_MIB << 20)) >"$MEMCG/memory.memsw.limit_in_bytes" 2>/dev/null || true
        CT_VAR=$T/ctvar container_start mx
        ct_pid mx >"$MEMCG/cgroup.procs"
        ct_exec mx /bin/sh -c 'mkdir -p /sys/fs/cgroup/memory && mount -t cgroup -o memory cgroup /sys/fs/cgroup/memory'
        start_receiver mx
        for p in $(ct_receivers mx); do echo "$p" >"$MEMCG/cgroup.procs"; done
        check "the container's init and receiver run in the ${LIMIT_MIB} MiB cgroup" \
                grep -qx "$(ct_receivers mx | head -n1)" "$MEMCG/cgroup.procs"
}

setup_docker() {
        engines_init
        engine_setup docker || skip_all "docker is not usable"
        IMG=$(engine_image receiver "${ROOTFS_RECEIVER_PACKAGES[@]}") || { echo "Bail out! no image"; exit 1; }
        install_pattern
        STORE=$(store_dir mx)
        CT=cpt-mx-$$
        check "docker: container up with --memory ${LIMIT_MIB}m" eng_run -d --name "$CT" --memory "${LIMIT_MIB}m" \
                --memory-swap "${LIMIT_MIB}m" -v "$STORE:/var/lib/core_pipe" --entrypoint /entrypoint.sh "$IMG" sleep infinity
        check "docker: receiver listening" wait_in_ct "$CT" /run/core_pipe.socket
        local pid
        pid=$(eng inspect -f '{{.State.Pid}}' "$CT")
        MEMCG=$MEMCG_ROOT$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3}' "/proc/$pid/cgroup")
        check "docker: the container's memory cgroup is ${LIMIT_MIB} MiB" \
                test "$(cat "$MEMCG/memory.limit_in_bytes")" = $((LIMIT_MIB << 20))
}

# run_app NAME HEAP: the app touches HEAP MiB in the container, then crashes.
run_app() {
        if [ "$ENGINE_MODE" = docker ]; then
                eng exec "$CT" "$CT_CRASHER_PATH" --name "$1" --size "$2" >/dev/null 2>&1
                return
        fi
        (
                echo "$BASHPID" >"$MEMCG/cgroup.procs"
                CT_TIMEOUT=120 ct_exec mx /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$1" --size "$2"' \
                        sh "$1" "$2" >/dev/null 2>&1
        )
}

case $ENGINE_MODE in
none) setup_own_container ;;
docker) setup_docker ;;
*) echo "Bail out! MATRIX_ENGINE=$ENGINE_MODE: none or docker"; exit 1 ;;
esac

oom_kills() {
        awk '$1 == "oom_kill" {print $2}' "$MEMCG/memory.oom_control"
}

# decompressed_size FILE: bytes of the core in a stored file (zstd or plain).
decompressed_size() {
        case $1 in
        *.zst) zstd -q -d -c "$1" 2>/dev/null | wc -c ;;
        *) stat -c %s "$1" ;;
        esac
}

# record_of NAME LINE: the record of NAME's core, in the container's store or the host's fallback
# (there under the file its host log LINE names: a core cut before its notes has no comm to be
# named after).
record_of() {
        local file
        file=$(sed -n 's/.* file="\([^"/]*\)".*/\1/p' <<<"$2")
        file=${file%.zst}
        ls "$STORE"/core."$1".*.json "$T"/hoststore/containers/*/core."$1".*.json \
                ${file:+"$T"/hoststore/containers/*/"$file.json"} 2>/dev/null | head -n1
}

# One crash at heap MiB; sets OUTCOME and OK (1: a permitted outcome, 0: silently cut or lost,
# "" not a crash).
crash_at() {
        local heap=$1 name=mx$1-$$ rc before after json f expected core stored truncated reason cause by
        before=$(oom_kills)
        rc=0
        run_app "$name" "$heap" || rc=$?
        after=$(oom_kills)
        # A crash leaves one host log line; an app killed while it filled its heap leaves none.
        if ! wait_for_log "comm=\"$name\" " 15 2>/dev/null; then
                OUTCOME="app killed before it crashed (exit $rc, oom_kill $before -> $after): not a crash"
                OK=
                return 0
        fi
        LINE=$(host_log | grep "comm=\"$name\" " | tail -n1)
        for _ in $(seq 300); do
                json=$(record_of "$name" "$LINE")
                [ -n "$json" ] && break
                grep -q 'outcome=stored' <<<"$LINE" || break
                sleep 0.1
        done
        if [ -z "$json" ]; then
                OUTCOME="no core stored: ${LINE#*outcome=}"
                OK=0
                # Over the kernel's socket no byte of the core leaves the process before the ack:
                # one OOM-killed while its receivers were being asked has no core anywhere, and
                # its line must say that the kernel's connection ended.
                if [ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ] && [ "$after" -gt "$before" ] &&
                        grep -q "kernel's coredump socket" <<<"$LINE"; then
                        OUTCOME="no dump: OOM-killed before the kernel's ack, logged: ${LINE#*outcome=}"
                        OK=1
                fi
                return 0
        fi
        # The core file's name: the record without .json, .zst or not.
        f=${json%.json}.zst
        [ -e "$f" ] || f=${json%.json}
        expected=$(json_field "$json" core_expected_size 2>/dev/null || echo 0)
        core=$(json_field "$json" core_size)
        truncated=$(json_field "$json" truncated)
        reason=$(json_field "$json" truncated_reason 2>/dev/null || true)
        cause=$(json_field "$json" truncated_cause 2>/dev/null || true)
        by=$(json_field "$json" handled_by)
        stored=$(decompressed_size "$f")
        OK=0
        if [ "$stored" != "$core" ]; then
                OUTCOME="record says $core bytes, file holds $stored"
        elif [ "$truncated" = false ] && [ "$stored" = "$expected" ]; then
                OUTCOME="complete ($by)"
                OK=1
        elif [ "$truncated" = false ]; then
                OUTCOME="SILENTLY CUT: called complete ($by)"
        elif [ -n "$cause" ] && [ "$stored" -lt "$expected" ]; then
                OUTCOME="truncated ($by): $reason; $cause"
                OK=1
        else
                OUTCOME="truncated without a cause ($by): ${reason:-no reason}"
        fi
        OUTCOME="$OUTCOME, bytes expected $expected stored $stored, oom_kill $before -> $after"
}

counted=0
for heap in $HEAPS; do
        crash_at "$heap"
        diag "matrix ($ENGINE_MODE): limit ${LIMIT_MIB} MiB, heap $heap MiB -> $OUTCOME"
        [ -n "$OK" ] || continue
        counted=$((counted + 1))
        check "heap $heap MiB of ${LIMIT_MIB}: complete, stored elsewhere, truncated with its cause (or, over the socket, killed before the ack and logged)" test "$OK" = 1
done
check "at least half the heaps crashed rather than being OOM-killed first" \
        test "$counted" -ge $(($(wc -w <<<"$HEAPS") / 2))
diag "cgroup peak $(cat "$MEMCG/memory.max_usage_in_bytes") bytes"
