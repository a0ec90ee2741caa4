#!/bin/bash
# Upload= to an FTP server configured as the issue's users run theirs (vsftpd: anonymous logins
# only, upload-only: no listing, no download, no overwrite, no delete). A crash in a container is
# stored there, then its core and record arrive on the server byte for byte as stored (the record
# but the upload fields it gets afterwards); the record says where they went; nothing stays
# pending. KeepAfterUpload=no deletes the local core once the server confirmed it.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

check "vsftpd listens on 127.0.0.1" ftp_start
check "vsftpd listens on nothing but 127.0.0.1" server_loopback_only ftp
# The server is what the issue describes: what a client may not do there, it cannot.
head -c 100000 /dev/urandom >"$T/probe"
check "server: an anonymous upload works" curl -sS --ftp-create-dirs -T "$T/probe" "$FTP_URL/probe/p"
check "server: no download" sh -c "! curl -sS -o '$T/probe.back' '$FTP_URL/probe/p'"
check "server: no listing" sh -c "! curl -sS '$FTP_URL/probe/'"
check "server: no overwrite" sh -c "! curl -sS -T '$T/probe' '$FTP_URL/probe/p'"

install_pattern
container_start up
R=$(ct_root up)
upload_conf up "Upload=$FTP_URL"
start_receiver up --config=/run/receiver.conf
NAME=cpt-upftp-$RANDOM
upload_crash up "$NAME" --size 8
JSON=$(store_record up "$NAME")
check "the core is stored in the container" test -n "$JSON" -a -s "${JSON%.json}.zst"
CORE=${JSON%.json}.zst
check "the record lists the FTP server in uploaded_to" wait_uploaded "$JSON" 1
UP_CORE=$(uploaded_file "$FTP_ROOT/incoming" "$(basename "$CORE")")
UP_JSON=$(uploaded_file "$FTP_ROOT/incoming" "$(basename "$JSON")")
check "the core is on the server, once" test -n "$UP_CORE"
check "the core on the server is byte-identical to the local copy" cmp "$CORE" "$UP_CORE"
check "the record is on the server, once" test -n "$UP_JSON"
check "the record on the server is byte-identical to the local copy" cmp "$JSON" "$UP_JSON"
check "the core from the server opens in gdb at crash_here" shows_crash_here "$UP_CORE"
check "uploaded_to: the server's URL, the core's size and SHA-256, a time" \
        uploaded_to_matches "$JSON" "^ftp://127\\.0\\.0\\.1:$FTP_PORT/incoming/" "$CORE"
check "no upload_error in the record" record_has "$JSON" "not r.get('upload_error')"
check "nothing left pending" wait_no_pending up "$NAME"
check "KeepAfterUpload= (default yes): the local core stays" test -s "$CORE"
check "vsftpd logged two uploads (core and record)" \
        test "$(grep -c "OK UPLOAD: .*core\\.$NAME\\." "$(server_dir ftp)/transfers.log")" = 2
check "the receiver logged the upload" wait_for_text "$R/run/receiver.log" "$NAME.*ftp://127\\.0\\.0\\.1:$FTP_PORT/incoming"

# KeepAfterUpload=no: the core goes once the server has it, never before.
stop_receiver up
upload_conf up "Upload=$FTP_URL" "KeepAfterUpload=no"
start_receiver up --config=/run/receiver.conf
NAME2=cpt-udel-$RANDOM
upload_crash up "$NAME2" --size 8
JSON2=$(store_record up "$NAME2")
check "KeepAfterUpload=no: the record is kept" test -n "$JSON2"
check "KeepAfterUpload=no: the record says where the core went" wait_uploaded "$JSON2" 1
UP_CORE2=$(uploaded_file "$FTP_ROOT/incoming" "$(basename "${JSON2%.json}.zst")")
check "KeepAfterUpload=no: the core is on the server" test -s "$UP_CORE2"
check "KeepAfterUpload=no: the local core is deleted, the record kept" wait_core_deleted "$JSON2"
check "KeepAfterUpload=no: the server's copy opens in gdb at crash_here" shows_crash_here "$UP_CORE2"
diag_receiver_log up
