#!/usr/bin/env python3
"""N containers started in parallel on one user network: the time until all run.

    parallel.py LABEL N REPS NETWORK OUT.json -- CLI...

CLI is the engine's command prefix (e.g. `berth -H unix:///x.sock`). As
bench/engine/parallel.py, with `--network NETWORK`. Each repetition:
  1. checks that the engine has no container at all (the series must start clean);
  2. starts N `CLI run -d --network NETWORK busybox sleep 1000` processes at
     once, without waiting for any (the clock starts before the first spawn);
  3. waits for all of them (t_cli: every CLI has returned, all exit 0 or the
     repetition fails);
  4. polls `CLI ps -q` every 20 ms until it lists N containers (t_all: the
     figure to quote);
  5. outside the timing: `CLI network inspect NETWORK` must list N containers
     with N distinct IPv4 addresses (each start really joined the network);
  6. removes them all (`CLI rm -f` on `ps -aq`) and checks that `ps -aq` is
     empty (t_rm, not part of the figure).
Writes {"label", "n", "network", "reps": [{"t_cli", "t_all", "t_rm",
"addresses"}...]} to OUT.json.
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


def remove_all(cli):
    left = ids(cli, all_=True)
    if left:
        subprocess.run(cli + ["rm", "-f"] + left, check=True, stdout=subprocess.DEVNULL)
    left = ids(cli, all_=True)
    if left:
        raise SystemExit(f"containers left after rm -f: {left}")


def addresses(cli, network):
    out = subprocess.run(cli + ["network", "inspect", network],
                         check=True, capture_output=True, text=True).stdout
    nets = json.loads(out)
    conts = (nets[0].get("Containers") or {}) if nets else {}
    return sorted({c.get("IPv4Address", "") for c in conts.values()}), len(conts)


def one(cli, n, network):
    if ids(cli, all_=True):
        raise SystemExit(f"the engine has containers before the repetition: {ids(cli, all_=True)}")
    t0 = time.monotonic()
    procs = [subprocess.Popen(cli + ["run", "-d", "--network", network, "busybox", "sleep", "1000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(n)]
    errs = []
    for p in procs:
        _, err = p.communicate(timeout=TIMEOUT)
        if p.returncode != 0:
            errs.append(f"exit {p.returncode}: {err.decode(errors='replace').strip()}")
    t_cli = time.monotonic() - t0
    if errs:
        remove_all(cli)
        raise SystemExit(f"{len(errs)} of {n} `run -d --network {network}` failed; first: {errs[0]}")
    while True:
        running = len(ids(cli))
        if running >= n:
            break
        if time.monotonic() - t0 > TIMEOUT:
            raise SystemExit(f"only {running} of {n} running after {TIMEOUT} s")
        time.sleep(0.02)
    t_all = time.monotonic() - t0
    addrs, members = addresses(cli, network)
    if members != n or len([a for a in addrs if a]) != n:
        remove_all(cli)
        raise SystemExit(f"network {network} lists {members} containers and "
                         f"{len(addrs)} distinct addresses, expected {n}")
    t1 = time.monotonic()
    remove_all(cli)
    t_rm = time.monotonic() - t1
    return {"t_cli": t_cli, "t_all": t_all, "t_rm": t_rm, "addresses": len(addrs)}


def main():
    if len(sys.argv) < 8 or sys.argv[6] != "--":
        sys.exit(__doc__)
    label, n, reps, network, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    cli = sys.argv[7:]
    res = []
    for i in range(reps):
        r = one(cli, n, network)
        print(f"  {label} n={n} rep {i + 1}: all running {r['t_all']:.3f} s "
              f"(CLIs returned {r['t_cli']:.3f} s), rm -f {r['t_rm']:.3f} s", file=sys.stderr)
        res.append(r)
        time.sleep(1)
    with open(out, "w") as f:
        json.dump({"label": label, "n": n, "network": network, "reps": res}, f, indent=1)


if __name__ == "__main__":
    main()
