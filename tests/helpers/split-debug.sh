#!/bin/sh
# split-debug.sh IN OUT DEBUGROOT: OUT is IN stripped of every symbol and all debug information
# (a distribution's binary), with a .gnu_debuglink; its debug file is DEBUGROOT/.build-id/xx/
# yyyy.debug, the layout of /usr/lib/debug (copy DEBUGROOT's content there to install it).
set -eu
in=$1 out=$2 root=$3
id=$(readelf -n "$in" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')
[ -n "$id" ] || { echo "split-debug.sh: $in has no build-id" >&2; exit 1; }
dir=$root/.build-id/$(echo "$id" | cut -c1-2)
rm -rf "$root"
mkdir -p "$dir"
debug=$dir/$(echo "$id" | cut -c3-).debug
objcopy --only-keep-debug "$in" "$debug"
objcopy --strip-all --add-gnu-debuglink="$debug" "$in" "$out"
