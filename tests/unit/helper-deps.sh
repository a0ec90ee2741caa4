#!/bin/bash
# The host helper runs as root for every crash on the machine: it must need nothing but libc.
# Also checks the generated sysctl.d drop-in: the pattern fits the kernel's 127 bytes.
set -u
BUILD=${CORE_PIPE_BUILD:?}
n=0 failed=0
check() {
        n=$((n + 1))
        if (eval "$2"); then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=$((failed + 1)); fi
}
needed=$(readelf -d "$BUILD/pipe/core_pipe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
echo "# NEEDED: $needed"
if [ -n "${CORE_PIPE_SANITIZE:-}" ] && [ "$CORE_PIPE_SANITIZE" != none ]; then
        # A sanitizer build adds its runtimes, and nothing else.
        # shellcheck disable=SC2034 # read by the check's command string
        others=$(printf '%s\n' $needed | grep -Ev '^(libc\.so\.6|libasan\.so\.[0-9]+|libubsan\.so\.[0-9]+|libtsan\.so\.[0-9]+)$' | tr '\n' ' ')
        check "core_pipe links only libc and the sanitizer runtimes ($CORE_PIPE_SANITIZE)" '[ -z "$others" ]'
else
        check "core_pipe links only libc" '[ "$needed" = "libc.so.6 " ]'
fi
pattern=$(sed -n 's/^kernel.core_pattern = //p' "$BUILD/60-core_pipe.conf")
echo "# pattern: $pattern (${#pattern} bytes)"
check "sysctl.d drop-in sets a pipe pattern" '[ "${pattern#|}" != "$pattern" ]'
check "pattern fits the kernel limit (127 bytes)" '[ "${#pattern}" -le 127 ]'
check "pattern passes every specifier the helper requires" \
        'for k in "F=%F" "P=%P" "u=%u" "g=%g" "s=%s" "t=%t" "c=%c" "d=%d" "h=%h" "e=%e"; do case " $pattern " in *" $k "*) ;; *) exit 1;; esac; done'
check "core_pipe_limit is non-zero" 'grep -Eq "^kernel.core_pipe_limit = [1-9]" "$BUILD/60-core_pipe.conf"'
echo "1..$n"
[ "$failed" = 0 ]
