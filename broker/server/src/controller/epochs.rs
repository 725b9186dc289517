//! Epoch histories between the brokers of a group: a new master records where its epoch
//! begins; a slave asks its master (GET_BROKER_EPOCH_CACHE, served by every broker) for the
//! master's HA address, end and history; a demoted master whose log runs past the point where
//! it and the new master agree cuts its divergent tail ([`tail`], pure) before replicating.

use crate::broker::Broker;
use rmq_protocol::RemotingCommand;
use rmq_store::MessageStore;
use rmq_store::epoch::{EpochEntry, EpochHistory};
use std::time::Duration;

/// GET_BROKER_EPOCH_CACHE served by a broker: header `haServerAddr` (where to replicate from)
/// and `maxOffset`; body the epoch history as `[[epoch, start], ...]`.
pub const GET_BROKER_EPOCH_CACHE: i32 = rmq_controller::codes::GET_BROKER_EPOCH_CACHE;

/// What the master told a slave.
#[derive(Debug, Clone)]
pub struct MasterEpochs {
    /// The master's HA `host:port`.
    pub ha_addr: String,
    /// Its commit log end.
    pub max_offset: i64,
    /// Its epoch history.
    pub history: EpochHistory,
}

/// What a slave must do with its log before it replicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Its log is a prefix of the master's (as far as the histories tell).
    Keep,
    /// Cut everything from this offset (a divergent tail from a superseded epoch).
    CutAt(i64),
    /// Nothing in common and more data than the master: the store must be rebuilt.
    Rebuild,
}

/// The decision for a log ending at `max` with history `own`, against the master's.
pub fn tail(own: &EpochHistory, max: i64, m: &EpochHistory, m_max: i64) -> Tail {
    match own.consistent_point(max, m, m_max) {
        Some(p) if p < max => Tail::CutAt(p),
        Some(_) => Tail::Keep,
        None if max > m_max && !own.entries().is_empty() => Tail::Rebuild,
        None => Tail::Keep,
    }
}

/// Asks the master at `master` (remoting address) for [`MasterEpochs`].
pub async fn fetch(master: &str) -> Result<MasterEpochs, String> {
    let net = rmq_protocol::net::RemotingClient::new(Default::default());
    let req = RemotingCommand::request(GET_BROKER_EPOCH_CACHE);
    let resp = net
        .invoke(master, req, Duration::from_secs(3))
        .await
        .map_err(|e| format!("cannot reach the master {master}: {e}"))?;
    let ha_addr = resp
        .ext_fields
        .get("haServerAddr")
        .filter(|a| resp.code == 0 && !a.is_empty())
        .ok_or_else(|| format!("the master {master} did not say where its HA port is"))?
        .to_owned();
    let max_offset = resp
        .ext_fields
        .get("maxOffset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let pairs: Vec<[i64; 2]> = serde_json::from_slice(&resp.body).unwrap_or_default();
    let entries = pairs
        .iter()
        .map(|[e, s]| EpochEntry {
            epoch: u32::try_from(*e).unwrap_or(0),
            start: *s,
        })
        .collect();
    let history = EpochHistory::from_entries(entries)
        .map_err(|e| format!("the master {master} sent a bad epoch history: {e}"))?;
    Ok(MasterEpochs {
        ha_addr,
        max_offset,
        history,
    })
}

/// The answer to GET_BROKER_EPOCH_CACHE (see [`GET_BROKER_EPOCH_CACHE`]).
pub fn serve(b: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let entries: Vec<[i64; 2]> = EpochHistory::load(&b.config.store_root)
        .map(|h| {
            h.entries()
                .iter()
                .map(|e| [i64::from(e.epoch), e.start])
                .collect()
        })
        .unwrap_or_default();
    let mut resp =
        RemotingCommand::success(req).with_body(serde_json::to_vec(&entries).unwrap_or_default());
    resp.ext_fields.insert("haServerAddr", &b.ha_addr);
    let max = b.store.max_physical_offset().to_string();
    resp.ext_fields.insert("maxOffset", &max);
    resp
}

/// Records that master epoch `epoch` begins at the store's current end (entries copied from
/// a former master that begin later than that end are dropped: this log never had them). A
/// master restarted within its own epoch (back before the controllers deemed it dead) keeps
/// the entry it wrote when the epoch began.
pub fn record(b: &Broker, epoch: i32) {
    let root = &b.config.store_root;
    let start = b.store.max_physical_offset();
    let number = u32::try_from(epoch).unwrap_or(0);
    let result = EpochHistory::load(root).and_then(|mut h| {
        if h.last()
            .is_some_and(|l| l.epoch == number && l.start <= start)
        {
            return Ok(false);
        }
        h.truncate_from(start.saturating_add(1));
        h.begin(number, start)?;
        h.save(root).map(|()| true)
    });
    match result {
        Ok(true) => tracing::info!(epoch, start, "master epoch recorded"),
        Ok(false) => tracing::info!(epoch, start, "master epoch resumed after a restart"),
        Err(e) => tracing::warn!(epoch, start, error = %e, "cannot record the master epoch"),
    }
}

/// On a slave before it replicates: `Ok(true)` when a divergent tail was marked for cutting
/// (restart to apply it), `Ok(false)` when the log can follow the master (its history is then
/// the master's), `Err` when the store must be rebuilt.
pub fn check_slave(b: &Broker, m: &MasterEpochs) -> Result<bool, String> {
    let root = &b.config.store_root;
    let own = EpochHistory::load(root).unwrap_or_default();
    let max = b.store.max_physical_offset();
    match tail(&own, max, &m.history, m.max_offset) {
        Tail::CutAt(at) => {
            tracing::warn!(
                own_end = max,
                cut_at = at,
                master_end = m.max_offset,
                "this broker's commit log diverged from the new master's (records of a \
                 superseded epoch); cutting them and restarting"
            );
            MessageStore::truncate_tail(root, at).map_err(|e| e.to_string())?;
            Ok(true)
        }
        Tail::Rebuild => Err(format!(
            "this broker's commit log (end {max}) shares no epoch with the master's (end {}): \
             stop it, move {} away and start it again to copy the master's log",
            m.max_offset,
            root.display()
        )),
        Tail::Keep => {
            if let Err(e) = m.history.save(root) {
                tracing::warn!(error = %e, "cannot save the master's epoch history");
            }
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(u32, i64)]) -> EpochHistory {
        let entries = pairs
            .iter()
            .map(|&(epoch, start)| EpochEntry { epoch, start })
            .collect();
        EpochHistory::from_entries(entries).unwrap()
    }

    #[test]
    fn a_demoted_master_cuts_what_the_new_master_never_had() {
        // old master: epoch 1 from 0, wrote to 900; the new master had 600 when epoch 2 began
        let old = h(&[(1, 0)]);
        let new = h(&[(1, 0), (2, 600)]);
        assert_eq!(tail(&old, 900, &new, 1000), Tail::CutAt(600));
        // a slave behind the master keeps its log
        assert_eq!(tail(&new, 500, &new, 1000), Tail::Keep);
        assert_eq!(tail(&EpochHistory::default(), 500, &new, 1000), Tail::Keep);
        // no common epoch and more data than the master: rebuild
        assert_eq!(tail(&h(&[(5, 0)]), 2000, &new, 1000), Tail::Rebuild);
    }
}
