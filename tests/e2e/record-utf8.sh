#!/bin/bash
# Records are valid UTF-8 JSON whatever bytes a crashed process or its container chose: a comm
# with 0xff and a lone 0xc3, a container host name that is not UTF-8, an executable in a
# directory named in Latin-1 (exe, cmdline, mapped files). Each record is read back with a
# strict decoder; every bad byte is U+FFFD (core_pipe-receiver(8), THE RECORD). Hostile
# attribution, class 7 of issue 11.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern

# valid_record FILE: parses as JSON from strict UTF-8.
valid_record() {
        python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8", errors="strict"))' "$1"
}
# record_text FILE KEY: the value of a string field, its U+FFFD shown as "?".
record_text() {
        python3 -c 'import json, sys; print(json.load(open(sys.argv[1], encoding="utf-8"))[sys.argv[2]].replace("\ufffd", "?"))' "$1" "$2"
}

# 1. A container without a receiver (the host's fallback stores the core): bad comm, bad host
#    name (the fallback's record has the host's own), an executable under a Latin-1 directory
#    name and a Latin-1 argument.
container_start u8fb
ct_exec u8fb python3 -c 'import socket; socket.sethostname(b"u8-\xff\xc3-host")'
ct_exec u8fb /bin/sh -c 'd=$(printf "/tmp/\351t\351"); mkdir "$d"; cp /build/tests/crasher "$d/"
        ulimit -c unlimited; exec "$d/crasher" --name "$(printf "\377\303u8fb-%s" "$1")" "$(printf "arg\351")"' sh $$ \
        >/dev/null 2>&1
wait_for_file "$T/hoststore/containers/*/core.__u8fb-$$.*.json" 20
FB=$(printf '%s\n' "$T"/hoststore/containers/*/core.__u8fb-$$.*.json | head -n1)
check "fallback: the record is there" test -e "$FB"
check "fallback: the record is valid UTF-8 JSON" valid_record "$FB"
check "fallback: comm with 0xff 0xc3 is kept as U+FFFD U+FFFD" test "$(record_text "$FB" comm)" = "??u8fb-$$"
check "fallback: the command line's Latin-1 argument is valid text" \
        python3 -c 'import json, sys; a = json.load(open(sys.argv[1], encoding="utf-8")).get("cmdline") or [""]; sys.exit(a[-1] != "arg\ufffd")' "$FB"
check "fallback: the executable's Latin-1 path is valid text" test "$(record_text "$FB" exe)" = "/tmp/?t?/crasher"

# 2. The same in a container whose own receiver stores the core.
container_start u8ct
start_receiver u8ct
ct_exec u8ct python3 -c 'import socket; socket.sethostname(b"\xc3\x28\xfe")'
ct_exec u8ct /bin/sh -c 'd=$(printf "/tmp/\351t\351"); mkdir "$d"; cp /build/tests/crasher "$d/"
        ulimit -c unlimited; exec "$d/crasher" --name "$(printf "\303\377u8ct-%s" "$1")" "$(printf "\377")"' sh $$ \
        >/dev/null 2>&1
STORE=$(ct_root u8ct)/var/lib/core_pipe
wait_for_file "$STORE/core.__u8ct-$$.*.json" 20
CT=$(printf '%s\n' "$STORE"/core.__u8ct-$$.*.json | head -n1)
check "container: the record is there" test -e "$CT"
check "container: the record is valid UTF-8 JSON" valid_record "$CT"
check "container: comm is U+FFFD U+FFFD and its ASCII" test "$(record_text "$CT" comm)" = "??u8ct-$$"
check "container: the host name 0xc3 '(' 0xfe" test "$(record_text "$CT" hostname)" = "?(?"
check "container: the command line's last argument (0xff) is U+FFFD" \
        python3 -c 'import json, sys; a = json.load(open(sys.argv[1], encoding="utf-8")).get("cmdline") or [""]; sys.exit(a[-1] != "\ufffd")' "$CT"
check "container: the mapped files are valid text and name the executable" \
        python3 -c 'import json, sys; f = json.load(open(sys.argv[1], encoding="utf-8"))["mapped_files"]; sys.exit("/tmp/\ufffdt\ufffd/crasher" not in f)' "$CT"
check "container: the core is still good (gdb finds crash_here)" shows_crash_here "${CT%.json}.zst"
