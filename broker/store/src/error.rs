//! Store errors. Bad data on disk or in a request is always an error value, never a panic.

use std::io;
use std::path::Path;
use thiserror::Error;

/// Everything that can go wrong in the message store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// An operating system I/O call failed.
    #[error("{context}: {source}")]
    Io {
        /// what the store was doing (file path and operation)
        context: String,
        /// the OS error
        #[source]
        source: io::Error,
    },
    /// The message body is larger than `StoreConfig::max_message_size`.
    #[error("message body of {size} bytes exceeds the limit of {max} bytes")]
    MessageTooLarge {
        /// body length
        size: usize,
        /// configured limit
        max: usize,
    },
    /// The record (plus the 8-byte end-of-segment filler) does not fit in one commit log segment.
    #[error("record of {size} bytes does not fit in a commit log segment of {segment_size} bytes")]
    RecordTooLarge {
        /// record length
        size: usize,
        /// configured segment size
        segment_size: u64,
    },
    /// The bytes handed to `put` are not a well-formed stored record for that topic/queue.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// A topic name that cannot be used as a consume queue directory.
    #[error("invalid topic name {0:?}")]
    InvalidTopic(String),
    /// The configuration is unusable.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// On-disk data that recovery refuses to repair silently (e.g. a bad record below the
    /// checkpointed durable offset, a gap between commit log segments).
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// Another process holds the store directory.
    #[error("store directory {0} is locked by another process")]
    Locked(String),
    /// A raw append (replication) does not start where the local commit log ends.
    #[error("raw append at offset {offset} but the commit log ends at {expected}")]
    OffsetMismatch {
        /// requested offset
        offset: i64,
        /// local end of the commit log
        expected: i64,
    },
    /// An fsync of store data failed: bytes the OS had accepted may never reach the disk, and
    /// retrying the fsync could report success for data that was dropped. The store went into
    /// the failed state ([`crate::MessageStore::is_failed`]): nothing past the last durable
    /// point is acknowledged and every write is refused until the broker is restarted; recovery
    /// then resumes from the last durable point. Holds what failed.
    #[error(
        "the disk failed to persist data ({0}); the store refuses writes until the broker is restarted (recovery resumes from the last durable point)"
    )]
    PersistFailed(String),
    /// The store has been shut down.
    #[error("the message store is shut down")]
    ShutDown,
    /// The file system holding `dir` has no space left (ENOSPC, or EDQUOT for a quota). The
    /// write that failed was rolled back: nothing of it is acknowledged, published or left for
    /// recovery, and the next write after space is freed goes where this one would have.
    #[error("the disk holding {dir} is full: {context}: {source}")]
    DiskFull {
        /// the store directory on the full file system
        dir: String,
        /// what the store was doing
        context: String,
        /// the OS error
        #[source]
        source: io::Error,
    },
    /// [`crate::MessageStore::reset_to`] was given an offset that is negative or not a
    /// multiple of the commit log segment size.
    #[error(
        "cannot restart the commit log at {offset}: not a non-negative multiple of the segment size {segment_size}"
    )]
    UnalignedOffset {
        /// requested offset
        offset: i64,
        /// configured segment size
        segment_size: u64,
    },
}

/// Whether an OS error means "no space left" (ENOSPC) or "quota exceeded" (EDQUOT).
pub(crate) fn is_no_space(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(
        e.raw_os_error(),
        Some(code) if code == rustix::io::Errno::NOSPC.raw_os_error()
            || code == rustix::io::Errno::DQUOT.raw_os_error()
    )
}

impl StoreError {
    /// Wraps an I/O error with a description of what was being done.
    pub(crate) fn io(source: io::Error, context: impl Into<String>) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// True for [`StoreError::DiskFull`]: a write refused for lack of space and rolled back,
    /// so nothing of it was stored. (An ENOSPC elsewhere, e.g. while flushing, stays
    /// [`StoreError::Io`].)
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::DiskFull { .. })
    }

    /// Turns an I/O error caused by a full disk into [`StoreError::DiskFull`] naming `dir`;
    /// other errors are returned unchanged.
    pub(crate) fn on_disk(self, dir: &Path) -> Self {
        match self {
            Self::Io { context, source } if is_no_space(&source) => Self::DiskFull {
                dir: dir.display().to_string(),
                context,
                source,
            },
            other => other,
        }
    }
}

/// Adds lazily built context to I/O results (the message is only formatted on error).
pub(crate) trait IoContext<T> {
    /// Maps an `io::Error` to [`StoreError::Io`] with the context produced by `f`.
    fn ctx(self, f: impl FnOnce() -> String) -> Result<T, StoreError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, f: impl FnOnce() -> String) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::io(e, f()))
    }
}
