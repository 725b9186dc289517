//! The AMI follows the instance type's architecture, against moto: `DescribeInstanceTypes`
//! says m7g.large runs arm64 and t3.medium x86_64, so the broker nodes boot the arm64 Amazon
//! Linux 2023 AMI of the public SSM parameter and the nameservers the x86_64 one; a binary built
//! for another architecture than the instances that would run it is refused (the real
//! rmq-broker of this build host, x86_64, on arm64 brokers); an unknown instance type is named.

#![allow(clippy::unwrap_used, missing_docs)]

use crate::common::sandbox::bin_dir;
use crate::common::{connect, endpoint, fake_artefacts, params, spec, unique};
use rmq_aws::arch::{al2023_parameter, file_arch};
use rmq_aws::resource::Spec;
use rmq_aws::{Aws, Error, plan_apply};

/// The value of the public SSM parameter of `arch`'s newest Amazon Linux 2023 AMI.
async fn published_ami(aws: &Aws, arch: &str) -> String {
    let out = aws
        .ssm
        .get_parameter()
        .name(al2023_parameter(arch))
        .send()
        .await
        .unwrap();
    out.parameter().unwrap().value().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn arm64_brokers_boot_the_arm64_ami_and_refuse_an_x86_64_binary() {
    let Some(ep) = endpoint() else { return };
    let aws = connect(&ep).await;
    let name = unique("arch");
    let c = spec(&name, 1, 1, 1);
    let dir = fake_artefacts();
    let mut p = params(&format!("{name}-artefacts"), Some(dir.path()));
    p.broker_instance_type = "m7g.large".into();
    let (found, plan) = plan_apply(&aws, &c, &p).await.unwrap();
    assert_eq!(found.env.instance_archs["m7g.large"], "arm64");
    assert_eq!(found.env.instance_archs["t3.medium"], "x86_64");
    let ami = |key: &str| match &plan.resource(key).unwrap().spec {
        Spec::LaunchTemplate { ami, .. } => ami.clone(),
        _ => unreachable!(),
    };
    assert_eq!(ami("lt/broker-a-0"), published_ami(&aws, "arm64").await);
    assert_eq!(ami("lt/namesrv-0"), published_ami(&aws, "x86_64").await);
    assert_eq!(ami("lt/bastion"), published_ami(&aws, "x86_64").await);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("rmq-broker under --artefact-dir is not an ELF executable")),
        "{:?}",
        plan.warnings
    );

    // The real binaries of this build host are x86_64.
    if let Some(real) = bin_dir(&[]) {
        assert_eq!(
            file_arch(&real.join("rmq-broker")).unwrap().as_deref(),
            Some("x86_64")
        );
        p.artefact_dir = Some(real);
        let Err(Error::Plan(errs)) = plan_apply(&aws, &c, &p).await else {
            panic!("an x86_64 rmq-broker for arm64 brokers was accepted")
        };
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 1, "{text:?}");
        assert!(
            text[0].starts_with(
                "rmq-broker is built for x86_64, but --broker-instance-type m7g.large runs arm64"
            ),
            "{text:?}"
        );
        assert!(
            text[0].contains("--target aarch64-unknown-linux-gnu"),
            "{text:?}"
        );
    }

    p.broker_instance_type = "m6i.huge".into();
    let e = plan_apply(&aws, &c, &p).await.err().unwrap();
    assert!(
        e.to_string()
            .starts_with("--broker-instance-type m6i.huge: not an instance type of us-east-1"),
        "{e}"
    );
}
