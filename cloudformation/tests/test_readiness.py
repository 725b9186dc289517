"""When a node signals CloudFormation: the rendered user data run in the sandbox with
RMQ_NO_SYSTEMD=background (the server starts in the background and the bootstrap goes on as on
EC2: port, readiness, catch-up, settle, signal) and a stand-in `aws` on PATH that records every
`cloudformation signal-resource` call, so these tests see the signal itself, when it is sent.

- A broker signals only once it is registered with every nameserver (its /readyz), a slave only
  once it is caught up with its master (rmq_ha_master_* on /metrics): with stand-in servers that
  answer like rmq's (a registration is a successful connection to the nameserver's port), and,
  when cargo-built rmq-broker / rmq-namesrv exist (RMQ_TEST_BIN_DIR, else RMQ_BIN_DIR as
  scripts/test.sh exports it, else target/release),
  with the real ones.
- A checksum or architecture mismatch sends FAILURE, with the reason in the bootstrap log.
"""
import os
import pathlib
import shutil
import signal as signals
import socket
import subprocess
import sys
import time

import pytest

from test_bootstrap import BROKER, NAMESRV, elf_header, render

ROOT = pathlib.Path(__file__).resolve().parents[2]
STANDIN = r'''
import http.server, os, socket, sys, threading
name, args = sys.argv[1], sys.argv[2:]
root = os.environ.get("RMQ_ROOT", "")
if name == "rmq-namesrv":
    port, namesrvs, slave = int(args[args.index("--listen-port") + 1]), [], False
else:
    conf = dict(line.split("=", 1) for line in open(args[args.index("-c") + 1]).read().splitlines()
                if line and not line.startswith("#"))
    port, namesrvs, slave = int(conf["listenPort"]), conf["namesrvAddr"].split(";"), conf["brokerRole"] == "SLAVE"


def registered(addr):
    host, p = addr.rsplit(":", 1)
    try:
        socket.create_connection((host, int(p)), timeout=1).close()
        return True
    except OSError:
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = 404, ""
        if self.path == "/readyz":
            ok = sum(registered(a) for a in namesrvs)
            code, body = (200, "ready") if ok == len(namesrvs) else (
                503, f"not ready: registered with {ok} of {len(namesrvs)} nameservers")
        elif self.path == "/metrics":
            code = 200
            if slave:
                try:
                    connected, lag = open(os.path.join(root, "ha")).read().split()
                except OSError:
                    connected, lag = "0", "0"
                body = (f'rmq_ha_master_lag_bytes{{cluster="demo",broker="broker-b"}} {float(lag)}\n'
                        f'rmq_ha_master_connected{{cluster="demo",broker="broker-b"}} {float(connected)}\n')
        self.send_response(code)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


listener = socket.create_server(("127.0.0.1", port))
threading.Thread(target=lambda: [listener.accept()[0].close() for _ in iter(int, 1)], daemon=True).start()
http.server.ThreadingHTTPServer(("127.0.0.1", port + 7), Handler).serve_forever()
'''


def free_port(avoid=()):
    """A free port whose port + 7 (the HTTP port) is free too."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 7 > 65535 or {port, port + 7} & set(avoid):
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 7))
            return port
        except OSError:
            continue


class Sandbox:
    """Nodes started from their user data in the background; `aws` records signals."""

    def __init__(self, tmp):
        self.tmp, self.procs = tmp, []
        self.record = tmp / "signals"
        tools = tmp / "tools"
        tools.mkdir()
        (tools / "aws").write_text(f'#!/bin/bash\necho "$(date +%s.%N) $*" >> {self.record}\n')
        (tools / "aws").chmod(0o755)
        self.path = f"{tools}:{os.environ['PATH']}"
        (tmp / "standin.py").write_text(STANDIN)
        self.standin = f'#!/bin/bash\nexec {sys.executable} {tmp / "standin.py"} "${{0##*/}}" "$@"\n'.encode()

    def start(self, name, values, overrides="", env=None, binaries=None, wait=False):
        """Run node `name`'s user data; binaries: {name: bytes} (default: the stand-in)."""
        home = self.tmp / name
        artefacts = home / "artefacts"
        artefacts.mkdir(parents=True)
        for binary, content in (binaries or {b: self.standin for b in ("rmq-broker", "rmq-namesrv")}).items():
            (artefacts / binary).write_bytes(content)
        (home / "overrides.sh").write_text(f"INSTANCE_ID=i-{name}\nRMQ_NODE_IP=127.0.0.1\n{overrides}")
        (home / "user-data.sh").write_text(render(values))
        full_env = {"PATH": self.path, "RMQ_ROOT": str(home / "root"), "RMQ_ARTEFACT_DIR": str(artefacts),
                    "RMQ_NO_SYSTEMD": "background", "RMQ_NO_EC2": "1", "RMQ_ALLOW_SCRIPTS": "1",
                    "RMQ_OVERRIDES": str(home / "overrides.sh"), "RMQ_SETTLE": "0", **(env or {})}
        log = open(home / "log", "w")
        proc = subprocess.Popen(["bash", str(home / "user-data.sh")], env=full_env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        if wait:
            proc.wait(timeout=60)
        return proc

    def log(self, name):
        return (self.tmp / name / "log").read_text()

    def signals(self, name=None):
        """[(time, status)] of the signals sent (by node `name`)."""
        if not self.record.exists():
            return []
        out = []
        for line in self.record.read_text().splitlines():
            words = line.split()
            if name is None or words[words.index("--unique-id") + 1] == f"i-{name}":
                out.append((float(words[0]), words[words.index("--status") + 1]))
        return out

    def await_signal(self, name, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if self.signals(name):
                return self.signals(name)
            time.sleep(0.2)
        raise AssertionError(f"{name} sent no signal within {seconds}s:\n{self.log(name)}")

    def stop(self):
        for proc in self.procs:
            try:
                os.killpg(proc.pid, signals.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signals.SIGKILL)


@pytest.fixture
def sandbox(tmp_path):
    box = Sandbox(tmp_path)
    yield box
    box.stop()


def ns_values(port):
    return dict(NAMESRV), {"RMQ_NAMESRV_PORT": str(port)}


def test_a_broker_signals_only_once_registered_with_every_nameserver(sandbox):
    ns1 = free_port()
    ns2 = free_port([ns1, ns1 + 7])
    port = free_port([ns1, ns1 + 7, ns2, ns2 + 7])
    addr = f"RMQ_NAMESRV_ADDR='127.0.0.1:{ns1};127.0.0.1:{ns2}'\n"
    values, env = ns_values(ns1)
    sandbox.start("namesrv-0", values, env=env)
    sandbox.start("broker", dict(BROKER, BrokerId="0", BrokerRole="ASYNC_MASTER"), addr,
                  {"RMQ_LISTEN_PORT": str(port), "RMQ_HA_PORT": str(free_port([port, port + 7]))})
    assert [status for _, status in sandbox.await_signal("namesrv-0", 20)] == ["SUCCESS"]
    # Registered with one nameserver of two: the broker listens, but does not signal.
    time.sleep(7)
    assert sandbox.signals("broker") == [], sandbox.log("broker")
    assert "rmq-bootstrap: signal" not in sandbox.log("broker")
    started = time.time()
    values, env = ns_values(ns2)
    sandbox.start("namesrv-1", values, env=env)
    [(sent, status)] = sandbox.await_signal("broker", 20)
    assert status == "SUCCESS" and sent > started
    log = sandbox.log("broker")
    assert log.index("rmq-bootstrap: signal SUCCESS") > log.index("rmq-bootstrap: ready;")


def test_a_slave_signals_only_once_caught_up_with_its_master(sandbox):
    ns = free_port()
    port = free_port([ns, ns + 7])
    values, env = ns_values(ns)
    sandbox.start("namesrv-0", values, env=env)
    (sandbox.tmp / "slave/root").mkdir(parents=True)
    (sandbox.tmp / "slave/root/ha").write_text("1 50000000\n")  # linked, 50 MB behind
    sandbox.start("slave", BROKER, f"RMQ_NAMESRV_ADDR='127.0.0.1:{ns}'\n",
                  {"RMQ_LISTEN_PORT": str(port), "RMQ_HA_PORT": str(free_port([ns, ns + 7, port, port + 7]))})
    sandbox.await_signal("namesrv-0", 20)
    time.sleep(8)
    assert sandbox.signals("slave") == [], sandbox.log("slave")
    caught_up = time.time()
    (sandbox.tmp / "slave/root/ha").write_text("1 4000000\n")  # under 10 MB
    [(sent, status)] = sandbox.await_signal("slave", 20)
    assert status == "SUCCESS" and sent > caught_up


@pytest.mark.parametrize("case", ["checksum", "architecture"])
def test_a_bad_binary_signals_failure_with_the_reason_in_the_log(sandbox, case):
    host = os.uname().machine
    other, code = ("aarch64", 183) if host != "aarch64" else ("x86_64", 62)
    values, binaries, env = dict(BROKER), None, {}
    if case == "checksum":
        values["BinarySha256"] = "ab" * 32
        reason = "checksum mismatch for rmq-broker: it is "
    else:
        binaries = {"rmq-broker": elf_header(code)}
        env = {"RMQ_ALLOW_SCRIPTS": ""}
        reason = f"architecture mismatch for rmq-broker: it is {other}, this instance is {host}"
    proc = sandbox.start("broker", values, env=env, binaries=binaries, wait=True)
    assert proc.returncode == 1
    assert f"rmq-bootstrap: FAILED: {reason}" in sandbox.log("broker")
    assert [status for _, status in sandbox.signals("broker")] == ["FAILURE"]
    [line] = sandbox.record.read_text().splitlines()
    assert ("cloudformation signal-resource --region us-east-1 --stack-name demo-BrokerB1Stack-X "
            "--logical-resource-id NodeGroup --unique-id i-broker --status FAILURE") in line


def real_binaries():
    directory = pathlib.Path(os.environ.get("RMQ_TEST_BIN_DIR") or os.environ.get("RMQ_BIN_DIR")
                             or ROOT / "target" / "release")
    found = {name: directory / name for name in ("rmq-broker", "rmq-namesrv")}
    if not all(p.is_file() and p.read_bytes()[:4] == b"\x7fELF" for p in found.values()):
        pytest.skip(f"no cargo-built rmq-broker and rmq-namesrv in {directory} (cargo build --release, "
                    "or RMQ_TEST_BIN_DIR)")
    return {name: p.read_bytes() for name, p in found.items()}


def test_the_real_broker_signals_only_after_registering_with_the_nameserver_started_later(sandbox):
    """rmq-broker and rmq-namesrv themselves: the broker's user data runs first and its
    nameserver is not there; it listens but does not signal. The nameserver starts 8 s later;
    the broker registers at its next round (registerNameServerPeriod, 30 s) and only then
    signals."""
    binaries = real_binaries()
    ns = free_port()
    port = free_port([ns, ns + 7])
    ha = free_port([ns, ns + 7, port, port + 7])
    sandbox.start("broker", dict(BROKER, BrokerId="0", BrokerRole="ASYNC_MASTER"),
                  f"RMQ_NAMESRV_ADDR='127.0.0.1:{ns}'\n",
                  {"RMQ_LISTEN_PORT": str(port), "RMQ_HA_PORT": str(ha), "RMQ_ALLOW_SCRIPTS": ""}, binaries=binaries)
    time.sleep(8)
    assert sandbox.signals("broker") == []
    log = sandbox.log("broker")
    assert "cannot register with nameserver" in log, log
    started = time.time()
    values, env = ns_values(ns)
    sandbox.start("namesrv-0", values, env=dict(env, RMQ_ALLOW_SCRIPTS=""), binaries=binaries)
    [(ns_sent, _)] = sandbox.await_signal("namesrv-0", 30)
    [(sent, status)] = sandbox.await_signal("broker", 60)
    assert status == "SUCCESS" and sent > started and sent > ns_sent
    log = sandbox.log("broker")
    assert log.index("registered with nameservers") < log.index("rmq-bootstrap: signal SUCCESS"), log
