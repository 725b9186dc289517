//! QUERY_MESSAGE (12) by key or, with `_UNIQUE_KEY_QUERY=true`, by unique key (the msgId
//! clients show), over the store's key index; and VIEW_MESSAGE_BY_ID (33) by the commit log
//! offset decoded from an offset message id. Bodies are stored records back to back.

use super::reply::{Reply, refuse, respond};
use crate::broker::Broker;
use bytes::BytesMut;
use rmq_protocol::header::query::{
    QueryMessageRequestHeader, QueryMessageResponseHeader, UNIQUE_KEY_QUERY,
    ViewMessageRequestHeader,
};
use rmq_protocol::{RemotingCommand, response_code as code};

/// Most messages one query returns (Java `defaultQueryMaxNum`).
const MAX_QUERY_NUM: usize = 32;

/// QUERY_MESSAGE.
pub fn query_message(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: QueryMessageRequestHeader = req.header()?;
    let unique = req
        .ext_fields
        .get(UNIQUE_KEY_QUERY)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let max = if unique {
        MAX_QUERY_NUM
    } else {
        usize::try_from(h.max_num)
            .unwrap_or(1)
            .clamp(1, MAX_QUERY_NUM)
    };
    let found = b
        .store
        .query_by_key(
            &h.topic,
            &h.key,
            unique,
            max,
            h.begin_timestamp,
            h.end_timestamp,
        )
        .map_err(|e| super::reply::Failure::Other(format!("key index lookup failed: {e}")))?;
    let header = QueryMessageResponseHeader {
        index_last_update_timestamp: found.index_last_update_timestamp,
        index_last_update_phyoffset: found.index_last_update_phy_offset,
    };
    if found.messages.is_empty() {
        let mut resp = RemotingCommand::error(
            req,
            code::QUERY_NOT_FOUND,
            "can not find message, maybe time range not correct",
        );
        resp = resp.with_header(&header);
        return respond(resp);
    }
    let mut body = BytesMut::with_capacity(found.messages.iter().map(|m| m.len()).sum());
    for m in &found.messages {
        body.extend_from_slice(m);
    }
    respond(
        RemotingCommand::success(req)
            .with_header(&header)
            .with_body(body.freeze()),
    )
}

/// VIEW_MESSAGE_BY_ID.
pub fn view_message_by_id(b: &Broker, req: &RemotingCommand) -> Reply {
    let h: ViewMessageRequestHeader = req.header()?;
    match b.store.read_record(h.offset) {
        Ok(Some(rec)) => respond(RemotingCommand::success(req).with_body(rec)),
        Ok(None) => refuse(
            req,
            code::SYSTEM_ERROR,
            format!("can not find message by the offset, {}", h.offset),
        ),
        Err(e) => refuse(
            req,
            code::SYSTEM_ERROR,
            format!("can not read message at offset {}: {e}", h.offset),
        ),
    }
}
