#!/usr/bin/env bash
# bench/engine/run.sh — engine benchmark: berth (daemon + CLI) against docker
# (dockerd 20.10 + containerd + runc) and podman 4.3, side by side in one run.
#
# What it measures (see README.md for the method and the figures)
#   1. run     `CLI run --rm busybox true`, CLI start to CLI exit (hyperfine)
#   2. cycle   `id=$(CLI run -d busybox sleep 1000) && CLI stop -t 0 $id && CLI rm $id`
#              as one command (hyperfine)
#   3. par     N containers started at once (N `CLI run -d busybox sleep 1000`
#              in parallel) until `CLI ps -q` lists all N; then rm -f (parallel.py)
#   4. memory  the daemon's RSS and PSS when idle (berth daemon; dockerd +
#              containerd); then MEM_N sleeping containers: what their shims
#              (berth shim; containerd-shim-runc-v2; conmon) and the daemon's
#              growth add, per container (mem.py)
#   5. exec    `CLI exec <running container> true` (hyperfine), berth and docker
#   6. volumes `CLI run --rm -v bench-vol1:/v1 -v bench-vol2:/v2 -v bench-vol3:/v3
#              --tmpfs /t busybox true` (hyperfine), berth and docker: its median
#              minus series 1's is what volumes add to a start
#   plus the Engine API calls of one `run --rm` (phases.py), for berth and dockerd.
#
# The engines, each with private state under one scratch directory
#   berth   `berth --data-root D daemon -H unix://S --exec-root E`, its CLI with
#           BERTH_NO_AUTOSTART=1; also the docker CLI against the same socket
#   docker  a private `dockerd --data-root --exec-root --pidfile -H unix://
#           --iptables=false --ip-masq=false --ip-forward=false --bridge=B` (and
#           the containerd it starts), B a bridge of its own that this script
#           makes and deletes (never --bridge=none: it deletes the host's
#           docker0), the docker CLI with a private DOCKER_CONFIG
#   podman  `podman --root --runroot --tmpdir` with a private containers.conf
#           (CONTAINERS_CONF) and storage.conf: cgroupfs, file events, runc,
#           netns none, nofile/nproc 4096 (see README.md for why)
#   podman-crun  the same podman with crun, only for series 1 and 2, inside a
#           private mount namespace where /sys/fs/cgroup/unified is unmounted
#           (crun 1.8 refuses this host's hybrid cgroups otherwise)
# Networks: berth has no bridge and podman runs with netns "none" (loopback
# only); docker's containers get dockerd's default, a veth on its private
# bridge B (dockerd cannot go without a bridge: --bridge=none deletes the
# host's docker0), so docker's figures include that veth. Nothing touches the
# host's docker0, firewall rules or forwarding sysctls.
#
# Usage (as root):
#   bench/engine/run.sh
# Environment:
#   RUNS=N (20) WARMUP=N (3)      hyperfine runs and warm-ups for series 1 and 2
#   PAR_NS="20 100" PAR_REPS=3    series 3: container counts and repetitions
#   MEM_N=20                      series 4: sleeping containers
#   PHASE_REPS=20                 API phase timing rounds
#   ENGINES="berth docker podman podman-crun docker-berth"   which to run
#   SERIES="mem run volumes exec par phases"   which series (run = 1 and 2)
#   SETTLE_MAX=60                 before each series, wait up to this many seconds
#                                 for the machine to be quiet (PSI cpu some avg10
#                                 under 5 %): what the previous series left
#                                 (namespace teardown, deletions) is not timed
#   BERTH=P                       the berth binary (default: cargo build --release
#                                 -p berth --bin berth, in this workspace)
#   DOCKERD=P DOCKER=P PODMAN=P   (default: /usr/sbin/dockerd, /usr/bin/docker
#                                 — the CLI of the same 20.10 release —, podman)
#   BUSYBOX=P                     static busybox for the image (/bin/busybox)
#   RESULTS_DIR=D                 default bench/engine/results/<UTC timestamp>
#
# Clean-up: a trap removes every container (each engine's rm -f), stops both
# daemons (SIGTERM, then SIGKILL), kills any process left whose command line or
# root directory is under the scratch directory, deletes dockerd's bridge,
# removes the parent cgroups (docker/, libpod_parent/, berth/) that appeared
# during the run if empty, unmounts everything under the scratch directory and
# deletes it — on success and failure alike.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKSPACE=$(cd "$SCRIPT_DIR/../.." && pwd)

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
PAR_NS=${PAR_NS:-"20 100"}
PAR_REPS=${PAR_REPS:-3}
MEM_N=${MEM_N:-20}
PHASE_REPS=${PHASE_REPS:-20}
ENGINES=${ENGINES:-"berth docker podman podman-crun docker-berth"}
SERIES=${SERIES:-"mem run volumes exec par phases"}
SETTLE_MAX=${SETTLE_MAX:-60}
BUSYBOX=${BUSYBOX:-/bin/busybox}
DOCKERD=${DOCKERD:-$(command -v dockerd || true)}
DOCKER=${DOCKER:-$([ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker || true)}
PODMAN=${PODMAN:-$(command -v podman || true)}
RESULTS_DIR=${RESULTS_DIR:-$SCRIPT_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
has() { case " $ENGINES " in *" $1 "*) return 0 ;; esac; return 1; }
series() { case " $SERIES " in *" $1 "*) return 0 ;; esac; return 1; }
drop() { local e; for e in "$@"; do ENGINES=$(echo " $ENGINES " | sed "s/ $e / /; s/^ *//; s/ *$//"); done; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
for t in hyperfine python3 tar unshare; do
    command -v "$t" >/dev/null || die "$t not found"
done
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
case "$(file -L "$BUSYBOX" 2>/dev/null || true)" in
    *dynamically*) die "$BUSYBOX is dynamically linked; need busybox-static" ;;
esac

if [ -z "${BERTH:-}" ]; then
    # Static and non-PIE, as scripts/build-runtime builds the runtime: no
    # dynamic loader per exec, and no relocated data per shim (half the PSS).
    log "building berth (release, static, non-PIE: scripts/build-berth, as README's demo)"
    BERTH=$(CARGO_TARGET_DIR="$WORKSPACE/target/bench-static" "$WORKSPACE/scripts/build-berth")
fi
[ -x "$BERTH" ] || die "berth not found at $BERTH"
BERTH=$(readlink -f "$BERTH")

# --- scratch directory, notes, clean-up ----------------------------------------
# Short: the sockets live in it (sun_path is 108 bytes).
TMP=$(mktemp -d /tmp/bbe.XXXXXX)
# Each engine's volatile state (berth's and dockerd's --exec-root, podman's
# --runroot) on a tmpfs, as /run is on a standard host; here /run is on the
# root ext4, which has no journal, so every file made there costs a scan of
# recently deleted inodes (about 0.5 ms).
RUN=$(mktemp -d "${RUN_BASE:-/dev/shm}/bbr.XXXXXX")
mkdir -p "$RESULTS_DIR"
NOTES=$RESULTS_DIR/notes.txt
: >"$NOTES"
note() { # a skipped engine or a failure: printed now, and listed in the summary
    printf 'NOTE: %s\n' "$*" >&2
    printf -- '- %s\n' "$*" >>"$NOTES"
}
info() { printf -- '- %s\n' "$*" >>"$RESULTS_DIR/info.txt"; }
: >"$RESULTS_DIR/info.txt"

# The cgroups that exist now: the clean-up removes only new (empty) ones.
find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort >"$TMP/cgroups.before"

BERTH_DIR=$TMP/berth
BERTH_SOCK=$TMP/b.sock
BERTH_PID=
DOCKER_DIR=$TMP/docker
DOCKER_SOCK=$TMP/d.sock
DOCKERD_PID=
CONTAINERD_PID=
PODMAN_DIR=$TMP/podman


# dockerd's private bridge (never --bridge=none): make_bridge, remove_bridge.
# shellcheck source=../lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/proc.sh"
# shellcheck source=../lib/settle.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/settle.sh"
# shellcheck source=../lib/bridge.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/bridge.sh"



rm_all() { # label cli...: remove every container of that engine, quietly
    local label=$1
    shift
    local ids
    ids=$(timeout 60 "$@" ps -aq 2>/dev/null || true)
    [ -n "$ids" ] || return 0
    if [ "$label" = podman ]; then
        # shellcheck disable=SC2086
        timeout 120 "$@" rm -f -t 0 $ids >/dev/null 2>&1 || true
    else
        # shellcheck disable=SC2086
        timeout 120 "$@" rm -f $ids >/dev/null 2>&1 || true
    fi
}

stop_daemon() { # pid seconds
    alive "$1" || return 0
    kill -TERM "$1" 2>/dev/null || true
    wait_gone "$1" "$2" || { log "pid $1 ignored SIGTERM for $2 s: SIGKILL"; kill -KILL "$1" 2>/dev/null || true; }
}

cleanup() {
    local rc=$?
    set +e
    log "clean-up"
    if [ -n "$BERTH_PID" ] && alive "$BERTH_PID"; then rm_all berth "${BERTH_CLI[@]}"; fi
    if [ -n "$DOCKERD_PID" ] && alive "$DOCKERD_PID"; then rm_all docker "${DOCKER_CLI[@]}"; fi
    if [ -n "${PODMAN_CLI:-}" ]; then rm_all podman "${PODMAN_CLI[@]}"; fi
    stop_daemon "$BERTH_PID" 10
    stop_daemon "$DOCKERD_PID" 20
    stop_daemon "$CONTAINERD_PID" 10
    local left
    left=$( (procs_under "$TMP"; procs_under "$RUN") | sort -u | tr '\n' ' ')
    if [ -n "$left" ]; then
        log "killing processes left under $TMP: $left"
        echo "$left" >>"$RESULTS_DIR/leftover-processes.txt"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
        sleep 0.5
    fi
    remove_bridge
    unmount_under "$TMP"
    unmount_under "$RUN"
    find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort >"$TMP/cgroups.after"
    # Only the parents that this run made (docker/, libpod_parent/, berth/ in
    # each hierarchy), and only when empty: never a cgroup below one that was
    # already there (another engine on the machine may be using it).
    comm -13 "$TMP/cgroups.before" "$TMP/cgroups.after" | while read -r cg; do
        rmdir "$cg" 2>/dev/null
    done
    rm -rf "$TMP" "$RUN"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the image -----------------------------------------------------------------
log "making the busybox rootfs"
ROOTFS=$TMP/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/tmp" "$ROOTFS/root"
chmod 1777 "$ROOTFS/tmp"
chmod 700 "$ROOTFS/root"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] && continue
    ln -s busybox "$ROOTFS/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
ROOTFS_TAR=$TMP/rootfs.tar
tar -C "$ROOTFS" -cf "$ROOTFS_TAR" .
rm -rf "$ROOTFS"

# --- the engines ---------------------------------------------------------------
declare -a BERTH_CLI=() DOCKER_CLI=() PODMAN_CLI=() DOCKER_BERTH_CLI=()
export BERTH_NO_AUTOSTART=1
unset BERTH_HOST DOCKER_HOST
mkdir -p "$TMP/docker-cli"
echo '{}' >"$TMP/docker-cli/config.json" # podman reads it too (registry auth)
export DOCKER_CONFIG=$TMP/docker-cli


if has berth || has docker-berth; then
    log "berth: daemon on unix://$BERTH_SOCK + import"
    mkdir -p "$BERTH_DIR"
    setsid "$BERTH" --data-root "$BERTH_DIR/data" daemon -H "unix://$BERTH_SOCK" \
        --exec-root "$RUN/berth" --pidfile "$BERTH_DIR/berth.pid" \
        </dev/null >"$BERTH_DIR/daemon.log" 2>&1 &
    BERTH_PID=$!
    BERTH_CLI=("$BERTH" -H "unix://$BERTH_SOCK")
    DOCKER_BERTH_CLI=("$DOCKER" -H "unix://$BERTH_SOCK")
    if ! wait_for "$BERTH_PID" "${BERTH_CLI[@]}" ps -q; then
        note "berth: the daemon did not answer; its log: $(tail -n 5 "$BERTH_DIR/daemon.log")"
        die "berth daemon failed"
    fi
    # Through the daemon, as every verb: the CLI keeps no image store.
    "${BERTH_CLI[@]}" import -c 'CMD ["sh"]' "$ROOTFS_TAR" busybox:latest >/dev/null
    [ -s "$BERTH_DIR/berth.pid" ] && BERTH_PID=$(cat "$BERTH_DIR/berth.pid")
    info "berth: $BERTH ($("$BERTH" --version 2>/dev/null | head -n1)), daemon pid $BERTH_PID"
fi

if has docker; then
    if [ -z "$DOCKERD" ] || [ -z "$DOCKER" ]; then
        note "docker: dockerd or docker not installed, skipped"
        drop docker
    elif ! make_bridge; then
        note "docker: cannot make a private bridge for dockerd, skipped"
        remove_bridge
        drop docker
    else
        log "docker: private dockerd on unix://$DOCKER_SOCK, bridge $BRIDGE ($(ip -o -4 addr show dev "$BRIDGE" | awk '{ print $4 }'))"
        mkdir -p "$DOCKER_DIR"
        echo '{}' >"$DOCKER_DIR/daemon.json"
        env -u NOTIFY_SOCKET setsid "$DOCKERD" --data-root "$DOCKER_DIR/data" --exec-root "$RUN/docker" \
            --pidfile "$DOCKER_DIR/dockerd.pid" --config-file "$DOCKER_DIR/daemon.json" \
            -H "unix://$DOCKER_SOCK" --iptables=false --ip-masq=false --ip-forward=false --bridge="$BRIDGE" \
            </dev/null >"$DOCKER_DIR/dockerd.log" 2>&1 &
        DOCKERD_PID=$!
        DOCKER_CLI=("$DOCKER" -H "unix://$DOCKER_SOCK")
        if wait_for "$DOCKERD_PID" "${DOCKER_CLI[@]}" version; then
            [ -s "$DOCKER_DIR/dockerd.pid" ] && DOCKERD_PID=$(cat "$DOCKER_DIR/dockerd.pid")
            CONTAINERD_PID=$(cat "$DOCKER_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)
            "${DOCKER_CLI[@]}" import -c 'CMD ["sh"]' "$ROOTFS_TAR" busybox:latest >/dev/null
            info "docker: $("$DOCKERD" --version), CLI $DOCKER ($("$DOCKER" --version)), storage driver $("${DOCKER_CLI[@]}" info --format '{{.Driver}}'), runtime $(runc --version 2>/dev/null | head -n1); dockerd pid $DOCKERD_PID, containerd pid $CONTAINERD_PID"
        else
            note "docker: the private dockerd did not answer, skipped; its log: $(grep -iE 'level=(error|fatal)|failed' "$DOCKER_DIR/dockerd.log" | tail -n 5)"
            stop_daemon "$DOCKERD_PID" 10
            DOCKERD_PID=
            drop docker
        fi
    fi
fi

if has podman || has podman-crun; then
    if [ -z "$PODMAN" ]; then
        note "podman: not installed, skipped"
        drop podman podman-crun
    else
        mkdir -p "$PODMAN_DIR/tmp"
        # Only these files: nothing from /etc/containers or ~/.config.
        # Why the ulimits: podman asks for nofile and nproc of 1048576 by default,
        # which this host (no CAP_SYS_RESOURCE) cannot grant; at the current hard
        # limits runc still fails on RLIMIT_NPROC (podman lowers its own), 4096 works.
        cat >"$PODMAN_DIR/containers.conf" <<EOF
[containers]
netns = "none"
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$PODMAN_DIR/events.log"
runtime = "runc"
tmp_dir = "$PODMAN_DIR/tmp"
EOF
        cat >"$PODMAN_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$PODMAN_DIR/root"
runroot = "$RUN/podman"
EOF
        export CONTAINERS_CONF=$PODMAN_DIR/containers.conf
        export CONTAINERS_STORAGE_CONF=$PODMAN_DIR/storage.conf
        PODMAN_CLI=("$PODMAN" --root "$PODMAN_DIR/root" --runroot "$RUN/podman" --tmpdir "$PODMAN_DIR/tmp")
        if out=$("${PODMAN_CLI[@]}" import -q -c 'CMD ["sh"]' "$ROOTFS_TAR" busybox:latest 2>&1) &&
            out=$("${PODMAN_CLI[@]}" run --rm busybox true 2>&1); then
            info "podman: $("$PODMAN" --version), runtime runc ($(runc --version | head -n1)), conmon $(conmon --version 2>/dev/null | head -n1), storage $("${PODMAN_CLI[@]}" info --format '{{.Store.GraphDriverName}}' 2>/dev/null)"
        else
            note "podman: cannot run a container here, skipped: $out"
            drop podman podman-crun
            PODMAN_CLI=()
        fi
    fi
fi

# podman with crun: the same store, in a private mount namespace without the
# cgroup2 mount (see MACHINE-NOTES: crun 1.8 refuses hybrid cgroups).
IN_NS=(unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$@"' sh)
if has podman-crun; then
    if out=$("${IN_NS[@]}" "${PODMAN_CLI[@]}" --runtime crun run --rm busybox true 2>&1); then
        info "podman-crun: $(crun --version | head -n1)"
    else
        note "podman-crun: crun cannot run a container here, skipped: $out"
        drop podman-crun
    fi
fi

cli_of() { # engine -> the CLI prefix, as one shell-quoted string
    case $1 in
        berth) printf '%q ' "${BERTH_CLI[@]}" ;;
        docker) printf '%q ' "${DOCKER_CLI[@]}" ;;
        docker-berth) printf '%q ' "${DOCKER_BERTH_CLI[@]}" ;;
        podman) printf '%q ' "${PODMAN_CLI[@]}" ;;
        podman-crun) printf '%q ' "${IN_NS[@]}" "${PODMAN_CLI[@]}" --runtime crun ;;
    esac
}

mem() { python3 "$SCRIPT_DIR/mem.py" "$@"; }
daemon_pids() {
    case $1 in
        berth) echo "$BERTH_PID" ;;
        docker) echo "$DOCKERD_PID $CONTAINERD_PID" ;;
        podman) ;;
    esac
}
# The daemons as started: one `ps -q`-like request answered (the readiness
# check), no container created yet.
MEM_OUT=$RESULTS_DIR/memory.json
LOADS=$RESULTS_DIR/loads.txt
: >"$LOADS"
sleep 2
# The pids are words: split on purpose.
# shellcheck disable=SC2046
python3 - "$MEM_OUT" "$(has berth && mem pids $(daemon_pids berth))" "$(has docker && mem pids $(daemon_pids docker))" <<'EOF'
import json, sys
d = {}
for e, m in (("berth", sys.argv[2]), ("docker", sys.argv[3])):
    if m:
        d[e] = {"fresh": json.loads(m)}
json.dump(d, open(sys.argv[1], "w"), indent=1)
EOF

# Every engine must run the image once and leave nothing behind.
for e in $ENGINES; do
    [ "$e" = podman-crun ] && continue
    cli=$(cli_of "$e")
    if ! out=$(sh -c "$cli run --rm busybox true" 2>&1); then
        note "$e: \`run --rm busybox true\` FAILED: $out"
        drop "$e"
    fi
done
log "engines: $ENGINES"

# --- 4. memory (first: the daemons have done one run each, nothing more) --------
mem_series() { # engine
    local e=$1 cli pids idle shims after i
    cli=$(cli_of "$e")
    pids=$(daemon_pids "$e")
    sleep 2
    idle=$(mem pids $pids)
    log "memory $e: idle daemon $idle; starting $MEM_N sleep containers"
    for ((i = 0; i < MEM_N; i++)); do
        sh -c "$cli run -d busybox sleep 1000" >/dev/null
    done
    sleep 3
    shims=$(mem shims "$e" "$TMP" "$RUN")
    after=$(mem pids $pids)
    log "memory $e: shims $shims; daemon after $after"
    python3 - "$MEM_OUT" "$e" "$MEM_N" "$idle" "$shims" "$after" <<'EOF'
import json, sys
path, e, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
idle, shims, after = (json.loads(a) for a in sys.argv[4:7])
d = json.load(open(path))
d.setdefault(e, {}).update({"n": n, "idle": idle, "shims": shims, "daemon_after": after})
json.dump(d, open(path, "w"), indent=1)
EOF
    local running
    running=$(sh -c "$cli ps -q" | wc -l)
    [ "$running" -eq "$MEM_N" ] || note "memory $e: $running containers running, expected $MEM_N"
    [ "$(echo "$shims" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')" -eq "$MEM_N" ] ||
        note "memory $e: shim count is not $MEM_N: $shims"
    local -a arr
    eval "arr=($cli)"
    rm_all "$e" "${arr[@]}"
}
if series mem; then
    for e in berth docker podman; do
        has "$e" || continue
        settle "mem-$e"
        mem_series "$e"
    done
fi

# --- 1 and 2. hyperfine ------------------------------------------------------------
HF_OPTS=(--warmup "$WARMUP" --runs "$RUNS" --style basic)
hf() { # label command [extra hyperfine options...]
    local label=$1 cmd=$2
    shift 2
    settle "$label"
    log "timing $label: $cmd"
    hyperfine "${HF_OPTS[@]}" "$@" --export-json "$RESULTS_DIR/$label.json" -n "$label" "$cmd" ||
        note "$label: hyperfine failed (exit $?)"
}
for e in $ENGINES; do
    series run || break
    cli=$(cli_of "$e")
    if [ "$e" = podman-crun ]; then
        # hyperfine itself inside the namespace: the unshare is paid once.
        ns_cli="$(printf '%q ' "${PODMAN_CLI[@]}") --runtime crun"
        settle "run-$e"
        log "timing run-$e and cycle-$e (in a private mount namespace)"
        "${IN_NS[@]}" hyperfine "${HF_OPTS[@]}" -N --export-json "$RESULTS_DIR/run-$e.json" -n "run-$e" \
            "$ns_cli run --rm busybox true" || note "run-$e: hyperfine failed"
        settle "cycle-$e"
        "${IN_NS[@]}" hyperfine "${HF_OPTS[@]}" --export-json "$RESULTS_DIR/cycle-$e.json" -n "cycle-$e" \
            "id=\$($ns_cli run -d busybox sleep 1000) && $ns_cli stop -t 0 \$id >/dev/null && $ns_cli rm \$id >/dev/null" ||
            note "cycle-$e: hyperfine failed"
        continue
    fi
    hf "run-$e" "$cli run --rm busybox true" -N
    hf "cycle-$e" "id=\$($cli run -d busybox sleep 1000) && $cli stop -t 0 \$id >/dev/null && $cli rm \$id >/dev/null"
done

# --- volumes: what 3 named volumes and a tmpfs add to run --rm ------------------------
# Both engines run the same command; the added cost is its median minus
# series 1's (summary.py). The volumes exist beforehand and stay empty (the
# mount points are not in the image: no copy-up, as in a database's reuse).
if series volumes; then
    for e in berth docker; do
        has "$e" || continue
        cli=$(cli_of "$e")
        for v in 1 2 3; do eval "$cli volume create bench-vol$v" >/dev/null || note "volumes-$e: create failed"; done
        hf "runvol-$e" "$cli run --rm -v bench-vol1:/v1 -v bench-vol2:/v2 -v bench-vol3:/v3 --tmpfs /t busybox true" -N
        eval "$cli volume rm bench-vol1 bench-vol2 bench-vol3" >/dev/null || note "volumes-$e: rm failed"
    done
fi

# --- exec: `CLI exec <running container> true` (hyperfine) ----------------------------
if series exec; then
    for e in berth docker; do
        has "$e" || continue
        cli=$(cli_of "$e")
        id=$(eval "$cli run -d busybox sleep 1000")
        hf "exec-$e" "$cli exec $id true" -N
        eval "$cli rm -f $id" >/dev/null || note "exec-$e: rm -f $id failed"
    done
fi

# --- API phases of one run --rm ----------------------------------------------------
if series phases && has berth; then
    settle phases-berth
    python3 "$SCRIPT_DIR/phases.py" berth "$BERTH_SOCK" "$PHASE_REPS" "$RESULTS_DIR/phases-berth.json" ||
        note "phases berth failed"
fi
if series phases && has docker; then
    settle phases-docker
    python3 "$SCRIPT_DIR/phases.py" docker "$DOCKER_SOCK" "$PHASE_REPS" "$RESULTS_DIR/phases-docker.json" ||
        note "phases docker failed"
fi
# The CLI's floor: one round trip that does nothing (an empty `ps -q`).
for e in berth docker docker-berth; do
    series phases && has "$e" && hf "ps-$e" "$(cli_of "$e") ps -q" -N
done

# --- 3. parallel starts --------------------------------------------------------------
for n in $PAR_NS; do
    series par || break
    for e in berth docker podman; do
        has "$e" || continue
        cli=$(cli_of "$e")
        eval "arr=($cli)"
        settle "par-$e-$n"
        log "parallel $e n=$n"
        python3 "$SCRIPT_DIR/parallel.py" "$e" "$n" "$PAR_REPS" "$RESULTS_DIR/par-$e-$n.json" -- "${arr[@]}" ||
            note "par-$e-$n FAILED (see above)"
    done
done

# --- the daemons at the end ------------------------------------------------------------
sleep 2
# shellcheck disable=SC2046
python3 - "$MEM_OUT" "$(mem pids $(daemon_pids berth))" "$(mem pids $(daemon_pids docker))" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for e, m in (("berth", sys.argv[2]), ("docker", sys.argv[3])):
    if e in d:
        d[e]["idle_end"] = json.loads(m)
json.dump(d, open(sys.argv[1], "w"), indent=1)
EOF
# Processes per engine still alive besides the daemons (a leak check).
for e in berth docker podman; do
    has "$e" || continue
    s=$(mem shims "$e" "$TMP" "$RUN")
    case "$s" in *'"count": 0'*) ;; *) note "$e: per-container processes left after the benchmark: $s" ;; esac
done

# --- summary ---------------------------------------------------------------------------
{
    echo "# bench/engine $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "- filesystem of $TMP: $(findmnt -no FSTYPE -T /tmp 2>/dev/null || echo '?')"
    cat "$RESULTS_DIR/info.txt"
    echo "- hyperfine $(hyperfine --version | cut -d' ' -f2): runs=$RUNS warmup=$WARMUP; parallel: N in {$PAR_NS}, $PAR_REPS reps; memory: $MEM_N containers"
    sed 's/^/- /' "$LOADS"
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    python3 "$SCRIPT_DIR/summary.py" "$RESULTS_DIR"
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
