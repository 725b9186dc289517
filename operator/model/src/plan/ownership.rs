//! Ownership records (see the [module docs](super)): recording them before an object is
//! created, and pruning what this manager owns but no longer declares.

use super::declared::declared_keys;
use super::key::{ObjectKind, OwnedKey};
use super::model::{Action, BrokerRef, Desired, Observed, ObservedBroker};
use std::collections::{BTreeMap, BTreeSet};

/// Records `desired.manager` as the owner of `key` on every nameserver that lacks the record;
/// `exists` says the object is already on a master (then a missing record means adoption).
pub fn own(desired: &Desired, observed: &Observed, key: OwnedKey, exists: bool) -> Option<Action> {
    let records = observed.owners.get(&key);
    let missing: Vec<String> = observed
        .name_servers
        .iter()
        .filter(|ns| records.and_then(|r| r.get(*ns)) != Some(&desired.manager))
        .cloned()
        .collect();
    (!missing.is_empty()).then(|| Action::Own {
        adopt: exists && records.is_none_or(BTreeMap::is_empty),
        key,
        manager: desired.manager.clone(),
        name_servers: missing,
    })
}

/// Deletions of what this manager owns in a cluster in scope and no longer declares, then the
/// removal of their records.
pub fn prune(desired: &Desired, observed: &Observed) -> Vec<Action> {
    let declared: BTreeSet<(ObjectKind, &str, &str)> = declared_keys(desired).collect();
    let mut deletes = Vec::new();
    let mut disowns = Vec::new();
    for (key, records) in &observed.owners {
        let ours = records.values().any(|m| *m == desired.manager);
        if !ours
            || !desired.scope.contains(&key.cluster)
            || declared.contains(&(key.kind, key.cluster.as_str(), key.name.as_str()))
        {
            continue;
        }
        // A cluster that is not registered cannot have the object deleted now: keep the record.
        if !observed.clusters.contains_key(&key.cluster) {
            continue;
        }
        deletes.extend(delete(key, observed));
        disowns.push(Action::Disown {
            key: key.clone(),
            name_servers: records.keys().cloned().collect(),
        });
    }
    deletes.extend(disowns);
    deletes
}

/// The deletion of `key` from every master of its cluster holding it, if any does.
fn delete(key: &OwnedKey, observed: &Observed) -> Option<Action> {
    let cluster = observed.clusters.get(&key.cluster)?;
    let holders: Vec<BrokerRef> = cluster
        .masters
        .iter()
        .filter(|m| held(key.kind, m, &key.name))
        .map(BrokerRef::of)
        .collect();
    if holders.is_empty() {
        return None;
    }
    Some(match key.kind {
        ObjectKind::Topic => Action::DeleteTopic {
            cluster: key.cluster.clone(),
            topic: key.name.clone(),
            brokers: holders,
            name_servers: observed.name_servers.clone(),
        },
        ObjectKind::Group => Action::DeleteGroup {
            cluster: key.cluster.clone(),
            group: key.name.clone(),
            brokers: holders,
        },
    })
}

/// True if `broker` holds an object of `kind` named `name`.
fn held(kind: ObjectKind, broker: &ObservedBroker, name: &str) -> bool {
    match kind {
        ObjectKind::Topic => broker.topics.contains_key(name),
        ObjectKind::Group => broker.groups.contains_key(name),
    }
}
