"""bench/report_extra.py: the sections of the fixed-load phases (bench/report.py renders them
after the per-phase tables): latency under a fixed offered load (`openpct`), end-to-end latency
while producing (`e2e`) and the broker with many topics and consumer groups (`scale`). Results
from before these phases have none of them and render no section."""
from report_common import *  # noqa: F401,F403  (bench/report_common.py, same directory)
from report_reps import cell, mark, span  # noqa: E402


def rows_of(res, kind):
    """[(key, folded entry, folded phase)] of every phase of `kind`, by key, driver and peer."""
    out = []
    for d in drivers_in(res):
        for p in ran_with(res, d):
            for ph in p.get("phases", []):
                if ph.get("phase") == kind:
                    out.append((key_of(ph), p, ph))
    keys = []
    for k, _, _ in out:
        if k not in keys:
            keys.append(k)
    return sorted(out, key=lambda r: keys.index(r[0]))


def who(p, res):
    """The broker, and the driver when the run has more than one."""
    name = LABEL.get(p["peer"], p["peer"])
    return name if len(drivers_in(res)) < 2 else "%s (%s)" % (name, SHORT.get(driver_of(p), driver_of(p)))


def flag(ph):
    return "" if ph.get("ok") else " ⚠"


def mib(ph, field):
    """A KiB field as MiB: median with min-max over the repetitions."""
    return span([r[field] / 1024 for r in ph.get("runs") or [ph] if is_kib(r.get(field))], 1)


def is_kib(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def lat_cells(ph):
    return [cell(ph, "p50Ms", 2), cell(ph, "p99Ms", 2), cell(ph, "p999Ms", 2), cell(ph, "maxMs", 1)]


def open_pct_section(res):
    rows = rows_of(res, "openpct")
    if not rows:
        return []
    L = ["## Latency under a fixed offered load", ""]
    L.append("Each broker, after its saturated phases, offered a fixed share (50 %% and 80 %%) of **its own peak**: "
             "the best msgs/s of the closed-loop phases (`sync`, `async`) with the same body size measured earlier "
             "in the same broker run under the same driver (the phase it came from is named). Open loop: messages "
             "are offered on a fixed schedule whatever the acknowledgements, and each one's latency counts from its "
             "scheduled send time to its acknowledgement, so a stall shows as latency instead of as fewer samples: "
             "every message due in the %s ms window counts, however late (the driver waits up to 10 s after it). "
             "Achieved = those acknowledged by the end of the window, per second: below the offered rate the broker "
             "could not keep up at that share of its peak." % res["run"].get("measureMs", "?"))
    L.append("")
    L.append("| load | broker | peak msgs/s (phase) | offered msgs/s | achieved msgs/s | p50 ms | p99 ms | p99.9 ms | max ms "
             "| broker CPU % | errors |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for k, p, ph in rows:
        L.append("| %s | %s%s | %s (%s) | %s | %s | %s | %s | %s |" % (
            k, who(p, res), flag(ph), cell(ph, "peakTps", big=True), ph.get("peakPhase", "?"), cell(ph, "offeredTps", big=True),
            cell(ph, "tps", big=True) + mark(ph), " | ".join(lat_cells(ph)), cell(ph, "brokerCpuPct"), cell(ph, "errors")))
    L.append("")
    return L


def e2e_section(res):
    rows = rows_of(res, "e2e")
    if not rows:
        return []
    L = ["## End-to-end latency while producing", ""]
    L.append("A fixed rate of messages is offered (open loop, as above) to a fresh 8-queue topic that a consumer in a "
             "new group reads at the same time: the Java client's `DefaultMQPushConsumer` (20 consume threads, long "
             "polling) under the Java driver, long-polling PULL_MESSAGE requests (one loop per queue, 32 messages a "
             "pull) under the native driver. Latency: from each message's scheduled send time (carried in its first "
             "8 body bytes) to its delivery (the push consumer's callback; the pull response). The consumer is "
             "ready before the measurement (a probe message reached it). The latency of every message due in the "
             "window counts, however late; delivered msgs/s = those delivered by the end of the window, per second; "
             "lost = acknowledged but not delivered within 10 s after it.")
    L.append("")
    L.append("| rate | broker | offered msgs/s | delivered msgs/s | p50 ms | p99 ms | p99.9 ms | max ms | lost | broker CPU % "
             "| errors |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for k, p, ph in rows:
        L.append("| %s | %s%s | %s | %s | %s | %s | %s | %s |" % (
            k, who(p, res), flag(ph), cell(ph, "offeredTps", big=True), cell(ph, "tps", big=True) + mark(ph),
            " | ".join(lat_cells(ph)), cell(ph, "lost"), cell(ph, "brokerCpuPct"), cell(ph, "errors")))
    L.append("")
    return L


def scale_section(res):
    rows = rows_of(res, "scale")
    if not rows:
        return []
    L = ["## Scale: many topics and consumer groups", ""]
    settle = fmt((res["run"].get("settleMs") or 0) / 1000)
    L.append("After its other phases, each broker got the topics (UPDATE_AND_CREATE_TOPIC, each until the nameserver "
             "routed it) and the consumer groups (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP); then every group ran a "
             "consumer subscribed to its share of the topics (each topic read by one group; Java driver: one "
             "`DefaultMQPushConsumer` per group; native driver: HEART_BEAT of the groups every 20 s and one "
             "long-polling pull loop per queue storing its offset with its pulls), so the broker holds every "
             "group's long polls and offsets; the Java client also stores every queue's offset "
             "(UPDATE_CONSUMER_OFFSET) every 5 s and rebalances every 20 s, so its idle broker has more to do "
             "than the native driver's. **Idle**: after %s s settled, the broker's CPU over %s ms and its RSS at the end. "
             "**Under load**: messages of 128 B at a fixed rate spread round robin over all the topics while the "
             "groups consume; CPU and the RSS peak over the measured window. RSS is VmRSS (mapped commit-log "
             "pages included), anon is RssAnon (heap and other private memory); *before* is the broker right "
             "before the topics were created (after the saturated phases), so idle − before is what the topics "
             "and groups cost. Run by the first driver of the run only." % (
                 settle, res["run"].get("measureMs", "?")))
    L.append("")
    L.append("| setup | broker | RSS before MiB | RSS idle MiB | anon idle MiB | idle − before MiB | CPU idle % "
             "| RSS peak loaded MiB | anon peak loaded MiB | CPU loaded % | sent msgs/s | consumed msgs/s "
             "| topics created in s | errors |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k, p, ph in rows:
        grow = [(r["idleRssKb"] - r["baseRssKb"]) / 1024 for r in ph.get("runs") or [ph]
                if is_kib(r.get("idleRssKb")) and is_kib(r.get("baseRssKb"))]
        made = [r["createTopicsMs"] / 1000 for r in ph.get("runs") or [ph] if is_kib(r.get("createTopicsMs"))]
        L.append("| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            k, who(p, res), flag(ph), mib(ph, "baseRssKb"), mib(ph, "idleRssKb"), mib(ph, "idleRssAnonKb"),
            span(grow, 1), cell(ph, "idleCpuPct", 1), mib(ph, "brokerRssMaxKb"), mib(ph, "brokerRssAnonMaxKb"),
            cell(ph, "brokerCpuPct"), cell(ph, "tps", big=True) + mark(ph), cell(ph, "consumedTps", big=True),
            span(made, 1), cell(ph, "errors")))
    L.append("")
    return L


def extra_sections(res):
    """Every section of the fixed-load phases that the results have."""
    return open_pct_section(res) + e2e_section(res) + scale_section(res)
