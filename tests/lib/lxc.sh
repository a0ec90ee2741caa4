# shellcheck shell=bash
# LXC containers for the end-to-end tests: real lxc-start/lxc-attach (LXC 5.0, Debian 12) on a
# copy of the cached Debian 12 root (rootfs.sh), with its own lxcpath under $T so that nothing
# of the host's LXC setup is used or changed. The build's programs are bound read-only at /build,
# as in the unshare containers of container.sh (a world-readable copy, ct_share: an unprivileged
# container's mapped root cannot reach into a checkout other users cannot enter). Source after lib.sh; call lxc_cleanup from the EXIT
# trap (it is idempotent and always returns 0).

LXC_NAMES=()
# The ids an unprivileged container maps: its 0-65535 are host 100000-165535.
LXC_ID_BASE=100000
LXC_ID_COUNT=65536

lxc_available() {
        command -v lxc-start >/dev/null && command -v lxc-attach >/dev/null && command -v lxc-info >/dev/null
}

# lxc_root_has_subids: true when /etc/subuid and /etc/subgid give root the ids the container maps.
lxc_root_has_subids() {
        local f
        for f in /etc/subuid /etc/subgid; do
                awk -F: -v b="$LXC_ID_BASE" -v n="$LXC_ID_COUNT" \
                        '$1 == "root" && $2 <= b && $2 + $3 >= b + n { ok = 1 } END { exit !ok }' "$f" 2>/dev/null ||
                        return 1
        done
}

# lxc_path_for_idmap: prints the PATH for lxc-start. Where shadow's newuidmap is installed, LXC
# uses it even as root, and it maps only what /etc/subuid grants root (root:100000:65536 is the
# usual setup for root-owned unprivileged containers, see README.md). A test must not change
# the host's /etc/subuid (usermod cannot even take a range back from root while root runs
# processes): when root has no such range, LXC gets a PATH without newuidmap and newgidmap, and
# then writes the maps itself, as root may.
lxc_path_for_idmap() {
        if ! command -v newuidmap >/dev/null || lxc_root_has_subids; then
                echo "$PATH"
                return 0
        fi
        local bin=$T/lxc-bin f
        if [ ! -d "$bin" ]; then
                mkdir -p "$bin"
                for f in /usr/bin/*; do
                        case "${f##*/}" in newuidmap | newgidmap) continue ;; esac
                        ln -s "$f" "$bin/${f##*/}"
                done
        fi
        echo "$bin:/usr/sbin:/sbin"
}

# lxc_shift_ids DIR: every file under DIR (DIR included) to the container's ids, as host ids
# (uid + 100000). chown clears set-id bits: they are put back.
lxc_shift_ids() {
        python3 - "$1" "$LXC_ID_BASE" <<'PY'
import os, stat, sys
root, base = sys.argv[1], int(sys.argv[2])
def shift(p):
    st = os.lstat(p)
    os.lchown(p, st.st_uid + base, st.st_gid + base)
    if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o6000:
        os.chmod(p, stat.S_IMODE(st.st_mode))
shift(root)
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        shift(os.path.join(d, n))
PY
}

# lxc_create NAME ROOTFS [unprivileged]: a container in $T/lxc/NAME from a copy of ROOTFS. Its
# init (/cpt-init) starts the resident receiver from /build, logging to /run/receiver.log, then
# sleeps. Libraries the built receiver needs and the root lacks (a sanitizer's runtime) are
# copied in from the host.
lxc_create() {
        local name=$1 rootfs=$2 mode=${3:-privileged} dir=$T/lxc/$1 lib
        mkdir -p "$dir"
        cp -a "$rootfs" "$dir/rootfs" || return 1
        for lib in $(ldd "$RECEIVER" | grep -o '/[^ ]*'); do
                [ -e "$dir/rootfs$lib" ] || cp -L "$lib" "$dir/rootfs$lib" || return 1
        done
        cat >"$dir/rootfs/cpt-init" <<'EOF'
#!/bin/sh
/build/receiver/core_pipe-receiver --listen >>/run/receiver.log 2>&1 &
exec sleep infinity
EOF
        chmod 0755 "$dir/rootfs/cpt-init"
        {
                echo "lxc.include = /usr/share/lxc/config/common.conf"
                [ "$mode" = unprivileged ] && echo "lxc.include = /usr/share/lxc/config/userns.conf"
                echo "lxc.uts.name = $name"
                echo "lxc.rootfs.path = dir:$dir/rootfs"
                echo "lxc.net.0.type = empty"
                echo "lxc.mount.entry = $(ct_share) build none bind,ro,create=dir 0 0"
                echo "lxc.init.cmd = /cpt-init"
                echo "lxc.log.file = $dir/lxc.log"
                echo "lxc.log.level = INFO"
                if [ "$mode" = unprivileged ]; then
                        echo "lxc.idmap = u 0 $LXC_ID_BASE $LXC_ID_COUNT"
                        echo "lxc.idmap = g 0 $LXC_ID_BASE $LXC_ID_COUNT"
                fi
        } >"$dir/config"
        if [ "$mode" = unprivileged ]; then
                lxc_shift_ids "$dir/rootfs" || return 1
                # Its root (host uid 100000) must reach the root file system.
                chmod o+x "$T" "$T/lxc" "$dir"
        fi
}

# lxc_start NAME: starts the container and waits until its receiver listens. The test's lock
# on kernel.core_pattern is not handed to LXC's monitor, which outlives this call.
lxc_start() {
        local name=$1 i
        LXC_NAMES+=("$name")
        PATH=$(lxc_path_for_idmap) lxc-start -P "$T/lxc" -n "$name" -d {PATTERN_LOCK_FD}>&- </dev/null || {
                grep -E 'ERROR|WARN' "$T/lxc/$name/lxc.log" | tail -n 10 >&2
                return 1
        }
        for ((i = 0; i < 200; i++)); do
                [ -S "$T/lxc/$name/rootfs/run/core_pipe.socket" ] && return 0
                sleep 0.05
        done
        echo "the receiver in LXC container $name did not start" >&2
        cat "$T/lxc/$name/rootfs/run/receiver.log" >&2
        return 1
}

# lxc_pid NAME: the host pid of the container's init.
lxc_pid() {
        lxc-info -P "$T/lxc" -n "$1" -pH
}

# lxc_exec NAME COMMAND...: runs a command in the container with lxc-attach. A shell inside waits
# for it and exits normally, so that a crash is never re-raised by a process on the host.
lxc_exec() {
        local name=$1
        shift
        lxc-attach -P "$T/lxc" -n "$name" -- /bin/sh -c '"$@"; rc=$?; exit $rc' sh "$@" {PATTERN_LOCK_FD}>&- </dev/null
}

lxc_cleanup() {
        local name
        for name in "${LXC_NAMES[@]}"; do
                timeout 30 lxc-stop -P "$T/lxc" -n "$name" -k >/dev/null 2>&1
        done
        LXC_NAMES=()
        return 0
}
