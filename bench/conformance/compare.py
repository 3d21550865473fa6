#!/usr/bin/env python3
"""compare.py SUITE BERTH.tsv REF.tsv REFNAME OUT_DIR [META...]

Each input is one line per test: name<TAB>outcome<TAB>message, outcome one of
ok, fail, skip, error, timeout, aborted. Writes OUT_DIR/SUITE.tsv (test, berth,
reference, and both messages), OUT_DIR/SUITE-summary.txt (totals of each side
from the same run, and the lists of what differs), and prints the summary."""
import collections, os, sys

suite, bfile, rfile, refname, outdir = sys.argv[1:6]
meta = sys.argv[6:]

def load(p):
    d = collections.OrderedDict()
    if os.path.exists(p):
        for line in open(p, errors="replace"):
            line = line.rstrip("\n")
            if not line:
                continue
            parts = (line.split("\t") + ["", ""])[:3]
            d[parts[0]] = (parts[1], parts[2])
    return d

b, r = load(bfile), load(rfile)
names = list(r) + [n for n in b if n not in r]

def bucket(o):  # the totals' columns: ok / fail (fail, error, timeout, aborted, missing) / skip
    return {"ok": "ok", "skip": "skip"}.get(o, "fail")

def totals(d):
    c = collections.Counter()
    for n in names:
        o = d.get(n, ("missing", ""))[0]
        c[o] += 1
    return c

tb, tr = totals(b), totals(r)
os.makedirs(outdir, exist_ok=True)
with open(os.path.join(outdir, suite + ".tsv"), "w") as f:
    f.write("test\tberth\t%s\tberth_message\t%s_message\n" % (refname, refname))
    for n in names:
        bo, bm = b.get(n, ("missing", ""))
        ro, rm = r.get(n, ("missing", ""))
        f.write("\t".join([n, bo, ro, bm[:300], rm[:300]]) + "\n")

def line(label, c):
    ok = c["ok"]; skip = c["skip"]; fail = sum(v for k, v in c.items() if k not in ("ok", "skip"))
    detail = ", ".join("%s %d" % (k, v) for k, v in sorted(c.items()) if k not in ("ok", "skip"))
    return "%-8s %4d ok / %4d fail / %4d skip   (fail = %s)" % (label, ok, fail, skip, detail or "none")

lines = ["%s: %d tests" % (suite, len(names))] + meta + [line("berth", tb), line(refname, tr), ""]
groups = collections.OrderedDict([
    ("ok on %s, not ok on berth" % refname, lambda bo, ro: ro == "ok" and bo != "ok"),
    ("ok on berth, not ok on %s" % refname, lambda bo, ro: bo == "ok" and ro != "ok"),
    ("not ok on both", lambda bo, ro: bo not in ("ok", "skip") and ro not in ("ok", "skip")),
    ("skipped on one side only", lambda bo, ro: (bo == "skip") != (ro == "skip") and "ok" not in (bo, ro)),
])
for title, pred in groups.items():
    sel = [n for n in names if pred(b.get(n, ("missing", ""))[0], r.get(n, ("missing", ""))[0])]
    lines.append("## %s: %d" % (title, len(sel)))
    for n in sel:
        lines.append("  %s  [berth %s, %s %s]  %s" % (n, b.get(n, ("missing", ""))[0], refname,
                                                       r.get(n, ("missing", ""))[0], b.get(n, ("", ""))[1][:160]))
    lines.append("")
text = "\n".join(lines)
open(os.path.join(outdir, suite + "-summary.txt"), "w").write(text + "\n")
print(text)
