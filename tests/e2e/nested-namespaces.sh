#!/bin/bash
# Issue 11, class 2: a process in a nested user, mount or pid namespace inside a container is
# handled by that container's receiver. Uid 1000 of a container can make all of those; before,
# each one sent its crash to the host's fallback store, around the container's own policy (the
# socket's owner was not root of the nested user namespace, or the nested root had no socket).
# Now the container's receiver is eligible (its listener is root of an ancestor user namespace,
# in an ancestor pid namespace), and when the process's own root holds no socket the container
# init's root is tried.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern "TimeoutSec=3s" || exit 1

# nested_crash CONTAINER NAME UNSHARE-OPTIONS [SETUP]: uid 1000 of the container runs
# "unshare OPTIONS" and, in the new namespaces, SETUP (a shell fragment) and then the crasher
# named NAME ($CRASH is the command that runs it).
nested_crash() {
        local ct=$1 name=$2 opts=$3 setup=${4:-}
        CT_TIMEOUT=60 ct_exec "$ct" /bin/sh -c '
                ulimit -c unlimited
                exec setpriv --reuid 1000 --regid 1000 --clear-groups -- unshare $2 -- /bin/sh -c "
                        CRASH=\"/build/tests/crasher --name $1\"
                        $3
                        \$CRASH"' sh "$name" "$opts" "$setup" >/dev/null 2>&1
}

# stored_by_container CONTAINER NAME LABEL: the crash was stored by the container's receiver.
stored_by_container() {
        local ct=$1 name=$2 label=$3
        check "$label: stored by the container's receiver" \
                wait_for_log "comm=\"$name\" .*ct=$(ct_key "$ct") .*outcome=stored receiver=container file="
        check "$label: the core is in the container's store" \
                wait_for_file "$(ct_root "$ct")/var/lib/core_pipe/core.$name.*.zst"
}

container_start nest
start_receiver nest

# 1. unshare -U: a user namespace with no map at all (its root maps to nothing).
NAME=cpt-nU-$$
nested_crash nest "$NAME" -U
stored_by_container nest "$NAME" "unshare -U"

# 2. unshare -Ur: its root is container uid 1000, which does not own the socket.
NAME=cpt-nUr-$$
nested_crash nest "$NAME" -Ur
stored_by_container nest "$NAME" "unshare -Ur"

# 3. unshare -Urm with a fresh /run: its own root holds no socket; the init's root does.
NAME=cpt-nUrm-$$
nested_crash nest "$NAME" -Urm 'mount -t tmpfs nested /run'
stored_by_container nest "$NAME" "unshare -Urm, /run hidden"

# 4. unshare -Urm and chroot into a directory without /run.
NAME=cpt-nchr-$$
# shellcheck disable=SC2016 # expanded by the nested shell
nested_crash nest "$NAME" -Urm 'J=$(mktemp -d); mkdir $J/usr $J/build
        mount --rbind /usr $J/usr; mount --rbind /build $J/build
        for l in bin lib lib64; do ln -s usr/$l $J/$l; done
        CRASH="chroot $J $CRASH"'
stored_by_container nest "$NAME" "unshare -Urm + chroot"

# 4b. unshare -Urm with a fresh /run and a receiver of its own there that refuses every core:
#     the container's receiver gets it still, not the host's fallback around the container's
#     policy. Before, the refusal sent it to the fallback.
NAME=cpt-nref-$$
# shellcheck disable=SC2016 # expanded by the nested shell
nested_crash nest "$NAME" -Urm 'mount -t tmpfs nested /run
        /build/tests/evil-receiver forge-refuse /run/core_pipe.socket /run/evil.log </dev/null >/dev/null 2>&1 &
        while [ ! -S /run/core_pipe.socket ]; do sleep 0.05; done'
stored_by_container nest "$NAME" "unshare -Urm, a refusing receiver of its own"

# 5. A nested pid namespace too (unshare -Urmpf --mount-proc): the container is still the
#    outermost pid namespace below the host's.
NAME=cpt-nUp-$$
nested_crash nest "$NAME" "-Urmpf --mount-proc"
stored_by_container nest "$NAME" "unshare -Urmpf"

# 6. The same in a container with a user namespace of its own (its root is host uid 100000).
CT_USERNS=1 container_start nestu
start_receiver nestu
NAME=cpt-nuU-$$
nested_crash nestu "$NAME" -U
stored_by_container nestu "$NAME" "userns container, unshare -U"
NAME=cpt-nuUrm-$$
nested_crash nestu "$NAME" -Urm 'mount -t tmpfs nested /run'
stored_by_container nestu "$NAME" "userns container, unshare -Urm, /run hidden"

check "nothing went to the host's fallback store" test ! -e "$T/hoststore/containers"
