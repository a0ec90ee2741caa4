#!/bin/bash
# shellcheck disable=SC2016 # commands for the container's shell are single-quoted on purpose
# core_pipe-init as the engines start their init (`INIT -- COMMAND ARGUMENTS...`, pid 1 of the
# container's pid namespace), held against tini, the engines' own: the exit status is the
# command's (128 + signal), signals sent to pid 1 reach the command (its process group with -g,
# as tini -g), orphans are reaped. What tini has no counterpart for: in a root that lacks them it
# creates /run and the store and listens before the command runs; a read-only root or a non-root
# user makes it a plain init that says why once on stderr, never a failed container.
# No crash here (no core_pattern of ours): the engine-init-slot test crashes in real engines.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
[ "$(id -u)" = 0 ] || skip_all "needs root"
command -v tini >/dev/null || skip_all "needs tini (the reference)"
[ -x /bin/busybox ] || skip_all "needs busybox-static (a root with nothing else)"
INIT=$BUILD/receiver/core_pipe-init
[ -x "$INIT" ] || skip_all "core_pipe-init is not built (-Dstatic_init)"

# in_ns INIT [ARGS...]: INIT as pid 1 of new pid and mount namespaces, with tmpfs on /run and
# /var/lib there: the socket and store of the receiver never touch the host's.
NS=(unshare --mount --pid --fork --mount-proc /bin/sh -c
        'mount -t tmpfs cpt /run && mount -t tmpfs cpt /var/lib && exec "$@"' sh)
in_ns() {
        "${NS[@]}" "$@"
}

# like_tini WANT COMMAND...: in_ns gives WANT as the exit status for both inits.
like_tini() {
        local want=$1 a b
        shift
        in_ns tini -- "$@" >/dev/null 2>&1
        a=$?
        in_ns "$INIT" -- "$@" >/dev/null 2>"$T/err"
        b=$?
        echo "tini: $a, core_pipe-init: $b, expected $want"
        [ "$a" = "$want" ] && [ "$b" = "$want" ]
}

# ---- what the engines pass, and the exit status --------------------------------------------
check "exit 7: 7, as tini" like_tini 7 /bin/sh -c 'exit 7'
check "killed by SIGTERM: 143, as tini" like_tini 143 /bin/sh -c 'kill -TERM $$'
check "a command that does not exist: 127, as tini" like_tini 127 /nonexistent/app
in_ns "$INIT" -- /bin/sh -c 'printf "%s|" "$0" "$@"' a -g -- b >"$T/out" 2>"$T/err"
check "INIT -- CMD ARGS: options and -- after the command are the command's" test "$(cat "$T/out")" = "a|-g|--|b|"
in_ns "$INIT" -- /bin/sh -c 'test -S /run/core_pipe.socket && test "$PPID" = 1' 2>"$T/err"
check "as root: listens before the command runs; the command is pid 1's child" test $? = 0
check "  and says nothing on stderr" test ! -s "$T/err"

# ---- signals sent to pid 1 (docker stop, docker kill) --------------------------------------
# forwarded INIT [OPTIONS]: runs a command under INIT whose child, in its process group, notes
# a SIGTERM it gets; sends SIGTERM to pid 1; the command then has its child note a SIGWINCH
# (after the SIGTERM, if that came: the shell runs traps in signal order) and exits 3. Prints
# what was noted.
forwarded() {
        local out=$T/fw.$RANDOM unshare_pid pid1 i
        # exec: $! is unshare itself, whose child is pid 1.
        (exec "${NS[@]}" "$@" -- /bin/sh -c "
                /bin/sh -c 'trap \"echo child-term >>$out\" TERM; trap \"echo child-winch >>$out; exit 0\" WINCH
                        touch $out.child; while :; do sleep 0.05; done' &
                c=\$!
                trap 'kill -WINCH \$c; wait \$c; echo cmd-term >>$out; exit 3' TERM
                while [ ! -e $out.child ]; do sleep 0.05; done
                touch $out.ready
                while :; do sleep 0.05; done" 2>>"$T/err") &
        unshare_pid=$!
        wait_for_file "$out.ready" 10 || { kill -KILL "$unshare_pid"; return 1; }
        pid1=$(pgrep -P "$unshare_pid")
        kill -TERM "$pid1"
        # Bounded: an init that forwarded nothing would wait for ever.
        for ((i = 0; i < 100; i++)); do
                kill -0 "$unshare_pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -KILL "$pid1" 2>/dev/null
        wait "$unshare_pid"
        echo "status $?"
        cat "$out"
}
forwarded tini >"$T/tini-fw"
forwarded "$INIT" >"$T/init-fw"
diag "tini: $(tr '\n' ' ' <"$T/tini-fw")"
check "SIGTERM to pid 1 reaches the command only (exit 3), as tini" \
        test "$(cat "$T/init-fw")" = "$(printf 'status 3\nchild-winch\ncmd-term')"
check "  the same as tini" cmp "$T/tini-fw" "$T/init-fw"
forwarded tini -g >"$T/tini-fw"
forwarded "$INIT" -g >"$T/init-fw"
diag "tini -g: $(tr '\n' ' ' <"$T/tini-fw")"
check "-g: SIGTERM to pid 1 reaches the command's process group" \
        test "$(cat "$T/init-fw")" = "$(printf 'status 3\nchild-term\nchild-winch\ncmd-term')"
check "  the same as tini -g" cmp "$T/tini-fw" "$T/init-fw"

# ---- orphans ---------------------------------------------------------------------------------
# The command leaves a grandchild that exits; it waits (bounded) for it to be reaped by pid 1.
orphan_cmd='/bin/sh -c "sleep 0.1 & echo \$! >/run/orphan"; o=$(cat /run/orphan)
        for i in $(seq 100); do [ -e /proc/$o ] || exit 0; sleep 0.05; done; exit 1'
check "an orphan of the command is reaped by pid 1, as tini" like_tini 0 /bin/sh -c "$orphan_cmd"

# ---- where the image lacks what the receiver needs -------------------------------------------
# A root with nothing but a static busybox and the init (as scratch images hold only their app).
R=$T/root
mkdir -p "$R/bin"
cp /bin/busybox "$R/bin/busybox"
for t in sh test stat cat ls sleep; do ln -s busybox "$R/bin/$t"; done
cp "$INIT" "$R/init"
unshare --mount --pid --fork --root="$R" /init -- /bin/sh -c \
        'test -S /run/core_pipe.socket && stat -c "%a %u" /run /var/lib/core_pipe' >"$T/out" 2>"$T/err"
check "a root without /run or /var: creates /run (0755), the store (0700), listens" \
        test "$(tr '\n' ' ' <"$T/out")" = "755 0 700 0 "
check "  and says nothing on stderr" test ! -s "$T/err"
rm -rf "${R:?}/run" "${R:?}/var"

# The image's own settings, at /etc/core_pipe/receiver.conf inside it whatever prefix the host's
# build has: Storage=none there makes a plain init that says so.
mkdir -p "$R/etc/core_pipe"
printf '[Receiver]\nStorage=none\n' >"$R/etc/core_pipe/receiver.conf"
unshare --mount --pid --fork --root="$R" /init -- /bin/sh -c 'test ! -e /run/core_pipe.socket && exit 4' 2>"$T/err"
check "the image's /etc/core_pipe/receiver.conf is read: Storage=none, a plain init (status 4)" test $? = 4
check "  one line on stderr, naming the file" \
        sh -c "[ \$(wc -l <'$T/err') = 1 ] && grep -q 'Storage=none in /etc/core_pipe/receiver.conf' '$T/err'"
diag "image settings: $(cat "$T/err")"
rm -rf "${R:?}/run" "${R:?}/var" "${R:?}/etc"

# Read-only: a plain init; one line on stderr; the command's status.
unshare --mount --pid --fork /bin/sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
        exec unshare --root="$1" /init -- /bin/sh -c "test ! -e /run/core_pipe.socket && exit 5"' sh "$R" 2>"$T/err"
check "read-only root: the command runs as under a plain init (its status 5)" test $? = 5
check "  one line on stderr, with the reason" \
        sh -c "[ \$(wc -l <'$T/err') = 1 ] && grep -q 'cannot create /run: Read-only file system' '$T/err'"
diag "read-only: $(cat "$T/err")"

# Not root (docker run --user 1000): a plain init; one line on stderr.
chmod 0755 "$T"
unshare --mount --pid --fork --root="$R" --setuid 1000 --setgid 1000 /init -- /bin/sh -c \
        'test ! -e /run/core_pipe.socket && test ! -e /var && exit 6' 2>"$T/err"
check "uid 1000: the command runs as under a plain init (its status 6), nothing created" test $? = 6
check "  one line on stderr, with the reason" \
        sh -c "[ \$(wc -l <'$T/err') = 1 ] && grep -q 'runs as uid 1000, not as the container' '$T/err'"
diag "uid 1000: $(cat "$T/err")"
