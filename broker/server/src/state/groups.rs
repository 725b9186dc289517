//! Subscription groups: auto-created on first heartbeat or pull (when enabled), managed by admin
//! requests, persisted to `config/subscriptionGroup.json`.

use super::persist::{load_json, save_json};
use parking_lot::RwLock;
use rmq_protocol::body::subscription::{SubscriptionGroupConfig, SubscriptionGroupWrapper};
use rmq_protocol::body::topic_config::DataVersion;
use rmq_store::group_commit::GroupCommit;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

struct Inner {
    groups: BTreeMap<String, Arc<SubscriptionGroupConfig>>,
    version: DataVersion,
}

/// Subscription group configs of this broker.
pub struct GroupTable {
    inner: RwLock<Inner>,
    path: PathBuf,
    auto_create: bool,
    /// Writes `subscriptionGroup.json`, one write for concurrent changes.
    writer: GroupCommit,
}

impl GroupTable {
    /// Loads `config/subscriptionGroup.json` under `store_root`.
    pub fn load(store_root: &std::path::Path, auto_create: bool) -> std::io::Result<Self> {
        let path = store_root.join("config").join("subscriptionGroup.json");
        let saved: Option<SubscriptionGroupWrapper> = load_json(&path)?;
        let (groups, version) = saved
            .map(|w| (w.subscription_group_table, w.data_version))
            .unwrap_or_default();
        let mut groups: BTreeMap<String, Arc<SubscriptionGroupConfig>> =
            groups.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        for system in ["TOOLS_CONSUMER", "SELF_TEST_C_GROUP", "CID_RMQ_SYS_TRANS"] {
            groups
                .entry(system.to_owned())
                .or_insert_with(|| Arc::new(SubscriptionGroupConfig::new(system)));
        }
        Ok(Self {
            inner: RwLock::new(Inner { groups, version }),
            path,
            auto_create,
            writer: GroupCommit::default(),
        })
    }

    fn persist(&self) {
        let saved = self
            .writer
            .commit(|| save_json(&self.path, &self.snapshot()));
        if let Err(e) = saved {
            tracing::error!(path = %self.path.display(), error = %e, "cannot persist subscription groups");
        }
    }

    /// The group's config, creating a default one if auto-creation is on.
    pub fn find_or_create(&self, group: &str, now_ms: i64) -> Option<Arc<SubscriptionGroupConfig>> {
        if let Some(g) = self.get(group) {
            return Some(g);
        }
        if !self.auto_create || rmq_protocol::names::validate_group(group).is_err() {
            return None;
        }
        let created = {
            let mut inner = self.inner.write();
            let g = inner
                .groups
                .entry(group.to_owned())
                .or_insert_with(|| Arc::new(SubscriptionGroupConfig::new(group)))
                .clone();
            inner.version.next(now_ms);
            self.writer.changed();
            g
        };
        tracing::info!(group, "subscription group auto-created");
        self.persist();
        Some(created)
    }

    /// The group's config.
    pub fn get(&self, group: &str) -> Option<Arc<SubscriptionGroupConfig>> {
        self.inner.read().groups.get(group).cloned()
    }

    /// Creates or replaces a group (admin). Returns true if anything changed.
    pub fn upsert(&self, config: SubscriptionGroupConfig, now_ms: i64) -> bool {
        {
            let mut inner = self.inner.write();
            if inner.groups.get(&config.group_name).map(|g| &**g) == Some(&config) {
                return false;
            }
            inner
                .groups
                .insert(config.group_name.clone(), Arc::new(config));
            inner.version.next(now_ms);
            self.writer.changed();
        }
        self.persist();
        true
    }

    /// Deletes a group. Returns true if it existed.
    pub fn delete(&self, group: &str, now_ms: i64) -> bool {
        {
            let mut inner = self.inner.write();
            if inner.groups.remove(group).is_none() {
                return false;
            }
            inner.version.next(now_ms);
            self.writer.changed();
        }
        self.persist();
        true
    }

    /// Replaces every group with the master's (slave metadata sync). Does nothing if the
    /// versions are equal; returns true if the table was replaced.
    pub fn replace_all(&self, master: SubscriptionGroupWrapper) -> bool {
        {
            let mut inner = self.inner.write();
            if inner.version == master.data_version {
                return false;
            }
            inner.groups = master
                .subscription_group_table
                .into_iter()
                .map(|(k, v)| (k, Arc::new(v)))
                .collect();
            inner.version = master.data_version;
            self.writer.changed();
        }
        self.persist();
        true
    }

    /// Every group.
    pub fn snapshot(&self) -> SubscriptionGroupWrapper {
        let inner = self.inner.read();
        SubscriptionGroupWrapper {
            subscription_group_table: inner
                .groups
                .iter()
                .map(|(k, v)| (k.clone(), (**v).clone()))
                .collect(),
            data_version: inner.version,
            ..SubscriptionGroupWrapper::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_create_upsert_delete_reload() {
        let dir = tempfile::tempdir().unwrap();
        let t = GroupTable::load(dir.path(), true).unwrap();
        assert!(t.find_or_create("g1", 1).is_some());
        let mut cfg = SubscriptionGroupConfig::new("g2");
        cfg.retry_max_times = 3;
        assert!(t.upsert(cfg.clone(), 2));
        assert!(!t.upsert(cfg, 3));
        assert!(t.delete("g1", 4));
        let again = GroupTable::load(dir.path(), false).unwrap();
        assert_eq!(again.get("g2").unwrap().retry_max_times, 3);
        assert!(again.get("g1").is_none());
        assert!(again.find_or_create("g3", 5).is_none(), "auto-create off");
    }
}
