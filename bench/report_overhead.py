#!/usr/bin/env python3
"""The cost of rmq's statistics and metrics (bench/metrics-overhead.sh): collect the runs of the
two builds into bench/results/metrics-overhead.json, and render its BENCHMARKS.md section."""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULT = os.path.join(HERE, "results", "metrics-overhead.json")


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


def collect(args):
    runs = {"before": [], "after": []}
    for item in args.runs:
        build, path = item.split("=", 1)
        runs[build].append(rmq_phases(path))
    phases = list(runs["before"][0]) if runs["before"] else []
    rows = []
    for ph in phases:
        b = [r[ph] for r in runs["before"] if r.get(ph)]
        a = [r[ph] for r in runs["after"] if r.get(ph)]
        if b and a:
            rows.append({"phase": ph, "before": b, "after": a,
                         "ratio": statistics.median(a) / statistics.median(b)})
    out = {"command": args.command, "beforeRev": args.before_rev, "afterRev": args.after_rev,
           "loadavgStart": args.load_start, "loadavgEnd": args.load_end, "rows": rows}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    return 0


def overhead_section():
    """The BENCHMARKS.md section, or nothing when no measurement was saved."""
    if not os.path.exists(RESULT):
        return []
    with open(RESULT) as f:
        r = json.load(f)
    L = ["## Cost of the statistics and metrics", ""]
    L.append("`%s`: rmq %s (no per-topic statistics, no request histogram) against rmq %s (statistics "
             "items per topic and group for VIEW_BROKER_STATS_DATA, pull offsets, the request latency "
             "histogram, the put-latency distribution), each through `bench/run.sh --quick --peers rmq`, "
             "alternately; load average %s at the start, %s at the end. Median msg/s of the runs (every "
             "run in brackets); ratio = after / before." % (
                 r["command"], r["beforeRev"], r["afterRev"], r["loadavgStart"], r["loadavgEnd"]))
    L.append("")
    L.append("| phase | before msg/s | after msg/s | after / before |")
    L.append("|---|---|---|---|")
    for row in r["rows"]:
        def cell(xs):
            return "%d (%s)" % (statistics.median(xs), ", ".join("%d" % x for x in xs))
        L.append("| %s | %s | %s | %.3f |" % (row["phase"], cell(row["before"]), cell(row["after"]),
                                               row["ratio"]))
    L.append("")
    return L


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    for opt in ("--load-start", "--load-end", "--before-rev", "--after-rev", "--command", "--out"):
        c.add_argument(opt, required=True)
    c.add_argument("runs", nargs="+", help="before=PATH/results.json or after=PATH/results.json")
    args = ap.parse_args()
    return collect(args)


if __name__ == "__main__":
    sys.exit(main())
