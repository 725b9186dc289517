//! Broker-level admin calls the rollers need: the configuration a running broker loaded
//! (GET_BROKER_CONFIG), runtime changes of the keys a broker takes without a restart
//! (UPDATE_BROKER_CONFIG), and how many slaves a master counts in sync (GET_BROKER_HA_STATUS).

use super::client::Admin;
use super::error::AdminError;
use rmq_protocol::{RemotingCommand, request_code as rc};
use std::collections::BTreeMap;

/// `key=value` lines of a Java properties text, by key (the last one wins).
pub fn parse_properties(text: &str) -> BTreeMap<String, String> {
    rmq_protocol::body::properties::parse(text)
        .into_iter()
        .collect()
}

impl Admin {
    /// The settings a running broker reports (GET_BROKER_CONFIG), by key.
    pub async fn broker_config(
        &self,
        broker: &str,
    ) -> Result<BTreeMap<String, String>, AdminError> {
        let req = RemotingCommand::request(rc::GET_BROKER_CONFIG);
        let resp = self.call(broker, req, "GET_BROKER_CONFIG").await?;
        Ok(parse_properties(&String::from_utf8_lossy(&resp.body)))
    }

    /// Changes `entries` on a running broker (UPDATE_BROKER_CONFIG); the broker refuses keys
    /// it cannot take at runtime.
    pub async fn update_broker_config(
        &self,
        broker: &str,
        entries: &BTreeMap<String, String>,
    ) -> Result<(), AdminError> {
        let body: String = entries.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let req = RemotingCommand::request(rc::UPDATE_BROKER_CONFIG).with_body(body.into_bytes());
        self.call(broker, req, "UPDATE_BROKER_CONFIG").await?;
        Ok(())
    }

    /// `inSyncSlaveNums` of a master's GET_BROKER_HA_STATUS: slaves whose acknowledged offset is
    /// within the broker's in-sync gap of its commit log end.
    pub async fn in_sync_slaves(&self, master: &str) -> Result<usize, AdminError> {
        let what = "GET_BROKER_HA_STATUS";
        let req = RemotingCommand::request(rc::GET_BROKER_HA_STATUS);
        let resp = self.call(master, req, what).await?;
        let v: serde_json::Value =
            serde_json::from_slice(&resp.body).map_err(|e| AdminError::Body {
                addr: master.to_owned(),
                what: what.to_owned(),
                message: e.to_string(),
            })?;
        Ok(v.get("inSyncSlaveNums")
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_skip_comments_and_trim() {
        let p = parse_properties("# c\n a = 1\n\nb:2\n!x\nc=x=y\n");
        assert_eq!(p.len(), 3);
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
        assert_eq!(p["c"], "x=y");
    }
}
