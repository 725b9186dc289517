//! END_TRANSACTION (37): the producer's verdict on a half message — commit stores it in its real
//! queue, rollback drops it; both write an op record ([`crate::transaction`]). Clients send it
//! oneway (Go without the oneway flag: it gets an answer and drops it); UNKNOWN (0) is ignored.

use super::reply::{Reply, refuse, respond};
use crate::broker::Broker;
use crate::state::now_ms;
use rmq_protocol::header::transaction::EndTransactionRequestHeader;
use rmq_protocol::message::{decode_message, property, sys_flag};
use rmq_protocol::{RemotingCommand, names, response_code as code};

/// END_TRANSACTION.
pub fn end_transaction(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: EndTransactionRequestHeader = req.header()?;
    if !b.is_master() {
        return refuse(
            req,
            code::SLAVE_NOT_AVAILABLE,
            "the broker is a slave; end transactions on the master",
        );
    }
    let commit = match sys_flag::transaction_type(h.commit_or_rollback) {
        sys_flag::TRANSACTION_COMMIT => true,
        sys_flag::TRANSACTION_ROLLBACK => false,
        _ => return Ok(None),
    };
    let wrong = |what: &str| refuse(req, code::SYSTEM_ERROR, what.to_owned());
    let half = match b.store.read_record(h.commit_log_offset) {
        Ok(Some(raw)) => match decode_message(&raw) {
            Ok((m, _)) => m,
            Err(_) => return wrong("Find prepared transaction message failed"),
        },
        _ => return wrong("Find prepared transaction message failed"),
    };
    if half.topic != names::TRANS_HALF_TOPIC {
        return wrong("Find prepared transaction message failed: not a half message");
    }
    if half.properties.get(property::PRODUCER_GROUP) != Some(h.producer_group.as_str()) {
        return wrong("The producer group wrong");
    }
    if half.queue_offset != h.tran_state_table_offset {
        return wrong("The transaction state table offset wrong");
    }
    if half.commit_log_offset != h.commit_log_offset {
        return wrong("The commit log offset wrong");
    }
    if !h.from_transaction_check
        && let Some(secs) = half
            .properties
            .get(property::CHECK_IMMUNITY_TIME_IN_SECONDS)
            .and_then(|s| s.parse::<i64>().ok())
        && now_ms() - half.born_timestamp > secs.saturating_mul(1000)
    {
        return refuse(
            req,
            code::ILLEGAL_OPERATION,
            "the transaction is already being checked; answer the check instead",
        );
    }
    match b.transactions.resolve(&half, commit) {
        Ok(true) => respond(RemotingCommand::success(req)),
        Ok(false) => {
            tracing::debug!(msg_id = %half.msg_id(), commit, "transaction already resolved; END_TRANSACTION ignored");
            respond(RemotingCommand::success(req))
        }
        Err(e) => {
            tracing::warn!(msg_id = %half.msg_id(), commit, error = %e, "END_TRANSACTION failed");
            refuse(req, code::SYSTEM_ERROR, e)
        }
    }
}
