//! The classic HA wire format (raw TCP on `haListenPort`, no remoting framing), big-endian
//! like Java's `ByteBuffer`:
//!
//! - slave → master **report**: 8 bytes, the slave's commit log max physical offset. A reader
//!   takes the *last* complete 8-byte value of whatever arrived.
//! - master → slave **transfer**: a 12-byte header (`i64` physical offset of the first body byte,
//!   `i32` body size) followed by that many raw commit log bytes; size 0 is a heartbeat.

use bytes::{Buf, BytesMut};

/// Size of a report.
pub const REPORT_LEN: usize = 8;
/// Size of a transfer header.
pub const HEADER_LEN: usize = 12;

/// Encodes a report.
pub fn encode_report(offset: i64) -> [u8; REPORT_LEN] {
    offset.to_be_bytes()
}

/// Consumes every complete report in `buf` and returns the last one (`None` if fewer than 8
/// bytes arrived). A partial trailing report stays in `buf`.
pub fn take_last_report(buf: &mut BytesMut) -> Option<i64> {
    let whole = buf.len() - buf.len() % REPORT_LEN;
    if whole == 0 {
        return None;
    }
    let mut last = [0u8; REPORT_LEN];
    last.copy_from_slice(&buf[whole - REPORT_LEN..whole]);
    buf.advance(whole);
    Some(i64::from_be_bytes(last))
}

/// First 8 bytes of an **identity** frame (controller mode, rmq's own): a slave that knows its
/// controller-assigned broker id sends `ID_MAGIC` and the `i64` id before its opening, so that
/// its master can name it in the in-sync replica set. A negative `i64`: never a report.
pub const ID_MAGIC: [u8; 8] = [0xFF, b'R', b'M', b'Q', b'B', b'I', b'D', 0x01];
/// Size of an identity frame.
pub const ID_LEN: usize = 16;

/// Encodes an identity frame for broker id `id`.
pub fn encode_identity(id: i64) -> [u8; ID_LEN] {
    let mut out = [0u8; ID_LEN];
    out[..8].copy_from_slice(&ID_MAGIC);
    out[8..].copy_from_slice(&id.to_be_bytes());
    out
}

/// What the start of a slave's first bytes says about its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// Fewer bytes than needed to tell.
    NeedMore,
    /// No identity frame (a classic slave).
    Absent,
    /// An identity frame naming this broker id (consume [`ID_LEN`] bytes).
    Id(i64),
}

/// Tells whether `buf` starts with an identity frame.
pub fn peek_identity(buf: &[u8]) -> Identity {
    match (buf.get(..8), buf.get(8..ID_LEN)) {
        (None, _) => Identity::NeedMore,
        (Some(m), _) if m != ID_MAGIC => Identity::Absent,
        (Some(_), None) => Identity::NeedMore,
        (Some(_), Some(id)) => {
            let mut b = [0u8; 8];
            b.copy_from_slice(id);
            Identity::Id(i64::from_be_bytes(b))
        }
    }
}

/// A transfer frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferHeader {
    /// Commit log offset of the first body byte (for a heartbeat: the master's next offset).
    pub phy_offset: i64,
    /// Body bytes that follow (0 = heartbeat).
    pub body_size: i32,
}

impl TransferHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&self.phy_offset.to_be_bytes());
        out[8..].copy_from_slice(&self.body_size.to_be_bytes());
        out
    }

    /// Reads a header from the start of `buf` without consuming it; `None` if incomplete.
    pub fn peek(buf: &[u8]) -> Option<Self> {
        let head = buf.get(..HEADER_LEN)?;
        let mut off = [0u8; 8];
        off.copy_from_slice(&head[..8]);
        let mut size = [0u8; 4];
        size.copy_from_slice(&head[8..]);
        Some(Self {
            phy_offset: i64::from_be_bytes(off),
            body_size: i32::from_be_bytes(size),
        })
    }
}

/// A header followed by its body, as one buffer to write.
pub fn encode_transfer(phy_offset: i64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    let header = TransferHeader {
        phy_offset,
        body_size: i32::try_from(body.len()).unwrap_or(i32::MAX),
    };
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_golden_bytes() {
        assert_eq!(
            encode_report(0x0102_0304_0506_0708),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(encode_report(-1), [0xff; 8]);
    }

    #[test]
    fn last_complete_report_wins() {
        let mut buf = BytesMut::new();
        assert_eq!(take_last_report(&mut buf), None);
        buf.extend_from_slice(&encode_report(100));
        buf.extend_from_slice(&encode_report(200));
        buf.extend_from_slice(&[0, 0, 0]); // a partial third report
        assert_eq!(take_last_report(&mut buf), Some(200));
        assert_eq!(&buf[..], &[0, 0, 0]);
        buf.extend_from_slice(&[0, 0, 0, 0, 1]);
        assert_eq!(take_last_report(&mut buf), Some(1));
        assert!(buf.is_empty());
    }

    #[test]
    fn transfer_header_golden_bytes() {
        let h = TransferHeader {
            phy_offset: 0x1122_3344_5566_7788,
            body_size: 0x0000_8000,
        };
        let bytes = h.encode();
        assert_eq!(
            bytes,
            [
                0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x00, 0x00, 0x80, 0x00
            ]
        );
        assert_eq!(TransferHeader::peek(&bytes), Some(h));
        assert_eq!(TransferHeader::peek(&bytes[..11]), None);
        let frame = encode_transfer(4096, b"abc");
        assert_eq!(&frame[..12], &[0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 3]);
        assert_eq!(&frame[12..], b"abc");
        let heartbeat = encode_transfer(7, &[]);
        assert_eq!(heartbeat, vec![0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0]);
    }

    #[test]
    fn identity_frames_are_told_from_reports() {
        let f = encode_identity(3);
        assert_eq!(peek_identity(&f[..5]), Identity::NeedMore);
        assert_eq!(peek_identity(&f[..12]), Identity::NeedMore);
        assert_eq!(peek_identity(&f), Identity::Id(3));
        assert_eq!(peek_identity(&encode_report(77)), Identity::Absent);
    }
}
