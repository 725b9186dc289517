//! Request dispatch: one module per request family, each a set of plain async functions over
//! the shared [`Broker`]: send, pull, offsets, client sessions, admin, retry (send-back and
//! DLQ), end_transaction, lock (orderly queue locks), query (by key / by id).

mod admin;
mod client;
mod end_transaction;
mod lock;
mod offsets;
mod pull;
mod query;
mod retry;
mod send;
mod send_paths;

use crate::broker::Broker;
use rmq_protocol::net::{Channel, RequestHandler};
use rmq_protocol::{
    HeaderError, ProtocolError, RemotingCommand, request_code as rc, response_code,
};
use std::sync::Arc;

pub use client::expire_clients;
pub use pull::execute_parked;

/// Why a request failed; becomes a SYSTEM_ERROR response carrying the text.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad typed header.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// Bad body.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Result of a handler: a response now, or `None` when the request was parked.
pub type Reply = Result<Option<RemotingCommand>, Failure>;

/// Shorthand for an immediate response.
pub(crate) fn respond(cmd: RemotingCommand) -> Reply {
    Ok(Some(cmd))
}

/// Shorthand for an error response.
pub(crate) fn refuse(req: &RemotingCommand, code: i32, remark: impl Into<String>) -> Reply {
    Ok(Some(RemotingCommand::error(req, code, remark)))
}

/// The broker's [`RequestHandler`].
#[derive(Clone)]
pub struct BrokerHandler {
    broker: Arc<Broker>,
}

impl BrokerHandler {
    /// A handler over `broker`.
    pub fn new(broker: Arc<Broker>) -> Self {
        Self { broker }
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
            rc::CHECK_CLIENT_CONFIG => respond(RemotingCommand::success(&req)),
            rc::CONSUMER_SEND_MSG_BACK => retry::consumer_send_msg_back(b, &req),
            rc::END_TRANSACTION => end_transaction::end_transaction(b, &req),
            rc::LOCK_BATCH_MQ => lock::lock_batch(b, &req),
            rc::UNLOCK_BATCH_MQ => lock::unlock_batch(b, &req),
            rc::QUERY_MESSAGE => query::query_message(b, &req),
            rc::VIEW_MESSAGE_BY_ID => query::view_message_by_id(b, &req),
            rc::GET_ALL_DELAY_OFFSET => crate::schedule::get_all_delay_offset(b, &req),
            _ => admin::dispatch(b, ch, &req),
        }
    }
}

impl RequestHandler for BrokerHandler {
    async fn handle(&self, channel: &Channel, request: RemotingCommand) -> Option<RemotingCommand> {
        let code = request.code;
        let opaque = request.opaque;
        let version = request.version;
        match self.dispatch(channel, request).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::warn!(code, peer = %channel.remote_addr(), error = %e, "request failed");
                let mut resp = RemotingCommand {
                    code: response_code::SYSTEM_ERROR,
                    opaque,
                    flag: rmq_protocol::command::FLAG_RESPONSE,
                    remark: Some(e.to_string()),
                    ..RemotingCommand::default()
                };
                resp.version = version;
                Some(resp)
            }
        }
    }

    fn on_close(&self, channel: &Channel) {
        client::connection_closed(&self.broker, channel);
    }
}
