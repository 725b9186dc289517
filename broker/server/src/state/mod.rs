//! Broker metadata kept in memory and persisted as JSON under `<store>/config/`: topics,
//! subscription groups, consumer offsets and delay-level progress.

mod delay_offsets;
mod groups;
mod offsets;
mod persist;
mod topics;

pub use delay_offsets::{DelayOffsetSerializeWrapper, DelayOffsets};
pub use groups::GroupTable;
pub use offsets::OffsetTable;
pub use persist::{DirtyJson, load_json, save_json};
pub use topics::{TopicTable, TopicTableError};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Logs a failed write of a persisted table (`what`); the table stays dirty, so the next
/// periodic write tries again.
pub fn log_persist_error(result: std::io::Result<()>, what: &str) {
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot persist {what}");
    }
}
