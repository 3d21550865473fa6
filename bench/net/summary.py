#!/usr/bin/env python3
"""The tables of summary.md, from the files run.sh left in RESULTS_DIR.

    summary.py RESULTS_DIR

raw/tput-<case>-<rep>.json: iperf3 -J of one client run; start-<engine>-<net>.json:
hyperfine; par-<engine>.json: parallel.py.
"""
import glob
import json
import os
import re
import statistics
import sys

d = sys.argv[1]
out = []
p = out.append
targets = []


def load(name):
    path = os.path.join(d, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def fmt_list(xs):
    return ", ".join("%.2f" % x for x in xs)


def target(what, ok, detail):
    if ok is None:
        targets.append(f"- {what}: n/a ({detail})")
    else:
        targets.append(f"- {what}: **{'met' if ok else 'NOT met'}** ({detail})")


# --- 1. throughput ----------------------------------------------------------------
CASES = [
    ("raw-veth", "two namespaces joined by one veth pair, no bridge (reference)"),
    ("bare-bridge", "the same two namespaces through a bare Linux bridge, no netfilter rules"),
    ("berth-c2c", "berth: container -> container, default bridge"),
    ("docker-c2c", "docker: container -> container, its bridge"),
    ("loopback", "iperf3 on 127.0.0.1 of one namespace (upper bound)"),
    ("berth-direct", "berth's host -> container address"),
    ("berth-pub", "berth's host 127.0.0.1:PORT -> published port (nftables DNAT)"),
    ("docker-direct", "docker's host -> container address"),
    ("docker-pub", "docker's host 127.0.0.1:PORT -> published port (docker-proxy)"),
]
tput = {}
for case, _ in CASES:
    runs = []
    for path in sorted(glob.glob(os.path.join(d, "raw", f"tput-{case}-*.json")),
                       key=lambda s: int(re.search(r"-(\d+)\.json$", s).group(1))):
        with open(path) as f:
            j = json.load(f)
        end = j["end"]
        cpu = end.get("cpu_utilization_percent", {})
        runs.append({
            "gbps": end["sum_received"]["bits_per_second"] / 1e9,
            "retr": end.get("sum_sent", {}).get("retransmits", 0),
            "cpu_client": cpu.get("host_total", 0.0),
            "cpu_server": cpu.get("remote_total", 0.0),
        })
    if runs:
        tput[case] = runs


def med(case, key="gbps"):
    r = tput.get(case)
    return statistics.median(x[key] for x in r) if r else None


if tput:
    p("## 1. TCP throughput (iperf3, one stream; Gbit/s received)")
    p("")
    p("| case | what | median Gbit/s | reps | retransmits (median) | CPU % client / server (median) |")
    p("|---|---|---:|---|---:|---:|")
    for case, what in CASES:
        if case not in tput:
            continue
        r = tput[case]
        p(f"| {case} | {what} | {med(case):.2f} | {fmt_list(x['gbps'] for x in r)} | "
          f"{med(case, 'retr'):.0f} | {med(case, 'cpu_client'):.0f} / {med(case, 'cpu_server'):.0f} |")
    p("")
    p("Ratios (of medians):")
    p("")

    def ratio(a, b, what):
        if med(a) is None or med(b) is None:
            p(f"- {what}: n/a (a case is missing)")
            return None
        x = med(a) / med(b)
        p(f"- {what}: {x:.2f}")
        return x

    x = ratio("berth-c2c", "raw-veth", "berth c2c / raw veth")
    target("berth container->container within 10% of a raw veth pair (>= 0.90)",
           None if x is None else x >= 0.90, "n/a" if x is None else f"{x:.2f}")
    ratio("bare-bridge", "raw-veth", "bare bridge / raw veth (what the bridge topology itself costs)")
    ratio("berth-c2c", "bare-bridge", "berth c2c / bare bridge (what berth adds to that topology)")
    ratio("docker-c2c", "raw-veth", "docker c2c / raw veth")
    ratio("berth-c2c", "docker-c2c", "berth c2c / docker c2c")
    x = ratio("berth-pub", "docker-pub", "berth published / docker published (docker-proxy)")
    target("berth published port at least 2x docker's (>= 2.0)",
           None if x is None else x >= 2.0, "n/a" if x is None else f"{x:.2f}")
    x = ratio("berth-pub", "berth-direct", "berth published / berth direct container address")
    target("berth published port within 15% of the direct container address (>= 0.85)",
           None if x is None else x >= 0.85, "n/a" if x is None else f"{x:.2f}")
    ratio("docker-pub", "docker-direct", "docker published / docker direct container address")
    ratio("berth-pub", "loopback", "berth published / loopback")
    ratio("docker-pub", "loopback", "docker published / loopback")
    ratio("berth-direct", "docker-direct", "berth direct / docker direct")
    p("")

# --- 2. start time -------------------------------------------------------------------
def hf(label):
    j = load(label)
    return j["results"][0] if j else None


START = [("berth", "bridge"), ("berth", "none"), ("docker", "bridge"), ("docker", "none")]
rows = {k: hf(f"start-{k[0]}-{k[1]}") for k in START}
if any(rows.values()):
    p("## 2. Start time: `CLI run --rm [--network none] busybox true` (hyperfine, CLI start to exit)")
    p("")
    p("| engine | network | median ms | mean ms | ± stddev | min ms | max ms | runs |")
    p("|---|---|---:|---:|---:|---:|---:|---:|")
    for (e, n), r in rows.items():
        if not r:
            continue
        ms = lambda x: f"{x * 1000:.1f}"  # noqa: E731
        p(f"| {e} | {'default bridge' if n == 'bridge' else 'none'} | {ms(r['median'])} | {ms(r['mean'])} | "
          f"{ms(r['stddev'] or 0)} | {ms(r['min'])} | {ms(r['max'])} | {len(r['times'])} |")
    p("")
    bb, bn, db, dn = (rows[k] for k in START)
    if bb and bn:
        diff = (bb["median"] - bn["median"]) * 1000
        p(f"- berth: the bridge adds {diff:+.1f} ms to a start (median minus median; "
          f"mean minus mean {(bb['mean'] - bn['mean']) * 1000:+.1f} ms)")
        il = load("start-berth-interleaved")
        ildiff = None
        if il and il.get("bridge") and il.get("none"):
            ib, inn = il["bridge"], il["none"]
            ildiff = statistics.median(ib) - statistics.median(inn)
            p(f"- berth, the same two commands interleaved ({len(ib)} rounds, shuffled): bridge median "
              f"{statistics.median(ib):.1f} ms, none {statistics.median(inn):.1f} ms: the bridge adds {ildiff:+.1f} ms "
              f"(mean minus mean {statistics.mean(ib) - statistics.mean(inn):+.1f} ms)")
        detail = f"hyperfine {diff:+.1f} ms" + (f", interleaved {ildiff:+.1f} ms" if ildiff is not None else "")
        ok = diff <= 5.0 and (ildiff is None or ildiff <= 5.0)
        target("berth run on the default bridge at most 5 ms slower than --network none", ok, detail)
    else:
        target("berth run on the default bridge at most 5 ms slower than --network none", None, "a series is missing")
    if db and dn:
        p(f"- docker: the bridge adds {(db['median'] - dn['median']) * 1000:.1f} ms to a start")
    if bb and db:
        x = db["median"] / bb["median"]
        p(f"- docker / berth on the default bridge: {x:.1f}x (medians)")
        target("berth run on its bridge at least 10x faster than docker run on docker's bridge", x >= 10.0, f"{x:.1f}x")
    else:
        target("berth run on its bridge at least 10x faster than docker run on docker's bridge", None, "a series is missing")
    p("")

# --- 3. parallel starts ----------------------------------------------------------------
par = {e: load(f"par-{e}") for e in ("berth", "docker")}
if any(par.values()):
    n = next(v["n"] for v in par.values() if v)
    p(f"## 3. {n} containers started in parallel on one user network, until `ps -q` lists all")
    p("")
    p("| engine | N | all running, median s | reps (s) | CLIs returned, median s | rm -f, median s |")
    p("|---|---:|---:|---|---:|---:|")
    for e, v in par.items():
        if not v:
            continue
        r = v["reps"]
        p(f"| {e} | {v['n']} | {statistics.median(x['t_all'] for x in r):.3f} | "
          f"{fmt_list(x['t_all'] for x in r)} | {statistics.median(x['t_cli'] for x in r):.3f} | "
          f"{statistics.median(x['t_rm'] for x in r):.3f} |")
    p("")
    if par["berth"] and par["docker"]:
        x = (statistics.median(r["t_all"] for r in par["docker"]["reps"]) /
             statistics.median(r["t_all"] for r in par["berth"]["reps"]))
        p(f"- docker / berth: {x:.1f}x (medians)")
        target(f"{n} parallel starts on a user network at least 10x faster than docker", x >= 10.0, f"{x:.1f}x")
    else:
        target("parallel starts on a user network at least 10x faster than docker", None, "a series is missing")
    p("")

p("## Targets (issue 11)")
p("")
out.extend(targets)
print("\n".join(out))
