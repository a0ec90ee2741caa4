#!/bin/bash
# `meson install --destdir` puts every file where the README says, with the configured paths
# inside them, and every man page renders without warnings.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
command -v man >/dev/null || skip_all "needs man (man-db)"

prefix=$(meson introspect "$BUILD" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
D=$T/dest
meson install -C "$BUILD" --destdir "$D" --quiet >"$T/install.log" 2>&1
check "meson install --destdir succeeds" test $? = 0
check "host helper: $prefix/libexec/core_pipe" test -x "$D$prefix/libexec/core_pipe"
check "receiver: $prefix/libexec/core_pipe-receiver" test -x "$D$prefix/libexec/core_pipe-receiver"
check "sysctl.d drop-in" test -f "$D$prefix/lib/sysctl.d/60-core_pipe.conf"
# systemd-sysctl applies the drop-ins of every sysctl.d directory in the order of their names, the
# last setting winning: systemd-coredump's 50-coredump.conf (and any other package's pattern at
# 50) must come before ours.
check "the drop-in is applied after systemd-coredump's 50-coredump.conf" \
        test "$(printf '%s\n' 50-coredump.conf 60-core_pipe.conf | LC_ALL=C sort | tail -n1)" = 60-core_pipe.conf
check "drop-in points at the installed helper" grep -q "^kernel.core_pattern = |$prefix/libexec/core_pipe F=%F " "$D$prefix/lib/sysctl.d/60-core_pipe.conf"
check "socket unit" test -f "$D$prefix/lib/systemd/system/core_pipe-forward.socket"
check "service unit runs the installed receiver" grep -q "^ExecStart=$prefix/libexec/core_pipe-receiver " "$D$prefix/lib/systemd/system/core_pipe-forward@.service"
check "socket unit's connection cap equals kernel.core_pipe_limit" \
        test "$(sed -n 's/^MaxConnections=//p' "$D$prefix/lib/systemd/system/core_pipe-forward.socket")" = \
             "$(sed -n 's/^kernel.core_pipe_limit = //p' "$D$prefix/lib/sysctl.d/60-core_pipe.conf")"
check "tmpfiles.d" grep -q "^d /var/lib/core_pipe 0700 root root" "$D$prefix/lib/tmpfiles.d/core_pipe.conf"
if command -v systemd-analyze >/dev/null; then
        check "units pass systemd-analyze verify" sh -c "cd '$D$prefix/lib/systemd/system' && SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no --recursive-errors=no ./core_pipe-forward.socket 2>&1 | grep -v 'not executable\\|No such file' | (! grep -q .)"
fi
for page in man8/core_pipe.8 man8/core_pipe-receiver.8 man8/core_pipe-forward.socket.8 man5/core_pipe.conf.5; do
        f=$D$prefix/share/man/$page
        check "man page $page installed" test -f "$f"
        check "man page $page renders without warnings" sh -c "out=\$(MANWIDTH=80 man --warnings -l '$f' 2>&1 >/dev/null); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
        check "man page $page has EXIT STATUS, FILES, SECURITY and EXAMPLES" \
                sh -c "t=\$(MANWIDTH=80 man -l '$f' 2>/dev/null); for s in 'EXIT STATUS' FILES SECURITY EXAMPLES; do printf '%s' \"\$t\" | grep -q \"^\$s\" || exit 1; done"
done
# core_pipe-init, where the build has it (-Dstatic_init): no interpreter, no shared library.
if [ -x "$BUILD/receiver/core_pipe-init" ]; then
        f=$D$prefix/libexec/core_pipe-init
        check "static init: $prefix/libexec/core_pipe-init" test -x "$f"
        check "static init: statically linked (no INTERP, no NEEDED)" \
                sh -c "! readelf -lW '$f' | grep -q INTERP && ! readelf -dW '$f' | grep -q NEEDED"
        f=$D$prefix/share/man/man8/core_pipe-init.8
        check "man page man8/core_pipe-init.8 installed" test -f "$f"
        check "man page man8/core_pipe-init.8 renders without warnings" sh -c "out=\$(MANWIDTH=80 man --warnings -l '$f' 2>&1 >/dev/null); [ -z \"\$out\" ] || { echo \"\$out\"; exit 1; }"
        check "man page man8/core_pipe-init.8 has EXIT STATUS, FILES, SECURITY and EXAMPLES" \
                sh -c "t=\$(MANWIDTH=80 man -l '$f' 2>/dev/null); for s in 'EXIT STATUS' FILES SECURITY EXAMPLES; do printf '%s' \"\$t\" | grep -q \"^\$s\" || exit 1; done"
fi
check "nothing installed outside the prefix" sh -c "cd '$D' && ! find . -type f | grep -v '^.$prefix/'"
