"""scripts/release-aws.sh against moto with the real AWS CLI (awscli v1 from the venv): an
upload to a fresh bucket, a refused re-release of the same version, and the printed create-stack
command launching the quickstart, whose nodes boot (in the user-data sandbox) only the uploaded build.

The "binaries" are copies of this machine's /bin/true with the binary's name appended: real ELF
executables of this architecture (so the release's and the bootstrap's ELF checks see the real
thing) that differ per name and per build, without compiling rmq here (--bin-dir skips the build).
"""
import hashlib
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys

import boto3
import pytest

from conftest import AMI, NEWER_AMI, REGION
from test_bootstrap import conf, elf_header, run_script

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "release-aws.sh"
VENV_BIN = pathlib.Path(sys.executable).parent
BUCKET = "rmq-release"
QUICKSTART = ["--param", "AvailabilityZones=us-east-1a,us-east-1b", "--param", "KeyPairName=ops",
              "--param", "RemoteAccessCIDR=198.51.100.7/32"]


def fake_build(directory, tag=""):
    """rmq-broker, rmq-namesrv, rmq-controller, rmqctl as distinct host ELF executables;
    {name: sha256}."""
    directory.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name in ("rmq-broker", "rmq-namesrv", "rmq-controller", "rmqctl"):
        data = pathlib.Path("/bin/true").read_bytes() + f"\n{name}{tag}\n".encode()
        (directory / name).write_bytes(data)
        (directory / name).chmod(0o755)
        sums[name] = hashlib.sha256(data).hexdigest()
    return sums


def release(*args, env=None):
    full_env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}", CFN_LINT=str(VENV_BIN / "cfn-lint"))
    full_env.update(env or {})
    return subprocess.run(["bash", str(SCRIPT), *args], env=full_env, capture_output=True, text=True,
                          timeout=300)


def keys(aws, prefix=""):
    found = aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o["ETag"] for o in found}


def parse_command(stdout, verb="create-stack"):
    """(argv, {flag: value}, parameters) of the create-stack (update-stack) line the script printed;
    a parameter kept at its previous value is None."""
    lines = [line for line in stdout.splitlines() if line.startswith(f"aws cloudformation {verb} ")]
    assert len(lines) == 1 and len(stdout.splitlines()) == 1, stdout
    argv = shlex.split(lines[0])
    flags = {argv[i]: argv[i + 1] for i in range(3, len(argv) - 1, 2)}
    params = {}
    for p in json.loads(flags["--parameters"]):
        assert (p.get("UsePreviousValue") is True) == ("ParameterValue" not in p), p
        params[p["ParameterKey"]] = p.get("ParameterValue")
    return argv, flags, params


def header(aws, group_name):
    instance = aws.group(group_name)["Instances"][0]["InstanceId"]
    text = aws.user_data(instance)
    return text, dict(re.findall(r"^(RMQ_[A-Z0-9_]+)='(.*)'$", text, re.M))


def test_release_uploads_refuses_a_second_time_and_launches_the_quickstart(aws, tmp_path):
    aws.s3.create_bucket(Bucket=BUCKET)
    sums = fake_build(tmp_path / "bin")
    proc = release("--bucket", BUCKET, "--bin-dir", str(tmp_path / "bin"), "--arch", os.uname().machine,
                   "--stack-name", "rmq", *QUICKSTART)
    assert proc.returncode == 0, proc.stderr
    assert "cfn-lint templates/*.yaml" in proc.stderr and "validate-template: 4 templates accepted" in proc.stderr

    # The command names the uploaded version: prefix rmq/<git describe>-<8 hex of the build>/.
    argv, flags, params = parse_command(proc.stdout)
    prefix = params["ArtefactKeyPrefix"]
    assert re.fullmatch(r"rmq/[0-9A-Za-z._-]+-[0-9a-f]{8}/", prefix), prefix
    assert flags["--template-url"] == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{prefix}templates/rmq-quickstart.yaml"
    assert (flags["--region"], flags["--stack-name"], flags["--capabilities"]) == (REGION, "rmq", "CAPABILITY_IAM")
    assert params["ArtefactBucketName"] == BUCKET
    assert (params["BrokerSha256"], params["NameServerSha256"], params["ControllerSha256"]) == (
        sums["rmq-broker"], sums["rmq-namesrv"], sums["rmq-controller"])
    assert params["AvailabilityZones"] == "us-east-1a,us-east-1b"
    # The node AMI: read once from the public SSM parameter of the release's architecture.
    ssm = boto3.client("ssm", endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    arch = {"x86_64": "x86_64", "aarch64": "arm64"}[os.uname().machine]
    latest = ssm.get_parameter(Name=f"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}")
    assert params["NodeAmiId"] == latest["Parameter"]["Value"]
    assert f"node AMI {params['NodeAmiId']} (from /aws/service/" in proc.stderr

    # Exactly the release is uploaded, and the bytes and checksum files agree with the command.
    uploaded = keys(aws)
    expected = {f"{prefix}{name}" for name in (
        "rmq-broker", "rmq-broker.sha256", "rmq-namesrv", "rmq-namesrv.sha256", "rmqctl", "rmqctl.sha256",
        "rmq-controller", "rmq-controller.sha256",
        "templates/rmq-quickstart.yaml", "templates/rmq-vpc.yaml", "templates/rmq-cluster.yaml",
        "templates/rmq-node.yaml", "userdata/node-bootstrap.sh", "SHA256SUMS",
        "rmq-node-secrets", "rmq-node-secrets.sha256")}
    assert set(uploaded) == expected
    script = (ROOT / "cloudformation/userdata/node-secrets.sh").read_bytes()
    assert aws.s3.get_object(Bucket=BUCKET, Key=f"{prefix}rmq-node-secrets")["Body"].read() == script
    published = aws.s3.get_object(Bucket=BUCKET, Key=f"{prefix}rmq-node-secrets.sha256")["Body"].read()
    assert published.decode() == f"{hashlib.sha256(script).hexdigest()}  rmq-node-secrets\n"
    for name, digest in sums.items():
        body = aws.s3.get_object(Bucket=BUCKET, Key=prefix + name)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == digest
        published = aws.s3.get_object(Bucket=BUCKET, Key=f"{prefix}{name}.sha256")["Body"].read().decode()
        assert published == f"{digest}  {name}\n"
    template = aws.s3.get_object(Bucket=BUCKET, Key=f"{prefix}templates/rmq-node.yaml")["Body"].read()
    assert template == (ROOT / "cloudformation/templates/rmq-node.yaml").read_bytes()

    # A second release of that version is refused and rewrites nothing (the version is given
    # explicitly: others may commit meanwhile, which changes `git describe`).
    version = prefix.split("/")[1]
    again = release("--bucket", BUCKET, "--bin-dir", str(tmp_path / "bin"), "--skip-lint", "--version", version,
                    *QUICKSTART)
    assert again.returncode == 1
    assert f"s3://{BUCKET}/{prefix} already holds a release: versions are immutable" in again.stderr
    assert again.stdout == "" and keys(aws) == uploaded

    # The printed command, run as printed, creates the quickstart from the upload.
    run = subprocess.run(["bash", "-c", " ".join(shlex.quote(a) for a in argv)], capture_output=True, text=True,
                         env=dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}"), timeout=300)
    assert run.returncode == 0, run.stderr
    aws.wait("rmq", "CREATE_COMPLETE")
    out = aws.outputs("rmq")
    broker_text, broker = header(aws, out["BrokerAutoScalingGroupNames"].split(",")[0])
    _, namesrv = header(aws, out["NameServerAutoScalingGroupNames"].split(",")[0])
    assert (broker["RMQ_ARTEFACT_BUCKET"], broker["RMQ_ARTEFACT_PREFIX"]) == (BUCKET, prefix)
    assert broker["RMQ_BINARY_SHA256"] == sums["rmq-broker"]
    assert namesrv["RMQ_BINARY_SHA256"] == sums["rmq-namesrv"]

    # A broker boots the uploaded rmq-broker (ELF and checksums checked, no stand-in allowance) ...
    artefacts = tmp_path / "node" / "artefacts"
    artefacts.mkdir(parents=True)
    for name in ("rmq-broker", "rmq-broker.sha256"):
        aws.s3.download_file(BUCKET, prefix + name, str(artefacts / name))
    good = (artefacts / "rmq-broker").read_bytes()
    boot, root = run_script(tmp_path / "node", broker_text, {"RMQ_ALLOW_SCRIPTS": ""}, content=good)
    assert boot.returncode == 0, boot.stderr
    assert conf(root / "etc/rmq/broker.conf")["brokerName"] == "broker-a"
    # ... and refuses another build under the same prefix, even with a matching .sha256.
    other = fake_build(tmp_path / "other", tag="-rebuilt")["rmq-broker"]
    (artefacts / "rmq-broker.sha256").write_text(f"{other}  rmq-broker\n")
    rebuilt = (tmp_path / "other/rmq-broker").read_bytes()
    boot, _ = run_script(tmp_path / "node", broker_text, {"RMQ_ALLOW_SCRIPTS": ""}, content=rebuilt)
    assert boot.returncode == 1
    assert f"checksum mismatch for rmq-broker: it is {other}, the user data expects {sums['rmq-broker']}" in boot.stderr


def test_launch_runs_the_command_and_waits(aws, tmp_path):
    aws.s3.create_bucket(Bucket=BUCKET)
    sums = fake_build(tmp_path / "bin")
    proc = release("--bucket", BUCKET, "--bin-dir", str(tmp_path / "bin"), "--skip-lint", "--version", "1.2.3",
                   "--prefix", "/teams/mq/", "--launch", "orders", "--wait", *QUICKSTART)
    assert proc.returncode == 0, proc.stderr
    assert "stack orders is CREATE_COMPLETE" in proc.stderr
    _, flags, params = parse_command(proc.stdout)
    assert flags["--stack-name"] == "orders"
    assert params["ArtefactKeyPrefix"] == "teams/mq/1.2.3/"
    stack = aws.wait("orders", "CREATE_COMPLETE")
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert given["BrokerSha256"] == sums["rmq-broker"] and given["ArtefactKeyPrefix"] == "teams/mq/1.2.3/"


@pytest.mark.parametrize("case", ["other-arch", "missing-binary", "no-bucket", "cross-build"])
def test_release_refuses_with_the_reason(aws, tmp_path, case):
    host = os.uname().machine
    other = "aarch64" if host != "aarch64" else "x86_64"
    bin_dir = tmp_path / "bin"
    fake_build(bin_dir)
    args = ["--bucket", BUCKET, "--skip-lint", *QUICKSTART]
    if case != "no-bucket":
        aws.s3.create_bucket(Bucket=BUCKET)
    if case == "other-arch":
        (bin_dir / "rmq-namesrv").write_bytes(elf_header({"aarch64": 183, "x86_64": 62}[other]))
        args += ["--bin-dir", str(bin_dir)]
        message = f"{bin_dir}/rmq-namesrv is {other}, not {host} (--arch must match the binaries)"
    elif case == "missing-binary":
        (bin_dir / "rmqctl").unlink()
        args += ["--bin-dir", str(bin_dir)]
        message = f"{bin_dir}/rmqctl does not exist"
    elif case == "no-bucket":
        args += ["--bin-dir", str(bin_dir)]
        message = f"cannot list s3://{BUCKET}/rmq/"
    else:
        if host != "x86_64":
            pytest.skip("the cross-build check is exercised from x86_64 hosts")
        # No aarch64 linker on PATH (only the venv, coreutils and a stand-in cargo/rustup).
        tools = tmp_path / "tools"
        tools.mkdir()
        for name in ("cargo", "rustup"):
            (tools / name).write_text("#!/bin/sh\necho x86_64-unknown-linux-gnu\necho aarch64-unknown-linux-gnu\n")
            (tools / name).chmod(0o755)
        args += ["--arch", "aarch64"]
        message = "cross-building aarch64 needs the linker aarch64-linux-gnu-gcc: apt-get install gcc-aarch64-linux-gnu"
        proc = release(*args, env={"PATH": f"{tools}:{VENV_BIN}:/usr/bin:/bin"})
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
        assert "or pass --bin-dir DIR" in proc.stderr
        assert keys(aws) == {}
        return
    proc = release(*args)
    assert proc.returncode == 1, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert proc.stdout == ""
    if case != "no-bucket":
        assert keys(aws) == {}


def test_release_refuses_a_node_template_pinning_another_secrets_script(aws, tmp_path):
    """templates/rmq-node.yaml pins userdata/node-secrets.sh by its SHA-256: a tree where they
    disagree (the script edited without tests/sync_userdata.py) is not released."""
    import shutil
    tree = tmp_path / "tree"
    (tree / "scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, tree / "scripts" / SCRIPT.name)
    for sub in ("templates", "userdata"):
        shutil.copytree(ROOT / "cloudformation" / sub, tree / "cloudformation" / sub)
    edited = tree / "cloudformation/userdata/node-secrets.sh"
    edited.write_text(edited.read_text() + "# edited\n")
    aws.s3.create_bucket(Bucket=BUCKET)
    fake_build(tmp_path / "bin")
    env = dict(os.environ, PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    proc = subprocess.run(["bash", str(tree / "scripts" / SCRIPT.name), "--bucket", BUCKET, "--bin-dir",
                           str(tmp_path / "bin"), "--skip-lint", "--version", "9.9.9", *QUICKSTART],
                          env=env, capture_output=True, text=True, timeout=300)
    sha = hashlib.sha256(edited.read_bytes()).hexdigest()
    assert proc.returncode == 1, proc.stderr
    assert (f"templates/rmq-node.yaml does not pin userdata/node-secrets.sh ({sha}): "
            "run python3 cloudformation/tests/sync_userdata.py") in proc.stderr
    assert keys(aws) == {}


def launch_template(aws, group_name):
    """(image id, user data) of the launch template version an Auto Scaling group launches."""
    import base64
    spec = aws.group(group_name)["LaunchTemplate"]
    versions = aws.ec2.describe_launch_template_versions(LaunchTemplateId=spec["LaunchTemplateId"])
    by_number = {str(v["VersionNumber"]): v for v in versions["LaunchTemplateVersions"]}
    data = by_number[str(spec["Version"])]["LaunchTemplateData"]
    return data["ImageId"], base64.b64decode(data["UserData"]).decode()


def test_update_rolls_the_new_release_and_keeps_the_ami_until_asked(aws, tmp_path):
    """The release's update path: a newer Amazon Linux AMI in SSM does not reach a running stack
    (NodeAmiId keeps its previous value); a new build reaches every node's user data (each
    launch template gets a new version: a roll, one node at a time); --param NodeAmiId moves the
    AMI, and only then."""
    aws.s3.create_bucket(Bucket=BUCKET)
    ssm = boto3.client("ssm", endpoint_url=aws.endpoint, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    ssm.put_parameter(Name="/rmq-test/node-ami", Value=AMI, Type="String")
    arch = os.uname().machine
    first = fake_build(tmp_path / "v1")
    common = ["--bucket", BUCKET, "--skip-lint", "--arch", arch, "--node-ami-parameter", "/rmq-test/node-ami"]
    proc = release(*common, "--bin-dir", str(tmp_path / "v1"), "--version", "1.0.0", "--launch", "orders", "--wait",
                   *QUICKSTART)
    assert proc.returncode == 0, proc.stderr
    assert parse_command(proc.stdout)[2]["NodeAmiId"] == AMI
    groups = lambda: [g for key in ("NameServerAutoScalingGroupNames", "BrokerAutoScalingGroupNames")  # noqa: E731
                      for g in aws.outputs("orders")[key].split(",")]
    before = {g: launch_template(aws, g) for g in groups()}
    assert {image for image, _ in before.values()} == {AMI}

    # Amazon Linux publishes a new AMI; the team releases a new build and updates the stack.
    ssm.put_parameter(Name="/rmq-test/node-ami", Value=NEWER_AMI, Type="String", Overwrite=True)
    second = fake_build(tmp_path / "v2", tag="-2")
    proc = release(*common, "--bin-dir", str(tmp_path / "v2"), "--version", "2.0.0", "--update", "orders", "--wait")
    assert proc.returncode == 0, proc.stderr
    assert "stack orders is UPDATE_COMPLETE" in proc.stderr
    _, flags, params = parse_command(proc.stdout, "update-stack")
    assert flags["--template-url"].endswith("/rmq/2.0.0/templates/rmq-quickstart.yaml")
    assert (params["ArtefactKeyPrefix"], params["BrokerSha256"], params["NameServerSha256"]) == (
        "rmq/2.0.0/", second["rmq-broker"], second["rmq-namesrv"])
    # Everything else keeps its value, the AMI included: nobody asked for the new one.
    assert params["NodeAmiId"] is None and params["KeyPairName"] is None and params["AvailabilityZones"] is None
    stack = aws.cfn.describe_stacks(StackName="orders")["Stacks"][0]
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert given["NodeAmiId"] == AMI and given["KeyPairName"] == "ops"
    after = {g: launch_template(aws, g) for g in groups()}
    assert len(after) == len(before)
    for (image, data), (old_image, old_data) in zip(after.values(), before.values()):
        assert image == old_image == AMI
        assert data != old_data and "RMQ_ARTEFACT_PREFIX='rmq/2.0.0/'" in data
    assert all(f"RMQ_BINARY_SHA256='{first[n]}'" not in d for n in ("rmq-broker", "rmq-namesrv")
               for _, d in after.values())

    # The operator moves the AMI explicitly: now, and only now, the image changes.
    proc = release(*common, "--bin-dir", str(tmp_path / "v2"), "--version", "2.0.1", "--update", "orders",
                   "--param", f"NodeAmiId={NEWER_AMI}", "--wait")
    assert proc.returncode == 0, proc.stderr
    assert parse_command(proc.stdout, "update-stack")[2]["NodeAmiId"] == NEWER_AMI
    assert {launch_template(aws, g)[0] for g in groups()} == {NEWER_AMI}


def test_update_of_a_stack_from_before_node_ami_id_asks_for_its_ami(aws, tmp_path):
    """A stack made by the earlier templates took its AMI from the SSM parameter
    NodeAmiParameter; moving it to these templates must name the AMI its nodes run (else every
    node would be replaced), so --update refuses until --param NodeAmiId says which."""
    aws.s3.create_bucket(Bucket=BUCKET)
    body = ("Parameters:\n  NodeAmiParameter: {Type: String, Default: /aws/service/x}\n  KeyPairName: {Type: String}\n"
            "Resources:\n  Group: {Type: AWS::EC2::SecurityGroup, Properties: {GroupDescription: old}}\n")
    aws.cfn.create_stack(StackName="legacy", TemplateBody=body,
                         Parameters=[{"ParameterKey": "KeyPairName", "ParameterValue": "ops"}])
    fake_build(tmp_path / "bin")
    proc = release("--bucket", BUCKET, "--skip-lint", "--bin-dir", str(tmp_path / "bin"), "--version", "5.0.0",
                   "--update", "legacy")
    assert proc.returncode == 1 and proc.stdout == ""
    assert ("stack legacy takes its node AMI from SSM (NodeAmiParameter), which these templates pin instead: "
            "pass --param NodeAmiId=<the AMI it runs now>") in proc.stderr, proc.stderr
    assert keys(aws) == {}, "nothing is uploaded before the update can go ahead"
