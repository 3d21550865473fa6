#!/usr/bin/env bash
# bench/net/run.sh — network benchmark (issue 11): berth's bridge networking
# against a raw veth pair, the host's loopback and docker (dockerd 20.10 with
# its bridge, iptables and docker-proxy as shipped), side by side in one run.
#
# What it measures (see README.md for the method and the latest figures)
#   1. tput    TCP throughput, iperf3 (one stream, -t IPERF_TIME, IPERF_REPS
#              repetitions, median), the cases interleaved rep by rep:
#              raw-veth      two scratch namespaces joined by one veth pair, no
#                            bridge (the reference for container to container)
#              bare-bridge   the same two namespaces through a bare Linux bridge
#                            (two veth pairs, no netfilter rules): the bridge
#                            topology's own cost, without any engine
#              berth-c2c     container -> container on berth's default bridge
#              docker-c2c    container -> container on dockerd's bridge
#              loopback      iperf3 server and client on 127.0.0.1 of one
#                            namespace (the upper bound of the published port)
#              berth-direct  berth's "host" -> the server container's address
#              berth-pub     berth's "host" 127.0.0.1:PORT -> published port
#                            (berth's nftables DNAT, route_localnet)
#              docker-direct docker's "host" -> the server container's address
#              docker-pub    docker's "host" 127.0.0.1:PORT -> published port
#                            (docker-proxy, as 127.0.0.1 is never DNATed by dockerd)
#   2. start   hyperfine `CLI run --rm busybox true` on the default bridge and
#              with `--network none`, berth and docker; then berth's two again,
#              interleaved (bench/runtime/interleave.py: round-robin, shuffled
#              each round, START_ROUNDS rounds), as a cross-check of the few-ms
#              difference that a shared machine's drift can swamp between two
#              hyperfine series
#   3. par     PAR_N `CLI run -d --network benchnet busybox sleep 1000` at once on
#              one user network, until `ps -q` lists all of them (parallel.py)
#
# Where everything runs: nothing in the host's own network namespace. Each
# engine's daemon runs in a scratch "host" namespace of its own (`unshare -n
# sleep infinity` holds it; the daemon is started through `nsenter --net=`):
#   berth   `berth --data-root D daemon -H unix://S --exec-root E` in NS_BERTH:
#           its default bridge berth0, its user network, its nft table and the
#           route_localnet / ip_forward sysctls it sets exist only there
#   docker  a private `dockerd --data-root --exec-root --pidfile -H unix://S
#           --bridge=B` in NS_DOCKER, with iptables, ip-masq, ip-forward and the
#           userland proxy left at their defaults (as shipped): its iptables
#           rules and docker-proxy live in that namespace only. B is a bridge of
#           its own (bnd<pid>, 10.231.X.1/24) made in NS_DOCKER, never the
#           host's docker0.
#   raw veth: two more scratch namespaces, NS_VA (server, also the loopback
#           case) and NS_VB (client), joined by a veth pair 10.199.0.1/.2,
#           and through a bridge in a third, NS_BR (10.198.0.1/.2).
# The CLIs run in the host namespace: they only talk to the daemons' sockets.
# The clients of the -direct and -pub cases run in the engine's scratch "host"
# namespace (`nsenter --net=NS iperf3 -c ...`): that namespace is the host as
# far as the engine is concerned. The loopback case is likewise a scratch
# namespace's 127.0.0.1 (the same kernel path as the host's).
#
# iperf3 inside the containers: the image is static busybox; the host's /usr
# is bind-mounted read-only and iperf3 started through the dynamic loader:
# `-v /usr:/usr:ro busybox LOADER --library-path DIRS /usr/bin/iperf3 ...`.
# Both engines run the same binary; the raw-veth and loopback cases run it
# directly.
#
# Usage (as root):
#   bench/net/run.sh
# Environment:
#   IPERF_TIME=5 IPERF_REPS=5     iperf3 seconds per run and repetitions (median)
#   RUNS=20 WARMUP=3              hyperfine runs and warm-ups (series 2)
#   START_ROUNDS=50               series 2: rounds of the interleaved cross-check
#   PAR_N=100 PAR_REPS=3          series 3: containers at once, repetitions
#   SERIES="tput start par"       which series
#   ENGINES="berth docker"        which engines (podman: not installed here; a
#                                 note says so when it is absent)
#   SETTLE_MAX=20                 before each series, wait up to this many
#                                 seconds for CPU pressure (PSI some avg10) < 5 %
#   BERTH=P                       the berth binary (default: scripts/build-berth
#                                 into target/bench-static, as bench/engine)
#   DOCKERD=P DOCKER=P            (default /usr/sbin/dockerd, /usr/bin/docker —
#                                 the CLI of the same 20.10 release — else PATH)
#   IPERF3=P                      (default /usr/bin/iperf3; must live under /usr)
#   BUSYBOX=P                     static busybox for the image (/bin/busybox)
#   RESULTS_DIR=D                 default bench/net/results/<UTC timestamp>/; the
#                                 summary is also copied to <that>.md
#
# Clean-up (a trap, on success, failure and interrupt alike): every container
# removed through its engine, both daemons stopped (SIGTERM, then SIGKILL;
# dockerd's whole process group), the iperf3 servers killed by pid, then any
# process left in one of our scratch namespaces or under the scratch
# directories, the namespace holders killed (a namespace, with its bridges,
# veths, nft tables and iptables rules, goes with its last process), the new
# empty berth/ and docker/ cgroup parents removed, everything under the
# scratch directories unmounted and deleted. Before the summary the script
# compares the host's links, nft tables and forwarding sysctls with what they
# were at the start and says so.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKSPACE=$(cd "$SCRIPT_DIR/../.." && pwd)
T_START=$(date +%s)

IPERF_TIME=${IPERF_TIME:-5}
IPERF_REPS=${IPERF_REPS:-5}
RUNS=${RUNS:-20}
START_ROUNDS=${START_ROUNDS:-50}
WARMUP=${WARMUP:-3}
PAR_N=${PAR_N:-100}
PAR_REPS=${PAR_REPS:-3}
SERIES=${SERIES:-"tput start par"}
ENGINES=${ENGINES:-"berth docker"}
SETTLE_MAX=${SETTLE_MAX:-20}
BUSYBOX=${BUSYBOX:-/bin/busybox}
IPERF3=${IPERF3:-/usr/bin/iperf3}
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
for t in hyperfine python3 tar unshare nsenter ip ss; do
    command -v "$t" >/dev/null || die "$t not found"
done
[ -x "$IPERF3" ] || die "$IPERF3 not found (apt-get install iperf3)"
IPERF3=$(readlink -f "$IPERF3")
case "$IPERF3" in /usr/*) ;; *) die "$IPERF3 is not under /usr: the containers see only the host's /usr" ;; esac
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
case "$(file -L "$BUSYBOX" 2>/dev/null || true)" in
    *dynamically*) die "$BUSYBOX is dynamically linked; need busybox-static" ;;
esac

# iperf3 inside a container: its loader and library directories, all under /usr.
LOADER=$(ldd "$IPERF3" | awk '$1 ~ /^\/.*ld-linux/ { print $1 }' | head -n1)
[ -n "$LOADER" ] || die "cannot find the dynamic loader of $IPERF3"
LOADER=$(readlink -f "$LOADER")
LIBDIRS=$(ldd "$IPERF3" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | xargs -r -n1 readlink -f | xargs -r -n1 dirname | sort -u | paste -sd:)
for p in $LOADER ${LIBDIRS//:/ }; do
    case "$p" in /usr/*) ;; *) die "$IPERF3 needs $p, not under /usr" ;; esac
done
IPERF_IN="-v /usr:/usr:ro busybox $LOADER --library-path $LIBDIRS $IPERF3"

if [ -z "${BERTH:-}" ]; then
    log "building berth (release, static, non-PIE: scripts/build-berth, as bench/engine)"
    BERTH=$(CARGO_TARGET_DIR="$WORKSPACE/target/bench-static" "$WORKSPACE/scripts/build-berth")
fi
[ -x "$BERTH" ] || die "berth not found at $BERTH"
BERTH=$(readlink -f "$BERTH")

# --- scratch directories, notes --------------------------------------------------
# Short: the sockets live in it (sun_path is 108 bytes).
TMP=$(mktemp -d /tmp/bbn.XXXXXX)
# The daemons' --exec-root on a tmpfs, as /run is on a standard host (see
# bench/engine/run.sh: /run here is on the root ext4).
RUN=$(mktemp -d "${RUN_BASE:-/dev/shm}/bbn.XXXXXX")
mkdir -p "$RESULTS_DIR/raw"
NOTES=$RESULTS_DIR/notes.txt
INFO=$RESULTS_DIR/info.txt
LOADS=$RESULTS_DIR/loads.txt
: >"$NOTES"
: >"$INFO"
: >"$LOADS"
note() { # a skipped engine or case, a failure: printed now, listed in the summary
    printf 'NOTE: %s\n' "$*" >&2
    printf -- '- %s\n' "$*" >>"$NOTES"
}
info() { printf -- '- %s\n' "$*" >>"$INFO"; }

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
    echo "sysctl: ip_forward=$(cat /proc/sys/net/ipv4/ip_forward) all.route_localnet=$(cat /proc/sys/net/ipv4/conf/all/route_localnet) lo.route_localnet=$(cat /proc/sys/net/ipv4/conf/lo/route_localnet)"
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
DOCKER_BRIDGE=bnd$(printf %x $$)
SUB=$(($$ % 250 + 1))
HOLDERS=()      # pids of the `unshare -n sleep infinity` namespace holders
NS_INODES=()    # their namespaces' inodes (net:[...])
IPERF_PIDS=()   # iperf3 servers started on the scratch hosts
NS_BERTH="" NS_DOCKER="" NS_VA="" NS_VB="" NS_BR=""
declare -a BC=() DC=() # the CLIs: berth and docker against their daemons
export BERTH_NO_AUTOSTART=1
unset BERTH_HOST DOCKER_HOST
mkdir -p "$TMP/docker-cli"
echo '{}' >"$TMP/docker-cli/config.json"
export DOCKER_CONFIG=$TMP/docker-cli


wait_listen() { # nspath port: until a TCP socket listens on port in that namespace (15 s)
    local i
    for ((i = 0; i < 150; i++)); do
        [ -n "$(nsenter --net="$1" ss -Htln "sport = :$2" 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    return 1
}

rm_all() { # cli...: remove every container of that engine, quietly
    local ids
    ids=$(timeout 60 "$@" ps -aq 2>/dev/null || true)
    [ -n "$ids" ] || return 0
    # shellcheck disable=SC2086
    timeout 120 "$@" rm -f $ids >/dev/null 2>&1 || true
}

teardown() { # everything this script started; idempotent
    local left p
    if alive "$BERTH_PID" && [ "${#BC[@]}" -gt 0 ]; then rm_all "${BC[@]}"; fi
    if alive "$DOCKERD_PID" && [ "${#DC[@]}" -gt 0 ]; then rm_all "${DC[@]}"; fi
    stop_berth
    stop_dockerd
    for p in "${IPERF_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    IPERF_PIDS=()
    sleep 0.2
    left=$( (procs_in_our_netns; procs_under "$TMP"; procs_under "$RUN") | sort -u | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
        log "killing processes left in our namespaces or under $TMP, $RUN: $left"
        for p in $left; do
            echo "$p $(readlink "/proc/$p/ns/net" 2>/dev/null) $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
        done >>"$RESULTS_DIR/leftover-processes.txt"
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
    # Only new cgroup parents (berth/, docker/ in each hierarchy), only when empty.
    find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort >"$TMP/cgroups.after"
    comm -13 "$TMP/cgroups.before" "$TMP/cgroups.after" | while read -r cg; do
        case "${cg##*/}" in berth | docker) rmdir "$cg" 2>/dev/null || true ;; esac
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

# --- the scratch namespaces and the raw veth pair --------------------------------
new_netns NS_VA
new_netns NS_VB
inns "$NS_VA" ip link add bnva type veth peer name bnvb netns "$(echo "$NS_VB" | cut -d/ -f3)"
inns "$NS_VA" ip addr add 10.199.0.1/24 dev bnva
inns "$NS_VA" ip link set bnva up
inns "$NS_VB" ip addr add 10.199.0.2/24 dev bnvb
inns "$NS_VB" ip link set bnvb up
# The same two namespaces, also joined through a bare Linux bridge in a third
# one (two veth pairs, no nftables or iptables anywhere): the topology of two
# containers on one bridge, without any engine.
new_netns NS_BR
inns "$NS_BR" ip link add bnbr type bridge
inns "$NS_BR" ip link set bnbr up
for side in a b; do
    case $side in a) ns=$NS_VA addr=10.198.0.1/24 ;; b) ns=$NS_VB addr=10.198.0.2/24 ;; esac
    inns "$NS_BR" ip link add "bnb$side" type veth peer name "bnc$side" netns "$(echo "$ns" | cut -d/ -f3)"
    inns "$NS_BR" ip link set "bnb$side" master bnbr up
    inns "$ns" ip addr add "$addr" dev "bnc$side"
    inns "$ns" ip link set "bnc$side" up
done
info "bare bridge: bnbr in $NS_BR, veths to the same two namespaces (10.198.0.1/24 server, 10.198.0.2/24 client)"
info "raw veth: namespaces $NS_VA (bnva 10.199.0.1/24, iperf3 server; also the loopback case) and $NS_VB (bnvb 10.199.0.2/24, client), mtu $(inns "$NS_VA" ip -o link show bnva | sed -n 's/.* mtu \([0-9]*\).*/\1/p')"

# --- the engines -----------------------------------------------------------------
if has berth; then
    new_netns NS_BERTH
    log "berth: daemon in $NS_BERTH on unix://$BERTH_SOCK + import"
    mkdir -p "$BERTH_DIR"
    nsenter --net="$NS_BERTH" setsid "$BERTH" --data-root "$BERTH_DIR/data" daemon -H "unix://$BERTH_SOCK" \
        --exec-root "$RUN/berth" --pidfile "$BERTH_DIR/berth.pid" \
        </dev/null >"$BERTH_DIR/daemon.log" 2>&1 &
    BERTH_PID=$!
    BC=("$BERTH" -H "unix://$BERTH_SOCK")
    if ! wait_for "$BERTH_PID" "${BC[@]}" ps -q; then
        note "berth: the daemon did not answer; its log: $(tail -n 5 "$BERTH_DIR/daemon.log")"
        die "berth daemon failed"
    fi
    [ -s "$BERTH_DIR/berth.pid" ] && BERTH_PID=$(cat "$BERTH_DIR/berth.pid")
    "${BC[@]}" import -c 'CMD ["sh"]' "$ROOTFS_TAR" busybox:latest >/dev/null
    info "berth: $BERTH ($("$BERTH" --version 2>/dev/null | head -n1)), daemon pid $BERTH_PID in a scratch namespace, default bridge (berth0, its default subnet)"
fi

if has docker; then
    if [ -z "$DOCKERD" ] || [ -z "$DOCKER" ]; then
        note "docker: dockerd or docker not installed, skipped"
        drop docker
    else
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
        DC=("$DOCKER" -H "unix://$DOCKER_SOCK")
        if wait_for "$DOCKERD_PID" "${DC[@]}" version; then
            [ -s "$DOCKER_DIR/dockerd.pid" ] && DOCKERD_PID=$(cat "$DOCKER_DIR/dockerd.pid")
            CONTAINERD_PID=$(cat "$RUN/docker/containerd/containerd.pid" 2>/dev/null || true)
            "${DC[@]}" import -c 'CMD ["sh"]' "$ROOTFS_TAR" busybox:latest >/dev/null
            info "docker: $("$DOCKERD" --version), CLI $DOCKER ($("$DOCKER" --version)), runtime $(runc --version 2>/dev/null | head -n1), docker-proxy $(command -v docker-proxy || echo '?'); iptables $(iptables --version 2>/dev/null), userland proxy on (defaults); dockerd pid $DOCKERD_PID in a scratch namespace"
        else
            note "docker: the private dockerd did not answer, skipped; its log: $(grep -iE 'level=(error|fatal)|failed' "$DOCKER_DIR/dockerd.log" | tail -n 5)"
            stop_dockerd
            drop docker
        fi
    fi
fi
if [ -z "$PODMAN" ]; then
    note "podman: not installed, skipped"
else
    note "podman: $PODMAN is installed, but bench/net does not drive podman yet (its netavark/CNI networking in a scratch namespace is not set up here): skipped"
fi

cli_of() { # engine -> the CLI prefix, as one shell-quoted string
    case $1 in
        berth) printf '%q ' "${BC[@]}" ;;
        docker) printf '%q ' "${DC[@]}" ;;
    esac
}
ns_of() { case $1 in berth) echo "$NS_BERTH" ;; docker) echo "$NS_DOCKER" ;; esac; }

# Every engine must run a bridged container and leave nothing behind.
for e in $ENGINES; do
    cli=$(cli_of "$e")
    if ! out=$(sh -c "$cli run --rm busybox true" 2>&1); then
        note "$e: \`run --rm busybox true\` FAILED: $out"
        drop "$e"
    fi
done
log "engines: $ENGINES"

# --- 1. throughput -------------------------------------------------------------------
# One iperf3 server per place, up for the whole series; the clients one after
# the other, the cases interleaved rep by rep (a slow moment on this shared
# machine then hits every case alike).
PUB_PORT=15201
declare -A CASE_CMD=()
CASES=()
add_case() { CASES+=("$1"); CASE_CMD[$1]=$2; }
IPERF_C="-t $IPERF_TIME -J"
if series tput; then
    settle tput
    log "throughput: iperf3 servers"
    nsenter --net="$NS_VA" "$IPERF3" -s -p 5201 </dev/null >>"$TMP/iperf-va.log" 2>&1 &
    IPERF_PIDS+=("$!")
    wait_listen "$NS_VA" 5201 || die "the raw-veth iperf3 server did not listen: $(cat "$TMP/iperf-va.log")"
    declare -A SRV_IP=()
    for e in $ENGINES; do
        cli=$(cli_of "$e")
        ns=$(ns_of "$e")
        if ! id=$(sh -c "$cli run -d --name bench-iperf -p $PUB_PORT:5201 $IPERF_IN -s -p 5201" 2>"$TMP/srv-$e.err"); then
            note "$e: the iperf3 server container did not start: $(cat "$TMP/srv-$e.err")"
            continue
        fi
        pid=$(sh -c "$cli inspect -f '{{.State.Pid}}' bench-iperf")
        SRV_IP[$e]=$(sh -c "$cli inspect -f '{{.NetworkSettings.IPAddress}}' bench-iperf")
        if ! wait_listen "/proc/$pid/ns/net" 5201; then
            note "$e: the iperf3 server container does not listen: $(sh -c "$cli logs bench-iperf" 2>&1 | tail -n 3)"
            continue
        fi
        info "$e: iperf3 server container ${id:0:12} at ${SRV_IP[$e]}, published $PUB_PORT:5201; $(sh -c "$cli port bench-iperf" 2>&1 | paste -sd';')"
    done
    add_case raw-veth "$(printf '%q ' nsenter --net="$NS_VB" "$IPERF3") -c 10.199.0.1 -p 5201 $IPERF_C"
    add_case bare-bridge "$(printf '%q ' nsenter --net="$NS_VB" "$IPERF3") -c 10.198.0.1 -p 5201 $IPERF_C"
    for e in $ENGINES; do
        [ -n "${SRV_IP[$e]:-}" ] || continue
        add_case "$e-c2c" "$(cli_of "$e") run --rm $IPERF_IN -c ${SRV_IP[$e]} -p 5201 $IPERF_C"
    done
    add_case loopback "$(printf '%q ' nsenter --net="$NS_VA" "$IPERF3") -c 127.0.0.1 -p 5201 $IPERF_C"
    for e in $ENGINES; do
        [ -n "${SRV_IP[$e]:-}" ] || continue
        add_case "$e-direct" "$(printf '%q ' nsenter --net="$(ns_of "$e")" "$IPERF3") -c ${SRV_IP[$e]} -p 5201 $IPERF_C"
        add_case "$e-pub" "$(printf '%q ' nsenter --net="$(ns_of "$e")" "$IPERF3") -c 127.0.0.1 -p $PUB_PORT $IPERF_C"
    done
    for c in "${CASES[@]}"; do echo "$c: ${CASE_CMD[$c]}"; done >"$RESULTS_DIR/tput-commands.txt"
    declare -A FAILED=()
    for ((rep = 1; rep <= IPERF_REPS; rep++)); do
        for c in "${CASES[@]}"; do
            [ -n "${FAILED[$c]:-}" ] && continue
            out=$RESULTS_DIR/raw/tput-$c-$rep.json
            if sh -c "${CASE_CMD[$c]}" >"$out" 2>"$out.err" && python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
if "error" in j:
    sys.exit(j["error"])
print("%.2f" % (j["end"]["sum_received"]["bits_per_second"] / 1e9))' "$out" >"$out.gbps" 2>>"$out.err"; then
                log "tput $c rep $rep: $(cat "$out.gbps") Gbit/s"
                rm -f "$out.err" "$out.gbps"
            else
                note "tput $c rep $rep FAILED (case dropped): \`${CASE_CMD[$c]}\`: $(tail -c 400 "$out.err" | tr '\n' ' ') $(head -c 300 "$out" | tr '\n' ' ')"
                FAILED[$c]=1
                mv "$out" "$out.failed" 2>/dev/null || true
            fi
            sleep 0.5
        done
    done
    for e in $ENGINES; do
        sh -c "$(cli_of "$e") rm -f bench-iperf" >/dev/null 2>&1 || note "$e: rm -f bench-iperf failed"
    done
    for p in "${IPERF_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    IPERF_PIDS=()
fi

# --- 2. start time ------------------------------------------------------------------
HF_OPTS=(--warmup "$WARMUP" --runs "$RUNS" --style basic -N)
hf() { # label command
    log "timing $1: $2"
    hyperfine "${HF_OPTS[@]}" --export-json "$RESULTS_DIR/$1.json" -n "$1" "$2" ||
        note "$1: hyperfine failed (exit $?)"
}
if series start; then
    for e in $ENGINES; do
        cli=$(cli_of "$e")
        for net in bridge none; do
            arg=
            [ "$net" = none ] && arg="--network none "
            if ! out=$(sh -c "$cli run --rm ${arg}busybox true" 2>&1); then
                note "start-$e-$net: \`run --rm ${arg}busybox true\` FAILED, not timed: $out"
                continue
            fi
            settle "start-$e-$net"
            hf "start-$e-$net" "$cli run --rm ${arg}busybox true"
        done
    done
fi

if series start && has berth; then
    settle start-berth-interleaved
    log "timing berth's run --rm on the bridge and with --network none, interleaved ($START_ROUNDS rounds)"
    python3 "$SCRIPT_DIR/../runtime/interleave.py" "$START_ROUNDS" "$RESULTS_DIR/start-berth-interleaved.json" \
        "bridge=$(cli_of berth)run --rm busybox true" "none=$(cli_of berth)run --rm --network none busybox true" \
        >"$RESULTS_DIR/start-berth-interleaved.md" || note "start-berth-interleaved failed"
fi

# --- 3. parallel starts on one user network --------------------------------------------
if series par; then
    for e in $ENGINES; do
        cli=$(cli_of "$e")
        case $e in berth) subnet=10.233.$SUB.0/24 ;; docker) subnet=10.232.$SUB.0/24 ;; esac
        if ! out=$(sh -c "$cli network create --subnet $subnet benchnet" 2>&1); then
            note "par-$e: network create --subnet $subnet benchnet FAILED: $out"
            continue
        fi
        info "$e: user network benchnet $subnet, bridge $(sh -c "$cli network inspect benchnet" 2>&1 | python3 -c '
import json, sys
n = json.load(sys.stdin)[0]
print(n.get("Options", {}).get("com.docker.network.bridge.name") or "br-" + n["Id"][:12])' 2>&1)"
        eval "arr=($cli)"
        settle "par-$e"
        log "parallel $e: $PAR_N at once on benchnet, $PAR_REPS reps"
        # shellcheck disable=SC2154
        python3 "$SCRIPT_DIR/parallel.py" "$e" "$PAR_N" "$PAR_REPS" benchnet "$RESULTS_DIR/par-$e.json" -- "${arr[@]}" ||
            note "par-$e FAILED (see above)"
        rm_all "${arr[@]}"
        sh -c "$cli network rm benchnet" >/dev/null 2>&1 || note "par-$e: network rm benchnet failed"
    done
fi

# --- what the engines leave in their namespaces ----------------------------------------
# Every container is gone; after SIGTERM, what is left of the daemon's bridges,
# veths and rules (the namespace goes anyway; this is for the record).
if has berth; then
    berth_ns=$NS_BERTH
    stop_berth
    info "berth: after its daemon's SIGTERM, its namespace has links [$(inns "$berth_ns" ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | paste -sd' ')], nft tables [$(inns "$berth_ns" nft list tables 2>/dev/null | paste -sd',')]"
    inns "$berth_ns" nft list ruleset >"$RESULTS_DIR/berth-nft-after-stop.txt" 2>&1 || true
    errs=$(grep -iE 'error|warn|panic' "$BERTH_DIR/daemon.log" | head -n 20 || true)
    [ -n "$errs" ] && note "berth: its daemon log has errors or warnings: $(echo "$errs" | head -n 3 | tr '\n' ' ')"
    cp "$BERTH_DIR/daemon.log" "$RESULTS_DIR/berth-daemon.log"
fi
if has docker; then
    docker_ns=$NS_DOCKER
    stop_dockerd
    info "docker: after dockerd's SIGTERM, its namespace has links [$(inns "$docker_ns" ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | paste -sd' ')]"
fi

teardown
host_state >"$TMP/host.after"
if cmp -s "$TMP/host.before" "$TMP/host.after"; then
    info "host: links, nft tables and forwarding sysctls the same after the run as before it"
else
    changes=$(python3 - "$TMP/host.before" "$TMP/host.after" <<'EOF'
import sys
def parse(path):
    d = {}
    for line in open(path):
        k, _, v = line.rstrip("\n").partition(": ")
        d[k] = [v] if k == "sysctl" else v.split(" " if k == "links" else ",")
    return d
a, b = parse(sys.argv[1]), parse(sys.argv[2])
out = []
for k in a:
    new = [x for x in b.get(k, []) if x and x not in a[k]]
    gone = [x for x in a[k] if x and x not in b.get(k, [])]
    if new:
        out.append(f"{k} appeared: {' '.join(new)}")
    if gone:
        out.append(f"{k} gone: {' '.join(gone)}")
print("; ".join(out))
EOF
)
    note "host: changed during the run: $changes (this script works in scratch namespaces only: what appeared or went is another user's of this machine unless it bears our names bn*, berth0 or berth-<hash>)"
fi

# --- summary ---------------------------------------------------------------------------
{
    echo "# bench/net $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "- iperf3: $("$IPERF3" --version | head -n1); one TCP stream, -t $IPERF_TIME, $IPERF_REPS reps per case (interleaved), receiver's rate; in containers through $LOADER"
    echo "- hyperfine $(hyperfine --version | cut -d' ' -f2): runs=$RUNS warmup=$WARMUP (-N); parallel: $PAR_N at once, $PAR_REPS reps"
    cat "$INFO"
    sed 's/^/- /' "$LOADS"
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); whole run $(($(date +%s) - T_START)) s"
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
