"""bench/recovery_results.py: the recovery bench's (bench/recovery.sh) results: rows of
OUT/runs.jsonl, one per broker start or fill, and the report made of them. Commands:

  merge OUTFILE JSON... key=value...   append one row: the JSON objects merged, then the key=value
                                       pairs (values parsed as JSON when they are, else strings)
  report OUT META                      write OUT/recovery.json (META plus peers, checks, ok), print
                                       it; exit 0 when every check passed, else 1
"""
import json, os, sys

def merge(a):
    # merge OUTFILE JSON... key=value...: one row of runs.jsonl
    row = {}
    for x in a[1:]:
        if x.startswith("{"): row.update(json.loads(x))
        else:
            k, v = x.split("=", 1)
            try: row[k] = json.loads(v)
            except ValueError: row[k] = v
    with open(a[0], "a") as f: f.write(json.dumps(row) + "\n")

def median(v):
    """The median of the values that are not None, or None."""
    v = sorted(x for x in v if x is not None)
    return None if not v else (v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2)

def report(a):
    """recovery.json from runs.jsonl and META: the runs per peer and case, their medians and checks; exit 1 if one failed."""
    out, meta = a[0], json.loads(open(a[1]).read())
    rows = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]
    peers = {}
    for r in rows:
        p = peers.setdefault(r["peer"], {"cases": {}})
        if r["case"] == "fill":
            p["fill"] = r; continue
        c = p["cases"].setdefault(r["case"], {"runs": []})
        c["runs"].append(r)
    checks = {}
    for name, p in peers.items():
        for cname, c in p["cases"].items():
            c["medianBootMs"] = median([x.get("bootMs") for x in c["runs"]])
            c["medianRegisteredMs"] = median([x.get("registeredMs") for x in c["runs"]])
            c["medianScannedBytes"] = median([x.get("scannedBytes") for x in c["runs"]])
            c["medianStoreOpenMs"] = median([(x.get("storeOpen") or {}).get("elapsed_ms") for x in c["runs"]])
            for x in c["runs"]:
                checks["%s %s run %s: %s" % (name, cname, x.get("rep"), x.get("check", "?"))] = bool(x.get("ok"))
    meta["peers"] = peers
    meta["checks"] = checks
    meta["ok"] = bool(checks) and all(checks.values())
    s = json.dumps(meta)
    open(os.path.join(out, "recovery.json"), "w").write(s + "\n")
    print(s)
    return 0 if meta["ok"] else 1

if __name__ == "__main__":
    c, a = sys.argv[1], sys.argv[2:]
    if c == "merge": merge(a)
    elif c == "report": sys.exit(report(a))
    else: sys.exit("recovery_results.py: unknown command " + c)
