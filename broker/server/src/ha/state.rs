//! Replication state shared by the HA tasks, the send path (SYNC_MASTER waits) and runtime
//! info: on a master the connected slaves and their acknowledged offsets; on a slave the link
//! to its master and the master's addresses learned at registration.

use parking_lot::{Mutex, RwLock};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;

/// One slave connected to this master.
#[derive(Debug)]
pub struct SlaveLink {
    /// Connection id.
    pub id: u64,
    /// The slave's socket address.
    pub addr: String,
    /// The broker id the slave announced (controller mode), else `None`.
    pub broker_id: Option<i64>,
    /// Last reported offset (-1 before the first report).
    ack: AtomicI64,
    /// Where the transfer started (-1 before the first report).
    transfer_from: AtomicI64,
    /// Bytes sent during the last full second.
    bytes_per_sec: AtomicU64,
}

impl SlaveLink {
    /// The slave's last reported commit log offset (-1 before its first report).
    pub fn ack(&self) -> i64 {
        self.ack.load(Ordering::Acquire)
    }

    /// Where the transfer to this slave started (-1 before the first report).
    pub fn transfer_from(&self) -> i64 {
        self.transfer_from.load(Ordering::Acquire)
    }

    /// Records where the transfer starts.
    pub fn set_transfer_from(&self, offset: i64) {
        self.transfer_from.store(offset, Ordering::Release);
    }

    /// Bytes sent during the last full second.
    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec.load(Ordering::Relaxed)
    }

    /// Publishes the bytes sent during the last full second.
    pub fn set_bytes_per_sec(&self, n: u64) {
        self.bytes_per_sec.store(n, Ordering::Relaxed);
    }
}

/// A slave's view of its master link.
#[derive(Debug, Default)]
pub struct ClientStatus {
    connected: AtomicBool,
    master: RwLock<Option<String>>,
    master_offset_seen: AtomicI64,
    last_read_ms: AtomicI64,
    transferred: AtomicU64,
}

impl ClientStatus {
    /// Marks the link up (to `master`) or down.
    pub fn set_connected(&self, master: Option<&str>) {
        self.connected.store(master.is_some(), Ordering::Release);
        if let Some(m) = master {
            *self.master.write() = Some(m.to_owned());
        }
    }

    /// True while connected to a master.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// The HA address last connected to.
    pub fn master(&self) -> Option<String> {
        self.master.read().clone()
    }

    /// Records a frame that showed the master has data up to `end` (heartbeats show its end).
    pub fn saw_master_offset(&self, end: i64, now_ms: i64, bytes: usize) {
        self.master_offset_seen.fetch_max(end, Ordering::AcqRel);
        self.last_read_ms.store(now_ms, Ordering::Release);
        self.transferred.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The highest master offset seen in a frame (a lower bound while catching up).
    pub fn master_offset_seen(&self) -> i64 {
        self.master_offset_seen.load(Ordering::Acquire)
    }

    /// When the last frame arrived (ms, 0 = never).
    pub fn last_read_ms(&self) -> i64 {
        self.last_read_ms.load(Ordering::Acquire)
    }

    /// Body bytes received since start.
    pub fn transferred(&self) -> u64 {
        self.transferred.load(Ordering::Relaxed)
    }
}

/// Replication state of a broker.
#[derive(Debug, Default)]
pub struct HaState {
    links: Mutex<Vec<Arc<SlaveLink>>>,
    next_id: AtomicU64,
    push2slave_max: AtomicI64,
    acked: Notify,
    data: Notify,
    master_ha_addr: RwLock<Option<String>>,
    master_addr: RwLock<Option<String>>,
    /// Controller mode: the in-sync set without the master. A SYNC_MASTER
    /// (`allAckInSyncStateSet`) waits for every one of them and only them; reads show what
    /// they all hold. `None`: count any slave (`inSyncReplicas`).
    sync_members: RwLock<Option<BTreeSet<i64>>>,
    /// Slave side.
    pub client: ClientStatus,
}

impl HaState {
    /// Adds a connected slave.
    pub fn register(&self, addr: String, broker_id: Option<i64>) -> Arc<SlaveLink> {
        let link = Arc::new(SlaveLink {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            addr,
            broker_id,
            ack: AtomicI64::new(-1),
            transfer_from: AtomicI64::new(-1),
            bytes_per_sec: AtomicU64::new(0),
        });
        self.links.lock().push(link.clone());
        link
    }

    /// Removes a slave whose connection ended.
    pub fn unregister(&self, id: u64) {
        self.links.lock().retain(|l| l.id != id);
        self.acked.notify_waiters();
    }

    /// Connected slaves.
    pub fn links(&self) -> Vec<Arc<SlaveLink>> {
        self.links.lock().clone()
    }

    /// Records a slave's report and wakes SYNC_MASTER waiters.
    pub fn record_ack(&self, link: &SlaveLink, offset: i64) {
        link.ack.store(offset, Ordering::Release);
        self.push2slave_max.fetch_max(offset, Ordering::AcqRel);
        self.acked.notify_waiters();
    }

    /// The highest offset any slave ever acknowledged (Java's `push2SlaveMaxOffset`).
    pub fn push2slave_max(&self) -> i64 {
        self.push2slave_max.load(Ordering::Acquire)
    }

    /// The best offset a connected slave acknowledged; with none connected, the highest ever
    /// acknowledged (-1 for a connected slave that has not reported yet).
    pub fn best_ack(&self) -> i64 {
        self.links
            .lock()
            .iter()
            .map(|l| l.ack())
            .max()
            .unwrap_or_else(|| self.push2slave_max())
    }

    /// Sets the in-sync set without the master (controller mode): what sends wait for under
    /// `allAckInSyncStateSet` and what reads are capped at.
    pub fn set_sync_members(&self, members: Option<BTreeSet<i64>>) {
        *self.sync_members.write() = members;
    }

    /// The slaves every send must wait for, when the in-sync set decides (controller mode).
    pub fn sync_members(&self) -> Option<BTreeSet<i64>> {
        self.sync_members.read().clone()
    }

    /// Connected slaves whose acks count for sends: members of the in-sync set when it
    /// decides, else all.
    pub fn counted(&self) -> Vec<Arc<SlaveLink>> {
        let members = self.sync_members.read();
        let links = self.links.lock();
        match members.as_ref() {
            None => links.clone(),
            Some(m) => links
                .iter()
                .filter(|l| l.broker_id.is_some_and(|id| m.contains(&id)))
                .cloned()
                .collect(),
        }
    }

    /// Connected (counted) slaves that acknowledged at least `offset`.
    pub fn acked_count(&self, offset: i64) -> usize {
        self.counted().iter().filter(|l| l.ack() >= offset).count()
    }

    /// Connected (counted) slaves less than `max_gap` bytes behind `master_offset` (Java's
    /// `isSlaveOK`, counted per slave).
    pub fn in_sync_count(&self, master_offset: i64, max_gap: i64) -> usize {
        self.counted()
            .iter()
            .filter(|l| is_in_sync(master_offset, l.ack(), max_gap))
            .count()
    }

    /// Waits until `need` slaves acknowledged `offset`; false after `timeout`, or at once when
    /// fewer than `need` slaves stay connected (a slave that left never acknowledges).
    pub async fn wait_acks(&self, offset: i64, need: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.acked.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.acked_count(offset) >= need {
                return true;
            }
            if self.counted().len() < need {
                return false;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.acked_count(offset) >= need;
            }
        }
    }

    /// A future that completes at the next slave report or disconnection; enable it before
    /// reading the acks so no report is missed.
    pub fn acked_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.acked.notified()
    }

    /// New commit log data: wakes the transfer loops.
    pub fn wake_transfer(&self) {
        self.data.notify_waiters();
    }

    /// A future that completes at the next [`Self::wake_transfer`]; enable it before checking
    /// for data so no wake-up is missed.
    pub fn data_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.data.notified()
    }

    /// Records the master's HA address from a registration response (slaves).
    pub fn set_master_ha_addr(&self, addr: &str) {
        let mut m = self.master_ha_addr.write();
        if m.as_deref() != Some(addr) {
            tracing::info!(ha_master = %addr, "master HA address learned from nameserver");
            *m = Some(addr.to_owned());
        }
    }

    /// The master's HA address learned from the nameserver.
    pub fn master_ha_addr(&self) -> Option<String> {
        self.master_ha_addr.read().clone()
    }

    /// Records the master's remoting address from a registration response (slaves).
    pub fn set_master_addr(&self, addr: String) {
        let mut m = self.master_addr.write();
        if m.as_deref() != Some(addr.as_str()) {
            tracing::info!(master = %addr, "master address learned from nameserver");
            *m = Some(addr);
        }
    }

    /// The master's remoting address, if known (slave metadata sync pulls from it).
    pub fn master_addr(&self) -> Option<String> {
        self.master_addr.read().clone()
    }
}

/// Java's `isInSyncSlave`: the slave reported and is less than `max_gap` behind.
pub fn is_in_sync(master_offset: i64, ack: i64, max_gap: i64) -> bool {
    ack >= 0 && master_offset - ack < max_gap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_counts_and_best_ack() {
        let ha = HaState::default();
        assert_eq!(ha.best_ack(), 0, "nothing ever acknowledged");
        let a = ha.register("a".into(), None);
        let b = ha.register("b".into(), None);
        assert_eq!(ha.best_ack(), -1, "connected, no report yet");
        ha.record_ack(&a, 300);
        ha.record_ack(&b, 100);
        assert_eq!(ha.best_ack(), 300);
        assert_eq!(ha.acked_count(200), 1);
        assert_eq!(ha.acked_count(100), 2);
        assert_eq!(ha.in_sync_count(350, 100), 1);
        assert_eq!(ha.in_sync_count(350, 1000), 2);
        ha.unregister(a.id);
        assert_eq!(ha.best_ack(), 100);
        ha.unregister(b.id);
        assert_eq!(
            ha.best_ack(),
            300,
            "the highest ever, once none is connected"
        );
        assert_eq!(ha.push2slave_max(), 300);
        assert!(!is_in_sync(10, -1, 1000));
    }
}
