#!/bin/bash
# A receiver's words never choose how the host logs a crash: the log line's priority and its
# outcome= follow what happened (a typed outcome), not text the receiver sent. Before, the
# helper picked the priority by searching its own line for "outcome=stored", which a refusal's
# reason or a failure report's text could contain.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern "TimeoutSec=2s" "Fallback=drop"

# warning_line REGEX: a host log line of the helper at priority warning or worse matches.
warning_line() {
        local i
        for ((i = 0; i < 100; i++)); do
                if [ -S /dev/log ] && command -v journalctl >/dev/null; then
                        journalctl -q -o cat -t core_pipe -p warning --since "@$TEST_START" 2>/dev/null |
                                grep -Eq -- "$1" && return 0
                else
                        # The kernel log with facility and level decoded.
                        dmesg -x 2>/dev/null | grep -E '^daemon:(emerg|alert|crit|err|warn) ' | grep -Eq -- "$1" &&
                                return 0
                fi
                sleep 0.1
        done
        echo "no warning line matches: $1" >&2
        return 1
}

for mode in forge-refuse forge-report; do
        ct=f${mode#forge-}
        container_start "$ct"
        ct_exec "$ct" /bin/sh -c 'exec /build/tests/evil-receiver "$1" /run/core_pipe.socket /run/evil.log </dev/null >/dev/null 2>&1 &' sh "$mode"
        wait_for_file "$(ct_root "$ct")/run/core_pipe.socket"
        name=cp-$ct-$$
        timed_crash "$ct" "$name"
        case $mode in
        forge-refuse) want="comm=\"$name\" .*outcome=dropped reason=\"receiver in its root refused: outcome=stored" ;;
        forge-report) want="comm=\"$name\" .*outcome=failed receiver=container error=\"No space left on device\"" ;;
        esac
        check "$mode: the line says what happened" wait_for_log "$want"
        check "$mode: logged as a warning, whatever the receiver's text" warning_line "$want"
done
check "forge-report: the receiver read the core and sent its report" \
        grep -q "forged report sent" "$(ct_root freport)/run/evil.log"
