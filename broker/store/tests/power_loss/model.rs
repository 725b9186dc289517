//! A power-loss model fed by the store's fault hook ([`rmq_store::FaultHook`]).
//!
//! The hook runs before every fsync of a file ([`FaultPoint::SyncData`]) and of a directory
//! ([`FaultPoint::SyncDir`]) under the store root. The model keeps a *shadow* of what the disk
//! durably holds and, on [`PowerLossModel::power_loss`], writes that shadow out as a new
//! directory tree: what the disk would hold after a power cut at that instant.
//!
//! # Rules (POSIX, no more durability than promised)
//! - Everything under the root when the model is created is durable (it was written by an
//!   earlier run that ended cleanly, or is itself a post-power-loss copy).
//! - Files and directories are identified by inode, so a rename moves content with it.
//! - `SyncData(path)`: the file's content *now* becomes its durable content. The copy is taken
//!   before the real fsync, so it holds everything that fsync covers (and possibly bytes written
//!   concurrently, which a real disk may persist too).
//! - `SyncDir(dir)`: the directory's current entries (name, inode, file or directory) become
//!   its durable entries; entries created, renamed away or removed since the last sync of that
//!   directory are thereby made (or unmade) durable. A durable subdirectory entry means the
//!   subdirectory exists, with the entries of its own last sync (none if never synced).
//! - After the cut a directory entry exists only if it is durable in its durable parent, all
//!   the way up to the root; a file's content is its last `SyncData` copy, or empty if it was
//!   never synced (the entry survived, the data did not).
//! - An inode no durable entry refers to any more loses its shadow (it was durably removed), so
//!   a later file reusing the inode number starts empty.
//! - Writes that bypass the hook are invisible to the model: such data counts as lost.
//! - After [`PowerLossModel::power_loss`] the model is frozen: every later fsync fails with
//!   "power lost", so the store can acknowledge nothing more (and its shutdown cannot make
//!   anything durable).

use rmq_store::{FaultHook, FaultPoint};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A durable directory entry: the inode it names and whether that is a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    ino: u64,
    is_dir: bool,
}

/// What the disk durably holds.
#[derive(Debug, Default)]
struct Shadow {
    /// Inode of the root directory (always exists).
    root: u64,
    /// Durable entries of each directory, by the directory's inode.
    dirs: HashMap<u64, BTreeMap<OsString, Entry>>,
    /// Durable content of each file, by inode.
    files: HashMap<u64, Vec<u8>>,
    /// Set by the power cut: nothing becomes durable any more.
    cut: bool,
    /// Number of `SyncData` / `SyncDir` calls recorded.
    syncs: (usize, usize),
    /// Armed cut: once this many fsyncs were recorded, the next one cuts the power into the
    /// directory given (see [`PowerLossModel::arm`]).
    trip: Option<(usize, PathBuf)>,
}

/// The power-loss model of one store root. Install [`Self::hook`] as `StoreConfig::fault`.
#[derive(Debug, Clone)]
pub struct PowerLossModel {
    shadow: Arc<Mutex<Shadow>>,
}

fn ino(path: &Path) -> io::Result<u64> {
    Ok(fs::symlink_metadata(path)?.ino())
}

/// The current entries of `dir`.
fn entries(dir: &Path) -> io::Result<BTreeMap<OsString, Entry>> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let meta = fs::symlink_metadata(e.path())?;
        let entry = Entry {
            ino: meta.ino(),
            is_dir: meta.is_dir(),
        };
        out.insert(e.file_name(), entry);
    }
    Ok(out)
}

impl Shadow {
    /// Records `dir` and everything below it as durable (model creation).
    fn record_tree(&mut self, dir: &Path) -> io::Result<()> {
        let listed = entries(dir)?;
        for (name, e) in &listed {
            let path = dir.join(name);
            match e.is_dir {
                true => self.record_tree(&path)?,
                false => {
                    self.files.insert(e.ino, fs::read(&path)?);
                }
            }
        }
        self.dirs.insert(ino(dir)?, listed);
        Ok(())
    }

    /// `SyncDir(dir)`: its current entries become durable; inodes no longer referenced lose
    /// their shadow.
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        let now = entries(dir)?;
        let old = self.dirs.insert(ino(dir)?, now.clone()).unwrap_or_default();
        for gone in old.values().filter(|e| !now.values().any(|n| n == *e)) {
            if !self.referenced(gone.ino) {
                self.files.remove(&gone.ino);
                self.dirs.remove(&gone.ino);
            }
        }
        Ok(())
    }

    fn referenced(&self, ino: u64) -> bool {
        self.dirs
            .values()
            .flat_map(|d| d.values())
            .any(|e| e.ino == ino)
    }

    /// Cuts the power: freezes the shadow and writes it out as the new directory `out`.
    fn cut_into(&mut self, out: &Path) -> io::Result<()> {
        self.cut = true;
        fs::create_dir(out)?;
        self.materialize(self.root, out)
    }

    /// Writes the durable tree below directory `dir_ino` into `out`.
    fn materialize(&self, dir_ino: u64, out: &Path) -> io::Result<()> {
        let Some(listed) = self.dirs.get(&dir_ino) else {
            return Ok(()); // entry durable, its own entries never synced: empty
        };
        for (name, e) in listed {
            let path = out.join(name);
            if e.is_dir {
                fs::create_dir(&path)?;
                self.materialize(e.ino, &path)?;
            } else {
                let content = self.files.get(&e.ino).map_or(&[][..], Vec::as_slice);
                fs::write(&path, content)?;
            }
        }
        Ok(())
    }
}

impl PowerLossModel {
    /// A model of `root`, whose current content counts as durable.
    pub fn new(root: &Path) -> Self {
        let mut shadow = Shadow {
            root: ino(root).unwrap(),
            ..Shadow::default()
        };
        shadow.record_tree(root).unwrap();
        Self {
            shadow: Arc::new(Mutex::new(shadow)),
        }
    }

    /// The fault hook feeding the model (never fails before the power cut, always after).
    pub fn hook(&self) -> FaultHook {
        let shadow = self.shadow.clone();
        FaultHook(Arc::new(move |point, path: &Path| {
            let mut s = shadow.lock().unwrap();
            let done = s.syncs.0 + s.syncs.1;
            if let Some((_, out)) = s.trip.take_if(|(n, _)| done >= *n) {
                s.cut_into(&out)?;
            }
            if s.cut {
                return Err(io::Error::other("power lost"));
            }
            match point {
                FaultPoint::SyncData => {
                    s.syncs.0 += 1;
                    let content = fs::read(path)?;
                    s.files.insert(ino(path)?, content);
                    Ok(())
                }
                FaultPoint::SyncDir => {
                    s.syncs.1 += 1;
                    s.sync_dir(path)
                }
            }
        }))
    }

    /// Cuts the power now: freezes the model and writes what the disk holds into the new
    /// directory `out` (which must not exist), returned for convenience.
    pub fn power_loss(&self, out: &Path) -> PathBuf {
        self.shadow.lock().unwrap().cut_into(out).unwrap();
        out.to_path_buf()
    }

    /// Arms a power cut in the middle of what the store does next: once `after` more fsyncs
    /// were recorded, the next fsync cuts the power into the new directory `out` (as
    /// [`Self::power_loss`] would, that fsync and all later ones failing).
    pub fn arm(&self, after: usize, out: &Path) {
        let mut s = self.shadow.lock().unwrap();
        let at = s.syncs.0 + s.syncs.1 + after;
        s.trip = Some((at, out.to_path_buf()));
    }

    /// Whether the power was cut.
    pub fn is_cut(&self) -> bool {
        self.shadow.lock().unwrap().cut
    }

    /// Number of file and directory fsyncs recorded so far.
    pub fn syncs(&self) -> (usize, usize) {
        self.shadow.lock().unwrap().syncs
    }
}
