//! JSON bodies. We always emit compact standard JSON (quoted map keys); when parsing bodies
//! written by Java peers we first quote fastjson's bare numeric keys ([`fastjson`]).

pub mod cluster;
pub mod fastjson;
pub mod heartbeat;
pub mod lock;
pub mod misc;
pub mod properties;
pub mod register;
pub mod route;
pub mod stats;
pub mod subscription;
pub mod topic_config;

use crate::error::ProtocolError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes a body as compact JSON.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain data types cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Decodes a JSON body, accepting fastjson's unquoted numeric keys.
pub fn from_json<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, ProtocolError> {
    let normalized = fastjson::quote_numeric_keys(bytes);
    serde_json::from_slice(&normalized).map_err(|source| ProtocolError::Body { what, source })
}
