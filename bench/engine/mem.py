#!/usr/bin/env python3
"""Memory of a set of processes, from /proc/<pid>/smaps_rollup.

    mem.py pids PID...              the listed pids
    mem.py shims KIND SCRATCH...    the per-container processes of one engine
                                    whose command line names a SCRATCH:
                                      berth   `berth shim <container dir>`
                                      docker  containerd-shim-runc-v2
                                      podman  conmon

Prints one JSON object: {"count": n, "rss_kib": r, "pss_kib": p, "pids": [...]}.
RSS counts every resident page of each process (shared text and libraries
included, once per process); PSS divides each shared page among the processes
that map it, so the PSS of N shims adds up to what they cost together.
"""
import json
import os
import sys


def rollup(pid):
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return rss, pss


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def shim_pids(kind, scratches):
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        argv = cmdline(d)
        if not argv:
            continue
        base = os.path.basename(argv[0])
        joined = " ".join(argv)
        if not any(s in joined for s in scratches):
            continue
        if kind == "berth" and len(argv) >= 3 and argv[1] == "shim" and \
                any(argv[2].startswith(s) for s in scratches):
            yield int(d)
        elif kind == "docker" and base == "containerd-shim-runc-v2":
            yield int(d)
        elif kind == "podman" and base == "conmon":
            yield int(d)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "pids":
        pids = [int(p) for p in sys.argv[2:]]
    elif len(sys.argv) >= 4 and sys.argv[1] == "shims":
        pids = sorted(shim_pids(sys.argv[2], sys.argv[3:]))
    else:
        sys.exit(__doc__)
    rss = pss = n = 0
    seen = []
    for p in pids:
        r = rollup(p)
        if r is None:
            continue
        n += 1
        rss += r[0]
        pss += r[1]
        seen.append(p)
    print(json.dumps({"count": n, "rss_kib": rss, "pss_kib": pss, "pids": seen}))


if __name__ == "__main__":
    main()
