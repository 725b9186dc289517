"""bench/report_common.py: what bench/report.py and bench/report_drivers.py share: the peers
and phases, reading a run directory, and number formatting."""
import glob
import json
import os
import platform
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ORDER = ["rmq", "apache", "apache4", "rocketmq-rust"]
LABEL = {"rmq": "rmq", "apache": "Apache", "apache4": "Apache 4.x", "rocketmq-rust": "rocketmq-rust"}
PHASES = ("sync", "async", "open", "fill", "consume", "openpct", "e2e", "scale")
# the phases of the per-phase tables; the fixed-load ones (openpct, e2e, scale) have their own
# sections (bench/report_extra.py)
SATURATED = ("sync", "async", "open", "fill", "consume")
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
    limits["ddDirectMBps"] = parse_dd(limits.get("ddDirect", ""))
    peers = []
    try:
        names = [l.strip() for l in open(os.path.join(run_dir, "peers.txt")) if l.strip()]
    except OSError:
        names = sorted(os.listdir(os.path.join(run_dir, "peers")))
    for name in names:
        d = os.path.join(run_dir, "peers", name)
        found = False
        # repetition 1 in peers/NAME, later ones (bench/run.sh --repeat) in peers/NAME/rep-K
        reps = sorted((int(x[4:]), x) for x in (os.listdir(d) if os.path.isdir(d) else [])
                      if re.fullmatch(r"rep-[0-9]+", x))
        for rep in [""] + [x for _, x in reps]:
            for sub in ("", "native"):  # Java client results, then the native driver's
                meta = read_json(os.path.join(d, rep, sub, "meta.json"))
                if meta is not None:
                    peers.append(peer_entry(os.path.join(d, rep, sub), meta))
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
    if p.get("phase") == "openpct":
        return "open %s B @ %s %% of peak" % (p.get("size"), "%g" % p["pct"] if p.get("pct") is not None else "?")
    if p.get("phase") == "e2e":
        return "e2e %s B @ %s msgs/s" % (p.get("size"), fmt(p.get("rate")))
    if p.get("phase") == "scale":
        return "%s topics x %s queues, %s groups, %s msgs/s" % (
            fmt(p.get("topics")), p.get("queues"), fmt(p.get("groups")), fmt(p.get("rate")))
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
    """The scenarios of the per-phase tables (the saturated phases), in the order they ran."""
    keys = []
    for p in ran:
        for ph in p["phases"]:
            if ph.get("phase") not in SATURATED:
                continue
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


def machine_cpus(res):
    """The CPU count of the machine a results JSON was measured on (None when unknown)."""
    try:
        return int((res.get("machine") or {}).get("cpus"))
    except (TypeError, ValueError):
        return None


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
