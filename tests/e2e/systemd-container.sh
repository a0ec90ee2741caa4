#!/bin/bash
# core_pipe in a container that boots systemd (systemd-nspawn): the staged install is bound into
# it, `systemctl enable --now core_pipe-forward.socket` is all it takes, crashes are stored by
# socket-activated instances and coredumpctl inside the container lists, shows and dumps them.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
command -v systemd-nspawn >/dev/null || skip_all "needs systemd-nspawn (systemd-container)"
command -v coredumpctl >/dev/null || skip_all "needs coredumpctl (systemd-coredump)"

prefix=$(meson introspect "$BUILD" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
[ "$prefix" != /usr ] || skip_all "prefix /usr cannot be bound over the container's /usr; configure another prefix"
DEST=$T/dest
meson install -C "$BUILD" --destdir "$DEST" --quiet >"$T/install.log" 2>&1 || { cat "$T/install.log"; exit 1; }
if [ -n "${CORE_PIPE_SANITIZE:-}" ] && [ "$CORE_PIPE_SANITIZE" != none ]; then
        # LeakSanitizer stops the world with ptrace, which the unit's system call filter denies:
        # in a sanitizer build the instances run without leak checking (address and undefined
        # behaviour checks stay on).
        mkdir -p "$DEST$prefix/lib/systemd/system/core_pipe-forward@.service.d"
        printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' \
                >"$DEST$prefix/lib/systemd/system/core_pipe-forward@.service.d/sanitizer.conf"
fi

trap 'nspawn_stop; tap_cleanup' EXIT
nspawn_start cpt-sd "$DEST$prefix" "$prefix" "$BUILD"
booted=$?
LEADER=$NSPAWN_LEADER
diag "container systemd is pid $LEADER (host view)"
check "the systemd container booted" test "$booted" = 0
in_ct() {
        in_nspawn "$@"
}
ROOT=/proc/$LEADER/root

check "enable --now core_pipe-forward.socket" in_ct systemctl enable --now core_pipe-forward.socket
check "socket unit is active" test "$(in_ct systemctl is-active core_pipe-forward.socket)" = active
check "socket is a 0600 root socket at /run/core_pipe.socket" test "$(stat -c '%a %u %F' "$ROOT/run/core_pipe.socket")" = "600 0 socket"

install_pattern

# A service that crashes, with cores allowed. 12 MiB of memory: the core is several zstd
# frames (one per 2 MiB chunk), which coredumpctl must read as one stream.
NAME=cpt-sd-$RANDOM
pid=$(in_ct systemd-run --wait --pipe -q -p LimitCORE=infinity /build/tests/crasher --size 12 --name "$NAME")
diag "crashed service pid in the container: $pid"
check "core stored in the container's store" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME.*.json" 20
check "the stored core is several zstd frames" \
        sh -c "zstd -lv $ROOT/var/lib/core_pipe/core.$NAME.*.zst | grep -Eq '^# Zstandard Frames: ([5-9]|[1-9][0-9]+)\$'"
check "stored by a socket-activated instance" sh -c "nsenter -t $LEADER -a journalctl -q -o cat -u 'core_pipe-forward@*' | grep -q 'Process $pid ($NAME)'"
check "coredumpctl list shows it with the container's pid" sh -c "nsenter -t $LEADER -a coredumpctl list --no-pager --no-legend | grep -E ' $pid +0 +0 +SIGSEGV +present +/build/tests/crasher '"
in_ct coredumpctl info --no-pager "$pid" >"$T/info.txt" 2>&1
sed 's/^/# /' "$T/info.txt" | head -n 20
check "coredumpctl info: PID" grep -Eq "PID: $pid \\($NAME\\)" "$T/info.txt"
check "coredumpctl info: signal 11" grep -Eq "Signal: 11 \\(SEGV\\)" "$T/info.txt"
check "coredumpctl info: storage is core_pipe's file, present" grep -Eq "Storage: /var/lib/core_pipe/core\\.$NAME\\..*\\.zst \\(present\\)" "$T/info.txt"
# The backtrace made at crash time (issue 14), in the entry's MESSAGE as coredumpctl shows it.
check "coredumpctl info: the stack trace of the crashing thread" grep -Eq "Stack trace of thread [0-9]+:" "$T/info.txt"
check "coredumpctl info: #0 is crash_here in crasher" grep -Eq "#0 +0x[0-9a-f]+ crash_here \\(crasher \\+ 0x[0-9a-f]+\\)" "$T/info.txt"
check "coredumpctl info: the module's build-id" grep -Eq "Module crasher with build-id [0-9a-f]{40}" "$T/info.txt"
check "journal: the crash's signature" sh -c "nsenter -t $LEADER -a journalctl -q -o cat -u 'core_pipe-forward@*' | grep -Eq 'Process $pid \\($NAME\\).*signature [0-9a-f]{16}'"
check "coredumpctl dump writes the core" in_ct coredumpctl dump --no-pager "$pid" -o /var/tmp/dumped.core
check "gdb on the dumped core shows crash_here" sh -c "gdb -nx -batch -ex bt '$CRASHER' '$ROOT/var/tmp/dumped.core' 2>&1 | grep -q crash_here"
check "host log: stored by the container's receiver" wait_for_log "comm=\"$NAME\" .*origin=container .*outcome=stored receiver=container"

# A service with LimitCORE=0: nothing stored, and the journal says why.
ZERO=cpt-sdz-$RANDOM
zpid=$(in_ct systemd-run --wait --pipe -q -p LimitCORE=0 /build/tests/crasher --name "$ZERO")
check "LimitCORE=0: the journal says why" \
        sh -c "for i in \$(seq 50); do nsenter -t $LEADER -a journalctl -q -o cat -t core_pipe-receiver | grep -q 'Process $zpid ($ZERO) .*RLIMIT_CORE is 0' && exit 0; sleep 0.1; done; exit 1"
check "LimitCORE=0: nothing stored" sh -c "! ls '$ROOT/var/lib/core_pipe' | grep -q '$ZERO'"
check "LimitCORE=0: coredumpctl lists it without a core" sh -c "nsenter -t $LEADER -a coredumpctl list --no-pager --no-legend | grep -E ' $zpid +0 +0 +SIGSEGV +none '"

# An instance killed in the middle of a core: its ExecStopPost= (core_pipe-receiver --recover)
# finalises what it wrote, marked truncated because the receiver died, and the socket carries on.
BIG=cpt-sdk-$RANDOM
STORE=$ROOT/var/lib/core_pipe
in_ct systemd-run -q --no-block -p LimitCORE=infinity /build/tests/crasher --size 1024 --name "$BIG"
killed=
for _ in $(seq 1500); do
        inst=$(in_ct systemctl list-units --no-legend --plain --state=active 'core_pipe-forward@*.service' | awk '{print $1}' | head -n1)
        # Once some frames are written (the in-progress core has 4 MiB).
        if [ -n "$inst" ] && [ -n "$(find "$STORE" -maxdepth 1 -name ".#partial.core.$BIG.*.core" -size +4M -print -quit)" ]; then
                in_ct systemctl kill -s KILL "$inst" && killed=$inst
                break
        fi
        sleep 0.02
done
diag "killed instance: ${killed:-none}"
check "an instance was killed mid-core" test -n "$killed"
check "its core is finalised (ExecStopPost=)" wait_for_file "$STORE/core.$BIG.*.json" 30
KJSON=$(find "$STORE" -maxdepth 1 -name "core.$BIG.*.json" | head -n1)
[ -n "$KJSON" ] && grep -E 'truncated|core_size|core_file' "$KJSON" | sed 's/^/# /'
check "the partial core decompresses" zstd -q -t "${KJSON%.json}.zst"
check "its record: truncated, \"receiver died\"" \
        sh -c "[ '$(json_field "$KJSON" truncated 2>/dev/null)' = true ] && [ '$(json_field "$KJSON" truncated_reason 2>/dev/null)' = 'receiver died' ]"
check "its record: killed by SIGKILL, as systemd saw it" \
        sh -c "echo '$(json_field "$KJSON" truncated_cause 2>/dev/null)' | grep -q 'killed by signal 9 (SIGKILL)'"
check "its journal entry says so" sh -c "nsenter -t $LEADER -a journalctl -q -o cat 'COREDUMP_TRUNCATED_REASON=receiver died' | grep -q '$BIG'"
check "nothing left in progress" sh -c "[ -z \"\$(find '$STORE' -maxdepth 1 -name '.#partial.*' -print -quit)\" ]"
check "the socket unit is still active" test "$(in_ct systemctl is-active core_pipe-forward.socket)" = active
check "the killed instance is the only failure" test "$(in_ct systemctl list-units --no-legend --plain --state=failed 'core_pipe-forward@*' | awk '{print $1}')" = "$killed"
in_ct systemctl reset-failed "$killed"

# Ten crashes in a row are all stored.
for i in $(seq 10); do
        in_ct systemd-run --wait -q -p LimitCORE=infinity /build/tests/crasher --name "cpt-ten-$i" >/dev/null
done
for _ in $(seq 100); do
        [ "$(find "$ROOT"/var/lib/core_pipe/ -mindepth 1 -maxdepth 1 -name 'core.cpt-ten-*.json' | wc -l)" -ge 10 ] && break
        sleep 0.1
done
check "ten crashes in a row: ten cores" test "$(find "$ROOT"/var/lib/core_pipe/ -mindepth 1 -maxdepth 1 -name 'core.cpt-ten-*.zst' | wc -l)" = 10
check "ten crashes in a row: ten records" test "$(find "$ROOT"/var/lib/core_pipe/ -mindepth 1 -maxdepth 1 -name 'core.cpt-ten-*.json' | wc -l)" = 10
check "no failed instances" sh -c "! nsenter -t $LEADER -a systemctl list-units --no-legend --plain --state=failed 'core_pipe-forward@*' | grep -q ."
