#!/usr/bin/env python3
"""Times commands round-robin, in a shuffled order each round, so that slow
drifts of a noisy machine (deferred network-namespace cleanup, other jobs)
fall on every command alike. hyperfine times one command's series after the
other's, which on these machines moved the ratio by 30% from run to run.

usage: interleave.py ROUNDS OUT.json NAME=COMMAND [NAME=COMMAND ...]
Prints a table of medians and means (ms) and writes every sample to OUT.json.
"""
import json
import os
import random
import shlex
import statistics
import sys
import time


def run(argv):
    pid = os.posix_spawn(argv[0], argv, os.environ)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main():
    rounds, out, specs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    cmds = [(s.split("=", 1)[0], shlex.split(s.split("=", 1)[1])) for s in specs]
    samples = {name: [] for name, _ in cmds}
    for warm in range(3):
        for name, argv in cmds:
            run(argv)
    for _ in range(rounds):
        order = cmds[:]
        random.shuffle(order)
        for name, argv in order:
            t0 = time.perf_counter()
            code = run(argv)
            samples[name].append((time.perf_counter() - t0) * 1e3)
            if code != 0:
                sys.exit(f"{name}: exit code {code}: {' '.join(argv)}")
    with open(out, "w") as f:
        json.dump(samples, f)
    print("| runtime | median ms | mean ms | p10 ms | p90 ms | runs |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in samples.items():
        q = statistics.quantiles(s, n=10)
        print(f"| {name} | {statistics.median(s):.2f} | {statistics.mean(s):.2f} | "
              f"{q[0]:.2f} | {q[-1]:.2f} | {len(s)} |")
    first, *others = list(samples)
    print()
    for other in others:
        a, b = samples[first], samples[other]
        print(f"{first}/{other}: median {statistics.median(a) / statistics.median(b):.2f}x, "
              f"mean {statistics.mean(a) / statistics.mean(b):.2f}x")


if __name__ == "__main__":
    main()
