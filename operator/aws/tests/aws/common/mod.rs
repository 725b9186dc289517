//! Shared test helpers: cluster specs from YAML, parameters, fake artefacts, and the moto
//! endpoint started by `operator/aws/run-tests.sh` (`RMQ_AWS_TEST_ENDPOINT`).

#![allow(dead_code, clippy::unwrap_used)]

pub mod sandbox;

use rmq_aws::params::{Connection, Network, Params};
use rmq_aws::resource::TAG_CLUSTER;
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

/// `name` with `failover: Automatic`: `ns` nameservers, `controllers` controllers (broker
/// timeout 3000 ms), 2 x 2 brokers with Sync replication.
pub fn automatic(name: &str, ns: u32, controllers: u32) -> ValidatedCluster {
    cluster(&format!(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {{name: {name}}}\nspec:\n  nameServer: {{replicas: {ns}}}\n  brokers: {{groups: 2, replicasPerGroup: 2, replication: Sync, failover: Automatic, storage: {{size: 30Gi}}}}\n  controller: {{replicas: {controllers}, brokerTimeoutMs: 3000}}\n"
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

/// A directory with stand-in rmq-namesrv / rmq-broker / rmq-controller files.
pub fn fake_artefacts_with_controller() -> tempfile::TempDir {
    let dir = fake_artefacts();
    std::fs::write(
        dir.path().join("rmq-controller"),
        "#!/bin/sh\necho rmq-controller\n",
    )
    .unwrap();
    dir
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

/// The EC2 filter on the cluster tag.
pub fn cluster_filter(cluster: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(format!("tag:{TAG_CLUSTER}"))
        .values(cluster)
        .build()
}

/// "kind id" of every item of the EC2 Describe call `$call` filtered on cluster `$cluster`'s tag
/// (`$list` the items, `$id` an item's id), when `$keep` holds for the item.
macro_rules! tagged_ids {
    ($ec2:expr, $cluster:expr, $kind:literal, $call:ident, $list:ident, $id:ident) => {
        tagged_ids!($ec2, $cluster, $kind, $call, $list, $id, |_| true)
    };
    ($ec2:expr, $cluster:expr, $kind:literal, $call:ident, $list:ident, $id:ident, $keep:expr) => {
        $ec2.$call()
            .filters(cluster_filter($cluster))
            .send()
            .await
            .unwrap()
            .$list()
            .iter()
            .filter($keep)
            .map(|x| format!("{} {}", $kind, x.$id().unwrap_or_default()))
            .collect::<Vec<String>>()
    };
}

/// Every EC2 and Auto Scaling resource still tagged `rmq.dev/cluster=<cluster>` ("type id"),
/// listed with direct Describe calls (not with the discovery code under test). Deleted NAT
/// gateways and VPC endpoints, terminated instances and the kept snapshots do not count.
pub async fn tagged(aws: &Aws, cluster: &str) -> Vec<String> {
    let mut out = tagged_network(&aws.ec2, cluster).await;
    out.extend(tagged_nodes(&aws.ec2, cluster).await);
    out.extend(tagged_groups(aws, cluster).await);
    out.sort();
    out.dedup();
    out
}

/// VPCs, gateways, subnets, addresses, NAT gateways, route tables and endpoints.
async fn tagged_network(ec2: &aws_sdk_ec2::Client, cluster: &str) -> Vec<String> {
    let mut out = tagged_ids!(ec2, cluster, "vpc", describe_vpcs, vpcs, vpc_id);
    out.extend(tagged_ids!(
        ec2,
        cluster,
        "internet-gateway",
        describe_internet_gateways,
        internet_gateways,
        internet_gateway_id
    ));
    out.extend(tagged_ids!(
        ec2,
        cluster,
        "subnet",
        describe_subnets,
        subnets,
        subnet_id
    ));
    out.extend(tagged_ids!(
        ec2,
        cluster,
        "elastic-ip",
        describe_addresses,
        addresses,
        allocation_id
    ));
    // moto ignores tag filters on DescribeNatGateways: check the tag here.
    let nats = ec2
        .describe_nat_gateways()
        .filter(cluster_filter(cluster))
        .send()
        .await
        .unwrap();
    for n in nats.nat_gateways() {
        let ours = n
            .tags()
            .iter()
            .any(|t| t.key() == Some(TAG_CLUSTER) && t.value() == Some(cluster));
        if ours && n.state().map(|s| s.as_str()) != Some("deleted") {
            out.push(format!(
                "nat-gateway {}",
                n.nat_gateway_id().unwrap_or_default()
            ));
        }
    }
    out.extend(tagged_ids!(
        ec2,
        cluster,
        "route-table",
        describe_route_tables,
        route_tables,
        route_table_id
    ));
    out.extend(tagged_ids!(
        ec2,
        cluster,
        "vpc-endpoint",
        describe_vpc_endpoints,
        vpc_endpoints,
        vpc_endpoint_id,
        |e| !e
            .state()
            .is_some_and(|s| s.as_str().eq_ignore_ascii_case("deleted"))
    ));
    out
}

/// Security groups, interfaces, volumes, launch templates and live instances.
async fn tagged_nodes(ec2: &aws_sdk_ec2::Client, cluster: &str) -> Vec<String> {
    let mut out = tagged_ids!(
        ec2,
        cluster,
        "security-group",
        describe_security_groups,
        security_groups,
        group_id
    );
    out.extend(tagged_ids!(
        ec2,
        cluster,
        "network-interface",
        describe_network_interfaces,
        network_interfaces,
        network_interface_id
    ));
    out.extend(tagged_ids!(
        ec2,
        cluster,
        "volume",
        describe_volumes,
        volumes,
        volume_id
    ));
    out.extend(tagged_ids!(
        ec2,
        cluster,
        "launch-template",
        describe_launch_templates,
        launch_templates,
        launch_template_id
    ));
    let reservations = ec2
        .describe_instances()
        .filters(cluster_filter(cluster))
        .send()
        .await
        .unwrap();
    for i in reservations
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
    {
        if i.state().and_then(|s| s.name()).map(|n| n.as_str()) != Some("terminated") {
            out.push(format!("instance {}", i.instance_id().unwrap_or_default()));
        }
    }
    out
}

/// Auto Scaling groups (found by their tags: DescribeTags filters on the key).
async fn tagged_groups(aws: &Aws, cluster: &str) -> Vec<String> {
    let asg = aws
        .asg
        .describe_tags()
        .filters(
            aws_sdk_autoscaling::types::Filter::builder()
                .name("key")
                .values(TAG_CLUSTER)
                .build(),
        )
        .send()
        .await
        .unwrap();
    asg.tags()
        .iter()
        .filter(|t| t.value() == Some(cluster))
        .map(|t| format!("auto-scaling-group {}", t.resource_id().unwrap_or_default()))
        .collect()
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

/// The data of node `node`'s launch template in cluster `cluster`, at its latest version.
pub async fn launch_data(
    aws: &rmq_aws::Aws,
    cluster: &str,
    node: &str,
) -> aws_sdk_ec2::types::ResponseLaunchTemplateData {
    let lts = aws
        .ec2
        .describe_launch_template_versions()
        .launch_template_name(format!("{cluster}-{node}"))
        .versions("$Latest")
        .send()
        .await
        .unwrap();
    lts.launch_template_versions()[0]
        .launch_template_data()
        .unwrap()
        .clone()
}

/// The user data of node `node`'s launch template in cluster `cluster` (its latest version),
/// decoded.
pub async fn launch_user_data(aws: &rmq_aws::Aws, cluster: &str, node: &str) -> String {
    user_data_text(&launch_data(aws, cluster, node).await)
}

/// The user data a launch template carries, decoded from base64 to text.
pub fn user_data_text(data: &aws_sdk_ec2::types::ResponseLaunchTemplateData) -> String {
    let encoded = data.user_data().unwrap();
    String::from_utf8(rmq_aws::userdata::unbase64(encoded).unwrap()).unwrap()
}
