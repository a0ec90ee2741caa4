#!/bin/bash
# Upload= to an SFTP server (sshd on 127.0.0.1, internal-sftp only), its host key pinned in a
# known_hosts file (UPLOAD_SSH_KNOWN_HOSTS): with a password, then with a key (UPLOAD_SSH_KEY); the
# core and the record arrive byte for byte. A server whose host key is not the pinned one gets
# nothing: the core stays in the container, pending, with the error in its record.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

PASSWORD=cpt-sftp-pw-$RANDOM-$RANDOM
check "sshd listens on 127.0.0.1" sftp_start "$PASSWORD"
check "sshd listens on nothing but 127.0.0.1" server_loopback_only sftp
head -c 100000 /dev/urandom >"$T/probe"
check "server: a wrong password is refused" sh -c "! curl -sS -u 'root:x$PASSWORD' -T '$T/probe' '$SFTP_URL/probe'"
check "server: the password works" curl -sS -u "root:$PASSWORD" -T "$T/probe" "$SFTP_URL/probe"

install_pattern
container_start sf
R=$(ct_root sf)
install -m 0600 "$SFTP_KNOWN_HOSTS" "$R/run/known_hosts"
install -m 0600 "$SFTP_KEY" "$R/run/sftp_key"
mkdir -p "$SFTP_ROOT/cores"
upload_creds sf "UPLOAD_USER=root" "UPLOAD_PASSWORD=$PASSWORD" "UPLOAD_SSH_KNOWN_HOSTS=/run/known_hosts"
upload_conf sf "Upload=$SFTP_URL/cores" "UploadCredentials=/run/upload.cred"
start_receiver sf --config=/run/receiver.conf

# sftp_crash LABEL: a crash, and its core and record on the server.
sftp_crash() {
        local label=$1 name json core up
        name=cpt-s${label:0:3}-$RANDOM
        upload_crash sf "$name" --size 8
        json=$(store_record sf "$name")
        core=${json%.json}.zst
        check "$label: the core is stored in the container" test -n "$json" -a -s "$core"
        check "$label: the record lists the SFTP target in uploaded_to" wait_uploaded "$json" 1
        up=$(uploaded_file "$SFTP_ROOT/cores" "$(basename "$core")")
        check "$label: the core on the server is byte-identical to the local copy" cmp "$core" "$up"
        check "$label: the record on the server is byte-identical to the local copy" \
                cmp "$json" "$(uploaded_file "$SFTP_ROOT/cores" "$(basename "$json")")"
        check "$label: uploaded_to: sftp://127.0.0.1:$SFTP_PORT/..., the size and SHA-256" \
                uploaded_to_matches "$json" "^sftp://(root@)?127\\.0\\.0\\.1:$SFTP_PORT/" "$core"
        check "$label: nothing left pending" wait_no_pending sf "$name"
}
# logins METHOD: how many logins of root with METHOD sshd logged.
logins() { grep -c "Accepted $1 for root from 127.0.0.1" "$(server_dir sftp)/sshd.log"; }
before=$(logins password)
sftp_crash password
check "password: sshd logged root's password logins (core and record)" test "$(logins password)" -gt "$before"

upload_creds sf "UPLOAD_USER=root" "UPLOAD_SSH_KEY=/run/sftp_key" "UPLOAD_SSH_KNOWN_HOSTS=/run/known_hosts"
sftp_crash key
check "key: sshd logged root's key logins" test "$(logins publickey)" -gt 0

# A host key that is not the pinned one (another server on the same address and port).
server_stop sftp
rm -f "$(server_dir sftp)/host_key" "$(server_dir sftp)/host_key.pub"
cp "$R/run/known_hosts" "$T/known_hosts.pinned"
check "sshd is back with another host key" sftp_start "$PASSWORD"
cp "$T/known_hosts.pinned" "$R/run/known_hosts"
check "the pinned key is not the server's any more" sh -c "! cmp -s '$T/known_hosts.pinned' '$SFTP_KNOWN_HOSTS'"
upload_creds sf "UPLOAD_USER=root" "UPLOAD_PASSWORD=$PASSWORD" "UPLOAD_SSH_KNOWN_HOSTS=/run/known_hosts"
NAME=cpt-smitm-$RANDOM
LOGINS=$(grep -c "Accepted .* for root" "$(server_dir sftp)/sshd.log")
upload_crash sf "$NAME" --size 8
JSON=$(store_record sf "$NAME")
check "another host key: the core is stored in the container" test -n "$JSON" -a -s "${JSON%.json}.zst"
check "another host key: the record carries the upload's error" wait_upload_error "$JSON"
diag "upload_error: $(json_field "$JSON" upload_error 2>/dev/null)"
check "another host key: nothing reached the server" test -z "$(find "$SFTP_ROOT" -name "*$NAME*")"
check "another host key: no login on the server" test "$(grep -c "Accepted .* for root" "$(server_dir sftp)/sshd.log")" = "$LOGINS"
check "another host key: pending" pending_for sf "$NAME"
diag_receiver_log sf

# No host key pinned at all (no UPLOAD_SSH_KNOWN_HOSTS): a server that cannot be told from an
# impostor gets neither the password nor the core.
upload_creds sf "UPLOAD_USER=root" "UPLOAD_PASSWORD=$PASSWORD"
NAME=cpt-snokh-$RANDOM
LOGINS=$(grep -c "Accepted .* for root" "$(server_dir sftp)/sshd.log")
upload_crash sf "$NAME" --size 8
JSON=$(store_record sf "$NAME")
check "no known_hosts: the core is stored in the container" test -n "$JSON" -a -s "${JSON%.json}.zst"
check "no known_hosts: the record carries the upload's error" wait_upload_error "$JSON"
diag "upload_error: $(json_field "$JSON" upload_error 2>/dev/null)"
check "no known_hosts: no login on the server (the password was not sent)" \
        test "$(grep -c "Accepted .* for root" "$(server_dir sftp)/sshd.log")" = "$LOGINS"
check "no known_hosts: nothing reached the server" test -z "$(find "$SFTP_ROOT" -name "*$NAME*")"
diag_receiver_log sf 4
