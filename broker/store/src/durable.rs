//! Durable directory entries, and the fault-injection seam for every fsync the store does.
//!
//! Creating, renaming or removing a file changes its directory, and that change reaches the
//! disk only when the directory itself is fsynced. Every helper here ends with an fsync of the
//! containing directory, so once it returns a power loss can no longer drop (or resurrect) the
//! entry. The store calls them before anything that depends on the entry is acknowledged: a new
//! commit log segment is created (and its directory synced) under the write lock before the
//! first record is written into it, so the fsync that acknowledges that record under SYNC flush
//! comes after.
//!
//! # Fault injection
//! [`StoreConfig::fault`](crate::StoreConfig::fault) installs a [`FaultHook`] for the store's
//! root directory while the store is open: every file fsync ([`FaultPoint::SyncData`]) and
//! directory fsync ([`FaultPoint::SyncDir`]) of a path under that root first calls the hook,
//! and an error it returns is handled exactly like an error of the system call. Hooks live in a
//! process-wide list keyed by root directory (so parallel tests with their own directories do
//! not see each other's hooks); with no hook installed the check is one relaxed atomic load.

use crate::error::{IoContext, StoreError};
use parking_lot::RwLock;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The kind of durability call a [`FaultHook`] is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// `fdatasync`/`fsync` of a data file (commit log segment, consume queue, checkpoint).
    SyncData,
    /// `fsync` of a directory, after an entry in it was created, renamed or removed.
    SyncDir,
}

/// Test seam: called with the point and the path before each fsync of a store file; an `Err`
/// is returned in place of the system call's result. See the [module docs](self).
#[derive(Clone)]
pub struct FaultHook(pub Arc<FaultFn>);

/// The function behind a [`FaultHook`]: `Err` makes the fsync of that path fail.
pub type FaultFn = dyn Fn(FaultPoint, &Path) -> io::Result<()> + Send + Sync;

impl std::fmt::Debug for FaultHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultHook")
    }
}

/// Installed hooks with the root directory each applies to.
static HOOKS: RwLock<Vec<(PathBuf, FaultHook)>> = RwLock::new(Vec::new());
/// Number of installed hooks (the fast path skips the list when it is 0).
static INSTALLED: AtomicUsize = AtomicUsize::new(0);

/// Keeps a hook installed for one root directory; removes it when dropped.
#[derive(Debug)]
pub(crate) struct HookGuard(PathBuf);

/// Installs `hook` for every path under `root` until the guard is dropped.
pub(crate) fn install(root: &Path, hook: FaultHook) -> HookGuard {
    HOOKS.write().push((root.to_path_buf(), hook));
    INSTALLED.fetch_add(1, Ordering::AcqRel);
    HookGuard(root.to_path_buf())
}

impl Drop for HookGuard {
    fn drop(&mut self) {
        let mut hooks = HOOKS.write();
        if let Some(i) = hooks.iter().position(|(root, _)| *root == self.0) {
            hooks.remove(i);
            INSTALLED.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Runs the hooks installed for `path` (none in production).
pub(crate) fn check(point: FaultPoint, path: &Path) -> io::Result<()> {
    if INSTALLED.load(Ordering::Relaxed) == 0 {
        return Ok(());
    }
    let hooks: Vec<FaultHook> = HOOKS
        .read()
        .iter()
        .filter(|(root, _)| path.starts_with(root))
        .map(|(_, h)| h.clone())
        .collect();
    hooks.iter().try_for_each(|h| (h.0)(point, path))
}

/// `fdatasync` of `file` (at `path`). An error means data the OS accepted may never reach the
/// disk: it is [`StoreError::PersistFailed`], never to be retried into an acknowledgment.
pub(crate) fn sync_data(file: &File, path: &Path) -> Result<(), StoreError> {
    check(FaultPoint::SyncData, path)
        .and_then(|()| file.sync_data())
        .map_err(|e| StoreError::PersistFailed(format!("fsync {}: {e}", path.display())))
}

/// fsyncs a directory (opened read-only) so that entries created, renamed or removed in it
/// are durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    check(FaultPoint::SyncDir, dir)
        .and_then(|()| File::open(dir)?.sync_all())
        .ctx(|| format!("syncing directory {}", dir.display()))
}

/// The directory holding `path` (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `dir` and its missing parents; each directory created is made durable by an fsync
/// of its parent. Nothing is synced when `dir` already exists.
pub fn create_dir_all(dir: &Path) -> Result<(), StoreError> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .collect();
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(StoreError::io(e, format!("creating {}", d.display()))),
        }
        sync_dir(parent(d))?;
    }
    Ok(())
}

/// Opens (creating if needed) a data file for reading and writing.
pub fn open_rw(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .ctx(|| format!("opening {}", path.display()))
}

/// Opens `path` for reading and writing, creating it if needed; when it was created, its
/// directory entry is made durable before this returns.
pub fn create_file(path: &Path) -> Result<File, StoreError> {
    let created = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path);
    match created {
        Ok(f) => {
            sync_dir(parent(path))?;
            Ok(f)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => open_rw(path),
        Err(e) => Err(StoreError::io(e, format!("creating {}", path.display()))),
    }
}

/// Renames `from` to `to` and makes it durable (fsync of both directories, once if equal).
pub fn rename(from: &Path, to: &Path) -> Result<(), StoreError> {
    fs::rename(from, to).ctx(|| format!("renaming {} to {}", from.display(), to.display()))?;
    sync_dir(parent(to))?;
    if parent(from) != parent(to) {
        sync_dir(parent(from))?;
    }
    Ok(())
}

/// Removes a file and makes the removal durable. A file already gone counts as removed (its
/// directory is still synced).
pub fn remove_file(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(e, format!("removing {}", path.display()))),
    }
    sync_dir(parent(path))
}

/// Removes a directory tree and makes the removal durable (fsync of its parent). A missing
/// directory counts as removed.
pub fn remove_dir_all(dir: &Path) -> Result<(), StoreError> {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(e, format!("removing {}", dir.display()))),
    }
    let p = parent(dir);
    match p.exists() {
        true => sync_dir(p),
        false => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Every helper fsyncs the directory holding the entry it changed.
    #[test]
    fn helpers_sync_the_containing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let seen: Arc<Mutex<Vec<(FaultPoint, PathBuf)>>> = Arc::default();
        let s = seen.clone();
        let _g = install(
            dir.path(),
            FaultHook(Arc::new(move |p, path| {
                s.lock().unwrap().push((p, path.to_path_buf()));
                Ok(())
            })),
        );
        let take = || std::mem::take(&mut *seen.lock().unwrap());
        let dir_sync = |p: &Path| (FaultPoint::SyncDir, p.to_path_buf());
        create_dir_all(&root.join("a")).unwrap();
        assert_eq!(take(), vec![dir_sync(dir.path()), dir_sync(&root)]);
        create_dir_all(&root.join("a")).unwrap();
        assert_eq!(take(), vec![], "nothing created, nothing synced");
        let f = root.join("a/f");
        create_file(&f).unwrap();
        assert_eq!(take(), vec![dir_sync(&root.join("a"))]);
        create_file(&f).unwrap();
        assert_eq!(take(), vec![], "an existing file is only opened");
        rename(&f, &root.join("g")).unwrap();
        assert_eq!(take(), vec![dir_sync(&root), dir_sync(&root.join("a"))]);
        remove_file(&root.join("g")).unwrap();
        assert_eq!(take(), vec![dir_sync(&root)]);
        remove_dir_all(&root.join("a")).unwrap();
        assert_eq!(take(), vec![dir_sync(&root)]);
        assert!(!root.join("a").exists());
    }

    /// A hook error replaces the system call's result; other roots are unaffected.
    #[test]
    fn hook_errors_are_returned_for_its_root_only() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let g = install(
            a.path(),
            FaultHook(Arc::new(|_, _| Err(io::Error::other("injected")))),
        );
        let path = a.path().join("f");
        let f = create_file(&path);
        assert!(f.is_err(), "the directory sync failed");
        let f = open_rw(&path).unwrap();
        assert!(matches!(
            sync_data(&f, &path),
            Err(StoreError::PersistFailed(_))
        ));
        assert!(create_file(&b.path().join("f")).is_ok());
        drop(g);
        assert!(sync_data(&f, &path).is_ok());
    }
}
