#!/usr/bin/env python3
"""The tables of bench/build's summary, from a results directory.

    summary.py RESULTS_DIR

Reads hyperfine's <case>-<engine>.json (case: cold, cached, onefile), the
memory sampler's mem-<engine>.json and /usr/bin/time -v's time-<engine>.txt,
and checks.json (what each case's extra, logged build reran or took from the
cache); prints markdown: the times, the ratios against BuildKit and the
classic builder, the issue's targets (met / not met), and the memory.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hyperfine import load, ms, results  # noqa: E402

ENGINES = [("berth", "berth"), ("classic", "docker classic builder"), ("buildkit", "docker BuildKit")]
CASES = [("cold", "cold build (`--no-cache`, fresh tag)"),
         ("cached", "fully cached rebuild"),
         ("onefile", "rebuild after one copied file changed")]


def main():
    d = sys.argv[1]
    res = results(d, CASES, ENGINES)
    checks = load(d, "checks.json") or {}

    print("## Build times (wall clock of the CLI, hyperfine)")
    print()
    print("| case | engine | median ms | mean ms | ± stddev | min ms | max ms | runs | steps rerun / from cache (a logged extra build) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for c, cname in CASES:
        for e, ename in ENGINES:
            r = res.get((c, e))
            chk = checks.get(f"{c}-{e}", "")
            if r is None:
                print(f"| {cname} | {ename} | n/a | | | | | | {chk} |")
                continue
            print(f"| {cname} | {ename} | {ms(r['median'])} | {ms(r['mean'])} | {ms(r['stddev'] or 0)} | "
                  f"{ms(r['min'])} | {ms(r['max'])} | {len(r['times'])} | {chk} |")
    print()

    print("## Ratios (medians)")
    print()
    print("| case | berth / BuildKit | BuildKit / berth | berth / classic | classic / berth |")
    print("|---|---:|---:|---:|---:|")
    for c, cname in CASES:
        b = res.get((c, "berth"))
        cells = []
        for other in ("buildkit", "classic"):
            o = res.get((c, other))
            if b and o:
                cells += [f"{b['median'] / o['median']:.2f}", f"{o['median'] / b['median']:.2f}x"]
            else:
                cells += ["n/a", "n/a"]
        print(f"| {cname} | " + " | ".join(cells) + " |")
    print()

    print("## Targets (issue 12), against BuildKit")
    print()
    print("| target | figure | |")
    print("|---|---:|---|")
    targets = [
        ("cold", "cold build no slower than BuildKit: berth / BuildKit ≤ 1.0", lambda b, k: b / k, lambda v: v <= 1.0, "{:.2f}"),
        ("cached", "fully cached rebuild at least 5x faster: BuildKit / berth ≥ 5", lambda b, k: k / b, lambda v: v >= 5.0, "{:.2f}x"),
        ("onefile", "one-file rebuild at least 2x faster: BuildKit / berth ≥ 2", lambda b, k: k / b, lambda v: v >= 2.0, "{:.2f}x"),
    ]
    for c, what, f, ok, fmt in targets:
        b, k = res.get((c, "berth")), res.get((c, "buildkit"))
        if not b or not k:
            print(f"| {what} | n/a | BuildKit or berth missing |")
            continue
        v = f(b["median"], k["median"])
        cl = res.get((c, "classic"))
        extra = f"; against the classic builder: {fmt.format(f(b['median'], cl['median']))}" if cl else ""
        print(f"| {what} | {fmt.format(v)} | {'met' if ok(v) else 'NOT met'} ({ms(b['median'])} ms vs {ms(k['median'])} ms{extra}) |")
    print()

    print("## Peak memory during one cold build")
    print()
    print("| engine | daemon peak RSS MiB (VmHWM, reset before the build) | containerd peak MiB | all engine processes, peak of the sum MiB (sampled) | other processes seen | samples (mean period) | client max RSS MiB (`time -v`) | build wall s |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    mib = lambda k: f"{k / 1024:.1f}" if k is not None else "n/a"
    for e, ename in ENGINES:
        m = load(d, f"mem-{e}.json")
        tpath = os.path.join(d, f"time-{e}.txt")
        client = wall = None
        if os.path.exists(tpath):
            for line in open(tpath):
                line = line.strip()
                if line.startswith("Maximum resident set size"):
                    client = int(line.rsplit(":", 1)[1])
                elif line.startswith("Elapsed (wall clock)"):
                    t = line.rsplit(": ", 1)[1].split(":")
                    wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(t)))
        if m is None:
            print(f"| {ename} | n/a | | | | | {mib(client)} | {wall if wall is not None else 'n/a'} |")
            continue
        named = m["named"]
        daemon = named.get("daemon") or named.get("dockerd") or {}
        ctd = named.get("containerd")
        kinds = {}
        for base, _ in m["others"].values():
            kinds[base] = kinds.get(base, 0) + 1
        period = f"{m['duration_s'] / m['samples'] * 1000:.1f} ms" if m["samples"] else "n/a"
        seen = ", ".join(f"{n}× {b}" for b, n in sorted(kinds.items())) or "none"
        print(f"| {ename} | {mib(daemon.get('hwm_kib'))} | {mib(ctd.get('hwm_kib')) if ctd else '—'} | "
              f"{mib(m['total_max_kib'])} | {seen} | {m['samples']} ({period}) | {mib(client)} | {f'{wall:.2f}' if wall is not None else 'n/a'} |")
    print()
    print("The daemon's and containerd's peaks are exact (`/proc/PID/clear_refs` reset the high-water mark "
          "just before the build; VmHWM read just after). The sum over all the engine's processes (daemon, "
          "containerd, shims, runc, dockerd's re-exec helpers: every process whose command line names the "
          "engine's data root or exec root) is sampled, so a short-lived process's peak can be missed. "
          "The memory build is an extra cold build with the sampler running beside it (its wall time is "
          "not a timed figure).")


if __name__ == "__main__":
    main()
