"""Run the node user data (header rendered as CloudFormation would + node-bootstrap.sh) in a
sandbox: RMQ_ROOT under a temp dir, RMQ_ARTEFACT_DIR instead of S3, RMQ_NO_SYSTEMD=1 (the server
is exec'd in the foreground) and RMQ_NO_EC2=1. The "servers" are stand-in scripts that record
their arguments, so these tests check what the bootstrap writes and runs, not the servers."""
import hashlib
import os
import pathlib
import re
import subprocess

import pytest

from test_templates import failover_block, security_block, user_data_parts

BROKER = {
    "ClusterName": "demo", "NodeName": "broker-b-1", "NodeRole": "broker",
    "NodeIp": "10.0.40.7", "EniId": "eni-0123",
    "VolumeId": "vol-0456", "BrokerName": "broker-b", "BrokerId": "1", "BrokerRole": "SLAVE",
    "FlushDiskType": "SYNC_FLUSH", "NameServerAddresses": "10.0.1.5:9876;10.0.33.6:9876",
    "FileReservedTime": "168", "DeleteWhen": "04;16", "DiskMaxUsedSpaceRatio": "80",
    "ArtefactBucketName": "rmq-artefacts", "ArtefactKeyPrefix": "rmq/0.1.0/", "ArtefactRegion": "us-east-1",
    "AWS::Region": "us-east-1", "LogGroupName": "demo-logs", "AWS::StackName": "demo-BrokerB1Stack-X",
    "BinarySha256": "",
}
NAMESRV = dict(BROKER, NodeName="namesrv-0", NodeRole="namesrv", VolumeId="", BrokerName="",
               BrokerId="0", BrokerRole="ASYNC_MASTER", NameServerAddresses="")
FAKE_SERVER = """#!/bin/bash
out="$RMQ_ROOT/ran"; [ "${0##*/}" != rmq-controller ] || out="$RMQ_ROOT/ran-controller"
printf '%s\\n' "$0" "$@" > "$out"
"""


def render(values):
    """The user data exactly as the node template's Fn::Join(Fn::Sub header, Fn::If security,
    Fn::If failover, script) renders it; parameters missing from `values` take their defaults."""
    (header, _), _, body = user_data_parts()

    def sub(match):
        return values[match.group(1)]
    return re.sub(r"\$\{([^}]+)\}", sub, header) + security_block(values) + failover_block(values) + body


def run(tmp_path, values, env=None, binaries=("rmq-broker", "rmq-namesrv"), content=FAKE_SERVER.encode()):
    return run_script(tmp_path, render(values), env, binaries, content)


def run_script(tmp_path, text, env=None, binaries=("rmq-broker", "rmq-namesrv"), content=FAKE_SERVER.encode()):
    """Run user data `text` in the sandbox under tmp_path, with `content` as every binary;
    (process, RMQ_ROOT). The stand-in scripts pass the ELF check only with RMQ_ALLOW_SCRIPTS=1."""
    root = tmp_path / "root"
    artefacts = tmp_path / "artefacts"
    artefacts.mkdir(parents=True, exist_ok=True)
    for name in binaries:
        (artefacts / name).write_bytes(content)
    script = tmp_path / "user-data.sh"
    script.write_text(text)
    full_env = {"PATH": os.environ["PATH"], "RMQ_ROOT": str(root), "RMQ_ARTEFACT_DIR": str(artefacts),
                "RMQ_NO_SYSTEMD": "1", "RMQ_NO_EC2": "1", "RMQ_ALLOW_SCRIPTS": "1", **(env or {})}
    proc = subprocess.run(["bash", str(script)], env=full_env, capture_output=True, text=True, timeout=60)
    return proc, root


def conf(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines()
                if line and not line.startswith("#"))


def test_broker_writes_broker_conf_unit_and_execs_the_broker(tmp_path):
    proc, root = run(tmp_path, BROKER)
    assert proc.returncode == 0, proc.stderr
    store = f"{root}/data/rmq/store"
    assert conf(root / "etc/rmq/broker.conf") == {
        "brokerClusterName": "demo", "brokerName": "broker-b", "brokerId": "1", "brokerRole": "SLAVE",
        "flushDiskType": "SYNC_FLUSH", "namesrvAddr": "10.0.1.5:9876;10.0.33.6:9876",
        "brokerIP1": "10.0.40.7", "brokerIP2": "10.0.40.7", "listenPort": "10911", "haListenPort": "10912",
        "storePathRootDir": store, "storePathCommitLog": f"{store}/commitlog",
        "fileReservedTime": "168", "deleteWhen": "04;16", "diskMaxUsedSpaceRatio": "80"}
    unit = (root / "etc/systemd/system/rmq-broker.service").read_text()
    assert f"ExecStart={root}/opt/rmq/bin/rmq-broker -c {root}/etc/rmq/broker.conf\n" in unit
    assert "Restart=always" in unit and "User=rmq" in unit and f"RequiresMountsFor={root}/data/rmq" in unit
    ran = (root / "ran").read_text().split("\n")
    assert ran[:3] == [f"{root}/opt/rmq/bin/rmq-broker", "-c", f"{root}/etc/rmq/broker.conf"]
    assert os.access(root / "opt/rmq/bin/rmq-broker", os.X_OK)
    assert not (root / "opt/rmq/bin/rmq-namesrv").exists(), "a broker node only fetches rmq-broker"


def test_nameserver_writes_unit_and_execs_the_nameserver(tmp_path):
    proc, root = run(tmp_path, NAMESRV)
    assert proc.returncode == 0, proc.stderr
    unit = (root / "etc/systemd/system/rmq-namesrv.service").read_text()
    assert f"ExecStart={root}/opt/rmq/bin/rmq-namesrv --listen-port 9876\n" in unit
    assert (root / "ran").read_text().split("\n")[:3] == [
        f"{root}/opt/rmq/bin/rmq-namesrv", "--listen-port", "9876"]
    assert not (root / "etc/rmq/broker.conf").exists()


def test_overrides_file_and_ports_for_a_sandbox(tmp_path):
    overrides = tmp_path / "overrides.sh"
    overrides.write_text("RMQ_NODE_IP=127.0.0.1\nRMQ_NAMESRV_ADDR='127.0.0.1:19876'\n")
    proc, root = run(tmp_path, BROKER, {"RMQ_OVERRIDES": str(overrides), "RMQ_LISTEN_PORT": "20911"})
    assert proc.returncode == 0, proc.stderr
    c = conf(root / "etc/rmq/broker.conf")
    assert (c["brokerIP1"], c["namesrvAddr"], c["listenPort"], c["haListenPort"]) == (
        "127.0.0.1", "127.0.0.1:19876", "20911", "20912")


def test_checksum_is_verified_when_published(tmp_path):
    good = hashlib.sha256(FAKE_SERVER.encode()).hexdigest()
    (tmp_path / "artefacts").mkdir()
    (tmp_path / "artefacts/rmq-broker.sha256").write_text(f"{good}  rmq-broker\n")
    proc, _ = run(tmp_path, BROKER)
    assert proc.returncode == 0, proc.stderr
    (tmp_path / "artefacts/rmq-broker.sha256").write_text("0" * 64 + "  rmq-broker\n")
    proc, _ = run(tmp_path, BROKER)
    assert proc.returncode == 1
    assert f"FAILED: checksum mismatch for rmq-broker: it is {good}, its published rmq-broker.sha256 says {'0' * 64}" \
        in proc.stderr


def test_checksum_in_the_user_data_header_is_enforced(tmp_path):
    """BinarySha256 (RMQ_BINARY_SHA256) pins the build: the right hash boots, any other fails
    before the server starts, even when the published .sha256 matches the (wrong) file."""
    good = hashlib.sha256(FAKE_SERVER.encode()).hexdigest()
    proc, root = run(tmp_path, dict(BROKER, BinarySha256=good))
    assert proc.returncode == 0, proc.stderr
    second = tmp_path / "second"
    (second / "artefacts").mkdir(parents=True)
    (second / "artefacts/rmq-broker.sha256").write_text(f"{good}  rmq-broker\n")
    proc, root = run(second, dict(BROKER, BinarySha256="ab" * 32))
    assert proc.returncode == 1
    assert (f"rmq-bootstrap: FAILED: checksum mismatch for rmq-broker: it is {good}, the user data expects "
            f"{'ab' * 32}") in proc.stderr
    assert not (root / "ran").exists() and not (root / "opt/rmq/bin/rmq-broker").exists()


def elf_header(machine):
    """The first 64 bytes of a little-endian 64-bit ELF executable for e_machine `machine`."""
    head = bytearray(64)
    head[0:7] = b"\x7fELF\x02\x01\x01"
    head[16:18] = (2).to_bytes(2, "little")
    head[18:20] = machine.to_bytes(2, "little")
    return bytes(head)


def test_binary_of_another_architecture_fails_with_both_architectures(tmp_path):
    host = os.uname().machine
    other, code = ("aarch64", 183) if host != "aarch64" else ("x86_64", 62)
    proc, root = run(tmp_path, BROKER, content=elf_header(code))
    assert proc.returncode == 1
    assert (f"rmq-bootstrap: FAILED: architecture mismatch for rmq-broker: it is {other}, this instance is "
            f"{host} (release with --arch {host}") in proc.stderr
    assert not (root / "opt/rmq/bin/rmq-broker").exists()


def test_binary_of_the_instances_architecture_boots(tmp_path):
    """A real executable of this machine (/bin/true) passes the ELF check without
    RMQ_ALLOW_SCRIPTS; a script stand-in does not."""
    true = pathlib.Path("/bin/true").read_bytes()
    proc, root = run(tmp_path, BROKER, {"RMQ_ALLOW_SCRIPTS": ""}, content=true)
    assert proc.returncode == 0, proc.stderr
    assert (root / "opt/rmq/bin/rmq-broker").read_bytes() == true
    proc, _ = run(tmp_path, BROKER, {"RMQ_ALLOW_SCRIPTS": ""})
    assert proc.returncode == 1
    assert "FAILED: architecture mismatch for rmq-broker: it is not an ELF executable" in proc.stderr


@pytest.mark.parametrize("change,message", [
    ({"BrokerId": "1", "BrokerRole": "ASYNC_MASTER"}, "brokerId 1 must be SLAVE"),
    ({"BrokerId": "0", "BrokerRole": "SLAVE"}, "brokerId 0 must be a master"),
    ({"FlushDiskType": "SOMETIMES"}, "RMQ_FLUSH_DISK_TYPE=SOMETIMES is not ASYNC_FLUSH or SYNC_FLUSH"),
    ({"NameServerAddresses": ""}, "RMQ_NAMESRV_ADDR is not set"),
    ({"NodeRole": "proxy"}, "RMQ_ROLE=proxy is not namesrv or broker"),
    ({"FileReservedTime": "1.5"}, "RMQ_FILE_RESERVED_TIME=1.5 is not a whole number of hours"),
    ({"DeleteWhen": "4;16"}, "RMQ_DELETE_WHEN=4;16 is not hours 00-23 separated by ';'"),
    ({"DiskMaxUsedSpaceRatio": ""}, "RMQ_DISK_MAX_USED_SPACE_RATIO is not set"),
])
def test_bad_header_values_fail_with_a_clear_message(tmp_path, change, message):
    proc, root = run(tmp_path, dict(BROKER, **change))
    assert proc.returncode == 1
    assert f"rmq-bootstrap: FAILED: {message}" in proc.stderr
    assert not (root / "ran").exists()


def test_missing_binary_fails_with_a_clear_message(tmp_path):
    proc, _ = run(tmp_path, BROKER, binaries=("rmq-namesrv",))
    assert proc.returncode == 1
    assert re.search(r"FAILED: .*/artefacts/rmq-broker does not exist", proc.stderr)


def test_ec2_mode_needs_the_interface_id(tmp_path):
    proc, _ = run(tmp_path, dict(BROKER, EniId=""), {"RMQ_NO_EC2": ""})
    assert proc.returncode == 1 and "RMQ_ENI_ID is not set" in proc.stderr


@pytest.mark.parametrize("values,port", [(BROKER, 10918), (NAMESRV, 9883)])
def test_cloudwatch_agent_scrapes_the_nodes_metrics_endpoint(tmp_path, values, port):
    """The agent configuration (started on EC2 in step 1, before anything can fail) scrapes the
    node's own /metrics on its HTTP port and turns the series the alarms read into metrics in
    namespace rmq; the disk usage also rolls up per cluster and path (AlarmDataVolumeFull)."""
    import json
    proc, root = run(tmp_path, values)
    assert proc.returncode == 0, proc.stderr
    scrape = (root / "etc/rmq/cloudwatch-prometheus.yaml").read_text()
    assert f"targets: ['127.0.0.1:{port}']" in scrape, scrape
    assert "ClusterName: 'demo'" in scrape and f"NodeName: '{values['NodeName']}'" in scrape
    agent = json.loads((root / "etc/rmq/cloudwatch-agent.json").read_text())
    prometheus = agent["logs"]["metrics_collected"]["prometheus"]
    assert prometheus["prometheus_config_path"] == f"{root}/etc/rmq/cloudwatch-prometheus.yaml"
    assert prometheus["log_group_name"] == "demo-logs"
    declaration = prometheus["emf_processor"]["metric_declaration"][0]
    assert prometheus["emf_processor"]["metric_namespace"] == "rmq"
    assert ["ClusterName"] in declaration["dimensions"]
    for metric in ("rmq_broker_ready", "rocketmq_group_diff", "rocketmq_brokeruntime_commit_log_disk_ratio",
                   "rocketmq_brokeruntime_slave_fall_behind_much", "rmq_broker_namesrvs_registered"):
        assert any(re.fullmatch(s, metric) for s in declaration["metric_selectors"]), metric
    assert not any(re.fullmatch(s, "rocketmq_producer_offset") for s in declaration["metric_selectors"])
    metrics = agent["metrics"]
    assert metrics["append_dimensions"] == {"InstanceId": "${aws:InstanceId}"}
    assert metrics["aggregation_dimensions"] == [["ClusterName", "path"]]
    disk = metrics["metrics_collected"]["disk"]
    assert disk["measurement"] == ["used_percent"] and "/data" in disk["resources"]
    assert disk["append_dimensions"] == {"ClusterName": "demo"}


# failover: Automatic, as rmq-aws renders it (operator/aws/tests/aws/aws_failover.rs checks that side)
# and the node template renders it from the parameters rmq-cluster.yaml passes: brokers in
# controller mode, nameserver nodes that also run a controller.
CONTROLLERS = "10.0.1.5:9878;10.0.33.6:9878;10.0.65.7:9878"
PEERS = "n0-10.0.1.5:9878;n1-10.0.33.6:9878;n2-10.0.65.7:9878"
ELECTED = dict(BROKER, BrokerRole="ELECTED", ControllerAddresses=CONTROLLERS)
BROKER_FAILOVER = ("RMQ_FAILOVER_CONF='enableControllerMode=true controllerAddr=" + CONTROLLERS +
                   " allAckInSyncStateSet=true controllerHeartBeatTimeoutMills=5000'\n")
CONTROLLER_CONF = ("controllerDLegerGroup=demo-controllers "
                   "controllerDLegerPeers=n0-10.0.1.5:9878;n1-10.0.33.6:9878;n2-10.0.65.7:9878 "
                   "controllerDLegerSelfId=n1 controllerStorePath=/var/lib/rmq/controller-1 "
                   "scanNotActiveBrokerInterval=1000 enableElectUncleanMaster=false notifyBrokerRoleChanged=true")


def controller_lines(sha=""):
    return f"RMQ_CONTROLLER_CONF='{CONTROLLER_CONF}'\nRMQ_CONTROLLER_SHA256='{sha}'\n"


def test_template_renders_the_failover_lines_rmq_aws_renders():
    assert failover_block(ELECTED) == BROKER_FAILOVER
    assert failover_block(dict(NAMESRV, NodeName="namesrv-1", ControllerIndex="1", ControllerPeers=PEERS,
                               ControllerSha256="ab" * 32)) == controller_lines("ab" * 32)
    # Manual: nothing (a broker with a master/slave role, a nameserver without ControllerIndex).
    for values in (BROKER, dict(BROKER, ControllerAddresses=CONTROLLERS), NAMESRV,
                   dict(NAMESRV, ControllerPeers=PEERS, ControllerSha256="ab" * 32)):
        assert failover_block(values) == ""
    # A broker never runs a controller.
    assert failover_block(dict(BROKER, ControllerIndex="1", ControllerPeers=PEERS)) == ""


def test_elected_broker_writes_controller_mode_instead_of_id_and_role(tmp_path):
    assert BROKER_FAILOVER in render(ELECTED)
    proc, root = run_script(tmp_path, render(ELECTED))
    assert proc.returncode == 0, proc.stderr
    c = conf(root / "etc/rmq/broker.conf")
    assert "brokerId" not in c and "brokerRole" not in c, c
    assert {k: c[k] for k in ("enableControllerMode", "controllerAddr", "allAckInSyncStateSet",
                              "controllerHeartBeatTimeoutMills")} == {
        "enableControllerMode": "true", "controllerAddr": CONTROLLERS, "allAckInSyncStateSet": "true",
        "controllerHeartBeatTimeoutMills": "5000"}
    assert (c["brokerName"], c["namesrvAddr"], c["fileReservedTime"]) == (
        "broker-b", "10.0.1.5:9876;10.0.33.6:9876", "168")
    assert (root / "ran").read_text().split("\n")[:3] == [
        f"{root}/opt/rmq/bin/rmq-broker", "-c", f"{root}/etc/rmq/broker.conf"]
    # ELECTED without the controllers' keys is refused before anything runs.
    proc, root = run_script(tmp_path / "bare", render(ELECTED).replace(BROKER_FAILOVER, ""))
    assert proc.returncode == 1 and "FAILED: RMQ_FAILOVER_CONF is not set" in proc.stderr, proc.stderr
    assert not (root / "ran").exists()


def wait_for(path, seconds=10):
    import time
    end = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < end:
        time.sleep(0.1)
    return path.exists()


def test_nameserver_with_a_controller_starts_both(tmp_path):
    """The controller's conf (its store under RMQ_ROOT), its unit next to the nameserver's, its
    binary fetched and pinned; in the sandbox both start: the controller in the background, the
    nameserver exec'd."""
    sha = hashlib.sha256(FAKE_SERVER.encode()).hexdigest()
    ns = dict(NAMESRV, NodeName="namesrv-1", ControllerIndex="1", ControllerPeers=PEERS, ControllerSha256=sha)
    binaries = ("rmq-namesrv", "rmq-controller")
    assert controller_lines(sha) in render(ns)
    proc, root = run_script(tmp_path, render(ns), binaries=binaries)
    assert proc.returncode == 0, proc.stderr
    store = root / "var/lib/rmq/controller-1"
    written = (root / "etc/rmq/controller.conf").read_text().splitlines()
    assert written == CONTROLLER_CONF.replace("=/var/lib/rmq/controller-1", f"={store}").split(" ")
    assert store.is_dir()
    units = root / "etc/systemd/system"
    assert f"ExecStart={root}/opt/rmq/bin/rmq-namesrv --listen-port 9876\n" in (
        units / "rmq-namesrv.service").read_text()
    controller_unit = (units / "rmq-controller.service").read_text()
    assert (f"ExecStart={root}/opt/rmq/bin/rmq-controller -c {root}/etc/rmq/controller.conf\n"
            in controller_unit)
    assert "Restart=always" in controller_unit and f"append:{root}/var/log/rmq/controller.log" in controller_unit
    assert (root / "ran").read_text().split("\n")[:3] == [
        f"{root}/opt/rmq/bin/rmq-namesrv", "--listen-port", "9876"]
    assert wait_for(root / "ran-controller"), "the controller was not started"
    assert (root / "ran-controller").read_text().split("\n")[:3] == [
        f"{root}/opt/rmq/bin/rmq-controller", "-c", f"{root}/etc/rmq/controller.conf"]
    # Another rmq-controller build than the pinned one is refused before anything starts.
    proc, root = run_script(tmp_path / "other", render(dict(ns, ControllerSha256="ab" * 32)), binaries=binaries)
    assert proc.returncode == 1
    assert f"checksum mismatch for rmq-controller: it is {sha}, the user data expects {'ab' * 32}" in proc.stderr
    assert not (root / "ran").exists() and not (root / "etc/systemd/system/rmq-controller.service").exists()


def test_nameserver_without_a_controller_writes_no_controller_unit(tmp_path):
    proc, root = run(tmp_path, NAMESRV)
    assert proc.returncode == 0, proc.stderr
    assert not (root / "etc/systemd/system/rmq-controller.service").exists()
    assert not (root / "etc/rmq/controller.conf").exists() and not (root / "opt/rmq/bin/rmq-controller").exists()
