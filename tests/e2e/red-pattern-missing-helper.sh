#!/bin/bash
# Red team, property 5: `core_pipe --pattern pipe` checks nothing about the pattern it writes.
# `--pattern socket` writes @@PATH only while a socket listens there, but `--pattern pipe` writes
# the build's pipe pattern whether or not its helper exists: from a build that is not installed,
# or when core_pipe-pattern.service is stopped on removal of the package (the helper is gone right
# after), the kernel then fails every crash ("Core dump to |... pipe failed"). Here the build's
# pattern names a helper that does not exist on this machine (when it does, the test skips).
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
export CORE_PIPE_TRANSPORT=socket

install_pattern
SOCK=$SHORT/kernel.socket
out=$("$HELPER" --pattern pipe --listen "$SOCK" 2>&1)
now=$(cat /proc/sys/kernel/core_pattern)
diag "core_pipe --pattern pipe: $out"
hpath=${now#|}
hpath=${hpath%% *}
if [ "${now#|}" != "$now" ] && [ ! -x "$hpath" ]; then
        ( ulimit -c unlimited; exec "$CRASHER" --name cpt-nohelper ) >/dev/null 2>&1
        sleep 0.5
        diag "kernel log: $(dmesg | grep -E 'cpt-nohelper' | tail -n 2)"
fi
write_pattern "$SOCKET_PATTERN" >/dev/null
if [ "$now" = "$SOCKET_PATTERN" ]; then
        check "--pattern pipe left the socket pattern (refused a helper that is not there)" true
else
        check "--pattern pipe wrote a pattern whose helper exists ($hpath)" test -x "$hpath"
fi
