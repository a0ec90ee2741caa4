#!/bin/bash
# The memory-limit matrix (memory-matrix.sh) in a docker container run with --memory and
# --memory-swap: the engine's own memory cgroup, cgroup file system and entrypoint.
MATRIX_ENGINE=docker exec "$(dirname "$0")/memory-matrix.sh" "$@"
