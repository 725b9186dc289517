//! The stored message record ("MessageExt" format): appended to the commit log, returned by
//! pulls and queries, replicated to slaves. All integers big-endian.
//!
//! ```text
//!  0 TOTALSIZE i32 | 4 MAGICCODE i32 | 8 BODYCRC i32 | 12 QUEUEID i32 | 16 FLAG i32
//! 20 QUEUEOFFSET i64 | 28 PHYSICALOFFSET i64 | 36 SYSFLAG i32 | 40 BORNTIMESTAMP i64
//! 48 BORNHOST (4+4 or 16+4) | STORETIMESTAMP i64 | STOREHOST (8 or 20) | RECONSUMETIMES i32
//!    PREPAREDTRANSACTIONOFFSET i64 | BODYLEN i32 + BODY | TOPICLEN u8 (V1) or i16 (V2) + TOPIC
//!    PROPLEN i16 + PROPERTIES
//! ```

use super::crc::{self, CRC32_RESERVED_LEN};
use super::properties::{PROPERTY_SEPARATOR, Properties};
use super::sys_flag;
use crate::error::ProtocolError;
use bytes::{BufMut, Bytes, BytesMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Magic of records with a 1-byte topic length.
pub const MAGIC_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic of records with a 2-byte topic length (topics longer than 127 bytes).
pub const MAGIC_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic of the filler at the end of a commit log segment.
pub const BLANK_MAGIC: i32 = 0xCBD4_3194_u32 as i32;

const QUEUE_OFFSET_POS: usize = 20;
const PHYSICAL_OFFSET_POS: usize = 28;
const SYS_FLAG_POS: usize = 36;
const BORN_HOST_POS: usize = 48;
/// Largest properties text (i16 length).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

/// What the broker wants to store; offsets and store time are patched in under the store lock.
#[derive(Debug, Clone)]
pub struct MessageRecord {
    /// The topic the record is stored under.
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// sysFlag (IPv6 bits are set by the encoder from the addresses).
    pub sys_flag: i32,
    /// Producer timestamp (ms).
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker address (main port).
    pub store_host: SocketAddr,
    /// Times redelivered.
    pub reconsume_times: i32,
    /// Half message offset for commit/rollback records.
    pub prepared_transaction_offset: i64,
    /// Body (stored as received, possibly compressed).
    pub body: Bytes,
    /// Encoded properties text.
    pub properties: String,
}

/// Size of the record encoded from these parts.
pub fn record_size(
    body_len: usize,
    topic_len: usize,
    props_len: usize,
    born_v6: bool,
    store_v6: bool,
) -> usize {
    let hosts = if born_v6 { 20 } else { 8 } + if store_v6 { 20 } else { 8 };
    let topic_prefix = if topic_len > 127 { 2 } else { 1 };
    4 + 4
        + 4
        + 4
        + 4
        + 8
        + 8
        + 4
        + 8
        + 8
        + 4
        + 8
        + hosts
        + 4
        + body_len
        + topic_prefix
        + topic_len
        + 2
        + props_len
}

/// CRC32 of a body as Java stores it (`& 0x7FFFFFFF`).
pub fn body_crc(body: &[u8]) -> i32 {
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

fn put_host(dst: &mut BytesMut, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => dst.put_slice(&ip.octets()),
        IpAddr::V6(ip) => dst.put_slice(&ip.octets()),
    }
    dst.put_i32(i32::from(addr.port()));
}

/// Appends the record to `dst` with queue offset, physical offset and store time set to 0; the
/// store fills them with [`patch_record`]. The properties end with a reserved `__CRC32#`
/// property (any old one is dropped) that [`patch_record`] fills with the whole-record
/// checksum. Fails if the topic or properties are too long.
pub fn encode_record(rec: &MessageRecord, dst: &mut BytesMut) -> Result<usize, ProtocolError> {
    let user_props = crc::strip_crc_property(&rec.properties);
    // a separator before the reserved checksum property unless the text ends with one
    let sep = usize::from(!user_props.is_empty() && !user_props.ends_with(PROPERTY_SEPARATOR));
    let props_len = user_props.len() + sep + CRC32_RESERVED_LEN;
    if props_len > MAX_PROPERTIES_LEN {
        return Err(ProtocolError::malformed(
            "message",
            format!(
                "properties are {} bytes, the limit is {}",
                user_props.len(),
                MAX_PROPERTIES_LEN - CRC32_RESERVED_LEN - 1
            ),
        ));
    }
    if rec.topic.len() > MAX_PROPERTIES_LEN {
        return Err(ProtocolError::malformed("message", "topic too long"));
    }
    let mut sys = rec.sys_flag & !(sys_flag::BORNHOST_V6 | sys_flag::STOREHOST_V6);
    if rec.born_host.is_ipv6() {
        sys |= sys_flag::BORNHOST_V6;
    }
    if rec.store_host.is_ipv6() {
        sys |= sys_flag::STOREHOST_V6;
    }
    let size = record_size(
        rec.body.len(),
        rec.topic.len(),
        props_len,
        rec.born_host.is_ipv6(),
        rec.store_host.is_ipv6(),
    );
    dst.reserve(size);
    dst.put_i32(size as i32);
    dst.put_i32(if rec.topic.len() > 127 {
        MAGIC_V2
    } else {
        MAGIC_V1
    });
    dst.put_i32(body_crc(&rec.body));
    dst.put_i32(rec.queue_id);
    dst.put_i32(rec.flag);
    dst.put_i64(0); // queue offset
    dst.put_i64(0); // physical offset
    dst.put_i32(sys);
    dst.put_i64(rec.born_timestamp);
    put_host(dst, &rec.born_host);
    dst.put_i64(0); // store timestamp
    put_host(dst, &rec.store_host);
    dst.put_i32(rec.reconsume_times);
    dst.put_i64(rec.prepared_transaction_offset);
    dst.put_i32(rec.body.len() as i32);
    dst.put_slice(&rec.body);
    if rec.topic.len() > 127 {
        dst.put_i16(rec.topic.len() as i16);
    } else {
        dst.put_u8(rec.topic.len() as u8);
    }
    dst.put_slice(rec.topic.as_bytes());
    dst.put_i16(props_len as i16);
    dst.put_slice(user_props.as_bytes());
    if sep == 1 {
        dst.put_u8(PROPERTY_SEPARATOR as u8);
    }
    dst.put_slice(&crc::crc_placeholder());
    Ok(size)
}

/// Writes queue offset, physical offset and store time into an encoded record, then its
/// whole-record checksum property if it has one (see [`crc`]).
pub fn patch_record(record: &mut [u8], queue_offset: i64, physical_offset: i64, store_ts: i64) {
    record[QUEUE_OFFSET_POS..QUEUE_OFFSET_POS + 8].copy_from_slice(&queue_offset.to_be_bytes());
    record[PHYSICAL_OFFSET_POS..PHYSICAL_OFFSET_POS + 8]
        .copy_from_slice(&physical_offset.to_be_bytes());
    let sys = i32::from_be_bytes([
        record[SYS_FLAG_POS],
        record[SYS_FLAG_POS + 1],
        record[SYS_FLAG_POS + 2],
        record[SYS_FLAG_POS + 3],
    ]);
    let born_len = if sys & sys_flag::BORNHOST_V6 != 0 {
        20
    } else {
        8
    };
    let pos = BORN_HOST_POS + born_len;
    record[pos..pos + 8].copy_from_slice(&store_ts.to_be_bytes());
    crc::seal_record_crc(record);
}

/// A decoded stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageExt {
    /// Record length.
    pub store_size: i32,
    /// Body CRC as stored.
    pub body_crc: i32,
    /// Queue id.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Logical offset in its consume queue.
    pub queue_offset: i64,
    /// Commit log offset of the record.
    pub commit_log_offset: i64,
    /// [`crate::message::sys_flag`] bits: compression, tag mode, transaction type, IPv6 hosts.
    pub sys_flag: i32,
    /// Producer timestamp.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker append timestamp.
    pub store_timestamp: i64,
    /// Broker address.
    pub store_host: SocketAddr,
    /// Times redelivered.
    pub reconsume_times: i32,
    /// Half message offset (commit/rollback records).
    pub prepared_transaction_offset: i64,
    /// The message payload, as stored (compressed when `sys_flag` says so).
    pub body: Bytes,
    /// The topic the record is stored under.
    pub topic: String,
    /// The message properties (`TAGS`, `KEYS`, `UNIQ_KEY`, ...).
    pub properties: Properties,
}

impl MessageExt {
    /// The offset message id (store host + commit log offset).
    pub fn offset_msg_id(&self) -> String {
        super::offset_msg_id(self.store_host, self.commit_log_offset)
    }

    /// The user-visible message id: `UNIQ_KEY` if present, else the offset message id.
    pub fn msg_id(&self) -> String {
        self.properties
            .get(super::property::UNIQ_KEY)
            .map_or_else(|| self.offset_msg_id(), str::to_owned)
    }

    /// The message as a record to store again (retry, delay delivery, transaction commit).
    pub fn to_record(&self) -> MessageRecord {
        MessageRecord {
            topic: self.topic.clone(),
            queue_id: self.queue_id,
            flag: self.flag,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            body: self.body.clone(),
            properties: self.properties.encode(),
        }
    }
}

struct Cursor<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<std::ops::Range<usize>, ProtocolError> {
        if self.end - self.pos < n {
            return Err(ProtocolError::malformed(
                "stored message",
                format!(
                    "needs {n} bytes at {} but the record ends at {}",
                    self.pos, self.end
                ),
            ));
        }
        let r = self.pos..self.pos + n;
        self.pos += n;
        Ok(r)
    }
    fn i16(&mut self) -> Result<i16, ProtocolError> {
        let r = self.take(2)?;
        Ok(i16::from_be_bytes([
            self.buf[r.start],
            self.buf[r.start + 1],
        ]))
    }
    fn i32(&mut self) -> Result<i32, ProtocolError> {
        let r = self.take(4)?;
        let b = &self.buf[r];
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, ProtocolError> {
        let r = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.buf[r]);
        Ok(i64::from_be_bytes(a))
    }
    fn host(&mut self, v6: bool) -> Result<SocketAddr, ProtocolError> {
        let ip = if v6 {
            let r = self.take(16)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(&self.buf[r]);
            IpAddr::V6(Ipv6Addr::from(a))
        } else {
            let r = self.take(4)?;
            let b = &self.buf[r];
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        };
        let port = self.i32()?;
        Ok(SocketAddr::new(ip, port as u16))
    }
    fn len(&mut self, n: i64) -> Result<usize, ProtocolError> {
        usize::try_from(n)
            .map_err(|_| ProtocolError::malformed("stored message", "negative length"))
    }
    fn text(&mut self, n: usize, what: &str) -> Result<String, ProtocolError> {
        let r = self.take(n)?;
        String::from_utf8(self.buf[r].to_vec())
            .map_err(|_| ProtocolError::malformed("stored message", format!("{what} is not UTF-8")))
    }
}

/// Decodes the record at the start of `buf`; returns it and its length.
pub fn decode_message(buf: &Bytes) -> Result<(MessageExt, usize), ProtocolError> {
    if buf.len() < 8 {
        return Err(ProtocolError::malformed(
            "stored message",
            "shorter than 8 bytes",
        ));
    }
    let total = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let total = usize::try_from(total)
        .ok()
        .filter(|t| *t >= 8 && *t <= buf.len())
        .ok_or_else(|| {
            ProtocolError::malformed(
                "stored message",
                format!("record length {total} with {} bytes available", buf.len()),
            )
        })?;
    let mut c = Cursor {
        buf,
        pos: 4,
        end: total,
    };
    let magic = c.i32()?;
    if magic != MAGIC_V1 && magic != MAGIC_V2 {
        return Err(ProtocolError::malformed(
            "stored message",
            format!("bad magic code {magic:#x}"),
        ));
    }
    let body_crc = c.i32()?;
    let queue_id = c.i32()?;
    let flag = c.i32()?;
    let queue_offset = c.i64()?;
    let commit_log_offset = c.i64()?;
    let sys_flag = c.i32()?;
    let born_timestamp = c.i64()?;
    let born_host = c.host(sys_flag & sys_flag::BORNHOST_V6 != 0)?;
    let store_timestamp = c.i64()?;
    let store_host = c.host(sys_flag & sys_flag::STOREHOST_V6 != 0)?;
    let reconsume_times = c.i32()?;
    let prepared_transaction_offset = c.i64()?;
    let body_len = c.i32()?;
    let body_len = c.len(body_len.into())?;
    let body_range = c.take(body_len)?;
    let body = buf.slice(body_range);
    let topic_len = if magic == MAGIC_V2 {
        let n = c.i16()?;
        c.len(n.into())?
    } else {
        let r = c.take(1)?;
        usize::from(buf[r.start])
    };
    let topic = c.text(topic_len, "topic")?;
    let props_len = c.i16()?;
    let props_len = c.len(props_len.into())?;
    let props = c.text(props_len, "properties")?;
    Ok((
        MessageExt {
            store_size: total as i32,
            body_crc,
            queue_id,
            flag,
            queue_offset,
            commit_log_offset,
            sys_flag,
            born_timestamp,
            born_host,
            store_timestamp,
            store_host,
            reconsume_times,
            prepared_transaction_offset,
            body,
            topic,
            properties: Properties::parse(&props),
        },
        total,
    ))
}

/// Decodes back-to-back records (a pull or query body).
pub fn decode_messages(buf: &Bytes) -> Result<Vec<MessageExt>, ProtocolError> {
    let mut out = Vec::new();
    let mut rest = buf.clone();
    while !rest.is_empty() {
        let (msg, len) = decode_message(&rest)?;
        out.push(msg);
        rest = rest.slice(len..);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: &str) -> MessageRecord {
        MessageRecord {
            topic: topic.into(),
            queue_id: 3,
            flag: 0,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: "10.0.0.5:50000".parse().unwrap(),
            store_host: "10.0.0.1:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from_static(b"hello"),
            properties: "TAGS\u{1}TagA\u{2}".into(),
        }
    }

    #[test]
    fn golden_layout_ipv4_v1() {
        let mut buf = BytesMut::new();
        let size = encode_record(&record("T"), &mut buf).unwrap();
        assert_eq!(size, 91 + 5 + 1 + 10 + crc::CRC32_RESERVED_LEN);
        assert_eq!(buf.len(), size);
        patch_record(&mut buf, 42, 1000, 1_700_000_000_123);
        assert_eq!(&buf[0..4], &(size as i32).to_be_bytes());
        assert_eq!(&buf[4..8], &[0xDA, 0xA3, 0x20, 0xA7]);
        assert_eq!(&buf[20..28], &42i64.to_be_bytes());
        assert_eq!(&buf[28..36], &1000i64.to_be_bytes());
        assert_eq!(&buf[48..52], &[10, 0, 0, 5]);
        assert_eq!(&buf[56..64], &1_700_000_000_123i64.to_be_bytes());
        assert_eq!(&buf[84..88], &5i32.to_be_bytes());
        let crc = crc::record_crc(&buf[..size - crc::CRC32_RESERVED_LEN]);
        assert_eq!(crc::stored_record_crc(&buf), Some(crc));
        assert_eq!(crc::record_crc_ok(&buf), Some(true));
        let (m, len) = decode_message(&buf.freeze()).unwrap();
        assert_eq!(len, size);
        assert_eq!(m.topic, "T");
        assert_eq!(m.queue_offset, 42);
        assert_eq!(m.commit_log_offset, 1000);
        assert_eq!(m.store_timestamp, 1_700_000_000_123);
        assert_eq!(m.properties.get("TAGS"), Some("TagA"));
        assert!(m.properties.get(crc::PROPERTY_CRC32).is_some());
        assert_eq!(&m.body[..], b"hello");
        assert_eq!(m.body_crc, body_crc(b"hello"));
        assert_eq!(m.offset_msg_id(), "0A00000100002A9F00000000000003E8");
    }

    #[test]
    fn long_topics_and_ipv6_hosts() {
        let long = "t".repeat(200);
        let mut rec = record(&long);
        rec.born_host = "[::1]:5000".parse().unwrap();
        let mut buf = BytesMut::new();
        encode_record(&rec, &mut buf).unwrap();
        patch_record(&mut buf, 1, 2, 3);
        let (m, _) = decode_message(&buf.freeze()).unwrap();
        assert_eq!(m.topic, long);
        assert_eq!(m.born_host, rec.born_host);
        assert_eq!(m.store_timestamp, 3);
        assert!(m.sys_flag & sys_flag::BORNHOST_V6 != 0);
    }

    #[test]
    fn truncated_records_are_errors() {
        let mut buf = BytesMut::new();
        encode_record(&record("T"), &mut buf).unwrap();
        let full = buf.freeze();
        for cut in 0..full.len() {
            assert!(decode_message(&full.slice(..cut)).is_err());
        }
        let mut bad = BytesMut::from(&full[..]);
        bad[4] = 0;
        assert!(decode_message(&bad.freeze()).is_err());
        let two = [full.clone(), full].concat();
        assert_eq!(decode_messages(&Bytes::from(two)).unwrap().len(), 2);
    }

    #[test]
    fn oversized_properties_are_refused() {
        let mut rec = record("T");
        rec.properties = "x".repeat(40_000);
        assert!(encode_record(&rec, &mut BytesMut::new()).is_err());
    }

    #[test]
    fn storing_again_replaces_the_checksum_property() {
        let mut buf = BytesMut::new();
        encode_record(&record("T"), &mut buf).unwrap();
        patch_record(&mut buf, 1, 2, 3);
        let (m, _) = decode_message(&buf.freeze()).unwrap();
        let mut again = BytesMut::new();
        encode_record(&m.to_record(), &mut again).unwrap();
        patch_record(&mut again, 4, 5, 6);
        assert_eq!(crc::record_crc_ok(&again), Some(true));
        let (m2, _) = decode_message(&again.freeze()).unwrap();
        let n = m2
            .properties
            .iter()
            .filter(|(k, _)| *k == crc::PROPERTY_CRC32)
            .count();
        assert_eq!(n, 1);
        assert_eq!(m2.properties.get("TAGS"), Some("TagA"));
    }
}
