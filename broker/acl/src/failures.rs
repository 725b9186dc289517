//! [`ConnectionFailures`]: the failed authentication attempts of every open connection of a
//! server, each counted by a [`FailureCounter`]; shared by the ACL 1.0 and 2.0 gates.

use crate::{Denial, FailureCounter, FailureLimit};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Instant;

/// Connections with failures tracked at once; beyond it the entries with a single failure are
/// dropped (a flood of new connections must not grow memory without bound).
const MAX_TRACKED_CONNECTIONS: usize = 65_536;

/// Failure counts by connection id.
pub struct ConnectionFailures {
    counters: Mutex<HashMap<u64, FailureCounter>>,
    limit: FailureLimit,
}

impl Default for ConnectionFailures {
    /// [`FailureLimit::default`] per connection.
    fn default() -> Self {
        Self::new(FailureLimit::default())
    }
}

impl ConnectionFailures {
    /// No failures yet; each connection may fail `limit` times.
    pub fn new(limit: FailureLimit) -> Self {
        Self {
            counters: Mutex::new(HashMap::new()),
            limit,
        }
    }

    /// `Some(denial)` while connection `conn` is refused unchecked (too many failures).
    pub fn refused(&self, conn: u64, now: Instant) -> Option<Denial> {
        self.counters.lock().get_mut(&conn)?.check(now)
    }

    /// Counts a failed authentication attempt on `conn`.
    pub fn record(&self, conn: u64, now: Instant) {
        let mut counters = self.counters.lock();
        if counters.len() >= MAX_TRACKED_CONNECTIONS && !counters.contains_key(&conn) {
            counters.retain(|_, c| c.failures() > 1);
        }
        counters
            .entry(conn)
            .or_insert_with(|| FailureCounter::new(self.limit))
            .record_failure(now);
    }

    /// Forgets a closed connection.
    pub fn forget(&self, conn: u64) {
        self.counters.lock().remove(&conn);
    }
}
