"""What the benchmarks' summary.py scripts share: reading a results
directory's JSON files (hyperfine's and the checks') and writing times."""
import json
import os


def load(d, name):
    """The JSON file `name` in directory `d`, or None when it is absent."""
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def ms(x):
    """Seconds as milliseconds, one decimal below 100 ms."""
    return f"{x * 1000:.0f}" if x >= 0.1 else f"{x * 1000:.1f}"


def results(d, cases, runners):
    """hyperfine's first result of <case>-<runner>.json, by (case, runner)."""
    res = {}
    for c, _ in cases:
        for r, _ in runners:
            j = load(d, f"{c}-{r}.json")
            if j:
                res[(c, r)] = j["results"][0]
    return res
