"""bench/report.py's section on Apache's own benchmark tool (bench/official.sh's results).

bench/results/official.json holds one cell per broker, repetition and scenario, with the tool's
own figures; this module folds the repetitions into medians with min-max and renders them.
"""
from report_common import LABEL, fmt, ratio, read_json
from report_limit import verdict
from report_reps import median, span

PEER_ORDER = ["rmq", "apache", "apache4"]
SCENARIOS = ["sync 128 B x64", "sync 1024 B x64", "send+consume 128 B"]


def finished(c):
    """Whether a cell counts: it finished, and in send+consume its Consumer received something
    (results from before that rule was in bench/official_results.py counted a best rate of 0)."""
    return c.get("ok") and c.get("consumeTps") != 0


def values(cells, peer, scenario, field):
    """The field over every repetition of one broker's scenario that finished."""
    return [c[field] for c in cells
            if c["peer"] == peer and c["scenario"] == scenario and finished(c) and c.get(field) is not None]


def failures(cells):
    """One line per cell that does not count, with the reason."""
    return ["- %s, %s, repetition %s: %s" % (
        LABEL.get(c["peer"], c["peer"]), c["scenario"], c.get("rep"),
        c.get("error") or "the Consumer received nothing while the Producer sent (its best rate was 0)")
        for c in cells if not finished(c)]


def table(cells, peers, field, title, nd=0, big=False):
    """One table: a row per scenario, a column per broker, then rmq's ratio to each other broker."""
    others = [p for p in peers if p != "rmq"]
    L = ["| %s | %s | %s |" % (title, " | ".join(LABEL.get(p, p) for p in peers),
                               " | ".join("rmq / %s" % LABEL.get(p, p) for p in others)),
         "|---|" + "---|" * (len(peers) + len(others))]
    for s in SCENARIOS:
        cols = [span(values(cells, p, s, field), nd, big) for p in peers]
        if all(c == "–" for c in cols):
            continue
        rmq = median(values(cells, "rmq", s, field))
        rat = ["**%s**" % ratio(rmq, median(values(cells, p, s, field))) for p in others]
        L.append("| %s | %s | %s |" % (s, " | ".join(cols), " | ".join(rat)))
    return L


def used_pct(c):
    """The CPU the tool's processes and the broker used together in one cell (None if unknown)."""
    parts = [c.get("producerCpuPct"), c.get("consumerCpuPct") or 0, c.get("brokerCpuPct")]
    return None if None in parts else sum(parts)


def limit_table(cells, cpus):
    """Which side used up the CPUs in rmq's runs of the tool (report_limit.verdict's rule)."""
    L = ["| scenario | tool + broker CPU % (rmq run) | tool µs/msg (rmq run) | rmq broker µs/msg | Apache broker µs/msg "
         "| rmq / Apache | tool's ceiling / Apache | broker budget for 2× (µs/msg) | what limited it |",
         "|---|---|---|---|---|---|---|---|---|"]
    for s in SCENARIOS:
        rmq = [c for c in cells if c["peer"] == "rmq" and c["scenario"] == s and finished(c)]
        tool = median([c["clientCpuUsPerMsg"] for c in rmq if c.get("clientCpuUsPerMsg") is not None])
        brk = median(values(cells, "rmq", s, "brokerCpuUsPerMsg"))
        used = median([u for u in map(used_pct, rmq) if u is not None])
        apache = median(values(cells, "apache", s, "sendTps"))
        if tool is None or apache is None:
            continue
        ceiling, budget, text = verdict(cpus, used, tool, brk, apache)
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s, fmt(used), fmt(tool, 1), fmt(brk, 1), fmt(median(values(cells, "apache", s, "brokerCpuUsPerMsg")), 1),
            ratio(median(values(cells, "rmq", s, "sendTps")), apache), "%.2f" % ceiling if ceiling else "–",
            fmt(budget, 1), text))
    return L if len(L) > 2 else []


def official_section(path):
    """The markdown lines of the section (nothing when the results file is missing)."""
    res = read_json(path) or {}
    cells = res.get("cells") or []
    if not cells:
        return []
    run = res.get("run") or {}
    peers = [p for p in PEER_ORDER if any(c["peer"] == p for c in cells)]
    versions = {c["peer"]: c.get("version") for c in cells}
    L = ["## A third opinion: Apache's own benchmark tool", ""]
    L.append("`%s` (%s UTC, rmq %s, load average %s before and %s after; %d CPUs): Apache RocketMQ's benchmark "
             "Producer and Consumer (`org.apache.rocketmq:rocketmq-example:%s`, unmodified, from Maven) against "
             "every broker in turn (%s), a fresh broker and store for each repetition, each scenario on its own "
             "8-queue topic made with the official `mqadmin updateTopic`. The Producer runs its default 64 "
             "sending threads; its rate is its own `[Complete] Send TPS`, over its last 10 once-a-second samples "
             "(the run's last 10 s). *send+consume* starts the Consumer (20 threads, a new group) first; its "
             "column is the Producer's rate, the Consumer's best 10 s window is the table after. Medians of the "
             "repetitions with min–max; the tool's async mode is left out (bench/official.sh says why)." % (
                 run.get("command", "bench/official.sh"), run.get("timestamp", "?"), run.get("rmqRev", "?"),
                 " ".join(run.get("loadavgBefore") or ["?"]), " ".join(run.get("loadavgAfter") or ["?"]),
                 run.get("cpus") or 0, run.get("exampleVersion", "?"),
                 ", ".join("%s %s" % (LABEL.get(p, p), versions.get(p) or "") for p in peers)))
    L.append("")
    L.extend(table(cells, peers, "sendTps", "Producer msgs/s", big=True))
    L.append("")
    L.extend(table(cells, peers, "consumeTps", "Consumer msgs/s (while the Producer sends)", big=True))
    L.append("")
    L.extend(table(cells, peers, "avgRtMs", "Producer average send time (ms; lower is better)", nd=3))
    L.append("")
    L.extend(table(cells, peers, "brokerCpuUsPerMsg", "broker CPU per message sent (µs; lower is better)", nd=1))
    L.append("")
    L.extend(table(cells, peers, "clientCpuUsPerMsg", "the tool's CPU per message sent (µs; Producer, and Consumer in send+consume)", nd=1))
    L.append("")
    lim = limit_table(cells, run.get("cpus") or 0)
    if lim:
        L.append("Which side used up the CPUs in rmq's runs (the rule of \"Driver or broker\" above, with the "
                 "tool as the driver):")
        L.append("")
        L.extend(lim)
        L.append("")
    bad = failures(cells)
    if bad:
        L.append("Runs left out of the medians:")
        L.append("")
        L.extend(bad)
        L.append("")
    return L

