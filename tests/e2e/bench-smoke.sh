#!/bin/bash
# The benchmark is not a test, but it must keep running: one round at the smallest size, every
# handler, and a table with a row for each. The kernel's settings are restored afterwards.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
command -v pigz >/dev/null || skip_all "needs pigz (tools/deps.sh installs it)"
[ -x /lib/systemd/systemd-coredump ] || skip_all "needs systemd-coredump (tools/deps.sh installs it)"

save_kernel_settings
before=$(cat /proc/sys/kernel/core_pattern)
"$(dirname "$0")/../../bench/run" --sizes 4 --rounds 1 --build "$BUILD" >"$T/table.md" 2>"$T/bench.log"
rc=$?
sed 's/^/# /' "$T/table.md"
check "bench/run exits 0" test "$rc" = 0
[ "$rc" = 0 ] || tail -n 20 "$T/bench.log" | sed 's/^/# bench.log: /'
for h in sink file zstd pigz systemd-coredump core_pipe core_pipe-activated; do
        check "a row for $h" grep -q "^| 4 MiB | $h |" "$T/table.md"
done
check "every crash was dumped" sh -c "! grep -q 'no core dumped' '$T/bench.log'"
check "core_pipe stored a core close to zstd -1" grep -Eq '^\| 4 MiB \| core_pipe \|.*\| (0\.9[5-9][0-9]|1\.0[0-4][0-9]) \|' "$T/table.md"
check "core_pipe's row has the CPU of the dump and of the receiver" \
        grep -Eq '^\| 4 MiB \| core_pipe \|.*\| [0-9]+\.[0-9]+ \+ [0-9]+\.[0-9]+ \|$' "$T/table.md"
check "core_pattern restored" test "$(cat /proc/sys/kernel/core_pattern)" = "$before"
