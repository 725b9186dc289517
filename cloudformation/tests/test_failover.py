"""Failover: Automatic in the templates: the Rules, and rmq-cluster.yaml / rmq-quickstart.yaml
deployed into moto with three controllers on the nameserver nodes (interfaces created by the
cluster stack), ELECTED brokers and the 9878 security-group rules."""
import json

import pytest

from cfn_eval import conditions, parameter_values, resolve, rule_failures
from conftest import TEMPLATES, load_template
from test_bootstrap import conf, run_script
from test_cluster import Cluster, cluster_values, expected_brokers, rules
from test_quickstart import header, quickstart_values
from test_templates import failover_block

AUTOMATIC = {"Failover": "Automatic", "NameServerCount": "3", "MasterRole": "SYNC_MASTER",
             "ReplicasPerGroup": "2"}


@pytest.mark.parametrize("values,failure", [
    (AUTOMATIC, None),
    (dict(AUTOMATIC, ReplicasPerGroup="3"), None),
    ({"Failover": "Manual", "NameServerCount": "1", "MasterRole": "ASYNC_MASTER", "ReplicasPerGroup": "1"}, None),
    (dict(AUTOMATIC, NameServerCount="2"), "runs three controllers, one on each nameserver node"),
    (dict(AUTOMATIC, NameServerCount="1"), "runs three controllers, one on each nameserver node"),
    (dict(AUTOMATIC, MasterRole="ASYNC_MASTER"), "set MasterRole to SYNC_MASTER"),
    # SyncMasterNeedsSlave refuses it too.
    (dict(AUTOMATIC, ReplicasPerGroup="1"), "needs a replica to elect"),
])
@pytest.mark.parametrize("template", ["rmq-cluster.yaml", "rmq-quickstart.yaml"])
def test_rules_refuse_automatic_failover_without_what_it_needs(template, values, failure):
    failed = rule_failures(load_template(template), values)
    if failure is None:
        assert failed == []
    else:
        assert any(failure in f for f in failed), failed
        assert len(failed) == (2 if values["ReplicasPerGroup"] == "1" else 1), failed


def controller_conf(cluster, addresses, i):
    peers = ";".join(f"n{j}-{a}:9878" for j, a in enumerate(addresses))
    return (f"controllerDLegerGroup={cluster}-controllers controllerDLegerPeers={peers} "
            f"controllerDLegerSelfId=n{i} controllerStorePath=/var/lib/rmq/controller-{i} "
            "scanNotActiveBrokerInterval=1000 enableElectUncleanMaster=false notifyBrokerRoleChanged=true")


def broker_failover_conf(addresses):
    return ("enableControllerMode=true controllerAddr=" + ";".join(f"{a}:9878" for a in addresses) +
            " allAckInSyncStateSet=true controllerHeartBeatTimeoutMills=5000")


SHA = "c0" * 32
PARITY = json.loads((TEMPLATES.parent / "tests/fixtures/failover-parity.json").read_text())


@pytest.mark.parametrize("node", sorted(PARITY["nodes"]))
def test_template_renders_the_failover_lines_rmq_aws_renders(node):
    """fixtures/failover-parity.json is what rmq-aws renders for the same cluster
    (operator/aws/tests/aws/template_parity.rs checks that side); here the node template renders the
    same lines from the parameters rmq-cluster.yaml passes to that node's stack."""
    cluster = load_template("rmq-cluster.yaml")
    values = dict(AUTOMATIC, ClusterName=PARITY["cluster"], ControllerSha256=PARITY["controller_sha256"],
                  BrokerGroupCount="1")
    params = parameter_values(cluster, values)
    params.update({f"NameServer{i}Interface.PrimaryPrivateIpAddress": a for i, a in enumerate(PARITY["addresses"])})
    params["AWS::StackName"] = "rmq"
    logical = (f"NameServer{node[-1]}Stack" if node.startswith("namesrv") else f"BrokerA{node[-1]}Stack")
    passed = cluster["Resources"][logical]["Properties"]["Parameters"]
    assert passed["NodeName"] == node
    keys = ("ClusterName", "NodeRole", "BrokerRole", "ControllerAddresses", "ControllerIndex", "ControllerPeers",
            "ControllerSha256")
    child = {k: resolve(passed[k], conditions(cluster, values), params) for k in keys if k in passed}
    assert all(isinstance(v, str) for v in child.values()), child
    assert failover_block(child) == PARITY["nodes"][node]


def test_cluster_creates_the_nameserver_interfaces_only_with_automatic_failover():
    """Tagged like a node stack's own interface (the node role may attach them: rmq:stack), and
    passed to the nameserver node stacks, which then create none."""
    cluster, node = load_template("rmq-cluster.yaml"), load_template("rmq-node.yaml")
    own = node["Resources"]["NodeInterface"]
    assert own["Condition"] == "CreatesInterface"
    assert node["Conditions"]["CreatesInterface"] == {"Fn::Equals": [{"Ref": "NetworkInterfaceId"}, ""]}
    for i in range(3):
        eni = cluster["Resources"][f"NameServer{i}Interface"]
        assert eni["Condition"] == "Automatic"
        tags = {t["Key"]: t["Value"] for t in eni["Properties"]["Tags"]}
        assert tags["rmq:stack"] == {"Ref": "AWS::StackName"} and tags["rmq:node"] == f"namesrv-{i}"
        assert set(tags) == {t["Key"] for t in own["Properties"]["Tags"]}
        stack = cluster["Resources"][f"NameServer{i}Stack"]["Properties"]["Parameters"]
        assert eni["Properties"]["SubnetId"] == stack["SubnetId"]
        assert eni["Properties"]["GroupSet"] == [stack["SecurityGroupId"]]
        assert stack["NetworkInterfaceId"] == {"Fn::If": ["Automatic", {"Ref": f"NameServer{i}Interface"}, ""]}
        assert stack["ControllerIndex"] == {"Fn::If": ["Automatic", str(i), ""]}


@pytest.mark.parametrize("azs", [2, 3])
def test_automatic_cluster_runs_controllers_on_the_nameservers(aws, existing_vpc, azs, tmp_path):
    values = cluster_values(existing_vpc, NumberOfAZs=azs, ControllerSha256=SHA, **AUTOMATIC)
    if azs == 2:
        values["PrivateSubnet3ID"] = ""
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    c = Cluster(aws)
    names = [f"NameServer{i}Stack" for i in range(3)]
    brokers = expected_brokers(2, 2)
    assert set(c.nested) == set(names) | set(brokers)

    # The cluster stack made the nameservers' interfaces; their node stacks made none.
    cluster_resources = aws.resources("rmq")
    addresses = [c.node_out[n]["Address"] for n in names]
    for i, n in enumerate(names):
        eni = cluster_resources[f"NameServer{i}Interface"]["PhysicalResourceId"]
        assert c.node_out[n]["NetworkInterfaceId"] == eni
        got = aws.ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
        assert got["PrivateIpAddress"] == addresses[i]
        assert got["SubnetId"] == aws.group(c.node_out[n]["AutoScalingGroupName"])["VPCZoneIdentifier"]
        assert "NodeInterface" not in aws.resources(c.nested[n])
        h = c.header(n)
        assert (h["RMQ_NODE_IP"], h["RMQ_ENI_ID"]) == (addresses[i], eni)
        assert h["RMQ_CONTROLLER_CONF"] == controller_conf("orders", addresses, i)
        assert f"\nRMQ_CONTROLLER_SHA256='{SHA}'\n" in aws.user_data(c.instance(n)["InstanceId"])
        assert "RMQ_FAILOVER_CONF" not in h
    assert c.out["NameServerAddresses"] == ";".join(f"{a}:9876" for a in addresses)
    assert c.out["ControllerAddresses"] == ";".join(f"{a}:9878" for a in addresses)
    for b in brokers:
        h = c.header(b)
        assert h["RMQ_BROKER_ROLE"] == "ELECTED"
        assert h["RMQ_BROKER_ID"] == b[-6]
        assert h["RMQ_FAILOVER_CONF"] == broker_failover_conf(addresses)
        assert "RMQ_CONTROLLER_CONF" not in h
        assert "NodeInterface" in aws.resources(c.nested[b])

    # 9878 from brokers and nameservers; role changes from the nameservers to the brokers.
    ns, broker, client = (c.out[k] for k in ("NameServerSecurityGroupID", "BrokerSecurityGroupID",
                                             "ClientSecurityGroupID"))
    bastion = existing_vpc["bastion_sg"]
    assert rules(aws, ns) == {(9876, 9876, client), (9876, 9876, broker), (22, 22, bastion), (9876, 9876, bastion),
                              (9878, 9878, broker), (9878, 9878, ns)}
    assert rules(aws, broker) == {(10911, 10911, client), (10911, 10912, broker), (22, 22, bastion),
                                  (10911, 10911, bastion), (10911, 10911, ns)}

    # A broker's user data boots into controller mode; namesrv-1's starts its controller.
    text = aws.user_data(c.instance("BrokerB1Stack")["InstanceId"])
    proc, root = run_script(tmp_path / "broker", text)
    assert proc.returncode == 0, proc.stderr
    written = conf(root / "etc/rmq/broker.conf")
    assert "brokerRole" not in written and written["controllerAddr"] == ";".join(f"{a}:9878" for a in addresses)
    text = aws.user_data(c.instance("NameServer1Stack")["InstanceId"]).replace(SHA, "")
    proc, root = run_script(tmp_path / "namesrv", text, binaries=("rmq-namesrv", "rmq-controller"))
    assert proc.returncode == 0, proc.stderr
    assert (root / "etc/systemd/system/rmq-controller.service").exists()
    assert "controllerDLegerSelfId=n1" in (root / "etc/rmq/controller.conf").read_text().splitlines()

    # Delete: the cluster's interfaces go with the stack.
    enis = [c.node_out[n]["NetworkInterfaceId"] for n in names]
    aws.cfn.delete_stack(StackName="rmq")
    assert aws.stack_names() == set()
    assert aws.ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": enis}])[
        "NetworkInterfaces"] == []


def test_manual_cluster_has_no_controller(aws, existing_vpc):
    aws.create_stack("rmq", "rmq-cluster.yaml", cluster_values(existing_vpc, NameServerCount=3, NumberOfAZs=3,
                                                                ControllerSha256=SHA))
    c = Cluster(aws)
    assert not any(k.endswith("Interface") for k in aws.resources("rmq"))
    assert "ControllerAddresses" not in c.out
    for logical in c.nested:
        assert "NodeInterface" in aws.resources(c.nested[logical])
        h = c.header(logical)
        assert not {"RMQ_FAILOVER_CONF", "RMQ_CONTROLLER_CONF"} & set(h), logical
        assert "RMQ_CONTROLLER_SHA256=" not in aws.user_data(c.instance(logical)["InstanceId"])
        assert h["RMQ_BROKER_ROLE"] in ("ASYNC_MASTER", "SLAVE")


def test_automatic_quickstart(aws):
    aws.create_stack("rmq", "rmq-quickstart.yaml", quickstart_values(NumberOfAZs=3, ControllerSha256=SHA,
                                                                      **AUTOMATIC))
    out = aws.outputs("rmq")
    addresses = [a.split(":")[0] for a in out["NameServerAddresses"].split(";")]
    assert len(addresses) == 3
    for i, g in enumerate(out["NameServerAutoScalingGroupNames"].split(",")):
        h = header(aws, g)
        assert h["RMQ_CONTROLLER_CONF"] == controller_conf("rmq", addresses, i)
        assert f"\nRMQ_CONTROLLER_SHA256='{SHA}'\n" in aws.user_data(aws.group(g)["Instances"][0]["InstanceId"])
    for g in out["BrokerAutoScalingGroupNames"].split(","):
        h = header(aws, g)
        assert (h["RMQ_BROKER_ROLE"], h["RMQ_FAILOVER_CONF"]) == ("ELECTED", broker_failover_conf(addresses))
