#!/bin/bash
# The S3 server is down when the process crashes: the core is stored in the container and its
# upload stays pending, across a restart of the receiver. `core_pipe-receiver --upload-pending`
# says what remains (exit 1) while the server is down, and uploads it once it is up (exit 0).
# With KeepAfterUpload=no the local core goes then, and only then.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

KEY=CPTS3KEY$RANDOM
SECRET=cpt-s3-secret-$RANDOM-$RANDOM
# The server's port, with nothing listening on it yet.
S3_PORT=$(free_port)
S3_ENDPOINT=http://127.0.0.1:$S3_PORT

install_pattern
container_start p
upload_creds p "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$SECRET"
upload_conf p "Upload=s3://cores/later" "S3Endpoint=$S3_ENDPOINT" "UploadCredentials=/run/upload.cred" "KeepAfterUpload=no" "UploadRetryDelay=1s" "UploadRetryDelayMax=2s"
start_receiver p --config=/run/receiver.conf
NAME=cpt-upen-$RANDOM
upload_crash p "$NAME" --size 8
JSON=$(store_record p "$NAME")
CORE=${JSON%.json}.zst
check "the core is stored in the container" test -n "$JSON" -a -s "$CORE"
check "the record carries the upload's error" wait_upload_error "$JSON"
diag "upload_error: $(json_field "$JSON" upload_error 2>/dev/null)"
check "the upload is pending" pending_for p "$NAME"
check "KeepAfterUpload=no: the local core is kept while nothing confirmed it" test -s "$CORE"
cp "$CORE" "$T/core.copy"

# The pending entry survives the receiver's restart.
stop_receiver p
start_receiver p --config=/run/receiver.conf
check "after a restart of the receiver: still pending" pending_for p "$NAME"

# From here the pending run alone uploads: no resident receiver.
stop_receiver p
check "no receiver runs in the container" test -z "$(ct_receivers p)"
upload_pending p "$T/pending1.out"
rc=$?
diag "$(cat "$T/pending1.out")"
check "--upload-pending, server down: exit 1 (some remain)" test "$rc" = 1
check "still pending" pending_for p "$NAME"
check "the local core is still there" test -s "$CORE"

check "s3rver is up" s3_start "$KEY" "$SECRET"
check "--upload-pending, server up: exit 0 (all done) once the entry's retry is due" upload_pending_until_done p "$T/pending2.out"
diag "$(cat "$T/pending2.out")"
check "the record lists the S3 target in uploaded_to" wait_uploaded "$JSON" 1 10
K_CORE=$(s3_objects | grep "/$(basename "$CORE")\$")
check "the core is on the server, byte-identical to the one stored" cmp "$T/core.copy" "$(s3_object_file "$K_CORE")"
check "the record is on the server too" test -n "$(s3_objects | grep "/$(basename "$JSON")\$")"
check "uploaded_to has the core's size and SHA-256" uploaded_to_matches "$JSON" "^s3://cores/later/" "$T/core.copy"
check "nothing pending any more" wait_no_pending p "$NAME" 10
check "KeepAfterUpload=no: the local core is deleted now, the record kept" wait_core_deleted "$JSON" 10
check "the record stays, saying where the core is" test -s "$JSON"
upload_pending p "$T/pending3.out"
check "--upload-pending with nothing pending: exit 0" test "$?" = 0
diag_receiver_log p
