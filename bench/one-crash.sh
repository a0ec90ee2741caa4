#!/bin/bash
# One crash of a SIZE MiB process (default 1024) in a container with the resident receiver, its
# store on disk (/var/tmp): prints the stall (fault → reaped), the time until the record is on
# disk, the stored size and what `zstd -1` makes of the same core. As root:
#   bench/one-crash.sh [SIZE_MIB] [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
SIZE=${1:-1024}
CORE_PIPE_BUILD=$(realpath "${2:-build}")
export CORE_PIPE_BUILD
. tests/lib/lib.sh
T=$(mktemp -d /var/tmp/core_pipe-bench.XXXXXX)
trap 'containers_stop_all; restore_kernel_settings; rm -rf "$T"' EXIT
install_pattern
mkdir -p "$T/var"
CT_VAR=$T/var container_start bench
start_receiver bench
start=$(date +%s.%N)
line=$(ct_exec bench /build/bench/stall --size "$SIZE" --name bench-crash)
for _ in $(seq 600); do
        ls "$T"/var/lib/core_pipe/core.bench-crash.*.json >/dev/null 2>&1 && break
        sleep 0.05
done
durable=$(date +%s.%N)
json=$(ls "$T"/var/lib/core_pipe/core.bench-crash.*.json)
core=${json%.json}.zst
stored=$(stat -c %s "$core")
raw=$(zstd -q -d -c "$core" | wc -c)
ref=$(zstd -q -d -c "$core" | zstd -1 -T0 -q -c | wc -c)
echo "$line"
awk -v a="$start" -v b="$durable" 'BEGIN { printf "until_durable_s<=%.2f (crash start to record on disk, includes filling memory)\n", b - a }'
echo "core_bytes=$raw stored_bytes=$stored zstd-1_bytes=$ref ratio_to_zstd-1=$(awk -v s="$stored" -v r="$ref" 'BEGIN { printf "%.3f", s / r }')"
