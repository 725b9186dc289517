//! `spec.security` on AWS against a local moto_server (started by `operator/aws/run-tests.sh`):
//! `secrets put` then `list` (SecureString, names only, an overwrite is a rotation); a plan of a
//! cluster naming secrets refuses while a parameter is missing, naming it and the command, and
//! an apply succeeds once they exist: the node script is uploaded next to the binaries, and the
//! launch templates' user data give each node its conf keys and the files it fetches (no admin
//! secret on nameservers); the account id of the node role's ARNs comes from STS.

#![allow(clippy::unwrap_used)]

use crate::common::{cluster, connect, converge, endpoint, fake_artefacts, params, unique};
use rmq_aws::secrets::{self, NODE_SCRIPT, NODE_SCRIPT_NAME, local, ssm};
use rmq_aws::{Aws, Error, plan_apply};
use std::path::Path;

/// A cluster with an ACL and enforced TLS.
fn secured(name: &str) -> rmq_model::ValidatedCluster {
    cluster(&format!(
        "apiVersion: rmq.dev/v1alpha1
kind: RocketMQCluster
metadata: {{name: {name}}}
spec:
  nameServer: {{replicas: 1}}
  brokers: {{groups: 1, replicasPerGroup: 1, storage: {{size: 30Gi}}}}
  security:
    acl: {{enabled: true, accountsSecret: rmq-acl, adminSecret: rmq-admin}}
    tls: {{mode: Enforcing, certificateSecret: rmq-tls}}
"
    ))
}

/// The secrets of [`secured`] as `rmqctl local up --secrets-dir` takes them (without `ca.crt`
/// unless `complete`).
fn secrets_dir(dir: &Path, complete: bool) {
    let files = [
        (
            "rmq-acl",
            "plain_acl.yml",
            "accounts:\n  - accessKey: rmqadmin\n    admin: true\n",
        ),
        ("rmq-admin", "accessKey", "rmqadmin"),
        ("rmq-admin", "secretKey", "hunter2-secret-value\n"),
        (
            "rmq-tls",
            "tls.crt",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        ),
        (
            "rmq-tls",
            "tls.key",
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
        ),
        (
            "rmq-tls",
            "ca.crt",
            "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n",
        ),
    ];
    for (secret, key, value) in files {
        if key == "ca.crt" && !complete {
            continue;
        }
        std::fs::create_dir_all(dir.join(secret)).unwrap();
        std::fs::write(dir.join(secret).join(key), value).unwrap();
    }
}

/// The decrypted value of a parameter, read directly (not with the code under test).
async fn value(aws: &Aws, name: &str) -> (String, String) {
    let out = aws
        .ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .unwrap();
    let p = out.parameter().unwrap();
    (
        p.value().unwrap().to_owned(),
        p.r#type().unwrap().as_str().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_put_then_list_then_rotate() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("sput");
    let dir = tempfile::tempdir().unwrap();
    secrets_dir(dir.path(), true);
    let files = local::read_dir(dir.path(), &[]).unwrap();
    let written = ssm::put(&aws, &name, &files, None).await.unwrap();
    assert_eq!(written.len(), 6);
    assert!(written.iter().all(|(_, v)| *v == 1), "{written:?}");

    let listed = ssm::list(&aws, &name).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    let prefix = format!("/rmq/{name}");
    assert_eq!(
        names,
        [
            "rmq-acl/plain_acl.yml",
            "rmq-admin/accessKey",
            "rmq-admin/secretKey",
            "rmq-tls/ca.crt",
            "rmq-tls/tls.crt",
            "rmq-tls/tls.key"
        ]
        .map(|k| format!("{prefix}/{k}"))
    );
    assert!(listed.iter().all(|p| p.kind == "SecureString"));
    let json = serde_json::to_string(&listed).unwrap();
    assert!(!json.contains("hunter2"), "list shows a value: {json}");
    let secret = format!("{prefix}/rmq-admin/secretKey");
    assert_eq!(
        value(&aws, &secret).await,
        ("hunter2-secret-value\n".into(), "SecureString".into())
    );

    // Rotation: the same command again with a new value overwrites (version 2).
    std::fs::write(dir.path().join("rmq-admin/secretKey"), "rotated-value").unwrap();
    let files = local::read_dir(dir.path(), &["rmq-admin".into()]).unwrap();
    let written = ssm::put(&aws, &name, &files, None).await.unwrap();
    assert_eq!(written.len(), 2);
    assert_eq!(value(&aws, &secret).await.0, "rotated-value");
    let file = secrets::SecretFile::new("rmq-admin", "secretKey");
    assert_eq!(
        ssm::read(&aws, &name, &file).await.unwrap(),
        "rotated-value"
    );
    // Another cluster's parameters are not listed.
    assert!(ssm::list(&aws, &unique("other")).await.unwrap().is_empty());
}

/// The user data of node `node`'s launch template.
async fn user_data(aws: &Aws, cluster: &str, node: &str) -> String {
    crate::common::launch_user_data(aws, cluster, node).await
}

/// The value of `var` in the user data header `text`.
fn var<'a>(text: &'a str, var: &str) -> &'a str {
    let prefix = format!("{var}='");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix)?.strip_suffix('\''))
        .unwrap_or_else(|| panic!("{var} not in the user data"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_until_every_secret_exists_then_gives_each_node_its_own() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("sec");
    let c = secured(&name);
    let art = fake_artefacts();
    let p = params(&format!("{name}-art"), Some(art.path()));
    let dir = tempfile::tempdir().unwrap();
    secrets_dir(dir.path(), false);
    let files = local::read_dir(dir.path(), &[]).unwrap();
    ssm::put(&aws, &name, &files, None).await.unwrap();

    let err = plan_apply(&aws, &c, &p).await.unwrap_err();
    assert!(matches!(err, Error::Plan(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("/rmq/{name}/rmq-tls/ca.crt")),
        "{text}"
    );
    assert!(
        !text.contains("tls.crt,") && !text.contains("plain_acl"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "rmqctl aws secrets put --cluster {name} --from-dir DIR --region us-east-1"
        )),
        "{text}"
    );

    secrets_dir(dir.path(), true);
    let files = local::read_dir(dir.path(), &["rmq-tls".into()]).unwrap();
    ssm::put(&aws, &name, &files, None).await.unwrap();
    converge(&aws, &c, &p).await;

    let ns = user_data(&aws, &name, "namesrv-0").await;
    assert_eq!(
        var(&ns, "RMQ_SECRETS"),
        "rmq-acl/plain_acl.yml rmq-tls/tls.crt rmq-tls/tls.key rmq-tls/ca.crt"
    );
    assert!(
        !ns.contains("rmq-admin"),
        "a nameserver names the admin secret"
    );
    assert!(var(&ns, "RMQ_SECURITY_CONF").contains("tls.server.mode=enforcing"));
    let broker = user_data(&aws, &name, "broker-a-0").await;
    for secret in [
        "rmq-acl/",
        "rmq-admin/accessKey",
        "rmq-admin/secretKey",
        "rmq-tls/",
    ] {
        assert!(var(&broker, "RMQ_SECRETS").contains(secret), "{secret}");
    }
    let conf = var(&broker, "RMQ_SECURITY_CONF");
    assert!(
        conf.split(' ')
            .any(|kv| kv == "innerClientCredentialsDir=/etc/rmq-secrets/rmq-admin"),
        "{conf}"
    );
    assert!(conf.contains("aclFile=/etc/rmq-secrets/rmq-acl/plain_acl.yml"));
    let sha = secrets::sha256_hex(NODE_SCRIPT.as_bytes());
    assert_eq!(var(&broker, "RMQ_SECRETS_SHA256"), sha);

    // The node script is uploaded next to the binaries, with its checksum file.
    let key = format!("rmq/{name}/0.1.0/{NODE_SCRIPT_NAME}");
    let body = aws
        .s3
        .get_object()
        .bucket(format!("{name}-art"))
        .key(&key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], NODE_SCRIPT.as_bytes());
    // Applying again changes nothing (the script is not uploaded again).
    let (_, plan) = plan_apply(&aws, &c, &p).await.unwrap();
    assert!(plan.actions.is_empty(), "{:?}", plan.actions);
    // The account of the node role's parameter ARNs.
    assert_eq!(aws.account_id().await.unwrap(), "123456789012");
}
