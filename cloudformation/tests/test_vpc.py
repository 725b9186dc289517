"""rmq-vpc.yaml deployed into moto: subnets, NAT gateways, routes, S3 endpoint and the bastion group.

Not asserted, because moto does not model them (see cloudformation/README.md): route table
associations made by CloudFormation, MapPublicIpOnLaunch, EnableDnsHostnames, ASG zone spreading
and security groups of launch-template network interfaces. Deleting the network resources relies
on patch 5 of tests/moto_shim.py."""
import ipaddress

import pytest

from conftest import AZS

PRIVATE = ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
PUBLIC = ["10.0.128.0/20", "10.0.144.0/20", "10.0.160.0/20"]


def vpc_values(**overrides):
    values = {"AvailabilityZones": ",".join(AZS), "KeyPairName": "ops", "RemoteAccessCIDR": "198.51.100.0/24"}
    values.update({k: str(v) for k, v in overrides.items()})
    return values


def routes(aws, vpc):
    """Route table id -> {destination: target} for the VPC's route tables."""
    tables = aws.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    return {t["RouteTableId"]: {r.get("DestinationCidrBlock"): r.get("NatGatewayId") or r.get("GatewayId")
                                for r in t["Routes"] if r.get("DestinationCidrBlock")} for t in tables}


@pytest.mark.parametrize("azs,nat_per_az,bastions", [(2, True, 1), (3, True, 4), (3, False, 2), (2, False, 3)])
def test_network_and_bastion(aws, azs, nat_per_az, bastions):
    aws.create_stack("net", "rmq-vpc.yaml", vpc_values(NumberOfAZs=azs, NATGatewayPerAZ=str(nat_per_az).lower(),
                                                      NumBastionHosts=bastions))
    out = aws.outputs("net")
    vpc = out["VPCID"]
    assert aws.ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["CidrBlock"] == "10.0.0.0/16"

    # Subnets: one public and one private per zone, with the default CIDRs.
    for i in range(3):
        for kind, cidrs in (("Public", PUBLIC), ("Private", PRIVATE)):
            key = f"{kind}Subnet{i + 1}ID"
            assert (key in out) == (i < azs), key
            if i < azs:
                subnet = aws.subnet(out[key])
                assert (subnet["VpcId"], subnet["CidrBlock"], subnet["AvailabilityZone"]) == (vpc, cidrs[i], AZS[i])
    assert len(aws.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]) == 2 * azs

    # Internet gateway attached; NAT gateways in the public subnets.
    igws = aws.ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])
    assert len(igws["InternetGateways"]) == 1
    igw = igws["InternetGateways"][0]["InternetGatewayId"]
    nats = aws.ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"]
    public = [out[f"PublicSubnet{i + 1}ID"] for i in range(azs)]
    assert sorted(n["SubnetId"] for n in nats) == sorted(public[:azs if nat_per_az else 1])
    assert len(out["NATGatewayIPs"].split(",")) == len(nats)

    # Routes: one public table to the IGW; one private table per zone to its NAT (or the only NAT).
    table_routes = routes(aws, vpc)
    assert sum(1 for r in table_routes.values() if r.get("0.0.0.0/0") == igw) == 1
    private_targets = sorted(r["0.0.0.0/0"] for r in table_routes.values()
                             if r.get("0.0.0.0/0", "").startswith("nat-"))
    nat_by_subnet = {n["SubnetId"]: n["NatGatewayId"] for n in nats}
    expected = [nat_by_subnet[public[i] if nat_per_az else public[0]] for i in range(azs)]
    assert private_targets == sorted(expected)

    endpoint = aws.ec2.describe_vpc_endpoints(VpcEndpointIds=[out["S3EndpointID"]])["VpcEndpoints"][0]
    assert endpoint["ServiceName"] == "com.amazonaws.us-east-1.s3"
    assert len(endpoint["RouteTableIds"]) == azs

    # Bastion: SSH only from RemoteAccessCIDR; IMDSv2; Min = Max = Desired = NumBastionHosts.
    group = aws.security_group(out["BastionSecurityGroupID"])
    assert [(p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]], p["UserIdGroupPairs"])
            for p in group["IpPermissions"]] == [(22, 22, ["198.51.100.0/24"], [])]
    bastion = aws.group(out["BastionAutoScalingGroupName"])
    assert (bastion["MinSize"], bastion["MaxSize"], bastion["DesiredCapacity"]) == (bastions,) * 3
    assert sorted(bastion["VPCZoneIdentifier"].split(",")) == sorted(public)
    assert len(bastion["Instances"]) == bastions
    template = bastion["LaunchTemplate"]
    data = aws.ec2.describe_launch_template_versions(LaunchTemplateId=template["LaunchTemplateId"])[
        "LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["KeyName"] == "ops"
    assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is True
    for instance in bastion["Instances"]:
        described = aws.ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
        assert described["SubnetId"] in public
        assert ipaddress.ip_address(described["PrivateIpAddress"]) in ipaddress.ip_network("10.0.128.0/18")


def test_update_bastion_count_and_zones(aws):
    aws.create_stack("net", "rmq-vpc.yaml", vpc_values())
    before = aws.outputs("net")
    aws.update_stack("net", "rmq-vpc.yaml", vpc_values(NumberOfAZs=3, NumBastionHosts=2))
    after = aws.outputs("net")
    for key in ("VPCID", "PrivateSubnet1ID", "PrivateSubnet2ID", "PublicSubnet1ID", "BastionSecurityGroupID"):
        assert after[key] == before[key], key
    assert aws.subnet(after["PrivateSubnet3ID"])["AvailabilityZone"] == AZS[2]
    assert len(aws.group(after["BastionAutoScalingGroupName"])["Instances"]) == 2


def test_delete(aws):
    aws.create_stack("net", "rmq-vpc.yaml", vpc_values())
    out = aws.outputs("net")
    aws.cfn.delete_stack(StackName="net")
    assert aws.stack_names() == set()
    assert aws.asg_names() == set()
    running = aws.ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
    assert running["Reservations"] == []
    groups = {g["GroupId"] for g in aws.ec2.describe_security_groups()["SecurityGroups"]}
    assert out["BastionSecurityGroupID"] not in groups
    assert out["VPCID"] not in {v["VpcId"] for v in aws.ec2.describe_vpcs()["Vpcs"]}
    assert [n for n in aws.ec2.describe_nat_gateways()["NatGateways"] if n["State"] != "deleted"] == []
    assert aws.ec2.describe_addresses()["Addresses"] == []
    assert aws.ec2.describe_internet_gateways()["InternetGateways"] == []
