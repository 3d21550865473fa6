# shellcheck shell=bash
# Sourced by the benchmarks that measure in scratch network namespaces
# (bench/net, bench/compose): each held by an `unshare -n sleep infinity`
# whose pid is in HOLDERS and namespace inode in NS_INODES, so that clean-up
# finds what is left in them. Needs die.
procs_in_our_netns() { # pids (not the holders) in one of our scratch namespaces
    local p ns i h
    [ "${#NS_INODES[@]}" -gt 0 ] || return 0
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        ns=$(readlink "/proc/$p/ns/net" 2>/dev/null) || continue
        for i in "${NS_INODES[@]}"; do
            [ "$ns" = "$i" ] || continue
            for h in "${HOLDERS[@]}"; do [ "$p" = "$h" ] && continue 3; done
            echo "$p"
        done
    done
    return 0
}

new_netns() { # VAR: a scratch network namespace (loopback up); VAR=/proc/<holder>/ns/net
    local pid self i
    unshare -n sleep infinity </dev/null >/dev/null 2>&1 &
    pid=$!
    HOLDERS+=("$pid")
    self=$(readlink /proc/$$/ns/net)
    for ((i = 0; i < 100; i++)); do
        [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$self" ] && break
        sleep 0.02
    done
    [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$self" ] || die "unshare -n did not make a namespace"
    NS_INODES+=("$(readlink "/proc/$pid/ns/net")")
    nsenter --net="/proc/$pid/ns/net" ip link set lo up
    printf -v "$1" %s "/proc/$pid/ns/net"
}
inns() { local ns=$1; shift; nsenter --net="$ns" "$@"; }
