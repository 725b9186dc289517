"""Changes that never take the whole cluster down (issue 16): the node stacks are created and
updated one at a time (nameservers, then slaves, then masters), each node's rolling update waits
for its new instance's signal, the node AMI is pinned (an update never looks it up again), a new
build rolls only the nodes that run it, the bastion reaches the admin ports, and the alarms
exist. Static checks over every cluster shape, then the same in moto."""
import itertools
import re

import pytest

from cfn_eval import conditions
from conftest import AMI, NEWER_AMI, TEMPLATES, load_template
from test_cluster import Cluster, cluster_values

GROUPS = "ABCD"
CLUSTER = load_template("rmq-cluster.yaml")
NODE = load_template("rmq-node.yaml")
QUICKSTART = load_template("rmq-quickstart.yaml")
VPC = load_template("rmq-vpc.yaml")
PSEUDO = {"AWS::StackName", "AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue"}


def node_order(groups, replicas, nameservers):
    """The order the nodes must be created and updated in: nameservers, slaves, masters."""
    return ([f"NameServer{i}Stack" for i in range(nameservers)] +
            [f"Broker{GROUPS[g]}{r}Stack" for g in range(groups) for r in range(1, replicas)] +
            [f"Broker{GROUPS[g]}0Stack" for g in range(groups)])


def references(expr, conds):
    """Logical ids `expr` refers to once its Fn::If are decided (what CloudFormation orders on)."""
    found = set()
    if isinstance(expr, list):
        for x in expr:
            found |= references(x, conds)
    elif isinstance(expr, dict):
        if set(expr) == {"Fn::If"}:
            name, yes, no = expr["Fn::If"]
            return references(yes if conds[name] else no, conds)
        if set(expr) == {"Ref"}:
            return {expr["Ref"]}
        if set(expr) == {"Fn::GetAtt"}:
            target = expr["Fn::GetAtt"]
            return {target[0] if isinstance(target, list) else target.split(".")[0]}
        if set(expr) == {"Fn::Sub"}:
            text, local = (expr["Fn::Sub"], {}) if isinstance(expr["Fn::Sub"], str) else expr["Fn::Sub"]
            found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} - set(local)
            return found | references(local, conds)
        for v in expr.values():
            found |= references(v, conds)
    return found


def dependencies(template, conds):
    """Logical id -> the resources it waits for (Ref, GetAtt, Sub, DependsOn), created ones only."""
    resources = template["Resources"]
    created = {k for k, r in resources.items() if r.get("Condition") is None or conds[r["Condition"]]}
    deps = {}
    for logical in created:
        r = resources[logical]
        on = references(r.get("Properties", {}), conds)
        depends = r.get("DependsOn", [])
        on |= {depends} if isinstance(depends, str) else set(depends)
        deps[logical] = (on & set(resources)) - PSEUDO
        assert deps[logical] <= created, f"{logical} waits for resources that do not exist: {deps[logical] - created}"
    return deps


def closure(deps, start):
    seen, todo = set(), [start]
    while todo:
        for d in deps[todo.pop()]:
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


@pytest.mark.parametrize("groups,replicas,nameservers", list(itertools.product([1, 2, 3, 4], [1, 2, 3], [1, 2, 3])))
def test_node_stacks_go_one_at_a_time_nameservers_then_slaves_then_masters(groups, replicas, nameservers):
    """CloudFormation creates and updates a resource only after everything it refers to, so the
    PreviousNode references chain the node stacks: each waits for the one before it (its update
    completes only when its instance signalled ready), never two at once, in the order
    nameservers, slaves (group by group), masters. Deletes run the chain backwards."""
    values = {"BrokerGroupCount": str(groups), "ReplicasPerGroup": str(replicas),
              "NameServerCount": str(nameservers), "NumberOfAZs": "3"}
    conds = conditions(CLUSTER, values)
    deps = dependencies(CLUSTER, conds)
    order = node_order(groups, replicas, nameservers)
    nodes = {k for k, r in CLUSTER["Resources"].items()
             if r["Type"] == "AWS::CloudFormation::Stack" and k in deps}
    assert nodes == set(order)
    for k, logical in enumerate(order):
        previous = CLUSTER["Resources"][logical]["Properties"]["Parameters"]["PreviousNode"]
        chained = references(previous, conds)
        assert chained == ({order[k - 1]} if k else set()), f"{logical} comes after {chained}"
        # Everything before it in the order, nothing after it (so no two nodes at once).
        before = closure(deps, logical) & nodes
        assert before == set(order[:k]), f"{logical} waits for {sorted(before)}"


def test_every_node_stack_passes_its_predecessor_and_the_node_template_only_outputs_it():
    for logical, r in CLUSTER["Resources"].items():
        if r["Type"] == "AWS::CloudFormation::Stack":
            assert "PreviousNode" in r["Properties"]["Parameters"], logical
    assert NODE["Parameters"]["PreviousNode"]["Default"] == ""
    used = [k for k, r in NODE["Resources"].items() if "PreviousNode" in references(r, conditions(NODE, {}))]
    assert used == [], f"PreviousNode must only order the stacks; {used} use it"
    assert NODE["Outputs"]["PreviousNode"] == {"Condition": "HasPreviousNode", "Description": NODE["Outputs"][
        "PreviousNode"]["Description"], "Value": {"Ref": "PreviousNode"}}


def test_each_node_is_replaced_alone_and_waits_for_its_signal():
    """A node's interface and volume can only be attached to one instance, so its rolling update
    terminates the old instance first (MinInstancesInService 0, MaxBatchSize 1); the update then
    waits for the new instance's SUCCESS signal (WaitOnResourceSignals, PauseTime = the signal
    timeout), and the next node stack only starts after that."""
    group = NODE["Resources"]["NodeGroup"]
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["MinInstancesInService"] == 0 and rolling["MaxBatchSize"] == 1
    assert rolling["WaitOnResourceSignals"] is True
    assert rolling["PauseTime"] == group["CreationPolicy"]["ResourceSignal"]["Timeout"] == "PT30M"
    assert {"HealthCheck", "ReplaceUnhealthy", "AZRebalance"} <= set(rolling["SuspendProcesses"])
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == 1
    # The launch template version is what changes (user data, AMI, instance type): that rolls.
    assert group["Properties"]["LaunchTemplate"]["Version"] == {
        "Fn::GetAtt": ["NodeLaunchTemplate", "LatestVersionNumber"]}
    # Nothing re-resolves SSM at update time in the node path.
    header = NODE["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
    assert "RMQ_SIGNAL_RESOURCE='NodeGroup'" in str(header)


@pytest.mark.parametrize("name", ["rmq-quickstart.yaml", "rmq-cluster.yaml", "rmq-node.yaml"])
def test_the_node_ami_is_an_explicit_id_never_resolved_on_update(name):
    """An SSM-typed parameter (or a {{resolve:ssm}} reference) is resolved again on every stack
    update, so the first update after an Amazon Linux release would replace every node. The node
    AMI is a plain id instead; scripts/release-aws.sh reads the SSM parameter once."""
    template = load_template(name)
    text = (TEMPLATES / name).read_text()
    assert "{{resolve:ssm" not in text
    for key, spec in template["Parameters"].items():
        if key != "BastionAmiParameter":
            assert not spec["Type"].startswith("AWS::SSM::"), f"{name}: {key} is resolved on every update"
    if name == "rmq-node.yaml":
        spec = template["Parameters"]["ImageId"]
        lt = template["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]
        assert lt["ImageId"] == {"Ref": "ImageId"}
    else:
        spec = template["Parameters"]["NodeAmiId"]
        assert "NodeAmiParameter" not in template["Parameters"]
    assert spec["Type"] == "AWS::EC2::Image::Id" and "Default" not in spec
    if name == "rmq-cluster.yaml":
        for logical, r in template["Resources"].items():
            if r["Type"] == "AWS::CloudFormation::Stack":
                assert r["Properties"]["Parameters"]["ImageId"] == {"Ref": "NodeAmiId"}, logical
    if name == "rmq-quickstart.yaml":
        assert template["Resources"]["ClusterStack"]["Properties"]["Parameters"]["NodeAmiId"] == {"Ref": "NodeAmiId"}


def test_the_bastion_reaches_the_nameservers_and_brokers():
    """Admin tools on the bastion (rmqctl apply for topics and groups, mqadmin) need 9876 to the
    nameservers and 10911 to the brokers: egress from the bastion group, ingress from it."""
    egress = VPC["Resources"]["BastionSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    out = {(r["FromPort"], r["ToPort"], r["CidrIp"].get("Ref", r["CidrIp"]) if isinstance(r["CidrIp"], dict)
            else r["CidrIp"]) for r in egress}
    assert out == {(22, 22, "VPCCIDR"), (443, 443, "0.0.0.0/0"), (9876, 9876, "VPCCIDR"), (10911, 10911, "VPCCIDR")}
    rules = {(r["Properties"]["GroupId"]["Ref"], r["Properties"]["FromPort"], r["Properties"]["ToPort"]): r
             for r in CLUSTER["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"
             and r["Properties"].get("SourceSecurityGroupId") == {"Ref": "BastionSecurityGroupID"}}
    assert set(rules) == {("NameServerSecurityGroup", 9876, 9876), ("BrokerSecurityGroup", 10911, 10911),
                          ("NameServerSecurityGroup", 22, 22), ("BrokerSecurityGroup", 22, 22)}
    assert all(r["Condition"] == "HasBastion" for r in rules.values())


CLUSTER_ALARMS = {"AlarmBrokerNotReady", "AlarmNoNameserverRegistration", "AlarmDiskAboveRetentionRatio",
                  "AlarmDataVolumeFull", "AlarmBootstrapFailed", "AlarmConsumerLag", "AlarmReplicationLag"}


def test_alarms_cover_status_checks_the_data_volume_registration_and_failed_boots():
    alarms = {k: r["Properties"] for k, r in CLUSTER["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert set(alarms) == CLUSTER_ALARMS
    assert alarms["AlarmNoNameserverRegistration"]["MetricName"] == "rmq_broker_namesrvs_registered"
    assert alarms["AlarmBrokerNotReady"]["MetricName"] == "rmq_broker_ready"
    volume = alarms["AlarmDataVolumeFull"]
    assert (volume["Namespace"], volume["MetricName"], volume["Threshold"]) == ("rmq", "disk_used_percent", 85)
    assert volume["Dimensions"][1] == {"Name": "path", "Value": "/data"}
    failed = CLUSTER["Resources"]["BootstrapFailedFilter"]["Properties"]
    assert failed["LogGroupName"] == {"Ref": "NodeLogGroup"} and failed["FilterPattern"] == '"rmq-bootstrap: FAILED"'
    assert failed["MetricTransformations"][0]["MetricName"] == alarms["AlarmBootstrapFailed"]["MetricName"]
    status = NODE["Resources"]["AlarmStatusCheckFailed"]["Properties"]
    assert (status["Namespace"], status["MetricName"]) == ("AWS/EC2", "StatusCheckFailed")
    assert status["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": {"Ref": "NodeGroup"}}]
    for logical, r in CLUSTER["Resources"].items():
        if r["Type"] == "AWS::CloudFormation::Stack":
            assert r["Properties"]["Parameters"]["AlarmTopicARN"] == {"Ref": "AlarmTopicARN"}, logical


def test_logs_ship_before_the_bootstrap_can_fail_or_wait():
    """The CloudWatch agent starts before the interface attach, the download and the checks, the
    server start and every wait, so the log group has the reason of any failed boot."""
    script = (TEMPLATES.parent / "userdata/node-bootstrap.sh").read_text()
    agent = script.index("amazon-cloudwatch-agent-ctl -a fetch-config")
    for later in ('attach_to_me eni "$RMQ_ENI_ID"', 'fetch "$BIN"', "systemctl enable --now",
                  'wait_until 180 "rmq-$UNIT to listen', "wait_until 600", "signal SUCCESS"):
        assert agent < script.index(later), later


# ---- in moto ---------------------------------------------------------------------------------

def launch_templates(aws, c):
    """Node logical id -> (latest version number, image id, user data) of its launch template."""
    import base64
    out = {}
    for logical, o in c.node_out.items():
        versions = aws.ec2.describe_launch_template_versions(LaunchTemplateId=o["LaunchTemplateId"])
        latest = max(versions["LaunchTemplateVersions"], key=lambda v: v["VersionNumber"])
        data = latest["LaunchTemplateData"]
        out[logical] = (latest["VersionNumber"], data["ImageId"], base64.b64decode(data["UserData"]).decode())
    return out


def test_moto_chains_the_node_stacks(aws, existing_vpc):
    values = cluster_values(existing_vpc, NameServerCount=3, BrokerGroupCount=2, ReplicasPerGroup=3, NumberOfAZs=3)
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    c = Cluster(aws)
    order = node_order(2, 3, 3)
    assert set(c.nested) == set(order)
    for k, logical in enumerate(order):
        assert c.node_out[logical].get("PreviousNode") == (c.nested[order[k - 1]] if k else None), logical
    created = {s["StackName"]: s["CreationTime"] for s in aws.cfn.describe_stacks()["Stacks"]}
    times = [created[c.nested[logical]] for logical in order]
    assert times == sorted(times), "moto created the node stacks out of chain order"


def test_a_new_build_rolls_only_its_nodes_and_an_unchanged_release_rolls_nothing(aws, existing_vpc):
    values = cluster_values(existing_vpc, BrokerSha256="a1" * 32, NameServerSha256="b2" * 32)
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    c = Cluster(aws)
    before = launch_templates(aws, c)

    # The same release again, with a change no node sees: no launch template changes, so nothing rolls.
    aws.update_stack("rmq", "rmq-cluster.yaml", dict(values, ConsumerLagAlarmThreshold="777"))
    assert launch_templates(aws, Cluster(aws)) == before

    # A new rmq-broker build: every broker's user data changes (only its RMQ_BINARY_SHA256 line),
    # so each broker's launch template gets a new version, which its rolling update replaces; the
    # nameservers' launch templates stay as they were.
    aws.update_stack("rmq", "rmq-cluster.yaml", dict(values, BrokerSha256="c3" * 32))
    after = launch_templates(aws, Cluster(aws))
    for logical, (version, image, data) in after.items():
        old_version, old_image, old_data = before[logical]
        assert image == old_image == AMI
        if logical.startswith("Broker"):
            assert version > old_version, f"{logical} did not get a new launch template version"
            changed = set(data.splitlines()) ^ set(old_data.splitlines())
            assert changed == {f"RMQ_BINARY_SHA256='{'a1' * 32}'", f"RMQ_BINARY_SHA256='{'c3' * 32}'"}, changed
        else:
            assert (version, data) == (old_version, old_data), f"{logical} rolled for a broker build"


def test_the_ami_changes_only_when_node_ami_id_does(aws, existing_vpc):
    values = cluster_values(existing_vpc)
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    before = launch_templates(aws, Cluster(aws))
    assert {image for _, image, _ in before.values()} == {AMI}

    # An update that does not name another AMI keeps every launch template (no SSM lookup).
    aws.update_stack("rmq", "rmq-cluster.yaml", dict(values, AlarmTopicARN="arn:aws:sns:us-east-1:123456789012:ops"))
    assert launch_templates(aws, Cluster(aws)) == before

    # NodeAmiId names the next release: every node gets it, with the same user data.
    aws.update_stack("rmq", "rmq-cluster.yaml", dict(values, NodeAmiId=NEWER_AMI))
    after = launch_templates(aws, Cluster(aws))
    for logical, (version, image, data) in after.items():
        assert image == NEWER_AMI and version > before[logical][0] and data == before[logical][2], logical
