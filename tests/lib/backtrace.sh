# shellcheck shell=bash
# Shared by the backtrace tests (tests/e2e/backtrace-*.sh): the crashers of issue 14 in a share
# of their own, a crash in a container, and questions to a record.

SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CRASHER_BT=$BUILD/tests/crasher-bt
# The line of crasher-bt.c where it faults (marked there).
# shellcheck disable=SC2034 # read by the tests
CRASH_LINE=$(grep -n 'CRASH_LINE \*/' "$SRCDIR/tests/helpers/crasher-bt.c" | head -n1 | cut -d: -f1)

# bt_share: prints a share for containers (ct_share's, plus crasher-bt), made on first use.
bt_share() {
        local share
        share=$(ct_share)
        if [ ! -e "$share/tests/crasher-bt" ]; then
                install -m 0755 "$CRASHER_BT" "$share/tests/crasher-bt"
                chmod -R a+rX "$share"
        fi
        echo "$share"
}

# bt_crash CONTAINER ARGS...: crasher-bt ARGS crashes in the container (bounded: 60 s); prints
# its pid (the container's view), then the crashing thread's tid.
bt_crash() {
        local ct=$1
        shift
        CT_TIMEOUT=60 ct_exec "$ct" /bin/sh -c 'ulimit -c unlimited; exec "$@"' sh "${BT_PROGRAM:-/build/tests/crasher-bt}" "$@" \
                2>/dev/null
}

# bt_record STORE PID: the record of pid's core in the store (a directory as the host sees it).
bt_record() {
        local f
        for f in "$1"/core.*."$2".*.json; do
                [ -e "$f" ] && echo "$f" && return 0
        done
        return 1
}

# bt_wait_record STORE PID [SECONDS]: waits until pid's record is there with its backtrace made
# (made after the crashed process's release, the record is written again: "signature" or a
# "backtrace_error" other than the pending one); prints its path.
bt_wait_record() {
        local i f
        for ((i = 0; i < ${3:-30} * 10; i++)); do
                f=$(bt_record "$1" "$2") &&
                        python3 - "$f" <<'PY' 2>/dev/null && echo "$f" && return 0
import json, sys
r = json.load(open(sys.argv[1]))
e = r.get("backtrace_error")
sys.exit(0 if r.get("signature") or "backtrace" in r or (e and not e.startswith("not made yet")) else 1)
PY
                sleep 0.1
        done
        echo "no record of pid $2 with its backtrace in $1" >&2
        return 1
}

# bt_rec JSON EXPR: true when the Python expression holds of the record r (and of t, its threads,
# c, its crashing thread, f0, its first frame). Prints the record's backtrace when it does not.
bt_rec() {
        python3 - "$1" "$2" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
b = r.get("backtrace") or {}
t = b.get("threads") or []
c = t[0] if t else {}
fr = c.get("frames") or []
f0 = fr[0] if fr else {}
def base(p):
    return os.path.basename(p) if p else p
def names(th):
    return [f.get("function") for f in th.get("frames") or []]
ok = False
try:
    ok = bool(eval(sys.argv[2]))
except Exception as e:
    print(f"{sys.argv[2]}: {e!r}")
if not ok:
    print(json.dumps({k: r.get(k) for k in ("signature", "backtrace_error", "repeat", "core_file")}, indent=1))
    for m in b.get("modules") or []:
        print("module", m.get("path"), m.get("build_id"), m.get("elf"), m.get("debug"))
    for th in t[:3]:
        print(th.get("tid"), th.get("crashed"), th.get("cut"),
              [(f.get("function"), base(f.get("module")), f.get("offset"), base(f.get("file")), f.get("line"),
                f.get("inlined")) for f in (th.get("frames") or [])[:8]])
sys.exit(0 if ok else 1)
PY
}
