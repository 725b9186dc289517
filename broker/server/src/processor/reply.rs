//! What a handler returns: a response now, nothing yet (a parked pull), or a [`Failure`] that
//! becomes a SYSTEM_ERROR response.

pub use rmq_protocol::net::Failure;
use rmq_protocol::{RemotingCommand, response_code};

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

/// The SYSTEM_ERROR response to request `opaque` (of `version`) that failed with `failure`.
pub(crate) fn system_error(opaque: i32, version: i32, failure: &Failure) -> RemotingCommand {
    let mut resp = RemotingCommand {
        code: response_code::SYSTEM_ERROR,
        opaque,
        flag: rmq_protocol::command::FLAG_RESPONSE,
        remark: Some(failure.to_string()),
        ..RemotingCommand::default()
    };
    resp.version = version;
    resp
}
