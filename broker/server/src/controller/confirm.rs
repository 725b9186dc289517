//! A master in controller mode shows consumers only what every member of the in-sync set
//! holds (RocketMQ 5's confirm offset). A record stored on the master alone can be lost in a
//! failover — the next master is elected from the in-sync set and cuts nothing it has, but it
//! never had that record — and a consumer that had read it would skip the queue offsets the new
//! master gives to the next sends. So reads stop at the offset all in-sync slaves
//! acknowledged; while the master is alone in the set they are not capped.
//!
//! What the master held when it started counts as confirmed (RocketMQ keeps the offset in its
//! checkpoint; rmq does not yet). A member that is not connected freezes the offset until the
//! master drops it from the set (`haMaxTimeSlaveNotCatchup`), as in RocketMQ.

use super::decide::confirm_offset;
use crate::broker::Broker;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The longest the offset goes unchecked (reports wake it sooner; in-sync set changes do not).
const RECHECK: Duration = Duration::from_millis(100);

/// Keeps the store's read cap at the confirm offset until `stop`, waking parked pulls when it
/// moves.
pub fn spawn_confirm(b: Arc<Broker>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut cap = Some(b.store.max_physical_offset());
        b.store.set_read_limit(cap);
        loop {
            let reported = b.ha.state.acked_notified();
            tokio::pin!(reported);
            reported.as_mut().enable();
            if let Some(next) = next_cap(&b, cap)
                && next != cap
            {
                cap = next;
                b.store.set_read_limit(cap);
                if !b.holds.is_empty() {
                    crate::processor::wake_due_pulls(&b);
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = reported => {}
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    });
}

/// The read cap the in-sync set gives now: `Some(None)` no cap (the master is alone in the
/// set), `Some(Some(offset))` a cap, `None` unknown (keep the current one).
fn next_cap(b: &Broker, current: Option<i64>) -> Option<Option<i64>> {
    let members = b.ha.state.sync_members()?;
    if members.is_empty() {
        return Some(None);
    }
    let acks: Vec<(i64, i64)> =
        b.ha.state
            .links()
            .iter()
            .filter_map(|l| l.broker_id.map(|id| (id, l.ack())))
            .collect();
    let confirmed = confirm_offset(&members, &acks, b.store.max_physical_offset())?;
    // from no cap to a cap: never above what the members hold, so it may show less than before
    Some(Some(match current {
        Some(c) => c.max(confirmed),
        None => confirmed,
    }))
}
