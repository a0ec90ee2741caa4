#!/bin/bash
# A receiver that may not ptrace the crashed process, as under every engine (none grants
# CAP_SYS_PTRACE) with an application that is not root: /proc/<pid>/exe, cwd and maps are closed
# to it. The core's own notes say what the record needs: the executable, every mapped file, the
# command line; one warning names what neither source had (the working directory is never in a
# core). Without the notes the record had no exe and no mapped files.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel
command -v setpriv >/dev/null || skip_all "needs setpriv"

install_pattern
container_start np
ROOT=$(ct_root np)
# The receiver as root without CAP_SYS_PTRACE (dropped from its bounding set: root's capabilities
# after exec come from it).
(ct_exec np /bin/sh -c 'exec setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace \
        /build/receiver/core_pipe-receiver --listen >>/run/receiver.log 2>&1' &) 2>/dev/null
check "the receiver listens" wait_for_file "$ROOT/run/core_pipe.socket" 10
rpid=$(ct_receivers np | head -n1)
capeff=$(awk '/^CapEff/ {print $2}' "/proc/${rpid:-0}/status" 2>/dev/null)
check "the receiver runs as root without CAP_SYS_PTRACE (bit 19 of CapEff $capeff)" \
        test -n "$capeff" -a "$(((0x${capeff:-0} >> 19) & 1))" = 0

NAME=cpt-np-$$
pid=$(ct_exec np /bin/sh -c 'ulimit -c unlimited; cd /tmp; exec setpriv --reuid 4242 --regid 4242 --clear-groups /build/tests/crasher --name "$1" --size 1' sh "$NAME" 2>/dev/null)
check "the crash of uid 4242 is stored" wait_for_file "$ROOT/var/lib/core_pipe/core.$NAME.*.json"
JSON=$(ls "$ROOT"/var/lib/core_pipe/core."$NAME".*.json 2>/dev/null | head -n1)
check "gdb shows crash_here" shows_crash_here "${JSON%.json}.zst"
check "record: exe from the core's notes" \
        test "$(json_field "$JSON" exe) $(json_field "$JSON" exe_source)" = "/build/tests/crasher core"
check "record: the mapped files from the core's notes (the executable and libc among them)" \
        python3 -c 'import json,sys; f=json.load(open(sys.argv[1]))["mapped_files"]; sys.exit(not ("/build/tests/crasher" in f and any("libc.so" in x for x in f)))' "$JSON"
check "record: the command line" \
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); a=r.get("cmdline") or [r.get("psargs", "")]; sys.exit(not a[0].startswith("/build/tests/crasher"))' "$JSON"
check "record: the expected size of the core, equal to what was stored" \
        test "$(json_field "$JSON" core_expected_size)" = "$(json_field "$JSON" core_size)"
check "the receiver warns once, naming the working directory as unknown" \
        grep -q "Crash of pid $pid ($NAME): .*cwd.* unknown" "$ROOT/run/receiver.log"
check "  and not the executable (the notes gave it)" \
        sh -c "! grep 'Crash of pid $pid ($NAME): ' '$ROOT/run/receiver.log' | grep -q 'exe'"
check "host log: stored by the container" wait_for_log "comm=\"$NAME\" .*outcome=stored receiver=container"
