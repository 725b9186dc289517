//! `failover: Automatic` on Kubernetes: the controllers' StatefulSet, headless Service,
//! ConfigMap and PDB, and brokers in controller mode.

#![allow(clippy::unwrap_used)]

mod common;

use common::{built, cluster, names, sts};
use rmq_operator::cluster::build::controller::CONFIG_HASH_ANNOTATION;

#[test]
fn controllers_run_as_a_stateful_set_the_brokers_ask() {
    let c = cluster("failover.yaml");
    let r = built(&c, None);
    assert_eq!(
        names(&r.stateful_sets),
        ["ha-namesrv", "ha-controller", "ha-broker-a"]
    );
    assert!(names(&r.services).contains(&"ha-controller".to_owned()));
    assert!(names(&r.pdbs).contains(&"ha-controller".to_owned()));
    let set = sts(&r, "ha-controller");
    let spec = set.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(spec.service_name.as_deref(), Some("ha-controller"));
    let claim = &spec.volume_claim_templates.as_ref().unwrap()[0];
    let size = &claim
        .spec
        .as_ref()
        .unwrap()
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap()["storage"];
    assert_eq!(size.0, "2Gi");
    let pod = common::pod_spec(&r, "ha-controller");
    let container = &pod.containers[0];
    assert_eq!(container.command.as_ref().unwrap(), &["rmq-controller"]);
    assert_eq!(
        container.args.as_ref().unwrap(),
        &["-c", "/etc/rmq/$(POD_NAME).conf"]
    );
    assert!(
        container
            .readiness_probe
            .as_ref()
            .unwrap()
            .tcp_socket
            .is_some()
    );
    let annotations = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap();
    assert_eq!(annotations[CONFIG_HASH_ANNOTATION].len(), 16);
}

#[test]
fn controllers_find_each_other_by_stable_names() {
    let r = built(&cluster("failover.yaml"), None);
    let svc = r
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("ha-controller"))
        .unwrap();
    let svc = svc.spec.as_ref().unwrap();
    assert_eq!(svc.cluster_ip.as_deref(), Some("None"));
    assert_eq!(
        svc.publish_not_ready_addresses,
        Some(true),
        "peers meet before they are Ready"
    );

    let cm = r
        .config_maps
        .iter()
        .find(|m| m.metadata.name.as_deref() == Some("ha-controller"))
        .unwrap();
    let data = cm.data.as_ref().unwrap();
    let keys: Vec<&String> = data.keys().collect();
    assert_eq!(
        keys,
        [
            "ha-controller-0.conf",
            "ha-controller-1.conf",
            "ha-controller-2.conf"
        ]
    );
    let peers = "controllerDLegerPeers=n0-ha-controller-0.ha-controller.mq.svc:9878;n1-ha-controller-1.ha-controller.mq.svc:9878;n2-ha-controller-2.ha-controller.mq.svc:9878\n";
    for (i, conf) in data.values().enumerate() {
        assert!(conf.contains(peers), "{conf}");
        assert!(
            conf.contains(&format!("\ncontrollerDLegerSelfId=n{i}\n")),
            "{conf}"
        );
        assert!(
            conf.contains("\ncontrollerStorePath=/var/lib/rmq/store\n"),
            "{conf}"
        );
        assert!(
            conf.contains("\nscanNotActiveBrokerInterval=800\n"),
            "{conf}"
        );
    }
}

#[test]
fn brokers_run_in_controller_mode() {
    let r = built(&cluster("failover.yaml"), None);
    let broker = r
        .config_maps
        .iter()
        .find(|m| m.metadata.name.as_deref() == Some("ha-broker-a"))
        .unwrap();
    for conf in broker.data.as_ref().unwrap().values() {
        assert!(conf.contains("\nenableControllerMode=true\n"), "{conf}");
        assert!(conf.contains("\ncontrollerAddr=ha-controller-0.ha-controller.mq.svc:9878;ha-controller-1.ha-controller.mq.svc:9878;ha-controller-2.ha-controller.mq.svc:9878\n"), "{conf}");
        assert!(!conf.contains("brokerRole="), "{conf}");
        assert!(!conf.contains("\nbrokerId="), "{conf}");
    }
}

#[test]
fn fixed_roles_have_no_controllers() {
    let r = built(&cluster("two-by-two.yaml"), None);
    assert!(
        !names(&r.stateful_sets)
            .iter()
            .any(|n| n.ends_with("-controller"))
    );
}
