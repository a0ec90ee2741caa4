#!/bin/bash
# Installs, from Debian's packages, what core_pipe needs to build, test and run the quick start.
# Idempotent: installs only what is missing, and updates the package lists only then.
set -eu
PACKAGES=(
        gcc libc6-dev pkg-config meson ninja-build  # build
        libsystemd-dev libzstd-dev libjson-c-dev libinih-dev    # the receiver's libraries
        libcurl4-openssl-dev libssl-dev             # the receiver's uploads (issue 13): libcurl, EVP
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
        vsftpd openssh-server curl openssl          # tests: upload servers (FTP, SFTP) and checks
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
        # No daemon may start from a package installed for the tests (vsftpd and sshd would
        # listen on every address): policy-rc.d forbids it for the time of the install.
        policy_rc=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
                printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
                chmod 0755 /usr/sbin/policy-rc.d
                policy_rc=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        [ -z "$policy_rc" ] || rm -f /usr/sbin/policy-rc.d
        printf '%s\n' "$pattern" >/proc/sys/kernel/core_pattern
        echo "$suid_dumpable" >/proc/sys/fs/suid_dumpable
fi
# The S3 server of the upload tests (s3rver), from the npm registry into tests/servers/node, at
# the versions package-lock.json fixes; again only when the lock file changed since the install.
node_dir=$(cd "$(dirname "$0")/.." && pwd)/tests/servers/node
if ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.package-lock.json.installed" 2>/dev/null; then
        if ! command -v npm >/dev/null; then
                echo "deps: installing nodejs and npm"
                apt-get update -qq
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
        fi
        echo "deps: installing the test servers of $node_dir (npm ci)"
        (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        cp "$node_dir/package-lock.json" "$node_dir/node_modules/.package-lock.json.installed"
fi
