#!/usr/bin/env python3
"""bench/report.py: machine description and results JSON -> BENCHMARKS.md for bench/run.sh.

  report.py machine --store-dir DIR                 machine description as JSON on stdout
  report.py render --run RUNDIR [--md F] [--json F] collect a run dir into results JSON + markdown
  report.py render --from-json F --md F             re-render markdown from a saved results JSON

Numbers in the markdown come only from the JSON; nothing is typed in by hand. The optional
prose in bench/profile.md (hot spots and fixes) is included verbatim, and every results JSON in
bench/results/history/ becomes a row of the before/after table.

A run may hold the results of two load drivers (bench/run.sh --driver both): the Java client
(peers/NAME/, entries without a "driver" key in older results) and the native driver rmq-bench
(peers/NAME/native/, "driver": "native"). The main tables show the first of them; the other gets
its own section and a side-by-side comparison.
"""
import report_overhead  # noqa: E402  (bench/report_overhead.py, same directory)
import argparse
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ["rmq", "apache", "apache4", "rocketmq-rust"]
LABEL = {"rmq": "rmq", "apache": "Apache", "apache4": "Apache 4.x", "rocketmq-rust": "rocketmq-rust"}
PHASES = ("sync", "async", "open", "fill", "consume")
DRIVERS = ["java", "native"]
DRIVER_TITLE = {"java": "Java client", "native": "native driver"}
SHORT = {"java": "Java", "native": "native"}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def machine(store_dir):
    lscpu = {}
    for line in sh("LC_ALL=C lscpu").splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            lscpu[k.strip()] = v.strip()
    mem = ""
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            mem = "%.1f GiB" % (int(line.split()[1]) / 1048576)
    df = sh("df -P -T %s | tail -n 1" % store_dir).split()
    dev = df[0] if df else ""
    fstype = df[1] if len(df) > 1 else ""
    base = re.sub(r"^/dev/", "", dev)
    lsblk = sh("lsblk -dn -o NAME,SIZE,ROTA,MODEL /dev/%s 2>/dev/null" % re.sub(r"p?[0-9]+$", "", base) if base else "true")
    if not lsblk and base:
        lsblk = sh("lsblk -dn -o NAME,SIZE,ROTA,MODEL /dev/%s 2>/dev/null" % base)
    os_name = ""
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return {
        "cpuModel": lscpu.get("Model name", platform.processor()),
        "cpus": lscpu.get("CPU(s)", str(os.cpu_count())),
        "threadsPerCore": lscpu.get("Thread(s) per core", ""),
        "hypervisor": lscpu.get("Hypervisor vendor", ""),
        "memory": mem,
        "kernel": platform.release(),
        "os": os_name,
        "storeDevice": dev,
        "storeFs": fstype,
        "storeDisk": lsblk,
        "java": sh("java -version 2>&1 | head -n 1"),
        "rustc": sh("rustc --version"),
        "loadavgAtStart": open("/proc/loadavg").read().split()[:3],
    }


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception:
        return default


def read_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def parse_dd(text):
    # "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 1.2345 s, 870 MB/s"
    m = re.match(r"\s*(\d+) bytes.*copied, ([0-9.]+) s", text or "")
    if not m:
        return None
    b, s = int(m.group(1)), float(m.group(2))
    return b / s / 1e6 if s > 0 else None


def peer_entry(d, meta):
    """One peer under one driver: meta.json plus what its load.jsonl says."""
    lines = read_jsonl(os.path.join(d, "load.jsonl"))
    meta["phases"] = [l for l in lines if l.get("phase") in PHASES]
    for l in lines:
        if l.get("phase") == "watch" and l.get("ok") and meta.get("spawnAtMs"):
            meta["startupMs"] = l["registeredAtMs"] - meta["spawnAtMs"]
        elif l.get("phase") == "idle":
            meta["idleRssKb"] = l.get("brokerRssKb")
            meta["idleRssAnonKb"] = l.get("brokerRssAnonKb")
            meta["idleCpuPct"] = l.get("brokerCpuPct")
        elif l.get("phase") in ("watch", "topic") and not l.get("ok"):
            meta.setdefault("setupErrors", []).append("%s: %s" % (l.get("phase"), l.get("error")))
        elif l.get("fatal"):
            meta.setdefault("setupErrors", []).append("driver: %s" % l.get("fatal"))
    return meta


def collect(run_dir):
    run = read_json(os.path.join(run_dir, "run.json"), {})
    limits = read_json(os.path.join(run_dir, "limits.json"), {})
    limits["ddMBps"] = parse_dd(limits.get("dd", ""))
    peers = []
    try:
        names = [l.strip() for l in open(os.path.join(run_dir, "peers.txt")) if l.strip()]
    except OSError:
        names = sorted(os.listdir(os.path.join(run_dir, "peers")))
    for name in names:
        d = os.path.join(run_dir, "peers", name)
        found = False
        for sub in ("", "native"):  # Java client results, then the native driver's
            meta = read_json(os.path.join(d, sub, "meta.json"))
            if meta is not None:
                peers.append(peer_entry(os.path.join(d, sub), meta))
                found = True
        if not found:
            peers.append(peer_entry(d, {"peer": name, "skipped": True, "reason": "no result"}))
    return {
        "run": run,
        "machine": read_json(os.path.join(run_dir, "machine.json"), {}),
        "limits": limits,
        "peers": peers,
    }


# ------------------------------------------------------------------------------------------------
def key_of(p):
    if p.get("phase") == "sync":
        return "sync %s B x%s" % (p.get("size"), p.get("threads"))
    if p.get("phase") == "async":
        return "async %s B" % p.get("size")
    if p.get("phase") == "open":
        return "open %s B @ %s msgs/s" % (p.get("size"), fmt(p.get("rate")))
    if p.get("phase") == "fill":
        return "backlog fill (batch %s x %s B)" % (p.get("batch", 1), p.get("size"))
    if p.get("phase") == "consume":
        return "consume backlog"
    return p.get("phase", "?")


def fmt(v, nd=0):
    if v is None:
        return "–"
    if isinstance(v, float) or nd:
        if nd == 0:
            return "{:,.0f}".format(v)
        return "{:,.{nd}f}".format(v, nd=nd)
    return "{:,}".format(v)


def ratio(a, b):
    if a is None or b is None or not b:
        return "–"
    return "%.2f" % (a / b)


def peer_title(p):
    v = p.get("version") or ""
    return "%s %s" % (LABEL.get(p["peer"], p["peer"]), v) if v else LABEL.get(p["peer"], p["peer"])


def phase_keys(ran):
    keys = []
    for p in ran:
        for ph in p["phases"]:
            k = key_of(ph)
            if k not in keys:
                keys.append(k)
    return keys


def phase_of(p, k):
    if not p:
        return None
    for ph in p.get("phases", []):
        if key_of(ph) == k:
            return ph
    return None


def val_of(p, k, f):
    ph = phase_of(p, k)
    return None if ph is None else ph.get(f)


def driver_of(p):
    return p.get("driver") or "java"


def drivers_in(res):
    """The drivers with results in this run, Java client first."""
    ds = {driver_of(p) for p in res["peers"] if not p.get("skipped") and p.get("phases")}
    return sorted(ds, key=lambda d: DRIVERS.index(d) if d in DRIVERS else 99)


def ran_with(res, driver):
    ran = [p for p in res["peers"] if not p.get("skipped") and p.get("phases") and driver_of(p) == driver]
    ran.sort(key=lambda p: ORDER.index(p["peer"]) if p["peer"] in ORDER else 99)
    return ran


def phase_tables(ran, h="##"):
    """The summary (ratios to rmq) and every-phase tables of one driver's results."""
    L = []
    rmq = next((p for p in ran if p["peer"] == "rmq"), None)
    others = [p for p in ran if p["peer"] != "rmq"]
    keys = phase_keys(ran)
    has_open = any(k.startswith("open") for k in keys)
    phase, val = phase_of, val_of
    # ---------------------------------------------------------------- summary
    L.append(h + " Summary: ratios (one run, one machine)")
    L.append("")
    if not rmq or not rmq.get("phases"):
        L.append("rmq did not produce results in this run.")
    else:
        hdr = "| scenario | rmq msgs/s |" + "".join(" %s msgs/s |" % peer_title(p) for p in others) + \
              "".join(" rmq / %s |" % LABEL.get(p["peer"], p["peer"]) for p in others)
        L.append(hdr)
        L.append("|" + "---|" * (2 + 2 * len(others)))
        for k in keys:
            a = val(rmq, k, "tps")
            row = "| %s | %s |" % (k, fmt(a))
            row += "".join(" %s |" % fmt(val(p, k, "tps")) for p in others)
            row += "".join(" **%s** |" % ratio(a, val(p, k, "tps")) for p in others)
            L.append(row)
        L.append("")
        L.append("Throughput ratios above 1 mean rmq is faster. Latency, memory and start-up (lower is better):")
        L.append("")
        L.append("| metric | rmq |" + "".join(" %s |" % peer_title(p) for p in others) +
                 "".join(" rmq / %s |" % LABEL.get(p["peer"], p["peer"]) for p in others))
        L.append("|" + "---|" * (2 + 2 * len(others)))
        rows = []
        for k in keys:
            if k.startswith(("sync", "open")):
                rows.append(("p99 send latency, %s (ms)" % k, lambda p, k=k: val(p, k, "p99Ms"), 2))
        for k in keys:
            rows.append(("broker CPU per message, %s (µs)" % k, lambda p, k=k: val(p, k, "brokerCpuUsPerMsg"), 1))
        rows.append(("broker start-up to registered (ms)", lambda p: p.get("startupMs"), 0))
        rows.append(("broker RSS idle (MiB)", lambda p: p["idleRssKb"] / 1024 if p.get("idleRssKb") else None, 1))
        rows.append(("broker RSS peak under load (MiB)", lambda p: max([ph.get("brokerRssMaxKb") or 0 for ph in p["phases"]] or [0]) / 1024 or None, 1))
        rows.append(("broker anon RSS peak under load (MiB)", lambda p: max([ph.get("brokerRssAnonMaxKb") or 0 for ph in p["phases"]] or [0]) / 1024 or None, 1))
        for title, f, nd in rows:
            a = f(rmq)
            L.append("| %s | %s |" % (title, fmt(a, nd)) + "".join(" %s |" % fmt(f(p), nd) for p in others) +
                     "".join(" %s |" % ratio(a, f(p)) for p in others))
    L.append("")
    # ---------------------------------------------------------------- detail
    L.append(h + " Every phase")
    L.append("")
    L.append("msgs/s and MB/s (payload, 10^6 B) over the measurement window; latency is per send call, "
             "measured in the driver (sync: `send()` round trip; async: call to callback" +
             ("; open: from the message's scheduled send time to its acknowledgement" if has_open else "") +
             "). Broker CPU is "
             "utime+stime of the broker process over the window (100 % = one core); append MB/s is the growth "
             "of the broker's `commitLogMaxOffset` (GET_BROKER_RUNTIME_INFO), i.e. bytes really appended "
             "including the per-message header and properties.")
    L.append("")
    L.append("| scenario | broker | msgs/s | MB/s | p50 ms | p99 ms | p99.9 ms | max ms | append MB/s | broker CPU % | broker CPU µs/msg | driver CPU % | RSS peak MiB | errors |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        for p in ran:
            ph = phase(p, k)
            if ph is None:
                continue
            flag = "" if ph.get("ok") else " ⚠"
            L.append("| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                k, LABEL.get(p["peer"], p["peer"]), flag, fmt(ph.get("tps")), fmt(ph.get("mbps"), 1),
                fmt(ph.get("p50Ms"), 2), fmt(ph.get("p99Ms"), 2), fmt(ph.get("p999Ms"), 2), fmt(ph.get("maxMs"), 1),
                fmt(ph.get("appendMBps"), 1), fmt(ph.get("brokerCpuPct")), fmt(ph.get("brokerCpuUsPerMsg"), 1), fmt(ph.get("driverCpuPct")),
                fmt((ph.get("brokerRssMaxKb") or 0) / 1024 or None, 1), fmt(ph.get("errors"))))
    L.append("")
    errs = []
    for p in ran:
        for ph in p["phases"]:
            for e in ph.get("errorKinds", []) or []:
                errs.append("- %s, %s: %s × `%s`" % (LABEL.get(p["peer"], p["peer"]), key_of(ph), e.get("count"), e.get("message")))
            if ph.get("fatal") or ph.get("error"):
                errs.append("- %s, %s: `%s`" % (LABEL.get(p["peer"], p["peer"]), key_of(ph), ph.get("fatal") or ph.get("error")))
    if errs:
        L.append("Errors seen by the driver (⚠ = phase not ok: no messages, > 1 % errors, or timed out):")
        L.append("")
        L.extend(errs[:40])
        L.append("")
    for p in ran:
        for ph in p["phases"]:
            if ph.get("phase") == "consume":
                L.append("- %s: consumed %s of %s backlog messages; first message after %s ms, whole backlog in %s ms%s." % (
                    LABEL.get(p["peer"], p["peer"]), fmt(ph.get("msgs")), fmt(ph.get("expect")), fmt(ph.get("firstMsgMs")),
                    fmt(ph.get("totalMs")), " (timed out)" if ph.get("timedOut") else ""))
    L.append("")
    return L


def driver_sections(res, drivers, primary):
    """The other drivers' tables, then the two drivers side by side."""
    L = []
    run = res["run"]
    for d in [d for d in drivers if d != primary]:
        L.append("## Results under the %s" % DRIVER_TITLE.get(d, d))
        L.append("")
        if d == "native":
            L.append("The same brokers, settings and plan (plus its open-loop phases `%s`), each broker started "
                     "afresh, driven by the native driver `rmq-bench` (bench/native) instead of the Java client%s. "
                     "Open loop: RATE msgs/s offered on a fixed schedule whatever the acknowledgements; its "
                     "latency counts from each message's scheduled send time, so a stall shows as latency." % (
                         ",".join(x for x in run.get("nativePlan", "").split(",") if x.startswith("open")) or "none",
                         " (pinned to CPU %s, the broker to CPUs %s)" % (run.get("nativeCpu"), run.get("brokerCpus"))
                         if run.get("nativeCpu") else ""))
            L.append("")
        L.extend(phase_tables(ran_with(res, d), "###"))
    if len(drivers) < 2:
        return L
    a, b = drivers[0], drivers[1]
    ta, tb = DRIVER_TITLE.get(a, a), DRIVER_TITLE.get(b, b)
    ran_a, ran_b = ran_with(res, a), ran_with(res, b)
    L.append("## %s vs %s" % (ta[0].upper() + ta[1:], tb))
    L.append("")
    L.append("Each broker under both drivers (ratios above 1: the %s got more out of the broker). Driver CPU "
             "is the load driver's own utime+stime over the window (100 %% = one core)." % tb)
    L.append("")
    L.append("| scenario | broker | %s msgs/s | %s msgs/s | %s / %s | %s p99 ms | %s p99 ms | %s CPU %% | %s CPU %% |" % (
        ta, tb, SHORT.get(b, b), SHORT.get(a, a), ta, tb, ta, tb))
    L.append("|---|---|---|---|---|---|---|---|---|")
    for k in phase_keys(ran_a + ran_b):
        for peer in ORDER:
            pa = next((p for p in ran_a if p["peer"] == peer), None)
            pb = next((p for p in ran_b if p["peer"] == peer), None)
            if phase_of(pa, k) is None and phase_of(pb, k) is None:
                continue
            L.append("| %s | %s | %s | %s | **%s** | %s | %s | %s | %s |" % (
                k, LABEL.get(peer, peer), fmt(val_of(pa, k, "tps")), fmt(val_of(pb, k, "tps")),
                ratio(val_of(pb, k, "tps"), val_of(pa, k, "tps")), fmt(val_of(pa, k, "p99Ms"), 2),
                fmt(val_of(pb, k, "p99Ms"), 2), fmt(val_of(pa, k, "driverCpuPct")), fmt(val_of(pb, k, "driverCpuPct"))))
    L.append("")
    return L


def render(res, history):
    run, m, lim = res["run"], res["machine"], res["limits"]
    drivers = drivers_in(res)
    primary = drivers[0] if drivers else "java"
    # the main tables: the first driver's results (and every skipped peer)
    view = [p for p in res["peers"] if p.get("skipped") or driver_of(p) == primary]
    peers = {p["peer"]: p for p in view}
    ran = ran_with(res, primary)
    rmq = peers.get("rmq")
    phase, val = phase_of, val_of

    L = []
    L.append("# Benchmarks: rmq vs Apache RocketMQ vs rocketmq-rust")
    L.append("")
    L.append("<!-- generated by bench/report.py from bench/results/latest.json; do not edit by hand -->")
    L.append("Generated by `%s` (%s run, %s UTC, rmq %s). **Do not edit the numbers by hand**: re-run "
             "`bench/run.sh` (or re-render with `python3 bench/report.py render --from-json "
             "bench/results/latest.json --md BENCHMARKS.md`)." % (run.get("command", "bench/run.sh"), run.get("mode", "?"),
                                                               run.get("timestamp", "?"), run.get("rmqRev", "?")))
    if run.get("rmqBuild", "release") != "release":
        L.append("")
        L.append("**rmq binaries: %s — not a release build; these rmq numbers are a smoke test only.**" % run.get("rmqBuild"))
    L.append("")
    L.append("All brokers ran one after another on 127.0.0.1 of the same machine with the same settings "
             "(1 nameserver, 1 master `ASYNC_MASTER`, `ASYNC_FLUSH`, 64 MiB commit-log files, topic with 8 "
             "queues, store on the same disk), driven by the same load driver. **The driver and the broker "
             "share the machine's %s CPUs**, so the numbers are the throughput of driver+broker together; the "
             "broker CPU column says how much of it the broker used." % m.get("cpus", "?"))
    L.append("")
    if len(drivers) > 1 or primary != "java":
        L.append("Load driver of the tables below: **%s**%s." % (
            DRIVER_TITLE.get(primary, primary),
            "; the %s's results follow in their own section" % " and ".join(DRIVER_TITLE.get(d, d) for d in drivers[1:])
            if len(drivers) > 1 else ""))
        L.append("")
    L.extend(phase_tables(ran, "##"))
    L.extend(driver_sections(res, drivers, primary))
    # ---------------------------------------------------------------- peers
    L.append("## Brokers in this run")
    L.append("")
    L.append("| broker | version | result | start-up to registered ms | RSS idle MiB | RSS after load MiB | store+logs on disk MiB | wall s |")
    L.append("|---|---|---|---|---|---|---|---|")
    for p in res["peers"]:
        if p.get("skipped"):
            L.append("| %s | – | skipped: %s | | | | | |" % (LABEL.get(p["peer"], p["peer"]), p.get("reason", "")))
            continue
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            LABEL.get(p["peer"], p["peer"]) + ("" if driver_of(p) == "java" else " (%s)" % DRIVER_TITLE.get(driver_of(p), driver_of(p))),
            p.get("version", ""),
            "ok" if p.get("ok") else "failed: " + "; ".join([p.get("error") or ""] + p.get("setupErrors", [])),
            fmt(p.get("startupMs")), fmt((p.get("idleRssKb") or 0) / 1024 or None, 1),
            fmt((p.get("afterLoadRssKb") or 0) / 1024 or None, 1), fmt((p.get("diskKb") or 0) / 1024 or None), fmt(p.get("wallS"))))
    L.append("")
    L.append("Start-up is measured from spawning the broker process until the broker is listed in its "
             "nameserver's cluster info (GET_BROKER_CLUSTER_INFO polled every 10 ms by a watcher started "
             "beforehand). RSS is VmRSS of the broker process (for the mmap-based stores it includes "
             "mapped commit-log pages; the anon column in the summary excludes them); Apache runs with "
             "`-Xms64m -Xmx1g -XX:MaxDirectMemorySize=512m` (tests/peers/apache.sh).")
    L.append("")
    # ---------------------------------------------------------------- limits
    L.append("## How far from the hardware")
    L.append("")
    dd = lim.get("ddMBps")
    net = lim.get("net") or {}
    L.append("| limit | value |")
    L.append("|---|---|")
    L.append("| sequential write to the store's disk, `dd bs=1M count=%s conv=fdatasync` | %s MB/s |" % (lim.get("ddMiB", "?"), fmt(dd)))
    L.append("| loopback TCP, one stream, 1 MiB writes | %s MB/s (%s Gbit/s) |" % (fmt(net.get("tcpMBps")), fmt(net.get("tcpGbps"), 2)))
    L.append("| loopback TCP round trip, 1 byte, p50 / p99 | %s / %s µs |" % (fmt(net.get("rttP50Us"), 1), fmt(net.get("rttP99Us"), 1)))
    nn = lim.get("netNative") or {}
    if nn.get("ok") and nn is not net and nn != net:
        L.append("| the same two, measured by the native driver | %s MB/s; %s / %s µs |" % (
            fmt(nn.get("tcpMBps")), fmt(nn.get("rttP50Us"), 1), fmt(nn.get("rttP99Us"), 1)))
    if rmq and rmq.get("phases"):
        best = max(rmq["phases"], key=lambda ph: ph.get("appendMBps") or 0)
        if best.get("appendMBps"):
            L.append("| rmq commit-log append, best phase (%s) | %s MB/s = **%s of the disk's sequential bandwidth** |" % (
                key_of(best), fmt(best["appendMBps"], 1), "%.1f %%" % (100 * best["appendMBps"] / dd) if dd else "–"))
            L.append("| the same phase's payload through loopback TCP | %s MB/s = %s of loopback TCP |" % (
                fmt(best.get("mbps"), 1), "%.1f %%" % (100 * best["mbps"] / net["tcpMBps"]) if net.get("tcpMBps") else "–"))
        s1 = phase(rmq, "sync 128 B x1")
        if s1 and net.get("rttP50Us") and s1.get("p50Ms"):
            L.append("| rmq sync send 1 thread p50 vs. bare TCP round trip p50 | %s ms vs %s ms (%.0f×) |" % (
                fmt(s1["p50Ms"], 3), fmt(net["rttP50Us"] / 1000, 3), s1["p50Ms"] * 1000 / net["rttP50Us"]))
    L.append("")
    L.append("With %s CPUs shared by the %s and the broker, every send-path number here is CPU-bound "
             "long before the disk or loopback limit: the ratio says how much headroom the hardware leaves, "
             "not what the broker would do with its own cores." % (
                 m.get("cpus", "?"), "Java driver" if primary == "java" else DRIVER_TITLE.get(primary, primary)))
    L.append("")
    # ---------------------------------------------------------------- history
    if history:
        L.append("## rmq before/after the profiling fixes")
        L.append("")
        L.append("Same harness, rmq only (`bench/run.sh --peers rmq --label NAME`), one row per saved run in "
                 "`bench/results/history/` (the fixes are described in the next section).")
        L.append("")
        hk = ["sync 128 B x64", "sync 1024 B x64", "sync 128 B x1", "async 128 B", "consume backlog"]
        L.append("| run | rmq rev | " + " | ".join("%s msgs/s" % k for k in hk) + " | sync 128 B x64 broker CPU µs/msg | sync 128 B x64 p99 ms |")
        L.append("|---|---|" + "---|" * (len(hk) + 2))
        for label, h in history:
            hp = {p["peer"]: p for p in h.get("peers", [])}.get("rmq")
            if not hp:
                continue
            cells = [fmt(val(hp, k, "tps")) for k in hk]
            L.append("| %s | %s | %s | %s | %s |" % (label, h.get("run", {}).get("rmqRev", "?"), " | ".join(cells),
                                                    fmt(val(hp, "sync 128 B x64", "brokerCpuUsPerMsg"), 1), fmt(val(hp, "sync 128 B x64", "p99Ms"), 2)))
        base = history[0][1]
        bp = {p["peer"]: p for p in base.get("peers", [])}.get("rmq")
        if bp and len(history) > 1:
            lp = {p["peer"]: p for p in history[-1][1].get("peers", [])}.get("rmq")
            if lp:
                L.append("")
                L.append("Ratio last / first (%s / %s): " % (history[-1][0], history[0][0]) + ", ".join(
                    "%s **%s**" % (k, ratio(val(lp, k, "tps"), val(bp, k, "tps"))) for k in hk) + ".")
        L.append("")
    profiles = profile_runs()
    if profiles:
        L.append("## rmq instructions per message (callgrind), before/after the profiling fixes")
        L.append("")
        L.append("`bench/profile.sh --tool callgrind --label NAME` runs rmq-broker under callgrind with 64 threads of "
                 "sync 128 B sends and divides instruction counts by the messages stored (MessageStore::put calls). "
                 "Instruction counts do not depend on how busy the machine is (kernel time is not included). "
                 "One row per file in `bench/results/profile/`; each row adds one fix to the one above.")
        L.append("")
        cols = []
        for _, pr in profiles:
            for k in pr.get("irPerMsg", {}):
                if k not in cols:
                    cols.append(k)
        L.append("| build | messages | " + " | ".join(cols) + " |")
        L.append("|---|---|" + "---|" * len(cols))
        for _, pr in profiles:
            ir = pr.get("irPerMsg", {})
            L.append("| %s | %s | %s |" % (pr.get("label", "?"), fmt(pr.get("messages")), " | ".join(fmt(ir.get(c)) for c in cols)))
        first, last = profiles[0][1].get("irPerMsg", {}), profiles[-1][1].get("irPerMsg", {})
        tk, pk = "total (all threads, incl. idle polling)", "request path (read loop + tasks + write loop)"
        if len(profiles) > 1 and first.get(tk) and last.get(tk):
            L.append("")
            L.append("Last / first: total instructions per message **%s**, request path **%s** (lower is better)." % (
                ratio(last.get(tk), first.get(tk)), ratio(last.get(pk), first.get(pk))))
        L.append("")
    stats = profile_runs("stat-")
    if stats:
        L.append("## rmq CPU time and syscalls per message (perf stat), before/after")
        L.append("")
        L.append("`bench/profile.sh --tool stat --label NAME`: `perf stat` attached to rmq-broker for the measured "
                 "window of 64 threads of sync 128 B sends, divided by the messages sent in it. CPU time includes the "
                 "kernel; it moves with machine load (cache and scheduler effects), the syscall counts much less.")
        L.append("")
        cols = []
        for _, st in stats:
            for k in st.get("perMsg", {}):
                if k not in cols:
                    cols.append(k)
        L.append("| build | msgs/s in the run | " + " | ".join("%s / msg" % c for c in cols) + " |")
        L.append("|---|---|" + "---|" * len(cols))
        for name, st in stats:
            pm = st.get("perMsg", {})
            L.append("| %s | %s | %s |" % (st.get("label") or name, fmt(st.get("tps")), " | ".join(fmt(pm.get(c), 3) for c in cols)))
        if len(stats) > 1:
            a, b = stats[0][1].get("perMsg", {}), stats[-1][1].get("perMsg", {})
            L.append("")
            L.append("Last / first: CPU per message **%s**, syscalls per message **%s**, sendto per message **%s**." % (
                ratio(b.get("cpu us"), a.get("cpu us")), ratio(b.get("syscalls"), a.get("syscalls")), ratio(b.get("sendto"), a.get("sendto"))))
        L.append("")
    prose = os.path.join(HERE, "profile.md")
    if os.path.exists(prose):
        L.append(open(prose).read().rstrip())
        L.append("")
    L.extend(soak_section())
    L.extend(recovery_section())
    L.extend(report_overhead.overhead_section())
    # ---------------------------------------------------------------- machine & commands
    L.append("## Machine")
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    for k, t in [("cpuModel", "CPU"), ("cpus", "CPUs (lscpu)"), ("threadsPerCore", "threads per core"), ("hypervisor", "hypervisor"),
                 ("memory", "memory"), ("os", "OS"), ("kernel", "kernel"), ("storeDevice", "store device"), ("storeFs", "store filesystem"),
                 ("storeDisk", "disk (lsblk NAME SIZE ROTA MODEL)"), ("java", "Java"), ("rustc", "rustc")]:
        L.append("| %s | %s |" % (t, m.get(k, "")))
    L.append("| load average at start | %s |" % " ".join(m.get("loadavgAtStart", [])))
    L.append("")
    L.append("The machine is shared with other work (other engineers' builds and tests run on it); the load "
             "average above says how busy it was. Ratios from one run are what this page is for; absolute "
             "numbers move with the load.")
    L.append("")
    L.append("## How it was run")
    L.append("")
    L.append("```sh")
    L.append("tests/build-harnesses.sh >/dev/null     # Apache peer jars (Maven), Java client cache")
    L.append("bench/build-rocketmq-rust.sh            # once: cargo install rocketmq-namesrv/rocketmq-broker %s into ~/.cache/rmq-test/rocketmq-rust" % (
        (peers.get("rocketmq-rust") or {}).get("version") or "1.0.0"))
    L.append("%s" % run.get("command", "bench/run.sh"))
    L.append("bench/run.sh --quick                    # < 2 min smoke run (what the README test command runs)")
    L.append("```")
    L.append("")
    if "java" in drivers or not drivers:
        L.append("- Load driver: `bench/driver` (Java 17, official `org.apache.rocketmq:rocketmq-client` %s, JVM `%s`), "
                 "one `DefaultMQProducer` shared by all sender threads (as the official `benchmark/producer.sh` does), "
                 "default client settings (send timeout 3 s, 2 retries), no keys/tags, bodies of the given size. "
                 "Chosen because it is the client users run, it speaks to all three brokers unmodified, and its "
                 "cost is identical for every broker. The same JVM runs every phase of one broker." % (
                     run.get("clientVersion", "?"), run.get("driverOpts", "")))
    L.append("- Plan `%s`; each phase: %s ms warm-up then %s ms measured (an unreported %s ms 16-thread warm-up "
             "first). `sync:SIZE:THREADS` = threads calling `send()` in a loop; `async:SIZE` = one thread with up "
             "to 512 sends in flight; `fill` = batch sends (64 messages per SEND_BATCH_MESSAGE, 4 threads) of %s messages to a second 8-queue topic, then "
             "`consume` = a push consumer (new group, from the first offset, 20 consume threads, default pull "
             "batch 32) drains them; consume msgs/s is measured from the first delivered message to the last. "
             "Every phase is bounded (%s ms)." % (run.get("plan", "?"), run.get("warmupMs", "?"), run.get("measureMs", "?"),
                                                   run.get("initialWarmupMs", "?"), fmt(run.get("backlog")), run.get("phaseTimeoutMs", "?")))
    if "native" in drivers:
        L.append("- Native driver: `bench/native` (`rmq-bench`, built by `bench/build-native.sh`), the same phases over "
                 "rmq-protocol's async client: route lookup on the nameserver, SEND_MESSAGE_V2 round robin over the "
                 "queues' masters, one connection per broker, no retries; `fill` = SEND_BATCH_MESSAGE of 64 from 4 "
                 "tasks; `consume` = PULL_MESSAGE, one puller per queue, 32 messages a pull. Plan `%s`%s. "
                 "Latencies are HdrHistogram percentiles; `open:SIZE:RATE` offers RATE msgs/s on a fixed schedule "
                 "whatever the acks and counts latency from each message's scheduled send time." % (
                     run.get("nativePlan", "?"),
                     "; pinned to CPU %s, the broker to CPUs %s" % (run.get("nativeCpu"), run.get("brokerCpus"))
                     if run.get("nativeCpu") else ""))
    L.append("- Apache RocketMQ: `tests/peers/apache.sh` (Maven jars `rocketmq-namesrv`/`rocketmq-broker`, `java -cp`), "
             "broker with `--xmx 1g`, `flushDiskType=ASYNC_FLUSH`, `mappedFileSizeCommitLog=64 MiB`.")
    L.append("- rocketmq-rust: crates.io `rocketmq-namesrv`/`rocketmq-broker` built by `bench/build-rocketmq-rust.sh` "
             "(`cargo install --locked`, release), broker TOML with the same settings (see `bench/run.sh`).")
    L.append("- rmq: `cargo build --release -p rmq-broker -p rmq-namesrv`, `rmq-broker --set flushDiskType=ASYNC_FLUSH "
             "--set mappedFileSizeCommitLog=67108864 ...`.")
    L.append("- Topics are created with UPDATE_AND_CREATE_TOPIC (8 read/write queues) straight to the broker; the "
             "driver waits until the nameserver's route shows 8 queues.")
    L.append("- Limits: `dd if=/dev/zero bs=1M conv=fdatasync` into the directory holding the stores; loopback TCP "
             "bandwidth and 1-byte round trip from the driver's `net` command.")
    L.append("")
    return "\n".join(L) + "\n"


def profile_runs(prefix=""):
    out = []
    for f in sorted(glob.glob(os.path.join(HERE, "results", "profile", prefix + "*.json"))):
        if not prefix and os.path.basename(f).startswith("stat-"):
            continue
        h = read_json(f)
        if h:
            out.append((os.path.splitext(os.path.basename(f))[0], h))
    return out


def history_runs():
    out = []
    for f in sorted(glob.glob(os.path.join(HERE, "results", "history", "*.json"))):
        h = read_json(f)
        if h:
            out.append((os.path.splitext(os.path.basename(f))[0], h))
    return out


def soak_section():
    """The retention soak (bench/soak-retention.sh) saved as bench/results/soak-retention.json."""
    r = read_json(os.path.join(HERE, "results", "soak-retention.json"))
    if not r:
        return []
    L = ["## Retention soak: %s MiB pushed through a %s MiB volume" % (fmt(r.get("pushedMiB")), fmt(r.get("volumeMiB"))), ""]
    L.append("`%s` (rmq %s, %s UTC, load average at start %s): one rmq broker whose store is a tmpfs of the "
             "volume's size, second-scale retention (`fileReservedTime=0.0003`, every hour in `deleteWhen`), "
             "`diskMaxUsedSpaceRatio` 75 %%; a Java producer pushes %sx the volume in %s-byte batch sends while a "
             "consumer group that read the first 200 messages is away, then comes back for 500 new ones. "
             "Disk usage is sampled with `df` every 0.2 s." % (
                 r.get("command", "bench/soak-retention.sh"), r.get("rev", "?"), r.get("at", "?"),
                 r.get("loadavg", "?"), fmt(r.get("factor")), fmt(r.get("bodyBytes"))))
    L.append("")
    L.append("| | |")
    L.append("|---|---|")
    for k, t in [("messages", "messages pushed"), ("floodSeconds", "seconds"), ("msgsPerSec", "msgs/s"),
                 ("peakDiskUsed", "peak disk usage (share of the volume)"), ("budget", "budget (diskSpaceWarningLevelRatio)"),
                 ("producerFailed", "producer failures"), ("segmentsDeleted", "segments deleted by retention"),
                 ("consumerSkipped", "messages the returning consumer skipped (deleted before it read them)"),
                 ("tailConsumed", "new messages the returning consumer received (of 500)")]:
        L.append("| %s | %s |" % (t, fmt(r.get(k)) if not isinstance(r.get(k), float) else "%.1f %%" % (100 * r[k])))
    L.append("")
    L.append("Checks: %s." % ", ".join("%s: %s" % (k, "yes" if v else "**no**") for k, v in r.get("checks", {}).items()))
    L.append("")
    return L


def recovery_section():
    """Recovery after a power loss (bench/recovery.sh) saved as bench/results/recovery.json."""
    r = read_json(os.path.join(HERE, "results", "recovery.json"))
    if not r or not r.get("peers"):
        return []
    peers = r["peers"]
    order = [p for p in ("rmq", "apache") if p in peers]
    mib = r.get("storeMiB", 0)
    size = "%s GiB" % fmt(mib / 1024, 0 if mib % 1024 == 0 else 1) if mib >= 1024 else "%s MiB" % fmt(mib)
    L = ["## Recovery after power loss (%s store)" % size, ""]
    load = r.get("loadavgStart", "?")
    try:
        busy = float(load.split()[0]) > 1.5
    except (ValueError, IndexError):
        busy = False
    L.append("`%s` (rmq %s, %s UTC; load average %s at the start, %s at the end%s). One broker at a time "
             "on 127.0.0.1 with `flushDiskType=SYNC_FLUSH` and the default 1 GiB commit-log segment, store "
             "in a temporary directory on the real disk (%s), filled to about %s with %s-byte messages (Java "
             "client, batch sends of 16, %s topics x %s queues; the traffic killed mid-way is async sends; the "
             "client compresses bodies of 4 KiB and more, so the message count is what fills the size). Each case ran %s times; the table shows the median "
             "and, in brackets, every run. Times are from spawning the broker process to its "
             "`boot success` stdout line, and to the nameserver listing it (GET_BROKER_CLUSTER_INFO polled "
             "every 10 ms; each broker registers with a nameserver of its own kind). The page cache is dropped "
             "(`sync; echo 3 > /proc/sys/vm/drop_caches`) before every start, so the store is read from disk." % (
                 r.get("command", "bench/recovery.sh"), r.get("rev", "?"), r.get("at", "?"), load,
                 r.get("loadavgEnd", "?"), ": **the machine was busy (above 1.5) when it started**" if busy else "",
                 (r.get("disk") or {}).get("fs", "?"), size, fmt(r.get("bodyBytes")), fmt(r.get("topics")),
                 fmt(r.get("queuesPerTopic")), fmt(r.get("runs"))))
    L.append("")
    L.append("- **clean**: SIGTERM, wait for the exit, drop caches, start.")
    L.append("- **power loss**: `kill -9` while a producer is sending (after the commit log grew by %s MiB "
             "under that traffic), drop caches, start: abnormal recovery from the checkpoint." % fmt(
                 (r.get("killAfterGrowthBytes") or 0) / 1048576))
    L.append("- **worst**: the same kill, then the `checkpoint` file and `consumequeue/` are deleted: "
             "recovery scans the whole commit log from its first segment and rebuilds every consume queue.")
    L.append("")
    def title(p):
        return LABEL.get(p, p) + (" " + r.get("apacheVersion", "") if p == "apache" else "")

    cols = ["case"]
    for p in order:
        cols += ["%s boot success ms" % title(p), "%s registered ms" % title(p)]
    if "rmq" in peers:
        cols += ["rmq store open ms (its log)", "rmq bytes scanned"]
    cols += ["store MiB (%s)" % " / ".join(LABEL.get(p, p) for p in order)]
    if len(order) > 1:
        cols += ["Apache / rmq boot success", "Apache / rmq registered"]
    L.append("| " + " | ".join(cols) + " |")
    L.append("|" + "---|" * len(cols))

    def cell(c, k):
        if not c or c.get("median" + k[0].upper() + k[1:]) is None:
            return "–"
        med = c["median" + k[0].upper() + k[1:]]
        if len(c["runs"]) > 1:
            get = (lambda x: (x.get("storeOpen") or {}).get("elapsed_ms")) if k == "storeOpenMs" else (lambda x: x.get(k))
            return "**%s** (%s)" % (fmt(med), ", ".join(fmt(get(x)) for x in c["runs"]))
        return fmt(med)

    def mib(c):
        v = [x.get("storeBytes") for x in (c or {}).get("runs", []) if x.get("storeBytes")]
        if not v:
            return "0"
        lo, hi = min(v) / 1048576, max(v) / 1048576
        return fmt(lo) if round(lo) == round(hi) else "%s–%s" % (fmt(lo), fmt(hi))

    names = [("fresh", "empty store (first start)"), ("clean", "clean"), ("powerloss", "power loss"), ("worst", "worst")]
    for key, name in names:
        cs = {p: peers[p]["cases"].get(key) for p in order}
        if not any(cs.values()):
            continue
        row = [name]
        for p in order:
            row += [cell(cs[p], "bootMs"), cell(cs[p], "registeredMs")]
        if "rmq" in peers:
            c = cs.get("rmq")
            row.append(cell(c, "storeOpenMs"))
            sb = c.get("medianScannedBytes") if c else None
            row.append("–" if sb is None else "0" if sb == 0 else "%s MiB" % fmt(sb / 1048576, 1))
        row.append(" / ".join(mib(cs[p]) for p in order))
        if len(order) > 1:
            for k in ("medianBootMs", "medianRegisteredMs"):
                a, b = (cs.get("rmq") or {}).get(k), (cs.get("apache") or {}).get(k)
                row.append("%s×" % fmt(b / a, 0 if b / a >= 10 else 1) if a and b else "–")
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    d = r.get("disk") or {}
    L.append("Disk: `%s`; `dd if=/dev/zero bs=1M count=512 oflag=direct conv=fdatasync`: %s; direct read of "
             "the same 512 MiB: %s. Store size = the commit log's max offset after the recovery (it grows "
             "with every killed producer). Bytes scanned (rmq) = recovered end + cut tail - the checkpoint's "
             "`min(commit_log_flushed, cq_flushed)` read before the start. Fill: %s." % (
                 d.get("df", "?"), (d.get("ddWrite") or "?").split(",")[-1].strip(), (d.get("ddRead") or "?").split(",")[-1].strip(),
                 "; ".join("%s %s messages in %s s" % (LABEL.get(p, p), fmt((peers[p].get("fill") or {}).get("messages")),
                                                       fmt((peers[p].get("fill") or {}).get("seconds"))) for p in order)))
    L.append("")
    checks = r.get("checks", {})
    bad = [k for k, v in checks.items() if not v]
    L.append("Checks after every recovery (GET_BROKER_RUNTIME_INFO `commitLogMaxOffset`): after a clean stop "
             "equal to the offset before it; after a `kill -9` above the commit-log offset of the last message "
             "the producer had acknowledged (SYNC_FLUSH: an acknowledged message is durable): %s." % (
                 "all %d passed" % len(checks) if not bad else "**failed: %s**" % "; ".join(bad)))
    L.append("")
    ap = peers.get("apache")
    if ap:
        runs = [x for c in ap["cases"].values() for x in c["runs"] if x.get("bootMs") is not None and x.get("registeredMs") is not None]
        late = [x for x in runs if x["registeredMs"] - x["bootMs"] > 5000]
        if late:
            L.append("Apache's registered column is bimodal: in %d of %d starts it was listed just before its `boot success` "
                     "line, in the other %d only %s ms later, which matches the 10 s initial delay of its periodic "
                     "registration task (its registration during start-up did not reach the nameserver in those starts). "
                     "Its boot success column is the recovery time proper." % (
                         len(runs) - len(late), len(runs), len(late),
                         "–".join(fmt(v) for v in sorted({min(x["registeredMs"] - x["bootMs"] for x in late),
                                                          max(x["registeredMs"] - x["bootMs"] for x in late)}))))
            L.append("")
    if r.get("notes"):
        L.extend(r["notes"] if isinstance(r["notes"], list) else [r["notes"]])
        L.append("")
    return L


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("machine")
    a.add_argument("--store-dir", default=".")
    r = sub.add_parser("render")
    r.add_argument("--run")
    r.add_argument("--from-json")
    r.add_argument("--md")
    r.add_argument("--json")
    args = ap.parse_args()
    if args.cmd == "machine":
        print(json.dumps(machine(args.store_dir)))
        return 0
    if args.from_json:
        res = read_json(args.from_json)
        if res is None:
            print("report.py: cannot read %s" % args.from_json, file=sys.stderr)
            return 1
    elif args.run:
        res = collect(args.run)
        with open(os.path.join(args.run, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
    else:
        print("report.py render: --run or --from-json", file=sys.stderr)
        return 2
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
    md = render(res, history_runs())
    if args.md:
        with open(args.md, "w") as f:
            f.write(md)
    else:
        sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
