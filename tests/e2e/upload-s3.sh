#!/bin/bash
# Upload= to an S3 server (s3rver on 127.0.0.1, the test's own access key in UploadCredentials=):
# a small core goes in one PUT, a 1 GiB process's core through a multipart upload of 16 MiB parts
# (the default UploadPartSize=); both arrive byte for byte under the bucket's prefix with their
# records, the multipart upload is completed (no parts left on the server), and each record says
# where its core went.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

KEY=CPTS3KEY$RANDOM
SECRET=cpt-s3-secret-$RANDOM-$RANDOM
check "s3rver listens on 127.0.0.1" s3_start "$KEY" "$SECRET"
check "s3rver listens on nothing but 127.0.0.1" server_loopback_only s3
head -c 100000 /dev/urandom >"$T/probe"
check "server: the test's key may upload" s3_curl "$KEY" "$SECRET" -f -T "$T/probe" "$S3_ENDPOINT/cores/probe"
check "server: an unknown key may not" sh -c "! curl -sS -f --aws-sigv4 aws:amz:us-east-1:s3 --user OTHER:x -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -T '$T/probe' '$S3_ENDPOINT/cores/probe2'"
check "server: an unsigned request may not" sh -c "! curl -sS -f -T '$T/probe' '$S3_ENDPOINT/cores/probe3'"

install_pattern
mkdir -p "$T/var"
CT_VAR=$T/var container_start s3
upload_creds s3 "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$SECRET"
upload_conf s3 "Upload=$S3_URL/ci" "S3Endpoint=$S3_ENDPOINT" "S3Region=us-east-1" "UploadCredentials=/run/upload.cred"
start_receiver s3 --config=/run/receiver.conf

# s3_key_of BASENAME: the key of the one object whose name ends in /BASENAME.
s3_key_of() {
        s3_objects | grep -E "(^|/)$(printf '%s' "$1" | sed 's/[.]/\\./g')\$"
}

NAME=cpt-ups3-$RANDOM
upload_crash s3 "$NAME" --size 8
JSON=$(store_record s3 "$NAME")
CORE=${JSON%.json}.zst
check "small core: stored in the container" test -n "$JSON" -a -s "$CORE"
check "small core: the record lists the S3 target in uploaded_to" wait_uploaded "$JSON" 1
K_CORE=$(s3_key_of "$(basename "$CORE")")
K_JSON=$(s3_key_of "$(basename "$JSON")")
diag "objects: $(s3_objects | tr '\n' ' ')"
check "small core: one object for the core, under the prefix ci/" sh -c "test \"\$(printf '%s\n' '$K_CORE' | grep -c '^ci/')\" = 1"
check "small core: the object is byte-identical to the local core" cmp "$CORE" "$(s3_object_file "$K_CORE")"
check "small core: the record's object is byte-identical to the local record" cmp "$JSON" "$(s3_object_file "$K_JSON")"
check "small core: uploaded_to names s3://cores/ci/..., the size and SHA-256" \
        uploaded_to_matches "$JSON" "^s3://cores/ci/" "$CORE"
check "small core: nothing left pending" wait_no_pending s3 "$NAME"

# 1 GiB: a multipart upload. The process is a quarter random: its core is about 260 MiB stored.
NAME=cpt-ubig-$RANDOM
t0=$(date +%s)
upload_crash s3 "$NAME" --size 1024
JSON=$(store_record s3 "$NAME")
CORE=${JSON%.json}.zst
check "1 GiB: stored in the container" test -n "$JSON" -a -s "$CORE"
check "1 GiB: the record lists the S3 target in uploaded_to (within 150 s)" wait_uploaded "$JSON" 1 150
diag "1 GiB: crash to uploaded in $(($(date +%s) - t0)) s; stored $(stat -c %s "$CORE") bytes"
K_CORE=$(s3_key_of "$(basename "$CORE")")
check "1 GiB: the object is there" test -n "$K_CORE"
check "1 GiB: the object is byte-identical to the local core" cmp "$CORE" "$(s3_object_file "$K_CORE")"
check "1 GiB: it came in parts (a multipart upload of more than one part)" \
        grep -q "s3.js: part 2 of /cores/$K_CORE\$" "$(server_dir s3)/s3rver.log"
check "1 GiB: the multipart upload was completed: no parts left on the server" \
        test -z "$(find "$S3_DATA/cores" -path '*_S3rver_uploads*' -type f 2>/dev/null)"
check "1 GiB: uploaded_to has the core's size and SHA-256" uploaded_to_matches "$JSON" "^s3://cores/ci/" "$CORE"
check "1 GiB: the core opens in gdb at crash_here" shows_crash_here "$(s3_object_file "$K_CORE")"
check "1 GiB: nothing left pending" wait_no_pending s3 "$NAME"
diag_receiver_log s3
