//! Production pods from a fixture: resources, placement, overrides, health probes and the
//! NodePort listener, as rendered by the pure build stage.

#![allow(clippy::unwrap_used)]

mod common;

use common::{built, cluster, names, pod_spec, sts};
use k8s_openapi::api::core::v1::{Container, PodSpec, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn container<'a>(spec: &'a PodSpec, name: &str) -> &'a Container {
    spec.containers.iter().find(|c| c.name == name).unwrap()
}

fn service<'a>(r: &'a common::Built, name: &str) -> &'a Service {
    r.services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap()
}

#[test]
fn resources_default_per_role_and_follow_the_spec() {
    let r = built(&cluster("production.yaml"), None);
    let broker = container(pod_spec(&r, "prod-broker-a"), "broker");
    let res = broker.resources.as_ref().unwrap();
    assert_eq!(res.requests.as_ref().unwrap()["cpu"].0, "2");
    assert_eq!(res.requests.as_ref().unwrap()["memory"].0, "4Gi");
    assert_eq!(res.limits.as_ref().unwrap()["memory"].0, "8Gi");
    assert!(
        !res.limits.as_ref().unwrap().contains_key("cpu"),
        "no CPU limit"
    );
    // the nameservers were given nothing: their defaults
    let ns = container(pod_spec(&r, "prod-namesrv"), "namesrv");
    let res = ns.resources.as_ref().unwrap();
    assert_eq!(res.requests.as_ref().unwrap()["memory"].0, "128Mi");
    assert_eq!(res.limits.as_ref().unwrap()["memory"].0, "256Mi");
}

#[test]
fn a_group_avoids_one_node_and_spreads_over_zones() {
    let r = built(&cluster("production.yaml"), None);
    let spec = pod_spec(&r, "prod-broker-b");
    let anti = spec
        .affinity
        .as_ref()
        .unwrap()
        .pod_anti_affinity
        .as_ref()
        .unwrap();
    let required = anti
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap();
    assert_eq!(required[0].topology_key, "kubernetes.io/hostname");
    let peers = required[0]
        .label_selector
        .as_ref()
        .unwrap()
        .match_labels
        .as_ref()
        .unwrap();
    assert_eq!(peers["rmq.dev/broker-group"], "broker-b", "{peers:?}");
    let spread = &spec.topology_spread_constraints.as_ref().unwrap()[0];
    assert_eq!(spread.topology_key, "topology.kubernetes.io/zone");
    assert_eq!(spread.when_unsatisfiable, "ScheduleAnyway");
    assert_eq!(spec.node_selector.as_ref().unwrap()["node-role/mq"], "true");
    assert_eq!(
        spec.tolerations.as_ref().unwrap()[0].key.as_deref(),
        Some("dedicated")
    );
    assert_eq!(spec.priority_class_name.as_deref(), Some("mq-critical"));
    // nameservers: preferred by default
    let ns = pod_spec(&r, "prod-namesrv");
    let anti = ns
        .affinity
        .as_ref()
        .unwrap()
        .pod_anti_affinity
        .as_ref()
        .unwrap();
    assert!(
        anti.required_during_scheduling_ignored_during_execution
            .is_none()
    );
    assert_eq!(
        anti.preferred_during_scheduling_ignored_during_execution
            .as_ref()
            .unwrap()[0]
            .weight,
        100
    );
}

#[test]
fn the_template_override_adds_but_does_not_replace() {
    let r = built(&cluster("production.yaml"), None);
    let set = sts(&r, "prod-broker-a");
    let template = &set.spec.as_ref().unwrap().template;
    let meta = template.metadata.as_ref().unwrap();
    let labels = meta.labels.as_ref().unwrap();
    assert_eq!(labels["team"], "messaging");
    assert_eq!(
        labels["app.kubernetes.io/name"], "rmq",
        "generated labels win"
    );
    let annotations = meta.annotations.as_ref().unwrap();
    assert_eq!(
        annotations["prometheus.io/scrape"], "false",
        "the user's annotation wins"
    );
    assert_eq!(
        annotations["prometheus.io/port"], "10918",
        "scrape hints by default"
    );
    assert_eq!(annotations["prometheus.io/path"], "/metrics");
    let spec = template.spec.as_ref().unwrap();
    assert_eq!(names_of(&spec.containers), ["broker", "log-shipper"]);
    let broker = container(spec, "broker");
    assert_eq!(
        broker.command.as_ref().unwrap(),
        &["rmq-broker"],
        "command stays"
    );
    let env: Vec<&str> = broker
        .env
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .collect();
    assert!(env.contains(&"TZ") && env.contains(&"POD_NAME"), "{env:?}");
    assert!(
        broker
            .security_context
            .as_ref()
            .unwrap()
            .read_only_root_filesystem
            == Some(true)
    );
    let volumes: Vec<&str> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(volumes, ["config", "shipper-buffer"]);
    assert_eq!(spec.host_aliases.as_ref().unwrap()[0].ip, "10.0.0.9");
}

fn names_of(containers: &[Container]) -> Vec<&str> {
    containers.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn probes_ask_the_node_over_http() {
    let r = built(&cluster("production.yaml"), None);
    for (set, name, ready) in [
        ("prod-broker-a", "broker", "/readyz/serving"),
        ("prod-namesrv", "namesrv", "/readyz"),
    ] {
        let c = container(pod_spec(&r, set), name);
        let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
            p.as_ref()
                .unwrap()
                .http_get
                .as_ref()
                .unwrap()
                .path
                .clone()
                .unwrap()
        };
        assert_eq!(path(&c.readiness_probe), ready, "{name}");
        assert_eq!(path(&c.liveness_probe), "/healthz");
        assert_eq!(path(&c.startup_probe), "/healthz");
        let startup = c.startup_probe.as_ref().unwrap();
        let budget = startup.period_seconds.unwrap() * startup.failure_threshold.unwrap();
        assert!(
            budget >= 600,
            "a long store recovery fits the startup probe: {budget} s"
        );
        let http = c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some("http"));
        assert!(http.is_some(), "{set}: an http port");
    }
    let broker = container(pod_spec(&r, "prod-broker-a"), "broker");
    assert!(
        broker
            .args
            .as_ref()
            .unwrap()
            .contains(&"httpListenPort=10918".to_owned())
    );
}

#[test]
fn node_port_listener_renders_external_services_and_advertises_the_node() {
    let r = built(&cluster("production.yaml"), None);
    let mut external: Vec<String> = names(&r.services);
    external.retain(|n| n.ends_with("-external"));
    assert_eq!(
        external,
        [
            "prod-namesrv-external",
            "prod-broker-a-0-external",
            "prod-broker-a-1-external",
            "prod-broker-b-0-external",
            "prod-broker-b-1-external"
        ]
    );
    let ns = service(&r, "prod-namesrv-external").spec.as_ref().unwrap();
    assert_eq!(ns.type_.as_deref(), Some("NodePort"));
    assert_eq!(ns.ports.as_ref().unwrap()[0].node_port, Some(31000));
    let b1 = service(&r, "prod-broker-b-1-external")
        .spec
        .as_ref()
        .unwrap();
    let port = &b1.ports.as_ref().unwrap()[0];
    assert_eq!(port.node_port, Some(31004));
    assert_eq!(port.target_port, Some(IntOrString::Int(31004)));
    // the broker listens on its node port, replicates over its in-cluster name
    let conf = &r.config_maps[1].data.as_ref().unwrap()["prod-broker-b-1.conf"];
    assert!(conf.contains("\nlistenPort=31004\n"), "{conf}");
    assert!(conf.contains("\nhaListenPort=31005\n"), "{conf}");
    assert!(
        conf.contains("\nbrokerIP2=prod-broker-b-1.mq.svc\n"),
        "{conf}"
    );
    let internal = service(&r, "prod-broker-b-1").spec.as_ref().unwrap();
    assert_eq!(internal.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(internal.ports.as_ref().unwrap()[0].port, 31004);
    let broker = container(pod_spec(&r, "prod-broker-b"), "broker");
    let args = broker.args.as_ref().unwrap().join(" ");
    assert!(args.contains("--broker-ip1 $(HOST_IP)"), "{args}");
    let env = broker.env.as_ref().unwrap();
    let host_ip = env.iter().find(|e| e.name == "HOST_IP").unwrap();
    let field = host_ip
        .value_from
        .as_ref()
        .unwrap()
        .field_ref
        .as_ref()
        .unwrap();
    assert_eq!(field.field_path, "status.hostIP");
}

#[test]
fn invalid_pod_and_listener_settings_are_refused_with_the_field() {
    let mut c = cluster("production.yaml");
    c.spec
        .brokers
        .pod
        .resources
        .as_mut()
        .unwrap()
        .requests
        .memory = Some("lots".into());
    c.spec.listener.node_port_base = 32766;
    c.spec.name_server.pod.tolerations = vec![rmq_model::types::TolerationSpec {
        operator: Some("Maybe".into()),
        ..Default::default()
    }];
    let errs: Vec<String> = rmq_model::validate(&c)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(
        errs.iter()
            .any(|e| e.starts_with("spec.brokers.pod.resources.requests.memory"))
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("spec.listener.nodePortBase"))
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("spec.nameServer.pod.tolerations[0].operator"))
    );
    let unknown: Result<rmq_model::RocketMQCluster, _> = serde_yaml_ng::from_str(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: x}\nspec:\n  listener: {type: Ingress}\n",
    );
    let e = unknown.unwrap_err().to_string();
    assert!(e.contains("unknown variant `Ingress`"), "{e}");
}

#[test]
fn load_balancer_addresses_are_fed_back_into_brokerip1() {
    let mut c = cluster("production.yaml");
    c.spec.listener.kind = rmq_model::types::ListenerType::LoadBalancer;
    c.spec.listener.annotations = [(
        "service.beta.kubernetes.io/aws-load-balancer-type".to_owned(),
        "nlb".to_owned(),
    )]
    .into();
    let v = rmq_model::validate(&c).unwrap();
    let mut input = common::input(&c, None);
    input
        .external_hosts
        .insert("prod-broker-a-0".into(), "lb-a0.elb.example".into());
    let r = rmq_operator::cluster::build::build(&v, &input);
    let conf = &r.config_maps[0].data.as_ref().unwrap()["prod-broker-a-0.conf"];
    assert!(conf.contains("\nbrokerIP1=lb-a0.elb.example\n"), "{conf}");
    assert!(
        conf.contains("\nbrokerIP2=prod-broker-a-0.mq.svc\n"),
        "{conf}"
    );
    assert!(conf.contains("\nlistenPort=10911\n"), "{conf}");
    // not provisioned yet: the in-cluster name until the balancer has an address
    let conf = &r.config_maps[0].data.as_ref().unwrap()["prod-broker-a-1.conf"];
    assert!(
        conf.contains("\nbrokerIP1=prod-broker-a-1.mq.svc\n"),
        "{conf}"
    );
    let lb = service(&r, "prod-broker-a-1-external");
    assert_eq!(
        lb.spec.as_ref().unwrap().type_.as_deref(),
        Some("LoadBalancer")
    );
    let annotations = lb.metadata.annotations.as_ref().unwrap();
    assert_eq!(
        annotations["service.beta.kubernetes.io/aws-load-balancer-type"],
        "nlb"
    );
    let broker = container(pod_spec(&r, "prod-broker-a"), "broker");
    assert!(
        !broker
            .args
            .as_ref()
            .unwrap()
            .contains(&"--broker-ip1".to_owned())
    );
}

#[test]
fn external_status_comes_from_node_ips_and_load_balancers() {
    use rmq_operator::cluster::external;
    let c = cluster("production.yaml");
    let v = rmq_model::validate(&c).unwrap();
    let input = common::input(&c, None);
    let desired = rmq_operator::cluster::build::desired(&v, &input);
    let pod = |name: &str, ip: &str| -> k8s_openapi::api::core::v1::Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name}, "status": {"hostIP": ip}
        }))
        .unwrap()
    };
    let pods = [
        pod("prod-namesrv-0", "10.0.0.2"),
        pod("prod-namesrv-1", "10.0.0.1"),
        pod("prod-broker-b-1", "10.0.0.3"),
    ];
    let st = external::status(&v, &desired, &pods, &[]);
    assert_eq!(
        st.name_server_address.as_deref(),
        Some("10.0.0.1:31000;10.0.0.2:31000")
    );
    assert_eq!(st.brokers["prod-broker-b-1"], "10.0.0.3:31004");
    assert_eq!(
        st.brokers.len(),
        1,
        "pods not scheduled yet have no address"
    );

    let mut lb = c.clone();
    lb.spec.listener.kind = rmq_model::types::ListenerType::LoadBalancer;
    let v = rmq_model::validate(&lb).unwrap();
    let svc: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "prod-namesrv-external"},
        "status": {"loadBalancer": {"ingress": [{"hostname": "ns.elb.example"}]}}
    }))
    .unwrap();
    let st = external::status(&v, &desired, &[], &[svc]);
    assert_eq!(
        st.name_server_address.as_deref(),
        Some("ns.elb.example:9876")
    );
}
