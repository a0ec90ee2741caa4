#!/bin/bash
# The host's fallback uploads too (Upload= in the receiver configuration its ReceiverConfig= names):
# a host process's core, stored in the fallback store, reaches the FTP server byte for byte, and
# the host's log says uploaded=URL; with the server down the line says upload_error="...", the
# upload stays pending in the fallback store, and `core_pipe-receiver --upload-pending
# --fallback-root=STORE` sends it once the server is back.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

check "vsftpd listens on 127.0.0.1" ftp_start
printf '[Receiver]\nUpload=%s\nUploadRetryDelay=1s\nUploadRetryDelayMax=2s\n' "$FTP_URL" >"$T/fallback-receiver.conf"
install_pattern "ReceiverConfig=$T/fallback-receiver.conf"
if [ -e /run/core_pipe.socket ]; then
        skip_all "a receiver listens on this host's /run/core_pipe.socket"
fi
STORE=$T/hoststore/host
NAME=cpt-fbup-$RANDOM
pid=$(sh -c 'ulimit -c unlimited; exec "$1" --name "$2" --size 8' sh "$CRASHER" "$NAME")
check "the core lands in the host's fallback store" wait_for_file "$STORE/core.$NAME.*.json"
JSON=$(find "$STORE" -maxdepth 1 -name "core.$NAME.*.json" | head -n1)
CORE=${JSON%.json}.zst
check "the record lists the FTP server in uploaded_to" wait_uploaded "$JSON" 1
UP_CORE=$(uploaded_file "$FTP_ROOT/incoming" "$(basename "$CORE")")
check "the core on the server is byte-identical to the stored one" cmp "$CORE" "$UP_CORE"
check "the record on the server is byte-identical to the stored one" \
        cmp "$JSON" "$(uploaded_file "$FTP_ROOT/incoming" "$(basename "$JSON")")"
check "the host's log says uploaded=ftp://127.0.0.1:$FTP_PORT/incoming/..." \
        wait_for_log "comm=\"$NAME\".* uploaded=\"?ftp://127\\.0\\.0\\.1:$FTP_PORT/incoming/" 30
host_log | grep -F "$NAME" | while read -r l; do diag "host: $l"; done

# The server is down at the crash.
server_stop ftp
NAME2=cpt-fbdn-$RANDOM
pid2=$(sh -c 'ulimit -c unlimited; exec "$1" --name "$2" --size 8' sh "$CRASHER" "$NAME2")
diag "host crasher pids $pid $pid2"
check "server down: the core lands in the host's fallback store" wait_for_file "$STORE/core.$NAME2.*.json"
JSON2=$(find "$STORE" -maxdepth 1 -name "core.$NAME2.*.json" | head -n1)
check "server down: the record carries the upload's error" wait_upload_error "$JSON2"
check "server down: the host's log says upload_error=..." wait_for_log "comm=\"$NAME2\".* upload_error=\"" 30
check "server down: the upload is pending in the fallback store" \
        test -n "$(find "$STORE/.upload" -name "core.$NAME2.*.pending" 2>/dev/null)"
check "vsftpd is back" ftp_start
pending_fallback() {
        "$RECEIVER" --upload-pending --fallback-root="$T/hoststore" --config="$T/fallback-receiver.conf" >>"$T/pending.out" 2>&1
}
until_done() {
        for _ in $(seq 40); do
                pending_fallback && return 0
                sleep 0.5
        done
        return 1
}
check "--upload-pending --fallback-root: exit 0 once the entry is due" until_done
diag "$(cat "$T/pending.out")"
check "server back: uploaded_to" wait_uploaded "$JSON2" 1 10
check "server back: the core on the server is byte-identical" \
        cmp "${JSON2%.json}.zst" "$(uploaded_file "$FTP_ROOT/incoming" "$(basename "${JSON2%.json}.zst")")"
check "server back: nothing pending" test -z "$(find "$STORE/.upload" -name '*.pending' 2>/dev/null)"
