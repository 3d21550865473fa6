#!/usr/bin/env bash
# bench/conformance/run.sh [BERTH] — the three conformance suites, each against
# berth and its reference in the same invocation: youki's contest (runc 1.1),
# crun's Python tests (crun 1.8), docker-py's integration tests (dockerd 20.10).
#   SUITES="contest crun dockerpy" (default: all three, in that order)
# Everything else (WORKDIR, OUT, timeouts) as each script's header says; see
# README.md here for the set-up of WORKDIR (the suites are not in this repository).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BERTH=$(berth_binary "${1:-}")
export BERTH
rc=0
for s in ${SUITES:-contest crun dockerpy}; do
    log "=== $s"
    "$HERE/$s.sh" "$BERTH" || { rc=1; log "$s.sh failed"; }
done
for s in ${SUITES:-contest crun dockerpy}; do
    [ -f "$OUT/$s-summary.txt" ] && sed -n '1,5p' "$OUT/$s-summary.txt"
done
exit $rc
