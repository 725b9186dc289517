//! rmq message store: commit log segments, consume queues, checkpoint and crash recovery.
//!
//! # Layout on disk (under `StoreConfig::root_dir`)
//! ```text
//! commitlog/<20-digit start offset>          segments of commit_log_segment_size bytes (files grow
//!                                            as written, their blocks preallocated at creation;
//!                                            a segment ends with an 8-byte filler)
//! consumequeue/<topic>/<queueId>/<20-digit start byte offset>   20-byte units, N per file
//! index/<20-digit first commit log offset>   key index files (hash slots + chained entries)
//! checkpoint                                 two CRC-protected slots (durable offsets)
//! abort                                      exists while the store is open
//! lock                                       flock(2)ed by the owning process
//! reset                                      exists while a commit log reset is under way
//! ```
//!
//! # Modules
//! - [`config`]: [`StoreConfig`], [`FlushMode`]. The record format and the tagsCode rule
//!   (`rmq_protocol::message::TagsCode`) belong to the protocol crate.
//! - `record`: pure checks of stored records. `segment`: positional file I/O (pread/pwrite).
//! - `commit_log`, `consume_queue` (+ `cq_unit`), `checkpoint`: the three kinds of files.
//!   `write_back`: the commit log tail's write-back buffer (one `pwrite` per few KiB of
//!   appends; written out before every fsync and segment roll, read through by readers).
//! - `scan`: sequential record validation. `recovery`: what [`MessageStore::open`] does after a
//!   crash. `flush`: the flusher thread and group commit. `read`: pulls and search by time.
//! - `inner`: the state the parts share. `write`: the write path ([`PutResult`]).
//! - `store`: [`MessageStore`], the public face. `replication`: raw read/append seams for HA.
//! - `stats`: [`StoreStats`].
//! - `index` (+ `index_file`): the key index behind QUERY_MESSAGE, `index/<offset>` files
//!   written by a thread that follows the commit log ([`MessageStore::query_by_key`]).
//! - `visible`: reads capped at a commit log offset ([`MessageStore::set_read_limit`],
//!   controller mode's confirm offset).
//! - [`disk`]: [`DiskUsage`] of the file system holding the store, as `df` computes it.
//! - [`retention`]: [`MessageStore::delete_expired`] ([`RetentionPass`], [`CleanReport`]).
//!   `reset`: [`MessageStore::reset_to`] (a slave restarting at its master's oldest offset).
//! - A full disk is [`StoreError::DiskFull`]; the failed append is rolled back.
//! - `durable`: creating, renaming and removing files with an fsync of their directory, and
//!   the fault-injection seam of every fsync. A failed fsync puts the store into the failed
//!   state ([`StoreError::PersistFailed`], [`MessageStore::is_failed`]).

#![deny(unsafe_code)]

mod checkpoint;
mod commit_log;
pub mod config;
mod consume_queue;
mod cq_unit;
pub mod disk;
pub mod durable;
pub mod epoch;
mod error;
mod flush;
mod flush_times;
pub mod group_commit;
mod index;
mod index_file;
mod inner;
mod read;
mod record;
mod recovery;
mod replication;
mod reset;
mod reset_marker;
pub mod retention;
mod scan;
mod segment;
mod stats;
mod store;
mod truncate;
mod visible;
mod write;
mod write_back;

pub use config::{FlushMode, StoreConfig};
pub use consume_queue::CQ_UNIT_SIZE;
pub use disk::{DiskUsage, disk_usage};
#[doc(hidden)]
pub use durable::{FaultHook, FaultPoint};
pub use error::StoreError;
pub use flush_times::{FLUSH_BUCKETS_MS, FlushTimesSnapshot};
pub use index::KeyQueryResult;
pub use inner::ArrivalListener;
pub use read::{Boundary, GetResult, GetStatus};
pub use retention::{CleanReport, RetentionPass};
pub use stats::StoreStats;
pub use store::MessageStore;
pub use write::PutResult;
