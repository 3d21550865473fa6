#!/usr/bin/env bash
# bench/conformance/crun.sh [BERTH] — crun's Python tests (containers/crun
# tests/test_*.py) against berth's OCI runtime and crun 1.8, side by side in
# one run: each test file is a group, run once per runtime (berth, then crun),
# each in its own invocation under a pty (script -qec) with a timeout.
#
#   BERTH      the berth binary (argument or env; default: scripts/build-berth);
#              the suite runs it through a link named berth-runtime (argv0 dispatch)
#   WORKDIR    /work/conf: the suite at $WORKDIR/src/crun (CRUN_SRC); its init
#              binary at $WORKDIR/bin/init (INIT: tests/init.c built static, as
#              crun's `make tests/init` does)
#   CRUN       /usr/bin/crun (the reference)
#   GROUP_TIMEOUT  300 s per test file and runtime; when a group hits it, the
#              tests it did not report are rerun one by one (RUN_TESTS=name),
#              PER_TEST_TIMEOUT (60 s) each, a test still hanging is "timeout"
#   NOCGM      1: also a diagnostic run of berth behind a wrapper that drops
#              crun's own global `--cgroup-manager cgroupfs` and `--config
#              config.json` (berth refuses both flags, which fails nearly every
#              test before the runtime does anything); its column is
#              "berth-nocgm" (0 to skip)
#
# Environment (identical for every runtime): a private mount namespace (unshare -m)
# in which /sys/fs/cgroup/unified (this host's hugetlb-only cgroup2) is unmounted,
# since crun 1.8 refuses the hybrid layout; nothing outside that namespace changes.
# Output: $OUT/crun.tsv, $OUT/crun-summary.txt (berth against crun), and with NOCGM,
# $OUT/crun-nocgm.tsv; raw TAP logs under $WORKDIR/runs/crun-<stamp>/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BERTH=$(berth_binary "${1:-}")
SUITE=${CRUN_SRC:-$WORKDIR/src/crun}
INIT=${INIT:-$WORKDIR/bin/init}
CRUN=${CRUN:-/usr/bin/crun}
GROUP_TIMEOUT=${GROUP_TIMEOUT:-300}
PER_TEST_TIMEOUT=${PER_TEST_TIMEOUT:-60}
NOCGM=${NOCGM:-1}
[ -f "$SUITE/tests/tests_utils.py" ] || die "crun's tests not found at $SUITE"
[ -x "$INIT" ] || die "no init binary at $INIT (build tests/init.c static)"
command -v script >/dev/null || die "script(1) (bsdutils) needed for the pty"

STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$WORKDIR/runs/crun-$STAMP
TMP=$(mktemp -d /tmp/bccr.XXXXXX)
mkdir -p "$RAW" "$TMP/bin"
cgroup_dirs >"$TMP/cgroups.before"
cleanup() {
    local rc=$?
    set +e
    # every container a test left: each runtime's state dirs are under tests/.testsuite-run-*
    local left
    left=$( (procs_under "$SUITE/tests/.testsuite-run"; procs_under "$TMP") | sort -u | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -n "${left// /}" ] && kill -KILL $left 2>/dev/null
    # cgroups the tests made and left (test-*, e.g. test-v1-exec-cgroup-N)
    reap_new_cgroups "$TMP/cgroups.before" '^test-'
    rm -rf "$SUITE"/tests/.testsuite-run-* "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ln -s "$BERTH" "$TMP/bin/berth-runtime"
cat >"$TMP/bin/berth-runtime-nocgm" <<WRAP
#!/bin/sh
# The diagnostic wrapper: drops crun's own global --cgroup-manager VALUE (or
# --cgroup-manager=VALUE) and a --config naming the default config.json; every
# other argument goes to berth as the suite gave it.
n=\$#; skip=0
while [ \$n -gt 0 ]; do
  a=\$1; shift; n=\$((n-1))
  if [ \$skip = 1 ]; then skip=0; continue; fi
  case "\$a" in
    --cgroup-manager) skip=1; continue;;
    --cgroup-manager=*|--config=config.json) continue;;
    --config) if [ "\$1" = config.json ]; then shift; n=\$((n-1)); continue; fi;;
  esac
  set -- "\$@" "\$a"
done
exec "$TMP/bin/berth-runtime" "\$@"
WRAP
chmod +x "$TMP/bin/berth-runtime-nocgm"

# crun first: its run names the tests of each group, for the reruns below
SIDES="crun:$CRUN berth:$TMP/bin/berth-runtime"
[ "$NOCGM" = 1 ] && SIDES="$SIDES berth-nocgm:$TMP/bin/berth-runtime-nocgm"
GROUPS_=${ONLY:-$(cd "$SUITE/tests" && ls test_*.py)}
run_group() { # runtime test-file log [RUN_TESTS]: one invocation, under a pty, in the namespace
    local rc=0
    # the pty: script(1); the namespace: unshare -m, cgroup2 unmounted in it
    # (RUN_TESTS only when given: tests_utils takes an empty one as "no test")
    (cd "$SUITE/tests" && env OCI_RUNTIME="$1" INIT="$INIT" ${4:+RUN_TESTS="$4"} timeout -k 10 "${5:-$GROUP_TIMEOUT}" \
        unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec script -qec "python3 '"$2"'" /dev/null' \
        </dev/null >>"$3" 2>&1) || rc=$?
    rm -rf "$SUITE"/tests/.testsuite-run-*
    return $rc
}
tap_names() { # log -> the names of the tests it reports
    sed 's/\x1b\[[0-9;]*m//g; s/\r//g' "$1" | sed -nE 's/^(not ok|ok) [0-9]+ - (.*)$/\2/p' | sed -E 's/ *# *SKIP.*$//; s/ # [0-9.]+s$//'
}
for g in $GROUPS_; do
    for side in $SIDES; do
        name=${side%%:*} rt=${side#*:}
        log "$name: $g"
        rc=0
        run_group "$rt" "$g" "$RAW/$name-$g.log" || rc=$?
        echo "$g $rc" >>"$RAW/$name-groups.txt"
        if [ "$rc" = 124 ] && [ "$name" != crun ]; then
            # A test that never returns (a socket the runtime never connects to)
            # would cost the whole group: the tests not reported are rerun one by
            # one (tests_utils' RUN_TESTS), each with PER_TEST_TIMEOUT.
            log "$name: $g hit the group timeout ($GROUP_TIMEOUT s): the rest one by one"
            for t in $(comm -23 <(tap_names "$RAW/crun-$g.log" | sort) <(tap_names "$RAW/$name-$g.log" | sort)); do
                echo "# rerun $t alone" >>"$RAW/$name-$g.log"
                rc=0
                run_group "$rt" "$g" "$RAW/$name-$g.rerun" "$t" "$PER_TEST_TIMEOUT" || rc=$?
                grep -E '^(ok|not ok) ' "$RAW/$name-$g.rerun" >/dev/null || echo "not ok 0 - $t # timed out after $PER_TEST_TIMEOUT s" >>"$RAW/$name-$g.rerun"
                sed -E '/^1\.\.[0-9]+/d' "$RAW/$name-$g.rerun" >>"$RAW/$name-$g.log"
                rm -f "$RAW/$name-$g.rerun"
            done
        fi
    done
done

for side in $SIDES; do
    name=${side%%:*}
    python3 - "$RAW" "$name" "$GROUPS_" >"$RAW/$name.tsv" <<'PYEOF'
import os, re, sys
raw, name, groups = sys.argv[1], sys.argv[2], sys.argv[3].split()
for g in groups:
    p = os.path.join(raw, "%s-%s.log" % (name, g))
    text = open(p, errors="replace").read() if os.path.exists(p) else ""
    lines = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\r", "").split("\n")
    plan, seen, names = None, set(), set()
    pending = []  # diagnostics after a "not ok" belong to it
    cur = None
    for l in lines:
        m = re.match(r"^1\.\.(\d+)", l)
        if m:
            if plan is None:
                plan = int(m.group(1))
            continue
        m = re.match(r"^(not ok|ok) (\d+) - (.*?)(?: # [0-9.]+s)?$", l)
        if m:
            res, num, rest = m.groups()
            skip = re.search(r"\s*#\s*SKIP\s*(.*)$", rest)
            tname = rest[:skip.start()].strip() if skip else rest.strip()
            out = "skip" if (skip and res == "ok") else ("ok" if res == "ok" else "fail")
            if "# timed out after" in l:
                tname = re.sub(r" # timed out.*$", "", tname); out = "timeout"; pending = [l.split("# ", 1)[1]]
            if tname in names:
                pending = []; continue
            names.add(tname)
            msg = skip.group(1) if skip else ""
            if out == "fail":
                # the diagnostics printed before this line since the previous result
                msg = " | ".join(x.lstrip("# ").strip() for x in pending if x.strip())[-300:]
            if out == "timeout":
                msg = pending[0]
            print("%s::%s\t%s\t%s" % (g, tname, out, msg.replace("\t", " ")))
            seen.add(tname); pending = []
            continue
        if l.startswith("#") or l.strip():
            if any(k in l for k in ("Error", "error", "rror:", "Exception message", "got ", "assert", "Output:", "crun:", "berth")):
                pending.append(l)
    if plan is not None and len(seen) < plan:
        print("%s::<%d of %d tests not reported>\taborted\tgroup ended early (crash or timeout); see %s-%s.log" % (g, plan - len(seen), plan, name, g))
    elif plan is None:
        print("%s::*\taborted\tno TAP plan (the group did not start or crashed)" % g)
PYEOF
done
META1="date: $(date -u +%Y-%m-%dT%H:%MZ); berth: $BERTH ($("$BERTH" --version 2>/dev/null | head -1)); reference: $("$CRUN" --version | head -1)"
META2="suite: containers/crun $(cat "$SUITE/.suite-commit" 2>/dev/null || echo '?') tests/test_*.py; group timeout ${GROUP_TIMEOUT} s; raw: $RAW"
python3 "$HERE/compare.py" crun "$RAW/berth.tsv" "$RAW/crun.tsv" crun "$OUT" "$META1" "$META2"
if [ "$NOCGM" = 1 ]; then
    python3 "$HERE/compare.py" crun-nocgm "$RAW/berth-nocgm.tsv" "$RAW/crun.tsv" crun "$OUT" "$META1" "$META2" \
        "diagnostic: berth behind a wrapper that drops --cgroup-manager and --config config.json" >/dev/null
fi
