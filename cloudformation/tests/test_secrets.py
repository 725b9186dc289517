"""spec.security on a node, in the user-data sandbox of test_bootstrap.py, with the real AWS CLI
(awscli from the venv) against the moto_server: the header's RMQ_SECURITY_CONF lands in
broker.conf / namesrv.conf, node-bootstrap.sh downloads userdata/node-secrets.sh (the
`rmq-node-secrets` artefact, pinned by RMQ_SECRETS_SHA256) and runs it before the server
starts; the SSM SecureString parameters /rmq/<cluster>/<secret>/<key> land as files with their
exact content, dirs 0750 and files 0640; a rotation replaces a changed file by a rename and leaves
the others alone; a missing parameter or a wrong script fails the boot before the server runs."""
import hashlib
import os
import pathlib
import subprocess
import sys

import boto3
import pytest

from conftest import ROOT, REGION
from test_bootstrap import BROKER, NAMESRV, render, run_script

NODE_SECRETS = ROOT / "userdata" / "node-secrets.sh"
VENV_BIN = pathlib.Path(sys.executable).parent
CLUSTER = BROKER["ClusterName"]
VALUES = {
    "rmq-acl/plain_acl.yml": "accounts:\n  - accessKey: rmqadmin\n    secretKey: s3cret-acl-value\n",
    "rmq-admin/accessKey": "rmqadmin",
    "rmq-admin/secretKey": "s3cret-admin-value",
    "rmq-tls/tls.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    "rmq-tls/tls.key": "-----BEGIN PRIVATE KEY-----\ns3cret-key-value\n-----END PRIVATE KEY-----\n",
    "rmq-tls/ca.crt": "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----",
}
BROKER_FILES = list(VALUES)
NAMESRV_FILES = [f for f in VALUES if not f.startswith("rmq-admin/")]
BROKER_CONF = ("aclEnable=true aclFile=/etc/rmq-secrets/rmq-acl/plain_acl.yml "
               "innerClientCredentialsDir=/etc/rmq-secrets/rmq-admin tls.server.mode=enforcing")
NAMESRV_CONF = "aclEnable=true aclFile=/etc/rmq-secrets/rmq-acl/plain_acl.yml tls.server.mode=enforcing"
SCRIPT_SHA = hashlib.sha256(NODE_SECRETS.read_bytes()).hexdigest()


@pytest.fixture
def ssm(aws):
    """An SSM client of the wiped moto_server."""
    return boto3.client("ssm", endpoint_url=aws.endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def put(ssm, values):
    for item, value in values.items():
        ssm.put_parameter(Name=f"/rmq/{CLUSTER}/{item}", Value=value, Type="SecureString", Overwrite=True)


def aws_env():
    """The AWS CLI of the venv, pointed at the moto_server (run-tests.sh's environment)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    env["PATH"] = f"{VENV_BIN}:{os.environ['PATH']}"
    return env


def user_data(values, conf, files, sha=SCRIPT_SHA):
    """The CloudFormation-rendered user data plus the security header rmq-aws adds."""
    text = render(values)
    extra = f"RMQ_SECURITY_CONF='{conf}'\nRMQ_SECRETS='{' '.join(files)}'\nRMQ_SECRETS_SHA256='{sha}'\n"
    # After the header's last assignment: just before the bootstrap's own shebang.
    at = text.index("#!/bin/bash\n", 1)
    return text[:at] + extra + text[at:]


def boot(tmp_path, values, conf, files, sha=SCRIPT_SHA):
    artefacts = tmp_path / "artefacts"
    artefacts.mkdir(exist_ok=True)
    (artefacts / "rmq-node-secrets").write_bytes(NODE_SECRETS.read_bytes())
    return run_script(tmp_path, user_data(values, conf, files, sha), aws_env())


def mode(path):
    return oct(path.stat().st_mode & 0o777)


def test_broker_boots_with_its_conf_and_every_secret_file(aws, ssm, tmp_path):
    put(ssm, VALUES)
    proc, root = boot(tmp_path, BROKER, BROKER_CONF, BROKER_FILES)
    assert proc.returncode == 0, proc.stderr
    secrets = root / "etc/rmq-secrets"
    for item, value in VALUES.items():
        assert (secrets / item).read_text() == value, item
        assert mode(secrets / item) == "0o640", item
        assert mode((secrets / item).parent) == "0o750", item
    assert mode(secrets) == "0o750"
    assert sorted(p.name for p in (secrets / "rmq-tls").iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    conf = (root / "etc/rmq/broker.conf").read_text().splitlines()
    assert conf[-4:] == BROKER_CONF.split(" ")
    assert "s3cret" not in proc.stderr + proc.stdout, "a secret value was printed"
    service = (root / "etc/systemd/system/rmq-secrets.service").read_text()
    assert (f"ExecStart={root}/opt/rmq/bin/rmq-node-secrets sync 'us-east-1' demo {secrets} "
            + " ".join(BROKER_FILES) + "\n") in service
    timer = (root / "etc/systemd/system/rmq-secrets.timer").read_text()
    assert "OnUnitActiveSec=60\n" in timer and "WantedBy=timers.target" in timer
    assert (root / "ran").exists(), "the broker did not start after the secrets"


def test_nameserver_gets_namesrv_conf_and_never_the_admin_secret(aws, ssm, tmp_path):
    put(ssm, {k: v for k, v in VALUES.items() if k in NAMESRV_FILES})
    proc, root = boot(tmp_path, NAMESRV, NAMESRV_CONF, NAMESRV_FILES)
    assert proc.returncode == 0, proc.stderr
    conf = root / "etc/rmq/namesrv.conf"
    assert conf.read_text().splitlines() == NAMESRV_CONF.split(" ")
    ran = (root / "ran").read_text().split("\n")
    assert ran[1:5] == ["--listen-port", "9876", "-c", str(conf)], ran
    assert not (root / "etc/rmq-secrets/rmq-admin").exists()


def sync(root, *items):
    """`rmq-node-secrets sync` as the timer runs it."""
    return subprocess.run(["bash", str(NODE_SECRETS), "sync", REGION, CLUSTER, str(root / "etc/rmq-secrets"),
                           *items], env=dict(aws_env(), RMQ_ROOT=str(root), RMQ_NO_SYSTEMD="1"),
                          capture_output=True, text=True, timeout=120)


def test_rotation_renames_the_changed_file_and_leaves_the_others_alone(aws, ssm, tmp_path):
    put(ssm, VALUES)
    root = tmp_path / "root"
    proc = sync(root, *BROKER_FILES)
    assert proc.returncode == 0, proc.stderr
    secrets = root / "etc/rmq-secrets"
    before = {item: (secrets / item).stat().st_ino for item in VALUES}
    put(ssm, {"rmq-admin/secretKey": "rotated-admin-value"})
    proc = sync(root, *BROKER_FILES)
    assert proc.returncode == 0, proc.stderr
    assert (secrets / "rmq-admin/secretKey").read_text() == "rotated-admin-value"
    after = {item: (secrets / item).stat().st_ino for item in VALUES}
    assert after["rmq-admin/secretKey"] != before["rmq-admin/secretKey"], "not replaced by a rename"
    assert {k: v for k, v in after.items() if k != "rmq-admin/secretKey"} == \
        {k: v for k, v in before.items() if k != "rmq-admin/secretKey"}, "unchanged files were rewritten"
    assert f"updated {secrets}/rmq-admin/secretKey" in proc.stderr
    assert "rotated" not in proc.stderr
    leftovers = [p.name for p in secrets.rglob(".*")]
    assert leftovers == [], leftovers
    assert mode(secrets / "rmq-admin/secretKey") == "0o640"


def test_a_missing_parameter_fails_the_boot_and_keeps_what_was_fetched(aws, ssm, tmp_path):
    put(ssm, {k: v for k, v in VALUES.items() if k != "rmq-tls/ca.crt"})
    proc, root = boot(tmp_path, BROKER, BROKER_CONF, BROKER_FILES)
    assert proc.returncode == 1
    assert f"cannot read /rmq/{CLUSTER}/rmq-tls/ca.crt" in proc.stderr
    assert "rmq-bootstrap: FAILED: cannot fetch" in proc.stderr
    assert not (root / "ran").exists()
    # A refresh that cannot read a parameter keeps the file it has.
    ssm.delete_parameter(Name=f"/rmq/{CLUSTER}/rmq-admin/accessKey")
    proc = sync(root, "rmq-admin/accessKey")
    assert proc.returncode == 1
    assert (root / "etc/rmq-secrets/rmq-admin/accessKey").read_text() == "rmqadmin"


def test_the_secrets_script_is_pinned_like_the_binaries(aws, ssm, tmp_path):
    put(ssm, VALUES)
    proc, root = boot(tmp_path, BROKER, BROKER_CONF, BROKER_FILES, sha="ab" * 32)
    assert proc.returncode == 1
    assert f"checksum mismatch for rmq-node-secrets: it is {SCRIPT_SHA}, the user data expects {'ab' * 32}" \
        in proc.stderr
    assert not (root / "etc/rmq-secrets").exists() and not (root / "ran").exists()


@pytest.mark.parametrize("item", ["../etc/passwd", "rmq-admin/../x", "rmq-admin/.hidden", "Bad/key", "nokey"])
def test_secret_files_outside_the_layout_are_refused(tmp_path, item):
    proc = subprocess.run(["bash", str(NODE_SECRETS), "sync", REGION, CLUSTER, str(tmp_path), item],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "bad secret file" in proc.stderr, proc.stderr
