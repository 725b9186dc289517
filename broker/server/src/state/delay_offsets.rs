//! `config/delayOffset.json`: per delay level, the next `SCHEDULE_TOPIC_XXXX` queue offset to
//! deliver (`{"offsetTable":{"1":0,"3":12},"dataVersion":{...}}`; Java writes the level keys
//! unquoted, which [`rmq_protocol::body::from_json`] accepts).

use super::persist::{DirtyJson, load_json};
use parking_lot::RwLock;
use rmq_protocol::body::topic_config::DataVersion;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The file's JSON (also the GET_ALL_DELAY_OFFSET body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DelayOffsetSerializeWrapper {
    /// level → next offset.
    pub offset_table: BTreeMap<i32, i64>,
    /// Bumped on every change (Java's `DataVersion`).
    pub data_version: DataVersion,
}

/// Delivery progress per level.
pub struct DelayOffsets {
    table: RwLock<DelayOffsetSerializeWrapper>,
    file: DirtyJson,
}

impl DelayOffsets {
    /// Loads `config/delayOffset.json` under `store_root`.
    pub fn load(store_root: &Path) -> std::io::Result<Self> {
        let path = store_root.join("config").join("delayOffset.json");
        let table = load_json(&path)?.unwrap_or_default();
        Ok(Self {
            table: RwLock::new(table),
            file: DirtyJson::new(path),
        })
    }

    /// Next offset of `level` (0 if never delivered).
    pub fn get(&self, level: i32) -> i64 {
        self.table
            .read()
            .offset_table
            .get(&level)
            .copied()
            .unwrap_or(0)
    }

    /// Sets the next offset of `level`.
    pub fn set(&self, level: i32, offset: i64, now_ms: i64) {
        let mut t = self.table.write();
        if t.offset_table.insert(level, offset) != Some(offset) {
            t.data_version.next(now_ms);
            self.file.mark_dirty();
        }
    }

    /// Takes the master's progress (slave metadata sync): each level moves forward only.
    pub fn merge_from(&self, master: DelayOffsetSerializeWrapper, now_ms: i64) {
        for (level, offset) in master.offset_table {
            if offset > self.get(level) {
                self.set(level, offset, now_ms);
            }
        }
    }

    /// The whole table.
    pub fn snapshot(&self) -> DelayOffsetSerializeWrapper {
        self.table.read().clone()
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
    fn persist_reload_and_java_json() {
        let dir = tempfile::tempdir().unwrap();
        let t = DelayOffsets::load(dir.path()).unwrap();
        assert_eq!(t.get(3), 0);
        t.set(3, 12, 1);
        t.set(1, 4, 2);
        t.persist_if_dirty().unwrap();
        let again = DelayOffsets::load(dir.path()).unwrap();
        assert_eq!((again.get(1), again.get(3)), (4, 12));
        again.merge_from(
            rmq_protocol::body::from_json(
                "delay offsets",
                br#"{"offsetTable":{1:2,3:20,5:1},"dataVersion":{"counter":3}}"#,
            )
            .unwrap(),
            3,
        );
        assert_eq!((again.get(1), again.get(3), again.get(5)), (4, 20, 1));
    }
}
