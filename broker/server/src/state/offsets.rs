//! Committed consumer offsets (`topic@group` → queue → next offset to consume), flushed to
//! `config/consumerOffset.json` periodically and on shutdown.

use super::persist::{DirtyJson, load_json};
use parking_lot::RwLock;
use rmq_protocol::body::subscription::ConsumerOffsetSerializeWrapper;
use std::collections::{BTreeMap, HashMap};

/// Consumer offsets.
pub struct OffsetTable {
    table: RwLock<HashMap<String, HashMap<i32, i64>>>,
    /// Where each group's last pull of a queue ended (`nextBeginOffset`), in memory only: the
    /// pull offset GET_CONSUME_STATS reports (in-flight = pull offset - committed offset).
    pulled: RwLock<HashMap<String, HashMap<i32, i64>>>,
    file: DirtyJson,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl OffsetTable {
    /// Loads `config/consumerOffset.json` under `store_root`.
    pub fn load(store_root: &std::path::Path) -> std::io::Result<Self> {
        let path = store_root.join("config").join("consumerOffset.json");
        let saved: Option<ConsumerOffsetSerializeWrapper> = load_json(&path)?;
        let table = saved
            .map(|w| {
                w.offset_table
                    .into_iter()
                    .map(|(k, v)| (k, v.into_iter().collect()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            table: RwLock::new(table),
            pulled: RwLock::default(),
            file: DirtyJson::new(path),
        })
    }

    /// Records where `group`'s last pull of the queue ended.
    pub fn record_pull(&self, group: &str, topic: &str, queue_id: i32, next_begin: i64) {
        self.pulled
            .write()
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, next_begin);
    }

    /// Where `group`'s last pull of the queue ended, if it pulled since the broker started.
    pub fn pulled(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.pulled
            .read()
            .get(&key(topic, group))
            .and_then(|q| q.get(&queue_id).copied())
    }

    /// Stores the next offset to consume.
    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.table
            .write()
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
        self.file.mark_dirty();
    }

    /// The committed offset, if any.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.table
            .read()
            .get(&key(topic, group))
            .and_then(|q| q.get(&queue_id).copied())
    }

    /// Every queue's offset of a group on a topic.
    pub fn queues(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        self.table
            .read()
            .get(&key(topic, group))
            .map(|q| q.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default()
    }

    /// Groups with offsets on `topic`.
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        let prefix = format!("{topic}@");
        self.table
            .read()
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }

    /// Forgets every offset on `topic`.
    pub fn remove_topic(&self, topic: &str) {
        let prefix = format!("{topic}@");
        self.table.write().retain(|k, _| !k.starts_with(&prefix));
        self.pulled.write().retain(|k, _| !k.starts_with(&prefix));
        self.file.mark_dirty();
    }

    /// Forgets every offset of `group`.
    pub fn remove_group(&self, group: &str) {
        let suffix = format!("@{group}");
        self.table.write().retain(|k, _| !k.ends_with(&suffix));
        self.pulled.write().retain(|k, _| !k.ends_with(&suffix));
        self.file.mark_dirty();
    }

    /// Takes the master's offsets (slave metadata sync, Java's `putAll`): each `topic@group`
    /// entry the master has replaces this broker's; others stay.
    pub fn merge_from(&self, master: ConsumerOffsetSerializeWrapper) {
        let mut table = self.table.write();
        for (k, v) in master.offset_table {
            let queues: HashMap<i32, i64> = v.into_iter().collect();
            if table.get(&k) != Some(&queues) {
                table.insert(k, queues);
                self.file.mark_dirty();
            }
        }
    }

    /// The whole table.
    pub fn snapshot(&self) -> ConsumerOffsetSerializeWrapper {
        ConsumerOffsetSerializeWrapper {
            offset_table: self
                .table
                .read()
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(|(q, o)| (*q, *o)).collect()))
                .collect(),
            ..ConsumerOffsetSerializeWrapper::default()
        }
    }

    /// Writes the file if anything changed since the last write.
    pub fn persist_if_dirty(&self) -> std::io::Result<()> {
        self.file.persist_if_dirty(|| self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_persist_reload_remove() {
        let dir = tempfile::tempdir().unwrap();
        let t = OffsetTable::load(dir.path()).unwrap();
        t.commit("g", "T", 0, 10);
        t.commit("g", "T", 1, 5);
        t.commit("h", "T", 0, 1);
        t.commit("g", "U", 0, 1);
        t.persist_if_dirty().unwrap();
        let again = OffsetTable::load(dir.path()).unwrap();
        assert_eq!(again.query("g", "T", 1), Some(5));
        assert_eq!(again.queues("g", "T").len(), 2);
        assert_eq!(again.groups_of_topic("T").len(), 2);
        again.remove_topic("T");
        assert_eq!(again.query("g", "T", 0), None);
        again.remove_group("g");
        assert_eq!(again.query("g", "U", 0), None);
    }
}
