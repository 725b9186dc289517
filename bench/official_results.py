#!/usr/bin/env python3
"""bench/official_results.py: the results of bench/official.sh (Apache's own benchmark tool).

  official_results.py cell --peer P --version V --rep N --scenario S --producer-out F
                           --samples F --clk-tck HZ --messages M --rc RC [--consumer-out F]
      one scenario's result as a JSON line, read from the tools' own output and the CPU samples
      bench/official-lib.sh took once a second
  official_results.py collect --cells F --out F --command C --rev R --example-version V
                              --load-before L --load-after L
      the cells and the run's settings as bench/results/official.json
"""
import argparse
import datetime
import json
import os
import re
import sys
import time

COMPLETE = re.compile(r"\[Complete\] Send Total: (\d+) \| Send TPS: ([\d.]+) \| Max RT\(ms\): ([\d.]+) \| "
                      r"Average RT\(ms\):\s*([\d.]+) \| Send Failed: (\d+) \| Response Failed: (\d+)")
CONSUME = re.compile(r"Consume TPS: ([\d.]+)")
REPORT = re.compile(r"Current Time: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) \| Send TPS")


def parse_producer(text):
    """The Producer's summary line as a dict, or None when it never printed one.

    >>> parse_producer("x\\n[Complete] Send Total: 300000 | Send TPS: 55614 | Max RT(ms): 285 | "
    ...                "Average RT(ms):   1.151 | Send Failed: 0 | Response Failed: 2\\n")["sendTps"]
    55614.0
    >>> parse_producer("Exception in thread main") is None
    True
    """
    m = COMPLETE.search(text)
    if not m:
        return None
    return {"sent": int(m.group(1)), "sendTps": float(m.group(2)), "maxRtMs": float(m.group(3)),
            "avgRtMs": float(m.group(4)), "sendFailed": int(m.group(5)), "responseFailed": int(m.group(6))}


def best_consume_tps(text):
    """The Consumer's best reported rate (a sliding window of up to 10 reports), or None.

    >>> best_consume_tps("Consume TPS: 47468 | AVG\\nConsume TPS: 51330 | AVG\\n")
    51330.0
    """
    rates = [float(x) for x in CONSUME.findall(text)]
    return max(rates) if rates else None


def report_window(text):
    """(start, end) in epoch seconds of the last 10 s the Producer reported on while sending: its
    once-a-second "Current Time: ..." lines (local time, which this machine's clock and the
    samples share). None when it printed fewer than 2.

    >>> w = report_window("\\n".join("Current Time: 2026-12-06 20:35:%02d,250 | Send TPS: 1" % s for s in range(30)))
    >>> round(w[1] - w[0], 3), round(w[1] % 60, 3)
    (10.0, 29.25)
    >>> report_window("Current Time: 2026-12-06 20:35:01,189 | Send TPS: 1") is None
    True
    """
    stamps = [time.mktime(datetime.datetime.strptime(t, "%Y-%m-%d %H:%M:%S").timetuple()) + int(ms) / 1000
              for t, ms in REPORT.findall(text)]
    if len(stamps) < 2:
        return None
    return max(stamps[0], stamps[-1] - 10), stamps[-1]


def steady_cpu(lines, clk_tck, window):
    """CPU % (100 = one core) of the Producer, the broker and the Consumer between the first
    sample in the window and the last one in it. None when it holds fewer than 2 samples.

    >>> steady_cpu(["%d %d %d 0" % (t, 50 * t, 10 * t) for t in range(20)], 100, (5, 15))
    (50.0, 10.0, 0.0)
    >>> steady_cpu(["0 0 0 0", "1 5 5 0"], 100, (0.5, 1.5)) is None
    True
    """
    rows = [[float(x) for x in line.split()] for line in lines if len(line.split()) == 4]
    inside = [r for r in rows if window[0] <= r[0] <= window[1]]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    a, b = inside[0], inside[-1]
    secs = b[0] - a[0]
    return tuple(round((b[i] - a[i]) / clk_tck / secs * 100, 3) for i in (1, 2, 3))


def last_lines(text, n=3):
    return " ".join(line.strip() for line in text.strip().splitlines()[-n:])


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def cell(a):
    """One scenario's JSON line: the tool's figures, the broker CPU per message, or why it failed."""
    out = read(a.producer_out)
    c = {"peer": a.peer, "version": a.version, "rep": a.rep, "scenario": a.scenario, "messages": a.messages}
    p = parse_producer(out)
    if p is None:
        if "[Complete] Send Total" in out:
            why = "it finished within 2 s, before its second once-a-second sample: give it more messages"
        else:
            why = "timed out after 600 s" if a.rc == 124 else "exit %d" % a.rc
        c.update(ok=False, error="the Producer printed no rate (%s): %s" % (why, last_lines(out)))
        return c
    c.update(p)
    window = report_window(out)
    cpu = steady_cpu(read(a.samples).splitlines(), a.clk_tck, window) if window else None
    if cpu and p["sendTps"]:
        tool, broker, consumer = cpu
        c.update(producerCpuPct=tool, brokerCpuPct=broker, consumerCpuPct=consumer if a.consumer_out else None,
                 clientCpuUsPerMsg=(tool + consumer) * 1e4 / p["sendTps"], brokerCpuUsPerMsg=broker * 1e4 / p["sendTps"])
    c["ok"] = a.rc == 0 and p["sendFailed"] == 0
    if p["sendFailed"]:
        c["error"] = "%d sends failed" % p["sendFailed"]
    if a.consumer_out:
        c["consumeTps"] = best_consume_tps(read(a.consumer_out))
        if not c["consumeTps"]:
            c.update(ok=False, error="the Consumer received nothing while the Producer sent: %s" % last_lines(read(a.consumer_out)))
    return c


def collect(a):
    cells = [json.loads(line) for line in read(a.cells).splitlines() if line.strip()]
    res = {"run": {"command": a.command, "rmqRev": a.rev, "exampleVersion": a.example_version,
                   "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
                   "cpus": os.cpu_count(), "loadavgBefore": a.load_before.split(), "loadavgAfter": a.load_after.split()},
           "cells": cells}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cell")
    for k in ("--peer", "--version", "--scenario", "--producer-out", "--samples"):
        c.add_argument(k, required=True)
    c.add_argument("--consumer-out")
    for k in ("--rep", "--clk-tck", "--messages", "--rc"):
        c.add_argument(k, type=int, required=True)
    k = sub.add_parser("collect")
    for o in ("--cells", "--out", "--command", "--rev", "--example-version", "--load-before", "--load-after"):
        k.add_argument(o, required=True)
    a = ap.parse_args()
    if a.cmd == "cell":
        print(json.dumps(cell(a)))
    else:
        collect(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
