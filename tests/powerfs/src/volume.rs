//! The power-loss model: an in-memory tree of files and directories (what every reader sees,
//! like the page cache) and a shadow of what `fsync` made durable (what the disk holds).
//!
//! # Rules (POSIX, no more durability than promised)
//! - `fsync` of a file makes its current content and length durable; its directory entry is not
//!   made durable by that.
//! - `fsync` of a directory makes its current entries (name → inode) durable: entries created,
//!   renamed away or removed since its last sync are thereby made, or unmade, durable.
//! - After [`Volume::after_power_cut`] an entry exists only if it is durable in a durable parent,
//!   all the way up to the root. A file holds its last synced content, or nothing if it was never
//!   synced (the entry survived, the data did not); a directory never synced is empty.
//! - A failing `fsync` ([`Volume::fail_next_fsyncs`]) returns `EIO` and loses the pages it should
//!   have written, as Linux does: the pages are marked clean, so a later successful `fsync` does
//!   not write them either; the disk keeps their old content (zeros if there was none). Readers of
//!   the page cache (the kernel's, above this model) may still see the new bytes until the cut.
//! - A volume that lost power answers every request with `EIO`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::time::SystemTime;

/// Inode number of the root directory.
pub const ROOT: u64 = 1;
/// Granularity of dirty tracking and of lost writes.
const PAGE: u64 = 4096;

/// An errno value (`libc::ENOENT`, ...).
pub type Errno = i32;

/// File or directory (the model has no other kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// What `stat` reports for a node.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    /// Inode number.
    pub ino: u64,
    /// File or directory.
    pub kind: Kind,
    /// Length in bytes (files), 0 for directories.
    pub size: u64,
    /// Permission bits.
    pub perm: u16,
    /// Last modification.
    pub mtime: SystemTime,
}

/// A directory entry: the inode a name refers to and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Inode number.
    pub ino: u64,
    /// File or directory.
    pub kind: Kind,
}

#[derive(Debug)]
enum Content {
    File {
        data: Vec<u8>,
        /// Pages written (or zeroed by a length change) since the last fsync.
        dirty: BTreeSet<u64>,
    },
    Dir(BTreeMap<OsString, Entry>),
}

#[derive(Debug)]
struct Node {
    content: Content,
    perm: u16,
    mtime: SystemTime,
}

impl Node {
    fn file(data: Vec<u8>, perm: u16) -> Self {
        let content = Content::File {
            data,
            dirty: BTreeSet::new(),
        };
        Self {
            content,
            perm,
            mtime: SystemTime::now(),
        }
    }

    fn dir(entries: BTreeMap<OsString, Entry>, perm: u16) -> Self {
        Self {
            content: Content::Dir(entries),
            perm,
            mtime: SystemTime::now(),
        }
    }
}

/// What the disk durably holds, by inode.
#[derive(Debug, Default)]
struct Durable {
    files: HashMap<u64, Vec<u8>>,
    dirs: HashMap<u64, BTreeMap<OsString, Entry>>,
}

/// Counters for the harness's `stats` command and the test reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Successful file fsyncs.
    pub file_syncs: u64,
    /// Directory fsyncs.
    pub dir_syncs: u64,
    /// Fsyncs that failed on purpose.
    pub failed_syncs: u64,
    /// Pages those failures lost.
    pub pages_lost: u64,
    /// Bytes copied to the durable shadow.
    pub bytes_synced: u64,
    /// Power cuts so far.
    pub cuts: u64,
}

/// The in-memory filesystem and its durable shadow.
#[derive(Debug)]
pub struct Volume {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    durable: Durable,
    fail_next: u32,
    /// Only fsyncs of files in a directory of this name fail (any file when `None`).
    fail_in: Option<OsString>,
    dead: bool,
    /// Counters since the volume was first created (carried across cuts).
    pub stats: Stats,
}

impl Default for Volume {
    fn default() -> Self {
        Self::new()
    }
}

impl Volume {
    /// An empty volume: the root directory, durable and empty.
    pub fn new() -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::dir(BTreeMap::new(), 0o755));
        let mut durable = Durable::default();
        durable.dirs.insert(ROOT, BTreeMap::new());
        Self {
            nodes,
            next_ino: ROOT + 1,
            durable,
            fail_next: 0,
            fail_in: None,
            dead: false,
            stats: Stats::default(),
        }
    }

    fn node(&self, ino: u64) -> Result<&Node, Errno> {
        if self.dead {
            return Err(libc::EIO);
        }
        self.nodes.get(&ino).ok_or(libc::ENOENT)
    }

    fn node_mut(&mut self, ino: u64) -> Result<&mut Node, Errno> {
        if self.dead {
            return Err(libc::EIO);
        }
        self.nodes.get_mut(&ino).ok_or(libc::ENOENT)
    }

    fn entries(&self, dir: u64) -> Result<&BTreeMap<OsString, Entry>, Errno> {
        match &self.node(dir)?.content {
            Content::Dir(entries) => Ok(entries),
            Content::File { .. } => Err(libc::ENOTDIR),
        }
    }

    fn entries_mut(&mut self, dir: u64) -> Result<&mut BTreeMap<OsString, Entry>, Errno> {
        match &mut self.node_mut(dir)?.content {
            Content::Dir(entries) => Ok(entries),
            Content::File { .. } => Err(libc::ENOTDIR),
        }
    }

    /// `stat` of an inode.
    pub fn attr(&self, ino: u64) -> Result<Attr, Errno> {
        let node = self.node(ino)?;
        let (kind, size) = match &node.content {
            Content::File { data, .. } => (Kind::File, data.len() as u64),
            Content::Dir(_) => (Kind::Dir, 0),
        };
        Ok(Attr {
            ino,
            kind,
            size,
            perm: node.perm,
            mtime: node.mtime,
        })
    }

    /// The node `name` in directory `parent`.
    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<Attr, Errno> {
        let entry = *self.entries(parent)?.get(name).ok_or(libc::ENOENT)?;
        self.attr(entry.ino)
    }

    /// The entries of a directory, in name order.
    pub fn list(&self, dir: u64) -> Result<Vec<(OsString, Entry)>, Errno> {
        Ok(self
            .entries(dir)?
            .iter()
            .map(|(n, e)| (n.clone(), *e))
            .collect())
    }

    /// Creates an empty file or directory `name` in `parent`.
    pub fn create(
        &mut self,
        parent: u64,
        name: &OsStr,
        kind: Kind,
        perm: u16,
    ) -> Result<Attr, Errno> {
        if self.entries(parent)?.contains_key(name) {
            return Err(libc::EEXIST);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        let node = match kind {
            Kind::File => Node::file(Vec::new(), perm),
            Kind::Dir => Node::dir(BTreeMap::new(), perm),
        };
        self.nodes.insert(ino, node);
        self.entries_mut(parent)?
            .insert(name.to_owned(), Entry { ino, kind });
        self.attr(ino)
    }

    /// Writes `bytes` at `offset`, extending the file with zeros as needed.
    pub fn write(&mut self, ino: u64, offset: u64, bytes: &[u8]) -> Result<usize, Errno> {
        let node = self.node_mut(ino)?;
        node.mtime = SystemTime::now();
        let Content::File { data, dirty } = &mut node.content else {
            return Err(libc::EISDIR);
        };
        let start = usize::try_from(offset).map_err(|_| libc::EFBIG)?;
        let end = start.checked_add(bytes.len()).ok_or(libc::EFBIG)?;
        if data.len() < end {
            data.resize(end, 0);
        }
        data[start..end].copy_from_slice(bytes);
        if !bytes.is_empty() {
            dirty.extend(offset / PAGE..=(end as u64 - 1) / PAGE);
        }
        Ok(bytes.len())
    }

    /// Reads up to `len` bytes at `offset` (fewer at the end of the file).
    pub fn read(&self, ino: u64, offset: u64, len: u32) -> Result<&[u8], Errno> {
        let Content::File { data, .. } = &self.node(ino)?.content else {
            return Err(libc::EISDIR);
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = start.saturating_add(len as usize).min(data.len());
        Ok(&data[start..end])
    }

    /// Truncates or extends (with zeros) a file to `size` bytes.
    pub fn set_size(&mut self, ino: u64, size: u64) -> Result<Attr, Errno> {
        let node = self.node_mut(ino)?;
        node.mtime = SystemTime::now();
        let Content::File { data, dirty } = &mut node.content else {
            return Err(libc::EISDIR);
        };
        let new_len = usize::try_from(size).map_err(|_| libc::EFBIG)?;
        let old_len = data.len();
        data.resize(new_len, 0);
        // Bytes between the two lengths changed (cut away, or now zeros): a shrink and a regrow
        // before the next fsync must not resurrect the old durable bytes.
        let (lo, hi) = (old_len.min(new_len) as u64, old_len.max(new_len) as u64);
        if hi > lo {
            dirty.extend(lo / PAGE..=(hi - 1) / PAGE);
        }
        self.attr(ino)
    }

    /// Sets the permission bits.
    pub fn set_perm(&mut self, ino: u64, perm: u16) -> Result<Attr, Errno> {
        self.node_mut(ino)?.perm = perm;
        self.attr(ino)
    }

    /// `unlink` (`kind` = File) or `rmdir` (`kind` = Dir). An open file stays readable and
    /// writable through its inode until the next cut.
    pub fn remove(&mut self, parent: u64, name: &OsStr, kind: Kind) -> Result<(), Errno> {
        let entry = *self.entries(parent)?.get(name).ok_or(libc::ENOENT)?;
        match (kind, entry.kind) {
            (Kind::File, Kind::Dir) => return Err(libc::EISDIR),
            (Kind::Dir, Kind::File) => return Err(libc::ENOTDIR),
            (Kind::Dir, Kind::Dir) if !self.entries(entry.ino)?.is_empty() => {
                return Err(libc::ENOTEMPTY);
            }
            _ => {}
        }
        self.entries_mut(parent)?.remove(name);
        Ok(())
    }

    /// `rename(2)`: moves `name` from `parent` to `new_name` in `new_parent`, replacing a file or
    /// an empty directory of the same kind there.
    pub fn rename(
        &mut self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
    ) -> Result<(), Errno> {
        let entry = *self.entries(parent)?.get(name).ok_or(libc::ENOENT)?;
        if entry.ino == new_parent {
            return Err(libc::EINVAL);
        }
        if let Some(target) = self.entries(new_parent)?.get(new_name).copied() {
            match (entry.kind, target.kind) {
                (Kind::File, Kind::Dir) => return Err(libc::EISDIR),
                (Kind::Dir, Kind::File) => return Err(libc::ENOTDIR),
                (Kind::Dir, Kind::Dir) if !self.entries(target.ino)?.is_empty() => {
                    return Err(libc::ENOTEMPTY);
                }
                _ => {}
            }
        }
        self.entries_mut(parent)?.remove(name);
        self.entries_mut(new_parent)?
            .insert(new_name.to_owned(), entry);
        Ok(())
    }

    /// The next `n` file fsyncs fail with `EIO` and lose their pages; with `dir`, only fsyncs
    /// of files in a directory of that name (e.g. `commitlog`) count.
    pub fn fail_next_fsyncs(&mut self, n: u32, dir: Option<&OsStr>) {
        self.fail_next = n;
        self.fail_in = dir.map(OsStr::to_owned);
    }

    /// Whether a file fsync of `ino` is one that should fail now.
    fn fails(&self, ino: u64) -> bool {
        if self.fail_next == 0 {
            return false;
        }
        let Some(dir) = &self.fail_in else {
            return true;
        };
        let dirs_named = self.nodes.values().flat_map(|n| match &n.content {
            Content::Dir(entries) => entries
                .iter()
                .filter(|(name, e)| *name == dir && e.kind == Kind::Dir)
                .map(|(_, e)| e.ino)
                .collect::<Vec<_>>(),
            Content::File { .. } => Vec::new(),
        });
        dirs_named
            .filter_map(|d| self.entries(d).ok())
            .any(|entries| entries.values().any(|e| e.ino == ino))
    }

    /// `fsync`/`fdatasync` of a file, or of a directory (same as [`Volume::fsync_dir`]).
    pub fn fsync(&mut self, ino: u64) -> Result<(), Errno> {
        if self.attr(ino)?.kind == Kind::Dir {
            return self.fsync_dir(ino);
        }
        let fail = self.fails(ino);
        let Some(Node {
            content: Content::File { data, dirty },
            ..
        }) = self.nodes.get_mut(&ino)
        else {
            return Err(libc::ENOENT);
        };
        let pages = std::mem::take(dirty);
        let shadow = self.durable.files.entry(ino).or_default();
        let mut copied = 0u64;
        for page in &pages {
            let start = (page * PAGE) as usize;
            let end = (start + PAGE as usize).min(data.len());
            if start >= end {
                continue;
            }
            if fail {
                // The disk keeps what it had; the model's copy forgets the write.
                for (i, byte) in data[start..end].iter_mut().enumerate() {
                    *byte = shadow.get(start + i).copied().unwrap_or(0);
                }
            } else {
                if shadow.len() < end {
                    shadow.resize(end, 0);
                }
                shadow[start..end].copy_from_slice(&data[start..end]);
                copied += (end - start) as u64;
            }
        }
        if fail {
            self.fail_next -= 1;
            self.stats.failed_syncs += 1;
            self.stats.pages_lost += pages.len() as u64;
            return Err(libc::EIO);
        }
        // The length is metadata fsync persists too; pages lost earlier read as zeros.
        shadow.resize(data.len(), 0);
        self.stats.file_syncs += 1;
        self.stats.bytes_synced += copied;
        Ok(())
    }

    /// `fsync` of a directory: its current entries become durable.
    pub fn fsync_dir(&mut self, ino: u64) -> Result<(), Errno> {
        let entries = self.entries(ino)?.clone();
        self.durable.dirs.insert(ino, entries);
        self.stats.dir_syncs += 1;
        Ok(())
    }

    /// Bytes held by every file (for `statfs`).
    pub fn used_bytes(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| match &n.content {
                Content::File { data, .. } => data.len() as u64,
                Content::Dir(_) => 0,
            })
            .sum()
    }

    /// Cuts the power: this volume answers `EIO` from now on, and the returned volume is what
    /// the disk holds when power returns (see the module rules).
    pub fn after_power_cut(&mut self) -> Volume {
        self.dead = true;
        let mut next = Volume {
            nodes: HashMap::new(),
            next_ino: self.next_ino,
            durable: Durable::default(),
            fail_next: 0,
            fail_in: None,
            dead: false,
            stats: Stats {
                cuts: self.stats.cuts + 1,
                ..self.stats
            },
        };
        let mut seen = HashSet::new();
        let mut stack = vec![ROOT];
        while let Some(dir) = stack.pop() {
            if !seen.insert(dir) {
                continue; // a directory reachable twice (renamed between two dir syncs)
            }
            let entries = self.durable.dirs.get(&dir).cloned().unwrap_or_default();
            for entry in entries.values() {
                match entry.kind {
                    Kind::Dir => stack.push(entry.ino),
                    Kind::File => {
                        let data = self.durable.files.get(&entry.ino).cloned();
                        let data = data.unwrap_or_default();
                        next.durable.files.insert(entry.ino, data.clone());
                        next.nodes.insert(entry.ino, Node::file(data, 0o644));
                    }
                }
            }
            next.durable.dirs.insert(dir, entries.clone());
            next.nodes.insert(dir, Node::dir(entries, 0o755));
        }
        next
    }
}

#[cfg(test)]
#[path = "volume_tests.rs"]
mod tests;
