//! rmq message store: commit log segments, consume queues, checkpoint and crash recovery.
//!
//! # Layout on disk (under `StoreConfig::root_dir`)
//! ```text
//! commitlog/<20-digit start offset>          segments of commit_log_segment_size bytes (files grow
//!                                            as written; a segment ends with an 8-byte filler)
//! consumequeue/<topic>/<queueId>/<20-digit start byte offset>   20-byte units, N per file
//! index/<20-digit first commit log offset>   key index files (hash slots + chained entries)
//! checkpoint                                 two CRC-protected slots (durable offsets)
//! abort                                      exists while the store is open
//! lock                                       flock(2)ed by the owning process
//! ```
//!
//! # Modules
//! - [`config`]: [`StoreConfig`], [`FlushMode`], the tagsCode rule for self-dispatched records.
//! - `record`: pure checks of stored records. `segment`: positional file I/O (pread/pwrite).
//! - `commit_log`, `consume_queue` (+ `cq_unit`), `checkpoint`: the three kinds of files.
//! - `scan`: sequential record validation. `recovery`: what [`MessageStore::open`] does after a
//!   crash. `flush`: the flusher thread and group commit. `read`: pulls and search by time.
//! - `store`: [`MessageStore`] and the write path. `replication`: raw read/append seams for HA.
//! - `stats`: [`StoreStats`].
//! - `index` (+ `index_file`): the key index behind QUERY_MESSAGE, `index/<offset>` files
//!   written by a thread that follows the commit log ([`MessageStore::query_by_key`]).

#![deny(unsafe_code)]

mod checkpoint;
mod commit_log;
pub mod config;
mod consume_queue;
mod cq_unit;
mod error;
mod flush;
mod index;
mod index_file;
mod read;
mod record;
mod recovery;
mod replication;
mod scan;
mod segment;
mod stats;
mod store;

pub use config::{DispatchRecord, FlushMode, StoreConfig, TagsCodeFn, default_tags_code};
pub use consume_queue::CQ_UNIT_SIZE;
pub use error::StoreError;
pub use index::KeyQueryResult;
pub use read::{Boundary, GetResult, GetStatus};
pub use stats::StoreStats;
pub use store::{ArrivalListener, MessageStore, PutResult};

pub(crate) fn flush_offset(inner: &store::Inner) -> i64 {
    inner.flushed()
}
