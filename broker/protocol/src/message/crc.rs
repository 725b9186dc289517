//! The whole-record checksum property `__CRC32#` (RocketMQ 5.x `MessageConst.PROPERTY_CRC32`,
//! written by a Java broker with `enabledAppendPropCRC`).
//!
//! The property is the last [`CRC32_RESERVED_LEN`] bytes of the record (the tail of the
//! properties text): `__CRC32#` `\u0001` ten ASCII digits `\u0002`. The digits are the decimal
//! value of `crc32(record[..TOTALSIZE - 20]) & 0x7FFFFFFF`, least significant digit first,
//! zero-padded (Java `MessageDecoder.createCrc32`). The checksum covers every byte before the
//! property, header fields included, so it is computed after the store has patched the queue
//! offset, physical offset and store timestamp. Clients see it as one more property and ignore
//! it; the broker drops a stale copy before storing a message again.

use super::properties::{NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR};

/// Name of the whole-record checksum property.
pub const PROPERTY_CRC32: &str = "__CRC32#";
/// Bytes the property takes at the end of a record (`CommitLog.CRC32_RESERVED_LEN`).
pub const CRC32_RESERVED_LEN: usize = PROPERTY_CRC32.len() + 1 + CRC_DIGITS + 1;
/// Number of decimal digits of the stored checksum.
const CRC_DIGITS: usize = 10;

/// Checksum of the covered part of a record as Java computes it (`UtilAll.crc32`).
pub fn record_crc(covered: &[u8]) -> u32 {
    crc32fast::hash(covered) & 0x7FFF_FFFF
}

/// The property with its value still zero, as the encoder reserves it.
pub fn crc_placeholder() -> [u8; CRC32_RESERVED_LEN] {
    encode_tail(0)
}

/// The property carrying `crc` (digits least significant first, as Java writes them).
fn encode_tail(mut crc: u32) -> [u8; CRC32_RESERVED_LEN] {
    let mut t = [b'0'; CRC32_RESERVED_LEN];
    let name = PROPERTY_CRC32.len();
    t[..name].copy_from_slice(PROPERTY_CRC32.as_bytes());
    t[name] = NAME_VALUE_SEPARATOR as u8;
    for d in &mut t[name + 1..name + 1 + CRC_DIGITS] {
        *d = b'0' + (crc % 10) as u8;
        crc /= 10;
    }
    t[CRC32_RESERVED_LEN - 1] = PROPERTY_SEPARATOR as u8;
    t
}

/// Whether `tail` (the last [`CRC32_RESERVED_LEN`] bytes of a record) is the property frame:
/// name, separators and ten ASCII digits.
fn is_tail(tail: &[u8]) -> bool {
    let name = PROPERTY_CRC32.len();
    tail.len() == CRC32_RESERVED_LEN
        && tail.starts_with(PROPERTY_CRC32.as_bytes())
        && tail[name] == NAME_VALUE_SEPARATOR as u8
        && tail[name + 1..name + 1 + CRC_DIGITS]
            .iter()
            .all(u8::is_ascii_digit)
        && tail[CRC32_RESERVED_LEN - 1] == PROPERTY_SEPARATOR as u8
}

/// The checksum stored in the record's trailing property, `None` if the record does not end
/// with one (written without it, or its tail is damaged).
pub fn stored_record_crc(record: &[u8]) -> Option<u32> {
    let start = record.len().checked_sub(CRC32_RESERVED_LEN)?;
    let tail = record.get(start..)?;
    if !is_tail(tail) {
        return None;
    }
    let digits = &tail[PROPERTY_CRC32.len() + 1..PROPERTY_CRC32.len() + 1 + CRC_DIGITS];
    // least significant digit first; ten digits may exceed u32 in damaged data
    let v = digits
        .iter()
        .rev()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    u32::try_from(v).ok()
}

/// Whether the record's trailing `__CRC32#` property matches its content: `None` if it has no
/// such property.
pub fn record_crc_ok(record: &[u8]) -> Option<bool> {
    let stored = stored_record_crc(record);
    if stored.is_none() && record.len() >= CRC32_RESERVED_LEN {
        // a frame with out-of-range digits is a damaged property, not a missing one
        let tail = &record[record.len() - CRC32_RESERVED_LEN..];
        if is_tail(tail) {
            return Some(false);
        }
    }
    let stored = stored?;
    let covered = &record[..record.len() - CRC32_RESERVED_LEN];
    Some(record_crc(covered) == stored)
}

/// Fills the trailing `__CRC32#` property of a complete, patched record; records without the
/// property are left alone. Called by [`super::patch_record`].
pub fn seal_record_crc(record: &mut [u8]) {
    let Some(start) = record.len().checked_sub(CRC32_RESERVED_LEN) else {
        return;
    };
    if !is_tail(&record[start..]) {
        return;
    }
    let crc = record_crc(&record[..start]);
    record[start..].copy_from_slice(&encode_tail(crc));
}

/// `props` without any `__CRC32#` entry (a message stored again carries its old checksum).
/// Borrows when there is none, the common case.
pub fn strip_crc_property(props: &str) -> std::borrow::Cow<'_, str> {
    if !props.contains(PROPERTY_CRC32) {
        return std::borrow::Cow::Borrowed(props);
    }
    let mut out = String::with_capacity(props.len());
    for item in props.split(PROPERTY_SEPARATOR) {
        let name = item.split(NAME_VALUE_SEPARATOR).next().unwrap_or(item);
        if item.is_empty() || name == PROPERTY_CRC32 {
            continue;
        }
        out.push_str(item);
        out.push(PROPERTY_SEPARATOR);
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_layout_matches_java() {
        // Java: crc 1234567890 -> "0987654321" (least significant digit first)
        let t = encode_tail(1_234_567_890);
        assert_eq!(&t[..], b"__CRC32#\x010987654321\x02");
        assert_eq!(CRC32_RESERVED_LEN, 20);
        assert_eq!(&crc_placeholder()[..], b"__CRC32#\x010000000000\x02");
    }

    #[test]
    fn seal_then_check() {
        let mut rec = b"some record bytes ".to_vec();
        rec.extend_from_slice(&crc_placeholder());
        assert_eq!(record_crc_ok(&rec), Some(record_crc(&rec[..18]) == 0));
        seal_record_crc(&mut rec);
        assert_eq!(stored_record_crc(&rec), Some(record_crc(&rec[..18])));
        assert_eq!(record_crc_ok(&rec), Some(true));
        rec[3] ^= 1;
        assert_eq!(record_crc_ok(&rec), Some(false));
        assert_eq!(record_crc_ok(b"short"), None);
        let mut no_prop = vec![7u8; 40];
        seal_record_crc(&mut no_prop);
        assert_eq!(no_prop, vec![7u8; 40]);
        assert_eq!(record_crc_ok(&no_prop), None);
    }

    #[test]
    fn strips_old_property() {
        assert_eq!(strip_crc_property("A\u{1}b\u{2}"), "A\u{1}b\u{2}");
        assert_eq!(
            strip_crc_property("A\u{1}b\u{2}__CRC32#\u{1}0123456789\u{2}C\u{1}d"),
            "A\u{1}b\u{2}C\u{1}d\u{2}"
        );
    }
}
