#!/bin/bash
# The receiver as a container's init (--init -- COMMAND), held against what tini does: the socket
# listens before the command runs, the command's exit status (128 + signal when a signal ended
# it) is the receiver's, signals reach the command, orphans are reaped, the command runs as
# --user/--group with the user's groups and with the RLIMIT_CORE the receiver was started with,
# and a command that cannot run gives 127/126 with a message. No crash here: see container-end.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
[ "$(id -u)" = 0 ] || skip_all "needs root"
command -v tini >/dev/null || skip_all "needs tini (the reference)"

S=$T/init.sock
# init COMMAND...: runs the receiver as init of COMMAND, its socket at $S; stdout to $T/out.
init() {
        "$RECEIVER" --listen="$S" --store="$T/store" --init "${INIT_OPTS[@]}" -- "$@" >"$T/out" 2>"$T/err"
}
INIT_OPTS=()

# status_like_tini COMMAND...: the receiver's exit status is tini's for the same command.
status_like_tini() {
        local want got
        tini -s -- "$@" >/dev/null 2>&1
        want=$?
        init "$@"
        got=$?
        echo "tini: $want, receiver: $got"
        [ "$got" = "$want" ]
}

init /bin/sh -c "test -S '$S'"
check "the socket listens before the command runs" test $? = 0
check "exit status 7 passed through, as tini does" status_like_tini /bin/sh -c 'exit 7'
check "killed by SIGTERM: 143, as tini" status_like_tini /bin/sh -c 'kill -TERM $$'
# (No signal that dumps core: that would run whatever core_pattern the machine has now.)
check "killed by SIGKILL: 137, as tini" status_like_tini /bin/sh -c 'kill -KILL $$'
init /nonexistent/app
check "a command that does not exist: 127, as tini" test $? = 127
check "  and the message names it" grep -q "/nonexistent/app" "$T/err"
printf '#!/bin/sh\n' >"$T/noexec"
chmod 0644 "$T/noexec"
init "$T/noexec"
check "a command that is not executable: 126" test $? = 126
check "the socket is removed on exit" test ! -e "$S"

# Signals: SIGTERM (docker stop) and SIGUSR1 reach the command, which decides what to do.
"$RECEIVER" --listen="$S" --store="$T/store" --init -- /bin/sh -c \
        "trap 'echo usr1 >>$T/sig; exit 0' USR1; trap 'echo term >>$T/sig; exit 3' TERM; touch $T/ready; while :; do sleep 0.05; done" \
        2>"$T/err" &
pid=$!
check "the trapping command started" wait_for_file "$T/ready" 10
kill -USR1 "$pid"
wait "$pid"
rc=$?
check "SIGUSR1 to the init reached the command, whose status is the init's" \
        sh -c "[ '$rc' = 0 ] && grep -qx usr1 '$T/sig'"
rm -f "$T/ready" "$T/sig"
"$RECEIVER" --listen="$S" --store="$T/store" --init -- /bin/sh -c \
        "trap 'echo term >>$T/sig; exit 3' TERM; touch $T/ready; while :; do sleep 0.05; done" 2>"$T/err" &
pid=$!
check "the second trapping command started" wait_for_file "$T/ready" 10
kill -TERM "$pid"
wait "$pid"
rc=$?
check "SIGTERM (docker stop) reached the command: exit 3 after its trap" \
        sh -c "[ '$rc' = 3 ] && grep -qx term '$T/sig'"

# Orphans: as pid 1 of a new pid namespace (and mount namespace, for its /proc), a grandchild
# left behind is the init's to reap; the command looks for zombies before it exits.
unshare --pid --fork --mount --mount-proc "$RECEIVER" --listen="$S" --store="$T/store" --init -- /bin/sh -c \
        '/bin/sh -c "sleep 0.2 &"; sleep 1; ! grep -qs "^[0-9]* ([^)]*) Z" /proc/[0-9]*/stat' 2>"$T/err"
check "as pid 1: orphans of the command are reaped (no zombie left)" test $? = 0
"$RECEIVER" --listen="$S" --store="$T/store" --init -- /bin/sh -c \
        'echo $$ >'"$T/app"'; /bin/sh -c "sleep 0.3 & echo \$! >'"$T/orphan"'"; sleep 1' 2>"$T/err" &
pid=$!
wait "$pid"
orphan=$(cat "$T/orphan")
check "not pid 1: the receiver is the subreaper, the orphan was reaped by it" \
        sh -c "[ -n '$orphan' ] && [ ! -e /proc/$orphan ]"

# As another user: ids and supplementary groups of that user, never root's.
getent passwd cpt-init-user >/dev/null || useradd --system --no-create-home cpt-init-user
getent group cpt-init-extra >/dev/null || groupadd --system cpt-init-extra
usermod -a -G cpt-init-extra cpt-init-user
INIT_OPTS=(--user=cpt-init-user)
init /bin/sh -c 'id -u; id -g; id -G'
want="$(id -u cpt-init-user) $(id -g cpt-init-user) $(id -G cpt-init-user)"
check "--user=NAME: the user's uid, gid and supplementary groups ($want)" test "$(tr '\n' ' ' <"$T/out" | sed 's/ $//')" = "$want"
INIT_OPTS=(--user=4321)
init /bin/sh -c 'id -u; id -g; id -G'
check "--user=NUMBER without a passwd entry: that uid, the same gid, no other group" \
        test "$(tr '\n' ' ' <"$T/out")" = "4321 4321 4321 "
INIT_OPTS=(--user=4321 --group=cpt-init-extra)
init /bin/sh -c 'id -g'
check "--group=NAME sets the group" test "$(cat "$T/out")" = "$(getent group cpt-init-extra | cut -d: -f3)"
INIT_OPTS=(--user=no-such-user-here)
init /bin/true
check "an unknown user name: usage error (2), named" sh -c "[ $? = 2 ] && grep -q no-such-user-here '$T/err'"
INIT_OPTS=()

# The command gets the RLIMIT_CORE the receiver had (the receiver sets its own to 0).
# (AddressSanitizer lowers the limit to 0 at start unless told not to.)
(ulimit -S -c 4096 && ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}disable_coredump=0 \
        "$RECEIVER" --listen="$S" --store="$T/store" --init -- \
        /bin/sh -c 'grep "^Max core file size" /proc/self/limits' >"$T/out" 2>"$T/err")
check "the command gets the receiver's RLIMIT_CORE (4 MiB soft)" \
        sh -c "awk '{print \$5}' '$T/out' | grep -qx 4194304"

"$RECEIVER" --user=nobody --listen="$S" 2>"$T/err"
check "--user without --init: usage error" test $? = 2
"$RECEIVER" --init 2>"$T/err"
check "--init without a command: usage error" sh -c "[ $? = 2 ] && grep -q 'needs a command' '$T/err'"

# With Upload=, the credentials the environment gives are the receiver's: the command, here
# running as nobody, does not find them in its own environment; its other variables it keeps.
# Without Upload=, the receiver has no use for them and the command keeps its environment whole.
# (The upload target is never reached: no crash here.)
env_of_command() {
        env AWS_ACCESS_KEY_ID=AKIDINIT AWS_SECRET_ACCESS_KEY=init-secret-$$ UPLOAD_PASSWORD=init-pw-$$ APP_SETTING=kept \
                "$RECEIVER" --listen="$S" --store="$T/store" "$@" --init --user=nobody -- /usr/bin/env >"$T/out" 2>"$T/err"
}
env_of_command --upload=ftp://127.0.0.1:9/in
check "with Upload=: the command runs as nobody" test $? = 0
check "  and its environment holds no upload credential" \
        sh -c "! grep -Eq '^(AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|UPLOAD_PASSWORD)=|init-secret|init-pw' '$T/out'"
check "  and keeps its other variables" grep -qx APP_SETTING=kept "$T/out"
env_of_command
check "without Upload=: the command's environment is whole" grep -qx "AWS_SECRET_ACCESS_KEY=init-secret-$$" "$T/out"
