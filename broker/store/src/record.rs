//! Pure inspection of stored records (layout in `rmq_protocol::message`): structural checks,
//! field positions and the body CRC. No I/O; every bound is checked, nothing panics.

use rmq_protocol::message::{BLANK_MAGIC, MAGIC_V1, MAGIC_V2, body_crc, sys_flag};
use std::ops::Range;

/// Smallest possible record: IPv4 hosts, V1 magic, empty body, topic and properties.
pub const MIN_RECORD_SIZE: usize = 91;
/// Length of the end-of-segment filler `{i32 remaining, i32 BLANK_MAGIC}`.
pub const FILLER_LEN: usize = 8;
/// Bytes needed to read a record's store timestamp whatever its born host kind.
pub const STORE_TS_PROBE_LEN: usize = 76;

const QUEUE_ID_POS: usize = 12;
const QUEUE_OFFSET_POS: usize = 20;
const PHYSICAL_OFFSET_POS: usize = 28;
const SYS_FLAG_POS: usize = 36;
const BORN_HOST_POS: usize = 48;

/// Big-endian i32 at `pos`, if in bounds.
pub fn get_i32(buf: &[u8], pos: usize) -> Option<i32> {
    let b = buf.get(pos..pos.checked_add(4)?)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Big-endian i64 at `pos`, if in bounds.
pub fn get_i64(buf: &[u8], pos: usize) -> Option<i64> {
    let b = buf.get(pos..pos.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(i64::from_be_bytes(a))
}

/// What the first 8 bytes at a record boundary announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// A message record of this total size.
    Message(usize),
    /// The end-of-segment filler announcing this many remaining bytes.
    Blank(i64),
    /// Anything else (zeros, garbage, a torn write).
    Invalid,
}

/// Classifies the 8 bytes at a record boundary.
pub fn head(buf: &[u8]) -> Head {
    let (Some(total), Some(magic)) = (get_i32(buf, 0), get_i32(buf, 4)) else {
        return Head::Invalid;
    };
    match magic {
        MAGIC_V1 | MAGIC_V2 => match usize::try_from(total) {
            Ok(t) if t >= MIN_RECORD_SIZE => Head::Message(t),
            _ => Head::Invalid,
        },
        BLANK_MAGIC => Head::Blank(i64::from(total)),
        _ => Head::Invalid,
    }
}

/// Field positions of one structurally valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// TOTALSIZE.
    pub total: usize,
    /// BODYCRC as stored.
    pub body_crc: i32,
    /// QUEUEID.
    pub queue_id: i32,
    /// QUEUEOFFSET.
    pub queue_offset: i64,
    /// PHYSICALOFFSET.
    pub physical_offset: i64,
    /// SYSFLAG.
    pub sys_flag: i32,
    /// STORETIMESTAMP.
    pub store_timestamp: i64,
    /// Body bytes.
    pub body: Range<usize>,
    /// Topic bytes.
    pub topic: Range<usize>,
    /// Properties bytes.
    pub properties: Range<usize>,
}

impl Layout {
    /// Whether the record gets a consume queue unit (transaction type NOT or COMMIT).
    pub fn dispatched(&self) -> bool {
        is_dispatched(self.sys_flag)
    }
}

/// Whether a record with this sysFlag gets a consume queue unit (transaction type NOT or COMMIT).
pub fn is_dispatched(flag: i32) -> bool {
    matches!(
        sys_flag::transaction_type(flag),
        sys_flag::TRANSACTION_NOT | sys_flag::TRANSACTION_COMMIT
    )
}

/// Position of STORETIMESTAMP for a record with this sysFlag.
pub fn store_timestamp_pos(flag: i32) -> usize {
    BORN_HOST_POS
        + if flag & sys_flag::BORNHOST_V6 != 0 {
            20
        } else {
            8
        }
}

/// Store timestamp of the record starting at `buf[0]` (needs [`STORE_TS_PROBE_LEN`] bytes).
pub fn store_timestamp(buf: &[u8]) -> Option<i64> {
    let flag = get_i32(buf, SYS_FLAG_POS)?;
    get_i64(buf, store_timestamp_pos(flag))
}

/// Parses the record at the start of `buf` (which may be longer). Checks magic, sizes and that
/// the variable-length fields end exactly at TOTALSIZE. Does not check the CRC.
pub fn parse(buf: &[u8]) -> Result<Layout, &'static str> {
    let total = match head(buf) {
        Head::Message(t) => t,
        _ => return Err("bad magic or size"),
    };
    let rec = buf.get(..total).ok_or("record is longer than the data")?;
    let magic = get_i32(rec, 4).ok_or("short")?;
    let flag = get_i32(rec, SYS_FLAG_POS).ok_or("short")?;
    let ts_pos = store_timestamp_pos(flag);
    let store_host_len = if flag & sys_flag::STOREHOST_V6 != 0 {
        20
    } else {
        8
    };
    let body_len_pos = ts_pos + 8 + store_host_len + 4 + 8;
    let body_len = get_i32(rec, body_len_pos).ok_or("short")?;
    let body_len = usize::try_from(body_len).map_err(|_| "negative body length")?;
    let body_start = body_len_pos + 4;
    let body_end = body_start.checked_add(body_len).ok_or("body length")?;
    let (topic_len, topic_start) = if magic == MAGIC_V2 {
        let b = rec
            .get(body_end..body_end + 2)
            .ok_or("short topic length")?;
        let n = i16::from_be_bytes([b[0], b[1]]);
        (
            usize::try_from(n).map_err(|_| "negative topic length")?,
            body_end + 2,
        )
    } else {
        (
            usize::from(*rec.get(body_end).ok_or("short topic length")?),
            body_end + 1,
        )
    };
    let topic_end = topic_start + topic_len;
    let b = rec
        .get(topic_end..topic_end + 2)
        .ok_or("short properties length")?;
    let props_len = usize::try_from(i16::from_be_bytes([b[0], b[1]]))
        .map_err(|_| "negative properties length")?;
    let props_start = topic_end + 2;
    if props_start + props_len != total {
        return Err("field lengths do not add up to the record size");
    }
    Ok(Layout {
        total,
        body_crc: get_i32(rec, 8).ok_or("short")?,
        queue_id: get_i32(rec, QUEUE_ID_POS).ok_or("short")?,
        queue_offset: get_i64(rec, QUEUE_OFFSET_POS).ok_or("short")?,
        physical_offset: get_i64(rec, PHYSICAL_OFFSET_POS).ok_or("short")?,
        sys_flag: flag,
        store_timestamp: get_i64(rec, ts_pos).ok_or("short")?,
        body: body_start..body_end,
        topic: topic_start..topic_end,
        properties: props_start..props_start + props_len,
    })
}

/// Whether the stored BODYCRC matches the body.
pub fn crc_ok(rec: &[u8], layout: &Layout) -> bool {
    rec.get(layout.body.clone())
        .is_some_and(|b| body_crc(b) == layout.body_crc)
}

/// The 8-byte end-of-segment filler.
pub fn filler(remaining: i32) -> [u8; FILLER_LEN] {
    let mut f = [0u8; FILLER_LEN];
    f[..4].copy_from_slice(&remaining.to_be_bytes());
    f[4..].copy_from_slice(&BLANK_MAGIC.to_be_bytes());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use rmq_protocol::message::{MessageRecord, encode_record, patch_record};

    fn encoded(topic: &str, born: &str, body: &[u8]) -> BytesMut {
        let rec = MessageRecord {
            topic: topic.into(),
            queue_id: 2,
            flag: 0,
            sys_flag: sys_flag::TRANSACTION_COMMIT,
            born_timestamp: 5,
            born_host: born.parse().unwrap(),
            store_host: "[::1]:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::copy_from_slice(body),
            properties: "TAGS\u{1}a\u{2}".into(),
        };
        let mut buf = BytesMut::new();
        encode_record(&rec, &mut buf).unwrap();
        patch_record(&mut buf, 7, 1234, 99);
        buf
    }

    #[test]
    fn parses_v1_v2_ipv4_ipv6() {
        for (topic, born) in [
            ("T", "1.2.3.4:5"),
            (&*"x".repeat(200), "[::2]:5"),
            ("", "1.2.3.4:5"),
        ] {
            let buf = encoded(topic, born, b"body");
            let l = parse(&buf).unwrap();
            assert_eq!(l.total, buf.len());
            assert_eq!(&buf[l.topic.clone()], topic.as_bytes());
            assert_eq!(&buf[l.body.clone()], b"body");
            assert_eq!(&buf[l.properties.clone()], b"TAGS\x01a\x02");
            assert_eq!(
                (l.queue_id, l.queue_offset, l.physical_offset),
                (2, 7, 1234)
            );
            assert_eq!(l.store_timestamp, 99);
            assert_eq!(store_timestamp(&buf), Some(99));
            assert!(crc_ok(&buf, &l));
            assert!(l.dispatched());
        }
    }

    #[test]
    fn rejects_damage_without_panicking() {
        let buf = encoded("Topic", "1.2.3.4:5", b"hello world");
        for cut in 0..buf.len() {
            assert!(parse(&buf[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..buf.len() {
            for v in [0u8, 0x7f, 0xff] {
                let mut b = buf.to_vec();
                b[i] = v;
                if let Ok(l) = parse(&b) {
                    let _ = crc_ok(&b, &l);
                }
            }
        }
        let mut b = buf.to_vec();
        let l = parse(&buf).unwrap();
        b[l.body.start] ^= 1;
        assert!(!crc_ok(&b, &parse(&b).unwrap()));
        assert_eq!(head(&filler(100)), Head::Blank(100));
        assert_eq!(head(&[0u8; 8]), Head::Invalid);
        assert_eq!(head(&[0u8; 3]), Head::Invalid);
    }

    #[test]
    fn transaction_types() {
        assert!(is_dispatched(0));
        assert!(is_dispatched(sys_flag::TRANSACTION_COMMIT | 1));
        assert!(!is_dispatched(sys_flag::TRANSACTION_PREPARED));
        assert!(!is_dispatched(sys_flag::TRANSACTION_ROLLBACK));
    }
}
