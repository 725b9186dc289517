//! Registration with every nameserver: at start, every `registerNameServerPeriod`, and at once
//! when the topic table changes; a round some nameserver missed is retried sooner (1 s, doubling
//! up to the period), so a refusal that clears up (accounts rotated on the nameserver after the
//! broker's credentials, a nameserver restarting) costs seconds, not a period. UNREGISTER_BROKER
//! on shutdown.

use crate::broker::Broker;
use crate::health::{Health, NamesrvOutcome};
use rmq_protocol::body::register::RegisterBrokerBody;
use rmq_protocol::body::route::perm;
use rmq_protocol::body::to_json;
use rmq_protocol::header::namesrv::{
    RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader,
};
use rmq_protocol::net::RemotingClient;
use rmq_protocol::{RemotingCommand, request_code as rc, response_code};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const REGISTER_TIMEOUT: Duration = Duration::from_secs(24);

/// The wait before the first retry of a round some nameserver missed.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// How long to wait for the next round after `missed_in_a_row` rounds in a row that some
/// nameserver did not accept: the period after a full round, else 1 s doubling with each
/// missed round, never longer than the period.
fn next_round_in(missed_in_a_row: u32, period: Duration) -> Duration {
    if missed_in_a_row == 0 {
        return period;
    }
    let doublings = missed_in_a_row.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1 << doublings).min(period)
}

/// The REGISTER_BROKER request: every topic when `whole`, else those changed since the last
/// round (see [`crate::state::TopicTable::take_registration`]).
fn register_request(b: &Broker, whole: bool) -> RemotingCommand {
    let mut wrapper = b.topics.take_registration(whole);
    let permission = b.permission();
    if permission & perm::READ_WRITE != perm::READ_WRITE {
        for t in wrapper.topic_config_table.values_mut() {
            t.perm &= permission;
        }
    }
    let body = to_json(&RegisterBrokerBody {
        topic_config_serialize_wrapper: wrapper,
        filter_server_list: Vec::new(),
    });
    let crc = (crc32fast::hash(&body) & 0x7FFF_FFFF) as i32;
    let req = RemotingCommand::request_with(
        rc::REGISTER_BROKER,
        &RegisterBrokerRequestHeader {
            broker_name: b.config.broker_name.clone(),
            broker_addr: b.broker_addr.clone(),
            cluster_name: b.config.cluster_name.clone(),
            ha_server_addr: b.ha_addr.clone(),
            broker_id: b.config.broker_id,
            heartbeat_timeout_millis: None,
            enable_acting_master: Some(false),
            compressed: false,
            body_crc32: Some(crc),
        },
    )
    .with_body(body);
    signed(b, req)
}

/// `req` signed with `innerClientAuthenticationCredentials` when the broker has them (for
/// nameservers and masters with ACL on); unsigned otherwise.
pub fn signed(b: &Broker, mut req: RemotingCommand) -> RemotingCommand {
    let Some(source) = &b.config.security.inner_credentials else {
        return req;
    };
    let signed = source
        .load()
        .and_then(|c| c.sign_command(&mut req).map_err(|e| e.to_string()));
    if let Err(e) = signed {
        tracing::error!(error = %e, "cannot sign the broker's own request; it goes unsigned");
    }
    req
}

/// What one registration round achieved.
#[derive(Debug, Default)]
pub struct Round {
    /// One outcome per configured nameserver, in `namesrvAddr` order.
    pub outcomes: Vec<NamesrvOutcome>,
    /// The master address a slave learned.
    pub master: Option<String>,
}

impl Round {
    /// How many nameservers accepted the registration.
    pub fn accepted(&self) -> usize {
        self.outcomes.iter().filter(|o| o.error.is_none()).count()
    }
}

/// Registers with every nameserver in parallel: every topic when `whole` (start, the periodic
/// round), else the topics changed since the last round. A round a nameserver missed makes the
/// next one whole. The master's HA address (`haServerAddr`) goes to [`Broker::ha`].
pub async fn register_all(b: &Broker, client: &RemotingClient, whole: bool) -> Round {
    let req = register_request(b, whole);
    let calls = b.config.namesrv_addrs.iter().map(|addr| {
        let req = req.clone();
        async move { (addr, client.invoke(addr, req, REGISTER_TIMEOUT).await) }
    });
    let mut round = Round::default();
    for (addr, result) in futures::future::join_all(calls).await {
        let error = match result {
            Ok(resp) if resp.code == response_code::SUCCESS => {
                if let Ok(h) = resp.header::<RegisterBrokerResponseHeader>() {
                    round.master = round.master.or(h.master_addr);
                    if let Some(ha) = h.ha_server_addr.filter(|a| !a.is_empty()) {
                        b.ha.state.set_master_ha_addr(&ha);
                    }
                }
                None
            }
            Ok(resp) => {
                tracing::warn!(namesrv = %addr, code = resp.code, remark = resp.remark_str(), "nameserver refused registration");
                Some(format!("refused: code {} {}", resp.code, resp.remark_str()))
            }
            Err(e) => {
                tracing::warn!(namesrv = %addr, error = %e, "cannot register with nameserver");
                Some(e.to_string())
            }
        };
        round.outcomes.push(NamesrvOutcome {
            addr: addr.clone(),
            error,
        });
    }
    if round.accepted() < round.outcomes.len() {
        b.topics.register_whole_table_next();
    }
    round
}

/// Unregisters from every nameserver (shutdown).
pub async fn unregister_all(b: &Broker, client: &RemotingClient) {
    for addr in &b.config.namesrv_addrs {
        let req = RemotingCommand::request_with(
            rc::UNREGISTER_BROKER,
            &UnregisterBrokerRequestHeader {
                broker_name: b.config.broker_name.clone(),
                broker_addr: b.broker_addr.clone(),
                cluster_name: b.config.cluster_name.clone(),
                broker_id: b.config.broker_id,
            },
        );
        let req = signed(b, req);
        if let Err(e) = client.invoke(addr, req, Duration::from_secs(3)).await {
            tracing::warn!(namesrv = %addr, error = %e, "cannot unregister from nameserver");
        }
    }
}

/// Keeps the registration fresh until `stop`. A store that failed to persist data (fsync
/// error) takes the broker out of the routes: it unregisters once and stays out until a
/// restart recovers the store, so clients send elsewhere.
/// Each round's outcome goes to `health` (readiness).
pub fn spawn(
    b: Arc<Broker>,
    client: Arc<RemotingClient>,
    health: Arc<Health>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        let (mut registered_once, mut withdrawn) = (false, false);
        let mut missed_in_a_row = 0u32;
        // The first round and every periodic one carry the whole table; a round woken by a
        // topic change carries the changes.
        let mut whole = true;
        loop {
            if b.store.is_failed() {
                if !withdrawn {
                    withdrawn = true;
                    tracing::error!(
                        "the store failed to persist data: leaving the nameservers' routes until the broker is restarted"
                    );
                    unregister_all(&b, &client).await;
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(b.config.register_period) => continue,
                }
            }
            let round = register_all(&b, &client, whole).await;
            let ok = round.accepted();
            if ok > 0 && !registered_once {
                registered_once = true;
                tracing::info!(namesrvs = ok, "registered with nameservers");
            }
            if let Some(m) = round.master {
                b.ha.state.set_master_addr(m);
            }
            missed_in_a_row = if ok < round.outcomes.len() {
                missed_in_a_row.saturating_add(1)
            } else {
                0
            };
            health.record_round(round.outcomes);
            let wait = next_round_in(missed_in_a_row, b.config.register_period);
            whole = tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => true,
                _ = b.register_now.notified() => false,
            };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_round_is_retried_in_one_second_doubling_up_to_the_period() {
        let period = Duration::from_secs(30);
        let waits: Vec<u64> = (0..8).map(|m| next_round_in(m, period).as_secs()).collect();
        assert_eq!(waits, [30, 1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(next_round_in(u32::MAX, period), period);
        assert_eq!(
            next_round_in(3, Duration::from_secs(10)),
            Duration::from_secs(4)
        );
    }
}
