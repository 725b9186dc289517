//! `tokio_util` codec over [`crate::frame`], for callers that prefer `Framed`.

use crate::command::RemotingCommand;
use crate::error::ProtocolError;
use crate::frame::{self, FrameLimits};
use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

/// Frames remoting commands; encodes JSON headers.
#[derive(Debug, Default, Clone)]
pub struct RemotingCodec {
    limits: FrameLimits,
}

impl RemotingCodec {
    /// A codec with the given limits.
    pub fn new(limits: FrameLimits) -> Self {
        Self { limits }
    }
}

/// Codec error: I/O or protocol.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Socket error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// Bad frame.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

impl Decoder for RemotingCodec {
    type Item = RemotingCommand;
    type Error = CodecError;
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RemotingCommand>, CodecError> {
        Ok(frame::decode(src, &self.limits)?)
    }
}

impl Encoder<RemotingCommand> for RemotingCodec {
    type Error = CodecError;
    fn encode(&mut self, item: RemotingCommand, dst: &mut BytesMut) -> Result<(), CodecError> {
        frame::encode(&item, dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode() {
        let mut codec = RemotingCodec::default();
        let mut buf = BytesMut::new();
        let cmd = RemotingCommand::request(105);
        codec.encode(cmd.clone(), &mut buf).unwrap();
        let back = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(back.opaque, cmd.opaque);
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }
}
