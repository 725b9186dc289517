//! Pure inspection of stored records (layout in `rmq_protocol::message`): structural checks,
//! field positions, the body CRC and the whole-record checksum ([`verify`]). No I/O; every bound is checked, nothing panics.

use rmq_protocol::message::{BLANK_MAGIC, MAGIC_V1, MAGIC_V2, body_crc, record_crc_ok, sys_flag};
use std::ops::Range;

/// Separates a property's name from its value.
const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Ends a property.
const PROPERTY_SEPARATOR: char = '\u{2}';

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

/// Full integrity check of a parsed record (`rec` is exactly the record), used by recovery
/// and replication. Always: the body CRC. Then, if the record ends with the whole-record
/// `__CRC32#` property ([`rmq_protocol::message::record_crc_ok`]), that checksum, which covers
/// every byte before it. Otherwise (a record written without it, or whose tail is damaged) the
/// strict structure of [`check_structure`].
pub fn verify(rec: &[u8], layout: &Layout) -> Result<(), &'static str> {
    if !crc_ok(rec, layout) {
        return Err("body CRC mismatch");
    }
    match record_crc_ok(rec) {
        Some(true) => Ok(()),
        Some(false) => Err("record CRC mismatch"),
        None => check_structure(rec, layout),
    }
}

/// Strict structure of a record without a whole-record checksum: a non-empty topic of UTF-8
/// without control characters, and properties of `name\u0001value\u0002` pairs with non-empty
/// names, in UTF-8 without NUL bytes (clients do not send them; zeroing leaves them). With the
/// layout checks of [`parse`], the PHYSICALOFFSET check and the body CRC this rejects a zeroed
/// 4 KiB page anywhere in a record: one overlapping the first 8 bytes changes TOTALSIZE or the
/// magic; one starting in bytes 8..88 zeroes BODYLEN and the topic length byte after it (empty
/// topic or sizes that do not add up); one overlapping the topic or the properties leaves NUL
/// bytes there (or zeroes PROPLEN: sizes do not add up); one inside the body fails the body CRC.
pub fn check_structure(rec: &[u8], layout: &Layout) -> Result<(), &'static str> {
    let topic = rec.get(layout.topic.clone()).ok_or("short")?;
    if topic.is_empty() {
        return Err("empty topic");
    }
    let topic = std::str::from_utf8(topic).map_err(|_| "topic is not UTF-8")?;
    if topic.chars().any(char::is_control) {
        return Err("control character in the topic");
    }
    let props = rec.get(layout.properties.clone()).ok_or("short")?;
    let props = std::str::from_utf8(props).map_err(|_| "properties are not UTF-8")?;
    for item in props.split(PROPERTY_SEPARATOR) {
        if item.is_empty() {
            continue;
        }
        let (name, value) = item
            .split_once(NAME_VALUE_SEPARATOR)
            .ok_or("property without a value separator")?;
        if name.is_empty() {
            return Err("property without a name");
        }
        if name.contains('\0') || value.contains('\0') {
            return Err("NUL byte in the properties");
        }
    }
    Ok(())
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
            assert!(buf[l.properties.clone()].starts_with(b"TAGS\x01a\x02__CRC32#\x01"));
            assert_eq!(verify(&buf, &l), Ok(()));
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

    /// A record with `props` and `body` as stored at file position `pos`.
    fn placed(body: &[u8], props: &str, pos: i64, with_crc: bool) -> Vec<u8> {
        let rec = MessageRecord {
            topic: "TopicTest".into(),
            queue_id: 1,
            flag: 0,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: "1.2.3.4:5".parse().unwrap(),
            store_host: "1.2.3.4:6".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::copy_from_slice(body),
            properties: props.into(),
        };
        let mut buf = BytesMut::new();
        encode_record(&rec, &mut buf).unwrap();
        let mut v = buf.to_vec();
        if !with_crc {
            // as written by a store without the checksum property
            let l = parse(&v).unwrap();
            let n = rmq_protocol::message::CRC32_RESERVED_LEN;
            v.truncate(v.len() - n);
            let total = v.len() as i32;
            v[..4].copy_from_slice(&total.to_be_bytes());
            let plen = (l.properties.len() - n) as i16;
            v[l.properties.start - 2..l.properties.start].copy_from_slice(&plen.to_be_bytes());
        }
        patch_record(&mut v, 3, pos, 5);
        v
    }

    /// What the recovery scan accepts for a record at `pos`.
    fn accepted(rec: &[u8], pos: i64) -> bool {
        parse(rec).is_ok_and(|l| l.physical_offset == pos && verify(rec, &l).is_ok())
    }

    #[test]
    fn every_zeroed_page_fails_the_check() {
        const PAGE: i64 = 4096;
        let big_props = format!("TAGS\u{1}a\u{2}KEYS\u{1}{}\u{2}", "k".repeat(9000));
        let bodies: [(Vec<u8>, &str); 4] = [
            ((0..40u8).collect(), "TAGS\u{1}a\u{2}"),
            ((0..6000u32).map(|i| (i % 251 + 1) as u8).collect(), ""),
            (
                (0..13000u32).map(|i| (i % 13 + 1) as u8).collect(),
                "A\u{1}b",
            ),
            (vec![9; 100], &big_props),
        ];
        let mut checked = 0;
        for (body, props) in &bodies {
            for with_crc in [true, false] {
                // shifts put the record start and page boundaries at many field positions
                for shift in (0..120).chain([1000, 4000, 4095]) {
                    let pos = 2 * PAGE + shift;
                    let rec = placed(body, props, pos, with_crc);
                    assert!(accepted(&rec, pos), "intact record, shift {shift}");
                    let end = pos + rec.len() as i64;
                    for page in (pos / PAGE)..=((end - 1) / PAGE) {
                        let from = (page * PAGE).max(pos) - pos;
                        let to = ((page + 1) * PAGE).min(end) - pos;
                        let mut torn = rec.clone();
                        torn[from as usize..to as usize].fill(0);
                        if torn == rec {
                            continue; // that part was zeros already: nothing torn
                        }
                        checked += 1;
                        assert!(
                            !accepted(&torn, pos),
                            "zeroed page {page} passed (crc {with_crc}, shift {shift}, len {})",
                            rec.len()
                        );
                    }
                }
            }
        }
        assert!(checked > 1000);
    }
}
