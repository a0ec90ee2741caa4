#!/bin/bash
# Rootless podman: an unprivileged user (created here, with subordinate ids) runs the container,
# whose root is that user on the host. Its receiver stores the core inside the container, and the
# record says which container it was.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/engines.sh"
tap_init
require_root_kernel
engines_init
engine_setup podman-rootless || skip_all "rootless podman is not usable"
IMG=$(engine_image receiver "${ROOTFS_RECEIVER_PACKAGES[@]}") || { echo "Bail out! no image"; exit 1; }
diag "image $IMG, user $ENGINE_ROOTLESS_USER (uid $ROOTLESS_UID)"

install_pattern

# A resident receiver; a program started later crashes.
scenario_resident "$IMG"
check "resident: the core belongs to the container's root, host uid $ROOTLESS_UID" \
        test "$(stat -c %u "${JSON%.json}.zst" 2>/dev/null)" = "$ROOTLESS_UID"
check "resident: record: uid 0 as the container knows it" test "$(json_field "$JSON" uid 2>/dev/null)" = 0
# For the identity parser: what the host sees of a rootless container's process.
diag "resident: host log: $(host_log | grep -F "comm=\"res-$$\"" | head -n1)"

# Init mode: the app is the receiver's child and crashes at once.
scenario_init_mode "$IMG"
# The engine's --init (catatonit) and the resident receiver.
scenario_engine_init "$IMG"
check "nothing in the host store" no_host_cores
