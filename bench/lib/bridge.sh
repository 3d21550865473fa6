# shellcheck shell=bash
# Sourced by bench/engine/run.sh and bench/images/run.sh; the caller defines note().
# --- dockerd's private bridge ----------------------------------------------------
# Never `dockerd --bridge=none`: with it dockerd deletes the host's docker0, and
# the machine's own Docker can no longer start containers ("could not find
# bridge docker0"). dockerd gets a bridge of its own instead: a unique name
# (bb + this shell's pid in hex, at most 15 bytes) and a 10.231.X.0/24 that no
# address or route on the host overlaps, chosen under the lock that the test
# harness (berth_testkit::TestBridge) takes too; the clean-up deletes it.
BRIDGE_LOCK=/tmp/berth-bridge.lock
BRIDGE=
ip4_int() { # a.b.c.d -> integer
    local IFS=.
    # shellcheck disable=SC2086
    set -- $1
    echo $((($1 << 24) | ($2 << 16) | ($3 << 8) | $4))
}
subnet_free() { # X -> 0 if 10.231.X.0/24 overlaps no address and no route of the host
    local want net len base mask
    want=$(ip4_int "10.231.$1.0")
    for net in $({
        ip -o -4 addr show | awk '{ for (i = 1; i < NF; i++) if ($i == "inet") print $(i + 1) }'
        ip -4 route show table all | awk '{ d = $1 } d ~ /^(unicast|local|broadcast|multicast|anycast|unreachable|blackhole|prohibit|throw|nat)$/ { d = $2 } d != "default" { print d }'
    }); do
        case $net in */*) len=${net#*/} ;; *) len=32 ;; esac
        base=$(ip4_int "${net%/*}") || continue
        ((len > 24)) && len=24 # equal on the shorter prefix: they overlap
        mask=$(((0xffffffff << (32 - len)) & 0xffffffff))
        ((len == 0)) && mask=0
        (((base & mask) == (want & mask))) && return 1
    done
    return 0
}
make_bridge() { # -> sets BRIDGE (up, with 10.231.X.1/24), or returns 1
    local name x i fd
    name=bb$(printf %x $$)
    command -v ip >/dev/null || { note "ip (iproute2) not found: no bridge for dockerd"; return 1; }
    exec {fd}>>"$BRIDGE_LOCK"
    command -v flock >/dev/null && flock "$fd"
    if ! ip link add "$name" type bridge; then
        exec {fd}>&-
        return 1
    fi
    BRIDGE=$name
    for ((i = 0; i < 256; i++)); do
        x=$((($$ + i) % 256))
        if subnet_free "$x"; then
            ip addr add "10.231.$x.1/24" dev "$BRIDGE" && ip link set "$BRIDGE" up
            local rc=$?
            exec {fd}>&-
            return $rc
        fi
    done
    exec {fd}>&-
    note "no free /24 in 10.231.0.0/16 for dockerd's bridge"
    return 1
}
remove_bridge() {
    [ -n "$BRIDGE" ] || return 0
    ip link del "$BRIDGE" 2>/dev/null || true
    BRIDGE=
}
