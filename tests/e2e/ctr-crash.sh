#!/bin/bash
# Real containerd without an orchestrator ("ctr run", runc): a crash in the container is stored
# by the resident receiver its init started, on the container's root file system, and both the
# host's log line and the record name the container as containerd names it ("default/<id>":
# ctr's namespace and the container id, from the cgroup /default/<id> that containerd made).
# The test runs its own containerd (own root, state and socket under $T): the host's containerd
# and docker's are not touched.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
CTRD_PID=
ID=cpt-ctr-$$
D=
ctr_() {
        ctr --address "$D/containerd.sock" "$@" {PATTERN_LOCK_FD}>&-
}
ctr_cleanup() {
        [ -n "$CTRD_PID" ] || return 0
        timeout 20 ctr --address "$D/containerd.sock" task kill -s KILL "$ID" >/dev/null 2>&1
        for _ in $(seq 100); do
                timeout 20 ctr --address "$D/containerd.sock" task rm "$ID" >/dev/null 2>&1 && break
                timeout 5 ctr --address "$D/containerd.sock" task ls -q 2>/dev/null | grep -qx "$ID" || break
                sleep 0.1
        done
        timeout 20 ctr --address "$D/containerd.sock" container rm "$ID" >/dev/null 2>&1
        kill "$CTRD_PID" 2>/dev/null
        wait "$CTRD_PID" 2>/dev/null
        CTRD_PID=
        # runc removed the container's cgroups; their parent "default" goes too if nothing else
        # is in it.
        rmdir /sys/fs/cgroup/*/default /sys/fs/cgroup/default 2>/dev/null
        return 0
}
on_exit() {
        local rc=$?
        ctr_cleanup
        (exit "$rc")
        tap_cleanup
}
trap on_exit EXIT
require_root_kernel
for c in containerd ctr runc debootstrap; do
        command -v "$c" >/dev/null || skip_all "needs $c (containerd comes with docker.io)"
done

ROOTFS=$(rootfs_get receiver "${ROOTFS_RECEIVER_PACKAGES[@]}") || exit 1
D=$T/containerd
mkdir -p "$D"
cat >"$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$D/containerd.sock"
[ttrpc]
  address = "$D/containerd.sock.ttrpc"
EOF
cp -a "$ROOTFS" "$D/rootfs"
for lib in $(ldd "$RECEIVER" | grep -o '/[^ ]*'); do
        [ -e "$D/rootfs$lib" ] || cp -L "$lib" "$D/rootfs$lib"
done
cat >"$D/rootfs/cpt-init" <<'EOF'
#!/bin/sh
/build/receiver/core_pipe-receiver --listen >>/run/receiver.log 2>&1 &
exec sleep infinity
EOF
chmod 0755 "$D/rootfs/cpt-init"

install_pattern
containerd --config "$D/config.toml" </dev/null >"$D/containerd.log" 2>&1 {PATTERN_LOCK_FD}>&- &
CTRD_PID=$!
for _ in $(seq 100); do
        ctr_ version >/dev/null 2>&1 && break
        sleep 0.1
done
check "containerd of the test answers" ctr_ version

T0=$(date +%s%N)
check "ctr run: the container starts" ctr_ run -d --mount "type=bind,src=$BUILD,dst=/build,options=rbind:ro" \
        --rootfs "$D/rootfs" "$ID" /cpt-init
PID=$(ctr_ task ls 2>/dev/null | awk -v id="$ID" '$1 == id {print $2}')
for _ in $(seq 100); do
        [ -S "/proc/$PID/root/run/core_pipe.socket" ] && break
        sleep 0.05
done
check "its receiver listens" test -S "/proc/$PID/root/run/core_pipe.socket"
check "its cgroup is /default/$ID" grep -q ":/default/$ID\$" "/proc/$PID/cgroup"

COMM=ctr-$$
# A shell in the container waits for the crasher, so that ctr never re-raises its signal.
pid=$(ctr_ task exec --exec-id "crash-$$" "$ID" /bin/sh -c \
        'ulimit -c unlimited; /build/tests/crasher --name "$1"; exit $?' sh "$COMM" 2>/dev/null)
diag "crasher pid $pid in the container"
STORE=$D/rootfs/var/lib/core_pipe
check "the record is in the container's /var/lib/core_pipe" wait_for_file "$STORE/core.$COMM.*.json"
JSON=$(ls "$STORE"/core."$COMM".*.json 2>/dev/null | head -n1)
check "gdb shows crash_here" shows_crash_here "${JSON%.json}.zst"
check "record: pid as the container sees it ($pid)" test "$(json_field "$JSON" pid)" = "${pid:-none}"
check "host log: stored by the container's receiver, container=\"containerd:default/$ID\"" \
        wait_for_log "comm=\"$COMM\" .*cgroup=\"/default/$ID\" container=\"containerd:default/$ID\" .*outcome=stored receiver=container"
check "nothing reached the host's fallback store" test ! -e "$T/hoststore"
# Without a cgroup namespace (containerd's default on cgroup v1) the receiver sees the same path.
check "record: container runtime containerd, id default/$ID" \
        python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["container"]; sys.exit(not (c["runtime"]=="containerd" and c["id"]==sys.argv[2]))' \
        "$JSON" "default/$ID"
ctr_cleanup
diag "containerd container started, crashed and stopped in $((($(date +%s%N) - T0) / 1000000)) ms"
