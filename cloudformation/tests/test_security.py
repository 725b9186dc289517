"""spec.security through the templates, deployed into moto: the quickstart/cluster parameters
AclAccountsSecret, AclAdminSecret, TlsMode, TlsCertificateSecret and TlsClientAuth reach every node
stack (the admin secret only the brokers'), each node's user data carries the same three lines as
rmq-aws renders (RMQ_SECURITY_CONF, RMQ_SECRETS, RMQ_SECRETS_SHA256), the node role may read and
decrypt only /rmq/<ClusterName>/*, and a node stack's own user data boots in the sandbox with the
real rmq-node-secrets against the moto_server's SSM. Without the parameters nothing changes."""
import ast
import json
import re
import urllib.parse

from conftest import ROOT
from test_bootstrap import render, run_script
from test_cluster import Cluster, cluster_values
from test_node import STAND_IN, deploy, the_instance
from test_quickstart import quickstart_values
from test_secrets import BROKER_FILES, VALUES, aws_env, put, ssm  # noqa: F401 (ssm is a fixture)
from test_template_security import SCRIPT_SHA
from test_templates import security_block

SECURED = {"AclAccountsSecret": "rmq-acl", "AclAdminSecret": "rmq-admin", "TlsMode": "Enforcing",
           "TlsCertificateSecret": "rmq-tls", "TlsClientAuth": "Require"}
ACCOUNT = "123456789012"  # moto's


def policy(aws, role):
    doc = aws.iam.get_role_policy(RoleName=role, PolicyName="rmq-node")["PolicyDocument"]
    if isinstance(doc, str):
        # moto keeps a policy given by CloudFormation as the Python repr of the dict.
        try:
            doc = json.loads(urllib.parse.unquote(doc))
        except ValueError:
            doc = ast.literal_eval(doc)
    # CloudFormation drops a list entry that is AWS::NoValue; moto keeps it as null.
    return [s for s in doc["Statement"] if s]


def security_lines(text):
    return dict(re.findall(r"^(RMQ_SECURITY_CONF|RMQ_SECRETS|RMQ_SECRETS_SHA256)='(.*)'$", text, re.M))


def expected_lines(role, values):
    return security_lines(security_block(dict(values, NodeRole=role)))


def test_cluster_with_security_gives_each_node_its_lines_and_the_role_its_parameters(aws, existing_vpc):
    values = cluster_values(existing_vpc, **SECURED)
    aws.create_stack("rmq", "rmq-cluster.yaml", values)
    c = Cluster(aws)
    for logical in c.nested:
        text = aws.user_data(c.instance(logical)["InstanceId"])
        role = "broker" if logical.startswith("Broker") else "namesrv"
        lines = security_lines(text)
        assert lines == expected_lines(role, SECURED), logical
        assert lines["RMQ_SECRETS_SHA256"] == SCRIPT_SHA
        if role == "namesrv":
            assert "rmq-admin" not in text, f"{logical}: a nameserver names the admin secret"
        else:
            assert "rmq-admin/secretKey" in lines["RMQ_SECRETS"]
            assert "tls.client.keyPath=/etc/rmq-secrets/rmq-tls/tls.key" in lines["RMQ_SECURITY_CONF"]
    parameters = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/rmq/orders/*"
    by_sid = {s["Sid"]: s for s in policy(aws, c.out["NodeRoleName"])}
    assert by_sid["ReadThisClustersSecrets"] == {
        "Sid": "ReadThisClustersSecrets", "Effect": "Allow",
        "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"], "Resource": parameters}
    assert by_sid["DecryptThisClustersSecretsThroughSsm"] == {
        "Sid": "DecryptThisClustersSecretsThroughSsm", "Effect": "Allow", "Action": "kms:Decrypt",
        "Resource": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*",
        "Condition": {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"},
                      "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": parameters}}}


def test_cluster_without_security_is_unchanged(aws, existing_vpc):
    aws.create_stack("rmq", "rmq-cluster.yaml", cluster_values(existing_vpc))
    c = Cluster(aws)
    for logical in ("NameServer0Stack", "BrokerA0Stack"):
        text = aws.user_data(c.instance(logical)["InstanceId"])
        assert security_lines(text) == {} and "RMQ_SIGNAL_RESOURCE='NodeGroup'\n#!/bin/bash\n" in text
    statements = policy(aws, c.out["NodeRoleName"])
    assert len(statements) == 7
    assert not any(a.startswith(("ssm:", "kms:")) for s in statements
                   for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))


def test_quickstart_with_tls_only(aws):
    values = quickstart_values(ClusterName="payments", TlsMode="Permissive", TlsCertificateSecret="pay-tls")
    aws.create_stack("rmq", "rmq-quickstart.yaml", values)
    out = aws.outputs("rmq")
    tls_only = {"TlsMode": "Permissive", "TlsCertificateSecret": "pay-tls"}
    for kind, role in (("NameServerAutoScalingGroupNames", "namesrv"), ("BrokerAutoScalingGroupNames", "broker")):
        for g in out[kind].split(","):
            text = aws.user_data(aws.group(g)["Instances"][0]["InstanceId"])
            assert security_lines(text) == expected_lines(role, tls_only), g
            assert "acl" not in security_lines(text)["RMQ_SECURITY_CONF"]


def test_secured_node_stack_boots_with_its_secrets_in_the_sandbox(aws, existing_vpc, ssm, tmp_path):
    values, out = deploy(aws, existing_vpc, **SECURED)
    text = aws.user_data(the_instance(aws, out["AutoScalingGroupName"])["InstanceId"])
    assert text == render({
        **{k: values[k] for k in ("ClusterName", "NodeName", "NodeRole", "BrokerName", "BrokerId", "BrokerRole",
                                  "FlushDiskType", "NameServerAddresses", "ArtefactBucketName",
                                  "ArtefactKeyPrefix", "LogGroupName", "FileReservedTime", "DeleteWhen",
                                  "DiskMaxUsedSpaceRatio", "BinarySha256", *SECURED)},
        "NodeIp": out["Address"], "EniId": out["NetworkInterfaceId"],
        "VolumeId": out["DataVolumeId"], "ArtefactRegion": "us-east-1", "AWS::Region": "us-east-1",
        "AWS::StackName": "node"})
    put(ssm, VALUES)
    artefacts = tmp_path / "artefacts"
    artefacts.mkdir()
    (artefacts / "rmq-node-secrets").write_bytes((ROOT / "userdata/node-secrets.sh").read_bytes())
    proc, root = run_script(tmp_path, text, aws_env(), content=STAND_IN.encode())
    assert proc.returncode == 0, proc.stderr
    for item in BROKER_FILES:
        assert (root / "etc/rmq-secrets" / item).read_text() == VALUES[item], item
    conf = (root / "etc/rmq/broker.conf").read_text().splitlines()
    expected = security_lines(text)["RMQ_SECURITY_CONF"].split(" ")
    assert conf[-len(expected):] == expected
    assert "innerClientCredentialsDir=/etc/rmq-secrets/rmq-admin" in expected
    assert (root / "ran").exists(), "the broker did not start after its secrets"
