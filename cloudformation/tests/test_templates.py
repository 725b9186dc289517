"""Static checks of the templates that cfn-lint cannot make: layout rules, wiring between the
nested templates, least privilege, and the user data staying identical to userdata/node-bootstrap.sh."""
import itertools
import re
import subprocess

import pytest

from cfn_eval import conditions, parameter_values, resolve
from conftest import BOOTSTRAP, TEMPLATE_NAMES, TEMPLATES, load_template

GROUPS = "abcd"
CLUSTER = load_template("rmq-cluster.yaml")
NODE = load_template("rmq-node.yaml")
VPC = load_template("rmq-vpc.yaml")
QUICKSTART = load_template("rmq-quickstart.yaml")


def user_data_parts(node=NODE):
    """(header Fn::Sub, spec.security's Fn::If, literal script) of the node launch template's
    user data."""
    header, security, _, body = user_data_blocks(node)
    return header["Fn::Sub"], security, body


def user_data_blocks(node=NODE):
    """The four parts of the user data's Fn::Join: header, spec.security's Fn::If,
    failover: Automatic's Fn::If, script."""
    data = node["Resources"]["NodeLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
    sep, blocks = data["Fn::Base64"]["Fn::Join"]
    assert sep == "" and len(blocks) == 4
    return blocks


def failover_block(values, node=NODE):
    """The failover: Automatic lines the node template renders for parameter values `values`."""
    block = resolve(user_data_blocks(node)[2], conditions(node, values), parameter_values(node, values))
    assert isinstance(block, str), block
    return block


def security_block(values, node=NODE):
    """The spec.security lines the node template renders for parameter values `values`."""
    _, security, _ = user_data_parts(node)
    params = parameter_values(node, values)
    block = resolve(security, conditions(node, values), params)
    assert isinstance(block, str), block
    return block


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
    _, _, body = user_data_parts()
    assert body == BOOTSTRAP.read_text(), (
        "the user data in templates/rmq-node.yaml differs from userdata/node-bootstrap.sh: "
        "run python3 cloudformation/tests/sync_userdata.py")


# failover: Automatic's lines (test_bootstrap.py runs them).
FAILOVER_VARS = {"RMQ_FAILOVER_CONF", "RMQ_CONTROLLER_CONF", "RMQ_CONTROLLER_SHA256"}


def test_user_data_header_sets_every_variable_the_script_needs():
    (header, mapping), security, _ = user_data_parts()
    assigned = set(re.findall(r"^(RMQ_[A-Z0-9_]+)=", header, re.M))
    script = BOOTSTRAP.read_text()
    used = set(re.findall(r"\b(RMQ_[A-Z0-9_]+)\b", script))
    # Variables a sandbox sets (never the header), and ports with defaults.
    optional = {"RMQ_ROOT", "RMQ_ARTEFACT_DIR", "RMQ_NO_SYSTEMD", "RMQ_NO_EC2", "RMQ_NO_CLOUDWATCH",
                "RMQ_OVERRIDES", "RMQ_ALLOW_SCRIPTS", "RMQ_NAMESRV_PORT", "RMQ_LISTEN_PORT", "RMQ_HA_PORT",
                "RMQ_SETTLE"}
    # spec.security's lines: only when it is on (as rmq-aws renders them).
    secured = security["Fn::If"][1]["Fn::Sub"][0]
    assert security["Fn::If"][0] == "HasSecurity" and security["Fn::If"][2] == ""
    assert re.findall(r"^(RMQ_[A-Z0-9_]+)=", secured, re.M) == [
        "RMQ_SECURITY_CONF", "RMQ_SECRETS", "RMQ_SECRETS_SHA256"]
    assigned |= set(re.findall(r"^(RMQ_[A-Z0-9_]+)=", secured, re.M))
    # failover: Automatic's lines: only with ELECTED (brokers) or ControllerIndex (nameservers).
    failover = user_data_blocks()[2]
    assert failover["Fn::If"][0] == "IsElected"
    elected = failover["Fn::If"][1]["Fn::Sub"]
    controller = failover["Fn::If"][2]["Fn::If"]
    assert controller[0] == "RunsController" and controller[2] == ""
    assert re.findall(r"^(RMQ_[A-Z0-9_]+)=", elected, re.M) == ["RMQ_FAILOVER_CONF"]
    assert re.findall(r"^(RMQ_[A-Z0-9_]+)=", controller[1]["Fn::Sub"], re.M) == [
        "RMQ_CONTROLLER_CONF", "RMQ_CONTROLLER_SHA256"]
    assigned |= FAILOVER_VARS
    assert used - optional == assigned, (
        f"header/script mismatch: only in the script {sorted(used - optional - assigned)}, "
        f"only in the header {sorted(assigned - used)}")
    assert header.startswith("#!/bin/bash\n")
    # Values are single-quoted; the parameters that reach them cannot contain a quote.
    for line in header.splitlines()[3:]:
        assert re.fullmatch(r"RMQ_[A-Z0-9_]+='(\$\{[A-Za-z0-9:.]+\}|[A-Za-z]+)'", line), line
    assert set(mapping) == {"NodeIp", "EniId", "VolumeId", "ArtefactRegion"}


# The longest value of a placeholder whose parameter the template bounds (AllowedValues,
# MaxValue, a bounded AllowedPattern) or that AWS generates; every other one counts 128 chars.
LONGEST = {
    "NodeName": 32, "BrokerName": 32, "BinarySha256": 64, "ArtefactBucketName": 63,
    "DeleteWhen": len(";".join(f"{h:02}" for h in range(24))),
    "NodeIp": len("255.255.255.255"),
    "EniId": len("eni-0123456789abcdef0"), "VolumeId": len("vol-0123456789abcdef0"),
    "AWS::Region": len("ap-southeast-5-xxxxx"),
    # ArtefactBucketRegion (MaxLength 20) or AWS::Region.
    "ArtefactRegion": len("ap-southeast-5-xxxxx"),
}


def longest(name):
    """The longest value placeholder ${name} of the node template's header can take."""
    spec = NODE["Parameters"].get(name, {})
    if "AllowedValues" in spec:
        return max(len(str(v)) for v in spec["AllowedValues"])
    if "MaxValue" in spec:
        return len(str(spec["MaxValue"]))
    if "MaxLength" in spec:
        return int(spec["MaxLength"])
    return LONGEST.get(name, 128)


def longest_security_block():
    """The longest spec.security lines: every combination, secret names at their MaxLength."""
    names = {k: "x" * longest(k) for k in ("AclAccountsSecret", "AclAdminSecret", "TlsCertificateSecret")}
    blocks = [security_block(dict(names, NodeRole=role, TlsMode=mode, TlsClientAuth=auth))
              for role in NODE["Parameters"]["NodeRole"]["AllowedValues"]
              for mode in NODE["Parameters"]["TlsMode"]["AllowedValues"]
              for auth in NODE["Parameters"]["TlsClientAuth"]["AllowedValues"]]
    return max(blocks, key=len)


def longest_failover_block(role):
    """The longest failover: Automatic lines of a `role` node, every value at its longest."""
    values = {k: "x" * longest(k) for k in ("ClusterName", "ControllerAddresses", "ControllerPeers",
                                            "ControllerSha256")}
    values.update(NodeRole=role, BrokerRole="ELECTED", ControllerIndex="2")
    return failover_block(values)


def test_rendered_user_data_fits_the_16k_limit():
    (header, _), _, body = user_data_parts()
    worst = re.sub(r"\$\{([^}]+)\}", lambda m: "x" * longest(m.group(1)), header)
    block = longest_security_block()
    assert "RMQ_SECRETS_SHA256=" in block and "tls.client.keyPath=" in block
    names = {k: "x" * longest(k) for k in ("AclAccountsSecret", "AclAdminSecret", "TlsCertificateSecret")}
    for role in ("broker", "namesrv"):
        security = max((security_block(dict(names, NodeRole=role, TlsMode=mode, TlsClientAuth=auth))
                        for mode in NODE["Parameters"]["TlsMode"]["AllowedValues"]
                        for auth in NODE["Parameters"]["TlsClientAuth"]["AllowedValues"]), key=len)
        failover = longest_failover_block(role)
        assert ("RMQ_FAILOVER_CONF=" if role == "broker" else "RMQ_CONTROLLER_CONF=") in failover
        size = len((worst + security + failover + body).encode())
        assert size < 16 * 1024 - 128, f"{role}: {size} bytes; keep a little room for the next change"


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
    varying = {"NodeName", "BrokerName", "BrokerId", "BrokerRole", "SubnetId", "AvailabilityZone",
               "NetworkInterfaceId", "NetworkInterfaceAddress", "ControllerIndex", "PreviousNode"}
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

def node_role_statements():
    """(statements always there, statements only with secrets) of the node role's policy."""
    statements = CLUSTER["Resources"]["NodeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    always = [st for st in statements if "Fn::If" not in st]
    optional = [st["Fn::If"] for st in statements if "Fn::If" in st]
    assert all(cond == "HasSecrets" and no == {"Ref": "AWS::NoValue"} for cond, _, no in optional), optional
    return always, [yes for _, yes, _ in optional]


def test_node_role_is_least_privilege():
    statements, _ = node_role_statements()
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
        ("NameServerSecurityGroup", 9876): {"ClientSecurityGroup", "BrokerSecurityGroup", "VPCCIDR",
                                            "BastionSecurityGroupID"},
        ("BrokerSecurityGroup", 10911): {"ClientSecurityGroup", "BrokerSecurityGroup", "VPCCIDR",
                                         "NameServerSecurityGroup", "BastionSecurityGroupID"},
        ("BrokerSecurityGroup", 10912): {"BrokerSecurityGroup"},
        ("NameServerSecurityGroup", 22): {"BastionSecurityGroupID"},
        ("BrokerSecurityGroup", 22): {"BastionSecurityGroupID"},
        # Failover Automatic only (test_controller_rules_exist_only_with_automatic_failover).
        ("NameServerSecurityGroup", 9878): {"BrokerSecurityGroup", "NameServerSecurityGroup"},
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


def test_controller_rules_exist_only_with_automatic_failover():
    """Port 9878 (the controllers on the nameserver nodes) from brokers and nameservers, and
    10911 from the nameservers (role changes), in and out, only with Failover Automatic."""
    rules = {}
    for logical, r in CLUSTER["Resources"].items():
        if r["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            p = r["Properties"]
            peer = p.get("SourceSecurityGroupId", p.get("DestinationSecurityGroupId", p.get("CidrIp")))
            direction = "in" if r["Type"].endswith("Ingress") else "out"
            rules[(direction, p["GroupId"]["Ref"], p["FromPort"], p["ToPort"], peer["Ref"])] = r.get("Condition")
    ns, broker = "NameServerSecurityGroup", "BrokerSecurityGroup"
    controller = {("in", ns, 9878, 9878, broker), ("in", ns, 9878, 9878, ns), ("in", broker, 10911, 10911, ns),
                  ("out", broker, 9878, 9878, ns), ("out", ns, 9878, 9878, ns), ("out", ns, 10911, 10911, broker)}
    assert controller <= set(rules)
    assert {k for k, cond in rules.items() if cond == "Automatic"} == controller
    for values, on in (({}, False), ({"Failover": "Manual"}, False), ({"Failover": "Automatic"}, True)):
        assert conditions(CLUSTER, values)["Automatic"] is on
    # Nothing else reaches 9878.
    assert all(k in controller for k in rules if 9878 in (k[2], k[3]))


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
