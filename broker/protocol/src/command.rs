//! `RemotingCommand`: one request or response, independent of how its header was encoded.

use crate::codes::{LanguageCode, version};
use crate::error::HeaderError;
use crate::ext_fields::ExtFields;
use crate::header::CommandHeader;
use bytes::Bytes;
use std::sync::atomic::{AtomicI32, Ordering};

/// Flag bit 0: the command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Flag bit 1: the request is oneway (no response wanted).
pub const FLAG_ONEWAY: i32 = 2;

/// How a header is serialised on the wire (high byte of the `proto` word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SerializeType {
    /// 0: fastjson-style JSON.
    #[default]
    Json,
    /// 1: the compact ROCKETMQ binary layout.
    RocketMq,
}

/// One remoting command: a request, a oneway request or a response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RemotingCommand {
    /// Request code for requests, response code for responses.
    pub code: i32,
    /// Sender's language.
    pub language: LanguageCode,
    /// Sender's `MQVersion` ordinal.
    pub version: i32,
    /// Request id chosen by the requester, echoed by the response.
    pub opaque: i32,
    /// [`FLAG_RESPONSE`] and [`FLAG_ONEWAY`] bits.
    pub flag: i32,
    /// Human-readable error text.
    pub remark: Option<String>,
    /// Typed header fields as text.
    pub ext_fields: ExtFields,
    /// Body bytes (may be empty).
    pub body: Bytes,
    /// How the header arrived (informational; replies are always JSON).
    pub serialize_type: SerializeType,
}

static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(1);

/// A process-wide increasing request id.
pub fn next_opaque() -> i32 {
    NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed)
}

impl RemotingCommand {
    /// A new request with a fresh opaque, announcing rmq's version and language JAVA
    /// (older peers do not know newer language names).
    pub fn request(code: i32) -> Self {
        Self {
            code,
            version: version::CURRENT,
            opaque: next_opaque(),
            ..Self::default()
        }
    }

    /// A new request carrying a typed header.
    pub fn request_with<H: CommandHeader>(code: i32, header: &H) -> Self {
        let mut cmd = Self::request(code);
        header.write_to(&mut cmd.ext_fields);
        cmd
    }

    /// A response to `request` with `code` and an optional remark.
    pub fn response_to(request: &RemotingCommand, code: i32, remark: Option<String>) -> Self {
        Self {
            code,
            version: version::CURRENT,
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            remark,
            ..Self::default()
        }
    }

    /// A successful response to `request`.
    pub fn success(request: &RemotingCommand) -> Self {
        Self::response_to(request, crate::codes::response_code::SUCCESS, None)
    }

    /// An error response to `request`.
    pub fn error(request: &RemotingCommand, code: i32, remark: impl Into<String>) -> Self {
        Self::response_to(request, code, Some(remark.into()))
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Writes a typed header into extFields.
    pub fn with_header<H: CommandHeader>(mut self, header: &H) -> Self {
        header.write_to(&mut self.ext_fields);
        self
    }

    /// Marks a request as oneway.
    pub fn oneway(mut self) -> Self {
        self.flag |= FLAG_ONEWAY;
        self
    }

    /// True for responses.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// True for oneway requests.
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    /// Reads a typed header from extFields.
    pub fn header<H: CommandHeader>(&self) -> Result<H, HeaderError> {
        H::read_from(&self.ext_fields)
    }

    /// The remark or an empty string.
    pub fn remark_str(&self) -> &str {
        self.remark.as_deref().unwrap_or("")
    }
}
