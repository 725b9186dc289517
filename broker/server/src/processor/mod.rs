//! Request dispatch: every request code the broker serves is routed here, to one module per
//! family, each a set of plain functions over the shared [`Broker`]: send, pull, offsets,
//! client sessions, admin, retry (send-back and DLQ), end_transaction, lock (orderly queue
//! locks), query (by key / by id).

mod admin;
pub mod auth_v2;
mod client;
mod end_transaction;
mod lock;
mod offsets;
mod pull;
mod query;
mod reply;
mod retention;
mod retry;
mod runtime_info;
mod send;
mod send_paths;
mod stats;

use crate::broker::Broker;
use rmq_acl::gate::AclGate;
use rmq_acl::v2::gate::AuthGate;
use rmq_protocol::net::{Channel, RequestHandler};
use rmq_protocol::{RemotingCommand, request_code as rc};
use std::sync::Arc;

pub use client::expire_clients;
pub use pull::{execute_parked, wake_due_pulls};
pub use reply::{Failure, Reply};
pub use runtime_info::runtime_table;

/// The broker's [`RequestHandler`].
#[derive(Clone)]
pub struct BrokerHandler {
    broker: Arc<Broker>,
    /// The ACL gate when `aclEnable=true`; `None` costs one branch per request.
    acl: Option<Arc<AclGate>>,
    /// The ACL 2.0 gate when `authenticationEnabled`/`authorizationEnabled`; checked after
    /// `acl` (a request must pass both when both are on).
    auth: Option<Arc<AuthGate>>,
}

impl BrokerHandler {
    /// A handler over `broker`, without ACL.
    pub fn new(broker: Arc<Broker>) -> Self {
        Self {
            broker,
            acl: None,
            auth: None,
        }
    }

    /// A handler over `broker` that checks every request with `acl` first (when `Some`).
    pub fn with_acl(broker: Arc<Broker>, acl: Option<Arc<AclGate>>) -> Self {
        Self {
            broker,
            acl,
            auth: None,
        }
    }

    /// The same handler, also checking every request with the ACL 2.0 gate `auth` (when
    /// `Some`), which answers the ACL 2.0 administration requests (3001–3010).
    pub fn with_auth(self, auth: Option<Arc<AuthGate>>) -> Self {
        Self { auth, ..self }
    }

    /// The ACL's refusal of `req`, as the response to send (one-way requests get none).
    fn refused(&self, ch: &Channel, req: &RemotingCommand) -> Option<RemotingCommand> {
        let denial = match (&self.acl, &self.auth) {
            (Some(acl), auth) => acl
                .check(ch, req)
                .or_else(|| auth.as_ref().and_then(|a| a.check(ch, req)))?,
            (None, auth) => auth.as_ref()?.check(ch, req)?,
        };
        Some(RemotingCommand::error(req, denial.code, denial.remark))
    }

    async fn dispatch(&self, ch: &Channel, req: RemotingCommand) -> Reply {
        let b = &self.broker;
        match req.code {
            rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 => send::send_message(b, ch, &req).await,
            rc::SEND_BATCH_MESSAGE => send::send_batch(b, ch, &req).await,
            rc::PULL_MESSAGE | rc::LITE_PULL_MESSAGE => pull::pull_message(b, ch, req, true),
            rc::QUERY_CONSUMER_OFFSET => offsets::query_consumer_offset(b, &req),
            rc::UPDATE_CONSUMER_OFFSET => offsets::update_consumer_offset(b, &req),
            rc::GET_MAX_OFFSET => offsets::max_offset(b, &req),
            rc::GET_MIN_OFFSET => offsets::min_offset(b, &req),
            rc::SEARCH_OFFSET_BY_TIMESTAMP => offsets::search_offset(b, &req),
            rc::GET_EARLIEST_MSG_STORETIME => offsets::earliest_store_time(b, &req),
            rc::HEART_BEAT => client::heartbeat(b, ch, &req),
            rc::UNREGISTER_CLIENT => client::unregister(b, ch, &req),
            rc::GET_CONSUMER_LIST_BY_GROUP => client::consumer_list(b, &req),
            rc::CHECK_CLIENT_CONFIG => reply::respond(RemotingCommand::success(&req)),
            rc::CONSUMER_SEND_MSG_BACK => retry::consumer_send_msg_back(b, &req),
            rc::END_TRANSACTION => end_transaction::end_transaction(b, &req),
            rc::LOCK_BATCH_MQ => lock::lock_batch(b, &req),
            rc::UNLOCK_BATCH_MQ => lock::unlock_batch(b, &req),
            rc::QUERY_MESSAGE => query::query_message(b, &req),
            rc::VIEW_MESSAGE_BY_ID => query::view_message_by_id(b, &req),
            c if rmq_acl::v2::needs::is_auth_admin(c) => auth_v2::admin(&self.auth, &req),
            _ => admin::dispatch(b, &req),
        }
    }
}

impl RequestHandler for BrokerHandler {
    async fn handle(&self, channel: &Channel, request: RemotingCommand) -> Option<RemotingCommand> {
        let code = request.code;
        let opaque = request.opaque;
        let version = request.version;
        let started = std::time::Instant::now();
        let refused = if self.acl.is_some() || self.auth.is_some() {
            self.refused(channel, &request)
        } else {
            None
        };
        let resp = if refused.is_some() {
            // one-way requests are dropped: the connection sends no response to them
            refused
        } else {
            match self.dispatch(channel, request).await {
                Ok(resp) => resp,
                Err(e) => {
                    tracing::warn!(code, peer = %channel.remote_addr(), error = %e, "request failed");
                    Some(reply::system_error(opaque, version, &e))
                }
            }
        };
        if let Some(r) = &resp {
            let took = started.elapsed();
            self.broker.stats.rpc.record(code, r.code, took);
            if matches!(
                code,
                rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE
            ) {
                let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
                self.broker.stats.put_latency.record(ms);
            }
        }
        resp
    }

    fn on_close(&self, channel: &Channel) {
        if let Some(acl) = &self.acl {
            acl.connection_closed(channel.id());
        }
        if let Some(auth) = &self.auth {
            auth.connection_closed(channel.id());
        }
        client::connection_closed(&self.broker, channel);
    }

    /// Sends only: a sync producer waits for each answer before its next send, and its latency
    /// is the point. A consumer's pulls and the rest are not worth a core.
    fn busy_poll_after(&self, request_code: i32) -> bool {
        matches!(
            request_code,
            rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE
        )
    }
}
