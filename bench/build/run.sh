#!/usr/bin/env bash
# bench/build/run.sh — build benchmark (issue 12): `berth build` against
# docker's classic builder and BuildKit (both dockerd 20.10's), side by side
# in one run, on one Dockerfile of twelve steps with a multi-stage COPY.
#
# What it measures (see README.md for the method and the latest figures)
#   cold     `build --no-cache -t bench-cold CTX`; before each run (untimed)
#            bench-cold is removed, dangling images and the build cache
#            pruned: every run starts from a store holding the base image only
#   cached   `build -t bench-build CTX` again, nothing changed (every step
#            from the cache)
#   onefile  the same after rewriting one copied file (src/main.c) with new
#            content of the same size (hyperfine --prepare): its COPY and the
#            steps after it rerun, in both stages
#   mem      one more cold build with the engine's memory sampled (mem.py):
#            the daemon's exact peak RSS (VmHWM reset before the build through
#            /proc/PID/clear_refs), containerd's likewise (docker), the peak of
#            the sum over all the engine's processes (shims, runc) sampled
#            (a pause of MEM_INTERVAL s between samples; one scan of /proc
#            takes about 1 ms more), and the client's peak RSS (/usr/bin/time -v)
#   Each timed case is hyperfine (-N: no shell), the engines one after the
#   other within a case; after each case one more build is logged (untimed)
#   and what it reran or took from the cache is counted (steps.py), and the
#   image it made is run and must print the checksum the host computes from
#   the context. Every build runs its RUN steps without a network (`--network
#   none`, the same for all three: dockerd has no bridge here, and BuildKit
#   refuses a RUN on the default network without one: "network bridge not
#   found").
#
# Engines
#   berth     `berth -H unix://S build ...` against a private `berth daemon
#             --data-root D --exec-root E --pidfile P -H unix://S --bridge none`
#             in the host's network namespace (no bridge, no nftables table)
#   classic   `env DOCKER_BUILDKIT=0 /usr/bin/docker -H unix://S2 build ...`
#   buildkit  `env DOCKER_BUILDKIT=1 /usr/bin/docker -H unix://S2 build ...`:
#             the 20.10 CLI drives dockerd 20.10's built-in BuildKit (no buildx)
#   Both docker engines share one private dockerd: --data-root, --exec-root,
#   --pidfile, -H unix://S2, an empty --config-file, `--bridge=B
#   --iptables=false --ip-masq=false --ip-forward=false`, started in a scratch
#   network namespace of its own (`unshare -n sleep infinity` holds it,
#   `nsenter --net=` enters it) with a bridge B of its own made there (never
#   --bridge=none: dockerd then deletes a docker0 it finds, see
#   bench/lib/bridge.sh); B goes with the namespace. It starts its own containerd, whose config, state and socket are
#   under dockerd's --exec-root and its root under --data-root.
#   podman: not driven (a note says whether it is installed).
#
# The base image: Debian's static busybox (binary, applet links, /etc/passwd,
# /etc/group) tarred and imported into both daemons as bench-bb:latest with
# CMD ["sh"] (`berth import`, `docker import`): no registry, no network.
#
# Usage (as root):
#   bench/build/run.sh
# Environment:
#   RUNS=20 WARMUP=3              hyperfine, cached and onefile
#   COLD_RUNS=10 COLD_WARMUP=2    hyperfine, cold
#   MEM_INTERVAL=0.002            the sampler's pause between samples, s
#   ENGINES="berth classic buildkit"
#   SERIES="cold mem cached onefile"
#   SETTLE_MAX=15                 before each case and engine, wait up to this
#                                 many seconds for CPU pressure (PSI some
#                                 avg10) < 5 %
#   BERTH=P                       the berth binary (default
#                                 target/release/berth; `cargo build --release
#                                 -p berth`)
#   BERTH_NOTE=TEXT               how that binary was built, for the summary
#   DOCKERD=P DOCKER=P            (default dockerd from PATH, /usr/bin/docker:
#                                 the CLI of dockerd's 20.10 release, not a
#                                 newer one in /usr/local/bin)
#   BUSYBOX=P                     static busybox for the image (/bin/busybox)
#   RESULTS_DIR=D                 default bench/build/results/<UTC timestamp>/;
#                                 the summary is also copied to <that>.md
#
# Clean-up (a trap, on success, failure and interrupt alike): the sampler, the
# berth daemon and dockerd stopped (SIGTERM, then SIGKILL; dockerd's process
# group; its containerd by its pidfile), then any process left whose command
# line or root names the scratch directories, the namespace holder killed (the
# namespace goes with it), the new empty docker/ (and buildkit) cgroups that
# dockerd made removed, everything under the scratch directories unmounted and
# deleted. The summary says whether the host's links, nft tables, forwarding
# sysctls and mounts are as they were, and that none of the processes started
# here is left.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKSPACE=$(cd "$SCRIPT_DIR/../.." && pwd)
T_START=$(date +%s)

RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
COLD_RUNS=${COLD_RUNS:-10}
COLD_WARMUP=${COLD_WARMUP:-2}
MEM_INTERVAL=${MEM_INTERVAL:-0.002}
ENGINES=${ENGINES:-"berth classic buildkit"}
SERIES=${SERIES:-"cold mem cached onefile"}
SETTLE_MAX=${SETTLE_MAX:-15}
BUSYBOX=${BUSYBOX:-/bin/busybox}
BERTH=${BERTH:-$WORKSPACE/target/release/berth}
DOCKERD=${DOCKERD:-$(command -v dockerd || true)}
DOCKER=${DOCKER:-$([ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker || true)}
PODMAN=${PODMAN:-$(command -v podman || true)}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=${RESULTS_DIR:-$SCRIPT_DIR/results/$STAMP}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
has() { case " $ENGINES " in *" $1 "*) return 0 ;; esac; return 1; }
series() { case " $SERIES " in *" $1 "*) return 0 ;; esac; return 1; }
drop() { local e; for e in "$@"; do ENGINES=$(echo " $ENGINES " | sed "s/ $e / /; s/^ *//; s/ *$//"); done; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
for t in hyperfine python3 tar unshare nsenter ip sha256sum; do
    command -v "$t" >/dev/null || die "$t not found"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
case "$(file -L "$BUSYBOX" 2>/dev/null || true)" in
    *dynamically*) die "$BUSYBOX is dynamically linked; need busybox-static" ;;
esac
[ -x "$BERTH" ] || die "berth not found at $BERTH (cargo build --release -p berth, or set BERTH)"
BERTH=$(readlink -f "$BERTH")

# --- scratch directories, notes --------------------------------------------------
# Short: the sockets live in it (sun_path is 108 bytes).
TMP=$(mktemp -d /tmp/bbb.XXXXXX)
# The daemons' --exec-root on a tmpfs, as /run is on a standard host (see
# bench/engine/README.md: /run here is on the root ext4).
RUN=$(mktemp -d "${RUN_BASE:-/dev/shm}/bbb.XXXXXX")
mkdir -p "$RESULTS_DIR/logs"
NOTES=$RESULTS_DIR/notes.txt
INFO=$RESULTS_DIR/info.txt
LOADS=$RESULTS_DIR/loads.txt
CHECKS=$TMP/checks.tsv
: >"$NOTES"
: >"$INFO"
: >"$LOADS"
: >"$CHECKS"
note() { # a skipped engine or case, a failure: printed now, listed in the summary
    printf 'NOTE: %s\n' "$*" >&2
    printf -- '- %s\n' "$*" >>"$NOTES"
}
info() { printf -- '- %s\n' "$*" >>"$INFO"; }
check() { printf '%s\t%s\n' "$1" "$2" >>"$CHECKS"; } # key text

# shellcheck source=../lib/proc.sh
source "$SCRIPT_DIR/../lib/proc.sh"
# shellcheck source=../lib/daemons.sh
source "$SCRIPT_DIR/../lib/daemons.sh"
# shellcheck source=../lib/settle.sh
source "$SCRIPT_DIR/../lib/settle.sh"

# What the host looks like now: compared before the summary.
host_state() {
    echo "links: $(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | paste -sd' ')"
    echo "nft tables: $(nft list tables 2>/dev/null | sort | paste -sd',' || echo '?')"
    echo "sysctl: ip_forward=$(cat /proc/sys/net/ipv4/ip_forward) all.route_localnet=$(cat /proc/sys/net/ipv4/conf/all/route_localnet)"
    echo "mounts: $(awk '{ print $5 }' /proc/self/mountinfo | grep -cE '^/(tmp|dev/shm)/bbb\.' || true)"
}
host_state >"$TMP/host.before"
find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort >"$TMP/cgroups.before"

BERTH_DIR=$TMP/berth
BERTH_SOCK=$TMP/b.sock
BERTH_PID=
DOCKER_DIR=$TMP/docker
DOCKER_SOCK=$TMP/d.sock
DOCKERD_PID=
CONTAINERD_PID=
HOLDER=
NS_DOCKER=
SAMPLER_PID=
STARTED=() # every daemon pid started here, checked after the clean-up
export BERTH_NO_AUTOSTART=1
unset BERTH_HOST DOCKER_HOST DOCKER_BUILDKIT
mkdir -p "$TMP/docker-cli"
echo '{}' >"$TMP/docker-cli/config.json"
export DOCKER_CONFIG=$TMP/docker-cli

teardown() { # everything this script started; idempotent
    local left p cg
    if alive "$SAMPLER_PID"; then kill -TERM "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; fi
    SAMPLER_PID=
    stop_berth
    stop_dockerd
    sleep 0.2
    left=$( (procs_under "$TMP"; procs_under "$RUN") | sort -u | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
        log "killing processes left under $TMP, $RUN: $left"
        for p in $left; do
            echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
        done >>"$TMP/killed.txt"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        sleep 0.3
    fi
    if [ -n "$HOLDER" ]; then
        kill -KILL "$HOLDER" 2>/dev/null || true
        wait "$HOLDER" 2>/dev/null || true
        HOLDER=
    fi
    unmount_under "$TMP"
    unmount_under "$RUN"
    # Only new cgroup parents (docker/ in each hierarchy, made by dockerd for
    # its containers, with BuildKit's docker/buildkit/ below it; berth/ if this
    # run made it), and only their empty directories, deepest first.
    find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort >"$TMP/cgroups.after"
    comm -13 "$TMP/cgroups.before" "$TMP/cgroups.after" | while read -r cg; do
        case "${cg##*/}" in
            berth | docker) find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true ;;
        esac
    done
}

cleanup() {
    local rc=$?
    set +e
    log "clean-up"
    teardown
    rm -rf "$TMP" "$RUN"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# --- the base image --------------------------------------------------------------
log "making the busybox rootfs"
ROOTFS=$TMP/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/tmp" "$ROOTFS/root" "$ROOTFS/var"
chmod 1777 "$ROOTFS/tmp"
chmod 700 "$ROOTFS/root"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    # Debian's build lists "busybox" itself: it must not replace the binary.
    [ "$applet" = busybox ] && continue
    ln -s busybox "$ROOTFS/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
ROOTFS_TAR=$TMP/rootfs.tar
tar -C "$ROOTFS" -cf "$ROOTFS_TAR" .
rm -rf "$ROOTFS"
BASE=bench-bb:latest

# --- the build context -----------------------------------------------------------
# Stage 1 "compiles" (concatenates and checksums the sources); stage 2 is the
# runtime image with the artifact copied from stage 1. src/main.c is the file
# the onefile case rewrites (same size, new content each time).
CTX=$TMP/ctx
mkdir -p "$CTX/src"
cat >"$CTX/Dockerfile" <<EOF
FROM ${BASE%:latest} AS build
WORKDIR /src
COPY src/ ./
RUN cat *.c *.h data.bin > /out.bin && sha256sum /out.bin > /out.sum && sleep 0
RUN mkdir -p /artifact && cp /out.bin /out.sum /artifact/ && wc -c < /out.bin > /artifact/size
FROM ${BASE%:latest}
ENV APP_HOME=/app MODE=bench
LABEL org.example.bench=build org.example.issue=12
WORKDIR /app
COPY --from=build /artifact/ /app/
EXPOSE 8080
CMD ["/bin/sh", "-c", "cat /app/out.sum"]
EOF
cat >"$TMP/touch" <<EOF
#!/bin/sh
# The onefile case's prepare: new content, same size (a fresh uuid).
printf '/* revision %s */\n#include "util.h"\nint main(void) { return util(); }\n' "\$(cat /proc/sys/kernel/random/uuid)" >$CTX/src/main.c
EOF
chmod +x "$TMP/touch"
"$TMP/touch"
{
    echo '#include "util.h"'
    for i in $(seq 1 60); do echo "int util$i(int x) { return x * $i + $((i * 7 % 13)); }"; done
    echo 'int util(void) { return util1(0); }'
} >"$CTX/src/util.c"
{
    echo '#pragma once'
    echo 'int util(void);'
    for i in $(seq 1 60); do echo "int util$i(int x);"; done
} >"$CTX/src/util.h"
head -c 65536 /dev/urandom >"$CTX/src/data.bin"
printf '[app]\nname = bench\nport = 8080\n' >"$CTX/src/config.ini"
expected_sum() { (cd "$CTX/src" && LC_ALL=C cat ./*.c ./*.h data.bin) | sha256sum | cut -d' ' -f1; }
cp "$CTX/Dockerfile" "$RESULTS_DIR/Dockerfile"
info "context: Dockerfile ($(grep -c . "$CTX/Dockerfile") steps, two stages) + src/ ($(find "$CTX/src" -type f | wc -l) files, $(du -sb "$CTX/src" | cut -f1) bytes: main.c, util.c, util.h, config.ini, 64 KiB data.bin); onefile rewrites src/main.c ($(stat -c %s "$CTX/src/main.c") bytes, a new uuid in it)"

# --- the engines -----------------------------------------------------------------
declare -a BC=() DC=()
if has berth; then
    log "berth: private daemon on unix://$BERTH_SOCK (--bridge none, host network namespace)"
    mkdir -p "$BERTH_DIR"
    setsid "$BERTH" --data-root "$BERTH_DIR/data" daemon -H "unix://$BERTH_SOCK" \
        --exec-root "$RUN/berth" --pidfile "$BERTH_DIR/berth.pid" --bridge none \
        </dev/null >"$BERTH_DIR/daemon.log" 2>&1 &
    BERTH_PID=$!
    BC=("$BERTH" -H "unix://$BERTH_SOCK")
    if wait_for "$BERTH_PID" "${BC[@]}" ps -q; then
        [ -s "$BERTH_DIR/berth.pid" ] && BERTH_PID=$(cat "$BERTH_DIR/berth.pid")
        STARTED+=("$BERTH_PID")
        "${BC[@]}" import -c 'CMD ["sh"]' "$ROOTFS_TAR" "$BASE" >/dev/null
        info "berth: $BERTH ($("$BERTH" --version 2>/dev/null | head -n1))${BERTH_NOTE:+; $BERTH_NOTE}; daemon pid $BERTH_PID, --bridge none, data root in $TMP (filesystem $(findmnt -no FSTYPE -T "$TMP" 2>/dev/null | head -n1)), exec root on $(findmnt -no FSTYPE -T "$RUN" 2>/dev/null | head -n1)"
    else
        note "berth: the daemon did not answer, skipped; its log: $(tail -n 5 "$BERTH_DIR/daemon.log")"
        stop_berth
        drop berth
    fi
fi

if has classic || has buildkit; then
    if [ -z "$DOCKERD" ] || [ -z "$DOCKER" ]; then
        note "docker: dockerd or docker not installed, classic and BuildKit skipped"
        drop classic buildkit
    else
        case "$("$DOCKER" --version 2>/dev/null)" in
            *" 20.10."*) ;;
            *) note "docker CLI $DOCKER is $("$DOCKER" --version 2>/dev/null) (not 20.10, the daemon's release)" ;;
        esac
        unshare -n sleep infinity </dev/null >/dev/null 2>&1 &
        HOLDER=$!
        self=$(readlink /proc/$$/ns/net)
        for ((i = 0; i < 100; i++)); do
            [ "$(readlink "/proc/$HOLDER/ns/net" 2>/dev/null)" != "$self" ] && break
            sleep 0.02
        done
        [ "$(readlink "/proc/$HOLDER/ns/net" 2>/dev/null)" != "$self" ] || die "unshare -n did not make a namespace"
        NS_DOCKER=/proc/$HOLDER/ns/net
        nsenter --net="$NS_DOCKER" ip link set lo up
        # A bridge of its own: dockerd with --bridge=none deletes any docker0
        # it finds (bench/lib/bridge.sh); this one goes with the namespace.
        DOCKER_BRIDGE=bbd$(printf %x $$)
        nsenter --net="$NS_DOCKER" ip link add "$DOCKER_BRIDGE" type bridge
        nsenter --net="$NS_DOCKER" ip addr add 10.232.77.1/24 dev "$DOCKER_BRIDGE"
        nsenter --net="$NS_DOCKER" ip link set "$DOCKER_BRIDGE" up
        log "docker: private dockerd in $NS_DOCKER on unix://$DOCKER_SOCK (bridge $DOCKER_BRIDGE)"
        mkdir -p "$DOCKER_DIR"
        echo '{}' >"$DOCKER_DIR/daemon.json"
        nsenter --net="$NS_DOCKER" env -u NOTIFY_SOCKET setsid "$DOCKERD" --data-root "$DOCKER_DIR/data" \
            --exec-root "$RUN/docker" --pidfile "$DOCKER_DIR/dockerd.pid" --config-file "$DOCKER_DIR/daemon.json" \
            -H "unix://$DOCKER_SOCK" --bridge="$DOCKER_BRIDGE" --iptables=false --ip-masq=false --ip-forward=false \
            </dev/null >"$DOCKER_DIR/dockerd.log" 2>&1 &
        DOCKERD_PID=$!
        DC=("$DOCKER" -H "unix://$DOCKER_SOCK")
        if wait_for "$DOCKERD_PID" "${DC[@]}" version; then
            [ -s "$DOCKER_DIR/dockerd.pid" ] && DOCKERD_PID=$(cat "$DOCKER_DIR/dockerd.pid")
            CONTAINERD_PID=$(cat "$RUN/docker/containerd/containerd.pid" 2>/dev/null || true)
            STARTED+=("$DOCKERD_PID")
            if [ -n "$CONTAINERD_PID" ]; then STARTED+=("$CONTAINERD_PID"); fi
            "${DC[@]}" import -c 'CMD ["sh"]' "$ROOTFS_TAR" "$BASE" >/dev/null
            ctd_cfg=$RUN/docker/containerd/containerd.toml
            info "docker: $("$DOCKERD" --version), CLI $DOCKER ($("$DOCKER" --version)), $(containerd --version 2>/dev/null | awk '{ print "containerd " $3 }'), $(runc --version 2>/dev/null | head -n1); storage $("${DC[@]}" info --format '{{.Driver}}' 2>/dev/null); dockerd pid $DOCKERD_PID in a scratch network namespace, its containerd pid ${CONTAINERD_PID:-?} (config $ctd_cfg: root $(awk -F'"' '/^root/ { print $2 }' "$ctd_cfg" 2>/dev/null), state $(awk -F'"' '/^state/ { print $2 }' "$ctd_cfg" 2>/dev/null))"
        else
            note "docker: the private dockerd did not answer, classic and BuildKit skipped; its log: $(grep -iE 'level=(error|fatal)|failed' "$DOCKER_DIR/dockerd.log" | tail -n 5)"
            stop_dockerd
            drop classic buildkit
        fi
    fi
fi
if [ -z "$PODMAN" ]; then
    note "podman: not installed, skipped"
else
    note "podman: $PODMAN is installed, but bench/build does not drive podman build yet: skipped"
fi

# The CLI of each engine, as an argv (hyperfine -N splits on blanks; no path
# here holds one).
cli_of() {
    case $1 in
        berth) printf '%q ' env BERTH_NO_AUTOSTART=1 "${BC[@]}" ;;
        classic) printf '%q ' env DOCKER_BUILDKIT=0 "${DC[@]}" ;;
        buildkit) printf '%q ' env DOCKER_BUILDKIT=1 "${DC[@]}" ;;
    esac
}
kind_of() { [ "$1" = buildkit ] && echo buildkit || echo classic; } # steps.py's log format
build_cmd() { # engine tag [--no-cache]
    echo "$(cli_of "$1")build ${3:+$3 }--network none -t $2 $CTX"
}
# Before every cold run: the store back to the base image alone.
for e in $ENGINES; do
    cat >"$TMP/prep-cold-$e" <<EOF
#!/bin/sh
$(cli_of "$e")rmi -f bench-cold >/dev/null 2>&1
$(cli_of "$e")image prune -f >/dev/null 2>&1
$(cli_of "$e")builder prune -af >/dev/null 2>&1
sync
EOF
    chmod +x "$TMP/prep-cold-$e"
done

verify() { # engine image case: run the image, compare its checksum with the context's
    local out want
    want=$(expected_sum)
    if ! out=$(sh -c "$(cli_of "$1")run --rm --network none $2" 2>&1); then
        note "$3-$1: \`run --rm $2\` FAILED: $out"
        echo "image did not run"
        return 1
    fi
    if [ "${out%% *}" = "$want" ]; then
        echo "image ok"
    else
        note "$3-$1: the image $2 prints \"$out\", the context's checksum is $want: it was not rebuilt from the current context"
        echo "IMAGE WRONG"
        return 1
    fi
}

logged() { # case engine prepare tag [--no-cache]: one more build, untimed, logged and checked
    local c=$1 e=$2 prep=$3 tag=$4 log=$RESULTS_DIR/logs/$1-$2.log steps v
    [ -n "$prep" ] && "$prep"
    if ! sh -c "$(build_cmd "$e" "$tag" "${5:-}")" >"$log" 2>&1; then
        note "$c-$e: the logged build FAILED: $(tail -n 5 "$log" | tr '\n' ' ')"
        check "$c-$e" "logged build FAILED"
        return 1
    fi
    steps=$(python3 "$SCRIPT_DIR/steps.py" "$(kind_of "$e")" "$log" 2>&1)
    v=$(verify "$e" "$tag" "$c") || true
    check "$c-$e" "$steps; $v"
}

HF_BASE=(--style basic -N)
hf() { # label runs warmup prepare command
    local args=("${HF_BASE[@]}" --runs "$2" --warmup "$3" --export-json "$RESULTS_DIR/$1.json" -n "$1")
    [ -n "$4" ] && args+=(--prepare "$4")
    log "timing $1: $5"
    echo "$1: ${4:+prepare $4; }$5" >>"$RESULTS_DIR/commands.txt"
    if ! hyperfine "${args[@]}" "$5"; then
        note "$1: hyperfine failed (a run exited non-zero); the command once more: $( ([ -n "$4" ] && "$4"; sh -c "$5") 2>&1 | tail -n 5 | tr '\n' ' ')"
        rm -f "$RESULTS_DIR/$1.json"
        return 1
    fi
}

# Every engine must build the Dockerfile once (its image right) before it is
# timed; an engine that cannot is left out with its error.
for e in $ENGINES; do
    log "smoke build: $e"
    if ! out=$(sh -c "$(build_cmd "$e" bench-smoke)" 2>&1); then
        printf '%s\n' "$out" >"$RESULTS_DIR/logs/smoke-$e.log"
        case $e in
            buildkit) note "BuildKit UNAVAILABLE here: \`$(build_cmd "$e" bench-smoke)\` failed: $(printf '%s' "$out" | grep -iE 'error|failed' | tail -n 3 | tr '\n' ' ')" ;;
            *) note "$e: the smoke build FAILED, not timed: \`$(build_cmd "$e" bench-smoke)\`: $(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')" ;;
        esac
        drop "$e"
        continue
    fi
    printf '%s\n' "$out" >"$RESULTS_DIR/logs/smoke-$e.log"
    verify "$e" bench-smoke smoke >/dev/null || { drop "$e"; continue; }
    sh -c "$(cli_of "$e")rmi -f bench-smoke" >/dev/null 2>&1 || true
done
log "engines: $ENGINES"
[ -n "$ENGINES" ] || die "no engine left to time (see $NOTES)"

# --- cold ----------------------------------------------------------------------------
if series cold; then
    for e in $ENGINES; do
        settle "cold-$e"
        hf "cold-$e" "$COLD_RUNS" "$COLD_WARMUP" "$TMP/prep-cold-$e" "$(build_cmd "$e" bench-cold --no-cache)" || continue
        logged cold "$e" "$TMP/prep-cold-$e" bench-cold --no-cache || true
    done
fi

# --- memory during one cold build ------------------------------------------------------
if series mem; then
    for e in $ENGINES; do
        case $e in
            berth) named=("daemon=$BERTH_PID") dirs=("$BERTH_DIR" "$RUN/berth") ;;
            *) named=("dockerd=$DOCKERD_PID") dirs=("$DOCKER_DIR" "$RUN/docker") && [ -n "$CONTAINERD_PID" ] && named+=("containerd=$CONTAINERD_PID") ;;
        esac
        "$TMP/prep-cold-$e"
        settle "mem-$e"
        log "memory: one cold build, $e"
        excl=$TMP/mem-exclude-$e
        : >"$excl"
        rm -f "$TMP/mem-$e.json.ready"
        python3 "$SCRIPT_DIR/mem.py" "$TMP/mem-$e.json" "$MEM_INTERVAL" "$excl" "${named[@]}" -- "${dirs[@]}" &
        SAMPLER_PID=$!
        for ((i = 0; i < 100; i++)); do [ -e "$TMP/mem-$e.json.ready" ] && break; alive "$SAMPLER_PID" || break; sleep 0.05; done
        eval "cmd=($(build_cmd "$e" bench-cold --no-cache))"
        # The subshell writes its own pid to the exclusion list before it
        # becomes /usr/bin/time: the client and its children are not counted.
        # shellcheck disable=SC2154
        ( echo "$BASHPID" >"$excl"; exec /usr/bin/time -v -o "$RESULTS_DIR/time-$e.txt" "${cmd[@]}" ) \
            >"$RESULTS_DIR/logs/mem-$e.log" 2>&1 || note "mem-$e: the build FAILED: $(tail -n 5 "$RESULTS_DIR/logs/mem-$e.log" | tr '\n' ' ')"
        kill -TERM "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=
        if [ -s "$TMP/mem-$e.json" ]; then
            cp "$TMP/mem-$e.json" "$RESULTS_DIR/mem-$e.json"
        else
            note "mem-$e: the sampler wrote nothing"
        fi
    done
fi

# --- fully cached rebuild -------------------------------------------------------------
if series cached; then
    for e in $ENGINES; do
        # The cache to hit: one build of the current context, untimed.
        sh -c "$(build_cmd "$e" bench-build)" >"$RESULTS_DIR/logs/prime-$e.log" 2>&1 ||
            { note "cached-$e: the priming build FAILED: $(tail -n 5 "$RESULTS_DIR/logs/prime-$e.log" | tr '\n' ' ')"; continue; }
        settle "cached-$e"
        hf "cached-$e" "$RUNS" "$WARMUP" "" "$(build_cmd "$e" bench-build)" || continue
        logged cached "$e" "" bench-build || true
    done
fi

# --- one copied file changed ---------------------------------------------------------
if series onefile; then
    for e in $ENGINES; do
        settle "onefile-$e"
        hf "onefile-$e" "$RUNS" "$WARMUP" "$TMP/touch" "$(build_cmd "$e" bench-build)" || continue
        logged onefile "$e" "$TMP/touch" bench-build || true
    done
fi

# --- what the daemons leave, then the clean-up -------------------------------------------
if alive "$BERTH_PID"; then
    errs=$(grep -iE 'error|warn|panic' "$BERTH_DIR/daemon.log" | head -n 20 || true)
    [ -n "$errs" ] && note "berth: its daemon log has errors or warnings: $(echo "$errs" | head -n 3 | tr '\n' ' ')"
    info "berth: data root after the run $(du -sh "$BERTH_DIR/data" | cut -f1), $(sh -c "$(cli_of berth)images -aq" 2>/dev/null | wc -l) images (-a)"
fi
if alive "$DOCKERD_PID"; then
    info "docker: data root after the run $(du -sh "$DOCKER_DIR/data" | cut -f1), $(sh -c "$(cli_of classic)images -aq" 2>/dev/null | wc -l) images (-a)"
fi
[ -f "$BERTH_DIR/daemon.log" ] && cp "$BERTH_DIR/daemon.log" "$RESULTS_DIR/logs/berth-daemon.log"
[ -f "$DOCKER_DIR/dockerd.log" ] && cp "$DOCKER_DIR/dockerd.log" "$RESULTS_DIR/logs/dockerd.log"
python3 - "$CHECKS" "$RESULTS_DIR/checks.json" <<'EOF'
import json, sys
d = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition("\t")
    d[k] = v
json.dump(d, open(sys.argv[2], "w"), indent=1)
EOF

teardown
left=
for p in "${STARTED[@]}"; do alive "$p" && left="$left $p"; done
others=$( (procs_under "$TMP"; procs_under "$RUN") | sort -u | tr '\n' ' ')
if [ -z "${left// /}" ] && [ -z "${others// /}" ]; then
    info "after the clean-up: none of the daemons started here (pids ${STARTED[*]}) is alive, no process names the scratch directories"
else
    note "after the clean-up, still alive: daemons [$left], processes under the scratch directories [$others]"
fi
[ -s "$TMP/killed.txt" ] && note "the clean-up had to kill: $(paste -sd';' "$TMP/killed.txt")"
host_state >"$TMP/host.after"
if cmp -s "$TMP/host.before" "$TMP/host.after"; then
    info "host: links, nft tables, forwarding sysctls and mounts under the scratch directories the same after the run as before it"
else
    note "host: changed during the run: before [$(paste -sd'|' "$TMP/host.before")], after [$(paste -sd'|' "$TMP/host.after")] (what bears no name of ours — bbb.*, docker0 — is another user's of this machine)"
fi

# --- summary ---------------------------------------------------------------------------
{
    echo "# bench/build $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "- workspace HEAD at the run: $(git -C "$WORKSPACE" rev-parse --short HEAD 2>/dev/null || echo '?') (the berth binary's source: see berth below)$( [ -n "$(git -C "$WORKSPACE" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ] && echo ' (crates/ had uncommitted edits at the time)')"
    echo "- hyperfine $(hyperfine --version | cut -d' ' -f2) (-N): cold runs=$COLD_RUNS warmup=$COLD_WARMUP; cached and onefile runs=$RUNS warmup=$WARMUP; memory sampler: a pause of ${MEM_INTERVAL} s between samples"
    echo "- every build: \`build --network none -t TAG CTX\` (cold adds \`--no-cache\`); RUN steps without a network in all three engines"
    cat "$INFO"
    sed 's/^/- /' "$LOADS"
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); whole run $(($(date +%s) - T_START)) s"
    echo
    echo "The Dockerfile:"
    echo
    echo '```dockerfile'
    cat "$RESULTS_DIR/Dockerfile"
    echo '```'
    echo
    python3 "$SCRIPT_DIR/summary.py" "$RESULTS_DIR"
    if [ -s "$NOTES" ]; then
        echo
        echo "Notes:"
        echo
        cat "$NOTES"
    fi
} >"$RESULTS_DIR/summary.md"
cp "$RESULTS_DIR/summary.md" "${RESULTS_DIR%/}.md"
echo
cat "$RESULTS_DIR/summary.md"
log "results in $RESULTS_DIR (summary also in ${RESULTS_DIR%/}.md)"
