//! Atomic, durable JSON files: write to `.tmp` and fsync it, keep the previous version as
//! `.bak` (fsynced too), rename into place and fsync the directory (rmq-store's durable
//! helpers), so a power loss leaves either the old or the new table, never none. A corrupt file
//! falls back to its `.bak` with a loud log line, never silently to empty.

use rmq_store::durable;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A JSON file written behind its table's changes: the table marks it dirty on every change,
/// a periodic task (and shutdown) writes it only when something changed.
#[derive(Debug)]
pub struct DirtyJson {
    path: PathBuf,
    dirty: AtomicBool,
}

impl DirtyJson {
    /// The file `path`, clean.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            dirty: AtomicBool::new(false),
        }
    }

    /// The table changed since the file was written.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Writes `snapshot()` if the table changed since the last write; a failed write leaves
    /// it dirty, so the next call tries again.
    pub fn persist_if_dirty<T: Serialize>(&self, snapshot: impl FnOnce() -> T) -> io::Result<()> {
        if self.dirty.swap(false, Ordering::AcqRel)
            && let Err(e) = save_json(&self.path, &snapshot())
        {
            self.mark_dirty();
            return Err(e);
        }
        Ok(())
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Loads `path` (or its `.bak` if the main file is corrupt); `Ok(None)` if neither exists.
pub fn load_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    let parse = |p: &Path| -> io::Result<Option<T>> {
        match std::fs::read(p) {
            Ok(bytes) => rmq_protocol::body::from_json("config", &bytes)
                .map(Some)
                .map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", p.display()))
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    };
    match parse(path) {
        Ok(v) => Ok(v),
        Err(e) => {
            let bak = with_suffix(path, ".bak");
            tracing::error!(error = %e, backup = %bak.display(), "config file is corrupt; trying the backup");
            match parse(&bak)? {
                Some(v) => Ok(Some(v)),
                None => Err(e),
            }
        }
    }
}

/// Saves `value` to `path` atomically and durably, keeping the previous content as `.bak`.
pub fn save_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        durable::create_dir_all(dir).map_err(io::Error::other)?;
    }
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    let tmp = with_suffix(path, ".tmp");
    write_synced(&tmp, &bytes)?;
    if path.exists() {
        let bak = with_suffix(path, ".bak");
        if let Ok(previous) = std::fs::read(path) {
            write_synced(&bak, &previous)?;
        }
    }
    durable::rename(&tmp, path).map_err(io::Error::other)
}

/// Writes `bytes` to `path` (created or truncated) and fsyncs the file.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn corrupt_file_falls_back_to_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/x.json");
        let mut m = BTreeMap::new();
        m.insert("a".to_owned(), 1);
        save_json(&path, &m).unwrap();
        m.insert("b".to_owned(), 2);
        save_json(&path, &m).unwrap();
        std::fs::write(&path, b"{torn").unwrap();
        let back: BTreeMap<String, i32> = load_json(&path).unwrap().unwrap();
        assert_eq!(back.len(), 1, "the backup holds the previous version");
        assert!(
            load_json::<BTreeMap<String, i32>>(&dir.path().join("none.json"))
                .unwrap()
                .is_none()
        );
    }
}
