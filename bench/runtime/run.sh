#!/usr/bin/env bash
# bench/runtime/run.sh — container lifecycle benchmark: berth-runtime vs runc vs crun.
#
# What it measures
#   * Wall time of one full container lifecycle (create + start + wait + delete),
#     via each runtime's `run` verb, timed by hyperfine:
#         berth-runtime --root R1 run --bundle B bench-berth
#         runc          --root R2 run --bundle B bench-runc
#         crun          --root R3 run --bundle B bench-crun
#     All three use the same OCI bundle: a rootfs holding Debian's static
#     busybox (/bin/busybox plus applet symlinks) and a config.json made by
#     `runc spec`, edited to run /bin/true with terminal=false and the
#     pid/network/ipc/uts/mount/cgroup namespaces.
#   * Peak RSS (max resident set, KiB) of the runtime process for one `run`,
#     with GNU time (`/usr/bin/time -f %M`). This is the peak of the largest
#     process in the waited-for tree as getrusage(RUSAGE_CHILDREN) reports it
#     (the runtime binary itself, or its re-exec'd copy), not the sum.
#
# crun and the hybrid cgroup layout
#   crun refuses hosts where cgroup v1 controllers and a cgroup2 mount at
#   /sys/fs/cgroup/unified coexist ("cgroups in hybrid mode not supported").
#   Its benchmark therefore runs inside ONE private mount namespace where that
#   mount is gone:  unshare -m sh -c 'umount /sys/fs/cgroup/unified; exec hyperfine ...'
#   so the unshare cost is paid once, not per iteration. berth and runc run in
#   that same namespace, in the same hyperfine call, so all three see the same
#   cgroup layout and the same machine noise.
#
# Usage (as root):
#   bench/runtime/run.sh
# Environment:
#   RUNS=N            timed runs per runtime (default 100)
#   WARMUP=N          warm-up runs per runtime (default 5)
#   BERTH_RUNTIME=P   use this berth-runtime binary instead of building
#                     scripts/build-runtime (the static release build)
#   RUNC=P, CRUN=P    the runc / crun binaries (default: from PATH)
#   RESULTS_DIR=D     where the hyperfine JSON and summary go
#                     (default bench/runtime/results/<UTC timestamp>)
#   BUSYBOX=P         the static busybox to put in the rootfs (default /bin/busybox)
#
# Needs: hyperfine, runc, crun, python3, unshare (util-linux), busybox-static;
# GNU time (apt package `time`) for the RSS figures (skipped if missing).
# docker/podman comparisons are not here: they belong to bench/engine.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORKSPACE=$(cd "$SCRIPT_DIR/../.." && pwd)

RUNS=${RUNS:-100}
WARMUP=${WARMUP:-5}
RUNC=${RUNC:-$(command -v runc || true)}
CRUN=${CRUN:-$(command -v crun || true)}
BUSYBOX=${BUSYBOX:-/bin/busybox}
RESULTS_DIR=${RESULTS_DIR:-$SCRIPT_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (containers need it)"
for t in hyperfine python3 unshare; do
    command -v "$t" >/dev/null || die "$t not found"
done
[ -n "$RUNC" ] && [ -x "$RUNC" ] || die "runc not found (set RUNC)"
[ -n "$CRUN" ] && [ -x "$CRUN" ] || die "crun not found (set CRUN)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX not found (apt-get install busybox-static)"
file_out=$(file -L "$BUSYBOX" 2>/dev/null || true)
case "$file_out" in
    *dynamically*) die "$BUSYBOX is dynamically linked; need busybox-static" ;;
esac

# --- the berth-runtime binary ----------------------------------------------
if [ -z "${BERTH_RUNTIME:-}" ]; then
    log "building berth-runtime (release, static: scripts/build-runtime)"
    BERTH_RUNTIME=$("$WORKSPACE/scripts/build-runtime")
fi
[ -x "$BERTH_RUNTIME" ] || die "berth-runtime not found at $BERTH_RUNTIME"

# --- temp dirs and cleanup ---------------------------------------------------
TMP=$(mktemp -d /tmp/berth-bench-runtime.XXXXXX)
BUNDLE=$TMP/bundle
ROOT_BERTH=$TMP/root-berth
ROOT_RUNC=$TMP/root-runc
ROOT_CRUN=$TMP/root-crun
mkdir -p "$BUNDLE/rootfs/bin" "$ROOT_BERTH" "$ROOT_RUNC" "$ROOT_CRUN" "$RESULTS_DIR"

cleanup() {
    local rc=$?
    set +e
    # Containers left behind by an interrupted or failed run.
    "$BERTH_RUNTIME" --root "$ROOT_BERTH" delete --force bench-berth >/dev/null 2>&1
    "$BERTH_RUNTIME" --root "$ROOT_BERTH" delete --force bench-berth-rss >/dev/null 2>&1
    "$RUNC" --root "$ROOT_RUNC" delete --force bench-runc >/dev/null 2>&1
    "$RUNC" --root "$ROOT_RUNC" delete --force bench-runc-rss >/dev/null 2>&1
    # crun's cgroup handling needs the private mount namespace for delete too.
    unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null
        "$1" --root "$2" delete --force bench-crun
        "$1" --root "$2" delete --force bench-crun-rss' sh "$CRUN" "$ROOT_CRUN" >/dev/null 2>&1
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the bundle ----------------------------------------------------------------
log "making the bundle in $BUNDLE"
cp "$BUSYBOX" "$BUNDLE/rootfs/bin/busybox"
# `busybox --list` names the applets; Debian's build lists "busybox" itself
# too, which must not replace the copied binary with a self-loop.
for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] && continue
    ln -s busybox "$BUNDLE/rootfs/bin/$applet"
done
[ -L "$BUNDLE/rootfs/bin/true" ] || die "busybox has no 'true' applet"

(cd "$BUNDLE" && "$RUNC" spec)
HARD_NOFILE=$(ulimit -Hn)
python3 - "$BUNDLE/config.json" "$HARD_NOFILE" <<'EOF'
import json, sys
path, hard = sys.argv[1], sys.argv[2]
with open(path) as f:
    spec = json.load(f)
proc = spec["process"]
proc["terminal"] = False
proc["args"] = ["/bin/true"]
# Keep runc's rlimits, but NOFILE may not exceed this shell's hard limit.
if hard != "unlimited":
    hard = int(hard)
    for rl in proc.get("rlimits", []):
        if rl["type"] == "RLIMIT_NOFILE":
            rl["hard"] = min(rl["hard"], hard)
            rl["soft"] = min(rl["soft"], rl["hard"])
# The default namespaces; older `runc spec` (1.1) leaves out cgroup.
ns = spec["linux"].setdefault("namespaces", [])
have = {n["type"] for n in ns}
for t in ["pid", "network", "ipc", "uts", "mount", "cgroup"]:
    if t not in have:
        ns.append({"type": t})
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
EOF
cp "$BUNDLE/config.json" "$RESULTS_DIR/config.json"

# --- smoke test: each runtime must run the bundle once ----------------------
CRUN_NS_PREFIX='umount /sys/fs/cgroup/unified 2>/dev/null || true;'
NOTES=$RESULTS_DIR/notes.txt
: >"$NOTES"
smoke() { # runtime name -> 0 if it ran /bin/true; the error text goes to $RESULTS_DIR/<name>-error.txt
    local out
    case $1 in
    berth) out=$("$BERTH_RUNTIME" --root "$ROOT_BERTH" run --bundle "$BUNDLE" bench-berth 2>&1) ;;
    runc) out=$("$RUNC" --root "$ROOT_RUNC" run --bundle "$BUNDLE" bench-runc 2>&1) ;;
    crun) out=$(unshare -m sh -c "$CRUN_NS_PREFIX"' exec "$1" --root "$2" run --bundle "$3" bench-crun' \
        sh "$CRUN" "$ROOT_CRUN" "$BUNDLE" 2>&1) ;;
    esac || {
        printf '%s\n' "$out" >"$RESULTS_DIR/$1-error.txt"
        printf '%s run FAILED: %s\n' "$1" "$out" >&2
        return 1
    }
}
log "smoke test"
smoke_ok=1
for rt in berth runc crun; do
    smoke "$rt" || smoke_ok=0
done
[ "$smoke_ok" -eq 1 ] || die "a runtime failed the smoke test; not benchmarking"

# --- timing ------------------------------------------------------------------
# Another build on the machine skews whichever runtime is being timed: the
# 1/5/15-minute load averages before each series go into the summary.
LOADS=$TMP/loads
HF_OPTS=(--warmup "$WARMUP" --runs "$RUNS" --shell=none --style basic)
# hyperfine >= 1.13 takes --shell=none; without it each run would add a sh.
if ! hyperfine --help 2>/dev/null | grep -q -- '--shell'; then
    HF_OPTS=(--warmup "$WARMUP" --runs "$RUNS" --style basic)
fi

echo "load average before the series: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOADS"
log "timing berth-runtime, runc and crun (one hyperfine, one private mount namespace)"
# All three run in the same environment: crun needs /sys/fs/cgroup/unified out
# of sight, so it is out of sight for all of them; one hyperfine call runs the
# series back to back, so machine noise drifts less between them.
unshare -m sh -c "$CRUN_NS_PREFIX"' exec hyperfine "$@"' sh "${HF_OPTS[@]}" \
    --export-json "$RESULTS_DIR/all.json" \
    -n berth "$BERTH_RUNTIME --root $ROOT_BERTH run --bundle $BUNDLE bench-berth" \
    -n runc "$RUNC --root $ROOT_RUNC run --bundle $BUNDLE bench-runc" \
    -n crun "$CRUN --root $ROOT_CRUN run --bundle $BUNDLE bench-crun"

log "timing again, interleaved (round-robin, shuffled each round)"
echo "load average before the interleaved series: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$LOADS"
unshare -m sh -c "$CRUN_NS_PREFIX"' exec python3 "$@"' sh "$SCRIPT_DIR/interleave.py" "$RUNS" \
    "$RESULTS_DIR/interleaved.json" \
    "berth=$BERTH_RUNTIME --root $ROOT_BERTH run --bundle $BUNDLE bench-berth" \
    "crun=$CRUN --root $ROOT_CRUN run --bundle $BUNDLE bench-crun" \
    "runc=$RUNC --root $ROOT_RUNC run --bundle $BUNDLE bench-runc" >"$TMP/interleaved.md"

# --- peak RSS -------------------------------------------------------------------
GNU_TIME=/usr/bin/time
rss_berth=- rss_runc=- rss_crun=-
if [ -x "$GNU_TIME" ] && "$GNU_TIME" -f %M true >/dev/null 2>&1; then
    log "peak RSS (one run each, GNU time -f %M)"
    # GNU time writes "Command exited with non-zero status N" before the
    # figure when the command fails; the figure is then not reported.
    rss_of() { # file -> KiB, or "-" if the run failed
        if grep -q 'non-zero status' "$1"; then echo -; else tail -n1 "$1"; fi
    }
    unshare -m sh -c "$CRUN_NS_PREFIX"' exec "$@"' sh \
        "$GNU_TIME" -o "$TMP/rss-berth" -f %M \
        "$BERTH_RUNTIME" --root "$ROOT_BERTH" run --bundle "$BUNDLE" bench-berth-rss >/dev/null || true
    unshare -m sh -c "$CRUN_NS_PREFIX"' exec "$@"' sh \
        "$GNU_TIME" -o "$TMP/rss-runc" -f %M \
        "$RUNC" --root "$ROOT_RUNC" run --bundle "$BUNDLE" bench-runc-rss >/dev/null || true
    # GNU time runs inside the namespace so it sees crun only, not unshare/sh.
    unshare -m sh -c "$CRUN_NS_PREFIX"' exec "$@"' sh \
        "$GNU_TIME" -o "$TMP/rss-crun" -f %M \
        "$CRUN" --root "$ROOT_CRUN" run --bundle "$BUNDLE" bench-crun-rss >/dev/null || true
    rss_berth=$(rss_of "$TMP/rss-berth")
    rss_runc=$(rss_of "$TMP/rss-runc")
    rss_crun=$(rss_of "$TMP/rss-crun")
else
    log "GNU time (/usr/bin/time) not installed: skipping peak RSS (apt-get install time)"
fi

# --- leftovers ------------------------------------------------------------------
# Every `run` must have deleted its container: no state under the roots and no
# cgroup directories named after the ids.
left=$(find "$ROOT_BERTH" "$ROOT_RUNC" "$ROOT_CRUN" -mindepth 1 -maxdepth 1 2>/dev/null || true)
cg_left=$(find /sys/fs/cgroup -maxdepth 5 -type d -name 'bench-*' 2>/dev/null || true)
[ -z "$left" ] || printf 'LEFTOVER state after the runs:\n%s\n' "$left" | tee -a "$NOTES" >&2
[ -z "$cg_left" ] || printf 'LEFTOVER cgroups after the runs:\n%s\n' "$cg_left" | tee -a "$NOTES" >&2

# --- summary -------------------------------------------------------------------
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: nproc=$(nproc), kernel $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    cat "$LOADS"
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "berth-runtime: $BERTH_RUNTIME ($("$BERTH_RUNTIME" --version 2>/dev/null | head -n1))"
    echo "runc: $("$RUNC" --version | head -n1); crun: $("$CRUN" --version | head -n1)"
    echo "hyperfine: $(hyperfine --version); runs=$RUNS warmup=$WARMUP"
    echo
} | tee "$RESULTS_DIR/summary.md"
python3 - "$RESULTS_DIR" "$rss_berth" "$rss_runc" "$rss_crun" <<'EOF' | tee -a "$RESULTS_DIR/summary.md"
import json, os, statistics, sys
d, rss = sys.argv[1], dict(zip(["berth", "runc", "crun"], sys.argv[2:5]))
res = {}
with open(os.path.join(d, "all.json")) as f:
    results = {r["command"]: r for r in json.load(f)["results"]}
for name in ["berth", "runc", "crun"]:
    r = results[name]
    t = r["times"]
    res[name] = dict(median=r["median"] * 1e3, mean=r["mean"] * 1e3,
                     stddev=(r["stddev"] or 0) * 1e3, min=r["min"] * 1e3,
                     max=r["max"] * 1e3, n=len(t))
def kib(v):
    return "n/a" if v in ("-", "") else f"{int(v) / 1024:.1f} MiB ({v} KiB)"
print("| runtime | median ms | mean ms | ± stddev | min ms | max ms | runs | peak RSS |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for name, r in res.items():
    print(f"| {name} | {r['median']:.2f} | {r['mean']:.2f} | {r['stddev']:.2f} | "
          f"{r['min']:.2f} | {r['max']:.2f} | {r['n']} | {kib(rss[name])} |")
print()
b = res["berth"]
for other in ["crun", "runc"]:
    o = res[other]
    print(f"berth/{other}: median {b['median'] / o['median']:.2f}x, "
          f"mean {b['mean'] / o['mean']:.2f}x")
EOF
{
    echo
    echo "Interleaved (the figures to quote: every runtime sees the same drift):"
    echo
    cat "$TMP/interleaved.md"
} | tee -a "$RESULTS_DIR/summary.md"
if [ -s "$NOTES" ]; then
    { echo; echo "notes:"; cat "$NOTES"; } | tee -a "$RESULTS_DIR/summary.md"
fi
log "results in $RESULTS_DIR"
