//! What the pure plan refuses or flags, against a fabricated discovery (no AWS): no
//! `--instance-profile`; an AMI or a binary of another architecture than the instance types
//! (the AMI follows the instance type's architecture, a pinned AMI of the old one is dropped);
//! the deletes of a scale-in and of untracked resources, listed as destructive with why.

#![allow(clippy::unwrap_used, missing_docs)]

use crate::common::{params, spec};
use rmq_aws::discovered::{Discovered, Environment};
use rmq_aws::plan::{Op, plan};
use rmq_aws::resource::{Actual, ArtefactFile, Kind, Spec};

/// Two zones, x86_64 and arm64 AMIs, m7g.large running arm64, the nameservers' t3.medium x86_64,
/// both binaries to upload.
fn env() -> Discovered {
    Discovered {
        env: Environment {
            region: "eu-west-1".into(),
            azs: vec!["eu-west-1a".into(), "eu-west-1b".into()],
            latest_amis: [
                ("x86_64".into(), "ami-x86".into()),
                ("arm64".into(), "ami-arm".into()),
            ]
            .into(),
            instance_archs: [
                ("m7g.large".into(), "arm64".into()),
                ("t3.medium".into(), "x86_64".into()),
                ("t3.micro".into(), "x86_64".into()),
            ]
            .into(),
            artefact_files: ["rmq-namesrv", "rmq-broker"]
                .iter()
                .map(|name| ArtefactFile {
                    name: (*name).into(),
                    path: format!("/opt/rmq/{name}"),
                    sha256: "c0".repeat(32),
                    embedded: None,
                })
                .collect(),
            ..Environment::default()
        },
        ..Discovered::default()
    }
}

/// The AMI of launch template `key` in `p`.
fn ami(p: &rmq_aws::Plan, key: &str) -> String {
    match &p.resource(key).unwrap().spec {
        Spec::LaunchTemplate { ami, .. } => ami.clone(),
        _ => unreachable!(),
    }
}

#[test]
fn a_missing_instance_profile_is_an_error() {
    let mut p = params("bkt", None);
    p.instance_profile = None;
    let errs = plan(&spec("orders", 1, 1, 1), &p, &env()).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .to_string()
            .starts_with("--instance-profile is missing: without the node role the nodes cannot"),
        "{}",
        errs[0]
    );
    assert!(errs[0].fix.contains("--print-iam-policy"));
}

#[test]
fn the_ami_and_the_binaries_follow_the_instance_types_architecture() {
    let mut d = env();
    // broker-a-0's template was made with the x86_64 AMI (the brokers were m6i before).
    d.env
        .pinned_amis
        .insert("lt/broker-a-0".into(), "ami-old-x86".into());
    d.env
        .ami_archs
        .insert("ami-old-x86".into(), "x86_64".into());
    let mut p = params("bkt", None);
    p.broker_instance_type = "m7g.large".into();
    let c = spec("orders", 1, 1, 1);
    let ok = plan(&c, &p, &d).unwrap();
    assert_eq!(
        ami(&ok, "lt/broker-a-0"),
        "ami-arm",
        "the pinned x86_64 AMI is dropped"
    );
    assert_eq!(ami(&ok, "lt/namesrv-0"), "ami-x86");
    assert_eq!(ami(&ok, "lt/bastion"), "ami-x86");

    let mut given = p.clone();
    given.ami_id = Some("ami-old-x86".into());
    let errs = plan(&c, &given, &d).unwrap_err();
    assert!(
        errs[0].to_string().starts_with(
            "--ami-id ami-old-x86 is an x86_64 image, but m7g.large (lt/broker-a-0) runs arm64"
        ),
        "{errs:?}"
    );

    d.env
        .binary_archs
        .insert("rmq-broker".into(), "x86_64".into());
    d.env
        .binary_archs
        .insert("rmq-namesrv".into(), "x86_64".into());
    let errs = plan(&c, &p, &d).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "rmq-broker is built for x86_64, but --broker-instance-type m7g.large runs arm64: the nodes could not start it (fix: build it for arm64 (cargo build --release --target aarch64-unknown-linux-gnu) or choose --broker-instance-type of the binary's architecture)"
        ]
    );
    // No AMI for an architecture: named with its parameter.
    d.env.binary_archs.clear();
    d.env.latest_amis.remove("arm64");
    let errs = plan(&c, &p, &d).unwrap_err();
    assert!(
        errs[0].what.contains(
            "no Amazon Linux 2023 AMI for arm64 was found in the region (/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64)"
        ),
        "{errs:?}"
    );
}

#[test]
fn deletes_are_listed_as_destructive_with_why() {
    let c = spec("orders", 1, 1, 1);
    let p = params("bkt", None);
    let mut d = env();
    let gone = [
        (
            Kind::AutoScalingGroup,
            "asg/broker-b-0",
            "orders-broker-b-0",
        ),
        (Kind::Volume, "volume/broker-b-0", "vol-1"),
        (Kind::LaunchTemplate, "untracked/lt-9", "lt-9"),
    ];
    for (kind, key, id) in gone {
        d.state.put(Actual::new(kind, key, id));
    }
    let pl = plan(&c, &p, &d).unwrap();
    let destructive: Vec<(&str, &str)> = pl
        .destructive()
        .iter()
        .map(|a| (a.key.as_str(), a.reason.as_str()))
        .collect();
    assert_eq!(
        destructive,
        [
            (
                "asg/broker-b-0",
                "scale-in: node broker-b-0 is no longer in the spec"
            ),
            (
                "untracked/lt-9",
                "untracked: tagged for the cluster but no resource rmqctl knows (no rmq.dev/resource tag)"
            ),
            (
                "volume/broker-b-0",
                "scale-in: node broker-b-0 is no longer in the spec"
            ),
        ]
    );
    assert!(pl.destructive().iter().all(|a| a.op == Op::Delete));
}
