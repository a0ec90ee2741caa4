# shellcheck shell=bash
# core_pipe-init in the engines' init slot, for engine-init-slot: a dockerd of the test's own
# configured as README.md says ("init": true and "init-path" in daemon.json: every container gets
# it), podman with the containers.conf lines (init = true, init_path), and images with nothing
# the receiver could use (scratch with a static app, busybox). Sourced after engines.sh.

INIT=$BUILD/receiver/core_pipe-init
CRASHER_STATIC=$BUILD/tests/crasher-static
CRASHER_MUSL=$BUILD/tests/crasher-musl
# Its own socket, roots and configuration: the other engine tests' dockerd keeps tini as --init.
ENGINE_DOCKER_INIT_SOCK=/run/core_pipe-tests-docker-init.sock
ENGINE_DOCKER_INIT_ROOT=/var/lib/core_pipe-tests-docker-init
# dockerd outlives the test: it names a fixed path, where each run puts its build's init.
ENGINE_DOCKER_INIT_PATH=$ENGINE_DOCKER_INIT_ROOT/core_pipe-init

INITSLOT_README=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/README.md

# readme_block LANG PATH: the ```LANG block of README.md's "Every container on a host" (the
# engine's configuration as the README gives it), naming PATH for the installed init.
readme_block() {
        python3 - "$INITSLOT_README" "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("### Every container on a host", 1)[1].split("\n### ", 1)[0]
block = re.search(r"```" + sys.argv[2] + r"\n(.*?)```", section, re.S).group(1)
print(block.replace("/usr/libexec/core_pipe-init", sys.argv[3]), end="")
PY
}

# initslot_stage: the init where both engines' configurations name it (run with the pattern
# lock held: test runs of other checkouts take turns), and podman's containers.conf: the
# README's lines, and this VM's engine settings (engines.sh).
initslot_stage() {
        mkdir -p "$ENGINE_DOCKER_INIT_ROOT"
        # A new file renamed into place: a container running the previous one keeps it.
        install -m 0755 "$INIT" "$ENGINE_DOCKER_INIT_PATH.new" && mv -f "$ENGINE_DOCKER_INIT_PATH.new" "$ENGINE_DOCKER_INIT_PATH"
        install -m 0755 "$INIT" "$STAGE/core_pipe-init"
        {
                readme_block toml "$STAGE/core_pipe-init"
                printf '%s\n' '[engine]' 'runtime = "runc"' 'cgroup_manager = "cgroupfs"' 'events_logger = "file"'
        } >"$STAGE/containers-init.conf"
        chmod 0644 "$STAGE/containers-init.conf"
}

# docker_init_stop: stops the init dockerd (its configuration is not the README's any more).
docker_init_stop() {
        local pid i
        pid=$(cat "$ENGINE_DOCKER_INIT_ROOT/dockerd.pid" 2>/dev/null) || return 0
        kill "$pid" 2>/dev/null || return 0
        for ((i = 0; i < 300; i++)); do
                kill -0 "$pid" 2>/dev/null || return 0
                sleep 0.1
        done
}

# docker_init_ensure: the dockerd whose every container runs core_pipe-init, started if none
# answers (it stays up for the next run, like the other one).
docker_init_ensure() {
        local lock rc
        command -v dockerd >/dev/null || { echo "needs docker.io (dockerd)" >&2; return 1; }
        mkdir -p "$ENGINE_DOCKER_INIT_ROOT"
        readme_block json "$ENGINE_DOCKER_INIT_PATH" >"$ENGINE_DOCKER_INIT_ROOT/daemon.json.want" || return 1
        exec {lock}>>/run/core_pipe-tests-docker-init.lock
        flock -w 120 "$lock" || { exec {lock}>&-; return 1; }
        # The daemon.json of README.md, as it is now: a dockerd started with another is restarted.
        if ! cmp -s "$ENGINE_DOCKER_INIT_ROOT/daemon.json.want" "$ENGINE_DOCKER_INIT_ROOT/daemon.json"; then
                docker_init_stop
                mv -f "$ENGINE_DOCKER_INIT_ROOT/daemon.json.want" "$ENGINE_DOCKER_INIT_ROOT/daemon.json"
        fi
        dockerd_up "$ENGINE_DOCKER_INIT_SOCK" ||
                dockerd_start "$lock" "$ENGINE_DOCKER_INIT_ROOT" "$ENGINE_DOCKER_INIT_SOCK" \
                        --config-file "$ENGINE_DOCKER_INIT_ROOT/daemon.json"
        rc=$?
        exec {lock}>&-
        return "$rc"
}

podman_init_ensure() {
        command -v podman >/dev/null || { echo "podman is not installed" >&2; return 1; }
}

# initslot_image NAME: prints the tag of an image built here, imported into $ENGINE unless there:
# scratch (the static crasher as /crasher, nothing else), busybox (busybox-static and its
# applets, and /crasher) or musl (musl's loader, and the crasher built with musl-gcc).
initslot_image() {
        local name=$1 dir=$T/img-$1 key tag lock a
        rm -rf "$dir"
        mkdir -p "$dir"
        if [ "$name" = musl ]; then
                mkdir -p "$dir/lib"
                cp -L /lib/ld-musl-x86_64.so.1 "$dir/lib/ld-musl-x86_64.so.1"
                cp "$CRASHER_MUSL" "$dir/crasher"
        else
                cp "$CRASHER_STATIC" "$dir/crasher"
        fi
        if [ "$name" = busybox ]; then
                mkdir -p "$dir/bin"
                cp /bin/busybox "$dir/bin/busybox"
                for a in $(/bin/busybox --list); do
                        [ -e "$dir/bin/$a" ] || ln -s busybox "$dir/bin/$a"
                done
        fi
        key=$(tar -C "$dir" --sort=name --mtime=@0 --owner=0 --group=0 -c . | sha256sum | cut -c1-12)
        tag=localhost/core_pipe-test-init-$name:$key
        eng image inspect "$tag" >/dev/null 2>&1 && { echo "$tag"; return 0; }
        exec {lock}>>/run/core_pipe-tests-images.lock
        flock -w 300 "$lock" || { exec {lock}>&-; return 1; }
        eng image inspect "$tag" >/dev/null 2>&1 || tar -C "$dir" -c . | eng import - "$tag" >/dev/null
        exec {lock}>&-
        eng image inspect "$tag" >/dev/null 2>&1 && echo "$tag"
}

# store_out CONTAINER DIR: the container's /var/lib/core_pipe (running or stopped) copied to DIR.
store_out() {
        mkdir -p "$2"
        eng cp "$1:/var/lib/core_pipe/." "$2/" >/dev/null 2>&1
}

# init_lines CONTAINER: how many lines of the container's log come from core_pipe-init, other than
# its information on each core stored (core_pipe-init: info: ...).
init_lines() {
        eng logs "$1" 2>&1 | grep '^core_pipe-init:' | grep -vc '^core_pipe-init: info:'
}
