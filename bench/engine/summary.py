#!/usr/bin/env python3
"""The tables of summary.md, from the JSON files run.sh left in RESULTS_DIR.

    summary.py RESULTS_DIR
"""
import json
import os
import statistics
import sys

d = sys.argv[1]
ENGINES = ["berth", "docker", "podman", "podman-crun", "docker-berth"]
NAMES = {
    "berth": "berth CLI -> berth daemon",
    "docker": "docker CLI -> dockerd 20.10",
    "podman": "podman 4.3 (runc)",
    "podman-crun": "podman 4.3 (crun, private mount ns)",
    "docker-berth": "docker CLI -> berth daemon",
}


def load(name):
    p = os.path.join(d, name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def hf(label):
    j = load(label)
    return j["results"][0] if j else None


def ms(x):
    return f"{x * 1000:.1f}"


def ratio(a, b):
    return f"{a / b:.1f}x" if a and b else "n/a"


out = []
p = out.append
targets = []

for series, title in (("run", "1. `run --rm busybox true` (CLI start to exit)"),
                      ("cycle", "2. `run -d busybox sleep 1000` + `stop -t 0` + `rm`")):
    p(f"## {title}")
    p("")
    p("| engine | median ms | mean ms | ± stddev | min ms | max ms | runs | vs berth |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|")
    base = hf(f"{series}-berth")
    for e in ENGINES:
        r = hf(f"{series}-{e}")
        if not r:
            continue
        rel = ratio(r["median"], base["median"]) if base and e != "berth" else ""
        p(f"| {NAMES[e]} | {ms(r['median'])} | {ms(r['mean'])} | {ms(r['stddev'] or 0)} | "
          f"{ms(r['min'])} | {ms(r['max'])} | {len(r['times'])} | {rel} |")
    p("")
    if base:
        for other in ("docker", "podman", "podman-crun"):
            r = hf(f"{series}-{other}")
            if r:
                x = r["median"] / base["median"]
                targets.append((f"{series}: berth >= 8x faster than {other} (median)",
                                x >= 8, f"{x:.1f}x"))

p("## Volumes: `run --rm` with 3 named volumes and a tmpfs, against plain `run --rm`")
p("")
p("| engine | with volumes, median ms | plain, median ms | added ms |")
p("|---|---:|---:|---:|")
for e in ("berth", "docker"):
    v, r = hf(f"runvol-{e}"), hf(f"run-{e}")
    if v and r:
        added = v["median"] - r["median"]
        p(f"| {NAMES[e]} | {ms(v['median'])} | {ms(r['median'])} | {ms(added)} |")
        if e == "berth":
            targets.append(("volumes: 3 named volumes + a tmpfs add under 2 ms to run --rm",
                            added < 0.002, f"{added * 1000:.2f} ms"))
p("")

p("## 3. N containers started in parallel, until `ps -q` lists all N")
p("")
p("| engine | N | all running, median s | reps (s) | CLIs returned, median s | rm -f, median s | vs berth |")
p("|---|---:|---:|---|---:|---:|---:|")
ns = sorted({int(f.split("-")[-1][:-5]) for f in os.listdir(d) if f.startswith("par-")})
for n in ns:
    base = load(f"par-berth-{n}")
    bmed = statistics.median(r["t_all"] for r in base["reps"]) if base else None
    for e in ("berth", "docker", "podman"):
        j = load(f"par-{e}-{n}")
        if not j:
            continue
        ta = [r["t_all"] for r in j["reps"]]
        med = statistics.median(ta)
        rel = ratio(med, bmed) if bmed and e != "berth" else ""
        p(f"| {NAMES[e]} | {n} | {med:.3f} | {', '.join(f'{t:.2f}' for t in ta)} | "
          f"{statistics.median(r['t_cli'] for r in j['reps']):.3f} | "
          f"{statistics.median(r['t_rm'] for r in j['reps']):.3f} | {rel} |")
        if e == "docker" and bmed:
            targets.append((f"parallel N={n}: berth >= 10x faster than docker", med / bmed >= 10,
                            f"{med / bmed:.1f}x"))
p("")

mem = load("memory") or {}
if mem:
    p("## 4. Memory (MiB; smaps_rollup)")
    p("")
    p("Daemon: berth = `berth daemon`; docker = dockerd + containerd; podman has none. "
      "Per container: (shims' total + daemon growth) / N, the container's own `sleep` not counted.")
    p("")
    p("Daemon fresh: started, one request answered, no container yet. Idle: after one `run --rm` "
      "(and, for berth, one through the docker CLI). End: after the whole benchmark, no container left.")
    p("")
    p("| engine | daemon fresh RSS / PSS | daemon idle RSS / PSS | daemon end RSS / PSS | N | shim RSS each | shim PSS each "
      "| daemon growth RSS per ctr | per container RSS | per container PSS |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    M = 1024.0
    for e in ("berth", "docker", "podman"):
        m = mem.get(e)
        if not m or "n" not in m:
            continue
        n = m["n"]
        idle, shims, after = m["idle"], m["shims"], m["daemon_after"]
        g_rss = (after["rss_kib"] - idle["rss_kib"]) / n
        g_pss = (after["pss_kib"] - idle["pss_kib"]) / n
        pc_rss = shims["rss_kib"] / n + g_rss
        pc_pss = shims["pss_kib"] / n + g_pss
        def rp(x):
            return f"{x['rss_kib'] / M:.1f} / {x['pss_kib'] / M:.1f}" if x and x["count"] else "-"
        p(f"| {e} | {rp(m.get('fresh'))} | {rp(idle)} | {rp(m.get('idle_end'))} | {n} | "
          f"{shims['rss_kib'] / n / M:.2f} | {shims['pss_kib'] / n / M:.2f} | {g_rss / M:.2f} | "
          f"{pc_rss / M:.2f} | {pc_pss / M:.2f} |")
        if e == "berth":
            if m.get("fresh"):
                f = m["fresh"]["rss_kib"] / M
                targets.append(("berth daemon RSS < 20 MB, fresh (no container yet)", f < 20, f"{f:.1f} MiB"))
            targets.append(("berth daemon RSS < 20 MB, idle after one run", idle["rss_kib"] / M < 20,
                            f"{idle['rss_kib'] / M:.1f} MiB"))
            targets.append(("berth per container RSS < 1.5 MB", pc_rss / M < 1.5, f"{pc_rss / M:.2f} MiB"))
            targets.append(("berth per container PSS < 0.4 MB", pc_pss / M < 0.4, f"{pc_pss / M:.2f} MiB"))
    p("")

ph = {e: load(f"phases-{e}") for e in ("berth", "docker")}
if any(ph.values()):
    p("## Where `run --rm` goes: Engine API calls (median ms, one kept-alive connection)")
    p("")
    p("Explicit: create, start, wait for the exit, DELETE. AutoRemove (what `run --rm` asks): "
      "create, start, wait with condition=removed.")
    p("")
    p("| daemon | create | start | wait (exit) | delete | explicit total | AutoRemove: create | start | "
      "wait (removed) | AutoRemove total | CLI `run --rm` median | CLI `ps -q` median |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for e, j in ph.items():
        if not j:
            continue
        m = j["median_s"]
        run = hf(f"run-{e}")
        ps = hf(f"ps-{e}")
        p(f"| {e} | {ms(m['create'])} | {ms(m['start'])} | {ms(m['wait'])} | {ms(m['delete'])} | "
          f"{ms(m['total'])} | {ms(m['ar_create'])} | {ms(m['ar_start'])} | {ms(m['ar_wait_removed'])} | "
          f"{ms(m['ar_total'])} | {ms(run['median']) if run else '-'} | {ms(ps['median']) if ps else '-'} |")
    p("")
    floors = [(e, hf(f"ps-{e}")) for e in ("berth", "docker", "docker-berth")]
    p("The CLI's floor, an empty `ps -q` (one process start and one round trip): " + "; ".join(
        f"{NAMES[e]} {ms(r['median'])} ms" for e, r in floors if r) + ".")
    p("")

if targets:
    p("## The issue's targets")
    p("")
    for what, ok, fig in targets:
        p(f"- {what}: {'met' if ok else 'NOT met'} ({fig})")

print("\n".join(out))
