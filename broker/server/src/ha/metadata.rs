//! Slave metadata sync (Java's `SlaveSynchronize.syncAll`, every 10 s, first after 3 s): pull
//! the master's topic configs (21), consumer offsets (43), delay offsets (45) and subscription
//! groups (201) over its remoting port, so topics exist on the slave and consumers that fall
//! back to it continue from the committed offsets. Delay offsets only move forward (kept for a
//! later promotion; slaves never deliver); a master without request 45 answers
//! REQUEST_CODE_NOT_SUPPORTED, which is fine.

use super::state::HaState;
use crate::config::InnerCredentials;
use crate::state::{
    DelayOffsetSerializeWrapper, DelayOffsets, GroupTable, OffsetTable, TopicTable, now_ms,
};
use rmq_protocol::body::from_json;
use rmq_protocol::body::subscription::{ConsumerOffsetSerializeWrapper, SubscriptionGroupWrapper};
use rmq_protocol::body::topic_config::TopicConfigSerializeWrapper;
use rmq_protocol::net::tls::ClientTls;
use rmq_protocol::net::{ClientConfig, RemotingClient};
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// First sync after start.
const FIRST_DELAY: Duration = Duration::from_secs(3);
/// Sync period.
const PERIOD: Duration = Duration::from_secs(10);
/// Per-request timeout.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The tables a slave takes from its master.
#[derive(Clone)]
pub struct Tables {
    /// Topic configs (replaced when the master's differ).
    pub topics: Arc<TopicTable>,
    /// Subscription groups (replaced when the master's differ).
    pub groups: Arc<GroupTable>,
    /// Consumer offsets (the master's entries win).
    pub offsets: Arc<OffsetTable>,
    /// Delay progress (each level only moves forward).
    pub delay_offsets: Arc<DelayOffsets>,
    /// What the requests to the master are signed with (`innerClientAuthenticationCredentials`,
    /// for a master with ACL on).
    pub credentials: Option<InnerCredentials>,
    /// TLS of the connection to the master (`tls.enable`).
    pub client_tls: Option<Arc<ClientTls>>,
}

/// Runs the periodic sync until `stop` (slaves only); the master's address comes from `ha`.
pub fn spawn(tables: Tables, ha: Arc<HaState>, stop: CancellationToken) {
    tokio::spawn(async move {
        let client = RemotingClient::new(ClientConfig {
            tls: tables.client_tls.clone(),
            ..ClientConfig::default()
        });
        let mut delay = FIRST_DELAY;
        let mut failing = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = PERIOD;
            let Some(master) = ha.master_addr() else {
                continue;
            };
            match tables.sync_all(&client, &master).await {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!(master = %master, "metadata sync from the master works again");
                }
                Ok(()) => {}
                Err(e) => {
                    if !failing {
                        tracing::warn!(master = %master, error = %e, "metadata sync from the master failed");
                    }
                    failing = true;
                    client.close(&master);
                }
            }
        }
    });
}

/// Body of a successful answer; `None` if the master does not support the request.
async fn fetch(
    client: &RemotingClient,
    master: &str,
    code: i32,
    credentials: Option<&InnerCredentials>,
) -> Result<Option<Vec<u8>>, String> {
    let mut req = RemotingCommand::request(code);
    if let Some(source) = credentials {
        let c = source.load()?;
        c.sign_command(&mut req).map_err(|e| e.to_string())?;
    }
    let resp = client
        .invoke(master, req, TIMEOUT)
        .await
        .map_err(|e| format!("request {code}: {e}"))?;
    match resp.code {
        response_code::SUCCESS => Ok(Some(resp.body.to_vec())),
        response_code::REQUEST_CODE_NOT_SUPPORTED => Ok(None),
        other => Err(format!(
            "request {code}: code {other} {}",
            resp.remark_str()
        )),
    }
}

impl Tables {
    /// One round: topics, consumer offsets, delay offsets, subscription groups.
    pub async fn sync_all(&self, client: &RemotingClient, master: &str) -> Result<(), String> {
        if let Some(body) = fetch(
            client,
            master,
            rc::GET_ALL_TOPIC_CONFIG,
            self.credentials.as_ref(),
        )
        .await?
        {
            let w: TopicConfigSerializeWrapper =
                from_json("TopicConfigSerializeWrapper", &body).map_err(|e| e.to_string())?;
            let count = w.topic_config_table.len();
            if self.topics.replace_all(w).map_err(|e| e.to_string())? {
                tracing::info!(topics = count, "topic configs synced from the master");
            }
        }
        if let Some(body) = fetch(
            client,
            master,
            rc::GET_ALL_CONSUMER_OFFSET,
            self.credentials.as_ref(),
        )
        .await?
        {
            let w: ConsumerOffsetSerializeWrapper =
                from_json("ConsumerOffsetSerializeWrapper", &body).map_err(|e| e.to_string())?;
            self.offsets.merge_from(w);
        }
        if let Some(body) = fetch(
            client,
            master,
            rc::GET_ALL_DELAY_OFFSET,
            self.credentials.as_ref(),
        )
        .await?
            && !body.is_empty()
        {
            let w: DelayOffsetSerializeWrapper =
                from_json("DelayOffsetSerializeWrapper", &body).map_err(|e| e.to_string())?;
            self.delay_offsets.merge_from(w, now_ms());
        }
        if let Some(body) = fetch(
            client,
            master,
            rc::GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
            self.credentials.as_ref(),
        )
        .await?
        {
            let w: SubscriptionGroupWrapper =
                from_json("SubscriptionGroupWrapper", &body).map_err(|e| e.to_string())?;
            let count = w.subscription_group_table.len();
            if self.groups.replace_all(w) {
                tracing::info!(groups = count, "subscription groups synced from the master");
            }
        }
        Ok(())
    }
}
