//! ROCKETMQ binary header encoding (serialize type 1).
//!
//! ```text
//! i16 code | u8 language | i16 version | i32 opaque | i32 flag
//! i32 remark_len | remark | i32 ext_len | { i16 key_len, key, i32 val_len, val }*
//! ```

use crate::codes::LanguageCode;
use crate::command::{RemotingCommand, SerializeType};
use crate::error::ProtocolError;
use crate::ext_fields::ExtFields;
use bytes::{BufMut, BytesMut};

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ProtocolError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let Some(end) = end else {
            return Err(ProtocolError::BinaryHeader(format!(
                "{what} needs {n} bytes at offset {} but the header has {}",
                self.pos,
                self.buf.len()
            )));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn i16(&mut self, what: &str) -> Result<i16, ProtocolError> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self, what: &str) -> Result<i32, ProtocolError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn len(&mut self, v: i64, what: &str) -> Result<usize, ProtocolError> {
        usize::try_from(v).map_err(|_| ProtocolError::BinaryHeader(format!("negative {what}: {v}")))
    }
    fn string(&mut self, n: usize, what: &str) -> Result<String, ProtocolError> {
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| ProtocolError::BinaryHeader(format!("{what} is not UTF-8")))
    }
}

/// Decodes a binary header into a command (body left empty).
pub fn decode(header: &[u8]) -> Result<RemotingCommand, ProtocolError> {
    let mut r = Reader {
        buf: header,
        pos: 0,
    };
    let code = i32::from(r.i16("code")?);
    let language = LanguageCode::from_code(r.take(1, "language")?[0]);
    let version = i32::from(r.i16("version")?);
    let opaque = r.i32("opaque")?;
    let flag = r.i32("flag")?;
    let remark_len = r.i32("remark length")?;
    let remark_len = r.len(remark_len.into(), "remark length")?;
    let remark = if remark_len > 0 {
        Some(r.string(remark_len, "remark")?)
    } else {
        None
    };
    let ext_len = r.i32("extFields length")?;
    let ext_len = r.len(ext_len.into(), "extFields length")?;
    let ext = r.take(ext_len, "extFields")?;
    let mut fields = ExtFields::new();
    let mut m = Reader { buf: ext, pos: 0 };
    while m.pos < ext.len() {
        let key_len = m.i16("extFields key length")?;
        let key_len = m.len(key_len.into(), "extFields key length")?;
        let key = m.string(key_len, "extFields key")?;
        let val_len = m.i32("extFields value length")?;
        let val_len = m.len(val_len.into(), "extFields value length")?;
        let val = m.string(val_len, "extFields value")?;
        fields.insert(key, val);
    }
    Ok(RemotingCommand {
        code,
        language,
        version,
        opaque,
        flag,
        remark,
        ext_fields: fields,
        body: bytes::Bytes::new(),
        serialize_type: SerializeType::RocketMq,
    })
}

/// Appends the binary header of `cmd` to `dst`. Codes and versions are truncated to 16 bits.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.put_i16(cmd.code as i16);
    dst.put_u8(cmd.language.code());
    dst.put_i16(cmd.version as i16);
    dst.put_i32(cmd.opaque);
    dst.put_i32(cmd.flag);
    match &cmd.remark {
        Some(r) if !r.is_empty() => {
            dst.put_i32(r.len() as i32);
            dst.put_slice(r.as_bytes());
        }
        _ => dst.put_i32(0),
    }
    let ext_len: usize = cmd
        .ext_fields
        .iter()
        .map(|(k, v)| 2 + k.len() + 4 + v.len())
        .sum();
    dst.put_i32(ext_len as i32);
    for (k, v) in cmd.ext_fields.iter() {
        dst.put_i16(k.len() as i16);
        dst.put_slice(k.as_bytes());
        dst.put_i32(v.len() as i32);
        dst.put_slice(v.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let mut cmd = RemotingCommand {
            code: 105,
            language: LanguageCode::Go,
            version: 317,
            opaque: 7,
            flag: 0,
            ..Default::default()
        };
        cmd.ext_fields.insert("topic", "T");
        let mut out = BytesMut::new();
        encode(&cmd, &mut out);
        let expected: &[u8] = &[
            0, 105, 9, 1, 61, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, // fixed part, no remark
            0, 0, 0, 12, 0, 5, b't', b'o', b'p', b'i', b'c', 0, 0, 0, 1, b'T',
        ];
        assert_eq!(&out[..], expected);
        let back = decode(&out).unwrap();
        assert_eq!(back.code, 105);
        assert_eq!(back.language, LanguageCode::Go);
        assert_eq!(back.ext_fields.get("topic"), Some("T"));
        assert_eq!(back.remark, None);
    }

    #[test]
    fn truncated_and_negative_lengths_are_errors() {
        let mut cmd = RemotingCommand::default();
        cmd.ext_fields.insert("k", "v");
        cmd.remark = Some("r".into());
        let mut out = BytesMut::new();
        encode(&cmd, &mut out);
        for cut in 0..out.len() {
            assert!(decode(&out[..cut]).is_err(), "cut at {cut}");
        }
        let mut neg = out.clone();
        neg[13..17].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(decode(&neg).is_err());
    }
}
