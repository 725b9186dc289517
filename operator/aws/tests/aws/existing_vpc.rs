//! Against a local moto_server (started by `operator/aws/run-tests.sh`): a cluster in a VPC
//! that already exists uses its subnets, creates no network, and destroy leaves the VPC alone.

#![allow(clippy::unwrap_used)]

use crate::common::{
    cluster_filter, connect, converge, endpoint, fake_artefacts, opts, params, spec, tagged, unique,
};
use rmq_aws::params::Network;
use rmq_aws::{Aws, Params, Progress, apply, outputs, plan_apply, plan_destroy_cluster};
use rmq_model::ValidatedCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_vpc_is_used_and_left_alone() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("byovpc");
    let (vpc, subnets) = existing_network(&aws).await;
    let mut p = params(&format!("{name}-art"), None);
    p.network = Network::Existing {
        vpc_id: vpc.clone(),
        subnet_ids: subnets.clone(),
        bastion_security_group: None,
    };
    p.bastion_count = 0;
    let c = spec(&name, 1, 1, 2);

    // Without --artefact-dir the binaries must already be in the bucket.
    let err = plan_apply(&aws, &c, &p).await.unwrap_err().to_string();
    assert!(
        err.contains("rmq-broker does not exist") && err.contains("--artefact-dir"),
        "{err}"
    );
    let art = fake_artefacts();
    p.artefact_dir = Some(art.path().to_path_buf());
    let report = converge(&aws, &c, &p).await;
    let (_, plan) = plan_apply(&aws, &c, &p).await.unwrap();
    assert!(plan.actions.is_empty());
    let out = outputs(&plan, &report.state);
    assert_eq!(out.vpc_id.as_deref(), Some(vpc.as_str()));
    assert_eq!(out.private_subnets, subnets);
    let enis = aws
        .ec2
        .describe_network_interfaces()
        .filters(cluster_filter(&name))
        .send()
        .await
        .unwrap();
    let mut placed: Vec<&str> = enis
        .network_interfaces()
        .iter()
        .filter_map(|n| n.subnet_id())
        .collect();
    placed.sort();
    assert_eq!(placed.len(), 3);
    assert!(placed.iter().all(|s| subnets.iter().any(|x| x == s)));

    destroy_leaves_the_vpc(&aws, &c, &p, &vpc).await;
    bad_input_only_aws_can_tell(&aws, &c, &mut p, &subnets).await;
}

/// A VPC with a subnet in each of two zones, made without rmq-aws; (VPC id, subnet ids).
async fn existing_network(aws: &Aws) -> (String, Vec<String>) {
    let ec2 = &aws.ec2;
    let vpc = ec2
        .create_vpc()
        .cidr_block("172.20.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_owned();
    let mut subnets = Vec::new();
    for (cidr, az) in [
        ("172.20.0.0/20", "us-east-1a"),
        ("172.20.16.0/20", "us-east-1b"),
    ] {
        let s = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(az)
            .send()
            .await
            .unwrap();
        subnets.push(s.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    (vpc, subnets)
}

/// Destroy deletes everything tagged for the cluster and neither the VPC nor its subnets.
async fn destroy_leaves_the_vpc(aws: &Aws, c: &ValidatedCluster, p: &Params, vpc: &str) {
    let (found, plan) = plan_destroy_cluster(aws, c, p).await.unwrap();
    assert!(
        plan.actions
            .iter()
            .all(|a| a.key != "vpc" && !a.key.starts_with("subnet/"))
    );
    let mut o = opts();
    o.snapshot_volumes = false;
    assert!(
        apply(aws, &plan, &found, &o, &Progress::silent())
            .await
            .ok()
    );
    assert_eq!(tagged(aws, &c.name).await, Vec::<String>::new());
    assert_eq!(
        aws.ec2
            .describe_vpcs()
            .vpc_ids(vpc)
            .send()
            .await
            .unwrap()
            .vpcs()
            .len(),
        1,
        "the VPC is not ours to delete"
    );
}

/// Bad input that only AWS can tell: a VPC that does not exist, a zone that is not available.
async fn bad_input_only_aws_can_tell(
    aws: &Aws,
    c: &ValidatedCluster,
    p: &mut Params,
    subnets: &[String],
) {
    p.network = Network::Existing {
        vpc_id: "vpc-0000000000".into(),
        subnet_ids: subnets.to_vec(),
        bastion_security_group: None,
    };
    let err = plan_apply(aws, c, p).await.unwrap_err().to_string();
    assert!(err.contains("--vpc-id vpc-0000000000"), "{err}");
    p.network = Network::New {
        cidr: "10.0.0.0/16".into(),
        azs: vec!["us-east-1a".into(), "mars-1a".into()],
        az_count: 2,
        nat_per_az: true,
    };
    p.bastion_count = 0;
    let err = plan_apply(aws, c, p).await.unwrap_err().to_string();
    assert!(
        err.contains("--azs: mars-1a is not an available zone"),
        "{err}"
    );
}
