//! SYNC_MASTER: a send with `WAIT=true` is acknowledged only once enough slaves have the
//! record (the 4.9 `CommitLog.submitReplicaRequest` behaviour):
//!
//! - fewer in-sync slaves than needed (no connection, no report yet, or more than
//!   `haMaxGapNotInSync` behind) → `SLAVE_NOT_AVAILABLE` at once;
//! - otherwise wait until the slaves acknowledged the record's end offset, up to `slaveTimeout`
//!   → `SUCCESS`, else `FLUSH_SLAVE_TIMEOUT`; a slave whose connection ends meanwhile (too few
//!   left) → `SLAVE_NOT_AVAILABLE` at once, not after the timeout (a client's send timeout is
//!   often shorter).
//!
//! In every case the message is already stored and the response still carries its msgId and
//! offsets. "Needed" is `inSyncReplicas - 1` slaves (rmq default 2 → one slave; 1 → no wait,
//! Java 5's default). In controller mode with `allAckInSyncStateSet=true` it is every member
//! of the in-sync set ([`HaState::set_sync_members`]): only their acks count, and a set of
//! the master alone never waits.

use super::replication::Replication;
use super::state::HaState;
use crate::config::{BrokerRole, HaConfig};
use rmq_protocol::response_code as code;

/// What a SYNC_MASTER send waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replicated {
    /// Nothing to wait for, or enough slaves acknowledged.
    Ok,
    /// Not enough healthy slaves.
    SlaveNotAvailable,
    /// Healthy slaves did not acknowledge in time.
    Timeout,
}

impl Replicated {
    /// The send response code.
    pub fn response_code(self) -> i32 {
        match self {
            Self::Ok => code::SUCCESS,
            Self::SlaveNotAvailable => code::SLAVE_NOT_AVAILABLE,
            Self::Timeout => code::FLUSH_SLAVE_TIMEOUT,
        }
    }
}

/// Waits for the slaves to have everything below `end` (the record's end offset).
pub async fn await_replicas(
    ha: &HaState,
    cfg: &HaConfig,
    role: BrokerRole,
    end: i64,
    wait: bool,
) -> Replicated {
    let need = match ha.sync_members() {
        Some(members) => members.len(),
        None => cfg.in_sync_replicas.saturating_sub(1) as usize,
    };
    if role != BrokerRole::SyncMaster || !wait || need == 0 {
        return Replicated::Ok;
    }
    ha.wake_transfer();
    if ha.in_sync_count(end, cfg.max_gap_not_in_sync) < need {
        return Replicated::SlaveNotAvailable;
    }
    if ha.wait_acks(end, need, cfg.slave_timeout).await {
        Replicated::Ok
    } else if ha.counted().len() < need {
        // A slave disconnected while the send waited (it restarts, say): answered at once.
        Replicated::SlaveNotAvailable
    } else {
        Replicated::Timeout
    }
}

impl Replication {
    /// The send path's hook: the response code after replication (SUCCESS unless SYNC_MASTER
    /// could not replicate). `wait` is the message's `WAIT` property.
    pub async fn replication_code(&self, end: i64, wait: bool) -> i32 {
        await_replicas(&self.state, &self.config, self.role, end, wait)
            .await
            .response_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn cfg(timeout_ms: u64) -> HaConfig {
        HaConfig {
            slave_timeout: Duration::from_millis(timeout_ms),
            max_gap_not_in_sync: 1000,
            ..HaConfig::default()
        }
    }

    const SYNC: BrokerRole = BrokerRole::SyncMaster;

    #[tokio::test]
    async fn no_slave_means_slave_not_available() {
        let ha = HaState::default();
        let r = await_replicas(&ha, &cfg(100), SYNC, 500, true).await;
        assert_eq!(r, Replicated::SlaveNotAvailable);
        assert_eq!(r.response_code(), code::SLAVE_NOT_AVAILABLE);
        // connected but never reported: not in sync either
        let _link = ha.register("s".into(), None);
        let r = await_replicas(&ha, &cfg(100), SYNC, 500, true).await;
        assert_eq!(r, Replicated::SlaveNotAvailable);
    }

    #[tokio::test]
    async fn async_master_and_no_wait_never_block() {
        let ha = HaState::default();
        let c = cfg(100);
        assert_eq!(
            await_replicas(&ha, &c, BrokerRole::AsyncMaster, 500, true).await,
            Replicated::Ok
        );
        assert_eq!(
            await_replicas(&ha, &c, SYNC, 500, false).await,
            Replicated::Ok
        );
        let java5 = HaConfig {
            in_sync_replicas: 1,
            ..c
        };
        assert_eq!(
            await_replicas(&ha, &java5, SYNC, 500, true).await,
            Replicated::Ok
        );
    }

    #[tokio::test]
    async fn slave_too_far_behind_is_not_available() {
        let ha = HaState::default();
        let link = ha.register("s".into(), None);
        ha.record_ack(&link, 100);
        // gap 1000: 1100 - 100 is not < 1000
        let r = await_replicas(&ha, &cfg(100), SYNC, 1100, true).await;
        assert_eq!(r, Replicated::SlaveNotAvailable);
    }

    #[tokio::test]
    async fn waits_for_the_ack_then_succeeds() {
        let ha = Arc::new(HaState::default());
        let link = ha.register("s".into(), None);
        ha.record_ack(&link, 400);
        let acker = {
            let (ha, link) = (ha.clone(), link.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                ha.record_ack(&link, 450); // not enough yet
                tokio::time::sleep(Duration::from_millis(50)).await;
                ha.record_ack(&link, 600);
            })
        };
        let started = Instant::now();
        let r = await_replicas(&ha, &cfg(3000), SYNC, 500, true).await;
        assert_eq!(r, Replicated::Ok);
        assert!(started.elapsed() >= Duration::from_millis(90));
        assert!(started.elapsed() < Duration::from_secs(2));
        acker.await.unwrap();
        assert_eq!(ha.push2slave_max(), 600);
    }

    #[tokio::test]
    async fn a_slave_leaving_ends_the_wait_at_once() {
        let ha = Arc::new(HaState::default());
        let link = ha.register("s".into(), None);
        ha.record_ack(&link, 400);
        let leaver = {
            let (ha, id) = (ha.clone(), link.id);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                ha.unregister(id);
            })
        };
        let started = Instant::now();
        let r = await_replicas(&ha, &cfg(10_000), SYNC, 500, true).await;
        assert_eq!(r, Replicated::SlaveNotAvailable);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not the 10 s timeout"
        );
        leaver.await.unwrap();
    }

    #[tokio::test]
    async fn times_out_without_ack() {
        let ha = HaState::default();
        let link = ha.register("s".into(), None);
        ha.record_ack(&link, 400);
        let started = Instant::now();
        let r = await_replicas(&ha, &cfg(150), SYNC, 500, true).await;
        assert_eq!(r, Replicated::Timeout);
        assert_eq!(r.response_code(), code::FLUSH_SLAVE_TIMEOUT);
        assert!(started.elapsed() >= Duration::from_millis(140));
    }

    #[tokio::test]
    async fn two_slaves_needed_with_in_sync_replicas_3() {
        let ha = Arc::new(HaState::default());
        let a = ha.register("a".into(), None);
        let b = ha.register("b".into(), None);
        ha.record_ack(&a, 400);
        ha.record_ack(&b, 400);
        let c = HaConfig {
            in_sync_replicas: 3,
            ..cfg(150)
        };
        ha.record_ack(&a, 500);
        assert_eq!(
            await_replicas(&ha, &c, SYNC, 500, true).await,
            Replicated::Timeout
        );
        let waiter = {
            let (ha, c) = (ha.clone(), c.clone());
            tokio::spawn(async move { await_replicas(&ha, &c, SYNC, 500, true).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        ha.record_ack(&b, 500);
        assert_eq!(waiter.await.unwrap(), Replicated::Ok);
        // a slave that disconnects no longer counts
        ha.unregister(b.id);
        assert_eq!(
            await_replicas(&ha, &c, SYNC, 500, true).await,
            Replicated::SlaveNotAvailable
        );
    }

    #[tokio::test]
    async fn with_an_in_sync_set_every_member_and_only_members_must_ack() {
        let ha = HaState::default();
        let c = cfg(150);
        ha.set_sync_members(Some([2].into()));
        let outsider = ha.register("x".into(), Some(3));
        ha.record_ack(&outsider, 500);
        assert_eq!(
            await_replicas(&ha, &c, SYNC, 500, true).await,
            Replicated::SlaveNotAvailable
        );
        let member = ha.register("m".into(), Some(2));
        ha.record_ack(&member, 500);
        assert_eq!(
            await_replicas(&ha, &c, SYNC, 500, true).await,
            Replicated::Ok
        );
        ha.set_sync_members(Some([].into()));
        assert_eq!(
            await_replicas(&ha, &c, SYNC, 900, true).await,
            Replicated::Ok
        );
    }
}
