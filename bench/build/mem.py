#!/usr/bin/env python3
"""Peak memory of an engine's processes during one build.

    mem.py OUT INTERVAL EXCLUDE_FILE NAME=PID... -- DIR...

NAME=PID   the engine's long-lived processes (berth: daemon=PID; docker:
           dockerd=PID containerd=PID). At start their peak RSS is reset
           (`echo 5 > /proc/PID/clear_refs`, which sets VmHWM to the current
           VmRSS), so the VmHWM read at the end is the exact peak of that
           process over the sampled window, not over its whole life.
DIR        the benchmark's scratch directories: every other process whose
           command line names one of them is the engine's too (berth shims;
           containerd-shim-runc-v2 and runc, which name dockerd's exec root
           or data root). Their VmRSS is sampled every INTERVAL seconds.
EXCLUDE_FILE  pids written there (the client's /usr/bin/time, once it is
           started) and their children are not counted: the CLI names the
           socket and the context directory, which live under DIR.

Writes "ready" to OUT.ready once the peaks are reset and sampling runs; stops
on SIGTERM/SIGINT and writes one JSON object to OUT:
  named: {NAME: {"pid", "hwm_kib" (exact peak over the window),
                 "rss_start_kib", "rss_max_sampled_kib"}}
  total_max_kib   the largest sum of VmRSS over all the engine's processes
                  (named and others) at one sample
  others_max_kib  the largest sum over the others alone at one sample
  others          {pid: [argv0's basename (and argv1 if it is a verb, as
                  in "berth shim"), max VmRSS KiB]} for every other
                  process seen
  samples, interval_s, duration_s
"""
import json
import os
import signal
import sys
import time


def status(pid):
    """-> (VmRSS KiB, VmHWM KiB, PPid) or None when the process is gone."""
    rss = hwm = ppid = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
                elif line.startswith("PPid:"):
                    ppid = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
        return None
    return rss, hwm, ppid


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None


def main():
    args = sys.argv[1:]
    if "--" not in args or len(args) < 4:
        sys.exit(__doc__)
    sep = args.index("--")
    out, interval, exclude_file = args[0], float(args[1]), args[2]
    named = {}
    for a in args[3:sep]:
        name, _, pid = a.partition("=")
        named[name] = int(pid)
    dirs = args[sep + 1:]
    me = os.getpid()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    info = {}
    for name, pid in named.items():
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError as e:
            print(f"mem.py: cannot reset the peak of {name} ({pid}): {e}", file=sys.stderr)
        s = status(pid)
        info[name] = {"pid": pid, "rss_start_kib": s[0] if s else None, "rss_max_sampled_kib": 0}
    named_pids = set(named.values())

    # pid -> argv for processes that name a scratch dir (re-checked each time:
    # a fork of a named process may exec into a container's process); pids
    # that do not are remembered as such (they are not re-read).
    unmatched = set()
    matched = {}
    excluded = set()
    others = {}
    total_max = others_max = 0
    samples = 0
    with open(out + ".ready", "w") as f:
        f.write("ready\n")
    t0 = time.monotonic()
    while not stop:
        try:
            with open(exclude_file) as f:
                excluded.update(int(x) for x in f.read().split())
        except (OSError, ValueError):
            pass
        total = other = 0
        for name, pid in named.items():
            s = status(pid)
            if s:
                total += s[0]
                info[name]["rss_max_sampled_kib"] = max(info[name]["rss_max_sampled_kib"], s[0])
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            if pid == me or pid in named_pids or pid in unmatched or pid in excluded:
                continue
            argv = cmdline(pid)
            if argv is None:
                matched.pop(pid, None)
                continue
            if not any(s in a for a in argv for s in dirs):
                if pid in matched:
                    del matched[pid]  # exec'd into something else
                unmatched.add(pid)
                continue
            s = status(pid)
            if s is None:
                continue
            if s[2] in excluded:  # a child of the client
                excluded.add(pid)
                continue
            matched[pid] = argv
            other += s[0]
            base = os.path.basename(argv[0])
            if len(argv) > 1 and argv[1][:1] not in ("-", "/"):
                base += " " + argv[1]  # "berth shim"
            prev = others.get(pid, [base, 0])
            others[pid] = [base, max(prev[1], s[0])]
        total += other
        total_max = max(total_max, total)
        others_max = max(others_max, other)
        samples += 1
        time.sleep(interval)
    duration = time.monotonic() - t0
    for name, pid in named.items():
        s = status(pid)
        info[name]["hwm_kib"] = s[1] if s else None
    json.dump({
        "named": info,
        "total_max_kib": total_max,
        "others_max_kib": others_max,
        "others": {str(k): v for k, v in sorted(others.items())},
        "samples": samples,
        "interval_s": interval,
        "duration_s": round(duration, 3),
    }, open(out, "w"), indent=1)


if __name__ == "__main__":
    main()
