//! Client batch bodies (SEND_BATCH_MESSAGE): back-to-back
//! `i32 total | i32 magic(0) | i32 crc(0) | i32 flag | i32 bodyLen + body | i16 propLen + props`.

use crate::error::ProtocolError;
use bytes::{BufMut, Bytes, BytesMut};

/// One message of a client batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// User flag.
    pub flag: i32,
    /// The message payload.
    pub body: Bytes,
    /// Properties text (carries each message's own UNIQ_KEY, TAGS, KEYS).
    pub properties: String,
}

fn malformed(detail: String) -> ProtocolError {
    ProtocolError::malformed("batch body", detail)
}

fn read_i32(buf: &[u8], pos: usize) -> Result<i32, ProtocolError> {
    buf.get(pos..pos + 4)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| malformed(format!("truncated at byte {pos}")))
}

/// Splits a batch body into its messages (bodies are zero-copy slices of `body`).
pub fn decode_batch(body: &Bytes) -> Result<Vec<BatchItem>, ProtocolError> {
    let mut items = Vec::new();
    let mut pos = 0usize;
    while pos < body.len() {
        let total = read_i32(body, pos)?;
        let total = usize::try_from(total)
            .ok()
            .filter(|t| *t >= 22 && pos + *t <= body.len())
            .ok_or_else(|| malformed(format!("message length {total} at byte {pos}")))?;
        let end = pos + total;
        let flag = read_i32(body, pos + 12)?;
        let body_len = read_i32(body, pos + 16)?;
        let body_start = pos + 20;
        let body_end = usize::try_from(body_len)
            .ok()
            .map(|l| body_start + l)
            .filter(|e| *e + 2 <= end)
            .ok_or_else(|| malformed(format!("body length {body_len} at byte {pos}")))?;
        let props_len = usize::from(u16::from_be_bytes([body[body_end], body[body_end + 1]]));
        let props_start = body_end + 2;
        if props_start + props_len != end {
            return Err(malformed(format!(
                "properties length {props_len} does not end the message at byte {end}"
            )));
        }
        let properties = std::str::from_utf8(&body[props_start..end])
            .map_err(|_| malformed("properties are not UTF-8".into()))?
            .to_owned();
        items.push(BatchItem {
            flag,
            body: body.slice(body_start..body_end),
            properties,
        });
        pos = end;
    }
    if items.is_empty() {
        return Err(malformed("the batch is empty".into()));
    }
    Ok(items)
}

/// Encodes a batch body as clients do (for tests and the admin client).
pub fn encode_batch(items: &[BatchItem]) -> Bytes {
    let mut out = BytesMut::new();
    for item in items {
        let total = 20 + item.body.len() + 2 + item.properties.len();
        out.put_i32(total as i32);
        out.put_i32(0);
        out.put_i32(0);
        out.put_i32(item.flag);
        out.put_i32(item.body.len() as i32);
        out.put_slice(&item.body);
        out.put_i16(item.properties.len() as i16);
        out.put_slice(item.properties.as_bytes());
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let items = vec![
            BatchItem {
                flag: 1,
                body: Bytes::from_static(b"a"),
                properties: "KEYS\u{1}k\u{2}".into(),
            },
            BatchItem {
                flag: 0,
                body: Bytes::from_static(b""),
                properties: String::new(),
            },
        ];
        let body = encode_batch(&items);
        assert_eq!(&body[0..4], &(20 + 1 + 2 + 7i32).to_be_bytes());
        assert_eq!(decode_batch(&body).unwrap(), items);
        let first_len = 20 + 1 + 2 + 7;
        assert_eq!(decode_batch(&body.slice(..first_len)).unwrap().len(), 1);
        for cut in (1..body.len()).filter(|c| *c != first_len) {
            assert!(decode_batch(&body.slice(..cut)).is_err(), "cut {cut}");
        }
        assert!(decode_batch(&Bytes::new()).is_err());
    }
}
