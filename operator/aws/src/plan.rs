//! The pure diff: desired resources (from [`crate::layout`]) against what discovery found by tag
//! ([`Discovered`]) → ordered [`Action`]s. Creates and updates run in creation order (every
//! reference points to a lower [`Kind::rank`]), deletes afterwards in reverse order; `destroy`
//! is every managed resource deleted in reverse order.
//!
//! Deletes in an apply plan are destructive ([`Plan::destructive`]: scale-in, resources no
//! longer in the layout, untracked or duplicate tagged resources): they are listed with why, and
//! `rmqctl aws apply` runs them only when confirmed (`--yes`).
//!
//! A resource is up to date when its `rmq.dev/hash` tag equals the hash of its spec resolved
//! against the current state. A resource created by an apply that stopped part-way has no hash
//! tag yet, so it is updated ("converged"), not created twice: that is what makes a re-run after
//! a failure converge.

pub use crate::action::{Action, Op};
use crate::discovered::{Discovered, Environment};
use crate::error::PlanError;
use crate::layout::{ControllerPlacement, controllers, layout};
use crate::params::Params;
use crate::resource::{Actual, ArtefactFile, Attr, BINARIES, Kind, Resource, Spec, State};
use crate::roll::roll_order;
use rmq_model::ValidatedCluster;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A plan: the desired resources and the actions that get there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The cluster's name (the `rmq.dev/cluster` and `rmq:cluster` tags).
    pub cluster: String,
    /// The `rmq:stack` tag's value (what the node role's IAM policy is scoped to).
    pub stack: String,
    /// Desired resources in creation order (empty for destroy).
    pub resources: Vec<Resource>,
    /// The controllers of `failover: Automatic` and the nameserver nodes that run them (empty
    /// otherwise, and for destroy).
    pub controllers: Vec<ControllerPlacement>,
    /// Actions in execution order.
    pub actions: Vec<Action>,
    /// Things the user should know (nothing blocks).
    pub warnings: Vec<String>,
}

impl Plan {
    /// Number of actions by op.
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |op| self.actions.iter().filter(|a| a.op == op).count();
        (n(Op::Create), n(Op::Update), n(Op::Delete))
    }

    /// The desired resource with `key`.
    pub fn resource(&self, key: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.key == key)
    }

    /// The actions that delete something: in an apply plan they need a confirmation.
    pub fn destructive(&self) -> Vec<&Action> {
        self.actions.iter().filter(|a| a.op == Op::Delete).collect()
    }
}

/// Plans `apply`.
pub fn plan(
    cluster: &ValidatedCluster,
    params: &Params,
    found: &Discovered,
) -> Result<Plan, Vec<PlanError>> {
    params
        .validate()
        .map_err(|errs| errs.into_iter().map(PlanError::from).collect::<Vec<_>>())?;
    if params.instance_profile.as_deref().is_none_or(str::is_empty) {
        return Err(vec![no_instance_profile()]);
    }
    let resources = layout(cluster, params, &found.env)?;
    let mut actions = changes(&resources, found, cluster.failover.is_none())?;
    actions.extend(deletes(&resources, found));
    Ok(Plan {
        cluster: cluster.name.clone(),
        stack: params.stack(&cluster.name),
        resources,
        controllers: controllers(cluster),
        actions,
        warnings: warnings(cluster, params, &found.env),
    })
}

/// Without an instance profile the nodes cannot attach their interface and volume, fetch their
/// binaries or read their secrets: every node would boot and fail.
fn no_instance_profile() -> PlanError {
    PlanError::new(
        "--instance-profile is missing: without the node role the nodes cannot attach their interface and data volume, download their binaries from S3 or read their secrets, so none would start",
        "create the role and its instance profile from `rmqctl aws plan --print-iam-policy`, then pass --instance-profile NAME",
    )
}

/// Things the user should know about `cluster` on AWS.
fn warnings(cluster: &ValidatedCluster, params: &Params, env: &Environment) -> Vec<String> {
    let mut warnings = Vec::new();
    if !cluster.broker_config.is_empty() {
        warnings.push(format!(
            "spec.brokers.config ({} key(s)) is not applied on AWS: the node bootstrap writes broker.conf itself, from the typed fields (replication, flush, retention)",
            cluster.broker_config.len()
        ));
    }
    if !params.monitoring() {
        warnings.push(
            "no --log-group: the nodes' CloudWatch agent does not run, so no metrics reach CloudWatch and no alarms or dashboard are made (pass --log-group NAME, an existing CloudWatch Logs group)".into(),
        );
    }
    for (name, arch) in &env.binary_archs {
        if arch.is_empty() {
            warnings.push(format!(
                "{name} under --artefact-dir is not an ELF executable: its architecture is not checked (the nodes refuse to run it if it is not theirs)"
            ));
        }
    }
    warnings
}

/// The creates and updates that bring what exists to `resources`, in creation order (groups
/// roll nameservers first, then brokers; with `fixed_masters` slaves before masters: see
/// [`crate::roll`]); every problem found on the way.
fn changes(
    resources: &[Resource],
    found: &Discovered,
    fixed_masters: bool,
) -> Result<Vec<Action>, Vec<PlanError>> {
    let mut errs = Vec::new();
    let mut actions = Vec::new();
    // What references resolve to before the apply: ids of resources that exist; the version of
    // a launch template that will get a new version is not known yet.
    let mut sim = found.state.clone();
    for r in resources {
        let actual = found
            .state
            .get(&r.key)
            .filter(|a| !found.external.contains(&a.key));
        let Some((op, reason)) = change(r, actual, &sim, &mut errs) else {
            continue;
        };
        if r.kind() == Kind::LaunchTemplate
            && let Some(a) = sim.resources.get_mut(&r.key)
        {
            a.attrs.remove("version");
        }
        actions.push(Action {
            op,
            kind: r.kind(),
            key: r.key.clone(),
            id: actual.map(|a| a.id.clone()),
            reason,
        });
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    actions.sort_by_key(|a| (a.kind.rank(), roll_order(a, fixed_masters)));
    Ok(actions)
}

/// What `r` needs given what exists (`actual`): a create, an update and why, or nothing.
fn change(
    r: &Resource,
    actual: Option<&Actual>,
    sim: &State,
    errs: &mut Vec<PlanError>,
) -> Option<(Op, String)> {
    let Some(a) = actual else {
        if let Spec::Artefacts {
            files,
            bucket,
            prefix,
            ..
        } = &r.spec
            && !uploads_binaries(files)
        {
            // A new bucket without binaries would boot nodes that cannot start.
            missing_binaries(bucket, prefix, None, errs);
        }
        return Some((Op::Create, String::new()));
    };
    immutable(r, a, sim, errs);
    diff(r, a, sim, errs).map(|reason| (Op::Update, reason))
}

/// Deletes, in reverse creation order: what is managed but no longer desired, and duplicates,
/// each with why (see [`Plan::destructive`]).
fn deletes(resources: &[Resource], found: &Discovered) -> Vec<Action> {
    let desired: BTreeSet<&str> = resources.iter().map(|r| r.key.as_str()).collect();
    let mut deletes: Vec<Action> = found
        .managed()
        .into_iter()
        .filter(|a| !desired.contains(a.key.as_str()) || found.duplicates.contains(a))
        .map(|a| {
            let mut d = delete(a, found);
            if d.reason.is_empty() {
                d.reason = delete_reason(&a.key);
            }
            d
        })
        .collect();
    deletes.sort_by_key(|a| std::cmp::Reverse(a.kind.rank()));
    deletes
}

/// Plans `destroy`: every managed resource, in reverse creation order.
pub fn plan_destroy(cluster: &str, params: &Params, found: &Discovered) -> Plan {
    Plan {
        cluster: cluster.to_owned(),
        stack: params.stack(cluster),
        resources: Vec::new(),
        controllers: Vec::new(),
        actions: found
            .managed()
            .into_iter()
            // A bucket or objects someone else put there are not the cluster's to delete.
            .filter(|a| {
                a.kind != Kind::Artefacts
                    || a.attrs.get("owned").is_some_and(|v| v == "true")
                    || a.attrs.get("ours").is_some_and(|v| v == "true")
            })
            .map(|a| delete(a, found))
            .collect(),
        warnings: Vec::new(),
    }
}

/// Why an apply deletes the managed resource `key` that the layout no longer has.
fn delete_reason(key: &str) -> String {
    let node = key.split_once('/').map(|(_, n)| n).unwrap_or(key);
    if key.starts_with("untracked/") {
        "untracked: tagged for the cluster but no resource rmqctl knows (no rmq.dev/resource tag)"
            .into()
    } else if node.starts_with("broker-") || node.starts_with("namesrv-") {
        format!("scale-in: node {node} is no longer in the spec")
    } else {
        "no longer in the layout".into()
    }
}

/// The delete of `a` (a duplicate says so).
fn delete(a: &Actual, found: &Discovered) -> Action {
    Action {
        op: Op::Delete,
        kind: a.kind,
        key: a.key.clone(),
        id: Some(a.id.clone()),
        reason: if found.duplicates.contains(a) {
            "duplicate of the same resource".into()
        } else {
            String::new()
        },
    }
}

/// Whether `files` hold the binaries (`--artefact-dir`), not only the node scripts rmqctl
/// carries itself.
fn uploads_binaries(files: &[ArtefactFile]) -> bool {
    files.iter().any(|f| BINARIES.contains(&f.name.as_str()))
}

/// Without `--artefact-dir` the binaries must already be under the prefix: one error per
/// binary that `a` (the discovered bucket, `None` when it does not exist yet) does not hold.
fn missing_binaries(bucket: &str, prefix: &str, a: Option<&Actual>, errs: &mut Vec<PlanError>) {
    for name in BINARIES {
        if !a.is_some_and(|a| a.attrs.contains_key(&format!("sha256/{name}"))) {
            errs.push(PlanError::new(
                format!("s3://{bucket}/{prefix}{name} does not exist"),
                "pass --artefact-dir DIR (holding rmq-namesrv and rmq-broker) to upload them",
            ));
        }
    }
}

/// Why an existing resource needs converging, or `None` when it is up to date.
fn diff(r: &Resource, a: &Actual, sim: &State, errs: &mut Vec<PlanError>) -> Option<String> {
    if let Spec::Artefacts {
        files,
        bucket,
        prefix,
        ..
    } = &r.spec
    {
        if !uploads_binaries(files) {
            missing_binaries(bucket, prefix, Some(a), errs);
        }
        let stale: Vec<&str> = files
            .iter()
            .filter(|f| a.attrs.get(&format!("sha256/{}", f.name)) != Some(&f.sha256))
            .map(|f| f.name.as_str())
            .collect();
        return (!stale.is_empty()).then(|| format!("upload {}", stale.join(", ")));
    }
    let hash = r.hash(sim);
    let reason = match &a.hash {
        None => Some("not converged (an earlier apply stopped part-way)".to_owned()),
        Some(h) if *h != hash => Some("spec changed".to_owned()),
        Some(_) => None,
    };
    if reason.is_some() {
        return reason;
    }
    drift(&r.spec, a)
}

/// A converged resource changed out of band: Auto Scaling group capacities, an alarm's
/// threshold or metric.
fn drift(spec: &Spec, a: &Actual) -> Option<String> {
    let wants: Vec<(&str, String)> = match spec {
        Spec::AutoScalingGroup { size, .. } => ["min", "max", "desired"]
            .into_iter()
            .map(|k| (k, size.to_string()))
            .collect(),
        Spec::Alarm(alarm) => vec![
            ("threshold", alarm.threshold.to_string()),
            ("metric", alarm.metric.clone()),
            ("namespace", alarm.namespace.clone()),
        ],
        _ => Vec::new(),
    };
    wants.into_iter().find_map(|(k, want)| {
        let have = a.attrs.get(k).filter(|v| **v != want)?;
        Some(match spec {
            Spec::AutoScalingGroup { .. } => format!("{k} capacity drifted to {have}"),
            _ => format!("{k} drifted to {have}"),
        })
    })
}

/// Properties that cannot change in place.
fn immutable(r: &Resource, a: &Actual, sim: &State, errs: &mut Vec<PlanError>) {
    let mut check = |what: &str, want: Option<String>, fix: &str| {
        if let (Some(want), Some(have)) = (want, a.attrs.get(what))
            && want != *have
        {
            errs.push(PlanError::new(
                format!(
                    "{} {}: {what} would change from {have} to {want}, which needs a new resource",
                    r.key, a.id
                ),
                fix,
            ));
        }
    };
    match &r.spec {
        Spec::Vpc { cidr } => check(
            "cidr",
            Some(cidr.clone()),
            "keep --vpc-cidr as it was, or destroy and re-create the cluster",
        ),
        Spec::Subnet { cidr, az, .. } => {
            check("cidr", Some(cidr.clone()), "keep --vpc-cidr as it was");
            check("az", Some(az.clone()), "keep --azs/--az-count as they were");
        }
        Spec::NetworkInterface { subnet, .. } => check(
            "subnet",
            subnet.resolve(sim),
            "keep the zones as they were (a node's zone follows from the zone count; its address and data live there)",
        ),
        Spec::Volume { az, size_gib, .. } => {
            check("az", Some(az.clone()), "keep the zones as they were");
            if let Some(have) = a.attrs.get("size").and_then(|s| s.parse::<i32>().ok())
                && *size_gib < have
            {
                errs.push(PlanError::new(
                    format!(
                        "{} {}: EBS volumes cannot shrink ({have} GiB -> {size_gib} GiB)",
                        r.key, a.id
                    ),
                    "keep spec.brokers.storage.size at least as large as before",
                ));
            }
        }
        _ => {}
    }
}

/// How many resources of each kind a plan would end with (for summaries).
pub fn census(resources: &[Resource]) -> BTreeMap<Kind, usize> {
    let mut m = BTreeMap::new();
    for r in resources {
        *m.entry(r.kind()).or_insert(0) += 1;
    }
    m
}

/// The attribute a reference reads is known in `state`.
pub fn known(state: &State, key: &str, attr: Attr) -> bool {
    state.attr(key, attr).is_some()
}
