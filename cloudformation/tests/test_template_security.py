"""Static checks of spec.security in the templates: the node role reads and decrypts only its cluster's
secrets, the security header of the user data (and that it matches what rmq-aws renders), quoting,
and the rules that refuse inconsistent security settings."""
import hashlib
import json

import pytest

from cfn_eval import conditions, parameter_values, resolve, rule_failures
from conftest import BOOTSTRAP, TEMPLATES, load_template
from test_templates import (CLUSTER, NODE, QUICKSTART, broker_stacks, node_role_statements,
                            security_block, user_data_parts)

# ---- spec.security ------------------------------------------------------------------------

PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012",
          "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "stk"}
SECURED = {"AclAccountsSecret": "rmq-acl", "AclAdminSecret": "rmq-admin", "TlsMode": "Enforcing",
           "TlsCertificateSecret": "rmq-tls", "TlsClientAuth": "Require"}


def secret_statements(values):
    """The node role's statements for cluster parameter values `values`, resolved."""
    statements = CLUSTER["Resources"]["NodeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    params = dict(parameter_values(CLUSTER, values), **PSEUDO)
    resolved = resolve(statements, conditions(CLUSTER, values), params)
    return [st for st in resolved if any(a.startswith(("ssm:", "kms:")) for a in
                                         ([st["Action"]] if isinstance(st["Action"], str) else st["Action"]))]


def test_node_role_reads_and_decrypts_only_its_clusters_secrets():
    """The same statements as rmq-aws's SecretsScope (operator/aws/src/iam.rs), only with secrets."""
    parameters = "arn:aws:ssm:eu-west-1:123456789012:parameter/rmq/orders/*"
    expected = [
        {"Sid": "ReadThisClustersSecrets", "Effect": "Allow",
         "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"], "Resource": parameters},
        {"Sid": "DecryptThisClustersSecretsThroughSsm", "Effect": "Allow", "Action": "kms:Decrypt",
         "Resource": "arn:aws:kms:eu-west-1:123456789012:key/*",
         "Condition": {"StringEquals": {"kms:ViaService": "ssm.eu-west-1.amazonaws.com"},
                       "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": parameters}}},
    ]
    assert secret_statements(dict(SECURED, ClusterName="orders")) == expected
    for only in ({"AclAccountsSecret": "a", "AclAdminSecret": "b"},
                 {"TlsMode": "Permissive", "TlsCertificateSecret": "c"}):
        assert secret_statements(dict(only, ClusterName="orders")) == expected
    assert secret_statements({"ClusterName": "orders"}) == []
    assert secret_statements({}) == []
    _, optional = node_role_statements()
    for st in optional:
        for action in [st["Action"]] if isinstance(st["Action"], str) else st["Action"]:
            assert "*" not in action and not action.startswith("ssm:Put"), action


def secured_node(role, **values):
    return dict(SECURED, NodeRole=role, **values)


SCRIPT_SHA = hashlib.sha256((BOOTSTRAP.parent / "node-secrets.sh").read_bytes()).hexdigest()
S = "/etc/rmq-secrets"


def test_security_header_of_a_broker_and_a_nameserver():
    broker = security_block(secured_node("broker"))
    assert broker == (
        f"RMQ_SECURITY_CONF='aclEnable=true aclFile={S}/rmq-acl/plain_acl.yml "
        f"innerClientCredentialsDir={S}/rmq-admin tls.server.mode=enforcing "
        f"tls.server.certPath={S}/rmq-tls/tls.crt tls.server.keyPath={S}/rmq-tls/tls.key "
        f"tls.server.trustCertPath={S}/rmq-tls/ca.crt tls.server.need.client.auth=require tls.enable=true "
        f"tls.client.trustCertPath={S}/rmq-tls/ca.crt tls.client.certPath={S}/rmq-tls/tls.crt "
        f"tls.client.keyPath={S}/rmq-tls/tls.key'\n"
        "RMQ_SECRETS='rmq-acl/plain_acl.yml rmq-admin/accessKey rmq-admin/secretKey rmq-tls/tls.crt "
        "rmq-tls/tls.key rmq-tls/ca.crt'\n"
        f"RMQ_SECRETS_SHA256='{SCRIPT_SHA}'\n")
    # A nameserver: the accounts and the certificate, never the admin secret nor client keys.
    namesrv = security_block(secured_node("namesrv", TlsMode="Permissive", TlsClientAuth="Optional"))
    assert namesrv == (
        f"RMQ_SECURITY_CONF='aclEnable=true aclFile={S}/rmq-acl/plain_acl.yml tls.server.mode=permissive "
        f"tls.server.certPath={S}/rmq-tls/tls.crt tls.server.keyPath={S}/rmq-tls/tls.key "
        f"tls.server.trustCertPath={S}/rmq-tls/ca.crt tls.server.need.client.auth=optional'\n"
        "RMQ_SECRETS='rmq-acl/plain_acl.yml rmq-tls/tls.crt rmq-tls/tls.key rmq-tls/ca.crt'\n"
        f"RMQ_SECRETS_SHA256='{SCRIPT_SHA}'\n")
    assert "rmq-admin" not in security_block(secured_node("namesrv"))


@pytest.mark.parametrize("role", ["broker", "namesrv"])
def test_security_header_acl_only_tls_only_and_off(role):
    acl = security_block({"NodeRole": role, "AclAccountsSecret": "acl", "AclAdminSecret": "adm"})
    conf = f"aclEnable=true aclFile={S}/acl/plain_acl.yml"
    files = "acl/plain_acl.yml"
    if role == "broker":
        conf += f" innerClientCredentialsDir={S}/adm"
        files += " adm/accessKey adm/secretKey"
    assert acl == f"RMQ_SECURITY_CONF='{conf}'\nRMQ_SECRETS='{files}'\nRMQ_SECRETS_SHA256='{SCRIPT_SHA}'\n"
    tls = security_block({"NodeRole": role, "TlsMode": "Permissive", "TlsCertificateSecret": "t"})
    conf = (f"tls.server.mode=permissive tls.server.certPath={S}/t/tls.crt tls.server.keyPath={S}/t/tls.key "
            f"tls.server.trustCertPath={S}/t/ca.crt tls.server.need.client.auth=none")
    if role == "broker":
        conf += f" tls.client.trustCertPath={S}/t/ca.crt"  # no tls.enable (Permissive), no client keys
    assert tls == (f"RMQ_SECURITY_CONF='{conf}'\nRMQ_SECRETS='t/tls.crt t/tls.key t/ca.crt'\n"
                   f"RMQ_SECRETS_SHA256='{SCRIPT_SHA}'\n")
    # Off: no line at all, so the user data of a stack without secrets is unchanged.
    assert security_block({"NodeRole": role}) == ""


def test_node_template_pins_the_secrets_script_of_its_release():
    _, security, _ = user_data_parts()
    assert security["Fn::If"][1]["Fn::Sub"][1]["ScriptSha256"] == SCRIPT_SHA, (
        "userdata/node-secrets.sh changed: run python3 cloudformation/tests/sync_userdata.py")


def test_security_values_cannot_break_out_of_their_quotes():
    for template in (NODE, CLUSTER, QUICKSTART):
        for key in ("AclAccountsSecret", "AclAdminSecret", "TlsCertificateSecret"):
            spec = template["Parameters"][key]
            assert spec["AllowedPattern"] == "^([a-z0-9]([a-z0-9.-]*[a-z0-9])?)?$" and spec["MaxLength"] == 32
            assert spec["Default"] == ""
        assert template["Parameters"]["TlsMode"]["Default"] == "Disabled"
        assert template["Parameters"]["TlsClientAuth"]["Default"] == "None"


def test_cluster_passes_security_to_every_node_and_the_admin_secret_to_brokers_only():
    keys = {"AclAccountsSecret", "TlsMode", "TlsCertificateSecret", "TlsClientAuth"}
    for _, _, logical in broker_stacks():
        p = CLUSTER["Resources"][logical]["Properties"]["Parameters"]
        assert {k: p[k] for k in keys | {"AclAdminSecret"}} == {k: {"Ref": k} for k in keys | {"AclAdminSecret"}}
    for i in range(3):
        p = CLUSTER["Resources"][f"NameServer{i}Stack"]["Properties"]["Parameters"]
        assert {k: p[k] for k in keys} == {k: {"Ref": k} for k in keys}
        assert "AclAdminSecret" not in p
    p = QUICKSTART["Resources"]["ClusterStack"]["Properties"]["Parameters"]
    for key in keys | {"AclAdminSecret"}:
        assert p[key] == {"Ref": key}


@pytest.mark.parametrize("values,failure", [
    ({}, None),
    (dict(SECURED, ClusterName="orders"), None),
    ({"ClusterName": "orders", "AclAccountsSecret": "a", "AclAdminSecret": "b"}, None),
    ({"ClusterName": "orders", "TlsMode": "Permissive", "TlsCertificateSecret": "c", "TlsClientAuth": "Optional"},
     None),
    ({"ClusterName": "orders", "AclAdminSecret": "b"}, "AclAdminSecret is set, so AclAccountsSecret must"),
    ({"ClusterName": "orders", "AclAccountsSecret": "a"}, "AclAccountsSecret is set, so AclAdminSecret must"),
    ({"ClusterName": "orders", "TlsMode": "Enforcing"}, "TlsMode is not Disabled, so TlsCertificateSecret must"),
    ({"ClusterName": "orders", "TlsCertificateSecret": "c"}, "TlsCertificateSecret is set but TlsMode is Disabled"),
    ({"TlsClientAuth": "Require"}, "Client certificates need TLS, and TlsMode is Disabled"),
    ({"AclAccountsSecret": "a", "AclAdminSecret": "b"}, "read their secrets from SSM /rmq/<ClusterName>/"),
])
@pytest.mark.parametrize("template", ["rmq-cluster.yaml", "rmq-quickstart.yaml"])
def test_rules_refuse_inconsistent_security(template, values, failure):
    failed = rule_failures(load_template(template), dict({"MasterRole": "ASYNC_MASTER"}, **values))
    if failure is None:
        assert failed == []
    else:
        assert len(failed) == 1 and failure in failed[0], failed


PARITY = json.loads((TEMPLATES.parent / "tests/fixtures/security-parity.json").read_text())


@pytest.mark.parametrize("case", PARITY, ids=[c["name"] for c in PARITY])
@pytest.mark.parametrize("role", ["namesrv", "broker"])
def test_template_renders_the_security_lines_rmq_aws_renders(case, role):
    """fixtures/security-parity.json is what rmq-aws renders for the same spec.security
    (operator/aws/tests/aws/template_parity.rs checks that side): both back-ends configure a node alike."""
    assert security_block(dict(case["parameters"], NodeRole=role)) == case[role]
