#!/bin/bash
# Uploads in a container that boots systemd (systemd-nspawn): the crash receiver
# (core_pipe-forward@.service) has no network and only queues the core; core_pipe-upload.path
# starts core_pipe-upload.service as soon as it is queued, which sends the core and its record
# to a loopback HTTP PUT server; its journal entry says where; the path unit does not start the
# service again and again (its own run must not wake it). Then the server is gone: the core stays
# queued with its error, and core_pipe-upload.timer's runs retry it once the server is back.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
command -v systemd-nspawn >/dev/null || skip_all "needs systemd-nspawn (systemd-container)"
command -v python3 >/dev/null || skip_all "needs python3 (the HTTP PUT server)"

prefix=$(meson introspect "$BUILD" --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')
[ "$prefix" != /usr ] || skip_all "prefix /usr cannot be bound over the container's /usr; configure another prefix"
DEST=$T/dest
meson install -C "$BUILD" --destdir "$DEST" --quiet >"$T/install.log" 2>&1 || { cat "$T/install.log"; exit 1; }
UNITS=$DEST$prefix/lib/systemd/system
if [ -n "${CORE_PIPE_SANITIZE:-}" ] && [ "$CORE_PIPE_SANITIZE" != none ]; then
        # LeakSanitizer needs ptrace, which the units' system call filters deny.
        for u in core_pipe-forward@ core_pipe-upload; do
                mkdir -p "$UNITS/$u.service.d"
                printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' >"$UNITS/$u.service.d/sanitizer.conf"
        done
fi

# The HTTP PUT server on the host's loopback (the container shares the host's network). A port
# chosen once, so that the server comes back where the queued core waits for it.
SRV=$T/srv
mkdir -p "$SRV"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER=
# A PUT server on 127.0.0.1:PORT storing each body under SRV/PATH, renamed into place when whole.
cat >"$T/put-server.py" <<'PY'
import http.server, os, sys
root, port = sys.argv[1], int(sys.argv[2])
class Put(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        path = os.path.join(root, self.path.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".part", "wb") as f:
            f.write(body)
        os.rename(path + ".part", path)
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), Put).serve_forever()
PY
start_server() {
        python3 "$T/put-server.py" "$SRV" "$PORT" 2>>"$T/srv.log" &
        SERVER=$!
        local i
        for ((i = 0; i < 100; i++)); do
                python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && return 0
                sleep 0.05
        done
        return 1
}
stop_server() {
        [ -n "$SERVER" ] || return 0
        kill "$SERVER" 2>/dev/null
        wait "$SERVER" 2>/dev/null
        SERVER=
}

trap 'stop_server; nspawn_stop; tap_cleanup' EXIT
check "the HTTP PUT server listens on 127.0.0.1:$PORT" start_server
nspawn_start cpt-up "$DEST$prefix" "$prefix" "$BUILD"
booted=$?
LEADER=$NSPAWN_LEADER
check "the systemd container booted" test "$booted" = 0
in_ct() {
        in_nspawn "$@"
}
ROOT=/proc/$LEADER/root
STORE=$ROOT/var/lib/core_pipe

# The settings file of this prefix is in the read-only bind: both services get one of the
# container's own, through drop-ins, as an image would ship in /etc.
mkdir -p "$ROOT/etc/core_pipe"
printf '[Receiver]\nUpload=http://127.0.0.1:%s/sd\nUploadRetryDelay=1s\nUploadRetryDelayMax=2s\n' "$PORT" \
        >"$ROOT/etc/core_pipe/receiver.conf"
for u in core_pipe-forward@ core_pipe-upload; do
        mkdir -p "$ROOT/etc/systemd/system/$u.service.d"
        exec_start=$(grep '^ExecStart=' "$UNITS/$u.service" | sed 's/^ExecStart=//')
        printf '[Service]\nExecStart=\nExecStart=%s --config=/etc/core_pipe/receiver.conf\n' "$exec_start" \
                >"$ROOT/etc/systemd/system/$u.service.d/config.conf"
done
# Retries every few seconds, not every minute.
mkdir -p "$ROOT/etc/systemd/system/core_pipe-upload.timer.d"
printf '[Timer]\nOnUnitInactiveSec=\nOnUnitInactiveSec=3s\nAccuracySec=1s\n' \
        >"$ROOT/etc/systemd/system/core_pipe-upload.timer.d/fast.conf"
in_ct systemctl daemon-reload
check "enable --now the socket, the path and the timer" \
        in_ct systemctl enable --now core_pipe-forward.socket core_pipe-upload.path core_pipe-upload.timer
install_pattern

NAME=cpt-sdu-$RANDOM
pid=$(in_ct systemd-run --wait --pipe -q -p LimitCORE=infinity /build/tests/crasher --name "$NAME")
diag "crashed service pid in the container: $pid"
check "core stored in the container's store" wait_for_file "$STORE/core.$NAME.*.json" 20
JSON=$(find "$STORE" -maxdepth 1 -name "core.$NAME.*.json" | head -n1)
check "the core reaches the server (core_pipe-upload.path)" wait_for_file "$SRV/sd/*/*/core.$NAME.*.zst" 20
check "and its record" wait_for_file "$SRV/sd/*/*/core.$NAME.*.json" 20
for _ in $(seq 100); do
        grep -q uploaded_to "$JSON" 2>/dev/null && break
        sleep 0.1
done
check "the core on the server is the stored one" cmp "${JSON%.json}.zst" "$(ls "$SRV"/sd/*/*/core."$NAME".*.zst)"
check "the record on the server is the one kept, with uploaded_to" \
        sh -c "cmp '$JSON' '$(ls "$SRV"/sd/*/*/core."$NAME".*.json)' && grep -q '\"uploaded_to\"' '$JSON'"
check "nothing left in the queue" sh -c "[ -z \"\$(find '$STORE/.upload' -name '*.pending' -print -quit)\" ]"
check "the crash receiver left the core to the upload service (no network there)" \
        sh -c "nsenter -t $LEADER -a journalctl -q -o cat -u 'core_pipe-forward@*' | grep -q 'No network in this sandbox'"
check "the upload's journal entry: COREDUMP_UPLOADED_TO= names the server" \
        sh -c "for i in \$(seq 50); do nsenter -t $LEADER -a journalctl -q -o export MESSAGE_ID=8d3c1f0be3a84f6a9e1b52c47a0d6e15 | grep -q '^COREDUMP_UPLOADED_TO=http://127.0.0.1:$PORT/sd/.*$NAME' && exit 0; sleep 0.1; done; exit 1"
# The path unit must settle: its service's own run (reading the queue, taking its lock) does not
# start it again. Let a few timer periods pass, then count the service's runs.
sleep_until=$((SECONDS + 8))
while [ $SECONDS -lt $sleep_until ]; do sleep 1; done
runs=$(nsenter -t "$LEADER" -a journalctl -q -o cat -u core_pipe-upload.service | grep -c 'Uploads: ')
diag "core_pipe-upload.service ran $runs time(s) in about 10 s"
check "the path unit is not failed (no trigger loop)" sh -c "! nsenter -t $LEADER -a systemctl is-failed -q core_pipe-upload.path"
check "the service ran a bounded number of times ($runs, the timer's every 3 s at most)" test "$runs" -le 8

# The server goes away: a crash's core stays queued with its error, and comes through once the
# server is back, by the timer's retries.
stop_server
NAME2=cpt-sdr-$RANDOM
in_ct systemd-run --wait -q -p LimitCORE=infinity /build/tests/crasher --name "$NAME2" >/dev/null
check "with the server down: the core is stored" wait_for_file "$STORE/core.$NAME2.*.json" 20
JSON2=$(find "$STORE" -maxdepth 1 -name "core.$NAME2.*.json" | head -n1)
check "it stays queued, its record says the error" \
        sh -c "for i in \$(seq 100); do grep -q '\"upload_error\"' '$JSON2' && ls '$STORE'/.upload/core.$NAME2.*.pending >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1"
check "the server is back on the same port" start_server
check "the timer's retry sends it" wait_for_file "$SRV/sd/*/*/core.$NAME2.*.zst" 30
for _ in $(seq 100); do
        grep -q uploaded_to "$JSON2" 2>/dev/null && ! grep -q upload_error "$JSON2" && break
        sleep 0.1
done
check "its record: uploaded_to, and the error gone" sh -c "grep -q uploaded_to '$JSON2' && ! grep -q upload_error '$JSON2'"
check "the queue is empty again" sh -c "[ -z \"\$(find '$STORE/.upload' -name '*.pending' -print -quit)\" ]"
