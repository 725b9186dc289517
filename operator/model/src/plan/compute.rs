//! [`plan`]: the diff itself, one generic path for topics and groups ([`Declared`]), then
//! pruning ([`super::ownership`]).

use super::declared::{Declared, declared_keys};
use super::key::OwnedKey;
use super::model::{Action, BrokerRef, Desired, Observed, ObservedBroker, PlanError};
use super::ownership;
use crate::validate::{GroupDecl, TopicDecl};
use std::collections::BTreeSet;

/// Computes the plan. Pure.
pub fn plan(desired: &Desired, observed: &Observed) -> Result<Vec<Action>, Vec<PlanError>> {
    check_clusters(desired, observed)?;
    let mut actions = Vec::new();
    plan_kind::<TopicDecl>(desired, observed, &mut actions);
    plan_kind::<GroupDecl>(desired, observed, &mut actions);
    actions.extend(ownership::prune(desired, observed));
    Ok(actions)
}

/// Every cluster a declaration names must be registered and have a master in each group.
fn check_clusters(desired: &Desired, observed: &Observed) -> Result<(), Vec<PlanError>> {
    let declared: BTreeSet<&str> = declared_keys(desired).map(|(_, c, _)| c).collect();
    let errs: Vec<PlanError> = declared
        .into_iter()
        .filter_map(|c| match observed.clusters.get(c) {
            None => Some(PlanError::UnknownCluster {
                cluster: c.to_owned(),
                known: observed.known_clusters.clone(),
            }),
            Some(oc) if !oc.groups_without_master.is_empty() => Some(PlanError::NoMaster {
                cluster: c.to_owned(),
                groups: oc.groups_without_master.clone(),
            }),
            Some(oc) if oc.masters.is_empty() => Some(PlanError::NoMaster {
                cluster: c.to_owned(),
                groups: vec!["(all)".into()],
            }),
            Some(_) => None,
        })
        .collect();
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// Ownership, then create or update on every master, for each declaration of kind `D` in
/// (cluster, name) order.
fn plan_kind<D: Declared>(desired: &Desired, observed: &Observed, actions: &mut Vec<Action>) {
    let mut decls: Vec<&D> = D::declared(desired).iter().collect();
    decls.sort_by(|a, b| (a.cluster(), a.name()).cmp(&(b.cluster(), b.name())));
    for d in decls {
        let Some(oc) = observed.clusters.get(d.cluster()) else {
            continue;
        };
        let key = OwnedKey {
            kind: D::KIND,
            cluster: d.cluster().to_owned(),
            name: d.name().to_owned(),
        };
        let exists = oc.masters.iter().any(|m| D::held(m).contains_key(d.name()));
        actions.extend(ownership::own(desired, observed, key, exists));
        let want = d.config();
        actions.extend(oc.masters.iter().filter_map(|m| converge(d, &want, m)));
    }
}

/// The action making master `m` hold `want` for `d`, if it does not already.
fn converge<D: Declared>(d: &D, want: &D::Config, m: &ObservedBroker) -> Option<Action> {
    let cluster = d.cluster().to_owned();
    match D::held(m).get(d.name()) {
        None => Some(D::create(cluster, BrokerRef::of(m), want.clone())),
        Some(have) => {
            let changes = d.changes(want, have);
            (!changes.is_empty())
                .then(|| D::update(cluster, BrokerRef::of(m), want.clone(), changes))
        }
    }
}
