"""rmq-node.yaml deployed alone into moto: one node's interface, volume, launch template and ASG."""
import hashlib
import ipaddress
import subprocess

from conftest import AZS
from test_bootstrap import render

# The stand-in broker the sandbox test installs, and the checksum the node stack pins.
STAND_IN = '#!/bin/bash\nprintf "%s\\n" "$0" "$@" > "$RMQ_ROOT/ran"\n'
NODE_VALUES = {
    "ClusterName": "demo", "ClusterStackName": "demo", "NodeName": "broker-a-0", "NodeRole": "broker",
    "BrokerName": "broker-a", "BrokerId": "0", "BrokerRole": "SYNC_MASTER", "FlushDiskType": "SYNC_FLUSH",
    "NameServerAddresses": "10.20.0.9:9876;10.20.32.9:9876", "InstanceType": "m6i.large",
    "InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/rmq-node", "ImageId": "ami-0f8848d57eb4fe2d2",
    "VolumeSize": "250", "ArtefactBucketName": "rmq-artefacts", "ArtefactKeyPrefix": "rmq/0.1.0/",
    "LogGroupName": "demo-logs", "KeyPairName": "ops",
    "FileReservedTime": "48", "DeleteWhen": "02;14", "DiskMaxUsedSpaceRatio": "70",
    "BinarySha256": hashlib.sha256(STAND_IN.encode()).hexdigest(),
}


def deploy(aws, existing_vpc, **overrides):
    subnet = existing_vpc["subnets"][1]
    group = aws.ec2.create_security_group(GroupName="node", Description="node",
                                          VpcId=existing_vpc["vpc"])["GroupId"]
    values = dict(NODE_VALUES, SubnetId=subnet, AvailabilityZone=AZS[1], SecurityGroupId=group, **overrides)
    aws.create_stack("node", "rmq-node.yaml", values)
    return values, aws.outputs("node")


def the_instance(aws, group_name):
    group = aws.group(group_name)
    assert len(group["Instances"]) == 1, group["Instances"]
    instance_id = group["Instances"][0]["InstanceId"]
    return aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def test_broker_node_resources(aws, existing_vpc):
    values, out = deploy(aws, existing_vpc)
    resources = aws.resources("node")
    assert {k: r["ResourceType"] for k, r in resources.items()} == {
        "NodeInterface": "AWS::EC2::NetworkInterface", "DataVolume": "AWS::EC2::Volume",
        "NodeLaunchTemplate": "AWS::EC2::LaunchTemplate", "NodeGroup": "AWS::AutoScaling::AutoScalingGroup",
        "AlarmStatusCheckFailed": "AWS::CloudWatch::Alarm"}

    eni = aws.ec2.describe_network_interfaces(NetworkInterfaceIds=[out["NetworkInterfaceId"]])["NetworkInterfaces"][0]
    subnet = aws.subnet(values["SubnetId"])
    assert eni["SubnetId"] == values["SubnetId"]
    assert out["Address"] == eni["PrivateIpAddress"]
    assert ipaddress.ip_address(out["Address"]) in ipaddress.ip_network(subnet["CidrBlock"])
    assert out["Endpoint"] == f"{out['Address']}:10911"

    volume = aws.ec2.describe_volumes(VolumeIds=[out["DataVolumeId"]])["Volumes"][0]
    assert (volume["Size"], volume["AvailabilityZone"]) == (250, subnet["AvailabilityZone"])

    data = aws.ec2.describe_launch_template_versions(
        LaunchTemplateId=out["LaunchTemplateId"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["SecurityGroupIds"] == [values["SecurityGroupId"]]
    assert data["IamInstanceProfile"] == {"Arn": values["InstanceProfileArn"]}
    assert data["KeyName"] == "ops" and data["InstanceType"] == "m6i.large"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True

    group = aws.group(out["AutoScalingGroupName"])
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (1, 1, 1)
    assert group["VPCZoneIdentifier"] == values["SubnetId"]
    instance = the_instance(aws, out["AutoScalingGroupName"])
    assert instance["SubnetId"] == values["SubnetId"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [values["SecurityGroupId"]]
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["rmq:stack"] == "demo" and tags["rmq:node"] == "broker-a-0" and tags["rmq:role"] == "broker"

    expected = render({
        **{k: values[k] for k in ("ClusterName", "NodeName", "NodeRole", "BrokerName", "BrokerId", "BrokerRole",
                                  "FlushDiskType", "NameServerAddresses", "ArtefactBucketName",
                                  "ArtefactKeyPrefix", "LogGroupName", "FileReservedTime", "DeleteWhen",
                                  "DiskMaxUsedSpaceRatio", "BinarySha256")},
        "NodeIp": out["Address"], "EniId": out["NetworkInterfaceId"],
        "VolumeId": out["DataVolumeId"], "ArtefactRegion": "us-east-1", "AWS::Region": "us-east-1",
        "AWS::StackName": "node"})
    assert aws.user_data(instance["InstanceId"]) == expected


def test_replacement_instance_gets_the_same_interface_and_volume(aws, existing_vpc):
    _, out = deploy(aws, existing_vpc)
    first = the_instance(aws, out["AutoScalingGroupName"])
    aws.ec2.terminate_instances(InstanceIds=[first["InstanceId"]])
    second = the_instance(aws, out["AutoScalingGroupName"])
    assert second["InstanceId"] != first["InstanceId"], "moto's ASG did not replace the instance"
    user_data = aws.user_data(second["InstanceId"])
    assert user_data == aws.user_data(first["InstanceId"])
    assert f"RMQ_ENI_ID='{out['NetworkInterfaceId']}'" in user_data
    assert f"RMQ_VOLUME_ID='{out['DataVolumeId']}'" in user_data
    assert f"RMQ_NODE_IP='{out['Address']}'" in user_data


def test_deployed_user_data_runs_in_the_sandbox(aws, existing_vpc, tmp_path):
    _, out = deploy(aws, existing_vpc)
    script = aws.user_data(the_instance(aws, out["AutoScalingGroupName"])["InstanceId"])
    (tmp_path / "artefacts").mkdir()
    (tmp_path / "artefacts" / "rmq-broker").write_text(STAND_IN)
    (tmp_path / "ud.sh").write_text(script)
    root = tmp_path / "root"
    env = {"PATH": "/usr/bin:/bin", "RMQ_ROOT": str(root), "RMQ_ARTEFACT_DIR": str(tmp_path / "artefacts"),
           "RMQ_NO_SYSTEMD": "1", "RMQ_NO_EC2": "1", "RMQ_ALLOW_SCRIPTS": "1"}
    proc = subprocess.run(["bash", str(tmp_path / "ud.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"RMQ_BINARY_SHA256='{NODE_VALUES['BinarySha256']}'\n" in script
    # The pinned checksum is enforced: another build is refused.
    (tmp_path / "artefacts" / "rmq-broker").write_text(STAND_IN + "# rebuilt\n")
    refused = subprocess.run(["bash", str(tmp_path / "ud.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "the user data expects " + NODE_VALUES["BinarySha256"] in refused.stderr
    conf = (root / "etc/rmq/broker.conf").read_text()
    assert f"brokerIP1={out['Address']}\n" in conf and "brokerRole=SYNC_MASTER\n" in conf
    assert "namesrvAddr=10.20.0.9:9876;10.20.32.9:9876\n" in conf
    assert "fileReservedTime=48\ndeleteWhen=02;14\ndiskMaxUsedSpaceRatio=70\n" in conf


def test_nameserver_node_has_no_data_volume(aws, existing_vpc):
    _, out = deploy(aws, existing_vpc, NodeName="namesrv-1", NodeRole="namesrv", BrokerName="",
                    BrokerRole="ASYNC_MASTER", NameServerAddresses="")
    assert "DataVolume" not in aws.resources("node")
    assert "DataVolumeId" not in out
    assert out["Endpoint"] == f"{out['Address']}:9876"
    user_data = aws.user_data(the_instance(aws, out["AutoScalingGroupName"])["InstanceId"])
    assert "RMQ_ROLE='namesrv'\n" in user_data and "RMQ_VOLUME_ID=''\n" in user_data
