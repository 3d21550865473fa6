#!/usr/bin/env bash
# bench/conformance/contest.sh [BERTH] — youki's contest (youki-dev/youki
# tests/contest) against berth's OCI runtime and runc 1.1, side by side in one
# run, RUNTIME_KIND=runc (the tests' expectations for runc). contest panics out
# of a whole run when one test's unwrap fails, so each group is its own
# invocation (`contest run -t GROUP`), berth's then runc's, each with a timeout.
#
#   BERTH      the berth binary (argument or env; default: scripts/build-berth).
#              contest canonicalizes --runtime (a symlink's target would be
#              run, under its own name), so berth is hard-linked (or copied) as
#              <tmp>/berth-runtime: argv0 berth-runtime is the OCI runtime.
#   WORKDIR    /work/conf: contest and runtimetest built from youki's
#              tests/contest (the suite's own `just contest`, a static
#              runtimetest) at $WORKDIR/bin/{contest,runtimetest} (CONTEST,
#              RUNTIMETEST); the suite's bundle.tar.gz at
#              $WORKDIR/src/youki/tests/contest/contest/bundle.tar.gz (BUNDLE)
#   RUNC       /usr/sbin/runc (the reference)
#   GROUP_TIMEOUT  300 s per group and runtime; when a group panics or times
#              out, its tests not reported are run one by one (-t group::test,
#              PER_TEST_TIMEOUT 120 s each), the names from the other runtime's
#              report or the group's source (CONTEST_SRC)
#   ONLY       space-separated groups (default: every group of `contest list`)
#
# Environment: the host as it is (hybrid cgroups, v1 controllers; no CRIU, no
# systemd, no Intel RDT): the tests that need those skip or fail on both sides.
# Output: $OUT/contest.tsv, $OUT/contest-summary.txt; raw logs under
# $WORKDIR/runs/contest-<stamp>/. Clean-up: containers left by a test (their ids
# are contest's UUIDs, new since the run began) are deleted with -f from each
# runtime's default root; containers of tests that used a root of their own are
# found by their cgroups (new since the start, named by a UUID): killed, and the
# cgroups removed; processes left under the run's directory are killed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BERTH=$(berth_binary "${1:-}")
CONTEST=${CONTEST:-$WORKDIR/bin/contest}
RUNTIMETEST=${RUNTIMETEST:-$WORKDIR/bin/runtimetest}
BUNDLE=${BUNDLE:-$WORKDIR/src/youki/tests/contest/contest/bundle.tar.gz}
RUNC=${RUNC:-/usr/sbin/runc}
GROUP_TIMEOUT=${GROUP_TIMEOUT:-300}
for f in "$CONTEST" "$RUNTIMETEST" "$BUNDLE"; do [ -e "$f" ] || die "$f not found (build contest and runtimetest from youki's tests/contest)"; done

STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$WORKDIR/runs/contest-$STAMP
TMP=$(mktemp -d /tmp/bcct.XXXXXX)
mkdir -p "$RAW"
ln "$BERTH" "$TMP/berth-runtime" 2>/dev/null || cp "$BERTH" "$TMP/berth-runtime"
cp "$BUNDLE" "$TMP/bundle.tar.gz"
UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
ids() { "$1" list -q 2>/dev/null | grep -E "$UUID_RE" | sort || true; }
ids "$TMP/berth-runtime" >"$TMP/berth.before"
ids "$RUNC" >"$TMP/runc.before"
cgroup_dirs >"$TMP/cgroups.before"
reap() { # runtime before-file: delete the containers that a test left behind
    local id
    for id in $(comm -13 "$2" <(ids "$1")); do timeout 20 "$1" delete -f "$id" >/dev/null 2>&1 || true; done
}
cleanup() {
    local rc=$?
    set +e
    reap "$TMP/berth-runtime" "$TMP/berth.before"
    reap "$RUNC" "$TMP/runc.before"
    # contest gives some tests a --root of their own (<tmp>/runtime) that the reap
    # above cannot see: what such a test abandons is found by its cgroup, named
    # by the container's UUID
    reap_new_cgroups "$TMP/cgroups.before" '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    local left
    left=$(procs_under "$TMP" | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -n "${left// /}" ] && kill -KILL $left 2>/dev/null
    unmount_under "$TMP"
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# `contest list` prints the groups, then exits 101 (a panic at its end): keep the names
# `contest list` prints the groups, then exits 101 (a panic at its end): keep the names
GROUPS_=${ONLY:-$(cd "$TMP" && { "$CONTEST" list 2>/dev/null || true; } | grep -E '^[A-Za-z0-9_]+$')}
run_contest() { # runtime log timeout selector
    local rc=0
    (cd "$TMP" && RUNTIME_KIND=runc RUST_BACKTRACE=0 timeout -k 10 "$3" \
        "$CONTEST" run --runtime "$1" --runtimetest "$RUNTIMETEST" -t "$4" \
        </dev/null >>"$2" 2>&1) || rc=$?
    return $rc
}
reported() { sed -nE 's/^[0-9]+ \/ [0-9]+ : (.*) : (ok|not ok|skipped|aborted)$/\1/p' "$1" | sort -u; }
source_names() { # group -> the test names its source declares (Test::new("name", ...))
    local f
    f=$(grep -rlE "TestGroup::new\(\"$1\"\)" "$CONTEST_SRC" 2>/dev/null | head -1 || true)
    [ -n "$f" ] || return 0
    tr '\n' ' ' <"$f" | grep -oE '(Conditional)?Test::new\( *"[^"]+"' | sed -E 's/.*"([^"]+)"/\1/' | sort -u || true
}
CONTEST_SRC=${CONTEST_SRC:-$(dirname "$BUNDLE")/src}
PER_TEST_TIMEOUT=${PER_TEST_TIMEOUT:-120}
for g in $GROUPS_; do
    declare -A RC=()
    for side in "berth:$TMP/berth-runtime" "runc:$RUNC"; do
        name=${side%%:*} rt=${side#*:}
        log "$name: $g"
        rc=0
        run_contest "$rt" "$RAW/$name-$g.log" "$GROUP_TIMEOUT" "$g" || rc=$?
        RC[$name]=$rc
        echo "$g $rc" >>"$RAW/$name-groups.txt"
        [ "$rc" = 124 ] && log "$name: $g hit the group timeout ($GROUP_TIMEOUT s)"
        reap "$rt" "$TMP/$name.before"
    done
    # A panic in one test (an unwrap in contest) or a hang loses the whole group's
    # report: then each test not reported is run alone (`-t group::test`), its
    # names from the other runtime's report, else from the group's source.
    for side in "berth:$TMP/berth-runtime" "runc:$RUNC"; do
        name=${side%%:*} rt=${side#*:}
        other=runc; [ "$name" = runc ] && other=berth
        if [ "${RC[$name]}" = 0 ] && ! grep -q "panicked at" "$RAW/$name-$g.log"; then continue; fi
        names=$(reported "$RAW/$other-$g.log")
        [ -n "$names" ] || names=$(source_names "$g")
        for t in $(comm -23 <(echo "$names" | sort -u) <(reported "$RAW/$name-$g.log")); do
            [ -n "$t" ] || continue
            log "$name: $g::$t alone"
            echo "# rerun $g::$t alone" >"$TMP/one.log"
            rc=0
            run_contest "$rt" "$TMP/one.log" "$PER_TEST_TIMEOUT" "$g::$t" || rc=$?
            if ! grep -qE "^[0-9]+ / [0-9]+ : .* : (ok|not ok|skipped)$" "$TMP/one.log"; then
                why=$(grep -A1 "panicked at" "$TMP/one.log" | sed -n 2p | cut -c1-240 || true)
                [ "$rc" = 124 ] && why="timed out after $PER_TEST_TIMEOUT s"
                printf '1 / 1 : %s : aborted\n\t%s\n' "$t" "${why:-contest exited $rc without a report}" >>"$TMP/one.log"
            fi
            cat "$TMP/one.log" >>"$RAW/$name-$g.log"
            reap "$rt" "$TMP/$name.before"
        done
    done
    unset RC
done

for name in berth runc; do
    python3 - "$RAW" "$name" "$GROUPS_" >"$RAW/$name.tsv" <<'PYEOF'
import os, re, sys
raw, name, groups = sys.argv[1], sys.argv[2], sys.argv[3].split()
for g in groups:
    p = os.path.join(raw, "%s-%s.log" % (name, g))
    lines = open(p, errors="replace").read().split("\n") if os.path.exists(p) else []
    res, cur, msgs = {}, None, []
    panic = ""
    for i, l in enumerate(lines):
        if "panicked at" in l and not panic:
            panic = (l.strip() + " " + (lines[i + 1].strip() if i + 1 < len(lines) else ""))[:240]
    def flush():
        if cur and cur[0] not in res:
            res[cur[0]] = (cur[1], " ".join(m.strip() for m in msgs if m.strip())[:300])
    for l in lines:
        m = re.match(r"^(\d+) / (\d+) : (.*) : (ok|not ok|skipped|aborted)$", l)
        if m:
            flush(); msgs = []
            cur = (m.group(3), {"ok": "ok", "not ok": "fail", "skipped": "skip", "aborted": "aborted"}[m.group(4)])
        elif l.startswith("#") or "panicked at" in l or re.match(r"^\s+\d+: |^\s+at |^note: ", l):
            flush(); cur = None
        elif cur and l.strip():
            msgs.append(l)
    flush()
    for n, (o, msg) in res.items():
        print("%s::%s\t%s\t%s" % (g, n, o, msg.replace("\t", " ")))
    if not res:
        why = ("contest panicked: " + panic) if panic else "no test reported (timeout?)"
        print("%s::*\taborted\t%s" % (g, why.replace("\t", " ")))
PYEOF
done
python3 "$HERE/compare.py" contest "$RAW/berth.tsv" "$RAW/runc.tsv" runc "$OUT" \
    "date: $(date -u +%Y-%m-%dT%H:%MZ); berth: $BERTH ($("$BERTH" --version 2>/dev/null | head -1)); reference: $("$RUNC" --version | head -1)" \
    "suite: youki-dev/youki $(cat "$WORKDIR/src/youki/.suite-commit" 2>/dev/null || echo '?') tests/contest, RUNTIME_KIND=runc, one invocation per group, group timeout ${GROUP_TIMEOUT} s; raw: $RAW"
