#!/bin/bash
# Red team, property 2: no crash is handled without one host log line. A crash whose process is
# gone before the helper pins it is logged under the helper's own key ("helper"), which is limited
# to 10 lines a minute whatever LogRateLimitBurst= says (0 here: no limit). Any local user can
# make its own crashes unpinnable (SIGKILL once /proc/PID/status says CoreDumping: 1), so after ten of those every
# other crash the helper cannot pin, on the whole machine, goes unlogged. Both transports.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
command -v python3 >/dev/null || skip_all "needs python3"

install_pattern
N=20
/usr/bin/python3 - "$CRASHER" "$T" "$N" <<'PY' >"$T/pids"
import os, signal, subprocess, sys, time
crasher, tmp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    go = f"{tmp}/go-{i}"
    p = subprocess.Popen([crasher, "--name", f"cpt-unpin-{i}", "--size", "64", "--wait-for", go],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=lambda: __import__("resource").setrlimit(
                             __import__("resource").RLIMIT_CORE, (-1, -1)))
    time.sleep(0.3)
    open(go, "w").close()
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            st = open(f"/proc/{p.pid}/status").read()
        except OSError:
            break
        if "CoreDumping:\t1" in st:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    print(p.pid)
PY
sleep 3 # every crash above was handled within its bounds; the count below polls no further
lines=0
while read -r pid; do
        host_log | grep -q "pid=${pid}[ :]" && lines=$((lines + 1))
done <"$T/pids"
diag "$(host_log | grep -E 'cpt-unpin|cannot pin' | tail -n 3 | cut -c1-250)"
diag "crashes: $N, with a host line: $lines"
check "every crash has its host log line, pinned or not" test "$lines" = "$N"
