//! Replication in GET_BROKER_RUNTIME_INFO (mqadmin brokerStatus) and GET_BROKER_HA_STATUS
//! (907, mqadmin haStatus: Java's `HARuntimeInfo` JSON).
//!
//! Runtime info keys, master: `haSlaveNum` (connected slaves), `inSyncSlaveNums`,
//! `haSlaveAckOffset` (the best offset a connected slave acknowledged; with none connected, the
//! highest ever acknowledged, Java's `push2SlaveMaxOffset`), `slaveFallBehindMuch` (commit log
//! end minus that: the replication lag in bytes, as Java's `slaveFallBehindMuch()`),
//! `haConnectionInfo` (JSON list as in `HARuntimeInfo`).
//! Slave: `haMasterAddress`, `haClientConnected`, `haSlaveMaxOffset` (own commit log end),
//! `haMasterMaxOffset` (the master's end as last seen in a frame: exact after a heartbeat,
//! a lower bound while catching up), `haSlaveBehindBytes`, `haLastReadTimestamp`,
//! `haTransferredBytes`.

use super::replication::Replication;
use super::state::is_in_sync;
use serde_json::json;
use std::collections::BTreeMap;

impl Replication {
    fn connection_info(&self, master_end: i64) -> (Vec<serde_json::Value>, usize) {
        let gap = self.config.max_gap_not_in_sync;
        let mut in_sync = 0;
        let list = self
            .state
            .links()
            .iter()
            .map(|l| {
                let ack = l.ack();
                let ok = is_in_sync(master_end, ack, gap);
                in_sync += usize::from(ok);
                json!({
                    "addr": l.addr,
                    "slaveAckOffset": ack,
                    "diff": master_end - ack.max(0),
                    "inSync": ok,
                    "transferredByteInSecond": l.bytes_per_sec(),
                    "transferFromWhere": l.transfer_from(),
                })
            })
            .collect();
        (list, in_sync)
    }

    /// Adds the replication keys to a runtime info table.
    pub fn runtime_info(&self, t: &mut BTreeMap<String, String>) {
        let end = self.store.max_physical_offset();
        let mut put = |k: &str, v: String| {
            t.insert(k.to_owned(), v);
        };
        if self.is_master() {
            let (list, in_sync) = self.connection_info(end);
            let acked = self.state.best_ack();
            put("haSlaveNum", list.len().to_string());
            put("inSyncSlaveNums", in_sync.to_string());
            put("haSlaveAckOffset", acked.to_string());
            put(
                "slaveFallBehindMuch",
                (end - acked.max(0)).max(0).to_string(),
            );
            put(
                "haConnectionInfo",
                serde_json::Value::Array(list).to_string(),
            );
        } else {
            let c = &self.state.client;
            let seen = c.master_offset_seen();
            put("haMasterAddress", c.master().unwrap_or_default());
            put("haClientConnected", c.connected().to_string());
            put("haSlaveMaxOffset", end.to_string());
            put("haMasterMaxOffset", seen.to_string());
            put("haSlaveBehindBytes", (seen - end).max(0).to_string());
            put("haLastReadTimestamp", c.last_read_ms().to_string());
            put("haTransferredBytes", c.transferred().to_string());
        }
    }

    /// GET_BROKER_HA_STATUS body: Java's `HARuntimeInfo`.
    pub fn ha_runtime_info(&self) -> serde_json::Value {
        let end = self.store.max_physical_offset();
        if self.is_master() {
            let (list, in_sync) = self.connection_info(end);
            json!({
                "master": true,
                "masterCommitLogMaxOffset": end,
                "inSyncSlaveNums": in_sync,
                "haConnectionInfo": list,
                "haClientRuntimeInfo": {},
            })
        } else {
            let c = &self.state.client;
            json!({
                "master": false,
                "masterCommitLogMaxOffset": 0,
                "inSyncSlaveNums": 0,
                "haConnectionInfo": [],
                "haClientRuntimeInfo": {
                    "masterAddr": c.master().unwrap_or_default(),
                    "transferredByteInSecond": 0,
                    "maxOffset": end,
                    "lastReadTimestamp": c.last_read_ms(),
                    "lastWriteTimestamp": 0,
                    "masterFlushOffset": 0,
                    "isActivated": c.connected(),
                },
            })
        }
    }
}
