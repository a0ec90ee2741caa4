# shellcheck shell=bash
# Debian 12 root file systems for the tests that run real engines (docker, podman, LXC): made
# with debootstrap through the package mirror apt uses (no image registry is needed), cached
# under $CORE_PIPE_ROOTFS_CACHE between tests and between runs, one directory per package set.

ROOTFS_CACHE=${CORE_PIPE_ROOTFS_CACHE:-/var/cache/core_pipe-tests}
# The libraries the receiver links against, and zstd to read a stored core inside.
# shellcheck disable=SC2034 # read by the tests that build a receiver root
ROOTFS_RECEIVER_PACKAGES=(libsystemd0 libzstd1 libjson-c5 libinih1 libdw1 libcurl4 zstd)

# rootfs_mirror: the Debian mirror of this machine's apt sources (deb.debian.org otherwise).
rootfs_mirror() {
        local uri
        uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -m1 -E '/debian/?( |$)' |
                sed -E 's/^URIs: *//; s/^deb +(\[[^]]*\] +)?//; s/ .*//')
        echo "${CORE_PIPE_DEBIAN_MIRROR:-${uri:-http://deb.debian.org/debian}}"
}

# rootfs_get NAME [PACKAGE...]: prints the path of a cached Debian 12 (minbase) root with these
# packages, building it first if needed. Concurrent callers wait for one build. Never modify the
# result: copy it (or import it into an engine) instead.
rootfs_get() {
        local name=$1 key dir lock
        shift
        key=$(printf '%s\n' bookworm minbase "$@" | sha256sum | cut -c1-12)
        dir=$ROOTFS_CACHE/$name-$key
        mkdir -p "$ROOTFS_CACHE"
        exec {lock}>>"$ROOTFS_CACHE/.lock"
        flock -w 900 "$lock" || {
                echo "$ROOTFS_CACHE/.lock: held for 15 minutes" >&2
                exec {lock}>&-
                return 1
        }
        if [ ! -e "$dir/.complete" ]; then
                rm -rf "$dir.tmp"
                local pkgs
                pkgs=$(IFS=,; echo "$*")
                if ! debootstrap --variant=minbase ${pkgs:+--include="$pkgs"} bookworm "$dir.tmp" "$(rootfs_mirror)" \
                        >"$ROOTFS_CACHE/$name.log" 2>&1; then
                        echo "debootstrap of $name failed; see $ROOTFS_CACHE/$name.log:" >&2
                        tail -n 5 "$ROOTFS_CACHE/$name.log" >&2
                        rm -rf "$dir.tmp"
                        exec {lock}>&-
                        return 1
                fi
                # apt's lists are dropped: half of the root's size, and stale in any case.
                rm -rf "$dir.tmp/var/lib/apt/lists/"* "$dir.tmp/var/cache/apt/"*.bin
                touch "$dir.tmp/.complete"
                mv "$dir.tmp" "$dir"
        fi
        exec {lock}>&-
        echo "$dir"
}
