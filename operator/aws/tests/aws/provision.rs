//! Against a local moto_server (started by `operator/aws/run-tests.sh`): apply, apply again
//! (0 changes), destroy (nothing tagged left); tags; waiters; partial failure then re-run;
//! out-of-band damage repaired; day-2 scaling; bad input (an existing VPC: `existing_vpc.rs`). Each test uses its
//! own cluster name, so they share one moto server.

#![allow(clippy::unwrap_used)]

use crate::common::{
    cluster_filter, connect, converge, endpoint, fake_artefacts, opts, params, spec, tagged, unique,
};
use rmq_aws::plan::Op;
use rmq_aws::resource::{Kind, TAG_CLUSTER};
use rmq_aws::userdata::BOOTSTRAP;
use rmq_aws::{Aws, Outputs, Params, Progress, apply, outputs, plan_apply, plan_destroy_cluster};
use rmq_model::ValidatedCluster;
use std::collections::BTreeMap;

async fn changes(aws: &Aws, c: &ValidatedCluster, p: &Params) -> Vec<String> {
    let (_, plan) = plan_apply(aws, c, p).await.unwrap();
    plan.actions.iter().map(ToString::to_string).collect()
}

fn tags_of(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_apply_again_destroy() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("full");
    let c = spec(&name, 2, 2, 2);
    let art = fake_artefacts();
    let p = params(&format!("{name}-art"), Some(art.path()));

    let (_, plan) = plan_apply(&aws, &c, &p).await.unwrap();
    let (creates, updates, deletes) = plan.counts();
    assert_eq!((updates, deletes), (0, 0));
    assert_eq!(creates, plan.resources.len());
    let report = converge(&aws, &c, &p).await;
    assert_eq!(report.done.len(), creates);

    // Second apply: nothing to do.
    assert_eq!(changes(&aws, &c, &p).await, Vec::<String>::new());

    // What exists matches the layout.
    let out = outputs(&plan, &report.state);
    let ns: Vec<&str> = out.name_server_addresses.split(';').collect();
    assert_eq!(ns.len(), 2);
    assert!(
        ns.iter()
            .all(|a| a.starts_with("10.0.") && a.ends_with(":9876")),
        "{ns:?}"
    );
    assert_eq!(out.nodes.len(), 6);
    check_vpc_and_subnets(&aws, &name, &out).await;
    check_route_tables(&aws, &name).await;
    check_volumes(&aws, &name).await;
    check_node(&aws, &name, &out).await;
    // Artefacts: uploaded once with a checksum file.
    let obj = aws
        .s3
        .get_object()
        .bucket(format!("{name}-art"))
        .key(format!("rmq/{name}/0.1.0/rmq-broker.sha256"))
        .send()
        .await
        .unwrap();
    let body = obj.body.collect().await.unwrap().into_bytes();
    assert!(String::from_utf8_lossy(&body).ends_with("  rmq-broker\n"));
    assert!(!tagged(&aws, &name).await.is_empty());

    destroy_everything(&aws, &c, &p, &name).await;
}

/// The VPC carries every tag; the subnets are carved as in the templates.
async fn check_vpc_and_subnets(aws: &Aws, name: &str, out: &Outputs) {
    let ec2 = &aws.ec2;
    let vpc_id = out.vpc_id.clone().unwrap();
    let vpcs = ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.unwrap();
    let vtags = tags_of(vpcs.vpcs()[0].tags());
    assert_eq!(vtags["Name"], name);
    assert_eq!(vtags[TAG_CLUSTER], name);
    assert_eq!(vtags["rmq.dev/component"], "network");
    assert_eq!(vtags["rmq.dev/resource"], "vpc");
    assert_eq!(vtags["rmq:stack"], name);
    assert!(vtags.contains_key("rmq.dev/hash"));
    let subnets = ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc_id)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut cidrs: Vec<&str> = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.cidr_block())
        .collect();
    cidrs.sort();
    assert_eq!(
        cidrs,
        [
            "10.0.0.0/19",
            "10.0.128.0/20",
            "10.0.144.0/20",
            "10.0.32.0/19"
        ]
    );
}

/// Private route tables go through the zone's NAT gateway; public ones through the IGW.
async fn check_route_tables(aws: &Aws, name: &str) {
    let tables = aws
        .ec2
        .describe_route_tables()
        .filters(cluster_filter(name))
        .send()
        .await
        .unwrap();
    assert_eq!(tables.route_tables().len(), 3);
    for t in tables.route_tables() {
        let key = tags_of(t.tags())["rmq.dev/resource"].clone();
        let default = t
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .unwrap();
        let subnets = t
            .associations()
            .iter()
            .filter(|a| a.subnet_id().is_some())
            .count();
        if key == "rtb/public" {
            assert!(default.gateway_id().unwrap().starts_with("igw-"));
            assert_eq!(subnets, 2);
        } else {
            assert!(
                default.nat_gateway_id().unwrap().starts_with("nat-"),
                "{key}"
            );
            assert_eq!(subnets, 1);
        }
    }
}

/// Broker volumes: encrypted gp3 of the spec's size, in the node's zone, tagged for IAM.
async fn check_volumes(aws: &Aws, name: &str) {
    let vols = aws
        .ec2
        .describe_volumes()
        .filters(cluster_filter(name))
        .send()
        .await
        .unwrap();
    assert_eq!(vols.volumes().len(), 4);
    for v in vols.volumes() {
        assert_eq!((v.size(), v.encrypted()), (Some(30), Some(true)));
        let t = tags_of(v.tags());
        assert_eq!(t["rmq:role"], "broker");
        assert!(t["rmq:node"].starts_with("broker-"));
    }
}

/// broker-b-1: its launch template's user data and metadata options, its group of one, the
/// tags its instance got.
async fn check_node(aws: &Aws, name: &str, out: &Outputs) {
    let ec2 = &aws.ec2;
    // Launch template user data = header (this node's address, the nameserver list) + bootstrap.
    let node = out.nodes.iter().find(|n| n.node == "broker-b-1").unwrap();
    let data = crate::common::launch_data(aws, name, "broker-b-1").await;
    let text = crate::common::user_data_text(&data);
    assert!(text.ends_with(BOOTSTRAP));
    for (var, value) in [
        ("RMQ_NODE_IP", node.address.as_deref().unwrap()),
        ("RMQ_NAMESRV_ADDR", out.name_server_addresses.as_str()),
        ("RMQ_VOLUME_ID", node.data_volume.as_deref().unwrap()),
    ] {
        assert!(text.contains(&format!("{var}='{value}'\n")), "{var}");
    }
    let md = data.metadata_options().unwrap();
    assert_eq!(md.http_tokens().map(|t| t.as_str()), Some("required"));
    assert_eq!(md.http_put_response_hop_limit(), Some(1));
    // One ASG of one per node; tags propagate to the instance.
    let asgs = aws
        .asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(node.auto_scaling_group.clone().unwrap())
        .send()
        .await
        .unwrap();
    let g = &asgs.auto_scaling_groups()[0];
    assert_eq!(
        (g.min_size(), g.max_size(), g.desired_capacity()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(g.instances().len(), 1);
    let instance = g.instances()[0].instance_id().unwrap();
    let inst = ec2
        .describe_instances()
        .instance_ids(instance)
        .send()
        .await
        .unwrap();
    let itags = tags_of(inst.reservations()[0].instances()[0].tags());
    assert_eq!(itags["rmq:stack"], name);
    assert_eq!(itags["rmq:role"], "broker");
    assert!(
        !itags.contains_key("rmq.dev/hash"),
        "the hash tag is not propagated"
    );
}

/// Destroy: every tagged resource goes, in reverse order; data volumes are snapshotted; the
/// bucket the apply created goes too; a second destroy has nothing to do.
async fn destroy_everything(aws: &Aws, c: &ValidatedCluster, p: &Params, name: &str) {
    let (found, plan) = plan_destroy_cluster(aws, c, p).await.unwrap();
    assert!(plan.actions.iter().all(|a| a.op == Op::Delete));
    assert_eq!(plan.actions.first().unwrap().kind, Kind::AutoScalingGroup);
    assert_eq!(plan.actions.last().unwrap().kind, Kind::Artefacts);
    let report = apply(aws, &plan, &found, &opts(), &Progress::new(true)).await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(report.snapshots.len(), 4);
    assert_eq!(tagged(aws, name).await, Vec::<String>::new());
    assert!(
        aws.s3
            .head_bucket()
            .bucket(format!("{name}-art"))
            .send()
            .await
            .is_err(),
        "the bucket it created is gone"
    );
    let (_, again) = plan_destroy_cluster(aws, c, p).await.unwrap();
    assert!(again.actions.is_empty(), "{:?}", again.actions);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_failure_then_rerun_converges() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("partial");
    let c = spec(&name, 1, 1, 2);
    let art = fake_artefacts();
    let p = params(&format!("{name}-art"), Some(art.path()));
    fail_part_way_then_rerun(&aws, &c, &p).await;
    let (found, _) = plan_apply(&aws, &c, &p).await.unwrap();
    let rtb = found.state.get("rtb/private-1").unwrap().id.clone();
    let eni = found.state.get("eni/broker-a-1").unwrap().id.clone();
    unconverged_is_converged(&aws, &c, &p, &rtb).await;
    damage_is_repaired(&aws, &c, &p, &rtb, &eni).await;

    let (found, plan) = plan_destroy_cluster(&aws, &c, &p).await.unwrap();
    let mut o = opts();
    o.snapshot_volumes = false;
    o.fail_after = Some(3);
    let report = apply(&aws, &plan, &found, &o, &Progress::new(true)).await;
    assert!(!report.ok());
    // A destroy that stopped half-way finishes when re-run.
    let (found, plan) = plan_destroy_cluster(&aws, &c, &p).await.unwrap();
    assert_eq!(plan.actions.len(), found.managed().len());
    o.fail_after = None;
    assert!(
        apply(&aws, &plan, &found, &o, &Progress::new(true))
            .await
            .ok()
    );
    assert_eq!(tagged(&aws, &name).await, Vec::<String>::new());
}

/// An apply that fails after 12 actions; the re-plan adopts the 12 resources by tag and
/// creates only the rest.
async fn fail_part_way_then_rerun(aws: &Aws, c: &ValidatedCluster, p: &Params) {
    let (found, plan) = plan_apply(aws, c, p).await.unwrap();
    let total = plan.actions.len();
    let mut o = opts();
    o.fail_after = Some(12);
    let report = apply(aws, &plan, &found, &o, &Progress::new(true)).await;
    assert!(matches!(
        report.failed,
        Some((_, rmq_aws::Error::Injected(12)))
    ));
    assert_eq!(report.done.len(), 12);
    assert_eq!(report.not_done.len(), total - 13);

    let (_, plan2) = plan_apply(aws, c, p).await.unwrap();
    assert_eq!(plan2.counts(), (total - 12, 0, 0), "{:#?}", plan2.actions);
    converge(aws, c, p).await;
    assert_eq!(changes(aws, c, p).await, Vec::<String>::new());
}

/// A resource that was created but never marked converged (the process died mid-way) is
/// converged, not duplicated.
async fn unconverged_is_converged(aws: &Aws, c: &ValidatedCluster, p: &Params, rtb: &str) {
    aws.ec2
        .delete_tags()
        .resources(rtb)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("rmq.dev/hash")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let ch = changes(aws, c, p).await;
    assert_eq!(ch.len(), 1, "{ch:?}");
    assert!(
        ch[0].starts_with("~ update rtb/private-1") && ch[0].contains("not converged"),
        "{ch:?}"
    );
}

/// Damage out of band: a node's interface deleted and a route removed. The plan re-creates
/// the interface, and updates what refers to it (its launch template, then its group).
async fn damage_is_repaired(aws: &Aws, c: &ValidatedCluster, p: &Params, rtb: &str, eni: &str) {
    aws.ec2
        .delete_network_interface()
        .network_interface_id(eni)
        .send()
        .await
        .unwrap();
    aws.ec2
        .delete_route()
        .route_table_id(rtb)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let ch = changes(aws, c, p).await;
    for change in [
        "+ create eni/broker-a-1",
        "~ update lt/broker-a-1",
        "~ update asg/broker-a-1",
    ] {
        assert!(ch.iter().any(|a| a.starts_with(change)), "{ch:?}");
    }
    converge(aws, c, p).await;
    assert_eq!(changes(aws, c, p).await, Vec::<String>::new());
    let tables = aws
        .ec2
        .describe_route_tables()
        .route_table_ids(rtb)
        .send()
        .await
        .unwrap();
    assert!(
        tables.route_tables()[0]
            .routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")),
        "route restored"
    );
}

/// The node groups of cluster `name` (their names without the cluster prefix), sorted.
async fn node_groups(aws: &Aws, name: &str) -> Vec<String> {
    let out = aws.asg.describe_auto_scaling_groups().send().await.unwrap();
    let prefix = format!("{name}-");
    let mut v: Vec<String> = out
        .auto_scaling_groups()
        .iter()
        .filter_map(|g| g.auto_scaling_group_name())
        .filter(|n| n.starts_with(&prefix))
        .map(|n| n.trim_start_matches(&prefix).to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day2_scaling_adds_and_removes_node_groups() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("day2");
    let art = fake_artefacts();
    let p = params(&format!("{name}-art"), Some(art.path()));
    converge(&aws, &spec(&name, 1, 1, 1), &p).await;
    assert_eq!(
        node_groups(&aws, &name).await,
        ["bastion", "broker-a-0", "namesrv-0"]
    );

    // More groups and replicas: only new nodes are created; nothing existing changes.
    let big = spec(&name, 1, 2, 2);
    let (_, plan) = plan_apply(&aws, &big, &p).await.unwrap();
    assert_eq!(plan.counts(), (12, 0, 0), "{:#?}", plan.actions);
    converge(&aws, &big, &p).await;
    assert_eq!(
        node_groups(&aws, &name).await,
        [
            "bastion",
            "broker-a-0",
            "broker-a-1",
            "broker-b-0",
            "broker-b-1",
            "namesrv-0"
        ]
    );
    assert_eq!(changes(&aws, &big, &p).await, Vec::<String>::new());

    second_nameserver_rolls_brokers(&aws, &name, &p).await;
    scale_in_snapshots_volumes(&aws, &name, &p).await;

    let (found, plan) = plan_destroy_cluster(&aws, &spec(&name, 1, 1, 1), &p)
        .await
        .unwrap();
    assert!(
        apply(&aws, &plan, &found, &opts(), &Progress::silent())
            .await
            .ok()
    );
    assert_eq!(tagged(&aws, &name).await, Vec::<String>::new());
}

/// A second nameserver changes every broker's namesrvAddr: new template versions, and each
/// broker's group rolls its instance (slaves before masters).
async fn second_nameserver_rolls_brokers(aws: &Aws, name: &str, p: &Params) {
    let two_ns = spec(name, 2, 2, 2);
    let (_, plan) = plan_apply(aws, &two_ns, p).await.unwrap();
    let asg_updates: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| a.op == Op::Update && a.kind == Kind::AutoScalingGroup)
        .map(|a| a.key.as_str())
        .collect();
    assert_eq!(
        asg_updates,
        [
            "asg/broker-a-1",
            "asg/broker-b-1",
            "asg/broker-a-0",
            "asg/broker-b-0"
        ]
    );
    let group = || {
        aws.asg
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(format!("{name}-broker-a-0"))
            .send()
    };
    let before = group().await.unwrap();
    let old_instance = before.auto_scaling_groups()[0].instances()[0]
        .instance_id()
        .unwrap()
        .to_owned();
    converge(aws, &two_ns, p).await;
    let after = group().await.unwrap();
    let g = &after.auto_scaling_groups()[0];
    let live: Vec<_> = g
        .instances()
        .iter()
        .filter(|i| i.instance_id() != Some(old_instance.as_str()))
        .collect();
    assert_eq!(
        live.len(),
        1,
        "replaced {old_instance}: {:?}",
        g.instances()
    );
    assert_eq!(
        live[0].launch_template().and_then(|t| t.version()),
        Some("2")
    );
    assert_eq!(changes(aws, &two_ns, p).await, Vec::<String>::new());
}

/// Scale in to 1 x 1 (and one nameserver): the removed nodes' groups, templates, interfaces
/// and volumes are deleted, volumes after a snapshot.
async fn scale_in_snapshots_volumes(aws: &Aws, name: &str, p: &Params) {
    let small = spec(name, 1, 1, 1);
    let (found, plan) = plan_apply(aws, &small, p).await.unwrap();
    let deleted: Vec<&str> = plan
        .actions
        .iter()
        .filter(|a| a.op == Op::Delete)
        .map(|a| a.key.as_str())
        .collect();
    assert!(
        deleted.contains(&"asg/broker-b-1")
            && deleted.contains(&"volume/broker-a-1")
            && deleted.contains(&"eni/namesrv-1"),
        "{deleted:?}"
    );
    let report = apply(aws, &plan, &found, &opts(), &Progress::new(true)).await;
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(report.snapshots.len(), 3);
    assert_eq!(
        node_groups(aws, name).await,
        ["bastion", "broker-a-0", "namesrv-0"]
    );
    assert_eq!(changes(aws, &small, p).await, Vec::<String>::new());
}
