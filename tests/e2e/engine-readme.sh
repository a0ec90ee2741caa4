#!/bin/bash
# The README's own recipes: its Dockerfiles (and entrypoint script) are taken from README.md's
# text, built with `docker build` on a Debian 12 root imported as debian:12, run, and crashed:
# the core is stored in the container. The systemd image is booted with podman.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/engines.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
tap_init
require_root_kernel
engines_init
engine_setup docker || skip_all "docker is not usable"

# debian:12, from a plain debootstrap root (marked with its key, re-imported when it changes).
ROOT=$(rootfs_get debian) || { echo "Bail out! no Debian root"; exit 1; }
KEY=${ROOT##*-}
if ! eng image inspect -f '{{.Config.Env}}' debian:12 2>/dev/null | grep -q "CORE_PIPE_ROOTFS=$KEY"; then
        tar -C "$ROOT" -c . | eng import -c "ENV CORE_PIPE_ROOTFS=$KEY" - debian:12 >/dev/null ||
                { echo "Bail out! import of debian:12"; exit 1; }
fi

# The recipes, as README.md writes them: every ```dockerfile block, and the entrypoint script.
R=$T/readme
mkdir -p "$R"
python3 - "$SRC/README.md" "$R" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for i, (lang, body) in enumerate(re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)):
    if lang == "dockerfile":
        kind = ("systemd" if "/sbin/init" in body else "init" if '"--init"' in body
                else "entrypoint" if "entrypoint.sh" in body else f"other{i}")
        open(f"{sys.argv[2]}/Dockerfile.{kind}", "w").write(body)
    elif lang == "sh" and body.startswith("#!/bin/sh\n# entrypoint.sh"):
        open(f"{sys.argv[2]}/entrypoint.sh", "w").write(body)
PY
check "README: the init-mode Dockerfile" test -s "$R/Dockerfile.init"
check "README: the entrypoint Dockerfile and its script" test -s "$R/Dockerfile.entrypoint" -a -s "$R/entrypoint.sh"
check "README: the systemd Dockerfile" test -s "$R/Dockerfile.systemd"

# The build context: the receiver, the app (the crasher), the script, and the units of a build
# configured as the README says (--prefix=/usr; configuring generates them).
CTX=$T/context
mkdir -p "$CTX"
install -m 0755 "$RECEIVER" "$CTX/core_pipe-receiver"
install -m 0755 "$CRASHER" "$CTX/my-app"
install -m 0755 "$R/entrypoint.sh" "$CTX/entrypoint.sh" 2>/dev/null
meson setup "$T/build-usr" "$SRC" --prefix=/usr >"$T/setup.log" 2>&1 || { tail "$T/setup.log"; echo "Bail out! meson setup"; exit 1; }
cp "$T/build-usr/units/core_pipe-forward.socket" "$T/build-usr/units/core_pipe-forward@.service" \
        "$T/build-usr/units/core_pipe.conf" "$CTX/"
check "units built for /usr name /usr/libexec/core_pipe-receiver" \
        grep -q '^ExecStart=/usr/libexec/core_pipe-receiver ' "$CTX/core_pipe-forward@.service"

build() {
        # The network only for apt inside the build; the Dockerfile is the README's text.
        eng build --network host -t "localhost/core_pipe-test-readme-$1" -f "$R/Dockerfile.$1" "$CTX" \
                >"$T/build-$1.log" 2>&1 || { tail -n 20 "$T/build-$1.log" >&2; return 1; }
}
# Built before the kernel's pattern is taken (the builds are the slow part). The tags stay:
# docker's build cache then skips apt on the next run.
for kind in init entrypoint systemd; do
        t0=$(date +%s%N)
        check "$kind: docker build" build "$kind"
        diag "$kind: built in $((($(date +%s%N) - t0) / 1000000)) ms"
done

install_pattern
export CT_APP_PATH=/usr/bin/my-app
for kind in init entrypoint; do
        st=$(store_dir "$kind")
        rc=0
        # Every app is "my-app": the host log from here on is this one's.
        host_log_from_now
        # As the README runs it: the image's own entrypoint and command.
        eng run --rm --label "core_pipe.test=$ENGINE_TAG" --network none --ulimit core=-1 \
                -v "$st:/var/lib/core_pipe" "localhost/core_pipe-test-readme-$kind" >/dev/null 2>&1 || rc=$?
        check "$kind: the app crashed (status 139)" test "$rc" = 139
        check_stored "$st" my-app "$kind"
done
check "init: the app ran as the README's user \"app\"" test "$(json_field "$(one_record "$T/store-init" my-app)" uid 2>/dev/null)" = \
        "$(eng run --rm --network none --entrypoint id "localhost/core_pipe-test-readme-init" -u app 2>/dev/null)"

# The systemd image: built by docker, booted by podman (which runs systemd on any cgroup layout).
engine_setup podman || true
check "systemd: image handed to podman" sh -c "DOCKER_HOST=unix://$ENGINE_DOCKER_SOCK $DOCKER save localhost/core_pipe-test-readme-systemd |
        CONTAINERS_CONF=$STAGE/containers.conf podman load -q"
CT=cpt-readme-sd-$$
check "systemd: container started" eng run -d --name "$CT" --label "core_pipe.test=$ENGINE_TAG" --network none --systemd=always \
        --ulimit core=-1 --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 "localhost/core_pipe-test-readme-systemd"
check "systemd: booted" wait_systemd "$CT"
check "systemd: the socket is enabled by the image" test "$(eng exec "$CT" systemctl is-active core_pipe-forward.socket)" = active
host_log_from_now
pid=$(eng exec "$CT" systemd-run --unit=my-app --wait --pipe -q -p LimitCORE=infinity /usr/bin/my-app 2>/dev/null)
copy_out "$CT" my-app "$T/store-systemd"
check_stored "$T/store-systemd" my-app systemd
eng exec "$CT" coredumpctl debug --no-pager --debugger-arguments="-batch -ex bt" "$pid" >"$T/debug.txt" 2>&1
check "systemd: coredumpctl debug shows crash_here" grep -q crash_here "$T/debug.txt"
eng_rm "$CT"
check "nothing in the host store" no_host_cores
