#!/bin/bash
# Credentials never leak: uploads to S3 (a secret access key) and HTTP (a password) that succeed,
# that are refused (wrong secret: a password the server rejects) and that find no server, with the
# credentials from UploadCredentials=, from the environment and from $CREDENTIALS_DIRECTORY. Then
# every log (the receiver's, the host's, --upload-pending's output), every record and pending
# entry in the store, every record uploaded, every journal entry (journald runs in the container)
# and every receiver's command line is searched for the secrets: absent. A password written into
# an Upload= URL is refused without being repeated.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/servers.sh"
tap_init
servers_init
require_root_kernel

KEY=CPTS3KEY$RANDOM
S3_SECRET=cpt-s3-secret-$RANDOM$RANDOM$RANDOM
PASSWORD=cpt-http-pw-$RANDOM$RANDOM$RANDOM
check "s3rver listens on 127.0.0.1" s3_start "$KEY" "$S3_SECRET"
check "the HTTP PUT server listens on 127.0.0.1" http_start "cptuser:$PASSWORD"

install_pattern
container_start sec
R=$(ct_root sec)
check "journald runs in the container" ct_journald sec
upload_creds sec "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$S3_SECRET" "UPLOAD_USER=cptuser" "UPLOAD_PASSWORD=$PASSWORD"
CONF=("Upload=$S3_URL/sec" "Upload=$HTTP_URL" "S3Endpoint=$S3_ENDPOINT" "UploadRetryDelay=1s" "UploadRetryDelayMax=2s")
upload_conf sec "${CONF[@]}" "UploadCredentials=/run/upload.cred"
start_receiver sec --config=/run/receiver.conf
ARGV_LOG=$T/argv.log
# note_argv: every receiver's command line and environment's names, now.
note_argv() {
        local p
        for p in $(ct_receivers sec); do
                tr '\0' ' ' <"/proc/$p/cmdline" >>"$ARGV_LOG" 2>/dev/null
                echo >>"$ARGV_LOG"
        done
}
note_argv

# 1. Both targets take the core.
N_OK=cpt-xok-$RANDOM
upload_crash sec "$N_OK" --size 8
J_OK=$(store_record sec "$N_OK")
check "credentials file: both targets in uploaded_to" wait_uploaded "$J_OK" 2
note_argv

# 2. The HTTP password is wrong (refused: 401), S3 still takes it.
upload_creds sec "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$S3_SECRET" "UPLOAD_USER=cptuser" "UPLOAD_PASSWORD=x$PASSWORD"
N_401=cpt-x401-$RANDOM
upload_crash sec "$N_401" --size 8
J_401=$(store_record sec "$N_401")
check "a wrong password: the record carries the error" wait_upload_error "$J_401"
check "a wrong password: the server refused it" grep -q "core\\.$N_401\\..* 401" "$(server_dir http)/http.log"
note_argv

# 3. No server at all.
server_stop s3
server_stop http
upload_creds sec "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$S3_SECRET" "UPLOAD_USER=cptuser" "UPLOAD_PASSWORD=$PASSWORD"
N_DOWN=cpt-xdown-$RANDOM
upload_crash sec "$N_DOWN" --size 8
J_DOWN=$(store_record sec "$N_DOWN")
check "servers down: the record carries the error" wait_upload_error "$J_DOWN"
upload_pending sec "$T/pending1.out"
check "servers down: --upload-pending exits 1" test "$?" = 1
note_argv

# 4. The same from the environment, and then from $CREDENTIALS_DIRECTORY, servers up again.
stop_receiver sec
check "s3rver is back" s3_start "$KEY" "$S3_SECRET"
check "the HTTP server is back" http_start "cptuser:$PASSWORD"
upload_conf sec "${CONF[@]}"
rm -f "$R/run/upload.cred"
(ct_exec sec /usr/bin/env "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$S3_SECRET" UPLOAD_USER=cptuser \
        "UPLOAD_PASSWORD=$PASSWORD" /bin/sh -c 'exec /build/receiver/core_pipe-receiver --listen --config=/run/receiver.conf >>/run/receiver.log 2>&1' &) 2>/dev/null
wait_receiver_socket sec
note_argv
N_ENV=cpt-xenv-$RANDOM
upload_crash sec "$N_ENV" --size 8
J_ENV=$(store_record sec "$N_ENV")
check "environment: both targets in uploaded_to" wait_uploaded "$J_ENV" 2
note_argv
check "environment: the core of the crash while the servers were down is uploaded" wait_uploaded "$J_DOWN" 2 30
check "environment: the crash refused by the HTTP server is uploaded" wait_uploaded "$J_401" 2 30
CT_TIMEOUT=60 ct_exec sec /usr/bin/env "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$S3_SECRET" UPLOAD_USER=cptuser \
        "UPLOAD_PASSWORD=$PASSWORD" /build/receiver/core_pipe-receiver --upload-pending --config=/run/receiver.conf >"$T/pending2.out" 2>&1
check "environment: --upload-pending has nothing left (exit 0)" test "$?" = 0
stop_receiver sec
mkdir -p "$R/run/creds"
(umask 077 && printf '%s\n' "AWS_ACCESS_KEY_ID=$KEY" "AWS_SECRET_ACCESS_KEY=$S3_SECRET" UPLOAD_USER=cptuser \
        "UPLOAD_PASSWORD=$PASSWORD" >"$R/run/creds/core_pipe-upload")
(ct_exec sec /usr/bin/env CREDENTIALS_DIRECTORY=/run/creds \
        /bin/sh -c 'exec /build/receiver/core_pipe-receiver --listen --config=/run/receiver.conf >>/run/receiver.log 2>&1' &) 2>/dev/null
wait_receiver_socket sec
N_CRED=cpt-xcred-$RANDOM
upload_crash sec "$N_CRED" --size 8
J_CRED=$(store_record sec "$N_CRED")
check "\$CREDENTIALS_DIRECTORY: both targets in uploaded_to" wait_uploaded "$J_CRED" 2
note_argv

# A password written into an Upload= URL is refused, and the refusal does not repeat it (the
# message goes to the journal or the console). In the settings file, and on the command line.
printf '[Receiver]\nUpload=http://cptuser:%s@127.0.0.1:%s/cores\n' "$PASSWORD" "$HTTP_PORT" >"$T/pw-in-url.conf"
"$RECEIVER" --listen "$T/pw.sock" --config="$T/pw-in-url.conf" >"$T/pw-in-url.out" 2>&1
rc=$?
diag "$(cat "$T/pw-in-url.out")"
check "a password in an Upload= URL (settings file): refused (exit 1), not listening" test "$rc" = 1 -a ! -S "$T/pw.sock"
"$RECEIVER" --listen "$T/pw.sock" "--upload=ftp://cptuser:$PASSWORD@127.0.0.1:$HTTP_PORT/cores" >"$T/pw-in-arg.out" 2>&1
rc=$?
check "a password in --upload=: refused (exit 2), not listening" test "$rc" = 2 -a ! -S "$T/pw.sock"
check "the refusals do not repeat the password" secret_absent "$PASSWORD" "$T/pw-in-url.out" "$T/pw-in-arg.out"

# Everything written about these crashes.
host_log >"$T/host.log"
ct_journal sec >"$T/journal.export"
check "the journal holds the crashes' entries" grep -q "core\\.$N_OK\\." "$T/journal.export"
check "a journal entry says where the core went (COREDUMP_UPLOADED_TO=)" grep -q "^COREDUMP_UPLOADED_TO=" "$T/journal.export"
FILES=("$R/run/receiver.log" "$T/host.log" "$T/journal.export" "$T/pending1.out" "$T/pending2.out" "$ARGV_LOG"
        "$T/pw-in-url.out" "$T/pw-in-arg.out")
while IFS= read -r f; do FILES+=("$f"); done < <(find "$R/var/lib/core_pipe" -type f -not -name '*.zst')
while IFS= read -r f; do FILES+=("$f"); done < <(find "$S3_DATA" "$HTTP_ROOT" -type f -name '*.json*')
printf '%s\n' "${FILES[@]}" >"$T/searched.list"
diag "searched: ${#FILES[@]} files, $(find "$R/var/lib/core_pipe" -type f -name '*.json' | wc -l) records, $(find "$R/var/lib/core_pipe" -type f -name '*.pending' | wc -l) pending entries"
# The search finds a secret where it is (a check of the check).
secret_present() { ! secret_absent "$@" 2>/dev/null; }
check "the search finds the secret where it is (the credentials file)" secret_present "$S3_SECRET" "$R/run/creds/core_pipe-upload"
check "the S3 secret key is in no log, record, pending entry, journal entry or command line" secret_absent_list "$S3_SECRET" "$T/searched.list"
check "the HTTP password is in none of them" secret_absent_list "$PASSWORD" "$T/searched.list"
check "the HTTP password (as the wrong one was) is in none of them" secret_absent_list "x$PASSWORD" "$T/searched.list"
check "no basic-authentication header (base64 of user:password) either" \
        secret_absent_list "$(printf '%s' "cptuser:$PASSWORD" | base64 -w0)" "$T/searched.list"
diag_receiver_log sec
