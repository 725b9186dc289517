//! The user data of a `failover: Automatic` cluster, run for real on this machine (see
//! `common::sandbox`): the nameserver node's script starts its controller (`rmq-controller`)
//! next to `rmq-namesrv`, the two brokers' scripts start them in controller mode; the controller
//! elects one broker, which registers with the nameserver as the master (id 0), the other as a
//! replica. The files the bootstrap writes hold what rmq-model renders for every back-end: the
//! controller.conf (its store rooted in the sandbox) and the brokers' controller-mode keys.

#![allow(clippy::unwrap_used)]

use crate::common::sandbox::{
    Node, bin_dir, free_node_port, free_port, run, sandbox_plan_of, user_data,
};
use rmq_aws::resource::{Actual, Kind, State};
use rmq_model::admin::Admin;
use rmq_model::desired::{Addressing, Endpoint, desired_cluster};
use rmq_model::{DesiredCluster, ValidatedCluster};
use std::path::Path;
use std::time::{Duration, Instant};

/// The cluster's name.
const NAME: &str = "hasandbox";

/// One nameserver with one controller, one group of two brokers in controller mode.
fn cluster() -> ValidatedCluster {
    crate::common::cluster(&format!(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {{name: {NAME}}}\nspec:\n  nameServer: {{replicas: 1}}\n  brokers: {{groups: 1, replicasPerGroup: 2, replication: Sync, failover: Automatic, storage: {{size: 1Gi}}}}\n  controller: {{replicas: 1, brokerTimeoutMs: 3000}}\n"
    ))
}

/// Every node on loopback, as the interfaces would be on EC2.
fn loopback_state() -> State {
    let mut state = State::default();
    for n in ["namesrv-0", "broker-a-0", "broker-a-1"] {
        state.put(
            Actual::new(Kind::NetworkInterface, format!("eni/{n}"), "eni-1")
                .with("ip", "127.0.0.1"),
        );
    }
    for b in ["broker-a-0", "broker-a-1"] {
        state.put(Actual::new(Kind::Volume, format!("volume/{b}"), "vol-1"));
    }
    state
}

/// How rmq-model places the nodes at those addresses (the ports as on EC2).
struct Loopback;

impl Addressing for Loopback {
    fn name_server(&self, _: &ValidatedCluster, _: u32) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port: 9876,
        }
    }
    fn broker(&self, _: &ValidatedCluster, _: u32, _: u32) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port: 10911,
        }
    }
    fn broker_store_dir(&self, _: &ValidatedCluster, _: &str) -> String {
        "/data/rmq/store".into()
    }
}

/// The test's ports: nameserver, controller, and each broker's main and HA port.
struct Ports {
    namesrv: u16,
    controller: u16,
    brokers: [(u16, u16); 2],
}

impl Ports {
    fn pick() -> Self {
        let namesrv = free_node_port(&[]);
        let mut taken = vec![namesrv, namesrv + 7];
        let other = |taken: &mut Vec<u16>, node: bool| {
            let p = if node {
                free_node_port(taken)
            } else {
                loop {
                    let p = free_port();
                    if !taken.contains(&p) {
                        break p;
                    }
                }
            };
            taken.extend([p, p + 7]);
            p
        };
        let controller = other(&mut taken, false);
        let b0 = other(&mut taken, true);
        let b0_ha = other(&mut taken, false);
        let b1 = other(&mut taken, true);
        let b1_ha = other(&mut taken, false);
        Self {
            namesrv,
            controller,
            brokers: [(b0, b0_ha), (b1, b1_ha)],
        }
    }
}

/// Writes `text` to `dir/name.sh` and the sandbox's overrides (sourced after the header) to
/// `dir/name.env`: every controller address on the test's controller port.
fn script(dir: &Path, name: &str, text: &str, ports: &Ports, extra: &str) -> (String, String) {
    let s = dir.join(format!("{name}.sh"));
    std::fs::write(&s, text).unwrap();
    let o = dir.join(format!("{name}.env"));
    let port = ports.controller;
    std::fs::write(
        &o,
        format!(
            "RMQ_CONTROLLER_CONF=\"${{RMQ_CONTROLLER_CONF:-}}\"\nRMQ_CONTROLLER_CONF=\"${{RMQ_CONTROLLER_CONF//:9878/:{port}}}\"\nRMQ_FAILOVER_CONF=\"${{RMQ_FAILOVER_CONF:-}}\"\nRMQ_FAILOVER_CONF=\"${{RMQ_FAILOVER_CONF//:9878/:{port}}}\"\n{extra}"
        ),
    )
    .unwrap();
    (s.display().to_string(), o.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nameserver_node_runs_its_controller_which_elects_a_broker() {
    let Some(bins) = bin_dir(&["rmq-controller"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let c = cluster();
    let p = sandbox_plan_of(&c, &bins);
    let state = loopback_state();
    let ports = Ports::pick();
    let log = |n: &str| tmp.path().join(format!("{n}.log"));

    let ns_text = user_data(&p, "lt/namesrv-0", &state);
    assert!(ns_text.contains("\nRMQ_CONTROLLER_CONF='"), "{ns_text}");
    let (s, o) = script(tmp.path(), "namesrv-0", &ns_text, &ports, "");
    let ns_root = tmp.path().join("namesrv-0");
    let env = [
        ("RMQ_NAMESRV_PORT", ports.namesrv.to_string()),
        ("RMQ_OVERRIDES", o),
    ];
    let mut nodes = vec![run(Path::new(&s), &ns_root, &bins, &env, &log("namesrv-0"))];
    let ns_addr = format!("127.0.0.1:{}", ports.namesrv);
    for (r, (port, ha)) in ports.brokers.iter().enumerate() {
        let name = format!("broker-a-{r}");
        let text = user_data(&p, &format!("lt/{name}"), &state);
        assert!(text.contains("\nRMQ_BROKER_ROLE='ELECTED'\n"), "{text}");
        let extra = format!("RMQ_NAMESRV_ADDR='{ns_addr}'\n");
        let (s, o) = script(tmp.path(), &name, &text, &ports, &extra);
        let env = [
            ("RMQ_LISTEN_PORT", port.to_string()),
            ("RMQ_HA_PORT", ha.to_string()),
            ("RMQ_OVERRIDES", o),
        ];
        let root = tmp.path().join(&name);
        nodes.push(run(Path::new(&s), &root, &bins, &env, &log(&name)));
    }
    let logs = || {
        ["namesrv-0", "broker-a-0", "broker-a-1"]
            .iter()
            .map(|n| {
                let text = std::fs::read_to_string(log(n)).unwrap_or_default();
                format!("--- {n}:\n{text}")
            })
            .collect::<String>()
    };
    let admin = Admin::new(vec![ns_addr]);
    let group = elected(&admin, &mut nodes, &logs).await;
    let brokers: Vec<String> = ports
        .brokers
        .iter()
        .map(|(p, _)| format!("127.0.0.1:{p}"))
        .collect();
    let mut registered: Vec<String> = group.values().cloned().collect();
    registered.sort();
    let mut want = brokers.clone();
    want.sort();
    assert_eq!(registered, want, "both brokers registered\n{}", logs());
    check_files(&c, tmp.path(), &ports);
}

/// Waits (90 s at most) until broker-a has a master (id 0) and a replica in the nameserver's
/// cluster info; its brokerId → address table.
async fn elected(
    admin: &Admin,
    nodes: &mut [Node],
    logs: &dyn Fn() -> String,
) -> std::collections::BTreeMap<i64, String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        for node in nodes.iter_mut() {
            if let Ok(Some(status)) = node.0.try_wait() {
                panic!("a node script exited with {status}\n{}", logs());
            }
        }
        if let Ok(info) = admin.cluster_info().await
            && let Some(data) = info.broker_addr_table.get("broker-a")
            && data.broker_addrs.contains_key(&0)
            && data.broker_addrs.len() == 2
        {
            return data.broker_addrs.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no master elected for broker-a within 90 s\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `conf` without comments, the controller port replaced by the test's.
fn lines(conf: &str, controller_port: u16) -> Vec<String> {
    conf.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.replace(":9878", &format!(":{controller_port}")))
        .collect()
}

/// What the scripts wrote is what rmq-model renders (with the sandbox's ports and root).
fn check_files(c: &ValidatedCluster, tmp: &Path, ports: &Ports) {
    let desired: DesiredCluster = desired_cluster(c, &Loopback);
    let ns_root = tmp.join("namesrv-0");
    let conf = std::fs::read_to_string(ns_root.join("etc/rmq/controller.conf")).unwrap();
    let store = ns_root.join("var/lib/rmq/controller-0");
    let want: Vec<String> = lines(&desired.controllers[0].conf, ports.controller)
        .into_iter()
        .map(|l| match l.strip_prefix("controllerStorePath=") {
            Some(_) => format!("controllerStorePath={}", store.display()),
            None => l,
        })
        .collect();
    assert_eq!(lines(&conf, ports.controller), want);
    assert!(store.is_dir(), "the controller's store");
    let unit =
        std::fs::read_to_string(ns_root.join("etc/systemd/system/rmq-controller.service")).unwrap();
    let exec = format!(
        "ExecStart={0}/opt/rmq/bin/rmq-controller -c {0}/etc/rmq/controller.conf\n",
        ns_root.display()
    );
    assert!(unit.contains(&exec), "{unit}");
    assert!(
        ns_root
            .join("etc/systemd/system/rmq-namesrv.service")
            .is_file()
    );
    let keys: Vec<&str> = rmq_model::validate::FAILOVER_BROKER_KEYS
        .iter()
        .map(|(k, _)| *k)
        .collect();
    for b in &desired.brokers {
        let conf = std::fs::read_to_string(tmp.join(&b.name).join("etc/rmq/broker.conf")).unwrap();
        let got = lines(&conf, ports.controller);
        assert!(
            !got.iter()
                .any(|l| l.starts_with("brokerId=") || l.starts_with("brokerRole=")),
            "{conf}"
        );
        let controller_mode: Vec<String> = got
            .into_iter()
            .filter(|l| l.split_once('=').is_some_and(|(k, _)| keys.contains(&k)))
            .collect();
        let want: Vec<String> = lines(&b.broker_conf, ports.controller)
            .into_iter()
            .filter(|l| l.split_once('=').is_some_and(|(k, _)| keys.contains(&k)))
            .collect();
        assert_eq!(controller_mode, want, "{}", b.name);
    }
}
