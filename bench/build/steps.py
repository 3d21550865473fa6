#!/usr/bin/env python3
"""What one logged build reran and what it took from the cache.

    steps.py KIND LOG        KIND: classic (berth's and the classic builder's
                             `Step i/N` output) or buildkit (plain progress)

Prints one line, e.g. "6 rerun / 4 cached of 10". FROM is not counted (it
is never cached or rerun). For BuildKit only the steps that are vertices of
its graph count (WORKDIR, COPY, RUN; ENV, LABEL, EXPOSE and CMD only change
the image config and are never listed).
"""
import re
import sys


def classic(lines):
    steps = []  # [instruction, cached]
    for line in lines:
        m = re.match(r"Step \d+/\d+ : (\S+)", line)
        if m:
            steps.append([m.group(1).upper(), False])
        elif "---> Using cache" in line and steps:
            steps[-1][1] = True
    steps = [s for s in steps if s[0] != "FROM"]
    return len(steps), sum(1 for s in steps if s[1])


def buildkit(lines):
    names, cached, done = {}, set(), set()
    for line in lines:
        m = re.match(r"#(\d+) \[([^\]]+)\] (\S+)", line)
        if m and m.group(1) not in names:
            names[m.group(1)] = (m.group(2), m.group(3).upper())
            continue
        m = re.match(r"#(\d+) (CACHED|DONE)", line)
        if m:
            (cached if m.group(2) == "CACHED" else done).add(m.group(1))
    steps = [n for n, (stage, ins) in names.items()
             if not stage.startswith("internal") and ins != "FROM"]
    return len(steps), sum(1 for n in steps if n in cached)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("classic", "buildkit"):
        sys.exit(__doc__)
    with open(sys.argv[2], errors="replace") as f:
        lines = [l.rstrip("\n") for l in f]
    total, hit = (classic if sys.argv[1] == "classic" else buildkit)(lines)
    print(f"{total - hit} rerun / {hit} cached of {total}")


if __name__ == "__main__":
    main()
