//! The broker's topic table: system topics, auto-creation from TBW102, retry/DLQ topics, admin
//! updates, persistence to `config/topics.json`, and the data version the nameserver watches.

use super::persist::{load_json, save_json};
use parking_lot::RwLock;
use rmq_protocol::body::route::perm;
use rmq_protocol::body::topic_config::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use rmq_protocol::message::SCHEDULE_TOPIC;
use rmq_protocol::names;
use rmq_store::group_commit::GroupCommit;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Why a topic could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum TopicTableError {
    /// Illegal name.
    #[error("{0}")]
    InvalidName(String),
    /// The change would be refused (system topic, bad queue count).
    #[error("{0}")]
    Refused(String),
    /// The table could not be written.
    #[error("cannot persist topics: {0}")]
    Io(#[from] std::io::Error),
}

struct Inner {
    topics: BTreeMap<String, Arc<TopicConfig>>,
    version: DataVersion,
    /// Topics created or changed since the last registration was taken; `None` when the next
    /// one must carry every topic (start, a deletion, a permission change, a failed round).
    unregistered: Option<BTreeSet<String>>,
}

/// More changed topics than this are registered as a whole table.
const MAX_INCREMENTAL_TOPICS: usize = 256;

impl Inner {
    /// Records a created or changed topic for the next registration.
    fn changed(&mut self, topic: &str, now_ms: i64) {
        self.version.next(now_ms);
        if let Some(set) = self.unregistered.as_mut() {
            set.insert(topic.to_owned());
            if set.len() > MAX_INCREMENTAL_TOPICS {
                self.unregistered = None;
            }
        }
    }
}

/// Topic configs of this broker.
pub struct TopicTable {
    inner: RwLock<Inner>,
    path: PathBuf,
    /// Writes `topics.json`, one write for concurrent changes.
    writer: GroupCommit,
}

impl TopicTable {
    /// Loads `config/topics.json` under `store_root` and adds the system topics.
    pub fn load(
        store_root: &std::path::Path,
        auto_create: bool,
        default_queue_nums: i32,
        now_ms: i64,
    ) -> std::io::Result<Self> {
        let path = store_root.join("config").join("topics.json");
        let saved: Option<TopicConfigSerializeWrapper> = load_json(&path)?;
        let (topics, version) = match saved {
            Some(w) => (w.topic_config_table, w.data_version),
            None => (BTreeMap::new(), DataVersion::default()),
        };
        let mut topics: BTreeMap<String, Arc<TopicConfig>> =
            topics.into_iter().map(|(k, v)| (k, Arc::new(v))).collect();
        let mut tbw = TopicConfig::new(names::AUTO_CREATE_TOPIC_KEY, default_queue_nums);
        tbw.perm = if auto_create {
            perm::INHERIT | perm::READ_WRITE
        } else {
            perm::READ_WRITE
        };
        topics.insert(tbw.topic_name.clone(), Arc::new(tbw));
        for (name, queues) in [
            (names::SELF_TEST_TOPIC, 1),
            (SCHEDULE_TOPIC, 18),
            (names::TRANS_HALF_TOPIC, 1),
            (names::TRANS_OP_HALF_TOPIC, 1),
        ] {
            topics
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(TopicConfig::new(name, queues)));
        }
        let mut version = version;
        version.next(now_ms);
        let table = Self {
            inner: RwLock::new(Inner {
                topics,
                version,
                unregistered: None,
            }),
            path,
            writer: GroupCommit::default(),
        };
        table.persist()?;
        Ok(table)
    }

    /// Makes the table as it is now (with the caller's change) durable: returns once a write
    /// that includes it finished — its own, or one another caller made meanwhile.
    fn persist(&self) -> std::io::Result<()> {
        self.writer
            .commit(|| save_json(&self.path, &self.snapshot()))
    }

    /// The config of `topic`.
    pub fn get(&self, topic: &str) -> Option<Arc<TopicConfig>> {
        self.inner.read().topics.get(topic).cloned()
    }

    /// Every topic and the table's version (what the broker registers).
    pub fn snapshot(&self) -> TopicConfigSerializeWrapper {
        let inner = self.inner.read();
        TopicConfigSerializeWrapper {
            topic_config_table: inner
                .topics
                .iter()
                .map(|(k, v)| (k.clone(), (**v).clone()))
                .collect(),
            data_version: inner.version,
            ..TopicConfigSerializeWrapper::default()
        }
    }

    /// What the next registration carries, taken with the version it is at: every topic when
    /// `whole` or when a change needs it, else only the topics created or changed since the
    /// previous registration was taken (as Java's `registerIncrementBrokerData`). Nameservers
    /// add a registration's topics to the broker's routes (they never drop the absent ones)
    /// and only when the version moved, so taking the changes and the version together means
    /// every change up to that version is in this registration or an earlier one.
    pub fn take_registration(&self, whole: bool) -> TopicConfigSerializeWrapper {
        let mut inner = self.inner.write();
        let changed = inner.unregistered.replace(BTreeSet::new());
        let topics = match changed {
            Some(set) if !whole => set
                .iter()
                .filter_map(|t| inner.topics.get(t).map(|c| (t.clone(), (**c).clone())))
                .collect(),
            _ => inner
                .topics
                .iter()
                .map(|(k, v)| (k.clone(), (**v).clone()))
                .collect(),
        };
        TopicConfigSerializeWrapper {
            topic_config_table: topics,
            data_version: inner.version,
            ..TopicConfigSerializeWrapper::default()
        }
    }

    /// Makes the next registration carry every topic (a nameserver missed the last one).
    pub fn register_whole_table_next(&self) {
        self.inner.write().unregistered = None;
    }

    /// Stamps the table's version with the controller-mode master epoch of this run (RocketMQ
    /// 5's `stateVersion`; 0 outside controller mode): nameservers compare it to refuse a
    /// deposed master's registration.
    pub fn set_state_version(&self, state_version: i64) {
        self.inner.write().version.state_version = state_version;
    }

    /// The table's version.
    pub fn data_version(&self) -> DataVersion {
        self.inner.read().version
    }

    /// Records a change that is not in the table but in what the broker registers with it
    /// (the broker's permission): nameservers take a registration's topics only when the
    /// version moved, as Java's `updateBrokerConfig` of `brokerPermission` makes it move.
    pub fn touch(&self, now_ms: i64) {
        let mut inner = self.inner.write();
        inner.version.next(now_ms);
        inner.unregistered = None;
    }

    /// Topic names.
    pub fn names(&self) -> Vec<String> {
        self.inner.read().topics.keys().cloned().collect()
    }

    /// Creates or replaces a topic (admin). Returns true if anything changed.
    pub fn upsert(&self, config: TopicConfig, now_ms: i64) -> Result<bool, TopicTableError> {
        names::validate_topic(&config.topic_name).map_err(TopicTableError::InvalidName)?;
        if config.read_queue_nums < 0 || config.write_queue_nums < 0 {
            return Err(TopicTableError::Refused(format!(
                "topic {}: queue numbers must not be negative",
                config.topic_name
            )));
        }
        {
            let mut inner = self.inner.write();
            if inner.topics.get(&config.topic_name).map(|c| &**c) == Some(&config) {
                return Ok(false);
            }
            let name = config.topic_name.clone();
            inner.topics.insert(name.clone(), Arc::new(config));
            inner.changed(&name, now_ms);
            self.writer.changed();
        }
        self.persist()?;
        Ok(true)
    }

    /// Deletes a topic. Returns true if it existed.
    pub fn delete(&self, topic: &str, now_ms: i64) -> Result<bool, TopicTableError> {
        {
            let mut inner = self.inner.write();
            if inner.topics.remove(topic).is_none() {
                return Ok(false);
            }
            inner.version.next(now_ms);
            inner.unregistered = None;
            self.writer.changed();
        }
        self.persist()?;
        Ok(true)
    }

    /// Creates `topic` on first send from the inheritable `default_topic` (TBW102), with
    /// `min(client_queue_nums, default.writeQueueNums)` queues. `None` if not allowed.
    pub fn create_on_send(
        &self,
        topic: &str,
        default_topic: &str,
        client_queue_nums: i32,
        topic_sys_flag: i32,
        now_ms: i64,
    ) -> Result<Option<Arc<TopicConfig>>, TopicTableError> {
        if let Some(t) = self.get(topic) {
            return Ok(Some(t));
        }
        names::validate_topic(topic).map_err(TopicTableError::InvalidName)?;
        let Some(default) = self.get(default_topic) else {
            return Ok(None);
        };
        if default.perm & perm::INHERIT == 0 {
            return Ok(None);
        }
        let queues = client_queue_nums.clamp(1, default.write_queue_nums.max(1));
        let mut cfg = TopicConfig::new(topic, queues);
        cfg.perm = default.perm & !perm::INHERIT;
        cfg.topic_filter_type.clone_from(&default.topic_filter_type);
        cfg.topic_sys_flag = topic_sys_flag;
        self.create_if_absent(cfg, now_ms)
    }

    /// Creates a broker-managed topic (retry, DLQ) if missing.
    pub fn ensure(
        &self,
        topic: &str,
        queues: i32,
        perm_bits: i32,
        now_ms: i64,
    ) -> Result<Arc<TopicConfig>, TopicTableError> {
        if let Some(t) = self.get(topic) {
            return Ok(t);
        }
        let mut cfg = TopicConfig::new(topic, queues);
        cfg.perm = perm_bits;
        Ok(self
            .create_if_absent(cfg, now_ms)?
            .unwrap_or_else(|| Arc::new(TopicConfig::new(topic, queues))))
    }

    /// Replaces the whole table with the master's (slave metadata sync). Does nothing if the
    /// versions are equal; returns true if the table was replaced.
    pub fn replace_all(&self, master: TopicConfigSerializeWrapper) -> std::io::Result<bool> {
        {
            let mut inner = self.inner.write();
            if inner.version == master.data_version {
                return Ok(false);
            }
            inner.topics = master
                .topic_config_table
                .into_iter()
                .map(|(k, v)| (k, Arc::new(v)))
                .collect();
            inner.version = master.data_version;
            inner.unregistered = None;
            self.writer.changed();
        }
        self.persist()?;
        Ok(true)
    }

    fn create_if_absent(
        &self,
        cfg: TopicConfig,
        now_ms: i64,
    ) -> Result<Option<Arc<TopicConfig>>, TopicTableError> {
        let created = {
            let mut inner = self.inner.write();
            if let Some(existing) = inner.topics.get(&cfg.topic_name) {
                return Ok(Some(existing.clone()));
            }
            let arc = Arc::new(cfg);
            inner.topics.insert(arc.topic_name.clone(), arc.clone());
            inner.changed(&arc.topic_name, now_ms);
            self.writer.changed();
            arc
        };
        tracing::info!(topic = %created.topic_name, queues = created.write_queue_nums, "topic created");
        self.persist()?;
        Ok(Some(created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(t: &TopicTable, whole: bool) -> (Vec<String>, i64) {
        let w = t.take_registration(whole);
        let names = w.topic_config_table.keys().cloned().collect();
        (names, w.data_version.counter)
    }

    #[test]
    fn registrations_carry_the_changes_since_the_last_one_or_everything() {
        let dir = tempfile::tempdir().unwrap();
        let t = TopicTable::load(dir.path(), false, 8, 1).unwrap();
        let (all, _) = registered(&t, false);
        assert!(
            all.len() >= 5,
            "the first registration carries every topic: {all:?}"
        );
        assert_eq!(registered(&t, false).0, Vec::<String>::new());
        t.upsert(TopicConfig::new("a", 4), 2).unwrap();
        t.ensure("b", 1, perm::READ_WRITE, 3).unwrap();
        let (changed, version) = registered(&t, false);
        assert_eq!(changed, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(
            version,
            t.data_version().counter,
            "taken with the version it is at"
        );
        assert_eq!(
            registered(&t, true).0.len(),
            all.len() + 2,
            "periodic: whole"
        );
        t.upsert(TopicConfig::new("c", 4), 4).unwrap();
        t.delete("a", 5).unwrap();
        let (after_delete, _) = registered(&t, false);
        assert_eq!(
            after_delete.len(),
            all.len() + 2,
            "a deletion makes it whole"
        );
        t.upsert(TopicConfig::new("d", 4), 6).unwrap();
        t.register_whole_table_next();
        assert_eq!(
            registered(&t, false).0.len(),
            all.len() + 3,
            "a missed round too"
        );
        for i in 0..=MAX_INCREMENTAL_TOPICS {
            t.upsert(TopicConfig::new(format!("many-{i}"), 1), 7)
                .unwrap();
        }
        let (many, _) = registered(&t, false);
        assert!(
            many.len() > MAX_INCREMENTAL_TOPICS + 3,
            "too many changes: whole"
        );
    }

    #[test]
    fn auto_create_inherits_from_tbw102_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let t = TopicTable::load(dir.path(), true, 8, 1).unwrap();
        let v0 = t.data_version().counter;
        let c = t
            .create_on_send("orders", "TBW102", 4, 0, 2)
            .unwrap()
            .unwrap();
        assert_eq!(c.write_queue_nums, 4);
        assert_eq!(c.perm, perm::READ_WRITE);
        assert!(t.data_version().counter > v0);
        let c = t
            .create_on_send("big", "TBW102", 64, 0, 3)
            .unwrap()
            .unwrap();
        assert_eq!(c.write_queue_nums, 8, "clamped to TBW102's queues");
        assert!(t.create_on_send("bad name", "TBW102", 4, 0, 3).is_err());
        let again = TopicTable::load(dir.path(), true, 8, 4).unwrap();
        assert_eq!(again.get("orders").unwrap().write_queue_nums, 4);
    }

    #[test]
    fn auto_create_off_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let t = TopicTable::load(dir.path(), false, 8, 1).unwrap();
        assert!(
            t.create_on_send("orders", "TBW102", 4, 0, 2)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn upsert_is_idempotent_and_delete_works() {
        let dir = tempfile::tempdir().unwrap();
        let t = TopicTable::load(dir.path(), true, 8, 1).unwrap();
        assert!(t.upsert(TopicConfig::new("T", 4), 2).unwrap());
        assert!(!t.upsert(TopicConfig::new("T", 4), 3).unwrap());
        assert!(t.upsert(TopicConfig::new("T", 8), 4).unwrap());
        assert!(t.delete("T", 5).unwrap());
        assert!(!t.delete("T", 6).unwrap());
        let mut neg = TopicConfig::new("N", 1);
        neg.read_queue_nums = -1;
        assert!(t.upsert(neg, 7).is_err());
    }

    #[test]
    fn concurrent_changes_all_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let t = Arc::new(TopicTable::load(dir.path(), true, 8, 1).unwrap());
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let t = t.clone();
                std::thread::spawn(move || {
                    for i in 0..40 {
                        t.upsert(TopicConfig::new(format!("T-{w}-{i}"), 4), 2)
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let reloaded = TopicTable::load(dir.path(), true, 8, 3).unwrap();
        let names = reloaded.names();
        let user = names.iter().filter(|n| n.starts_with("T-")).count();
        assert_eq!(user, 8 * 40, "every acknowledged change is in topics.json");
    }
}
