//! `rmqctl local up` of a cluster with `spec.security` (ACL + Enforcing TLS) whose secrets are
//! files under a secrets directory: the nodes come up, rmqctl waits for them and creates the
//! declared topic over TLS as the admin; the Java 5 client with an account's keys and
//! `-Dtls.enable=true` produces and consumes, without keys it is refused, without TLS it cannot
//! connect; `rmqctl apply` works with `--access-key/--secret-key` + `--tls-ca` and says
//! NO_PERMISSION without keys; `local down` leaves no process. A missing secret file stops
//! `local up` before anything starts, naming the file and the spec field.
//!
//! Needs rmq-broker/rmq-namesrv next to rmqctl (`cargo build -p rmq-broker -p rmq-namesrv`) and
//! the Java harness (`tests/build-harnesses.sh`); fails with those instructions otherwise.
#![allow(clippy::unwrap_used)]

mod common;

use common::{LocalCluster, Run, assert_contains, rmqctl};
use rmq_e2e::certs::Certs;
use rmq_e2e::{Client, HarnessResult, run_line_env};
use serde_json::Value;
use std::path::Path;

const ADMIN: (&str, &str) = ("rmqadmin", "admin-secret-0001");
const APP: (&str, &str) = ("rmqapplication", "app-secret-0002");
const TOPIC: &str = "secure-orders";
const GROUP: &str = "secure-billing";

/// The accounts: an admin, and an application that may produce and consume `TOPIC` only.
fn plain_acl() -> String {
    format!(
        "globalWhiteRemoteAddresses:\n\
         accounts:\n\
         - accessKey: {}\n  secretKey: {}\n  admin: true\n\
         - accessKey: {}\n  secretKey: {}\n  admin: false\n  defaultTopicPerm: DENY\n  \
           defaultGroupPerm: SUB\n  topicPerms:\n  - {TOPIC}=PUB|SUB\n",
        ADMIN.0, ADMIN.1, APP.0, APP.1
    )
}

/// A one-group cluster `secure` with ACL and Enforcing TLS, its topic and consumer group.
const CLUSTER: &str = "\
apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata:
  name: secure
spec:
  brokers:
    groups: 1
  security:
    acl:
      enabled: true
      accountsSecret: rmq-acl
      adminSecret: rmq-admin
    tls:
      mode: Enforcing
      certificateSecret: rmq-tls
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata:
  name: secure-orders
spec:
  cluster: secure
  queues: 4
---
apiVersion: rmq.dev/v1alpha1
kind: RocketMQConsumerGroup
metadata:
  name: secure-billing
spec:
  cluster: secure
";

/// A second topic, for `rmqctl apply` (with `CLUSTER`, so nothing declared there is pruned).
const MORE: &str = "\
apiVersion: rmq.dev/v1alpha1
kind: RocketMQTopic
metadata:
  name: secure-audit
spec:
  cluster: secure
  queues: 2
";

/// A directory with `cluster.yaml`, `audit.yaml` and `secrets/<name>/<key>` files (the
/// default secrets directory of `cluster.yaml`), the certificates for 127.0.0.1 from `certs`.
fn workspace(certs: &Certs) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("cluster.yaml"), CLUSTER).unwrap();
    std::fs::write(tmp.path().join("audit.yaml"), MORE).unwrap();
    let secrets = tmp.path().join("secrets");
    let files: [(&str, &str, String); 6] = [
        ("rmq-acl", "plain_acl.yml", plain_acl()),
        ("rmq-admin", "accessKey", format!("{}\n", ADMIN.0)),
        ("rmq-admin", "secretKey", format!("{}\n", ADMIN.1)),
        ("rmq-tls", "tls.crt", read(&certs.file("server.crt"))),
        ("rmq-tls", "tls.key", read(&certs.file("server.key"))),
        ("rmq-tls", "ca.crt", read(&certs.file("ca.pem"))),
    ];
    for (secret, key, content) in files {
        std::fs::create_dir_all(secrets.join(secret)).unwrap();
        std::fs::write(secrets.join(secret).join(key), content).unwrap();
    }
    tmp
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn path(tmp: &tempfile::TempDir, rel: &str) -> String {
    tmp.path().join(rel).display().to_string()
}

/// The Java 5 client runs `line` (plus `--namesrv`), with TLS on or off and `auth` flags.
fn java(cluster: &LocalCluster, line: &str, tls: bool, auth: (&str, &str)) -> HarnessResult {
    let creds = if auth.0.is_empty() {
        String::new()
    } else {
        format!(" --access-key {} --secret-key {}", auth.0, auth.1)
    };
    let line = format!("{line} --namesrv {}{creds}", cluster.namesrv());
    let opts = format!("-Xmx256m -Dtls.enable={tls}");
    let r = run_line_env(Client::Java5, &line, &[("RMQ_HARNESS_JAVA_OPTS", &opts)]);
    eprintln!("java [tls={tls}, account={:?}] {line}: {}", auth.0, r.json);
    r
}

/// The pids of every node, from `local status -o json`, asserting each runs and serves.
fn serving_pids(cluster: &LocalCluster) -> Vec<u32> {
    let status = cluster.status();
    assert_eq!(
        status.code,
        0,
        "{}\n{}",
        status.all(),
        cluster.diagnostics()
    );
    let v: Value = status.json();
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert!(n["running"] == true && n["registered"] == true, "{v:#}");
            u32::try_from(n["pid"].as_u64().unwrap()).unwrap()
        })
        .collect()
}

/// True while `pid` runs (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

#[test]
fn acl_and_enforcing_tls_from_a_secrets_directory() {
    let certs = Certs::generate();
    let tmp = workspace(&certs);
    let (cluster, up) = LocalCluster::up(&[&path(&tmp, "cluster.yaml")], 1, 1);
    assert_eq!(up.code, 0, "{}\n{}", up.all(), cluster.diagnostics());
    assert_contains(&up.stderr, &format!("create topic {TOPIC} on broker-a"));
    assert_contains(&up.stderr, "--tls-ca");
    assert!(!up.all().contains(ADMIN.1), "the secret key was printed");
    let pids = serving_pids(&cluster);

    java_clients_need_keys_and_tls(&cluster);
    apply_needs_admin_keys(&cluster, &tmp);

    let down = cluster.down().ok();
    assert_contains(&down.stdout, "stopped");
    let left: Vec<u32> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left after local down: {left:?}");
}

/// With the application's keys and TLS the Java client produces and consumes; without keys the
/// broker refuses the send (NO_PERMISSION); without TLS it reaches nothing.
fn java_clients_need_keys_and_tls(cluster: &LocalCluster) {
    // The first sends also fetch the route and run the TLS handshakes: generous under CI load
    // (a 3 s send timeout ran out there once while every node was busy).
    let produce = format!("produce --topic {TOPIC} --count 20 --prefix s1 --send-timeout-ms 15000");
    java(cluster, &produce, true, APP).assert_ok();
    let consume =
        format!("consume --topic {TOPIC} --group {GROUP} --expect 20 --prefix s1 --from first");
    java(cluster, &consume, true, APP).assert_ok();

    let once = format!(
        "produce --topic {TOPIC} --count 1 --prefix s2 --retries 0 --send-timeout-ms 3000 \
         --timeout-ms 20000"
    );
    let anonymous = java(cluster, &once, true, ("", ""));
    assert!(!anonymous.ok(), "a send without keys must be refused");
    assert_contains(&anonymous.json["errors"].to_string(), "CODE: 16");
    let plaintext = java(cluster, &once, false, APP);
    assert!(
        !plaintext.ok(),
        "a plaintext client must not reach an Enforcing cluster"
    );
}

/// `rmqctl apply` as the admin over TLS creates the topic; without keys it is refused with
/// NO_PERMISSION and told how to sign; without `--tls-ca` it is told to pass it.
fn apply_needs_admin_keys(cluster: &LocalCluster, tmp: &tempfile::TempDir) {
    let ns = cluster.namesrv();
    let ca = path(tmp, "secrets/rmq-tls/ca.crt");
    let (cluster_file, audit) = (path(tmp, "cluster.yaml"), path(tmp, "audit.yaml"));
    let apply = |extra: &[&str]| -> Run {
        let mut args = vec!["apply", "-f", &cluster_file, "-f", &audit, "--namesrv", &ns];
        args.extend(extra);
        let run = rmqctl(&args);
        eprintln!("rmqctl apply {extra:?}: exit {}\n{}", run.code, run.all());
        assert!(!run.all().contains(ADMIN.1), "the secret key was printed");
        run
    };
    let refused = apply(&["--tls-ca", &ca]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert_contains(&refused.stderr, "NO_PERMISSION");
    assert_contains(&refused.stderr, "--access-key");
    let keys = ["--access-key", ADMIN.0, "--secret-key", ADMIN.1];
    let plaintext = apply(&keys);
    assert_ne!(plaintext.code, 0, "{}", plaintext.all());
    assert_contains(&plaintext.stderr, "--tls-ca");
    let done = apply(&[&keys[..], &["--tls-ca", &ca]].concat());
    assert_eq!(done.code, 0, "{}", done.all());
    assert_contains(&done.stdout, "create topic secure-audit");
    assert!(!done.stdout.contains("delete"), "{}", done.stdout);
    let route = rmqctl(&["route", "secure-audit", "--namesrv", &ns, "--tls-ca", &ca]);
    assert_eq!(route.code, 0, "{}", route.all());
    assert_contains(&route.stdout, "broker-a");
}

#[test]
fn required_client_certificates_come_from_the_certificate_secret() {
    let certs = Certs::generate();
    let tmp = workspace(&certs);
    let file = path(&tmp, "cluster.yaml");
    let require = CLUSTER.replace(
        "certificateSecret: rmq-tls\n",
        "certificateSecret: rmq-tls\n      clientAuth: Require\n",
    );
    std::fs::write(&file, require).unwrap();
    // `local up` waits and creates the topic presenting tls.crt of the secret.
    let (cluster, up) = LocalCluster::up(&[&file], 1, 1);
    assert_eq!(up.code, 0, "{}\n{}", up.all(), cluster.diagnostics());
    assert_contains(&up.stderr, &format!("create topic {TOPIC} on broker-a"));
    serving_pids(&cluster);
    let ns = cluster.namesrv();
    let ca = path(&tmp, "secrets/rmq-tls/ca.crt");
    let get = |extra: &[&str]| {
        let mut args = vec!["get", "cluster", "--namesrv", &ns, "--tls-ca", &ca];
        args.extend(extra);
        rmqctl(&args)
    };
    let anonymous = get(&[]);
    eprintln!(
        "get cluster without a client certificate:\n{}",
        anonymous.all()
    );
    assert_ne!(anonymous.code, 0, "{}", anonymous.all());
    assert_contains(&anonymous.stderr, "--tls-client-cert");
    let (crt, key) = (
        path(&tmp, "secrets/rmq-tls/tls.crt"),
        path(&tmp, "secrets/rmq-tls/tls.key"),
    );
    let with_cert = get(&["--tls-client-cert", &crt, "--tls-client-key", &key]);
    assert_eq!(with_cert.code, 0, "{}", with_cert.all());
    assert_contains(&with_cert.stdout, "broker-a");
    cluster.down().ok();
}

/// `dir/<name>` for rmq-namesrv and rmq-broker: scripts that fail at once.
fn failing_binaries(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    for name in ["rmq-namesrv", "rmq-broker"] {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_missing_secret_file_stops_up_before_anything_starts() {
    let certs = Certs::generate();
    let tmp = workspace(&certs);
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::rename(tmp.path().join("secrets"), &elsewhere).unwrap();
    let key = elsewhere.join("rmq-tls/tls.key");
    std::fs::remove_file(&key).unwrap();
    let (bins, state) = (tmp.path().join("bin"), tmp.path().join("state"));
    failing_binaries(&bins);
    let base = common::base_port(1, 1).to_string();
    let up = || -> Run {
        rmqctl(&[
            "local",
            "up",
            "--detach",
            "--timeout",
            "20",
            "-f",
            &path(&tmp, "cluster.yaml"),
            "--secrets-dir",
            &elsewhere.display().to_string(),
            "--bin-dir",
            &bins.display().to_string(),
            "--state-dir",
            &state.display().to_string(),
            "--base-port",
            &base,
        ])
    };
    let missing = up();
    assert_eq!(missing.code, 2, "{}", missing.all());
    assert_contains(&missing.stderr, &key.display().to_string());
    assert_contains(&missing.stderr, "spec.security.tls.certificateSecret");
    assert!(!state.exists(), "nothing may start or be written");

    // With the file back, the nameserver gets namesrv.conf (`-c`) with the secrets' paths.
    std::fs::write(&key, read(&certs.file("server.key"))).unwrap();
    let started = up();
    assert_contains(&started.stderr, "exited during startup");
    let conf = read(&state.join("namesrv-0/namesrv.conf"));
    assert_contains(&conf, "aclEnable=true");
    assert_contains(&conf, "tls.server.mode=enforcing");
    let acl = elsewhere.join("rmq-acl/plain_acl.yml");
    assert_contains(&conf, &format!("aclFile={}", acl.display()));
    let st: Value = serde_json::from_str(&read(&state.join("state.json"))).unwrap();
    let args = st["nodes"][0]["args"].to_string();
    assert_contains(&args, "namesrv.conf");
}
