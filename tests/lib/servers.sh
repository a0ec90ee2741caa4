# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables each starter sets are read by the tests
# Upload servers for the end-to-end tests of Upload= (issue 13): vsftpd (anonymous, upload-only),
# sshd (SFTP), s3rver (S3, from tests/servers/node, installed by tools/deps.sh) and a small HTTP
# PUT server (tests/servers/http-put.py). Each one:
#   - listens on 127.0.0.1 only, on a port of its own (free when chosen, kept across a restart);
#   - keeps its files, configuration and log in a private directory under $T;
#   - runs in a session of its own, gets SIGTERM when the test's shell dies (even by SIGKILL:
#     setpriv --pdeathsig), and is stopped with everything it forked by servers_stop_all, which
#     servers_init puts in front of the test's EXIT trap;
#   - is waited for with a bound (10 s), never a fixed sleep.
# Source after lib.sh; call servers_init after tap_init.

SERVERS_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../servers" && pwd)
SERVER_NAMES=()

# servers_init: every server is stopped when the test exits, before lib.sh's own cleanup (which
# restores the kernel's settings and prints the plan line).
servers_init() {
        trap servers_exit EXIT
}

servers_exit() {
        local rc=$?
        servers_stop_all
        (exit "$rc")
        tap_cleanup
}

# free_port: a TCP port nobody listens on at 127.0.0.1 (the kernel's pick).
free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# server_pid NAME: the pid of server NAME (the leader of its session), or nothing.
server_pid() {
        eval "echo \${SERVER_PID_$1:-}"
}

# server_spawn NAME LOG COMMAND...: starts COMMAND as server NAME in a session of its own.
server_spawn() {
        local name=$1 log=$2 pid
        shift 2
        {
                # Never the pattern lock's descriptor: a server left behind would hold it.
                [ -z "${PATTERN_LOCK_FD:-}" ] || exec {PATTERN_LOCK_FD}>&-
                exec setpriv --pdeathsig TERM -- setsid -- "$@"
        } </dev/null >>"$log" 2>&1 &
        pid=$!
        disown "$pid"
        eval "SERVER_PID_$name=$pid"
        case " ${SERVER_NAMES[*]} " in *" $name "*) ;; *) SERVER_NAMES+=("$name") ;; esac
}

# proc_descendants PID: PID and every process below it.
proc_descendants() {
        local c kids
        echo "$1"
        read -r -a kids < <(cat /proc/"$1"/task/*/children 2>/dev/null | tr '\n' ' ')
        for c in "${kids[@]}"; do
                proc_descendants "$c"
        done
}

# server_listening NAME PORT: true when a process of server NAME listens on 127.0.0.1:PORT.
server_listening() {
        local pid p
        pid=$(server_pid "$1")
        [ -n "$pid" ] || return 1
        for p in $(proc_descendants "$pid"); do
                ss -ltnpH "sport = :$2" 2>/dev/null | grep -q "pid=$p," && return 0
        done
        return 1
}

# server_wait NAME PORT LOG: waits (10 s at most) until server NAME listens on PORT; shows the end
# of LOG and fails when it does not, or when it ended.
server_wait() {
        local i pid
        pid=$(server_pid "$1")
        for ((i = 0; i < 200; i++)); do
                server_listening "$1" "$2" && return 0
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
        done
        echo "server $1 (pid $pid) does not listen on 127.0.0.1:$2" >&2
        tail -n 20 "$3" >&2
        server_stop "$1"
        return 1
}

# server_loopback_only NAME: every socket a process of server NAME listens on (TCP and UDP, IPv4
# and IPv6) is bound to 127.0.0.1. Prints the offenders.
server_loopback_only() {
        local pid p bad=0
        pid=$(server_pid "$1")
        [ -n "$pid" ] || return 1
        for p in $(proc_descendants "$pid"); do
                if ss -lntupH 2>/dev/null | grep "pid=$p," | awk '{ print $5 }' | grep -v '^127\.0\.0\.1:'; then
                        bad=1
                fi
        done
        return "$bad"
}

# server_stop NAME: SIGTERM to the server and everything it forked, SIGKILL to what is left after
# 10 s; waits until they are gone. Returns 0.
server_stop() {
        local pid pids i
        pid=$(server_pid "$1")
        [ -n "$pid" ] || return 0
        eval "SERVER_PID_$1="
        pids=$(proc_descendants "$pid")
        # shellcheck disable=SC2086 # a list of pids
        kill -TERM $pids 2>/dev/null
        for ((i = 0; i < 200; i++)); do
                # shellcheck disable=SC2086
                kill -0 $pids 2>/dev/null || return 0
                sleep 0.05
        done
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
        for ((i = 0; i < 100; i++)); do
                # shellcheck disable=SC2086
                kill -0 $pids 2>/dev/null || return 0
                sleep 0.05
        done
        echo "server $1: processes $pids still there after SIGKILL" >&2
        return 0
}

# server_kill NAME: the server dies at once (SIGKILL to it and all it forked), as in a crash.
server_kill() {
        local pid pids
        pid=$(server_pid "$1")
        [ -n "$pid" ] || return 0
        eval "SERVER_PID_$1="
        pids=$(proc_descendants "$pid")
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null
        for _ in $(seq 100); do
                # shellcheck disable=SC2086
                kill -0 $pids 2>/dev/null || return 0
                sleep 0.05
        done
        return 0
}

servers_stop_all() {
        local n
        for n in "${SERVER_NAMES[@]}"; do
                server_stop "$n"
        done
        return 0
}

# server_dir NAME: the private directory of server NAME.
server_dir() {
        echo "$T/srv-$1"
}

# ---- vsftpd: anonymous, upload-only ----------------------------------------------------------

# ftp_start: vsftpd as the FTP users of the issue run it: anonymous logins only, uploads into
# incoming/ (created as needed, never listed, never downloaded, never overwritten or deleted).
# Uploaded files land in $FTP_ROOT/incoming. Sets FTP_PORT, FTP_ROOT, FTP_URL (ftp://.../incoming).
ftp_start() {
        local d
        d=$(server_dir ftp)
        mkdir -p "$d/root/incoming" "$d/empty"
        FTP_ROOT=$d/root
        : "${FTP_PORT:=$(free_port)}"
        # The anonymous root may not be writable by the ftp user (vsftpd refuses a writable root
        # to chroot into); incoming/ is: write and search for the group ftp, no read (no listing).
        chown root:root "$d/root" "$d/empty"
        chmod 0555 "$d/root" "$d/empty"
        chown root:ftp "$d/root/incoming"
        chmod 0730 "$d/root/incoming"
        cat >"$d/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$FTP_PORT
background=NO
anonymous_enable=YES
no_anon_password=YES
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=NO
download_enable=NO
dirlist_enable=NO
anon_root=$d/root
anon_umask=077
ftp_username=ftp
pasv_enable=YES
port_enable=NO
connect_from_port_20=NO
secure_chroot_dir=$d/empty
seccomp_sandbox=NO
xferlog_enable=YES
xferlog_std_format=NO
vsftpd_log_file=$d/transfers.log
log_ftp_protocol=YES
EOF
        server_spawn ftp "$d/vsftpd.out" /usr/sbin/vsftpd "$d/vsftpd.conf"
        server_wait ftp "$FTP_PORT" "$d/vsftpd.out" || return 1
        FTP_URL=ftp://127.0.0.1:$FTP_PORT/incoming
}

# ---- sshd: SFTP ------------------------------------------------------------------------------

# sftp_start PASSWORD: sshd for SFTP only (internal-sftp), root's logins with PASSWORD or with
# the key $SFTP_KEY (made here), a host key made here ($SFTP_KNOWN_HOSTS lists it). The password
# is root's only inside sshd's private mount namespace (a copy of /etc/shadow bound there): the
# host's accounts are untouched. Uploads land under $SFTP_ROOT. Sets SFTP_PORT, SFTP_ROOT,
# SFTP_URL, SFTP_KEY, SFTP_KNOWN_HOSTS, SFTP_HOST_KEY_SHA256 (base64, as libcurl takes it).
sftp_start() {
        local d hash
        d=$(server_dir sftp)
        mkdir -p "$d/root"
        chmod 0700 "$d"
        SFTP_ROOT=$d/root
        : "${SFTP_PORT:=$(free_port)}"
        [ -e "$d/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C cpt-host -f "$d/host_key"
        [ -e "$d/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C cpt-client -f "$d/client_key"
        cp "$d/client_key.pub" "$d/authorized_keys"
        SFTP_KEY=$d/client_key
        SFTP_KNOWN_HOSTS=$d/known_hosts
        echo "[127.0.0.1]:$SFTP_PORT $(cut -d' ' -f1,2 "$d/host_key.pub")" >"$SFTP_KNOWN_HOSTS"
        SFTP_HOST_KEY_SHA256=$(ssh-keygen -l -E sha256 -f "$d/host_key.pub" | awk '{ print $2 }' | sed 's/^SHA256://')
        hash=$(openssl passwd -6 -stdin <<<"$1")
        sed "s|^root:[^:]*:|root:$hash:|" /etc/shadow >"$d/shadow"
        chmod 0600 "$d/shadow"
        cat >"$d/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SFTP_PORT
HostKey $d/host_key
PidFile none
UsePAM no
PermitRootLogin yes
AllowUsers root
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile $d/authorized_keys
StrictModes no
Subsystem sftp internal-sftp
ForceCommand internal-sftp
AllowTcpForwarding no
X11Forwarding no
PermitTTY no
LogLevel VERBOSE
EOF
        # sshd's privilege separation directory (its package makes it at boot).
        mkdir -p /run/sshd
        chmod 0755 /run/sshd
        # shellcheck disable=SC2016 # expanded by the inner shell
        server_spawn sftp "$d/sshd.log" unshare --mount --propagation private -- /bin/sh -c \
                'mount --bind "$1" /etc/shadow && exec /usr/sbin/sshd -D -e -f "$2"' sh "$d/shadow" "$d/sshd_config"
        server_wait sftp "$SFTP_PORT" "$d/sshd.log" || return 1
        SFTP_URL=sftp://127.0.0.1:$SFTP_PORT$SFTP_ROOT
}

# ---- s3rver ----------------------------------------------------------------------------------

# s3_start ACCESS_KEY_ID SECRET: s3rver with one bucket, "cores", which only ACCESS_KEY_ID may use
# (any other key is unknown: InvalidAccessKeyId; unsigned requests: AccessDenied). Its data stay
# in $S3_DATA across a restart (s3_start again after s3_kill). S3_TEST_DIE_AT_PART=N in the
# environment: the server SIGKILLs itself when the Nth part of a multipart upload arrives.
# Objects are files $S3_DATA/cores/KEY._S3rver_object; the parts of a multipart upload not
# completed are under $S3_DATA/cores/_S3rver_uploads/ (never listed as objects).
# Sets S3_PORT, S3_DATA, S3_ENDPOINT (http://127.0.0.1:PORT), S3_URL (s3://cores).
s3_start() {
        local d i
        d=$(server_dir s3)
        mkdir -p "$d/data"
        S3_DATA=$d/data
        : "${S3_PORT:=$(free_port)}"
        if [ ! -x "$SERVERS_SRC/node/node_modules/.bin/s3rver" ]; then
                echo "s3rver is not installed in $SERVERS_SRC/node (tools/deps.sh installs it)" >&2
                return 1
        fi
        rm -f "$d/port"
        server_spawn s3 "$d/s3rver.log" node "$SERVERS_SRC/s3.js" "$S3_DATA" "$S3_PORT" "$d/port" cores "$1" "$2"
        server_wait s3 "$S3_PORT" "$d/s3rver.log" || return 1
        for ((i = 0; i < 100; i++)); do
                [ -s "$d/port" ] && break
                sleep 0.05
        done
        S3_ENDPOINT=http://127.0.0.1:$S3_PORT
        S3_URL=s3://cores
}

# s3_objects: the keys of the objects the bucket shows, one a line, sorted.
s3_objects() {
        local d
        d=$(server_dir s3)/data/cores
        [ -d "$d" ] || return 0
        (cd "$d" && find . -name '*._S3rver_object' -not -path './_S3rver_uploads/*' |
                sed -e 's|^\./||' -e 's|\._S3rver_object$||' | sort)
}

# s3_object_file KEY: the file holding object KEY's bytes.
s3_object_file() {
        echo "$(server_dir s3)/data/cores/$1._S3rver_object"
}

# s3_curl ACCESS_KEY_ID SECRET CURL_ARGS... URL: curl signing with SigV4 for the test's region.
s3_curl() {
        local key=$1 secret=$2
        shift 2
        curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" \
                -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# ---- HTTP PUT --------------------------------------------------------------------------------

# http_start [USER:PASSWORD]: tests/servers/http-put.py; with USER:PASSWORD, only requests with
# that basic authentication are served. Files land under $HTTP_ROOT. Sets HTTP_PORT, HTTP_ROOT,
# HTTP_URL (http://127.0.0.1:PORT/cores).
http_start() {
        local d args=()
        d=$(server_dir http)
        mkdir -p "$d/root"
        chmod 0700 "$d"
        HTTP_ROOT=$d/root
        : "${HTTP_PORT:=$(free_port)}"
        if [ -n "${1:-}" ]; then
                printf '%s\n' "$1" >"$d/auth"
                chmod 0600 "$d/auth"
                args=("$d/auth")
        fi
        rm -f "$d/port"
        server_spawn http "$d/http.log" python3 "$SERVERS_SRC/http-put.py" "$HTTP_ROOT" "$HTTP_PORT" "$d/port" "${args[@]}"
        server_wait http "$HTTP_PORT" "$d/http.log" || return 1
        HTTP_URL=http://127.0.0.1:$HTTP_PORT/cores
}

# ---- the receiver's side of the upload tests ---------------------------------------------------

# upload_conf CT LINES...: the container's /run/receiver.conf, [Receiver] and LINES.
upload_conf() {
        local ct=$1 line
        shift
        {
                echo "[Receiver]"
                for line in "$@"; do echo "$line"; done
        } >"$(ct_root "$ct")/run/receiver.conf"
}

# upload_creds CT LINES...: the container's /run/upload.cred (root's, 0600), KEY=VALUE LINES.
upload_creds() {
        local ct=$1 f
        shift
        f=$(ct_root "$ct")/run/upload.cred
        (umask 077 && printf '%s\n' "$@" >"$f.new")
        mv -f "$f.new" "$f"
}

# upload_crash CT NAME [CRASHER ARGS...]: the crasher, named NAME, crashes as root in the container
# (bounded by 120 s).
upload_crash() {
        local ct=$1 name=$2
        shift 2
        CT_TIMEOUT=120 ct_exec "$ct" /bin/sh -c 'ulimit -c unlimited; exec /build/tests/crasher --name "$@"' sh "$name" "$@" \
                >/dev/null 2>&1
        return 0
}

# store_record CT NAME: the path of the record of crash NAME in the container's store.
store_record() {
        find "$(ct_root "$1")/var/lib/core_pipe" -maxdepth 1 -name "core.$2.*.json" 2>/dev/null | sort | head -n1
}

# store_core CT NAME: the path of the stored core of crash NAME (the record's name, .zst).
store_core() {
        local j
        j=$(store_record "$1" "$2")
        [ -n "$j" ] && echo "${j%.json}.zst"
}

# pending_entries CT: the pending upload entries in the container's store, one a line.
pending_entries() {
        find "$(ct_root "$1")/var/lib/core_pipe/.upload" -mindepth 1 -maxdepth 1 -not -name '.*' -printf '%f\n' 2>/dev/null | sort
}

# pending_for CT NAME: true while an entry for crash NAME is pending.
pending_for() {
        pending_entries "$1" | grep -q "core\.$2\."
}

# record_has JSON PYTHON_EXPR: true when PYTHON_EXPR (over r, the record) holds; the record is
# reread on every call (the receiver replaces it when an upload ends).
record_has() {
        python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}

# wait_record JSON PYTHON_EXPR [SECONDS]: waits (default 60 s) until record_has holds.
wait_record() {
        local i
        if [ -z "$1" ]; then
                echo "no record to wait for" >&2
                return 1
        fi
        for ((i = 0; i < ${3:-60} * 10; i++)); do
                record_has "$1" "$2" && return 0
                sleep 0.1
        done
        echo "$1: never true: $2" >&2
        cat "$1" >&2
        echo >&2
        return 1
}

# wait_uploaded JSON N [SECONDS]: waits until the record lists N targets in uploaded_to.
wait_uploaded() {
        wait_record "$1" "len(r.get('uploaded_to') or []) >= $2" "${3:-60}"
}

# wait_upload_error JSON [SECONDS]: waits until the record carries an upload_error.
wait_upload_error() {
        wait_record "$1" "bool(r.get('upload_error'))" "${2:-60}"
}

# uploaded_file DIR BASENAME: the one file named BASENAME under DIR (any depth), or fails.
uploaded_file() {
        local f n
        f=$(find "$1" -type f -name "$2" 2>/dev/null)
        n=$(printf '%s' "$f" | grep -c .)
        if [ "$n" != 1 ]; then
                echo "$1: $n files named $2" >&2
                return 1
        fi
        echo "$f"
}

# same_record_but_upload LOCAL UPLOADED: the two records hold the same fields and values, but
# the fields that say where the core went (the local copy gets them after the upload).
same_record_but_upload() {
        python3 -c 'import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for r in (a, b):
    for k in ("uploaded_to", "upload_error", "upload_attempts"):
        r.pop(k, None)
if a != b:
    print("records differ:", {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)})
    sys.exit(1)' "$1" "$2"
}

# uploaded_to_matches JSON URL_REGEX FILE: the record's uploaded_to has an entry whose url matches
# URL_REGEX, with FILE's size and SHA-256, and a time.
uploaded_to_matches() {
        python3 -c 'import json, re, sys, hashlib, os
r = json.load(open(sys.argv[1]))
data = open(sys.argv[3], "rb").read()
want = (len(data), hashlib.sha256(data).hexdigest())
for u in r.get("uploaded_to") or []:
    if re.search(sys.argv[2], u.get("url", "")) and (u.get("bytes"), u.get("sha256")) == want and u.get("time"):
        sys.exit(0)
print("no uploaded_to entry matches", sys.argv[2], want, r.get("uploaded_to"))
sys.exit(1)' "$1" "$2" "$3"
}

# ct_journald CT: systemd-journald in the container (its /run/systemd/journal, a volatile journal
# in its /run/log/journal), so that the receiver writes journal entries there; waits for it.
# It ends with the container. ct_journal CT prints the entries in journalctl's export format.
# journald wants its cgroup: the container gets a /sys and the unified cgroup hierarchy first.
ct_journald() {
        nsenter -t "$(ct_pid "$1")" -m -- /bin/sh -c 'mount -t sysfs sysfs /sys && mount -t cgroup2 cgroup2 /sys/fs/cgroup' ||
                return 1
        (ct_exec "$1" /bin/sh -c 'exec /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1' &) 2>/dev/null
        wait_for_file "$(ct_root "$1")/run/log/journal/*/system.journal" 10
}

ct_journal() {
        journalctl -q -D "$(ct_root "$1")/run/log/journal" -o export 2>/dev/null
}

# secret_absent SECRET FILE...: no FILE holds SECRET (fixed string; a missing file holds nothing).
# Names the files that do.
secret_absent() {
        local secret=$1 f found=0
        shift
        for f in "$@"; do
                [ -e "$f" ] || continue
                if grep -qaF -- "$secret" "$f"; then
                        echo "the secret is in $f" >&2
                        found=1
                fi
        done
        return "$found"
}

# no_pending CT NAME: no entry is pending for crash NAME.
no_pending() {
        ! pending_for "$1" "$2"
}

# wait_no_pending CT NAME [SECONDS]: waits (default 30 s) until no entry is pending for NAME.
wait_no_pending() {
        local i
        for ((i = 0; i < ${3:-30} * 10; i++)); do
                no_pending "$1" "$2" && return 0
                sleep 0.1
        done
        echo "still pending for $2: $(pending_entries "$1" | tr '\n' ' ')" >&2
        return 1
}

# wait_for_gone FILE [SECONDS]: waits (default 30 s) until FILE no longer exists.
wait_for_gone() {
        local i
        [ -n "$1" ] || return 1
        for ((i = 0; i < ${2:-30} * 10; i++)); do
                [ -e "$1" ] || return 0
                sleep 0.1
        done
        echo "$1 is still there" >&2
        return 1
}

# server_forget NAME: server NAME ended by itself (a fault the test injected): nothing to stop.
server_forget() {
        eval "SERVER_PID_$1="
}

# diag_receiver_log CT: the end of the container's receiver log, as TAP comments.
diag_receiver_log() {
        diag "$(tail -n "${2:-15}" "$(ct_root "$1")/run/receiver.log" 2>/dev/null | sed 's/^/receiver: /')"
}

# upload_pending CT OUT: `core_pipe-receiver --upload-pending` in the container with its
# /run/receiver.conf, its output appended to OUT; returns its exit status.
upload_pending() {
        CT_TIMEOUT=120 ct_exec "$1" /build/receiver/core_pipe-receiver --upload-pending --config=/run/receiver.conf >>"$2" 2>&1
}

# upload_pending_until_done CT OUT [SECONDS]: runs the pending run again (every half second,
# default 20 s at most) until it exits 0: an entry that just failed waits for its retry delay
# (UploadRetryDelay=, 1 s in the tests) before a run takes it again.
upload_pending_until_done() {
        local i rc
        for ((i = 0; i < ${3:-20} * 2; i++)); do
                upload_pending "$1" "$2"
                rc=$?
                [ "$rc" = 0 ] && return 0
                sleep 0.5
        done
        echo "--upload-pending still exits $rc" >&2
        return 1
}

# wait_core_deleted JSON [SECONDS]: the record JSON is there and its core (.zst beside it) goes
# (KeepAfterUpload=no), within SECONDS (default 30).
wait_core_deleted() {
        if [ -z "$1" ] || [ ! -s "$1" ]; then
                echo "no record ${1:-}" >&2
                return 1
        fi
        wait_for_gone "${1%.json}.zst" "${2:-30}"
}

# secret_absent_list SECRET LIST: secret_absent over the files LIST names, one a line.
secret_absent_list() {
        local files=()
        mapfile -t files <"$2"
        secret_absent "$1" "${files[@]}"
}
