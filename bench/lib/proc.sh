# shellcheck shell=bash
# Sourced by the benchmarks' run.sh: waiting on and cleaning up after the
# processes and mounts a benchmark starts.
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
wait_gone() { # pid seconds -> 0 once the pid is gone
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        alive "$1" || return 0
        sleep 0.1
    done
    return 1
}
wait_for() { # pid cmd...: until cmd succeeds (60 s) or pid dies
    local pid=$1 i
    shift
    for ((i = 0; i < 240; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        alive "$pid" || return 1
        sleep 0.25
    done
    return 1
}
unmount_under() { # dir: unmount everything at or below it, deepest first
    local m
    # Mount points are field 5 of mountinfo; our paths hold no spaces.
    awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
procs_under() { # dir -> pids whose command line names it or whose root is below it
    local p root
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [ "$p" = $$ ] && continue
        [ "$p" = "${BASHPID:-}" ] && continue
        if grep -qF -- "$1" "/proc/$p/cmdline" 2>/dev/null; then
            echo "$p"
            continue
        fi
        root=$(readlink "/proc/$p/root" 2>/dev/null || true)
        case "$root" in "$1"/*) echo "$p" ;; esac
    done
    return 0
}
