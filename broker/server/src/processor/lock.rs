//! LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42): queue locks for orderly consumers, over the
//! broker's [`crate::locks::LockTable`].

use super::reply::{Reply, respond};
use crate::broker::Broker;
use crate::state::now_ms;
use rmq_protocol::RemotingCommand;
use rmq_protocol::body::lock::{LockBatchRequestBody, LockBatchResponseBody};
use rmq_protocol::body::{from_json, to_json};

/// LOCK_BATCH_MQ: locks what it can; the body lists the queues the client now holds.
pub fn lock_batch(b: &Broker, req: &RemotingCommand) -> Reply {
    let body: LockBatchRequestBody = from_json("LockBatchRequestBody", &req.body)?;
    let locked = b.locks.try_lock_batch(
        &body.consumer_group,
        &body.mq_set,
        &body.client_id,
        now_ms(),
    );
    if locked.len() < body.mq_set.len() {
        tracing::debug!(group = %body.consumer_group, client = %body.client_id, wanted = body.mq_set.len(), got = locked.len(), "some queues are locked by another consumer");
    }
    let resp = LockBatchResponseBody {
        lock_ok_mq_set: locked,
    };
    respond(RemotingCommand::success(req).with_body(to_json(&resp)))
}

/// UNLOCK_BATCH_MQ: releases the client's locks on the listed queues.
pub fn unlock_batch(b: &Broker, req: &RemotingCommand) -> Reply {
    let body: LockBatchRequestBody = from_json("UnlockBatchRequestBody", &req.body)?;
    b.locks
        .unlock_batch(&body.consumer_group, &body.mq_set, &body.client_id);
    respond(RemotingCommand::success(req))
}
