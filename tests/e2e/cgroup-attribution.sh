#!/bin/bash
# Issue 11, class 7 (attribution): the container named in the host's log comes from the part of
# the cgroup path the container cannot create. The engine puts the container in its scope; root
# in the container (here: writing to the cgroupfs it mounts, as with a delegated subtree) creates
# children below it, named like another container's scope, an LXC container or a half-valid pod
# uid, and crashes from there. The log must name the container's own scope (and pod), whole.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

CG=/sys/fs/cgroup/systemd
[ -d "$CG" ] || CG=/sys/fs/cgroup
grep -q "name=systemd\|^0::" /proc/self/cgroup || skip_all "no systemd or unified cgroup hierarchy"
install_pattern || exit 1

hex64() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
uuid() { cat /proc/sys/kernel/random/uuid; }

OWN=$(hex64)
OTHER=$(hex64)
SLICE=cpt-attr-$$.slice
POD=$(uuid)
KUBE=kubepods-cpt$$
MADE=()
trap 'for ((k = ${#MADE[@]} - 1; k >= 0; k--)); do rmdir "${MADE[k]}" 2>/dev/null; done; tap_cleanup' EXIT

# mkcg PATH: the engine's part, done by the host.
mkcg() {
        local part path=
        for part in ${1//\// }; do
                path=${path:+$path/}$part
                [ -d "$CG/$path" ] && continue
                mkdir "$CG/$path"
                MADE+=("$CG/$path")
        done
}

# crash_below CONTAINER ENGINE-CGROUP CHILD NAME: in the container, root mounts the hierarchy,
# puts itself in the engine's cgroup, makes CHILD below it, moves there and crashes.
crash_below() {
        local ct=$1 engine=$2 child=$3 name=$4
        MADE+=("$CG/$engine/$child")
        ct_exec "$ct" /bin/sh -ec '
                mkdir -p /tmp/cg
                mountpoint -q /tmp/cg || mount -t cgroup -o none,name=systemd cpt-attr /tmp/cg 2>/dev/null ||
                        mount -t cgroup2 cpt-attr /tmp/cg
                echo $$ >"/tmp/cg/$1/cgroup.procs"
                mkdir -p "/tmp/cg/$1/$2"
                echo $$ >"/tmp/cg/$1/$2/cgroup.procs"
                ulimit -c unlimited
                exec /build/tests/crasher --name "$3"' sh "$engine" "$child" "$name" >/dev/null 2>&1
}

container_start attr
mkcg "$SLICE/docker-$OWN.scope"

# 1. A child named like another container's docker scope.
crash_below attr "$SLICE/docker-$OWN.scope" "docker-$OTHER.scope" cpt-attr1-$$
check "a child named like another container's scope: the crash is logged in that cgroup" \
        wait_for_log "comm=\"cpt-attr1-$$\" .*cgroup=\"/$SLICE/docker-$OWN.scope/docker-$OTHER.scope\""
check "the host log names the container's own scope" \
        wait_for_log "comm=\"cpt-attr1-$$\" .*container=\"docker:$OWN\""
no_other=$(host_log | grep -c "container=\"docker:$OTHER\"")
check "the host log does not name the other container" test "$no_other" = 0

# 2. A child named like an LXC container.
crash_below attr "$SLICE/docker-$OWN.scope" "lxc.payload.victim" cpt-attr2-$$
check "a child named like an LXC container: the host log names the container's own scope" \
        wait_for_log "comm=\"cpt-attr2-$$\" .*cgroup=\"/$SLICE/docker-$OWN.scope/lxc.payload.victim\" container=\"docker:$OWN\""

# 3. Kubernetes (cgroupfs driver): a container of pod POD below the kubelet's tree creates a
#    child "pod<uid>" valid to its 35th character. Before, the characters were written as they
#    were checked: the pod uid in the log was the child's 35 characters and POD's last one.
# The kubelet's tree is at the top of the hierarchy: "kubepods" begins the first component.
mkcg "$KUBE/burstable/pod$POD/$OWN"
HALF=bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbZ
crash_below attr "$KUBE/burstable/pod$POD/$OWN" "pod$HALF" cpt-attr3-$$
check "a half-valid pod uid below the container: the host log has the pod's uid, whole" \
        wait_for_log "comm=\"cpt-attr3-$$\" .*container=\"kubernetes:$OWN\" pod=$POD( |$)"
check "no spliced pod uid" sh -c "! dmesg | grep 'cpt-attr3-$$' | grep -q 'pod=bbbbbbbb'"

# 4. A pod's container makes a whole second pod and container below itself.
OTHERPOD=$(uuid)
MADE+=("$CG/$KUBE/burstable/pod$POD/$OWN/pod$OTHERPOD")
crash_below attr "$KUBE/burstable/pod$POD/$OWN" "pod$OTHERPOD/$OTHER" cpt-attr4-$$
check "a pod and container below a pod's container: the host log names the outer ones" \
        wait_for_log "comm=\"cpt-attr4-$$\" .*container=\"kubernetes:$OWN\" pod=$POD( |$)"

# 5. A container with no cgroup of its own (named by its engine's monitor, podman's conmon, the
#    parent of its init) runs a process whose command line reads like conmon's and that starts
#    the crashing process in a pid namespace of its own. The label comes from the parent of the
#    container's init, which the container cannot choose, never from a parent it started
#    itself. Before, the log named the forged "podman:aaaa...".
container_start plain
FORGED=$(printf 'a%.0s' $(seq 64))
ct_exec plain /bin/bash -c 'ulimit -c unlimited; exec -a conmon unshare -pf -- /build/tests/crasher --name "$1" --cid "$2"' \
        sh "cpt-attr5-$$" "$FORGED" >/dev/null 2>&1
check "a monitor of its own making: the crash is logged" wait_for_log "comm=\"cpt-attr5-$$\" .*outcome="
check "a monitor of its own making: no podman label from it" \
        sh -c "! dmesg | grep 'cpt-attr5-$$' | grep -q 'container=\"podman:'"
