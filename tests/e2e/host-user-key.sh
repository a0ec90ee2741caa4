#!/bin/bash
# Issue 11, classes 4 and 6: an unprivileged host user can make user and pid namespaces at will
# ("unshare -Urpf", a rootless engine). Were each of them a container key of its own, every one
# would come with a fresh share of the host's fallback store, of its directories and of the
# host log, and could evict other containers' cores and log entries. All pid namespaces whose
# user namespace an unprivileged host user made are that user's: one key, user-UID. Before,
# each crash below was a new key: 8 directories, 8 cores stored against a rate limit of 3, one
# log line each.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

LIMIT=3
printf '[Receiver]\nMaxCoresPerInterval=%s\nInterval=3600s\n' "$LIMIT" >"$T/receiver.conf"
install_pattern "ReceiverConfig=$T/receiver.conf" "LogRateLimitBurst=4" "LogRateLimitIntervalSec=1h" || exit 1
STORE=$T/hoststore
SHARE=$(ct_share)
# A host uid of this run's own: the key (user-UID) and its share of the host log live in
# machine-wide tables beyond this test, which an earlier run's crashes must not have used up.
USER_ID=$((200000 + $$ % 100000))

# crash_as_user NAME: the user crashes from a pid namespace (and user namespace) of its own.
crash_as_user() {
        timeout 60 setpriv --reuid "$USER_ID" --regid "$USER_ID" --clear-groups -- \
                unshare -Urpf --mount-proc -- /bin/sh -c 'ulimit -c unlimited; exec "$1" --name "$2"' sh \
                "$SHARE/tests/crasher" "$1" >/dev/null 2>&1
}

if ! setpriv --reuid "$USER_ID" --regid "$USER_ID" --clear-groups -- unshare -Urpf -- true; then
        skip_all "an unprivileged user cannot make user and pid namespaces here"
fi
crash_as_user "cpt-hu-probe"
check "the user's crash is handled" wait_for_log 'comm="cpt-hu-probe" .*outcome=' 10

for i in $(seq 8); do
        crash_as_user "cpt-hu-$i-$$"
done
# Every helper and fallback receiver of these crashes is done (their lines may be suppressed).
# Over the kernel's socket (CORE_PIPE_TRANSPORT=socket) the server stays: its workers count.
handling() {
        pgrep -f "^/.*core_pipe-receiver " >/dev/null && return 0
        if [ "${CORE_PIPE_TRANSPORT:-pipe}" = socket ]; then
                socket_server_workers | grep -q .
        else
                pgrep -x core_pipe >/dev/null
        fi
}
for ((i = 0; i < 300; i++)); do
        handling || break
        sleep 0.1
done
dirs=$(find "$STORE/containers" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
stored=$(find "$STORE" -name "core.cpt-hu-*.zst" 2>/dev/null | wc -l)
lines=$(host_log | grep -c 'comm="cpt-hu-')
diag "9 crashes from 9 pid namespaces of user $USER_ID: $dirs directories, $stored cores stored (limit $LIMIT), $lines log lines"
check "one key for the user: user-$USER_ID in the log" wait_for_log "comm=\"cpt-hu-1-$$\" .*ct=user-$USER_ID "
check "one fallback directory, the user's" test "$dirs" = 1 -a -d "$STORE/containers/user-$USER_ID"
check "the rate limit holds for all of them ($stored stored, limit $LIMIT)" test "$stored" -le "$LIMIT"
check "the log's share holds for all of them ($lines lines for 9 crashes, burst 4)" test "$lines" -le 4
