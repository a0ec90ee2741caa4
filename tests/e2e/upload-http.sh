#!/bin/bash
# Upload= to an HTTP server taking PUT (tests/servers/http-put.py on 127.0.0.1, basic
# authentication, checking Content-MD5 and Digest against the body): the core and the record
# arrive byte for byte with the user and password of the credentials file; a wrong password is
# refused (401), the core kept and pending, and uploaded by the pending run once it is right.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

PASSWORD=cpt-http-pw-$RANDOM-$RANDOM
check "the HTTP PUT server listens on 127.0.0.1" http_start "cptuser:$PASSWORD"
check "it listens on nothing but 127.0.0.1" server_loopback_only http
head -c 100000 /dev/urandom >"$T/probe"
check "server: a PUT without the password is refused" sh -c "! curl -sS -f -T '$T/probe' '$HTTP_URL/probe'"
check "server: a PUT with a wrong Content-MD5 is refused" \
        sh -c "! curl -sS -f -u 'cptuser:$PASSWORD' -H 'Content-MD5: AAAAAAAAAAAAAAAAAAAAAA==' -T '$T/probe' '$HTTP_URL/probe'"
check "server: a PUT with the password is stored" curl -sS -f -u "cptuser:$PASSWORD" -T "$T/probe" "$HTTP_URL/probe"

install_pattern
container_start h
upload_creds h "UPLOAD_USER=cptuser" "UPLOAD_PASSWORD=$PASSWORD"
upload_conf h "Upload=$HTTP_URL" "UploadCredentials=/run/upload.cred" "UploadRetryDelay=1s" "UploadRetryDelayMax=2s"
start_receiver h --config=/run/receiver.conf
NAME=cpt-uht-$RANDOM
upload_crash h "$NAME" --size 8
JSON=$(store_record h "$NAME")
CORE=${JSON%.json}.zst
check "the core is stored in the container" test -n "$JSON" -a -s "$CORE"
check "the record lists the HTTP target in uploaded_to" wait_uploaded "$JSON" 1
UP_CORE=$(uploaded_file "$HTTP_ROOT" "$(basename "$CORE")")
UP_JSON=$(uploaded_file "$HTTP_ROOT" "$(basename "$JSON")")
check "the core on the server is byte-identical to the local copy" cmp "$CORE" "$UP_CORE"
check "the record on the server is byte-identical to the local copy" cmp "$JSON" "$UP_JSON"
check "uploaded_to: the server's URL, the size and SHA-256" uploaded_to_matches "$JSON" "^http://127\\.0\\.0\\.1:$HTTP_PORT/cores/" "$CORE"
check "the server logged two PUTs answered 201" test "$(grep -c "PUT /cores/.*core\\.$NAME\\..* 201" "$(server_dir http)/http.log")" = 2
check "nothing left pending" wait_no_pending h "$NAME"

# A wrong password: refused, kept, pending; right again: uploaded by the pending run.
upload_creds h "UPLOAD_USER=cptuser" "UPLOAD_PASSWORD=not-$PASSWORD"
NAME=cpt-u401-$RANDOM
upload_crash h "$NAME" --size 8
JSON=$(store_record h "$NAME")
CORE=${JSON%.json}.zst
check "wrong password: the core is stored in the container" test -n "$JSON" -a -s "$CORE"
check "wrong password: the record carries the upload's error" wait_upload_error "$JSON"
diag "upload_error: $(json_field "$JSON" upload_error 2>/dev/null)"
check "wrong password: the error names the refusal (401)" record_has "$JSON" "'401' in str(r['upload_error'])"
check "wrong password: the server answered 401" grep -q "PUT /cores/.*core\\.$NAME\\..* 401" "$(server_dir http)/http.log"
check "wrong password: nothing stored on the server" test -z "$(find "$HTTP_ROOT" -name "*$NAME*")"
check "wrong password: pending" pending_for h "$NAME"
upload_creds h "UPLOAD_USER=cptuser" "UPLOAD_PASSWORD=$PASSWORD"
check "password fixed: the resident receiver's retry uploads it (uploaded_to)" wait_uploaded "$JSON" 1 30
check "password fixed: the core on the server is byte-identical" cmp "$CORE" "$(uploaded_file "$HTTP_ROOT" "$(basename "$CORE")")"
check "password fixed: nothing pending" wait_no_pending h "$NAME" 10
diag_receiver_log h
