#!/usr/bin/env python3
"""N containers started in parallel: the time until all of them run.

    parallel.py LABEL N REPS OUT.json -- CLI...

CLI is the engine's command prefix (e.g. `berth -H unix:///x.sock`). Each
repetition:
  1. starts N `CLI run -d busybox sleep 1000` processes at once, without
     waiting for any;
  2. waits for all of them (t_cli: every CLI has returned, all exit 0 or the
     repetition fails);
  3. polls `CLI ps -q` every 20 ms until it lists N containers (t_all: the
     figure to quote; the clock starts before the first CLI is spawned);
  4. removes them all (`CLI rm -f` on `ps -aq`, podman with `-t 0`) and checks
     that `ps -aq` is empty (t_rm, not part of the figure).
Writes {"label", "n", "reps": [{"t_cli", "t_all", "t_rm"}...]} to OUT.json.
"""
import json
import subprocess
import sys
import time

TIMEOUT = 600.0


def ids(cli, all_=False):
    out = subprocess.run(cli + ["ps", "-q"] + (["-a"] if all_ else []),
                         check=True, capture_output=True, text=True).stdout
    return out.split()


def remove_all(cli, podman):
    left = ids(cli, all_=True)
    if left:
        cmd = cli + ["rm", "-f"] + (["-t", "0"] if podman else []) + left
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    left = ids(cli, all_=True)
    if left:
        raise SystemExit(f"containers left after rm -f: {left}")


def one(cli, n, podman):
    remove_all(cli, podman)
    t0 = time.monotonic()
    procs = [subprocess.Popen(cli + ["run", "-d", "busybox", "sleep", "1000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(n)]
    errs = []
    for p in procs:
        _, err = p.communicate(timeout=TIMEOUT)
        if p.returncode != 0:
            errs.append(f"exit {p.returncode}: {err.decode(errors='replace').strip()}")
    t_cli = time.monotonic() - t0
    if errs:
        remove_all(cli, podman)
        raise SystemExit(f"{len(errs)} of {n} `run -d` failed; first: {errs[0]}")
    while True:
        running = len(ids(cli))
        if running >= n:
            break
        if time.monotonic() - t0 > TIMEOUT:
            raise SystemExit(f"only {running} of {n} running after {TIMEOUT} s")
        time.sleep(0.02)
    t_all = time.monotonic() - t0
    t1 = time.monotonic()
    remove_all(cli, podman)
    t_rm = time.monotonic() - t1
    return {"t_cli": t_cli, "t_all": t_all, "t_rm": t_rm}


def main():
    if len(sys.argv) < 7 or sys.argv[5] != "--":
        sys.exit(__doc__)
    label, n, reps, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    cli = sys.argv[6:]
    podman = "podman" in cli[0]
    res = []
    for i in range(reps):
        r = one(cli, n, podman)
        print(f"  {label} n={n} rep {i + 1}: all running {r['t_all']:.3f} s "
              f"(CLIs returned {r['t_cli']:.3f} s), rm -f {r['t_rm']:.3f} s", file=sys.stderr)
        res.append(r)
        time.sleep(1)
    with open(out, "w") as f:
        json.dump({"label": label, "n": n, "reps": res}, f, indent=1)


if __name__ == "__main__":
    main()
