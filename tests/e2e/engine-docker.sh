#!/bin/bash
# Docker (Debian's docker.io 20.10, its own dockerd): every way people run containers stores the
# core inside the container that crashed: a resident receiver, init mode, the engine's --init,
# a shell wrapper, a pid-1 app, --rm with a volume, a non-root app, a read-only root, cores
# disabled, and twenty immediate crashes in a row.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/engines.sh"
tap_init
require_root_kernel
engines_init
engine_setup docker || skip_all "docker is not usable"
IMG=$(engine_image receiver "${ROOTFS_RECEIVER_PACKAGES[@]}") || { echo "Bail out! no image"; exit 1; }
diag "image $IMG"

install_pattern
engine_scenarios "$IMG"
