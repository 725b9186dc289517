#!/usr/bin/env python3
"""The cost of rmq's statistics and metrics (bench/metrics-overhead.sh): collect the runs of the
variants (before, off, on) into bench/results/metrics-overhead.json, and render its BENCHMARKS.md
section."""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULT = os.path.join(HERE, "results", "metrics-overhead.json")
ORDER = ["before", "off", "on"]


def phase_name(p):
    """`sync 128 B x64` style name of a driver phase."""
    name = "%s %s B" % (p.get("phase"), p.get("size"))
    return name + (" x%s" % p["threads"] if p.get("threads") else "")


def rmq_phases(path):
    """{phase name: msg/s} of the rmq peer in one run's results.json."""
    with open(path) as f:
        res = json.load(f)
    peer = next(p for p in res["peers"] if p["peer"] == "rmq")
    return {phase_name(p): p.get("tps") for p in peer.get("phases", []) if p.get("ok")}


def ratio(row, a, b):
    """median(a) / median(b) of a row, or None when either is missing."""
    if not row.get(a) or not row.get(b):
        return None
    return statistics.median(row[a]) / statistics.median(row[b])


def collect(args):
    runs, scrapes = {}, {}
    for item in args.runs:
        head, path = item.split("=", 1)
        variant, count = head.split(":", 1)
        runs.setdefault(variant, []).append(rmq_phases(path))
        scrapes.setdefault(variant, []).append(int(count))
    phases = list(runs["off"][0]) if runs.get("off") else []
    rows = []
    for ph in phases:
        row = {"phase": ph}
        for v, results in runs.items():
            row[v] = [r[ph] for r in results if r.get(ph)]
        row["onOverOff"] = ratio(row, "on", "off")
        row["onOverBefore"] = ratio(row, "on", "before")
        rows.append(row)
    out = {"command": args.command, "beforeRev": args.before_rev, "afterRev": args.after_rev,
           "measureMs": int(args.measure_ms), "warmupMs": int(args.warmup_ms),
           "loadavgStart": args.load_start, "loadavgEnd": args.load_end, "scrapes": scrapes,
           "rows": rows}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return 0


def cell(xs):
    """Median msg/s and every run in brackets."""
    if not xs:
        return "-"
    return "%d (%s)" % (statistics.median(xs), ", ".join("%d" % x for x in xs))


def overhead_section():
    """The BENCHMARKS.md section, or nothing when no measurement was saved."""
    if not os.path.exists(RESULT):
        return []
    with open(RESULT) as f:
        r = json.load(f)
    if "scrapes" not in r:
        return []  # the older two-build format: superseded
    L = ["## Cost of the statistics and metrics", ""]
    L.append("`%s`, load average %s at the start, %s at the end (the benchmark's own driver threads "
             "and broker: nothing else ran). Each variant runs `bench/run.sh --quick --peers rmq` with "
             "phases of %.0f s after %.0f s of warm-up, alternately: **before** = rmq %s (no per-topic statistics, no "
             "request histogram, no fsync timing); **off** = rmq %s with `httpEnable=false` (the "
             "statistics the admin views read are still kept); **on** = rmq %s with `/metrics` "
             "scraped every second during the run (%s scrapes per run). Median msg/s (every run in "
             "brackets)." % (r["command"], r["loadavgStart"], r["loadavgEnd"],
                              r.get("measureMs", 0) / 1000, r.get("warmupMs", 0) / 1000, r["beforeRev"],
                              r["afterRev"], r["afterRev"],
                              ", ".join(str(n) for n in r["scrapes"].get("on", []))))
    L.append("")
    L.append("| phase | before msg/s | off msg/s | on msg/s | on / off | on / before |")
    L.append("|---|---|---|---|---|---|")
    for row in r["rows"]:
        def rat(x):
            return "-" if x is None else "%.3f" % x
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            row["phase"], cell(row.get("before")), cell(row.get("off")), cell(row.get("on")),
            rat(row.get("onOverOff")), rat(row.get("onOverBefore"))))
    L.append("")
    return L


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    for opt in ("--load-start", "--load-end", "--before-rev", "--after-rev", "--command", "--out",
                "--measure-ms", "--warmup-ms"):
        c.add_argument(opt, required=True)
    c.add_argument("runs", nargs="+", help="VARIANT:SCRAPES=PATH/results.json (VARIANT: %s)"
                   % ", ".join(ORDER))
    args = ap.parse_args()
    return collect(args)


if __name__ == "__main__":
    sys.exit(main())
