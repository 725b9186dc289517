"""bench/recovery_probe.py: the recovery bench's (bench/recovery.sh) probes of a broker: a timed
start, remoting calls over the RocketMQ wire protocol (JSON headers) and what a run left on disk.
Commands, each printing one JSON object (start, maxoffset, acked, checkpoint, storeopened) or
answering by exit status (listed):

  start LOG PIDFILE NS ADDR TIMEOUT_S CWD -- CMD...   spawn CMD; {"pid","bootMs","registeredMs","exited"}
  listed NS ADDR                                       exit 0 when the nameserver lists the broker ADDR
  maxoffset ADDR [WAIT_S]                              {"maxOffset"}: commitLogMaxOffset (GET_BROKER_RUNTIME_INFO)
  acked FILE                                           {"ackedMaxOffset","acked"} of a producer's --out file
  checkpoint FILE                                      {"checkpoint"}: rmq's checkpoint file, or null
  storeopened LOG                                      {"storeOpen"}: rmq's last "message store opened" line
"""
import json, re, socket, struct, subprocess, sys, time

def rpc(addr, code, ext=None, timeout=2.0, sock=None):
    """One request CODE with EXT fields to ADDR (host:port); the response header (dict) and body."""
    host, port = addr.rsplit(":", 1)
    own = sock is None
    s = sock or socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    try:
        hdr = json.dumps({"code": code, "language": "JAVA", "version": 399, "opaque": int(time.time() * 1000) & 0x7fffffff,
                          "flag": 0, "extFields": ext or {}, "serializeTypeCurrentRPC": "JSON"}).encode()
        s.sendall(struct.pack(">II", 4 + len(hdr), len(hdr)) + hdr)
        def rd(n):
            b = b""
            while len(b) < n:
                c = s.recv(n - len(b))
                if not c: raise ConnectionError("closed")
                b += c
            return b
        total, hl = struct.unpack(">II", rd(8))
        hl &= 0xFFFFFF
        rest = rd(total - 4)
        return json.loads(rest[:hl]), rest[hl:]
    finally:
        if own: s.close()

def listed(ns, addr, sock=None):
    """Whether the nameserver NS lists the broker ADDR in its cluster info."""
    h, body = rpc(ns, 106, sock=sock)  # GET_BROKER_CLUSTER_INFO
    return h.get("code") == 0 and ('"%s"' % addr).encode() in body

def max_offset(addr, wait_s=30):
    """The broker's commitLogMaxOffset, asked every 0.2 s for up to WAIT_S seconds; None if it never said."""
    end = time.time() + wait_s
    while True:
        try:
            h, body = rpc(addr, 28)  # GET_BROKER_RUNTIME_INFO
            m = re.search(rb'"commitLogMaxOffset"\s*:\s*"?(\d+)', body)
            if h.get("code") == 0 and m: return int(m.group(1))
        except Exception:
            pass
        if time.time() > end: return None
        time.sleep(0.2)

def start(a):
    # start LOG PIDFILE NS ADDR TIMEOUT_S CWD -- cmd...   (env from the caller)
    logf, pidf, ns, addr, tmo, cwd = a[:6]; cmd = a[7:]
    out = open(logf, "ab")
    out.seek(0, 2)
    pos0 = out.tell()  # the log is appended to across restarts: only new lines count
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
    open(pidf, "w").write("%d\n" % p.pid)
    boot = reg = None; pos = pos0; sock = None; last_poll = 0.0
    deadline = t0 + float(tmo)
    while (boot is None or reg is None) and time.monotonic() < deadline:
        now = time.monotonic()
        if boot is None:
            with open(logf, "rb") as f:
                f.seek(pos); chunk = f.read()
            if b"boot success" in chunk:
                boot = now - t0
            else:
                pos += max(0, len(chunk) - 64)
        if reg is None and now - last_poll >= 0.01:
            last_poll = now
            try:
                if sock is None: sock = socket.create_connection(tuple([ns.rsplit(":", 1)[0], int(ns.rsplit(":", 1)[1])]), timeout=2)
                if listed(ns, addr, sock): reg = time.monotonic() - t0
            except Exception:
                sock = None
        if p.poll() is not None:
            break
        time.sleep(0.002)
    r = {"pid": p.pid, "bootMs": None if boot is None else round(boot * 1000), "registeredMs": None if reg is None else round(reg * 1000),
         "exited": p.poll()}
    print(json.dumps(r))
    return 0 if boot is not None and reg is not None else 1

def acked(path):
    # --out lines: index, msgId, offsetMsgId, brokerName, queueId, queueOffset, status
    best, n = -1, 0
    try:
        for line in open(path):
            f = line.rstrip("\n").split("\t")
            if len(f) >= 7 and f[6] == "SEND_OK" and len(f[2]) >= 32:
                n += 1; best = max(best, int(f[2][-16:], 16))
    except OSError:
        pass
    print(json.dumps({"ackedMaxOffset": best, "acked": n}))

def checkpoint(path):
    """The newer valid copy of rmq's checkpoint (two 64-byte CRC-checked slots): flushed offsets."""
    try:
        b = open(path, "rb").read()
    except OSError:
        print(json.dumps({"checkpoint": None})); return
    import zlib
    best = None
    for s in (b[0:64], b[64:128]):
        if len(s) == 64 and struct.unpack(">I", s[60:64])[0] == zlib.crc32(s[:60]) and s[:4] == b"RMQC":
            seq, clf, cqf = struct.unpack(">Qqq", s[8:32])
            if best is None or seq > best[0]: best = (seq, clf, cqf)
    print(json.dumps({"checkpoint": None if best is None else {"commitLogFlushed": best[1], "cqFlushed": best[2]}}))

def store_opened(path):
    """The fields of the last "message store opened" line of rmq's log (end, truncated, ...)."""
    r = {}
    try:
        for line in open(path, errors="replace"):
            if "message store opened" in line:
                r = {k: int(v) for k, v in re.findall(r"\b(end|truncated|redispatched|queues|elapsed_ms)=(\d+)", line)}
    except OSError:
        pass
    print(json.dumps({"storeOpen": r or None}))

if __name__ == "__main__":
    c, a = sys.argv[1], sys.argv[2:]
    if c == "start": sys.exit(start(a))
    elif c == "listed":
        try: sys.exit(0 if listed(a[0], a[1]) else 1)
        except Exception: sys.exit(1)
    elif c == "maxoffset": print(json.dumps({"maxOffset": max_offset(a[0], float(a[1]) if len(a) > 1 else 30)}))
    elif c == "acked": acked(a[0])
    elif c == "checkpoint": checkpoint(a[0])
    elif c == "storeopened": store_opened(a[0])
    else: sys.exit("recovery_probe.py: unknown command " + c)
