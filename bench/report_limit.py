"""bench/report.py's section on which side limited each saturated phase: the load driver or the broker.

The driver and the broker share the machine's CPUs. When the CPUs are what a phase ran out of, its
rate is at most CPUS / (driver CPU per message + broker CPU per message), so the driver's own CPU
per message, measured in rmq's run, bounds what any broker can show with that driver:
- the driver's ceiling: the rate with a broker that used no CPU at all, as a multiple of Apache's;
- the broker budget for 2x: the broker CPU per message that still leaves room for twice Apache's
  rate (CPUS / (2 x Apache's rate) minus the driver's share); negative when no broker can.
A phase whose driver and broker together left the CPUs partly idle (one sender waiting on round
trips, a consumer waiting on its pulls) did not run out of them and gets neither verdict. Every number comes from the results JSON.
"""
from report_common import DRIVER_TITLE, LABEL, fmt, phase_keys, phase_of, ran_with, ratio

# A run that used less than this share of all CPUs did not run out of them.
CPU_BOUND_SHARE = 0.85
# The goal the budget column is computed for (issue 20: every phase >= 2x Apache 5.x).
GOAL = 2.0


def per_msg_us(pct, tps):
    """CPU microseconds per message from a CPU share (100 = one core) and a rate."""
    if pct is None or not tps:
        return None
    return pct * 1e4 / tps


def sum_or_none(a, b):
    """a + b, or None when either is missing."""
    return None if a is None or b is None else a + b


def verdict(cpus, used_pct, drv_us, brk_us, apache_tps):
    """The limit of one phase: (driver's ceiling as a multiple of Apache, broker budget µs, text).

    >>> verdict(2, 194, 5.8, 0.5, 195_200)[2]
    '**the driver**: it alone caps any broker at 1.77×'
    >>> verdict(2, 187, 8.9, 3.5, 90_400)[2]
    'the driver and the broker: 2× leaves a broker 2.2 µs/msg, rmq used 3.5'
    >>> verdict(2, 190, 4.7, 4.9, 66_000)[2]
    'the broker: 2× leaves it 10.5 µs/msg, rmq used 4.9'
    >>> verdict(2, 145, 11.3, 20.1, 15_400)[2]
    'not the CPUs (145 % of 200 used)'
    >>> verdict(2, 194, None, 0.5, 195_200)[2]
    '–'
    """
    if not (cpus and drv_us and apache_tps):
        return None, None, "–"
    ceiling = cpus * 1e6 / drv_us / apache_tps
    budget = cpus * 1e6 / (GOAL * apache_tps) - drv_us
    if used_pct is not None and used_pct < CPU_BOUND_SHARE * cpus * 100:
        return ceiling, budget, "not the CPUs (%s %% of %d used)" % (fmt(used_pct), cpus * 100)
    if ceiling < GOAL:
        return ceiling, budget, "**the driver**: it alone caps any broker at %.2f×" % ceiling
    if brk_us is not None and brk_us > budget:
        return ceiling, budget, "the driver and the broker: %g× leaves a broker %.1f µs/msg, rmq used %.1f" % (
            GOAL, budget, brk_us)
    return ceiling, budget, "the broker: %g× leaves it %.1f µs/msg, rmq used %s" % (
        GOAL, budget, fmt(brk_us, 1))


# The summary's mark for a phase whose driver used up the CPUs (see driver_limited).
DRIVER_MARK = "‡"


def driver_limited(rmq_phase, apache_phase, cpus):
    """Whether the driver's own CPU kept this phase from 2x Apache: rmq is under 2x and the
    verdict says "the driver" or "the driver and the broker" (False without the figures).

    >>> driver_limited({"tps": 306_700, "driverCpuPct": 178, "brokerCpuPct": 16, "brokerCpuUsPerMsg": 0.5},
    ...                {"tps": 195_200}, 2)
    True
    >>> driver_limited({"tps": 84_000, "driverCpuPct": 140, "brokerCpuPct": 37, "brokerCpuUsPerMsg": 4.4},
    ...                {"tps": 32_600}, 2)
    False
    >>> driver_limited({"tps": 400_000, "driverCpuPct": 178, "brokerCpuPct": 16, "brokerCpuUsPerMsg": 0.5},
    ...                {"tps": 195_200}, 2)
    False
    >>> driver_limited(None, {"tps": 1}, 2)
    False
    """
    if not rmq_phase or not apache_phase or not rmq_phase.get("tps") or not apache_phase.get("tps"):
        return False
    if rmq_phase["tps"] >= GOAL * apache_phase["tps"]:
        return False
    used = sum_or_none(rmq_phase.get("driverCpuPct"), rmq_phase.get("brokerCpuPct"))
    text = verdict(cpus, used, per_msg_us(rmq_phase.get("driverCpuPct"), rmq_phase["tps"]),
                   rmq_phase.get("brokerCpuUsPerMsg"), apache_phase["tps"])[2]
    return "the driver" in text


def rows_for(res, driver, cpus):
    """The table rows of one driver's saturated phases (rmq against Apache 5.x)."""
    ran = ran_with(res, driver)
    rmq = next((p for p in ran if p["peer"] == "rmq"), None)
    apache = next((p for p in ran if p["peer"] == "apache"), None)
    rows = []
    for k in phase_keys(ran):
        r, a = phase_of(rmq, k), phase_of(apache, k)
        if not r or not a or not r.get("tps") or not a.get("tps") or r.get("phase") == "open":
            continue
        drv_us = per_msg_us(r.get("driverCpuPct"), r["tps"])
        used = sum_or_none(r.get("driverCpuPct"), r.get("brokerCpuPct"))
        ceiling, budget, text = verdict(cpus, used, drv_us, r.get("brokerCpuUsPerMsg"), a["tps"])
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            k, DRIVER_TITLE.get(driver, driver), fmt(used), fmt(drv_us, 1),
            fmt(r.get("brokerCpuUsPerMsg"), 1), fmt(a.get("brokerCpuUsPerMsg"), 1), ratio(r["tps"], a["tps"]),
            "%.2f" % ceiling if ceiling is not None else "–", fmt(budget, 1), text))
    return rows


def limit_section(res, drivers):
    """The section's markdown lines (nothing when rmq or Apache 5.x did not run)."""
    try:
        cpus = int(res["machine"].get("cpus"))
    except (TypeError, ValueError):
        return []
    rows = [row for d in drivers for row in rows_for(res, d, cpus)]
    if not rows:
        return []
    L = ["## Driver or broker: which one each phase measured", ""]
    L.append("The driver and the broker share %d CPUs, so where the CPUs ran out a phase's rate is at most "
             "%d cores / (driver CPU + broker CPU per message). From the driver CPU each phase measured against "
             "rmq: the **driver's ceiling** is the rate with a broker that used no CPU at all, as a multiple of "
             "%s's rate; the **broker budget for %g×** is the broker CPU per message that would still leave room "
             "for %g× %s's rate (negative: no broker can reach it with this driver on this machine). Medians of "
             "the repetitions; CPU used is the driver's and rmq's broker's together in rmq's run (100 %% = one "
             "core); below %d %% of all the CPUs the phase did not run out of them and gets no verdict." % (
                 cpus, cpus, LABEL.get("apache", "Apache"), GOAL, GOAL, LABEL.get("apache", "Apache"),
                 round(CPU_BOUND_SHARE * 100)))
    L.append("")
    L.append("| scenario | driver | driver + broker CPU %% | driver µs/msg (rmq run) | rmq broker µs/msg | %s broker µs/msg "
             "| rmq / %s | driver's ceiling / %s | broker budget for %g× (µs/msg) | what limited it |" % (
                 (LABEL.get("apache", "Apache"),) * 3 + (GOAL,)))
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    L.extend(rows)
    L.append("")
    return L

