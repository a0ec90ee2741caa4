#!/bin/bash
# Storage=none + Upload= to the upload-only FTP server: the core is streamed from the pipe to the
# server, compressed, and nothing about it is written in the container; the server's copy is a
# good core. With the server down the core is lost, and the receiver's log and the host's log
# line say so, naming the URL.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

check "vsftpd listens on 127.0.0.1" ftp_start

check "vsftpd listens on nothing but 127.0.0.1" server_loopback_only ftp

install_pattern
container_start st
R=$(ct_root st)
upload_conf st "Storage=none" "Upload=$FTP_URL"
start_receiver st --config=/run/receiver.conf
# Every file of the container's writable trees before the crash: nothing may be added.
list_files() { find "$R/var" "$R/tmp" "$R/run" -xdev -type f -not -name receiver.log 2>/dev/null | sort; }
list_files >"$T/before"
NAME=cpt-ust-$RANDOM
upload_crash st "$NAME" --size 64
UP_CORE=
for _ in $(seq 300); do
        UP_CORE=$(uploaded_file "$FTP_ROOT/incoming" "core.$NAME.*.zst" 2>/dev/null) && break
        sleep 0.1
done
check "the core is on the server" test -n "$UP_CORE"
check "vsftpd saw the whole upload (its log says OK UPLOAD)" \
        wait_for_text "$(server_dir ftp)/transfers.log" "OK UPLOAD: .*core\\.$NAME\\..*\\.zst"
check "the server's core decompresses with its checksum" zstd -q -t "$UP_CORE"
check "the server's core is the whole 64 MiB process (gdb opens it at crash_here)" shows_crash_here "$UP_CORE"
check "the server's core is no bigger than compressed (under 32 MiB)" test "$(stat -c %s "$UP_CORE")" -lt $((32 << 20))
list_files >"$T/after"
check "nothing was written in the container's /var, /tmp or /run" diff "$T/before" "$T/after"
check "no store entry at all for the crash" test -z "$(find "$R" -xdev -name "*$NAME*" 2>/dev/null)"
check "the receiver logged where the core went" wait_for_text "$R/run/receiver.log" "$NAME.*ftp://127\\.0\\.0\\.1:$FTP_PORT/incoming"
check "the host's log line says the receiver took it" wait_for_log "comm=\"$NAME\" .*receiver=container"

# The server is down: the core cannot go anywhere. It is lost, and the logs say so.
server_stop ftp
check "the FTP server is down" sh -c "! curl -sS -m 5 -T '$T/before' '$FTP_URL/x'"
NAME2=cpt-ulo-$RANDOM
upload_crash st "$NAME2" --size 8
check "the receiver's log says the core is lost, naming the URL and the reason" \
        wait_for_text "$R/run/receiver.log" "$NAME2.*lost: upload to ftp://127\\.0\\.0\\.1:$FTP_PORT/incoming.* failed: ." 60
check "the host's log line for the crash says it is lost" wait_for_log "comm=\"$NAME2\" .*lost" 30
host_log | grep "comm=\"$NAME2\"" | while read -r l; do diag "host: $l"; done
grep "$NAME2" "$R/run/receiver.log" | while read -r l; do diag "receiver: $l"; done
list_files >"$T/after2"
check "server down: still nothing written in the container" diff "$T/before" "$T/after2"
check "server down: no store entry for the crash" test -z "$(find "$R" -xdev -name "*$NAME2*" 2>/dev/null)"
check "the receiver still serves crashes after a lost one" test -S "$R/run/core_pipe.socket"
diag_receiver_log st
