//! Shared test helpers: cluster specs from YAML, parameters, fake artefacts, and the moto
//! endpoint started by `operator/aws/run-tests.sh` (`RMQ_AWS_TEST_ENDPOINT`).

#![allow(dead_code, clippy::unwrap_used)]

use rmq_aws::params::{Connection, Network, Params};
use rmq_aws::{ApplyOptions, Aws, Progress, apply, plan_apply};
use rmq_model::ValidatedCluster;
use std::path::Path;
use std::time::Duration;

/// A validated cluster from YAML.
pub fn cluster(yaml: &str) -> ValidatedCluster {
    let docs = rmq_model::manifest::parse_str("test.yaml", yaml).unwrap();
    let decls = rmq_model::manifest::declarations(docs).unwrap();
    decls.clusters.into_iter().next().unwrap().1
}

/// `name` with `ns` nameservers, `groups` x `replicas` brokers.
pub fn spec(name: &str, ns: u32, groups: u32, replicas: u32) -> ValidatedCluster {
    cluster(&format!(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {{name: {name}}}\nspec:\n  nameServer: {{replicas: {ns}}}\n  brokers: {{groups: {groups}, replicasPerGroup: {replicas}, storage: {{size: 30Gi}}}}\n"
    ))
}

/// Parameters for a new VPC over 2 zones with one bastion, artefacts from `dir`.
pub fn params(bucket: &str, dir: Option<&Path>) -> Params {
    Params {
        network: Network::New {
            cidr: "10.0.0.0/16".into(),
            azs: vec![],
            az_count: 2,
            nat_per_az: true,
        },
        bastion_count: 1,
        key_pair: Some("ops".into()),
        remote_access_cidr: Some("203.0.113.4/32".into()),
        instance_profile: Some("rmq-node".into()),
        artefact_bucket: bucket.into(),
        artefact_dir: dir.map(Path::to_path_buf),
        ..Params::default()
    }
}

/// A directory with stand-in rmq-namesrv / rmq-broker files.
pub fn fake_artefacts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for b in ["rmq-namesrv", "rmq-broker"] {
        std::fs::write(dir.path().join(b), format!("#!/bin/sh\necho {b}\n")).unwrap();
    }
    dir
}

/// Fast waits for moto.
pub fn opts() -> ApplyOptions {
    ApplyOptions {
        wait_timeout: Duration::from_secs(60),
        poll_interval: Duration::from_millis(50),
        ..ApplyOptions::default()
    }
}

/// The moto endpoint, or `None` (the test is skipped) when the suite runs without
/// `run-tests.sh`. With `RMQ_AWS_REQUIRE_MOTO=1` a missing endpoint fails the test.
pub fn endpoint() -> Option<String> {
    match std::env::var("RMQ_AWS_TEST_ENDPOINT") {
        Ok(e) if !e.is_empty() => {
            assert!(
                e.starts_with("http://127.0.0.1:"),
                "RMQ_AWS_TEST_ENDPOINT must be a local moto_server, got {e}"
            );
            Some(e)
        }
        _ => {
            assert!(
                std::env::var("RMQ_AWS_REQUIRE_MOTO").as_deref() != Ok("1"),
                "RMQ_AWS_TEST_ENDPOINT is not set"
            );
            eprintln!("skipped: no moto_server (run operator/aws/run-tests.sh)");
            None
        }
    }
}

/// Clients against moto (static credentials from the environment, retries off).
pub async fn connect(endpoint: &str) -> Aws {
    Aws::connect(&Connection {
        region: "us-east-1".into(),
        endpoint_url: Some(endpoint.into()),
        no_retries: true,
    })
    .await
}

/// Every EC2 and Auto Scaling resource still tagged `rmq.dev/cluster=<cluster>` ("type id"),
/// listed with direct Describe calls (not with the discovery code under test). Deleted NAT
/// gateways and VPC endpoints, terminated instances and the kept snapshots do not count.
pub async fn tagged(aws: &Aws, cluster: &str) -> Vec<String> {
    use aws_sdk_ec2::types::Filter;
    let f = || {
        Filter::builder()
            .name("tag:rmq.dev/cluster")
            .values(cluster)
            .build()
    };
    let ec2 = &aws.ec2;
    let mut out = Vec::new();
    let mut add =
        |kind: &str, id: Option<&str>| out.push(format!("{kind} {}", id.unwrap_or_default()));
    for v in ec2
        .describe_vpcs()
        .filters(f())
        .send()
        .await
        .unwrap()
        .vpcs()
    {
        add("vpc", v.vpc_id());
    }
    for g in ec2
        .describe_internet_gateways()
        .filters(f())
        .send()
        .await
        .unwrap()
        .internet_gateways()
    {
        add("internet-gateway", g.internet_gateway_id());
    }
    for s in ec2
        .describe_subnets()
        .filters(f())
        .send()
        .await
        .unwrap()
        .subnets()
    {
        add("subnet", s.subnet_id());
    }
    for a in ec2
        .describe_addresses()
        .filters(f())
        .send()
        .await
        .unwrap()
        .addresses()
    {
        add("elastic-ip", a.allocation_id());
    }
    for n in ec2
        .describe_nat_gateways()
        .filter(f())
        .send()
        .await
        .unwrap()
        .nat_gateways()
    {
        // moto ignores tag filters on DescribeNatGateways: check the tag here.
        let ours = n
            .tags()
            .iter()
            .any(|t| t.key() == Some("rmq.dev/cluster") && t.value() == Some(cluster));
        if ours && n.state().map(|s| s.as_str()) != Some("deleted") {
            add("nat-gateway", n.nat_gateway_id());
        }
    }
    for t in ec2
        .describe_route_tables()
        .filters(f())
        .send()
        .await
        .unwrap()
        .route_tables()
    {
        add("route-table", t.route_table_id());
    }
    for e in ec2
        .describe_vpc_endpoints()
        .filters(f())
        .send()
        .await
        .unwrap()
        .vpc_endpoints()
    {
        if !e
            .state()
            .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
        {
            add("vpc-endpoint", e.vpc_endpoint_id());
        }
    }
    for g in ec2
        .describe_security_groups()
        .filters(f())
        .send()
        .await
        .unwrap()
        .security_groups()
    {
        add("security-group", g.group_id());
    }
    for n in ec2
        .describe_network_interfaces()
        .filters(f())
        .send()
        .await
        .unwrap()
        .network_interfaces()
    {
        add("network-interface", n.network_interface_id());
    }
    for v in ec2
        .describe_volumes()
        .filters(f())
        .send()
        .await
        .unwrap()
        .volumes()
    {
        add("volume", v.volume_id());
    }
    for t in ec2
        .describe_launch_templates()
        .filters(f())
        .send()
        .await
        .unwrap()
        .launch_templates()
    {
        add("launch-template", t.launch_template_id());
    }
    for r in ec2
        .describe_instances()
        .filters(f())
        .send()
        .await
        .unwrap()
        .reservations()
    {
        for i in r.instances() {
            if i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated") {
                add("instance", i.instance_id());
            }
        }
    }
    let asg = aws
        .asg
        .describe_tags()
        .filters(
            aws_sdk_autoscaling::types::Filter::builder()
                .name("key")
                .values("rmq.dev/cluster")
                .build(),
        )
        .send()
        .await
        .unwrap();
    for t in asg.tags() {
        if t.value() == Some(cluster) {
            add("auto-scaling-group", t.resource_id());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Unique names per test run (moto state persists across tests in one server).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{:x}", nanos % 0xfffff)
}

/// Plans and applies `c`; panics naming the failed action.
pub async fn converge(aws: &Aws, c: &ValidatedCluster, p: &Params) -> rmq_aws::Report {
    let (found, plan) = plan_apply(aws, c, p).await.unwrap();
    let report = apply(aws, &plan, &found, &opts(), &Progress::new(true)).await;
    if let Some((a, e)) = &report.failed {
        panic!("{a} failed: {e}");
    }
    report
}
