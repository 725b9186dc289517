//! `spec.security` on Kubernetes, as rendered by the pure build stage: the referenced Secrets
//! mounted read-only where broker.conf and namesrv.conf point (whole-Secret volumes, so a
//! rotation reaches the running nodes), the nameservers' namesrv.conf in a ConfigMap and `-c`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{built, cluster, pod_spec};
use k8s_openapi::api::core::v1::{Container, PodSpec};

fn container<'a>(spec: &'a PodSpec, name: &str) -> &'a Container {
    spec.containers.iter().find(|c| c.name == name).unwrap()
}

/// (mount path, Secret name) of every Secret volume of `spec`'s `container`.
fn secret_mounts(spec: &PodSpec, container_name: &str) -> Vec<(String, String)> {
    let c = container(spec, container_name);
    let volumes = spec.volumes.as_ref().unwrap();
    c.volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .filter_map(|m| {
            let v = volumes.iter().find(|v| v.name == m.name)?;
            let secret = v.secret.as_ref()?.secret_name.clone()?;
            assert_eq!(m.read_only, Some(true));
            assert!(m.sub_path.is_none(), "a subPath mount is never updated");
            Some((m.mount_path.clone(), secret))
        })
        .collect()
}

#[test]
fn secrets_are_mounted_where_the_configs_point() {
    let r = built(&cluster("secure.yaml"), None);
    let broker = pod_spec(&r, "secure-broker-a");
    assert_eq!(
        secret_mounts(broker, "broker"),
        [
            ("/etc/rmq-secrets/rmq-acl".to_owned(), "rmq-acl".to_owned()),
            (
                "/etc/rmq-secrets/rmq-admin".to_owned(),
                "rmq-admin".to_owned()
            ),
            ("/etc/rmq-secrets/rmq-tls".to_owned(), "rmq-tls".to_owned()),
        ]
    );
    let conf = r
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("secure-broker-a"))
        .unwrap();
    let broker_conf = &conf.data.as_ref().unwrap()["secure-broker-a-0.conf"];
    for line in [
        "aclFile=/etc/rmq-secrets/rmq-acl/plain_acl.yml",
        "innerClientCredentialsDir=/etc/rmq-secrets/rmq-admin",
        "tls.server.mode=enforcing",
        "tls.enable=true",
        "tls.client.certPath=/etc/rmq-secrets/rmq-tls/tls.crt",
    ] {
        assert!(broker_conf.contains(line), "{line} missing: {broker_conf}");
    }
}

#[test]
fn nameservers_read_their_conf_and_never_get_the_admin_secret() {
    let r = built(&cluster("secure.yaml"), None);
    let spec = pod_spec(&r, "secure-namesrv");
    let ns = container(spec, "namesrv");
    let args = ns.args.as_ref().unwrap().join(" ");
    assert!(args.contains("-c /etc/rmq/namesrv.conf"), "{args}");
    let mounts = secret_mounts(spec, "namesrv");
    assert_eq!(mounts.len(), 2, "{mounts:?}");
    assert!(mounts.iter().all(|(_, s)| s != "rmq-admin"));
    let cm = r
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("secure-namesrv"))
        .unwrap();
    let conf = &cm.data.as_ref().unwrap()["namesrv.conf"];
    assert!(conf.contains("aclEnable=true"), "{conf}");
    assert!(
        conf.contains("tls.server.need.client.auth=require"),
        "{conf}"
    );
    assert!(!conf.contains("rmq-admin"), "{conf}");
}

#[test]
fn without_security_nothing_changes() {
    let r = built(&cluster("minimal.yaml"), None);
    let names: Vec<_> = r
        .config_maps
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with("-namesrv")), "{names:?}");
    let cluster_name = cluster("minimal.yaml").metadata.name.unwrap();
    let spec = pod_spec(&r, &format!("{cluster_name}-namesrv"));
    let args = container(spec, "namesrv").args.as_ref().unwrap().join(" ");
    assert!(!args.contains("-c "), "{args}");
    assert_eq!(spec.volumes.as_ref().unwrap().len(), 1);
}
