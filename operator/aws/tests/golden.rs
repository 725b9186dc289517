//! TEMPORARY equivalence check for the refactor (not committed): dumps plans, errors, hashes and
//! outputs of many configurations as JSON to $GOLDEN_OUT.

#![allow(clippy::unwrap_used, missing_docs, clippy::too_many_lines)]

mod common;

use common::{cluster, params, spec};
use rmq_aws::params::{Network, Params};
use rmq_aws::plan::plan;
use rmq_aws::resource::{Actual, ArtefactFile, Kind, Spec};
use rmq_aws::{Discovered, outputs, plan_destroy};
use serde_json::{Value as J, json};

use rmq_aws::discovered::ExistingVpc; // GOLDEN-PATH

fn env(zones: usize) -> Discovered {
    let mut d = Discovered::default();
    d.env.region = "eu-west-1".into();
    d.env.azs = ["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1d"][..zones]
        .iter()
        .map(|s| s.to_string())
        .collect();
    d.env.latest_amis = [("x86_64".into(), "ami-0123".into())].into();
    d.env.artefact_files = ["rmq-namesrv", "rmq-broker"]
        .iter()
        .map(|name| ArtefactFile {
            name: (*name).into(),
            path: format!("/opt/rmq/{name}"),
            sha256: "00".repeat(32),
            embedded: None,
        })
        .collect();
    d
}

/// What an apply of `plan` would leave (every resource converged).
fn applied(plan: &rmq_aws::Plan, base: &Discovered) -> Discovered {
    let mut d = base.clone();
    for (i, r) in plan.resources.iter().enumerate() {
        if d.external.contains(&r.key) {
            continue;
        }
        let mut a = Actual::new(r.kind(), r.key.clone(), format!("id-{i}"));
        match &r.spec {
            Spec::Vpc { cidr } => a = a.with("cidr", cidr.clone()),
            Spec::Subnet { cidr, az, .. } => {
                a = a.with("cidr", cidr.clone()).with("az", az.clone())
            }
            Spec::NetworkInterface { subnet, .. } => {
                a = a
                    .with("ip", format!("10.0.0.{i}"))
                    .with("subnet", subnet.resolve(&d.state).unwrap_or_default())
            }
            Spec::Volume { az, size_gib, .. } => {
                a = a.with("az", az.clone()).with("size", size_gib.to_string())
            }
            Spec::LaunchTemplate { ami, .. } => a = a.with("version", "1").with("ami", ami.clone()),
            Spec::Alarm(alarm) => {
                a = a
                    .with(
                        "arn",
                        format!("arn:aws:cloudwatch:eu-west-1:1:alarm:{}", alarm.name),
                    )
                    .with("threshold", alarm.threshold.to_string())
                    .with("metric", alarm.metric.clone())
                    .with("namespace", alarm.namespace.clone())
            }
            Spec::AutoScalingGroup { size, .. } => {
                a = a
                    .with("min", size.to_string())
                    .with("max", size.to_string())
                    .with("desired", size.to_string())
            }
            Spec::Artefacts { files, .. } => {
                for f in files {
                    a = a.with(&format!("sha256/{}", f.name), f.sha256.clone());
                }
                a = a.with("owned", "true").with("ours", "true");
            }
            _ => {}
        }
        a.hash = Some(r.hash(&d.state));
        d.state.put(a);
    }
    d
}

fn dump(name: &str, c: &rmq_model::ValidatedCluster, p: &Params, d: &Discovered) -> J {
    let validate = match p.validate() {
        Ok(()) => J::Null,
        Err(e) => serde_json::to_value(&e).unwrap(),
    };
    match plan(c, p, d) {
        Ok(pl) => {
            let hashes: Vec<(String, String, bool)> = pl
                .resources
                .iter()
                .map(|r| (r.key.clone(), r.hash(&d.state), r.is_resolvable(&d.state)))
                .collect();
            let deps: Vec<(String, Vec<String>)> = pl
                .resources
                .iter()
                .map(|r| (r.key.clone(), r.deps()))
                .collect();
            let tags: Vec<Vec<(String, String)>> = pl
                .resources
                .iter()
                .map(|r| r.tags(&pl.cluster, &pl.stack))
                .collect();
            let lines: Vec<String> = pl.actions.iter().map(ToString::to_string).collect();
            let after = applied(&pl, d);
            json!({"name": name, "validate": validate, "plan": pl, "hashes": hashes, "deps": deps,
                   "tags": tags, "lines": lines, "counts": pl.counts(),
                   "outputs": outputs(&pl, &after.state),
                   "destroy": plan_destroy(&pl.cluster, p, &after),
                   "managed": after.managed().iter().map(|a| a.key.clone()).collect::<Vec<_>>()})
        }
        Err(e) => json!({"name": name, "validate": validate, "errors": e,
                          "text": e.iter().map(ToString::to_string).collect::<Vec<_>>()}),
    }
}

#[test]
fn golden() {
    let Ok(path) = std::env::var("GOLDEN_OUT") else {
        return;
    };
    let mut out = Vec::new();
    let base = params("bkt", None);
    let c222 = spec("orders", 2, 2, 2);
    out.push(dump("new-2z", &c222, &base, &env(2)));
    out.push(dump("new-3z", &spec("orders", 3, 2, 3), &base, &env(3)));
    out.push(dump("new-1z", &c222, &base, &env(1)));
    out.push(dump("new-4z", &c222, &base, &env(4)));
    let mut single = base.clone();
    single.network = Network::New {
        cidr: "10.0.0.0/16".into(),
        azs: vec![],
        az_count: 3,
        nat_per_az: false,
    };
    single.allow_clients_from_vpc = true;
    single.log_group = Some("rmq-logs".into());
    single.stack_id = Some("stk".into());
    single.volume_kms_key = Some("kms-1".into());
    single.instance_profile = Some("arn:aws:iam::1:instance-profile/x".into());
    out.push(dump(
        "single-nat",
        &spec("orders", 1, 3, 2),
        &single,
        &env(3),
    ));
    let mut nob = base.clone();
    nob.bastion_count = 0;
    nob.instance_profile = None;
    nob.key_pair = None;
    out.push(dump("no-bastion", &c222, &nob, &env(2)));
    let mut twob = base.clone();
    twob.bastion_count = 2;
    out.push(dump("two-bastions", &c222, &twob, &env(2)));
    let mut quote = base.clone();
    quote.log_group = Some("a'b".into());
    quote.artefact_prefix = Some("x\ny".into());
    out.push(dump("quotes", &c222, &quote, &env(2)));
    let mut d = env(2);
    d.env.latest_amis.clear();
    out.push(dump("no-ami", &c222, &base, &d));
    let mut pinned = d.clone();
    pinned
        .env
        .pinned_amis
        .insert("lt/namesrv-0".into(), "ami-pinned".into());
    pinned
        .env
        .pinned_amis
        .insert("lt/bastion".into(), "ami-b".into());
    out.push(dump("pinned-some", &c222, &base, &pinned));
    let mut with_id = base.clone();
    with_id.ami_id = Some("ami-given".into());
    out.push(dump("ami-id", &c222, &with_id, &d));
    let mut pinned_all = env(2);
    pinned_all
        .env
        .pinned_amis
        .insert("lt/broker-a-0".into(), "ami-old".into());
    out.push(dump("pinned-one", &c222, &base, &pinned_all));
    let mut nofiles = env(2);
    nofiles.env.artefact_files.clear();
    out.push(dump("no-files", &c222, &base, &nofiles));
    let sc = cluster(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: sc}\nspec:\n  nameServer: {replicas: 1}\n  brokers: {groups: 1, replicasPerGroup: 2, replication: Sync, flush: Sync, storage: {size: 10Gi, storageClass: st1}, config: {a: b}}\n",
    );
    out.push(dump("storage-class", &sc, &base, &env(2)));
    let sc2 = cluster(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: sc}\nspec:\n  nameServer: {replicas: 1}\n  brokers: {groups: 1, replicasPerGroup: 2, flush: Sync, storage: {size: 1500Mi, storageClass: io2}}\n",
    );
    out.push(dump("io2", &sc2, &base, &env(2)));
    let mut gp2 = base.clone();
    gp2.volume_type = "gp2".into();
    out.push(dump("gp2", &c222, &gp2, &env(2)));
    // Bad parameters of every kind.
    let mut bad = base.clone();
    bad.network = Network::New {
        cidr: "10.0.0.1/33".into(),
        azs: vec!["a".into()],
        az_count: 2,
        nat_per_az: true,
    };
    bad.remote_access_cidr = Some("nope".into());
    bad.bastion_count = 7;
    bad.artefact_bucket = "-x".into();
    bad.artefact_prefix = Some("a b".into());
    bad.artefact_dir = Some("/nonexistent-dir".into());
    bad.namesrv_instance_type = "large".into();
    bad.broker_instance_type = "m6i. large".into();
    bad.volume_type = "st1".into();
    bad.ami_id = Some("img-1".into());
    out.push(dump("bad-params", &c222, &bad, &env(2)));
    let mut bad2 = base.clone();
    bad2.network = Network::New {
        cidr: "10.0.0.0/8".into(),
        azs: vec![],
        az_count: 4,
        nat_per_az: true,
    };
    bad2.remote_access_cidr = Some(String::new());
    bad2.key_pair = Some(String::new());
    out.push(dump("bad-params-2", &c222, &bad2, &env(2)));
    let mut bad3 = base.clone();
    bad3.remote_access_cidr = Some("0.0.0.0/0".into());
    bad3.network = Network::New {
        cidr: "10.0.0.0/25".into(),
        azs: vec![],
        az_count: 2,
        nat_per_az: true,
    };
    out.push(dump("bad-params-3", &c222, &bad3, &env(2)));
    let mut bad4 = base.clone();
    bad4.network = Network::Existing {
        vpc_id: "x-1".into(),
        subnet_ids: vec!["subnet-1".into(), "s-2".into(), "s-3".into(), "s-4".into()],
        bastion_security_group: None,
    };
    out.push(dump("bad-existing", &c222, &bad4, &env(2)));
    // An existing VPC.
    let mut ex = base.clone();
    ex.network = Network::Existing {
        vpc_id: "vpc-1".into(),
        subnet_ids: vec!["subnet-1".into(), "subnet-2".into()],
        bastion_security_group: Some("sg-bastion".into()),
    };
    ex.bastion_count = 0;
    let mut exd = env(2);
    out.push(dump("existing-undiscovered", &c222, &ex, &exd));
    exd.env.existing_vpc = Some(ExistingVpc {
        id: "vpc-1".into(),
        cidr: "172.31.0.0/16".into(),
        subnets: vec![
            ("subnet-1".into(), "eu-west-1a".into()),
            ("subnet-2".into(), "eu-west-1b".into()),
        ],
    });
    for (k, id) in [
        ("vpc", "vpc-1"),
        ("subnet/private-1", "subnet-1"),
        ("subnet/private-2", "subnet-2"),
    ] {
        exd.state.put(Actual::new(
            if k == "vpc" { Kind::Vpc } else { Kind::Subnet },
            k,
            id,
        ));
        exd.external.insert(k.into());
    }
    out.push(dump("existing", &c222, &ex, &exd));
    let mut ex2 = ex.clone();
    ex2.network = Network::Existing {
        vpc_id: "vpc-1".into(),
        subnet_ids: vec!["subnet-1".into(), "subnet-2".into()],
        bastion_security_group: None,
    };
    out.push(dump("existing-no-bastion", &c222, &ex2, &exd));
    // Diffs against what an apply of the 2x2 cluster left.
    let first = plan(&c222, &base, &env(2)).unwrap();
    let done = applied(&first, &env(2));
    out.push(dump("again", &c222, &base, &done));
    out.push(dump("scale-out", &spec("orders", 3, 3, 3), &base, &done));
    out.push(dump("scale-in", &spec("orders", 1, 1, 1), &base, &done));
    out.push(dump("more-ns", &spec("orders", 3, 2, 2), &base, &done));
    let mut cidr = base.clone();
    cidr.network = Network::New {
        cidr: "10.1.0.0/16".into(),
        azs: vec![],
        az_count: 2,
        nat_per_az: true,
    };
    out.push(dump("cidr-change", &c222, &cidr, &done));
    let mut zones = env(2);
    zones.env.azs = vec!["eu-west-1b".into(), "eu-west-1a".into()];
    zones.state = done.state.clone();
    out.push(dump("zones-swapped", &c222, &base, &zones));
    let small = cluster(
        "apiVersion: rmq.dev/v1alpha1\nkind: RocketMQCluster\nmetadata: {name: orders}\nspec:\n  nameServer: {replicas: 2}\n  brokers: {groups: 2, replicasPerGroup: 2, storage: {size: 10Gi}}\n",
    );
    out.push(dump("shrink-volume", &small, &base, &done));
    let mut unhashed = done.clone();
    for k in ["rtb/private-1", "sg/broker", "lt/broker-a-1"] {
        if let Some(a) = unhashed.state.resources.get_mut(k) {
            a.hash = None;
        }
    }
    if let Some(a) = unhashed.state.resources.get_mut("asg/broker-b-0") {
        a.attrs.insert("desired".into(), "2".into());
    }
    if let Some(a) = unhashed.state.resources.get_mut("asg/namesrv-1") {
        a.hash = Some("stale".into());
    }
    if let Some(a) = unhashed.state.resources.get_mut("artefacts") {
        a.attrs.insert("sha256/rmq-broker".into(), "11".into());
    }
    unhashed
        .duplicates
        .push(Actual::new(Kind::Subnet, "subnet/public-1", "dup-1"));
    unhashed
        .state
        .put(Actual::new(Kind::Volume, "untracked/vol-9", "vol-9"));
    out.push(dump("damaged", &c222, &base, &unhashed));
    let mut nofiles_done = done.clone();
    nofiles_done.env.artefact_files.clear();
    if let Some(a) = nofiles_done.state.resources.get_mut("artefacts") {
        a.attrs.remove("sha256/rmq-namesrv");
    }
    out.push(dump(
        "no-files-existing-bucket",
        &c222,
        &base,
        &nofiles_done,
    ));
    let mut foreign = done.clone();
    if let Some(a) = foreign.state.resources.get_mut("artefacts") {
        a.attrs.insert("owned".into(), "false".into());
        a.attrs.insert("ours".into(), "false".into());
    }
    out.push(
        json!({"name": "destroy-foreign", "destroy": plan_destroy("orders", &base, &foreign)}),
    );
    std::fs::write(path, serde_json::to_string_pretty(&out).unwrap()).unwrap();
}
