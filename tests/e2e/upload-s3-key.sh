#!/bin/bash
# An access key the S3 server does not know: the upload is refused, the core stays in the
# container with its pending entry and the error in its record; once the credentials file holds
# the right key, the pending run (`core_pipe-receiver --upload-pending`) uploads it, and the
# record and the queue say so.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

KEY=CPTS3KEY$RANDOM
SECRET=cpt-s3-secret-$RANDOM-$RANDOM
check "s3rver listens on 127.0.0.1" s3_start "$KEY" "$SECRET"

install_pattern
container_start k
upload_creds k "AWS_ACCESS_KEY_ID=CPTUNKNOWN$RANDOM" "AWS_SECRET_ACCESS_KEY=$SECRET"
upload_conf k "Upload=$S3_URL/keys" "S3Endpoint=$S3_ENDPOINT" "UploadCredentials=/run/upload.cred" "UploadRetryDelay=1s" "UploadRetryDelayMax=2s"
start_receiver k --config=/run/receiver.conf
NAME=cpt-upkey-$RANDOM
upload_crash k "$NAME" --size 8
JSON=$(store_record k "$NAME")
CORE=${JSON%.json}.zst
check "the core is stored in the container" test -n "$JSON" -a -s "$CORE"
check "the record carries the upload's error" wait_upload_error "$JSON"
diag "upload_error: $(json_field "$JSON" upload_error 2>/dev/null)"
check "the error says the key was refused (403 / InvalidAccessKeyId)" \
        record_has "$JSON" "'InvalidAccessKeyId' in str(r['upload_error']) or '403' in str(r['upload_error'])"
check "the server refused a request with that key" grep -q "InvalidAccessKeyId\\| 403 " "$(server_dir s3)/s3rver.log"
check "nothing in uploaded_to" record_has "$JSON" "not r.get('uploaded_to')"
check "the upload is pending" pending_for k "$NAME"
check "no object on the server" test -z "$(s3_objects)"
check "the local core is kept" test -s "$CORE"

# The pending run with the key still wrong: exit 1 (some remain).
upload_pending k "$T/pending1.out"
rc=$?
diag "$(cat "$T/pending1.out")"
check "--upload-pending with the wrong key: exit 1 (some remain)" test "$rc" = 1
check "still pending, still no object" sh -c "test -z \"\$(find '$S3_DATA/cores' -name '*$NAME*' -not -path '*_S3rver_uploads*')\""
check "still pending after the run" pending_for k "$NAME"

# The key is fixed: the resident receiver's next retry (UploadRetryDelay=1s, at most 2 s apart)
# uploads it.
upload_creds k "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$SECRET"
check "key fixed: the receiver's retry lists the S3 target in uploaded_to" wait_uploaded "$JSON" 1 30
K_CORE=$(s3_objects | grep "/$(basename "$CORE")\$")
check "the core is on the server, byte-identical" cmp "$CORE" "$(s3_object_file "$K_CORE")"
check "the record is on the server too" test -n "$(s3_objects | grep "/$(basename "$JSON")\$")"
check "uploaded_to names s3://cores/keys/..., the size and SHA-256" uploaded_to_matches "$JSON" "^s3://cores/keys/" "$CORE"
check "nothing pending any more" wait_no_pending k "$NAME" 10
upload_pending k "$T/pending2.out"
check "--upload-pending now: exit 0 (nothing left)" test "$?" = 0
check "the local core is kept (KeepAfterUpload= default)" test -s "$CORE"

# More entries than one pass takes (4096): the run says some remain (exit 1), and the next one
# takes the rest. Here 4100 entries the container planted, not ours: each is removed. (The
# resident receiver is stopped first: its own uploader would take some of them.)
diag_receiver_log k
check "the resident receiver stops" stop_receiver k
Q=$(ct_root k)/var/lib/core_pipe/.upload
for i in $(seq 4100); do echo junk >"$Q/planted-$i.pending"; done
upload_pending k "$T/pending3.out"
check "--upload-pending over 4100 entries: exit 1 (more than a pass takes)" test "$?" = 1
check "  and the log says the others wait for the next pass" grep -q "more than 4096 entries" "$T/pending3.out"
upload_pending k "$T/pending4.out"
check "the next run takes the rest: exit 0, none left" \
        sh -c "[ $? = 0 ] && [ -z \"\$(find '$Q' -name 'planted-*')\" ]"
