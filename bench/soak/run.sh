#!/usr/bin/env bash
# bench/soak/run.sh — soak (issue 14, "What must be shown"): SOAK_N containers
# (1,000 by default) run and removed in parallel batches against a private
# berth daemon, with what a leak would show measured before and after:
#
#   daemon      its RSS (VmRSS, /proc/PID/status; anonymous and file-backed,
#               the anonymous part split by anon.py into malloc arenas,
#               thread stacks and the rest), its open fds (/proc/PID/fd),
#               and, for information, its threads, its peak RSS (VmHWM) and
#               how many events it has published
#   host        the mount table (/proc/self/mountinfo lines; the daemon runs
#               in this mount namespace, the host's), the container cgroups
#               (directories below berth/ in every /sys/fs/cgroup/*
#               hierarchy), the `berth shim` processes of this daemon
#               (pgrep -f "shim EXEC_ROOT/")
#   exec root   the entries of bundles/, runtime/, shims/, execs/ (dotfiles
#               such as runtime/.seccomp-cache are the runtime's cache, not
#               per-container state: not counted)
#   data root   the entries of containers/, volumes/, trash/; containers and
#               volumes as the API lists them
#   network     (SOAK_NET=bridge) the links of the daemon's network namespace
#               (its bridge plus one veth per running container) and the rules
#               of its nftables ruleset
#
# Verdicts (the script exits 1 when one fails, so it is a check, not only a
# figure): no command of the mix failed; mounts, cgroups, shims, exec-root
# and data-root entries, containers, volumes, links and nft rules exactly as
# before; the daemon's fds exactly as before; its idle RSS within
# SOAK_RSS_TOL % (10) of before.
#   BEFORE is taken after a warm-up of SOAK_WARMUP containers (200, the same
# mix), so that the RSS compared is the steady state rather than first-use
# allocations: the image's first unpack, the code paths' pages, the ring of
# the last 1024 events (about 8.7 events a container here: full after ~120
# containers), the thread stacks glibc caches after a burst of SOAK_BATCH
# parallel requests (~20), the malloc arenas' working size. With a warm-up of
# 50 (the first version) all of that grew between BEFORE and AFTER and the
# RSS verdict measured the warm-up, not a leak (see README.md).
#   AFTER is taken SOAK_SETTLE s after the last container is removed and the
# mix's volumes are removed; when an exact figure is not back yet, it is
# looked at again every second for up to SOAK_GRACE s more (a late clean-up
# is then reported as late, a leak as a leak). The RSS compared is read
# SOAK_IDLE s after the load, before and after (see idle_rss).
#
# Host-wide figures and what this run owns: other berth daemons (other tests,
# other engineers) may run on this machine at the same time and share the
# berth/ cgroup parent and the host's mount table. So the verdicts count what
# is this run's: mount lines naming its scratch directories or one of its
# container ids, cgroups named by one of its container ids (every container
# created is recorded from `berth events`, `run --rm` ones included). The
# host-wide totals are printed beside them, with any line that changed and is
# not ours listed as another user's.
#
# The mix (job i of N, i mod 6), each job one container:
#   0 rm      run --rm busybox true
#   1 detach  run -d busybox sleep; rm -f
#   2 volume  run -d -v soak-shared-(i mod 8):/v --tmpfs /t busybox sh -c
#             (writes in both, sleeps); exec cat of both; rm -f
#             (8 named volumes shared by concurrent containers, removed at
#             the end)
#   3 once    run --rm -v soak-once-i:/v --tmpfs /t busybox sh -c (writes in
#             both); volume rm soak-once-i (a volume made and removed per
#             container)
#   4 health  run -d --health-cmd true --health-interval 1s busybox sleep;
#             until inspect says healthy (at most 5 s: a check or more ran);
#             rm -f while checks may still be running
#   5 exec    run -d busybox sleep; exec true; exec sh -c; exec -d sleep (an
#             exec left running); stop -t 0; rm
# Jobs run SOAK_BATCH at a time (background jobs, then `wait` for the batch);
# every non-zero exit of a command is a failure, counted and printed.
#
# Where it runs: the daemon `berth --data-root D daemon -H unix://S
# --exec-root E --pidfile P` with D in a scratch directory under /tmp and E
# under one in /dev/shm (a tmpfs, as /run is on a standard host; see
# /work/shared/MACHINE-NOTES.md and bench/engine). SOAK_NET=bridge (default):
# the daemon runs in a scratch network namespace of its own (`unshare -n
# sleep infinity` holds it, `nsenter --net=` enters it) with its default
# bridge there, so every container gets a veth and an address and the bridge
# path is soaked too, while the host's links and nftables stay untouched (the
# namespace goes with its links and nft table). SOAK_NET=none: `--bridge
# none` in the host's network namespace (loopback-only containers).
#
# Usage (as root):
#   bench/soak/run.sh
#   SOAK_N=100 bench/soak/run.sh                      # a quick one
#   BERTH=/path/to/berth bench/soak/run.sh            # a binary already built
#   CARGO_TARGET_DIR=/some/target bench/soak/run.sh   # reuse that build dir
# Environment:
#   SOAK_N=1000        containers in the soak (after the warm-up)
#   SOAK_BATCH=20      how many run at a time
#   SOAK_WARMUP=200    containers of the warm-up, before BEFORE (0: none)
#   SOAK_SETTLE=3      seconds between the last removal and AFTER
#   SOAK_GRACE=30      seconds more to wait for exact figures not yet back
#   SOAK_IDLE=32       seconds after the load when the idle RSS is read, before
#                      and after (0: no idle reading; the verdict then compares
#                      the RSS read SOAK_SETTLE s after the load)
#   SOAK_RSS_TOL=10    the RSS verdict's tolerance, percent
#   SOAK_NET=bridge    or none (see above)
#   SOAK_KINDS="rm detach volume once health exec"   the mix, or a part of it
#   SOAK_PROGRESS=10   a progress line every this many batches
#   BERTH=P            the berth binary (default: scripts/build-berth, static
#                      release, into $CARGO_TARGET_DIR or target/bench-static)
#   BUSYBOX=P          static busybox (/bin/busybox)
#   RUN_BASE=/dev/shm  where the exec root's scratch directory goes
#   RESULTS_DIR=D      default bench/soak/results/<UTC timestamp>/; the
#                      summary is also copied to <that>.md
#
# Clean-up (a trap, on success, failure and interrupt alike): the events
# recorder stopped, every container of the daemon removed and every volume,
# the daemon stopped (SIGTERM, then SIGKILL), any process left whose command
# line or root names the scratch directories killed, the namespace holder
# killed (its links and nft table go with it), a leftover nft table of the
# daemon's (SOAK_NET=none) deleted, everything under the scratch directories
# unmounted, the cgroups named by this run's container ids removed (empty
# ones only; berth/ itself only if this run made it), the scratch directories
# deleted.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKSPACE=$(cd "$SCRIPT_DIR/../.." && pwd)
T_START=$(date +%s)

SOAK_N=${SOAK_N:-1000}
SOAK_BATCH=${SOAK_BATCH:-20}
SOAK_WARMUP=${SOAK_WARMUP:-200}
SOAK_SETTLE=${SOAK_SETTLE:-3}
SOAK_IDLE=${SOAK_IDLE:-32}
SOAK_GRACE=${SOAK_GRACE:-30}
SOAK_RSS_TOL=${SOAK_RSS_TOL:-10}
SOAK_NET=${SOAK_NET:-bridge}
SOAK_PROGRESS=${SOAK_PROGRESS:-10}
BUSYBOX=${BUSYBOX:-/bin/busybox}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS_DIR=${RESULTS_DIR:-$SCRIPT_DIR/results/$STAMP}
SHARED_VOLS=8 # named volumes the `volume` jobs share

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
for t in tar unshare nsenter ip pgrep awk timeout python3; do
    command -v "$t" >/dev/null || die "$t not found"
done
case $SOAK_NET in bridge | none) ;; *) die "SOAK_NET is bridge or none, not $SOAK_NET" ;; esac
for v in SOAK_N SOAK_BATCH SOAK_WARMUP SOAK_SETTLE SOAK_IDLE SOAK_GRACE SOAK_RSS_TOL SOAK_PROGRESS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not ${!v}"
done
((SOAK_N > 0 && SOAK_BATCH > 0 && SOAK_PROGRESS > 0)) || die "SOAK_N, SOAK_BATCH and SOAK_PROGRESS must be > 0"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
case "$(file -L "$BUSYBOX" 2>/dev/null || true)" in
    *dynamically*) die "$BUSYBOX is dynamically linked; need busybox-static" ;;
esac

if [ -z "${BERTH:-}" ]; then
    log "building berth (release, static, non-PIE: scripts/build-berth, as the other benches)"
    BERTH=$(CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$WORKSPACE/target/bench-static}" "$WORKSPACE/scripts/build-berth")
fi
[ -x "$BERTH" ] || die "berth not found at $BERTH"
BERTH=$(readlink -f "$BERTH")

# shellcheck source=../lib/proc.sh
source "$SCRIPT_DIR/../lib/proc.sh" # alive, wait_gone, wait_for, unmount_under

# --- scratch directories ----------------------------------------------------------
# Short: the socket lives in it (sun_path is 108 bytes).
TMP=$(mktemp -d /tmp/bsk.XXXXXX)
RUN=$(mktemp -d "${RUN_BASE:-/dev/shm}/bsk.XXXXXX")
DATA=$TMP/data
EXEC=$RUN/berth
SOCK=$TMP/b.sock
mkdir -p "$RESULTS_DIR" "$TMP/fail" "$TMP/err"
DAEMON_PID=
EVENTS_PID=
JOB_PIDS=() # the running batch's jobs
HOLDER=
NS=
EVENTS=$TMP/events.txt # every event of the daemon: "Type Action ID" (berth events)
IDS=$TMP/ids.txt       # the container ids among them (their create events)
: >"$EVENTS"
: >"$IDS"
export BERTH_NO_AUTOSTART=1
unset BERTH_HOST DOCKER_HOST
CLI=("$BERTH" -H "unix://$SOCK")
bc() { timeout 120 "${CLI[@]}" "$@"; } # a CLI call; a hang is a failure (124), not a stuck soak

# berth/ in each hierarchy before the run: the clean-up removes a parent only
# if this run made it.
PARENTS_BEFORE=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -name berth -type d 2>/dev/null | sort)

# The nft table a daemon with this data root makes in its namespace
# (crates/berth/src/daemon.rs, firewall_table: "berth-" + FNV-1a of the path).
nft_table_of() {
    local h=$((0x811c9dc5)) b
    for b in $(printf %s "$1" | od -An -tu1 -v); do
        h=$((((h ^ b) * 0x01000193) & 0xffffffff))
    done
    printf 'berth-%08x\n' "$h"
}

stop_daemon() {
    alive "$DAEMON_PID" || { DAEMON_PID=; return 0; }
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    wait_gone "$DAEMON_PID" 10 || { log "daemon $DAEMON_PID ignored SIGTERM for 10 s: SIGKILL"; kill -KILL "$DAEMON_PID" 2>/dev/null || true; wait_gone "$DAEMON_PID" 5 || true; }
    DAEMON_PID=
}

cleanup() {
    local rc=$? ids left id cg p i
    set +e
    log "clean-up"
    # Interrupted mid-batch: the jobs first (background jobs ignore the
    # terminal's SIGINT), then the CLI calls they had in flight (a `run -d`
    # finishing now would make a container after the sweep below), 10 s.
    if [ "${#JOB_PIDS[@]}" -gt 0 ]; then
        kill -TERM "${JOB_PIDS[@]}" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
            # "berth -H unix://S ": the CLI's calls (and their timeout), not
            # the daemon ("berth --data-root D daemon -H unix://S ...").
            left=$(pgrep -f -- "berth -H unix://$SOCK " | grep -vx "${EVENTS_PID:-0}")
            [ -z "$left" ] && break
            sleep 0.1
        done
        # shellcheck disable=SC2086
        [ -n "$left" ] && kill -KILL $left 2>/dev/null
    fi
    if alive "$DAEMON_PID"; then
        # Twice: a create that a killed client had asked for may still be
        # finishing in the daemon during the first sweep.
        for i in 1 2; do
            ids=$(timeout 30 "${CLI[@]}" ps -aq 2>/dev/null)
            [ -n "$ids" ] || break
            # shellcheck disable=SC2086
            timeout 120 "${CLI[@]}" rm -f $ids >/dev/null 2>&1
            sleep 1
        done
        ids=$(timeout 30 "${CLI[@]}" volume ls -q 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$ids" ] && timeout 60 "${CLI[@]}" volume rm -f $ids >/dev/null 2>&1
    fi
    alive "$EVENTS_PID" && kill -TERM "$EVENTS_PID" 2>/dev/null
    EVENTS_PID=
    stop_daemon
    left=$( (procs_under "$TMP"; procs_under "$RUN") | sort -u | tr '\n' ' ')
    if [ -n "${left// /}" ]; then
        log "killing processes left under $TMP, $RUN: $left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
        sleep 0.5
    fi
    if [ -n "$HOLDER" ]; then
        kill -KILL "$HOLDER" 2>/dev/null
        wait "$HOLDER" 2>/dev/null
        HOLDER=
    fi
    # With --bridge none there should be no table; should one be there, it is
    # this data root's (the name is derived from it), in the host namespace.
    if [ "$SOAK_NET" = none ] && command -v nft >/dev/null; then
        nft delete table inet "$(nft_table_of "$DATA")" 2>/dev/null
    fi
    unmount_under "$TMP"
    unmount_under "$RUN"
    # Only the cgroups named by our container ids (others may belong to other
    # daemons on this machine): a container process still in one (its shim
    # killed above, say) is killed, then the cgroup removed, deepest first.
    awk '$1 == "container" && $2 == "create" { print $3 }' "$EVENTS" >"$IDS"
    if [ -s "$IDS" ]; then
        for cg in /sys/fs/cgroup/*/berth; do
            [ -d "$cg" ] || continue
            for id in $(find "$cg" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | grep -xFf "$IDS"); do
                left=$(find "$cg/$id" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | tr '\n' ' ')
                if [ -n "${left// /}" ]; then
                    log "killing processes left in $cg/$id: $left"
                    # shellcheck disable=SC2086
                    kill -KILL $left 2>/dev/null
                    sleep 0.2
                fi
                find "$cg/$id" -depth -type d -exec rmdir {} \; 2>/dev/null
            done
        done
    fi
    for cg in /sys/fs/cgroup/*/berth; do
        [ -d "$cg" ] || continue
        grep -qxF "$cg" <<<"$PARENTS_BEFORE" || rmdir "$cg" 2>/dev/null
    done
    rm -rf "$TMP" "$RUN"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the image -----------------------------------------------------------------
# Debian's static busybox, its applet links, /etc/passwd and /etc/group (as
# crates/testkit/src/rootfs.rs and the other benches make it).
log "making the busybox rootfs"
ROOTFS=$TMP/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/etc" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/tmp" "$ROOTFS/root"
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
tar -C "$ROOTFS" -cf "$TMP/rootfs.tar" .
rm -rf "$ROOTFS"

# --- the daemon -----------------------------------------------------------------
INNS=() # the prefix that runs a command in the daemon's network namespace
DAEMON_ARGS=(--data-root "$DATA" daemon -H "unix://$SOCK" --exec-root "$EXEC" --pidfile "$TMP/berth.pid")
if [ "$SOAK_NET" = bridge ]; then
    unshare -n sleep infinity </dev/null >/dev/null 2>&1 &
    HOLDER=$!
    self=$(readlink /proc/$$/ns/net)
    for ((i = 0; i < 100; i++)); do
        [ "$(readlink "/proc/$HOLDER/ns/net" 2>/dev/null)" != "$self" ] && break
        sleep 0.02
    done
    [ "$(readlink "/proc/$HOLDER/ns/net" 2>/dev/null)" != "$self" ] || die "unshare -n did not make a namespace"
    NS=/proc/$HOLDER/ns/net
    INNS=(nsenter --net="$NS")
    "${INNS[@]}" ip link set lo up
else
    DAEMON_ARGS+=(--bridge none)
fi
log "berth daemon on unix://$SOCK (network: $SOAK_NET), data root $DATA, exec root $EXEC"
"${INNS[@]}" setsid "$BERTH" "${DAEMON_ARGS[@]}" </dev/null >"$TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
if ! wait_for "$DAEMON_PID" "${CLI[@]}" ps -q; then
    die "the daemon did not answer; its log: $(tail -n 5 "$TMP/daemon.log")"
fi
[ -s "$TMP/berth.pid" ] && DAEMON_PID=$(cat "$TMP/berth.pid")
bc import -c 'CMD ["sh"]' "$TMP/rootfs.tar" busybox:latest >/dev/null

# Every event of the daemon: the create events name every container, `run
# --rm` ones included (their ids are printed nowhere else), which is what the
# cgroups and mounts are attributed by; and how many events a container makes
# tells when the daemon's ring of recent events (the last 1024, kept for
# `events --since`) is full. {{.Actor.ID}}: berth renders the template over the
# event's JSON, where docker's {{.ID}} (a Go field) is `<no value>`; Actor.ID
# is the same in both.
"${CLI[@]}" events --format '{{.Type}} {{.Action}} {{.Actor.ID}}' >"$EVENTS" 2>"$TMP/events.err" &
EVENTS_PID=$!
sleep 0.2
alive "$EVENTS_PID" || die "berth events did not start: $(cat "$TMP/events.err")"

# --- the mix ----------------------------------------------------------------------
# SOAK_KINDS restricts the mix (e.g. "exec", "rm detach"): a leak found with
# the whole mix is bisected to the operation that makes it.
read -r -a KINDS <<<"${SOAK_KINDS:-rm detach volume once health exec}"
for k in "${KINDS[@]}"; do
    case $k in rm | detach | volume | once | health | exec) ;; *) die "SOAK_KINDS: no kind $k (rm detach volume once health exec)" ;; esac
done
NAP=600 # a container's sleep: longer than any job, it never exits on its own

job() { # i: one container of kind i mod 6; every failed command -> fail/<i>
    local i=$1 kind=${KINDS[$1 % ${#KINDS[@]}]} id out rc n
    local err=$TMP/err/$i
    set +e
    # One command of the job: its stdout echoed; a non-zero exit recorded.
    step() {
        local name=$1 o r
        shift
        o=$(bc "$@" 2>"$err")
        r=$?
        if [ "$r" -ne 0 ]; then
            printf 'job %d (%s) %s: exit %d: %s\n' "$i" "$kind" "$name" "$r" "$(head -c 300 "$err" | tr '\n' ' ')" >>"$TMP/fail/$i"
        fi
        printf '%s' "$o"
        return "$r"
    }
    case $kind in
        rm)
            step run-rm run --rm busybox true >/dev/null
            ;;
        detach)
            id=$(step run-d run -d busybox sleep "$NAP") || return 0
            step rm-f rm -f "$id" >/dev/null
            ;;
        volume)
            n=$((i % SHARED_VOLS))
            id=$(step run-d run -d -v "soak-shared-$n:/v" --tmpfs /t busybox sh -c "echo $i >/v/f$i; echo $i >/t/x; exec sleep $NAP") || return 0
            # run -d returns once the container started, maybe before its
            # shell wrote /t/x: wait for it (5 s at most).
            # shellcheck disable=SC2016 # expanded in the container
            out=$(step exec exec "$id" sh -c 'for n in $(seq 50); do [ -s /t/x ] && break; sleep 0.1; done; cat /t/x; ls /v | wc -l')
            [ "$(printf '%s' "$out" | head -n1)" = "$i" ] ||
                printf 'job %d (%s) exec: the tmpfs said %q, not %s\n' "$i" "$kind" "$out" "$i" >>"$TMP/fail/$i"
            step rm-f rm -f "$id" >/dev/null
            ;;
        once)
            step run-rm-vol run --rm -v "soak-once-$i:/v" --tmpfs /t busybox sh -c "echo $i >/v/f; echo $i >/t/x" >/dev/null
            step volume-rm volume rm "soak-once-$i" >/dev/null
            ;;
        health)
            id=$(step run-d run -d --health-cmd true --health-interval 1s busybox sleep "$NAP") || return 0
            for ((n = 0; n < 25; n++)); do
                [ "$(bc inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ] && break
                sleep 0.2
            done
            ((n < 25)) || printf 'job %d (%s) health: not healthy after 5 s\n' "$i" "$kind" >>"$TMP/fail/$i"
            step rm-f rm -f "$id" >/dev/null
            ;;
        exec)
            id=$(step run-d run -d busybox sleep "$NAP") || return 0
            step exec-true exec "$id" true >/dev/null
            out=$(step exec-sh exec "$id" sh -c 'echo hi')
            [ "$out" = hi ] || printf 'job %d (%s) exec-sh: said %q, not hi\n' "$i" "$kind" "$out" >>"$TMP/fail/$i"
            step exec-d exec -d "$id" sleep "$NAP" >/dev/null
            step stop stop -t 0 "$id" >/dev/null
            step rm rm "$id" >/dev/null
            ;;
    esac
    return 0
}

PROGRESS=$RESULTS_DIR/progress.tsv
printf 'phase\tdone\tfailed_jobs\tseconds\trss_kib\tfds\tthreads\tshims\n' >"$PROGRESS"
failed_jobs() { find "$TMP/fail" -type f | wc -l; }
failed_cmds() { find "$TMP/fail" -type f -exec cat {} + | wc -l; }

soak() { # phase first count: jobs first..first+count-1, SOAK_BATCH at a time
    local phase=$1 first=$2 count=$3 b i t0 nb=0
    t0=$(date +%s.%N)
    for ((b = first; b < first + count; b += SOAK_BATCH)); do
        JOB_PIDS=()
        for ((i = b; i < b + SOAK_BATCH && i < first + count; i++)); do
            job "$i" &
            JOB_PIDS+=($!)
        done
        # Only the batch's jobs: the events recorder is a background job too.
        wait "${JOB_PIDS[@]}" || true
        JOB_PIDS=()
        nb=$((nb + 1))
        if ((nb % SOAK_PROGRESS == 0 || i == first + count)); then
            printf '%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\n' "$phase" "$((i - first))" "$(failed_jobs)" \
                "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" \
                "$(rss)" "$(fds)" "$(threads)" "$(shims)" >>"$PROGRESS"
            log "$phase: $((i - first))/$count containers, $(failed_jobs) failed jobs, daemon RSS $(rss) KiB, $(fds) fds, $(shims) shims"
        fi
    done
}

# --- the figures ------------------------------------------------------------------
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status"; }
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMON_PID/status"; }
threads() { awk '/^Threads:/ { print $2 }' "/proc/$DAEMON_PID/status"; }
fds() { find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
shims() { pgrep -fc "shim $EXEC/" || true; }
count() { grep -c . || true; } # lines on stdin, 0 when none
# The ids, and their 12-hex prefixes, as fixed strings for grep -F: a
# container's mounts, netns files or shim socket may be named by either.
id_patterns() {
    awk '$1 == "container" && $2 == "create" && length($3) >= 12 { print $3; print substr($3, 1, 12) }' "$EVENTS" | sort -u
}
# The host's mount table, mount point and source (fields 5 and after " - ").
mount_lines() { awk '{ s = $0; sub(/.* - /, "", s); print $5, s }' /proc/self/mountinfo | sort; }
ours_mounts() { # mount lines naming our scratch directories or a container of ours
    { id_patterns; printf '%s\n%s\n' "$TMP" "$RUN"; } >"$TMP/pat"
    mount_lines | grep -Ff "$TMP/pat" || true
}
cgroup_dirs() { find /sys/fs/cgroup/*/berth -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort; }
ours_cgroups() { # cgroup directories named by a container of ours
    id_patterns >"$TMP/pat"
    [ -s "$TMP/pat" ] || return 0 # no container yet
    cgroup_dirs | grep -Ff "$TMP/pat" || true
}
entries() { find "$1" -mindepth 1 -maxdepth 1 ! -name '.*' 2>/dev/null | count; }

snapshot() { # file: every figure, "key value" a line
    {
        echo "rss_kib $(rss)"
        echo "events $(wc -l <"$EVENTS")"
        # Of it: anonymous (heap, stacks) and file-backed (the binary's pages
        # that the code paths run so far have faulted in).
        awk '/^RssAnon:/ { print "rss_anon_kib", $2 } /^RssFile:/ { print "rss_file_kib", $2 }' "/proc/$DAEMON_PID/status"
        python3 "$SCRIPT_DIR/anon.py" "$DAEMON_PID" # the anonymous part: heap, thread stacks, other
        echo "hwm_kib $(hwm)"
        echo "threads $(threads)"
        echo "fds $(fds)"
        echo "mounts_host $(wc -l </proc/self/mountinfo)"
        echo "mounts_ours $(ours_mounts | count)"
        echo "cgroups_host $(cgroup_dirs | count)"
        echo "cgroups_ours $(ours_cgroups | count)"
        echo "shims_ours $(shims)"
        echo "shims_host $(pgrep -fc 'berth shim ' || true)"
        echo "procs_ours $( (procs_under "$TMP"; procs_under "$RUN") | sort -u | grep -vx "$DAEMON_PID" | grep -vx "$EVENTS_PID" | count)"
        for d in bundles runtime shims execs; do echo "exec_$d $(entries "$EXEC/$d")"; done
        for d in containers volumes trash; do echo "data_$d $(entries "$DATA/$d")"; done
        echo "db_kib $(($(stat -c %s "$DATA/berth.db") / 1024))"
        echo "api_containers $(bc ps -aq | count)"
        echo "api_volumes $(bc volume ls -q | count)"
        if [ -n "$NS" ]; then
            echo "netns_links $("${INNS[@]}" ip -o link show | count)"
            echo "netns_nft_rules $("${INNS[@]}" nft -a list ruleset 2>/dev/null | grep -c '# handle' || true)"
        fi
    } >"$1"
    # What the lines are, for the diff and the report.
    mount_lines >"$1.mounts"
    ours_mounts >"$1.mounts-ours"
    cgroup_dirs >"$1.cgroups"
    # The daemon's fds by what they are (socket:, pipe:, a path), counted.
    find "/proc/$DAEMON_PID/fd" -mindepth 1 -maxdepth 1 -printf '%l\n' 2>/dev/null | sed 's/\[[0-9]*\]//' | sort | uniq -c >"$1.fds"
}
val() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# The figures that must be back exactly.
EXACT=(fds mounts_ours cgroups_ours shims_ours procs_ours exec_bundles exec_runtime exec_shims exec_execs data_containers data_volumes data_trash api_containers api_volumes)
[ -n "$NS" ] && EXACT+=(netns_links netns_nft_rules)
not_back() { # before after -> the exact keys that differ
    local k
    for k in "${EXACT[@]}"; do
        [ "$(val "$1" "$k")" = "$(val "$2" "$k")" ] || echo "$k"
    done
}

remove_volumes() { # the volumes of the mix (shared ones; once-ones a job left behind)
    local v
    v=$(bc volume ls -q | grep -E '^soak-' || true)
    # shellcheck disable=SC2086
    [ -n "$v" ] && bc volume rm $v >/dev/null
    return 0
}

# The daemon gives the memory its allocator freed back to the kernel every
# 30 s (malloc_trim, crates/berth/src/daemon.rs). RSS read a few seconds after
# a burst is therefore wherever that tick happens to be; SOAK_IDLE s after the
# load (32: one tick at least has run since) it is what the daemon keeps when
# idle. Both are measured, before and after; the verdict compares the idle ones.
idle_rss() { # file: at SOAK_IDLE s after LOAD_END, the daemon's RSS as *_idle keys
    local left
    ((SOAK_IDLE > 0)) || return 0
    left=$(awk -v e="$LOAD_END" -v n="$(date +%s.%N)" -v w="$SOAK_IDLE" 'BEGIN { d = e + w - n; printf "%.2f", (d > 0 ? d : 0) }')
    log "waiting $left s more for the daemon's idle RSS ($SOAK_IDLE s after the load)"
    sleep "$left"
    {
        awk '/^VmRSS:/ { print "rss_idle_kib", $2 } /^RssAnon:/ { print "rss_anon_idle_kib", $2 } /^RssFile:/ { print "rss_file_idle_kib", $2 }' "/proc/$DAEMON_PID/status"
        python3 "$SCRIPT_DIR/anon.py" "$DAEMON_PID" idle_
        echo "events_idle $(wc -l <"$EVENTS")"
    } >>"$1"
}

# --- warm-up, BEFORE, soak, AFTER --------------------------------------------------------
log "daemon pid $DAEMON_PID: fresh RSS $(rss) KiB, $(fds) fds"
snapshot "$TMP/fresh"
if ((SOAK_WARMUP > 0)); then
    log "warm-up: $SOAK_WARMUP containers, $SOAK_BATCH at a time"
    soak warmup 0 "$SOAK_WARMUP"
fi
# The warm-up's failures are reported with the soak's (they are failures of the
# same mix), the warm-up's volumes removed before BEFORE.
remove_volumes
LOAD_END=$(date +%s.%N)
sleep "$SOAK_SETTLE"
snapshot "$TMP/before"
idle_rss "$TMP/before"

log "soak: $SOAK_N containers, $SOAK_BATCH at a time"
t0=$(date +%s.%N)
soak soak "$SOAK_WARMUP" "$SOAK_N"
t1=$(date +%s.%N)
WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
RATE=$(awk -v n="$SOAK_N" -v w="$WALL" 'BEGIN { printf "%.1f", n / w }')
snapshot "$TMP/peak-ish" # right after the last batch: nothing settled yet
remove_volumes
LOAD_END=$(date +%s.%N)
sleep "$SOAK_SETTLE"
snapshot "$TMP/after"
cp "$TMP/after" "$TMP/after-settle"
LATE=0
if [ -n "$(not_back "$TMP/before" "$TMP/after")" ]; then
    log "not back after ${SOAK_SETTLE} s: $(not_back "$TMP/before" "$TMP/after" | paste -sd' '); waiting up to $SOAK_GRACE s more"
    for ((LATE = 1; LATE <= SOAK_GRACE; LATE++)); do
        sleep 1
        snapshot "$TMP/after"
        [ -z "$(not_back "$TMP/before" "$TMP/after")" ] && break
    done
fi
idle_rss "$TMP/after"
FAILED_JOBS=$(failed_jobs)
FAILED_CMDS=$(failed_cmds)
find "$TMP/fail" -type f -exec cat {} + | sort -t' ' -k2,2n >"$RESULTS_DIR/failures.txt"
cp "$TMP/daemon.log" "$RESULTS_DIR/daemon.log"
for f in fresh before peak-ish after after-settle; do
    [ -f "$TMP/$f" ] && cp "$TMP/$f" "$RESULTS_DIR/$f.txt"
done
cp "$TMP/fresh.fds" "$RESULTS_DIR/fresh-fds.txt"
cp "$TMP/before.fds" "$RESULTS_DIR/before-fds.txt"
cp "$TMP/after.fds" "$RESULTS_DIR/after-fds.txt"
cp "$EVENTS" "$RESULTS_DIR/events.txt"

# --- verdicts --------------------------------------------------------------------------
VERDICTS=$TMP/verdicts
FAILED=0
: >"$VERDICTS"
verdict() { # ok|FAIL text
    [ "$1" = ok ] || FAILED=1
    printf -- '- %s: %s\n' "$1" "$2" >>"$VERDICTS"
}
B=$TMP/before
A=$TMP/after
[ "$FAILED_CMDS" -eq 0 ] && r=ok || r=FAIL
verdict "$r" "commands of the mix that failed: $FAILED_CMDS (in $FAILED_JOBS of $((SOAK_WARMUP + SOAK_N)) jobs, warm-up included)"
if ((LATE > SOAK_GRACE)); then
    late_note="after ${SOAK_SETTLE} s and $SOAK_GRACE s more"
elif ((LATE > 0)); then
    late_note="after ${SOAK_SETTLE} s + $LATE s (not yet after ${SOAK_SETTLE} s: see the table)"
else
    late_note="after ${SOAK_SETTLE} s"
fi
exact() { # label keys...
    local label=$1 k bad=
    shift
    for k in "$@"; do [ "$(val "$B" "$k")" = "$(val "$A" "$k")" ] || bad="$bad $k $(val "$B" "$k") -> $(val "$A" "$k");"; done
    if [ -z "$bad" ]; then
        verdict ok "$label back to before, exactly ($late_note)"
    else
        verdict FAIL "$label NOT back to before:$bad"
    fi
}
exact "mount table (lines naming this run's directories or containers)" mounts_ours
exact "container cgroups (directories below */berth/ named by this run's containers)" cgroups_ours
exact "shims (berth shim of this exec root) and other processes under the scratch directories" shims_ours procs_ours
exact "exec-root entries (bundles, runtime, shims, execs)" exec_bundles exec_runtime exec_shims exec_execs
exact "data-root entries (containers, volumes, trash) and the API's containers and volumes" data_containers data_volumes data_trash api_containers api_volumes
[ -n "$NS" ] && exact "the daemon's network namespace (links, nft rules)" netns_links netns_nft_rules
if [ "$(val "$B" fds)" = "$(val "$A" fds)" ]; then
    verdict ok "daemon fds back to before, exactly: $(val "$A" fds)"
else
    verdict FAIL "daemon fds $(val "$B" fds) -> $(val "$A" fds) (by kind, before/after: results' before-fds.txt, after-fds.txt): $({ diff "$TMP/before.fds" "$TMP/after.fds" || true; } | grep '^[<>]' | tr -s ' ' | paste -sd';')"
fi
ratio() { awk -v a="$(val "$A" "$1")" -v b="$(val "$B" "$1")" 'BEGIN { printf "%.3f", a / b }'; }
RATIO_SETTLE=$(awk -v a="$(val "$TMP/after-settle" rss_kib)" -v b="$(val "$B" rss_kib)" 'BEGIN { printf "%.3f", a / b }')
if ((SOAK_IDLE > 0)); then
    rk=rss_idle_kib
    what="idle RSS ($SOAK_IDLE s after the load, a malloc_trim since)"
    also="; ${SOAK_SETTLE} s after the load: $(val "$B" rss_kib) -> $(val "$TMP/after-settle" rss_kib) KiB, $RATIO_SETTLE"
else
    rk=rss_kib
    what="RSS (${SOAK_SETTLE} s after the load)"
    also=
fi
RATIO=$(ratio "$rk")
if awk -v r="$RATIO" -v t="$SOAK_RSS_TOL" 'BEGIN { exit !(r <= 1 + t / 100 && r >= 1 - t / 100) }'; then
    verdict ok "daemon $what $(val "$B" "$rk") -> $(val "$A" "$rk") KiB: after/before = $RATIO (within ${SOAK_RSS_TOL} %)$also"
else
    verdict FAIL "daemon $what $(val "$B" "$rk") -> $(val "$A" "$rk") KiB: after/before = $RATIO (not within ${SOAK_RSS_TOL} %)$also"
fi
# Host-wide: what changed and is not this run's is another user's (listed,
# not a verdict).
HOSTNOTES=$TMP/hostnotes
: >"$HOSTNOTES"
if ! cmp -s "$B.mounts" "$A.mounts"; then
    {
        echo "- host mount table $(val "$B" mounts_host) -> $(val "$A" mounts_host) lines; changed lines (mount point, source), none of them naming this run's directories or containers unless the verdict above says so:"
        { diff "$B.mounts" "$A.mounts" || true; } | sed -n 's/^</    gone:/p; s/^>/    new: /p' | awk 'NR <= 20' # diff exits 1 on a difference
    } >>"$HOSTNOTES"
fi
if ! cmp -s "$B.cgroups" "$A.cgroups"; then
    {
        echo "- host cgroups below */berth/: $(val "$B" cgroups_host) -> $(val "$A" cgroups_host) (another daemon's unless named by one of this run's ids):"
        { diff "$B.cgroups" "$A.cgroups" || true; } | sed -n 's/^</    gone:/p; s/^>/    new: /p' | awk 'NR <= 20'
    } >>"$HOSTNOTES"
fi
[ "$(val "$B" shims_host)" = "$(val "$A" shims_host)" ] ||
    echo "- berth shims on the host (all daemons): $(val "$B" shims_host) -> $(val "$A" shims_host); this daemon's: $(val "$B" shims_ours) -> $(val "$A" shims_ours)" >>"$HOSTNOTES"

# --- summary ---------------------------------------------------------------------------
row() { # label key: the key in the fresh, before, after-settle and final files
    printf '| %s | %s | %s | %s | %s |\n' "$1" "$(val "$TMP/fresh" "$2")" "$(val "$B" "$2")" \
        "$(val "$TMP/after-settle" "$2")" "$(val "$A" "$2")"
}
{
    echo "# bench/soak $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
    echo "- workspace HEAD: $(git -C "$WORKSPACE" rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(git -C "$WORKSPACE" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ] && echo ' (crates/ had uncommitted edits)'); berth $BERTH ($("$BERTH" --version | head -n1))"
    # The "host" figures are the mount table of this mount namespace: say
    # whether it is pid 1's (a run inside another namespace would not see
    # the host's). /proc/1/ns/mnt may not be readable (a sandbox): the two
    # mount tables are compared instead.
    echo "- mount namespace of the daemon and of these figures: $(cmp -s /proc/1/mountinfo "/proc/$DAEMON_PID/mountinfo" && echo "the host's (its mount table is pid 1's)" || echo "NOT pid 1's (another mount table): the host mount table is not what is measured")"
    echo "- daemon: pid $DAEMON_PID, network $SOAK_NET$( [ -n "$NS" ] && echo ' (a scratch network namespace, its default bridge there)'), data root on $(findmnt -no FSTYPE -T "$TMP" | head -n1), exec root on $(findmnt -no FSTYPE -T "$RUN" | head -n1)"
    echo "- mix: ${KINDS[*]} (job i is kind i mod ${#KINDS[@]}); warm-up $SOAK_WARMUP containers, soak $SOAK_N, $SOAK_BATCH at a time; settle $SOAK_SETTLE s"
    echo "- soak: $SOAK_N containers in $WALL s wall, $RATE containers/s (batches wait for their slowest job; the health jobs wait ≥ 1 s for a check)"
    echo "- container ids recorded from berth events (what the cgroups and mounts are attributed by): $(id_patterns | awk 'length($1) == 64' | count) of $((SOAK_WARMUP + SOAK_N)) containers created$( [ "$(id_patterns | awk 'length($1) == 64' | count)" -lt $((SOAK_WARMUP + SOAK_N)) ] && echo ' (FEWER: the attribution misses some)')"
    echo "- daemon peak RSS (VmHWM) over the whole run: $(val "$A" hwm_kib) KiB; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); whole script $(($(date +%s) - T_START)) s"
    echo
    echo "| figure | fresh daemon | before (after warm-up) | after ${SOAK_SETTLE} s | after (final) |"
    echo "|---|---|---|---|---|"
    row "daemon RSS, KiB" rss_kib
    row "  of it anonymous" rss_anon_kib
    row "  of it file-backed" rss_file_kib
    row "  anonymous: malloc arenas" anon_heap_kib
    row "  anonymous: thread stacks" anon_stacks_kib
    row "  anonymous: other" anon_other_kib
    row "thread stacks mapped (live + glibc's cache)" anon_stacks_n
    if ((SOAK_IDLE > 0)); then
        row "daemon RSS idle ($SOAK_IDLE s after the load), KiB" rss_idle_kib
        row "  of it anonymous" rss_anon_idle_kib
        row "  of it file-backed" rss_file_idle_kib
        row "  anonymous: malloc arenas" idle_anon_heap_kib
        row "  anonymous: thread stacks" idle_anon_stacks_kib
        row "  anonymous: other" idle_anon_other_kib
    fi
    row "daemon events so far (it keeps the last 1024)" events
    row "daemon threads" threads
    row "daemon fds" fds
    row "host mount table, lines (all)" mounts_host
    row "  of them this run's" mounts_ours
    row "cgroups below */berth/ (all)" cgroups_host
    row "  of them this run's" cgroups_ours
    row "berth shims (all)" shims_host
    row "  of them this daemon's" shims_ours
    row "other processes under the scratch dirs" procs_ours
    row "exec-root bundles/" exec_bundles
    row "exec-root runtime/" exec_runtime
    row "exec-root shims/" exec_shims
    row "exec-root execs/" exec_execs
    row "data-root containers/" data_containers
    row "data-root volumes/" data_volumes
    row "data-root trash/" data_trash
    row "data-root berth.db, KiB" db_kib
    row "containers (ps -aq)" api_containers
    row "volumes (volume ls -q)" api_volumes
    if [ -n "$NS" ]; then
        row "links in the daemon's netns" netns_links
        row "nft rules in the daemon's netns" netns_nft_rules
    fi
    echo
    echo "Verdicts:"
    echo
    cat "$VERDICTS"
    if [ -s "$HOSTNOTES" ]; then
        echo
        echo "Host-wide changes (not verdicts):"
        echo
        cat "$HOSTNOTES"
    fi
    if [ "$FAILED_CMDS" -gt 0 ]; then
        echo
        echo "Failures (the first 20 of $FAILED_CMDS; all in failures.txt):"
        echo
        awk 'NR <= 20 { print "    " $0 }' "$RESULTS_DIR/failures.txt"
    fi
    echo
    echo "Progress (daemon RSS and fds along the run):"
    echo
    column -t -s $'\t' "$PROGRESS" | sed 's/^/    /'
} >"$RESULTS_DIR/summary.md"
cp "$RESULTS_DIR/summary.md" "${RESULTS_DIR%/}.md"
echo
cat "$RESULTS_DIR/summary.md"
log "results in $RESULTS_DIR (summary also in ${RESULTS_DIR%/}.md)"
[ "$FAILED" -eq 0 ] || { log "a verdict failed"; exit 1; }
