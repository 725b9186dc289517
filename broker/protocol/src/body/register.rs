//! RegisterBrokerBody (REGISTER_BROKER), plain JSON or the compressed binary form.

use super::topic_config::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use crate::error::ProtocolError;
use serde::{Deserialize, Serialize};
use std::io::Read;

/// What a broker registers: its topic table and filter servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RegisterBrokerBody {
    /// Topic table.
    pub topic_config_serialize_wrapper: TopicConfigSerializeWrapper,
    /// Filter servers (always empty).
    pub filter_server_list: Vec<String>,
}

fn take_i32(buf: &[u8], pos: &mut usize) -> Result<i32, ProtocolError> {
    let b = buf.get(*pos..*pos + 4).ok_or_else(|| {
        ProtocolError::malformed("compressed registration", format!("truncated at {pos}"))
    })?;
    *pos += 4;
    Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn take_chunk<'a>(buf: &'a [u8], pos: &mut usize) -> Result<&'a [u8], ProtocolError> {
    let len = take_i32(buf, pos)?;
    let len = usize::try_from(len)
        .map_err(|_| ProtocolError::malformed("compressed registration", "negative length"))?;
    let b = buf.get(*pos..*pos + len).ok_or_else(|| {
        ProtocolError::malformed(
            "compressed registration",
            format!("chunk past end at {pos}"),
        )
    })?;
    *pos += len;
    Ok(b)
}

impl RegisterBrokerBody {
    /// Decodes a body; `compressed` selects the deflate form. The header flag is not trusted
    /// (Java brokers always send `compressed=false`), so a body that is not JSON is retried as
    /// compressed data.
    pub fn decode(body: &[u8], compressed: bool, max_len: usize) -> Result<Self, ProtocolError> {
        if !compressed && let Ok(b) = super::from_json::<Self>("RegisterBrokerBody", body) {
            return Ok(b);
        }
        Self::decode_compressed(body, max_len).or_else(|e| {
            if compressed {
                Err(e)
            } else {
                super::from_json("RegisterBrokerBody", body)
            }
        })
    }

    fn decode_compressed(body: &[u8], max_len: usize) -> Result<Self, ProtocolError> {
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(body)
            .take(max_len as u64)
            .read_to_end(&mut raw)
            .map_err(|e| ProtocolError::malformed("compressed registration", e.to_string()))?;
        let mut pos = 0;
        let data_version: DataVersion =
            super::from_json("DataVersion", take_chunk(&raw, &mut pos)?)?;
        let count = take_i32(&raw, &mut pos)?;
        let mut wrapper = TopicConfigSerializeWrapper {
            data_version,
            ..Default::default()
        };
        for _ in 0..count.max(0) {
            let text = std::str::from_utf8(take_chunk(&raw, &mut pos)?)
                .map_err(|_| ProtocolError::malformed("compressed registration", "not UTF-8"))?;
            let t = TopicConfig::decode_text(text).ok_or_else(|| {
                ProtocolError::malformed("compressed registration", format!("topic {text:?}"))
            })?;
            wrapper.topic_config_table.insert(t.topic_name.clone(), t);
        }
        let filter_server_list = if pos < raw.len() {
            super::from_json("filterServerList", take_chunk(&raw, &mut pos)?)?
        } else {
            Vec::new()
        };
        Ok(Self {
            topic_config_serialize_wrapper: wrapper,
            filter_server_list,
        })
    }

    /// The compressed form (zlib stream of length-prefixed parts).
    pub fn encode_compressed(&self) -> Vec<u8> {
        use std::io::Write;
        let mut raw = Vec::new();
        let dv = serde_json::to_vec(&self.topic_config_serialize_wrapper.data_version)
            .unwrap_or_default();
        raw.extend_from_slice(&(dv.len() as i32).to_be_bytes());
        raw.extend_from_slice(&dv);
        let table = &self.topic_config_serialize_wrapper.topic_config_table;
        raw.extend_from_slice(&(table.len() as i32).to_be_bytes());
        for t in table.values() {
            let text = t.encode_text();
            raw.extend_from_slice(&(text.len() as i32).to_be_bytes());
            raw.extend_from_slice(text.as_bytes());
        }
        let fs = serde_json::to_vec(&self.filter_server_list).unwrap_or_default();
        raw.extend_from_slice(&(fs.len() as i32).to_be_bytes());
        raw.extend_from_slice(&fs);
        raw.extend_from_slice(&0i32.to_be_bytes());
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&raw);
        enc.finish().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_round_trip() {
        let mut body = RegisterBrokerBody::default();
        body.topic_config_serialize_wrapper.data_version.counter = 3;
        body.topic_config_serialize_wrapper
            .topic_config_table
            .insert("T".into(), TopicConfig::new("T", 4));
        let plain = crate::body::to_json(&body);
        assert_eq!(
            RegisterBrokerBody::decode(&plain, false, 1 << 20).unwrap(),
            body
        );
        let packed = body.encode_compressed();
        let back = RegisterBrokerBody::decode(&packed, true, 1 << 20).unwrap();
        assert_eq!(back.topic_config_serialize_wrapper.data_version.counter, 3);
        assert_eq!(
            back.topic_config_serialize_wrapper.topic_config_table["T"].read_queue_nums,
            4
        );
        // header says plain but the body is compressed: still decoded
        assert!(RegisterBrokerBody::decode(&packed, false, 1 << 20).is_ok());
        assert!(RegisterBrokerBody::decode(b"garbage", false, 1 << 20).is_err());
    }
}
