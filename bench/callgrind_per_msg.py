#!/usr/bin/env python3
"""Instructions per stored message from a callgrind dump (bench/profile.sh --tool callgrind).

Divides inclusive instruction counts by the number of MessageStore::put calls in the dump:
total (everything the broker executed in the window, including idle polling, which makes it
depend a little on the message rate), the request path (connection read loop + request tasks +
write loop: what one message costs to receive, store and answer) and a few parts of it."""
import json
import re
import subprocess
import sys

dump = sys.argv[1]
json_out = sys.argv[2] if len(sys.argv) > 2 else None  # optional: also write the figures as JSON
label = sys.argv[3] if len(sys.argv) > 3 else None
out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump],
                     capture_output=True, text=True).stdout
incl = {}
total = None
for line in out.splitlines():
    m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$", line)
    if not m:
        continue
    n = int(m.group(1).replace(",", ""))
    rest = m.group(2)
    if "PROGRAM TOTALS" in rest:
        total = n
        continue
    fn = re.sub(r"\s+\[[^\]]*\]$", "", rest)
    fn = fn.split(":", 1)[1] if ":" in fn else fn
    incl[fn] = max(incl.get(fn, 0), n)

# calls of MessageStore::put: from the raw dump (calls= lines after cfn= naming it)
# and the inclusive cost of request tasks polled inline by the read loop (counted in both)
names, puts, cur, caller, nested, edge = {}, 0, None, None, 0, False
READ_LOOP = re.compile(r"connection::read_loop::\{\{closure\}\}$")
DISPATCH = re.compile(r"connection::dispatch::\{\{closure\}\}$")
for line in open(dump, errors="replace"):
    if line.startswith(("cfn=", "fn=")):
        spec = line.split("=", 1)[1].strip()
        mm = re.match(r"\((\d+)\)(?: (.*))?", spec)
        if mm:
            if mm.group(2):
                names[mm.group(1)] = mm.group(2)
            spec = names.get(mm.group(1), "")
        if line.startswith("cfn="):
            cur = spec
        else:
            caller, cur = spec, None
    elif line.startswith("calls="):
        if cur and re.search(r"MessageStore::put$", cur):
            puts += int(line[6:].split()[0])
        edge = bool(cur and caller and READ_LOOP.search(caller) and DISPATCH.search(cur))
    elif edge:
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            nested += int(parts[1])
        edge = False

def get(pattern):
    return max([v for k, v in incl.items() if re.search(pattern, k)] or [0])

if not total or not puts:
    print("callgrind: total=%s puts=%s: cannot compute per-message cost" % (total, puts))
    sys.exit(0)
path = sum(get(p) for p in [r"connection::read_loop::\{\{closure\}\}$", r"connection::dispatch::\{\{closure\}\}$",
                             r"connection::write_loop::\{\{closure\}\}$"]) - nested
rows = [("total (all threads, incl. idle polling)", total),
        ("request path (read loop + tasks + write loop)", path)]
for title, pat in [("  frame::decode (JSON header)", r"rmq_protocol::frame::decode$"),
                   ("  tokio::spawn (one task per request)", r"^tokio::task::spawn::spawn$"),
                   ("  SendMessageRequestHeaderV2::read_from", r"SendMessageRequestHeaderV2 as .*CommandHeader>::read_from$"),
                   ("  ExtFields::insert", r"rmq_protocol::ext_fields::ExtFields::insert$"),
                   ("  ExtFields::get", r"rmq_protocol::ext_fields::ExtFields::get$"),
                   ("  FieldReader::get (typed reads)", r"rmq_protocol::ext_fields::FieldReader::get$"),
                   ("  raw_property (store)", r"rmq_store::config::raw_property$"),
                   ("  MessageStore::put", r"MessageStore::put$"),
                   ("  frame::encode (responses)", r"rmq_protocol::frame::encode$"),
                   ("store key index thread", r"rmq_store::index::run$")]:
    rows.append((title, get(pat)))
print("window: %d instructions, %d messages stored (MessageStore::put calls)" % (total, puts))
for title, v in rows:
    if v:
        print("  %-46s %8.0f Ir/msg" % (title, v / puts))
if json_out:
    with open(json_out, "w") as f:
        json.dump({"label": label, "messages": puts, "irPerMsg": {t.strip(): round(v / puts) for t, v in rows if v}}, f, indent=1)
        f.write("\n")
