//! KV config (PUT/GET/DELETE_KV_CONFIG), persisted as JSON after every change (concurrent
//! changes share one write: [`GroupCommit`]).

use parking_lot::Mutex;
use rmq_store::group_commit::GroupCommit;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Namespace holding `topic -> "brokerA:4;brokerB:4"` for order topics.
pub const ORDER_TOPIC_CONFIG: &str = "ORDER_TOPIC_CONFIG";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KvFile {
    #[serde(default)]
    config_table: BTreeMap<String, BTreeMap<String, String>>,
}

/// The file's shape, borrowed for writing.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KvFileRef<'a> {
    config_table: &'a BTreeMap<String, BTreeMap<String, String>>,
}

/// Namespaced key/value settings.
#[derive(Debug)]
pub struct KvConfig {
    path: Option<PathBuf>,
    table: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
    writer: GroupCommit,
}

impl KvConfig {
    /// Loads from `path` (missing file = empty); `None` keeps it in memory only.
    pub fn load(path: Option<PathBuf>) -> std::io::Result<Self> {
        let table = match &path {
            Some(p) if p.exists() => {
                let text = std::fs::read(p)?;
                serde_json::from_slice::<KvFile>(&text)
                    .map_err(|e| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("{}: {e} (fix or delete the file)", p.display()),
                        )
                    })?
                    .config_table
            }
            _ => BTreeMap::new(),
        };
        Ok(Self {
            path,
            table: Mutex::new(table),
            writer: GroupCommit::default(),
        })
    }

    /// Makes the changes counted so far durable (returns after a write that holds them).
    fn persist(&self) {
        let Some(path) = &self.path else { return };
        let written = self.writer.commit(|| {
            let table = self.table.lock().clone();
            write_atomically(path, &table)
        });
        if let Err(e) = written {
            tracing::error!(path = %path.display(), error = %e, "cannot persist KV config");
        }
    }

    /// Sets a value.
    pub fn put(&self, namespace: &str, key: &str, value: &str) {
        {
            let mut t = self.table.lock();
            t.entry(namespace.to_owned())
                .or_default()
                .insert(key.to_owned(), value.to_owned());
            self.writer.changed();
        }
        self.persist();
    }

    /// Reads a value.
    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.table.lock().get(namespace)?.get(key).cloned()
    }

    /// Deletes a value.
    pub fn delete(&self, namespace: &str, key: &str) {
        {
            let mut t = self.table.lock();
            if let Some(ns) = t.get_mut(namespace) {
                ns.remove(key);
                if ns.is_empty() {
                    t.remove(namespace);
                }
            }
            self.writer.changed();
        }
        self.persist();
    }

    /// Every entry of a namespace.
    pub fn list(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.table.lock().get(namespace).cloned()
    }
}

fn write_atomically(
    path: &Path,
    table: &BTreeMap<String, BTreeMap<String, String>>,
) -> std::io::Result<()> {
    use rmq_store::durable;
    use std::io::Write;
    if let Some(dir) = path.parent() {
        durable::create_dir_all(dir).map_err(std::io::Error::other)?;
    }
    let tmp = path.with_extension("tmp");
    let body = serde_json::to_vec_pretty(&KvFileRef {
        config_table: table,
    })
    .map_err(std::io::Error::other)?;
    // The new table is on disk before the rename, and the rename is durable (directory
    // fsynced) before the request is answered: a power loss leaves the old or the new table.
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(&body)?;
    file.sync_all()?;
    durable::rename(&tmp, path).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv/kvConfig.json");
        let kv = KvConfig::load(Some(path.clone())).unwrap();
        kv.put(ORDER_TOPIC_CONFIG, "T", "broker-a:4");
        kv.put("ns", "k", "v");
        kv.delete("ns", "k");
        let again = KvConfig::load(Some(path.clone())).unwrap();
        assert_eq!(
            again.get(ORDER_TOPIC_CONFIG, "T").as_deref(),
            Some("broker-a:4")
        );
        assert!(again.list("ns").is_none());
        std::fs::write(&path, b"{broken").unwrap();
        let err = KvConfig::load(Some(path)).unwrap_err();
        assert!(err.to_string().contains("kvConfig.json"));
    }
}
