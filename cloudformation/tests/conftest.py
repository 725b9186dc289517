"""Shared fixtures: template loading (static tests) and a reset moto_server (deploy tests).

Deploy tests need the moto_server that cloudformation/run-tests.sh starts; they refuse any
endpoint that is not on 127.0.0.1, so they can never reach real AWS.
"""
import base64
import os
import pathlib
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from cfnlint.decode import cfn_yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
BOOTSTRAP = ROOT / "userdata" / "node-bootstrap.sh"
REGION = "us-east-1"
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
BUCKET = "rmq-artefacts"
PREFIX = "rmq/0.1.0/"
# moto's /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64, and another image
# moto knows (standing in for the next Amazon Linux release).
AMI = "ami-0d27e0fb3bac4d724"
NEWER_AMI = "ami-03cf127a"
TEMPLATE_NAMES = ["rmq-quickstart.yaml", "rmq-vpc.yaml", "rmq-cluster.yaml", "rmq-node.yaml"]


def load_template(name: str) -> dict[str, Any]:
    """The template as CloudFormation reads it (short-form tags expanded to Fn:: / Ref)."""
    return cfn_yaml.load(str(TEMPLATES / name))


def template_url(name: str) -> str:
    return f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{PREFIX}templates/{name}"


def params(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()]


@dataclass
class Aws:
    endpoint: str
    cfn: Any
    ec2: Any
    asg: Any
    iam: Any
    s3: Any
    logs: Any
    cloudwatch: Any

    def reset(self) -> None:
        req = urllib.request.Request(self.endpoint + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200, f"moto reset answered {resp.status}"

    def upload_templates(self) -> None:
        self.s3.create_bucket(Bucket=BUCKET)
        for name in TEMPLATE_NAMES:
            self.s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}templates/{name}",
                               Body=(TEMPLATES / name).read_bytes())

    # --- stacks -------------------------------------------------------------------------
    def create_stack(self, name: str, template: str, values: dict[str, str]) -> dict[str, Any]:
        self.cfn.create_stack(StackName=name, TemplateURL=template_url(template),
                              Parameters=params(values), Capabilities=["CAPABILITY_IAM"])
        return self.wait(name, "CREATE_COMPLETE")

    def update_stack(self, name: str, template: str, values: dict[str, str]) -> dict[str, Any]:
        self.cfn.update_stack(StackName=name, TemplateURL=template_url(template),
                              Parameters=params(values), Capabilities=["CAPABILITY_IAM"])
        return self.wait(name, "UPDATE_COMPLETE")

    def wait(self, name: str, status: str) -> dict[str, Any]:
        # moto finishes stack operations synchronously; poll briefly anyway, bounded.
        stack = {}
        for _ in range(20):
            stack = self.cfn.describe_stacks(StackName=name)["Stacks"][0]
            if stack["StackStatus"] == status:
                return stack
        raise AssertionError(f"stack {name} is {stack.get('StackStatus')}, expected {status}: "
                             f"{stack.get('StackStatusReason', '')} (see the moto log printed below)")

    def outputs(self, name: str) -> dict[str, str]:
        stack = self.cfn.describe_stacks(StackName=name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}

    def resources(self, name: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource; moto also lists phantom entries for false conditions: skipped."""
        found = self.cfn.describe_stack_resources(StackName=name)["StackResources"]
        return {r["LogicalResourceId"]: r for r in found if r.get("LogicalResourceId")}

    def nested(self, name: str) -> dict[str, str]:
        """Logical id -> physical name of the nested stacks of a stack."""
        return {k: r["PhysicalResourceId"] for k, r in self.resources(name).items()
                if r.get("ResourceType") == "AWS::CloudFormation::Stack"}

    def stack_names(self) -> set[str]:
        return {s["StackName"] for s in self.cfn.describe_stacks()["Stacks"]}

    # --- EC2 / Auto Scaling ---------------------------------------------------------------
    def asg_names(self) -> set[str]:
        groups = self.asg.describe_auto_scaling_groups()["AutoScalingGroups"]
        return {g["AutoScalingGroupName"] for g in groups}

    def group(self, name: str) -> dict[str, Any]:
        groups = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
        assert groups["AutoScalingGroups"], f"no Auto Scaling group {name}"
        return groups["AutoScalingGroups"][0]

    def user_data(self, instance_id: str) -> str:
        data = self.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
        return base64.b64decode(data["UserData"]["Value"]).decode()

    def subnet(self, subnet_id: str) -> dict[str, Any]:
        return self.ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]

    def security_group(self, group_id: str) -> dict[str, Any]:
        return self.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]


@pytest.fixture(scope="session")
def aws_session() -> Aws:
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    if not endpoint:
        pytest.fail("AWS_ENDPOINT_URL is not set: run these tests through cloudformation/run-tests.sh, "
                    "which starts a local moto_server", pytrace=False)
    if not endpoint.startswith("http://127.0.0.1:"):
        pytest.fail(f"refusing AWS_ENDPOINT_URL={endpoint}: tests only talk to a moto_server on "
                    "127.0.0.1", pytrace=False)
    config = Config(region_name=REGION, retries={"max_attempts": 1, "mode": "standard"},
                    connect_timeout=10, read_timeout=120)

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, config=config,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    return Aws(endpoint, client("cloudformation"), client("ec2"), client("autoscaling"),
               client("iam"), client("s3"), client("logs"), client("cloudwatch"))


@pytest.fixture
def aws(aws_session: Aws) -> Aws:
    """A wiped moto_server with the templates uploaded to s3://BUCKET/PREFIXtemplates/."""
    aws_session.reset()
    aws_session.upload_templates()
    return aws_session


@pytest.fixture
def existing_vpc(aws: Aws) -> dict[str, Any]:
    """An 'existing' VPC made with the EC2 API: three private subnets and a bastion group."""
    vpc = aws.ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [aws.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{32 * i}.0/19",
                                     AvailabilityZone=AZS[i])["Subnet"]["SubnetId"]
               for i in range(3)]
    bastion = aws.ec2.create_security_group(GroupName="bastion", Description="bastion",
                                            VpcId=vpc)["GroupId"]
    return {"vpc": vpc, "cidr": "10.20.0.0/16", "subnets": subnets, "bastion_sg": bastion}
