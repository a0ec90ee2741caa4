#!/bin/bash
# coredumpctl on an entry whose metadata came from the core's notes alone, as a receiver that may
# not ptrace the crashed process sends it (no /proc/<pid>/exe, cwd or maps: every non-root app,
# every container without CAP_SYS_PTRACE): found by unit and by executable, `info` names both,
# `debug` runs gdb on the right program. journald runs in a private mount namespace of the test.
. "$(dirname "$0")/../lib/lib.sh"
if [ -z "${CPT_JOURNAL_NS:-}" ]; then
        if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
                tap_init
                skip_all "needs root and unshare"
        fi
        exec unshare -m --propagation private env CPT_JOURNAL_NS=1 "$0" "$@"
fi
tap_init
JOURNALD=/lib/systemd/systemd-journald
for tool in gdb coredumpctl journalctl "$JOURNALD"; do
        command -v "$tool" >/dev/null || skip_all "needs $tool"
done

# A journal of our own: nothing reaches the host's.
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
[ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
"$JOURNALD" >/dev/null 2>&1 &
JOURNALD_PID=$!
# Stops journald, keeping the exit status for tap_cleanup.
stop_journald() {
        local rc=$?
        kill "$JOURNALD_PID" 2>/dev/null
        wait "$JOURNALD_PID" 2>/dev/null
        return $rc
}
trap 'stop_journald; tap_cleanup' EXIT
check "journald listens" wait_for_file /run/systemd/journal/socket

# gdb's gcore of the crasher stopped at its fault (no core_pattern needed); its notes carry the
# same NT_PRPSINFO, NT_AUXV and NT_FILE as the kernel's.
CORE=$T/app.core
gdb -q -batch -ex run -ex "gcore $CORE" --args "$CRASHER" --name my-app >"$T/gdb.log" 2>&1
check "gcore wrote a core" test -s "$CORE"

ID=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
check "entry sent from the core's notes" sh -c \
        "'$BUILD/tests/journal-from-core' '$CORE' '0::/machine.slice/libpod-$ID.scope/system.slice/my-app.service' >'$T/sent.log'"
check "only cwd is unknown" grep -qx "missing: cwd" "$T/sent.log"
journalctl --flush >/dev/null 2>&1

list() {
        local i
        for ((i = 0; i < 50; i++)); do
                coredumpctl --no-pager --no-legend list "$@" 2>/dev/null | grep -q "$CRASHER" && return 0
                sleep 0.1
        done
        return 1
}
check "coredumpctl list COREDUMP_UNIT=my-app.service (the unit inside the container)" \
        list COREDUMP_UNIT=my-app.service
check "coredumpctl list EXE" list "$CRASHER"
check "coredumpctl list COREDUMP_SLICE=system.slice" list COREDUMP_SLICE=system.slice
coredumpctl --no-pager info COREDUMP_UNIT=my-app.service >"$T/info" 2>&1
check "info: Executable from NT_FILE" grep -q "Executable: $CRASHER" "$T/info"
check "info: Unit and Slice" sh -c "grep -q 'Unit: my-app.service' '$T/info' && grep -q 'Slice: system.slice' '$T/info'"
check "info: Command Line from pr_psargs" grep -q "Command Line: $CRASHER --name my-app" "$T/info"
coredumpctl --no-pager debug -A "-batch -ex bt" COREDUMP_UNIT=my-app.service >"$T/debug" 2>&1
check "debug: gdb finds crash_here" grep -q "crash_here" "$T/debug"
