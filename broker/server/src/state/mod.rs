//! Broker metadata kept in memory and persisted as JSON under `<store>/config/`: topics,
//! subscription groups and consumer offsets.

mod groups;
mod offsets;
mod persist;
mod topics;

pub use groups::GroupTable;
pub use offsets::OffsetTable;
pub use persist::{load_json, save_json};
pub use topics::{TopicTable, TopicTableError};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
