"""rmq-cluster.yaml deployed into moto over an existing VPC: nested node stacks, addresses,
placement, security groups, IAM, and updates that add and remove broker groups and replicas."""
import ast
import ipaddress
import json
import re
import urllib.parse

import boto3
import pytest

from conftest import AMI, AZS, BUCKET, PREFIX

GROUPS = "abcd"


def cluster_values(vpc, **overrides):
    values = {
        "VPCID": vpc["vpc"], "VPCCIDR": vpc["cidr"], "AvailabilityZones": ",".join(AZS),
        "PrivateSubnet1ID": vpc["subnets"][0], "PrivateSubnet2ID": vpc["subnets"][1],
        "PrivateSubnet3ID": vpc["subnets"][2], "BastionSecurityGroupID": vpc["bastion_sg"],
        "ArtefactBucketName": BUCKET, "ArtefactKeyPrefix": PREFIX, "ClusterName": "orders", "NodeAmiId": AMI,
    }
    values.update({k: str(v) for k, v in overrides.items()})
    return values


class Cluster:
    """What one deployed cluster stack looks like through the EC2/ASG/CloudFormation APIs."""

    def __init__(self, aws, name="rmq"):
        self.aws, self.name = aws, name
        self.out = aws.outputs(name)
        self.nested = aws.nested(name)
        self.node_out = {logical: aws.outputs(physical) for logical, physical in self.nested.items()}

    def nodes(self, prefix):
        return {k: v for k, v in self.node_out.items() if k.startswith(prefix)}

    def instance(self, logical):
        group = self.aws.group(self.node_out[logical]["AutoScalingGroupName"])
        assert len(group["Instances"]) == 1
        iid = group["Instances"][0]["InstanceId"]
        return self.aws.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]

    def header(self, logical):
        text = self.aws.user_data(self.instance(logical)["InstanceId"])
        return dict(re.findall(r"^(RMQ_[A-Z_]+)='(.*)'$", text, re.M))

    def zone_of(self, logical):
        return self.aws.subnet(self.aws.group(self.node_out[logical]["AutoScalingGroupName"])
                               ["VPCZoneIdentifier"])["AvailabilityZone"]


def expected_brokers(groups, replicas):
    return [f"Broker{GROUPS[g].upper()}{r}Stack" for g in range(groups) for r in range(replicas)]


def check_cluster(aws, vpc, groups, replicas, nameservers, azs, retention=("72", "04", "75")):
    c = Cluster(aws)
    brokers = expected_brokers(groups, replicas)
    names = [f"NameServer{i}Stack" for i in range(nameservers)]
    assert set(c.nested) == set(brokers) | set(names)

    # Nameserver addresses: the fixed interface addresses of the nameserver nodes, in order.
    addresses = [c.node_out[n]["Address"] for n in names]
    assert c.out["NameServerAddresses"] == ";".join(f"{a}:9876" for a in addresses)
    vpc_net = ipaddress.ip_network(vpc["cidr"])
    assert all(ipaddress.ip_address(a) in vpc_net for a in addresses)
    enis = aws.ec2.describe_network_interfaces(
        NetworkInterfaceIds=[c.node_out[n]["NetworkInterfaceId"] for n in names])["NetworkInterfaces"]
    assert sorted(e["PrivateIpAddress"] for e in enis) == sorted(addresses)

    # Auto Scaling groups: one of one per node, exactly the ones in the outputs.
    assert c.out["NameServerAutoScalingGroupNames"].split(",") == [
        c.node_out[n]["AutoScalingGroupName"] for n in names]
    assert c.out["BrokerAutoScalingGroupNames"].split(",") == [
        c.node_out[b]["AutoScalingGroupName"] for b in brokers]
    assert c.out["BrokerEndpoints"].split(",") == [c.node_out[b]["Endpoint"] for b in brokers]
    assert aws.asg_names() >= set(c.out["BrokerAutoScalingGroupNames"].split(","))
    assert len(aws.asg_names()) == len(brokers) + nameservers

    # Placement: nameserver i in zone i mod N; group members in different zones; volume in the zone.
    for i, n in enumerate(names):
        assert c.zone_of(n) == AZS[i % azs]
    for g in range(groups):
        members = [f"Broker{GROUPS[g].upper()}{r}Stack" for r in range(replicas)]
        zones = [c.zone_of(m) for m in members]
        assert zones == [AZS[(g + r) % azs] for r in range(replicas)]
        assert len(set(zones)) == min(replicas, azs)
        for m in members:
            volume = aws.ec2.describe_volumes(VolumeIds=[c.node_out[m]["DataVolumeId"]])["Volumes"][0]
            assert volume["AvailabilityZone"] == c.zone_of(m)

    # What each broker is told at boot.
    for b in brokers:
        g, r = GROUPS.index(b[6].lower()), int(b[7])
        h = c.header(b)
        assert h["RMQ_CLUSTER_NAME"] == "orders"
        assert h["RMQ_BROKER_NAME"] == f"broker-{GROUPS[g]}"
        assert h["RMQ_BROKER_ID"] == str(r)
        assert h["RMQ_BROKER_ROLE"] == ("ASYNC_MASTER" if r == 0 else "SLAVE")
        assert h["RMQ_NAMESRV_ADDR"] == c.out["NameServerAddresses"]
        assert h["RMQ_NODE_IP"] == c.node_out[b]["Address"]
        assert h["RMQ_VOLUME_ID"] == c.node_out[b]["DataVolumeId"]
        assert h["RMQ_ARTEFACT_BUCKET"] == BUCKET and h["RMQ_ARTEFACT_PREFIX"] == PREFIX
        assert h["RMQ_LOG_GROUP"] == c.out["LogGroupName"]
        assert (h["RMQ_FILE_RESERVED_TIME"], h["RMQ_DELETE_WHEN"], h["RMQ_DISK_MAX_USED_SPACE_RATIO"]) == retention
    for n in names:
        assert c.header(n)["RMQ_ROLE"] == "namesrv"
    return c


@pytest.mark.parametrize("groups,replicas,nameservers,azs", [(2, 2, 2, 2), (4, 3, 3, 3), (1, 1, 1, 2), (3, 2, 3, 2)])
def test_cluster_shapes(aws, existing_vpc, groups, replicas, nameservers, azs):
    values = cluster_values(existing_vpc, BrokerGroupCount=groups, ReplicasPerGroup=replicas,
                            NameServerCount=nameservers, NumberOfAZs=azs)
    retention = ("72", "04", "75")
    if groups == 3:  # one shape with its own retention, passed down to every broker
        retention = ("24", "03;15", "85")
        values.update(RetentionHours="24", RetentionDeleteWhen="03;15", DiskMaxUsedPercent="85")
    if azs == 2:
        values["PrivateSubnet3ID"] = ""
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    check_cluster(aws, existing_vpc, groups, replicas, nameservers, azs, retention)


def rules(aws, group_id):
    out = set()
    for perm in aws.security_group(group_id)["IpPermissions"]:
        for pair in perm["UserIdGroupPairs"]:
            out.add((perm["FromPort"], perm["ToPort"], pair["GroupId"]))
        for rng in perm["IpRanges"]:
            out.add((perm["FromPort"], perm["ToPort"], rng["CidrIp"]))
    return out


def test_security_groups(aws, existing_vpc):
    aws.create_stack("rmq", "rmq-cluster.yaml", cluster_values(existing_vpc))
    out = aws.outputs("rmq")
    client, ns, broker = out["ClientSecurityGroupID"], out["NameServerSecurityGroupID"], out["BrokerSecurityGroupID"]
    bastion = existing_vpc["bastion_sg"]
    # The bastion also reaches 9876 and 10911: admin tools there (rmqctl apply) create topics.
    assert rules(aws, ns) == {(9876, 9876, client), (9876, 9876, broker), (22, 22, bastion), (9876, 9876, bastion)}
    assert rules(aws, broker) == {(10911, 10911, client), (10911, 10912, broker), (22, 22, bastion),
                                  (10911, 10911, bastion)}
    assert rules(aws, client) == set()
    # Every node instance carries its role's group (moto applies the launch template's SecurityGroupIds).
    c = Cluster(aws)
    assert {g["GroupId"] for g in c.instance("NameServer0Stack")["SecurityGroups"]} == {ns}
    assert {g["GroupId"] for g in c.instance("BrokerA1Stack")["SecurityGroups"]} == {broker}


def test_vpc_clients_and_no_bastion(aws, existing_vpc):
    values = cluster_values(existing_vpc, AllowClientsFromVPCCIDR="true", BastionSecurityGroupID="")
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    out = aws.outputs("rmq")
    cidr = existing_vpc["cidr"]
    assert rules(aws, out["NameServerSecurityGroupID"]) == {
        (9876, 9876, out["ClientSecurityGroupID"]), (9876, 9876, out["BrokerSecurityGroupID"]), (9876, 9876, cidr)}
    assert (10911, 10911, cidr) in rules(aws, out["BrokerSecurityGroupID"])
    assert not any(r[0] == 22 for r in rules(aws, out["BrokerSecurityGroupID"]))


def test_node_role(aws, existing_vpc):
    aws.create_stack("rmq", "rmq-cluster.yaml", cluster_values(existing_vpc))
    role = aws.outputs("rmq")["NodeRoleName"]
    assert aws.iam.list_role_policies(RoleName=role)["PolicyNames"] == ["rmq-node"]
    doc = aws.iam.get_role_policy(RoleName=role, PolicyName="rmq-node")["PolicyDocument"]
    if isinstance(doc, str):
        # moto keeps a policy given by CloudFormation as the Python repr of the dict.
        try:
            doc = json.loads(urllib.parse.unquote(doc))
        except ValueError:
            doc = ast.literal_eval(doc)
    # CloudFormation drops the secrets' statements (AWS::NoValue without secrets); moto keeps nulls.
    by_sid = {s["Sid"]: s for s in doc["Statement"] if s}
    assert not any(sid.endswith("Secrets") or "Secrets" in sid for sid in by_sid), by_sid
    assert by_sid["ReadArtefacts"]["Resource"] == f"arn:aws:s3:::{BUCKET}/{PREFIX}*"
    assert by_sid["AttachThisClustersInterfaces"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/rmq:stack": "rmq"}}
    assert by_sid["AttachThisClustersBrokerVolumesToBrokers"]["Condition"] == {
        "StringEquals": {"aws:ResourceTag/rmq:stack": "rmq", "aws:ResourceTag/rmq:role": "broker"}}
    assert by_sid["SignalOwnNodeStacks"]["Resource"].endswith(":stack/rmq-*/*")
    trust = aws.iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    profiles = aws.iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    assert len(profiles) == 1
    groups = aws.logs.describe_log_groups()["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [
        (aws.outputs("rmq")["LogGroupName"], 30)]


ALARMS = {  # metric -> (statistic, comparison, threshold) for DiskMaxUsedPercent 80, lag 500
    "rmq_broker_ready": ("Minimum", "LessThanThreshold", 1.0),
    "rmq_broker_namesrvs_registered": ("Minimum", "LessThanThreshold", 1.0),
    "rocketmq_brokeruntime_commit_log_disk_ratio": ("Maximum", "GreaterThanThreshold", 0.8),
    "rocketmq_group_diff": ("Maximum", "GreaterThanThreshold", 500.0),
    "rocketmq_brokeruntime_slave_fall_behind_much": ("Maximum", "GreaterThanThreshold", 67108864.0),
    # The CloudWatch agent's file-system usage of /data, rolled up per cluster and path.
    "disk_used_percent": ("Maximum", "GreaterThanThreshold", 85.0),
    # The log group's metric filter on "rmq-bootstrap: FAILED".
    "rmq_bootstrap_failures_orders": ("Sum", "GreaterThanOrEqualToThreshold", 1.0),
}


def test_alarms_and_dashboard_read_the_nodes_metrics(aws, existing_vpc):
    topic = "arn:aws:sns:us-east-1:123456789012:rmq-ops"
    aws.create_stack("rmq", "rmq-cluster.yaml", cluster_values(
        existing_vpc, DiskMaxUsedPercent=80, ConsumerLagAlarmThreshold=500, AlarmTopicARN=topic))
    found = aws.cloudwatch.describe_alarms()["MetricAlarms"]
    alarms = {a["MetricName"]: a for a in found if a["Namespace"] == "rmq"}
    assert {m: (a["Statistic"], a["ComparisonOperator"], a["Threshold"]) for m, a in alarms.items()} == ALARMS
    for m, a in alarms.items():
        dimensions = {"disk_used_percent": [{"Name": "ClusterName", "Value": "orders"}, {"Name": "path", "Value": "/data"}],
                      "rmq_bootstrap_failures_orders": []}.get(m, [{"Name": "ClusterName", "Value": "orders"}])
        assert a["Dimensions"] == dimensions, m
        assert a["AlarmActions"] == [topic], a["AlarmName"]
    assert alarms["rmq_broker_ready"]["TreatMissingData"] == "breaching", "a silent broker alarms"
    # The bootstrap-failure metric comes from the node log group's metric filter.
    filters = aws.logs.describe_metric_filters(logGroupName=aws.outputs("rmq")["LogGroupName"])["metricFilters"]
    assert [(f["filterPattern"], f["metricTransformations"][0]["metricName"],
             f["metricTransformations"][0]["metricNamespace"]) for f in filters] == [
        ('"rmq-bootstrap: FAILED"', "rmq_bootstrap_failures_orders", "rmq")]
    # Each node: its instance's EC2 status checks, on its Auto Scaling group.
    c = Cluster(aws)
    status = {a["Dimensions"][0]["Value"]: a for a in found if a["Namespace"] == "AWS/EC2"}
    assert set(status) == {o["AutoScalingGroupName"] for o in c.node_out.values()}
    for a in status.values():
        assert (a["MetricName"], a["Statistic"], a["ComparisonOperator"], a["Threshold"]) == (
            "StatusCheckFailed", "Maximum", "GreaterThanOrEqualToThreshold", 1.0)
        assert a["Dimensions"][0]["Name"] == "AutoScalingGroupName" and a["AlarmActions"] == [topic]
    name = aws.outputs("rmq")["DashboardName"]
    assert name == "rmq-orders"
    body = json.loads(aws.cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    widgets = body["widgets"]
    charted = {m[1] for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"]}
    assert set(ALARMS) - {"rmq_bootstrap_failures_orders"} <= charted, charted
    assert all(m[0] == "rmq" and m[2:4] == ["ClusterName", "orders"]
               for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"])
    alarm_widget = next(w for w in widgets if w["type"] == "alarm")
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(a["AlarmArn"] for a in alarms.values())


def without_order(outputs):
    return {k: v for k, v in outputs.items() if k != "PreviousNode"}


def test_update_adds_and_removes_groups_and_replicas_keeping_existing_nodes(aws, existing_vpc):
    values = cluster_values(existing_vpc, NumberOfAZs=3)
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    before = Cluster(aws)
    kept = {k: before.node_out[k] for k in expected_brokers(1, 2) + ["NameServer0Stack", "NameServer1Stack"]}

    aws.update_stack("rmq", "rmq-cluster.yaml", dict(values, BrokerGroupCount="4", ReplicasPerGroup="3"))
    grown = check_cluster(aws, existing_vpc, 4, 3, 2, 3)
    for logical, out in kept.items():
        # Only the update order moves: broker-a-0 now comes after the new last slave, broker-d-2.
        assert without_order(grown.node_out[logical]) == without_order(out), f"{logical} changed on scale-out"
    assert grown.node_out["BrokerA0Stack"]["PreviousNode"] == grown.nested["BrokerD2Stack"]
    assert grown.out["NameServerAddresses"] == before.out["NameServerAddresses"]

    removed = {k: grown.node_out[k] for k in set(expected_brokers(4, 3)) - set(expected_brokers(1, 2))}
    aws.update_stack("rmq", "rmq-cluster.yaml", dict(values, BrokerGroupCount="1", ReplicasPerGroup="2"))
    shrunk = check_cluster(aws, existing_vpc, 1, 2, 2, 3)
    for logical, out in kept.items():
        assert without_order(shrunk.node_out[logical]) == without_order(out), f"{logical} changed on scale-in"
    assert shrunk.node_out["BrokerA0Stack"]["PreviousNode"] == shrunk.nested["BrokerA1Stack"]
    gone_groups = {o["AutoScalingGroupName"] for o in removed.values()}
    assert not gone_groups & aws.asg_names()
    enis = [o["NetworkInterfaceId"] for o in removed.values()]
    assert aws.ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": enis}])[
        "NetworkInterfaces"] == []
    # Removed brokers' data volumes are snapshotted, then deleted (DeletionPolicy: Snapshot).
    volumes = {o["DataVolumeId"] for o in removed.values()}
    assert not volumes & {v["VolumeId"] for v in aws.ec2.describe_volumes()["Volumes"]}
    snapshots = aws.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    assert volumes <= {s["VolumeId"] for s in snapshots}
    assert len(aws.stack_names()) == 1 + 2 + 2


def test_update_nameserver_count_rewrites_broker_config_not_addresses(aws, existing_vpc):
    values = cluster_values(existing_vpc, NumberOfAZs=3)
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    before = Cluster(aws)
    aws.update_stack("rmq", "rmq-cluster.yaml", dict(values, NameServerCount="3"))
    after = check_cluster(aws, existing_vpc, 2, 2, 3, 3)
    assert after.out["NameServerAddresses"].startswith(before.out["NameServerAddresses"] + ";")
    for b in expected_brokers(2, 2):
        for key in ("Address", "NetworkInterfaceId", "DataVolumeId"):
            assert after.node_out[b][key] == before.node_out[b][key], f"{b} {key} changed"


def test_delete_removes_everything_it_created(aws, existing_vpc):
    aws.create_stack("rmq", "rmq-cluster.yaml", cluster_values(existing_vpc))
    c = Cluster(aws)
    enis = [o["NetworkInterfaceId"] for o in c.node_out.values()]
    volumes = [o["DataVolumeId"] for o in c.node_out.values() if "DataVolumeId" in o]
    aws.cfn.delete_stack(StackName="rmq")
    assert aws.stack_names() == set()
    assert not set(volumes) & {v["VolumeId"] for v in aws.ec2.describe_volumes()["Volumes"]}
    assert set(volumes) <= {s["VolumeId"] for s in aws.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert aws.asg_names() == set()
    assert aws.ec2.describe_network_interfaces(Filters=[{"Name": "network-interface-id", "Values": enis}])[
        "NetworkInterfaces"] == []
    groups = {g["GroupId"] for g in aws.ec2.describe_security_groups()["SecurityGroups"]}
    assert not {c.out["ClientSecurityGroupID"], c.out["BrokerSecurityGroupID"],
                c.out["NameServerSecurityGroupID"]} & groups
    assert aws.iam.list_roles()["Roles"] == []
    assert aws.cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert aws.cloudwatch.list_dashboards()["DashboardEntries"] == []
    # The VPC the cluster was deployed into is left alone.
    assert aws.ec2.describe_subnets(SubnetIds=existing_vpc["subnets"])["Subnets"]


def test_nameserver_dns_names(aws, existing_vpc):
    route53 = boto3.client("route53", endpoint_url=aws.endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    zone = route53.create_hosted_zone(Name="rmq.internal", CallerReference="t",
                                      VPC={"VPCRegion": "us-east-1", "VPCId": existing_vpc["vpc"]},
                                      HostedZoneConfig={"PrivateZone": True})["HostedZone"]["Id"].split("/")[-1]
    values = cluster_values(existing_vpc, NameServerCount=3, NumberOfAZs=3,
                            PrivateHostedZoneId=zone, PrivateHostedZoneName="rmq.internal")
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    c = Cluster(aws)
    names = [f"namesrv-{i}.orders.rmq.internal" for i in range(3)]
    assert c.out["NameServerDNSAddresses"] == ";".join(f"{n}:9876" for n in names)
    records = {r["Name"].rstrip("."): [x["Value"] for x in r["ResourceRecords"]]
               for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Type"] == "A"}
    assert records == {n: [c.node_out[f"NameServer{i}Stack"]["Address"]] for i, n in enumerate(names)}
    # Without a zone there is no DNS output and no record.
    aws.update_stack("rmq", "rmq-cluster.yaml", dict(values, PrivateHostedZoneId="", PrivateHostedZoneName=""))
    assert "NameServerDNSAddresses" not in aws.outputs("rmq")
    assert not [r for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
                if r["Type"] == "A"]
