"""Static checks of the templates that cfn-lint cannot make: layout rules, wiring between the
nested templates, least privilege, and the user data staying identical to userdata/node-bootstrap.sh."""
import itertools
import re
import subprocess

import pytest

from cfn_eval import conditions, resolve
from conftest import BOOTSTRAP, TEMPLATE_NAMES, TEMPLATES, load_template

GROUPS = "abcd"
CLUSTER = load_template("rmq-cluster.yaml")
NODE = load_template("rmq-node.yaml")
VPC = load_template("rmq-vpc.yaml")
QUICKSTART = load_template("rmq-quickstart.yaml")


def user_data_parts(node=NODE):
    """(header Fn::Sub, literal script) of the node launch template's user data."""
    data = node["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
    sep, (header, body) = data["Fn::Base64"]["Fn::Join"]
    assert sep == ""
    return header["Fn::Sub"], body


def walk(obj):
    yield obj
    if isinstance(obj, dict):
        for v in obj.values():
            yield from walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk(v)


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_parameter_and_output_is_described(name):
    template = load_template(name)
    assert template.get("Description"), f"{name}: no Description"
    for key, spec in template.get("Parameters", {}).items():
        assert spec.get("Description"), f"{name}: parameter {key} has no Description"
    for key, spec in template.get("Outputs", {}).items():
        assert spec.get("Description"), f"{name}: output {key} has no Description"


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_no_constructs_that_moto_or_cloudformation_mishandle(name):
    text = "\n".join(line for line in (TEMPLATES / name).read_text().splitlines()
                     if not line.lstrip().startswith("#"))
    assert "!Condition" not in text, f"{name}: use the long form {{Condition: X}} (moto reads !Condition as false)"
    assert not re.search(r"(^|\s)[&*][A-Za-z]", text), f"{name}: CloudFormation rejects YAML anchors/aliases"
    template = load_template(name)
    for cname, expr in template.get("Conditions", {}).items():
        assert "Condition" not in expr, f"{name}: condition {cname} is a bare alias (moto evaluates it as false)"
    for node in walk(template.get("Resources", {})):
        if isinstance(node, dict) and "VPCZoneIdentifier" in node:
            zones = node["VPCZoneIdentifier"]
            if isinstance(zones, list):
                assert not any(isinstance(z, dict) and "Fn::If" in z for z in zones), \
                    f"{name}: Fn::If inside VPCZoneIdentifier crashes moto; choose between whole lists"
    for key, spec in template.get("Parameters", {}).items():
        # moto compares an unquoted YAML default (an int) unequal to the string "2".
        if spec["Type"] == "String" and "Default" in spec:
            assert isinstance(spec["Default"], str), f"{name}: quote the Default of {key}"


def test_user_data_embeds_the_bootstrap_script_verbatim():
    _, body = user_data_parts()
    assert body == BOOTSTRAP.read_text(), (
        "the user data in templates/rmq-node.yaml differs from userdata/node-bootstrap.sh: "
        "run python3 cloudformation/tests/sync_userdata.py")


def test_user_data_header_sets_every_variable_the_script_needs():
    (header, mapping), _ = user_data_parts()
    assigned = set(re.findall(r"^(RMQ_[A-Z0-9_]+)=", header, re.M))
    script = BOOTSTRAP.read_text()
    used = set(re.findall(r"\b(RMQ_[A-Z0-9_]+)\b", script))
    # Variables a sandbox sets (never the header), and ports with defaults.
    optional = {"RMQ_ROOT", "RMQ_ARTEFACT_DIR", "RMQ_NO_SYSTEMD", "RMQ_NO_EC2", "RMQ_NO_CLOUDWATCH",
                "RMQ_OVERRIDES", "RMQ_ALLOW_SCRIPTS", "RMQ_NAMESRV_PORT", "RMQ_LISTEN_PORT", "RMQ_HA_PORT",
                # spec.security: only rmq-aws sets them so far (the templates have no secrets yet).
                "RMQ_SECURITY_CONF", "RMQ_SECRETS", "RMQ_SECRETS_SHA256"}
    assert used - optional == assigned, (
        f"header/script mismatch: only in the script {sorted(used - optional - assigned)}, "
        f"only in the header {sorted(assigned - used)}")
    assert header.startswith("#!/bin/bash\n")
    # Values are single-quoted; the parameters that reach them cannot contain a quote.
    for line in header.splitlines()[3:]:
        assert re.fullmatch(r"RMQ_[A-Z0-9_]+='(\$\{[A-Za-z0-9:.]+\}|[A-Za-z]+)'", line), line
    assert set(mapping) == {"VolumeId", "ArtefactRegion"}


# The longest value of a placeholder whose parameter the template bounds (AllowedValues,
# MaxValue, a bounded AllowedPattern) or that AWS generates; every other one counts 128 chars.
LONGEST = {
    "NodeName": 32, "BrokerName": 32, "BinarySha256": 64, "ArtefactBucketName": 63,
    "DeleteWhen": len(";".join(f"{h:02}" for h in range(24))),
    "NodeInterface.PrimaryPrivateIpAddress": len("255.255.255.255"),
    "NodeInterface": len("eni-0123456789abcdef0"), "VolumeId": len("vol-0123456789abcdef0"),
    "AWS::Region": len("ap-southeast-5-xxxxx"),
}


def longest(name):
    """The longest value placeholder ${name} of the node template's header can take."""
    spec = NODE["Parameters"].get(name, {})
    if "AllowedValues" in spec:
        return max(len(str(v)) for v in spec["AllowedValues"])
    if "MaxValue" in spec:
        return len(str(spec["MaxValue"]))
    return LONGEST.get(name, 128)


def test_rendered_user_data_fits_the_16k_limit():
    (header, _), body = user_data_parts()
    worst = re.sub(r"\$\{([^}]+)\}", lambda m: "x" * longest(m.group(1)), header)
    assert len((worst + body).encode()) < 16 * 1024 - 128, "keep a little room for the next change"


def test_bootstrap_script_parses():
    subprocess.run(["bash", "-n", str(BOOTSTRAP)], check=True, timeout=30)


# ---- cluster layout -------------------------------------------------------------------------

def broker_stacks():
    for g, letter in enumerate(GROUPS):
        for r in range(3):
            yield g, r, f"Broker{letter.upper()}{r}Stack"


@pytest.mark.parametrize("groups,replicas,ns,azs", [
    (g, r, n, a) for g, r, n, a in itertools.product([1, 2, 3, 4], [1, 2, 3], [1, 2, 3], [2, 3])])
def test_cluster_layout(groups, replicas, ns, azs):
    values = {"BrokerGroupCount": str(groups), "ReplicasPerGroup": str(replicas),
              "NameServerCount": str(ns), "NumberOfAZs": str(azs)}
    conds = conditions(CLUSTER, values)
    params = {"PrivateSubnet1ID": "subnet-1", "PrivateSubnet2ID": "subnet-2", "PrivateSubnet3ID": "subnet-3",
              "AvailabilityZones": ["az-1", "az-2", "az-3"], "MasterRole": "SYNC_MASTER"}
    resources = CLUSTER["Resources"]

    def created(logical):
        cond = resources[logical].get("Condition")
        return cond is None or conds[cond]

    def placement(logical):
        p = resources[logical]["Properties"]["Parameters"]
        subnet = resolve(p["SubnetId"], conds, params)
        zone = resolve(p["AvailabilityZone"], conds, params)
        assert subnet[-1] == zone[-1], f"{logical}: subnet {subnet} is not in zone {zone}"
        return int(zone[-1]) - 1

    for i in range(3):
        logical = f"NameServer{i}Stack"
        assert created(logical) == (i < ns), logical
        if i < ns:
            assert placement(logical) == i % azs, f"{logical} is in the wrong zone"
            assert resources[logical]["Properties"]["Parameters"]["NodeName"] == f"namesrv-{i}"

    for g, r, logical in broker_stacks():
        assert created(logical) == (g < groups and r < replicas), logical
        p = resources[logical]["Properties"]["Parameters"]
        assert p["NodeName"] == f"broker-{GROUPS[g]}-{r}"
        assert p["BrokerName"] == f"broker-{GROUPS[g]}"
        assert p["BrokerId"] == str(r)
        assert resolve(p["BrokerRole"], conds, {"MasterRole": "SYNC_MASTER"}) == (
            "SYNC_MASTER" if r == 0 else "SLAVE")
        if g < groups and r < replicas:
            assert placement(logical) == (g + r) % azs, f"{logical} is in the wrong zone"
            # The broker's namesrvAddr is exactly the nameservers that exist.
            addr = resolve(p["NameServerAddresses"], conds, {})
            assert str(addr).count("NameServer") == ns

    # Master and slaves of a group are in different zones whenever there are enough zones.
    for g in range(groups):
        zones = [placement(f"Broker{GROUPS[g].upper()}{r}Stack") for r in range(replicas)]
        assert len(set(zones)) == min(replicas, azs), f"group {g}: zones {zones}"
    # Masters are spread over the zones too.
    masters = [placement(f"Broker{GROUPS[g].upper()}0Stack") for g in range(groups)]
    assert len(set(masters)) == min(groups, azs)


def test_cluster_nameserver_list_feeds_every_broker():
    expected = CLUSTER["Outputs"]["NameServerAddresses"]["Value"]
    for _, _, logical in broker_stacks():
        assert CLUSTER["Resources"][logical]["Properties"]["Parameters"]["NameServerAddresses"] == expected


def test_node_stacks_are_identical_except_for_identity_and_placement():
    varying = {"NodeName", "BrokerName", "BrokerId", "BrokerRole", "SubnetId", "AvailabilityZone"}
    brokers = [CLUSTER["Resources"][logical] for _, _, logical in broker_stacks()]
    nameservers = [CLUSTER["Resources"][f"NameServer{i}Stack"] for i in range(3)]
    for kind in (brokers, nameservers):
        first = kind[0]["Properties"]
        for other in kind[1:]:
            props = other["Properties"]
            assert props["TemplateURL"] == first["TemplateURL"]
            assert set(props["Parameters"]) == set(first["Parameters"])
            for key in set(first["Parameters"]) - varying:
                assert props["Parameters"][key] == first["Parameters"][key], key


@pytest.mark.parametrize("parent,logical,child", [
    ("rmq-quickstart.yaml", "VPCStack", "rmq-vpc.yaml"),
    ("rmq-quickstart.yaml", "ClusterStack", "rmq-cluster.yaml"),
    ("rmq-cluster.yaml", "NameServer0Stack", "rmq-node.yaml"),
    ("rmq-cluster.yaml", "BrokerA0Stack", "rmq-node.yaml"),
])
def test_nested_stack_parameters_match_the_child(parent, logical, child):
    resource = load_template(parent)["Resources"][logical]
    url = resource["Properties"]["TemplateURL"]["Fn::Sub"][0]
    assert url.endswith(f"${{ArtefactKeyPrefix}}templates/{child}")
    passed = set(resource["Properties"]["Parameters"])
    declared = load_template(child)["Parameters"]
    assert passed <= set(declared), f"{logical} passes unknown parameters {passed - set(declared)}"
    required = {k for k, v in declared.items() if "Default" not in v}
    assert required <= passed, f"{logical} misses required parameters {required - passed}"


def test_quickstart_offers_every_cluster_and_vpc_setting():
    top = set(QUICKSTART["Parameters"])
    internal = {"VPCID", "PrivateSubnet1ID", "PrivateSubnet2ID", "PrivateSubnet3ID", "BastionSecurityGroupID",
                "PrivateHostedZoneId"}
    assert set(CLUSTER["Parameters"]) - internal <= top
    assert set(VPC["Parameters"]) <= top
    for key in ("KeyPairName", "RemoteAccessCIDR", "AvailabilityZones", "NumberOfAZs", "BrokerGroupCount",
                "ReplicasPerGroup", "FlushDiskType", "VolumeSize", "VolumeType", "ArtefactBucketName",
                "ArtefactKeyPrefix", "NameServerInstanceType", "BrokerInstanceType", "NumBastionHosts"):
        assert key in top


# ---- least privilege ------------------------------------------------------------------------

def test_node_role_is_least_privilege():
    statements = CLUSTER["Resources"]["NodeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {}
    for st in statements:
        assert st["Effect"] == "Allow"
        for action in [st["Action"]] if isinstance(st["Action"], str) else st["Action"]:
            assert "*" not in action, f"wildcard action {action}"
            actions[action] = st
    assert set(actions) == {
        "s3:GetObject", "ec2:AttachNetworkInterface", "ec2:AttachVolume", "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVolumes", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
        "cloudwatch:PutMetricData", "cloudformation:SignalResource"}
    s3 = actions["s3:GetObject"]["Resource"]["Fn::Sub"]
    assert s3.endswith(":s3:::${ArtefactBucketName}/${ArtefactKeyPrefix}*")
    stack_tag = {"aws:ResourceTag/rmq:stack": {"Ref": "AWS::StackName"}}
    assert actions["ec2:AttachNetworkInterface"]["Condition"] == {"StringEquals": stack_tag}
    # Only broker instances may attach, and only broker volumes (both carry rmq:role=broker).
    assert actions["ec2:AttachVolume"]["Condition"] == {
        "StringEquals": dict(stack_tag, **{"aws:ResourceTag/rmq:role": "broker"})}
    for action in ("ec2:AttachNetworkInterface", "ec2:AttachVolume"):
        kinds = {r["Fn::Sub"].rsplit(":", 1)[1] for r in actions[action]["Resource"]}
        assert kinds == {"instance/*", "volume/*" if action == "ec2:AttachVolume" else "network-interface/*"}
    assert actions["logs:PutLogEvents"]["Resource"] == {"Fn::GetAtt": ["NodeLogGroup", "Arn"]}
    assert actions["cloudwatch:PutMetricData"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "rmq"}}
    assert actions["cloudformation:SignalResource"]["Resource"]["Fn::Sub"].endswith(
        ":stack/${AWS::StackName}-*/*")
    for st in statements:
        if st["Resource"] == "*":  # only actions without resource-level permissions
            listed = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
            assert all(a.split(":")[1].startswith("Describe") or "Condition" in st for a in listed), st


def test_tags_that_the_iam_condition_relies_on():
    node = NODE["Resources"]
    for logical in ("NodeInterface", "DataVolume"):
        tags = {t["Key"]: t["Value"] for t in node[logical]["Properties"]["Tags"]}
        assert tags["rmq:stack"] == {"Ref": "ClusterStackName"}
    volume_tags = {t["Key"]: t["Value"] for t in node["DataVolume"]["Properties"]["Tags"]}
    assert volume_tags["rmq:role"] == {"Ref": "NodeRole"}  # and DataVolume exists only for brokers
    assert node["DataVolume"]["Condition"] == "IsBroker"
    asg_tags = {t["Key"]: t for t in node["NodeGroup"]["Properties"]["Tags"]}
    assert asg_tags["rmq:stack"]["Value"] == {"Ref": "ClusterStackName"}
    assert asg_tags["rmq:stack"]["PropagateAtLaunch"] is True
    assert asg_tags["rmq:role"] == {"Key": "rmq:role", "Value": {"Ref": "NodeRole"}, "PropagateAtLaunch": True}
    for _, _, logical in broker_stacks():
        assert CLUSTER["Resources"][logical]["Properties"]["Parameters"]["ClusterStackName"] == {
            "Ref": "AWS::StackName"}


def ingress_rules(template):
    rules = []
    for logical, res in template["Resources"].items():
        if res["Type"] == "AWS::EC2::SecurityGroup":
            for rule in res["Properties"].get("SecurityGroupIngress", []):
                rules.append((logical, rule))
        elif res["Type"] == "AWS::EC2::SecurityGroupIngress":
            rules.append((res["Properties"]["GroupId"]["Ref"], res["Properties"]))
    return rules


def test_cluster_ports_are_open_only_to_the_right_sources():
    allowed = {
        ("NameServerSecurityGroup", 9876): {"ClientSecurityGroup", "BrokerSecurityGroup", "VPCCIDR"},
        ("BrokerSecurityGroup", 10911): {"ClientSecurityGroup", "BrokerSecurityGroup", "VPCCIDR"},
        ("BrokerSecurityGroup", 10912): {"BrokerSecurityGroup"},
        ("NameServerSecurityGroup", 22): {"BastionSecurityGroupID"},
        ("BrokerSecurityGroup", 22): {"BastionSecurityGroupID"},
    }
    seen = set()
    for group, rule in ingress_rules(CLUSTER):
        assert rule["IpProtocol"] == "tcp"
        source = rule.get("SourceSecurityGroupId", rule.get("CidrIp"))
        assert isinstance(source, dict) and "Ref" in source, f"{group}: literal source {source}"
        for port in range(rule["FromPort"], rule["ToPort"] + 1):
            assert source["Ref"] in allowed.get((group, port), set()), f"{group} port {port} from {source}"
            seen.add((group, port, source["Ref"]))
    assert seen == {(g, p, s) for (g, p), ss in allowed.items() for s in ss}
    conds = {r["Properties"].get("CidrIp", {}).get("Ref"): r.get("Condition")
             for r in CLUSTER["Resources"].values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"}
    assert conds["VPCCIDR"] == "AllowVPCClients"


def test_bastion_only_takes_ssh_from_remote_access_cidr():
    rules = ingress_rules(VPC)
    assert rules == [("BastionSecurityGroup", {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                               "CidrIp": {"Ref": "RemoteAccessCIDR"},
                                               "Description": "SSH from RemoteAccessCIDR"})]


@pytest.mark.parametrize("name,logical", [("rmq-node.yaml", "NodeLaunchTemplate"),
                                          ("rmq-vpc.yaml", "BastionLaunchTemplate")])
def test_launch_templates_require_imdsv2_and_encrypt_the_root_volume(name, logical):
    data = load_template(name)["Resources"][logical]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
    for mapping in data["BlockDeviceMappings"]:
        assert mapping["Ebs"]["Encrypted"] is True


def test_data_volume_is_encrypted_and_outlives_instances_and_stacks():
    volume = NODE["Resources"]["DataVolume"]
    assert volume["Properties"]["Encrypted"] is True
    assert volume["DeletionPolicy"] == "Snapshot" and volume["UpdateReplacePolicy"] == "Snapshot"
    assert volume["Properties"]["AvailabilityZone"] == {"Ref": "AvailabilityZone"}
    group = NODE["Resources"]["NodeGroup"]
    assert group["Properties"]["VPCZoneIdentifier"] == [{"Ref": "SubnetId"}]
    assert (group["Properties"]["MinSize"], group["Properties"]["MaxSize"]) == ("1", "1")
    assert group["UpdatePolicy"]["AutoScalingRollingUpdate"]["MinInstancesInService"] == 0
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == 1


def test_rules_reject_inconsistent_input():
    rules = CLUSTER["Rules"]
    assert rules["ThirdSubnetForThreeAZs"]["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PrivateSubnet3ID"}, ""]}]}
    assert "SyncMasterNeedsSlave" in rules and "SyncMasterNeedsSlave" in QUICKSTART["Rules"]


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_size(name):
    size = (TEMPLATES / name).stat().st_size
    # TemplateBody takes 51,200 bytes; from S3 (TemplateURL, nested stacks) 1 MB. The cluster
    # template nests node stacks from S3 anyway, so it is only ever deployed by URL.
    limit = 1_000_000 if name == "rmq-cluster.yaml" else 51_200
    assert size < limit, f"{name} is {size} bytes"
