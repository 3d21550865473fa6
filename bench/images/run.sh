#!/usr/bin/env bash
# bench/images/run.sh — image benchmark: `berth load` and `berth pull` of a
# 200 MB single-layer image, against docker, podman and skopeo + umoci.
#
# What it measures (wall time, hyperfine, each run into an EMPTY store)
#   load  `berth -H unix://BSOCK load -q -i big.tar`    prepare: rmi + image prune
#             against a private `berth daemon` that this script starts and stops
#         `docker -H unix://DSOCK load -q -i big.tar`   prepare: rmi + image prune
#             against a private dockerd that this script starts and stops
#         `podman --root R --runroot RR load -q -i big.tar`  prepare: wipe R and RR
#   pull  from a docker-registry (CNCF distribution) on 127.0.0.1:<free port>:
#         `berth -H unix://BSOCK pull -q HOST:PORT/bench/big:1`
#                                                      prepare: rmi + image prune
#         `skopeo copy docker://HOST:PORT/bench/big:1 oci:O:1 &&
#          umoci unpack --image O:1 B`                 prepare: wipe O and B
#       berth's pull downloads the layer AND unpacks it into a snapshot, which
#       is what skopeo (download) plus umoci (unpack) do together. berth's
#       daemon speaks plain HTTP to a loopback registry without being told.
#   Both CLIs (berth's and docker's) stream the archive to their daemon over
#   its socket: that is how a load works with either.
#   Every prepare command ends with `sync`, so no run pays for writing back the
#   previous run's dirty pages or deletions.
#
# berth's store between runs: the same as docker's. The CLI keeps no image
# store: every berth verb is an Engine API call to a daemon. Each berth series
# (load, pull) gets its own `berth daemon` on a fresh data root (and exec root,
# socket), up for that series only; between runs the prepare command empties
# its store through the API, `berth -H ... rmi -f IMAGE; berth -H ... image
# prune -af; sync`, exactly what docker's prepare does to its private dockerd.
# Restarting berth's daemon on a wiped root instead would time berth with a
# cold daemon and a brand-new database against a warm dockerd that has just
# deleted an image, a different setting for each. berth's rmi and prune
# delete unused blobs and snapshots before they answer (no background work
# left to overlap the next timed run); after each series the script checks
# that a prepare leaves no image and no layer behind (the data root back to
# its database and init layer, under 1 MiB), and says so in the summary.
#
# The image
#   A rootfs with Debian's static busybox (/bin/busybox plus applet symlinks)
#   and SIZE_MB MiB of /dev/urandom data in four files; tarred, `berth import`ed
#   as bench/big:1 through a seed `berth daemon` (a data root of its own) and
#   `berth save`d as a Docker archive (uncompressed layer); the seed daemon
#   also `berth tag`s and `berth push`es it to the registry, then stops
#   before anything is timed.
#
# Usage (as root):
#   bench/images/run.sh
# Environment:
#   RUNS=N          timed runs per command (default 10)
#   WARMUP=N        warm-up runs per command (default 1)
#   SIZE_MB=N       MiB of random data in the image (default 200)
#   BERTH=P         use this berth binary instead of building it with
#                   scripts/build-berth (release, static, non-PIE; into
#                   target/bench-static, as bench/engine/run.sh)
#   DOCKERD=P, DOCKER=P, PODMAN=P, SKOPEO=P, UMOCI=P, REGISTRY=P
#                   the tools (default: from PATH, /usr/bin/docker first — the
#                   CLI of dockerd's release —; docker-registry for REGISTRY)
#   BUSYBOX=P       the static busybox for the rootfs (default /bin/busybox)
#   RESULTS_DIR=D   where summary.md and the hyperfine JSON go
#                   (default bench/images/results/<UTC timestamp>)
#
# Needs: hyperfine, python3, tar, busybox-static, cargo (unless BERTH is set).
# Optional, each skipped with a printed note when missing or broken: docker.io
# (dockerd + docker), podman, skopeo + umoci, docker-registry (without it the
# push and the pull series are skipped).
#
# dockerd runs with a bridge of its own (--bridge=B, made and deleted here,
# bench/lib/bridge.sh), never --bridge=none, with which it deletes the host's
# docker0. Both CLIs get a private DOCKER_CONFIG (berth's reads registry
# credentials there too) and BERTH_NO_AUTOSTART=1; BERTH_HOST and DOCKER_HOST
# are unset.
#
# Clean-up: a trap stops the berth daemons and the registry (SIGTERM, then
# SIGKILL), dockerd (SIGTERM, then SIGKILL of its process group) and its
# containerd, kills any process of ours left whose command line names the
# scratch directory, deletes dockerd's bridge, unmounts whatever is left
# mounted under the scratch directory and removes it, on success and on
# failure or interrupt alike.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKSPACE=$(cd "$SCRIPT_DIR/../.." && pwd)

RUNS=${RUNS:-10}
WARMUP=${WARMUP:-1}
SIZE_MB=${SIZE_MB:-200}
BUSYBOX=${BUSYBOX:-/bin/busybox}
DOCKERD=${DOCKERD:-$(command -v dockerd || true)}
DOCKER=${DOCKER:-$([ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker || true)}
PODMAN=${PODMAN:-$(command -v podman || true)}
SKOPEO=${SKOPEO:-$(command -v skopeo || true)}
UMOCI=${UMOCI:-$(command -v umoci || true)}
REGISTRY=${REGISTRY:-$(command -v docker-registry || true)}
RESULTS_DIR=${RESULTS_DIR:-$SCRIPT_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)}
IMAGE=bench/big:1

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (the daemons, podman and umoci need it)"
for t in hyperfine python3 tar; do
    command -v "$t" >/dev/null || die "$t not found"
done
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
case "$(file -L "$BUSYBOX" 2>/dev/null || true)" in
    *dynamically*) die "$BUSYBOX is dynamically linked; need busybox-static" ;;
esac

if [ -z "${BERTH:-}" ]; then
    log "building berth (release, static, non-PIE: scripts/build-berth)"
    BERTH=$(CARGO_TARGET_DIR="$WORKSPACE/target/bench-static" "$WORKSPACE/scripts/build-berth")
fi
[ -x "$BERTH" ] || die "berth not found at $BERTH"
BERTH=$(readlink -f "$BERTH")

# --- scratch directory, notes, clean-up ----------------------------------------
# Short: the daemons' sockets live in it (sun_path is 108 bytes).
TMP=$(mktemp -d /tmp/bbi.XXXXXX)
mkdir -p "$RESULTS_DIR"
NOTES=$RESULTS_DIR/notes.txt
LOADS=$TMP/loads
: >"$NOTES"
: >"$LOADS"
note() { # a skipped tool or a failure: printed now, and listed in the summary
    printf 'NOTE: %s\n' "$*" >&2
    printf -- '- %s\n' "$*" >>"$NOTES"
}

# Private client settings: nothing from ~/.docker, no autostarted daemon.
export BERTH_NO_AUTOSTART=1
unset BERTH_HOST DOCKER_HOST
mkdir -p "$TMP/cli"
echo '{}' >"$TMP/cli/config.json"
export DOCKER_CONFIG=$TMP/cli

BERTH_PID=
BERTH_DIR=
BC= # the berth CLI against the running berth daemon, as one shell string
DOCKER_DIR=$TMP/docker
DOCKER_SOCK=$TMP/d.sock
DOCKERD_PID=
REG_PID=



# dockerd's private bridge (never --bridge=none): make_bridge, remove_bridge.
# shellcheck source=../lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"
# shellcheck source=../lib/bridge.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bridge.sh"



# --- berth daemons ----------------------------------------------------------------
# start_berth NAME: a `berth daemon` on a fresh data root and exec root under
# $TMP/berth-NAME, socket $TMP/NAME.sock; sets BERTH_PID, BERTH_DIR and BC.
start_berth() {
    local name=$1 sock=$TMP/$1.sock
    BERTH_DIR=$TMP/berth-$name
    rm -rf "$BERTH_DIR"
    mkdir -p "$BERTH_DIR"
    log "berth: daemon $name on unix://$sock, data root $BERTH_DIR/data"
    # setsid: its own session and process group, away from the terminal's
    # signals; not a group leader here, so $! is the daemon's pid.
    setsid "$BERTH" --data-root "$BERTH_DIR/data" daemon -H "unix://$sock" \
        --exec-root "$BERTH_DIR/exec" --pidfile "$BERTH_DIR/berth.pid" \
        </dev/null >"$BERTH_DIR/daemon.log" 2>&1 &
    BERTH_PID=$!
    BC="$BERTH -H unix://$sock"
    if ! wait_for "$BERTH_PID" $BC images -q; then
        note "berth: the daemon $name did not answer on unix://$sock; its log: $(tail -n 5 "$BERTH_DIR/daemon.log")"
        return 1
    fi
    [ -s "$BERTH_DIR/berth.pid" ] && BERTH_PID=$(cat "$BERTH_DIR/berth.pid")
    return 0
}

stop_berth() { # the running berth daemon: SIGTERM, then SIGKILL; its directory removed
    [ -n "$BERTH_PID" ] || return 0
    if alive "$BERTH_PID"; then
        kill -TERM "$BERTH_PID" 2>/dev/null || true
        wait_gone "$BERTH_PID" 10 || {
            log "berth daemon $BERTH_PID ignored SIGTERM for 10 s: SIGKILL"
            kill -KILL "$BERTH_PID" 2>/dev/null || true
            wait_gone "$BERTH_PID" 5 || true
        }
    fi
    wait "$BERTH_PID" 2>/dev/null || true
    BERTH_PID=
    if [ -n "$BERTH_DIR" ]; then
        unmount_under "$BERTH_DIR"
        rm -rf "$BERTH_DIR"
    fi
    BERTH_DIR=
    BC=
}

stop_dockerd() {
    [ -n "$DOCKERD_PID" ] || return 0
    local pgid containerd_pid pid
    pgid=$(ps -o pgid= -p "$DOCKERD_PID" 2>/dev/null | tr -d ' ' || true)
    containerd_pid=$(cat "$DOCKER_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)
    if alive "$DOCKERD_PID"; then
        kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        wait_gone "$DOCKERD_PID" 20 || log "dockerd ignored SIGTERM for 20 s: killing its process group"
    fi
    # Whatever is left in its process group (dockerd itself if it hung).
    [ -n "$pgid" ] && kill -KILL -- "-$pgid" 2>/dev/null || true
    # dockerd stops the containerd it started; if that one lingers, by its pid.
    if alive "$containerd_pid"; then
        kill -TERM "$containerd_pid" 2>/dev/null || true
        wait_gone "$containerd_pid" 10 || kill -KILL "$containerd_pid" 2>/dev/null || true
    fi
    # Anything else started for this dockerd names its directory in its
    # command line (containerd, shims): those pids only.
    for pid in $(procs_under "$DOCKER_DIR"); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    wait "$DOCKERD_PID" 2>/dev/null || true
    DOCKERD_PID=
}

cleanup() {
    local rc=$?
    set +e
    log "clean-up"
    stop_berth
    if [ -n "$REG_PID" ]; then
        kill -TERM "$REG_PID" 2>/dev/null
        wait_gone "$REG_PID" 5 || kill -KILL "$REG_PID" 2>/dev/null
        wait "$REG_PID" 2>/dev/null
        REG_PID=
    fi
    stop_dockerd
    # Last resort: any process of ours still naming the scratch directory
    # (a daemon that outlived its SIGKILL wait, an interrupted hyperfine).
    local left
    left=$(procs_under "$TMP" | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
        log "killing processes left under $TMP: $left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
        sleep 0.5
    fi
    remove_bridge
    unmount_under "$TMP"
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# `wipe DIR...` for the prepare commands: unmount, remove, flush to disk.
cat >"$TMP/wipe" <<'EOF'
#!/bin/sh
for d in "$@"; do
    awk -v d="$d" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$d"
done
sync
EOF
chmod +x "$TMP/wipe"
WIPE=$TMP/wipe

# --- the registry (first: the seed daemon pushes to it) -----------------------------
REG_UP=0
if [ -z "$REGISTRY" ]; then
    note "pull: docker-registry not installed, push and pull series skipped"
else
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    HOST=127.0.0.1:$PORT
    REF=$HOST/$IMAGE
    mkdir -p "$TMP/registry"
    cat >"$TMP/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $TMP/registry/data
http:
  addr: $HOST
EOF
    log "starting docker-registry on $HOST"
    "$REGISTRY" serve "$TMP/registry/config.yml" </dev/null >"$TMP/registry/log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 1 100); do
        if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
            "$PORT" 2>/dev/null; then
            REG_UP=1
            break
        fi
        alive "$REG_PID" || break
        sleep 0.1
    done
    [ "$REG_UP" -eq 1 ] ||
        note "pull: docker-registry did not start, push and pull series skipped: $(tail -n 5 "$TMP/registry/log")"
fi

# --- the image -----------------------------------------------------------------
ROOTFS=$TMP/rootfs
ARCHIVE=$TMP/big.tar
log "making the ${SIZE_MB} MiB rootfs in $ROOTFS"
mkdir -p "$ROOTFS/bin" "$ROOTFS/data"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    # Debian's build lists "busybox" itself: it must not replace the binary.
    [ "$applet" = busybox ] && continue
    ln -s busybox "$ROOTFS/bin/$applet"
done
per_file=$((SIZE_MB / 4))
for i in 1 2 3 4; do
    head -c "$((per_file * 1024 * 1024))" /dev/urandom >"$ROOTFS/data/blob$i"
done
tar -C "$ROOTFS" -cf "$TMP/rootfs.tar" .
rm -rf "$ROOTFS"

start_berth seed || die "berth: the seed daemon did not start (see $NOTES)"
log "berth import + berth save -> $ARCHIVE"
$BC import "$TMP/rootfs.tar" "$IMAGE" >/dev/null
rm -f "$TMP/rootfs.tar"
$BC save -o "$ARCHIVE" "$IMAGE"
ARCHIVE_BYTES=$(stat -c %s "$ARCHIVE")
log "archive: $ARCHIVE_BYTES bytes"
tar -tf "$ARCHIVE" >"$RESULTS_DIR/archive-contents.txt"

PUSHED=0
if [ "$REG_UP" -eq 1 ]; then
    log "berth push $REF"
    if push_out=$($BC tag "$IMAGE" "$REF" 2>&1 && $BC push "$REF" 2>&1); then
        PUSHED=1
        # What the registry serves: the layer's media type and size.
        python3 - "$HOST" >"$RESULTS_DIR/pushed-manifest.txt" <<'EOF' || true
import json, sys, urllib.request
host = sys.argv[1]
req = urllib.request.Request(f"http://{host}/v2/bench/big/manifests/1", headers={"Accept": ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json"])})
with urllib.request.urlopen(req) as r:
    m = json.load(r)
print(f"manifest {m.get('mediaType', '?')}")
for l in m["layers"]:
    print(f"layer {l['mediaType']} {l['size']} bytes {l['digest']}")
EOF
    else
        note "pull: berth push FAILED, pull series skipped: $push_out"
    fi
fi
# Nothing of the seed runs while anything is timed.
stop_berth

# --- helpers: smoke test and timing ------------------------------------------
HF_OPTS=(--warmup "$WARMUP" --runs "$RUNS" --style basic)

smoke() { # label prepare command -> 0 if the command works once on a fresh store
    local out
    sh -c "$2" >/dev/null 2>&1 || true
    if ! out=$(sh -c "$3" 2>&1); then
        printf '%s\n' "$out" >"$RESULTS_DIR/$1-error.txt"
        note "$1 FAILED its smoke test, not timed: \`$3\`: $(printf '%s' "$out" | tail -n 5)"
        return 1
    fi
}

bench() { # label prepare command: one hyperfine series -> $RESULTS_DIR/<label>.json
    echo "load average before $1: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOADS"
    log "timing $1: $3"
    hyperfine "${HF_OPTS[@]}" --export-json "$RESULTS_DIR/$1.json" \
        --prepare "$2" -n "$1" "$3" ||
        note "$1: hyperfine failed (exit $?); see the output above"
}

# berth's prepare: empty the running daemon's store through the API, as
# docker's prepare does (see the header).
berth_prep() { # ref
    echo "$BC rmi -f $1 >/dev/null 2>&1 || true; $BC image prune -af >/dev/null 2>&1 || true; sync"
}

berth_series() { # label ref command: smoke, time, and check what a prepare leaves
    local label=$1 ref=$2 cmd=$3 prep after left
    prep=$(berth_prep "$ref")
    smoke "$label" "$prep" "$cmd" || return 0
    bench "$label" "$prep" "$cmd"
    $BC images "$ref" >"$RESULTS_DIR/$label-images.txt" 2>&1 ||
        note "$label: berth images after the runs failed: $(cat "$RESULTS_DIR/$label-images.txt")"
    after=$(du -sb "$BERTH_DIR/data" | cut -f1)
    sh -c "$prep"
    left=$(du -sb "$BERTH_DIR/data" | cut -f1)
    echo "berth data root after a ${label%%-*}: $after bytes; after its prepare: $left bytes" >>"$LOADS"
    if [ -n "$($BC images -aq 2>&1)" ] || [ "$left" -gt $((1024 * 1024)) ]; then
        note "$label: a prepare left berth's store non-empty ($left bytes, images: $($BC images -aq 2>&1 | paste -sd' ')): its runs may have reused a layer"
    fi
}

# --- load ----------------------------------------------------------------------
if start_berth load; then
    berth_series load-berth "$IMAGE" "$BC load -q -i $ARCHIVE"
else
    note "load-berth skipped: the daemon did not start"
fi
stop_berth

# docker: a private dockerd, nothing from /etc/docker or ~/.docker.
if [ -z "$DOCKERD" ] || [ -z "$DOCKER" ]; then
    note "docker: dockerd or docker not installed, skipped"
elif ! make_bridge; then
    note "docker: cannot make a private bridge for dockerd, skipped"
    remove_bridge
else
    mkdir -p "$DOCKER_DIR"
    echo '{}' >"$DOCKER_DIR/daemon.json"
    log "starting a private dockerd on unix://$DOCKER_SOCK, bridge $BRIDGE"
    # setsid: its own process group (and session), so that clean-up can kill
    # all of it; env and setsid exec, so $! is dockerd's pid (see the pidfile below).
    env -u NOTIFY_SOCKET setsid "$DOCKERD" --data-root "$DOCKER_DIR/data" --exec-root "$DOCKER_DIR/exec" \
        --pidfile "$DOCKER_DIR/dockerd.pid" --config-file "$DOCKER_DIR/daemon.json" \
        -H "unix://$DOCKER_SOCK" --iptables=false --ip-masq=false --ip-forward=false --bridge="$BRIDGE" \
        </dev/null >"$DOCKER_DIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    D="$DOCKER -H unix://$DOCKER_SOCK"
    if wait_for "$DOCKERD_PID" $D version; then
        # setsid forks when it is a group leader: then the daemon's pid is the pidfile's.
        [ -s "$DOCKER_DIR/dockerd.pid" ] && DOCKERD_PID=$(cat "$DOCKER_DIR/dockerd.pid")
        DOCKER_PREP="$D rmi -f $IMAGE >/dev/null 2>&1 || true; $D image prune -af >/dev/null 2>&1 || true; sync"
        LOAD_DOCKER="$D load -q -i $ARCHIVE"
        DOCKER_DRIVER=$($D info --format '{{.Driver}}' 2>/dev/null || echo '?')
        if smoke load-docker "$DOCKER_PREP" "$LOAD_DOCKER"; then
            bench load-docker "$DOCKER_PREP" "$LOAD_DOCKER"
            $D images "$IMAGE" >"$RESULTS_DIR/load-docker-images.txt" 2>&1 || true
            after=$(du -sb "$DOCKER_DIR/data" | cut -f1)
            sh -c "$DOCKER_PREP"
            echo "docker data-root after a load: $after bytes; after its prepare: $(du -sb "$DOCKER_DIR/data" | cut -f1) bytes" \
                "(storage driver $DOCKER_DRIVER)" >>"$LOADS"
        fi
    else
        note "docker: the private dockerd did not answer on unix://$DOCKER_SOCK, skipped; its log: $(grep -iE 'level=(error|fatal)|failed' "$DOCKER_DIR/dockerd.log" | tail -n 5)"
    fi
    stop_dockerd
    remove_bridge
fi

PODMAN_ROOT=$TMP/podman-root
PODMAN_RUNROOT=$TMP/podman-runroot
if [ -z "$PODMAN" ]; then
    note "podman: not installed, skipped"
else
    PODMAN_PREP="$WIPE $PODMAN_ROOT $PODMAN_RUNROOT"
    LOAD_PODMAN="$PODMAN --root $PODMAN_ROOT --runroot $PODMAN_RUNROOT load -q -i $ARCHIVE"
    if smoke load-podman "$PODMAN_PREP" "$LOAD_PODMAN"; then
        bench load-podman "$PODMAN_PREP" "$LOAD_PODMAN"
        echo "podman root after a load: $(du -sb "$PODMAN_ROOT" | cut -f1) bytes" >>"$LOADS"
    fi
    sh -c "$PODMAN_PREP" >/dev/null 2>&1 || true
fi

# --- pull ------------------------------------------------------------------------
if [ "$PUSHED" -eq 1 ]; then
    if start_berth pull; then
        berth_series pull-berth "$REF" "$BC pull -q $REF"
    else
        note "pull-berth skipped: the daemon did not start"
    fi
    stop_berth
    if [ -z "$SKOPEO" ] || [ -z "$UMOCI" ]; then
        note "pull: skopeo or umoci not installed, skopeo+umoci skipped"
    else
        OCI=$TMP/oci
        BUNDLE=$TMP/bundle
        PULL_SKOPEO="$SKOPEO copy -q --src-tls-verify=false docker://$REF oci:$OCI:1 && $UMOCI unpack --image $OCI:1 $BUNDLE"
        if smoke pull-skopeo-umoci "$WIPE $OCI $BUNDLE" "$PULL_SKOPEO"; then
            bench pull-skopeo-umoci "$WIPE $OCI $BUNDLE" "$PULL_SKOPEO"
        fi
        "$WIPE" "$OCI" "$BUNDLE"
    fi
fi

# --- summary -------------------------------------------------------------------
{
    echo "# bench/images $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- filesystem of $TMP: $(findmnt -no FSTYPE -T "$TMP" 2>/dev/null || echo '?')"
    echo "- image: $IMAGE, one layer, busybox + ${SIZE_MB} MiB of random data; Docker archive $ARCHIVE_BYTES bytes ($(python3 -c "print(f'{$ARCHIVE_BYTES / 2**20:.1f}')") MiB)"
    [ -s "$RESULTS_DIR/pushed-manifest.txt" ] &&
        echo "- in the registry: $(paste -sd';' "$RESULTS_DIR/pushed-manifest.txt" | sed 's/;/; /g')"
    echo "- berth: $BERTH ($("$BERTH" --version 2>/dev/null | head -n1)), CLI and a private \`berth daemon\` per series (fresh data root)"
    [ -n "$DOCKERD" ] && echo "- docker: $("$DOCKERD" --version 2>/dev/null | head -n1), a private dockerd; CLI $DOCKER ($("$DOCKER" --version 2>/dev/null | head -n1))"
    [ -n "$PODMAN" ] && echo "- podman: $("$PODMAN" --version 2>/dev/null | head -n1)"
    [ -n "$SKOPEO" ] && echo "- skopeo: $("$SKOPEO" --version 2>/dev/null | head -n1); umoci: $("$UMOCI" --version 2>/dev/null | head -n1)"
    [ -n "$REGISTRY" ] && echo "- registry: $("$REGISTRY" --version 2>/dev/null | head -n1)"
    echo "- hyperfine $(hyperfine --version | cut -d' ' -f2): runs=$RUNS warmup=$WARMUP; every run starts from an empty store (berth, docker: rmi + image prune through the daemon; podman, skopeo+umoci: directories wiped)"
    sed 's/^/- /' "$LOADS"
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
} >"$TMP/head.md"
python3 - "$RESULTS_DIR" >"$TMP/table.md" <<'EOF'
import json, os, sys
d = sys.argv[1]
rows = {}
for label in ["load-berth", "load-docker", "load-podman", "pull-berth", "pull-skopeo-umoci"]:
    p = os.path.join(d, label + ".json")
    if not os.path.exists(p):
        continue
    with open(p) as f:
        r = json.load(f)["results"][0]
    rows[label] = r
print("| series | command | median s | mean s | ± stddev | min s | max s | runs |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
names = {"load-berth": "berth load", "load-docker": "docker load", "load-podman": "podman load",
         "pull-berth": "berth pull", "pull-skopeo-umoci": "skopeo copy + umoci unpack"}
for label, r in rows.items():
    print(f"| {label.split('-')[0]} | {names[label]} | {r['median']:.3f} | {r['mean']:.3f} | "
          f"{(r['stddev'] or 0):.3f} | {r['min']:.3f} | {r['max']:.3f} | {len(r['times'])} |")
print()
def ratio(a, b, what):
    if a in rows and b in rows:
        ra, rb = rows[a], rows[b]
        print(f"- {what}: median {ra['median'] / rb['median']:.2f}x, mean {ra['mean'] / rb['mean']:.2f}x")
    else:
        print(f"- {what}: n/a (a series is missing)")
ratio("load-berth", "load-docker", "berth/docker (load)")
ratio("load-berth", "load-podman", "berth/podman (load)")
ratio("pull-berth", "pull-skopeo-umoci", "berth/(skopeo+umoci) (pull)")
if "load-berth" in rows and "load-docker" in rows:
    m = rows["load-berth"]["median"] / rows["load-docker"]["median"]
    print(f"- target, berth load under half of docker load: {'met' if m < 0.5 else 'NOT met'} (median {m:.3f}x)")
EOF
{
    cat "$TMP/head.md" "$TMP/table.md"
    if [ -s "$NOTES" ]; then
        echo
        echo "Notes:"
        echo
        cat "$NOTES"
    fi
} >"$RESULTS_DIR/summary.md"
echo
cat "$RESULTS_DIR/summary.md"
log "results in $RESULTS_DIR"
