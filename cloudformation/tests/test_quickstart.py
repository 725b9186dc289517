"""rmq-quickstart.yaml deployed into moto: the VPC and cluster stacks nested and wired together."""
import ipaddress
import re

import boto3
import pytest

from conftest import AMI, AZS, BUCKET, PREFIX
from test_bootstrap import conf, run_script


def quickstart_values(**overrides):
    values = {"AvailabilityZones": ",".join(AZS), "KeyPairName": "ops", "RemoteAccessCIDR": "198.51.100.7/32",
              "ArtefactBucketName": BUCKET, "ArtefactKeyPrefix": PREFIX, "NodeAmiId": AMI}
    values.update({k: str(v) for k, v in overrides.items()})
    return values


def header(aws, group_name):
    group = aws.group(group_name)
    text = aws.user_data(group["Instances"][0]["InstanceId"])
    return dict(re.findall(r"^(RMQ_[A-Z_]+)='(.*)'$", text, re.M))


@pytest.mark.parametrize("azs,retention", [
    (2, {}),
    (3, {"RetentionHours": 168, "RetentionDeleteWhen": "04;16", "DiskMaxUsedPercent": 80}),
])
def test_quickstart_wires_network_and_cluster(aws, azs, retention, tmp_path):
    aws.create_stack("rmq", "rmq-quickstart.yaml", quickstart_values(NumberOfAZs=azs, **retention))
    out = aws.outputs("rmq")
    nested = aws.nested("rmq")
    assert set(nested) == {"VPCStack", "ClusterStack"}
    vpc_out, cluster_out = aws.outputs(nested["VPCStack"]), aws.outputs(nested["ClusterStack"])

    # Outputs pass through from the nested stacks.
    for key in ("NameServerAddresses", "ClientSecurityGroupID", "NameServerAutoScalingGroupNames",
                "BrokerAutoScalingGroupNames", "BrokerEndpoints", "ClusterName", "LogGroupName"):
        assert out[key] == cluster_out[key], key
    for key in ("VPCID", "BastionSecurityGroupID", "BastionAutoScalingGroupName", "PrivateSubnet1ID"):
        assert out[key] == vpc_out[key], key
    assert ("PrivateSubnet3ID" in out) == (azs == 3)
    assert out["ClusterName"] == "rmq"

    # Nodes are in the new VPC's private subnets, spread over the zones.
    private = [vpc_out[f"PrivateSubnet{i + 1}ID"] for i in range(azs)]
    private_nets = [ipaddress.ip_network(aws.subnet(s)["CidrBlock"]) for s in private]
    groups = out["NameServerAutoScalingGroupNames"].split(",") + out["BrokerAutoScalingGroupNames"].split(",")
    assert len(groups) == 2 + 4
    assert {aws.group(g)["VPCZoneIdentifier"] for g in groups} == set(private)
    for endpoint in out["NameServerAddresses"].split(";") + out["BrokerEndpoints"].split(","):
        ip = ipaddress.ip_address(endpoint.split(":")[0])
        assert any(ip in net for net in private_nets), endpoint

    # SSH to the nodes comes only from the bastion group the VPC stack made.
    ns_group = aws.security_group(cluster_out["NameServerSecurityGroupID"])
    ssh = [p for p in ns_group["IpPermissions"] if p["FromPort"] == 22]
    assert [pair["GroupId"] for pair in ssh[0]["UserIdGroupPairs"]] == [out["BastionSecurityGroupID"]]

    # Every broker boots with the cluster's nameserver list, name and retention.
    hours, when, percent = (str(retention.get(k, d)) for k, d in (
        ("RetentionHours", 72), ("RetentionDeleteWhen", "04"), ("DiskMaxUsedPercent", 75)))
    for g in out["BrokerAutoScalingGroupNames"].split(","):
        h = header(aws, g)
        assert h["RMQ_NAMESRV_ADDR"] == out["NameServerAddresses"]
        assert h["RMQ_CLUSTER_NAME"] == "rmq"
        assert (h["RMQ_FILE_RESERVED_TIME"], h["RMQ_DELETE_WHEN"], h["RMQ_DISK_MAX_USED_SPACE_RATIO"]) == (
            hours, when, percent)

    # ... and the first one's user data writes them into broker.conf.
    first = aws.group(out["BrokerAutoScalingGroupNames"].split(",")[0])["Instances"][0]["InstanceId"]
    proc, root = run_script(tmp_path, aws.user_data(first))
    assert proc.returncode == 0, proc.stderr
    c = conf(root / "etc/rmq/broker.conf")
    assert (c["fileReservedTime"], c["deleteWhen"], c["diskMaxUsedSpaceRatio"]) == (hours, when, percent)


def test_quickstart_update_scales_brokers_and_keeps_the_network(aws):
    values = quickstart_values(NumberOfAZs=3)
    aws.create_stack("rmq", "rmq-quickstart.yaml", values)
    before = aws.outputs("rmq")
    aws.update_stack("rmq", "rmq-quickstart.yaml", dict(values, BrokerGroupCount="3", ReplicasPerGroup="3"))
    after = aws.outputs("rmq")
    assert after["VPCID"] == before["VPCID"]
    assert after["NameServerAddresses"] == before["NameServerAddresses"]
    brokers_before = before["BrokerAutoScalingGroupNames"].split(",")
    brokers_after = after["BrokerAutoScalingGroupNames"].split(",")
    assert len(brokers_after) == 9
    # broker-a-0, broker-a-1, broker-b-0, broker-b-1 keep their groups.
    assert [brokers_after[i] for i in (0, 1, 3, 4)] == brokers_before
    assert set(brokers_after) <= aws.asg_names()


def test_quickstart_delete(aws):
    aws.create_stack("rmq", "rmq-quickstart.yaml", quickstart_values())
    vpc = aws.outputs("rmq")["VPCID"]
    aws.cfn.delete_stack(StackName="rmq")
    assert aws.stack_names() == set()
    assert aws.asg_names() == set()
    assert vpc not in {v["VpcId"] for v in aws.ec2.describe_vpcs()["Vpcs"]}


def test_quickstart_private_names(aws):
    aws.create_stack("rmq", "rmq-quickstart.yaml", quickstart_values(PrivateHostedZoneName="mq.corp.internal"))
    out = aws.outputs("rmq")
    assert out["NameServerDNSAddresses"] == "namesrv-0.rmq.mq.corp.internal:9876;namesrv-1.rmq.mq.corp.internal:9876"
    vpc_out = aws.outputs(aws.nested("rmq")["VPCStack"])
    route53 = boto3.client("route53", endpoint_url=aws.endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    records = route53.list_resource_record_sets(HostedZoneId=vpc_out["PrivateHostedZoneId"])["ResourceRecordSets"]
    addresses = sorted(x["Value"] for r in records if r["Type"] == "A" for x in r["ResourceRecords"])
    assert addresses == sorted(a.split(":")[0] for a in out["NameServerAddresses"].split(";"))
