#!/bin/bash
# A store that an unprivileged user of the container could write to. uid 1000 plants links in a
# world-writable (1777) store, at every name the receiver reads, writes or locks (the rate limit's
# state and its temporary names, the lock, core and record names), all pointing at a root-only
# file outside the store; then a FIFO where the rate state is expected; then a store owned by
# uid 1000, and a store path whose parent is uid 1000's link. The receiver (root) never touches
# the file outside, never hangs, makes its own store 0700, and refuses a store it cannot own,
# naming the path, its owner and mode, so that the host's fallback keeps the core.
. "$(dirname "$0")/../lib/lib.sh"
tap_init
require_root_kernel

install_pattern

as_user() {
        local ct=$1
        shift
        ct_exec "$ct" setpriv --reuid=1000 --regid=1000 --clear-groups -- "$@"
}

# fingerprint FILE: content, size, link count and times (modification and change, in ns).
fingerprint() {
        sha256sum <"$1" | cut -d' ' -f1
        stat -c '%s %h %y %z %U %a' "$1"
}

# 1. Links planted in a world-writable store.
container_start links
ct_exec links /bin/sh -ec '
        mkdir -p /var/lib/core_pipe
        mount -t tmpfs -o size=64m,mode=1777 cores /var/lib/core_pipe
        printf "root only\n" >/var/secret
        chmod 0600 /var/secret'
# shellcheck disable=SC2016 # expanded by the container's shell
as_user links /bin/sh -ec '
        cd /var/lib/core_pipe
        ln -s /var/secret .rate
        # The rate state is written under .rate.<pid>: every pid the receiver may get, planted
        # by one process (a process per link would push the receiver'\''s pid past them).
        python3 -c "import os
for i in range(1, 5001): os.symlink(\"/var/secret\", \".rate.%d\" % i)"
        ln -s /var/secret .lock
        for n in core.cpt-links.0.x.1.1 core.cpt-links.0.x.1.1.zst core.cpt-links.0.x.1.1.json .#core-1-1.tmp; do
                ln -s /var/secret "$n"
        done'
R=$(ct_root links)
STORE=$R/var/lib/core_pipe
BEFORE=$(fingerprint "$R/var/secret")
start_receiver links --max-use=1
timed_crash links sh-l1-$$ --size 1
check "links: the core and its record are stored" wait_for_file "$STORE/core.sh-l1-$$.*.json"
check "links: the receiver's temporary name was one of the planted links (4999 of 5000 left)" \
        test "$(find "$STORE" -maxdepth 1 -name '.rate.*' | wc -l)" = 4999
check "links: the root-only file outside the store is untouched (content, size, links, times)" \
        test "$(fingerprint "$R/var/secret")" = "$BEFORE"
check "links: the store is 0700 now" test "$(stat -c %a "$STORE")" = 700
check "links: the receiver says it changed the store's mode" \
        grep -q "store /var/lib/core_pipe had mode 1777 (writable by others); made it 0700" "$R/run/receiver.log"
check "links: .rate is the receiver's own regular file now" \
        sh -c "test -f '$STORE/.rate' && test ! -L '$STORE/.rate' && test \"\$(stat -c %u '$STORE/.rate')\" = 0"
check "links: the planted lock, core and record links are still links to the file (never followed)" \
        sh -c "for n in .lock core.cpt-links.0.x.1.1.zst core.cpt-links.0.x.1.1.json; do test \"\$(readlink '$STORE'/\$n)\" = /var/secret || exit 1; done"
check "links: the host log says stored in the container" \
        wait_for_log "comm=\"sh-l1-$$\" .*origin=container .*outcome=stored receiver=container"
timed_crash links sh-l2-$$ --size 1
check "links: a second core is stored" wait_for_file "$STORE/core.sh-l2-$$.*.json"
check "links: MaxUse= vacuuming removed the first core" sh -c "! ls '$STORE' | grep -q '^core\.sh-l1-$$\.'"
check "links: after vacuuming among the links, the file outside is still untouched" \
        test "$(fingerprint "$R/var/secret")" = "$BEFORE"

# 2. A FIFO where the rate limit's state is expected: opening it for reading would block.
container_start fifo
ct_exec fifo /bin/sh -ec 'mkdir -p /var/lib/core_pipe; mount -t tmpfs -o size=64m,mode=1777 cores /var/lib/core_pipe'
as_user fifo mkfifo /var/lib/core_pipe/.rate
start_receiver fifo
R=$(ct_root fifo)
timed_crash fifo sh-fifo-$$ --size 0
check "FIFO as .rate: the crashed process was released (${ELAPSED_MS} ms < 30000)" test "$ELAPSED_MS" -lt 30000
check "FIFO as .rate: the core is stored" wait_for_file "$R/var/lib/core_pipe/core.sh-fifo-$$.*.json"
check "FIFO as .rate: replaced by the receiver's own state file" \
        sh -c "test -f '$R/var/lib/core_pipe/.rate' && test ! -p '$R/var/lib/core_pipe/.rate'"

# 3. A store owned by uid 1000: refused, the host's fallback keeps the core.
container_start owned
ct_exec owned /bin/sh -ec 'mkdir -p /var/lib/core_pipe; chown 1000:1000 /var/lib/core_pipe; chmod 0755 /var/lib/core_pipe'
start_receiver owned
R=$(ct_root owned)
timed_crash owned sh-own-$$ --size 0
check "owned by uid 1000: refused, naming path, owner and mode" \
        grep -q "Cannot store core of pid [0-9]* (sh-own-$$): store /var/lib/core_pipe is owned by uid 1000 (mode 0755), not by the receiver's uid 0" \
        "$R/run/receiver.log"
check "owned by uid 1000: nothing written into it" test -z "$(ls -A "$R/var/lib/core_pipe")"
check "owned by uid 1000: the fallback stored it, and the host log says why" \
        wait_for_log "comm=\"sh-own-$$\" .*outcome=stored receiver=fallback .*why=\"receiver in its root refused: store /var/lib/core_pipe is owned by uid 1000 \\(mode 0755\\)"

# 4. The store's parent is uid 1000's link to uid 1000's directory (with a store ready in it).
container_start parent
as_user parent /bin/sh -ec 'mkdir -m 0777 /tmp/evil /tmp/evil/store; ln -s /tmp/evil /tmp/u'
start_receiver parent --store=/tmp/u/store
R=$(ct_root parent)
timed_crash parent sh-par-$$ --size 0
check "parent is a stranger's link: refused, naming the link and its owner" \
        grep -q "Cannot store core of pid [0-9]* (sh-par-$$): /tmp/u is a symbolic link owned by uid 1000" "$R/run/receiver.log"
check "parent is a stranger's link: nothing written through it" test -z "$(ls -A "$R/tmp/evil/store")"
check "parent is a stranger's link: the fallback stored it" \
        wait_for_log "comm=\"sh-par-$$\" .*outcome=stored receiver=fallback .*why=\"receiver in its root refused: /tmp/u is a symbolic link owned by uid 1000"
