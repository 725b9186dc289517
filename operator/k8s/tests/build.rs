//! Builder tests from YAML fixtures: a CR is parsed, validated by rmq-model and built by the
//! operator's pure `build` stage; the tests assert on the Kubernetes objects. No client.

#![allow(clippy::unwrap_used)] // test helpers: a broken fixture should fail loudly

mod common;

use common::{built, cluster, names, sts};

use rmq_model::RocketMQCluster;
use rmq_operator::cluster::build::{self, KubernetesResources, Prepared, configmap};
use rmq_operator::cluster::status::{self, SetState};
use rmq_operator::labels;

#[test]
fn minimal_cluster_objects() {
    let c = cluster("minimal.yaml");
    let r = built(&c, None);
    assert_eq!(names(&r.stateful_sets), ["mini-namesrv", "mini-broker-a"]);
    assert_eq!(
        names(&r.services),
        ["mini-namesrv", "mini-broker-a", "mini-broker-a-0"]
    );
    assert_eq!(names(&r.config_maps), ["mini-broker-a"]);
    assert_eq!(names(&r.pdbs), ["mini-namesrv", "mini-broker-a"]);
    let conf = &r.config_maps[0].data.as_ref().unwrap()["mini-broker-a-0.conf"];
    assert!(conf.contains("\nbrokerClusterName=mini\n"), "{conf}");
    assert!(
        conf.contains("\nnamesrvAddr=mini-namesrv-0.mini-namesrv.apps.svc:9876\n"),
        "{conf}"
    );
    assert!(
        conf.contains("\nbrokerIP1=mini-broker-a-0.apps.svc\n"),
        "{conf}"
    );
    assert!(
        conf.contains("\nstorePathRootDir=/var/lib/rmq/store\n"),
        "{conf}"
    );
    assert!(conf.contains("\nbrokerRole=ASYNC_MASTER\n"), "{conf}");
    // image defaults to the operator's default image
    let pod = common::pod_spec(&r, "mini-broker-a");
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("ghcr.io/rmq-dev/rmq:0.1.0")
    );
    assert_eq!(
        pod.containers[0].args.as_ref().unwrap(),
        &[
            "--config",
            "/etc/rmq/$(POD_NAME).conf",
            "--set",
            "httpListenPort=10918",
            "--set",
            "shutdownUnreadyWaitMillis=15000"
        ]
    );
    let ready = pod.containers[0].readiness_probe.as_ref().unwrap();
    assert_eq!(
        ready.period_seconds,
        Some(2),
        "a stopping broker leaves its Service fast"
    );
    assert_eq!(ready.failure_threshold, Some(2));
    assert!(pod.containers[0].lifecycle.is_none(), "no preStop sleep");
    assert!(pod.termination_grace_period_seconds.unwrap() > 15 + 5);
}

#[test]
fn every_object_is_owned_and_labelled() {
    let c = cluster("two-by-two.yaml");
    let r = built(&c, None);
    let metas = r
        .stateful_sets
        .iter()
        .map(|o| &o.metadata)
        .chain(r.services.iter().map(|o| &o.metadata))
        .chain(r.config_maps.iter().map(|o| &o.metadata))
        .chain(r.pdbs.iter().map(|o| &o.metadata));
    let mut n = 0;
    for m in metas {
        n += 1;
        let owner = &m.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.uid, "0a1b2c3d-0000-0000-0000-000000000002");
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.kind, "RocketMQCluster");
        let l = m.labels.as_ref().unwrap();
        assert_eq!(l[labels::CLUSTER], "demo");
        assert_eq!(l[labels::MANAGED_BY], labels::MANAGER);
        assert_eq!(m.namespace.as_deref(), Some("mq"));
    }
    // 3 StatefulSets, 1 + 2 + 4 Services, 2 ConfigMaps, 3 PDBs
    assert_eq!(n, 3 + 7 + 2 + 3);
}

#[test]
fn groups_are_statefulsets_with_master_and_slaves() {
    let c = cluster("two-by-two.yaml");
    let r = built(&c, None);
    let b = sts(&r, "demo-broker-b").spec.as_ref().unwrap();
    assert_eq!(b.replicas, Some(2));
    assert_eq!(b.service_name.as_deref(), Some("demo-broker-b"));
    assert_eq!(b.pod_management_policy.as_deref(), Some("Parallel"));
    let claim = &b.volume_claim_templates.as_ref().unwrap()[0];
    let cs = claim.spec.as_ref().unwrap();
    assert_eq!(cs.storage_class_name.as_deref(), Some("fast-ssd"));
    assert_eq!(
        cs.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "50Gi"
    );
    let retention = b.persistent_volume_claim_retention_policy.as_ref().unwrap();
    assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));
    let pod = b.template.spec.as_ref().unwrap();
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("ghcr.io/rmq-dev/rmq:0.2.0")
    );
    let cm = r
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("demo-broker-b"))
        .unwrap();
    let data = cm.data.as_ref().unwrap();
    let master = &data["demo-broker-b-0.conf"];
    let slave = &data["demo-broker-b-1.conf"];
    assert!(master.contains("\nbrokerId=0\n") && master.contains("\nbrokerRole=SYNC_MASTER\n"));
    assert!(slave.contains("\nbrokerId=1\n") && slave.contains("\nbrokerRole=SLAVE\n"));
    assert!(
        slave.contains("\nbrokerName=broker-b\n") && slave.contains("\nflushDiskType=SYNC_FLUSH\n")
    );
    assert!(slave.contains("\nbrokerIP1=demo-broker-b-1.mq.svc\n"));
    assert!(
        slave.contains("\ndeleteWhen=04\n") && slave.contains("\nautoCreateTopicEnable=false\n")
    );
    let ns = "demo-namesrv-0.demo-namesrv.mq.svc:9876;demo-namesrv-1.demo-namesrv.mq.svc:9876;demo-namesrv-2.demo-namesrv.mq.svc:9876";
    assert!(slave.contains(&format!("\nnamesrvAddr={ns}\n")), "{slave}");
    // a per-broker Service selects exactly its pod
    let svc = r
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("demo-broker-b-1"))
        .unwrap();
    let sel = svc.spec.as_ref().unwrap().selector.as_ref().unwrap();
    assert_eq!(sel[labels::STS_POD_NAME], "demo-broker-b-1");
    assert_eq!(
        svc.spec.as_ref().unwrap().publish_not_ready_addresses,
        Some(false),
        "a terminating broker leaves its Service at once (clients fail over instead of hanging)"
    );
}

#[test]
fn no_pod_ip_or_ip_address_is_rendered() {
    let c = cluster("two-by-two.yaml");
    let r = built(&c, None);
    for cm in &r.config_maps {
        for conf in cm.data.as_ref().unwrap().values() {
            for line in conf.lines() {
                if let Some((k, v)) = line.split_once('=')
                    && (k == "namesrvAddr" || k.starts_with("brokerIP"))
                {
                    assert!(!v.starts_with(|ch: char| ch.is_ascii_digit()), "{line}");
                }
            }
        }
    }
}

fn pod_conf(r: &KubernetesResources<Prepared>, pod: &str) -> String {
    r.config_maps[0].data.as_ref().unwrap()[&format!("{pod}.conf")].clone()
}

/// The `rmqConfigHash` line of a pod's conf (checked to hash the rest of it).
fn hash_of(r: &KubernetesResources<Prepared>, pod: &str) -> String {
    let text = pod_conf(r, pod);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("rmqConfigHash="))
        .expect("rmqConfigHash line")
        .to_owned();
    assert_eq!(
        line,
        configmap::restart_hash(&text),
        "the line hashes the rest"
    );
    line
}

/// Broker StatefulSets leave restarts to the roller: OnDelete, and no hash in the template
/// (a hash there would restart every pod of the group for a change of one).
#[test]
fn broker_sets_are_on_delete_without_a_template_hash() {
    let r = built(&cluster("two-by-two.yaml"), None);
    let set = sts(&r, "demo-broker-a").spec.clone().unwrap();
    assert_eq!(
        set.update_strategy.unwrap().type_.as_deref(),
        Some("OnDelete")
    );
    let annotations = set
        .template
        .metadata
        .unwrap()
        .annotations
        .unwrap_or_default();
    assert!(
        !annotations.keys().any(|k| k.contains("hash")),
        "{annotations:?}"
    );
}

/// Each pod's conf carries the hash of its own restart-only settings: a broker.conf key
/// changes every hash, a runtime key (retention) none, a new slave none of the others'.
#[test]
fn each_pod_conf_carries_the_hash_of_its_restart_only_settings() {
    let mut c = cluster("two-by-two.yaml");
    let r = built(&c, None);
    let (m, s) = (
        hash_of(&r, "demo-broker-a-0"),
        hash_of(&r, "demo-broker-a-1"),
    );
    assert_ne!(m, s, "master and slave confs differ (brokerId, role)");
    assert_eq!(m, hash_of(&built(&c, None), "demo-broker-a-0"), "stable");
    c.spec.brokers.config.remove("deleteWhen"); // the fixture repeats retention's value
    assert_eq!(
        m,
        hash_of(&built(&c, None), "demo-broker-a-0"),
        "same settings"
    );
    c.spec.brokers.replicas_per_group = 3;
    let more = built(&c, None);
    assert_eq!(
        m,
        hash_of(&more, "demo-broker-a-0"),
        "a new slave changes nothing for the master"
    );
    assert_eq!(
        s,
        hash_of(&more, "demo-broker-a-1"),
        "... nor for the other slaves"
    );
    c.spec.brokers.replicas_per_group = 2;
    c.spec.brokers.retention.delete_when = "03".into();
    let r2 = built(&c, None);
    assert_eq!(
        m,
        hash_of(&r2, "demo-broker-a-0"),
        "retention is changed at runtime"
    );
    let runtime = configmap::runtime_settings(&pod_conf(&r2, "demo-broker-a-0"));
    assert_eq!(runtime["deleteWhen"], "03");
    c.spec
        .brokers
        .config
        .insert("maxMessageSize".into(), "1048576".into());
    let r3 = built(&c, None);
    assert_ne!(
        m,
        hash_of(&r3, "demo-broker-a-0"),
        "a restart-only key restarts"
    );
    assert_ne!(s, hash_of(&r3, "demo-broker-a-1"));
    c.spec.name_server.replicas = 4;
    assert_ne!(
        hash_of(&r3, "demo-broker-a-0"),
        hash_of(&built(&c, None), "demo-broker-a-0"),
        "a new nameserver reaches the brokers' namesrvAddr"
    );
}

/// Every broker's broker.conf in the ConfigMaps carries the retention keys, defaults or the
/// spec's values.
#[test]
fn retention_reaches_every_broker_conf() {
    let key = |conf: &str, k: &str| {
        conf.lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(key, _)| *key == k)
            .map(|(_, v)| v.to_owned())
            .collect::<Vec<_>>()
    };
    let mut c = cluster("two-by-two.yaml");
    let confs = |c: &RocketMQCluster| -> Vec<String> {
        built(c, None)
            .config_maps
            .iter()
            .flat_map(|cm| cm.data.clone().unwrap().into_values())
            .collect()
    };
    let defaults = confs(&c);
    assert_eq!(defaults.len(), 4);
    for conf in &defaults {
        assert_eq!(key(conf, "fileReservedTime"), ["72"], "{conf}");
        assert_eq!(key(conf, "deleteWhen"), ["04"], "{conf}");
        assert_eq!(key(conf, "diskMaxUsedSpaceRatio"), ["75"], "{conf}");
    }
    c.spec.brokers.retention.hours = 24;
    c.spec.brokers.retention.delete_when = "02;14".into();
    c.spec.brokers.retention.max_disk_used_percent = 80;
    c.spec.brokers.config.remove("deleteWhen");
    for conf in &confs(&c) {
        assert_eq!(key(conf, "fileReservedTime"), ["24"], "{conf}");
        assert_eq!(key(conf, "deleteWhen"), ["02;14"], "{conf}");
        assert_eq!(key(conf, "diskMaxUsedSpaceRatio"), ["80"], "{conf}");
    }
}

#[test]
fn cluster_domain_and_images() {
    let c = cluster("minimal.yaml");
    let r = built(&c, Some("cluster.local"));
    let conf = &r.config_maps[0].data.as_ref().unwrap()["mini-broker-a-0.conf"];
    assert!(
        conf.contains("\nbrokerIP1=mini-broker-a-0.apps.svc.cluster.local\n"),
        "{conf}"
    );
    assert_eq!(
        build::image(Some("my/rmq:x"), Some("9"), "d/rmq:1"),
        "my/rmq:x"
    );
    assert_eq!(
        build::image(None, Some("9"), "reg:5000/rmq:1"),
        "reg:5000/rmq:9"
    );
    assert_eq!(build::image(None, None, "rmq:dev"), "rmq:dev");
}

fn set(
    name: &str,
    group: Option<&str>,
    replicas: i32,
    ready: i32,
    updated: i32,
    rolling: bool,
) -> SetState {
    SetState {
        name: name.into(),
        group: group.map(Into::into),
        replicas,
        ready,
        updated,
        rolling,
    }
}

#[test]
fn status_conditions() {
    let ready = [
        set("d-namesrv", None, 2, 2, 2, false),
        set("d-broker-a", Some("broker-a"), 2, 2, 2, false),
    ];
    let (c, groups, brokers, ready_brokers) = status::compute(&ready, &|_| true, false);
    let get =
        |c: &[rmq_model::Condition], t: &str| c.iter().find(|x| x.type_ == t).unwrap().clone();
    assert_eq!(get(&c, "Ready").reason, "AllReplicasReady");
    assert_eq!(
        get(&c, "Ready").message,
        "2/2 nameservers and 2/2 brokers ready"
    );
    assert_eq!((brokers, ready_brokers), (2, 2));
    assert!(groups[0].master_ready);

    let rolling = [
        set("d-namesrv", None, 2, 2, 2, false),
        set("d-broker-a", Some("broker-a"), 2, 1, 1, true),
    ];
    let (c, ..) = status::compute(&rolling, &|_| true, false);
    assert_eq!(get(&c, "Progressing").reason, "RollingUpdate");
    assert_eq!(get(&c, "Ready").status, rmq_model::ConditionStatus::False);
    assert_eq!(
        get(&c, "Degraded").status,
        rmq_model::ConditionStatus::False
    );

    let down = [
        set("d-namesrv", None, 2, 2, 2, false),
        set("d-broker-a", Some("broker-a"), 2, 1, 2, false),
    ];
    let (c, ..) = status::compute(&down, &|_| false, false);
    assert_eq!(get(&c, "Degraded").reason, "MasterDown");
    assert!(get(&c, "Degraded").message.contains("broker-a"));

    let creating = [set("d-namesrv", None, 1, 0, 1, false)];
    let (c, ..) = status::compute(&creating, &|_| false, true);
    assert_eq!(get(&c, "Ready").reason, "Creating");
}

#[test]
fn crds_carry_admission_rules() {
    let yaml = rmq_model::crd::crds_yaml().unwrap();
    assert!(
        !yaml.contains("oldSelf.groups"),
        "lowering groups is allowed: scale-in drains"
    );
    assert!(yaml.contains("drainTimeoutMinutes"));
    assert!(yaml.contains("spec.cluster is immutable"));
}

/// Every pod passes the `restricted` Pod Security Standard: non-root as the image's user, no
/// privilege escalation, no capabilities, the runtime's seccomp profile; volumes owned by its
/// group; the root filesystem read-only.
#[test]
fn pods_meet_the_restricted_pod_security_standard() {
    let c = cluster("two-by-two.yaml");
    let r = built(&c, None);
    for s in &r.stateful_sets {
        let name = s.metadata.name.clone().unwrap();
        let pod = s.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let psc = pod.security_context.as_ref().unwrap();
        assert_eq!(psc.run_as_non_root, Some(true), "{name}");
        assert_eq!(psc.run_as_user, Some(65532), "{name}");
        assert_eq!(psc.fs_group, Some(65532), "{name}");
        assert_eq!(
            psc.seccomp_profile.as_ref().unwrap().type_,
            "RuntimeDefault",
            "{name}"
        );
        for container in &pod.containers {
            let sc = container.security_context.as_ref().unwrap();
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{name}");
            assert_eq!(sc.read_only_root_filesystem, Some(true), "{name}");
            let caps = sc.capabilities.as_ref().unwrap();
            assert_eq!(
                caps.drop.as_deref(),
                Some(&["ALL".to_owned()][..]),
                "{name}"
            );
            assert!(caps.add.is_none(), "{name}");
        }
        for v in pod.volumes.iter().flatten() {
            assert!(
                v.host_path.is_none(),
                "{name}: hostPath volumes are not allowed"
            );
        }
    }
}
