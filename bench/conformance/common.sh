# shellcheck shell=bash
# Sourced by bench/conformance/*.sh: where things are, the berth binary, logging.
# WORKDIR   where the suites' sources, their built binaries and the raw logs live
#           (never inside this repository): default /work/conf
# OUT       where the per-test results and totals are written: default
#           bench/conformance/results (the only output kept in the repository)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORKDIR=${WORKDIR:-/work/conf}
OUT=${OUT:-$HERE/results}
mkdir -p "$OUT" "$WORKDIR/runs"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
note() { log "$@"; }
die() { log "error: $*"; exit 1; }
# berth_binary [path]: the berth binary to measure; default scripts/build-berth's.
berth_binary() {
    local b=${1:-${BERTH:-}}
    if [ -z "$b" ]; then
        log "no berth binary given: building one with scripts/build-berth"
        b=$("$REPO/scripts/build-berth") || die "scripts/build-berth failed"
    fi
    [ -x "$b" ] || die "berth binary $b is not executable"
    readlink -f "$b"
}
# shellcheck source=../lib/proc.sh
source "$REPO/bench/lib/proc.sh"
# The cgroup directories (every v1 hierarchy and the v2 mount, 4 levels down).
cgroup_dirs() { find /sys/fs/cgroup -mindepth 2 -maxdepth 5 -type d 2>/dev/null | sort; }
# reap_new_cgroups BEFORE-FILE NAME-REGEX: the cgroups made since BEFORE whose last
# component matches NAME-REGEX (a suite's container ids): kill what is left in
# them (a container a test abandoned), then remove them, deepest first.
reap_new_cgroups() {
    local d p
    comm -13 "$1" <(cgroup_dirs) | awk -F/ -v re="$2" '$NF ~ re' >"$1.new"
    while read -r d; do
        for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    done <"$1.new"
    sleep 0.2
    sort -r "$1.new" | while read -r d; do rmdir "$d" 2>/dev/null || true; done
    rm -f "$1.new"
}
