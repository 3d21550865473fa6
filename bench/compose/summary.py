#!/usr/bin/env python3
"""The tables of bench/compose's summary, from a results directory.

    summary.py RESULTS_DIR

Reads hyperfine's <case>-<tool>.json (case: up, again, down; tool: bc-berth,
dc-dockerd, dc-berth, bc-dockerd) and checks.json (what each case's extra,
logged run left behind); prints markdown: the times, the ratios, and the
issue's targets (docker-compose on dockerd / berth compose on berth >= 5 for
every case: met / not met).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from hyperfine import load, ms, results  # noqa: E402

TOOLS = [("bc-berth", "berth compose → berth"),
         ("dc-dockerd", "docker-compose 1.29.2 → dockerd 20.10"),
         ("dc-berth", "docker-compose 1.29.2 → berth"),
         ("bc-dockerd", "berth compose → dockerd 20.10")]
CASES = [("up", "`up -d` from nothing (5 containers, network, volume)"),
         ("again", "`up -d` again, nothing changed"),
         ("down", "`down -v`")]
TARGET = 5.0


def main():
    d = sys.argv[1]
    res = results(d, CASES, TOOLS)
    checks = load(d, "checks.json") or {}
    present = [(t, n) for t, n in TOOLS if any((c, t) in res or f"{c}-{t}" in checks for c, _ in CASES)]

    print("## Times (wall clock of the client, hyperfine)")
    print()
    print("| case | tool → engine | median ms | mean ms | ± stddev | min ms | max ms | runs | what the logged extra run left |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for c, cname in CASES:
        for t, tname in present:
            r = res.get((c, t))
            chk = checks.get(f"{c}-{t}", "")
            if r is None:
                print(f"| {cname} | {tname} | n/a | | | | | | {chk} |")
                continue
            print(f"| {cname} | {tname} | {ms(r['median'])} | {ms(r['mean'])} | {ms(r['stddev'] or 0)} | "
                  f"{ms(r['min'])} | {ms(r['max'])} | {len(r['times'])} | {chk} |")
    print()

    ratios = [("dc-dockerd", "bc-berth", "docker-compose on dockerd / berth compose on berth (the target's)"),
              ("dc-berth", "bc-berth", "docker-compose on berth / berth compose on berth (the client's share)"),
              ("dc-dockerd", "dc-berth", "docker-compose on dockerd / docker-compose on berth (the engine's share, one client)"),
              ("bc-dockerd", "bc-berth", "berth compose on dockerd / berth compose on berth (the engine's share, the other client)")]
    ratios = [r for r in ratios if any((c, r[0]) in res and (c, r[1]) in res for c, _ in CASES)]
    print("## Ratios (medians; > 1: the second is faster)")
    print()
    print("| ratio | " + " | ".join(cname for _, cname in CASES) + " |")
    print("|---|" + "---:|" * len(CASES))
    for a, b, what in ratios:
        cells = []
        for c, _ in CASES:
            ra, rb = res.get((c, a)), res.get((c, b))
            cells.append(f"{ra['median'] / rb['median']:.1f}x" if ra and rb else "n/a")
        print(f"| {what} | " + " | ".join(cells) + " |")
    print()

    print("## Targets (issue 13): berth compose on berth at least 5x faster than docker-compose on dockerd")
    print()
    print("| case | docker-compose on dockerd / berth compose on berth | |")
    print("|---|---:|---|")
    for c, cname in CASES:
        b, k = res.get((c, "bc-berth")), res.get((c, "dc-dockerd"))
        if not b or not k:
            print(f"| {cname} | n/a | a side is missing |")
            continue
        v = k["median"] / b["median"]
        slow = k["min"] / b["max"]
        verdict = "met" if v >= TARGET else "NOT met"
        ok = checks.get(f"{c}-bc-berth", "").startswith("ok") and checks.get(f"{c}-dc-dockerd", "").startswith("ok")
        print(f"| {cname} | {v:.1f}x | {verdict} ({ms(b['median'])} ms vs {ms(k['median'])} ms; "
              f"docker-compose's fastest run / berth's slowest: {slow:.1f}x; "
              f"{'both checks ok' if ok else 'a CHECK FAILED, see above'}) |")


if __name__ == "__main__":
    main()
