#!/usr/bin/env bash
# bench/compose/run.sh — Compose benchmark (issue 13): `berth compose` against
# berth, side by side with docker-compose 1.29.2 against a private dockerd
# 20.10 (and docker-compose 1.29.2 against berth), in one run, on one stack.
#
# The stack (compose.yaml, the SAME file for every tool): five busybox
# services (web: busybox httpd published on 18080:8080; api, worker, cache,
# db: sleep), one user network (benchnet, every service on it), one named
# volume (benchdata, mounted by three services); every command is
# `sh -c "trap 'exit 0' TERM; ... & wait"`, so a container stops on SIGTERM at
# once and `down` is not ten-second stop timeouts (stop_grace_period: 1s as a
# bound on top); web depends_on api.
#
# What it measures (see README.md for the method and the latest figures), for
# each tool, hyperfine (-N, RUNS runs after WARMUP warm-ups):
#   up      `up -d` from nothing until every container runs; before each run
#           (hyperfine --prepare, untimed) `down -v`
#   again   `up -d` again with nothing changed (the stack up)
#   down    `down -v`; before each run (--prepare) `up -d`
#   After each case one more run of it is made untimed, its output logged, and
#   the engine is asked (with /usr/bin/docker, the 20.10 CLI, as an observer
#   independent of the tool under test) whether it did what it should:
#     up     5 containers of the project running, one per service, the
#            project's network and volume there, the published port serving
#            web's page; and before it (after the prepare) nothing of the
#            project
#     again  the same container ids and start times before the first warm-up
#            and after the last run (nothing recreated or restarted), all 5
#            running
#     down   5 running before it (after the prepare), then no container,
#            network or volume of the project
#
# Tools (TOOLS, in this order, one after the other: each runs its three cases
# and leaves nothing of its project)
#   bc-berth    `berth -H unix://S compose -p bcberth -f FILE ...` against berth
#   dc-dockerd  `env DOCKER_HOST=unix://S2 docker-compose -p dcdockerd -f FILE
#               ...` (Debian's 1.29.2) against the private dockerd
#   dc-berth    docker-compose 1.29.2 against berth (project dcberth)
#   bc-dockerd  berth compose against the private dockerd (project bcdockerd):
#               with dc-berth, what the client and the engine are each worth
#
# Where everything runs: nothing in the host's own network namespace. Each
# daemon runs in a scratch "host" namespace of its own (`unshare -n sleep
# infinity` holds it; the daemon is started through `nsenter --net=`):
#   berth   `berth --data-root D daemon -H unix://S --exec-root E --pidfile P`
#           in NS_BERTH: its default bridge, the stack's network, its nft
#           table and sysctls exist only there
#   docker  a private `dockerd --data-root --exec-root --pidfile -H unix://S2
#           --config-file {} --bridge=B` in NS_DOCKER, iptables, ip-masq,
#           ip-forward and the userland proxy at their defaults (as shipped):
#           its iptables rules and docker-proxy live in that namespace. B is a
#           bridge of its own (bcd<pid>, 10.231.X.1/24) made in NS_DOCKER,
#           never the host's docker0. It starts its own containerd (config,
#           state, socket under --exec-root; root under --data-root).
# The clients run in the host namespace (they only talk to the unix sockets);
# the published port is checked from the engine's namespace (`nsenter --net=NS
# curl http://127.0.0.1:18080/`).
#
# The image: Debian's static busybox (binary, applet links, /etc/passwd,
# /etc/group; as crates/testkit/src/rootfs.rs makes it) tarred and imported
# into both daemons as bench-bb:latest (`berth import`, `docker import`).
#
# Usage (as root):
#   bench/compose/run.sh
#   BERTH=/path/to/berth BERTH_NOTE="built from ..." bench/compose/run.sh
# Environment:
#   RUNS=10 WARMUP=2            hyperfine, every case
#   TOOLS="bc-berth dc-dockerd dc-berth bc-dockerd"
#   CASES="up again down"
#   SETTLE_MAX=10               before each case and tool, wait up to this many
#                               seconds for CPU pressure (PSI some avg10) < 5 %
#   BERTH=P                     the berth binary (default: scripts/build-berth,
#                               static release, into target/bench-static)
#   BERTH_NOTE=TEXT             how that binary was built, for the summary
#   DOCKERD=P DOCKER=P          (default dockerd from PATH, /usr/bin/docker:
#                               the 20.10 CLI, not a newer one in /usr/local/bin)
#   COMPOSE=P                   docker-compose (default /usr/bin/docker-compose)
#   BUSYBOX=P                   static busybox (/bin/busybox)
#   PORT=18080                  web's published host port (in each namespace)
#   RESULTS_DIR=D               default bench/compose/results/<UTC timestamp>/;
#                               the summary is also copied to <that>.md
#
# Clean-up (a trap, on success, failure and interrupt alike): `down -v` of
# every project and every container removed through its engine, both daemons
# stopped (SIGTERM, then SIGKILL; dockerd's process group and its containerd),
# then any process left in a scratch namespace or naming the scratch
# directories, then the namespace holders (a namespace goes with its links,
# nft tables and iptables rules), new empty berth/ and docker/ cgroups removed,
# everything under the scratch directories unmounted and deleted. Before the
# summary the script checks that no process it started is left and compares
# the host's links, nft tables, iptables rules, forwarding sysctls and mounts
# with what they were at the start; the summary says so.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKSPACE=$(cd "$SCRIPT_DIR/../.." && pwd)
T_START=$(date +%s)

RUNS=${RUNS:-10}
WARMUP=${WARMUP:-2}
TOOLS=${TOOLS:-"bc-berth dc-dockerd dc-berth bc-dockerd"}
CASES=${CASES:-"up again down"}
SETTLE_MAX=${SETTLE_MAX:-10}
PORT=${PORT:-18080}
BUSYBOX=${BUSYBOX:-/bin/busybox}
DOCKERD=${DOCKERD:-$(command -v dockerd || true)}
DOCKER=${DOCKER:-$([ -x /usr/bin/docker ] && echo /usr/bin/docker || command -v docker || true)}
COMPOSE=${COMPOSE:-$([ -x /usr/bin/docker-compose ] && echo /usr/bin/docker-compose || command -v docker-compose || true)}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=${RESULTS_DIR:-$SCRIPT_DIR/results/$STAMP}
SERVICES="api cache db web worker" # sorted

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
has() { case " $TOOLS " in *" $1 "*) return 0 ;; esac; return 1; }
drop() { local t; for t in "$@"; do TOOLS=$(echo " $TOOLS " | sed "s/ $t / /; s/^ *//; s/ *$//"); done; }
wants() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }
engine_of() { echo "${1#*-}"; } # bc-berth -> berth
uses() { local t; for t in $TOOLS; do [ "$(engine_of "$t")" = "$1" ] && return 0; done; return 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
for t in hyperfine python3 tar unshare nsenter ip curl; do
    command -v "$t" >/dev/null || die "$t not found"
done
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
case "$(file -L "$BUSYBOX" 2>/dev/null || true)" in
    *dynamically*) die "$BUSYBOX is dynamically linked; need busybox-static" ;;
esac
[ -n "$DOCKER" ] || die "the docker CLI is needed (it observes both engines)"
if uses dockerd && [ -z "$DOCKERD" ]; then
    die "dockerd not installed (drop dc-dockerd and bc-dockerd from TOOLS)"
fi
case " $TOOLS " in *" dc-"*) [ -n "$COMPOSE" ] || die "docker-compose not installed (drop the dc-* tools)" ;; esac

if [ -z "${BERTH:-}" ]; then
    log "building berth (release, static, non-PIE: scripts/build-berth, as bench/engine)"
    BERTH=$(CARGO_TARGET_DIR="$WORKSPACE/target/bench-static" "$WORKSPACE/scripts/build-berth")
fi
[ -x "$BERTH" ] || die "berth not found at $BERTH"
BERTH=$(readlink -f "$BERTH")

# --- scratch directories, notes --------------------------------------------------
# Short: the sockets live in it (sun_path is 108 bytes).
TMP=$(mktemp -d /tmp/bbc.XXXXXX)
# The daemons' --exec-root on a tmpfs, as /run is on a standard host (see
# bench/engine: /run here is on the root ext4).
RUN=$(mktemp -d "${RUN_BASE:-/dev/shm}/bbc.XXXXXX")
mkdir -p "$RESULTS_DIR/logs"
NOTES=$RESULTS_DIR/notes.txt
INFO=$RESULTS_DIR/info.txt
LOADS=$RESULTS_DIR/loads.txt
CHECKS=$TMP/checks.tsv
: >"$NOTES"
: >"$INFO"
: >"$LOADS"
: >"$CHECKS"
note() { # a skipped tool or case, a failure: printed now, listed in the summary
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
# shellcheck source=../lib/netns.sh
source "$SCRIPT_DIR/../lib/netns.sh"

# What the host looks like now: compared before the summary.
host_state() {
    echo "links: $(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort | paste -sd' ')"
    echo "nft tables: $(nft list tables 2>/dev/null | sort | paste -sd',' || echo '?')"
    echo "iptables rules: $( (iptables-save 2>/dev/null || true) | grep -c '^-A' || true)"
    echo "sysctl: ip_forward=$(cat /proc/sys/net/ipv4/ip_forward) all.route_localnet=$(cat /proc/sys/net/ipv4/conf/all/route_localnet) lo.route_localnet=$(cat /proc/sys/net/ipv4/conf/lo/route_localnet)"
    echo "mounts: $(awk '{ print $5 }' /proc/self/mountinfo | grep -cE '^/(tmp|dev/shm)/bbc\.' || true)"
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
DOCKER_BRIDGE=bcd$(printf %x $$)
SUB=$(($$ % 250 + 1))
HOLDERS=()   # pids of the `unshare -n sleep infinity` namespace holders
NS_INODES=() # their namespaces' inodes (net:[...])
NS_BERTH="" NS_DOCKER=""
STARTED=()   # every daemon pid started here, checked after the clean-up
export BERTH_NO_AUTOSTART=1
unset BERTH_HOST DOCKER_HOST COMPOSE_FILE COMPOSE_PROJECT_NAME
mkdir -p "$TMP/docker-cli"
echo '{}' >"$TMP/docker-cli/config.json"
export DOCKER_CONFIG=$TMP/docker-cli


sock_of() { case $(engine_of "$1") in berth) echo "$BERTH_SOCK" ;; dockerd) echo "$DOCKER_SOCK" ;; esac; }
ns_of() { case $(engine_of "$1") in berth) echo "$NS_BERTH" ;; dockerd) echo "$NS_DOCKER" ;; esac; }
project_of() { echo "$1" | tr -d -- -; } # bc-berth -> bcberth
# The observer: the 20.10 docker CLI against the tool's engine, as an argv.
obs() { local t=$1; shift; "$DOCKER" -H "unix://$(sock_of "$t")" "$@"; }

# The tool's command line for one compose verb, as one string (hyperfine -N
# splits it on blanks; no path here holds one).
compose_cmd() { # tool verb...
    local t=$1
    shift
    case $t in
        bc-*) echo "env BERTH_NO_AUTOSTART=1 $BERTH -H unix://$(sock_of "$t") compose -p $(project_of "$t") -f $FILE $*" ;;
        dc-*) echo "env DOCKER_HOST=unix://$(sock_of "$t") ${COMPOSE_API_VERSION:+COMPOSE_API_VERSION=$COMPOSE_API_VERSION }$COMPOSE -p $(project_of "$t") -f $FILE $*" ;;
    esac
}

rm_all() { # tool: down -v of its project, then every container of its engine, quietly
    local t=$1 ids
    timeout 60 sh -c "$(compose_cmd "$t" down -v)" >/dev/null 2>&1 || true
    ids=$(timeout 30 "$DOCKER" -H "unix://$(sock_of "$t")" ps -aq 2>/dev/null || true)
    [ -n "$ids" ] || return 0
    # shellcheck disable=SC2086
    timeout 60 "$DOCKER" -H "unix://$(sock_of "$t")" rm -f $ids >/dev/null 2>&1 || true
}

ALL_TOOLS=$TOOLS
teardown() { # everything this script started; idempotent
    local left p cg t
    for t in $ALL_TOOLS; do
        case $(engine_of "$t") in
            berth) alive "$BERTH_PID" && rm_all "$t" ;;
            dockerd) alive "$DOCKERD_PID" && rm_all "$t" ;;
        esac
    done
    stop_berth
    stop_dockerd
    sleep 0.2
    left=$( (procs_in_our_netns; procs_under "$TMP"; procs_under "$RUN") | sort -u | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
        log "killing processes left in our namespaces or under $TMP, $RUN: $left"
        for p in $left; do
            echo "$p $(readlink "/proc/$p/ns/net" 2>/dev/null) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
        done >>"$TMP/killed.txt"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        sleep 0.5
    fi
    for p in "${HOLDERS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    for p in "${HOLDERS[@]}"; do wait "$p" 2>/dev/null || true; done
    HOLDERS=()
    NS_INODES=()
    unmount_under "$TMP"
    unmount_under "$RUN"
    # Only new cgroup parents (berth/, docker/ in each hierarchy), and only
    # their empty directories, deepest first.
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


# --- the image -----------------------------------------------------------------
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

# --- the stack -----------------------------------------------------------------
PROJECT_DIR=$TMP/stack
FILE=$PROJECT_DIR/compose.yaml
mkdir -p "$PROJECT_DIR"
SLEEPER='["sh", "-c", "trap '"'exit 0'"' TERM; sleep 100000 & wait"]'
cat >"$FILE" <<EOF
# bench/compose: five busybox services on one user network, one named volume,
# one published port. Every command exits on SIGTERM (the trap), so a stop
# takes no timeout; stop_grace_period bounds it anyway.
services:
  web:
    image: bench-bb
    command: ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /www && echo bench-ok > /www/index.html; httpd -f -p 8080 -h /www & wait"]
    ports:
      - "$PORT:8080"
    networks: [benchnet]
    depends_on: [api]
    stop_grace_period: 1s
  api:
    image: bench-bb
    command: $SLEEPER
    volumes:
      - benchdata:/data
    networks: [benchnet]
    stop_grace_period: 1s
  worker:
    image: bench-bb
    command: $SLEEPER
    volumes:
      - benchdata:/data
    networks: [benchnet]
    stop_grace_period: 1s
  cache:
    image: bench-bb
    command: $SLEEPER
    networks: [benchnet]
    stop_grace_period: 1s
  db:
    image: bench-bb
    command: $SLEEPER
    volumes:
      - benchdata:/var/lib/db
    networks: [benchnet]
    stop_grace_period: 1s
networks:
  benchnet: {}
volumes:
  benchdata: {}
EOF
cp "$FILE" "$RESULTS_DIR/compose.yaml"

# --- the engines -----------------------------------------------------------------
if uses berth; then
    new_netns NS_BERTH
    log "berth: daemon in $NS_BERTH on unix://$BERTH_SOCK + import"
    mkdir -p "$BERTH_DIR"
    nsenter --net="$NS_BERTH" setsid "$BERTH" --data-root "$BERTH_DIR/data" daemon -H "unix://$BERTH_SOCK" \
        --exec-root "$RUN/berth" --pidfile "$BERTH_DIR/berth.pid" \
        </dev/null >"$BERTH_DIR/daemon.log" 2>&1 &
    BERTH_PID=$!
    if ! wait_for "$BERTH_PID" "$BERTH" -H "unix://$BERTH_SOCK" ps -q; then
        note "berth: the daemon did not answer; its log: $(tail -n 5 "$BERTH_DIR/daemon.log")"
        die "berth daemon failed"
    fi
    [ -s "$BERTH_DIR/berth.pid" ] && BERTH_PID=$(cat "$BERTH_DIR/berth.pid")
    STARTED+=("$BERTH_PID")
    "$BERTH" -H "unix://$BERTH_SOCK" import -c 'CMD ["sh"]' "$ROOTFS_TAR" bench-bb:latest >/dev/null
    info "berth: $BERTH ($("$BERTH" --version 2>/dev/null | head -n1))${BERTH_NOTE:+; $BERTH_NOTE}; daemon pid $BERTH_PID in a scratch namespace (default bridge berth0 there), data root in $TMP ($(findmnt -no FSTYPE -T "$TMP" 2>/dev/null | head -n1)), exec root on $(findmnt -no FSTYPE -T "$RUN" 2>/dev/null | head -n1)"
fi

if uses dockerd; then
    case "$("$DOCKER" --version 2>/dev/null)" in
        *" 20.10."*) ;;
        *) note "docker CLI $DOCKER is $("$DOCKER" --version 2>/dev/null) (not 20.10, the daemon's release)" ;;
    esac
    new_netns NS_DOCKER
    inns "$NS_DOCKER" ip link add "$DOCKER_BRIDGE" type bridge
    inns "$NS_DOCKER" ip addr add "10.231.$SUB.1/24" dev "$DOCKER_BRIDGE"
    inns "$NS_DOCKER" ip link set "$DOCKER_BRIDGE" up
    log "docker: private dockerd in $NS_DOCKER on unix://$DOCKER_SOCK, bridge $DOCKER_BRIDGE (10.231.$SUB.1/24)"
    mkdir -p "$DOCKER_DIR"
    echo '{}' >"$DOCKER_DIR/daemon.json"
    nsenter --net="$NS_DOCKER" env -u NOTIFY_SOCKET setsid "$DOCKERD" --data-root "$DOCKER_DIR/data" \
        --exec-root "$RUN/docker" --pidfile "$DOCKER_DIR/dockerd.pid" --config-file "$DOCKER_DIR/daemon.json" \
        -H "unix://$DOCKER_SOCK" --bridge="$DOCKER_BRIDGE" \
        </dev/null >"$DOCKER_DIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    if wait_for "$DOCKERD_PID" "$DOCKER" -H "unix://$DOCKER_SOCK" version; then
        [ -s "$DOCKER_DIR/dockerd.pid" ] && DOCKERD_PID=$(cat "$DOCKER_DIR/dockerd.pid")
        CONTAINERD_PID=$(cat "$RUN/docker/containerd/containerd.pid" 2>/dev/null || true)
        STARTED+=("$DOCKERD_PID")
        if [ -n "$CONTAINERD_PID" ]; then STARTED+=("$CONTAINERD_PID"); fi
        "$DOCKER" -H "unix://$DOCKER_SOCK" import -c 'CMD ["sh"]' "$ROOTFS_TAR" bench-bb:latest >/dev/null
        info "docker: $("$DOCKERD" --version), $(containerd --version 2>/dev/null | awk '{ print "containerd " $3 }'), $(runc --version 2>/dev/null | head -n1), storage $("$DOCKER" -H "unix://$DOCKER_SOCK" info --format '{{.Driver}}' 2>/dev/null); iptables $(iptables --version 2>/dev/null), userland proxy on (defaults); dockerd pid $DOCKERD_PID in a scratch namespace, bridge $DOCKER_BRIDGE, its containerd pid ${CONTAINERD_PID:-?}"
    else
        note "docker: the private dockerd did not answer, its tools skipped; its log: $(grep -iE 'level=(error|fatal)|failed' "$DOCKER_DIR/dockerd.log" | tail -n 5)"
        stop_dockerd
        drop dc-dockerd bc-dockerd
    fi
fi
info "clients: berth compose ($BERTH compose, $("$BERTH" compose version 2>/dev/null | head -n1)), docker-compose $COMPOSE ($("$COMPOSE" version 2>/dev/null | sed 's/, build unknown//' | paste -sd';' | sed 's/;/, /g')); observer $DOCKER ($("$DOCKER" --version))"

# --- the checks ------------------------------------------------------------------
# The project's containers, one line each: "service id status startedAt", sorted.
cstate() { # tool
    local t=$1 ids
    ids=$(obs "$t" ps -aq --no-trunc --filter "label=com.docker.compose.project=$(project_of "$t")")
    [ -n "$ids" ] || return 0
    # shellcheck disable=SC2086
    obs "$t" inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.Id}} {{.State.Status}} {{.State.StartedAt}}' $ids | sort
}
nets_of() { # tool: the project's networks, by label or by name
    local t=$1 p
    p=$(project_of "$t")
    { obs "$t" network ls -q --no-trunc --filter "label=com.docker.compose.project=$p"; obs "$t" network ls --format '{{.ID}} {{.Name}}' --no-trunc | awk -v p="$p" 'index($2, p "_") == 1 || index($2, p "-") == 1 { print $1 }'; } | sort -u
}
vols_of() { # tool: the project's volumes, by label or by name
    local t=$1 p
    p=$(project_of "$t")
    { obs "$t" volume ls -q --filter "label=com.docker.compose.project=$p"; obs "$t" volume ls -q | awk -v p="$p" 'index($1, p "_") == 1 || index($1, p "-") == 1'; } | sort -u
}
page() { # tool: web's page through the published port, from the engine's namespace (retried 5 s)
    local t=$1 i out
    for ((i = 0; i < 25; i++)); do
        out=$(inns "$(ns_of "$t")" curl -s -m 2 "http://127.0.0.1:$PORT/" 2>/dev/null || true)
        [ "$out" = bench-ok ] && { echo "$out"; return 0; }
        sleep 0.2
    done
    echo "${out:-no answer}"
    return 1
}
describe() { # tool -> "N containers (K running; services ...), N networks, N volumes"
    local t=$1 st
    st=$(cstate "$t")
    echo "$(printf '%s' "$st" | grep -c . || true) containers ($(printf '%s' "$st" | awk '$3 == "running"' | grep -c . || true) running; services $(printf '%s' "$st" | awk '{ print $1 }' | paste -sd,)), $(nets_of "$t" | grep -c . || true) networks, $(vols_of "$t" | grep -c . || true) volumes"
}
is_up() { # tool: 5 running, one per service, 1 network, 1 volume
    local t=$1 st
    st=$(cstate "$t")
    [ "$(printf '%s' "$st" | awk '$3 == "running" { print $1 }' | paste -sd' ')" = "$SERVICES" ] &&
        [ "$(nets_of "$t" | grep -c .)" = 1 ] && [ "$(vols_of "$t" | grep -c .)" = 1 ]
}
is_empty() { # tool: nothing of the project
    local t=$1
    [ -z "$(cstate "$t")" ] && [ -z "$(nets_of "$t")" ] && [ -z "$(vols_of "$t")" ]
}

HF_BASE=(--style basic -N)
hf() { # label prepare command
    local args=("${HF_BASE[@]}" --runs "$RUNS" --warmup "$WARMUP" --export-json "$RESULTS_DIR/$1.json" -n "$1")
    [ -n "$2" ] && args+=(--prepare "$2")
    log "timing $1: $3"
    echo "$1: ${2:+prepare $2; }$3" >>"$RESULTS_DIR/commands.txt"
    if ! hyperfine "${args[@]}" "$3"; then
        note "$1: hyperfine failed (a run or a prepare exited non-zero); once more: $( ([ -n "$2" ] && "$2"; sh -c "$3") 2>&1 | tail -n 5 | tr '\n' ' ')"
        rm -f "$RESULTS_DIR/$1.json"
        return 1
    fi
}

for t in $TOOLS; do
    for v in up down; do
        cat >"$TMP/prep-$v-$t" <<EOF
#!/bin/sh
# hyperfine's --prepare for $t: \`$v\` (untimed); fails if it does
exec $(compose_cmd "$t" "$v" "$([ "$v" = up ] && echo -d || echo -v)") >/dev/null 2>&1
EOF
        chmod +x "$TMP/prep-$v-$t"
    done
done

# Every tool must bring the stack up (the page served) and down once before
# it is timed; a tool that cannot is left out, with what it said.
for t in $TOOLS; do
    log "smoke: $t"
    slog=$RESULTS_DIR/logs/smoke-$t.log
    ok=1
    { echo "\$ $(compose_cmd "$t" up -d)"; sh -c "$(compose_cmd "$t" up -d)" 2>&1; } >"$slog" || ok=0
    if [ "$ok" = 1 ] && is_up "$t" && pg=$(page "$t"); then
        { echo "\$ $(compose_cmd "$t" down -v)"; sh -c "$(compose_cmd "$t" down -v)" 2>&1; } >>"$slog" || ok=0
        [ "$ok" = 1 ] && is_empty "$t" || ok=0
    else
        ok=0
    fi
    if [ "$ok" = 0 ]; then
        note "$t: the smoke run (up -d, the page, down -v) FAILED, not timed; state: $(describe "$t"); page: $(page "$t" 2>/dev/null || true); output: $(tail -n 8 "$slog" | tr '\n' ' ')"
        rm_all "$t"
        drop "$t"
    fi
done
log "tools: $TOOLS"
[ -n "$TOOLS" ] || die "no tool left to time (see $NOTES)"

# --- the cases, tool after tool --------------------------------------------------
for t in $TOOLS; do
    lg=$RESULTS_DIR/logs
    if wants up; then
        settle "up-$t"
        if hf "up-$t" "$TMP/prep-down-$t" "$(compose_cmd "$t" up -d)"; then
            "$TMP/prep-down-$t" || true
            before=$(describe "$t")
            is_empty "$t" && b=ok || b=NOT
            sh -c "$(compose_cmd "$t" up -d)" >"$lg/up-$t.log" 2>&1 || note "up-$t: the logged run FAILED: $(tail -n 5 "$lg/up-$t.log" | tr '\n' ' ')"
            pg=$(page "$t") || true
            if [ "$b" = ok ] && is_up "$t" && [ "$pg" = bench-ok ]; then r=ok; else r="NOT AS IT SHOULD BE"; fi
            check "up-$t" "$r: before (after down -v): $(echo "$before" | sed 's/ (0 running; services )//'); after: $(describe "$t"); page: $pg"
            [ "$r" = ok ] || note "up-$t: the logged run did not do what it should: $(tail -n 5 "$lg/up-$t.log" | tr '\n' ' ')"
        fi
    fi
    if wants again; then
        # The stack up (as the up case leaves it), its containers noted.
        is_up "$t" || "$TMP/prep-up-$t" || true
        before=$(cstate "$t")
        settle "again-$t"
        if hf "again-$t" "" "$(compose_cmd "$t" up -d)"; then
            sh -c "$(compose_cmd "$t" up -d)" >"$lg/again-$t.log" 2>&1 || note "again-$t: the logged run FAILED: $(tail -n 5 "$lg/again-$t.log" | tr '\n' ' ')"
            after=$(cstate "$t")
            printf '%s\n' "$before" >"$lg/again-$t.before"
            printf '%s\n' "$after" >"$lg/again-$t.after"
            if [ "$before" = "$after" ] && is_up "$t"; then
                check "again-$t" "ok: the same 5 container ids and start times before the first warm-up and after the logged run ($((RUNS + WARMUP + 1)) runs of up -d), all running"
            else
                check "again-$t" "NOT AS IT SHOULD BE: before $(printf '%s' "$before" | awk '{ print $1 ":" substr($2, 1, 12) }' | paste -sd' '), after $(printf '%s' "$after" | awk '{ print $1 ":" substr($2, 1, 12) ":" $3 }' | paste -sd' ') (see logs/again-$t.before/.after)"
                note "again-$t: up -d with nothing changed recreated or restarted containers (logs/again-$t.before, .after)"
            fi
        fi
    fi
    if wants down; then
        settle "down-$t"
        if hf "down-$t" "$TMP/prep-up-$t" "$(compose_cmd "$t" down -v)"; then
            "$TMP/prep-up-$t" || true
            before=$(describe "$t")
            is_up "$t" && b=ok || b=NOT
            sh -c "$(compose_cmd "$t" down -v)" >"$lg/down-$t.log" 2>&1 || note "down-$t: the logged run FAILED: $(tail -n 5 "$lg/down-$t.log" | tr '\n' ' ')"
            if [ "$b" = ok ] && is_empty "$t"; then r=ok; else r="NOT AS IT SHOULD BE"; fi
            check "down-$t" "$r: before (after up -d): $before; after: $(describe "$t" | sed 's/ (0 running; services )//')"
            [ "$r" = ok ] || note "down-$t: the logged run did not do what it should: $(tail -n 5 "$lg/down-$t.log" | tr '\n' ' ')"
        fi
    fi
    rm_all "$t"
done

# --- what the daemons leave, then the clean-up -----------------------------------------
if alive "$BERTH_PID"; then
    errs=$(grep -iE 'error|warn|panic' "$BERTH_DIR/daemon.log" | head -n 20 || true)
    [ -n "$errs" ] && note "berth: its daemon log has errors or warnings: $(echo "$errs" | head -n 3 | tr '\n' ' ')"
    info "berth after the run: $("$DOCKER" -H "unix://$BERTH_SOCK" ps -aq | wc -l) containers, networks [$("$DOCKER" -H "unix://$BERTH_SOCK" network ls --format '{{.Name}}' | paste -sd' ')], $("$DOCKER" -H "unix://$BERTH_SOCK" volume ls -q | wc -l) volumes"
fi
if alive "$DOCKERD_PID"; then
    info "dockerd after the run: $("$DOCKER" -H "unix://$DOCKER_SOCK" ps -aq | wc -l) containers, networks [$("$DOCKER" -H "unix://$DOCKER_SOCK" network ls --format '{{.Name}}' | paste -sd' ')], $("$DOCKER" -H "unix://$DOCKER_SOCK" volume ls -q | wc -l) volumes"
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
    info "after the clean-up: none of the daemons started here (pids ${STARTED[*]}) is alive, no process names the scratch directories, the namespace holders are gone"
else
    note "after the clean-up, still alive: daemons [$left], processes under the scratch directories [$others]"
fi
[ -s "$TMP/killed.txt" ] && note "the clean-up had to kill: $(paste -sd';' "$TMP/killed.txt")"
host_state >"$TMP/host.after"
if cmp -s "$TMP/host.before" "$TMP/host.after"; then
    info "host: links, nft tables, iptables rules, forwarding sysctls and mounts under the scratch directories the same after the run as before it ($(paste -sd';' "$TMP/host.after" | sed 's/links: [^;]*;/links as before;/'))"
else
    note "host: changed during the run: before [$(paste -sd'|' "$TMP/host.before")], after [$(paste -sd'|' "$TMP/host.after")] (this script works in scratch namespaces only: what bears no name of ours — bbc.*, bcd* — is another user's of this machine)"
fi

# --- summary ---------------------------------------------------------------------------
{
    echo "# bench/compose $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "- workspace HEAD at the run: $(git -C "$WORKSPACE" rev-parse --short HEAD 2>/dev/null || echo '?') (the berth binary's source: see berth below)$( [ -n "$(git -C "$WORKSPACE" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ] && echo ' (crates/ had uncommitted edits at the time)')"
    echo "- hyperfine $(hyperfine --version | cut -d' ' -f2) (-N): runs=$RUNS warmup=$WARMUP per case and tool; tools one after the other, each through up, again, down"
    cat "$INFO"
    sed 's/^/- /' "$LOADS"
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); whole run $(($(date +%s) - T_START)) s"
    echo
    echo "The stack (the same file for every tool):"
    echo
    echo '```yaml'
    cat "$RESULTS_DIR/compose.yaml"
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
