#!/bin/bash
# The S3 server dies in the middle of a multipart upload (it SIGKILLs itself when the 3rd part
# arrives, two parts stored): nothing of the core is visible on the server, the core stays in the
# container, pending. The server comes back (same port, same data): the pending run uploads the
# core whole (resumed or restarted), and still only whole objects are visible.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

KEY=CPTS3KEY$RANDOM
SECRET=cpt-s3-secret-$RANDOM-$RANDOM
s3_start_dying() { S3_TEST_DIE_AT_PART=$1 s3_start "$2" "$3"; }
check "s3rver listens on 127.0.0.1 (it dies at the 3rd part)" s3_start_dying 3 "$KEY" "$SECRET"
S3_PID=$(server_pid s3)

install_pattern
container_start i
upload_creds i "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$SECRET"
# Parts of 5 MiB (S3's smallest): a 128 MiB process's core (about 33 MiB) is 7 parts.
upload_conf i "Upload=$S3_URL/cut" "S3Endpoint=$S3_ENDPOINT" "UploadCredentials=/run/upload.cred" "UploadPartSize=5M" "UploadRetryDelay=1s" "UploadRetryDelayMax=2s"
start_receiver i --config=/run/receiver.conf
NAME=cpt-upcut-$RANDOM
upload_crash i "$NAME" --size 128
JSON=$(store_record i "$NAME")
CORE=${JSON%.json}.zst
check "the core is stored in the container" test -n "$JSON" -a -s "$CORE"
diag "stored $(stat -c %s "$CORE" 2>/dev/null) bytes"
dead() { ! kill -0 "$S3_PID" 2>/dev/null; }
wait_dead() {
        for _ in $(seq 600); do dead && return 0; sleep 0.1; done
        return 1
}
check "the server died at the 3rd part" wait_dead
check "its log says so" grep -q "part 3 arrived: dying" "$(server_dir s3)/s3rver.log"
server_forget s3 # it is gone: nothing to stop
check "two parts had reached the server" test -n "$(find "$S3_DATA/cores" -path '*_S3rver_uploads*' -name 2 -type f)"
check "the record carries the upload's error" wait_upload_error "$JSON" 60
diag "upload_error: $(json_field "$JSON" upload_error 2>/dev/null)"
check "the upload is pending" pending_for i "$NAME"
check "nothing of the core is visible on the server" test -z "$(s3_objects | grep "$NAME")"
check "the local core is kept" test -s "$CORE"

# Back, on the same port with the same data, without the fault.
check "s3rver is back" s3_start "$KEY" "$SECRET"
check "the receiver's retry lists the S3 target in uploaded_to" wait_uploaded "$JSON" 1 60
K_CORE=$(s3_objects | grep "/$(basename "$CORE")\$")
check "one object for the core" test "$(printf '%s\n' "$K_CORE" | grep -c .)" = 1
check "the object is byte-identical to the local core" cmp "$CORE" "$(s3_object_file "$K_CORE")"
check "uploaded_to has the core's size and SHA-256" uploaded_to_matches "$JSON" "^s3://cores/cut/" "$CORE"
check "the visible objects are the core and its record, nothing else" \
        test "$(s3_objects | grep -c "$NAME")" = 2
check "nothing pending any more" wait_no_pending i "$NAME" 10
# A multipart upload abandoned while the server was down cannot be aborted there: its parts stay
# under _S3rver_uploads (never listed as objects). Say how many, for the report.
diag "parts of unfinished uploads left on the server: $(find "$S3_DATA/cores" -path '*_S3rver_uploads*' -type f -name '[0-9]*' -not -name '*.md5' | wc -l)"
diag_receiver_log i
