#!/bin/bash
# Installs, from Debian's packages, what core_pipe needs to build, test and run the quick start.
# Idempotent: installs only what is missing, and updates the package lists only then.
set -eu
PACKAGES=(
        gcc libc6-dev pkg-config meson ninja-build  # build
        libsystemd-dev libzstd-dev libjson-c-dev libinih-dev    # the receiver's libraries
        libdw-dev                                   # the receiver's backtraces (elfutils' libdw, libdwfl, libelf)
        debuginfod                                  # tests: a local debuginfod server for the backtraces
        iproute2                                    # tests: the debuginfod server's own loopback (ip link)
        scdoc man-db                                # man pages, and rendering them in the tests
        util-linux binutils zstd gdb python3        # tests: unshare/nsenter, readelf, cores, JSON
        debootstrap                                 # tests: Debian roots for the real engines
        lxc containerd runc                         # tests: real LXC, and containerd run by ctr
        systemd-container systemd-coredump          # tests: nspawn containers, coredumpctl
        pigz                                        # bench: one of the handlers compared
        docker.io podman conmon uidmap              # tests: the real engines (suite "engine")
        slirp4netns fuse-overlayfs catatonit tini   # tests: rootless podman, the engines' --init
        busybox-static                              # tests: core_pipe-init in images with nothing else
        musl-tools                                  # tests: core_pipe-init in a musl image
)
missing=()
for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" != 0 ]; then
                echo "deps: missing ${missing[*]}; run as root to install them" >&2
                exit 1
        fi
        echo "deps: installing ${missing[*]}"
        # systemd-coredump's package points kernel.core_pattern at itself when it is installed;
        # installing test tools must not change how this machine handles crashes.
        pattern=$(cat /proc/sys/kernel/core_pattern)
        suid_dumpable=$(cat /proc/sys/fs/suid_dumpable)
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        printf '%s\n' "$pattern" >/proc/sys/kernel/core_pattern
        echo "$suid_dumpable" >/proc/sys/fs/suid_dumpable
fi
