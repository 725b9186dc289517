"""bench/report_drivers.py: the per-phase tables of one load driver's results and the sections
that compare the Java client with the native driver (bench/report.py renders them)."""
from report_common import *  # noqa: F401,F403  (bench/report_common.py, same directory)
from report_limit import DRIVER_MARK, driver_limited  # noqa: E402
from report_reps import MARK, busy_notes, cell, mark, peer_cell  # noqa: E402


def phase_tables(ran, h="##", cpus=None):
    """The summary (ratios to rmq) and every-phase tables of one driver's results (folded: one
    entry per peer, medians over the repetitions, see report_reps.fold). With the machine's
    CPU count, a phase whose driver's own CPU kept it from 2x Apache gets DRIVER_MARK."""
    L = []
    reps = max([len(p.get("reps") or [p]) for p in ran] or [1])
    rmq = next((p for p in ran if p["peer"] == "rmq"), None)
    others = [p for p in ran if p["peer"] != "rmq"]
    keys = phase_keys(ran)
    has_open = any(k.startswith("open") for k in keys)
    phase, val = phase_of, val_of
    # ---------------------------------------------------------------- summary
    L.append(h + (" Summary: ratios (one run, one machine)" if reps == 1 else
                  " Summary: ratios of medians (%d repetitions, one machine)" % reps))
    L.append("")
    if reps > 1:
        L.append("Every cell is the median of the %d repetitions (each with a freshly started broker) with "
                 "min–max in brackets; ratios are ratios of the medians." % reps)
        L.append("")
    if not rmq or not rmq.get("phases"):
        L.append("rmq did not produce results in this run.")
    else:
        hdr = "| scenario | rmq msgs/s |" + "".join(" %s msgs/s |" % peer_title(p) for p in others) + \
              "".join(" rmq / %s |" % LABEL.get(p["peer"], p["peer"]) for p in others)
        L.append(hdr)
        L.append("|" + "---|" * (2 + 2 * len(others)))
        apache = next((p for p in others if p["peer"] == "apache"), None)
        marked = [k for k in keys if cpus and driver_limited(phase(rmq, k), phase(apache, k), cpus)]
        for k in keys:
            a = val(rmq, k, "tps")
            tps = lambda p: cell(phase(p, k), "tps", big=True) + mark(phase(p, k))  # noqa: E731
            row = "| %s | %s |" % (k + (" " + DRIVER_MARK if k in marked else ""), tps(rmq))
            row += "".join(" %s |" % tps(p) for p in others)
            row += "".join(" **%s** |" % ratio(a, val(p, k, "tps")) for p in others)
            L.append(row)
        L.append("")
        if marked:
            L.append("%s The load driver's own CPU kept this phase from 2x %s: with a broker that used no CPU at all "
                     "it could not reach 2x, or 2x would leave a broker less CPU per message than rmq's used "
                     "(section \"Driver or broker\" has the figures)." % (DRIVER_MARK, LABEL.get("apache", "Apache")))
            L.append("")
        L.append("Throughput ratios above 1 mean rmq is faster. Latency, memory and start-up (lower is better):")
        L.append("")
        L.append("| metric | rmq |" + "".join(" %s |" % peer_title(p) for p in others) +
                 "".join(" rmq / %s |" % LABEL.get(p["peer"], p["peer"]) for p in others))
        L.append("|" + "---|" * (2 + 2 * len(others)))
        rows = []
        # (title, value of an entry: a folded entry gives the median, a repetition's its own; decimals)
        for k in keys:
            if k.startswith(("sync", "open")):
                rows.append(("p99 send latency, %s (ms)" % k, lambda p, k=k: val(p, k, "p99Ms"), 2))
        for k in keys:
            rows.append(("broker CPU per message, %s (µs)" % k, lambda p, k=k: val(p, k, "brokerCpuUsPerMsg"), 1))
        rows.append(("broker start-up to registered (ms)", lambda p: p.get("startupMs"), 0))
        rows.append(("broker RSS idle (MiB)", lambda p: p["idleRssKb"] / 1024 if p.get("idleRssKb") else None, 1))
        rss_peak = lambda p, f: max([ph.get(f) or 0 for ph in p["phases"] if ph.get("phase") in SATURATED] or [0]) / 1024 or None  # noqa: E731
        rows.append(("broker RSS peak under load (MiB)", lambda p: rss_peak(p, "brokerRssMaxKb"), 1))
        rows.append(("broker anon RSS peak under load (MiB)", lambda p: rss_peak(p, "brokerRssAnonMaxKb"), 1))
        for title, f, nd in rows:
            a = f(rmq)
            c = lambda p: peer_cell(p, f, nd) if p.get("reps") else fmt(f(p), nd)  # noqa: E731
            L.append("| %s | %s |" % (title, c(rmq)) + "".join(" %s |" % c(p) for p in others) +
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
                k, LABEL.get(p["peer"], p["peer"]), flag, cell(ph, "tps", big=True) + mark(ph), fmt(ph.get("mbps"), 1),
                fmt(ph.get("p50Ms"), 2), cell(ph, "p99Ms", 2), fmt(ph.get("p999Ms"), 2), fmt(ph.get("maxMs"), 1),
                fmt(ph.get("appendMBps"), 1), fmt(ph.get("brokerCpuPct")), fmt(ph.get("brokerCpuUsPerMsg"), 1), fmt(ph.get("driverCpuPct")),
                fmt((ph.get("brokerRssMaxKb") or 0) / 1024 or None, 1), fmt(ph.get("errors"))))
    L.append("")
    if reps > 1:
        L.append("msgs/s and p99 ms: median of the %d repetitions with min–max; the other columns: medians." % reps)
        L.append("")
    notes = busy_notes(ran)
    if notes:
        L.append("Busy phases (%s; see the machine-load note at the top):" % MARK)
        L.append("")
        L.extend(notes)
        L.append("")
    errs = []
    for p in ran:
        for ph in p["phases"]:
            for e in ph.get("errorKinds", []) or []:
                errs.append("- %s, %s: %s × `%s`" % (LABEL.get(p["peer"], p["peer"]), key_of(ph), e.get("count"), e.get("message")))
            for r in ph.get("runs") or [ph]:
                if r.get("fatal") or r.get("error"):
                    errs.append("- %s, %s%s: `%s`" % (LABEL.get(p["peer"], p["peer"]), key_of(ph),
                                                      " (repetition %s)" % r.get("_rep") if reps > 1 else "",
                                                      r.get("fatal") or r.get("error")))
    if errs:
        L.append("Errors seen by the driver (⚠ = phase not ok: no messages, > 1 % errors, or timed out):")
        L.append("")
        L.extend(errs[:40])
        L.append("")
    for p in ran:
        for ph in p["phases"]:
            if ph.get("phase") != "consume":
                continue
            for r in ph.get("runs") or [ph]:
                L.append("- %s%s: consumed %s of %s backlog messages; first message after %s ms, whole backlog in %s ms%s." % (
                    LABEL.get(p["peer"], p["peer"]), " (repetition %s)" % r.get("_rep") if reps > 1 else "",
                    fmt(r.get("msgs")), fmt(r.get("expect")), fmt(r.get("firstMsgMs")),
                    fmt(r.get("totalMs")), " (timed out)" if r.get("timedOut") else ""))
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
                     "latency counts from each message's scheduled send time, so a stall shows as latency "
                     "(the driver's send clock ticks at most every 50 µs and releases every send due by then, "
                     "so a send leaves up to 50 µs late, counted in its latency)." % (
                         ",".join(x for x in run.get("nativePlan", "").split(",") if x.startswith("open")) or "none",
                         " (pinned to CPU %s, the broker to CPUs %s)" % (run.get("nativeCpu"), run.get("brokerCpus"))
                         if run.get("nativeCpu") else ""))
            L.append("")
        L.extend(phase_tables(ran_with(res, d), "###", machine_cpus(res)))
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


def pinned_section(res):
    """A side-by-side run with every broker pinned to cores of its own and the native driver to
    another (bench/run.sh --pin), saved as bench/results/pinned.json: the brokers' own ceiling
    next to the shared-core tables above. `res` is that run's results JSON, already folded."""
    if not res:
        return []
    run = res.get("run", {})
    ran = ran_with(res, "native")
    if not ran or not run.get("nativeCpu"):
        return []
    L = ["## The brokers' own ceiling: each broker on a core of its own", ""]
    L.append("Every other table lets the load driver and the broker share the machine's CPUs. Here each "
             "broker's threads were pinned to CPU %s and the native driver's to CPU %s (`taskset`, "
             "`rmq-bench --cpu`), so a broker had one core to itself and the driver another: a broker "
             "that needs less CPU per message gets further on its core. Run: `%s` (%s run, %s UTC, rmq %s; "
             "saved as bench/results/pinned.json, rendered from it)." % (
                 run.get("brokerCpus"), run.get("nativeCpu"), run.get("command", "bench/run.sh --pin"),
                 run.get("mode", "?"), run.get("timestamp", "?"), run.get("rmqRev", "?")))
    L.append("")
    L.extend(phase_tables(ran, "###"))
    return L
