#!/usr/bin/env bash
# bench/conformance/dockerpy.sh [BERTH] — docker-py's integration tests
# (docker/docker-py tests/integration) against berth's daemon and a private
# dockerd 20.10, side by side in one run (the two engines run at the same time,
# each its own pytest, each test file a group of its own).
#
#   BERTH       the berth binary (argument or env; default: scripts/build-berth)
#   WORKDIR     /work/conf: the suite checked out at $WORKDIR/src/docker-py
#               (DOCKERPY_SRC), a python with pytest, pytest-timeout, paramiko,
#               requests, websocket-client at $WORKDIR/venv/bin/python (PYTHON);
#               the suite's own `docker` package is used (PYTHONPATH)
#   DOCKERD     /usr/sbin/dockerd;  DOCKER (CLI for the import) docker
#   PER_TEST_TIMEOUT  60 s (pytest-timeout, signal method: the test fails, the
#               group goes on);  GROUP_TIMEOUT  1500 s per test file (timeout(1))
#   ENGINES     "berth dockerd" (either alone to rerun one side)
#   ONLY        a space-separated list of test files (default: every group)
#
# Exclusions, identical for both engines: the swarm tests (api_swarm, api_service,
# api_secret, api_config, models_swarm, models_services, models_nodes and the
# three network tests that init a swarm), the plugin tests (api_plugin: they
# pull plugins from Docker Hub), the credential-store tests (credentials/: need
# docker-credential-pass and gpg, they test the SDK alone). No registry is
# reachable: the images are stand-ins made here from Debian's busybox-static
# (busybox:latest, busybox:buildroot-2014.02, alpine:3.10, alpine:latest,
# imported into each engine), and the tests that pull fail on both engines.
# API version 1.41 on both (DOCKER_TEST_API_VERSION): dockerd 20.10's highest.
#
# Output: $OUT/dockerpy.tsv (per test: berth, dockerd), $OUT/dockerpy-summary.txt;
# raw junit XML and logs under $WORKDIR/runs/dockerpy-<stamp>/.
# Each daemon runs in a scratch network namespace of its own (`unshare -n sleep
# infinity` holds it; `nsenter --net=`): the bridges, veths and nftables tables
# that the tests' containers and networks make stay there and go with it; the
# suite talks to the daemons over their unix sockets. dockerd gets a bridge made
# in its namespace (never --bridge=none: it would delete a docker0 it finds) and
# --iptables=false --ip-masq=false --ip-forward=false.
# Clean-up (trap, also on failure or ^C): every container of both engines, both
# daemons (and dockerd's containerd), processes left in the namespaces or under the
# run's dirs, the namespace holders, mounts under the run's dirs, new empty
# cgroups. The host's network (docker0, rules, links) is never touched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck source=../lib/netns.sh
source "$REPO/bench/lib/netns.sh"
HOLDERS=()
NS_INODES=()

BERTH=$(berth_binary "${1:-}")
SUITE=${DOCKERPY_SRC:-$WORKDIR/src/docker-py}
PY=${PYTHON:-$WORKDIR/venv/bin/python}
DOCKERD=${DOCKERD:-/usr/sbin/dockerd}
DOCKER=${DOCKER:-$(command -v docker)}
PER_TEST_TIMEOUT=${PER_TEST_TIMEOUT:-60}
GROUP_TIMEOUT=${GROUP_TIMEOUT:-1500}
ENGINES=${ENGINES:-berth dockerd}
BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -d "$SUITE/tests/integration" ] || die "docker-py not found at $SUITE (fetch docker/docker-py, check it out there)"
"$PY" -c 'import pytest, pytest_timeout, paramiko, requests' || die "$PY lacks pytest/pytest-timeout/paramiko/requests"

STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$WORKDIR/runs/dockerpy-$STAMP
TMP=$(mktemp -d /tmp/bcdp.XXXXXX)
RUN=/run/bcdp-$$
mkdir -p "$RAW" "$RUN"
BERTH_PID='' DOCKERD_PID='' CONTAINERD_PID=''
BERTH_SOCK=$RUN/b.sock DOCKER_SOCK=$RUN/d.sock
find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort >"$TMP/cgroups.before"

stop_daemon() { # pid seconds
    alive "$1" || return 0
    kill -TERM "$1" 2>/dev/null || true
    wait_gone "$1" "$2" || { kill -KILL "$1" 2>/dev/null || true; wait_gone "$1" 5 || true; }
}
rm_all() { # cli...
    local ids
    ids=$(timeout 60 "$@" ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$ids" ] || timeout 120 "$@" rm -f -v $ids >/dev/null 2>&1 || true
}
cleanup() {
    local rc=$?
    set +e
    log "clean-up"
    jobs -p | xargs -r kill 2>/dev/null
    alive "$BERTH_PID" && rm_all "$BERTH" -H "unix://$BERTH_SOCK"
    alive "$DOCKERD_PID" && rm_all "$DOCKER" -H "unix://$DOCKER_SOCK"
    stop_daemon "$BERTH_PID" 15
    stop_daemon "$DOCKERD_PID" 20
    stop_daemon "$CONTAINERD_PID" 10
    local left h
    left=$( (procs_under "$TMP"; procs_under "$RUN"; procs_in_our_netns) | sort -u | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -n "${left// /}" ] && { log "killing leftovers: $left"; kill -KILL $left 2>/dev/null; sleep 0.5; }
    # the namespaces, and with them every bridge, veth and nftables table in them
    for h in "${HOLDERS[@]}"; do kill -KILL "$h" 2>/dev/null; done
    unmount_under "$TMP"
    unmount_under "$RUN"
    find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort >"$TMP/cgroups.after"
    comm -13 "$TMP/cgroups.before" "$TMP/cgroups.after" | while read -r cg; do rmdir "$cg" 2>/dev/null; done
    rm -rf "$TMP" "$RUN"
    exit "$rc"
}
trap cleanup EXIT
rm -rf "$SUITE/contexts" # left by an earlier run without a config file
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the stand-in images --------------------------------------------------------
ROOTFS=$TMP/rootfs
mkdir -p "$ROOTFS"/{bin,etc,proc,sys,dev,tmp,root,var,usr/bin}
chmod 1777 "$ROOTFS/tmp"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || ln -s busybox "$ROOTFS/bin/$a"; done
ln -s /bin/env "$ROOTFS/usr/bin/env"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOTFS/etc/group"
tar -C "$ROOTFS" -cf "$TMP/rootfs.tar" .
IMAGES="busybox:latest busybox:buildroot-2014.02 alpine:3.10 alpine:latest"
import_images() { # cli...
    local img
    "$@" import -c 'CMD ["/bin/sh"]' "$TMP/rootfs.tar" busybox:latest >/dev/null
    for img in $IMAGES; do [ "$img" = busybox:latest ] || "$@" tag busybox:latest "$img"; done
}

# --- the engines ----------------------------------------------------------------
export BERTH_NO_AUTOSTART=1
unset BERTH_HOST DOCKER_HOST
mkdir -p "$TMP/cli"
echo '{}' >"$TMP/cli/config.json"
export DOCKER_CONFIG=$TMP/cli
if [[ " $ENGINES " == *" berth "* ]]; then
    new_netns NS_BERTH
    log "berth: $BERTH daemon on unix://$BERTH_SOCK (network namespace $NS_BERTH)"
    nsenter --net="$NS_BERTH" setsid "$BERTH" --data-root "$TMP/berth" daemon -H "unix://$BERTH_SOCK" --exec-root "$RUN/berth" \
        --pidfile "$TMP/berth.pid" </dev/null >"$RAW/berth-daemon.log" 2>&1 &
    BERTH_PID=$!
    wait_for "$BERTH_PID" "$BERTH" -H "unix://$BERTH_SOCK" ps -q || die "berth daemon did not answer: $(tail -5 "$RAW/berth-daemon.log")"
    import_images "$BERTH" -H "unix://$BERTH_SOCK"
fi
if [[ " $ENGINES " == *" dockerd "* ]]; then
    new_netns NS_DOCKER
    BRIDGE=bcdp0
    inns "$NS_DOCKER" ip link add "$BRIDGE" type bridge
    inns "$NS_DOCKER" ip addr add 10.232.78.1/24 dev "$BRIDGE"
    inns "$NS_DOCKER" ip link set "$BRIDGE" up
    log "dockerd: $("$DOCKERD" --version) on unix://$DOCKER_SOCK, bridge $BRIDGE in network namespace $NS_DOCKER"
    echo '{}' >"$TMP/daemon.json"
    nsenter --net="$NS_DOCKER" env -u NOTIFY_SOCKET setsid "$DOCKERD" --data-root "$TMP/docker" --exec-root "$RUN/docker" \
        --pidfile "$TMP/dockerd.pid" --config-file "$TMP/daemon.json" -H "unix://$DOCKER_SOCK" \
        --iptables=false --ip-masq=false --ip-forward=false --bridge="$BRIDGE" \
        </dev/null >"$RAW/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    wait_for "$DOCKERD_PID" "$DOCKER" -H "unix://$DOCKER_SOCK" version || die "dockerd did not answer: $(tail -5 "$RAW/dockerd.log")"
    CONTAINERD_PID=$(cat "$RUN/docker/containerd/containerd.pid" 2>/dev/null || true)
    import_images "$DOCKER" -H "unix://$DOCKER_SOCK"
fi

# --- the groups -----------------------------------------------------------------
IGNORE="api_swarm_test.py api_service_test.py api_secret_test.py api_config_test.py models_swarm_test.py models_services_test.py models_nodes_test.py api_plugin_test.py"
DESELECT="not test_create_network_attachable and not test_create_network_ingress and not test_create_inspect_network_with_scope"
GROUPS_=${ONLY:-$(cd "$SUITE/tests/integration" && ls ./*_test.py | sed 's|^\./||')}
run_engine() { # name socket
    local name=$1 sock=$2 g rc
    for g in $GROUPS_; do
        [[ " $IGNORE " == *" $g "* ]] && continue
        log "$name: $g"
        rc=0
        # a HOME and DOCKER_CONFIG of its own per engine, with a config.json:
        # context_api_test writes its contexts next to the config file found, or
        # in the current directory (the suite's) when there is none; the two
        # engines' runs go at the same time
        mkdir -p "$TMP/home-$name/.docker"
        [ -f "$TMP/home-$name/.docker/config.json" ] || echo '{}' >"$TMP/home-$name/.docker/config.json"
        (cd "$SUITE" && HOME=$TMP/home-$name DOCKER_CONFIG=$TMP/home-$name/.docker \
            DOCKER_HOST=unix://$sock DOCKER_TEST_API_VERSION=1.41 PYTHONPATH=$SUITE \
            timeout -k 30 "$GROUP_TIMEOUT" "$PY" -m pytest -p no:cacheprovider -q \
            --timeout="$PER_TEST_TIMEOUT" -k "$DESELECT" \
            --junitxml="$RAW/$name-$g.xml" "tests/integration/$g" \
            >"$RAW/$name-$g.log" 2>&1) || rc=$?
        echo "$g $rc" >>"$RAW/$name-groups.txt"
        [ "$rc" = 124 ] && log "$name: $g hit the group timeout ($GROUP_TIMEOUT s)"
        # whatever a test left behind, so that the next group starts clean
        if [ "$name" = berth ]; then rm_all "$BERTH" -H "unix://$sock"; else rm_all "$DOCKER" -H "unix://$sock"; fi
    done
    return 0
}
PIDS=()
[ -n "$BERTH_PID" ] && { run_engine berth "$BERTH_SOCK" & PIDS+=($!); }
[ -n "$DOCKERD_PID" ] && { run_engine dockerd "$DOCKER_SOCK" & PIDS+=($!); }
for p in "${PIDS[@]}"; do wait "$p" || true; done

# --- per-test outcomes ---------------------------------------------------------
for name in berth dockerd; do
    "$PY" - "$RAW" "$name" "$GROUPS_" >"$RAW/$name.tsv" <<'PYEOF'
import glob, os, sys, xml.etree.ElementTree as ET
raw, name, groups = sys.argv[1], sys.argv[2], sys.argv[3].split()
seen = set()
for g in groups:
    p = os.path.join(raw, "%s-%s.xml" % (name, g))
    if not os.path.exists(p):
        if os.path.exists(os.path.join(raw, "%s-%s.log" % (name, g))):
            print("%s::*\taborted\tno junit report (group killed by its timeout or crashed)" % g)
        continue
    for tc in ET.parse(p).getroot().iter("testcase"):
        n = "%s::%s::%s" % (g, tc.get("classname", "").split(".")[-1], tc.get("name"))
        out, msg = "ok", ""
        for child in tc:
            m = (child.get("message") or (child.text or "")).replace("\n", " ").replace("\t", " ")[:300]
            if child.tag == "failure":
                out, msg = ("timeout" if "Timeout" in m else "fail"), m
            elif child.tag == "error" and out == "ok":
                out, msg = ("timeout" if "Timeout" in m else "error"), m
            elif child.tag == "skipped" and out == "ok":
                out, msg = "skip", m
        if n in seen:
            continue
        seen.add(n)
        print("%s\t%s\t%s" % (n, out, msg))
PYEOF
done
python3 "$HERE/compare.py" dockerpy "$RAW/berth.tsv" "$RAW/dockerd.tsv" dockerd "$OUT" \
    "date: $(date -u +%Y-%m-%dT%H:%MZ); berth: $BERTH ($("$BERTH" --version 2>/dev/null | head -1)); reference: $("$DOCKERD" --version) with $(runc --version | head -1)" \
    "suite: docker/docker-py $(cat "$SUITE/.suite-commit" 2>/dev/null || echo '?'); per-test timeout ${PER_TEST_TIMEOUT} s, per-group timeout ${GROUP_TIMEOUT} s; raw: $RAW"
