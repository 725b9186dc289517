//! Protocol-level errors. They know nothing about brokers or stores; the servers map them to
//! RocketMQ response codes at their boundary.

use thiserror::Error;

/// Something in a frame, header or body could not be decoded or is out of limits.
#[derive(Debug, Error)]
pub enum ProtocolError {
    /// The 4-byte frame length is smaller than the smallest legal frame.
    #[error("frame length {0} is too small (a frame needs at least 4 bytes for the header length)")]
    FrameTooSmall(i64),
    /// The frame is bigger than the configured limit.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    FrameTooLarge {
        /// announced frame length
        len: usize,
        /// configured maximum
        max: usize,
    },
    /// The header length inside the frame points past the end of the frame.
    #[error("header length {header_len} does not fit in a frame of {frame_len} bytes")]
    HeaderLength {
        /// announced header length
        header_len: usize,
        /// frame length
        frame_len: usize,
    },
    /// The serialize type byte is neither 0 (JSON) nor 1 (ROCKETMQ).
    #[error("unknown header serialize type {0} (expected 0 = JSON or 1 = ROCKETMQ)")]
    SerializeType(u8),
    /// The JSON header is not valid.
    #[error("invalid JSON header: {0}")]
    JsonHeader(#[source] serde_json::Error),
    /// The binary header is truncated or inconsistent.
    #[error("invalid ROCKETMQ binary header: {0}")]
    BinaryHeader(String),
    /// A typed header field is missing or malformed.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A JSON body could not be decoded.
    #[error("invalid {what} body: {source}")]
    Body {
        /// which body type
        what: &'static str,
        /// the parse error
        #[source]
        source: serde_json::Error,
    },
    /// A binary body (message record, batch, compressed registration) is malformed.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// what was being decoded
        what: &'static str,
        /// what was wrong
        detail: String,
    },
}

impl ProtocolError {
    /// Shorthand for [`ProtocolError::Malformed`].
    pub fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            detail: detail.into(),
        }
    }
}

/// A typed header ("custom header") could not be read from the command's extFields.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HeaderError {
    /// A required field is absent (Java: "the custom field <x> is null").
    #[error("the custom field {0} is null")]
    Missing(&'static str),
    /// A field is present but cannot be parsed as its type.
    #[error("the custom field {field} has invalid value {value:?}: expected {expected}")]
    Invalid {
        /// extFields key
        field: &'static str,
        /// raw text
        value: String,
        /// expected type
        expected: &'static str,
    },
}
