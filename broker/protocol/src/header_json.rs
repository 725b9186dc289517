//! JSON header encoding (serialize type 0), as fastjson writes it and as every client reads it.

use crate::codes::LanguageCode;
use crate::command::{RemotingCommand, SerializeType};
use crate::error::ProtocolError;
use crate::ext_fields::ExtFields;
use bytes::{BufMut, BytesMut};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonHeader {
    code: i32,
    #[serde(default)]
    language: JsonLanguage,
    #[serde(default)]
    version: i32,
    #[serde(default)]
    opaque: i32,
    #[serde(default)]
    flag: i32,
    #[serde(default)]
    remark: Option<String>,
    #[serde(default)]
    ext_fields: Option<ExtFields>,
}

/// Language as a name ("JAVA") or, leniently, as its ordinal.
#[derive(Default)]
struct JsonLanguage(LanguageCode);

impl<'de> Deserialize<'de> for JsonLanguage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = JsonLanguage;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a language name or ordinal")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonLanguage(LanguageCode::from_name(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(JsonLanguage(LanguageCode::from_code(
                    u8::try_from(v).unwrap_or(u8::MAX),
                )))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(JsonLanguage(LanguageCode::Other))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JsonLanguage(LanguageCode::Other))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Decodes a JSON header into a command (body left empty).
pub fn decode(header: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    let h: JsonHeader = serde_json::from_slice(header).map_err(ProtocolError::JsonHeader)?;
    Ok(RemotingCommand {
        code: h.code,
        language: h.language.0,
        version: h.version,
        opaque: h.opaque,
        flag: h.flag,
        remark: h.remark,
        ext_fields: h.ext_fields.unwrap_or_default(),
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::Json,
    })
}

fn put_json_str(dst: &mut BytesMut, s: &str) {
    // Fast path: nothing to escape.
    if s.bytes()
        .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    {
        dst.put_u8(b'"');
        dst.put_slice(s.as_bytes());
        dst.put_u8(b'"');
    } else {
        let escaped = serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""));
        dst.put_slice(escaped.as_bytes());
    }
}

fn put_int(dst: &mut BytesMut, v: i64) {
    let mut buf = itoa_buf(v);
    dst.put_slice(buf.as_bytes_mut());
}

struct SmallDec {
    buf: [u8; 20],
    start: usize,
}

impl SmallDec {
    fn as_bytes_mut(&mut self) -> &[u8] {
        &self.buf[self.start..]
    }
}

fn itoa_buf(v: i64) -> SmallDec {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let negative = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        pos -= 1;
        buf[pos] = b'-';
    }
    SmallDec { buf, start: pos }
}

/// Appends the JSON header of `cmd` to `dst`.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.reserve(96 + cmd.ext_fields.len() * 32);
    dst.put_slice(b"{\"code\":");
    put_int(dst, cmd.code.into());
    dst.put_slice(b",\"language\":\"");
    dst.put_slice(cmd.language.name().as_bytes());
    dst.put_slice(b"\",\"version\":");
    put_int(dst, cmd.version.into());
    dst.put_slice(b",\"opaque\":");
    put_int(dst, cmd.opaque.into());
    dst.put_slice(b",\"flag\":");
    put_int(dst, cmd.flag.into());
    if let Some(remark) = &cmd.remark {
        dst.put_slice(b",\"remark\":");
        put_json_str(dst, remark);
    }
    dst.put_slice(b",\"extFields\":{");
    for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
        if i > 0 {
            dst.put_u8(b',');
        }
        put_json_str(dst, k);
        dst.put_u8(b':');
        put_json_str(dst, v);
    }
    dst.put_slice(b"},\"serializeTypeCurrentRPC\":\"JSON\"}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_encoding() {
        let mut cmd = RemotingCommand {
            code: 0,
            opaque: 42,
            flag: 1,
            version: 479,
            remark: Some("a\"b\u{1}".into()),
            ..Default::default()
        };
        cmd.ext_fields.insert("queueOffset", "7");
        let mut out = BytesMut::new();
        encode(&cmd, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"code":0,"language":"JAVA","version":479,"opaque":42,"flag":1,"remark":"a\"b\u0001","extFields":{"queueOffset":"7"},"serializeTypeCurrentRPC":"JSON"}"#
        );
        let back = decode(&out).unwrap();
        assert_eq!(back.remark.as_deref(), Some("a\"b\u{1}"));
        assert_eq!(back.ext_fields.get("queueOffset"), Some("7"));
        assert_eq!(back.opaque, 42);
    }

    #[test]
    fn decodes_go_and_java_dialects() {
        let go = br#"{"code":105,"language":"GO","version":317,"opaque":3,"flag":0,"remark":"","extFields":{"topic":"T"}}"#;
        let c = decode(go).unwrap();
        assert_eq!(c.language, LanguageCode::Go);
        assert_eq!(c.ext_fields.get("topic"), Some("T"));
        let minimal = br#"{"code":34,"opaque":9}"#;
        let c = decode(minimal).unwrap();
        assert!(c.ext_fields.is_empty());
        assert_eq!(c.language, LanguageCode::Java);
        let ordinal = br#"{"code":34,"language":9,"extFields":null}"#;
        assert_eq!(decode(ordinal).unwrap().language, LanguageCode::Go);
        assert!(decode(b"{\"opaque\":1}").is_err());
        assert!(decode(b"not json").is_err());
    }

    #[test]
    fn negative_numbers() {
        let mut out = BytesMut::new();
        put_int(&mut out, i64::from(i32::MIN));
        assert_eq!(&out[..], b"-2147483648");
    }
}
