"""bench/report_reps.py: repetitions and machine load for bench/report.py.

A run of `bench/run.sh --repeat N` holds N entries per peer and driver (key "rep"); results
from before --repeat hold one, without "rep". fold() merges each peer and driver's entries into
one whose numbers are the medians over the repetitions (so every ratio is a ratio of medians)
and keeps the entries and phases of every repetition under "reps" and "runs"; span() renders a
cell as the median with min-max.

Each phase line may carry how busy the machine was around it (the drivers write loadavgBefore,
loadavgAfter, stealPct, hostCpuPct, othersCpuPct); busy() says why a phase counts as busy.
"""
import statistics

from report_common import LABEL, driver_of, fmt, key_of

# A phase is busy when the hypervisor stole more than BUSY_STEAL_PCT of the CPU time during it,
# or when processes other than the broker and the driver (other work, kernel threads) used more
# than BUSY_OTHERS_PCT of one core. The 1-min load average at the phase's start is recorded and
# summarised (phases that started above BUSY_LOAD are counted) but marks nothing: the broker's
# and the driver's own threads are in it, and after a loaded phase they keep it near 2 on a
# 2-CPU machine with nothing else running, so it cannot tell other work from the benchmark.
BUSY_STEAL_PCT = 5.0
BUSY_OTHERS_PCT = 25.0
BUSY_LOAD = 1.5
MARK = "†"


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def median(xs):
    return statistics.median(xs) if xs else None


def fold_phases(phs):
    """One phase of every repetition (same scenario) -> medians, with the phases under "runs"."""
    out = dict(phs[0])
    for k in {k for p in phs for k in p if not k.startswith("_")}:
        vals = [p.get(k) for p in phs if k in p]
        # equal values stay as they are (size, threads, rate: the scenario's key)
        if vals and all(is_num(v) for v in vals) and min(vals) != max(vals):
            out[k] = median(vals)
    out["ok"] = all(p.get("ok") for p in phs)
    if any(p.get("timedOut") for p in phs):
        out["timedOut"] = True
    kinds = {}
    for p in phs:
        for e in p.get("errorKinds") or []:
            kinds[e.get("message")] = kinds.get(e.get("message"), 0) + (e.get("count") or 0)
    out["errorKinds"] = [{"message": m, "count": c} for m, c in kinds.items()]
    out["runs"] = phs
    return out


def fold_entries(entries):
    """Every repetition of one peer under one driver -> one entry (medians; "reps": the entries)."""
    out = dict(entries[0])
    for k in ("startupMs", "idleRssKb", "idleRssAnonKb", "idleCpuPct", "afterLoadRssKb", "diskKb", "wallS"):
        vals = [e[k] for e in entries if is_num(e.get(k))]
        out[k] = median(vals)
    out["ok"] = all(e.get("ok") for e in entries)
    groups = {}
    for i, e in enumerate(entries):
        for ph in e.get("phases", []):
            groups.setdefault(key_of(ph), []).append(dict(ph, _rep=e.get("rep") or i + 1))
    out["phases"] = [fold_phases(g) for g in groups.values()]
    out["reps"] = entries
    return out


def fold(res):
    """res with one entry per peer and driver (skipped peers kept as they are)."""
    if res.get("folded"):
        return res
    order, groups = [], {}
    for p in res.get("peers", []):
        k = (p["peer"], "skipped" if p.get("skipped") else driver_of(p))
        if k not in groups:
            order.append(k)
            groups[k] = []
        groups[k].append(p)
    peers = [groups[k][0] if k[1] == "skipped" else fold_entries(groups[k]) for k in order]
    return dict(res, peers=peers, folded=True)


def repeats(res):
    """Repetitions of the run (1 for results from before --repeat)."""
    return max([p.get("rep") or 1 for p in res.get("peers", [])] + [(res.get("run") or {}).get("repeat") or 1])


# ------------------------------------------------------------------------------------------------
def compact(v, unit):
    """v in the unit of a span: k / M for large counts, else fmt's style."""
    if unit == "M":
        return "%.2f" % (v / 1e6)
    if unit == "k":
        return "%.1f" % (v / 1e3)
    return None


def span(vals, nd=0, big=False):
    """The median and, with more than one value, min-max: `12.3k (11.9–12.8)`."""
    vals = [v for v in vals if is_num(v)]
    if not vals:
        return "–"
    med = median(vals)
    unit = ("M" if med >= 1e6 else "k" if med >= 1e4 else "") if big else ""
    one = (lambda v: compact(v, unit)) if unit else (lambda v: fmt(float(v) if nd else v, nd))
    if len(vals) == 1:
        return fmt(vals[0], nd)
    if min(vals) == max(vals):
        return fmt(med, nd)
    return "%s%s (%s–%s)" % (one(med), unit, one(min(vals)), one(max(vals)))


def cell(ph, field, nd=0, big=False):
    """A phase's field: the value, or over repetitions the median with min-max."""
    if ph is None:
        return "–"
    runs = ph.get("runs") or [ph]
    return span([r.get(field) for r in runs], nd, big)


def peer_cell(p, f, nd=0):
    """A per-broker number (f: entry -> value) over the repetitions of a folded entry."""
    return span([f(e) for e in (p.get("reps") or [p])], nd)


# ------------------------------------------------------------------------------------------------
def busy(ph):
    """Why one phase (of one repetition) counts as busy; [] when it does not or is not known."""
    why = []
    if is_num(ph.get("stealPct")) and ph["stealPct"] > BUSY_STEAL_PCT:
        why.append("steal %.1f %%" % ph["stealPct"])
    if is_num(ph.get("othersCpuPct")) and ph["othersCpuPct"] > BUSY_OTHERS_PCT:
        why.append("other processes %.0f %% of a core" % ph["othersCpuPct"])
    return why


def mark(ph):
    """The busy marker of a (folded) phase's cell: † when any repetition was busy."""
    if ph is None:
        return ""
    runs = ph.get("runs") or [ph]
    n = sum(1 for r in runs if busy(r))
    if not n:
        return ""
    return " " + MARK if len(runs) == 1 else " %s%d/%d" % (MARK, n, len(runs))


def busy_notes(ran, limit=30):
    """Footnote lines naming every busy phase of the folded entries `ran`, and why."""
    L = []
    for p in ran:
        for ph in p.get("phases", []):
            for i, r in enumerate(ph.get("runs") or [ph]):
                why = busy(r)
                if why:
                    load = (r.get("loadavgBefore") or [None])[0]
                    if is_num(load):
                        why.append("load average %.2f at the start" % load)
                    rep = " (repetition %d)" % (r.get("_rep") or i + 1) if len(ph.get("runs") or []) > 1 else ""
                    L.append("- %s %s, %s%s: %s" % (MARK, LABEL.get(p["peer"], p["peer"]), key_of(r), rep, "; ".join(why)))
    if len(L) > limit:
        L = L[:limit] + ["- … and %d more" % (len(L) - limit)]
    return L


def machine_summary(res):
    """The paragraph that says how busy the machine was during the phases of this run."""
    phases = [r for p in res.get("peers", []) if not p.get("skipped") for ph in p.get("phases", [])
              for r in ph.get("runs") or [ph]]
    known = [ph for ph in phases if is_num(ph.get("stealPct")) or ph.get("loadavgBefore")]
    if not phases:
        return []
    if not known:
        return ["**Machine load per phase: not recorded** (results from before the drivers recorded the load "
                "average and the CPU steal around every phase); load average at the start of the run: %s." % (
                    " ".join((res.get("machine") or {}).get("loadavgAtStart", [])) or "?"), ""]
    n_busy = sum(1 for ph in known if busy(ph))
    loads = [ph["loadavgBefore"][0] for ph in known if ph.get("loadavgBefore")]
    steal = [ph["stealPct"] for ph in known if is_num(ph.get("stealPct"))]
    others = [ph["othersCpuPct"] for ph in known if is_num(ph.get("othersCpuPct"))]
    head = ("**A quiet run: none of the %d phases was busy.**" % len(known) if not n_busy else
            "**%d of the %d phases %s busy** (marked %s in the tables%s; the list follows each table)." % (
                n_busy, len(known), "was" if n_busy == 1 else "were", MARK,
                "; over repetitions %s*n*/*m*: *n* of the *m* repetitions busy" % MARK
                if any(len(p.get("reps") or []) > 1 for p in res.get("peers", [])) else ""))
    high = sum(1 for v in loads if v > BUSY_LOAD)
    L = [head + " A phase counts as busy when the hypervisor stole more than %s %% of the CPU time during it "
         "(steal jiffies of `/proc/stat` over all), or when processes other than the broker and the load driver "
         "(other work on the machine, kernel threads) used more than %s %% of one core (`/proc/stat` busy "
         "jiffies minus the two processes' utime+stime), both measured by the driver from the phase's start to "
         "its end. Over the phases (median, min–max): steal %s %%, other processes %s %% of a core, 1-min load "
         "average at the start %s. %d of %d phases started with a load average above %s; it is not a busy "
         "marker: the broker's and the driver's own threads count in it, and on %s CPUs a loaded phase keeps "
         "it near 2 by itself." % (
             fmt(BUSY_STEAL_PCT), fmt(BUSY_OTHERS_PCT), span(steal, 1), span(others), span(loads, 2), high,
             len(loads), BUSY_LOAD, (res.get("machine") or {}).get("cpus", "?"))]
    if len(known) < len(phases):
        L[0] += " %d phases carry no such data." % (len(phases) - len(known))
    return L + [""]
