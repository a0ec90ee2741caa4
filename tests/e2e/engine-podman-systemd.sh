#!/bin/bash
# Podman boots systemd from an image (Debian 12 with systemd, systemd-coredump, gdb and the
# receiver's libraries), without --cap-add. The built units are bound in, the socket is
# enabled, and a service started with systemd-run crashes: a socket-activated instance stores
# the core in the container, and coredumpctl inside lists (by unit), shows and debugs it.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/engines.sh"
tap_init
require_root_kernel
engines_init
engine_setup podman || skip_all "podman is not usable"
BASE=$(engine_image systemd systemd systemd-sysv systemd-coredump "${ROOTFS_RECEIVER_PACKAGES[@]}") ||
        { echo "Bail out! no image"; exit 1; }
# dbus (for systemd-run) and gdb (for coredumpctl debug) on top: debootstrap fails to configure
# gdb's libraries in its first pass.
IMG=${BASE/systemd:/systemd-gdb:}
if ! eng image inspect "$IMG" >/dev/null 2>&1; then
        printf '%s\n' "FROM $BASE" \
                'RUN apt-get update && apt-get install -y --no-install-recommends dbus gdb && rm -rf /var/lib/apt/lists/*' \
                >"$T/Containerfile"
        eng build --network host -t "$IMG" -f "$T/Containerfile" "$T/stage" >"$T/build.log" 2>&1 ||
                { tail -n 20 "$T/build.log"; echo "Bail out! gdb image"; exit 1; }
fi
diag "image $IMG"

# The units name the receiver at the build's prefix: it is bound there.
UNITS=$BUILD/units
EXEC=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$UNITS/core_pipe-forward@.service")
for f in core_pipe-forward.socket core_pipe-forward@.service; do
        install -m 0644 "$UNITS/$f" "$STAGE/$f"
done
CT=cpt-sd-$$
t0=$(date +%s%N)
check "container booting systemd started" eng_run -d --name "$CT" --systemd=always \
        -v "$STAGE/core_pipe-receiver:$EXEC:ro" \
        -v "$STAGE/core_pipe-forward.socket:/etc/systemd/system/core_pipe-forward.socket:ro" \
        -v "$STAGE/core_pipe-forward@.service:/etc/systemd/system/core_pipe-forward@.service:ro" \
        "$IMG" /sbin/init
check "systemd booted" wait_systemd "$CT"
diag "boot: $((($(date +%s%N) - t0) / 1000000)) ms"
check "enable --now core_pipe-forward.socket" eng exec "$CT" systemctl enable --now core_pipe-forward.socket
check "socket unit is active" test "$(eng exec "$CT" systemctl is-active core_pipe-forward.socket)" = active
check "socket is a 0600 root socket at /run/core_pipe.socket" \
        test "$(eng exec "$CT" stat -c '%a %u %F' /run/core_pipe.socket)" = "600 0 socket"

install_pattern

COMM=sd-$$
UNIT=cpt-crash-$$
pid=$(eng exec "$CT" systemd-run --unit="$UNIT" --wait --pipe -q -p LimitCORE=infinity \
        "$CT_CRASHER_PATH" --name "$COMM" 2>/dev/null)
diag "crashed service $UNIT.service, pid $pid in the container"
copy_out "$CT" "$COMM" "$T/store-sd"
check_stored "$T/store-sd" "$COMM" "service"
diag "cgroup: $(host_log | grep -F "comm=\"$COMM\"" | grep -o 'cgroup="[^"]*"' | head -n1)"
instance_logged() {
        eng exec "$CT" journalctl -q -o cat -u 'core_pipe-forward@*' | grep -q "Process $pid ($COMM)"
}
check "stored by a socket-activated instance" instance_logged
# coredumpctl (252) matches a bare word against the command name: a unit is COREDUMP_UNIT=.
eng exec "$CT" coredumpctl list --no-pager "COREDUMP_UNIT=$UNIT.service" >"$T/list.txt" 2>&1
sed 's/^/# list: /' "$T/list.txt"
check "coredumpctl list COREDUMP_UNIT=$UNIT.service shows the crash" \
        grep -Eq " $pid +0 +0 +SIGSEGV +present +$CT_CRASHER_PATH" "$T/list.txt"
eng exec "$CT" coredumpctl list --no-pager "$CT_CRASHER_PATH" >"$T/list-exe.txt" 2>&1
check "coredumpctl list $CT_CRASHER_PATH (by executable) shows the crash" \
        grep -Eq " $pid +0 +0 +SIGSEGV +present +$CT_CRASHER_PATH" "$T/list-exe.txt"
eng exec "$CT" coredumpctl info --no-pager "$pid" >"$T/info.txt" 2>&1
check "coredumpctl info: PID" grep -Eq "PID: $pid \\($COMM\\)" "$T/info.txt"
check "coredumpctl info: the unit" grep -Eq "Unit: $UNIT\\.service" "$T/info.txt"
check "coredumpctl info: storage is core_pipe's file, present" \
        grep -Eq "Storage: /var/lib/core_pipe/core\\.$COMM\\..*\\.zst \\(present\\)" "$T/info.txt"
eng exec "$CT" coredumpctl debug --no-pager --debugger-arguments="-batch -ex bt" "$pid" >"$T/debug.txt" 2>&1
check "coredumpctl debug: gdb's backtrace shows crash_here" grep -q crash_here "$T/debug.txt"
check "nothing in the host store" no_host_cores
