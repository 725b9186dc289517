//! Files addressed by absolute offsets: positional reads and writes (`pread`/`pwrite`, no mmap,
//! so a full disk is an ENOSPC error, never a SIGBUS), `fdatasync`, block preallocation, and
//! the 20-digit file naming shared by commit log segments and consume queue files.

use crate::error::{IoContext, StoreError};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// File name for a file starting at `start`: 20-digit zero-padded decimal.
pub fn file_name(start: i64) -> String {
    format!("{start:020}")
}

/// Parses a 20-digit file name.
pub fn parse_file_name(name: &str) -> Option<i64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

/// The numbered files of `dir`, sorted by start offset. Other entries are ignored (logged).
pub fn list_numbered(dir: &Path) -> Result<Vec<(i64, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::io(e, format!("listing {}", dir.display()))),
    };
    for entry in rd {
        let entry = entry.ctx(|| format!("listing {}", dir.display()))?;
        let name = entry.file_name();
        match name.to_str().and_then(parse_file_name) {
            Some(start) => out.push((start, entry.path())),
            None => tracing::warn!(path = %entry.path().display(), "ignoring unexpected file"),
        }
    }
    out.sort_unstable_by_key(|(s, _)| *s);
    Ok(out)
}

pub use crate::durable::{open_rw, sync_dir};

/// One commit log segment: a file that logically holds `size` bytes starting at `start`.
/// The file may be shorter than `size` (it grows as records are appended); reads past its end
/// yield zeros, like a preallocated file.
#[derive(Debug)]
pub struct Segment {
    start: i64,
    path: PathBuf,
    file: File,
}

impl Segment {
    /// Opens (creating if needed) the segment file `dir/<start>`. A file it creates is not yet
    /// durable: the caller syncs `dir`.
    pub fn open(dir: &Path, start: i64) -> Result<Self, StoreError> {
        let path = dir.join(file_name(start));
        let file = open_rw(&path)?;
        Ok(Self { start, path, file })
    }

    /// Opens the segment file `dir/<start>`, creating it durably (its directory entry is
    /// fsynced) if it does not exist yet.
    pub fn create(dir: &Path, start: i64) -> Result<Self, StoreError> {
        let path = dir.join(file_name(start));
        let file = crate::durable::create_file(&path)?;
        Ok(Self { start, path, file })
    }

    /// Absolute offset of the segment's first byte.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// Path of the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Current file length.
    pub fn file_len(&self) -> Result<u64, StoreError> {
        self.file
            .metadata()
            .map(|m| m.len())
            .ctx(|| format!("stat {}", self.path.display()))
    }

    /// Writes `data` at `pos` bytes into the segment (goes to the OS page cache at once).
    pub fn write_at(&self, pos: u64, data: &[u8]) -> Result<(), StoreError> {
        self.file.write_all_at(data, pos).ctx(|| {
            format!(
                "writing {} bytes at {pos} of {}",
                data.len(),
                self.path.display()
            )
        })
    }

    /// Fills `buf` from `pos`; bytes past the end of the file read as zeros.
    #[cfg(test)]
    pub fn read_at(&self, pos: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        let n = self.read_some(pos, buf)?;
        buf[n..].fill(0);
        Ok(())
    }

    /// Reads up to `buf.len()` bytes from `pos` without zero filling; returns how many were read
    /// (fewer only at the end of the file).
    pub fn read_some(&self, pos: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], pos + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(StoreError::io(
                        e,
                        format!(
                            "reading at {} of {}",
                            pos + done as u64,
                            self.path.display()
                        ),
                    ));
                }
            }
        }
        Ok(done)
    }

    /// `fdatasync`; a failure is [`StoreError::PersistFailed`].
    pub fn sync(&self) -> Result<(), StoreError> {
        crate::durable::sync_data(&self.file, &self.path)
    }

    /// Reserves disk blocks for the first `len` bytes without changing the file length
    /// (`fallocate(FALLOC_FL_KEEP_SIZE)`), so that a full disk fails here, when a segment is
    /// created, rather than in the middle of later appends. File systems that cannot
    /// preallocate are left as they are (appends then allocate as they go).
    pub fn preallocate(&self, len: u64) -> Result<(), StoreError> {
        use rustix::io::Errno;
        loop {
            return match rustix::fs::fallocate(
                &self.file,
                rustix::fs::FallocateFlags::KEEP_SIZE,
                0,
                len,
            ) {
                Ok(()) => Ok(()),
                Err(Errno::INTR) => continue,
                Err(Errno::OPNOTSUPP | Errno::NOSYS) => Ok(()),
                Err(e) => Err(StoreError::io(
                    io::Error::from(e),
                    format!("preallocating {len} bytes for {}", self.path.display()),
                )),
            };
        }
    }

    /// Last modification time of the file.
    pub fn modified(&self) -> Result<std::time::SystemTime, StoreError> {
        self.file
            .metadata()
            .and_then(|m| m.modified())
            .ctx(|| format!("stat {}", self.path.display()))
    }

    /// Disk space the file holds: its allocated blocks, preallocated space included.
    pub fn disk_bytes(&self) -> Result<u64, StoreError> {
        use std::os::unix::fs::MetadataExt;
        self.file
            .metadata()
            .map(|m| m.blocks() * 512)
            .ctx(|| format!("stat {}", self.path.display()))
    }

    /// Truncates the file to `len` bytes.
    pub fn truncate(&self, len: u64) -> Result<(), StoreError> {
        self.file
            .set_len(len)
            .ctx(|| format!("truncating {} to {len}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(1_073_741_824), "00000000001073741824");
        assert_eq!(parse_file_name("00000000001073741824"), Some(1_073_741_824));
        assert_eq!(parse_file_name("0000000000107374182"), None);
        assert_eq!(parse_file_name("0000000000107374182x"), None);
    }

    #[test]
    fn positional_io_and_zero_fill() {
        let dir = tempfile::tempdir().unwrap();
        let s = Segment::open(dir.path(), 4096).unwrap();
        s.write_at(10, b"abc").unwrap();
        let mut buf = [9u8; 16];
        s.read_at(8, &mut buf).unwrap();
        assert_eq!(&buf[..5], b"\0\0abc");
        assert!(buf[5..].iter().all(|b| *b == 0));
        assert_eq!(s.read_some(8, &mut buf).unwrap(), 5);
        assert_eq!(s.file_len().unwrap(), 13);
        s.truncate(11).unwrap();
        s.sync().unwrap();
        assert_eq!(s.file_len().unwrap(), 11);
        let listed = list_numbered(dir.path()).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, 4096);
    }
}
